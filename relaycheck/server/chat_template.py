"""The reference provider's chat template: the messages (and tools) rendered to the token ids the model is given.

The rendering is the billing rule itself (:func:`relaycheck.tokens.chat.chat_prompt_segments`, the Cookbook's rule),
token for token: each overhead segment becomes that many framing ids, each text segment its encoding. So
``usage.prompt_tokens == len(ids)`` is the Cookbook's count by construction, and it is the length of what the model
saw. Framing ids lie outside the public vocabulary (ChatML's ``<|im_start|>``, ``<|im_end|>``, ``<|im_sep|>`` are
100264-100266 in OpenAI's cl100k chat encoding; the reference uses the three ids after its end-of-text, whatever
the encoding): no client can send them, and they are never generated or decoded.

A 4-gram model conditions on three tokens, which after any prompt would be the reply priming alone; so the model
continues the conversation's *content* (:attr:`RenderedPrompt.view`: the messages' content, refusals, tool results
and call arguments, in order, without framing, roles, names or tool definitions). That is why the reference answers
"1, 2, 3, 4," with " 5, 6," on chat as on Completions, and why answers differ from prompt to prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relaycheck.server.tokenizer import Tokenizer
from relaycheck.tokens.chat import chat_prompt_segments

FRAMES = 3  # framing ids: end-of-text + 1, + 2, + 3


@dataclass(frozen=True)
class RenderedPrompt:
    ids: tuple[int, ...]  # the whole prompt; its length is usage.prompt_tokens
    view: tuple[int, ...]  # the content the n-gram model conditions on
    tool_tokens: int = 0  # how many of ids are the tool definitions (context-length messages name them)


def render_prompt(
    tokenizer: Tokenizer, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = ()
) -> RenderedPrompt:
    frames = [tokenizer.max_id + 1 + k for k in range(FRAMES)]
    ids: list[int] = []
    view: list[int] = []
    tool_tokens = 0
    for segment in chat_prompt_segments(tokenizer.encoding_name, messages, tools):
        piece = [frames[(len(ids) + k) % FRAMES] for k in range(segment.overhead)]
        if segment.text:
            piece += tokenizer.encode(segment.text)
        ids += piece
        if segment.part == "content":
            view += piece
        elif segment.part == "tools":
            tool_tokens += len(piece)
    return RenderedPrompt(tuple(ids), tuple(view), tool_tokens)
