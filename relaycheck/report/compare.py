"""Several providers side by side: the check matrix, failures unique to one provider, and whether providers that
claim the same model answer and bill the same prompts the same way.

Everything here works on typed reports (:class:`relaycheck.report.model.Report`, built from a run or read back
from disk), so it serves both ``relaycheck run -p a -p b`` and ``relaycheck compare a.json b.json``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from relaycheck.checks.model import Grade
from relaycheck.endpoint import ENDPOINTS, Endpoint
from relaycheck.identity.fingerprint import match, report_fingerprint
from relaycheck.report import escape
from relaycheck.report.causes import causes
from relaycheck.report.model import CheckInfo, Report, VerdictRow
from relaycheck.transport.exchange import Exchange

# temperature-0 probes whose answers must agree between providers serving the same model (by endpoint: chat's
# are its twins of these, and it has no defaults probe)
ANSWER_PROBES = ("greedy", "basic", "defaults", "stream")
CHAT_ANSWER_PROBES = ("chat-greedy", "chat-basic", "chat-stream")
# probes whose prompt must be billed the same (usage.prompt_tokens) by providers serving the same model
BILLING_PROBES = ("basic", "greedy")
CHAT_BILLING_PROBES = ("chat-basic", "chat-greedy")
_PROBES = {Endpoint.COMPLETIONS: (ANSWER_PROBES, BILLING_PROBES), Endpoint.CHAT: (CHAT_ANSWER_PROBES,
                                                                                   CHAT_BILLING_PROBES)}


@dataclass(frozen=True)
class Cell:
    grade: Grade | None  # None: the provider's report has no such check
    message: str = ""
    expected: str | None = None
    observed: str | None = None
    note: str | None = None
    unique: bool = False  # the only provider with a bad grade here, while others did better


@dataclass(frozen=True)
class Row:
    check: str
    feature: str
    level: str
    title: str
    cells: tuple[Cell, ...]

    @property
    def has_unique(self) -> bool:
        return any(c.unique for c in self.cells)


@dataclass(frozen=True)
class Probed:
    """One provider's value for one probe (an answer text or a prompt_tokens figure)."""

    value: Any  # None when it could not be read
    shown: str
    agrees: bool | None = None  # None: nothing to compare with


@dataclass
class ModelGroup:
    """Providers claiming the same model, and how their answers and billing line up."""

    model: str
    providers: list[str]
    endpoint: Endpoint = Endpoint.COMPLETIONS  # the endpoint on which they claim it
    answers: dict[str, dict[str, Probed]] = field(default_factory=dict)  # probe -> provider -> answer
    billing: dict[str, dict[str, Probed]] = field(default_factory=dict)  # probe -> provider -> prompt_tokens
    # probe -> provider -> completion_tokens, compared only among providers whose answers agree (the same text
    # must cost the same tokens; a different answer may cost anything)
    completion: dict[str, dict[str, Probed]] = field(default_factory=dict)
    served: dict[str, dict[str, Probed]] = field(default_factory=dict)  # probe -> provider -> response `model`

    @property
    def label(self) -> str:
        """The model as pages name it: with its endpoint, for any but Completions (named alone, as before chat)."""
        return self.model if self.endpoint is Endpoint.COMPLETIONS else f"{self.model} ({self.endpoint.title})"

    def tables(self) -> list[tuple[str, dict[str, dict[str, Probed]]]]:
        """What is compared, in the order pages show it."""
        return [("answer", self.answers), ("prompt_tokens", self.billing), ("completion_tokens", self.completion),
                ("served model", self.served)]
    flagged: dict[str, list[str]] = field(default_factory=dict)  # provider -> reasons
    fingerprint: dict[str, str] = field(default_factory=dict)  # provider -> the same-model rule vs the first


@dataclass
class Comparison:
    providers: list[str]
    reports: list[Report]
    rows: list[Row]
    groups: list[ModelGroup]

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(r.feature for r in self.rows))

    def unique_failures(self) -> list[tuple[str, str, Grade]]:
        """(provider, check, grade) for every failure only one provider has."""
        out = []
        for row in self.rows:
            for name, cell in zip(self.providers, row.cells, strict=True):
                if cell.unique and cell.grade is not None:
                    out.append((name, row.check, cell.grade))
        return out


def endpoints_of(reports: Sequence[Report]) -> list[Endpoint]:
    """Every endpoint any of the reports certified, in order: one comparison row each."""
    return list(dict.fromkeys(e.endpoint for r in reports for e in r.provider.certified))


def endpoint_cell(report: Report, endpoint: Endpoint) -> str:
    """How ``report`` came out on ``endpoint``, in a few words: its score, not served (and how), not certified."""
    result = next((e for e in report.endpoints() if e.info.endpoint is endpoint), None)
    if result is None:
        return "not certified"
    if result.serving.served is False:
        status = re.match(r"HTTP \d+", result.serving.evidence)
        return f"not served ({status.group() if status else 'not the API'})"
    percent = result.summary.percent
    must = len(result.summary.must_failures)
    return ("–" if percent is None else f"{percent}%") + (f", {must} MUST failing" if must else "")


def compare(reports: list[Report]) -> Comparison:
    names = [r.provider.name for r in reports]
    # make duplicate names distinguishable (two runs of the same provider compared side by side)
    seen: Counter[str] = Counter()
    providers = []
    for name in names:
        seen[name] += 1
        providers.append(name if names.count(name) == 1 else f"{name} #{seen[name]}")
    meta: dict[str, CheckInfo] = {}
    for report in reports:
        for row in report.verdicts:
            meta.setdefault(row.id, row.check)
    features = list(dict.fromkeys(c.feature for c in meta.values()))
    order = sorted(meta, key=lambda c: features.index(meta[c].feature))
    rows = []
    for check_id in order:
        cells = [_cell(report.by_check.get(check_id)) for report in reports]
        info = meta[check_id]
        rows.append(Row(check_id, info.feature, info.level.value, info.title, tuple(_mark_unique(cells))))
    return Comparison(providers, reports, rows, model_groups(reports, providers))


def _cell(row: VerdictRow | None) -> Cell:
    if row is None:
        return Cell(None)
    v = row.verdict
    return Cell(v.grade, v.message, v.expected, v.observed, v.note)


def _mark_unique(cells: list[Cell]) -> list[Cell]:
    judged = [c for c in cells if c.grade not in (None, Grade.SKIPPED)]
    bad = [c for c in judged if c.grade is not None and c.grade.bad]
    if len(cells) < 2 or len(bad) != 1 or len(judged) < 2:
        return cells
    return [replace(c, unique=True) if c is bad[0] else c for c in cells]


# -- same model, same answers? --------------------------------------------------------------------------------


def model_groups(reports: list[Report], names: list[str]) -> list[ModelGroup]:
    """Providers claiming the same model on the same endpoint, for each endpoint."""
    groups = []
    for endpoint in ENDPOINTS:
        by_model: dict[str, list[int]] = {}
        for i, report in enumerate(reports):
            model = report.provider.model_on(endpoint)
            if not report.skipped and model:
                by_model.setdefault(model, []).append(i)
        groups += [_group(endpoint, model, [reports[i] for i in members], [names[i] for i in members])
                   for model, members in by_model.items() if len(members) >= 2]
    return groups


def _group(endpoint: Endpoint, model: str, reports: list[Report], names: list[str]) -> ModelGroup:
    group = ModelGroup(model, names, endpoint)
    answer_probes, billing_probes = _PROBES[endpoint]
    exchanges = [report.by_probe for report in reports]
    for probe in answer_probes:
        answers = [_answer(ex.get(probe)) for ex in exchanges]
        group.answers[probe] = _agreement(group, answers, f"answer to '{probe}' differs (possible model "
                                                          "substitution)", _show_answer)
    for probe in billing_probes:
        billed = [_prompt_tokens(ex.get(probe)) for ex in exchanges]
        group.billing[probe] = _agreement(group, billed, f"prompt_tokens for '{probe}' differ (possible usage "
                                                         "inflation)", str)
    for probe in answer_probes:
        agreed = group.answers[probe]
        # a provider whose answer disagrees (or is unreadable) has no completion count to hold to the others'
        tokens = [_usage(ex.get(probe), "completion_tokens") if agreed[name].agrees is not False else None
                  for name, ex in zip(group.providers, exchanges, strict=True)]
        group.completion[probe] = _agreement(group, tokens, f"completion_tokens for the same answer to '{probe}' "
                                                            "differ (possible usage inflation)", str)
    for probe in billing_probes:
        served = [_served_model(ex.get(probe)) for ex in exchanges]
        group.served[probe] = _agreement(group, served, f"the response to '{probe}' names another model", str)
    _fingerprints(group, reports)
    return group


def _fingerprints(group: ModelGroup, reports: list[Report]) -> None:
    """The model-fingerprint rule (relaycheck/identity/fingerprint.py), each provider against the first one, on
    the group's endpoint."""
    first = report_fingerprint(reports[0], group.endpoint)
    for name, report in zip(group.providers[1:], reports[1:], strict=True):
        result = match(first, report_fingerprint(report, group.endpoint))
        group.fingerprint[name] = f"vs {group.providers[0]}: {result.summary()}"
        if result.same is False:
            group.flagged.setdefault(name, []).append(f"model fingerprint differs from {group.providers[0]}'s "
                                                      f"({result.summary()})")


def _agreement(group: ModelGroup, values: Sequence[Any], reason: str, show: Callable[[Any], str]) -> dict[str, Probed]:
    present = [v for v in values if v is not None]
    counts = Counter(json.dumps(v, sort_keys=True) for v in present)
    majority: str | None = None
    if counts:
        (top, n), *rest = counts.most_common()
        if not rest or n > rest[0][1]:
            majority = top
    out: dict[str, Probed] = {}
    for name, value in zip(group.providers, values, strict=True):
        if value is None:
            out[name] = Probed(None, "–")
            continue
        if len(present) < 2 or len(counts) == 1:
            agrees = None if len(present) < 2 else True
        else:
            # with a majority the odd ones out disagree; with no majority (e.g. two providers) all of them do
            agrees = majority is not None and json.dumps(value, sort_keys=True) == majority
        out[name] = Probed(value, show(value), agrees)
        if agrees is False:
            group.flagged.setdefault(name, []).append(reason)
    return out


def _answer(ex: Exchange | None) -> list[str] | None:
    """The texts of the choices (by index) of a 200 answer, streamed or not; None if unreadable."""
    if ex is None or ex.status != 200 or ex.truncated:  # a cut answer is no answer to compare
        return None
    texts: dict[int, str] = {}
    if ex.events:
        for chunk in ex.chunks:  # the data events before [DONE]; one that is not JSON is None
            for choice in _choices(chunk):
                texts[_index(choice)] = texts.get(_index(choice), "") + str(_text_of(choice, "delta") or "")
    else:
        body = ex.json()
        if body is None:
            return None
        for choice in _choices(body):
            if isinstance(_text_of(choice, "message"), str):
                texts[_index(choice)] = _text_of(choice, "message")
    return [texts[i] for i in sorted(texts)] or None


def _text_of(choice: dict[str, Any], member: str) -> Any:
    """A choice's text: Completions' ``text``, or a chat choice's ``message`` (``delta``, streamed) content."""
    inner = choice.get(member)
    return inner.get("content") if isinstance(inner, dict) else choice.get("text")


def _choices(obj: Any) -> list[dict[str, Any]]:
    choices = obj.get("choices") if isinstance(obj, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _index(choice: dict[str, Any]) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) else 0


def _prompt_tokens(ex: Exchange | None) -> int | None:
    return _usage(ex, "prompt_tokens")


def _payloads(ex: Exchange | None) -> list[Any]:
    if ex is None or ex.status != 200 or ex.truncated:
        return []
    return list(ex.chunks) if ex.events else [ex.json()]


def _usage(ex: Exchange | None, name: str) -> int | None:
    """A usage figure of a 200 answer (a stream's usage chunk, if it sent one)."""
    for payload in reversed(_payloads(ex)):
        usage = payload.get("usage") if isinstance(payload, dict) else None
        value = usage.get(name) if isinstance(usage, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _served_model(ex: Exchange | None) -> str | None:
    for payload in _payloads(ex):
        model = payload.get("model") if isinstance(payload, dict) else None
        if isinstance(model, str):
            return model
    return None


def _show_answer(texts: list[str]) -> str:
    return " | ".join(json.dumps(t, ensure_ascii=False) for t in texts)


# -- shared figures -------------------------------------------------------------------------------------------


def figures(report: Report) -> Figures:
    """Score, spend and latency of one provider, for the per-provider columns."""
    overall, spend, latency = report.score.overall, report.spend, report.latency
    return Figures(
        skipped=report.skipped,
        started=report.started,
        suite=f"{report.suite.version} ({report.suite.catalogue_revision})",
        percent=overall.percent,
        faults=len(causes(report).faults),
        must_failures=len(overall.must_failures),
        requests=spend.requests,
        prompt_tokens=spend.prompt_tokens,
        completion_tokens=spend.completion_tokens,
        retries=spend.retries,
        median_total=latency.median_total,
        median_time_to_first_token=latency.median_time_to_first_token,
        median_chunk_gap=latency.median_chunk_gap,
        duration_s=report.duration_s,
    )


@dataclass(frozen=True)
class Figures:
    skipped: str | None  # the provider was not certified: every figure below is empty, not zero
    started: str
    suite: str  # relaycheck version (catalogue revision)
    percent: float | None
    faults: int  # root causes of the failed and warned checks (relaycheck/report/causes.py)
    must_failures: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    retries: int
    median_total: float | None
    median_time_to_first_token: float | None
    median_chunk_gap: float | None
    duration_s: float


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


# -- Markdown -------------------------------------------------------------------------------------------------


def _md(text: Any, limit: int | None = 120) -> str:
    return escape.markdown(text, limit)


def comparison_markdown(comparison: Comparison) -> str:
    names = comparison.providers
    lines = ["# relaycheck comparison", "", "Providers: " + ", ".join(f"**{_md(n, 64)}**" for n in names), ""]
    header = "| " + " | ".join(["check", *(_md(n, 64) for n in names)]) + " |"
    sep = "|" + "---|" * (len(names) + 1)
    lines += ["## Figures", "", header, sep]
    figs = [figures(r) for r in comparison.reports]
    rows = [
        ("run", lambda f: f.started),
        ("suite", lambda f: _md(f.suite, 40)),
        ("score", lambda f: "–" if f.percent is None else f"{f.percent}%"),
        ("faults", lambda f: str(f.faults)),
        ("MUST failures", lambda f: str(f.must_failures)),
        ("requests", lambda f: str(f.requests)),
        ("prompt / completion tokens", lambda f: f"{f.prompt_tokens} / {f.completion_tokens}"),
        ("median latency", lambda f: seconds(f.median_total)),
        ("median time to first token", lambda f: seconds(f.median_time_to_first_token)),
        ("median chunk gap", lambda f: seconds(f.median_chunk_gap)),
    ]
    for label, fn in rows:
        shown = [fn(f) if not f.skipped or label in ("run", "suite") else "skipped" for f in figs]
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    for endpoint in endpoints_of(comparison.reports):
        shown = [_md(endpoint_cell(r, endpoint), 80) if not r.skipped else "skipped" for r in comparison.reports]
        lines.append(f"| {endpoint.title} | " + " | ".join(shown) + " |")
    for name, report in zip(names, comparison.reports, strict=True):
        if report.skipped:
            lines += ["", f"- **{_md(name, 64)}** skipped: {_md(report.skipped, 200)}"]
    unique = comparison.unique_failures()
    lines += ["", "## Failures unique to one provider", ""]
    if unique:
        lines += [f"- **{_md(p, 64)}** `{_md(c, 80)}`: {g.icon} {g.value}" for p, c, g in unique]
    else:
        lines.append("None.")
    if comparison.groups:
        lines += ["", "## Same model, same answers?", ""]
        for group in comparison.groups:
            claimed = ", ".join(_md(p, 64) for p in group.providers)
            lines += [f"Model `{_md(group.label, 80)}` claimed by {claimed}.", ""]
            lines += ["| probe | " + " | ".join(_md(p, 64) for p in group.providers) + " |",
                      "|" + "---|" * (len(group.providers) + 1)]
            for kind, table in group.tables():
                for probe, cells in table.items():
                    shown = [_agree_md(cells[p]) for p in group.providers]
                    lines.append(f"| {kind} `{probe}` | " + " | ".join(shown) + " |")
            if group.flagged:
                lines.append("")
                for provider, reasons in group.flagged.items():
                    lines.append(f"- ⚑ **{_md(provider, 64)}**: " + _md("; ".join(dict.fromkeys(reasons)), None))
            else:
                lines += ["", "All agree."]
            lines.append("")
    lines += ["", "## Checks", "", "‼ marks a failure only that provider has.", ""]
    lines += [header, sep]
    for feature in comparison.features:
        lines.append(f"| **{_md(feature, 64)}** |" + " |" * len(names))
        for row in (r for r in comparison.rows if r.feature == feature):
            cells = []
            for cell in row.cells:
                if cell.grade is None:
                    cells.append("–")
                    continue
                cells.append(f"{'‼ ' if cell.unique else ''}{cell.grade.icon} {cell.grade.value}")
            lines.append(f"| `{_md(row.check, 80)}` {_md(row.title, 80)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _agree_md(probed: Probed) -> str:
    mark = {True: "✅ ", False: "⚑ ", None: ""}[probed.agrees]
    return mark + _md(probed.shown, 60)
