"""Exact token counts for OpenAI's public encodings, offline.

``get_encoding("cl100k_base")`` gives the tokenizer of gpt-3.5-turbo-instruct, davinci-002 and babbage-002;
``encoding_for_model`` finds it from a model name. Nothing is downloaded at run time: the rank files come from
installed packages and are checked against the SHA-256 that tiktoken itself pins for them, and tiktoken (OpenAI's
own implementation) does the encoding. Why this combination: see docs/identity.md.
"""

from relaycheck.tokens.encoding import (
    ENDOFTEXT,
    KNOWN_ENCODINGS,
    Encoding,
    TokenizerUnavailable,
    encoding_available,
    encoding_for_model,
    get_encoding,
    prompt_token_counts,
)

__all__ = [
    "ENDOFTEXT",
    "KNOWN_ENCODINGS",
    "Encoding",
    "TokenizerUnavailable",
    "encoding_available",
    "encoding_for_model",
    "get_encoding",
    "prompt_token_counts",
]
