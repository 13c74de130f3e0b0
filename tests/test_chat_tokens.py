"""relaycheck.tokens.chat: the Cookbook's chat counting rule reproduces its published API figures."""

from __future__ import annotations

import pytest

from relaycheck import tokens
from relaycheck.tokens.chat import (
    COOKBOOK_MESSAGES,
    COOKBOOK_TOOL_MESSAGES,
    COOKBOOK_TOOLS,
    chat_prompt_segments,
    chat_prompt_tokens,
    content_text,
)


@pytest.mark.parametrize(("encoding", "messages", "tools"), [
    ("cl100k_base", 129, 105),  # gpt-3.5-turbo, gpt-4
    ("o200k_base", 124, 101),  # gpt-4o, gpt-4o-mini
])
def test_published_figures(encoding: str, messages: int, tools: int) -> None:
    if not tokens.encoding_available(encoding):
        pytest.skip(f"{encoding} needs the o200k extra")
    enc = tokens.get_encoding(encoding)
    assert chat_prompt_tokens(enc, COOKBOOK_MESSAGES) == messages
    assert chat_prompt_tokens(enc, COOKBOOK_TOOL_MESSAGES, COOKBOOK_TOOLS) == tools


def test_what_the_cookbook_leaves_open() -> None:
    enc = tokens.get_encoding("cl100k_base")
    hello = [{"role": "user", "content": "hello world"}]
    assert chat_prompt_tokens(enc, hello) == 3 + 1 + 2 + 3
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}]}]
    assert chat_prompt_tokens(enc, parts) == chat_prompt_tokens(enc, hello)
    call = {"role": "assistant", "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    result = {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    # assistant: 3 + "assistant" + "f" + "{}"; tool: 3 + "tool" + "call_1" + "42"
    expected = 3 + 1 + 1 + 1 + 3 + 1 + enc.count("call_1") + 1
    assert chat_prompt_tokens(enc, [call, result]) == expected + 3
    assert content_text(None) == "" and content_text([{"type": "image_url"}]) == ""
    # an enum's overhead (prop_key + enum_init + 3 per item) is never negative, so every segment can be rendered
    segments = chat_prompt_segments("cl100k_base", hello, COOKBOOK_TOOLS)
    assert all(s.overhead >= 0 for s in segments)
