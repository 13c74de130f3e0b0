"""Errors and authentication: client mistakes get a 4xx with the OpenAI envelope, never 200, HTML or 5xx.

Every check here judges both endpoints: each reads its probes by their short names (``error-wrong-key`` is chat's
``chat-error-wrong-key``) and the error probes of its own endpoint; chat's own mistakes (tool and role rules,
``top_logprobs`` without ``logprobs``) have checks of their own at the end.
"""

from __future__ import annotations

import re

from relaycheck.checks.model import (
    Check,
    Fail,
    Level,
    Outcome,
    Pass,
    Recorded,
    Skip,
    check,
    error_envelope,
    expect,
    on_endpoint,
    route_missing,
    snippet,
)
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import UNKNOWN_PARAM, probes_of

FEATURE = "errors"
ERROR_SPEC = "openai-openapi@f85dbe22 ErrorResponse {error: Error{message, type, param, code}}"
CHAT = Endpoint.CHAT


def error_probes(endpoint: Endpoint) -> tuple[str, ...]:
    return tuple(p.id for p in probes_of(endpoint) if p.is_error_probe())


ERROR_PROBES = error_probes(Endpoint.COMPLETIONS)
OPENAI_ERROR_TYPES = frozenset({
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error", "rate_limit_error",
    "insufficient_quota", "server_error", "api_error", "requests", "tokens", "service_unavailable_error",
})


def _answered(r: Recorded) -> list[tuple[str, int]]:
    """(probe, status) of every error probe that got an answer."""
    out = []
    probes = error_probes(r.endpoint)
    for probe in probes:
        ex = r.exchanges.get(probe)
        if ex is not None and ex.status is not None:
            out.append((probe, ex.status))
    if not out:
        r.exchange(probes[0])  # raises the right early-out (skipped / error)
    return out


def _status(r: Recorded, probe: str) -> tuple[int, str]:
    ex = r.exchange(probe)
    return int(ex.status or 0), f"HTTP {ex.status} {ex.content_type or ''}: {snippet(ex.text, 160)}"


def _rejects(
    probe: str, field: str, what: str, clause: str, deviations: tuple[str, ...], fails_on: str, seeds: str = ""
) -> Check:
    def rejected(r: Recorded) -> Outcome:
        status, observed = _status(r, probe)
        if route_missing(r.exchange(probe)):  # the route refused it, not the endpoint: no verdict on the input
            return Fail(f"{what} was answered by a missing route, not refused by the endpoint",
                        "HTTP 400 with the error envelope", observed, probe)
        return expect(400 <= status < 500, f"{what} was not rejected with a 4xx", "HTTP 400 (4xx)", observed, probe)

    return check(
        f"errors.rejects-{field}",
        title=f"{what} is rejected with a 4xx",
        clause=clause,
        level=Level.MUST,
        feature=FEATURE,
        probes=(probe,),
        fails_on=(fails_on,),
        seeds=seeds,
        deviations=deviations,
    )(rejected)


REQ = "openai-openapi@f85dbe22 CreateCompletionRequest"
rejects_temperature = _rejects("error-temperature", "temperature", "temperature 2.5",
                               f"{REQ}.temperature: maximum 2", ("D13",), "accept-out-of-range",
                               "gptnb types temperature as integer")
rejects_top_p = _rejects("error-top-p", "top-p", "top_p 1.5", f"{REQ}.top_p: maximum 1", ("D13",),
                         "accept-out-of-range")
rejects_n = _rejects("error-n", "n", "n 0", f"{REQ}.n: minimum 1", ("D13",), "accept-out-of-range")
rejects_logprobs = _rejects("error-logprobs", "logprobs", "logprobs 6",
                            f'{REQ}.logprobs: maximum 5 ("The maximum value for logprobs is 5")', ("D13",),
                            "accept-out-of-range")
rejects_stop_count = _rejects("error-stop-count", "stop-count", "a list of 5 stop sequences",
                              "StopConfiguration: array maxItems 4", ("D13",), "accept-out-of-range")
rejects_best_of = _rejects("error-best-of", "best-of-below-n", "best_of 1 with n 2",
                           f'{REQ}.best_of: "best_of must be greater than n"', ("D05",), "no-best-of-n-rule")
rejects_missing_prompt = _rejects("error-missing-prompt", "missing-prompt", "a request without prompt",
                                  f"{REQ}: required [model, prompt]", ("D10",), "one-api-prompt-validation",
                                  "gptnb marks prompt optional")
rejects_missing_model = _rejects("error-missing-model", "missing-model", "a request without model",
                                 f"{REQ}: required [model, prompt]", ("D10",), "default-model-when-missing")
rejects_malformed = _rejects("error-malformed-json", "malformed-json", "a body that is not JSON",
                             "requestBody application/json (a client error, never a server error)", ("D42",),
                             "malformed-json-500")


def _auth(probe: str, what: str) -> Check:
    def unauthorized(r: Recorded) -> Outcome:
        status, observed = _status(r, probe)
        return expect(status == 401, f"{what} was not answered 401", "HTTP 401", observed, probe)

    return check(
        f"errors.auth-{probe.removeprefix('error-')}",
        title=f"{what} gets 401",
        clause="securitySchemes ApiKeyAuth (http bearer); openai-python maps 401 to AuthenticationError",
        level=Level.MUST,
        feature=FEATURE,
        probes=(probe,),
        fails_on=("no-auth",),
        deviations=("D42",),
    )(unauthorized)


auth_no_key = _auth("error-no-key", "a request without a key")
auth_wrong_key = _auth("error-wrong-key", "a request with a wrong key")


@check(
    "errors.unknown-model",
    title="an unknown model gets 404 (or 400 naming the model)",
    clause="OpenAI: unknown model → 404 code model_not_found; openai-python maps 404 to NotFoundError",
    level=Level.MUST,
    feature=FEATURE,
    probes=("error-unknown-model",),
    fails_on=("unknown-model-503", "model-fallback"),
    deviations=("D40", "D42"),
)
def unknown_model(r: Recorded) -> Outcome:
    ex = r.exchange("error-unknown-model")
    status, observed = _status(r, "error-unknown-model")
    if status == 404:
        return Pass(observed=observed)
    envelope = error_envelope(ex) or {}
    mentions_model = "model" in f"{envelope.get('code')} {envelope.get('param')} {envelope.get('message')}".lower()
    return expect(status == 400 and mentions_model, "an unknown model was not refused as such",
                  "HTTP 404 (or 400 with a model error code)", observed, "error-unknown-model")


@check(
    "errors.envelope",
    title='every error body is {"error": {message, type, param, code}}',
    clause=f"{ERROR_SPEC}; Error requires type, message, param, code",
    level=Level.MUST,
    feature=FEATURE,
    probes=ERROR_PROBES,
    fails_on=("errors-flat", "unknown-model-503"),
    deviations=("D38", "D39", "D42"),
)
def envelope(r: Recorded) -> Outcome:
    for probe, status in _answered(r):
        if status < 400:
            continue
        ex = r.exchanges[probe]
        problem = r.schema_problem("ErrorResponse", ex.json()) if ex.is_json else "not JSON"
        if problem is not None:
            return Fail(f"HTTP {status} body is not the OpenAI error envelope ({problem})",
                        '{"error": {"message", "type", "param", "code"}}', snippet(ex.text, 200), probe)
    return Pass()


@check(
    "errors.fields-typed",
    title="error code is a string or null, type an OpenAI error type",
    clause=f"{ERROR_SPEC}: code anyOf string/null; types as in OpenAI's error-code guide",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=ERROR_PROBES,
    fails_on=("errors-int-code",),
    deviations=("D39",),
)
def fields_typed(r: Recorded) -> Outcome:
    for probe, status in _answered(r):
        envelope_ = error_envelope(r.exchanges[probe]) if status >= 400 else None
        if envelope_ is None:
            continue
        code, type_ = envelope_.get("code"), envelope_.get("type")
        if not (code is None or isinstance(code, str)) or type_ not in OPENAI_ERROR_TYPES:
            return Fail("non-OpenAI error code or type", "code string|null, type e.g. invalid_request_error",
                        f"code {code!r}, type {type_!r}", probe)
    return Pass()


@check(
    "errors.never-200",
    title="an error is never answered with HTTP 200",
    clause="HTTP semantics and openai-python: a 2xx is parsed as a completion; errors must carry a 4xx/5xx status",
    level=Level.MUST,
    feature=FEATURE,
    probes=ERROR_PROBES,
    fails_on=("errors-200",),
    deviations=("D40",),
)
def never_200(r: Recorded) -> Outcome:
    for probe, status in _answered(r):
        ex = r.exchanges[probe]
        if 200 <= status < 300 and (error_envelope(ex) is not None or "text/html" in ex.content_type):
            return Fail("an error came with a success status", "HTTP 4xx", f"HTTP {status}: {snippet(ex.text, 160)}",
                        probe)
    return Pass()


@check(
    "errors.not-html",
    title="error bodies are JSON, never an HTML page",
    clause=f"{ERROR_SPEC}: content application/json",
    level=Level.MUST,
    feature=FEATURE,
    probes=ERROR_PROBES,
    fails_on=("errors-html",),
    deviations=("D40", "D41"),
)
def not_html(r: Recorded) -> Outcome:
    for probe, status in _answered(r):
        ex = r.exchanges[probe]
        if status >= 400 and ("html" in ex.content_type or ex.text.lstrip().lower().startswith("<!doctype html")):
            return Fail("an error came as an HTML page", "application/json error envelope",
                        f"HTTP {status} {ex.content_type}: {snippet(ex.text, 120)}", probe)
    return Pass()


@check(
    "errors.client-not-5xx",
    title="a client mistake never gets a 5xx",
    clause="openai-python retries every 5xx: a client mistake answered 5xx is retried in vain",
    level=Level.MUST,
    feature=FEATURE,
    probes=ERROR_PROBES,
    fails_on=("errors-500", "malformed-json-500"),
    deviations=("D41", "D42"),
)
def client_not_5xx(r: Recorded) -> Outcome:
    for probe, status in _answered(r):
        if status >= 500:
            ex = r.exchanges[probe]
            return Fail("a client mistake was answered as a server error", "HTTP 4xx",
                        f"HTTP {status}: {snippet(ex.text, 160)}", probe)
    return Pass()


PARAM_PROBES = {"error-temperature": "temperature", "error-top-p": "top_p", "error-n": "n",
                "error-logprobs": "logprobs", "error-stop-count": "stop"}
# chat's, by short name: its logprobs limit is top_logprobs'
CHAT_PARAM_PROBES = {"error-temperature": "temperature", "error-n": "n", "error-top-logprobs": "top_logprobs",
                     "error-stop-count": "stop"}


@check(
    "errors.param-named",
    title="a rejected field is named in error.param",
    clause=f"{ERROR_SPEC}: param names the offending parameter",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=tuple(PARAM_PROBES),
    fails_on=("errors-param-null",),
    deviations=("D39",),
)
def param_named(r: Recorded) -> Outcome:
    checked = 0
    for probe, field in (CHAT_PARAM_PROBES if r.endpoint is CHAT else PARAM_PROBES).items():
        ex = r.exchanges.get(probe)
        envelope_ = error_envelope(ex) if ex is not None and (ex.status or 0) >= 400 else None
        if envelope_ is None:
            continue  # not a 4xx envelope: the rejects-* and envelope checks say so
        checked += 1
        if envelope_.get("param") != field:
            return Fail("error.param does not name the field", repr(field), repr(envelope_.get("param")), probe)
    if not checked:
        raise Skip("no 4xx error envelope to read a param from (see errors.rejects-* and errors.envelope)")
    return Pass(f"{checked} rejections name their field")


# -- live (issue 17): what the Portkey gateway showed -------------------------------------------------------


@check(
    "errors.rejects-unknown-param",
    title="an unknown request parameter is rejected with a 4xx, not silently dropped",
    clause=f'{REQ} (relaycheck contract: additionalProperties false): OpenAI answers 400 "Unrecognized request '
    'argument supplied: <name>" (observed, e.g. https://github.com/coroot/coroot/issues/698); the official '
    "document does not say so, hence SHOULD",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("error-unknown-param",),
    fails_on=("drop-unknown-params",),
    deviations=("D02",),
)
def rejects_unknown_param(r: Recorded) -> Outcome:
    # A relay that re-serialises requests through its own struct drops what it does not know; the next real
    # parameter it does not know yet (stream_options once) is dropped the same way, and the client never hears.
    status, observed = _status(r, "error-unknown-param")
    return expect(400 <= status < 500, f"the unknown parameter '{UNKNOWN_PARAM}' was not rejected (silently "
                  "dropped or ignored)", 'HTTP 400 "Unrecognized request argument supplied"', observed,
                  "error-unknown-param")


@check(
    "errors.missing-model-substituted",
    title="a request without model is not served by a model nobody asked for",
    clause=f"{REQ}: required [model, prompt]; CreateCompletionResponse.model: \"The model used for completion\" — "
    "a 200 naming a model the client never chose is a silent substitution (the Portkey gateway fills in "
    "text-davinci-003); SHOULD, as errors.rejects-missing-model already grades the status",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("error-missing-model",),
    fails_on=("default-model-when-missing",),
    deviations=("D10",),
)
def missing_model_substituted(r: Recorded) -> Outcome:
    ex = r.exchange("error-missing-model")
    if ex.status != 200:
        if 400 <= (ex.status or 0) < 500:
            return Pass(observed=f"HTTP {ex.status}: rejected, no model was chosen for the client")
        raise Skip(f"HTTP {ex.status}: not served, not rejected either (see errors.rejects-missing-model)")
    body = ex.json()
    served = body.get("model") if isinstance(body, dict) else None
    return Fail("a request without model was served by a default model, silently",
                "HTTP 400 (no model chosen for the client)",
                f"HTTP 200, served by model {served!r}" if served is not None else "HTTP 200 without a model field",
                "error-missing-model")


CHECKS = (auth_no_key, auth_wrong_key, unknown_model, rejects_temperature, rejects_top_p, rejects_n, rejects_logprobs,
          rejects_stop_count, rejects_best_of, rejects_missing_prompt, rejects_missing_model, rejects_malformed,
          envelope, fields_typed, never_200, not_html, client_not_5xx, param_named,
          rejects_unknown_param, missing_model_substituted)


# -- errors leak nothing internal (issue 12, part 2) ------------------------------------------------------------

# What a server's internals look like when they reach a client: a Python traceback or frame, a Java stack frame,
# a Go panic or struct name, a source path, an exception class name. OpenAI's messages carry none of these.
LEAKS = (
    ("a Python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("a Python stack frame", re.compile(r'File "[^"]+", line \d+')),
    ("a Java stack frame", re.compile(r"\bat [a-z][\w$]*(?:\.[\w$]+)+\([\w$]*\.java:\d+\)")),
    ("a Go panic", re.compile(r"goroutine \d+ \[|panic: runtime error")),
    ("a Go type", re.compile(r"Go (?:struct field|value of type)")),
    ("a source path", re.compile(r"(?:/[\w.-]+)+\.(?:py|go|java|js|ts|rs|cpp|rb):\d+|site-packages/|node_modules/")),
    ("an exception name", re.compile(r"\b(?:[A-Z][a-z0-9]+)+(?:Error|Exception)\b(?=[:(\s]|$)")),
)




def _error_messages(r: Recorded) -> list[tuple[str, str]]:
    """(probe, message) for every error answer to a hand-written probe: envelopes, and error events in streams.

    Generated (property) cases are left out: their messages may echo generated input, which proves nothing.
    """
    found = []
    hand_written = {p.id for p in probes_of(r.endpoint)}
    for probe, ex in r.exchanges.items():
        if probe not in hand_written:
            continue
        if ex.status is not None and ex.status >= 400:
            envelope_ = error_envelope(ex)
            found.append((probe, str(envelope_.get("message")) if envelope_ else ex.text[:2000]))
        for chunk in ex.chunks if ex.status == 200 else ():
            if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
                found.append((probe, str(chunk["error"].get("message", ""))))
    return found


@check(
    "errors.no-internals",
    title="error messages carry no traceback, source path or exception name",
    clause=f"{ERROR_SPEC}: message is a human-readable description (OpenAI's never expose the server's stack); "
    "an exposed stack tells the buyer the vendor's internals",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=ERROR_PROBES,
    # D48 first, what it tests (tracebacks, paths, exception names); D01: one-api/new-api answer with Go's decoder
    # error, naming their request struct
    deviations=("D48", "D01"),
    fails_on=("logprobs-bool", "errors-traceback"),
)
def no_internals(r: Recorded) -> Outcome:
    messages = _error_messages(r)
    if not messages:
        raise Skip("no error answer was recorded")
    for probe, message in messages:
        for what, pattern in LEAKS:
            hit = pattern.search(message)
            if hit:
                return Fail(f"an error message exposes {what}", "a message without server internals",
                            snippet(message[max(0, hit.start() - 60):], 200), probe)
    return Pass(f"{len(messages)} error messages, none exposing internals")


CHECKS += (no_internals,)


# -- the same on Chat Completions, and chat's own mistakes -------------------------------------------------------

CHAT_REQ = "openai-openapi@f85dbe22 CreateChatCompletionRequest"
_SHARED = {  # check: the quirks that prove it on chat
    auth_no_key: ("no-auth",), auth_wrong_key: ("no-auth",), unknown_model: ("unknown-model-503", "model-fallback"),
    rejects_temperature: ("accept-out-of-range",), rejects_n: ("accept-out-of-range",),
    rejects_stop_count: ("accept-out-of-range",), rejects_missing_model: ("default-model-when-missing",),
    rejects_malformed: ("malformed-json-500",), envelope: ("errors-flat", "unknown-model-503"),
    fields_typed: ("errors-int-code",), never_200: ("errors-200",), not_html: ("errors-html",),
    client_not_5xx: ("errors-500", "malformed-json-500"), param_named: ("errors-param-null",),
    rejects_unknown_param: ("drop-unknown-params",), missing_model_substituted: ("default-model-when-missing",),
    no_internals: ("errors-traceback",),
}


def _chat_probes(shared: Check) -> tuple[str, ...] | None:
    """What the chat twin of ``shared`` reads, where that is not the same short names."""
    if shared.probes == ERROR_PROBES:
        return error_probes(CHAT)
    return tuple(CHAT_PARAM_PROBES) if shared is param_named else None


CHAT_CHECKS = tuple(on_endpoint(c, CHAT, fails_on=quirks, probes=_chat_probes(c)) for c, quirks in _SHARED.items())


def _chat_rejects(probe: str, field: str, what: str, clause: str, deviations: tuple[str, ...],
                  fails_on: str) -> Check:
    return on_endpoint(_rejects(probe, field, what, clause, deviations, fails_on), CHAT, fails_on=(fails_on,))


CHAT_CHECKS += (
    _chat_rejects("error-top-logprobs", "top-logprobs", "top_logprobs 21",
                  f"{CHAT_REQ}.top_logprobs: integer, minimum 0, maximum 20", ("D13",), "accept-out-of-range"),
    _chat_rejects("error-top-logprobs-alone", "top-logprobs-alone", "top_logprobs without logprobs: true",
                  f'{CHAT_REQ}.top_logprobs: "logprobs must be set to true if this parameter is used"', ("D13",),
                  "chat-lax-validation"),
    _chat_rejects("error-stream-options", "stream-options", "stream_options without stream",
                  f'{CHAT_REQ}.stream_options: "Only set this when you set stream: true"', ("D13",),
                  "chat-lax-validation"),
    _chat_rejects("error-missing-messages", "missing-messages", "a request without messages",
                  f"{CHAT_REQ}: required [model, messages]", ("D10", "D13"), "chat-lax-validation"),
    _chat_rejects("error-empty-messages", "empty-messages", "an empty messages array",
                  f"{CHAT_REQ}.messages: array, minItems 1", ("D10", "D13"), "chat-lax-validation"),
    _chat_rejects("error-bad-role", "bad-role", "a message of an unknown role",
                  f"{CHAT_REQ}.messages[]: oneOf the developer, system, user, assistant, tool, function messages",
                  ("D13",), "chat-lax-validation"),
    _chat_rejects("error-tool-order", "tool-order", "a tool message that answers no tool call",
                  "OpenAI: 400 \"messages with role 'tool' must be a response to a preceding message with "
                  "'tool_calls'\" (param messages.[1].role)", ("D13",), "chat-lax-validation"),
    _chat_rejects("error-tool-choice-no-tools", "tool-choice-no-tools", "tool_choice required without tools",
                  f'{CHAT_REQ}.tool_choice: "none is the default when no tools are present"; a choice needs tools',
                  ("D13",), "chat-lax-validation"),
    _chat_rejects("error-tool-choice-unknown", "tool-choice-unknown", "a named tool_choice naming no declared tool",
                  "ChatCompletionNamedToolChoice: forces the model to call that (declared) function", ("D13",),
                  "chat-lax-validation"),
)
CHECKS += CHAT_CHECKS
