"""Named quirks: switches that make the reference server reproduce one real-world deviation each.

A quirk is a frozen :class:`Quirk` (``quirk.py``) carrying small hook functions. The app calls every active quirk's
hook at these points, in registry order, on the requests of the endpoints the quirk names (``Quirk.endpoints``:
Completions by default; ``ANY_ENDPOINT`` below lists those that run on chat too; chat's own are in
``chat_quirks.py`` and the tool-call ones in ``quirks_tools.py``, registered here):

===============  ====================================================================================
``on_body``      the parsed JSON body, before validation: rewrite it in place or raise :class:`ApiError`
``on_request``   the validated :class:`CompletionRequest` (chat: :class:`ChatRequest`): return a changed copy
``on_chunks``    the stream's chunk dicts as an async iterator: return a new iterator (merge, drop, move)
``on_payload``   each finished object in place: ``kind`` is ``"response"`` (non-stream) or ``"chunk"``
``on_frames``    the stream's SSE frames (lists of ``(field, value)`` lines): return a new iterator
``on_bytes``     each encoded SSE frame: return the bytes to send
``on_error``     an :class:`ApiError` before rendering: return a changed copy (status, param, body)
``on_error_body`` the rendered error body: return the body to send
``on_model``     which model answers (the substitution quirks)
===============  ====================================================================================

A few quirks change how the app answers rather than what it sends (``no-auth``, ``json-as-sse``,
``sse-as-json``, ``pretty-json``, ``errors-html``, ``stream-error-200``, ``models-list-omits-claimed``); they have
no hooks and the app tests their names. ``served-model-limits`` has a model hook and is read by the app too (the
window it serves and publishes, length-0 completions).
``deviation`` names the entry of ``docs/deviations.md`` the quirk reproduces, or ``"benign"`` for a
variation the spec allows (the suite must pass those).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from relaycheck.server.chat_params import KNOWN as CHAT_MEMBERS
from relaycheck.server.chat_quirks import CHAT_QUIRKS
from relaycheck.server.errors import ApiError
from relaycheck.server.model import NGramModel, chat_model, model_named, other_tokenizer_model, salted_model
from relaycheck.server.params import CompletionRequest
from relaycheck.server.protocol import DONE, Exchange, Frame, body_key, new_id
from relaycheck.server.quirk import (
    BOTH,
    CHAT,
    ErrorHook,
    FramesHook,
    Json,
    PayloadHook,
    Quirk,
    RequestHook,
)
from relaycheck.server.quirk import choices_of as _choices
from relaycheck.server.quirk import clamp as _clamp
from relaycheck.server.quirk import is_number as _is_number
from relaycheck.server.quirk import is_usage_chunk as _is_usage_chunk
from relaycheck.server.quirk import logprobs_of as _logprobs
from relaycheck.server.quirk import replace_fields as _replace
from relaycheck.server.quirk import usages_of as _usages
from relaycheck.server.quirks_chat_billing import CHAT_BILLING_QUIRKS, usage_first_choice
from relaycheck.server.quirks_tools import TOOL_QUIRKS
from relaycheck.server.tokenizer import default_tokenizer
from relaycheck.tokens.chat import content_text

# -- request side ----------------------------------------------------------------------------------


def _max_tokens_default_unlimited(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    if ex.body is not None and ex.body.get("max_tokens") is None:
        return dataclasses.replace(request, max_tokens=64)
    return request


def _default_when_omitted(name: str, **changes: Any) -> RequestHook:
    """Another default for field ``name``: ``changes`` apply when the request has no such key."""

    def hook(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
        omitted = ex.body is not None and name not in ex.body
        return dataclasses.replace(request, **changes) if omitted else request

    return hook


def _drop_logit_bias(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    return dataclasses.replace(request, sampling=dataclasses.replace(request.sampling, logit_bias={}))


def _best_of_returns_all(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    return dataclasses.replace(request, n=request.best_of)


def _no_best_of_n_rule(body: Json, ex: Exchange) -> None:
    best_of, n = body.get("best_of"), body.get("n")
    if _is_number(best_of) and _is_number(n) and best_of < n:
        body["best_of"] = None  # generate n candidates instead of refusing


def _reject_explicit_defaults(body: Json, ex: Exchange) -> None:
    # on chat, members a translator has no field for even at their default (n, logit_bias: one-api's D04 pattern)
    for name in ("n", "logit_bias") if ex.chat else ("best_of", "suffix"):
        if name in body:
            raise ApiError(400, f"Unsupported param: {name}", param=name, cause="quirk")


def _one_api_prompt_validation(body: Json, ex: Exchange) -> None:
    if body.get("prompt") == "":
        raise ApiError(400, "field prompt is required", param="prompt", cause="quirk")
    body.setdefault("prompt", "")


def _logprobs_bool(body: Json, ex: Exchange) -> None:
    if _is_number(body.get("logprobs")):
        raise ApiError(
            400,
            "json: cannot unmarshal number into Go struct field GeneralOpenAIRequest.logprobs of type bool",
            type="invalid_text_request",
            cause="quirk",
        )
    if isinstance(body.get("logprobs"), bool):
        body["logprobs"] = None  # a Go *bool: accepted, and means nothing to the completion


def _token_prompt_500(body: Json, ex: Exchange) -> None:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], str):
        raise ApiError(500, "AssertionError", type="internal_server_error", cause="quirk")


def _integer_temperature(body: Json, ex: Exchange) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if isinstance(value, float) and not value.is_integer():
            raise ApiError(400, f"{name} must be an integer", param=name, cause="quirk")


_RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "n": (1, 128),
    "best_of": (1, 20),
    "logprobs": (0, 5),
    "max_tokens": (0, float("inf")),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
# On chat, logprobs is a boolean, top_logprobs counts the alternatives, and a bound is at least 1.
_CHAT_RANGES = {**{k: v for k, v in _RANGES.items() if k not in ("best_of", "logprobs")}, "top_logprobs": (0, 20),
                "max_tokens": (1, float("inf")), "max_completion_tokens": (1, float("inf"))}


def _accept_out_of_range(body: Json, ex: Exchange) -> None:
    # No range validation: whatever comes is clamped into what the model can do, silently.
    for name, (low, high) in (_CHAT_RANGES if ex.chat else _RANGES).items():
        if _is_number(body.get(name)):
            body[name] = type(body[name])(_clamp(body[name], low, high))
    if isinstance(body.get("stop"), list):
        body["stop"] = body["stop"][:4] or None
    if isinstance(body.get("logit_bias"), dict):
        body["logit_bias"] = {
            k: int(_clamp(v, -100, 100)) if _is_number(v) else v for k, v in body["logit_bias"].items()
        }


def _chat_template(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    prefix = tuple(default_tokenizer().encode("Sure! Here is a response:"))
    return dataclasses.replace(request, forced_prefix=prefix)


def _prompt_list_first_only(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    return (
        dataclasses.replace(request, prompts=request.prompts[:1]) if request.prompt_is_text_list else request
    )


def _served_models(ex: Exchange) -> tuple[str, ...]:
    return ex.config.chat_models if ex.chat else ex.config.models


def _default_model_when_missing(body: Json, ex: Exchange) -> None:
    body.setdefault("model", _served_models(ex)[0])


def _drop_unknown_params(body: Json, ex: Exchange) -> None:
    """As a relay that re-serialises the request through its own struct: what it does not know is gone (on chat,
    Portkey 1.15.2 rebuilds the body from its field list, Portkey-AI/gateway:src/providers/openai/chatComplete.ts)."""
    from relaycheck.spec import load_contract

    known = CHAT_MEMBERS if ex.chat else load_contract().request_fields()
    for name in [k for k in body if k not in known]:
        del body[name]


def _refuse_greedy_n(body: Json, ex: Exchange) -> None:
    """vLLM's rule: several choices of a greedy (temperature 0) completion would all be the same text."""
    n, temperature = body.get("n"), body.get("temperature")
    if _is_number(n) and n > 1 and _is_number(temperature) and temperature == 0:
        raise ApiError(400, f"n must be 1 when using greedy sampling, got {n}.", param="n", cause="quirk")


def _refuse_suffix(body: Json, ex: Exchange) -> None:
    if body.get("suffix") is not None:
        raise ApiError(400, "suffix is only supported for models with FIM completion rendering", param="suffix",
                       cause="quirk")


def _model_fallback(body: Json, ex: Exchange) -> None:
    if isinstance(body.get("model"), str) and body["model"] not in _served_models(ex):
        body["model"] = _served_models(ex)[0]


# -- logprobs shape --------------------------------------------------------------------------------


def _chat_logprobs(obj: Json, ex: Exchange, kind: str) -> None:
    def entry(token: str, logprob: float | None) -> Json:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8", "replace"))}

    for choice in _choices(obj):
        legacy = choice.get("logprobs")
        if isinstance(legacy, dict):
            content = []
            for token, logprob, top in zip(
                legacy["tokens"], legacy["token_logprobs"], legacy["top_logprobs"], strict=True
            ):
                alternatives = [entry(t, lp) for t, lp in (top or {}).items()]
                content.append({**entry(token, logprob), "top_logprobs": alternatives})
            choice["logprobs"] = {"content": content}


def _logprobs_zero_null(obj: Json, ex: Exchange, kind: str) -> None:
    if ex.request is not None and ex.request.logprobs == 0:
        for choice in _choices(obj):
            choice["logprobs"] = None


def _logprobs_offsets_wrong(obj: Json, ex: Exchange, kind: str) -> None:
    for logprobs in _logprobs(obj):
        logprobs["text_offset"] = [0] * len(logprobs["text_offset"])


def _logprobs_tokens_mismatch(obj: Json, ex: Exchange, kind: str) -> None:
    for logprobs in _logprobs(obj):
        logprobs["tokens"] = [token.lstrip(" ") for token in logprobs["tokens"]]


def _echo_logprobs_first_not_null(obj: Json, ex: Exchange, kind: str) -> None:
    for logprobs in _logprobs(obj):
        if logprobs["token_logprobs"] and logprobs["token_logprobs"][0] is None:
            logprobs["token_logprobs"][0] = -2.5


# -- response shape --------------------------------------------------------------------------------


def _set(key: str, value: Any, kinds: tuple[str, ...] = ("response", "chunk")) -> PayloadHook:
    def hook(obj: Json, ex: Exchange, kind: str) -> None:
        if kind in kinds:
            obj[key] = value

    return hook


def _chatcmpl_id(obj: Json, ex: Exchange, kind: str) -> None:
    """The other endpoint's id prefix: chatcmpl- on Completions (llama.cpp, new-api), cmpl- on chat."""
    if ex.chat:
        obj["id"] = "cmpl-" + str(obj["id"]).removeprefix("chatcmpl-")
    else:
        obj["id"] = "chatcmpl-" + str(obj["id"]).removeprefix("cmpl-")


def _finish_reason_eos(obj: Json, ex: Exchange, kind: str) -> None:
    for choice in _choices(obj):
        if choice.get("finish_reason"):
            choice["finish_reason"] = "eos_token"


def _logprobs_key_omitted(obj: Json, ex: Exchange, kind: str) -> None:
    for choice in _choices(obj):
        if choice.get("logprobs", "") is None:
            del choice["logprobs"]


def _usage_missing(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "response":
        obj.pop("usage", None)


def _usage_zero(obj: Json, ex: Exchange, kind: str) -> None:
    for usage in _usages(obj):
        usage.update(prompt_tokens=0, completion_tokens=0, total_tokens=0)


def _usage_total_wrong(obj: Json, ex: Exchange, kind: str) -> None:
    for usage in _usages(obj):
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"] + 7


def _usage_inflated(obj: Json, ex: Exchange, kind: str) -> None:
    for usage in _usages(obj):
        usage["completion_tokens"] *= 2
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


def _created_float(obj: Json, ex: Exchange, kind: str) -> None:
    obj["created"] = obj["created"] + 0.316254


def _created_millis(obj: Json, ex: Exchange, kind: str) -> None:
    obj["created"] = obj["created"] * 1000


# -- streaming -------------------------------------------------------------------------------------


def _id_prefix(ex: Exchange) -> str:
    return "chatcmpl-" if ex.chat else "cmpl-"


def _chunk_ids_vary(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        obj["id"] = new_id(_id_prefix(ex))


def _id_reused(obj: Json, ex: Exchange, kind: str) -> None:
    obj["id"] = _id_prefix(ex) + "relaycheck0"


def _stream_no_finish_reason(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for choice in _choices(obj):
            choice["finish_reason"] = None


def _finish_reason_every_chunk(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for choice in _choices(obj):
            choice["finish_reason"] = choice.get("finish_reason") or "stop"


def _stream_n_index_wrong(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for choice in _choices(obj):
            choice["index"] = 0


def _usage_zeros_every_chunk(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk" and "usage" in obj and obj["usage"] is None:
        obj["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def _usage_zeros_unasked(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk" and ex.request is not None and not ex.request.include_usage:
        obj["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def _usage_chunk_no_choices(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk" and _is_usage_chunk(obj):
        obj.pop("choices", None)


def _single_choice(chunk: Json) -> Json | None:
    choices = _choices(chunk)
    return choices[0] if len(choices) == 1 else None


def _merge_pieces(merged: Json, choice: Json, chat: bool) -> bool:
    """Append ``choice``'s piece (text, or a chat delta's content) and logprobs to ``merged``; False if it has none
    (a chat role or tool-call delta, which stays a chunk of its own)."""
    if chat:
        delta = choice.get("delta") or {}
        if set(delta) - {"content"} or not isinstance(delta.get("content"), str):
            return False
        merged["delta"]["content"] += delta["content"]
        if isinstance(merged["logprobs"], dict) and isinstance(choice.get("logprobs"), dict):
            merged["logprobs"]["content"].extend(choice["logprobs"]["content"] or [])
        return True
    merged["text"] += choice["text"]
    if isinstance(merged["logprobs"], dict):
        for key, values in merged["logprobs"].items():
            values.extend(choice["logprobs"][key])
    return True


def _is_piece(choice: Json, chat: bool) -> bool:
    delta = choice.get("delta") or {}
    return not chat or (set(delta) == {"content"} and isinstance(delta["content"], str))


async def _stream_buffered(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    # Hold every content chunk of a choice, merged into one, until that choice's final chunk.
    held: dict[int, Json] = {}
    async for chunk in chunks:
        choice = _single_choice(chunk)
        if choice is None or (choice["finish_reason"] is None and not _is_piece(choice, ex.chat)):
            yield chunk
        elif choice["finish_reason"] is None:
            first = held.get(choice["index"])
            if first is None:
                held[choice["index"]] = chunk
                continue
            merged = _single_choice(first)
            assert merged is not None
            _merge_pieces(merged, choice, ex.chat)
        else:
            if choice["index"] in held:
                yield held.pop(choice["index"])
            yield chunk


async def _stream_drops_first_token(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    started: set[int] = set()
    async for chunk in chunks:
        choice = _single_choice(chunk)
        first_piece = choice is not None and _is_piece(choice, ex.chat) and (not ex.chat or choice["delta"]["content"])
        if first_piece and choice is not None and choice["finish_reason"] is None and choice["index"] not in started:
            started.add(choice["index"])
            continue
        yield chunk


async def _usage_on_last_content_chunk(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    previous: Json | None = None
    async for chunk in chunks:
        if _is_usage_chunk(chunk) and previous is not None:
            previous["usage"] = chunk["usage"]
            continue
        if previous is not None:
            yield previous
        previous = chunk
    if previous is not None:
        yield previous


def _is_done(frame: Frame) -> bool:
    return frame == [("data", DONE)]


def _after_first_frame(extra: Frame) -> FramesHook:
    async def hook(frames: AsyncIterator[Frame], ex: Exchange) -> AsyncIterator[Frame]:
        count = 0
        async for frame in frames:
            yield frame
            count += 1
            if count == 1:
                yield extra

    return hook


async def _no_done(frames: AsyncIterator[Frame], ex: Exchange) -> AsyncIterator[Frame]:
    async for frame in frames:
        if not _is_done(frame):
            yield frame


async def _data_after_done(frames: AsyncIterator[Frame], ex: Exchange) -> AsyncIterator[Frame]:
    last: Frame | None = None
    async for frame in frames:
        yield frame
        if _is_done(frame) and last is not None:
            yield last
        last = frame


async def _sse_comments(frames: AsyncIterator[Frame], ex: Exchange) -> AsyncIterator[Frame]:
    yield [("", "OPENROUTER PROCESSING")]
    count = 0
    async for frame in frames:
        yield frame
        count += 1
        if count % 2 == 0:
            yield [("", "keep-alive")]


async def _sse_fields(frames: AsyncIterator[Frame], ex: Exchange) -> AsyncIterator[Frame]:
    count = 0
    async for frame in frames:
        count += 1
        fields = [("id", str(count))] + ([("retry", "3000")] if count == 1 else [])
        yield fields + frame


def _sse_no_space(data: bytes) -> bytes:
    return re.sub(rb"(?m)^([a-z]+): ", rb"\1:", data)


def _sse_crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


# -- benign extra fields ---------------------------------------------------------------------------


def _extra_fields(obj: Json, ex: Exchange, kind: str) -> None:
    obj["provider"] = "relaycheck-reference"
    obj["timings"] = {"prompt_ms": 0.12, "predicted_ms": 1.5}
    for choice in _choices(obj):
        choice["stop_reason"] = None


def _extra_error_fields(body: Json, err: ApiError) -> Json:
    if isinstance(body.get("error"), dict):
        body["error"]["provider"] = "relaycheck-reference"
    body["request_id"] = new_id("req-")
    return body


# -- errors ----------------------------------------------------------------------------------------

# vLLM and llama.cpp name the error type after the HTTP status (the SDK's exception class names).
_STATUS_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    429: "RateLimitError",
}


def _status_type(status: int) -> str:
    return _STATUS_TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequestError")


def _message(body: Json) -> str:
    inner = body.get("error")
    return str(inner.get("message", "")) if isinstance(inner, dict) else str(body.get("message", ""))


def _errors_flat(body: Json, err: ApiError) -> Json:
    return {
        "object": "error",
        "message": _message(body),
        "type": _status_type(err.status),
        "param": None,
        "code": err.status,
    }


def _errors_int_code(body: Json, err: ApiError) -> Json:
    return {"error": {"message": _message(body), "type": _status_type(err.status), "code": err.status}}


def _unknown_model_503(err: ApiError, ex: Exchange) -> ApiError:
    if err.cause != "model" or ex.request is None:
        return err
    message = f"当前分组 default 下对于模型 {ex.request.model} 无可用渠道 (request id: {new_id('')})"
    return dataclasses.replace(err, status=503, body={"error": {"message": message, "type": "new_api_error"}})


def _error_status(status: int, when: Callable[[ApiError], bool] = lambda err: True) -> ErrorHook:
    return lambda err, ex: dataclasses.replace(err, status=status) if when(err) else err


# -- truth of streamed answers, finish reasons and identities -----------------------------------------


def _when_streaming(**changes: Any) -> RequestHook:
    """A parameter lost only when the request streams (the non-streamed answer stays right)."""
    return lambda request, ex: dataclasses.replace(request, **changes) if request.stream else request


def _stream_rejects_options(body: Json, ex: Exchange) -> None:
    if body.get("stream") is not True:
        return
    for name in ("logprobs", "echo", "suffix"):
        if body.get(name) not in (None, False):
            raise ApiError(400, f"{name} is not supported when streaming", param=name, cause="quirk")


def _finish_reason_always_stop(obj: Json, ex: Exchange, kind: str) -> None:
    for choice in _choices(obj):
        if choice.get("finish_reason") == "length":
            choice["finish_reason"] = "stop"


def _prompt_list_swapped(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    if not request.prompt_is_text_list:
        return request
    return dataclasses.replace(request, prompts=tuple(reversed(request.prompts)))


# -- usage truth and parameter effects (issue 12, part 2) ------------------------------------

def _prompt_list_usage_first(obj: Json, ex: Exchange, kind: str) -> None:
    if ex.request is None or len(ex.request.prompts) < 2:
        return
    for usage in _usages(obj):
        usage["prompt_tokens"] = len(ex.request.prompts[0])
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


def _stream_usage_counts_end(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk" and _is_usage_chunk(obj):
        obj["usage"]["completion_tokens"] += 1
        obj["usage"]["total_tokens"] += 1


def _best_of_drops_logprobs(obj: Json, ex: Exchange, kind: str) -> None:
    if ex.request is None or ex.request.best_of <= ex.request.n:
        return
    for choice in obj.get("choices") or []:
        if isinstance(choice, dict):
            choice["logprobs"] = None


TRACEBACK = ('Traceback (most recent call last):\n  File "/usr/lib/python3.11/site-packages/relay/proxy.py", line 812, '
             'in completion\n    raise ValueError(message)\nValueError: ')


def _error_traceback(err: ApiError, ex: Exchange) -> ApiError:
    return dataclasses.replace(err, message=TRACEBACK + err.message)


def _stop_list_cut_to_four(body: Json, ex: Exchange) -> None:
    # LiteLLM 1.102.4: litellm/utils.py validate_openai_optional_params, `stop = stop[:4]` (BerriAI/litellm#19562)
    if isinstance(body.get("stop"), list) and len(body["stop"]) > 4:
        body["stop"] = body["stop"][:4]


def _no_penalties(request: CompletionRequest, ex: Exchange) -> CompletionRequest:
    sampling = dataclasses.replace(request.sampling, presence_penalty=0.0, frequency_penalty=0.0)
    return dataclasses.replace(request, sampling=sampling)


def _context_truncated(body: Json, ex: Exchange) -> None:
    """Cut the prompt from the left until prompt plus max_tokens fits the context (llama.cpp's truncation)."""
    tokenizer = default_tokenizer()
    max_tokens = body.get("max_tokens") if _is_number(body.get("max_tokens")) else 16
    room = max(ex.config.context_length - int(max_tokens), 1)
    prompt = body.get("prompt")
    if isinstance(prompt, str) and len(ids := tokenizer.encode(prompt)) > room:
        body["prompt"] = tokenizer.decode(ids[-room:])
    elif isinstance(prompt, list) and prompt and all(_is_number(t) for t in prompt):
        body["prompt"] = prompt[-room:]
    elif isinstance(prompt, list) and all(isinstance(p, list) for p in prompt):
        body["prompt"] = [p[-room:] for p in prompt]


# -- issue 24 ---------------------------------------------------------------------------------------


# served-model-limits: the window of the model really served, as its engine publishes and enforces it (the app
# reads the name, like other quirks that change how it answers), far over gpt-3.5-turbo-instruct's 4096
SERVED_MODEL_WINDOW = 16384


def _max_tokens_zero_dropped(body: Json, ex: Exchange) -> None:
    # one-api's GeneralOpenAIRequest has `MaxTokens int json:"max_tokens,omitempty"` (D11): a zero is gone when the
    # body is marshalled again for the upstream, which then applies its own default
    if _is_number(body.get("max_tokens")) and body["max_tokens"] == 0:
        del body["max_tokens"]


# -- the registry ----------------------------------------------------------------------------------

_QUIRKS: tuple[Quirk, ...] = (
    # request side
    Quirk(
        "drop-max-tokens",
        "max_tokens is ignored: every completion runs 24 tokens",
        "D11",
        on_request=_replace(max_tokens=24),
    ),
    Quirk(
        "max-tokens-default-unlimited",
        "without max_tokens, completions run up to 64 tokens instead of 16",
        "D15",
        on_request=_max_tokens_default_unlimited,
    ),
    Quirk("drop-stop", "stop sequences are ignored", "D17", on_request=_replace(stop=())),
    Quirk(
        "stop-included",
        "the matched stop sequence is kept at the end of the text",
        "D17",
        on_request=_replace(include_stop=True),
    ),
    Quirk("drop-n", "n is ignored: one choice per prompt", "D06", on_request=_replace(n=1)),
    Quirk("drop-echo", "echo is ignored", "D02", on_request=_replace(echo=False)),
    Quirk(
        "echo-default-on",
        "the prompt is echoed when the echo field is omitted",
        "D15",
        on_request=_default_when_omitted("echo", echo=True),
    ),
    Quirk(
        "n-default-2",
        "two choices per prompt when n is omitted",
        "D15",
        on_request=_default_when_omitted("n", n=2, best_of=2),
    ),
    Quirk(
        "logprobs-default-on",
        "logprobs (1) are returned when the logprobs field is omitted",
        "D15",
        on_request=_default_when_omitted("logprobs", logprobs=1),
    ),
    Quirk("drop-logit-bias", "logit_bias is ignored", "D02", on_request=_drop_logit_bias),
    Quirk(
        "ignore-seed",
        "seed is ignored: sampling is never reproducible",
        "D02",
        on_request=_replace(seed=None),
    ),
    Quirk(
        "best-of-returns-all",
        "best_of candidates are all returned instead of the best n",
        "D05",
        on_request=_best_of_returns_all,
    ),
    Quirk("no-best-of-n-rule", "best_of smaller than n is accepted", "D05", on_body=_no_best_of_n_rule),
    Quirk(
        "reject-explicit-defaults",
        "a best_of or suffix key (chat: n or logit_bias) is rejected even at its default value",
        "D04",
        on_body=_reject_explicit_defaults,
    ),
    Quirk(
        "one-api-prompt-validation",
        "a missing prompt is accepted, an empty-string prompt is a 400",
        "D10",
        on_body=_one_api_prompt_validation,
    ),
    Quirk(
        "logprobs-bool",
        "an integer logprobs is a 400 (the relay types it bool)",
        "D01",
        on_body=_logprobs_bool,
    ),
    Quirk(
        "chat-logprobs", "logprobs come in the chat shape {content: [...]}", "D22", on_payload=_chat_logprobs
    ),
    Quirk("logprobs-zero-null", "logprobs: 0 answers logprobs null", "D23", on_payload=_logprobs_zero_null),
    Quirk(
        "logprobs-too-many-top",
        "top_logprobs entries carry logprobs+3 alternatives",
        "D22",
        on_request=_replace(extra_alternatives=3),
    ),
    Quirk("logprobs-offsets-wrong", "text_offset is all zeros", "D23", on_payload=_logprobs_offsets_wrong),
    Quirk(
        "logprobs-tokens-mismatch",
        "logprobs tokens lose their leading spaces (they no longer join to the text)",
        "D22",
        on_payload=_logprobs_tokens_mismatch,
    ),
    Quirk(
        "echo-logprobs-first-not-null",
        "with echo, the first token_logprobs entry is a number",
        "D23",
        on_payload=_echo_logprobs_first_not_null,
    ),
    Quirk(
        "prompt-list-first-only",
        "with a string[] prompt only the first prompt gets completions",
        "D08",
        on_request=_prompt_list_first_only,
    ),
    Quirk(
        "token-prompt-500",
        "token-array prompts fail with HTTP 500 AssertionError",
        "D09",
        on_body=_token_prompt_500,
    ),
    Quirk(
        "integer-temperature",
        "a non-integer temperature or top_p is a 400",
        "D12",
        on_body=_integer_temperature,
    ),
    Quirk(
        "accept-out-of-range",
        "no range validation: out-of-range values are clamped and accepted",
        "D13",
        on_body=_accept_out_of_range,
    ),
    Quirk(
        "chat-template",
        'completions answer like a chat assistant ("Sure! Here is a response:")',
        "D16",
        on_request=_chat_template,
    ),
    Quirk(
        "default-model-when-missing",
        "a request without model is served by the default model",
        "D10",
        on_body=_default_model_when_missing,
    ),
    Quirk(
        "refuse-greedy-n",
        "n > 1 at temperature 0 is refused with a 400 (vLLM); a combination no probe may depend on",
        "benign",
        benign=True,
        on_body=_refuse_greedy_n,
    ),
    Quirk(
        "refuse-suffix",
        "suffix is refused with a clean 400 (vLLM on a model without fill-in-the-middle)",
        "D14",
        on_body=_refuse_suffix,
    ),
    Quirk(
        "drop-unknown-params",
        "unknown request parameters are dropped silently instead of rejected",
        "D02",
        on_body=_drop_unknown_params,
    ),
    Quirk(
        "malformed-json-500",
        "an unparseable JSON body is a 500",
        "D42",
        on_error=_error_status(500, lambda err: err.cause == "json"),
    ),
    # response shape
    Quirk(
        "chat-object",
        'object is "chat.completion"',
        "D18",
        on_payload=_set("object", "chat.completion", ("response",)),
    ),
    Quirk("empty-id", "id is the empty string", "D19", on_payload=_set("id", "")),
    Quirk("chatcmpl-id", "id has the other endpoint's prefix (chatcmpl- on Completions, cmpl- on chat)", "D19",
          on_payload=_chatcmpl_id),
    Quirk("finish-reason-eos", 'finish_reason is "eos_token"', "D20", on_payload=_finish_reason_eos),
    Quirk(
        "logprobs-key-omitted",
        "choices lack the logprobs key when it is null",
        "D24",
        on_payload=_logprobs_key_omitted,
    ),
    Quirk("usage-missing", "non-stream responses have no usage", "D25", on_payload=_usage_missing),
    Quirk("usage-zero", "usage numbers are all 0", "D25", on_payload=_usage_zero),
    Quirk(
        "usage-total-wrong",
        "total_tokens is not prompt_tokens + completion_tokens",
        "D25",
        on_payload=_usage_total_wrong,
    ),
    Quirk(
        "usage-inflated", "completion_tokens is doubled (total consistent)", "D45", on_payload=_usage_inflated
    ),
    Quirk("created-float", "created is a float with a fraction", "D27", on_payload=_created_float),
    Quirk("created-millis", "created is in milliseconds", "D27", on_payload=_created_millis),
    Quirk(
        "model-substituted",
        "the response names gpt-4o-mini whatever model was asked",
        "D47",
        on_payload=_set("model", "gpt-4o-mini"),
    ),
    Quirk("json-as-sse", "a non-stream request is answered as an event stream", "D37"),
    # streaming
    Quirk(
        "chunk-object-chat",
        'chunks have object "chat.completion.chunk"',
        "D18",
        on_payload=_set("object", "chat.completion.chunk", ("chunk",)),
    ),
    Quirk("chunk-ids-vary", "every chunk has a new id", "D19", on_payload=_chunk_ids_vary),
    Quirk("chat-chunk-ids-vary", "every chat chunk has a new chatcmpl- id (LiteLLM's Responses bridge)", "D19",
          endpoints=CHAT, on_payload=_chunk_ids_vary),
    Quirk("sse-as-json", "a stream request is answered with one application/json body", "D37"),
    Quirk("no-done", "the stream ends without data: [DONE]", "D28", on_frames=_no_done),
    Quirk("data-after-done", "another data event follows data: [DONE]", "D28", on_frames=_data_after_done),
    Quirk(
        "non-json-data-line",
        "a data: ping event mid-stream",
        "D35",
        on_frames=_after_first_frame([("data", "ping")]),
    ),
    Quirk(
        "stream-no-finish-reason",
        "finish_reason stays null on every chunk",
        "D21",
        on_payload=_stream_no_finish_reason,
    ),
    Quirk(
        "finish-reason-every-chunk",
        "every chunk has a non-null finish_reason",
        "D21",
        on_payload=_finish_reason_every_chunk,
    ),
    Quirk(
        "stream-buffered",
        "the whole completion comes in one content chunk",
        "D37",
        on_chunks=_stream_buffered,
    ),
    Quirk(
        "stream-drops-first-token",
        "the stream omits the first token of each choice",
        "D44",
        on_chunks=_stream_drops_first_token,
    ),
    Quirk(
        "usage-chunk-missing",
        "stream_options.include_usage is ignored",
        "D29",
        on_request=_replace(include_usage=False),
    ),
    Quirk(
        "usage-on-last-content-chunk",
        "usage rides on the last content chunk, no separate usage chunk",
        "D30",
        on_chunks=_usage_on_last_content_chunk,
    ),
    Quirk(
        "usage-zeros-every-chunk",
        "with include_usage, every chunk carries usage zeros instead of null",
        "D32",
        on_payload=_usage_zeros_every_chunk,
    ),
    Quirk(
        "usage-chunk-forced",
        "a usage chunk is sent even when not asked for",
        "D31",
        on_request=lambda request, ex: dataclasses.replace(request, include_usage=request.stream),
    ),
    Quirk(
        "usage-zeros-unasked",
        "without include_usage, every chunk carries usage zeros (LiteLLM 1.102.4 in front of a server without usage)",
        "D31",
        on_payload=_usage_zeros_unasked,
    ),
    Quirk(
        "usage-chunk-no-choices",
        "the usage chunk has no choices key",
        "D33",
        on_payload=_usage_chunk_no_choices,
    ),
    Quirk(
        "sse-error-field",
        "a non-standard 'error:' SSE line mid-stream",
        "D34",
        on_frames=_after_first_frame([("error", '{"message":"x"}')]),
    ),
    Quirk(
        "stream-n-index-wrong", "streamed choices all say index 0", "D44", on_payload=_stream_n_index_wrong
    ),
    # truth of streamed answers, finish reasons and identities
    Quirk(
        "stream-drop-stop",
        "stop sequences are ignored when streaming (honoured without stream)",
        "D17",
        on_request=_when_streaming(stop=()),
    ),
    Quirk(
        "stream-drop-logprobs",
        "logprobs are dropped when streaming: chunks carry logprobs null",
        "D23",
        on_request=_when_streaming(logprobs=None),
    ),
    Quirk(
        "stream-rejects-options",
        "logprobs, echo or suffix with stream: true is refused with a 400 (each is served without stream)",
        "D23",
        on_body=_stream_rejects_options,
    ),
    Quirk("stream-drop-echo", "echo is ignored when streaming", "D02", on_request=_when_streaming(echo=False)),
    Quirk(
        "stop-partial-left",
        "the first character of a matched stop sequence is left at the end of the text",
        "D17",
        on_request=_replace(stop_overhang=1),
    ),
    Quirk(
        "finish-reason-always-stop",
        'finish_reason is "stop" even when max_tokens ended the choice',
        "D20",
        on_payload=_finish_reason_always_stop,
    ),
    Quirk(
        "prompt-list-swapped",
        "with a string[] prompt, the choices come in reverse prompt order",
        "D44",
        on_request=_prompt_list_swapped,
    ),
    Quirk("id-reused", "every response carries the same id", "D19", on_payload=_id_reused),
    Quirk(
        "chunk-model-upstream",
        "stream chunks name the upstream model, not the one asked for (the JSON body is rewritten, chunks not)",
        "D47",
        on_payload=_set("model", "llama-3-8b-instruct", ("chunk",)),
    ),
    Quirk(
        "stream-error-200",
        "an invalid request with stream: true gets HTTP 200 and the error as a data: event",
        "D34",
    ),
    # errors
    Quirk("no-auth", "API keys are not checked", "D42"),
    Quirk(
        "models-list-omits-claimed",
        "GET /v1/models lists only the last Completions model (the cheap one really served), yet every name is "
        "answered",
        "D47",
    ),
    Quirk(
        "unknown-model-503",
        "an unknown model is a one-api style 503 without param or code",
        "D42",
        on_error=_unknown_model_503,
    ),
    Quirk(
        "model-fallback", "an unknown model is served by the default model", "D42", on_body=_model_fallback
    ),
    Quirk(
        "errors-flat",
        "errors are a flat {object: error, message, type, param, code: <int>} body",
        "D38",
        on_error_body=_errors_flat,
    ),
    Quirk(
        "errors-int-code",
        "error envelope with an integer code, a class-name type and no param",
        "D39",
        on_error_body=_errors_int_code,
    ),
    Quirk("errors-200", "errors are answered with HTTP 200", "D40", on_error=_error_status(200)),
    Quirk("errors-html", "errors are HTML pages (status kept)", "D41"),
    # the route itself missing (the app answers these before anything else, as a router would)
    Quirk("completions-route-404", "POST /v1/completions is not served: 404 {\"detail\":\"Not Found\"}", "D90"),
    Quirk("completions-route-405", "POST /v1/completions is not served: 405 {\"detail\":\"Method Not Allowed\"}, "
          "Allow: GET, HEAD (a FastAPI relay with a GET catch-all there)", "D90"),
    Quirk("completions-route-html", "POST /v1/completions is answered 200 with a web site's HTML page", "D90"),
    Quirk("chat-route-404", "POST /v1/chat/completions is not served: 404 {\"detail\":\"Not Found\"}", "D90",
          endpoints=CHAT),
    Quirk("chat-route-405", "POST /v1/chat/completions is not served: 405 {\"detail\":\"Method Not Allowed\"}, "
          "Allow: GET, HEAD", "D90", endpoints=CHAT),
    Quirk("chat-route-html", "POST /v1/chat/completions is answered 200 with a web site's HTML page", "D90",
          endpoints=CHAT),
    Quirk(
        "errors-500",
        "every 4xx error becomes a 500",
        "D42",
        on_error=_error_status(500, lambda err: 400 <= err.status < 500),
    ),
    Quirk(
        "errors-param-null",
        "error param is always null",
        "D39",
        on_error=lambda err, ex: dataclasses.replace(err, param=None),
    ),
    # usage truth and parameter effects (issue 12, part 2)
    Quirk(
        "prompt-list-usage-first",
        "with a list of prompts, prompt_tokens counts only the first",
        "D45",
        on_payload=_prompt_list_usage_first,
    ),
    Quirk(
        "stream-usage-counts-end",
        "the stream's usage chunk counts one more completion token than the same request unstreamed",
        "D45",
        on_payload=_stream_usage_counts_end,
    ),
    Quirk(
        "best-of-not-billed",
        "best_of candidates are generated but only the returned choices are billed",
        "D05",
        on_request=_replace(bill_candidates=False),
    ),
    Quirk(
        "best-of-ignored",
        "best_of is ignored: one candidate per choice",
        "D02",
        on_request=lambda request, ex: dataclasses.replace(request, best_of=request.n),
    ),
    Quirk(
        "stop-list-cut-to-four",
        "a list of more than four stop sequences is accepted and cut to its first four",
        "D17",
        on_body=_stop_list_cut_to_four,
    ),
    Quirk(
        "best-of-drops-logprobs",
        "with best_of above n, the returned choices carry logprobs null although logprobs was asked",
        "D23",
        on_payload=_best_of_drops_logprobs,
    ),
    Quirk(
        "errors-traceback",
        "error messages carry the server's Python traceback (source paths, exception names)",
        "D48",
        on_error=_error_traceback,
    ),
    Quirk("ignore-penalties", "presence_penalty and frequency_penalty are ignored", "D02", on_request=_no_penalties),
    Quirk("suffix-ignored", "suffix is accepted and ignored", "D02", on_request=_replace(suffix=None)),
    Quirk(
        "context-truncated",
        "a prompt over the context window is cut from the left instead of refused",
        "D49",
        on_body=_context_truncated,
    ),
    # benign: variations the spec allows
    Quirk(
        "sse-comments",
        "': keep-alive' and ': OPENROUTER PROCESSING' comment lines between events",
        "benign",
        benign=True,
        on_frames=_sse_comments,
    ),
    Quirk("sse-crlf", "CRLF line endings in the event stream", "benign", benign=True, on_bytes=_sse_crlf),
    Quirk(
        "sse-no-space",
        "'data:{...}' without the space after the colon",
        "benign",
        benign=True,
        on_bytes=_sse_no_space,
    ),
    Quirk(
        "sse-fields",
        "'id: N' and 'retry: 3000' lines on events",
        "benign",
        benign=True,
        on_frames=_sse_fields,
    ),
    Quirk(
        "extra-fields",
        "unknown extra fields (timings, stop_reason, provider) in bodies, chunks and errors",
        "benign",
        benign=True,
        on_payload=_extra_fields,
        on_error_body=_extra_error_fields,
    ),
    Quirk("pretty-json", "indented JSON bodies", "benign", benign=True),
    # -- issue 24: what a certification given only a URL still missed --
    Quirk(
        "max-tokens-zero-dropped",
        "max_tokens 0 is dropped on re-marshalling (Go omitempty): the default 16 applies",
        "D80",
        on_body=_max_tokens_zero_dropped,
    ),
    Quirk(
        "stream-usage-first-choice",
        "with n > 1 the stream's usage chunk counts one choice's share of the completion tokens",
        "D81",
        on_payload=usage_first_choice,  # the usage chunk's own figures: the same on both endpoints
    ),
    Quirk(
        "served-model-limits",
        f"another model of the same tokenizer answers every request, with its own limits: a {SERVED_MODEL_WINDOW}-"
        "token window (published as max_model_len) and length-0 completions answered empty",
        "D82",
        on_model=lambda model, ex: salted_model(ex.config.substitute_salt),
    ),
)


# -- identity and billing: another model or tokenizer behind the name, bills that do not count -----------------

PARTIAL_SHARE = 1 / 3  # partial substitution and routing: the share of requests the other model answers
GATEWAY_PAGE = "gateway"  # ApiError.cause of an error the gateway in front answers with its own HTML page
HIDDEN_PREFIX_TOKENS = 12  # a hidden system prompt, billed per prompt
USAGE_FACTOR = 1.3


def _another_model(model: NGramModel, ex: Exchange) -> NGramModel:
    # the same tokenizer, another salt: on chat, the claimed model's encoding (gpt-4o's o200k stays o200k)
    return salted_model(ex.config.substitute_salt, model.tokenizer.encoding_name)


def _cheapest_for_all(model: NGramModel, ex: Exchange) -> NGramModel:
    if not ex.chat:
        return model_named("babbage-002")
    # on chat, the cheapest model of the claimed one's tokenizer: gpt-3.5-turbo for gpt-4, gpt-4o-mini for gpt-4o
    cheap = "gpt-4o-mini" if model.tokenizer.encoding_name == "o200k_base" else "gpt-3.5-turbo"
    return chat_model(cheap)


def _another_tokenizer(model: NGramModel, ex: Exchange) -> NGramModel:
    return other_tokenizer_model()


def _partial_substitution(model: NGramModel, ex: Exchange) -> NGramModel:
    # Independent per request (the system's entropy, no shared state): which requests get it is unpredictable.
    another = salted_model(ex.config.substitute_salt, model.tokenizer.encoding_name)
    return another if random.SystemRandom().random() < PARTIAL_SHARE else model


def _routed_share(model: NGramModel, ex: Exchange) -> NGramModel:
    # Deterministic per request body (and per gateway, by its salt): the same request always goes the same way,
    # as a gateway that routes by a hash of the request would (a retry meets the same deployment).
    key = body_key({"salt": ex.config.substitute_salt, "body": ex.body})
    routed = int(key[:8], 16) < PARTIAL_SHARE * 16**8
    return salted_model(ex.config.substitute_salt, model.tokenizer.encoding_name) if routed else model


def _response_cache(obj: Json, ex: Exchange, kind: str) -> None:
    """A gateway's exact-match cache: the whole body is the key (LiteLLM: every OpenAI parameter of the request,
    BerriAI/litellm:litellm/caching/caching.py@86947f8 Cache.get_cache_key; Portkey's simple cache: "Full request
    body ... and every other parameter"), the first answer is kept and replayed as it was: its text, its id."""
    if kind != "response" or ex.body is None:
        return  # streams go through uncached
    key = body_key(ex.body)
    cached = ex.memory.recall("response-cache", key)
    if cached is None:
        ex.memory.keep("response-cache", key, copy.deepcopy(obj))
        return
    obj.clear()
    obj.update(copy.deepcopy(cached))


def _stream_504_once(body: Json, ex: Exchange) -> None:
    # The gateway's upstream read timed out on a stream; the client's retry of the same request is served.
    if body.get("stream") is True and ex.memory.first_time("stream-504-once", body_key(body)):
        raise ApiError(504, "Gateway Time-out", type="server_error", cause=GATEWAY_PAGE)


def _retotal(usage: Json) -> None:
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


def _hidden_prefix(obj: Json, ex: Exchange, kind: str) -> None:
    prompts = len(ex.request.prompts) if isinstance(ex.request, CompletionRequest) else 1
    for usage in _usages(obj):
        usage["prompt_tokens"] += HIDDEN_PREFIX_TOKENS * prompts
        _retotal(usage)


def _usage_multiplied(obj: Json, ex: Exchange, kind: str) -> None:
    for usage in _usages(obj):
        usage["prompt_tokens"] = math.ceil(usage["prompt_tokens"] * USAGE_FACTOR)
        usage["completion_tokens"] = math.ceil(usage["completion_tokens"] * USAGE_FACTOR)
        _retotal(usage)


def _prompt_characters(prompt: Any) -> int:
    if isinstance(prompt, str):
        return len(prompt)
    if isinstance(prompt, list):
        return sum(_prompt_characters(p) if isinstance(p, (str, list)) else 1 for p in prompt)
    return 1


def _usage_from_characters(obj: Json, ex: Exchange, kind: str) -> None:
    """One token per four characters, as relays estimate when the upstream gives no usage (non-stream answers; on
    chat, the messages' content and the answer's)."""
    choices = _choices(obj)
    texts = [c.get("text") if not ex.chat else (c.get("message") or {}).get("content") or "" for c in choices]
    if not choices or not all(isinstance(t, str) for t in texts):
        return
    body = ex.body or {}
    prompt = [content_text(m.get("content")) for m in body.get("messages") or []] if ex.chat else body.get("prompt")
    for usage in _usages(obj):
        usage["prompt_tokens"] = math.ceil(_prompt_characters(prompt) / 4)
        usage["completion_tokens"] = sum(math.ceil(len(t) / 4) for t in texts)
        _retotal(usage)


_IDENTITY_QUIRKS: tuple[Quirk, ...] = (
    Quirk(
        "model-salted",
        "another model (a different model salt) answers under the claimed name",
        "D47",
        on_model=_another_model,
    ),
    Quirk(
        "tokenizer-swapped",
        "a model with another vocabulary answers under the claimed name",
        "D47",
        on_model=_another_tokenizer,
    ),
    Quirk(
        "partial-substitution",
        "another model answers about one request in three",
        "D47",
        on_model=_partial_substitution,
    ),
    Quirk(
        "cheap-model-under-name",
        "every model name is answered by the cheapest model (babbage-002's)",
        "D47",
        on_model=_cheapest_for_all,
    ),
    Quirk(
        "hidden-prompt-prefix",
        f"usage bills a hidden {HIDDEN_PREFIX_TOKENS}-token prompt prefix per prompt",
        "D45",
        on_payload=_hidden_prefix,
    ),
    Quirk("usage-multiplied", f"prompt and completion tokens are billed x{USAGE_FACTOR}", "D45",
          on_payload=_usage_multiplied),
    Quirk(
        "usage-from-characters",
        "usage is estimated as one token per four characters (non-stream answers)",
        "D45",
        on_payload=_usage_from_characters,
    ),
    # -- issue 27: a gateway in front: partial routing, a response cache, a 504 page that a retry gets past. The
    # full swap is model-salted above. The response cache goes last: it replays what the others made of the answer.
    Quirk(
        "partial-routing",
        "about one request in three, chosen by a hash of its body (the same request always the same way), is "
        "answered by another model under the claimed name",
        "D86",
        on_model=_routed_share,
    ),
    Quirk(
        "stream-504-once",
        "a streamed request is answered with the gateway's 504 HTML page the first time its body is seen; sent "
        "again, it is served",
        "D87",
        on_body=_stream_504_once,
    ),
    Quirk(
        "response-cache",
        "identical (non-stream) request bodies are answered from a cache: the first answer replayed, same text and "
        "same id, at any temperature",
        "D85",
        on_payload=_response_cache,
    ),
)


# The quirks above whose class of deviation applies to any endpoint, and whose hooks work on chat payloads (some
# generalised: ids keep the endpoint's prefix, the default and fallback model is the endpoint's, buffering merges chat
# deltas, the identity quirks keep the claimed model's tokenizer). The rest are Completions' own (echo, best_of,
# suffix, prompt lists, the legacy logprobs arrays and text_completion shape, a default of 16 tokens), or, like
# refuse-greedy-n, a benign rule chat probes need not plan around. Chat's own quirks are in chat_quirks.py.
ANY_ENDPOINT = frozenset({
    # parameters ignored, defaults, validation
    "drop-max-tokens", "drop-stop", "stop-included", "drop-n", "logprobs-default-on", "drop-logit-bias",
    "ignore-seed", "logprobs-zero-null",
    "reject-explicit-defaults", "chatcmpl-id", "logprobs-too-many-top", "integer-temperature", "accept-out-of-range",
    "default-model-when-missing", "drop-unknown-params", "malformed-json-500", "stop-list-cut-to-four",
    "ignore-penalties", "stop-partial-left",
    # response shape and usage
    "empty-id", "finish-reason-eos", "logprobs-key-omitted", "usage-missing", "usage-zero", "usage-total-wrong",
    "usage-inflated", "created-float", "created-millis", "model-substituted", "json-as-sse", "id-reused",
    "finish-reason-always-stop",
    # streaming
    "sse-as-json", "no-done", "data-after-done", "non-json-data-line", "stream-no-finish-reason",
    "finish-reason-every-chunk", "stream-buffered", "stream-drops-first-token", "usage-chunk-missing",
    "usage-on-last-content-chunk", "usage-zeros-every-chunk", "usage-chunk-forced", "usage-zeros-unasked",
    "usage-chunk-no-choices", "sse-error-field", "stream-n-index-wrong", "stream-drop-stop", "stream-drop-logprobs",
    "stream-rejects-options", "chunk-model-upstream", "stream-error-200", "stream-usage-counts-end",
    # errors and models
    "no-auth", "models-list-omits-claimed", "unknown-model-503", "model-fallback", "errors-flat", "errors-int-code",
    "errors-200", "errors-html", "errors-500", "errors-param-null", "errors-traceback",
    # benign
    "sse-comments", "sse-crlf", "sse-no-space", "sse-fields", "extra-fields", "pretty-json",
    # identity and billing
    "model-salted", "tokenizer-swapped", "partial-substitution", "cheap-model-under-name", "hidden-prompt-prefix",
    "usage-multiplied", "usage-from-characters", "stream-usage-first-choice",
    # a gateway in front: it routes, caches and times out whatever the endpoint
    "partial-routing", "stream-504-once", "response-cache",
})
_REGISTRY: tuple[Quirk, ...] = tuple(
    dataclasses.replace(q, endpoints=BOTH) if q.name in ANY_ENDPOINT else q for q in _QUIRKS + _IDENTITY_QUIRKS
) + CHAT_QUIRKS + TOOL_QUIRKS + CHAT_BILLING_QUIRKS


def all_quirks() -> tuple[Quirk, ...]:
    return _REGISTRY


def get_quirk(name: str) -> Quirk:
    for quirk in all_quirks():
        if quirk.name == name:
            return quirk
    raise KeyError(f"unknown quirk {name!r}; known quirks: {', '.join(q.name for q in all_quirks())}")
