"""Prompt tokens of a Chat Completions request: OpenAI's published counting rule, written once.

The rule is the OpenAI Cookbook's *How to count tokens with tiktoken* (``num_tokens_from_messages``, §6, and
``num_tokens_for_tools``, §7), which reproduces the API's ``usage.prompt_tokens``:

- per message 3 tokens (``<|start|>{role}<|message|>{content}<|end|>``) plus the tokens of every value, the role
  included; a ``name`` costs one more token; the reply is primed with 3 (``<|start|>assistant<|message|>``);
- with ``tools``, per function ``func_init`` (10 for the cl100k models gpt-3.5-turbo and gpt-4, 7 for the o200k
  models gpt-4o and gpt-4o-mini) plus the tokens of ``"name:description"`` (a trailing "." dropped); if it has
  properties, ``prop_init`` 3, then per property ``prop_key`` 3 plus the tokens of ``"key:type:description"``; a
  property with an ``enum`` adds ``enum_init`` -3 and 3 plus the item's tokens per item; ``func_end`` 12 once.

Published figures, reproduced by ``tests/test_chat_tokens.py``: 129 (gpt-3.5-turbo, gpt-4) and 124 (gpt-4o,
gpt-4o-mini) for the cookbook's example conversation; 105 and 101 for its weather tool.

The cookbook calls the rule "an estimate" and models only what its examples hold. What it leaves open is decided
here, once, for the reference provider and the checks alike:

- content given as an array of text parts counts as the parts' texts joined (``""``); ``null`` content counts 0;
- a tool message's ``tool_call_id`` is one of its values and counts; an assistant's ``tool_calls`` count the tokens
  of each call's ``function.name`` and ``function.arguments`` (the text the model generated; ids and ``type`` are
  not counted); a string ``refusal`` counts like content;
- a function without ``description`` counts ``"name:"``; a property without ``description`` or ``type`` counts them
  as empty; a list ``type`` is joined with ``,``; a non-string enum item counts as its JSON text; nested schemas
  count only their top-level properties (the cookbook does not model them either).

The count is returned as :class:`Segment` s (fixed overhead, or text to encode) so that the reference provider can
render exactly the tokens it bills: ``chat_prompt_tokens`` is the sum, the server's template the rendering.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relaycheck.tokens.encoding import Encoding

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
PROP_INIT = 3
PROP_KEY = 3
ENUM_INIT = -3
ENUM_ITEM = 3
FUNC_END = 12
# func_init by encoding: the cookbook gives 10 for gpt-3.5-turbo/gpt-4 (cl100k) and 7 for gpt-4o/-mini (o200k).
FUNC_INIT = {"cl100k_base": 10, "o200k_base": 7}

# The Cookbook's examples ("How to count tokens with tiktoken"), for probes and tests: §6's conversation (the API
# billed 129 on gpt-3.5-turbo and gpt-4, 124 on gpt-4o and gpt-4o-mini) and §7's weather tool with its two
# messages (105 and 101).
COOKBOOK_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon "
                                  "into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch "
                                                          "base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to "
                                                               "do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client "
                                "deliverable."},
]
COOKBOOK_TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "description": "The unit of temperature to return",
                 "enum": ["celsius", "fahrenheit"]},
    }, "required": ["location"]},
}}]
COOKBOOK_TOOL_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@dataclass(frozen=True)
class Segment:
    """A piece of the rendered prompt: ``overhead`` fixed tokens, or ``text`` encoded as it stands.

    ``part`` says what the piece is: ``"frame"`` (message framing, name separator, reply priming), ``"role"``,
    ``"name"``, ``"content"`` (what a message says: content, refusal, tool results, call names and arguments)
    or ``"tools"`` (the function definitions and their framing).
    """

    part: str
    text: str = ""
    overhead: int = 0


def content_text(content: Any) -> str:
    """A message's content as text: a string as is, an array of text parts joined, anything else empty."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return ""


def _message_segments(message: Mapping[str, Any]) -> Iterator[Segment]:
    yield Segment("frame", overhead=TOKENS_PER_MESSAGE)
    yield Segment("role", str(message.get("role", "")))
    name = message.get("name")
    if isinstance(name, str):
        yield Segment("frame", overhead=TOKENS_PER_NAME)
        yield Segment("name", name)
    for key in ("content", "refusal"):
        text = content_text(message.get(key))
        if text:
            yield Segment("content", text)
    if isinstance(message.get("tool_call_id"), str):
        yield Segment("content", message["tool_call_id"])
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            for key in ("name", "arguments"):
                if isinstance(function.get(key), str) and function[key]:
                    yield Segment("content", function[key])


def _strip_period(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


def _type_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def _function_segments(function: Mapping[str, Any], func_init: int) -> Iterator[Segment]:
    yield Segment("tools", overhead=func_init)
    description = function.get("description")
    description = description if isinstance(description, str) else ""
    yield Segment("tools", f"{function.get('name', '')}:{_strip_period(description)}")
    parameters = function.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    if not isinstance(properties, Mapping) or not properties:
        return
    yield Segment("tools", overhead=PROP_INIT)
    for key, prop in properties.items():
        prop = prop if isinstance(prop, Mapping) else {}
        enum = prop.get("enum")
        # prop_key, plus enum_init and one enum_item per item: never negative, as long as the enum has an item
        items = enum if isinstance(enum, list) else []
        overhead = PROP_KEY + (ENUM_INIT + ENUM_ITEM * len(items) if isinstance(enum, list) else 0)
        yield Segment("tools", overhead=overhead)
        for item in items:
            yield Segment("tools", item if isinstance(item, str) else json.dumps(item))
        desc = prop.get("description")
        desc = desc if isinstance(desc, str) else ""
        yield Segment("tools", f"{key}:{_type_text(prop.get('type'))}:{_strip_period(desc)}")


def chat_prompt_segments(
    encoding_name: str, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> list[Segment]:
    """The prompt of a chat request as billed: the tools (if any), every message, then the reply priming."""
    segments: list[Segment] = []
    functions = [
        t["function"] for t in tools or () if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)
    ]
    if functions:
        func_init = FUNC_INIT.get(encoding_name, FUNC_INIT["o200k_base"])
        for function in functions:
            segments.extend(_function_segments(function, func_init))
        segments.append(Segment("tools", overhead=FUNC_END))
    for message in messages:
        segments.extend(_message_segments(message))
    segments.append(Segment("frame", overhead=REPLY_PRIMING))
    return segments


def chat_prompt_tokens(
    encoding: Encoding, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> int:
    """``usage.prompt_tokens`` of a chat request with these messages and tools, by the cookbook's rule."""
    return sum(s.overhead + (encoding.count(s.text) if s.text else 0) for s in chat_prompt_segments(
        encoding.name, messages, tools))
