"""Replay (rejudge sends nothing), JUnit XML, and the allure hook."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade
from relaycheck.cli.main import main
from relaycheck.report.allure import attach_verdict
from relaycheck.runner.engine import ProviderRun
from relaycheck.transport.redact import Redactor

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "relaycheck/report/report.schema.json").read_text())


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rejudge must not send a request")

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    monkeypatch.setattr(httpx.Client, "send", refuse)


def test_rejudge_sends_nothing_and_marks_the_report(run_dir: Path, tmp_path: Path, no_network: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # the embedded servers of the session run are long stopped, and the network is patched shut
    original = json.loads((run_dir / "relay-a.json").read_text(encoding="utf-8"))
    assert main(["rejudge", str(run_dir / "relay-a.json"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no request sent" in out and "no grade changed" in out
    new = json.loads((tmp_path / "relay-a.json").read_text(encoding="utf-8"))
    assert new["rejudged"]["from"].endswith("relay-a.json")
    assert new["rejudged"]["original_suite"] == original["suite"] and new["rejudged"]["changed"] == []
    grades = [(v["check"], v["grade"]) for v in new["verdicts"]]
    assert grades == [(v["check"], v["grade"]) for v in original["verdicts"]]
    for key in ("started", "finished", "spend", "latency", "exchanges", "provider"):
        assert new[key] == original[key], key
    jsonschema.Draft202012Validator(SCHEMA).validate(new)
    assert (tmp_path / "relay-a.html").exists() and "Re-judged" in (tmp_path / "relay-a.html").read_text()


def test_rejudge_reports_what_changed(run_dir: Path, tmp_path: Path, no_network: None,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A report judged by an older catalogue: different grades and a check that no longer exists."""
    stale = json.loads((run_dir / "relay-a.json").read_text(encoding="utf-8"))
    stale["suite"]["catalogue_revision"] = "000000000000"
    verdicts = {v["check"]: v for v in stale["verdicts"]}
    verdicts["stream.done"]["grade"] = "pass"
    stale["verdicts"].append({**verdicts["shape.id"], "check": "retired.check", "id": "retired.check"})
    src = tmp_path / "stale.json"
    src.write_text(json.dumps(stale), encoding="utf-8")
    assert main(["rejudge", str(src), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "stream.done" in out and "pass → fail" in out and "retired.check" in out
    new = json.loads((tmp_path / "out" / "relay-a.json").read_text(encoding="utf-8"))
    assert {"check": "stream.done", "before": "pass", "after": "fail"} in new["rejudged"]["changed"]
    assert new["suite"]["catalogue_revision"] == load_catalogue().revision


def test_rejudge_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rejudge", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_junit(run_dir: Path, quirky_report: dict[str, Any]) -> None:
    root = ET.parse(run_dir / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"reference", "relay-a", "relay-b"}
    assert suites["reference"].get("failures") == "0" and suites["reference"].get("errors") == "0"
    relay = suites["relay-a"]
    cases = {c.get("name"): c for c in relay.findall("testcase")}
    assert len(cases) == len(quirky_report["verdicts"]) == int(relay.get("tests") or 0)
    for v in quirky_report["verdicts"]:
        case = cases[f"{v['feature']}.{v['check']}"]
        assert case.get("classname") == f"relay-a.{'chat' if v['check'].startswith('chat.') else 'completions'}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        expected = {"fail": ["failure"], "error": ["error"], "skipped": ["skipped"], "unsupported": ["skipped"],
                    "known": ["skipped"]}.get(v["grade"], [])
        assert kinds == expected, v["check"]
    failures = [c for c in cases.values() if c.find("failure") is not None]
    assert len(failures) == int(relay.get("failures") or 0) > 0
    assert "stream.stream.done" in cases and cases["stream.stream.done"].find("failure") is not None


def test_junit_survives_control_characters() -> None:
    from relaycheck.report.junit import junit_xml
    from relaycheck.report.model import Report

    report = {"provider": {"name": "x"}, "verdicts": [
        {"check": "a.b", "feature": "f", "grade": "fail", "message": "bad \x00\x1b byte", "observed": "]]>"}]}
    root = ET.fromstring(junit_xml([Report.from_json({"report_version": 1, **report})]).encode())
    assert root.find("testsuite/testcase/failure") is not None


# -- allure ----------------------------------------------------------------------------------------------------


class Listener:
    """Stands in for allure-pytest's listener: records labels and attachments."""

    def __init__(self) -> None:
        self.labels: list[tuple[str, tuple[str, ...]]] = []
        self.attachments: list[tuple[str, str]] = []

    from allure_commons import hookimpl

    @hookimpl
    def add_label(self, label_type: str, labels: Any) -> None:
        self.labels.append((str(label_type), tuple(str(x) for x in labels)))

    @hookimpl
    def attach_data(self, body: Any, name: str, attachment_type: Any, extension: Any) -> None:
        self.attachments.append((name, body if isinstance(body, str) else body.decode()))


def _quirky_run(run_dir: Path) -> tuple[ProviderRun, Any]:
    from relaycheck.report.model import Report
    from relaycheck.report.rejudge import run_from_report
    from relaycheck.runner.engine import judge_run
    from relaycheck.runner.expectations import load_expectations
    from relaycheck.spec.contracts import load_contracts

    catalogue = load_catalogue()
    run = run_from_report(Report.load(run_dir / "relay-a.json"))
    run.verdicts = judge_run(run, catalogue, load_contracts(), load_expectations(run.provider.expectations))
    return run, catalogue


def test_attach_verdict_is_a_no_op_without_allure(run_dir: Path) -> None:
    run, catalogue = _quirky_run(run_dir)
    verdict = run.verdicts[0]
    assert attach_verdict(verdict, catalogue.get(verdict.check), run.exchanges, Redactor()) is False


def test_attach_verdict_labels_and_attaches_redacted_exchanges(run_dir: Path) -> None:
    from allure_commons import plugin_manager

    run, catalogue = _quirky_run(run_dir)
    verdict = next(v for v in run.verdicts if v.check == "stream.done")
    assert verdict.grade is Grade.FAIL
    secret = "sk-relaycheck-ALLURE-SECRET-0123456789"
    probe = verdict.probes[0]  # the stream it failed on: the re-sent one when the rerun failed too
    stream = run.exchanges[probe]
    from dataclasses import replace

    from relaycheck.transport.exchange import RecordedRequest

    leaky = replace(stream, request=RecordedRequest(stream.request.method, stream.request.url,
                                                    {"Authorization": f"Bearer {secret}"}, stream.request.body),
                    body=f"echo {secret}".encode())
    listener = Listener()
    plugin_manager.register(listener, name="relaycheck-test-listener")
    try:
        ok = attach_verdict(verdict, catalogue.get("stream.done"), {**run.exchanges, probe: leaky},
                            Redactor.for_keys([secret]), provider="relay-a")
    finally:
        plugin_manager.unregister(name="relaycheck-test-listener")
    assert ok is True
    labels = dict(listener.labels)
    assert labels["parentSuite"] == ("relay-a",)
    assert labels["suite"] == ("stream",)
    assert labels["subSuite"] == ("stream.done",)
    names = [n for n, _ in listener.attachments]
    assert f"exchange {probe}" in names and any(n.startswith("verdict") for n in names)
    assert all(secret not in body for _, body in listener.attachments)
    exchange = json.loads(dict(listener.attachments)[f"exchange {probe}"])
    assert exchange["request"]["headers"]["Authorization"] == "<redacted>"


def test_rejudge_grades_with_the_runs_tokenizer_setting(tmp_path: Path) -> None:
    """`tokenizer: none` skips the token-exact identity checks; re-judged offline they stay skipped (the setting is
    in the report), where re-judging with the default `auto` would count tokens the provider never agreed to."""
    from dataclasses import replace

    from relaycheck.config.providers import embedded_reference
    from relaycheck.report.document import build_report
    from relaycheck.report.model import Report
    from relaycheck.report.rejudge import rejudge
    from relaycheck.report.writer import write_provider
    from relaycheck.runner.engine import certify
    from relaycheck.spec.contracts import load_contracts

    # usage-inflated: the tokenizer-exact checks would fail it, were they not skipped
    provider = replace(embedded_reference(quirks=("usage-inflated",)), tokenizer=None, property_examples=0)
    catalogue = load_catalogue().select(("identity.prompt-tokens", "identity.completion-tokens"))
    (run,) = certify([provider], catalogue, load_contracts())
    path = write_provider(build_report(run, catalogue), tmp_path / "run", Redactor())
    original = Report.load(path)
    assert original.provider.tokenizer is None
    assert {v.id: v.grade for v in original.verdicts} == {
        "identity.prompt-tokens": Grade.SKIPPED, "identity.completion-tokens": Grade.SKIPPED}
    again = rejudge(original, path, catalogue, load_contracts())
    assert again.changed == ()
    assert again.report.provider.tokenizer is None
    # and the same exchanges judged with `auto` do fail: the setting, not the exchanges, made them skipped
    auto = replace(original, provider=replace(original.provider, tokenizer="auto"))
    grades = {c.check: c.after for c in rejudge(auto, path, catalogue, load_contracts()).changed}
    assert Grade.FAIL in grades.values(), grades
