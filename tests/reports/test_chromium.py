"""The HTML pages in headless Chromium: they load, run their script without errors, show one column per
provider, and fetch nothing. Skipped only when no chromium is installed (CI installs it:
scripts/install-chromium.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

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
