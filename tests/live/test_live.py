"""The live certification of real servers (llama.cpp, LiteLLM, openai-forward), as a test.

Slow (the first run compiles llama.cpp, ~7 min) and needs PyPI, so it only runs when asked:

    RELAYCHECK_LIVE=1 pytest -m live tests/live      # or: tox -e live

It runs scripts/live/run_live.py, which exits 0 only when every server's deviations match
expectations/<name>.yaml exactly (nothing new, nothing fixed). See docs/live.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.environ.get("RELAYCHECK_LIVE") != "1", reason="live run: set RELAYCHECK_LIVE=1"),
]


def test_live_servers_match_their_expectations(tmp_path: Path) -> None:
    if not (ROOT / ".cache" / "live" / "venv-llama" / "bin" / "python").exists():
        setup = subprocess.run(["bash", str(ROOT / "scripts" / "live" / "setup.sh")], cwd=ROOT)  # noqa: S603, S607
        assert setup.returncode == 0, "scripts/live/setup.sh failed"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "scripts" / "live" / "run_live.py"), "--report-dir", str(tmp_path / "live")],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
