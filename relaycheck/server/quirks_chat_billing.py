"""Chat quirks for the message, logprobs, roles and usage checks (docs/deviations.md D15, D29, D30, D45, D56, D68, D69),
and the benign variations those checks must pass.

Each runs on /v1/chat/completions only. Registered in ``quirks.all_quirks()`` beside ``chat_quirks.CHAT_QUIRKS``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from relaycheck.server.errors import ApiError
from relaycheck.server.protocol import Exchange
from relaycheck.server.quirk import CHAT, Json, Quirk, choices_of, is_usage_chunk, logprobs_of, usages_of

EXTRA_TOKENS = 8  # what the usage-breakdown quirks report beyond the total that contains them


def _messages(body: Json) -> list[Json]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _entries(obj: Json) -> list[Json]:
    """Every chat logprobs entry of an answer or chunk."""
    return [e for lp in logprobs_of(obj) if isinstance(lp.get("content"), list) for e in lp["content"]
            if isinstance(e, dict)]


def _n_default_2(request: Any, ex: Exchange) -> Any:
    """Two choices when n is omitted (D15), on chat (Completions' n-default-2 sets best_of too)."""
    return dataclasses.replace(request, n=2) if ex.body is not None and "n" not in ex.body else request


# -- usage of streams (D29, D30) -------------------------------------------------------------------------------


def _usage_chunk_zeros(obj: Json, ex: Exchange, kind: str) -> None:
    """The include_usage chunk comes, with every count 0 (litellm#8349's proxy dropped stream_options upstream and
    reported zeros; PraisonAI#4656 hard-codes 0)."""
    if kind == "chunk" and is_usage_chunk(obj):
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            obj["usage"][key] = 0


def usage_first_choice(obj: Json, ex: Exchange, kind: str) -> None:
    """The usage chunk counts one choice's share of an n > 1 stream (vLLM's usage chunk was not aggregated across
    the n choices before vllm-project/vllm#9475)."""
    n = getattr(ex.request, "n", 1)
    if kind == "chunk" and is_usage_chunk(obj) and n > 1:
        usage = obj["usage"]
        usage["completion_tokens"] = math.ceil(usage["completion_tokens"] / n)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


# -- logprobs (D69) ----------------------------------------------------------------------------------------------


@cache
def _bpe_alphabet() -> dict[int, str]:
    """GPT-2's byte-level BPE alphabet (``bytes_to_unicode``): each byte as the printable character a vocabulary file
    writes it with (a space is ``Ġ``, a newline ``Ċ``)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return {b: chr(b) if b in printable else chr(next(extra)) for b in range(256)}


def _raw_bytes(item: Json) -> None:
    if isinstance(item.get("token"), str):
        alphabet = _bpe_alphabet()
        item["bytes"] = list("".join(alphabet[b] for b in item["token"].encode("utf-8")).encode("utf-8"))


def _bytes_bpe_raw(obj: Json, ex: Exchange, kind: str) -> None:
    """``bytes`` are the UTF-8 of the token's vocabulary string, not of the token (studio-dots-ai/dots.ocr#231:
    ``'Ġ"#'`` with bytes ``[196, 160, 34, 35]``): the token is right, its bytes are not."""
    for entry in _entries(obj):
        _raw_bytes(entry)
        for top in entry.get("top_logprobs") or []:
            _raw_bytes(top)


def _top_repeated(obj: Json, ex: Exchange, kind: str) -> None:
    """Every position lists the first position's alternatives (sgl-project/sglang#2088): answers."""
    if kind == "response":
        for lp in logprobs_of(obj):
            entries = lp.get("content") or []
            for entry in entries[1:]:
                entry["top_logprobs"] = [dict(t) for t in entries[0]["top_logprobs"]]


async def _top_repeated_stream(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """The same in a stream: each choice's later chunks list the alternatives of its first token."""
    firsts: dict[Any, list[Json]] = {}
    async for chunk in chunks:
        for choice in choices_of(chunk):
            lp = choice.get("logprobs")
            for entry in lp.get("content") or [] if isinstance(lp, dict) else []:
                first = firsts.setdefault(choice.get("index"), entry["top_logprobs"])
                entry["top_logprobs"] = [dict(t) for t in first]
        yield chunk


# -- roles and members (D68) -------------------------------------------------------------------------------------


def _developer_refused(body: Json, ex: Exchange) -> None:
    """A chat template without a developer branch (peonist-ai/halogen-flash-server#32, ogx-ai/ogx#6069)."""
    if any(m.get("role") == "developer" for m in _messages(body)):
        raise ApiError(400, "chat template rejected the request: Unexpected message role.",
                       type="invalid_request_error", param=None, cause="quirk")


def _name_refused(body: Json, ex: Exchange) -> None:
    """A request struct without ``name`` (Perplexity through BerriAI/litellm#2373, TencentCloud/Octop#807)."""
    for i, message in enumerate(_messages(body)):
        if "name" in message:
            raise ApiError(400, f"[\"At body -> messages -> {i}: ChatMessage.__init__() got an unexpected keyword "
                           "argument 'name'\"]", type="invalid_request_error", param=None, cause="quirk")


def _max_tokens_ignored(body: Json, ex: Exchange) -> None:
    """A translator that maps max_completion_tokens only: the deprecated max_tokens alone is dropped."""
    if "max_completion_tokens" not in body:
        body.pop("max_tokens", None)


# -- usage breakdowns (D45) ---------------------------------------------------------------------------------------


def _details(usage: Json, name: str) -> Json:
    details = usage.get(name)
    if not isinstance(details, dict):
        details = usage[name] = {}
    return details


def _cached_above_prompt(obj: Json, ex: Exchange, kind: str) -> None:
    """cached_tokens beyond prompt_tokens: an upstream that reports cache reads apart from its input tokens
    (Anthropic's cache_read_input_tokens, Arize-ai/openinference#1429), copied into an OpenAI usage as they come."""
    for usage in usages_of(obj):
        _details(usage, "prompt_tokens_details")["cached_tokens"] = usage["prompt_tokens"] + EXTRA_TOKENS


def _reasoning_above_completion(obj: Json, ex: Exchange, kind: str) -> None:
    """reasoning_tokens beyond completion_tokens: reasoning reported apart from the completion it is part of
    (router-for-me/CLIProxyAPI#5733: completion_tokens 0, reasoning_tokens 60)."""
    for usage in usages_of(obj):
        _details(usage, "completion_tokens_details")["reasoning_tokens"] = usage["completion_tokens"] + EXTRA_TOKENS


# -- benign -------------------------------------------------------------------------------------------------------


def _no_details(obj: Json, ex: Exchange, kind: str) -> None:
    for usage in usages_of(obj):
        usage.pop("prompt_tokens_details", None)
        usage.pop("completion_tokens_details", None)


def _refusal_every_delta(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for choice in choices_of(obj):
            if isinstance(choice.get("delta"), dict):
                choice["delta"].setdefault("refusal", None)


def _ties_reordered(obj: Json, ex: Exchange, kind: str) -> None:
    """The two most likely alternatives tie, listed the other way round (a tie has no order)."""
    for entry in _entries(obj):
        tops = entry.get("top_logprobs")
        if isinstance(tops, list) and len(tops) >= 2:
            tops[1]["logprob"] = tops[0]["logprob"]
            tops[0], tops[1] = tops[1], tops[0]


CHAT_BILLING_QUIRKS: tuple[Quirk, ...] = tuple(dataclasses.replace(q, endpoints=CHAT) for q in (
    Quirk("chat-n-default-2", "two choices when n is omitted", "D15", on_request=_n_default_2),
    Quirk("usage-chunk-zeros", "the include_usage chunk reports every count as 0", "D29",
          on_payload=_usage_chunk_zeros),
    Quirk("logprobs-bytes-bpe-raw", "logprobs bytes are the UTF-8 of the token's vocabulary string (space as Ġ)",
          "D69", on_payload=_bytes_bpe_raw),
    Quirk("logprobs-top-repeated", "every logprobs position lists the first position's top_logprobs", "D69",
          on_payload=_top_repeated, on_chunks=_top_repeated_stream),
    Quirk("developer-role-refused", "a developer message is a 400 (Unexpected message role)", "D68",
          on_body=_developer_refused),
    Quirk("name-refused", "a message with a name is a 400 (unexpected keyword argument 'name')", "D68",
          on_body=_name_refused),
    Quirk("max-tokens-ignored", "the deprecated max_tokens is dropped when max_completion_tokens is not sent", "D56",
          on_body=_max_tokens_ignored),
    Quirk("cached-tokens-above-prompt", f"cached_tokens reports {EXTRA_TOKENS} more than prompt_tokens", "D45",
          on_payload=_cached_above_prompt),
    Quirk("reasoning-tokens-above-completion", f"reasoning_tokens reports {EXTRA_TOKENS} more than "
          "completion_tokens", "D45", on_payload=_reasoning_above_completion),
    # benign: what the chat definition allows
    Quirk("usage-details-absent", "usage without prompt_tokens_details and completion_tokens_details (optional)",
          "benign", benign=True, on_payload=_no_details),
    Quirk("refusal-null-every-delta", "every streamed delta carries refusal: null", "benign", benign=True,
          on_payload=_refusal_every_delta),
    Quirk("top-logprobs-ties-reordered", "the two most likely alternatives tie and are listed the other way round",
          "benign", benign=True, on_payload=_ties_reordered),
))
