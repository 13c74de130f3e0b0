"""The quirk record and what quirk modules share: hook signatures, the endpoint sets and small payload helpers.

``quirks.py`` (Completions' quirks and those of any endpoint) and ``chat_quirks.py`` (chat's own) both build on this
module; ``quirks.all_quirks()`` is the one registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from relaycheck.endpoint import Endpoint
from relaycheck.server.chat_params import ChatRequest
from relaycheck.server.errors import ApiError
from relaycheck.server.model import NGramModel
from relaycheck.server.params import CompletionRequest
from relaycheck.server.protocol import Exchange, Frame

Request = CompletionRequest | ChatRequest
Json = dict[str, Any]
BodyHook = Callable[[Json, Exchange], None]
RequestHook = Callable[[Any, Exchange], Any]  # a CompletionRequest or ChatRequest, as the endpoint has
ChunksHook = Callable[[AsyncIterator[Json], Exchange], AsyncIterator[Json]]
PayloadHook = Callable[[Json, Exchange, str], None]
FramesHook = Callable[[AsyncIterator[Frame], Exchange], AsyncIterator[Frame]]
BytesHook = Callable[[bytes], bytes]
ErrorHook = Callable[[ApiError, Exchange], ApiError]
ErrorBodyHook = Callable[[Json, ApiError], Json]
ModelHook = Callable[[NGramModel, Exchange], NGramModel]  # which model answers this request


def hook_field() -> Any:
    return field(default=None, compare=False, repr=False)


COMPLETIONS = frozenset({Endpoint.COMPLETIONS})
BOTH = frozenset(Endpoint)
CHAT = frozenset({Endpoint.CHAT})


@dataclass(frozen=True)
class Quirk:
    name: str
    description: str
    deviation: str  # "D18" (an entry of docs/deviations.md) or "benign"
    benign: bool = False
    # The endpoints on whose requests the app runs this quirk (GET /v1/models and unknown paths run every quirk).
    endpoints: frozenset[Endpoint] = COMPLETIONS
    on_body: BodyHook | None = hook_field()
    on_request: RequestHook | None = hook_field()
    on_chunks: ChunksHook | None = hook_field()
    on_payload: PayloadHook | None = hook_field()
    on_frames: FramesHook | None = hook_field()
    on_bytes: BytesHook | None = hook_field()
    on_error: ErrorHook | None = hook_field()
    on_error_body: ErrorBodyHook | None = hook_field()
    on_model: ModelHook | None = hook_field()


# -- helpers ---------------------------------------------------------------------------------------


def choices_of(obj: Json) -> list[Json]:
    choices = obj.get("choices")
    return choices if isinstance(choices, list) else []


def logprobs_of(obj: Json) -> Iterator[Json]:
    for choice in choices_of(obj):
        if isinstance(choice.get("logprobs"), dict):
            yield choice["logprobs"]


def usages_of(obj: Json) -> Iterator[Json]:
    if isinstance(obj.get("usage"), dict):
        yield obj["usage"]


def is_usage_chunk(chunk: Json) -> bool:
    return not chunk.get("choices") and isinstance(chunk.get("usage"), dict)


def replace_fields(**changes: Any) -> RequestHook:
    return lambda request, ex: dataclasses.replace(request, **changes)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)
