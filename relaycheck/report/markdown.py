"""Markdown summaries that fit a CI job summary or a pull-request comment, and the one-screen terminal summary.

Faults come first (:mod:`relaycheck.report.causes`), then the checks each one explains. A job summary has a hard
size limit: GitHub refuses a step's ``$GITHUB_STEP_SUMMARY`` over 1 MiB ("upload aborted, supports content up to a
size of 1024k"; https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-job-summary),
and the nightly job appends a provider's ``NAME.md`` and its diff to one step's summary. :func:`fit` keeps every
Markdown file relaycheck writes under :data:`SUMMARY_BUDGET`: first the compact form (faults and blocking checks
only), then a cut at a line boundary that points to the HTML page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from relaycheck.checks.model import Grade
from relaycheck.identity.section import identity_markdown
from relaycheck.report import escape
from relaycheck.report.causes import Causes, causes
from relaycheck.report.deviations import lookup
from relaycheck.report.model import Report, VerdictRow

GITHUB_STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes per step, GitHub's hard limit
SUMMARY_BUDGET = 900 * 1024  # what one Markdown file may take: the nightly job's diff goes into the same step
MUST_LISTED = 30  # MUST failures named in the headline; a provider failing everywhere has them all listed below

OTHER = (Grade.UNSUPPORTED, Grade.KNOWN, Grade.SKIPPED, Grade.ERROR)  # the feature table's "other" column


def _cell(text: object, limit: int | None = 160) -> str:
    return escape.markdown(text, limit)


def provider_markdown(report: Report, *, compact: bool = False) -> str:
    """The provider's summary; ``compact`` keeps the faults and the blocking checks only (for size)."""
    p, suite, overall = report.provider, report.suite, report.score.overall
    lines = [
        f"## relaycheck: {_cell(p.name)} ({_cell(p.model)})",
        "",
        f"Address: {_cell(p.address)} · suite {_cell(suite.version)} (catalogue {_cell(suite.catalogue_revision)}) · "
        f"{_cell(report.started)}",
        "",
    ]
    if report.skipped:
        return "\n".join([*lines, f"**Skipped**: {_cell(report.skipped, None)}", ""])
    must = overall.must_failures
    listed = ", ".join(must[:MUST_LISTED]) + (f" and {len(must) - MUST_LISTED} more (every one is in the checks "
                                               "below)" if len(must) > MUST_LISTED else "")
    verdict = f"❌ MUST checks failed or unjudged ({len(must)}): {listed}" if must else "✅ no MUST failure"
    spend, budget = report.spend, report.budget
    found = causes(report)
    lines += [
        f"**{verdict}**",
        "",
        f"**{found.summary()}** · " + " · ".join(f"{g.icon} {g.value} {n}" for g, n in overall.counts.items() if n),
        "",
        f"Spend: {spend.requests} requests ({spend.retries} retries), {spend.prompt_tokens} prompt + "
        f"{spend.completion_tokens} completion tokens; budget {budget.requests} requests / "
        f"{budget.completion_tokens} completion tokens.",
        "",
        *(f"- {_cell(line, None)}" for line in report.basis.lines),
        "",
    ]
    lines += [f"- {_cell(e.line(), None)}" for e in report.endpoints()] + [""]
    if overall.flaky:
        lines += [f"**Flaky**: {_flaky_line(overall.flaky)}", ""]
    lines += _faults_markdown(found, report, compact)
    lines += [
        "",
        "| feature | score | pass | fail | warn | other |",
        "|---|---|---|---|---|---|",
    ]
    for feature, s in report.score.by_feature.items():
        other = sum(s.count(g) for g in OTHER)
        pct = "–" if s.percent is None else f"{s.percent}%"
        lines.append(f"| {feature} | {pct} | {s.count(Grade.PASS)} | {s.count(Grade.FAIL)} | {s.count(Grade.WARN)} "
                     f"| {other} |")
    rest = [r for r in report.notable() if not r.grade.bad]
    if rest and not compact:
        lines += ["", "Other notable verdicts:", "", "| grade | check | level | what happened | expected | observed |",
                  "|---|---|---|---|---|---|"]
        lines += ["| " + _notable_row(row) for row in rest]
    if not compact:
        lines += identity_markdown(report)
    return "\n".join(lines) + "\n"


def _flaky_line(checks: Sequence[str]) -> str:
    """The checks that failed first and not when re-sent (warn where the first attempt got no answer at all)."""
    shown = ", ".join(f"`{_cell(c, 80)}`" for c in checks[:12]) + (f" and {len(checks) - 12} more" if len(checks) > 12
                                                                 else "")
    return f"{len(checks)} check(s) failed first and not when their probes were re-sent: {shown}"


def _faults_markdown(found: Causes, report: Report, compact: bool) -> list[str]:
    """The faults table, then (unless compact) the checks each explains, fault by fault."""
    if not found.faults:
        return []
    lines = ["### Faults", "", "| fault | root cause | grade | checks it explains |", "|---|---|---|---|"]
    for i, fault in enumerate(found.faults, 1):
        cause = (f"{fault.deviation} {_cell(lookup(fault.deviation).title, 100)}" if fault.deviation
                 else _cell(fault.symptom, 100))
        checks = ", ".join(f"`{c}`" for c in fault.checks)
        lines.append(f"| {i} | {cause} | {fault.worst.icon} {fault.worst.value} | {len(fault.rows)}: {checks} |")
    lines += ["", "### Checks by fault", ""]
    lines += ["| fault | grade | check | level | what happened | expected | observed |",
              "|---|---|---|---|---|---|---|"]
    for i, fault in enumerate(found.faults, 1):
        rows = fault.rows if not compact else [r for r in fault.rows if r.blocking][:3] or list(fault.rows[:1])
        lines += [f"| {i} | " + _notable_row(row, compact) for row in rows]
        if len(rows) < len(fault.rows):
            lines.append(f"| {i} | | … {len(fault.rows) - len(rows)} more | | see the HTML page | | |")
    return lines


def _notable_row(row: VerdictRow, compact: bool = False) -> str:
    v = row.verdict
    observed = "" if compact else _cell(v.observed, 120)
    return (
        f"{v.grade.icon} {v.grade.value} | `{v.check}` | {row.check.level.value} | {_cell(v.message)}"
        f"{' — ' + _cell(v.note) if v.note else ''} | {_cell(v.expected, 80)} | {observed} |"
    )


def fit(render: Callable[[bool], str], pointer: str, budget: int = SUMMARY_BUDGET) -> str:
    """``render(compact)`` within ``budget`` UTF-8 bytes: the full form, else the compact one, else the compact
    one cut at a line boundary, ending with ``pointer`` (where the rest is)."""
    full = render(False)
    if _size(full) <= budget:
        return full
    compact = render(True)
    note = f"\n\n> Shortened to stay within GitHub's job summary limit (1 MiB per step). {pointer}\n"
    if _size(compact) + _size(note) <= budget:
        return compact + note
    return cut(compact, budget - _size(note)) + note


def cut(text: str, budget: int) -> str:
    """The longest prefix of whole lines within ``budget`` bytes (a table row is never cut in half)."""
    out, used = [], 0
    for line in text.splitlines(keepends=True):
        if used + _size(line) > budget:
            break
        out.append(line)
        used += _size(line)
    return "".join(out).rstrip("\n") + "\n\n…"


def summary_markdown(reports: Sequence[Report], budget: int = SUMMARY_BUDGET) -> str:
    """The run's ``summary.md``: every provider, within one step summary's budget."""
    pointer = "The full reports: " + ", ".join(f"`{r.provider.name}.html`" for r in reports) + "."
    return fit(lambda compact: "\n".join(provider_markdown(r, compact=compact) for r in reports), pointer, budget)


def provider_summary(report: Report, budget: int = SUMMARY_BUDGET) -> str:
    """A provider's ``NAME.md``, within budget."""
    return fit(lambda compact: provider_markdown(report, compact=compact),
               f"The full report: `{report.provider.name}.html`.", budget)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def terminal_summary(reports: list[Report]) -> str:
    """One screen: per provider the grade counts, spend, and every MUST failure and error by id."""
    out = []
    for report in reports:
        name = escape.terminal(report.provider.name)
        if report.skipped:
            out.append(f"{name:<14} SKIPPED  {escape.terminal(report.skipped)}")
            continue
        s = report.score.overall
        status = "FAIL" if s.must_failures else "PASS"
        counts = ", ".join(f"{g.value} {s.count(g)}" for g in Grade if s.count(g))  # zero counts say nothing
        counts += f", flaky {len(s.flaky)}" if s.flaky and counts else ""
        out.append(f"{name:<14} {status:<5} {counts or 'no check judged'} · {report.spend.requests} req, "
                   f"{report.spend.tokens_text()} · {report.duration_s}s")
        endpoints = report.endpoints()
        for result in endpoints if len(endpoints) > 1 or endpoints[0].serving.served is False else ():
            out.append(f"    {escape.terminal(result.line(), 110)}")
        found = causes(report)
        if found.faults:
            out.append(f"    {escape.terminal(found.summary())}")
        for i, fault in enumerate(found.faults, 1):
            cause = f"{fault.deviation} {lookup(fault.deviation).title}" if fault.deviation else fault.symptom
            out.append(f"  fault {i}: {escape.terminal(cause, 100)}")
            for row in fault.rows:
                out.append(f"    {row.grade.value:<5} {escape.terminal(row.id):<32} "
                           f"{escape.terminal(row.verdict.message, 90)}")
    return "\n".join(out)
