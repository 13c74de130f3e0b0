"""Keeping every generated request cheap (and sendable) before it leaves.

A generated body is rewritten field by field, each rewrite a :class:`Clamp`:

- ``max_tokens`` at most :data:`MAX_TOKENS` (set when absent or null: null means the default, 16), and at least 1:
  OpenAI's models refuse a length-0 completion, which the contract's ``minimum: 0`` allows, and
  ``params.max-tokens-zero`` judges what a provider does with it, once;
- ``n`` and ``best_of`` at most 2, ``best_of`` raised to ``n`` (and to exactly ``n`` when streaming: the prose
  rules "best_of must be greater than n" and "results cannot be streamed");
- a prompt string at most 40 characters, prompt arrays at most 2 items, token arrays at most 8 ids below 256;
- ``logit_bias`` at most 2 entries keyed by token ids below 256; ``seed`` within int64;
- ``stream_options`` dropped unless ``stream`` is true (the prose: "Only set this when you set stream: true");
- ``model`` pinned to the provider's model (any string is valid, an unknown one is a 404);
- integral floats in integer fields sent as integers (3.0 → 3);
- strings made encodable: lone surrogates (which UTF-8 cannot carry) become U+FFFD.

Chat bodies (:data:`CHAT_CLAMPS`) get the same bounds on what they share (``n``, ``logit_bias``, ``seed``,
``stream_options``, ``model``, integers, encodable strings), and:

- one completion bound, ``max_completion_tokens`` or ``max_tokens`` (never both: an x-rule), at most
  :data:`MAX_TOKENS` and at least 1 (``max_completion_tokens`` set when neither is);
- at most :data:`~relaycheck.property.conversation.MAX_MESSAGES` messages in valid role order
  (:mod:`relaycheck.property.conversation`), text content of at most 40 characters in at most :data:`MAX_PARTS`
  text parts;
- at most :data:`~relaycheck.property.conversation.MAX_TOOLS` function tools of distinct names, each with a small
  closed parameters schema, and a named tool choice pointed at a declared tool; the same small schema for a
  ``json_schema`` format; "json" written into a message when ``json_object`` asks for it (an x-rule);
- the members the phase never sends dropped (:data:`CHAT_UNSENT_MEMBERS`), and media content parts.

Positive bodies get every clamp and must still be valid: against ``CreateCompletionRequest``, or against
``CreateChatCompletionRequest`` and its x-rules (:class:`WithRules`). Negative bodies get each clamp only if the
body stays invalid afterwards, so the violation the generator introduced survives.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from relaycheck.property.conversation import MAX_TOOLS, in_role_order, tool_choice_declared

MAX_TOKENS = 4
MAX_N = 2
MAX_PROMPT_CHARS = 40
MAX_PROMPT_ITEMS = 2
MAX_TOKEN_IDS = 8
TOKEN_ID_LIMIT = 256  # ids below this are single bytes in GPT-2 order, valid for every tokenizer
MAX_LOGIT_BIAS = 2
INT64 = (-(2**63), 2**63 - 1)

MAX_PARTS = 2  # content parts of a chat message
# Chat request members the phase never sends: each asks for a feature that costs more than a short text answer
# (audio output, predicted outputs, web search, moderation, a priority tier, reasoning), stores the conversation at
# the provider (store, metadata), is deprecated for tools (functions, function_call), belongs to some models only
# (reasoning_effort, verbosity, modalities), or is refused by OpenAI without tools although no official text says so
# (parallel_tool_calls: the contract's x-observed).
CHAT_UNSENT_MEMBERS = (
    "audio", "prediction", "web_search_options", "moderation", "service_tier", "reasoning_effort", "verbosity",
    "modalities", "store", "metadata", "functions", "function_call", "parallel_tool_calls",
)
# The JSON Schema the phase sends as a function's parameters and as a json_schema format: any schema is valid, but
# the provider must read it and constrain its output by it (OpenAI refuses one that is no schema).
SENT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}

_SURROGATE = re.compile("[\ud800-\udfff]")

Body = dict[str, Any]
Clamp = Callable[[Body, str], None]


class Validity(Protocol):
    """What the clamps ask of a request schema: whether a body is valid (a jsonschema validator is one)."""

    def is_valid(self, instance: Any) -> bool: ...


@dataclass(frozen=True)
class WithRules:
    """A request schema and the rules it cannot state (chat's x-rules): valid when both hold."""

    schema: Validity
    rules: Callable[[Any], Sequence[Any]]

    def is_valid(self, instance: Any) -> bool:
        return self.schema.is_valid(instance) and not self.rules(instance)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sanitize(value: Any) -> Any:
    """A deep copy with every string (keys too) encodable as UTF-8."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {sanitize(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sanitize(v) for v in value]
    return value


# -- the clamps, one field each ---------------------------------------------------------------------------------


def _model(body: Body, model: str) -> None:
    if "model" not in body or isinstance(body["model"], str):
        body["model"] = model


def _max_tokens(body: Body, model: str) -> None:
    value = body.get("max_tokens")
    if value is None or (_is_number(value) and value > MAX_TOKENS):
        body["max_tokens"] = MAX_TOKENS
    elif _is_number(value) and value == 0:  # a length-0 completion: judged by its own probe, not as a case
        body["max_tokens"] = 1


def _n(body: Body, model: str) -> None:
    value = body.get("n")
    if _is_number(value) and value > MAX_N:
        body["n"] = MAX_N


def _best_of(body: Body, model: str) -> None:
    value = body.get("best_of")
    if not _is_number(value):
        return
    n = body.get("n") if _is_int(body.get("n")) else 1
    best_of = min(int(value), MAX_N) if value > MAX_N else value
    if body.get("stream") is True:
        best_of = n  # best_of > n cannot be streamed
    elif best_of < n:
        best_of = n  # "best_of must be greater than n"
    body["best_of"] = best_of


def _stream_options(body: Body, model: str) -> None:
    if body.get("stream") is not True and body.get("stream_options") is not None:
        del body["stream_options"]


def _cut(text: str) -> str:
    return text[:MAX_PROMPT_CHARS]


def _token(value: Any) -> Any:
    return value % TOKEN_ID_LIMIT if _is_int(value) else value


def _prompt(body: Body, model: str) -> None:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        body["prompt"] = _cut(prompt)
    elif isinstance(prompt, list):
        if not prompt:
            body["prompt"] = [""]  # the string[] branch has no minItems, but [] is no prompt at all
        elif all(isinstance(p, str) for p in prompt):
            body["prompt"] = [_cut(p) for p in prompt[:MAX_PROMPT_ITEMS]]
        elif all(isinstance(p, list) for p in prompt):
            body["prompt"] = [[_token(t) for t in p[:MAX_TOKEN_IDS]] for p in prompt[:MAX_PROMPT_ITEMS]]
        else:
            body["prompt"] = [_token(t) for t in prompt[:MAX_TOKEN_IDS]]


def _short_strings(body: Body, model: str) -> None:
    for name in ("suffix", "user"):
        if isinstance(body.get(name), str):
            body[name] = _cut(body[name])


def _logit_bias(body: Body, model: str) -> None:
    bias = body.get("logit_bias")
    if isinstance(bias, dict) and bias:
        items = list(bias.values())[:MAX_LOGIT_BIAS]
        body["logit_bias"] = {str((i * 97 + 32) % TOKEN_ID_LIMIT): v for i, v in enumerate(items)}


INTEGER_FIELDS = ("max_tokens", "n", "best_of", "logprobs", "seed")


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 else value


def _integers(body: Body, model: str) -> None:
    """3.0 is a valid JSON Schema integer, but strictly typed servers (Go, Rust) refuse it: send 3."""
    for name in INTEGER_FIELDS:
        if name in body:
            body[name] = _whole(body[name])
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        body["prompt"] = [[_whole(t) for t in p] if isinstance(p, list) else _whole(p) for p in prompt]
    if isinstance(body.get("logit_bias"), dict):
        body["logit_bias"] = {k: _whole(v) for k, v in body["logit_bias"].items()}


def _seed(body: Body, model: str) -> None:
    if _is_int(body.get("seed")):
        body["seed"] = min(max(body["seed"], INT64[0]), INT64[1])


CLAMPS: tuple[Clamp, ...] = (
    _integers, _model, _prompt, _max_tokens, _n, _best_of, _stream_options, _short_strings, _logit_bias, _seed,
)


def clamp_positive(body: Any, model: str, validator: Validity, clamps: Sequence[Clamp] = CLAMPS) -> Body | None:
    """The cheap version of a valid body, or None when it cannot be made cheap and stay valid."""
    if not isinstance(body, dict):
        return None
    out = sanitize(body)
    for clamp in clamps:
        clamp(out, model)
    return out if validator.is_valid(out) else None


def clamp_negative(body: Body, model: str, validator: Validity, clamps: Sequence[Clamp] = CLAMPS) -> Body:
    """Apply each clamp that keeps the body invalid; a clamp that would repair the violation is left out."""
    out = sanitize(body)
    for clamp in clamps:
        trial = copy.deepcopy(out)
        try:
            clamp(trial, model)
        except (TypeError, ValueError, OverflowError):
            continue
        if not validator.is_valid(trial):
            out = trial
    return out


# -- Chat Completions --------------------------------------------------------------------------------------------


def _chat_bound(body: Body, model: str) -> None:
    """One completion bound (max_completion_tokens first: max_tokens is deprecated), within 1..MAX_TOKENS."""
    given = [n for n in ("max_completion_tokens", "max_tokens") if body.get(n) is not None]
    for other in given[1:]:
        del body[other]
    name = given[0] if given else "max_completion_tokens"
    value = body.get(name)
    if value is None or (_is_number(value) and value > MAX_TOKENS):
        body[name] = MAX_TOKENS
    elif _is_number(value) and value < 1:
        body[name] = 1


def _unsent(body: Body, model: str) -> None:
    for name in CHAT_UNSENT_MEMBERS:
        body.pop(name, None)


def _text_content(content: Any) -> Any:
    """A string cut short; a list of parts: its text parts (and a refusal part) cut short, at most MAX_PARTS."""
    if isinstance(content, str):
        return _cut(content)
    if not isinstance(content, list):
        return content
    parts = [p for p in content if isinstance(p, dict) and p.get("type") in ("text", "refusal")][:MAX_PARTS]
    out = []
    for part in parts:
        kind = part.get("type")
        out.append({**part, kind: _cut(part[kind])} if isinstance(part.get(kind), str) else part)
    return out or ""


def _message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = {k: v for k, v in message.items() if not (message.get("role") == "assistant"
                                                     and k in ("audio", "function_call"))}
    if "content" in out:
        out["content"] = _text_content(out["content"])
    for name in ("name", "refusal"):
        if isinstance(out.get(name), str):
            out[name] = _cut(out[name])
    if isinstance(out.get("tool_calls"), list):
        out["tool_calls"] = [c for c in out["tool_calls"] if not (isinstance(c, dict) and c.get("type") == "custom")]
        if not out["tool_calls"]:
            del out["tool_calls"]
            out.setdefault("content", "")
            if out["content"] is None:
                out["content"] = ""
    return out


def _messages(body: Body, model: str) -> None:
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        body["messages"] = in_role_order([_message(m) for m in messages]) or []


def _function(function: Any) -> Any:
    if not isinstance(function, dict):
        return function
    out = dict(function)
    if isinstance(out.get("description"), str):
        out["description"] = _cut(out["description"])
    if "parameters" in out:
        out["parameters"] = copy.deepcopy(SENT_SCHEMA)
    return out


def _tools(body: Body, model: str) -> None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return
    kept, names = [], set()
    for tool in tools:
        if not (isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict)):
            continue
        name = tool["function"].get("name")
        if name in names or len(kept) >= MAX_TOOLS:
            continue
        names.add(name)
        kept.append({**tool, "function": _function(tool["function"])})
    if kept:
        body["tools"] = kept
    else:
        del body["tools"]
        if body.get("tool_choice") not in (None, "none"):
            del body["tool_choice"]
    tool_choice_declared(body)


def _response_format(body: Body, model: str) -> None:
    form = body.get("response_format")
    if not isinstance(form, dict):
        return
    spec = form.get("json_schema")
    if form.get("type") == "json_schema" and isinstance(spec, dict):
        spec = dict(spec)
        if "schema" in spec:
            spec["schema"] = copy.deepcopy(SENT_SCHEMA)
        if isinstance(spec.get("description"), str):
            spec["description"] = _cut(spec["description"])
        body["response_format"] = {**form, "json_schema": spec}


def _says_json(body: Body, model: str) -> None:
    """JSON mode needs the word in a message (an x-rule): written at the end of the first string content."""
    form = body.get("response_format")
    messages = body.get("messages")
    if not (isinstance(form, dict) and form.get("type") == "json_object" and isinstance(messages, list)):
        return
    texts = [m.get("content") for m in messages if isinstance(m, dict)]
    if any(isinstance(t, str) and "json" in t.lower() for t in texts):
        return
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] = message["content"][: MAX_PROMPT_CHARS - 5] + " JSON"
            return


def _chat_strings(body: Body, model: str) -> None:
    for name in ("user", "safety_identifier", "prompt_cache_key"):
        if isinstance(body.get(name), str):
            body[name] = _cut(body[name])
    stop = body.get("stop")
    if isinstance(stop, str):
        body["stop"] = stop[:MAX_STOP_CHARS]
    elif isinstance(stop, list):
        body["stop"] = [s[:MAX_STOP_CHARS] if isinstance(s, str) else s for s in stop]


MAX_STOP_CHARS = 8
CHAT_INTEGER_FIELDS = ("max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs")


def _chat_integers(body: Body, model: str) -> None:
    for name in CHAT_INTEGER_FIELDS:
        if name in body:
            body[name] = _whole(body[name])
    if isinstance(body.get("logit_bias"), dict):
        body["logit_bias"] = {k: _whole(v) for k, v in body["logit_bias"].items()}


CHAT_CLAMPS: tuple[Clamp, ...] = (
    _chat_integers, _model, _unsent, _messages, _chat_bound, _n, _stream_options, _chat_strings, _logit_bias, _seed,
    _tools, _response_format, _says_json,
)


def clamp_chat_positive(body: Any, model: str, validator: Validity) -> Body | None:
    return clamp_positive(body, model, validator, CHAT_CLAMPS)


def clamp_chat_negative(body: Body, model: str, validator: Validity) -> Body:
    return clamp_negative(body, model, validator, CHAT_CLAMPS)
