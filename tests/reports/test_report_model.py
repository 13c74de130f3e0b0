"""The typed report: JSON round trip, catalogue metadata kept whole, reading earlier reports, one-line errors."""

from __future__ import annotations

import copy
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade
from relaycheck.report.diff import diff_reports
from relaycheck.report.model import CheckInfo, Report, ReportError


def test_json_round_trip_is_exact(run_dir: Path) -> None:
    for name in ("reference", "relay-a", "relay-b"):
        raw = json.loads((run_dir / f"{name}.json").read_text(encoding="utf-8"))
        assert Report.from_json(raw).to_json() == raw, name


def test_check_info_carries_all_catalogue_metadata() -> None:
    check = load_catalogue().checks[0]
    # every field a check serialises, except the probes it declares (a row lists the probes its verdict read)
    assert set(check.to_dict()) - {"probes"} == {f.name for f in fields(CheckInfo)}
    row = CheckInfo.of(check).to_json()
    assert {k: v for k, v in row.items() if k != "probes"} == {k: v for k, v in check.to_dict().items()
                                                               if k != "probes"}


def test_score_follows_from_the_rows(quirky_report: dict[str, Any]) -> None:
    report = Report.from_json(quirky_report)
    assert report.score.to_json() == quirky_report["score"]
    assert list(report.score.overall.must_failures) == sorted(r.id for r in report.verdicts if r.blocking)


def _without_structured_expectations(report: dict[str, Any], check: str, note: str) -> dict[str, Any]:
    old = copy.deepcopy(report)
    for v in old["verdicts"]:
        v.pop("expectation")
        if v["check"] == check:
            v.update(grade="known" if note.startswith("expected ") else v["grade"], note=note)
    return old


def test_an_earlier_report_has_its_expectation_read_from_its_note_once(reference_report: dict[str, Any]) -> None:
    check = reference_report["verdicts"][0]["check"]
    known = Report.from_json(_without_structured_expectations(reference_report, check, "expected fail: relay bug"))
    outcome = known.by_check[check].verdict.expectation
    assert outcome is not None and outcome.matched and outcome.grade is Grade.FAIL and outcome.reason == "relay bug"
    stale = Report.from_json(_without_structured_expectations(
        reference_report, check, "expectation was warn (upstream #12); it changed"))
    outcome = stale.by_check[check].verdict.expectation
    assert outcome is not None and outcome.stale and outcome.grade is Grade.WARN and outcome.reason == "upstream #12"
    # and diff reads the structured field, whichever way it got there
    diff = diff_reports(known, Report.from_json(reference_report))
    assert any(check in line and "expectation fail: relay bug → none" in line for line in diff.expectations)


def test_malformed_parts_are_one_line_report_errors(tmp_path: Path, reference_report: dict[str, Any]) -> None:
    broken = copy.deepcopy(reference_report)
    del broken["exchanges"][0]["request"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ReportError) as exc:
        Report.load(path)
    assert "\n" not in str(exc.value) and "broken.json" in str(exc.value) and "exchanges" in str(exc.value)
