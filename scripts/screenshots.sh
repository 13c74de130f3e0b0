#!/usr/bin/env bash
# Screenshots of the HTML reports for the docs: docs/img/report.png (relay-five: five faults of the reference
# provider switched on together, so it shows root causes, curl lines and charts) and docs/img/comparison.png (the
# conformant reference provider next to quirky ones).
# Needs chromium (scripts/install-chromium.sh). Runs only the embedded reference provider: no network.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROMIUM" ]; then
  echo "screenshots: chromium not found; run scripts/install-chromium.sh" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$PY - "$work" <<'PY'
import sys
from pathlib import Path

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.config.providers import embedded_reference
from relaycheck.report.writer import write_reports
from relaycheck.runner.engine import certify
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.redact import Redactor

out = Path(sys.argv[1])
providers = [
    embedded_reference().with_overrides(name="reference"),
    embedded_reference(quirks=("no-done", "usage-inflated", "errors-flat")).with_overrides(name="relay-a"),
    embedded_reference(quirks=("chat-template",)).with_overrides(name="relay-b"),
    embedded_reference(quirks=("errors-200", "drop-stop", "no-done", "usage-inflated", "finish-reason-eos"))
    .with_overrides(name="relay-five"),
]
runs = certify(providers, load_catalogue(), load_contracts())
write_reports(runs, load_catalogue(), out, Redactor())
PY

shot() {
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size="$3" --screenshot="$2" "file://$1" >/dev/null 2>&1
  echo "wrote $2"
}
mkdir -p docs/img
shot "$work/relay-five.html" docs/img/report.png 1280,1700
shot "$work/comparison.html" docs/img/comparison.png 1280,1700
