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
