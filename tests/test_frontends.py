"""The main job end to end: `relaycheck run` and `pytest conformance` certify the embedded reference provider."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relaycheck.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_run_without_arguments_certifies_the_reference_provider(tmp_path: Path) -> None:
    result = _run("run", "--checks", "shape", "--checks", "defaults", "--checks", "params", "--checks",
                  "stream", "--checks", "errors", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reference" in result.stdout and "PASS" in result.stdout
    report = json.loads((tmp_path / "reports" / "reference.json").read_text())
    assert report["spend"]["requests"] <= 80  # the hand-written set is cheap by design (issue 12's spend goal)
    assert report["spend"]["completion_tokens"] <= 1500
    assert report["spend"]["requests"] == len({e["probe"] for e in report["exchanges"]})
    assert (tmp_path / "reports" / "reference.md").read_text().startswith("## relaycheck: reference")


def test_run_fails_with_exit_1_and_names_the_check(tmp_path: Path) -> None:
    result = _run("run", "--quirk", "no-done", "--checks", "stream.done", "-q", cwd=tmp_path)
    assert result.returncode == 1
    assert "stream.done" in result.stdout
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _run("run", "--quirk", "no-such-quirk", cwd=tmp_path).returncode == 2
    assert _run("run", "--checks", "nothing.matches", cwd=tmp_path).returncode == 2
    assert _run("run", "--model", "m", cwd=tmp_path).returncode == 2
    assert _run("run", "--base-url", "https://x.test/v1", cwd=tmp_path).returncode == 2


def test_list_prints_the_catalogue(tmp_path: Path) -> None:
    result = _run("list", "--format", "json", cwd=tmp_path)
    listed = json.loads(result.stdout)
    assert len(listed["checks"]) >= 72
    assert {"id", "title", "clause", "level", "feature"} <= set(listed["checks"][0])


def test_pytest_conformance_suite(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "pytest", str(REPO / "conformance"), "-q", "-p", "no:cacheprovider",
            "--report-dir", str(tmp_path / "r"), "--quirk", "drop-echo", "--checks", "params.echo",
            "--checks", "shape.object"]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 2 passed" in result.stdout  # params.echo fails; shape.object passes; echo-logprobs warns
    assert "skipped" not in result.stdout.splitlines()[-1]  # features with no selected check are deselected
    assert "FAILED" in result.stdout and "reference::params.echo]" in result.stdout
    assert (tmp_path / "r" / "reference.json").exists()


def test_every_feature_has_a_conformance_module() -> None:
    import ast

    from relaycheck.checks.catalogue import load_catalogue

    declared = set()
    for module in (REPO / "conformance").glob("test_*.py"):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "FEATURE" for t in node.targets):
                declared.add(ast.literal_eval(node.value))
    # a module holds a feature on both endpoints (test_shape.py: shape and chat.shape)
    from relaycheck.endpoint import Endpoint

    assert declared == {f.removeprefix(Endpoint.of_feature(f).prefix) for f in load_catalogue().features}


def test_allure_results_are_grouped_and_carry_the_exchange(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "pytest", str(REPO / "conformance"), "-q", "-p", "no:cacheprovider",
            "--report-dir", str(tmp_path / "r"), "--alluredir", str(tmp_path / "allure"), "--quirk", "no-done",
            "--checks", "stream.done"]
    subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    (result,) = [r for r in results if r["status"] == "failed"]
    labels = {label["name"]: label["value"] for label in result["labels"]}
    assert (labels["parentSuite"], labels["suite"], labels["subSuite"]) == ("reference", "stream", "stream.done")
    # the failing MUST check was re-sent once: the evidence is the rerun's exchange, which failed again
    attachment = next(a for a in result["attachments"] if a["name"] == "exchange stream@rerun")
    body = (tmp_path / "allure" / attachment["source"]).read_text()
    exchange = json.loads(body)
    assert exchange["probe"] == "stream@rerun" and exchange["events"]  # the recorded stream, events and all
    assert "[DONE]" not in [e["data"] for e in exchange["events"]]  # the deviation is visible in the evidence
    assert "sk-relaycheck-reference" not in body


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_pytest_selection_decides_what_is_sent(tmp_path: Path) -> None:
    """-k / a file / -m: only the checks whose tests run are certified, so only their probes are sent."""
    result = _pytest(str(REPO / "conformance" / "test_stream.py"), "-k", "stream.done", "-m", "completions", "-q",
                     "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    report = json.loads((tmp_path / "r" / "reference.json").read_text())
    assert [v["check"] for v in report["verdicts"]] == ["stream.done"]
    listed = {c["id"]: c for c in json.loads(_run("list", "--format", "json", cwd=tmp_path).stdout)["checks"]}
    from relaycheck.probes.catalogue import probes_by_id

    needed = set(listed["stream.done"]["probes"])
    needed |= {d for p in list(needed) for d in probes_by_id()[p].depends_on}  # what those probes depend on
    assert {e["probe"] for e in report["exchanges"]} == needed  # its probes, no more
    assert report["spend"]["requests"] == len(needed) < 20

    must = _pytest("--pyargs", "conformance", "-m", "must and errors", "-q", "--co", cwd=tmp_path)
    ids = [line for line in must.stdout.splitlines() if "::" in line]
    levels = {i: c["level"] for i, c in listed.items()}
    assert ids and all(levels[i.rsplit("::", 1)[1].rstrip("]")] == "MUST" for i in ids)
    assert all("reference::errors." in i or "reference::chat.errors." in i for i in ids)
    assert any("reference::chat.errors." in i for i in ids)  # both endpoints, one module
    chat = _pytest("--pyargs", "conformance", "-m", "chat and errors", "-q", "--co", cwd=tmp_path)
    assert all("reference::chat.errors." in i for i in chat.stdout.splitlines() if "::" in i)


def test_pytest_markers_are_registered_and_a_bad_provider_is_one_line(tmp_path: Path) -> None:
    markers = _pytest("--markers", cwd=tmp_path).stdout
    assert "@pytest.mark.must:" in markers and "@pytest.mark.stream:" in markers
    bad = _pytest("--pyargs", "conformance", "--provider", "gptbn", cwd=tmp_path)
    assert bad.returncode == 4  # pytest's usage error
    assert "unknown provider 'gptbn'" in bad.stderr and "did you mean 'gptnb'" in bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr and bad.stderr.count("\n") <= 2
