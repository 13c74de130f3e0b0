"""The typed per-provider report: what every writer (JSON, Markdown, HTML, JUnit) and reader (compare, diff,
rejudge) consumes.

JSON is its serialisation (:meth:`Report.to_json` / :meth:`Report.from_json`), described by ``report.schema.json``.
A report read back from disk goes through the same type; anything malformed becomes a one-line
:class:`ReportError`. The score is not stored state: it follows from the verdict rows, so it cannot disagree
with them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from relaycheck.checks.model import Check, ExpectationOutcome, Grade, Level, Serving, Verdict, serving
from relaycheck.endpoint import Endpoint
from relaycheck.report.basis import Basis, basis
from relaycheck.transport import safejson
from relaycheck.transport.budget import EndpointSpend, Spend
from relaycheck.transport.exchange import Exchange

REPORT_VERSION = 1

Json = dict[str, Any]  # one JSON object, only inside this module's (de)serialisation


class ReportError(Exception):
    """A report file that cannot be used; the message is one line naming the file."""


# -- parts ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteInfo:
    """Which relaycheck judged: its version, the catalogue revision, how many checks were selected."""

    version: str
    catalogue_revision: str
    checks: int
    name: str = "relaycheck"

    def to_json(self) -> Json:
        return {"name": self.name, "version": self.version, "catalogue_revision": self.catalogue_revision,
                "checks": self.checks}

    @classmethod
    def from_json(cls, raw: Json) -> SuiteInfo:
        return cls(str(raw.get("version", "")), str(raw.get("catalogue_revision", "")), int(raw.get("checks") or 0),
                   str(raw.get("name") or "relaycheck"))


@dataclass(frozen=True)
class EndpointInfo:
    """One endpoint a provider was certified on, with the model it claims there and whose tokenizer counts it."""

    endpoint: Endpoint
    model: str
    tokenizer: str | None = "auto"

    def to_json(self) -> Json:
        return {"endpoint": self.endpoint.value, "model": self.model, "tokenizer": self.tokenizer}

    @classmethod
    def from_json(cls, raw: Json) -> EndpointInfo:
        return cls(Endpoint(raw["endpoint"]), str(raw.get("model") or ""), _opt_str(raw.get("tokenizer", "auto")))


@dataclass(frozen=True)
class ProviderInfo:
    """Who was certified. Deliberately has no key field."""

    name: str
    model: str = ""  # the Completions model (what reports said before chat)
    address: str = ""  # base URL, or a label for the embedded provider
    embedded: bool = False
    quirks: tuple[str, ...] = ()
    expectations: str | None = None  # the expectations file applied, if any
    # The providers.yaml tokenizer setting ("auto", an encoding, None for none): the identity checks read it, so a
    # re-judged report must grade with the same one (a report from before it was recorded was judged with "auto").
    tokenizer: str | None = "auto"
    # The window and cheaper models configured (providers.yaml, the command line), and where the window came from:
    # with the provider's own model list they are the report's basis (relaycheck/report/basis.py).
    context_length: int | None = None
    context_source: str | None = None
    cheaper_models: tuple[str, ...] = ()
    # The endpoints certified, each with its model; empty in a report from before chat: Completions with the above.
    endpoints: tuple[EndpointInfo, ...] = ()
    discover_endpoints: bool = False  # nobody stated the endpoints: one not served is reported, not failed

    @property
    def certified(self) -> tuple[EndpointInfo, ...]:
        """The endpoints certified, old reports included (they certified Completions alone)."""
        return self.endpoints or (EndpointInfo(Endpoint.COMPLETIONS, self.model, self.tokenizer),)

    def model_on(self, endpoint: Endpoint) -> str | None:
        return next((e.model for e in self.certified if e.endpoint is endpoint), None)

    def to_json(self) -> Json:
        return {"name": self.name, "model": self.model, "address": self.address, "embedded": self.embedded,
                "quirks": list(self.quirks), "expectations": self.expectations, "tokenizer": self.tokenizer,
                "endpoints": [e.to_json() for e in self.certified], "discover_endpoints": self.discover_endpoints,
                "context_length": self.context_length, "context_source": self.context_source,
                "cheaper_models": list(self.cheaper_models)}

    @classmethod
    def from_json(cls, raw: Json) -> ProviderInfo:
        return cls(raw["name"], str(raw.get("model") or ""), str(raw.get("address") or ""),
                   bool(raw.get("embedded")), tuple(str(q) for q in raw.get("quirks") or ()),
                   _opt_str(raw.get("expectations")), _opt_str(raw.get("tokenizer", "auto")),
                   context_length=_opt_int(raw.get("context_length")),
                   context_source=_opt_str(raw.get("context_source")),
                   cheaper_models=tuple(str(m) for m in raw.get("cheaper_models") or ()),
                   endpoints=tuple(EndpointInfo.from_json(e) for e in raw.get("endpoints") or ()),
                   discover_endpoints=bool(raw.get("discover_endpoints")))


@dataclass(frozen=True)
class BudgetInfo:
    """The provider's budget for the run (None: no limit)."""

    requests: int | None = None
    completion_tokens: int | None = None

    def to_json(self) -> Json:
        return {"requests": self.requests, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_json(cls, raw: Json) -> BudgetInfo:
        return cls(_opt_int(raw.get("requests")), _opt_int(raw.get("completion_tokens")))


def spend_from_json(raw: Json) -> Spend:
    return Spend(
        requests=int(raw.get("requests") or 0),
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        retries=int(raw.get("retries") or 0),
        refused=int(raw.get("refused_by_budget") or 0),
        overrun_factor=float(raw.get("max_tokens_overrun_factor") or 1.0),
        streams_cut=int(raw.get("streams_cut") or 0),
        overrun_bound=_opt_int(raw.get("overrun_bound_tokens")),
        reported_completion_tokens=int(raw.get("reported_completion_tokens") or 0),
        reserved_completion_tokens=int(raw.get("reserved_completion_tokens") or 0),
        by_endpoint={e: EndpointSpend.from_dict(raw["by_endpoint"][e.value]) for e in Endpoint
                     if isinstance(raw.get("by_endpoint"), dict) and e.value in raw["by_endpoint"]},
    )


@dataclass(frozen=True)
class ProbeLatency:
    time_to_headers: float | None = None
    time_to_first_token: float | None = None
    total: float | None = None
    chunks: int = 0
    max_gap: float | None = None

    def to_json(self) -> Json:
        return {"time_to_headers": self.time_to_headers, "time_to_first_token": self.time_to_first_token,
                "total": self.total, "chunks": self.chunks, "max_gap": self.max_gap}

    @classmethod
    def from_json(cls, raw: Json) -> ProbeLatency:
        return cls(_opt_float(raw.get("time_to_headers")), _opt_float(raw.get("time_to_first_token")),
                   _opt_float(raw.get("total")), int(raw.get("chunks") or 0), _opt_float(raw.get("max_gap")))


@dataclass(frozen=True)
class Latency:
    median_total: float | None = None
    median_time_to_first_token: float | None = None
    median_chunk_gap: float | None = None
    by_probe: Mapping[str, ProbeLatency] = field(default_factory=dict)

    def to_json(self) -> Json:
        return {"median_total": self.median_total, "median_time_to_first_token": self.median_time_to_first_token,
                "median_chunk_gap": self.median_chunk_gap,
                "by_probe": {p: v.to_json() for p, v in self.by_probe.items()}}

    @classmethod
    def from_json(cls, raw: Json) -> Latency:
        return cls(_opt_float(raw.get("median_total")), _opt_float(raw.get("median_time_to_first_token")),
                   _opt_float(raw.get("median_chunk_gap")),
                   {str(p): ProbeLatency.from_json(v) for p, v in (raw.get("by_probe") or {}).items()})


# -- verdict rows ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInfo:
    """A check's catalogue metadata as a report carries it (the function itself stays in the catalogue)."""

    id: str
    title: str = ""
    clause: str = ""
    level: Level = Level.MUST
    feature: str = ""
    seeds: str = ""
    deviations: tuple[str, ...] = ()
    refusable: bool = False
    fails_on: tuple[tuple[str, ...], ...] = ()

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint it judges, as its feature says (a report from before chat: Completions)."""
        return Endpoint.of_feature(self.feature)

    def route_check_of(self, endpoint: Endpoint) -> bool:
        """It is the check that says whether ``endpoint`` is served (``route.served``, ``chat.route.served``)."""
        return self.feature == f"{endpoint.prefix}route"

    @classmethod
    def of(cls, check: Check) -> CheckInfo:
        return cls(check.id, check.title, check.clause, check.level, check.feature, check.seeds, check.deviations,
                   check.refusable, check.fails_on)

    def to_json(self) -> Json:
        # "probes" keeps its place among the metadata; the row fills it with the probes the verdict read
        return {"id": self.id, "title": self.title, "clause": self.clause, "level": self.level.value,
                "feature": self.feature, "probes": [], "seeds": self.seeds, "deviations": list(self.deviations),
                "refusable": self.refusable, "fails_on": [list(q) for q in self.fails_on]}

    @classmethod
    def from_json(cls, raw: Json) -> CheckInfo:
        return cls(
            str(raw.get("id") or raw["check"]), str(raw.get("title") or ""), str(raw.get("clause") or ""),
            Level(raw.get("level") or Level.MUST.value), str(raw.get("feature") or ""), str(raw.get("seeds") or ""),
            tuple(str(d) for d in raw.get("deviations") or ()), bool(raw.get("refusable")),
            tuple(tuple(str(q) for q in qs) for qs in raw.get("fails_on") or ()),
        )


@dataclass(frozen=True)
class VerdictRow:
    """One check of the report: its catalogue metadata and its verdict (grade and evidence)."""

    check: CheckInfo
    verdict: Verdict

    @property
    def id(self) -> str:
        return self.verdict.check

    @property
    def grade(self) -> Grade:
        return self.verdict.grade

    @property
    def blocking(self) -> bool:
        """The verdicts that make ``relaycheck run`` exit 1: a MUST check failed or unjudged."""
        return self.grade.blocks and self.check.level is Level.MUST

    def to_json(self) -> Json:
        return {**self.check.to_json(), **self.verdict.to_dict()}

    @classmethod
    def from_json(cls, raw: Json) -> VerdictRow:
        return cls(CheckInfo.from_json(raw), _verdict_from_json(raw))


def _verdict_from_json(raw: Json) -> Verdict:
    verdict = Verdict.from_dict(raw)
    if "expectation" not in raw:  # written before expectations were structured: its note is all there is
        verdict = replace(verdict, expectation=_legacy_expectation(verdict))
    return verdict


def _legacy_expectation(verdict: Verdict) -> ExpectationOutcome | None:
    """The expectation of a verdict from a report written before the field existed, read from its note."""
    note = verdict.note or ""
    try:
        if verdict.grade is Grade.KNOWN and note.startswith("expected "):
            grade, _, reason = note.removeprefix("expected ").partition(": ")
            return ExpectationOutcome(Grade(grade), reason, matched=True)
        if note.startswith("expectation was ") and note.endswith("; it changed"):
            grade, _, reason = note.removeprefix("expectation was ").removesuffix("; it changed").partition(" (")
            return ExpectationOutcome(Grade(grade), reason.removesuffix(")"), matched=False)
    except ValueError:
        return None
    return None


# -- score ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Counts per grade, the share of judged checks that passed, and the blocking verdicts."""

    counts: Mapping[Grade, int]  # every grade, in Grade order
    percent: float | None  # a summary only: the failures themselves are always listed next to it
    must_failures: tuple[str, ...]  # MUST checks failed or unjudged: the verdicts that make `run` exit 1
    # Checks that failed first and not when their probes were re-sent (``Verdict.flaky``): graded warn when the
    # first attempt got no answer of the endpoint (an HTML 504), pass otherwise; either way counted here.
    flaky: tuple[str, ...] = ()

    @classmethod
    def of(cls, rows: Iterable[VerdictRow]) -> Summary:
        rows = list(rows)
        counts = Counter(r.grade for r in rows)
        judged = sum(n for g, n in counts.items() if g.judged)
        percent = round(100 * counts[Grade.PASS] / judged, 1) if judged else None
        return cls({g: counts[g] for g in Grade}, percent, tuple(sorted(r.id for r in rows if r.blocking)),
                   tuple(sorted(r.id for r in rows if r.verdict.flaky)))

    def count(self, grade: Grade) -> int:
        return self.counts.get(grade, 0)

    def to_json(self) -> Json:
        return {"counts": {g.value: self.count(g) for g in Grade}, "percent": self.percent,
                "must_failures": list(self.must_failures), "flaky": list(self.flaky)}

    @classmethod
    def from_json(cls, raw: Json) -> Summary:
        counts = raw.get("counts") or {}
        return cls({g: int(counts.get(g.value) or 0) for g in Grade}, _opt_float(raw.get("percent")),
                   tuple(str(c) for c in raw.get("must_failures") or ()), tuple(str(c) for c in raw.get("flaky") or ()))


@dataclass(frozen=True)
class Score:
    overall: Summary
    by_feature: Mapping[str, Summary]
    by_endpoint: Mapping[Endpoint, Summary] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: tuple[VerdictRow, ...]) -> Score:
        features = dict.fromkeys(r.check.feature for r in rows)  # catalogue order: rows come in it
        endpoints = dict.fromkeys(r.check.endpoint for r in rows)
        return cls(Summary.of(rows), {f: Summary.of(r for r in rows if r.check.feature == f) for f in features},
                   {e: Summary.of(r for r in rows if r.check.endpoint is e) for e in endpoints})

    def to_json(self) -> Json:
        return {"overall": self.overall.to_json(), "by_feature": {f: s.to_json() for f, s in self.by_feature.items()},
                "by_endpoint": {e.value: s.to_json() for e, s in self.by_endpoint.items()}}


@dataclass(frozen=True)
class EndpointResult:
    """How one certified endpoint came out: the model claimed there, whether it is served, its checks' summary."""

    info: EndpointInfo
    serving: Serving
    summary: Summary
    spend: EndpointSpend | None = None  # None: a report written before spend was tallied per endpoint

    @property
    def title(self) -> str:
        return f"{self.info.endpoint.title} ({self.info.endpoint.route}, {self.info.model})"

    def line(self) -> str:
        """One plain line: ``Chat Completions (POST /v1/chat/completions, gpt-4): 98.2% of 60 judged`` or why not."""
        if self.serving.served is False:
            return f"{self.info.endpoint.title}: {self.serving.statement()}"
        judged = sum(n for g, n in self.summary.counts.items() if g.judged)
        score = "no check judged" if self.summary.percent is None else f"{self.summary.percent}% of {judged} judged"
        must = f", {len(self.summary.must_failures)} MUST failing" if self.summary.must_failures else ""
        return f"{self.title}: {score}{must}{self.spent()}"

    def spent(self) -> str:
        """`` · 70 requests, 1500 prompt + 600 completion tokens``: what this endpoint's exchanges cost."""
        if self.spend is None:
            return ""
        return (f" · {self.spend.requests} requests, {self.spend.prompt_tokens} prompt + "
                f"{self.spend.completion_tokens} completion tokens")


# -- rejudge --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeChange:
    check: str
    before: Grade | None  # None: the check did not exist
    after: Grade | None

    def to_json(self) -> Json:
        return {"check": self.check, "before": _grade_value(self.before), "after": _grade_value(self.after)}

    @classmethod
    def from_json(cls, raw: Json) -> GradeChange:
        return cls(str(raw["check"]), _opt_grade(raw.get("before")), _opt_grade(raw.get("after")))


@dataclass(frozen=True)
class RejudgeInfo:
    """Set by ``relaycheck rejudge``: when, from which file, and how the original run had been judged."""

    at: str
    source: str  # the report file re-graded
    original_suite: SuiteInfo
    original_score: Summary
    changed: tuple[GradeChange, ...] = ()
    original_rejudged: RejudgeInfo | None = None  # the original was itself re-judged

    def to_json(self) -> Json:
        return {"at": self.at, "from": self.source, "original_suite": self.original_suite.to_json(),
                "original_score": self.original_score.to_json(),
                "original_rejudged": self.original_rejudged.to_json() if self.original_rejudged else None,
                "changed": [c.to_json() for c in self.changed]}

    @classmethod
    def from_json(cls, raw: Json) -> RejudgeInfo:
        earlier = raw.get("original_rejudged")
        return cls(str(raw["at"]), str(raw["from"]), SuiteInfo.from_json(raw.get("original_suite") or {}),
                   Summary.from_json(raw.get("original_score") or {}),
                   tuple(GradeChange.from_json(c) for c in raw.get("changed") or ()),
                   cls.from_json(earlier) if earlier else None)


# -- the report -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    suite: SuiteInfo
    provider: ProviderInfo
    started: str  # ISO 8601, seconds
    finished: str
    duration_s: float
    verdicts: tuple[VerdictRow, ...]  # in catalogue order
    spend: Spend = field(default_factory=Spend)
    budget: BudgetInfo = field(default_factory=BudgetInfo)
    latency: Latency = field(default_factory=Latency)
    exchanges: tuple[Exchange, ...] = ()
    skipped: str | None = None  # why the provider was not certified at all (e.g. key not set)
    stopped: str | None = None  # why requests stopped being sent part-way (provider down, run deadline)
    rejudged: RejudgeInfo | None = None

    @property
    def name(self) -> str:
        return self.provider.name

    @cached_property
    def score(self) -> Score:
        return Score.of(self.verdicts)

    @cached_property
    def by_check(self) -> dict[str, VerdictRow]:
        return {r.id: r for r in self.verdicts}

    @cached_property
    def by_probe(self) -> dict[str, Exchange]:
        return {x.probe: x for x in self.exchanges}

    @cached_property
    def basis(self) -> Basis:
        """What the report was judged with and where each number came from; what it could not judge."""
        p = self.provider
        return basis(p.model, p.context_length, p.context_source, p.cheaper_models, self.by_probe)

    def features(self) -> list[str]:
        return list(dict.fromkeys(r.check.feature for r in self.verdicts))

    def endpoints(self) -> list[EndpointResult]:
        """Each endpoint certified, in order: served or not (from its first answer), and its score."""
        empty = Summary.of(())
        return [EndpointResult(info, serving(self.by_probe, info.endpoint),
                               self.score.by_endpoint.get(info.endpoint, empty),
                               self.spend.by_endpoint.get(info.endpoint) if self.spend.by_endpoint else None)
                for info in self.provider.certified]

    def notable(self) -> list[VerdictRow]:
        """The verdicts a reader must see with their evidence, worst first."""
        return sorted((r for r in self.verdicts if r.grade.notable), key=lambda r: (r.grade.order, r.id))

    def evidence(self, row: VerdictRow) -> list[Exchange]:
        """The recorded exchanges the verdict read, those the report holds."""
        return [self.by_probe[p] for p in row.verdict.probes if p in self.by_probe]

    # -- JSON -------------------------------------------------------------------------------------------------

    def to_json(self) -> Json:
        return {
            "report_version": REPORT_VERSION,
            "suite": self.suite.to_json(),
            "provider": self.provider.to_json(),
            "started": self.started,
            "finished": self.finished,
            "duration_s": self.duration_s,
            "skipped": self.skipped,
            "stopped": self.stopped,
            "spend": self.spend.to_dict(),
            "budget": self.budget.to_json(),
            "score": self.score.to_json(),
            "basis": self.basis.to_json(),
            "verdicts": [r.to_json() for r in self.verdicts],
            "latency": self.latency.to_json(),
            "exchanges": [x.to_dict() for x in self.exchanges],
            "rejudged": self.rejudged.to_json() if self.rejudged else None,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: Any, source: str = "report") -> Report:
        """A report from its parsed JSON; ``source`` names it in the one-line :class:`ReportError`."""
        if not isinstance(raw, dict) or "report_version" not in raw:
            raise ReportError(f"{source}: not a relaycheck report (no report_version)")
        if raw["report_version"] != REPORT_VERSION:
            raise ReportError(
                f"{source}: report_version {raw['report_version']!r} (this relaycheck reads {REPORT_VERSION})"
            )
        provider = raw.get("provider")
        if not isinstance(provider, dict) or not isinstance(provider.get("name"), str):
            raise ReportError(f"{source}: report has no provider name")
        rows = raw.get("verdicts")
        grades = {g.value for g in Grade}
        if not isinstance(rows, list) or not all(
            isinstance(v, dict) and isinstance(v.get("check"), str) and v.get("grade") in grades for v in rows
        ):
            raise ReportError(f"{source}: report verdicts are malformed")
        part = "report"
        try:
            part = "verdicts"
            verdicts = tuple(VerdictRow.from_json(v) for v in rows)
            part = "exchanges"
            exchanges = tuple(Exchange.from_dict(x) for x in raw.get("exchanges") or ())
            part = "report"
            rejudged = raw.get("rejudged")
            return cls(
                suite=SuiteInfo.from_json(raw.get("suite") or {}),
                provider=ProviderInfo.from_json(provider),
                started=str(raw.get("started") or ""),
                finished=str(raw.get("finished") or raw.get("started") or ""),
                duration_s=float(raw.get("duration_s") or 0),
                verdicts=verdicts,
                spend=spend_from_json(raw.get("spend") or {}),
                budget=BudgetInfo.from_json(raw.get("budget") or {}),
                latency=Latency.from_json(raw.get("latency") or {}),
                exchanges=exchanges,
                skipped=_opt_str(raw.get("skipped")),
                stopped=_opt_str(raw.get("stopped")),
                rejudged=RejudgeInfo.from_json(rejudged) if rejudged else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"{exc.__class__.__name__}: {exc}".replace("\n", " ")[:160]
            raise ReportError(f"{source}: {part} are malformed ({detail})") from None

    @classmethod
    def load(cls, path: Path) -> Report:
        """Read and check a report file; any problem becomes a one-line :class:`ReportError`."""
        try:
            raw = safejson.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReportError(f"{path}: no such report") from None
        except IsADirectoryError:
            raise ReportError(f"{path}: is a directory, expected a report .json") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: cannot read: {exc.__class__.__name__}") from None
        except ValueError as exc:
            raise ReportError(f"{path}: not JSON ({exc})".replace("\n", " ")) from None
        return cls.from_json(raw, str(path))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_grade(value: Any) -> Grade | None:
    return None if value is None else Grade(value)


def _grade_value(grade: Grade | None) -> str | None:
    return None if grade is None else grade.value
