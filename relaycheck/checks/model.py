"""What a check is, what it returns, and how an outcome becomes a grade.

A check is a small pure function over recorded exchanges. It returns :class:`Pass` or :class:`Fail` (or raises
one of the early-out outcomes below); :func:`judge` turns that into a :class:`Verdict` with a :class:`Grade`,
applying the check's level (a missed SHOULD is a warning, not a failure) and whether the feature may be refused
cleanly (``unsupported``) instead of failing.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from jsonschema.exceptions import best_match

from relaycheck.endpoint import Endpoint
from relaycheck.spec import Contract
from relaycheck.spec.contracts import Contracts
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.safejson import MAX_DEPTH as MAX_JSON_DEPTH

# CreateCompletionResponse.choices[].finish_reason enum (tests/test_contract.py holds it to the contract)
FINISH_REASONS = ("stop", "length", "content_filter")
# CreateChatCompletionResponse.choices[].finish_reason enum (function_call: the deprecated functions' reason)
CHAT_FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


@dataclass(frozen=True)
class Surface:
    """What an endpoint's answers look like on the wire, where a property shared by both endpoints differs."""

    response: str  # the contract's schema of a non-streamed answer
    chunk: str  # of one stream chunk
    object: str  # the answer's `object`
    chunk_object: str  # a chunk's `object`
    id_prefix: str  # OpenAI's id prefix (informational)
    finish_reasons: tuple[str, ...]


SURFACES = {
    Endpoint.COMPLETIONS: Surface("CreateCompletionResponse", "CreateCompletionChunk", "text_completion",
                                  "text_completion", "cmpl-", FINISH_REASONS),
    Endpoint.CHAT: Surface("CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "chat.completion",
                           "chat.completion.chunk", "chatcmpl-", CHAT_FINISH_REASONS),
}


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


class Grade(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # a MUST is violated
    WARN = "warn"  # a SHOULD (or an informational expectation) is missed
    UNSUPPORTED = "unsupported"  # the feature was refused cleanly with an OpenAI-style 4xx
    KNOWN = "known"  # the outcome matches the provider's recorded expectation
    SKIPPED = "skipped"  # precondition unmet, key missing or budget spent
    ERROR = "error"  # no verdict could be had: timeout, transport failure, harness fault

    # -- presentation: the one place every report, summary and front-end reads ----------------------------------

    @property
    def icon(self) -> str:
        return _ICONS[self]

    @property
    def rank(self) -> int | None:
        """How bad, for regressions: pass < known = unsupported < warn < error < fail; skipped has no rank."""
        return _RANKS.get(self)

    @property
    def order(self) -> int:
        """Position worst first (fail, error, warn, unsupported, known, skipped, pass): how reports list grades."""
        return _WORST_FIRST.index(self)

    @property
    def judged(self) -> bool:
        """A verdict either way, so it counts in the score's share (skipped and error are not)."""
        return self in (Grade.PASS, Grade.FAIL, Grade.WARN, Grade.KNOWN, Grade.UNSUPPORTED)

    @property
    def bad(self) -> bool:
        """Worth attention in a summary: a violation, a missed SHOULD, or no verdict at all."""
        return self in (Grade.FAIL, Grade.ERROR, Grade.WARN)

    @property
    def notable(self) -> bool:
        """Listed among a report's deviations with its evidence: anything but pass and skipped."""
        return self not in (Grade.PASS, Grade.SKIPPED)

    @property
    def deviation(self) -> bool:
        """A provider's own outcome worth recording in its expectations file (``known`` is already recorded)."""
        return self in (Grade.FAIL, Grade.WARN, Grade.UNSUPPORTED, Grade.ERROR)

    @property
    def blocks(self) -> bool:
        """Stops certification when the check is a MUST: it failed, or it could not be judged."""
        return self in (Grade.FAIL, Grade.ERROR)

    @property
    def test_outcome(self) -> str:
        """What a test runner (JUnit, pytest) makes of it: passed, failed, error or skipped (not run as such)."""
        return _TEST_OUTCOMES[self]


_ICONS = {Grade.PASS: "✅", Grade.FAIL: "❌", Grade.WARN: "⚠️", Grade.UNSUPPORTED: "🚫", Grade.KNOWN: "📌",
          Grade.SKIPPED: "⏭️", Grade.ERROR: "💥"}
_RANKS = {Grade.PASS: 0, Grade.KNOWN: 1, Grade.UNSUPPORTED: 1, Grade.WARN: 2, Grade.ERROR: 3, Grade.FAIL: 4}
_WORST_FIRST = (Grade.FAIL, Grade.ERROR, Grade.WARN, Grade.UNSUPPORTED, Grade.KNOWN, Grade.SKIPPED, Grade.PASS)
_TEST_OUTCOMES = {Grade.PASS: "passed", Grade.WARN: "passed", Grade.FAIL: "failed", Grade.ERROR: "error",
                  Grade.SKIPPED: "skipped", Grade.UNSUPPORTED: "skipped", Grade.KNOWN: "skipped"}


# -- outcomes a check produces --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    message: str = "as specified"
    observed: str | None = None


@dataclass(frozen=True)
class Fail(Exception):  # noqa: N818 - an outcome, raised for early exits
    message: str
    expected: str | None = None
    observed: str | None = None
    probe: str | None = None  # the exchange that shows it


class Skip(Exception):  # noqa: N818
    """A precondition is not met (e.g. the probe this one depends on failed): no verdict either way."""


class Inconclusive(Exception):  # noqa: N818
    """The harness could not observe what the check needs (timeout, truncated body): grade ``error``."""


@dataclass(frozen=True)
class Refused(Exception):  # noqa: N818
    """The provider answered a valid request with a clean OpenAI-style 4xx."""

    probe: str
    status: int
    message: str
    # Set when the request uses an optional feature the provider also refused on that feature's own probe (which
    # its refusable check grades `unsupported`): the refusal is then judged there, once, not failed again here.
    excused: Excused | None = None


@dataclass(frozen=True)
class Excused:
    """A clean refusal explained by an optional feature the provider does not support."""

    fields: tuple[str, ...]  # the request fields of that feature
    probe: str  # the feature's own probe, refused too

    def describe(self) -> str:
        return f"{' with '.join(self.fields)} is not supported (refused on its own probe '{self.probe}' too)"


Outcome = Pass | Fail


@dataclass(frozen=True)
class ExpectationOutcome:
    """How a verdict stands against the provider's expectations file (``runner/expectations.py``)."""

    grade: Grade  # the grade the file records for the check (the first, when it allows several)
    reason: str  # the file's reason (often an upstream issue link)
    matched: bool  # the check's own grade was that one, so it is graded `known`; False: stale, the provider changed
    grades: tuple[Grade, ...] = ()  # every grade the file allows (WPT-style [pass, fail] for a flaky check)

    @property
    def stale(self) -> bool:
        return not self.matched

    @property
    def allowed(self) -> tuple[Grade, ...]:
        return self.grades or (self.grade,)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"grade": self.grade.value, "reason": self.reason, "matched": self.matched}
        if len(self.allowed) > 1:
            out["grades"] = [g.value for g in self.allowed]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExpectationOutcome:
        grades = tuple(Grade(g) for g in raw.get("grades") or ())
        return cls(Grade(raw["grade"]), str(raw.get("reason") or ""), bool(raw["matched"]), grades)


RERUN_SUFFIX = "@rerun"  # the exchange id of a probe re-sent for a failing MUST check: "stream-basic@rerun"


@dataclass(frozen=True)
class Rerun:
    """A MUST check that failed (or could not be judged) had its probes re-sent once before it counted.

    The verdict is the rerun's; ``first`` is how it stood before. A first failure that the rerun does not repeat is
    flaky evidence (``diff`` keeps it apart from a regression); ``sent`` is False when the rerun could not be sent
    (budget, run deadline) and the first verdict stands.
    """

    first: Grade
    first_message: str
    probes: tuple[str, ...]  # the re-sent exchanges' ids (probe + RERUN_SUFFIX)
    sent: bool = True
    # What a first attempt got when it was no answer of the endpoint (a transport failure, a gateway's HTML 504):
    # a pass after it is graded warn (see :func:`graded_after_rerun`). None: the first answers were the endpoint's.
    unreliable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first.value, "first_message": self.first_message, "probes": list(self.probes),
                "sent": self.sent, "unreliable": self.unreliable}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Rerun:
        unreliable = raw.get("unreliable")
        return cls(Grade(raw["first"]), str(raw.get("first_message") or ""), tuple(raw.get("probes") or ()),
                   bool(raw.get("sent", True)), None if unreliable is None else str(unreliable))


def unreliable_answer(ex: Exchange) -> str | None:
    """What an exchange got when it is no answer of the endpoint at all: a transport failure, or a body that is
    neither the endpoint's JSON nor its event stream (a gateway's HTML 504, a plain-text 502, a web page with 200).
    None for an answer of the endpoint, right or wrong (an OpenAI error envelope, even a 5xx one, is one), and for
    what relaycheck itself cut or did not send."""
    if ex.not_sent or ex.truncated or ex.too_deep:
        return None
    if ex.transport_error or ex.status is None:
        return f"no answer on '{ex.probe}': {ex.transport_error or 'no status'}"
    if ex.status == 200 and (ex.events or isinstance(ex.json(), dict)):
        return None
    if ex.status != 200 and error_envelope(ex) is not None:
        return None
    return f"HTTP {ex.status} {ex.content_type or 'no content-type'} on '{ex.probe}', not an OpenAI answer: " \
        f"{snippet(ex.text, 80)}"


def graded_after_rerun(verdict: Verdict, unreliable: str | None) -> Verdict:
    """A check's verdict on its re-sent probes, given what a first attempt got when it was no answer
    (:func:`unreliable_answer`). A pass then is a warn, flaky: the provider answered only when asked again, which
    a client without retries would have seen fail (a gateway's 504 page on a stream). Any other verdict stands.

    A first attempt that got the endpoint's own (wrong) answer is not graded so: a rerun that passes after it is
    the ordinary flaky case (temperature-0 answers and logprobs may wobble, which the spec allows)."""
    if unreliable is None or verdict.grade is not Grade.PASS:
        return verdict
    return Verdict(verdict.check, Grade.WARN, f"flaky: passed only when re-sent, the first attempt got {unreliable}",
                   expected="HTTP 200 with the endpoint's JSON or event stream, the first time", observed=unreliable,
                   probes=verdict.probes)


@dataclass(frozen=True)
class Verdict:
    check: str
    grade: Grade
    message: str
    expected: str | None = None
    observed: str | None = None
    probes: tuple[str, ...] = ()
    note: str | None = None  # e.g. the expectation's reason for a `known` grade, for people to read
    expectation: ExpectationOutcome | None = None  # the same, for programs (diff) to read
    rerun: Rerun | None = None  # set when the check failed first and its probes were re-sent

    @property
    def flaky(self) -> bool:
        """Failed first, then not when its probes were re-sent."""
        return self.rerun is not None and self.rerun.sent and self.rerun.first is not self.grade

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "grade": self.grade.value,
            "message": self.message,
            "expected": self.expected,
            "observed": self.observed,
            "probes": list(self.probes),
            "note": self.note,
            "expectation": self.expectation.to_dict() if self.expectation else None,
            "rerun": self.rerun.to_dict() if self.rerun else None,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Verdict:
        expectation = raw.get("expectation")
        return cls(
            check=raw["check"],
            grade=Grade(raw["grade"]),
            message=raw.get("message", ""),
            expected=raw.get("expected"),
            observed=raw.get("observed"),
            probes=tuple(raw.get("probes") or ()),
            note=raw.get("note"),
            expectation=ExpectationOutcome.from_dict(expectation) if expectation else None,
            rerun=Rerun.from_dict(raw["rerun"]) if raw.get("rerun") else None,
        )


# -- the check itself ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    id: str  # stable, e.g. "stream.done-terminator"
    title: str  # one line
    clause: str  # the official clause it enforces, quoted or cited
    level: Level
    feature: str  # the area, also its module and id prefix: "shape", "stream", …
    probes: tuple[str, ...]  # exchanges it reads
    func: Callable[[Recorded], Outcome] = field(repr=False, compare=False)
    seeds: str = ""  # which seed page documents the behaviour, and how
    deviations: tuple[str, ...] = ()  # entries of docs/deviations.md it detects
    refusable: bool = False  # a clean 4xx means `unsupported` rather than `fail`
    # Its proof: the reference-provider quirk sets (each switched on together) on which it must fail.
    # tests/test_check_pairs.py runs every one, and the conformant reference, on which it must pass.
    fails_on: tuple[tuple[str, ...], ...] = ()
    # It judges whether its endpoint is served at all, so it is judged when the others of its endpoint are not.
    route_check: bool = False

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint it judges, as its feature says (``chat.tools`` is chat's)."""
        return Endpoint.of_feature(self.feature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "clause": self.clause,
            "level": self.level.value,
            "feature": self.feature,
            "probes": list(self.probes),
            "seeds": self.seeds,
            "deviations": list(self.deviations),
            "refusable": self.refusable,
            "fails_on": [list(quirks) for quirks in self.fails_on],
        }


def check(
    id: str,
    *,
    title: str,
    clause: str,
    level: Level,
    feature: str,
    probes: tuple[str, ...],
    seeds: str = "",
    deviations: tuple[str, ...] = (),
    refusable: bool = False,
    fails_on: tuple[str | tuple[str, ...], ...] = (),
    route_check: bool = False,
) -> Callable[[Callable[[Recorded], Outcome]], Check]:
    """Declare a check: the decorated function becomes a :class:`Check` carrying its catalogue metadata.

    ``fails_on`` names the quirks that prove the check can fail: a name is one quirk, a tuple quirks together.
    """
    quirk_sets = tuple((q,) if isinstance(q, str) else tuple(q) for q in fails_on)

    def wrap(func: Callable[[Recorded], Outcome]) -> Check:
        return Check(id, title, clause, level, feature, probes, func, seeds, deviations, refusable, quirk_sets,
                     route_check)

    return wrap


def on_endpoint(
    shared: Check,
    endpoint: Endpoint,
    *,
    fails_on: tuple[str | tuple[str, ...], ...],
    deviations: tuple[str, ...] | None = None,
    title: str | None = None,
    clause: str | None = None,
    level: Level | None = None,
    probes: tuple[str, ...] | None = None,
    seeds: str = "",
) -> Check:
    """The property ``shared`` checks, judged on ``endpoint`` too: the same function, reading the same short probe
    names in that endpoint's namespace (``basic`` is ``chat-basic``), with the endpoint's surface (schemas, object
    names). Its id, feature and probes take the endpoint's prefixes; its proof (``fails_on``) is its own, since the
    quirks that reproduce a deviation differ by endpoint. ``probes`` (short names) when it reads fewer there."""
    quirk_sets = tuple((q,) if isinstance(q, str) else tuple(q) for q in fails_on)
    return replace(
        shared,
        id=endpoint.prefix + shared.id,
        feature=endpoint.prefix + shared.feature,
        probes=tuple(endpoint.probe_id(p) for p in (probes or shared.probes)),
        fails_on=quirk_sets,
        deviations=shared.deviations if deviations is None else deviations,
        title=title or shared.title,
        clause=clause or shared.clause,
        level=level or shared.level,
        seeds=seeds,
    )


# -- what checks read ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a provider claims on one endpoint, as the checks of that endpoint read it."""

    model: str
    tokenizer: str | None = "auto"  # the provider's setting: "auto", an encoding name, or None (none)
    stated: bool = True  # someone said the provider serves this endpoint (False: an ad-hoc run finding out)


class Namespace(Mapping[str, Exchange]):
    """One endpoint's exchanges, found by their short names too: in chat's, ``basic`` is ``chat-basic``.

    This is what lets one check function judge a property on both endpoints: it reads its probes by the names
    they have in every endpoint (the chat probes mirror the Completions ones), and each endpoint's view finds its
    own. Iterating yields that endpoint's exchanges only, by their full ids; a full id is found as itself.
    """

    def __init__(self, exchanges: Mapping[str, Exchange], endpoint: Endpoint) -> None:
        self.all = exchanges
        self.endpoint = endpoint

    def key(self, probe: str) -> str:
        return self.endpoint.probe_id(probe)

    def __getitem__(self, probe: str) -> Exchange:
        return self.all[self.key(probe)]

    def __iter__(self) -> Iterator[str]:
        return (p for p in self.all if Endpoint.of_probe(p) is self.endpoint)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Recorded:
    """The exchanges of one provider, seen from one endpoint (its model, tokenizer, contract and probe names), with
    accessors that turn unusable answers into the right outcome. Every endpoint's view reads the same exchanges."""

    def __init__(
        self, exchanges: Mapping[str, Exchange], contract: Contract, model: str, tokenizer: str | None = "auto",
        endpoint: Endpoint = Endpoint.COMPLETIONS, stated: bool = True,
    ) -> None:
        self.exchanges = Namespace(exchanges.all if isinstance(exchanges, Namespace) else exchanges, endpoint)
        self.contract = contract
        self.model = model
        self.tokenizer = tokenizer  # the provider's setting: "auto", an encoding name, or None (none)
        self.endpoint = endpoint
        self.stated = stated
        self._views: Mapping[Endpoint, Recorded] = {endpoint: self}

    @classmethod
    def of(cls, exchanges: Mapping[str, Exchange], contracts: Contracts, claims: Mapping[Endpoint, Claim]) -> Recorded:
        """One view per claimed endpoint over the same exchanges; :meth:`view` gives each (this is the first)."""
        views = {e: cls(exchanges, contracts.of(e), c.model, c.tokenizer, e, c.stated) for e, c in claims.items()}
        for view in views.values():
            view._views = views
        return next(iter(views.values()))

    def view(self, endpoint: Endpoint) -> Recorded:
        """The same exchanges seen from ``endpoint``; Skip when the provider is not certified there."""
        found = self._views.get(endpoint)
        if found is None:
            raise Skip(f"{endpoint.route} is not certified for this provider")
        return found

    @property
    def surface(self) -> Surface:
        return SURFACES[self.endpoint]

    @property
    def claims(self) -> dict[Endpoint, Claim]:
        return {e: Claim(v.model, v.tokenizer, v.stated) for e, v in self._views.items()}

    @property
    def others(self) -> list[Recorded]:
        """The views of the provider's other certified endpoints."""
        return [v for e, v in self._views.items() if e is not self.endpoint]

    @property
    def serving(self) -> Serving:
        """Whether the provider serves this view's endpoint, as its first answer there says."""
        if not hasattr(self, "_serving"):
            self._serving = serving(self.exchanges, self.endpoint)
        return self._serving

    def exchange(self, probe: str) -> Exchange:
        ex = self.exchanges.get(probe)
        if ex is None:
            raise Skip(f"probe '{probe}' was not run")
        if ex.not_sent:
            raise Skip(f"probe '{probe}' was not sent: {ex.not_sent}")
        if ex.transport_error:
            raise Inconclusive(f"probe '{probe}': {ex.transport_error}")
        if ex.too_deep:
            raise Inconclusive(f"probe '{probe}': JSON nested deeper than {MAX_JSON_DEPTH} levels, not judged")
        return ex

    def ok(self, probe: str) -> Exchange:
        """The exchange of a valid request: it must have succeeded."""
        ex = self.exchange(probe)
        if ex.status == 200:
            return ex
        if is_clean_refusal(ex):
            envelope = error_envelope(ex) or {}
            raise Refused(probe, ex.status or 0, str(envelope.get("message", ""))[:300], self.excused(ex))
        raise Fail(
            f"a valid request was answered with HTTP {ex.status}",
            expected="HTTP 200",
            observed=f"HTTP {ex.status} {ex.content_type or 'no content-type'}: {snippet(ex.text)}",
            probe=probe,
        )

    def ok_json(self, probe: str) -> dict[str, Any]:
        ex = self.ok(probe)
        body = ex.json()
        if ex.truncated:
            raise Inconclusive(f"probe '{probe}': body cut at the size bound")
        if not isinstance(body, dict):
            raise Fail(
                "the 200 body is not a JSON object",
                expected="one JSON object (CreateCompletionResponse)",
                observed=f"{ex.content_type or 'no content-type'}: {snippet(ex.text)}",
                probe=probe,
            )
        return body

    def choices(self, probe: str) -> list[dict[str, Any]]:
        body = self.ok_json(probe)
        choices = body.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices) or not choices:
            raise Fail("choices is not a non-empty list of objects", "choices: [ {…} ]", snippet(repr(choices)), probe)
        return choices

    def text(self, probe: str, index: int = 0) -> str:
        """A non-streamed choice's text (a chat choice: its message content, which must be a string)."""
        choices = self.choices(probe)
        if index >= len(choices):
            raise Fail(f"no choice {index}", f"at least {index + 1} choices", f"{len(choices)} choices", probe)
        choice = choices[index]
        message = choice.get("message")
        value = message.get("content") if isinstance(message, dict) else choice.get("text")
        if not isinstance(value, str):
            what = "message content" if isinstance(message, dict) else "choice text"
            raise Fail(f"the {what} is not a string", "a string", repr(value), probe)
        return value

    def excused(self, ex: Exchange) -> Excused | None:
        """Why a clean refusal of ``ex`` is no new deviation: its request uses an optional feature (a probe's
        ``optional`` fields, at a value other than their default) that the provider refused on that feature's own
        probe too. One refusal is graded once, `unsupported` by the feature's refusable check, whatever other
        requests (other probes, the contract's examples, generated cases) happen to use the feature."""
        if not is_clean_refusal(ex):
            return None
        request = ex.request.json()
        if not isinstance(request, dict):
            return None
        for owner, fields in self._refused_features():
            if all(_uses(request, name, self._defaults()) for name in fields):
                return Excused(fields, owner)
        return None

    def _defaults(self) -> dict[str, Any]:
        if not hasattr(self, "_field_defaults"):
            self._field_defaults = {k: v.get("default") for k, v in self.contract.request_fields().items()}
        return self._field_defaults

    def _refused_features(self) -> list[tuple[str, tuple[str, ...]]]:
        from relaycheck.probes.catalogue import PROBES  # the probes declare which optional feature they exercise

        refused = []
        for probe in (p for p in PROBES if p.endpoint is self.endpoint):
            ex = self.exchanges.get(probe.id)
            if probe.optional and ex is not None and not ex.not_sent and is_clean_refusal(ex):
                refused.append((probe.id, probe.optional))
        return refused

    def returned_tokens(self, probe: str) -> list[Any] | None:
        """The tokens a successful answer (streamed or not) lists in its logprobs for its first choice (legacy
        ``tokens``, or chat's ``content[].token``), or None when it lists none."""
        try:
            answers = self.answers(probe)
        except (Fail, Skip, Inconclusive, Refused):
            return None
        return answers[0].logprob_tokens()

    def answers(self, probe: str) -> list[Answer]:
        """The choices of a successful answer, the same whether it was one JSON body or an event stream.

        A streamed answer is assembled per choice index: texts (chat: delta contents) and logprobs arrays joined in
        arrival order, finish_reason the last non-null one (``finishes`` counts them), chat tool calls accumulated
        as openai-python's ``accumulate_delta`` does (strings concatenated, so an ``id`` sent twice comes out
        doubled, as a client sees it). This is what lets one semantic check judge a parameter in both modes, and
        on both endpoints. Sorted by index as received (a missing index sorts last).
        """
        if not _asked_to_stream(self.exchange(probe)):
            return [_answer_of(c) for c in self.choices(probe)]
        ex = self.stream(probe)
        assembly: dict[Any, _Assembly] = {}
        for chunk in ex.chunks:
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            for choice in choices if isinstance(choices, list) else ():
                if isinstance(choice, dict):
                    assembly.setdefault(choice.get("index"), _Assembly(choice.get("index"))).add(choice)
        if not assembly:
            raise Fail("the stream carried no choices", "chunks with choices[]", snippet(ex.text, 160), probe)
        return sorted((a.answer() for a in assembly.values()), key=_index_order)

    def usage(self, probe: str) -> dict[str, Any] | None:
        """The usage a successful answer reports: the body's, or a stream's last chunk carrying one; else None."""
        ex = self.exchange(probe)
        if not _asked_to_stream(ex):
            usage = self.ok_json(probe).get("usage")
            return usage if isinstance(usage, dict) else None
        found = [c["usage"] for c in self.stream(probe).chunks if isinstance(c, dict) and isinstance(c.get("usage"),
                                                                                                       dict)]
        return found[-1] if found else None

    def schema_problem(self, name: str, instance: Any) -> str | None:
        """Where ``instance`` breaks the contract's schema ``name``, and how; None when it validates."""
        error = best_match(self.contract.validator(name).iter_errors(instance))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"at {where}: {snippet(error.message, 200)}"

    def stream(self, probe: str) -> Exchange:
        ex = self.ok(probe)
        if ex.truncated:
            raise Inconclusive(f"probe '{probe}': stream cut at the configured bound")
        return ex


@dataclass(frozen=True)
class Serving:
    """Whether a provider serves an endpoint, and the answer that says so."""

    endpoint: Endpoint
    served: bool | None  # None: no answer came to tell (nothing sent, or only transport failures)
    probe: str | None = None
    evidence: str = ""  # for a route that is missing: what came, in one line

    def statement(self) -> str:
        """One plain line for people: ``does not serve POST /v1/completions (HTTP 405: …)``."""
        if self.served is False:
            return f"does not serve {self.endpoint.route} ({self.evidence})"
        return f"serves {self.endpoint.route}" if self.served else f"{self.endpoint.route}: no answer to tell"


ROUTE_MISSING = (404, 405, 501)


def route_missing(ex: Exchange) -> str | None:
    """What ``ex`` shows when the route it was sent to is not there, else None: a 404, 405 or 501 that is not
    about the model (a relay answering 404 ``model_not_found`` serves the route, not the model), or a 2xx HTML
    page (a catch-all site where an API was expected). Every other answer, an error included, comes from the
    endpoint, and its checks judge it."""
    if ex.status is None:
        return None
    if ex.status in ROUTE_MISSING:
        envelope = error_envelope(ex)
        if envelope is not None and _about_model(envelope):
            return None
        allow = f", Allow: {ex.headers['allow']}" if ex.headers.get("allow") else ""
        return f"HTTP {ex.status}{allow}: {snippet(ex.text, 100)}"
    if 200 <= ex.status < 300 and ex.content_type in ("text/html", "application/xhtml+xml"):
        return f"HTTP {ex.status} with an HTML page: {snippet(ex.text, 100)}"
    return None


def _about_model(envelope: Mapping[str, Any]) -> bool:
    said = f"{envelope.get('code')} {envelope.get('param')} {envelope.get('message')}".lower()
    return "model" in said


def serving(exchanges: Mapping[str, Exchange], endpoint: Endpoint) -> Serving:
    """Whether ``endpoint`` is served, from the first answer any request to its route got (the engine sends each
    endpoint's canary first and alone, so that is the canary's when it was selected)."""
    answered = [ex for probe, ex in exchanges.items()  # by the id it is judged under (a rerun replaces its first)
                if ex.status is not None and ex.request.method == "POST" and not probe.endswith(RERUN_SUFFIX)
                and Endpoint.of_probe(probe) is endpoint]
    if not answered:
        return Serving(endpoint, None)
    first = min(answered, key=lambda ex: ex.started_at)
    why = route_missing(first)
    return Serving(endpoint, why is None, first.probe, why or "")


def is_clean_refusal(ex: Exchange) -> bool:
    """A 4xx with the OpenAI error envelope: how a provider declines a feature (graded `unsupported` where the
    check allows it)."""
    return ex.status is not None and 400 <= ex.status < 500 and error_envelope(ex) is not None


def _uses(request: Mapping[str, Any], name: str, defaults: Mapping[str, Any]) -> bool:
    """The request sets ``name`` to something other than null, false or the field's documented default."""
    value = request.get(name)
    if value is None or value is False or value == {}:
        return False
    default = defaults.get(name)
    return not (default is not None and value == default and type(value) is type(default))


LEGACY_LOGPROBS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")


@dataclass(frozen=True)
class Answer:
    """One choice of a completion, read from a JSON body or assembled from the chunks of a stream.

    A Completions choice has ``text``; a chat choice's ``text`` is its message content (None when it has none:
    a tool call answers with content null), with its role, refusal and tool calls.
    """

    index: Any
    text: str
    finish_reason: Any  # the (last) non-null finish_reason, None when none came
    logprobs: Any  # legacy object or chat {content, refusal} (arrays joined over chunks), None, or the first odd value
    finishes: int = 1  # how many non-null finish_reason values came (a stream must send exactly one)
    pieces: int = 1  # how many chunks carried text (1 for a JSON body)
    role: Any = None  # chat: the message's (or the first delta's) role
    content: Any = None  # chat: the content as it came (a string, or null); Completions: None
    refusal: Any = None  # chat: the refusal, if any
    tool_calls: tuple[Any, ...] = ()  # chat: the tool calls (a stream's accumulated by index)
    problems: tuple[str, ...] = ()  # a stream's deltas openai-python's accumulator cannot take (and why)
    # A stream's tool calls with each id and function.name as its index first sent them: what the calls are, where
    # ``tool_calls`` is what the client made of them (a head sent again is doubled there: chat.tools.stream-call-head
    # grades that, once). None: the same as ``tool_calls`` (a JSON body, or no head repeated).
    sent_calls: tuple[Any, ...] | None = None

    @property
    def calls(self) -> tuple[Any, ...]:
        """The tool calls as the provider sent them (``sent_calls`` when a stream repeated a head)."""
        return self.tool_calls if self.sent_calls is None else self.sent_calls

    def logprob_tokens(self) -> list[Any] | None:
        """The tokens its logprobs list: legacy ``tokens``, or chat ``content[].token``; None when none."""
        logprobs = self.logprobs
        if not isinstance(logprobs, dict):
            return None
        if isinstance(logprobs.get("tokens"), list):
            return logprobs["tokens"]
        content = logprobs.get("content")
        if isinstance(content, list):
            return [entry.get("token") if isinstance(entry, dict) else None for entry in content]
        return None


def _asked_to_stream(ex: Exchange) -> bool:
    body = ex.request.json()
    return isinstance(body, dict) and body.get("stream") is True


def _answer_of(choice: dict[str, Any]) -> Answer:
    finishes = 0 if choice.get("finish_reason") is None else 1
    message = choice.get("message")
    if isinstance(message, dict):
        content = message.get("content")
        calls = message.get("tool_calls")
        return Answer(choice.get("index"), content if isinstance(content, str) else "", choice.get("finish_reason"),
                      choice.get("logprobs"), finishes, role=message.get("role"), content=content,
                      refusal=message.get("refusal"), tool_calls=tuple(calls) if isinstance(calls, list) else ())
    text = choice.get("text")
    return Answer(choice.get("index"), text if isinstance(text, str) else "", choice.get("finish_reason"),
                  choice.get("logprobs"), finishes)


def _index_order(answer: Answer) -> tuple[int, int, str]:
    index = answer.index
    return (0, index, "") if isinstance(index, int) and not isinstance(index, bool) else (1, 0, str(index))


def _is_legacy(logprobs: Any) -> bool:
    return isinstance(logprobs, dict) and all(isinstance(logprobs.get(k), list) for k in LEGACY_LOGPROBS)


def _is_chat_logprobs(logprobs: Any) -> bool:
    return isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list) and not _is_legacy(logprobs)


def filled(value: Any) -> bool:
    """A tool-call member the accumulator would concatenate onto the call (absent, null and "" change nothing)."""
    return value is not None and value != ""


def delta_function(delta: dict[str, Any]) -> dict[str, Any]:
    """A tool-call delta's ``function`` object ({} when it has none)."""
    function = delta.get("function")
    return function if isinstance(function, dict) else {}


@dataclass
class CallHead:
    """What the deltas of one streamed call said of its head so far: its id and name, and where each first came.

    One definition for the answer's assembly (``Answer.sent_calls``: the calls as sent, not as the client doubled
    them) and for chat.tools' grammar checks (which member came again, and where)."""

    id: Any = None
    name: Any = None
    id_chunk: int = -1
    name_chunk: int = -1

    def take(self, delta: dict[str, Any], position: int = -1) -> list[str]:
        """Record ``delta``'s id and name (and the chunk ``position`` it came in); what it sends again (the members
        the client would concatenate)."""
        again = []
        name = delta_function(delta).get("name")
        for member, value in (("id", delta.get("id")), ("function.name", name)):
            if not filled(value):
                continue
            if member == "id" and self.id is None:
                self.id, self.id_chunk = value, position
            elif member == "function.name" and self.name is None:
                self.name, self.name_chunk = value, position
            else:
                again.append(member)
        return again


@dataclass
class _Assembly:
    """A streamed choice being put together, chunk by chunk (a Completions ``text`` or a chat ``delta``)."""

    index: Any
    text: str = ""
    finish_reason: Any = None
    finishes: int = 0
    pieces: int = 0
    logprobs: Any = None
    odd_logprobs: Any = None  # the first chunk logprobs that is neither null nor a known shape
    role: Any = None
    content: Any = None
    refusal: Any = None
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # tool calls by their delta index
    heads: dict[int, CallHead] = field(default_factory=dict)  # each index's id and name as first sent
    repeated: bool = False  # a later delta of an index sent its id or name again
    problems: list[str] = field(default_factory=list)

    def add(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(piece, str) and piece:
            self.text += piece
            self.pieces += 1
        if isinstance(delta, dict):
            self._add_delta(delta)
        if choice.get("finish_reason") is not None:
            self.finish_reason = choice["finish_reason"]
            self.finishes += 1
        self._add_logprobs(choice.get("logprobs"))

    def _add_delta(self, delta: dict[str, Any]) -> None:
        if self.role is None and delta.get("role") is not None:
            self.role = delta["role"]
        if isinstance(delta.get("content"), str):
            self.content = (self.content or "") + delta["content"]
        if isinstance(delta.get("refusal"), str):
            self.refusal = (self.refusal or "") + delta["refusal"]
        calls = delta.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            self.problems.append(f"delta.tool_calls is not a list: {snippet(repr(calls), 80)}")
            return
        for call in calls or ():
            index = call.get("index") if isinstance(call, dict) else None
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                # openai-python raises here (RuntimeError without an index, TypeError on a non-integer)
                self.problems.append(f"a tool-call delta without a non-negative integer index: "
                                     f"{snippet(repr(call), 120)}")
                continue
            self.repeated |= bool(self.heads.setdefault(index, CallHead()).take(call))
            if index in self.calls:
                accumulate(self.calls[index], call)
            else:
                self.calls[index] = copy.deepcopy(call)

    def _add_logprobs(self, lp: Any) -> None:
        if _is_legacy(lp):
            if self.logprobs is None:
                self.logprobs = {k: [] for k in LEGACY_LOGPROBS}
            for key in LEGACY_LOGPROBS:
                self.logprobs[key].extend(lp[key])
        elif _is_chat_logprobs(lp):
            if self.logprobs is None:  # the first chunk's object as it came, its content joined over the rest
                self.logprobs = {**lp, "content": list(lp["content"])}
            elif isinstance(self.logprobs.get("content"), list):
                self.logprobs["content"].extend(lp["content"])
        elif lp is not None and self.odd_logprobs is None:
            self.odd_logprobs = lp

    def answer(self) -> Answer:
        logprobs = self.odd_logprobs if self.odd_logprobs is not None else self.logprobs
        calls = tuple(self.calls[i] for i in sorted(self.calls))
        return Answer(self.index, self.text, self.finish_reason, logprobs, self.finishes, self.pieces, self.role,
                      self.content, self.refusal, calls, tuple(self.problems),
                      tuple(self._as_sent(i) for i in sorted(self.calls)) if self.repeated else None)

    def _as_sent(self, index: int) -> dict[str, Any]:
        call, head = copy.deepcopy(self.calls[index]), self.heads.get(index, CallHead())
        if head.id is not None:
            call["id"] = head.id
        if head.name is not None and isinstance(call.get("function"), dict):
            call["function"]["name"] = head.name
        return call


def accumulate(acc: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """``delta`` merged into ``acc`` as openai-python's ``accumulate_delta`` merges stream deltas
    (openai/openai-python:src/openai/lib/streaming/_deltas.py): a new key is taken, a string is appended, a
    mapping merged, ``index`` and ``type`` replaced. So a provider that repeats a call's ``id`` or ``name`` in
    every delta gives the client a doubled id: the corruption reaches the answer here too."""
    for key, value in delta.items():
        before = acc.get(key)
        if before is None or key in ("index", "type"):
            acc[key] = copy.deepcopy(value)
        elif isinstance(before, str) and isinstance(value, str):
            acc[key] = before + value
        elif isinstance(before, dict) and isinstance(value, dict):
            accumulate(before, value)
        elif value is not None:
            acc[key] = copy.deepcopy(value)
    return acc


def error_envelope(ex: Exchange) -> dict[str, Any] | None:
    """The ``error`` object of an OpenAI-style error body, if the body is one."""
    body = ex.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and isinstance(body["error"].get("message"), str):
        return body["error"]
    return None


def snippet(text: str, limit: int = 240) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def expect(ok: bool, message: str, expected: str, observed: str, probe: str | None = None) -> Outcome:
    """Pass when ``ok``; otherwise a failure carrying what was expected and what came."""
    if ok:
        return Pass(observed=observed)
    return Fail(message, expected, observed, probe)


# -- grading ------------------------------------------------------------------------------------------------


def judge(check: Check, recorded: Recorded) -> Verdict:
    """Run one check over the recordings, seen from the check's endpoint, and grade it. Never raises.

    On an endpoint the provider does not serve, only the check that says so is judged: the others are skipped
    (not failed, not passed, not in the score)."""
    try:
        view = recorded.view(check.endpoint)
        if not check.route_check and view.serving.served is False:
            raise Skip(f"not served: {view.serving.statement()}")
        outcome = check.func(view)
    except Fail as raised:
        outcome = raised
    except Refused as raised:
        refused = replace(raised, probe=check.endpoint.probe_id(raised.probe))
        if check.refusable:
            return Verdict(
                check.id,
                Grade.UNSUPPORTED,
                f"feature refused cleanly with HTTP {refused.status}: {refused.message}",
                observed=f"HTTP {refused.status}: {refused.message}",
                probes=(refused.probe,),
            )
        if refused.excused is not None:  # graded once, `unsupported`, by that feature's own check
            return Verdict(
                check.id,
                Grade.SKIPPED,
                f"not judged: probe '{refused.probe}' was refused because {refused.excused.describe()}",
                observed=f"HTTP {refused.status}: {refused.message}",
                probes=(refused.probe,),
            )
        outcome = Fail(
            "a valid request was refused",
            expected="HTTP 200",
            observed=f"HTTP {refused.status}: {refused.message}",
            probe=refused.probe,
        )
    except Skip as skip:
        return Verdict(check.id, Grade.SKIPPED, str(skip), probes=check.probes)
    except Inconclusive as why:
        return Verdict(check.id, Grade.ERROR, str(why), probes=check.probes)
    except Exception as exc:  # a harness fault must not hide the other verdicts
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = f"harness error {exc.__class__.__name__}: {exc} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
        return Verdict(check.id, Grade.ERROR, message, probes=check.probes)
    if isinstance(outcome, Pass):
        return Verdict(check.id, Grade.PASS, outcome.message, observed=outcome.observed, probes=check.probes)
    grade = Grade.FAIL if check.level is Level.MUST else Grade.WARN
    # a chat check names its probe by its short name, as it reads it: the exchange is the endpoint's own
    probes = (check.endpoint.probe_id(outcome.probe),) if outcome.probe else check.probes
    return Verdict(check.id, grade, outcome.message, outcome.expected, outcome.observed, probes)
