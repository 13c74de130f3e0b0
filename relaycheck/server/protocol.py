"""The wire format: completion objects, stream chunks, SSE frames and JSON bytes.

The canonical (conformant) objects are built here; quirks rewrite them at the hook points listed in
``quirks.py``. A stream goes through three stages, each with its own hook:
chunk dicts (``on_chunks`` then ``on_payload``) -> SSE frames (``on_frames``) -> bytes (``on_bytes``).
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import string
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from relaycheck.endpoint import Endpoint
from relaycheck.server.chat_params import ChatRequest
from relaycheck.server.config import ServerConfig
from relaycheck.server.generation import ChoiceRun, Token
from relaycheck.server.model import NGramModel
from relaycheck.server.params import CompletionRequest

SYSTEM_FINGERPRINT = "fp_relaycheck"
DONE = "[DONE]"
_ID_ALPHABET = string.ascii_letters + string.digits

# An SSE frame (one event): its lines as (field, value) pairs; field "" is a comment line (": value").
Frame = list[tuple[str, str]]


def new_id(prefix: str = "cmpl-") -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


class RequestMemory:
    """What one server instance remembers across requests, for the quirks that play a stateful gateway (a response
    cache, a gateway that times out on a request the first time): per instance, never module-level, and bounded
    (the oldest entry goes first), so a long-running ``relaycheck serve`` does not grow without end."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Any] = {}

    def recall(self, kind: str, key: str) -> Any:
        return self._entries.get((kind, key))

    def keep(self, kind: str, key: str, value: Any) -> None:
        self._entries.pop((kind, key), None)
        self._entries[(kind, key)] = value
        while len(self._entries) > self.LIMIT:
            del self._entries[next(iter(self._entries))]

    def first_time(self, kind: str, key: str) -> bool:
        """True the first time ``key`` is seen (and remembers it)."""
        seen = (kind, key) in self._entries
        self.keep(kind, key, True)
        return not seen


def body_key(body: Any) -> str:
    """One request body, whatever its key order or spacing: what a gateway's exact-match cache keys on."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode("ascii")).hexdigest()


@dataclass
class Exchange:
    """One request being answered: what the hooks get to look at.

    ``quirk_names`` are the active quirks that apply to this request's endpoint (all of them where the request has
    none: the model list, an unknown path); ``endpoint`` is None there.
    """

    config: ServerConfig
    quirk_names: frozenset[str]
    body: dict[str, Any] | None = None  # the parsed JSON body (after on_body hooks)
    request: CompletionRequest | ChatRequest | None = None  # the validated request (after on_request hooks)
    id: str = field(default_factory=new_id)
    created: int = 0
    endpoint: Endpoint | None = Endpoint.COMPLETIONS

    @property
    def chat(self) -> bool:
        return self.endpoint is Endpoint.CHAT
    memory: RequestMemory = field(default_factory=RequestMemory)  # the server's, shared by its requests

    def has(self, quirk: str) -> bool:
        return quirk in self.quirk_names


# -- JSON ------------------------------------------------------------------------------------------


def dumps(obj: Any, indent: int | None = None) -> bytes:
    separators = None if indent else (",", ":")
    try:
        return json.dumps(obj, ensure_ascii=False, indent=indent, separators=separators).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from the prompt: escape it rather than fail
        return json.dumps(obj, ensure_ascii=True, indent=indent, separators=separators).encode("ascii")


# -- completion objects ----------------------------------------------------------------------------


def logprobs_object(tokens: Sequence[Token]) -> dict[str, list[Any]]:
    return {
        "tokens": [t.text for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [t.top for t in tokens],
        "text_offset": [t.offset for t in tokens],
    }


def _head(ex: Exchange) -> dict[str, Any]:
    assert ex.request is not None
    return {
        "id": ex.id,
        "object": "text_completion",
        "created": ex.created,
        "model": ex.request.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _usage(request: CompletionRequest, completion_tokens: int) -> dict[str, int]:
    prompt_tokens = sum(len(p) for p in request.prompts)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _choice(
    index: int, text: str, logprobs: dict[str, Any] | None, finish_reason: str | None
) -> dict[str, Any]:
    return {"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish_reason}


def fork_rng(rng: random.Random) -> random.Random:
    """Each choice samples from its own generator, forked in choice order: a seeded request gives the same
    choices whether it is streamed (choices interleaved) or not."""
    return random.Random(rng.getrandbits(64))


def build_response(ex: Exchange, model: NGramModel, rng: random.Random) -> dict[str, Any]:
    """The non-streamed completion (CPU-bound: call it off the event loop)."""
    request = ex.request
    assert request is not None
    choices: list[dict[str, Any]] = []
    completion_tokens = 0
    for p, prompt in enumerate(request.prompts):
        runs = [ChoiceRun(model, prompt, request, fork_rng(rng)) for _ in range(request.best_of)]
        results = [(run, [token for batch in run for token in batch]) for run in runs]
        if request.best_of > request.n:
            results.sort(key=lambda item: -item[0].mean_logprob)  # stable: ties keep generation order
        billed = results if request.bill_candidates else results[: request.n]  # every candidate is billed
        completion_tokens += sum(run.completion_tokens for run, _ in billed)
        for j, (run, tokens) in enumerate(results[: request.n]):
            logprobs = logprobs_object(tokens) if request.logprobs is not None else None
            choices.append(_choice(p * request.n + j, run.text, logprobs, run.finish_reason))
    return {**_head(ex), "choices": choices, "usage": _usage(request, completion_tokens)}


async def stream_chunks(ex: Exchange, model: NGramModel, rng: random.Random) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a stream: one per token batch per choice, round-robin over the choices."""
    request = ex.request
    assert request is not None
    head = _head(ex)
    # With include_usage every chunk carries "usage": null, except the final usage chunk.
    tail: dict[str, Any] = {"usage": None} if request.include_usage else {}
    runs = [
        (p * request.n + j, ChoiceRun(model, prompt, request, fork_rng(rng)))
        for p, prompt in enumerate(request.prompts)
        for j in range(request.n)
    ]
    active = [(index, run, iter(run)) for index, run in runs]
    while active:
        for entry in list(active):
            index, run, batches = entry
            batch = next(batches, None)
            if batch is None:  # the choice is done: its final chunk carries the finish_reason
                active.remove(entry)
                empty = logprobs_object(()) if request.logprobs is not None else None
                yield {**head, "choices": [_choice(index, "", empty, run.finish_reason)], **tail}
            else:
                logprobs = logprobs_object(batch) if request.logprobs is not None else None
                text = "".join(t.text for t in batch)
                yield {**head, "choices": [_choice(index, text, logprobs, None)], **tail}
    if request.include_usage:
        total = sum(run.completion_tokens for _, run in runs)
        yield {**head, "choices": [], "usage": _usage(request, total)}


async def frames(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[Frame]:
    async for chunk in chunks:
        yield [("data", dumps(chunk).decode("utf-8"))]
    yield [("data", DONE)]


def encode_frame(frame: Iterable[tuple[str, str]]) -> bytes:
    lines = [f": {value}" if not name else f"{name}: {value}" for name, value in frame]
    return ("\n".join(lines) + "\n\n").encode("utf-8")
