"""The contract with one deployment's model limits filled in, for generators that must only call valid what is.

The contract is model-independent: the context window ("the token count of your prompt plus max_tokens cannot
exceed the model's context length") and the vocabulary (token ids in prompts and logit_bias keys) belong to the
model behind a provider, not to the endpoint. A generator reading the bare contract therefore calls valid a
max_tokens of 10**9 or a token id of 10**9, which every real model refuses; or a max_tokens of 0, a length-0
completion, which OpenAI's models refuse too ("not supported for this model", ``relaycheck.server.params``).
:func:`with_model_limits` returns a copy of the document where those bounds are stated for one deployment, e.g. the
reference provider's own.
"""

from __future__ import annotations

import copy
from typing import Any

PROMPT_ROOM_SHARE = 2  # half of the context is left for the prompt: generated prompts are far shorter
MIN_COMPLETION_TOKENS = 1  # the shortest completion the model serves (params.max-tokens-zero judges 0 on its own)


def with_model_limits(document: dict[str, Any], context_length: int, vocab_size: int) -> dict[str, Any]:
    """A deep copy of ``document`` whose request schema bounds max_tokens and token ids for this model (the chat
    contract's: max_tokens, max_completion_tokens and logit_bias keys)."""
    out = copy.deepcopy(document)
    schemas = out["components"]["schemas"]
    if "CreateChatCompletionRequest" in schemas:
        chat = schemas["CreateChatCompletionRequest"]["properties"]
        for name in ("max_tokens", "max_completion_tokens"):
            if name in chat:
                chat[name]["maximum"] = context_length // PROMPT_ROOM_SHARE
                chat[name]["minimum"] = MIN_COMPLETION_TOKENS
        chat["logit_bias"]["propertyNames"] = {"pattern": f"^[0-9]{{1,{len(str(vocab_size)) - 1}}}$"}
        return out
    request = schemas["CreateCompletionRequest"]["properties"]
    request["max_tokens"]["maximum"] = context_length // PROMPT_ROOM_SHARE
    request["max_tokens"]["minimum"] = MIN_COMPLETION_TOKENS
    for branch in request["prompt"]["oneOf"]:
        items = branch.get("items", {})
        if items.get("type") == "integer":
            items["maximum"] = vocab_size - 1
        elif isinstance(items.get("items"), dict):
            items["items"]["maximum"] = vocab_size - 1
    # Keys below 10**(digits of the vocabulary size - 1) are valid token ids of this model whatever its size.
    digits = len(str(vocab_size)) - 1
    request["logit_bias"]["propertyNames"] = {"pattern": f"^[0-9]{{1,{digits}}}$"}
    return out
