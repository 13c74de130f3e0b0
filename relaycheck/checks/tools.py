"""Tool calls on Chat Completions (feature ``chat.tools``): the calls' shape, the streamed delta grammar as
openai-python's accumulator reads it, and ``tool_choice`` semantics.

The definition (openai-openapi@f85dbe22): a call is ``ChatCompletionMessageToolCall`` (``id``, ``type:
"function"``, ``function{name, arguments}``, arguments a string of JSON); the tools are declared ``strict``, so
"the model will follow the exact schema defined in the parameters field" (``FunctionObject.strict``); a streamed call
is ``ChatCompletionMessageToolCallChunk`` deltas, of which only ``index`` is required. openai-python
(src/openai/lib/streaming/_deltas.py ``accumulate_delta`` @e43b4224) merges the deltas of one ``index`` by
concatenating every string member except ``index`` and ``type``, and raises on a delta without an integer index:
so ``id`` and ``function.name`` must come once per index (a repeat is a corrupted id), a new call needs a new index,
and the arguments are the concatenation of the pieces.

What a tiny model on a real server can be held to is the shape and the schema, never the meaning of the arguments;
and what the definition allows is never failed: one call where two were asked with ``parallel_tool_calls: true``, a
text answer to ``auto``, a delta that carries nothing, the head of a call together with its first arguments piece, the
arguments in one piece, an answer cut by ``max_completion_tokens`` (skipped: the cut is relaycheck's room, not the
provider's deviation). Stream parity (the streamed calls equal the non-streamed ones at temperature 0) is
``chat.stream.text-matches``'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from relaycheck.checks.model import (
    Answer,
    CallHead,
    Fail,
    Inconclusive,
    Level,
    Outcome,
    Pass,
    Recorded,
    Refused,
    Skip,
    check,
    delta_function,
    expect,
    filled,
    snippet,
)
from relaycheck.checks.modes import refused_only_streamed
from relaycheck.checks.structured import NotJson, cut_short, json_value, schema_violation
from relaycheck.endpoint import Endpoint

FEATURE = "chat.tools"
SPEC = "openai-openapi@f85dbe22"
DELTAS = "openai-python src/openai/lib/streaming/_deltas.py accumulate_delta @e43b4224"
CHOICE = f"{SPEC} ChatCompletionToolChoiceOption"

# The plain probes whose answers may call a tool (named, required and parallel must; auto may; single: one at most)
CALLING = ("tools-named", "tools-required", "tools-parallel", "tools-single", "tools-auto")
STREAMED = ("stream-tools-named", "stream-tools-parallel")
FORCED = ("tools-named", "tools-required", "tools-parallel", "tools-single")


def _ids(*probes: str) -> tuple[str, ...]:
    return tuple(Endpoint.CHAT.probe_id(p) for p in probes)


def declared_tools(r: Recorded, probe: str) -> dict[str, Any]:
    """The functions the recorded request of ``probe`` declared: name -> parameters schema."""
    body = r.exchange(probe).request.json()
    tools = body.get("tools") if isinstance(body, dict) else None
    found = {}
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found[function["name"]] = function.get("parameters")
    return found


def _function(call: Any) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    return function if isinstance(function, dict) else {}


def call_names(answer: Answer) -> list[Any]:
    return [_function(c).get("name") for c in answer.tool_calls]


def sent_names(answer: Answer) -> list[Any]:
    """The functions called, as the provider named them (a streamed name sent again is stream-call-head's)."""
    return [_function(c).get("name") for c in answer.calls]


# Whose finding a probe's unusable answer is (an HTTP error, a body that is no answer, a stream without chunks):
# each tool_choice probe's own check, the streamed ones the stream checks'. Another check reading the probe for
# evidence leaves it out, so one failure is graded once (llama-cpp-python's chatml-function-calling answers
# "required" with an AssertionError's 500 and an empty 200 stream: chat.tools.required and chat.stream.data-json
# grade those, not the shape, arguments and finish_reason of the calls that did come).
OWNERS = {
    "tools-named": "chat.tools.named", "tools-required": "chat.tools.required",
    "tools-parallel": "chat.tools.required", "tools-single": "chat.tools.parallel-false",
    "tools-none": "chat.tools.none", "stream-tools-named": "chat.stream.*", "stream-tools-parallel": "chat.stream.*",
}


def _served(r: Recorded, probes: tuple[str, ...], mine: tuple[str, ...] = ()) -> Iterator[tuple[str, list[Answer]]]:
    """Each probe's answers. Left out: a probe not sent (budget, a narrow run), one refused because of an optional
    feature the provider refused on that feature's own probe (its own check grades it once), and an unusable answer
    to a probe another check owns (``OWNERS``; ``mine``: the probes the caller owns); any other refusal or failure
    is this check's finding. Nothing at all to read is the caller's skip."""
    for probe in probes:
        try:
            yield probe, r.answers(probe)
        except Skip:
            continue
        except Refused as refused:
            if refused.excused is None and not _owned_elsewhere(probe, mine):
                raise
        except Fail:
            if not _owned_elsewhere(probe, mine):
                raise


def _owned_elsewhere(probe: str, mine: tuple[str, ...]) -> bool:
    return probe in OWNERS and probe not in mine


def _argument_problem(arguments: Any, schema: Any) -> str | None:
    """Why a call's assembled ``arguments`` are not a JSON string of an object valid against its tool's schema."""
    if not isinstance(arguments, str):
        return f"arguments is {type(arguments).__name__}, not a string of JSON: {snippet(repr(arguments), 100)}"
    try:
        value = json_value(arguments)
    except NotJson as why:
        return str(why)
    if not isinstance(value, dict):
        return f"arguments is JSON but not an object: {snippet(arguments, 100)}"
    problem = schema_violation(schema, value)
    return None if problem is None else f"{problem} in {snippet(arguments, 100)}"


# -- non-streamed calls -------------------------------------------------------------------------------------------


@check(
    "chat.tools.call-shape",
    title="each tool call has a non-empty id (unique in its response), type function and a declared function's name",
    clause=f"{SPEC} ChatCompletionMessageToolCall: required [id, type, function], type enum [function], function "
    "required [name, arguments]; a tool message answers a call by its tool_call_id, so ids must tell calls apart; "
    'ChatCompletionResponseMessage.content: string or null ("Required unless tool_calls … is specified")',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids(*CALLING),
    deviations=("D50",),
    fails_on=("tool-call-id-empty",),
)
def call_shape(r: Recorded) -> Outcome:
    judged = 0
    for probe, answers in _served(r, CALLING):
        declared, seen = declared_tools(r, probe), set()
        for answer in answers:
            if answer.content is not None and not isinstance(answer.content, str):
                return Fail("the message content is neither a string nor null", "content: string | null",
                            snippet(repr(answer.content), 100), probe)
            if not answer.tool_calls and not isinstance(answer.content, str):
                return Fail("the message has neither tool calls nor text", "tool_calls, or content as a string",
                            f"content {answer.content!r}, no tool_calls", probe)
            for call in answer.tool_calls:
                judged += 1
                problem = _call_problem(call, declared, seen)
                if problem is not None:
                    return Fail(f"a tool call is malformed: {problem}", "{id: non-empty unique string, type: "
                                "function, function: {name: a declared tool, arguments}}", snippet(repr(call), 200),
                                probe)
    if not judged:
        raise Skip("no answer called a tool")
    return Pass(f"{judged} calls well-formed")


def _call_problem(call: Any, declared: dict[str, Any], seen: set[str]) -> str | None:
    if not isinstance(call, dict):
        return "not an object"
    ident = call.get("id")
    if not isinstance(ident, str) or not ident:
        return f"id {ident!r} (a tool message could not answer it)"
    if ident in seen:
        return f"id {ident!r} given to two calls of one response"
    seen.add(ident)
    if call.get("type") != "function":
        return f"type {call.get('type')!r}"
    name = _function(call).get("name")
    if name not in declared:
        return f"function.name {name!r} is none of the declared tools {sorted(declared)}"
    return None


@check(
    "chat.tools.arguments",
    title="each tool call's arguments are a JSON string of an object valid against the tool's parameters schema",
    clause=f'{SPEC} ChatCompletionMessageToolCall.function.arguments: type string ("The arguments to call the function '
    'with, as generated by the model in JSON format"); FunctionObject.strict: "If set to true, the model will follow '
    'the exact schema defined in the parameters field" (the probes\' tools are strict)',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids(*CALLING),
    deviations=("D67", "D52"),
    fails_on=("tool-args-object",),
)
def arguments(r: Recorded) -> Outcome:
    tally = _Arguments()
    for probe, answers in _served(r, CALLING):
        failed = tally.judge(r, probe, answers, "are not what its strict schema allows")
        if failed is not None:
            return failed
    return tally.outcome("calls")


@dataclass
class _Arguments:
    """The calls' arguments judged so far, over probes, and the first answer skipped as cut short."""

    judged: int = 0
    cut: Skip | None = None

    def judge(self, r: Recorded, probe: str, answers: list[Answer], why: str) -> Fail | None:
        """The first call of ``answers`` whose arguments are not a JSON object valid against its tool's schema."""
        declared = declared_tools(r, probe)
        for answer in answers:
            if answer.problems:
                continue  # deltas the client cannot assemble: chat.tools.stream-index's finding
            if answer.finish_reason == "length" and answer.tool_calls:
                self.cut = self.cut or cut_short(probe, "the arguments were")
                continue
            for call in answer.tool_calls:
                name = _function(call).get("name")
                if name not in declared:
                    continue  # a name no tool has: chat.tools.call-shape's (streamed: stream-call-head's) finding
                self.judged += 1
                problem = _argument_problem(_function(call).get("arguments"), declared[name])
                if problem is not None:
                    return Fail(f"the arguments of the {name} call {why}", "a JSON string of an object valid against "
                                "the tool's parameters", problem, probe)
        return None

    def outcome(self, what: str) -> Outcome:
        if not self.judged:
            raise self.cut or Skip(f"no {what} of a declared tool to judge")
        return Pass(f"{self.judged} {what}' arguments valid")


def _finish_problem(answer: Answer, named: bool = False) -> str | None:
    # A call forced by name ends "stop" on OpenAI itself (gpt-4o, streamed and not: vllm-project/vllm#25054, whose
    # table of OpenAI's answers vLLM aligned to), so there "stop" is as right as "tool_calls".
    allowed = ("tool_calls", "length", "stop") if named else ("tool_calls", "length")
    if answer.tool_calls and answer.finish_reason not in allowed:
        return f"{len(answer.tool_calls)} tool call(s) ended with finish_reason {answer.finish_reason!r}"
    if not answer.tool_calls and answer.finish_reason == "tool_calls":
        return 'finish_reason "tool_calls" with no tool call'
    return None


def _finish_reasons(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    judged = 0
    for probe, answers in _served(r, probes):
        named = isinstance(_named_choice(r, probe), str)
        for answer in answers:
            if answer.problems:
                continue  # the deltas could not be assembled: chat.tools.stream-index's finding
            judged += 1
            problem = _finish_problem(answer, named)
            if problem is not None:
                return Fail("the finish_reason does not say the model called a tool", 'finish_reason "tool_calls" '
                            'when the model called a tool (or "length" when cut)', problem, probe)
    if not judged:
        raise Skip("no answer to judge")
    return Pass(f"{judged} choices")


@check(
    "chat.tools.finish-reason",
    title='a choice that calls a tool ends with finish_reason "tool_calls" (and only such a choice)',
    clause=f'{SPEC} CreateChatCompletionResponse.choices[].finish_reason: "tool_calls if the model called a tool"; '
    'a call forced by a named tool_choice may end "stop", as OpenAI\'s own do (vllm-project/vllm#25054)',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids(*CALLING, "tools-none"),
    deviations=("D53",),
    fails_on=("tool-finish-stop",),
)
def finish_reason(r: Recorded) -> Outcome:
    return _finish_reasons(r, (*CALLING, "tools-none"))


@check(
    "chat.tools.stream-finish-reason",
    title='a streamed choice that calls a tool ends with finish_reason "tool_calls"',
    clause=f'{SPEC} CreateChatCompletionStreamResponse.choices[].finish_reason: "tool_calls if the model called a '
    'tool"; a SHOULD on streams: gpt-4o itself has streamed "stop" after a tool call (BerriAI/litellm#35663)',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=_ids(*STREAMED),
    deviations=("D53",),
    fails_on=("stream-tool-finish-stop",),
)
def stream_finish_reason(r: Recorded) -> Outcome:
    return _finish_reasons(r, STREAMED)


# -- the streamed delta grammar ---------------------------------------------------------------------------------------


@dataclass
class _Deltas:
    """A stream's tool-call deltas in order, each with its chunk's position and its choice's index."""

    probe: str
    deltas: list[tuple[int, Any, Any]] = field(default_factory=list)  # (chunk position, choice index, delta)


def _stream_deltas(r: Recorded, probe: str) -> _Deltas | None:
    """The tool-call deltas of a served stream (None when refused for an optional feature refused on its own probe)."""
    try:
        ex = r.stream(probe)
    except Skip:
        return None
    except Refused as refused:
        if refused.excused is None:
            raise
        return None
    except Fail:
        if not _owned_elsewhere(probe, ()):
            raise
        return None  # not a stream at all: the stream checks' finding
    found = _Deltas(probe)
    for position, chunk in enumerate(ex.chunks):
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        for choice in choices if isinstance(choices, list) else ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            for call in calls if isinstance(calls, list) else ():
                found.deltas.append((position, choice.get("index"), call))
    return found


def _valid_index(index: Any) -> bool:
    return isinstance(index, int) and not isinstance(index, bool) and index >= 0


def _streams(r: Recorded) -> list[_Deltas]:
    found = [d for d in (_stream_deltas(r, p) for p in STREAMED) if d is not None]
    if not any(d.deltas for d in found):
        raise Skip("no stream carried a tool-call delta (chat.tools.named judges a forced call answered without one)")
    return found


@check(
    "chat.tools.stream-index",
    title="every streamed tool-call delta has an integer index; each index is one call, opened by its first delta",
    clause=f"{SPEC} ChatCompletionMessageToolCallChunk: required [index]; {DELTAS}: a delta without an integer "
    "index raises, and every delta of an index is merged into one call (a second call on the index, or arguments on "
    "an index no call opened, corrupt the calls)",
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids(*STREAMED),
    deviations=("D51",),
    fails_on=("tool-call-index-missing", "tool-call-index-negative", "tool-call-index-zero",
              "tool-call-name-args-split"),
)
def stream_index(r: Recorded) -> Outcome:
    calls = 0
    for stream in _streams(r):
        heads: dict[tuple[Any, int], CallHead] = {}
        for position, choice, delta in stream.deltas:
            index = delta.get("index") if isinstance(delta, dict) else None
            if not _valid_index(index):
                return Fail("a tool-call delta has no non-negative integer index (openai-python raises on it)",
                            "index: 0, 1, … on every tool-call delta", f"chunk {position}: {snippet(repr(delta), 160)}",
                            stream.probe)
            head = heads.setdefault((choice, index), CallHead())
            name = delta_function(delta).get("name")
            if head.name is not None and filled(name) and name != head.name:
                return Fail(f"a second call on index {index}: the client merges both into one", "each call on an "
                            "index of its own (0, 1, …)", f"chunk {head.name_chunk} named {head.name!r}; chunk "
                            f"{position} names {name!r} (id {delta.get('id')!r})", stream.probe)
            head.take(delta, position)
        for (_, index), head in heads.items():
            if head.name is None:
                return Fail(f"index {index} carries no call of its own: no delta of it names a function (the name and "
                            "the arguments of one call on different indexes?)", "id, type and function.name on the "
                            "index whose deltas carry the call's arguments",
                            f"index {index}: id {head.id!r}, no function.name in any of its deltas", stream.probe)
        calls += len(heads)
    return Pass(f"{calls} streamed calls, each on its own index")


@check(
    "chat.tools.stream-call-head",
    title="a streamed call's id and name come once, in the first delta of its index, never repeated or renewed",
    clause=f"{SPEC} ChatCompletionMessageToolCallChunk; {DELTAS}: every string member but index and type is "
    "concatenated, so an id or name sent again is doubled in the client's call (and OpenAI refuses the doubled id on "
    "the next turn, archestra-ai/archestra#866)",
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids(*STREAMED),
    deviations=("D50",),
    fails_on=("tool-call-id-every-chunk", "tool-call-id-per-delta", "tool-call-id-empty"),
)
def stream_call_head(r: Recorded) -> Outcome:
    calls = 0
    for stream in _streams(r):
        heads: dict[tuple[Any, Any], CallHead] = {}
        for position, choice, delta in stream.deltas:
            if not isinstance(delta, dict) or not _valid_index(delta.get("index")):
                continue  # chat.tools.stream-index's finding
            again = heads.setdefault((choice, delta["index"]), CallHead()).take(delta, position)
            if again:
                return Fail(f"a later delta of index {delta['index']} sends {' and '.join(again)} again: the client "
                            "concatenates them into a corrupted value", "id, type and function.name once per index "
                            "(in its first delta, as OpenAI sends them)", f"chunk {position}: "
                            f"{snippet(repr(delta), 160)}", stream.probe)
        for (_, index), head in heads.items():
            if head.id is None:
                return Fail(f"the call on index {index} has no id (a tool message could not answer it)", "a "
                            "non-empty id in the call's first delta", f"index {index}: function.name {head.name!r}, no "
                            "non-empty id in any of its deltas", stream.probe)
        calls += len(heads)
    return Pass(f"{calls} calls, each id and name sent once")


@check(
    "chat.tools.stream-arguments",
    title="streamed arguments are string pieces that concatenate to JSON valid against the tool's schema",
    clause=f"{SPEC} ChatCompletionMessageToolCallChunk.function.arguments: type string; {DELTAS} concatenates the "
    "pieces; FunctionObject.strict (the probes' tools are strict): the assembled arguments follow the schema",
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids(*STREAMED),
    deviations=("D52", "D67"),
    fails_on=("tool-args-last-delta-lost", "tool-args-empty-stream", "tool-args-null-stream", "tool-args-object"),
)
def stream_arguments(r: Recorded) -> Outcome:
    tally = _Arguments()
    for stream in _streams(r):
        if not stream.deltas:
            continue  # no call streamed (an empty stream is chat.stream.data-json's; a forced call missing, the
            # tool_choice checks')
        for position, _, delta in stream.deltas:
            function = delta.get("function") if isinstance(delta, dict) else None
            piece = function.get("arguments") if isinstance(function, dict) else None
            if piece is not None and not isinstance(piece, str):
                return Fail("an arguments piece is not a string (the client cannot concatenate it)", "function."
                            "arguments: a string piece of JSON text", f"chunk {position}: {snippet(repr(delta), 160)}",
                            stream.probe)
        failed = tally.judge(r, stream.probe, r.answers(stream.probe), "streamed, assembled, are lost, cut or invalid")
        if failed is not None:
            return failed
    return tally.outcome("streamed calls")


# -- tool_choice and parallel_tool_calls -------------------------------------------------------------------------------


def _streamed_answers(r: Recorded, probe: str, plain: str) -> list[Answer]:
    try:
        return r.answers(probe)
    except Refused as refused:
        raise refused_only_streamed(r, refused, {probe: plain}) from None


@check(
    "chat.tools.named",
    title="a named tool_choice calls that function (and no other), streamed and not",
    clause=f'{CHOICE}: "Specifying a particular tool via {{"type": "function", "function": {{"name": "my_function"}}}} '
    'forces the model to call that tool" (ChatCompletionNamedToolChoice)',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids("tools-named", "stream-tools-named"),
    deviations=("D54",),
    refusable=True,  # a model without tools refused cleanly: `unsupported` (the tool probes' optional feature)
    fails_on=("tool-choice-named-ignored",),
)
def named(r: Recorded) -> Outcome:
    found = [("tools-named", r.answers("tools-named"))]
    with contextlib.suppress(Skip):  # the stream not sent: the plain answer is the evidence
        found.append(("stream-tools-named", _streamed_answers(r, "stream-tools-named", "tools-named")))
    for probe, answers in found:
        wanted = _named_choice(r, probe)
        for answer in answers:
            if answer.problems:
                continue  # chat.tools.stream-index's finding
            names = sent_names(answer)
            if not names or any(n != wanted for n in names):
                return Fail("the named tool_choice was not honoured", f"a call of {wanted!r} (only)",
                            f"calls {names}, content {snippet(repr(answer.content), 80)}", probe)
    return Pass()


def _named_choice(r: Recorded, probe: str) -> Any:
    body = r.exchange(probe).request.json()
    choice = body.get("tool_choice") if isinstance(body, dict) else None
    return _function(choice).get("name")


@check(
    "chat.tools.required",
    title='tool_choice "required" calls at least one tool (or is refused cleanly, never a 5xx)',
    clause=f'{CHOICE}: "required means the model must call one or more tools"',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids("tools-required", "tools-parallel"),
    deviations=("D54", "D55"),
    refusable=True,  # D55: a clean 4xx saying it is not supported is allowed, an AssertionError's 500 is not
    fails_on=("tool-choice-required-ignored", "tool-required-500"),
)
def required(r: Recorded) -> Outcome:
    r.answers("tools-required")  # its own probe must have come; the parallel one (required too) adds evidence
    judged, cut = 0, None
    for probe, answers in _served(r, ("tools-required", "tools-parallel"), mine=("tools-required", "tools-parallel")):
        for answer in answers:
            if not answer.tool_calls and answer.finish_reason == "length" and not answer.content:
                # cut while writing its calls, before any was complete: nothing to read either way
                cut = cut or cut_short(probe, "the calls were")
                continue
            judged += 1
            if not answer.tool_calls:
                return Fail('tool_choice "required" was answered without a tool call', "one or more tool calls",
                            f"content {snippet(repr(answer.content), 100)}", probe)
    if not judged and cut is not None:
        raise cut
    return Pass()


@check(
    "chat.tools.none",
    title='tool_choice "none" calls no tool: the answer is a message',
    clause=f'{CHOICE}: "none means the model will not call any tool and instead generates a message"',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids("tools-none"),
    deviations=("D54",),
    fails_on=("tool-choice-none-ignored",),
)
def none(r: Recorded) -> Outcome:
    answers = r.answers("tools-none")
    for answer in answers:
        if answer.tool_calls:
            return Fail('tool_choice "none" still called a tool', "no tool_calls, a message",
                        f"calls {call_names(answer)}", "tools-none")
        if not isinstance(answer.content, str):
            return Fail('tool_choice "none" gave no message', "content: a string", repr(answer.content), "tools-none")
    return Pass(observed=snippet(answers[0].content or "", 80))


@check(
    "chat.tools.parallel-false",
    title="parallel_tool_calls false: at most one tool call, though two tools are asked for",
    clause=f'{SPEC} ParallelToolCalls: "Whether to enable parallel function calling during tool use" (default '
    "true); false: the model calls one tool at a time",
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids("tools-single"),
    deviations=("D56",),
    refusable=True,  # the probe's optional feature: parallel_tool_calls refused cleanly is `unsupported`
    fails_on=("parallel-tool-calls-ignored",),
)
def parallel_false(r: Recorded) -> Outcome:
    try:
        answers = r.answers("tools-single")
    except Fail:
        if _required_fails(r):  # sent with tool_choice "required", which fails on its own probe as well
            raise Skip('\'tools-single\' is sent with tool_choice "required", which fails on \'tools-required\' too: '
                       "chat.tools.required's finding, not parallel_tool_calls'") from None
        raise
    for answer in answers:
        if len(answer.tool_calls) > 1:
            return Fail("parallel_tool_calls false was ignored: several calls came", "at most one tool call",
                        f"{len(answer.tool_calls)} calls: {call_names(answer)}", "tools-single")
    return Pass()


def _required_fails(r: Recorded) -> bool:
    """The ``required`` tool_choice's own probe failed (chatml-function-calling's assertion, D55)."""
    try:
        r.answers("tools-required")
    except Fail:
        return True
    except (Skip, Refused, Inconclusive):  # not sent, refused cleanly or unreadable: no finding to defer to
        return False
    return False


@check(
    "chat.tools.result-accepted",
    title="a tool message answering the assistant's call (content null, as OpenAI returned it) is answered",
    clause=f'{SPEC} ChatCompletionRequestAssistantMessage.content: "Required unless tool_calls or function_call is '
    'specified" (nullable); ChatCompletionRequestToolMessage answers it by tool_call_id',
    level=Level.MUST,
    feature=FEATURE,
    probes=_ids("tool-result"),
    deviations=("D64",),
    fails_on=("null-content-rejected",),
)
def result_accepted(r: Recorded) -> Outcome:
    answers = r.answers("tool-result")
    ok = all(isinstance(a.content, str) or a.tool_calls for a in answers)
    return expect(ok, "the second turn was served without a message", "a message (or another call)",
                  repr([(a.content, call_names(a)) for a in answers])[:160], "tool-result")


CHECKS = (call_shape, arguments, finish_reason, stream_finish_reason, stream_index, stream_call_head,
          stream_arguments, named, required, none, parallel_false, result_accepted)
