"""The openai Python SDK as a real client of the reference's chat endpoint: plain answers, tool calls (streamed and
not), structured outputs with a pydantic model, include_usage, and its own stream accumulation
(``client.chat.completions.stream`` / ``ChatCompletionStreamState``), which at temperature 0 equals the answer."""

from __future__ import annotations

import json
from typing import Any, Literal

import openai
import pytest
from openai import OpenAI
from openai.lib.streaming.chat import ChatCompletionStreamState
from pydantic import BaseModel

from .chat_api import CHAT_MODEL, user
from .conftest import API_KEY, COUNTING, Api
from .test_chat import TOOLS

GREEDY: dict[str, Any] = {"model": CHAT_MODEL, "messages": user(COUNTING), "temperature": 0, "max_tokens": 6}
# the SDK's accumulator refuses a choice that ended on length (LengthFinishReasonError): end these on a stop
STOPPED: dict[str, Any] = {**GREEDY, "max_tokens": 8, "stop": [" 7"]}


@pytest.fixture(scope="module")
def sdk(api: Api) -> OpenAI:
    return OpenAI(base_url=api.server.base_url, api_key=API_KEY, max_retries=0)


def test_create_and_stream_with_usage(sdk: OpenAI) -> None:
    answer = sdk.chat.completions.create(**GREEDY)
    assert answer.object == "chat.completion" and answer.choices[0].message.content == " 5, 6,"
    assert answer.choices[0].message.refusal is None and answer.usage is not None
    chunks = list(sdk.chat.completions.create(**GREEDY, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == " 5, 6,"
    assert chunks[-1].choices == [] and chunks[-1].usage == answer.usage
    assert all(c.usage is None for c in chunks[:-1])


def _accumulated(chunks: list[Any]) -> Any:
    state = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(chunk)
    return state.get_final_completion()


@pytest.mark.parametrize("request_body", [
    {**STOPPED, "logprobs": True, "top_logprobs": 2},
    {**STOPPED, "n": 2, "temperature": 1, "seed": 3, "stop": [",", "."], "max_tokens": 40},
    {"model": CHAT_MODEL, "messages": user("get_time and get_weather"), "tools": TOOLS, "temperature": 0},
    {"model": CHAT_MODEL, "messages": user("Hi"), "tools": TOOLS, "tool_choice": "required", "temperature": 0},
], ids=["logprobs", "n", "parallel-tools", "required"])
def test_accumulated_stream_equals_the_answer(sdk: OpenAI, request_body: dict[str, Any]) -> None:
    answer = sdk.chat.completions.create(**request_body)
    chunks = list(sdk.chat.completions.create(**request_body, stream=True, stream_options={"include_usage": True}))
    final = _accumulated(chunks)
    assert final.usage == answer.usage
    for mine, theirs in zip(final.choices, answer.choices, strict=True):
        assert mine.finish_reason == theirs.finish_reason
        assert mine.message.content == theirs.message.content
        assert (mine.logprobs and mine.logprobs.content) == (theirs.logprobs and theirs.logprobs.content)
        # ids are random per response: the calls agree on everything else
        assert [(c.type, c.function.name, c.function.arguments) for c in mine.message.tool_calls or []] == [
            (c.type, c.function.name, c.function.arguments) for c in theirs.message.tool_calls or []]


def test_tool_calls(sdk: OpenAI) -> None:
    answer = sdk.chat.completions.create(model=CHAT_MODEL, messages=user("Use get_weather"), tools=TOOLS,
                                         temperature=0)
    (call,) = answer.choices[0].message.tool_calls or []
    assert answer.choices[0].finish_reason == "tool_calls" and answer.choices[0].message.content is None
    assert call.type == "function" and call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city", "unit", "days"}
    with sdk.chat.completions.stream(model=CHAT_MODEL, messages=user("Use get_weather"), tools=TOOLS,
                                     temperature=0) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in events
    (streamed,) = final.choices[0].message.tool_calls or []
    assert streamed.function.arguments == call.function.arguments
    # strict tools are parsed by the SDK itself
    assert streamed.function.parsed_arguments == json.loads(call.function.arguments)


class Weather(BaseModel):
    city: str
    days: int
    unit: Literal["celsius", "fahrenheit"]
    tags: list[str]


def test_structured_outputs_with_pydantic(sdk: OpenAI) -> None:
    messages = user("Tell me the weather")
    parsed = sdk.chat.completions.parse(model=CHAT_MODEL, messages=messages, response_format=Weather, temperature=0)
    weather = parsed.choices[0].message.parsed
    assert isinstance(weather, Weather) and weather.unit in ("celsius", "fahrenheit")
    with sdk.chat.completions.stream(model=CHAT_MODEL, messages=messages, response_format=Weather,
                                     temperature=0) as stream:
        for _ in stream:
            pass
        assert stream.get_final_completion().choices[0].message.parsed == weather
    tool = openai.pydantic_function_tool(Weather, name="report_weather")
    called = sdk.chat.completions.parse(model=CHAT_MODEL, messages=user("report_weather now"), tools=[tool],
                                        temperature=0)
    (call,) = called.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, Weather)


def test_errors_are_sdk_exceptions(sdk: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model=CHAT_MODEL, messages=[], max_tokens=1)
    assert bad.value.code == "empty_array"
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-nope", messages=user("x"))
    with pytest.raises(openai.LengthFinishReasonError):
        sdk.chat.completions.parse(model=CHAT_MODEL, messages=user("x"), response_format=Weather, max_tokens=3)
