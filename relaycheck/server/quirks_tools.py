"""Tool-call quirks the tool checks (relaycheck/checks/tools.py) need beyond chat_quirks.py: two deviations and the
benign shapes of a streamed call that OpenAI's definition allows.

- ``tool-call-id-empty`` (D50): every call's ``id`` is ``""``, answers and streams (Gemini's OpenAI-compatible
  endpoint, openai/openai-dotnet#428; LM Studio, lmstudio-ai/lmstudio-bug-tracker#830): parallel calls can no longer
  be told apart, and a tool message cannot answer one.
- ``tool-args-null-stream`` (D52): streamed calls carry ``arguments: null`` in every delta (vllm-project/vllm#9693):
  the client assembles no arguments at all.
- benign ``tool-call-head-with-args``: a call's first delta carries its first arguments piece with its id, type and
  name (OpenAI's own streams do this for short calls; only ``index`` is required in a delta,
  ``ChatCompletionMessageToolCallChunk``).
- benign ``tool-args-one-piece``: all of a call's arguments come in one delta after its head.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from relaycheck.server.protocol import Exchange
from relaycheck.server.quirk import CHAT, Json, Quirk, choices_of

ArgsKey = tuple[int, int]  # (choice index, tool-call index)


def _deltas(chunk: Json) -> list[Json]:
    return [d for c in choices_of(chunk) for d in (c.get("delta") or {}).get("tool_calls") or []]


def _arguments_piece(chunk: Json) -> ArgsKey | None:
    """The call a chunk continues, when all it carries is one piece of one call's arguments."""
    choices = choices_of(chunk)
    if len(choices) != 1 or choices[0].get("finish_reason") is not None:
        return None
    delta = choices[0].get("delta") or {}
    calls = delta.get("tool_calls") or []
    if set(delta) != {"tool_calls"} or len(calls) != 1 or "id" in calls[0]:
        return None
    return choices[0]["index"], calls[0]["index"]


def _head_of(chunk: Json) -> ArgsKey | None:
    """The call a chunk opens (its delta carries the call's id)."""
    choices = choices_of(chunk)
    calls = [d for d in _deltas(chunk) if "id" in d]
    return (choices[0]["index"], calls[0]["index"]) if len(choices) == 1 and len(calls) == 1 else None


def _add_arguments(chunk: Json, piece: Json) -> None:
    function = _deltas(chunk)[0]["function"]
    function["arguments"] = (function.get("arguments") or "") + _deltas(piece)[0]["function"]["arguments"]


def _empty_ids(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "response":
        for choice in choices_of(obj):
            for call in (choice.get("message") or {}).get("tool_calls") or []:
                call["id"] = ""
    elif kind == "chunk":
        for delta in _deltas(obj):
            if "id" in delta:
                delta["id"] = ""


def _null_arguments(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for delta in _deltas(obj):
            if "arguments" in (delta.get("function") or {}):
                delta["function"]["arguments"] = None


async def _head_with_arguments(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """A call's head is held until its first arguments piece, which it then carries."""
    held: Json | None = None
    async for chunk in chunks:
        if held is not None:
            if _arguments_piece(chunk) == _head_of(held):
                _add_arguments(held, chunk)
                yield held
                held = None
                continue
            yield held
            held = None
        if _head_of(chunk) is not None:
            held = chunk
            continue
        yield chunk
    if held is not None:
        yield held


async def _arguments_in_one_piece(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """A call's arguments pieces joined into its first, sent once the call's pieces end."""
    held: Json | None = None
    async for chunk in chunks:
        key = _arguments_piece(chunk)
        if held is not None and key == _arguments_piece(held):
            _add_arguments(held, chunk)
            continue
        if held is not None:
            yield held
            held = None
        if key is not None:
            held = chunk
            continue
        yield chunk
    if held is not None:
        yield held


TOOL_QUIRKS: tuple[Quirk, ...] = tuple(dataclasses.replace(q, endpoints=CHAT) for q in (
    Quirk("tool-call-id-empty", 'every tool call\'s id is "" (answers and streams)', "D50", on_payload=_empty_ids),
    Quirk("tool-args-null-stream", "streamed tool-call deltas carry arguments: null", "D52",
          on_payload=_null_arguments),
    Quirk("tool-call-head-with-args", "a streamed call's first delta carries its first arguments piece too",
          "benign", benign=True, on_chunks=_head_with_arguments),
    Quirk("tool-args-one-piece", "a streamed call's arguments come whole, in one delta after its head", "benign",
          benign=True, on_chunks=_arguments_in_one_piece),
))
