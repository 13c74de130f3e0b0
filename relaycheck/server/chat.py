"""Chat Completions on the reference engine: one choice's generation, the chat completion and its stream chunks.

A :class:`ChatRun` is one choice. It decides first whether to call tools (the rule below), then generates: free text
with the same :class:`ChoiceRun` as Completions (stop sequences, logprobs, penalties, logit_bias, seed), structured
content as that run with the JSON text forced token by token (scored by the model, so logprobs stay honest), or tool
calls whose arguments come from :mod:`relaycheck.server.structured`. The non-streamed answer and the stream are both
made from the same run's events, so at temperature 0 the assembled stream is the answer: content, tool names and
arguments, finish_reason and usage. Tool-call ids are random per response (``call_`` and 24 characters), as OpenAI's
are: a stream and a non-streamed answer to the same request share everything but the ids (and the completion id).

**When the model calls a tool** (deterministic at every temperature, so a probe can ask for a call):

- ``tool_choice: none`` (or no tools): never;
- named (``{"type": "function", "function": {"name": N}}``): exactly one call of N;
- ``auto``: when the last message is the user's and names tools of ``tools`` (a tool's name as a word,
  case-insensitive), one call per mention in the order mentioned, so naming ``get_weather`` twice, or two tools,
  asks for two parallel calls; otherwise (no mention, or the last message is a tool result) it answers with content;
- ``required``: as ``auto``, and when nothing is mentioned one call of the first allowed tool;
- ``allowed_tools``: its mode over its tools only;
- ``parallel_tool_calls: false``: the first call only; at most :data:`MAX_TOOL_CALLS` calls.

A choice that calls tools has ``content: null`` and ``finish_reason: "tool_calls"``.

**The wire** follows OpenAI's definition and its observed answers: ``message`` has ``role``, ``content``,
``refusal: null`` and ``annotations: []`` (``ChatCompletionResponseMessage``; recorded answers in
openai/openai-python:tests/lib/chat/test_completions.py); ``logprobs`` is ``null`` unless asked, else
``{content, refusal: null}`` (``content`` null when the message's is); usage carries its details
(``CompletionUsage``). A stream opens each choice with ``{"role": "assistant", "content": "", "refusal": null}`` or,
when it calls a tool, ``{"role": "assistant", "content": null, "tool_calls": [...], "refusal": null}`` (OpenAI's
chunks as quoted in langwatch/langwatch#6196 and tensorzero/tensorzero#1265); every chunk choice carries
``logprobs`` (null unless asked) and ``finish_reason``; the last chunk of a choice has an empty delta. ``usage`` is
on the chunks only with ``include_usage`` ("An optional field that will only be present when you set
stream_options: {include_usage: true}", ``CreateChatCompletionStreamResponse``): ``null`` on each, then the usage
chunk with ``choices: []``. What the definition leaves open is served as benign quirks (chat_quirks.py): ``usage:
null`` without include_usage (OpenAI's own chunk in tensorzero#1265 has it), chunks without ``logprobs`` (a chunk
choice requires only ``delta``, ``finish_reason`` and ``index``; an answer's choice requires ``logprobs``, so its
absence there stays D24), no ``system_fingerprint`` (not required), the finish_reason on the last content chunk, an
empty delta, and ``obfuscation`` (which OpenAI adds by default and the reference omits: it is optional).

**completion_tokens** counts what was generated: the content's tokens (end-of-text excluded, as on Completions), or,
for tool calls, the tokens of each call's name and of its arguments text. ``max_tokens`` (or
``max_completion_tokens``) bounds that count: content ends with ``length``, and calls are cut too (the arguments
truncated, later calls dropped, ``finish_reason: "length"``), as OpenAI's truncated structured output is.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from relaycheck.server.chat_params import MAX_TOOL_CALLS, ChatRequest, ToolSpec
from relaycheck.server.generation import ChoiceRun, Token
from relaycheck.server.model import NGramModel
from relaycheck.server.params import CompletionRequest
from relaycheck.server.protocol import SYSTEM_FINGERPRINT, Exchange, fork_rng, new_id
from relaycheck.server.structured import JSON_OBJECT_SCHEMA, generate_json
from relaycheck.server.tokenizer import Tokenizer
from relaycheck.tokens.chat import content_text

SERVICE_TIER = "default"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str
    pieces: list[str]  # the arguments as the model wrote them, token by token (what a stream sends)
    tokens: int  # billed: the name's tokens and the arguments'


@dataclass
class ContentBatch:
    tokens: list[Token]

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)


Event = ContentBatch | ToolCall


def generation_request(request: ChatRequest, forced: Sequence[int] = ()) -> CompletionRequest:
    """The Completions request that generates a chat answer's content: the conversation's content as the prompt."""
    return CompletionRequest(
        model=request.model,
        prompts=(request.prompt.view,),
        max_tokens=request.max_tokens,
        logprobs=request.logprobs,
        stop=request.stop,
        sampling=request.sampling,
        seed=request.seed,
        stream=request.stream,
        include_stop=request.include_stop,
        stop_overhang=request.stop_overhang,
        forced_prefix=request.forced_prefix + tuple(forced),
        extra_alternatives=request.extra_alternatives,
    )


@dataclass(frozen=True)
class PlannedCall:
    name: str
    said: str  # what the user said about this call (from its mention to the next one): its arguments follow it


def _mentions(text: str, tools: Sequence[str]) -> list[PlannedCall]:
    found: list[tuple[int, int, str]] = []
    for name in tools:
        pattern = rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])"
        found += [(m.start(), m.end(), name) for m in re.finditer(pattern, text, re.IGNORECASE)]
    if not found:
        return []
    found.sort()
    ends = [start for start, _, _ in found[1:]] + [len(text)]
    return [PlannedCall(name, text[end:until]) for (_, end, name), until in zip(found, ends, strict=True)]


def planned_calls(request: ChatRequest) -> list[PlannedCall]:
    """The tools this answer calls, in order (the rule in the module docstring)."""
    choice = request.tool_choice
    if choice.mode == "none" or not request.tools:
        return []
    if choice.mode == "named":
        return [PlannedCall(choice.allowed[0], "")]
    last = request.messages[-1]
    calls = _mentions(content_text(last.get("content")), choice.allowed) if last.get("role") == "user" else []
    if choice.mode == "required" and not calls:
        calls = [PlannedCall(choice.allowed[0], "")]
    return calls[: 1 if not request.parallel_tool_calls else MAX_TOOL_CALLS]


class ChatRun:
    """One choice. Iterate it once (events); afterwards read ``finish_reason``, ``content``, ``tool_calls``,
    ``tokens`` (the content's, for logprobs) and ``completion_tokens``."""

    def __init__(self, model: NGramModel, request: ChatRequest, rng: random.Random) -> None:
        self.model = model
        self.request = request
        self.rng = rng
        self.finish_reason: str | None = None
        self.content: str | None = None
        self.tool_calls: list[ToolCall] = []
        self.tokens: list[Token] = []
        self.completion_tokens = 0

    def __iter__(self) -> Iterator[Event]:
        calls = planned_calls(self.request)
        if calls:
            yield from self._calls(calls)
            return
        forced: list[int] = []
        response_format = self.request.response_format
        if response_format.type != "text":
            schema = response_format.schema if response_format.type == "json_schema" else JSON_OBJECT_SCHEMA
            text = generate_json(self.model, self.request.prompt.view, schema or {}, self.request.sampling, self.rng)
            forced = [*self.model.tokenizer.encode(text), self.model.tokenizer.eot_id]
        run = ChoiceRun(self.model, self.request.prompt.view, generation_request(self.request, forced), self.rng)
        for batch in run:
            self.tokens += batch
            yield ContentBatch(batch)
        self.content = run.text
        self.finish_reason = run.finish_reason
        self.completion_tokens = run.completion_tokens

    def _calls(self, planned: list[PlannedCall]) -> Iterator[Event]:
        tokenizer = self.model.tokenizer
        budget = self.request.max_tokens
        self.finish_reason = "tool_calls"
        for plan in planned:
            if budget <= 0:
                self.finish_reason = "length"
                break
            name = plan.name
            tool: ToolSpec = self.request.tool(name)
            # the arguments continue what the user said about this call (the whole conversation when nothing)
            said = tokenizer.encode(plan.said) if plan.said.strip() else []
            context = said or list(self.request.prompt.view)
            arguments = generate_json(self.model, context, tool.parameters, self.request.sampling, self.rng)
            ids = tokenizer.encode(arguments)
            budget -= len(tokenizer.encode(name))
            if len(ids) > max(budget, 0):
                ids = ids[: max(budget, 0)]
                self.finish_reason = "length"
            pieces = _pieces(tokenizer, ids)
            call = ToolCall(new_id("call_"), name, "".join(pieces), pieces, len(tokenizer.encode(name)) + len(ids))
            budget -= len(ids)
            self.completion_tokens += call.tokens
            self.tool_calls.append(call)
            yield call
            if self.finish_reason == "length":
                break


def _pieces(tokenizer: Tokenizer, ids: Sequence[int]) -> list[str]:
    """The text of each token (a token that ends inside a character joins the next one's piece)."""
    decoder = tokenizer.piece_decoder()
    pieces: list[str] = []
    held = ""
    for token in ids:
        held += decoder.feed(token)
        if held and not decoder.busy():
            pieces.append(held)
            held = ""
    tail = held + decoder.flush()
    if tail:
        pieces.append(tail)
    return pieces


# -- wire objects -------------------------------------------------------------------------------------


def _head(ex: Exchange, obj: str) -> dict[str, Any]:
    """The members before ``choices``, in OpenAI's order (the chunk quoted in tensorzero/tensorzero#1265)."""
    assert ex.request is not None
    return {
        "id": ex.id,
        "object": obj,
        "created": ex.created,
        "model": ex.request.model,
        "service_tier": SERVICE_TIER,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def chat_usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """``CompletionUsage`` with its details, as OpenAI's chat answers carry it (nothing cached, no audio, no
    reasoning, no predictions: the reference has none of them)."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def logprob_entry(tokenizer: Tokenizer, token: Token) -> dict[str, Any]:
    """``ChatCompletionTokenLogprob``: the token's text (the entries join to the content), its logprob, its UTF-8
    bytes (a partial character's bytes for a token that splits one), and ``top_logprobs`` most likely tokens."""
    raw = token.text.encode("utf-8") if token.cut or token.token_id < 0 else tokenizer.token_bytes(token.token_id)
    return {
        "token": token.text,
        "logprob": token.logprob,
        "bytes": list(raw),
        "top_logprobs": [
            {"token": tokenizer.token_label(t), "logprob": lp, "bytes": list(tokenizer.token_bytes(t))}
            for t, lp in token.alternatives
        ],
    }


def _logprobs(tokenizer: Tokenizer, request: ChatRequest, tokens: Sequence[Token] | None) -> dict[str, Any] | None:
    if request.logprobs is None:
        return None
    content = None if tokens is None else [logprob_entry(tokenizer, t) for t in tokens]
    return {"content": content, "refusal": None}


def _call_object(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _runs(ex: Exchange, model: NGramModel, rng: random.Random) -> list[ChatRun]:
    request = ex.request
    assert isinstance(request, ChatRequest)
    return [ChatRun(model, request, fork_rng(rng)) for _ in range(request.n)]


def build_chat_response(ex: Exchange, model: NGramModel, rng: random.Random) -> dict[str, Any]:
    """The non-streamed chat completion (CPU-bound: call it off the event loop)."""
    request = ex.request
    assert isinstance(request, ChatRequest)
    choices = []
    runs = _runs(ex, model, rng)
    for index, run in enumerate(runs):
        for _ in run:
            pass
        message: dict[str, Any] = {"role": "assistant", "content": run.content}
        if run.tool_calls:
            message["tool_calls"] = [_call_object(c) for c in run.tool_calls]
        message |= {"refusal": None, "annotations": []}
        logprobs = _logprobs(model.tokenizer, request, None if run.content is None else run.tokens)
        choices.append({"index": index, "message": message, "logprobs": logprobs, "finish_reason": run.finish_reason})
    usage = chat_usage(request.prompt_tokens, sum(r.completion_tokens for r in runs))
    return {**_head(ex, "chat.completion"), "choices": choices, "usage": usage}


@dataclass
class _Streaming:
    index: int
    run: ChatRun
    events: Iterator[Event]
    started: bool = False
    calls: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)


async def chat_stream_chunks(ex: Exchange, model: NGramModel, rng: random.Random) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a chat stream, round-robin over the choices: per choice a first chunk with the role, content
    deltas (one per token batch) or tool-call deltas (``index`` on each; ``id``, ``type`` and ``function.name`` in a
    call's first delta with ``arguments: ""``, then the arguments token by token), and a last chunk with an empty
    delta and the finish_reason; with include_usage, ``usage: null`` on each and a last chunk ``choices: []``."""
    request = ex.request
    assert isinstance(request, ChatRequest)
    tokenizer = model.tokenizer
    head = _head(ex, "chat.completion.chunk")
    tail = {"usage": None} if request.include_usage else {}

    def chunk(index: int, delta: dict[str, Any], logprobs: Any = None, finish: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**head, "choices": [choice], **tail}

    runs = _runs(ex, model, rng)
    active = [_Streaming(i, run, iter(run)) for i, run in enumerate(runs)]
    empty_logprobs = _logprobs(tokenizer, request, [])
    while active:
        for state in list(active):
            event = next(state.events, None)
            if isinstance(event, ToolCall):
                first = {"index": state.calls, "id": event.id, "type": "function",
                         "function": {"name": event.name, "arguments": ""}}
                state.calls += 1
                delta: dict[str, Any] = {"tool_calls": [first]}
                if not state.started:
                    delta = {"role": "assistant", "content": None, **delta, "refusal": None}
                    state.started = True
                yield chunk(state.index, delta)
                for piece in event.pieces:
                    yield chunk(state.index, {"tool_calls": [{"index": first["index"], "function": {
                        "arguments": piece}}]})
                continue
            if not state.started:
                state.started = True
                yield chunk(state.index, {"role": "assistant", "content": "", "refusal": None}, empty_logprobs)
            if isinstance(event, ContentBatch):
                yield chunk(state.index, {"content": event.text}, _logprobs(tokenizer, request, event.tokens))
            else:
                active.remove(state)
                yield chunk(state.index, {}, None, state.run.finish_reason)
    if request.include_usage:
        usage = chat_usage(request.prompt_tokens, sum(r.completion_tokens for r in runs))
        yield {**head, "choices": [], "usage": usage}

