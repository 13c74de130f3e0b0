"""The Markdown job summary stays within GitHub's limit (1 MiB per step) for four providers with many failures,
and when it must be shortened it says so and points to the HTML pages."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from relaycheck.checks.model import Grade
from relaycheck.report.deviations import catalogue, parse
from relaycheck.report.markdown import GITHUB_STEP_SUMMARY_LIMIT, SUMMARY_BUDGET, summary_markdown
from relaycheck.report.model import Report, VerdictRow

DOC = Path(__file__).resolve().parents[2] / "docs" / "deviations.md"
LONG = "a provider-chosen message that goes on and on | with pipes\nand lines " * 2000  # ~140 KB


def failing_everywhere(rep: Report, name: str) -> Report:
    """Every check failed, with a huge message and observation."""
    rows = tuple(VerdictRow(r.check, replace(r.verdict, grade=Grade.FAIL, message=LONG, observed=LONG,
                                             expected=LONG, note=LONG)) for r in rep.verdicts)
    return replace(rep, provider=replace(rep.provider, name=name), verdicts=rows)


def test_four_providers_with_many_failures_fit(five_dir: Path) -> None:
    rep = Report.load(five_dir / "relay-five.json")
    reports = [failing_everywhere(rep, f"vendor-{i}") for i in range(4)]
    text = summary_markdown(reports)
    size = len(text.encode("utf-8"))
    assert size <= SUMMARY_BUDGET < GITHUB_STEP_SUMMARY_LIMIT
    assert text.count("### Faults") == 4  # every provider is there, faults first
    for r in reports:
        assert text.index(f"## relaycheck: {r.provider.name}") < text.index("### Faults", text.index(r.provider.name))


def test_a_summary_over_budget_is_shortened_with_a_pointer(five_dir: Path) -> None:
    rep = Report.load(five_dir / "relay-five.json")
    reports = [failing_everywhere(rep, f"vendor-{i}") for i in range(4)]
    full = summary_markdown(reports, budget=10**9)
    budget = 12_000
    assert len(full.encode("utf-8")) > budget
    short = summary_markdown(reports, budget=budget)
    assert len(short.encode("utf-8")) <= budget
    assert short.rstrip().endswith("The full reports: `vendor-0.html`, `vendor-1.html`, `vendor-2.html`, "
                                   "`vendor-3.html`.")
    assert "job summary limit (1 MiB per step)" in short
    # cut at a line boundary: every table row that is there is whole
    assert all(line.endswith("|") for line in short.splitlines() if line.startswith("| "))
    assert short.index("### Faults") < short.index("### Checks by fault")


def test_a_summary_within_budget_is_not_touched(five_dir: Path) -> None:
    rep = Report.load(five_dir / "relay-five.json")
    text = summary_markdown([rep, rep])
    assert "Shortened" not in text and text.count("### Faults") == 2


def test_packaged_deviation_titles_are_the_documents() -> None:
    """relaycheck/report/deviations.json is docs/deviations.md as pages embed it (regenerate: see its module)."""
    assert catalogue() == parse(DOC.read_text(encoding="utf-8"))
    assert catalogue()["D40"].title == "HTTP 200 with an error body, or with HTML"
    assert json.loads((Path(__file__).parents[2] / "relaycheck/report/deviations.json").read_text())[0]["id"] == "D01"
