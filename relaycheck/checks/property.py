"""Property tests: requests generated from the OpenAPI contract by schemathesis, graded like any other check.

The cases are recorded by :mod:`relaycheck.property` as exchanges ``property-<kind>-<i>`` (kind: ``example``,
``positive``, ``negative``) plus a ``property-plan`` entry with the seed. Each check reads every exchange of its
kind; a failure shows the smallest failing request as a curl line (key redacted) and the response, and every
verdict names the seed, so ``RELAYCHECK_PROPERTY_SEED=<seed> relaycheck run`` draws the same cases again.

The same checks judge chat's phase (``chat.property.*``, cases ``chat-property-<kind>-<i>`` drawn from
``openapi/chat.yaml``): a chat view of the recordings reads its own plan and cases by the same short names, and
its own response and chunk schemas.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from relaycheck.checks.model import (
    Fail,
    Inconclusive,
    Level,
    Outcome,
    Pass,
    Recorded,
    Skip,
    check,
    on_endpoint,
    snippet,
)
from relaycheck.endpoint import Endpoint
from relaycheck.property.plan import PLAN_PROBE, PropertyPlan, parse_probe_id
from relaycheck.transport.exchange import DONE, Exchange
from relaycheck.transport.redact import MASK

FEATURE = "property"
DOC = "relaycheck contract (openapi/completions.yaml) POST /completions"
NOT_JUDGED_STATUS = 429  # rate limited even after the client's retries: says nothing about conformance


# -- evidence ----------------------------------------------------------------------------------------------------


def curl(exchange: Exchange) -> str:
    """The recorded request as a curl line, with the headers it was sent with (the recorded headers are redacted:
    the key, and header values read from the environment, are never in it)."""
    words = ["curl -sS -X POST", shlex.quote(exchange.request.url)]
    for name, value in exchange.request.headers.items():
        if name.lower() in _CURL_OMITS:
            continue
        if name.lower() == "authorization" and value == MASK:
            value = f"Bearer {MASK}"
        words.append(f"-H {shlex.quote(f'{name}: {value}')}")
    return " ".join([*words, "--data-raw", _shell_text(exchange.request.body)])


_CURL_OMITS = frozenset({"accept", "accept-encoding"})  # curl's own defaults show the body as it came


def _shell_text(body: str) -> str:
    """A shell word for ``body`` that a terminal and a report show legibly.

    A JSON body is re-encoded ASCII-only (the same JSON value); anything else with unprintable characters is
    written as bash ``$'…'`` with ``\\xHH`` escapes of its UTF-8 bytes, so the exact bytes are replayed.
    """
    if body.isprintable() and body.isascii():
        return shlex.quote(body)
    try:
        return shlex.quote(json.dumps(json.loads(body), ensure_ascii=True))
    except ValueError:
        pass
    raw = body.encode("utf-8", "surrogatepass")  # a lone surrogate is shown as its bytes, never a crash
    escaped = "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in "\\'" else f"\\x{b:02x}" for b in raw)
    return f"$'{escaped}'"


def response_summary(exchange: Exchange) -> str:
    if exchange.status is None:
        return exchange.transport_error or exchange.not_sent or "no answer"
    kind = exchange.headers.get("content-type", "no content-type")
    return f"HTTP {exchange.status} {kind}: {snippet(exchange.text, 300)}"


def _evidence(exchange: Exchange, problem: str | None = None) -> str:
    lines = [curl(exchange), f"-> {response_summary(exchange)}"]
    if problem:
        lines.append(f"problem: {problem}")
    return "\n".join(lines)


def _smallest(failures: list[tuple[Exchange, str | None]]) -> tuple[Exchange, str | None]:
    """The failing case with the shortest request body: the one to reproduce first."""
    return min(failures, key=lambda f: (len(f[0].request.body), _index(f[0].probe)))


def _index(probe: str) -> int:
    parsed = parse_probe_id(probe)
    return parsed[1] if parsed else 0


# -- what the checks read ----------------------------------------------------------------------------------------


def _plan(r: Recorded) -> PropertyPlan:
    ex = r.exchanges.get(PLAN_PROBE)
    if ex is None:
        raise Skip("the property phase was not run (deselected, e.g. with --no-property, or the run predates it)")
    try:
        plan = PropertyPlan.from_exchange(ex)
    except (ValueError, TypeError, KeyError) as exc:
        raise Inconclusive(f"the stored property plan is unreadable: {exc}") from None
    if plan.error:
        raise Inconclusive(f"the property phase failed (seed {plan.seed}): {plan.error}")
    if plan.not_run:
        raise Skip(f"the property phase was not run: {plan.not_run}")
    return plan


def _cases(r: Recorded, kind: str) -> tuple[PropertyPlan, list[Exchange], str]:
    """The answered exchanges of ``kind`` and a note on the ones that could not be judged."""
    plan = _plan(r)
    found = [(parse_probe_id(p), ex) for p, ex in r.exchanges.items()]
    cases = [ex for key, ex in sorted((k, ex) for k, ex in found if k and k[0] == kind)]
    if not cases:
        raise Skip(f"no {kind} case was generated (seed {plan.seed})")
    unsent = [ex for ex in cases if ex.not_sent]
    if len(unsent) == len(cases):
        reasons = sorted({ex.not_sent or "" for ex in unsent})
        raise Skip(f"none of the {len(cases)} {kind} cases was sent: {'; '.join(reasons)} (seed {plan.seed})")
    failed = [ex for ex in cases if not ex.not_sent and (ex.status is None or ex.status == NOT_JUDGED_STATUS)]
    answered = [ex for ex in cases if not ex.not_sent and ex not in failed]
    if not answered:
        first = failed[0]
        raise Inconclusive(f"no {kind} case got a usable answer: {first.transport_error or f'HTTP {first.status}'}")
    notes = []
    if unsent:
        notes.append(f"{len(unsent)} not sent ({'; '.join(sorted({ex.not_sent or '' for ex in unsent}))})")
    if failed:
        notes.append(f"{len(failed)} without a usable answer")
    return plan, answered, f" [{', '.join(notes)}]" if notes else ""


def _set_aside_excused(r: Recorded, cases: list[Exchange], note: str, seed: int) -> tuple[list[Exchange], str]:
    """Valid requests refused for an optional feature the provider refused on its own probe too (graded
    `unsupported` there) are not failed a second time here; the note says how many were set aside, and why."""
    excused = {ex.probe: why for ex in cases if (why := r.excused(ex)) is not None}
    if not excused:
        return cases, note
    kept = [ex for ex in cases if ex.probe not in excused]
    reasons = "; ".join(sorted({why.describe() for why in excused.values()}))
    if not kept:
        raise Skip(f"every case was refused for an unsupported feature: {reasons} (seed {seed})")
    aside = f"{len(excused)} refused because {reasons}"
    return kept, f"{note[:-1]}, {aside}]" if note else f" [{aside}]"


def _schema_problem(r: Recorded, name: str, instance: Any) -> str | None:
    problem = r.schema_problem(name, instance)
    return None if problem is None else f"{name} {problem}"


def _response_problem(r: Recorded, ex: Exchange) -> str | None:
    """Why a 200 answer to a valid request breaks the response schema, or None when it does not."""
    request = ex.request.json()
    streamed = isinstance(request, dict) and request.get("stream") is True
    if not streamed:
        if ex.content_type != "application/json":
            return f"Content-Type is {ex.content_type or 'missing'}, not application/json (stream was not requested)"
        if not ex.is_json:
            return "the body is not one JSON document"
        return _schema_problem(r, r.surface.response, ex.json())
    if ex.content_type != "text/event-stream":
        return f"Content-Type is {ex.content_type or 'missing'}, not text/event-stream (stream: true)"
    if not ex.events:
        return "the stream carried no data event"
    for i, event in enumerate(ex.events):
        if event.data == DONE:
            return None if i > 0 else "[DONE] came before any chunk"
        chunk = ex.chunks[i]
        if chunk is None:
            return f"data event {i} is not JSON: {snippet(event.data, 120)}"
        problem = _schema_problem(r, r.surface.chunk, chunk)
        if problem:
            return f"data event {i}: {problem}"
    return "the stream ended without data: [DONE]"


def _fail(failures: list[tuple[Exchange, str | None]], total: int, what: str, expected: str, seed: int) -> Fail:
    ex, problem = _smallest(failures)
    return Fail(
        f"{len(failures)} of {total} {what} (seed {seed}; smallest failing request shown)",
        expected=expected,
        observed=_evidence(ex, problem),
        probe=ex.probe,
    )


# -- the checks --------------------------------------------------------------------------------------------------


@check(
    "property.positive-accepted",
    title="Valid requests generated from the contract are answered 200",
    clause=f"{DOC}: any body valid against CreateCompletionRequest is answered 200 (schemathesis positive cases, "
    "clamped to max_tokens <= 4, n and best_of <= 2)",
    level=Level.MUST,
    feature=FEATURE,
    probes=(PLAN_PROBE,),  # the plan stands for the whole phase: its cases are read by kind
    fails_on=("integer-temperature",),
    deviations=("D12",),
)
def positive_accepted(r: Recorded) -> Outcome:
    plan, answered, note = _cases(r, "positive")
    answered, note = _set_aside_excused(r, answered, note, plan.seed)
    failures = [(ex, None) for ex in answered if ex.status != 200]
    if failures:
        raise _fail(failures, len(answered), "valid generated requests were not answered 200", "HTTP 200", plan.seed)
    return Pass(f"all {len(answered)} valid generated requests answered 200 (seed {plan.seed}){note}")


@check(
    "property.positive-response-schema",
    title="Answers to generated valid requests validate against the response schema",
    clause=f"{DOC} 200: application/json CreateCompletionResponse; with stream: true, text/event-stream whose every "
    "data payload until [DONE] is a CreateCompletionChunk, ended by data: [DONE]",
    level=Level.MUST,
    feature=FEATURE,
    probes=(PLAN_PROBE,),  # the plan stands for the whole phase: its cases are read by kind
    fails_on=("chat-object", "no-done"),
    deviations=("D18", "D28"),
)
def positive_response_schema(r: Recorded) -> Outcome:
    plan, answered, note = _cases(r, "positive")
    ok = [ex for ex in answered if ex.succeeded]
    if not ok:
        raise Skip(f"no generated valid request got a complete 200 answer (see property.positive-accepted; "
                   f"seed {plan.seed})")
    failures = [(ex, p) for ex in ok if (p := _response_problem(r, ex)) is not None]
    if failures:
        raise _fail(failures, len(ok), "200 answers to generated requests break the response schema",
                    "a body that validates against the contract's 200 response", plan.seed)
    streamed = sum(1 for ex in ok if ex.content_type == "text/event-stream")
    return Pass(f"all {len(ok)} answers validate ({streamed} streamed; seed {plan.seed}){note}")


@check(
    "property.negative-rejected",
    title="Requests that break the contract are rejected with a 4xx",
    clause=f"{DOC}: a body invalid against CreateCompletionRequest (schemathesis negative cases: wrong types, values "
    "out of range, missing required keys, unknown keys, malformed JSON) is a 400, never 200 or 5xx",
    level=Level.MUST,
    feature=FEATURE,
    probes=(PLAN_PROBE,),  # the plan stands for the whole phase: its cases are read by kind
    fails_on=("accept-out-of-range",),
    deviations=("D13",),
)
def negative_rejected(r: Recorded) -> Outcome:
    plan, answered, note = _cases(r, "negative")
    failures = [(ex, plan.why.get(ex.probe)) for ex in answered if not 400 <= (ex.status or 0) < 500]
    if failures:
        raise _fail(failures, len(answered), "invalid generated requests were not rejected with a 4xx",
                    "HTTP 4xx (400 invalid_request_error)", plan.seed)
    return Pass(f"all {len(answered)} invalid generated requests rejected with a 4xx (seed {plan.seed}){note}")


@check(
    "property.negative-envelope",
    title="Rejections of generated invalid requests carry the OpenAI error envelope",
    clause=f"{DOC} 4xx: application/json ErrorResponse {{error: {{message, type, param, code}}}}",
    level=Level.MUST,
    feature=FEATURE,
    probes=(PLAN_PROBE,),  # the plan stands for the whole phase: its cases are read by kind
    fails_on=("errors-flat",),
    deviations=("D38",),
)
def negative_envelope(r: Recorded) -> Outcome:
    plan, answered, note = _cases(r, "negative")
    rejected = [ex for ex in answered if 400 <= (ex.status or 0) < 500 and not ex.truncated]
    if not rejected:
        raise Skip(f"no generated invalid request was rejected with a 4xx (see property.negative-rejected; "
                   f"seed {plan.seed})")
    failures = []
    for ex in rejected:
        if ex.content_type != "application/json" or not ex.is_json:
            failures.append((ex, f"Content-Type {ex.content_type or 'missing'}, body {'is' if ex.is_json else 'not'} "
                                 "JSON; expected an application/json ErrorResponse"))
        elif (problem := _schema_problem(r, "ErrorResponse", ex.json())) is not None:
            failures.append((ex, problem))
    if failures:
        raise _fail(failures, len(rejected), "rejections lack the OpenAI error envelope",
                    "application/json ErrorResponse", plan.seed)
    return Pass(f"all {len(rejected)} rejections carry the error envelope (seed {plan.seed}){note}")


@check(
    "property.examples",
    title="The contract's own request examples are answered 200 with a schema-valid body",
    clause=f"{DOC}: requestBody examples (official, streaming_with_usage) and property examples, clamped to "
    "max_tokens <= 4",
    level=Level.MUST,
    feature=FEATURE,
    probes=(PLAN_PROBE,),  # the plan stands for the whole phase: its cases are read by kind
    fails_on=("chat-object", "reject-explicit-defaults"),
    deviations=("D04", "D18"),
)
def examples(r: Recorded) -> Outcome:
    plan, answered, note = _cases(r, "example")
    answered, note = _set_aside_excused(r, answered, note, plan.seed)
    failures: list[tuple[Exchange, str | None]] = []
    for ex in answered:
        if ex.status != 200:
            failures.append((ex, f"HTTP {ex.status} for a request the document itself gives as an example"))
        elif ex.succeeded and (problem := _response_problem(r, ex)) is not None:
            failures.append((ex, problem))
    if failures:
        raise _fail(failures, len(answered), "document examples failed", "HTTP 200 and a schema-valid body",
                    plan.seed)
    return Pass(f"all {len(answered)} document examples answered 200 and validate (seed {plan.seed}){note}")


CHAT = Endpoint.CHAT
CHAT_DOC = "relaycheck contract (openapi/chat.yaml) POST /chat/completions"
_CHAT = {  # check: (the quirks that prove it on chat, its deviations there, its clause there)
    positive_accepted: (("integer-temperature",), ("D12",), f"{CHAT_DOC}: any body valid against "
                        "CreateChatCompletionRequest and its x-rules is answered 200 (schemathesis positive cases, "
                        "conversations in valid role order, clamped to one completion bound <= 4, n <= 2, at most 3 "
                        "short messages and 2 small tools)"),
    positive_response_schema: (("chat-object-text-completion", "no-done"), ("D63", "D28"),
                               f"{CHAT_DOC} 200: application/json CreateChatCompletionResponse; with stream: true, "
                               "text/event-stream whose every data payload until [DONE] is a "
                               "CreateChatCompletionStreamResponse, ended by data: [DONE]"),
    negative_rejected: (("accept-out-of-range", "chat-lax-validation"), ("D13",), f"{CHAT_DOC}: a body invalid "
                        "against CreateChatCompletionRequest or breaking one of its x-rules (role order, named tools, "
                        "one completion bound, JSON mode) is a 400, never 200 or 5xx"),
    negative_envelope: (("errors-flat",), ("D38",), f"{CHAT_DOC} 4xx: application/json ErrorResponse "
                        "{error: {message, type, param, code}}"),
    examples: (("chat-object-text-completion",), ("D63",), f"{CHAT_DOC}: requestBody examples (official, "
               "streaming, functions, logprobs, streaming_with_usage), clamped to max_completion_tokens <= 4"),
}
CHAT_CHECKS = tuple(on_endpoint(c, CHAT, fails_on=quirks, deviations=deviations, clause=clause)
                    for c, (quirks, deviations, clause) in _CHAT.items())
CHECKS = (positive_accepted, positive_response_schema, negative_rejected, negative_envelope, examples, *CHAT_CHECKS)
