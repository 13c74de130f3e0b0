"""A small byte-level tokenizer shaped like GPT-2's.

Ids 0-255 are the 256 single bytes in GPT-2's ``bytes_to_unicode`` order (id 0 is ``!``, id 13 is ``.``), so a
client that knows GPT-2 ids for single characters gets the same characters here. Then come word-ish tokens
built from the embedded corpus and the numbers 0..1000 with and without a leading space, and last the
``<|endoftext|>`` token. Encoding is greedy longest match over the UTF-8 bytes; every byte is a token, so
any string (any Unicode) round-trips: ``decode(encode(s)) == s``.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from relaycheck.server import corpus

END_OF_TEXT = "<|endoftext|>"

# GPT-2's pre-tokenisation pattern restricted to ASCII classes: the corpus is ASCII, and non-ASCII text is
# covered by the byte tokens anyway.
_PIECE_RE = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def gpt2_byte_order() -> list[int]:
    """The byte values in the order GPT-2 gives them token ids (its ``bytes_to_unicode`` ordering)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    return printable + [b for b in range(256) if b not in printable]


class Tokenizer:
    """Immutable after construction; share one instance (see :func:`default_tokenizer`)."""

    def __init__(self, words: Iterable[str]) -> None:
        pieces: list[bytes] = [bytes([b]) for b in gpt2_byte_order()]
        seen = set(pieces)
        for word in words:
            raw = word.encode("utf-8")
            if raw not in seen:
                seen.add(raw)
                pieces.append(raw)
        self._pieces: tuple[bytes, ...] = tuple(pieces)
        self.eot_id = len(pieces)
        self._ids = {piece: i for i, piece in enumerate(pieces)}
        self._max_len = max(len(p) for p in pieces)
        self.vocab_size = len(pieces) + 1

    # -- encoding ----------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Greedy longest match. ``<|endoftext|>`` in text is ordinary text, as in tiktoken's default."""
        data = text.encode("utf-8", "surrogatepass")  # lone surrogates can arrive through JSON escapes
        ids: list[int] = []
        pos, end = 0, len(data)
        lookup = self._ids
        while pos < end:
            for size in range(min(self._max_len, end - pos), 0, -1):
                token = lookup.get(data[pos : pos + size])
                if token is not None:
                    ids.append(token)
                    pos += size
                    break
        return ids

    # -- decoding ----------------------------------------------------------------------------------

    def token_bytes(self, token: int) -> bytes:
        if token == self.eot_id:
            return END_OF_TEXT.encode()
        return self._pieces[token]

    def is_valid(self, token: int) -> bool:
        return 0 <= token < self.vocab_size

    def decode(self, ids: Sequence[int]) -> str:
        data = b"".join(self.token_bytes(t) for t in ids)
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")

    def token_label(self, token: int) -> str:
        """The token as a stand-alone string: its text, or ``bytes:\\xNN…`` for a partial UTF-8 sequence.

        This is how OpenAI labels such tokens in ``top_logprobs``.
        """
        data = self.token_bytes(token)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return "bytes:" + "".join(f"\\x{b:02x}" for b in data)

    def piece_decoder(self) -> TextPieces:
        return TextPieces(self)


class TextPieces:
    """Turns a token stream into text pieces whose concatenation is the decoded text.

    A token that ends inside a multi-byte character yields ``""``; the token completing the character
    yields it. Invalid bytes become U+FFFD. ``"".join(pieces) == text`` therefore holds for any token
    stream, which is what the logprobs ``tokens`` array and the streamed chunks need.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, token: int) -> str:
        return self._decoder.decode(self._tokenizer.token_bytes(token))

    def busy(self) -> bool:
        """True while the bytes fed so far end inside a character."""
        return bool(self._decoder.getstate()[0])

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


def _corpus_words() -> list[str]:
    counts: Counter[str] = Counter()
    for doc, _ in corpus.documents():
        counts.update(m.group(0) for m in _PIECE_RE.finditer(doc))
    numbers = [f"{prefix}{i}" for i in range(corpus.NUMBER_TOKENS + 1) for prefix in ("", " ")]
    # Frequent pieces first, ties alphabetically: the order (hence every id) is fixed by the corpus alone.
    words = sorted((w for w in counts if len(w.encode()) > 1), key=lambda w: (-counts[w], w))
    return words + numbers


@functools.cache
def default_tokenizer() -> Tokenizer:
    return Tokenizer(_corpus_words())
