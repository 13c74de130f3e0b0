"""Each quirk that runs on chat shows its deviation on /v1/chat/completions, and the conformant server does not.

``CHAT_CASES`` covers chat's own quirks (relaycheck/server/chat_quirks.py) and every quirk of quirks.py that runs on
any endpoint (``ANY_ENDPOINT``): the same predicate rule as test_quirks.py, false on the conformant server and true
with the quirk. Quirks that are Completions' own are shown not to touch chat.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from openai import OpenAI

from relaycheck.endpoint import Endpoint
from relaycheck.server import all_quirks
from relaycheck.server.chat_quirks import CHAT_QUIRKS
from relaycheck.transport.sse import parse_sse

from .chat_api import CHAT_MODEL, CHUNK, RESPONSE, ChatApi, check, user
from .conftest import API_KEY, COUNTING, Api
from .test_chat import TOOLS
from .test_quirks import Case, Send, Wire, send

CG = {"messages": user(COUNTING), "temperature": 0, "max_tokens": 6}  # " 5, 6,"
CG8 = {**CG, "max_tokens": 8}
TEST = {"messages": user("Say this is a test"), "temperature": 0, "max_tokens": 4}  # ". This is a"
USAGE = {"stream_options": {"include_usage": True}}
SAMPLED = {"messages": user("Say this is a test"), "temperature": 1, "max_tokens": 6, "seed": 4242}
LOOP = {"messages": user("Say this is a test"), "temperature": 0, "max_tokens": 10}
UNKNOWN = {"model": "gpt-nope", "messages": user("x")}
CALL = {"messages": user("get_weather and get_time"), "tools": TOOLS, "temperature": 0}  # two calls
ONE_CALL = {"messages": user("get_weather"), "tools": TOOLS, "temperature": 0}
NAMED = {"messages": user("Hi"), "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_time"}},
         "temperature": 0}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
          "additionalProperties": False}
AS_SCHEMA = {"messages": user("Describe it"), "temperature": 0, "response_format": {
    "type": "json_schema", "json_schema": {"name": "thing", "schema": SCHEMA, "strict": True}}}
AS_JSON = {"messages": user("Answer in JSON"), "temperature": 0, "response_format": {"type": "json_object"}}
ROUND_TRIP = [*user("x"), {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{\"zone\":\"UTC\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "noon"}]


def chat_case(deviates: Callable[[Wire], bool], **body: Any) -> Case:
    return Case((Send(body, chat=True),), lambda wires: deviates(wires[0]))


def chat_stream(deviates: Callable[[Wire], bool], **body: Any) -> Case:
    return Case((Send(body, stream=True, chat=True),), lambda wires: deviates(wires[0]))


def chat_raw(request: Send, deviates: Callable[[Wire], bool]) -> Case:
    return Case((request,), lambda wires: deviates(wires[0]))


def _message(w: Wire) -> dict[str, Any]:
    return w.json["choices"][0]["message"]


def _content(w: Wire) -> str:
    return _message(w)["content"]


def _usage(w: Wire) -> dict[str, Any]:
    return w.json["usage"]


def _streamed(w: Wire, index: int = 0) -> str:
    return "".join((c.get("delta") or {}).get("content") or "" for c in w.choices() if c.get("index") == index)


def _deltas(w: Wire) -> list[dict[str, Any]]:
    return [d for c in w.choices() for d in (c.get("delta") or {}).get("tool_calls") or []]


def _streamed_arguments(w: Wire) -> dict[Any, str]:
    found: dict[Any, str] = {}
    for d in _deltas(w):
        arguments = (d.get("function") or {}).get("arguments")
        found[d.get("index")] = found.get(d.get("index"), "") + (arguments if isinstance(arguments, str) else "")
    return found


def _finishes(w: Wire) -> list[str]:
    return [c["finish_reason"] for c in w.choices() if c.get("finish_reason")]


def _names(w: Wire) -> list[str]:
    return [c["function"]["name"] for c in _message(w).get("tool_calls") or []]


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _stream_usage(w: Wire) -> dict[str, Any]:
    return w.chunks[-1]["usage"]


SHARED: dict[str, Case] = {
    "stream-usage-first-choice": chat_stream(lambda w: _stream_usage(w)["completion_tokens"] == 6, n=2, **CG,
                                             **USAGE),
    # parameters ignored, defaults, validation
    "drop-max-tokens": chat_case(lambda w: _usage(w)["completion_tokens"] != 3, **{**CG, "max_tokens": 3}),
    "drop-stop": chat_case(lambda w: " 7" in _content(w), stop=" 7", **CG8),
    "stop-included": chat_case(lambda w: _content(w).endswith(" 7"), stop=" 7", **CG8),
    "drop-n": chat_case(lambda w: len(w.json["choices"]) == 1, messages=user("x"), n=3, max_tokens=2),
    "logprobs-default-on": chat_case(lambda w: w.json["choices"][0]["logprobs"] is not None, **CG),
    "drop-logit-bias": chat_case(lambda w: _content(w) != "......", logit_bias={"13": 100}, **CG),
    "reject-explicit-defaults": chat_case(lambda w: w.status == 400, n=1, **CG),
    "chatcmpl-id": chat_case(lambda w: w.json["id"].startswith("cmpl-"), **CG),
    "ignore-seed": Case(
        tuple(Send({"messages": user("Once upon a time"), "temperature": 2, "max_tokens": 30, "seed": 4}, chat=True)
              for _ in range(3)),
        lambda wires: len({_content(w) for w in wires}) > 1,
    ),
    "logprobs-zero-null": chat_case(lambda w: w.json["choices"][0]["logprobs"] is None, logprobs=True, **CG),
    "logprobs-too-many-top": chat_case(
        lambda w: len(w.json["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 4,
        logprobs=True, top_logprobs=1, **CG),
    "integer-temperature": chat_case(lambda w: w.status == 400, **{**CG, "temperature": 0.5}),
    "accept-out-of-range": chat_case(lambda w: w.status == 200, **{**CG, "temperature": 2.5}),
    "default-model-when-missing": chat_raw(Send(CG, model=False, chat=True), lambda w: w.status == 200),
    "drop-unknown-params": chat_case(lambda w: w.status == 200, frobnicate=1, **CG),
    "malformed-json-500": chat_raw(Send(raw=b"{", chat=True), lambda w: w.status == 500),
    "stop-list-cut-to-four": chat_case(lambda w: w.status == 200, messages=user(COUNTING), max_tokens=4,
                                       stop=["#1", "#2", "#3", "#4", ","]),
    "ignore-penalties": Case(
        (Send(LOOP, chat=True), Send({**LOOP, "frequency_penalty": 2}, chat=True),
         Send({**LOOP, "presence_penalty": 2}, chat=True)),
        lambda wires: len({_content(w) for w in wires}) == 1,
    ),
    "stop-partial-left": chat_case(lambda w: _content(w) == " 5, 6, ", stop=" 7", **CG8),
    # response shape and usage
    "empty-id": chat_case(lambda w: w.json["id"] == "", **CG),
    "finish-reason-eos": chat_case(lambda w: w.json["choices"][0]["finish_reason"] == "eos_token", **CG),
    "logprobs-key-omitted": chat_case(lambda w: "logprobs" not in w.json["choices"][0], **CG),
    "usage-missing": chat_case(lambda w: "usage" not in w.json, **CG),
    "usage-zero": chat_case(lambda w: _usage(w)["prompt_tokens"] == 0, **CG),
    "usage-total-wrong": chat_case(lambda w: _usage(w)["total_tokens"] != 24, **CG),
    "usage-inflated": chat_case(lambda w: _usage(w)["completion_tokens"] == 12, **CG),
    "created-float": chat_case(lambda w: isinstance(w.json["created"], float), **CG),
    "created-millis": chat_case(lambda w: w.json["created"] > 10**11, **CG),
    "model-substituted": chat_case(lambda w: w.json["model"] != CHAT_MODEL, **CG),
    "json-as-sse": chat_case(lambda w: w.content_type.startswith("text/event-stream"), **CG),
    "id-reused": Case((Send(CG, chat=True), Send(CG, chat=True)), lambda ws: ws[0].json["id"] == ws[1].json["id"]),
    "finish-reason-always-stop": chat_case(lambda w: w.json["choices"][0]["finish_reason"] == "stop", **CG),
    # streaming
    "sse-as-json": chat_stream(lambda w: w.content_type.startswith("application/json"), **CG),
    "no-done": chat_stream(lambda w: w.events[-1] != "[DONE]", **CG),
    "data-after-done": chat_stream(lambda w: w.events[-1] != "[DONE]", **CG),
    "non-json-data-line": chat_stream(lambda w: "ping" in w.events, **CG),
    "stream-no-finish-reason": chat_stream(lambda w: not _finishes(w), **CG),
    "finish-reason-every-chunk": chat_stream(lambda w: all(c["finish_reason"] for c in w.choices()), **CG),
    "stream-buffered": chat_stream(
        lambda w: sum(1 for c in w.choices() if c["delta"].get("content")) == 1 and _streamed(w) == " 5, 6,", **CG),
    "stream-drops-first-token": chat_stream(lambda w: _streamed(w) != " 5, 6,", **CG),
    "usage-chunk-missing": chat_stream(lambda w: not any(isinstance(c.get("usage"), dict) for c in w.chunks),
                                       **CG, **USAGE),
    "usage-on-last-content-chunk": chat_stream(lambda w: w.chunks[-1]["choices"] != [], **CG, **USAGE),
    "usage-zeros-every-chunk": chat_stream(lambda w: isinstance(w.chunks[0].get("usage"), dict), **CG, **USAGE),
    "usage-chunk-forced": chat_stream(lambda w: w.chunks[-1]["choices"] == [], **CG),
    "usage-zeros-unasked": chat_stream(lambda w: isinstance(w.chunks[0].get("usage"), dict), **CG),
    "usage-chunk-no-choices": chat_stream(lambda w: "choices" not in w.chunks[-1], **CG, **USAGE),
    "sse-error-field": chat_stream(lambda w: parse_sse(w.content).stray_lines != [], **CG),
    "stream-n-index-wrong": chat_stream(lambda w: {c["index"] for c in w.choices()} == {0}, n=2, **CG),
    "stream-drop-stop": chat_stream(lambda w: " 7" in _streamed(w), stop=" 7", **CG8),
    "stream-drop-logprobs": chat_stream(lambda w: all(c.get("logprobs") is None for c in w.choices()),
                                        logprobs=True, **CG),
    "stream-rejects-options": chat_stream(lambda w: w.status == 400, logprobs=True, **CG),
    "chunk-model-upstream": chat_stream(lambda w: w.chunks[0]["model"] != CHAT_MODEL, **CG),
    "stream-error-200": chat_stream(lambda w: w.status == 200, **{**CG, "n": 0}),
    "stream-usage-counts-end": chat_stream(lambda w: _stream_usage(w)["completion_tokens"] != 6, **CG, **USAGE),
    # errors and models
    "no-auth": chat_raw(Send(CG, auth=False, chat=True), lambda w: w.status == 200),
    "models-list-omits-claimed": chat_raw(Send(get="/models", chat=True),
                                          lambda w: CHAT_MODEL not in {m["id"] for m in w.json["data"]}),
    "unknown-model-503": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: w.status == 503),
    "model-fallback": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: w.status == 200),
    "errors-flat": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: "error" not in w.json),
    "errors-int-code": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: w.json["error"]["code"] == 404),
    "errors-200": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: w.status == 200),
    "errors-html": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: w.content_type.startswith("text/html")),
    "errors-500": chat_raw(Send(UNKNOWN, model=False, chat=True), lambda w: w.status == 500),
    "errors-param-null": chat_case(lambda w: w.json["error"]["param"] is None, **{**CG, "temperature": 5}),
    "errors-traceback": chat_raw(Send(UNKNOWN, model=False, chat=True),
                                 lambda w: "Traceback" in w.json["error"]["message"]),
    # benign
    "sse-comments": chat_stream(lambda w: parse_sse(w.content).comments > 0, **CG),
    "sse-crlf": chat_stream(lambda w: b"\r\n" in w.content, **CG),
    "sse-no-space": chat_stream(lambda w: b"data:{" in w.content, **CG),
    "sse-fields": chat_stream(lambda w: b"id: 1\n" in w.content, **CG),
    "extra-fields": chat_case(lambda w: "provider" in w.json, **CG),
    "pretty-json": chat_case(lambda w: w.content.startswith(b'{\n  "id"'), **CG),
    # identity and billing
    "model-salted": chat_case(lambda w: _content(w) != ". This is a", **TEST),
    "tokenizer-swapped": chat_case(
        lambda w: [e["token"] for e in w.json["choices"][0]["logprobs"]["content"]] != [" ", "5", ",", " ", "6", ","],
        logprobs=True, **CG),
    "partial-substitution": Case((Send(TEST, chat=True),) * 24, lambda ws: any(_content(w) != ". This is a" for w in ws)),
    # a gateway in front (issue 27), on chat as on Completions
    "partial-routing": Case(
        tuple(Send({**TEST, "user": f"u{i % 12}"}, chat=True) for i in range(24)),
        lambda ws: len({_content(w) == ". This is a" for w in ws}) == 2
        and [_content(w) for w in ws[:12]] == [_content(w) for w in ws[12:]],
    ),
    "stream-504-once": Case(
        (Send(TEST, stream=True, chat=True), Send(TEST, stream=True, chat=True)),
        lambda ws: ws[0].status == 504 and ws[0].content_type.startswith("text/html") and ws[1].status == 200
        and ws[1].events[-1] == "[DONE]",
    ),
    "response-cache": Case(
        (Send(SAMPLED, chat=True), Send(SAMPLED, chat=True), Send({**SAMPLED, "user": "another"}, chat=True)),
        lambda ws: ws[0].json == ws[1].json and ws[2].json["id"] != ws[0].json["id"],
    ),
    "cheap-model-under-name": chat_case(lambda w: _content(w) == ". This is a", **{**TEST, "model": "gpt-4"}),
    "hidden-prompt-prefix": chat_case(lambda w: _usage(w)["prompt_tokens"] != 18, **CG),
    "usage-multiplied": chat_case(lambda w: _usage(w)["completion_tokens"] != 6, **CG),
    "usage-from-characters": chat_case(lambda w: _usage(w)["prompt_tokens"] != 18, **CG),
}

OWN: dict[str, Case] = {
    # streamed tool-call deltas
    "tool-call-id-every-chunk": chat_stream(lambda w: all("id" in d for d in _deltas(w)), **CALL),
    "tool-call-id-per-delta": chat_stream(lambda w: len({d["id"] for d in _deltas(w) if "id" in d}) > 2, **CALL),
    "tool-call-index-missing": chat_stream(lambda w: any("index" not in d for d in _deltas(w)), **CALL),
    "tool-call-index-zero": chat_stream(lambda w: {d.get("index") for d in _deltas(w)} == {0}, **CALL),
    "tool-call-index-negative": chat_stream(lambda w: {d.get("index") for d in _deltas(w)} == {-1}, **CALL),
    "tool-call-name-args-split": chat_stream(lambda w: _streamed_arguments(w).get(0) == "", **CALL),
    "tool-args-last-delta-lost": chat_stream(lambda w: not all(_parses(a) for a in _streamed_arguments(w).values()),
                                             **CALL),
    "tool-args-empty-stream": chat_stream(lambda w: all(a == "" for a in _streamed_arguments(w).values()), **CALL),
    "tool-args-object": Case(
        (Send(ONE_CALL, chat=True), Send(ONE_CALL, stream=True, chat=True)),
        lambda ws: isinstance(_message(ws[0])["tool_calls"][0]["function"]["arguments"], dict)
        and any(isinstance((d.get("function") or {}).get("arguments"), dict) for d in _deltas(ws[1])),
    ),
    # finish reasons and tool_choice
    "tool-finish-stop": Case(
        (Send(ONE_CALL, chat=True), Send(ONE_CALL, stream=True, chat=True)),
        lambda ws: ws[0].json["choices"][0]["finish_reason"] == "stop" and _finishes(ws[1]) == ["stop"],
    ),
    "stream-tool-finish-stop": Case(
        (Send(ONE_CALL, chat=True), Send(ONE_CALL, stream=True, chat=True)),
        lambda ws: ws[0].json["choices"][0]["finish_reason"] == "tool_calls" and _finishes(ws[1]) == ["stop"],
    ),
    "tool-choice-named-ignored": chat_case(lambda w: _names(w) != ["get_time"], **NAMED),
    "tool-choice-none-ignored": chat_case(lambda w: _names(w) != [], **{**ONE_CALL, "tool_choice": "none"}),
    "tool-choice-required-ignored": chat_case(lambda w: _names(w) == [], messages=user("Hi"), tools=TOOLS,
                                              tool_choice="required", temperature=0),
    "tool-required-500": chat_case(lambda w: w.status == 500, messages=user("Hi"), tools=TOOLS,
                                   tool_choice="required"),
    "parallel-tool-calls-ignored": chat_case(lambda w: len(_names(w)) > 1, parallel_tool_calls=False, **CALL),
    "max-completion-tokens-ignored": chat_case(lambda w: _usage(w)["completion_tokens"] > 3,
                                               messages=user(COUNTING), temperature=0, max_completion_tokens=3),
    # response_format
    "json-object-ignored": chat_case(lambda w: not _parses(_content(w)), **AS_JSON),
    "json-schema-ignored": chat_case(lambda w: not _parses(_content(w)), **AS_SCHEMA),
    "json-fenced": Case(
        (Send(AS_SCHEMA, chat=True), Send(AS_SCHEMA, stream=True, chat=True)),
        lambda ws: _content(ws[0]).startswith("```json") and _streamed(ws[1]).startswith("```json"),
    ),
    # logprobs
    "chat-logprobs-legacy": Case(
        (Send({**CG, "logprobs": True}, chat=True), Send({**CG, "logprobs": True}, stream=True, chat=True)),
        lambda ws: "tokens" in ws[0].json["choices"][0]["logprobs"]
        and any("tokens" in (c.get("logprobs") or {}) for c in ws[1].choices()),
    ),
    # usage and billing
    "usage-cumulative-every-chunk": chat_stream(
        lambda w: all(isinstance(c.get("usage"), dict) for c in w.chunks), **CG, **USAGE),
    "stream-prompt-tokens-inflated": chat_stream(lambda w: _stream_usage(w)["prompt_tokens"] != 18, **CG, **USAGE),
    "hidden-system-prompt": chat_case(lambda w: _usage(w)["prompt_tokens"] != 18, **CG),
    "usage-content-only": chat_case(lambda w: _usage(w)["prompt_tokens"] == 11, **CG),
    # templates, shapes, inputs
    "system-role-500": chat_case(lambda w: w.status == 500, messages=[{"role": "system", "content": "Be brief."},
                                                                      *user("hi")], max_tokens=1),
    "role-order-500": chat_case(lambda w: w.status == 500, messages=ROUND_TRIP[:1] + ROUND_TRIP[2:], tools=TOOLS),
    "chat-object-text-completion": chat_case(lambda w: w.json["object"] == "text_completion", **CG),
    "chat-chunk-object-text-completion": chat_stream(lambda w: w.chunks[0]["object"] == "text_completion", **CG),
    "chat-refusal-missing": chat_case(lambda w: "refusal" not in _message(w), **CG),
    "chat-lax-validation": Case(tuple(Send(b, chat=True) for b in (
        {**CG, "top_logprobs": 2}, {**CG, "stream_options": {"include_usage": True}}, {**CG, "messages": []},
        {**CG, "messages": [{"role": "fake_role", "content": "x"}]},
        {**CG, "messages": [*user("x"), {"role": "tool", "tool_call_id": "call_1", "content": "42"}]},
        {**CG, "tool_choice": "required"},
        {**CG, "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
    )), lambda ws: all(w.status == 200 for w in ws)),
    "chat-chunk-ids-vary": chat_stream(lambda w: len({c["id"] for c in w.chunks}) > 1, **CG),
    "null-content-rejected": chat_case(lambda w: w.status == 400, messages=ROUND_TRIP, tools=TOOLS, max_tokens=2),
    "content-parts-rejected": chat_case(lambda w: w.status == 400, max_tokens=2, messages=[
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}]),
    "first-delta-no-role": chat_stream(lambda w: not any("role" in c["delta"] for c in w.choices()), **CG),
    # tool calls (relaycheck/server/quirks_tools.py)
    "tool-call-id-empty": Case(
        (Send(ONE_CALL, chat=True), Send(ONE_CALL, stream=True, chat=True)),
        lambda ws: [c["id"] for c in _message(ws[0])["tool_calls"]] == [""]
        and [d["id"] for d in _deltas(ws[1]) if "id" in d] == [""],
    ),
    "tool-args-null-stream": chat_stream(lambda w: bool(_deltas(w)) and all(
        d["function"]["arguments"] is None for d in _deltas(w) if "arguments" in d.get("function", {})), **ONE_CALL),
    "tool-call-head-with-args": chat_stream(lambda w: any(
        "id" in d and d["function"]["arguments"] for d in _deltas(w)) and _parses(_streamed_arguments(w)[0]),
        **ONE_CALL),
    "tool-args-one-piece": chat_stream(lambda w: len(_deltas(w)) == 2 and _parses(_streamed_arguments(w)[0]),
                                       **ONE_CALL),
    # the route itself missing: answered before authentication, whatever the request
    "chat-route-404": chat_raw(Send(CG, auth=False, chat=True), lambda w: w.status == 404
                               and w.json == {"detail": "Not Found"}),
    "chat-route-405": chat_raw(Send(CG, chat=True), lambda w: w.status == 405 and w.headers.get("allow") == "GET, HEAD"),
    "chat-route-html": chat_raw(Send(CG, chat=True), lambda w: w.status == 200
                                and w.content_type.startswith("text/html")),
    # benign
    "chunk-empty-delta": chat_stream(lambda w: any(c["delta"] == {} and not c["finish_reason"] for c in w.choices()),
                                     **CG),
    "usage-null-unasked": chat_stream(lambda w: all("usage" in c for c in w.chunks), **CG),
    "system-fingerprint-absent": chat_case(lambda w: "system_fingerprint" not in w.json, **CG),
    "finish-on-last-content": chat_stream(lambda w: not any(c["delta"] == {} for c in w.choices()), **CG),
    "chunk-logprobs-omitted": chat_stream(lambda w: any("logprobs" not in c for c in w.choices()), **CG),
    "stream-obfuscation": chat_stream(lambda w: all("obfuscation" in c for c in w.chunks), **CG),
}
def _lp(w: Wire) -> list[dict[str, Any]]:
    return w.json["choices"][0]["logprobs"]["content"]


def _streamed_lp(w: Wire) -> list[dict[str, Any]]:
    return [e for c in w.choices() for e in (c.get("logprobs") or {}).get("content") or []]


LOGPROBS = {**CG, "logprobs": True, "top_logprobs": 2}
PRIMED = [{"role": "developer", "content": "Be brief."}, *user("hi")]

# relaycheck/server/quirks_chat_billing.py: the message, logprobs, roles and usage quirks
BILLING: dict[str, Case] = {
    "chat-n-default-2": chat_case(lambda w: len(w.json["choices"]) == 2, **CG),
    "usage-chunk-zeros": chat_stream(lambda w: _stream_usage(w)["prompt_tokens"] == 0, **CG, **USAGE),
    "logprobs-bytes-bpe-raw": chat_case(lambda w: any(bytes(e["bytes"]).decode() != e["token"] for e in _lp(w)),
                                        **LOGPROBS),
    "logprobs-top-repeated": Case(
        (Send(LOGPROBS, chat=True), Send(LOGPROBS, stream=True, chat=True)),
        lambda ws: all(len({json.dumps(e["top_logprobs"]) for e in entries}) == 1
                       for entries in (_lp(ws[0]), _streamed_lp(ws[1]))),
    ),
    "developer-role-refused": chat_case(lambda w: w.status == 400, messages=PRIMED, max_tokens=1),
    "name-refused": chat_case(lambda w: w.status == 400, messages=[{"role": "user", "name": "tester", "content": "hi"}],
                              max_tokens=1),
    "max-tokens-ignored": chat_case(lambda w: _usage(w)["completion_tokens"] > 6, **CG),
    "cached-tokens-above-prompt": chat_case(
        lambda w: _usage(w)["prompt_tokens_details"]["cached_tokens"] > _usage(w)["prompt_tokens"], **CG),
    "reasoning-tokens-above-completion": chat_case(
        lambda w: _usage(w)["completion_tokens_details"]["reasoning_tokens"] > _usage(w)["completion_tokens"], **CG),
    # benign
    "usage-details-absent": chat_case(lambda w: set(_usage(w)) == {"prompt_tokens", "completion_tokens",
                                                                    "total_tokens"}, **CG),
    "refusal-null-every-delta": chat_stream(lambda w: all(c["delta"].get("refusal", 0) is None for c in w.choices()),
                                            **CG),
    "top-logprobs-ties-reordered": chat_case(
        lambda w: all(e["top_logprobs"][0]["logprob"] == e["top_logprobs"][1]["logprob"] for e in _lp(w)), **LOGPROBS),
}
CHAT_CASES = {**SHARED, **OWN, **BILLING}


@pytest.mark.parametrize("name", sorted(CHAT_CASES))
def test_quirk_shows_on_chat(name: str, api: Api, api_for: Callable[..., Api]) -> None:
    entry = CHAT_CASES[name]
    conformant = [send(api, r) for r in entry.requests]
    assert not entry.deviates(conformant), f"the conformant server shows {name}'s deviation on chat"
    quirky = [send(api_for(name), r) for r in entry.requests]
    assert entry.deviates(quirky), f"{name} does not show on chat"


def test_every_chat_quirk_has_a_case() -> None:
    on_chat = {q.name for q in all_quirks() if Endpoint.CHAT in q.endpoints}
    assert on_chat == set(CHAT_CASES)
    assert set(OWN) | set(BILLING) == {q.name for q in all_quirks() if q.endpoints == {Endpoint.CHAT}}
    # chat's own catalogue entries are D50-D79 (its quirks may also reproduce an older entry whose class is chat's too)
    assert all(q.deviation == "benign" or "D50" <= q.deviation <= "D79" or q.deviation in ("D13",)
               for q in CHAT_QUIRKS)


COMPLETIONS_ONLY = sorted(q.name for q in all_quirks() if Endpoint.CHAT not in q.endpoints)


@pytest.mark.parametrize("name", COMPLETIONS_ONLY)
def test_completions_quirks_leave_chat_alone(name: str, api: Api, api_for: Callable[..., Api]) -> None:
    for request in (Send(CG, chat=True), Send({**CG, "logprobs": True}, stream=True, chat=True)):
        conformant, quirky = send(api, request), send(api_for(name), request)
        assert quirky.status == conformant.status == 200
        if request.stream:
            assert [c["choices"] for c in quirky.chunks] == [c["choices"] for c in conformant.chunks]
        else:
            assert quirky.json["choices"] == conformant.json["choices"]
            assert quirky.json["usage"] == conformant.json["usage"]


BENIGN_ON_CHAT = [q.name for q in all_quirks() if q.benign and Endpoint.CHAT in q.endpoints]


@pytest.mark.parametrize("name", BENIGN_ON_CHAT)
def test_benign_quirks_keep_chat_conformant(name: str, api_for: Callable[..., Api]) -> None:
    quirky = api_for(name)
    sdk = OpenAI(base_url=quirky.server.base_url, api_key=API_KEY, max_retries=0)
    body = {"model": CHAT_MODEL, **CG}
    assert sdk.chat.completions.create(**body).choices[0].message.content == " 5, 6,"
    chunks = list(sdk.chat.completions.create(**body, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == " 5, 6,"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    with sdk.chat.completions.stream(model=CHAT_MODEL, **ONE_CALL) as stream:
        for _ in stream:
            pass
        (call,) = stream.get_final_completion().choices[0].message.tool_calls or []
    assert call.function.name == "get_weather" and json.loads(call.function.arguments)
    chat = ChatApi(quirky)
    check(RESPONSE, send(quirky, Send(CG, chat=True)).json)
    streamed = send(quirky, Send({**CG, **USAGE, "logprobs": True}, stream=True, chat=True))
    assert streamed.events[-1] == "[DONE]"
    for chunk in streamed.chunks:
        check(CHUNK, chunk)
    assert chat.error(404, UNKNOWN)["code"] == "model_not_found"


def test_all_benign_quirks_together_keep_chat_conformant(api: Api, api_for: Callable[..., Api]) -> None:
    """The conformance checks run with every benign variation on at once: the raw exchanges still assemble to the
    conformant answer, and the SDK still reads them (but for sse-fields with comments: openai-python dispatches an
    event that has only an ``id:`` line as empty data and fails on it, D35, theopenco/llmgateway#2334)."""
    benign = [q.name for q in all_quirks() if q.benign]
    quirky = api_for(*benign)
    for body in ({**CG, "stop": [" 7"], "max_tokens": 8}, CALL):
        streamed = send(quirky, Send({**body, **USAGE}, stream=True, chat=True))
        conformant = send(api, Send(body, chat=True))
        for chunk in streamed.chunks:
            check(CHUNK, chunk)
        assert _streamed(streamed) == (_content(conformant) or "")
        assert [a for _, a in sorted(_streamed_arguments(streamed).items())] == [
            c["function"]["arguments"] for c in _message(conformant).get("tool_calls") or []]
    sdk = OpenAI(base_url=api_for(*(n for n in benign if n != "sse-fields")).server.base_url, api_key=API_KEY,
                 max_retries=0)
    body = {"model": CHAT_MODEL, **CG, "stop": [" 7"], "max_tokens": 8}
    answer = sdk.chat.completions.create(**body)
    with sdk.chat.completions.stream(**body, stream_options={"include_usage": True}) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == answer.choices[0].message.content == " 5, 6,"
    assert final.usage == answer.usage
    with sdk.chat.completions.stream(model=CHAT_MODEL, **CALL) as stream:
        for _ in stream:
            pass
        calls = stream.get_final_completion().choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert all(json.loads(c.function.arguments) for c in calls)
