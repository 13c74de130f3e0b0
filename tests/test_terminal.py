"""The terminal: one progress row per provider (a live table on a TTY, plain lines elsewhere), a summary without
zero counts, spend as counted / reported / reserved tokens, no traceback on a closed pipe, ``--name``, one option
name for the output folder, examples in ``--help``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from relaycheck.cli.main import build_parser, main
from relaycheck.config.providers import Provider
from relaycheck.runner.engine import ProviderRun
from relaycheck.runner.progress import Progress
from relaycheck.server.config import ServerConfig
from relaycheck.server.running import serve_in_thread
from relaycheck.transport.budget import Spend

KEY_ENV = "RELAYCHECK_TERMINAL_TEST_KEY"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _runs() -> list[ProviderRun]:
    runs = [ProviderRun(Provider(name=name, base_url="http://127.0.0.1:1/v1", api_key_env=KEY_ENV))
            for name in ("alpha", "beta")]
    for i, run in enumerate(runs):
        run.probes_total = 10
        run.spend = Spend(requests=3 + i, completion_tokens=40, reported_completion_tokens=38,
                          reserved_completion_tokens=160)
    return runs


def test_plain_lines_one_at_start_and_one_at_the_end_per_provider() -> None:
    out = io.StringIO()
    progress = Progress(out)
    runs = _runs()
    for run in runs:
        progress("start", run)
    for _ in range(5):
        for run in runs:
            progress("probe", run)  # no line per probe in a log
    for run in runs:
        progress("done", run)
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "\x1b" not in out.getvalue()
    assert lines[2] == "alpha: done · 0/10 probes · 3 requests · 40 completion tokens (reported 38, reserved 160)"


def test_a_terminal_gets_one_live_row_per_provider() -> None:
    out = Terminal()
    progress = Progress(out)
    runs = _runs()
    for run in runs:
        progress("start", run)
        progress("probe", run)
    runs[1].stopped = "provider down"
    progress("stopped", runs[1])
    progress("done", runs[0])
    progress.close()
    screen = out.getvalue()
    final = screen[screen.rfind("alpha:"):]  # the last drawing of the table
    assert "alpha: done · 0/10 probes · 3 requests" in final
    assert "beta: stopped: provider down · 0/10 probes · 4 requests" in final
    assert final.count("alpha:") == 1 and final.count("beta:") == 1  # one row each, redrawn in place


def test_a_closed_pipe_is_no_traceback() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "relaycheck.cli.main", "list", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written (as `| head` after its lines)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_name_an_adhoc_provider_and_a_summary_without_zero_counts(tmp_path: Path, monkeypatch, capsys) -> None:
    with serve_in_thread(ServerConfig()) as server:
        monkeypatch.setenv(KEY_ENV, server.config.api_key)
        code = main(["run", "-q", "--base-url", server.base_url, "--api-key-env", KEY_ENV, "--name", "my-relay",
                     "--checks", "shape", "--no-property", "--report-dir", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "my-relay.json").read_text())
    assert report["provider"]["name"] == "my-relay"
    spend = report["spend"]
    assert spend["reserved_completion_tokens"] >= spend["completion_tokens"] > 0
    assert 0 < spend["reported_completion_tokens"] <= spend["completion_tokens"]  # streams without usage: counted
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("my-relay")]
    assert "pass " in line and " 0," not in line and "fail" not in line  # zero counts are left out
    assert f"reserved {spend['reserved_completion_tokens']}" in line


def test_name_goes_with_base_url(capsys) -> None:
    assert main(["run", "--name", "x"]) == 2
    assert "--name" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compare", "rejudge", "history"])
def test_one_output_option_across_commands(command: str) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # noqa: SLF001
    options = {o for a in sub._actions for o in a.option_strings}  # noqa: SLF001
    assert "--report-dir" in options and "--out" in options  # --out: the old name, hidden
    assert "--out" not in sub.format_help()


def test_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "relaycheck run -p gptnb" in text and "relaycheck diff" in text
