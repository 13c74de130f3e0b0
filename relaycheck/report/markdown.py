"""Markdown summaries that fit a CI job summary or a pull-request comment, and the one-screen terminal summary."""

from __future__ import annotations

from typing import Any

from relaycheck.identity.section import identity_markdown

ICON = {"pass": "✅", "fail": "❌", "warn": "⚠️", "unsupported": "🚫", "known": "📌", "skipped": "⏭️", "error": "💥"}
NOTABLE = ("fail", "error", "warn", "unsupported", "known")


def _cell(text: Any, limit: int = 160) -> str:
    value = "" if text is None else str(text)
    value = value.replace("|", "\\|").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def provider_markdown(report: dict[str, Any]) -> str:
    p, score, spend = report["provider"], report["score"]["overall"], report["spend"]
    counts = score["counts"]
    lines = [
        f"## relaycheck: {p['name']} ({p['model']})",
        "",
        f"Address: {p['address']} · suite {report['suite']['version']} "
        f"(catalogue {report['suite']['catalogue_revision']}) · {report['started']}",
        "",
    ]
    if report.get("skipped"):
        return "\n".join([*lines, f"**Skipped**: {report['skipped']}", ""])
    must = score["must_failures"]
    verdict = "❌ MUST checks failed or unjudged: " + ", ".join(must) if must else "✅ no MUST failure"
    lines += [
        f"**{verdict}**",
        "",
        " · ".join(f"{ICON[g]} {g} {n}" for g, n in counts.items() if n),
        "",
        f"Spend: {spend['requests']} requests ({spend['retries']} retries), {spend['prompt_tokens']} prompt + "
        f"{spend['completion_tokens']} completion tokens; budget {report['budget']['requests']} requests / "
        f"{report['budget']['completion_tokens']} completion tokens.",
        "",
        "| feature | score | pass | fail | warn | other |",
        "|---|---|---|---|---|---|",
    ]
    for feature, s in report["score"]["by_feature"].items():
        c = s["counts"]
        other = sum(c[g] for g in ("unsupported", "known", "skipped", "error"))
        pct = "–" if s["percent"] is None else f"{s['percent']}%"
        lines.append(f"| {feature} | {pct} | {c['pass']} | {c['fail']} | {c['warn']} | {other} |")
    notable = [v for v in report["verdicts"] if v["grade"] in NOTABLE]
    if notable:
        lines += ["", "| grade | check | level | what happened | expected | observed |", "|---|---|---|---|---|---|"]
        order = {g: i for i, g in enumerate(NOTABLE)}
        for v in sorted(notable, key=lambda v: (order[v["grade"]], v["check"])):
            lines.append(
                f"| {ICON[v['grade']]} {v['grade']} | `{v['check']}` | {v['level']} | {_cell(v['message'])}"
                f"{' — ' + _cell(v['note']) if v.get('note') else ''} | {_cell(v.get('expected'), 80)} "
                f"| {_cell(v.get('observed'), 120)} |"
            )
    lines += identity_markdown(report)
    return "\n".join(lines) + "\n"


def terminal_summary(reports: list[dict[str, Any]]) -> str:
    """One screen: per provider the grade counts, spend, and every MUST failure and error by id."""
    out = []
    for report in reports:
        p = report["provider"]
        if report.get("skipped"):
            out.append(f"{p['name']:<14} SKIPPED  {report['skipped']}")
            continue
        s = report["score"]["overall"]
        c = s["counts"]
        status = "FAIL" if s["must_failures"] else "PASS"
        spend = report["spend"]
        out.append(
            f"{p['name']:<14} {status:<5} pass {c['pass']}, fail {c['fail']}, warn {c['warn']}, unsupported "
            f"{c['unsupported']}, known {c['known']}, skipped {c['skipped']}, error {c['error']} · "
            f"{spend['requests']} req, {spend['completion_tokens']} completion tokens · {report['duration_s']}s"
        )
        for v in report["verdicts"]:
            if v["grade"] in ("fail", "error") or (v["grade"] == "warn"):
                out.append(f"    {v['grade']:<5} {v['check']:<32} {_cell(v['message'], 90)}")
    return "\n".join(out)
