"""The JSON Schema describes exactly what build_report produces, for conformant and quirky runs alike."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from relaycheck.report.model import Report, ReportError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "relaycheck" / "report" / "report.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, report: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(report)]


@pytest.mark.parametrize("name", ["reference", "relay-a", "relay-b"])
def test_real_reports_validate(validator: jsonschema.Draft202012Validator, run_dir: Path, name: str) -> None:
    report = json.loads((run_dir / f"{name}.json").read_text(encoding="utf-8"))
    assert errors(validator, report) == []
    assert report["report_version"] == 1


def test_quirky_report_has_failures_and_still_validates(quirky_report: dict[str, Any],
                                                        validator: jsonschema.Draft202012Validator) -> None:
    grades = {v["grade"] for v in quirky_report["verdicts"]}
    assert "fail" in grades
    assert quirky_report["score"]["overall"]["must_failures"]
    assert errors(validator, quirky_report) == []


def test_skipped_report_validates(validator: jsonschema.Draft202012Validator) -> None:
    from relaycheck.checks.catalogue import load_catalogue
    from relaycheck.config.providers import parse_providers
    from relaycheck.report.document import build_report
    from relaycheck.runner.engine import certify
    from relaycheck.spec.contracts import load_contracts

    provider = parse_providers({"providers": [{"name": "absent", "base_url": "http://127.0.0.1:9/v1",
                                               "api_key_env": "RELAYCHECK_TEST_UNSET_KEY"}]}).providers[0]
    runs = certify([provider], load_catalogue(), load_contracts(), environ={})
    report = build_report(runs[0], load_catalogue()).to_json()
    assert report["skipped"] and "RELAYCHECK_TEST_UNSET_KEY" in report["skipped"]
    assert all(v["grade"] == "skipped" for v in report["verdicts"])
    assert errors(validator, report) == []


def test_schema_rejects_what_a_report_must_not_hold(validator: jsonschema.Draft202012Validator,
                                                    reference_report: dict[str, Any]) -> None:
    with_key = copy.deepcopy(reference_report)
    with_key["provider"]["api_key"] = "sk-whatever"
    assert errors(validator, with_key), "a key field in provider must be rejected"
    clear_auth = copy.deepcopy(reference_report)
    clear_auth["exchanges"][0]["request"]["headers"]["Authorization"] = "Bearer sk-whatever"
    assert errors(validator, clear_auth), "an unredacted Authorization header must be rejected"
    bad_grade = copy.deepcopy(reference_report)
    bad_grade["verdicts"][0]["grade"] = "great"
    assert errors(validator, bad_grade)
    missing = copy.deepcopy(reference_report)
    del missing["latency"]
    assert errors(validator, missing)


def test_stored_report_load_errors_are_one_line(tmp_path: Path, run_dir: Path) -> None:
    cases = {
        "missing.json": None,
        "garbage.json": "{not json",
        "list.json": "[1, 2]",
        "future.json": json.dumps({"report_version": 99, "provider": {"name": "x"}, "verdicts": []}),
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(ReportError) as exc:
            Report.load(path)
        assert "\n" not in str(exc.value) and name in str(exc.value)
    stored = Report.load(run_dir / "reference.json")
    raw = json.loads((run_dir / "reference.json").read_text(encoding="utf-8"))
    assert stored.name == "reference" and len(stored.by_probe) == len(raw["exchanges"])
