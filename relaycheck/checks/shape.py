"""Response shape: the non-streamed answer object (``text_completion``; chat's ``chat.completion``).

The checks judge both endpoints: each reads the same short probe names in its endpoint's namespace and that
endpoint's schema, object and id prefix (``Recorded.surface``); the chat message's own members are judged at the
end.
"""

from __future__ import annotations

import re
from typing import Any

from relaycheck.checks.model import (
    Fail,
    Level,
    Outcome,
    Pass,
    Recorded,
    Skip,
    check,
    expect,
    on_endpoint,
    snippet,
)
from relaycheck.endpoint import Endpoint
from relaycheck.probes.model_list import names_model

FEATURE = "shape"
SPEC = "openai-openapi@f85dbe22 CreateCompletionResponse"
CREATED_WINDOW = 600  # seconds of clock skew tolerated between the provider and us
SHAPE_PROBES = ("basic", "greedy", "n")


def _ok_bodies(r: Recorded, probes: tuple[str, ...] = SHAPE_PROBES) -> list[tuple[str, dict[str, Any]]]:
    """The first probe must have succeeded; the others add evidence when they did."""
    bodies = [(probes[0], r.ok_json(probes[0]))]
    for probe in probes[1:]:
        ex = r.exchanges.get(probe)
        if ex is not None and ex.succeeded and isinstance(ex.json(), dict):
            bodies.append((probe, ex.json()))
    return bodies


def usage_of(r: Recorded, probe: str) -> dict[str, Any]:
    usage = r.ok_json(probe).get("usage")
    if not isinstance(usage, dict):
        raise Skip(f"'{probe}' reported no usage object (see shape.usage-present)")
    return usage


@check(
    "shape.content-type",
    title="A non-streamed response is served as application/json",
    clause=f"{SPEC}: 200 content application/json (a request without stream, or stream=false, is not streamed)",
    level=Level.MUST,
    feature=FEATURE,
    probes=("basic",),
    fails_on=("json-as-sse",),
    deviations=("D37", "D46"),
)
def content_type(r: Recorded) -> Outcome:
    ex = r.ok("basic")
    return expect(
        ex.content_type == "application/json" and ex.is_json,
        "the non-streamed answer is not a single JSON document",
        "Content-Type application/json and one JSON body",
        f"{ex.headers.get('content-type', 'no content-type')}: {snippet(ex.text, 120)}",
    )


@check(
    "shape.schema",
    title="The response validates against CreateCompletionResponse",
    clause=f"{SPEC}: required id, object, created, model, choices; each choice requires text, index, logprobs, "
    "finish_reason",
    level=Level.MUST,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("logprobs-key-omitted", "created-float"),
    seeds="all three pages show this object; gptnb and xuedingmao mark usage required (official: optional)",
    deviations=("D24", "D27"),
)
def schema(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        problem = r.schema_problem(r.surface.response, body)
        if problem is not None:
            return Fail(f"schema violation {problem.split(':')[0]}", f"a {r.surface.response}", problem, probe)
    return Pass("every response validates")


@check(
    "shape.object",
    title='object is exactly "text_completion"',
    clause=f'{SPEC}.object: enum [text_completion] ("The object type, which is always text_completion")',
    level=Level.MUST,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("chat-object",),
    deviations=("D18",),
)
def object_(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        if body.get("object") != r.surface.object:
            return Fail("wrong object type", f'"{r.surface.object}"', repr(body.get("object")), probe)
    return Pass()


@check(
    "shape.id",
    title="id is a non-empty string",
    clause=f'{SPEC}.id: string, "A unique identifier for the completion"',
    level=Level.MUST,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("empty-id",),
    deviations=("D19",),
)
def id_(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        value = body.get("id")
        if not isinstance(value, str) or not value.strip():
            return Fail("id is missing or empty", "a non-empty string", repr(value), probe)
    return Pass()


@check(
    "shape.id-prefix",
    title='id has OpenAI\'s "cmpl-" prefix',
    clause='OpenAI examples: "id": "cmpl-…" (informational: the spec only requires a string)',
    level=Level.INFO,
    feature=FEATURE,
    probes=("basic",),
    fails_on=("chatcmpl-id",),
    deviations=("D19",),
)
def id_prefix(r: Recorded) -> Outcome:
    value, prefix = r.ok_json("basic").get("id"), r.surface.id_prefix
    return expect(isinstance(value, str) and value.startswith(prefix), f"id lacks the {prefix} prefix",
                  f'"{prefix}…"', repr(value))


@check(
    "shape.created",
    title="created is integer Unix seconds, close to now",
    clause=f'{SPEC}.created: integer, format unixtime, "The Unix timestamp (in seconds)"',
    level=Level.MUST,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("created-float", "created-millis"),
    deviations=("D27",),
)
def created(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        value = body.get("created")
        if not isinstance(value, int) or isinstance(value, bool):
            return Fail("created is not an integer", "integer Unix seconds", repr(value), probe)
        sent = r.exchanges[probe].started_at
        if abs(value - sent) > CREATED_WINDOW:
            return Fail(
                "created is not the time of the request in Unix seconds",
                f"within {CREATED_WINDOW}s of {int(sent)}",
                f"{value} ({value - int(sent):+d}s)",
                probe,
            )
    return Pass()


@check(
    "shape.model",
    title="model names the model that was asked for",
    clause=f'{SPEC}.model: "The model used for completion"; a different model means the request was rerouted',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("model-substituted",),
    deviations=("D47",),
)
def model(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        value = body.get("model")
        if not names_model(value, r.model):
            return Fail("the response reports a different model (possible substitution)", repr(r.model),
                        repr(value), probe)
    return Pass()


@check(
    "shape.finish-reason",
    title="finish_reason is stop, length or content_filter",
    clause=f"{SPEC}.choices[].finish_reason: enum [stop, length, content_filter]",
    level=Level.MUST,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("finish-reason-eos",),
    deviations=("D20",),
)
def finish_reason(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        for choice in body.get("choices") or []:
            value = choice.get("finish_reason") if isinstance(choice, dict) else None
            if value not in r.surface.finish_reasons:
                return Fail("non-standard finish_reason", " | ".join(r.surface.finish_reasons), repr(value), probe)
    return Pass()


@check(
    "shape.logprobs-key",
    title="every choice has the logprobs key (null when not requested)",
    clause=f"{SPEC}.choices[]: required [finish_reason, index, logprobs, text]",
    level=Level.MUST,
    feature=FEATURE,
    probes=SHAPE_PROBES,
    fails_on=("logprobs-key-omitted",),
    deviations=("D24",),
)
def logprobs_key(r: Recorded) -> Outcome:
    for probe, body in _ok_bodies(r):
        for choice in body.get("choices") or []:
            if isinstance(choice, dict) and "logprobs" not in choice:
                return Fail("a choice lacks the logprobs key", '"logprobs": null', snippet(repr(choice)), probe)
    return Pass()


@check(
    "shape.usage-present",
    title="usage is reported",
    clause=f"{SPEC}.usage: CompletionUsage (optional in the schema; real OpenAI responses always carry it)",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("basic",),
    fails_on=("usage-missing",),
    seeds="gptnb and xuedingmao mark usage required",
    deviations=("D25",),
)
def usage_present(r: Recorded) -> Outcome:
    usage = r.ok_json("basic").get("usage")
    return expect(isinstance(usage, dict), "no usage object", "usage {prompt_tokens, completion_tokens, total_tokens}",
                  repr(usage))


@check(
    "shape.usage-total",
    title="usage.total_tokens = prompt_tokens + completion_tokens",
    clause='CompletionUsage.total_tokens: "Total number of tokens used in the request (prompt + completion)"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("basic",),
    fails_on=("usage-total-wrong",),
    deviations=("D25", "D30", "D45"),
)
def usage_total(r: Recorded) -> Outcome:
    u = usage_of(r, "basic")
    p, c, t = u.get("prompt_tokens"), u.get("completion_tokens"), u.get("total_tokens")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (p, c, t)):
        return Fail("usage counts are not integers", "three integers", repr(u))
    return expect(t == p + c, "total_tokens is not the sum", f"{p} + {c} = {p + c}", f"total_tokens {t}")


@check(
    "shape.usage-nonzero",
    title="usage counts the prompt and the generated text",
    clause="CompletionUsage: prompt_tokens \"Number of tokens in the prompt\", completion_tokens \"in the generated "
    'completion"',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("basic",),
    fails_on=("usage-zero",),
    deviations=("D25",),
)
def usage_nonzero(r: Recorded) -> Outcome:
    u = usage_of(r, "basic")
    text = r.text("basic")
    prompt_ok = isinstance(u.get("prompt_tokens"), int) and u["prompt_tokens"] > 0
    completion_ok = not text or isinstance(u.get("completion_tokens"), int) and u["completion_tokens"] > 0
    return expect(prompt_ok and completion_ok, "usage reports zero tokens for a non-empty prompt or completion",
                  "prompt_tokens > 0 and completion_tokens > 0", repr(u))


@check(
    "shape.usage-matches-tokens",
    title="completion_tokens equals the number of tokens returned in logprobs",
    clause='CompletionUsage.completion_tokens: "Number of tokens in the generated completion"',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("logprobs",),
    fails_on=("usage-inflated",),
    deviations=("D45",),
)
def usage_matches_tokens(r: Recorded) -> Outcome:
    usage = usage_of(r, "logprobs")
    tokens = r.returned_tokens("logprobs")
    if tokens is None:
        raise Skip("no legacy logprobs tokens to count (see params.logprobs-shape)")
    billed = usage.get("completion_tokens")
    return expect(billed == len(tokens), "billed tokens differ from generated tokens",
                  f"completion_tokens {len(tokens)} (tokens returned)", f"completion_tokens {billed}")


ID_PROBES = ("basic", "greedy", "n", "logprobs", "stream", "stream-usage")


def _response_id(r: Recorded, probe: str) -> Any:
    """The id of a successful answer: the body's, or the first chunk's (stream.id-stable judges the others)."""
    ex = r.exchanges.get(probe)
    if ex is None or not ex.succeeded:
        return None
    if ex.is_json and isinstance(ex.json(), dict):
        return ex.json().get("id")
    first = next((c for c in ex.chunks if isinstance(c, dict)), None)
    return first.get("id") if first is not None else None


@check(
    "shape.id-unique",
    title="every response has its own id, streamed or not",
    clause=f'{SPEC}.id: "A unique identifier for the completion"',
    level=Level.MUST,
    feature=FEATURE,
    probes=ID_PROBES,
    fails_on=("id-reused",),
    deviations=("D19",),
)
def id_unique(r: Recorded) -> Outcome:
    r.ok(ID_PROBES[0])
    seen: dict[str, str] = {}
    for probe in ID_PROBES:
        value = _response_id(r, probe)
        if not isinstance(value, str) or not value:
            continue  # shape.id and stream.id-stable judge a missing id
        if value in seen:
            return Fail("two responses share one id", "a different id per response",
                        f"{value!r} in '{seen[value]}' and '{probe}'", probe)
        seen[value] = probe
    if len(seen) < 2:
        raise Skip(f"fewer than two responses carried an id ({len(seen)})")
    return Pass(f"{len(seen)} responses, {len(seen)} ids")


CHAT_PREAMBLE = re.compile(r"^\s*(sure|certainly|of course|here is|here's|i'm |i am |as an ai|hello!|hi!)", re.I)


@check(
    "shape.raw-continuation",
    title="the prompt is continued as raw text, not answered as a chat message",
    clause='CreateCompletionRequest.prompt: "The prompt(s) to generate completions for" (no chat template applied)',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("greedy",),
    fails_on=("chat-template",),
    deviations=("D16",),
)
def raw_continuation(r: Recorded) -> Outcome:
    text = r.text("greedy")
    return expect(not CHAT_PREAMBLE.match(text), "the completion reads like a chat assistant's reply",
                  'a continuation of "1, 2, 3, 4,"', repr(text))


CHECKS = (content_type, schema, object_, id_, id_prefix, created, model, finish_reason, logprobs_key,
          usage_present, usage_total, usage_nonzero, usage_matches_tokens, raw_continuation, id_unique)


# -- the same on Chat Completions, and the chat message's own members ------------------------------------------

CHAT = Endpoint.CHAT
CHAT_SPEC = "openai-openapi@f85dbe22 CreateChatCompletionResponse"
_SHARED = {  # check: the quirks that prove it on chat
    content_type: ("json-as-sse",), schema: ("chat-refusal-missing",), object_: ("chat-object-text-completion",),
    id_: ("empty-id",), id_prefix: ("chatcmpl-id",), created: ("created-float", "created-millis"),
    model: ("model-substituted",), finish_reason: ("finish-reason-eos",), logprobs_key: ("logprobs-key-omitted",),
    usage_present: ("usage-missing",), usage_total: ("usage-total-wrong",), usage_nonzero: ("usage-zero",),
    usage_matches_tokens: ("usage-inflated",), id_unique: ("id-reused",),
}
_TITLES = {
    schema: "The response validates against CreateChatCompletionResponse",
    object_: 'object is exactly "chat.completion"',
    id_prefix: 'id has OpenAI\'s "chatcmpl-" prefix',
    finish_reason: "finish_reason is stop, length, tool_calls, content_filter or function_call",
}
# chat's answer shape has an entry of its own too (D63: object text_completion, the message without refusal)
_DEVIATIONS = {schema: (*schema.deviations, "D63"), object_: (*object_.deviations, "D63")}
CHAT_CHECKS = tuple(on_endpoint(c, CHAT, fails_on=quirks, clause=c.clause.replace(SPEC, CHAT_SPEC),
                                title=_TITLES.get(c), deviations=_DEVIATIONS.get(c)) for c, quirks in _SHARED.items())
CHECKS += CHAT_CHECKS

MESSAGE_PROBES = tuple(CHAT.probe_id(p) for p in ("basic", "greedy", "n", "tools-named"))


@check(
    "chat.shape.message",
    title="every choice's message is the assistant's: role assistant, a refusal member (null or a string), content "
    "a string unless it called tools",
    clause=f"{CHAT_SPEC}.choices[].message: ChatCompletionResponseMessage requires role (enum [assistant]), content "
    "and refusal (both nullable); content is null when the message carries tool_calls (or a refusal) instead",
    level=Level.MUST,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=MESSAGE_PROBES,
    fails_on=("chat-refusal-missing",),
    deviations=("D63",),
)
def message(r: Recorded) -> Outcome:
    judged = 0
    for probe, body in _ok_bodies(r, MESSAGE_PROBES):
        for choice in body.get("choices") or []:
            found = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(found, dict):
                return Fail("a choice has no message object", "message {role, content, refusal}",
                            snippet(repr(choice)), probe)
            problem = _message_problem(found)
            if problem is not None:
                return Fail(problem, '{"role": "assistant", "content": "…", "refusal": null}', snippet(repr(found)),
                            probe)
            judged += 1
    return Pass(f"{judged} messages")


def _message_problem(message: dict[str, Any]) -> str | None:
    if message.get("role") != "assistant":
        return f"the message's role is {message.get('role')!r}, not \"assistant\""
    if "refusal" not in message:
        return "the message has no refusal member (required, null when the model did not refuse)"
    refusal, content = message["refusal"], message.get("content")
    if refusal is not None and not isinstance(refusal, str):
        return f"refusal is {type(refusal).__name__}, not a string or null"
    if message.get("tool_calls") or isinstance(refusal, str):
        return None if content is None or isinstance(content, str) else "content is neither a string nor null"
    return None if isinstance(content, str) else f"content is {content!r} without tool calls: a string was due"


CHECKS += (message,)
