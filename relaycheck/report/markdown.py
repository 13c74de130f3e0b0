"""Markdown summaries that fit a CI job summary or a pull-request comment, and the one-screen terminal summary."""

from __future__ import annotations

from relaycheck.checks.model import Grade
from relaycheck.identity.section import identity_markdown
from relaycheck.report.model import Report, VerdictRow

OTHER = (Grade.UNSUPPORTED, Grade.KNOWN, Grade.SKIPPED, Grade.ERROR)  # the feature table's "other" column


def _cell(text: object, limit: int = 160) -> str:
    value = "" if text is None else str(text)
    value = value.replace("|", "\\|").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def provider_markdown(report: Report) -> str:
    p, suite, overall = report.provider, report.suite, report.score.overall
    lines = [
        f"## relaycheck: {p.name} ({p.model})",
        "",
        f"Address: {p.address} · suite {suite.version} (catalogue {suite.catalogue_revision}) · {report.started}",
        "",
    ]
    if report.skipped:
        return "\n".join([*lines, f"**Skipped**: {report.skipped}", ""])
    must = overall.must_failures
    verdict = "❌ MUST checks failed or unjudged: " + ", ".join(must) if must else "✅ no MUST failure"
    spend, budget = report.spend, report.budget
    lines += [
        f"**{verdict}**",
        "",
        " · ".join(f"{g.icon} {g.value} {n}" for g, n in overall.counts.items() if n),
        "",
        f"Spend: {spend.requests} requests ({spend.retries} retries), {spend.prompt_tokens} prompt + "
        f"{spend.completion_tokens} completion tokens; budget {budget.requests} requests / "
        f"{budget.completion_tokens} completion tokens.",
        "",
        "| feature | score | pass | fail | warn | other |",
        "|---|---|---|---|---|---|",
    ]
    for feature, s in report.score.by_feature.items():
        other = sum(s.count(g) for g in OTHER)
        pct = "–" if s.percent is None else f"{s.percent}%"
        lines.append(f"| {feature} | {pct} | {s.count(Grade.PASS)} | {s.count(Grade.FAIL)} | {s.count(Grade.WARN)} "
                     f"| {other} |")
    notable = report.notable()
    if notable:
        lines += ["", "| grade | check | level | what happened | expected | observed |", "|---|---|---|---|---|---|"]
        lines += [_notable_row(row) for row in notable]
    lines += identity_markdown(report)
    return "\n".join(lines) + "\n"


def _notable_row(row: VerdictRow) -> str:
    v = row.verdict
    return (
        f"| {v.grade.icon} {v.grade.value} | `{v.check}` | {row.check.level.value} | {_cell(v.message)}"
        f"{' — ' + _cell(v.note) if v.note else ''} | {_cell(v.expected, 80)} | {_cell(v.observed, 120)} |"
    )


def terminal_summary(reports: list[Report]) -> str:
    """One screen: per provider the grade counts, spend, and every MUST failure and error by id."""
    out = []
    for report in reports:
        name = report.provider.name
        if report.skipped:
            out.append(f"{name:<14} SKIPPED  {report.skipped}")
            continue
        s = report.score.overall
        status = "FAIL" if s.must_failures else "PASS"
        counts = ", ".join(f"{g.value} {s.count(g)}" for g in Grade)
        out.append(f"{name:<14} {status:<5} {counts} · {report.spend.requests} req, "
                   f"{report.spend.completion_tokens} completion tokens · {report.duration_s}s")
        for row in report.verdicts:
            if row.grade.bad:
                out.append(f"    {row.grade.value:<5} {row.id:<32} {_cell(row.verdict.message, 90)}")
    return "\n".join(out)
