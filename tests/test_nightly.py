"""The nightly workflow's steps, run here as CI runs them: scripts/nightly/*.sh against real reports.

A regression must fail the job (exit 1) and no change must pass it (exit 0); the baseline must be the last
successful scheduled run's report, never the run in progress. The nights certify the embedded reference provider
(with a quirk for the night that regresses); `gh` is a fake on PATH that lists runs and serves artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from relaycheck.server.config import ServerConfig
from relaycheck.server.running import serve_in_thread

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts" / "nightly"
WORKFLOW = REPO / ".github" / "workflows" / "nightly.yml"
CHECKS = ("--checks", "stream.done", "--no-property", "-q")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent  # relaycheck of this environment
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RELAYCHECK_"))}
    env.update(PATH=f"{tmp_path / 'fakebin'}:{bin_dir}:/usr/bin:/bin", GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    env.update(extra)
    return env


def _night(tmp_path: Path, quirks: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """One night of one job: the providers file says how the provider behaves tonight."""
    (tmp_path / "providers.yaml").write_text(yaml.safe_dump(
        {"providers": [{"name": "relay", "embedded": True, "quirks": quirks}]}))
    shutil.rmtree(tmp_path / "reports", ignore_errors=True)
    (tmp_path / "summary.md").unlink(missing_ok=True)
    return subprocess.run(["bash", str(SCRIPTS / "certify.sh"), "relay", *CHECKS], cwd=tmp_path,
                          env=_env(tmp_path, **env), capture_output=True, text=True, timeout=300)


def test_regression_fails_the_night_and_no_change_passes(tmp_path: Path) -> None:
    first = _night(tmp_path, [])
    assert first.returncode == 0, first.stdout + first.stderr  # no baseline: tonight's run alone, and it is green
    assert "No baseline" in (tmp_path / "summary.md").read_text()
    (tmp_path / "baseline").mkdir()
    shutil.copy(tmp_path / "reports" / "relay.json", tmp_path / "baseline" / "relay.json")

    same = _night(tmp_path, [])
    assert same.returncode == 0, same.stdout + same.stderr

    worse = _night(tmp_path, ["no-done"])
    assert worse.returncode == 1, worse.stdout + worse.stderr  # the regression fails the job
    summary = (tmp_path / "summary.md").read_text()
    assert "stream.done" in summary
    fenced = summary.split("### What changed since the baseline", 1)[1]
    fence = fenced.split("\n")[2]
    assert fence.startswith("```") and fenced.count(fence) == 2 and "stream.done" in fenced.split(fence)[1]


def test_a_known_failure_keeps_the_night_green_without_baseline(tmp_path: Path) -> None:
    """A MUST failure recorded in expectations/NAME.yaml (loaded by default) is known: the job stays green."""
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "relay.yaml").write_text(
        "provider: relay\nexpectations:\n  - {check: stream.done, grade: fail, reason: upstream bug}\n")
    assert _night(tmp_path, ["no-done"]).returncode == 0
    assert _night(tmp_path, ["no-done"], ).returncode == 0
    (tmp_path / "expectations" / "relay.yaml").unlink()
    assert _night(tmp_path, ["no-done"]).returncode == 1  # without the expectation, the MUST failure fails


def test_a_configuration_error_is_not_a_green_night(tmp_path: Path) -> None:
    result = _night(tmp_path, ["no-such-quirk"])
    assert result.returncode == 2


def test_the_key_reaches_only_the_variable_the_provider_names(tmp_path: Path) -> None:
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "relaycheck").write_text("#!/bin/sh\nenv > \"$REPORTS_ENV\"\nexit 0\n")
    (fake / "relaycheck").chmod(0o755)
    env = _env(tmp_path, KEY_ENV="GPTNB_API_KEY", RELAYCHECK_API_KEY="sk-tonight",
               REPORTS_ENV=str(tmp_path / "seen.env"))
    subprocess.run(["bash", str(SCRIPTS / "certify.sh"), "gptnb"], cwd=tmp_path, env=env, timeout=60, check=True)
    seen = (tmp_path / "seen.env").read_text().splitlines()
    assert "GPTNB_API_KEY=sk-tonight" in seen
    assert not [line for line in seen if line.startswith("RELAYCHECK_API_KEY=")]


# -- the model behind the name, and a gateway in front (issue 27) ----------------------------------------------------

IDENTITY_CHECKS = ("--checks", "identity", "--checks", "stream.done", "--no-property", "-q")  # the cheap nightly
# How a faithful provider wobbles, as bench/identity_bench.py has it: logprob jitter, temperature-0 divergence.
FAITHFUL = {"logprob_jitter": 0.05, "divergence": 0.2}
GATEWAY_NIGHTS = [  # a quirk of the reference provider, and what the failed night's summary must name
    ("partial-routing", "partial routing"),
    ("model-salted", "the model behind the name was swapped"),
    ("response-cache", "identity.response-cache"),
    ("stream-504-once", "HTTP 504 text/html"),
]


def _served_night(tmp_path: Path, quirks: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess[str]:
    """One night against the reference provider served on loopback with a faithful provider's wobble: the
    providers file names it by URL, as a vendor's entry does."""
    config = ServerConfig(quirks=frozenset(quirks), **FAITHFUL)
    with serve_in_thread(config) as server:
        (tmp_path / "providers.yaml").write_text(yaml.safe_dump(
            {"providers": [{"name": "relay", "base_url": server.base_url, "api_key_env": "RELAY_NIGHT_KEY"}]}))
        shutil.rmtree(tmp_path / "reports", ignore_errors=True)
        (tmp_path / "summary.md").unlink(missing_ok=True)
        return subprocess.run(["bash", str(SCRIPTS / "certify.sh"), "relay", *IDENTITY_CHECKS], cwd=tmp_path,
                              env=_env(tmp_path, RELAY_NIGHT_KEY=str(config.api_key), **env), capture_output=True,
                              text=True, timeout=300)


def test_faithful_nights_stay_green_and_each_gateway_finding_fails_the_night(tmp_path: Path) -> None:
    first = _served_night(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    (tmp_path / "baseline").mkdir()
    shutil.copy(tmp_path / "reports" / "relay.json", tmp_path / "baseline" / "relay.json")
    for _ in range(2):  # faithful again: jitter and divergence are no change
        again = _served_night(tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "no regression" in again.stdout
    for quirk, cause in GATEWAY_NIGHTS:
        night = _served_night(tmp_path, (quirk,))
        assert night.returncode == 1, f"{quirk}: {night.stdout}{night.stderr}"
        assert cause in night.stdout and cause in (tmp_path / "summary.md").read_text(), (quirk, night.stdout)
    lowered = _served_night(tmp_path, ("partial-routing",), MODEL_CHANGE="warn")  # a model change alone
    assert lowered.returncode == 0 and "lowered to a warning" in lowered.stdout, lowered.stdout
    assert _served_night(tmp_path, (), MODEL_CHANGE="maybe").returncode == 2


# -- the baseline -------------------------------------------------------------------------------------------------

FAKE_GH = """\
#!/usr/bin/env python3
# A fake gh: logs its arguments; `run list` prints the runs (newest first, whatever the flags say, so the script's
# own filtering is what is tested); `run download ID --name N --dir D` copies artifacts/ID/N/* into D.
import json, os, shutil, sys
from pathlib import Path
here = Path(os.environ["FAKE_GH_DIR"])
with open(here / "calls.log", "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[:2] == ["run", "list"]:
    print((here / "runs.json").read_text())
elif args[:2] == ["run", "download"]:
    src = here / "artifacts" / args[2] / args[args.index("--name") + 1]
    if not src.is_dir():
        sys.exit("no valid artifacts found to download")
    shutil.copytree(src, args[args.index("--dir") + 1], dirs_exist_ok=True)
else:
    sys.exit(f"fake gh: unexpected {args}")
"""


def _fake_gh(tmp_path: Path, runs: list[dict[str, object]]) -> Path:
    gh_dir = tmp_path / "gh"
    (tmp_path / "fakebin").mkdir(exist_ok=True)
    gh_dir.mkdir()
    (gh_dir / "runs.json").write_text(json.dumps(runs))
    for run in runs:
        artifact = gh_dir / "artifacts" / str(run["databaseId"]) / "report-relay"
        artifact.mkdir(parents=True)
        (artifact / "relay.json").write_text(json.dumps({"from_run": run["databaseId"]}))
    (tmp_path / "fakebin" / "gh").write_text(FAKE_GH)
    (tmp_path / "fakebin" / "gh").chmod(0o755)
    return gh_dir


def _find(tmp_path: Path, gh_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPTS / "find-baseline.sh"), "relay", "baseline"], cwd=tmp_path,
                          env=_env(tmp_path, FAKE_GH_DIR=str(gh_dir), **env), capture_output=True, text=True,
                          timeout=60)


def _run_record(run_id: int, status: str = "completed", conclusion: str = "success",
                event: str = "schedule") -> dict[str, object]:
    return {"databaseId": run_id, "status": status, "conclusion": conclusion, "event": event}


def test_the_baseline_is_the_last_successful_scheduled_run(tmp_path: Path) -> None:
    gh_dir = _fake_gh(tmp_path, [
        _run_record(900, status="in_progress", conclusion=""),  # tonight's own run: never its own baseline
        _run_record(899, conclusion="failure"),
        _run_record(898, event="workflow_dispatch"),  # a manual run is not a night
        _run_record(897),  # the one
        _run_record(896),
    ])
    result = _find(tmp_path, gh_dir, GITHUB_RUN_ID="900", GITHUB_REF_NAME="main")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "baseline" / "relay.json").read_text()) == {"from_run": 897}
    calls = [json.loads(line) for line in (gh_dir / "calls.log").read_text().splitlines()]
    listing = calls[0]
    assert listing[:2] == ["run", "list"] and "--branch" in listing and listing[listing.index("--branch") + 1] == "main"
    assert calls[1][:3] == ["run", "download", "897"]


def test_the_current_run_is_excluded_even_when_listed_as_successful(tmp_path: Path) -> None:
    gh_dir = _fake_gh(tmp_path, [_run_record(900), _run_record(897)])
    assert _find(tmp_path, gh_dir, GITHUB_RUN_ID="900").returncode == 0
    assert json.loads((tmp_path / "baseline" / "relay.json").read_text()) == {"from_run": 897}


def test_a_committed_baseline_wins(tmp_path: Path) -> None:
    gh_dir = _fake_gh(tmp_path, [_run_record(897)])
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "relay.json").write_text('{"committed": true}')
    assert _find(tmp_path, gh_dir).returncode == 0
    assert json.loads((tmp_path / "baseline" / "relay.json").read_text()) == {"committed": True}
    assert not (gh_dir / "calls.log").exists()  # no lookup needed


def test_first_night_has_no_baseline_but_a_broken_lookup_fails(tmp_path: Path) -> None:
    gh_dir = _fake_gh(tmp_path, [_run_record(900, status="in_progress", conclusion="")])
    first = _find(tmp_path, gh_dir, GITHUB_RUN_ID="900")
    assert first.returncode == 0 and not (tmp_path / "baseline" / "relay.json").exists()
    (tmp_path / "fakebin" / "gh").write_text("#!/bin/sh\necho 'HTTP 403: Resource not accessible' >&2\nexit 1\n")
    broken = _find(tmp_path, gh_dir)
    assert broken.returncode == 1 and "cannot list the runs" in broken.stderr


# -- the workflow file ---------------------------------------------------------------------------------------------


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_least_privilege_pinned_timeouts_one_key_per_job() -> None:
    wf = _workflow()
    assert wf["permissions"] == {}
    for name, job in wf["jobs"].items():
        assert "timeout-minutes" in job, name
        assert set(job["permissions"].values()) <= {"read"}, name
        for step in job["steps"]:
            if "uses" in step:
                ref = step["uses"].split("@", 1)[1]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step["uses"]
            if "run" in step:
                assert "|" not in step["run"], f"{name}: shell belongs in scripts/nightly (testable), not a pipe"
    certify = wf["jobs"]["certify"]
    assert "matrix.provider" in certify["environment"]  # the vendor's own environment holds its key
    text = WORKFLOW.read_text()
    assert text.count("secrets.") == 1 and "secrets.RELAYCHECK_API_KEY" in text  # one secret, no other vendor's
    providers = yaml.safe_load((REPO / "providers.yaml").read_text())["providers"]
    key_env = {p["name"]: p.get("api_key_env") for p in providers}
    for entry in certify["strategy"]["matrix"]["include"]:
        assert key_env[entry["provider"]] == entry["key_env"]


@pytest.mark.parametrize("tool", ["actionlint", "zizmor"])
def test_workflow_passes_the_linters(tool: str) -> None:
    """actionlint (with shellcheck, when installed, for the run: steps) and zizmor, offline (the lint extra)."""
    exe = shutil.which(tool, path=str(Path(sys.executable).parent)) or shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} not installed: pip install -e '.[lint]'")
    args = [exe, str(WORKFLOW)] if tool == "actionlint" else [exe, "--offline", "--persona", "pedantic", str(WORKFLOW)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_pass_shellcheck() -> None:
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    result = subprocess.run([exe, *map(str, sorted(SCRIPTS.glob("*.sh")))], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout


def test_compare_step_writes_the_comparison(tmp_path: Path) -> None:
    _night(tmp_path, [])
    artifact = tmp_path / "artifacts" / "report-relay"
    shutil.copytree(tmp_path / "reports", artifact)
    result = subprocess.run(["bash", str(SCRIPTS / "compare.sh"), "artifacts", "comparison"], cwd=tmp_path,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "comparison" / "comparison.html").exists()
    assert "relay" in (tmp_path / "summary.md").read_text()




def _fake_live_checkout(root: Path, setup_rc: int, run_output: str, run_rc: int) -> None:
    """A checkout whose live setup and run are stand-ins: the step's own logic (exit codes, fencing) is what runs."""
    (root / "scripts" / "live").mkdir(parents=True)
    (root / "scripts" / "live" / "setup.sh").write_text(f'[ "$1" = --with-vllm ] || exit 9\nexit {setup_rc}\n')
    (root / ".venv" / "bin").mkdir(parents=True)
    python = root / ".venv" / "bin" / "python"
    python.write_text(f"#!/bin/bash\n[[ \" $* \" == *' --with-vllm '* ]] || exit 9\ncat <<'OUT'\n{run_output}\nOUT\n"
                      f"exit {run_rc}\n")
    python.chmod(0o755)


@pytest.mark.parametrize(("setup_rc", "run_rc", "expected"), [(0, 0, 0), (0, 1, 1), (1, 0, 2)])
def test_live_step_exit_codes_and_fenced_summary(tmp_path: Path, setup_rc: int, run_rc: int, expected: int) -> None:
    root = tmp_path / "checkout"
    _fake_live_checkout(root, setup_rc, "vllm: 1 changed\n````\nnot a fence", run_rc)
    result = subprocess.run(["bash", str(SCRIPTS / "live.sh"), str(tmp_path / "live")], cwd=tmp_path,
                            env=_env(tmp_path, RELAYCHECK_LIVE_ROOT=str(root)), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == expected, result.stdout + result.stderr
    summary = (tmp_path / "summary.md").read_text()
    if expected == 2:
        assert "Setup failed" in summary
    else:
        assert "`````\nvllm: 1 changed\n````\nnot a fence\n`````" in summary  # a fence longer than any inside


def test_the_live_job_is_opt_in() -> None:
    wf = _workflow()
    live = wf["jobs"]["live"]
    assert live["if"] == "inputs.live || vars.RELAYCHECK_NIGHTLY_LIVE == 'true'"
    assert wf[True]["workflow_dispatch"]["inputs"]["live"]["default"] is False  # YAML reads `on:` as True
    assert "secrets." not in yaml.safe_dump(live)  # loopback servers: no key
