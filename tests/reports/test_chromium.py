"""The HTML pages in headless Chromium: they load, run their script without errors, show one column per
provider, and fetch nothing. Skipped only when no chromium is installed (CI installs it:
scripts/install-chromium.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from relaycheck.checks.model import Grade
from relaycheck.report.causes import causes
from relaycheck.report.model import Report

from .test_html import external_references

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (run scripts/install-chromium.sh)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=3000"]

# Injected first in <head>: records script errors, console.error calls and CSP violations (any attempted fetch)
# as attributes of <html>, then exercises the page's own buttons and counts the matrix columns.
PROBE = """<script>
(function () {
  var root = document.documentElement;
  function note(kind, text) { root.setAttribute('data-problems', (root.getAttribute('data-problems') || '') +
    '[' + kind + ': ' + text + ']'); }
  window.addEventListener('error', function (e) { note('error', e.message); });
  var original = console.error;
  console.error = function () { note('console', Array.prototype.join.call(arguments, ' ')); original.apply(console,
    arguments); };
  document.addEventListener('securitypolicyviolation', function (e) { note('csp', e.blockedURI + ' ' +
    e.violatedDirective); });
  window.addEventListener('load', function () {
    document.querySelectorAll('button').forEach(function (b) { b.click(); });
    root.setAttribute('data-columns', document.querySelectorAll('#matrix thead th.provider').length);
    root.setAttribute('data-loaded', 'yes');
  });
})();
</script>"""


def render(page: Path, tmp_path: Path, extra: str = "") -> str:
    html = page.read_text(encoding="utf-8")
    probed = html.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + PROBE + extra, 1)
    target = tmp_path / f"probed-{page.name}"
    target.write_text(probed, encoding="utf-8")
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", target.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def attribute(dom: str, name: str) -> str | None:
    match = re.search(rf'<html[^>]*\s{name}="([^"]*)"', dom)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", ["reference.html", "relay-a.html", "relay-b.html", "comparison.html"])
def test_page_renders_cleanly(run_dir: Path, tmp_path: Path, name: str) -> None:
    page = run_dir / name
    assert external_references(page.read_text(encoding="utf-8")) == []
    dom = render(page, tmp_path)
    assert attribute(dom, "data-loaded") == "yes", dom[:500]
    assert attribute(dom, "data-problems") is None, attribute(dom, "data-problems")
    if name == "comparison.html":
        assert attribute(dom, "data-columns") == "3"  # one column per provider
        assert 'class="only-differences"' in dom  # the page's own script ran (button toggled the filter)
    else:
        assert "<h2>Score by feature</h2>" in dom
        assert 'class="only-problems"' in dom


def test_the_probe_catches_errors_and_fetches(run_dir: Path, tmp_path: Path) -> None:
    """Control: the harness above would notice a script error and a blocked network fetch."""
    bad = '<script>window.addEventListener("load", function () { missingFunction(); });</script>' \
          '<script>window.addEventListener("load", function () { fetch("http://192.0.2.1/x").catch(function () {}); });' \
          '</script>'
    dom = render(run_dir / "reference.html", tmp_path, extra=bad)
    problems = attribute(dom, "data-problems") or ""
    assert "missingFunction" in problems and "csp" in problems


# Injected into a page: after load, runs each filter in turn and records how many checks rows stay visible.
FILTER_PROBE = """<script>
window.addEventListener('load', function () {
  var root = document.documentElement;
  function visible() {
    return Array.prototype.filter.call(document.querySelectorAll('tr[data-search]'),
      function (r) { return r.offsetParent !== null; }).length;
  }
  function set(id, value) {
    var f = document.getElementById(id); f.value = value;
    f.dispatchEvent(new Event(id === 'filter-search' ? 'input' : 'change'));
  }
  root.setAttribute('data-rows-all', visible());
  set('filter-grade', 'fail'); root.setAttribute('data-rows-fail', visible());
  root.setAttribute('data-shown-text', document.querySelector('[data-shown]').textContent);
  set('filter-level', 'SHOULD'); root.setAttribute('data-rows-fail-should', visible());
  set('filter-grade', ''); set('filter-level', '');
  set('filter-feature', 'stream'); root.setAttribute('data-rows-stream', visible());
  set('filter-feature', ''); set('filter-search', 'STOP'); root.setAttribute('data-rows-stop', visible());
  set('filter-search', '');
  root.setAttribute('data-faults', document.querySelectorAll('article.fault').length);
  root.setAttribute('data-curls', document.querySelectorAll('pre.curl').length);
  root.setAttribute('data-charts', document.querySelectorAll('svg.chart').length);
  root.setAttribute('data-chart-marks', document.querySelectorAll('svg.chart circle, svg.chart rect').length);
  root.setAttribute('data-identity', document.querySelectorAll('#identity').length);
  root.setAttribute('data-filtered', 'yes');
});
</script>"""


def test_provider_page_groups_faults_and_its_filters_work(five_dir: Path, tmp_path: Path) -> None:
    report = Report.load(five_dir / "relay-five.json")
    found = causes(report)
    dom = render(five_dir / "relay-five.html", tmp_path, extra=FILTER_PROBE)
    assert attribute(dom, "data-filtered") == "yes", attribute(dom, "data-problems")
    assert attribute(dom, "data-problems") is None, attribute(dom, "data-problems")
    rows = report.verdicts
    # the probe harness clicks every button first ("hide passing checks" is then on): count what it leaves
    shown = [r for r in rows if r.grade is not Grade.PASS]
    fails = [r for r in rows if r.grade is Grade.FAIL]
    assert int(attribute(dom, "data-rows-all") or -1) == len(shown)
    assert int(attribute(dom, "data-rows-fail") or -1) == len(fails) > 0
    assert attribute(dom, "data-shown-text") == str(len(fails))
    assert int(attribute(dom, "data-rows-fail-should") or -1) == sum(r.check.level.value == "SHOULD" for r in fails)
    assert int(attribute(dom, "data-rows-stream") or -1) == sum(r.check.feature == "stream" for r in shown)
    # the search box reads what the table shows: id, title and outcome
    stop = [r for r in shown if "stop" in " ".join([r.id, r.check.title, r.verdict.message]).lower()]
    assert int(attribute(dom, "data-rows-stop") or -1) == len(stop) > 0
    assert int(attribute(dom, "data-faults") or -1) == len(found.faults)
    assert int(attribute(dom, "data-curls") or 0) >= len(found.faults)
    assert int(attribute(dom, "data-charts") or 0) >= 3 and int(attribute(dom, "data-chart-marks") or 0) > 20
    assert attribute(dom, "data-identity") == "1"


def test_comparison_filters_and_charts(run_dir: Path, tmp_path: Path) -> None:
    reports = [Report.load(run_dir / f"{n}.json") for n in ("reference", "relay-a", "relay-b")]
    dom = render(run_dir / "comparison.html", tmp_path, extra=FILTER_PROBE)
    assert attribute(dom, "data-filtered") == "yes" and attribute(dom, "data-problems") is None
    checks = list(dict.fromkeys(r.id for rep in reports for r in rep.verdicts))
    grades = {c: {rep.by_check[c].grade for rep in reports if c in rep.by_check} for c in checks}
    differs = [c for c in checks if len(grades[c]) > 1]  # the harness turned "only rows where providers differ" on
    assert int(attribute(dom, "data-rows-all") or -1) == len(differs)
    assert int(attribute(dom, "data-rows-fail") or -1) == sum(Grade.FAIL in grades[c] for c in differs) > 0
    assert int(attribute(dom, "data-charts") or 0) >= 4  # a distribution per metric, providers side by side
