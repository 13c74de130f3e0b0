"""``relaycheck history``: nights of one provider on one self-contained page, rendered in headless Chromium.

The nights are real runs (tests/reports/test_flaky.py's relay in front of the reference provider): stream.done
flips (pass, fail, pass when re-sent), shape.id breaks on the last night for real, and one night the key is not
set (no answers: availability 3 of 4).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relaycheck.checks.model import Grade
from relaycheck.cli.main import main
from relaycheck.report.history import histories, percentile
from relaycheck.report.model import Report

from .test_chromium import CHROMIUM, attribute, render
from .test_flaky import FLAKY, KEY_ENV, REGRESSING, _night
from .test_html import external_references

# Injected into the page: counts what the browser laid out (charts, their dots, rows, flaky rows).
HISTORY_PROBE = """<script>
window.addEventListener('load', function () {
  var root = document.documentElement;
  root.setAttribute('data-sections', document.querySelectorAll('section.provider-history').length);
  root.setAttribute('data-charts', document.querySelectorAll('svg.chart.history').length);
  root.setAttribute('data-dots', document.querySelectorAll('svg.chart.history circle').length);
  root.setAttribute('data-nights', document.querySelectorAll('table.nights tbody tr').length);
  root.setAttribute('data-down', document.querySelectorAll('table.nights tbody tr.down').length);
  var flaky = document.querySelectorAll('table.flaky-checks tbody tr th');
  root.setAttribute('data-flaky', Array.prototype.map.call(flaky, function (t) { return t.textContent; }).join(','));
});
</script>"""


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tmp_path = tmp_path_factory.mktemp("nights")
    with pytest.MonkeyPatch.context() as monkeypatch:
        out = [
            _night(tmp_path, "n1", monkeypatch, flaky=False),
            _night(tmp_path, "n2", monkeypatch, flaky=False, quirks=("no-done",)),
            _night(tmp_path, "n3", monkeypatch, flaky=True),
        ]
        skipped = tmp_path / "n4"
        monkeypatch.delenv(KEY_ENV)
        main(["run", "-q", "-p", "relay", "--providers-file", str(tmp_path / "providers.yaml"), "--report-dir",
             str(skipped), "--checks", FLAKY, "--no-property"])  # the key is gone: a night without answers
        out.append(skipped)
        out.append(_night(tmp_path, "n5", monkeypatch, flaky=False, quirks=("empty-id",)))
    return out


def test_history_figures(nights: list[Path]) -> None:
    reports = [Report.load(n / "relay.json") for n in nights]
    (history,) = histories(reports)  # ordered by when each night started (ties keep the order given)
    assert [n.started for n in history.nights] == sorted(r.started for r in reports)
    assert history.availability == (4, 5)
    assert [n.skipped is not None for n in history.nights] == [False, False, False, True, False]
    assert history.nights[1].must_failures == 1 and history.nights[4].must_failures >= 1
    assert history.nights[2].reruns >= 1  # stream.done re-sent on the flaky night
    assert all(n.p50 is not None and n.p95 >= n.p50 for n in history.nights if n.skipped is None)
    flaky = {f.check: f for f in history.flaky}
    assert set(flaky) == {FLAKY}  # shape.id regressed once: a change, not a flip
    assert flaky[FLAKY].grades[:3] == (Grade.PASS, Grade.FAIL, Grade.PASS)


def test_percentile_is_a_measured_value() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 21)], 0.95) == 19.0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (run scripts/install-chromium.sh)")
def test_history_page_renders_in_chromium(nights: list[Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["history", *map(str, nights), "--report-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "relay: 5 nights, available 4/5, flaky: stream.done" in printed
    page = out / "history.html"
    html = page.read_text(encoding="utf-8")
    assert external_references(html) == [] and "<script src" not in html
    dom = render(page, tmp_path, extra=HISTORY_PROBE)
    assert attribute(dom, "data-problems") is None, attribute(dom, "data-problems")
    assert attribute(dom, "data-sections") == "1"
    assert attribute(dom, "data-charts") == "4"  # score, MUST failures, latency p50/p95, spend
    assert int(attribute(dom, "data-dots") or 0) >= 4 * 4  # a dot per measured night and series
    assert (attribute(dom, "data-nights"), attribute(dom, "data-down")) == ("5", "1")
    assert attribute(dom, "data-flaky") == FLAKY
    assert REGRESSING not in (attribute(dom, "data-flaky") or "")
    assert re.search(r"available 4/5", dom)


def test_history_of_nothing_readable_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.json").write_text("{")
    assert main(["history", str(tmp_path / "bad.json"), "--report-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_history_shows_each_endpoint_of_a_night() -> None:
    """A chat regression is seen as chat's: each night's score and MUST failures per endpoint, and a score line
    per endpoint in the chart; a report of one endpoint alone (or from before the dimension) adds nothing."""
    from relaycheck.checks.catalogue import load_catalogue
    from relaycheck.checks.model import Verdict
    from relaycheck.config.providers import embedded_reference
    from relaycheck.endpoint import Endpoint
    from relaycheck.report.document import build_report
    from relaycheck.report.history import history_html
    from relaycheck.runner.engine import ProviderRun

    catalogue = load_catalogue()

    def report(failing: str | None, started: str) -> Report:
        run = ProviderRun(embedded_reference())
        run.verdicts = [Verdict(c.id, Grade.FAIL if c.id == failing else Grade.PASS, "m") for c in catalogue.checks]
        run.finished = run.started
        return Report.from_json({**build_report(run, catalogue).to_json(), "started": started})

    (history,) = histories([report(None, "2026-12-01T00:00:00Z"), report("chat.stream.done", "2026-12-02T00:00:00Z")])
    last = {e.endpoint: e for e in history.nights[-1].endpoints}
    assert last[Endpoint.CHAT].must_failures == 1 and last[Endpoint.COMPLETIONS].must_failures == 0
    assert last[Endpoint.COMPLETIONS].percent == 100.0 and last[Endpoint.CHAT].percent < 100.0
    page = history_html([report(None, "2026-12-01T00:00:00Z"), report("chat.stream.done", "2026-12-02T00:00:00Z")])
    assert "Chat Completions" in page and "1 MUST" in page
    assert "score · Completions · Chat Completions" in page  # the score chart: overall, then a line per endpoint
