"""Flaky versus changed: a failing MUST check is re-sent once before it counts, and ``diff`` over a history keeps
regressions, fixes and flaky checks apart (exit 1 only on a regression).

The nights are real runs through the CLI against a real relay on 127.0.0.1: :class:`FlakyRelay` forwards to the
reference provider and drops ``data: [DONE]`` from the first answer to each distinct request (a relay that flips);
the real regression is the reference provider's ``empty-id`` quirk switched on from one night to the next.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from hostile.servers import HostileServer, SeenRequest, head

from relaycheck.checks.model import Grade, Verdict
from relaycheck.cli.main import main
from relaycheck.report.diff import diff_paths
from relaycheck.report.model import Report
from relaycheck.runner.expectations import apply_expectations, load_expectations
from relaycheck.server.config import ServerConfig
from relaycheck.server.running import serve_in_thread

KEY_ENV = "RELAYCHECK_FLAKY_TEST_KEY"
FLAKY, REGRESSING = "stream.done", "shape.id"
CHECKS = ("--checks", FLAKY, "--checks", REGRESSING, "--no-property")  # (shape.id-prefix comes along with shape.id)


@dataclass
class FlakyRelay(HostileServer):
    """Forwards to ``upstream``; the first answer to each distinct request body loses its ``data: [DONE]``."""

    upstream: str = ""
    flaky: bool = True
    seen_bodies: set[bytes] = field(default_factory=set)

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "content-type")}
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.request(request.method, self.upstream + request.path.removeprefix("/v1"),
                                          content=request.body, headers=headers)
        body = answer.content
        first = request.body not in self.seen_bodies
        self.seen_bodies.add(request.body)
        if self.flaky and first:
            body = body.replace(b"data: [DONE]\n\n", b"")
        writer.write(head(f"{answer.status_code} OK", {"Content-Type": answer.headers.get("content-type", ""),
                                                        "Content-Length": str(len(body)), "Connection": "close"})
                     + body)
        await writer.drain()


def _night(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, *, flaky: bool, quirks: tuple[str, ...] = (),
           checks: tuple[str, ...] = CHECKS, property_examples: int = 10) -> Path:
    """One night: `relaycheck run` of the relay, in front of a reference server with ``quirks``."""
    with serve_in_thread(ServerConfig(quirks=frozenset(quirks))) as upstream, \
            FlakyRelay(upstream=upstream.base_url, flaky=flaky) as relay:
        monkeypatch.setenv(KEY_ENV, upstream.config.api_key)
        providers = tmp_path / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [
            {"name": "relay", "base_url": relay.base_url, "api_key_env": KEY_ENV,
             "property_examples": property_examples}]}))
        out = tmp_path / name
        main(["run", "-q", "-p", "relay", "--providers-file", str(providers), "--report-dir", str(out), *checks])
    return out


def _verdict(night: Path, check: str) -> Verdict:
    return next(r.verdict for r in Report.load(night / "relay.json").verdicts if r.id == check)


def test_a_failing_must_check_is_resent_once_and_the_rerun_recorded(tmp_path, monkeypatch) -> None:
    night = _night(tmp_path, "n", monkeypatch, flaky=True)
    report = Report.load(night / "relay.json")
    verdict = _verdict(night, FLAKY)
    assert verdict.grade is Grade.PASS and verdict.flaky
    assert verdict.rerun is not None and verdict.rerun.first is Grade.FAIL and "[DONE]" in verdict.rerun.first_message
    assert "stream@rerun" in verdict.rerun.probes and "flaky" in (verdict.note or "")
    sent = {e.probe for e in report.exchanges}
    assert "stream@rerun" in sent and report.spend.requests == len(sent)  # the rerun went through the budget
    assert _verdict(night, REGRESSING).rerun is None  # a check that passed is not re-sent
    raw = json.loads((night / "relay.json").read_text())
    assert next(v for v in raw["verdicts"] if v["check"] == FLAKY)["rerun"]["first"] == "fail"


PROPERTY = "property.positive-response-schema"  # every other generated valid case is streamed: [DONE] matters
STREAMED_CASES = ("property.examples", PROPERTY)  # the document's own examples include a streamed one


def test_a_failing_property_check_resends_its_cases_with_their_first_bodies(tmp_path, monkeypatch) -> None:
    """A generated case is re-sent like a probe: the cases of the kind that failed, each with the body it was
    first sent with, judged again on the answers to them.

    The relay breaks the first answer to each distinct body; the document's streamed example (or a generated case
    with the same body, whichever reaches the relay first) is the first stream, so one of the two checks fails at
    first, whatever cases the installed schemathesis generates."""
    checks = tuple(a for c in STREAMED_CASES for a in ("--checks", c))
    night = _night(tmp_path, "n", monkeypatch, flaky=True, checks=checks, property_examples=4)
    report = Report.load(night / "relay.json")
    verdicts = [_verdict(night, c) for c in STREAMED_CASES]
    assert all(v.grade is Grade.PASS for v in verdicts), verdicts
    flaky = [v for v in verdicts if v.flaky]
    assert flaky, verdicts
    sent = {e.probe: e for e in report.exchanges}
    for verdict in flaky:
        assert verdict.rerun is not None and verdict.rerun.first is Grade.FAIL
        kind = "property-example-" if verdict.check == "property.examples" else "property-positive-"
        cases = sorted(p for p in sent if p.startswith(kind) and not p.endswith("@rerun"))
        assert cases and set(verdict.rerun.probes) == {p + "@rerun" for p in cases}
        for probe in cases:
            assert sent[probe + "@rerun"].request.body == sent[probe].request.body
    assert not any(p.startswith("property-negative-") and p.endswith("@rerun") for p in sent)  # only what failed
    assert report.spend.requests == len(sent) - 1  # every one went through the budget (the plan is no request)
    # re-judged offline, the stored reruns give the same verdicts
    assert main(["rejudge", str(night / "relay.json"), "--report-dir", str(tmp_path / "again")]) == 0
    for verdict in verdicts:
        again = _verdict(tmp_path / "again", verdict.check)
        assert (again.grade, again.rerun) == (verdict.grade, verdict.rerun)


def test_a_real_property_failure_fails_again_when_resent(tmp_path, monkeypatch) -> None:
    night = _night(tmp_path, "n", monkeypatch, flaky=False, quirks=("no-done",), checks=("--checks", PROPERTY),
                   property_examples=4)
    verdict = _verdict(night, PROPERTY)
    assert verdict.grade is Grade.FAIL and not verdict.flaky
    assert verdict.rerun is not None and verdict.rerun.sent and verdict.rerun.first is Grade.FAIL
    assert all(p.startswith("property-positive-") and p.endswith("@rerun") for p in verdict.rerun.probes)


def test_a_real_failure_fails_again_when_resent(tmp_path, monkeypatch) -> None:
    night = _night(tmp_path, "n", monkeypatch, flaky=False, quirks=("empty-id",))
    verdict = _verdict(night, REGRESSING)
    assert verdict.grade is Grade.FAIL and not verdict.flaky
    assert verdict.rerun is not None and verdict.rerun.first is Grade.FAIL and verdict.rerun.sent


def test_two_nights_flaky_apart_from_a_regression(tmp_path, monkeypatch, capsys) -> None:
    """Night 1: stream.done fails (twice); night 2: it fails at first and passes when re-sent (flaky, not a fix),
    while shape.id breaks for real (a regression)."""
    first = _night(tmp_path, "night1", monkeypatch, flaky=False, quirks=("no-done",))
    second = _night(tmp_path, "night2", monkeypatch, flaky=True, quirks=("empty-id",))
    capsys.readouterr()
    assert main(["diff", str(first), str(second)]) == 1
    out = capsys.readouterr().out
    (provider,) = diff_paths(first, second).providers
    assert REGRESSING in {c.check for c in provider.regressed} and "REGRESSED" in out
    assert FLAKY not in {c.check for c in provider.regressed + provider.fixed + provider.changed}
    (flaky,) = provider.flaky
    assert flaky.check == FLAKY and "re-sent" in flaky.why and f"flaky     {FLAKY}" in out


def test_history_flaky_alternation_is_not_a_regression(tmp_path, monkeypatch, capsys) -> None:
    """pass → fail → pass → fail for stream.done across four nights is flaky; shape.id, stable then failing, regressed."""
    nights = [
        _night(tmp_path, "n1", monkeypatch, flaky=False),
        _night(tmp_path, "n2", monkeypatch, flaky=False, quirks=("no-done",)),
        _night(tmp_path, "n3", monkeypatch, flaky=False),
        _night(tmp_path, "n4", monkeypatch, flaky=False, quirks=("no-done", "empty-id")),
    ]
    assert [_verdict(n, FLAKY).grade for n in nights] == [Grade.PASS, Grade.FAIL, Grade.PASS, Grade.FAIL]
    (provider,) = diff_paths(nights[2], nights[3], nights[:2]).providers
    assert REGRESSING in {c.check for c in provider.regressed} and FLAKY not in {c.check for c in provider.regressed}
    assert [c.check for c in provider.flaky] == [FLAKY] and "alternates" in provider.flaky[0].why
    capsys.readouterr()
    assert main(["diff", *map(str, nights)]) == 1  # the regression still fails the night
    out = capsys.readouterr().out
    assert "flaky" in out and "REGRESSED" in out
    # without the history the same change is a regression: the history is what tells them apart
    (alone,) = diff_paths(nights[2], nights[3]).providers
    assert {FLAKY, REGRESSING} <= {c.check for c in alone.regressed}
    # pass → fail → pass: the "fix" is flaky too, and with nothing else changed the night is green
    (back,) = diff_paths(nights[1], nights[2], nights[:1]).providers
    assert not back.regressed and not back.fixed and [c.check for c in back.flaky] == [FLAKY]
    assert main(["diff", *map(str, nights[:3])]) == 0


def test_expectations_may_allow_a_set_of_grades(tmp_path) -> None:
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump({"provider": "relay", "expectations": [
        {"check": FLAKY, "grade": ["pass", "fail"], "reason": "the relay drops [DONE] on some nights"}]}))
    expected = load_expectations(path)
    failed, passed, warned = apply_expectations(
        [Verdict(FLAKY, Grade.FAIL, "no [DONE]"), Verdict(FLAKY, Grade.PASS, "ok"), Verdict(FLAKY, Grade.WARN, "?")],
        expected)
    assert failed.grade is Grade.KNOWN and failed.expectation.allowed == (Grade.PASS, Grade.FAIL)
    assert passed.grade is Grade.PASS and passed.expectation.matched
    assert warned.grade is Grade.WARN and warned.expectation.stale  # outside the set: the provider changed


def test_a_change_inside_an_allowed_set_is_flaky(tmp_path, monkeypatch) -> None:
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    (expectations / "relay.yaml").write_text(yaml.safe_dump({"provider": "relay", "expectations": [
        {"check": FLAKY, "grade": ["pass", "fail"], "reason": "flips"}]}))
    monkeypatch.chdir(tmp_path)  # expectations/NAME.yaml applies by default
    first = _night(tmp_path, "a", monkeypatch, flaky=False)
    second = _night(tmp_path, "b", monkeypatch, flaky=False, quirks=("no-done",))
    assert _verdict(second, FLAKY).grade is Grade.KNOWN
    (provider,) = diff_paths(first, second).providers
    assert not provider.regressed and [c.check for c in provider.flaky] == [FLAKY]
    assert "allows pass/fail" in provider.flaky[0].why


# -- a gateway page the first time (issue 27) ----------------------------------------------------------------------


def test_a_pass_only_after_a_gateway_page_is_a_counted_flaky_warn_everywhere(tmp_path, monkeypatch, capsys) -> None:
    """stream-504-once: the first answer to each streamed body is nginx's 504 HTML page, the re-sent one is served.
    stream.done passes when re-sent: graded warn (flaky), counted, in every report, a regression in diff (named by
    the 504), in history; rejudge grades it the same."""
    clean = _night(tmp_path, "clean", monkeypatch, flaky=False)
    night = _night(tmp_path, "gateway", monkeypatch, flaky=False, quirks=("stream-504-once",))
    verdict = _verdict(night, FLAKY)
    assert verdict.grade is Grade.WARN and verdict.flaky, verdict
    assert verdict.rerun is not None and verdict.rerun.first is Grade.FAIL and verdict.rerun.unreliable
    assert verdict.rerun.unreliable.startswith("HTTP 504 text/html on 'stream'") and "HTTP 504" in verdict.message
    report = Report.load(night / "relay.json")
    assert report.score.overall.flaky == (FLAKY,) and not report.score.overall.must_failures
    raw = json.loads((night / "relay.json").read_text())
    assert raw["score"]["overall"]["flaky"] == [FLAKY]
    assert next(v for v in raw["verdicts"] if v["check"] == FLAKY)["rerun"]["unreliable"].startswith("HTTP 504")
    assert f"**Flaky**: 1 check(s) failed first and not when their probes were re-sent: `{FLAKY}`" in (
        night / "relay.md").read_text()
    page = (night / "relay.html").read_text()
    assert 'id="flaky-count"' in page and "flaky (fail at first)" in page
    junit = (night / "junit.xml").read_text()
    assert "<flakyFailure" in junit and 'name="flaky" value="1"' in junit
    # a first attempt that got the endpoint's own (wrong) answer stays the ordinary flaky pass
    assert _verdict(_night(tmp_path, "flips", monkeypatch, flaky=True), FLAKY).grade is Grade.PASS

    capsys.readouterr()
    assert main(["diff", str(clean), str(night)]) == 1
    out = capsys.readouterr().out
    assert f"REGRESSED {FLAKY}" in out and "HTTP 504 text/html" in out
    assert main(["history", str(clean), str(night), "--report-dir", str(tmp_path / "history")]) == 0
    out = capsys.readouterr().out
    assert f"flaky: {FLAKY}" in out
    history = (tmp_path / "history" / "history.html").read_text()
    assert "HTTP 504 text/html" in history
    assert main(["rejudge", str(night / "relay.json"), "--report-dir", str(tmp_path / "again")]) == 0
    again = _verdict(tmp_path / "again", FLAKY)
    assert (again.grade, again.rerun) == (verdict.grade, verdict.rerun)
