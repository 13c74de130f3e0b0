"""Streaming: data-only server-sent events of chunks shaped as the answer, ended by ``data: [DONE]``.

The SSE framing the spec allows in any form (comments, CRLF, no space after ``data:``, ``id:``/``retry:``
lines) is normalised by the parser before these checks look, so none of it can fail a provider.

Both endpoints stream the same way, so every framing check here judges both: each reads its endpoint's streamed
probes (short names starting with ``stream``) and its endpoint's chunk schema and object (``Recorded.surface``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from relaycheck.checks.model import (
    Answer,
    Check,
    Fail,
    Inconclusive,
    Level,
    Outcome,
    Pass,
    Recorded,
    Refused,
    Skip,
    check,
    error_envelope,
    expect,
    on_endpoint,
    snippet,
)
from relaycheck.checks.modes import refused_only_streamed
from relaycheck.checks.params import CHAT_STREAMED, TWINS
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import probes_of
from relaycheck.probes.model_list import names_model
from relaycheck.transport import safejson
from relaycheck.transport.exchange import DONE, Exchange

FEATURE = "stream"
SPEC = "openai-openapi@f85dbe22 CreateCompletionRequest.stream"
CHAT = Endpoint.CHAT


def twin_probes(endpoint: Endpoint) -> tuple[tuple[str, str], ...]:
    """Streamed twins of plain probes (the same body with stream: true), as (streamed, plain) pairs."""
    return tuple((p.id, p.streams) for p in probes_of(endpoint) if p.streams is not None)


def streams_of(endpoint: Endpoint) -> tuple[str, ...]:
    """Every streamed probe of ``endpoint`` (their short names start with ``stream``), the plain stream first."""
    return tuple(p.id for p in probes_of(endpoint) if p.id.removeprefix(endpoint.probe_prefix).startswith("stream"))


TWIN_PROBES = twin_probes(Endpoint.COMPLETIONS)
STREAMS = streams_of(Endpoint.COMPLETIONS)


def _streams(r: Recorded, probes: tuple[str, ...] | None = None) -> list[Exchange]:
    """The first stream must have succeeded; later ones add evidence when they did."""
    probes = probes or streams_of(r.endpoint)
    found = [r.stream(probes[0])]
    for probe in probes[1:]:
        ex = r.exchanges.get(probe)
        if ex is not None and ex.succeeded:
            found.append(ex)
    return found


def _chunked(r: Recorded) -> list[Exchange]:
    """The streams that carried chunks: one without any (an empty 200 body) is stream.data-json's finding, not a
    chunk's object or id."""
    found = [ex for ex in _streams(r) if _dict_chunks(ex)]
    if not found:
        raise Skip("no stream carried a chunk (see stream.data-json)")
    return found


def _dict_chunks(ex: Exchange) -> list[dict[str, Any]]:
    return [c for c in ex.chunks if isinstance(c, dict)]


def _choices(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    choices = chunk.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


@check(
    "stream.content-type",
    title="a streamed response is served as text/event-stream",
    clause=f'{SPEC}: "tokens will be sent as data-only server-sent events"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("stream",),
    fails_on=("sse-as-json",),
    deviations=("D37",),
)
def content_type(r: Recorded) -> Outcome:
    ex = r.stream("stream")
    observed = f"{ex.headers.get('content-type', 'none')}: {snippet(ex.text, 100)}"
    return expect(ex.content_type == "text/event-stream", "the stream is not served as server-sent events",
                  "Content-Type text/event-stream", observed)


@check(
    "stream.data-json",
    title="every data line before [DONE] is one JSON object",
    clause="openai-python _streaming.py: each data payload is decoded as JSON until [DONE]",
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("non-json-data-line",),
    deviations=("D35",),
)
def data_json(r: Recorded) -> Outcome:
    for ex in _streams(r):
        if not ex.events:
            return Fail("no SSE data events at all", "data: {…} events", snippet(ex.text, 160), ex.probe)
        for event in ex.events:
            if event.data == DONE:
                break
            if not isinstance(_json_or_none(event.data), dict):
                return Fail("a data payload is not a JSON object", "data: {…}", repr(event.data[:120]), ex.probe)
    return Pass()


def _json_or_none(data: str) -> Any:
    try:
        return safejson.loads(data)
    except ValueError:
        return None


@check(
    "stream.done",
    title="the stream ends with data: [DONE]",
    clause=f'{SPEC}: "with the stream terminated by a data: [DONE] message"',
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("no-done",),
    deviations=("D28", "D36"),
)
def done(r: Recorded) -> Outcome:
    for ex in _streams(r):
        if not ex.events:  # no event at all (a 200 whose body is empty): stream.data-json's finding, graded once
            continue
        datas = [e.data for e in ex.events]
        if DONE not in datas:
            last = datas[-1][:80] if datas else "no events"
            return Fail("the stream was not terminated by data: [DONE]", "data: [DONE]", f"last event: {last!r}",
                        ex.probe)
    return Pass()


@check(
    "stream.nothing-after-done",
    title="nothing follows data: [DONE]",
    clause=f"{SPEC}: [DONE] terminates the stream",
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("data-after-done",),
    deviations=("D28",),
)
def nothing_after_done(r: Recorded) -> Outcome:
    for ex in _streams(r):
        datas = [e.data for e in ex.events]
        if DONE in datas and datas.index(DONE) != len(datas) - 1:
            extra = datas[datas.index(DONE) + 1 :]
            return Fail("events follow [DONE]", "end of stream after [DONE]", repr(extra[:2])[:160], ex.probe)
    return Pass()


@check(
    "stream.chunk-schema",
    title="every chunk validates against the chunk schema",
    clause='CreateCompletionResponse: "both the streamed and non-streamed response objects share the same shape"',
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("usage-chunk-no-choices", "chunk-object-chat"),
    deviations=("D18", "D33"),
)
def chunk_schema(r: Recorded) -> Outcome:
    for ex in _streams(r):
        for i, chunk in enumerate(_dict_chunks(ex)):
            problem = r.schema_problem(r.surface.chunk, chunk)
            if problem is not None:
                return Fail(f"chunk {i} violates the schema {problem.split(':')[0]}", f"a {r.surface.chunk}",
                            problem, ex.probe)
    return Pass()


@check(
    "stream.object",
    title='every chunk has object "text_completion"',
    clause='CreateCompletionResponse.object: enum [text_completion]; chunks "share the same shape"',
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("chunk-object-chat",),
    deviations=("D18",),
)
def object_(r: Recorded) -> Outcome:
    for ex in _chunked(r):
        objects = Counter(str(c.get("object")) for c in _dict_chunks(ex))
        if set(objects) != {r.surface.chunk_object}:
            return Fail("chunks carry another object type", f'"{r.surface.chunk_object}" on every chunk',
                        repr(dict(objects)), ex.probe)
    return Pass()


@check(
    "stream.id-stable",
    title="every chunk of a stream carries the same non-empty id",
    clause="openai-completions-facts §3: the same id throughout a stream",
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("chunk-ids-vary",),
    deviations=("D19",),
)
def id_stable(r: Recorded) -> Outcome:
    for ex in _chunked(r):
        ids = {c.get("id") for c in _dict_chunks(ex)}
        if len(ids) != 1 or not all(isinstance(i, str) and i for i in ids):
            return Fail("chunk ids vary or are empty", "one non-empty id", repr(sorted(map(str, ids))[:4]), ex.probe)
    return Pass()


@check(
    "stream.finish-once",
    title="each choice gets exactly one non-null finish_reason, from the standard set",
    clause="CreateCompletionResponse.choices[].finish_reason (null on non-final chunks, per the spec's example)",
    level=Level.MUST,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("stream-no-finish-reason", "finish-reason-every-chunk"),
    deviations=("D20", "D21"),
)
def finish_once(r: Recorded) -> Outcome:
    for ex in _streams(r):
        finishes: dict[Any, list[Any]] = {}
        for chunk in _dict_chunks(ex):
            for choice in _choices(chunk):
                finishes.setdefault(choice.get("index"), [])
                if "finish_reason" not in choice:
                    return Fail("a chunk's choice lacks the finish_reason key", '"finish_reason": null',
                                snippet(repr(choice), 120), ex.probe)
                if choice["finish_reason"] is not None:
                    finishes[choice.get("index")].append(choice["finish_reason"])
        for index, values in finishes.items():
            if len(values) != 1 or values[0] not in r.surface.finish_reasons:
                return Fail(f"choice {index} has {len(values)} non-null finish_reason values",
                            f"exactly one of {' | '.join(r.surface.finish_reasons)}", repr(values[:5]), ex.probe)
    return Pass()


def _temperature_0(r: Recorded, probe: str) -> bool:
    ex = r.exchanges.get(probe)
    body = ex.request.json() if ex is not None else None
    return isinstance(body, dict) and body.get("temperature") == 0


def _twin_answers(r: Recorded, streamed: str, plain: str) -> tuple[dict[Any, Answer], dict[Any, Answer]] | None:
    """Both twins' answers by index; None when either is unusable (its own checks say why)."""
    try:
        return {a.index: a for a in r.answers(streamed)}, {a.index: a for a in r.answers(plain)}
    except (Fail, Skip, Inconclusive, Refused):
        return None


def _difference(streamed: Answer, plain: Answer) -> str | None:
    """What differs between a streamed choice and its non-streamed twin: text, finish_reason, logprobs tokens, and
    a chat answer's tool calls (their type, name and arguments: an id is the response's own, so it may differ)."""
    if streamed.text != plain.text:
        return f"text {streamed.text!r} streamed, {plain.text!r} not"
    if streamed.finish_reason != plain.finish_reason:
        return f"finish_reason {streamed.finish_reason!r} streamed, {plain.finish_reason!r} not"
    tokens = [streamed.logprob_tokens(), plain.logprob_tokens()]
    if tokens[1] is not None and tokens[0] != tokens[1]:  # the values may wobble between calls; the tokens may not
        return f"logprobs tokens {tokens[0]!r} streamed, {tokens[1]!r} not"
    if plain.finish_reason == "length" and any(not a.calls and not a.content for a in (streamed, plain)):
        # cut by max_completion_tokens while writing its calls (vLLM's "required" array not closed in time): the
        # stream sends the pieces as they come, the body only what parses once finished; chat.tools.required skips
        # the same answer, the cap says nothing of the provider
        return None
    # the calls as sent: a streamed head sent again (doubled by the client) is chat.tools.stream-call-head's finding
    calls = [[_call_content(c) for c in a.calls] for a in (streamed, plain)]
    if calls[0] != calls[1]:
        return f"tool calls {calls[0]!r} streamed, {calls[1]!r} not"
    return None


def _call_content(call: Any) -> tuple[Any, Any, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    function = function if isinstance(function, dict) else {}
    return (call.get("type") if isinstance(call, dict) else None, function.get("name"), function.get("arguments"))


@check(
    "stream.text-matches",
    title="at temperature 0 each assembled stream equals its non-streamed twin: text, finish_reason, logprobs tokens",
    clause='CreateCompletionResponse: "both the streamed and non-streamed response objects share the same shape"; '
    "stream only changes how the completion is delivered (implied: SHOULD)",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=tuple(dict.fromkeys(p for pair in TWIN_PROBES for p in pair)),  # type: ignore[misc]
    fails_on=("stream-drops-first-token", "stream-drop-logprobs", "stream-drop-stop"),
    deviations=("D17", "D23", "D44"),
)
def text_matches(r: Recorded) -> Outcome:
    r.answers("stream")  # the greedy request streamed must have come; the other twins add evidence when they did
    compared = 0
    for streamed, plain in twin_probes(r.endpoint):
        assert plain is not None
        pair = _twin_answers(r, streamed, plain) if _temperature_0(r, streamed) and _temperature_0(r, plain) else None
        if pair is None:
            continue
        compared += 1
        for index, answer in pair[1].items():
            if index not in pair[0]:
                return Fail(f"choice {index} is missing from the stream", f"choice {index}", repr(sorted(pair[0])),
                            streamed)
            difference = _difference(pair[0][index], answer)
            if difference is not None:
                return Fail(f"the stream differs from the same request unstreamed ('{plain}')", "the same answer",
                            difference, streamed)
    if not compared:
        raise Skip("no temperature-0 twin had both answers")
    return Pass(f"{compared} streamed twins equal their non-streamed answers")




@check(
    "stream.incremental",
    title="tokens arrive in several chunks, not one buffered block",
    clause=f'{SPEC}: "tokens will be sent … as they become available"',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("stream",),
    fails_on=("stream-buffered",),
    deviations=("D37",),
)
def incremental(r: Recorded) -> Outcome:
    answer = r.answers("stream")[0]
    if len(answer.text) < 2:
        raise Skip(f"the stream carried {len(answer.text)} character(s) of text: too little to tell chunks apart")
    return expect(answer.pieces >= 2, "the whole completion came in one chunk", "2 or more chunks with text",
                  f"{answer.pieces} chunk(s) with text")


def _usage_ok(usage: Any) -> bool:
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    return isinstance(usage, dict) and all(isinstance(usage.get(k), int) for k in keys)


@check(
    "stream.usage-chunk",
    title="include_usage adds exactly one last chunk with choices [] and the usage",
    clause='ChatCompletionStreamOptions.include_usage: "an additional chunk will be streamed before the data: '
    '[DONE] message … the choices field will always be an empty array"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("stream-usage",),
    fails_on=("usage-chunk-missing", "usage-on-last-content-chunk"),
    deviations=("D29", "D30", "D33"),
)
def usage_chunk(r: Recorded) -> Outcome:
    ex = r.stream("stream-usage")
    chunks = _dict_chunks(ex)
    usage_chunks = [i for i, c in enumerate(chunks) if c.get("choices") == [] and _usage_ok(c.get("usage"))]
    if len(usage_chunks) != 1:
        shapes = [(len(c["choices"]) if isinstance(c.get("choices"), list) else c.get("choices"),
                   "usage" if c.get("usage") else None) for c in chunks[-3:]]
        return Fail("not exactly one usage chunk with empty choices", "1 chunk {choices: [], usage: {…}}",
                    f"{len(usage_chunks)} such chunks; last chunks (choices, usage): {shapes}", ex.probe)
    return expect(usage_chunks[0] == len(chunks) - 1, "the usage chunk is not the last before [DONE]",
                  "usage chunk last", f"at position {usage_chunks[0]} of {len(chunks)}", ex.probe)


@check(
    "stream.usage-null-elsewhere",
    title="with include_usage, every other chunk has usage null",
    clause='ChatCompletionStreamOptions.include_usage: "All other chunks will also include a usage field, but with a '
    'null value"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("stream-usage",),
    fails_on=("usage-zeros-every-chunk",),
    deviations=("D32",),
)
def usage_null_elsewhere(r: Recorded) -> Outcome:
    ex = r.stream("stream-usage")
    chunks = list(_dict_chunks(ex))
    carrying = [i for i, c in enumerate(chunks) if c.get("choices") != [] and c.get("usage") is not None]
    if carrying == [len(chunks) - 1] and not any(c.get("choices") == [] for c in chunks):
        # the one usage chunk, last, with choices other than [] (LiteLLM's [{"index": 0, "delta": {}}]): no other
        # chunk carries usage; the usage chunk's shape is stream.usage-chunk's finding, graded once
        carrying = []
    if carrying:
        i = carrying[0]
        return Fail(f"chunk {i} carries a usage object", "usage: null", repr(chunks[i].get("usage")), ex.probe)
    return Pass()


@check(
    "stream.no-usage-unasked",
    title="without include_usage no chunk carries usage",
    clause="ChatCompletionStreamOptions: the usage chunk is sent only when include_usage is set",
    level=Level.MUST,
    feature=FEATURE,
    probes=("stream", "stream-usage-off"),
    fails_on=("usage-chunk-forced", "usage-zeros-unasked"),
    deviations=("D31",),
)
def no_usage_unasked(r: Recorded) -> Outcome:
    for ex in _streams(r, ("stream", "stream-usage-off")):
        for i, chunk in enumerate(_dict_chunks(ex)):
            if chunk.get("usage") is not None or chunk.get("choices") == []:
                what = "is a usage chunk" if chunk.get("choices") == [] else "carries usage"
                return Fail(f"chunk {i} {what} nobody asked for", "no usage, no empty-choices chunk",
                            snippet(repr(chunk), 160), ex.probe)
    return Pass()


@check(
    "stream.sse-fields",
    title="the stream uses only the SSE fields data, event, id and retry (and comments)",
    clause="WHATWG server-sent events: field names data, event, id, retry; openai-python expects data-only events",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("sse-error-field",),
    deviations=("D34",),
)
def sse_fields(r: Recorded) -> Outcome:
    for ex in _streams(r):
        if ex.stray_lines:
            return Fail("lines with non-SSE field names (clients drop them silently)", "data: … lines only",
                        repr(ex.stray_lines[:2])[:160], ex.probe)
    return Pass()


@check(
    "stream.model",
    title="every chunk names the model that was asked for",
    clause='CreateCompletionResponse.model: "The model used for completion"; chunks "share the same shape"',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=STREAMS,
    fails_on=("chunk-model-upstream",),
    deviations=("D47",),
)
def model(r: Recorded) -> Outcome:
    for ex in _streams(r):
        for i, chunk in enumerate(_dict_chunks(ex)):
            value = chunk.get("model")
            if not names_model(value, r.model):
                return Fail(f"chunk {i} names another model (possible substitution)", repr(r.model), repr(value),
                            ex.probe)
    return Pass()


@check(
    "stream.rejects-invalid",
    title="an invalid request with stream: true is refused with a 4xx error envelope, before any event",
    clause="CreateCompletionRequest.temperature: maximum 2; ErrorResponse; openai-python raises on the status before "
    "reading events, so an error inside a 200 event stream reads as a completion that started",
    level=Level.MUST,
    feature=FEATURE,
    probes=("error-stream-temperature",),
    fails_on=("stream-error-200",),
    deviations=("D34",),
)
def rejects_invalid(r: Recorded) -> Outcome:
    ex = r.exchange("error-stream-temperature")
    observed = f"HTTP {ex.status} {ex.content_type or 'no content-type'}: {snippet(ex.text, 160)}"
    if ex.events or ex.content_type == "text/event-stream":
        return Fail("the invalid request opened an event stream", "HTTP 4xx with a JSON error envelope", observed,
                    ex.probe)
    ok = ex.status is not None and 400 <= ex.status < 500 and error_envelope(ex) is not None
    return expect(ok, "the invalid streamed request was not refused with a 4xx envelope",
                  "HTTP 4xx with a JSON error envelope", observed, ex.probe)


@check(
    "stream.suffix",
    title="suffix is served when streaming too (what it inserts is compared by stream.text-matches)",
    clause='CreateCompletionRequest.suffix: "The suffix that comes after a completion of inserted text"; only best_of '
    '"cannot be streamed"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("stream-suffix", "suffix"),
    fails_on=("stream-rejects-options",),
    deviations=("D14", "D23"),
    refusable=True,  # a provider without suffix at all refuses both: `unsupported`, as params.suffix
)
def suffix(r: Recorded) -> Outcome:
    try:
        r.answers("stream-suffix")
    except Refused as refused:
        raise refused_only_streamed(r, refused, {"stream-suffix": "suffix"}) from None
    return Pass("served")


CHECKS = (content_type, data_json, done, nothing_after_done, chunk_schema, object_, id_stable, finish_once,
          text_matches, incremental, usage_chunk, usage_null_elsewhere, no_usage_unasked, sse_fields, model,
          rejects_invalid, suffix, *(t.streamed for t in TWINS))


# -- the same on Chat Completions ------------------------------------------------------------------------------


def _chat_streams(shared: Check) -> tuple[str, ...] | None:
    """What the chat twin of ``shared`` reads, where that is not the same short names."""
    if shared.probes == STREAMS:
        return streams_of(CHAT)
    if shared is text_matches:
        return tuple(dict.fromkeys(p for pair in twin_probes(CHAT) for p in pair))
    if shared is no_usage_unasked:
        return ("stream",)  # chat's plain stream sends no stream_options at all
    return None


_SHARED = {  # check: the quirks that prove it on chat
    content_type: ("sse-as-json",), data_json: ("non-json-data-line",), done: ("no-done",),
    nothing_after_done: ("data-after-done",), chunk_schema: ("chat-chunk-object-text-completion",),
    object_: ("chat-chunk-object-text-completion",), id_stable: ("chat-chunk-ids-vary",),
    finish_once: ("stream-no-finish-reason", "finish-reason-every-chunk"),
    text_matches: ("stream-drops-first-token", "stream-drop-logprobs", "stream-drop-stop"),
    incremental: ("stream-buffered",), usage_chunk: ("usage-chunk-missing", "usage-on-last-content-chunk"),
    usage_null_elsewhere: ("usage-zeros-every-chunk",), no_usage_unasked: ("usage-chunk-forced",),
    sse_fields: ("sse-error-field",), model: ("chunk-model-upstream",), rejects_invalid: ("stream-error-200",),
}
_TITLES = {object_: 'every chunk has object "chat.completion.chunk"'}
_DEVIATIONS = {chunk_schema: (*chunk_schema.deviations, "D63"), object_: (*object_.deviations, "D63")}  # chat's shape
CHAT_CHECKS = tuple(on_endpoint(c, CHAT, fails_on=quirks, probes=_chat_streams(c), title=_TITLES.get(c),
                                deviations=_DEVIATIONS.get(c)) for c, quirks in _SHARED.items())
CHECKS += (*CHAT_CHECKS, *CHAT_STREAMED)


@check(
    "chat.stream.first-delta-role",
    title='each choice\'s first delta carries role "assistant"',
    clause='ChatCompletionStreamResponseDelta.role: "The role of the author of this message"; OpenAI opens each '
    'choice\'s stream with {"role": "assistant", "content": ""} (docs/deviations.md D66): clients that key the message '
    "on its role lose it without (optional in the schema: SHOULD)",
    level=Level.SHOULD,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=streams_of(CHAT),
    fails_on=("first-delta-no-role",),
    deviations=("D66",),
)
def first_delta_role(r: Recorded) -> Outcome:
    judged = 0
    for ex in _streams(r):
        firsts: dict[Any, Any] = {}
        for chunk in _dict_chunks(ex):
            for choice in _choices(chunk):
                firsts.setdefault(choice.get("index"), choice.get("delta"))
        for index, delta in firsts.items():
            role = delta.get("role") if isinstance(delta, dict) else None
            if role != "assistant":
                return Fail(f"choice {index}'s first delta has no assistant role", '{"role": "assistant", …}',
                            snippet(repr(delta), 160), ex.probe)
            judged += 1
    return Pass(f"{judged} streamed choices open with the assistant role")


CHECKS += (first_delta_role,)
