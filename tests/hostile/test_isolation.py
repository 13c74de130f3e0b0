"""One provider's fault never costs another provider its report.

Two providers in one ``relaycheck run``: a fault raised while preparing, certifying, judging or writing one of
them (any exception, wherever a hostile provider's bytes could trip a bug) gives that provider a report whose
verdicts are all ``error`` with a one-line reason; the other provider's report is what it would be alone, and no
traceback reaches the terminal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hostile.outputs import assert_sane_outputs
from hostile.payload_servers import HOSTILE
from relaycheck.cli.main import main
from relaycheck.report import writer
from relaycheck.runner import engine

PROVIDERS = "providers:\n  - {name: good, embedded: true}\n  - {name: bad, embedded: true}\n"
ARGS = ["--checks", "shape", "--no-property", "-p", "good", "-p", "bad", "--no-expectations"]


def _boom(*_: Any) -> None:
    # the message quotes provider bytes, as an exception's message may: the terminal shows them escaped
    raise RecursionError(f"{HOSTILE} maximum recursion depth exceeded\nwhile walking {HOSTILE!r}")


def _fault_in(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def only_bad(real: Any, name_of: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name_of(*args) == "bad":
                _boom()
            return real(*args, **kwargs)
        return wrapped

    if stage == "preparing":
        monkeypatch.setattr(engine, "open_target", only_bad(engine.open_target, lambda p, *_: p.name))
    elif stage == "certifying":  # the coroutine raises once awaited, like a parser deep inside recording
        real = engine._send_probe

        async def send(client: Any, provider: Any, *rest: Any) -> Any:
            if provider.name == "bad":
                _boom()
            return await real(client, provider, *rest)

        monkeypatch.setattr(engine, "_send_probe", send)
    elif stage == "judging":
        monkeypatch.setattr(engine, "judge_run", only_bad(engine.judge_run, lambda run, *_: run.name))
    elif stage == "writing":
        # what the provider sent trips the page writer (the error report, which holds none of it, renders)
        monkeypatch.setattr(writer, "provider_html",
                            only_bad(writer.provider_html, lambda r, *_: r.provider.name if r.exchanges else None))


@pytest.mark.parametrize("stage", ["preparing", "certifying", "judging", "writing"])
def test_a_fault_stays_with_its_provider(stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    providers = tmp_path / "providers.yaml"
    providers.write_text(PROVIDERS, encoding="utf-8")
    reports = tmp_path / "reports"
    monkeypatch.chdir(tmp_path)
    _fault_in(stage, monkeypatch)

    status = main(["run", "--providers-file", str(providers), "--report-dir", str(reports), *ARGS])
    out, err = capsys.readouterr()

    assert status == 1  # the faulty provider's MUST checks could not be judged
    assert_sane_outputs(reports, out, err)
    good = json.loads((reports / "good.json").read_text(encoding="utf-8"))
    bad = json.loads((reports / "bad.json").read_text(encoding="utf-8"))
    assert good["verdicts"] and {v["grade"] for v in good["verdicts"]} == {"pass"}
    assert len(bad["verdicts"]) == len(good["verdicts"])
    reasons = {v["message"] for v in bad["verdicts"]}
    assert {v["grade"] for v in bad["verdicts"]} == {"error"} and len(reasons) == 1
    (reason,) = reasons
    assert reason.startswith(f"relaycheck failed while {stage}") and "RecursionError" in reason
    assert "\n" not in reason
    assert bad["stopped"] == reason
    for name in ("good.md", "good.html", "bad.md", "bad.html", "summary.md", "junit.xml", "comparison.html"):
        assert (reports / name).is_file(), name
    summary = [line for line in out.splitlines() if line.startswith(("good ", "bad "))]
    assert summary[0].split()[:2] == ["good", "PASS"] and summary[1].split()[:2] == ["bad", "FAIL"], out
    assert "\\x1b[2K" in out  # the fault's message reached the terminal, its escape sequences shown escaped
