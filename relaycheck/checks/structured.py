"""Structured outputs on Chat Completions (feature ``chat.structured``): ``response_format`` honoured, not accepted.

JSON mode (``json_object``) "ensures the message the model generates is valid JSON"; Structured Outputs
(``json_schema``) "ensures the model will match your supplied JSON schema" (openai-openapi@f85dbe22
CreateChatCompletionRequest.response_format). What relays do instead (docs/deviations.md D57): accept the field and
answer in prose, or wrap the JSON in a markdown fence (Kimi), which no JSON parser reads.

What these checks do not fail:
- a clean refusal of the format (OpenAI itself refuses ``json_schema`` on models without Structured Outputs, and
  llama-cpp-python does not serve it): `unsupported`;
- an answer cut by ``max_completion_tokens`` (``finish_reason: "length"``): its JSON is incomplete by the
  definition's own account ("the JSON may be partial"), which says nothing of the provider; skipped, naming the room;
- a model's refusal (``message.refusal`` set, content null), which Structured Outputs allows in place of the JSON.

The JSON helpers here (:func:`json_value`, :func:`schema_violation`) also judge tool-call arguments
(``relaycheck.checks.tools``).
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from relaycheck.checks.model import (
    Fail,
    Level,
    Outcome,
    Pass,
    Recorded,
    Refused,
    Skip,
    check,
    snippet,
)
from relaycheck.checks.modes import refused_only_streamed
from relaycheck.transport import safejson

FEATURE = "chat.structured"
SPEC = "openai-openapi@f85dbe22 CreateChatCompletionRequest.response_format"
FENCE = re.compile(r"^\s*```")


class NotJson(ValueError):
    """Text that is not one JSON value, with what makes it so (a fence, prose, a cut)."""


def json_value(text: Any) -> Any:
    """The one JSON value ``text`` is (surrounding whitespace allowed, as JSON allows it); NotJson says why not."""
    if not isinstance(text, str):
        raise NotJson(f"not a string but {type(text).__name__}: {snippet(repr(text), 80)}")
    if FENCE.match(text):
        raise NotJson(f"JSON wrapped in a markdown fence: {snippet(text, 80)}")
    try:
        return safejson.loads(text)
    except ValueError as why:
        raise NotJson(f"not JSON ({snippet(str(why), 60)}): {snippet(text, 80)}") from None


def schema_violation(schema: Any, value: Any) -> str | None:
    """Where ``value`` breaks the JSON Schema the request supplied (draft 2020-12), and how; None when it validates.
    A schema that is not one (the provider cannot be held to it) is no violation."""
    if not isinstance(schema, dict):
        return None
    try:
        error = best_match(jsonschema.Draft202012Validator(schema).iter_errors(value))
    except jsonschema.SchemaError:
        return None
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {snippet(error.message, 160)}"


def cut_short(probe: str, what: str) -> Skip:
    """The skip for an answer ``max_completion_tokens`` cut: incomplete JSON is the cap's doing, not a deviation."""
    return Skip(f"'{probe}' ended with finish_reason length: {what} cut by max_completion_tokens, which says "
                "nothing of the provider (relaycheck's room for it was too small for this model)")


def _json_begun(text: Any) -> bool:
    """Text that opens a JSON object or array: cut short, it is truncated JSON; prose cut short is still prose."""
    return isinstance(text, str) and text.lstrip()[:1] in ("{", "[")


def _requested_schema(r: Recorded, probe: str) -> Any:
    body = r.exchange(probe).request.json()
    response_format = body.get("response_format") if isinstance(body, dict) else None
    json_schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
    return json_schema.get("schema") if isinstance(json_schema, dict) else None


def _structured(r: Recorded, probe: str, plain: str | None = None) -> Outcome:
    """Each choice of ``probe`` is a JSON object (validating against the request's schema, when it gave one)."""
    try:
        answers = r.answers(probe)
    except Refused as refused:
        if plain is None:
            raise
        raise refused_only_streamed(r, refused, {probe: plain}) from None
    schema = _requested_schema(r, probe)
    for answer in answers:
        if answer.content is None and isinstance(answer.refusal, str) and answer.refusal:
            raise Skip(f"the model refused instead of answering (message.refusal {snippet(answer.refusal, 80)!r}), "
                       "which Structured Outputs allows")
        try:
            value = json_value(answer.content)
        except NotJson as why:
            if answer.finish_reason == "length" and _json_begun(answer.content):
                raise cut_short(probe, "the JSON was") from None
            return Fail("response_format was not honoured: the content is not JSON", "the content as one JSON "
                        "object", str(why), probe)
        if not isinstance(value, dict):
            return Fail("the content is JSON but not an object", "a JSON object", snippet(answer.content, 120), probe)
        problem = schema_violation(schema, value)
        if problem is not None:
            return Fail("the content does not match the supplied JSON schema", "content valid against "
                        "response_format.json_schema.schema", f"{problem}; content {snippet(answer.content, 100)}",
                        probe)
    return Pass(observed=snippet(answers[0].content or "", 120))


@check(
    "chat.structured.json-object",
    title="response_format json_object: the content is one JSON object (no prose, no markdown fence)",
    clause=f'{SPEC}: "Setting to {{ "type": "json_object" }} enables JSON mode, which ensures the message the model '
    'generates is valid JSON" (ResponseFormatJsonObject)',
    level=Level.MUST,
    feature=FEATURE,
    probes=("chat-json-object",),
    deviations=("D57",),
    refusable=True,  # models without JSON mode (gpt-4-0613) are refused by OpenAI itself
    fails_on=("json-object-ignored", "json-fenced"),
)
def json_object(r: Recorded) -> Outcome:
    return _structured(r, "json-object")


@check(
    "chat.structured.json-schema",
    title="response_format json_schema (strict): the content validates against the supplied schema",
    clause=f'{SPEC}: "Setting to {{ "type": "json_schema", "json_schema": {{...}} }} enables Structured Outputs which '
    'ensures the model will match your supplied JSON schema" (ResponseFormatJsonSchema)',
    level=Level.MUST,
    feature=FEATURE,
    probes=("chat-json-schema",),
    deviations=("D57",),
    refusable=True,  # OpenAI refuses json_schema on models without Structured Outputs; llama-cpp-python serves none
    fails_on=("json-schema-ignored", "json-fenced"),
)
def json_schema(r: Recorded) -> Outcome:
    return _structured(r, "json-schema")


@check(
    "chat.structured.stream-json-schema",
    title="response_format json_schema streamed: the assembled content validates against the supplied schema",
    clause=f"{SPEC} (ResponseFormatJsonSchema); stream only changes how the message is delivered: openai-python's "
    "ChatCompletionStreamState parses the accumulated content with the same response_format",
    level=Level.MUST,
    feature=FEATURE,
    probes=("chat-stream-json-schema", "chat-json-schema"),
    deviations=("D57",),
    refusable=True,
    fails_on=("json-schema-ignored", "json-fenced"),
)
def stream_json_schema(r: Recorded) -> Outcome:
    return _structured(r, "stream-json-schema", plain="json-schema")


CHECKS = (json_object, json_schema, stream_json_schema)
