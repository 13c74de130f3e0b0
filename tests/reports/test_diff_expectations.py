"""Nightly regression: `relaycheck diff`, and expectations turning known deviations into `known`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Verdict
from relaycheck.cli.main import main
from relaycheck.config.providers import embedded_reference
from relaycheck.report.diff import diff_reports
from relaycheck.report.model import Report
from relaycheck.runner.engine import certify
from relaycheck.runner.expectations import apply_expectations, expectations_yaml, load_expectations
from relaycheck.spec.contracts import load_contracts


def write(path: Path, report: dict[str, Any]) -> Path:
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_diff_conformant_to_quirky_is_a_regression(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(run_dir / "reference.json"), str(run_dir / "relay-a.json")]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED stream.done" in out and "pass → fail" in out
    assert main(["diff", str(run_dir / "relay-a.json"), str(run_dir / "reference.json")]) == 0
    out = capsys.readouterr().out
    assert "fixed     stream.done" in out and "no regression" in out
    assert main(["diff", str(run_dir / "reference.json"), str(run_dir / "reference.json")]) == 0


def test_diff_kinds(reference_report: dict[str, Any]) -> None:
    base = copy.deepcopy(reference_report)
    cur = copy.deepcopy(reference_report)
    by = {v["check"]: v for v in cur["verdicts"]}
    ids = list(by)
    by[ids[0]]["grade"] = "warn"  # regressed
    by[ids[1]]["grade"] = "skipped"  # changed
    base["verdicts"][2]["grade"] = "fail"  # fixed (fail → pass)
    base_known = {v["check"]: v for v in base["verdicts"]}[ids[3]]
    base_known.update(grade="known", note="expected fail: relay drops it",
                      expectation={"grade": "fail", "reason": "relay drops it", "matched": True})  # known → fail: regressed
    by[ids[3]]["grade"] = "fail"
    removed = cur["verdicts"].pop(4)
    cur["verdicts"].append({**by[ids[5]], "check": "new.check", "id": "new.check"})
    diff = diff_reports(Report.from_json(base), Report.from_json(cur))
    assert [c.check for c in diff.regressed] == [ids[0], ids[3]]
    assert [(c.check, c.before, c.after) for c in diff.fixed] == [(ids[2], "fail", "pass")]
    assert [c.check for c in diff.changed] == [ids[1]]
    assert [c.check for c in diff.new] == ["new.check"]
    assert [c.check for c in diff.removed] == [removed["check"]]
    assert any(ids[3] in e for e in diff.expectations)


def test_diff_directories_pair_by_provider(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, cur = tmp_path / "base", tmp_path / "cur"
    base.mkdir()
    cur.mkdir()
    reference = json.loads((run_dir / "reference.json").read_text(encoding="utf-8"))
    quirky = json.loads((run_dir / "relay-a.json").read_text(encoding="utf-8"))
    write(base / "relay-a.json", reference | {"provider": {**reference["provider"], "name": "relay-a"}})
    write(cur / "relay-a.json", quirky)
    write(base / "gone.json", reference | {"provider": {**reference["provider"], "name": "gone"}})
    assert main(["diff", str(base), str(cur)]) == 1
    out = capsys.readouterr().out
    assert "relay-a:" in out and "REGRESSED stream.done" in out and "only in baseline: gone" in out


@pytest.mark.parametrize("case", ["missing", "garbage", "mixed"])
def test_diff_unreadable_input_exits_2_with_one_line(run_dir: Path, tmp_path: Path, case: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    good = str(run_dir / "reference.json")
    if case == "missing":
        args = [good, str(tmp_path / "nope.json")]
    elif case == "garbage":
        (tmp_path / "g.json").write_text("{", encoding="utf-8")
        args = [str(tmp_path / "g.json"), good]
    else:
        args = [good, str(tmp_path)]
    assert main(["diff", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith("relaycheck: error:")


# -- expectations ----------------------------------------------------------------------------------------------


def test_apply_expectations_unit() -> None:
    exp = {"a": ("fail", "known bug"), "b": ("warn", "x"), "c": ("fail", "fixed upstream")}
    path_free = {k: load_expectations_entry(k, g, r) for k, (g, r) in exp.items()}
    verdicts = [Verdict("a", Grade.FAIL, "m"), Verdict("b", Grade.FAIL, "m"), Verdict("c", Grade.PASS, "ok"),
                Verdict("d", Grade.FAIL, "m")]
    out = {v.check: v for v in apply_expectations(verdicts, path_free)}
    assert out["a"].grade is Grade.KNOWN and "known bug" in (out["a"].note or "")
    assert out["b"].grade is Grade.FAIL and "it changed" in (out["b"].note or "")  # worse than expected
    assert out["c"].grade is Grade.PASS and "it changed" in (out["c"].note or "")  # fixed: noticed too
    assert out["d"].grade is Grade.FAIL and out["d"].note is None


def load_expectations_entry(check: str, grade: str, reason: str) -> Any:
    from relaycheck.runner.expectations import Expectation

    return Expectation(check, Grade(grade), reason)


def test_expectations_round_trip_through_a_run(tmp_path: Path) -> None:
    catalogue = load_catalogue().select(("stream",))
    contract = load_contracts()
    quirky = embedded_reference(quirks=("no-done",)).with_overrides(name="relay")
    (first,) = certify([quirky], catalogue, contract)
    assert any(v.grade is Grade.FAIL for v in first.verdicts)
    path = tmp_path / "relay.yaml"
    path.write_text(expectations_yaml("relay", first.verdicts), encoding="utf-8")
    recorded = load_expectations(path)
    assert "stream.done" in recorded and recorded["stream.done"].grade is Grade.FAIL
    # the same deviation again: known, and no MUST failure left
    (again,) = certify([quirky.with_overrides(expectations=path)], catalogue, contract)
    grades = {v.check: v.grade for v in again.verdicts}
    assert grades["stream.done"] is Grade.KNOWN and not again.must_failures(catalogue)
    # the provider got fixed: the check passes, and the note says the expectation no longer holds
    fixed = embedded_reference().with_overrides(name="relay", expectations=path)
    (now,) = certify([fixed], catalogue, contract)
    done = {v.check: v for v in now.verdicts}["stream.done"]
    assert done.grade is Grade.PASS and "it changed" in (done.note or "")


def test_update_expectations_then_nightly_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The nightly flow: record deviations, then a run with them is green; diff notices a fix and a regression."""
    monkeypatch.chdir(tmp_path)
    exp = tmp_path / "expectations" / "relay.yaml"
    providers = tmp_path / "providers.yaml"

    def providers_file(quirks: list[str], with_expectations: bool) -> None:
        entry: dict[str, Any] = {"name": "relay", "embedded": True, "quirks": quirks}
        if with_expectations:
            entry["expectations"] = "expectations/relay.yaml"
        providers.write_text(yaml.safe_dump({"providers": [entry]}), encoding="utf-8")

    def run(out: str) -> int:
        return main(["run", "-p", "relay", "--providers-file", str(providers), "--report-dir", out, "-q",
                     "--checks", "stream"])

    providers_file(["no-done"], False)
    assert main(["run", "-p", "relay", "--providers-file", str(providers), "--report-dir", "r0", "-q",
                 "--checks", "stream", "--update-expectations"]) == 1
    assert exp.exists() and "stream.done" in exp.read_text(encoding="utf-8")
    providers_file(["no-done"], True)
    assert run("base") == 0  # known deviations keep the nightly green
    base = json.loads((tmp_path / "base" / "relay.json").read_text(encoding="utf-8"))
    assert {v["check"]: v["grade"] for v in base["verdicts"]}["stream.done"] == "known"
    # upstream fixes [DONE] but breaks stream termination differently: data after done
    providers_file(["data-after-done"], True)
    run("cur")
    capsys.readouterr()
    code = main(["diff", "base/relay.json", "cur/relay.json"])
    out = capsys.readouterr().out
    assert "stream.done" in out and "known → pass" in out  # the fix is noticed
    assert code == 1 and "REGRESSED" in out  # and so is the regression
