"""POST /v1/chat/completions on the conformant reference: answers, usage, logprobs, streams, parameters."""

from __future__ import annotations

import json
from typing import Any

import pytest

from relaycheck import tokens
from relaycheck.server.chat import logprob_entry
from relaycheck.server.config import default_chat_models
from relaycheck.server.generation import Token
from relaycheck.server.tokenizer import default_tokenizer
from relaycheck.tokens.chat import COOKBOOK_MESSAGES, COOKBOOK_TOOL_MESSAGES, COOKBOOK_TOOLS, chat_prompt_tokens

from .chat_api import CHAT_MODEL, ChatApi, user
from .conftest import COUNTING, Api

GREEDY = {"messages": user(COUNTING), "temperature": 0, "max_tokens": 6}
O200K = pytest.mark.skipif("gpt-4o" not in default_chat_models(), reason="gpt-4o needs the o200k extra")


@pytest.fixture(scope="module")
def chat(api: Api) -> ChatApi:
    return ChatApi(api)


def cl100k_count(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    return chat_prompt_tokens(tokens.get_encoding("cl100k_base"), messages, tools)


def test_basic_answer(chat: ChatApi) -> None:
    body = chat.create(**GREEDY)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == CHAT_MODEL and body["system_fingerprint"] == "fp_relaycheck"
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": " 5, 6,", "refusal": None, "annotations": []}
    assert choice["finish_reason"] == "length" and choice["logprobs"] is None
    usage = body["usage"]
    assert usage["prompt_tokens"] == cl100k_count(GREEDY["messages"]) == 3 + 1 + 11 + 3
    assert usage["completion_tokens"] == 6 and usage["total_tokens"] == usage["prompt_tokens"] + 6
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert usage["completion_tokens_details"] == {
        "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}


@pytest.mark.parametrize("model", ["gpt-3.5-turbo", "gpt-4", pytest.param("gpt-4o", marks=O200K),
                                   pytest.param("gpt-4o-mini", marks=O200K)])
def test_prompt_tokens_are_the_cookbook_count(chat: ChatApi, model: str) -> None:
    cl100k = model in ("gpt-3.5-turbo", "gpt-4")
    plain = chat.create(model=model, messages=COOKBOOK_MESSAGES, max_tokens=1, temperature=0)
    assert plain["usage"]["prompt_tokens"] == (129 if cl100k else 124)
    with_tools = chat.create(model=model, messages=COOKBOOK_TOOL_MESSAGES, tools=COOKBOOK_TOOLS, max_tokens=1,
                             tool_choice="none")
    assert with_tools["usage"]["prompt_tokens"] == (105 if cl100k else 101)


def test_models_differ_and_content_parts_count_as_text(chat: ChatApi) -> None:
    test = {"messages": user("Say this is a test"), "temperature": 0, "max_tokens": 8}
    cheap = chat.create(**test)["choices"][0]["message"]["content"]
    assert cheap == ". This is a test. This is"
    assert chat.create(**{**test, "model": "gpt-4"})["choices"][0]["message"]["content"] != cheap
    parts = [{"role": "user", "content": [{"type": "text", "text": "Say this "}, {"type": "text", "text": "is a test"}]}]
    as_parts = chat.create(**{**test, "messages": parts})
    assert as_parts["choices"][0]["message"]["content"] == cheap
    assert as_parts["usage"]["prompt_tokens"] == cl100k_count(parts)


def test_stream_is_the_answer(chat: ChatApi) -> None:
    usage = {"stream_options": {"include_usage": True}}
    answer = chat.create(**GREEDY)
    streamed = chat.stream(**GREEDY, **usage)
    first = streamed.chunks[0]["choices"][0]
    assert first["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert streamed.content() == answer["choices"][0]["message"]["content"]
    assert streamed.finish_reason() == "length"
    *rest, last = streamed.chunks
    assert all(c["usage"] is None for c in rest) and last["choices"] == []
    assert last["usage"] == answer["usage"]
    plain = chat.stream(**GREEDY)
    assert all("usage" not in c for c in plain.chunks)  # "only present when you set include_usage"


def test_logprobs(chat: ChatApi) -> None:
    body = chat.create(**GREEDY, logprobs=True, top_logprobs=3)
    choice = body["choices"][0]
    entries = choice["logprobs"]["content"]
    assert choice["logprobs"]["refusal"] is None
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    assert b"".join(bytes(e["bytes"]) for e in entries) == choice["message"]["content"].encode()
    assert all(len(e["top_logprobs"]) == 3 and e["logprob"] <= 0 for e in entries)
    assert all(e["top_logprobs"][0]["logprob"] >= e["top_logprobs"][-1]["logprob"] for e in entries)
    none = chat.create(**GREEDY, logprobs=True)["choices"][0]["logprobs"]["content"]
    assert [e["token"] for e in none] == [e["token"] for e in entries] and all(e["top_logprobs"] == [] for e in none)
    streamed = chat.stream(**GREEDY, logprobs=True, top_logprobs=3)
    assert streamed.logprobs() == entries


def test_a_split_character_has_its_own_bytes() -> None:
    tokenizer = default_tokenizer()
    first, *_ = tokenizer.encode("👍")
    entry = logprob_entry(tokenizer, Token(text="", logprob=-0.5, top=None, offset=0, token_id=first))
    assert entry["token"] == "" and bytes(entry["bytes"]) == "👍".encode()[:2]


def test_n_stop_seed_and_max_completion_tokens(chat: ChatApi) -> None:
    two = chat.create(**GREEDY, n=2)
    assert [c["index"] for c in two["choices"]] == [0, 1] and two["usage"]["completion_tokens"] == 12
    stopped = chat.create(**{**GREEDY, "max_tokens": 8}, stop=[" 7"])
    assert stopped["choices"][0]["message"]["content"] == " 5, 6," and stopped["choices"][0]["finish_reason"] == "stop"
    bounded = chat.create(messages=GREEDY["messages"], temperature=0, max_completion_tokens=3)
    assert bounded["usage"]["completion_tokens"] == 3
    seeded = {"messages": user("Once upon a time"), "temperature": 1.5, "max_tokens": 12, "seed": 7}
    texts = {chat.create(**seeded)["choices"][0]["message"]["content"] for _ in range(3)}
    assert len(texts) == 1
    streamed = chat.stream(**seeded, n=2)
    assert streamed.content(0) == texts.pop()


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "the city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    }, "required": ["city", "unit", "days"], "additionalProperties": False},
    "strict": True,
}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
TOOLS = [WEATHER, TIME]


def _calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    return body["choices"][0]["message"].get("tool_calls") or []


def _valid_arguments(calls: list[dict[str, Any]]) -> None:
    import jsonschema

    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    for call in calls:
        jsonschema.validate(json.loads(call["function"]["arguments"]), schemas[call["function"]["name"]])


@pytest.mark.parametrize(("text", "choice", "parallel", "expected"), [
    ("What is the weather? Use get_weather.", None, None, ["get_weather"]),
    ("Hello there", None, None, []),
    ("Use get_time, then get_weather.", "auto", None, ["get_time", "get_weather"]),
    ("Use get_time, then get_weather.", "auto", False, ["get_time"]),
    ("get_weather for Paris, get_weather for Rome", "auto", True, ["get_weather", "get_weather"]),
    ("Hello there", "required", None, ["get_weather"]),
    ("Use get_weather", "none", None, []),
    ("Hello there", {"type": "function", "function": {"name": "get_time"}}, None, ["get_time"]),
    ("get_weather and get_time", {"type": "allowed_tools", "allowed_tools": {
        "mode": "auto", "tools": [{"type": "function", "function": {"name": "get_time"}}]}}, None, ["get_time"]),
])
def test_tool_choice(chat: ChatApi, text: str, choice: Any, parallel: Any, expected: list[str]) -> None:
    body: dict[str, Any] = {"messages": user(text), "tools": TOOLS, "temperature": 0, "max_tokens": 64}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    answer = chat.create(**body)
    calls = _calls(answer)
    assert [c["function"]["name"] for c in calls] == expected
    message, finish = answer["choices"][0]["message"], answer["choices"][0]["finish_reason"]
    if expected:
        assert message["content"] is None and finish == "tool_calls"
        assert len({c["id"] for c in calls}) == len(calls) and all(c["id"].startswith("call_") for c in calls)
        _valid_arguments(calls)
        names_and_arguments = sum(len(default_tokenizer().encode(c["function"][k])) for c in calls
                                  for k in ("name", "arguments"))
        assert answer["usage"]["completion_tokens"] == names_and_arguments
    else:
        assert isinstance(message["content"], str) and "tool_calls" not in message and finish != "tool_calls"
    streamed = chat.stream(**body)
    assert [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in streamed.tool_calls()] \
        == [c["function"] for c in calls]
    assert streamed.finish_reason() == finish


def test_streamed_tool_deltas_as_openai_sends_them(chat: ChatApi) -> None:
    body = {"messages": user("get_time and get_weather"), "tools": TOOLS, "temperature": 0}
    streamed = chat.stream(**body)
    deltas = [d for c in streamed.choices() for d in c["delta"].get("tool_calls") or []]
    assert all(isinstance(d["index"], int) for d in deltas)
    for index in (0, 1):
        mine = [d for d in deltas if d["index"] == index]
        assert set(mine[0]) == {"index", "id", "type", "function"} and mine[0]["function"]["arguments"] == ""
        assert all(set(d) == {"index", "function"} and set(d["function"]) == {"arguments"} for d in mine[1:])
        assert len(mine) > 2  # the arguments come in pieces
    first = streamed.choices()[0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None and first["tool_calls"][0]["index"] == 0
    assert streamed.choices()[-1] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}


def test_a_tool_round_trip(chat: ChatApi) -> None:
    first = chat.create(messages=user("get_weather please"), tools=TOOLS, temperature=0)
    (call,) = _calls(first)
    history = [*user("get_weather please"), first["choices"][0]["message"],
               {"role": "tool", "tool_call_id": call["id"], "content": "It is sunny."}]
    second = chat.create(messages=history, tools=TOOLS, temperature=0, max_tokens=5)
    assert not _calls(second) and second["choices"][0]["message"]["content"]
    assert second["usage"]["prompt_tokens"] == cl100k_count(history, TOOLS)


def test_max_tokens_cut_tool_arguments(chat: ChatApi) -> None:
    cut = chat.create(messages=user("get_weather"), tools=TOOLS, temperature=0, max_tokens=5)
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 5


def test_structured_outputs(chat: ChatApi) -> None:
    import jsonschema

    as_json = chat.create(messages=user("Answer in JSON: 1, 2, 3, 4,"), response_format={"type": "json_object"},
                          temperature=0)
    assert isinstance(json.loads(as_json["choices"][0]["message"]["content"]), dict)
    assert as_json["choices"][0]["finish_reason"] == "stop"
    schema = {"type": "object", "properties": {
        "name": {"type": "string"}, "count": {"type": "integer", "minimum": 2, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string"}},
        "kind": {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]},
        "inner": {"$ref": "#/$defs/Inner"},
    }, "required": ["name", "count", "tags", "kind", "inner"], "additionalProperties": False,
        "$defs": {"Inner": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                            "additionalProperties": False}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": True}}
    body = {"messages": user("Describe a thing"), "response_format": response_format, "temperature": 0}
    answer = chat.create(**body, logprobs=True)
    content = answer["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(content), schema)
    assert "".join(e["token"] for e in answer["choices"][0]["logprobs"]["content"]) == content
    assert chat.stream(**body).content() == content
    salted = chat.create(**{**body, "model": "gpt-4"})["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(salted), schema)


def _error(chat: ChatApi, status: int, **body: Any) -> dict[str, Any]:
    return chat.error(status, {"model": CHAT_MODEL, "messages": user("hi"), **body})


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"n": 0}, "n", "integer_below_min_value"),
    ({"n": 129}, "n", "integer_above_max_value"),
    ({"temperature": 2.5}, "temperature", "decimal_above_max_value"),
    ({"top_p": "x"}, "top_p", "invalid_type"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
    ({"top_logprobs": 2}, "top_logprobs", None),
    ({"stream_options": {"include_usage": True}}, "stream_options", None),
    ({"messages": []}, "messages", "empty_array"),
    ({"messages": None}, "messages", "missing_required_parameter"),
    ({"messages": [{"role": "fake_role", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
    ({"messages": [{"role": "assistant", "content": None}]}, "messages.[0].content", None),
    ({"tool_choice": "invalid", "tools": TOOLS}, "tool_choice", "invalid_value"),
    ({"tool_choice": "required"}, "tool_choice", None),
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": TOOLS}, "tool_choice",
     "invalid_value"),
    ({"tools": [{"type": "invalid", "function": {"name": "f"}}]}, "tools[0].type", "invalid_value"),
    ({"tools": []}, "tools", "empty_array"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
    ({"max_tokens": 5, "max_completion_tokens": 5}, "max_tokens", None),
    ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
    ({"logit_bias": {"13": 101}}, "logit_bias.13", "integer_above_max_value"),
    ({"logit_bias": {"x": 1}}, "logit_bias", None),
    ({"frobnicate": 1}, "frobnicate", None),
    ({"functions": [{"name": "f"}]}, "functions", "unsupported_parameter"),
    ({"audio": {"voice": "alloy", "format": "wav"}}, "audio", "unsupported_parameter"),
    ({"reasoning_effort": "low"}, "reasoning_effort", "unsupported_parameter"),
    ({"modalities": ["text", "audio"]}, "modalities", "unsupported_parameter"),
    ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role", "unsupported_value"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]},
     "messages[0].content[0].type", "unsupported_value"),
    ({"response_format": {"type": "json_object"}}, "messages", None),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
        "type": "object", "properties": {"a": {"type": "string"}}}}}}, "response_format", "invalid_json_schema"),
    ({"parallel_tool_calls": False}, "parallel_tool_calls", None),
    ({"max_tokens": 4096}, "messages", "context_length_exceeded"),
])
def test_invalid_requests(chat: ChatApi, body: dict[str, Any], param: str, code: str | None) -> None:
    request = {"model": CHAT_MODEL, "messages": user("hi"), **body}
    if request["messages"] is None:
        del request["messages"]
    error = chat.error(400, request)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    if "stream_options" not in body:  # refused before any event: a JSON error, not a stream
        streamed = chat.post({**request, "stream": True})
        assert streamed.status_code == 400 and streamed.headers["content-type"].startswith("application/json")


CALL_1 = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}
NO_CALL = "must be a response to a preceeding message with 'tool_calls'"
UNANSWERED = "did not have response messages: call_1"


@pytest.mark.parametrize(("messages", "param", "phrase"), [
    ([*user("x"), {"role": "tool", "tool_call_id": "call_1", "content": "42"}], "messages.[1].role", NO_CALL),
    ([*user("x"), CALL_1, *user("and?")], "messages.[1].role", UNANSWERED),
    ([CALL_1, {"role": "tool", "tool_call_id": "call_2", "content": "42"}], "messages.[1].role", NO_CALL),
    ([*user("x"), CALL_1], "messages.[1].role", UNANSWERED),
])
def test_role_order(chat: ChatApi, messages: list[dict[str, Any]], param: str, phrase: str) -> None:
    error = _error(chat, 400, messages=messages, tools=TOOLS)
    assert error["param"] == param and phrase in error["message"]


def test_models_and_auth(chat: ChatApi, api: Api) -> None:
    unknown = _error(chat, 404, model="gpt-nope")
    assert unknown["code"] == "model_not_found"
    legacy = _error(chat, 404, model="gpt-3.5-turbo-instruct")
    assert legacy["param"] == "model" and legacy["message"].startswith("This is not a chat model")
    on_completions = api.error(404, {"model": CHAT_MODEL, "prompt": "x"})
    assert on_completions["param"] == "model" and on_completions["message"].startswith("This is a chat model")
    assert chat.error(401, {"model": CHAT_MODEL, "messages": user("hi")}, headers={"Authorization": ""})


def test_context_length(chat: ChatApi) -> None:
    long = [{"role": "user", "content": "hello " * 2100}]
    error = _error(chat, 400, messages=long)
    assert error["code"] == "context_length_exceeded" and "your messages resulted in" in error["message"]
    # without a bound, the completion may run to the end of the context
    body = chat.create(messages=user("hello " * 2000), temperature=0)
    assert body["usage"]["total_tokens"] <= 2048
