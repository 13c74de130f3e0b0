"""Chat's own quirks: one per class of real Chat Completions deviation (docs/deviations.md D50-D67), and the benign
variations the chat definition allows.

Each runs on /v1/chat/completions only (``endpoints=CHAT``). The quirks of ``quirks.py`` whose class applies to any
endpoint run on chat too (``quirks.ANY_ENDPOINT``): parameters ignored, ids, usage, SSE framing, errors, identity.
Stream rewrites that need to remember earlier chunks are ``on_chunks`` hooks (the state lives in the generator).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from relaycheck.server.chat_params import ChatRequest, ResponseFormat, ToolChoice
from relaycheck.server.errors import ApiError
from relaycheck.server.protocol import Exchange, new_id
from relaycheck.server.quirk import CHAT, Json, Quirk, choices_of, is_usage_chunk, usages_of

# -- helpers -------------------------------------------------------------------------------------------


def _deltas(chunk: Json) -> list[Json]:
    """The tool-call deltas of a chunk's choices."""
    return [d for c in choices_of(chunk) for d in (c.get("delta") or {}).get("tool_calls") or []]


def _chat_request(ex: Exchange) -> ChatRequest | None:
    return ex.request if isinstance(ex.request, ChatRequest) else None


def _messages(body: Json) -> list[Json]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _retotal(usage: Json) -> None:
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


# -- tool-call deltas (D50, D51, D52) --------------------------------------------------------------------


async def _id_every_chunk(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """litellm#20480, llama-cpp-python: each delta repeats the call's id, type and name."""
    firsts: dict[tuple[int, int], Json] = {}
    async for chunk in chunks:
        for choice in choices_of(chunk):
            for delta in (choice.get("delta") or {}).get("tool_calls") or []:
                key = (choice["index"], delta["index"])
                if "id" in delta:
                    firsts[key] = {"id": delta["id"], "type": delta["type"], "name": delta["function"]["name"]}
                elif key in firsts:
                    first = firsts[key]
                    delta.update(id=first["id"], type=first["type"])
                    delta["function"] = {"name": first["name"], **delta["function"]}
        yield chunk


def _id_per_delta(obj: Json, ex: Exchange, kind: str) -> None:
    """LM Studio and Kimi: a fresh id on every delta of a call."""
    if kind == "chunk":
        for delta in _deltas(obj):
            delta["id"] = new_id("call_")
            delta.setdefault("type", "function")


def _index_missing(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for delta in _deltas(obj):
            delta.pop("index", None)


def _index_constant(value: int) -> Any:
    def hook(obj: Json, ex: Exchange, kind: str) -> None:
        if kind == "chunk":
            for delta in _deltas(obj):
                delta["index"] = value

    return hook


def _name_args_split(obj: Json, ex: Exchange, kind: str) -> None:
    """The call's first delta (id, name) at index 2k, its arguments at 2k+1 (6Kmfi6HP/opencode2api#17)."""
    if kind == "chunk":
        for delta in _deltas(obj):
            delta["index"] = 2 * delta["index"] + (0 if "id" in delta else 1)


async def _last_argument_lost(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """vllm#10781: the last arguments delta of each call never arrives."""
    held: dict[tuple[int, int], Json] = {}  # each call's latest arguments chunk, sent once another one follows
    async for chunk in chunks:
        choices, deltas = choices_of(chunk), _deltas(chunk)
        if len(choices) == 1 and len(deltas) == 1 and "id" not in deltas[0]:
            key = (choices[0]["index"], deltas[0]["index"])
            previous = held.pop(key, None)
            if previous is not None:
                yield previous
            held[key] = chunk
            continue
        if len(choices) == 1:  # the choice moves on (another call, or its end): what is held was a last piece
            held = {k: v for k, v in held.items() if k[0] != choices[0]["index"]}
        yield chunk


async def _arguments_empty(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """vllm#9693, #31501: the stream carries the call's id and name but no arguments."""
    async for chunk in chunks:
        deltas = _deltas(chunk)
        if deltas and all("id" not in d for d in deltas):
            continue
        yield chunk


def _as_object(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:  # cut by max_tokens: left as the string it is
        return text


def _arguments_object(obj: Json, ex: Exchange, kind: str) -> None:
    """litellm#37792, zai-org/GLM-4.5#17: arguments as a JSON object, not a string."""
    if kind == "response":
        for choice in choices_of(obj):
            for call in (choice.get("message") or {}).get("tool_calls") or []:
                call["function"]["arguments"] = _as_object(call["function"]["arguments"])


async def _arguments_object_stream(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """Streamed, the arguments arrive as one object per call just before the choice's last chunk."""
    pieces: dict[tuple[int, int], list[str]] = {}
    async for chunk in chunks:
        choices = choices_of(chunk)
        for choice in choices:
            for delta in (choice.get("delta") or {}).get("tool_calls") or []:
                piece = delta.get("function", {}).pop("arguments", "")
                pieces.setdefault((choice["index"], delta["index"]), []).append(piece or "")
        deltas = _deltas(chunk)
        if deltas and all("id" not in d for d in deltas):
            continue  # an arguments piece: it goes into the object
        if len(choices) == 1 and choices[0].get("finish_reason"):
            index = choices[0]["index"]
            for (i, k), parts in sorted(pieces.items()):
                if i == index:
                    delta = {"tool_calls": [{"index": k, "function": {"arguments": _as_object("".join(parts))}}]}
                    yield {**chunk, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                                 "finish_reason": None}]}
        yield chunk


# -- finish reasons and tool_choice (D53, D54, D55) -------------------------------------------------------


def _finish_stop(kinds: tuple[str, ...]) -> Any:
    def hook(obj: Json, ex: Exchange, kind: str) -> None:
        if kind in kinds:
            for choice in choices_of(obj):
                if choice.get("finish_reason") == "tool_calls":
                    choice["finish_reason"] = "stop"

    return hook


def _tool_choice_to_auto(mode: str) -> Any:
    """A tool_choice the server does not honour: treated as auto over every tool."""

    def hook(request: ChatRequest, ex: Exchange) -> ChatRequest:
        if request.tool_choice.mode != mode or not request.tools:
            return request
        return dataclasses.replace(request, tool_choice=ToolChoice("auto", tuple(t.name for t in request.tools)))

    return hook


def _required_500(body: Json, ex: Exchange) -> None:
    if body.get("tool_choice") == "required":  # llama-cpp-python: `assert tool_choice` on a string it cannot map
        raise ApiError(500, "AssertionError", type="internal_server_error", cause="quirk")


def _parallel_ignored(request: ChatRequest, ex: Exchange) -> ChatRequest:
    return dataclasses.replace(request, parallel_tool_calls=True)


def _drop_member(name: str) -> Any:
    def hook(body: Json, ex: Exchange) -> None:
        body.pop(name, None)

    return hook


# -- response_format (D57) --------------------------------------------------------------------------------


def _format_ignored(kind: str) -> Any:
    def hook(request: ChatRequest, ex: Exchange) -> ChatRequest:
        if request.response_format.type != kind:
            return request
        return dataclasses.replace(request, response_format=ResponseFormat())

    return hook


FENCE_OPEN, FENCE_CLOSE = "```json\n", "\n```"


def _wants_json(ex: Exchange) -> bool:
    request = _chat_request(ex)
    return request is not None and request.response_format.type != "text"


def _fenced(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "response" and _wants_json(ex):
        for choice in choices_of(obj):
            message = choice.get("message") or {}
            if isinstance(message.get("content"), str):
                message["content"] = FENCE_OPEN + message["content"] + FENCE_CLOSE


async def _fenced_stream(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    async for chunk in chunks:
        if _wants_json(ex):
            for choice in choices_of(chunk):
                delta = choice.get("delta") or {}
                if delta.get("role") and delta.get("content") == "":
                    delta["content"] = FENCE_OPEN
                elif choice.get("finish_reason") and not delta:
                    yield {**chunk, "choices": [{**choice, "delta": {"content": FENCE_CLOSE}, "finish_reason": None}]}
        yield chunk


# -- logprobs (D58) -----------------------------------------------------------------------------------------


def _legacy_logprobs(obj: Json, ex: Exchange, kind: str) -> None:
    """vllm#3179: chat logprobs in Completions' four arrays."""
    for choice in choices_of(obj):
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and "content" in logprobs:
            entries = logprobs.get("content") or []
            offsets, at = [], 0
            for entry in entries:
                offsets.append(at)
                at += len(entry["token"])
            choice["logprobs"] = {
                "tokens": [e["token"] for e in entries],
                "token_logprobs": [e["logprob"] for e in entries],
                "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
                "text_offset": offsets,
            }


# -- usage (D59, D60, D61) ------------------------------------------------------------------------------------


async def _usage_cumulative(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """one-api#415: with include_usage, every chunk carries the usage so far (a client that sums them over-counts)."""
    request = _chat_request(ex)
    so_far = 0
    async for chunk in chunks:
        if request is not None and request.include_usage and not is_usage_chunk(chunk):
            so_far += sum(1 for c in choices_of(chunk) if (c.get("delta") or {}).get("content")
                          or (c.get("delta") or {}).get("tool_calls"))
            chunk["usage"] = {"prompt_tokens": request.prompt_tokens, "completion_tokens": so_far,
                              "total_tokens": request.prompt_tokens + so_far}
        yield chunk


def _stream_prompt_inflated(obj: Json, ex: Exchange, kind: str) -> None:
    """BerriAI/litellm#12970: the stream's usage bills ten times the prompt."""
    if kind == "chunk" and is_usage_chunk(obj):
        obj["usage"]["prompt_tokens"] *= 10
        _retotal(obj["usage"])


HIDDEN_SYSTEM_PROMPT = "You are a helpful assistant."


def _hidden_system_prompt(body: Json, ex: Exchange) -> None:
    """A relay's forced system prompt (one-api's channel system prompt, relay/controller/text.go): the model sees
    it and the bill counts it, the buyer never sent it."""
    if isinstance(body.get("messages"), list):
        body["messages"] = [{"role": "system", "content": HIDDEN_SYSTEM_PROMPT}, *body["messages"]]


def _usage_content_only(obj: Json, ex: Exchange, kind: str) -> None:
    """prompt_tokens counts the messages' content only: no per-message overhead, roles, names or tools."""
    request = _chat_request(ex)
    if request is not None:
        for usage in usages_of(obj):
            usage["prompt_tokens"] = len(request.prompt.view)
            _retotal(usage)


# -- templates, shapes and inputs (D62-D66) ----------------------------------------------------------------------


def _system_role_500(body: Json, ex: Exchange) -> None:
    if any(m.get("role") == "system" for m in _messages(body)):
        raise ApiError(500, "System role not supported", type="internal_server_error", cause="quirk")


def _role_order_500(err: ApiError, ex: Exchange) -> ApiError:
    if err.cause != "role_order":
        return err
    return dataclasses.replace(err, status=500, type="server_error", param=None,
                               message="Conversation roles must alternate user/assistant/user/assistant/...")


def _set_object(value: str, kind_of: str) -> Any:
    def hook(obj: Json, ex: Exchange, kind: str) -> None:
        if kind == kind_of and "object" in obj:
            obj["object"] = value

    return hook


def _refusal_missing(obj: Json, ex: Exchange, kind: str) -> None:
    for choice in choices_of(obj):
        if isinstance(choice.get("message"), dict):
            choice["message"].pop("refusal", None)


def _lax_validation(body: Json, ex: Exchange) -> None:
    """What a lenient server does with the requests OpenAI refuses: drops or repairs the invalid part and answers
    (the chat side of D13; llama-cpp-python's Pydantic models ignore what they do not check, openai-chat-facts §3)."""
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        body.pop("top_logprobs")
    if body.get("stream_options") is not None and not body.get("stream"):
        body.pop("stream_options")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        body["messages"] = [{"role": "user", "content": ""}]
    called: set[str] = set()
    kept = []
    for message in body["messages"]:
        if not isinstance(message, dict):
            continue
        if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            message = {**message, "role": "user"}
        if message["role"] == "tool" and message.get("tool_call_id") not in called:
            message = {"role": "user", "content": message.get("content") or ""}
        called |= {c.get("id") for c in message.get("tool_calls") or [] if isinstance(c, dict)}
        kept.append(message)
    answered = {m.get("tool_call_id") for m in kept if m["role"] == "tool"}
    for message in kept:
        if message.get("tool_calls") and not all(c.get("id") in answered for c in message["tool_calls"]):
            message.pop("tool_calls")
            message["content"] = message.get("content") or ""
    body["messages"] = kept
    names = {t["function"].get("name") for t in body.get("tools") or [] if isinstance((t or {}).get("function"), dict)}
    choice = body.get("tool_choice")
    named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if choice not in (None, "none") and (not names or (named is not None and named not in names)):
        body.pop("tool_choice")


def _null_content_rejected(body: Json, ex: Exchange) -> None:
    for message in _messages(body):
        if message.get("role") == "assistant" and message.get("tool_calls") and message.get("content") is None:
            raise ApiError(400, "invalid message content type: <nil>", param=None, cause="quirk")


def _parts_rejected(body: Json, ex: Exchange) -> None:
    for message in _messages(body):
        if isinstance(message.get("content"), list):
            raise ApiError(400, "json: cannot unmarshal array into Go struct field Message.messages.content of type "
                           "string", type="invalid_request_error", cause="quirk")


def _first_delta_no_role(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for choice in choices_of(obj):
            (choice.get("delta") or {}).pop("role", None)


# -- benign --------------------------------------------------------------------------------------------------


async def _empty_delta(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    first = True
    async for chunk in chunks:
        yield chunk
        if first and choices_of(chunk):
            first = False
            choice = choices_of(chunk)[0]
            yield {**chunk, "choices": [{"index": choice["index"], "delta": {}, "logprobs": None,
                                         "finish_reason": None}]}


def _usage_null_unasked(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        obj.setdefault("usage", None)


def _no_fingerprint(obj: Json, ex: Exchange, kind: str) -> None:
    obj.pop("system_fingerprint", None)


async def _finish_on_last_content(chunks: AsyncIterator[Json], ex: Exchange) -> AsyncIterator[Json]:
    """The finish_reason rides on the choice's last content chunk; no separate empty-delta chunk follows."""
    held: dict[int, Json] = {}
    async for chunk in chunks:
        choices = choices_of(chunk)
        if len(choices) != 1:
            for pending in held.values():
                yield pending
            held = {}
            yield chunk
            continue
        choice = choices[0]
        index = choice["index"]
        if choice.get("finish_reason") is not None and choice.get("delta") == {} and index in held:
            last = held.pop(index)
            last["choices"][0]["finish_reason"] = choice["finish_reason"]
            yield last
            continue
        if index in held:
            yield held.pop(index)
        held[index] = chunk
    for pending in held.values():
        yield pending


def _chunk_logprobs_omitted(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        for choice in choices_of(obj):
            if choice.get("logprobs", "") is None:
                del choice["logprobs"]


def _obfuscation(obj: Json, ex: Exchange, kind: str) -> None:
    if kind == "chunk":
        obj["obfuscation"] = secrets.token_urlsafe(6)


# -- the registry ----------------------------------------------------------------------------------------------

CHAT_QUIRKS: tuple[Quirk, ...] = tuple(dataclasses.replace(q, endpoints=CHAT) for q in (
    # streamed tool-call deltas
    Quirk("tool-call-id-every-chunk", "every streamed tool-call delta repeats the call's id, type and name", "D50",
          on_chunks=_id_every_chunk),
    Quirk("tool-call-id-per-delta", "every streamed tool-call delta carries a fresh id", "D50",
          on_payload=_id_per_delta),
    Quirk("tool-call-index-missing", "streamed tool-call deltas have no index", "D51", on_payload=_index_missing),
    Quirk("tool-call-index-zero", "every streamed tool-call delta says index 0, parallel calls too", "D51",
          on_payload=_index_constant(0)),
    Quirk("tool-call-index-negative", "streamed tool-call deltas say index -1", "D51",
          on_payload=_index_constant(-1)),
    Quirk("tool-call-name-args-split", "a streamed call's name and its arguments come on different indexes", "D51",
          on_payload=_name_args_split),
    Quirk("tool-args-last-delta-lost", "the last arguments delta of each streamed call is lost (truncated JSON)",
          "D52", on_chunks=_last_argument_lost),
    Quirk("tool-args-empty-stream", "streamed calls carry id and name but empty arguments", "D52",
          on_chunks=_arguments_empty),
    Quirk("tool-args-object", "tool-call arguments are a JSON object, not a string (streamed: whole, at the end)",
          "D67", on_payload=_arguments_object, on_chunks=_arguments_object_stream),
    # finish reasons and tool_choice
    Quirk("tool-finish-stop", 'finish_reason is "stop" instead of "tool_calls" (answers and streams)', "D53",
          on_payload=_finish_stop(("response", "chunk"))),
    Quirk("stream-tool-finish-stop", 'streamed calls end with finish_reason "stop" (answers say "tool_calls")', "D53",
          on_payload=_finish_stop(("chunk",))),
    Quirk("tool-choice-named-ignored", "a named tool_choice is treated as auto (prose unless the tool is named)",
          "D54", on_request=_tool_choice_to_auto("named")),
    Quirk("tool-choice-none-ignored", 'tool_choice "none" is treated as auto (a named tool is still called)', "D54",
          on_request=_tool_choice_to_auto("none")),
    Quirk("tool-choice-required-ignored", 'tool_choice "required" is treated as auto (answered with text)', "D54",
          on_request=_tool_choice_to_auto("required")),
    Quirk("tool-required-500", 'tool_choice "required" fails with HTTP 500 AssertionError', "D55",
          on_body=_required_500),
    Quirk("parallel-tool-calls-ignored", "parallel_tool_calls: false is ignored (several calls come)", "D56",
          on_request=_parallel_ignored),
    Quirk("max-completion-tokens-ignored", "max_completion_tokens is dropped: the answer runs to the end", "D56",
          on_body=_drop_member("max_completion_tokens")),
    # response_format
    Quirk("json-object-ignored", "response_format json_object is ignored: prose comes back", "D57",
          on_request=_format_ignored("json_object")),
    Quirk("json-schema-ignored", "response_format json_schema is ignored: prose comes back", "D57",
          on_request=_format_ignored("json_schema")),
    Quirk("json-fenced", "JSON answers come wrapped in a ```json markdown fence", "D57",
          on_payload=_fenced, on_chunks=_fenced_stream),
    # logprobs
    Quirk("chat-logprobs-legacy", "chat logprobs come in the legacy Completions arrays (tokens, token_logprobs, …)",
          "D58", on_payload=_legacy_logprobs),
    # usage and billing
    Quirk("usage-cumulative-every-chunk", "with include_usage, every chunk carries the usage so far", "D59",
          on_chunks=_usage_cumulative),
    Quirk("stream-prompt-tokens-inflated", "the stream's usage chunk bills ten times the prompt tokens", "D59",
          on_payload=_stream_prompt_inflated),
    Quirk("hidden-system-prompt", f"a system prompt the buyer never sent is injected and billed: "
          f"{HIDDEN_SYSTEM_PROMPT!r}", "D60", on_body=_hidden_system_prompt),
    Quirk("usage-content-only", "prompt_tokens counts the messages' content only (no per-message overhead)", "D61",
          on_payload=_usage_content_only),
    # templates, shapes, inputs
    Quirk("system-role-500", "a system message fails with HTTP 500 (System role not supported)", "D62",
          on_body=_system_role_500),
    Quirk("role-order-500", "a tool message out of order fails with HTTP 500 (a template exception)", "D62",
          on_error=_role_order_500),
    Quirk("chat-object-text-completion", 'chat answers say object "text_completion"', "D63",
          on_payload=_set_object("text_completion", "response")),
    Quirk("chat-chunk-object-text-completion", 'chat chunks say object "text_completion"', "D63",
          on_payload=_set_object("text_completion", "chunk")),
    Quirk("chat-refusal-missing", "the answer's message has no refusal member", "D63", on_payload=_refusal_missing),
    Quirk("chat-lax-validation", "invalid chat requests are repaired and answered 200: top_logprobs without logprobs, "
          "stream_options without stream, missing or empty messages, unknown roles, tool messages out of order, "
          "tool_choice without tools or naming no tool", "D13", on_body=_lax_validation),
    Quirk("null-content-rejected", "an assistant message with tool_calls and content null is a 400", "D64",
          on_body=_null_content_rejected),
    Quirk("content-parts-rejected", "content given as an array of parts is a 400 (cannot unmarshal array)", "D65",
          on_body=_parts_rejected),
    Quirk("first-delta-no-role", "no streamed delta carries the assistant role", "D66",
          on_payload=_first_delta_no_role),
    # benign: what the chat definition allows
    Quirk("chunk-empty-delta", "an extra chunk with an empty delta after the first", "benign", benign=True,
          on_chunks=_empty_delta),
    Quirk("usage-null-unasked", "without include_usage every chunk carries usage: null", "benign", benign=True,
          on_payload=_usage_null_unasked),
    Quirk("system-fingerprint-absent", "no system_fingerprint member (it is optional)", "benign", benign=True,
          on_payload=_no_fingerprint),
    Quirk("finish-on-last-content", "finish_reason on the last content chunk, no separate empty chunk", "benign",
          benign=True, on_chunks=_finish_on_last_content),
    Quirk("chunk-logprobs-omitted", "chunks omit logprobs when null (a chunk choice need not carry it)", "benign",
          benign=True, on_payload=_chunk_logprobs_omitted),
    Quirk("stream-obfuscation", "chunks carry an obfuscation string, as OpenAI's do by default", "benign",
          benign=True, on_payload=_obfuscation),
))
