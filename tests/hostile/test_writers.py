"""The writers against what a provider can put in a report: lone surrogates never break the JSON writer (the file
is UTF-8 and reads back, schema-valid, to the same strings); files are replaced atomically; a folder holds one
run's files only (manifest.txt)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from hostile.outputs import validator
from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Verdict
from relaycheck.config.providers import embedded_reference
from relaycheck.report import writer
from relaycheck.report.document import build_report, report_json
from relaycheck.report.model import Report
from relaycheck.runner.engine import ProviderRun
from relaycheck.transport.exchange import Exchange, RecordedRequest
from relaycheck.transport.redact import Redactor

LONE = "lone \ud800, \udfff, reversed \udc00\ud800"


def _run(name: str = "p") -> ProviderRun:
    catalogue = load_catalogue().select(("shape",))
    run = ProviderRun(embedded_reference().with_overrides(name=name))
    body = json.dumps({"error": {"message": LONE}}).encode()  # what the provider sent, escaped as JSON allows
    run.exchanges = {"basic": Exchange("basic", RecordedRequest("POST", "http://x/v1", {}, LONE), 0.0, status=400,
                                       headers={"x-\ud800": LONE}, body=body)}
    run.verdicts = [Verdict(c.id, Grade.FAIL, LONE, expected=LONE, observed=LONE, probes=("basic",))
                    for c in catalogue.checks]
    run.finished = run.started
    run.stopped = LONE
    return run


def test_a_lone_surrogate_round_trips_through_the_json_writer(tmp_path: Path) -> None:
    catalogue = load_catalogue().select(("shape",))
    report = build_report(_run(), catalogue)
    text = report_json(report)
    text.encode("utf-8")  # strict: no surrogate left raw
    raw = json.loads(text)
    validator().validate(raw)
    back = Report.from_json(raw)
    assert back.verdicts[0].verdict.message == LONE and back.stopped == LONE
    assert back.exchanges[0].request.body == LONE

    writer.write_reports([_run()], catalogue, tmp_path, Redactor.for_keys(["sk-some-key-0000"]))
    for path in tmp_path.iterdir():
        path.read_bytes().decode("utf-8")  # every file is valid UTF-8
    stored = Report.load(tmp_path / "p.json")
    assert stored.verdicts[0].verdict.message == LONE


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.json"
    target.write_text("old", encoding="utf-8")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        writer.atomic_write(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_folder_never_mixes_two_runs(tmp_path: Path) -> None:
    catalogue = load_catalogue().select(("shape",))
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")  # not written by relaycheck: never touched
    writer.write_reports([_run("a"), _run("b")], catalogue, tmp_path, Redactor())
    assert {"a.json", "b.json", "comparison.html", "manifest.txt"} <= {p.name for p in tmp_path.iterdir()}
    writer.write_reports([_run("a")], catalogue, tmp_path, Redactor())
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"a.json", "a.md", "a.html", "summary.md", "junit.xml", "manifest.txt", "notes.txt"}, names
    listed = (tmp_path / "manifest.txt").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(listed) == sorted(names - {"manifest.txt", "notes.txt"})


def test_a_manifest_cannot_name_files_outside_its_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep", encoding="utf-8")
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "manifest.txt").write_text("../outside.txt\n/etc/passwd\n..\n", encoding="utf-8")
    writer.write_reports([replace(_run("a"))], load_catalogue().select(("shape",)), folder, Redactor())
    assert outside.read_text(encoding="utf-8") == "keep"
