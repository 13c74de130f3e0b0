"""--update-expectations: works before the file exists, keeps hand-written reasons, and the next run is green."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relaycheck.cli.main", "run", "-q", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_record_then_green_then_reasons_kept(tmp_path: Path) -> None:
    (tmp_path / "providers.yaml").write_text(
        "providers:\n"
        "  - {name: quirky, embedded: true, quirks: [drop-echo, chatcmpl-id], expectations: exp/quirky.yaml}\n")
    checks = ("--checks", "params.echo", "--checks", "shape.id-prefix", "--checks", "shape.object")
    first = _run("-p", "quirky", "--update-expectations", *checks, cwd=tmp_path)
    assert first.returncode == 1, first.stderr  # the deviation is real; recording it does not hide it
    recorded = yaml.safe_load((tmp_path / "exp/quirky.yaml").read_text())
    assert {e["check"]: e["grade"] for e in recorded["expectations"]} == {
        "params.echo": "fail", "params.echo-logprobs": "warn", "shape.id-prefix": "warn"}

    for entry in recorded["expectations"]:
        if entry["check"] == "params.echo":
            entry["reason"] = "upstream issue https://example.invalid/issues/1"
    (tmp_path / "exp/quirky.yaml").write_text(yaml.safe_dump(recorded))
    second = _run("-p", "quirky", *checks, cwd=tmp_path)
    assert second.returncode == 0, second.stdout  # every deviation is known: the nightly is green
    assert "known 3" in second.stdout

    _run("-p", "quirky", "--update-expectations", *checks, cwd=tmp_path)
    again = yaml.safe_load((tmp_path / "exp/quirky.yaml").read_text())
    reasons = {e["check"]: e["reason"] for e in again["expectations"]}
    assert reasons["params.echo"] == "upstream issue https://example.invalid/issues/1"


def test_expectations_load_by_default_from_expectations_dir(tmp_path: Path) -> None:
    """No `expectations:` in the entry: the run records to, then reads, ./expectations/NAME.yaml (the README's loop)."""
    (tmp_path / "providers.yaml").write_text("providers:\n  - {name: relay, embedded: true, quirks: [no-done]}\n")
    checks = ("--checks", "stream.done", "--no-property")
    first = _run("-p", "relay", "--update-expectations", *checks, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert "expectations: expectations/relay.yaml" in first.stdout
    recorded = yaml.safe_load((tmp_path / "expectations" / "relay.yaml").read_text())
    assert [e["check"] for e in recorded["expectations"]] == ["stream.done"]

    rerun = _run("-p", "relay", *checks, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr  # recorded → rerun → green
    report = (tmp_path / "reports" / "relay.json").read_text()
    assert '"grade": "known"' in report and "expectations/relay.yaml" in report  # the report names the file

    raw = _run("-p", "relay", "--no-expectations", *checks, cwd=tmp_path)
    assert raw.returncode == 1  # the deviation is still there, graded raw on request
    assert '"grade": "known"' not in (tmp_path / "reports" / "relay.json").read_text()


def test_a_named_expectations_file_that_is_missing_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "providers.yaml").write_text(
        "providers:\n  - {name: relay, embedded: true, expectations: nowhere.yaml}\n")
    result = _run("-p", "relay", "--checks", "shape.object", cwd=tmp_path)
    assert result.returncode == 2 and "expectations file not found" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "reports").exists()  # nothing was sent


def test_re_recording_keeps_the_files_header_comment(tmp_path: Path) -> None:
    """A file's leading comment says what it records and how each entry was checked: re-recording keeps it."""
    (tmp_path / "providers.yaml").write_text(
        "providers:\n  - {name: relay, embedded: true, quirks: [no-done], expectations: exp/relay.yaml}\n")
    header = "# Recorded deviations of relay 1.0, each checked by hand against reports/relay.json.\n# See docs.\n"
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp/relay.yaml").write_text(header + "provider: relay\nexpectations: []\n")
    _run("-p", "relay", "--update-expectations", "--checks", "stream.done", "--no-property", cwd=tmp_path)
    text = (tmp_path / "exp/relay.yaml").read_text()
    assert text.startswith(header)
    assert [e["check"] for e in yaml.safe_load(text)["expectations"]] == ["stream.done"]


def test_a_conformant_provider_gets_no_empty_file_but_a_fixed_one_is_brought_up_to_date(tmp_path: Path) -> None:
    (tmp_path / "providers.yaml").write_text(
        "providers:\n  - {name: clean, embedded: true, expectations: exp/clean.yaml}\n")
    checks = ("--checks", "shape.object")
    assert _run("-p", "clean", "--update-expectations", *checks, cwd=tmp_path).returncode == 0
    assert not (tmp_path / "exp/clean.yaml").exists()  # nothing to record
    (tmp_path / "exp").mkdir()
    (tmp_path / "exp/clean.yaml").write_text(
        "provider: clean\nexpectations:\n  - {check: shape.object, grade: fail, reason: was broken}\n")
    assert _run("-p", "clean", "--update-expectations", *checks, cwd=tmp_path).returncode == 0
    assert yaml.safe_load((tmp_path / "exp/clean.yaml").read_text())["expectations"] == []  # the fix recorded
