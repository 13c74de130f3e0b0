"""The probes of Chat Completions (``POST /v1/chat/completions``), designed as a whole.

Where a property is the same on both endpoints (a stop sequence is honoured, a stream ends with ``[DONE]``, a wrong
key gets 401), the chat probe has the Completions probe's name with the ``chat-`` prefix (``chat-stop-string``,
``chat-stream``, ``chat-error-wrong-key``): one check function reads both by the short name (see
``relaycheck.checks.model.Namespace``). Chat's own features (tools, structured outputs, roles, content parts) have
probes of their own. One answer serves every check that can read it: the named tool call is read by the shape,
tool-grammar, tool-choice, parity and billing checks alike.

Cost (issue 22: at most 70 requests and 2,500 completion tokens per provider): everything is temperature 0 and a
few tokens, except what needs room (tool arguments, JSON) or sampling (n, seed); prompt-token probes ask for one
token. ``max_completion_tokens`` is the cap used (``max_tokens`` is deprecated: one probe checks it is still
honoured). Tool and JSON schemas use enums only: a real model with random weights, constrained by a grammar, can end
an enum cleanly; a free string it may never close.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relaycheck.endpoint import Endpoint
from relaycheck.probes.model import Body, PreconditionFailed, Probe, ProbeContext, answer_text, pick_stop, streamed

CHAT = Endpoint.CHAT
COUNTING = "Continue the sequence: 1, 2, 3, 4,"
TEST = "Say this is a test"
NEVER = "\u00a7\u00a7never\u00a7\u00a7"  # a stop sequence no answer contains
UNKNOWN_MODEL = "relaycheck-no-such-model-0"
UNKNOWN_PARAM = "relaycheck_no_such_parameter"
DOT_TOKEN = "13"  # "." in every GPT byte-level BPE (cl100k_base and o200k_base alike)
TOOL_ROOM = 64  # completion tokens for two tool calls' names and arguments (about 30 in cl100k), with room to spare
JSON_ROOM = 48  # for {"answer": "yes"} (5 tokens) and the whitespace a grammar-constrained small model may add


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _chat(ctx: ProbeContext, text: str = COUNTING, tokens: int = 8, **extra: Any) -> dict[str, Any]:
    return {"model": ctx.model, "messages": user(text), "max_completion_tokens": tokens, "temperature": 0, **extra}


def _greedy(ctx: ProbeContext, **extra: Any) -> dict[str, Any]:
    return _chat(ctx, **extra)


def _stop_string(ctx: ProbeContext) -> dict[str, Any]:
    return _greedy(ctx, stop=pick_stop(answer_text(ctx, "chat-greedy"))[0])


def _stop_list(ctx: ProbeContext) -> dict[str, Any]:
    return _greedy(ctx, stop=[NEVER, pick_stop(answer_text(ctx, "chat-greedy"))[0]])


# -- tools ------------------------------------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Paris", "London", "Tokyo"], "description": "The city"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "The unit"},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the local time in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "London", "Tokyo"], "description": "The city"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TOOLS = [WEATHER, TIME]
ASK_WEATHER = "What is the weather in Paris? Use the get_weather tool."
# A forced choice (named, required) is asked without naming a tool: a provider that treats it as auto may answer in
# prose, which is the deviation its check looks for (a model on auto that calls anyway is not wrong there).
ASK_PLAIN = "What is the weather in Paris?"
ASK_BOTH = "What is the weather in Paris and what is the time in Tokyo? Call get_weather and get_time, both at once."
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def _tools(ctx: ProbeContext, text: str = ASK_WEATHER, **extra: Any) -> dict[str, Any]:
    return _chat(ctx, text, TOOL_ROOM, tools=TOOLS, **extra)


def _tool_result(ctx: ProbeContext) -> dict[str, Any]:
    """A second turn: the assistant's call (content null) answered by a tool message, then the model goes on."""
    call = {"id": "call_relaycheck_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'}}
    messages = [*user(ASK_WEATHER), {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": '{"temperature": 18}'}]
    return {"model": ctx.model, "messages": messages, "tools": TOOLS, "max_completion_tokens": 8, "temperature": 0}


# -- structured outputs -----------------------------------------------------------------------------------------

VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True}}


def _json(ctx: ProbeContext, response_format: dict[str, Any]) -> dict[str, Any]:
    # json_object needs the word JSON in the conversation (OpenAI refuses it otherwise): it is there for both.
    return _chat(ctx, "Is the sky blue? Answer in JSON with the key answer.", JSON_ROOM,
                 response_format=response_format)


# -- errors -----------------------------------------------------------------------------------------------------

_ABSENT = object()


def _error(**fields: Any) -> Callable[[ProbeContext], dict[str, Any]]:
    def build(ctx: ProbeContext) -> dict[str, Any]:
        body = {"model": ctx.model, "messages": user(TEST), "max_completion_tokens": 1, **fields}
        return {k: v for k, v in body.items() if v is not _ABSENT}

    return build


# -- usage and identity -----------------------------------------------------------------------------------------

UNIT = "Say this is a test."
FINGERPRINT_PROMPTS = ("Once upon a time", "The weather today", "Hello", "Every good test should be",
                       "The quick brown fox", "In the evening they")
CROSS_PROMPTS = 3


def _repeated(ctx: ProbeContext, copies: int) -> dict[str, Any]:
    """``copies`` user messages of one unit: prompt_tokens must grow by one message's tokens (its 3 of overhead
    included) per copy; a hidden system prompt shows as an intercept."""
    return {"model": ctx.model, "messages": user(UNIT) * copies, "max_completion_tokens": 1, "temperature": 0}


def _fingerprint(prompt: str) -> Callable[[ProbeContext], dict[str, Any]]:
    return lambda c: _chat(c, prompt, 3, logprobs=True, top_logprobs=5)


def _cross(prompt: str) -> Callable[[ProbeContext], dict[str, Any]]:
    def build(c: ProbeContext) -> dict[str, Any]:
        if not c.cheaper_model:
            raise PreconditionFailed("no cheaper chat model named for this provider "
                                     "(providers.yaml chat.cheaper_models)")
        return {**_fingerprint(prompt)(c), "model": c.cheaper_model}

    return build


def _penalty(ctx: ProbeContext, **penalty: Any) -> dict[str, Any]:
    return _chat(ctx, "Repeat after me: this is a test. this is a test. this is a test.", 16, **penalty)


def _overflow(ctx: ProbeContext) -> dict[str, Any]:
    """One context of tokens in one message ("." repeated: one token each in cl100k and o200k), plus the cap."""
    if ctx.context_length is None:
        raise PreconditionFailed("the provider states no chat context_length (providers.yaml chat.context_length)")
    return _chat(ctx, "." * ctx.context_length, 16)


def probe(name: str, purpose: str, build: Callable[[ProbeContext], Body], **kwargs: Any) -> Probe:
    """A chat probe: ``name`` is its short name (the Completions twin's, where the property is shared)."""
    return Probe(CHAT.probe_id(name), purpose, build, endpoint=CHAT, **kwargs)


BASIC = probe("basic", "the official example request: one user message", lambda c: _chat(c, TEST, 7))
GREEDY = probe("greedy", "a short temperature-0 answer other probes compare against", _greedy)
STOP_STRING = probe("stop-string", "stop as a string taken from the greedy answer", _stop_string,
                    depends_on=("chat-greedy",))
STOP_LIST = probe("stop-list", "stop as a list", _stop_list, depends_on=("chat-greedy",))
N = probe("n", "n=2 at temperature 1", lambda c: {**_chat(c, tokens=3), "temperature": 1, "n": 2}, optional=("n",))
LOGPROBS = probe("logprobs", "logprobs with top_logprobs 2 (the max-tokens canary: sent first and alone)",
                 lambda c: _greedy(c, max_completion_tokens=4, logprobs=True, top_logprobs=2))
TOOLS_NAMED = probe("tools-named", "tools with a named tool_choice: the call is forced, though the user names no tool",
                    lambda c: _tools(c, ASK_PLAIN, tool_choice=NAMED), optional=("tools",))
TOOLS_PARALLEL = probe("tools-parallel", "two tools, asked for both at once (parallel_tool_calls true)",
                       lambda c: _tools(c, ASK_BOTH, tool_choice="required", parallel_tool_calls=True))
JSON_SCHEMA_PROBE = probe("json-schema", "response_format json_schema, strict", lambda c: _json(c, JSON_SCHEMA))

CHAT_PROBES: tuple[Probe, ...] = (
    # Shape and defaults (chat-basic sends no n, logprobs, stream, tools: the defaults apply)
    BASIC,
    GREEDY,
    LOGPROBS,
    probe("max-tokens", "the deprecated max_tokens field instead of max_completion_tokens",
          lambda c: {"model": c.model, "messages": user(COUNTING), "max_tokens": 3, "temperature": 0}),
    # Parameters honoured
    STOP_STRING,
    STOP_LIST,
    N,
    probe("float-sampling", "temperature 0.7 and top_p 0.9", lambda c: {
        **_chat(c, TEST, 2), "temperature": 0.7, "top_p": 0.9}),
    probe("seed-a", "seed with temperature 1", lambda c: {**_chat(c, TEST, 16), "temperature": 1, "seed": 4242},
          optional=("seed",)),
    # once seed-a is answered: a gateway's response cache then replays it (chat.identity.response-cache reads both)
    probe("seed-b", "the same request again, once the first is answered",
          lambda c: {**_chat(c, TEST, 16), "temperature": 1, "seed": 4242}, optional=("seed",),
          depends_on=("chat-seed-a",)),
    probe("logit-bias", "logit_bias +100 on the '.' token", lambda c: _greedy(c, logit_bias={DOT_TOKEN: 100}),
          optional=("logit_bias",)),
    probe("explicit-defaults", "every optional field at its documented default", lambda c: {
        **_chat(c, TEST, 2), "n": 1, "stream": False, "stop": None, "logit_bias": None, "logprobs": False,
        "presence_penalty": 0, "frequency_penalty": 0, "top_p": 1, "user": "relaycheck",
        "response_format": {"type": "text"}}),
    probe("penalty-base", "a temperature-0 answer asked to repeat itself", _penalty),
    probe("penalty-frequency", "the same with frequency_penalty 2", lambda c: _penalty(c, frequency_penalty=2)),
    probe("penalty-presence", "the same with presence_penalty 2", lambda c: _penalty(c, presence_penalty=2)),
    # Roles and content
    probe("system", "a system message before the user's", lambda c: {
        **_chat(c, TEST, 4), "messages": [{"role": "system", "content": "You are terse."}, *user(TEST)]}),
    probe("developer", "a developer message (the system role of newer models)", lambda c: {
        **_chat(c, TEST, 4), "messages": [{"role": "developer", "content": "You are terse."}, *user(TEST)]}),
    probe("content-parts", "user content as an array of text parts", lambda c: {
        **_chat(c, TEST, 4), "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Say this"}, {"type": "text", "text": " is a test"}]}]}),
    probe("name", "a user message with a name", lambda c: {
        **_chat(c, TEST, 4), "messages": [{"role": "user", "name": "tester", "content": TEST}]}),
    # Tools: forced (named, required), refused (none), chosen (auto), several at once, one at most, answered
    TOOLS_NAMED,
    probe("tools-required", "tool_choice required, though the user names no tool",
          lambda c: _tools(c, ASK_PLAIN, tool_choice="required")),
    probe("tools-none", "tools given with tool_choice none: no call", lambda c: _tools(c, tool_choice="none")),
    probe("tools-auto", "tool_choice auto, asked to use a tool", lambda c: _tools(c, tool_choice="auto")),
    TOOLS_PARALLEL,
    probe("tools-single", "two tools, asked for both, parallel_tool_calls false: at most one call",
          lambda c: _tools(c, ASK_BOTH, tool_choice="required", parallel_tool_calls=False),
          optional=("parallel_tool_calls",)),
    probe("tool-result", "a tool message answering the assistant's call (content null) in the history",
          _tool_result),
    # Structured outputs
    probe("json-object", "response_format json_object", lambda c: _json(c, {"type": "json_object"})),
    JSON_SCHEMA_PROBE,
    # Streaming: the greedy request, with and without include_usage, and a streamed twin of each checked effect
    streamed(GREEDY, "the greedy request, streamed", "chat-stream"),
    streamed(GREEDY, "the greedy request, streamed with include_usage", "chat-stream-usage",
             stream_options={"include_usage": True}),
    streamed(STOP_STRING),
    streamed(STOP_LIST),
    # n=2 streamed with include_usage: its usage chunk must cover both choices
    streamed(N, "n=2 at temperature 1, streamed with include_usage", stream_options={"include_usage": True}),
    streamed(LOGPROBS),
    streamed(TOOLS_NAMED),
    streamed(TOOLS_PARALLEL),
    streamed(JSON_SCHEMA_PROBE),
    # Errors and authentication
    probe("error-no-key", "no Authorization header", _error(), auth="missing"),
    probe("error-wrong-key", "a wrong key", _error(), auth="wrong"),
    probe("error-unknown-model", "a model that does not exist", lambda c: _error()(c) | {"model": UNKNOWN_MODEL}),
    probe("error-temperature", "temperature 2.5 (max 2)", _error(temperature=2.5)),
    probe("error-n", "n 0 (min 1)", _error(n=0)),
    probe("error-top-logprobs", "top_logprobs 21 (max 20)", _error(logprobs=True, top_logprobs=21)),
    probe("error-top-logprobs-alone", "top_logprobs without logprobs: true", _error(top_logprobs=2)),
    probe("error-stop-count", "5 stop sequences (max 4)", _error(stop=["a", "b", "c", "d", "e"])),
    probe("error-stream-options", "stream_options without stream", _error(stream_options={"include_usage": True})),
    probe("error-missing-messages", "no messages", _error(messages=_ABSENT)),
    probe("error-empty-messages", "messages an empty array", _error(messages=[])),
    probe("error-bad-role", "a message of an unknown role", _error(messages=[{"role": "narrator", "content": TEST}])),
    probe("error-tool-order", "a tool message that answers no preceding tool call", _error(messages=[
        *user(TEST), {"role": "tool", "tool_call_id": "call_nowhere", "content": "18"}])),
    probe("error-tool-choice-no-tools", "tool_choice required without tools", _error(tool_choice="required")),
    probe("error-tool-choice-unknown", "a named tool_choice naming no declared tool", _error(
        tools=TOOLS, tool_choice={"type": "function", "function": {"name": "relaycheck_no_such_tool"}})),
    probe("error-missing-model", "no model", lambda c: {"messages": user(TEST), "max_completion_tokens": 1}),
    probe("error-stream-temperature", "temperature 2.5 (max 2), streamed: refused before any event",
          _error(temperature=2.5, stream=True)),
    probe("error-malformed-json", "a body that is not JSON", lambda c: '{"model": "' + c.model + '", "messages": '),
    probe("error-unknown-param", "a request parameter that does not exist", _error(**{UNKNOWN_PARAM: 1})),
    # Identity: the chat fingerprint's conversations (temperature 0, top-5 logprobs, 3 tokens each)
    *(probe(f"identity-fp-{i}", f"fingerprint conversation {i}: temperature 0, top-5 logprobs", _fingerprint(text))
      for i, text in enumerate(FINGERPRINT_PROMPTS, 1)),
    *(probe(f"identity-cross-{i}", f"fingerprint conversation {i} under the cheaper chat model", _cross(text))
      for i, text in enumerate(FINGERPRINT_PROMPTS[:CROSS_PROMPTS], 1)),
    # Billing: one, two and three copies of a user message (one token each answer)
    *(probe(f"usage-repeat-{k}", f"{k} copies of a user message", lambda c, k=k: _repeated(c, k)) for k in (1, 2, 3)),
    probe("context-overflow", "one context of tokens plus max_completion_tokens 16: over the window", _overflow),
    # The chat model in the provider's model list (GET /v1/models, no tokens)
    probe("models", "GET /v1/models: the model list", lambda c: "", method="GET", path="models"),
)
