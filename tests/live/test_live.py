"""The live certification of real servers (llama.cpp, LiteLLM, openai-forward, Portkey; vLLM opt-in), as a test.

Slow (the first run compiles llama.cpp, ~7 min) and needs PyPI, so it only runs when asked:

    RELAYCHECK_LIVE=1 pytest -m live tests/live      # or: tox -e live

It runs scripts/live/run_live.py, which exits 0 only when every server's deviations match
expectations/<name>.yaml exactly (nothing new, nothing fixed). See docs/live.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

live = pytest.mark.skipif(os.environ.get("RELAYCHECK_LIVE") != "1", reason="live run: set RELAYCHECK_LIVE=1")


@dataclass(frozen=True)
class LiveRun:
    returncode: int
    output: str
    report_dir: Path


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    """One live run for the tests below (a few minutes; the first compiles llama.cpp)."""
    if os.environ.get("RELAYCHECK_LIVE") != "1":
        pytest.skip("live run: set RELAYCHECK_LIVE=1")
    # Idempotent and quick once installed; a newcomer's first run installs what is missing (portkey, .venv…).
    setup = subprocess.run(["bash", str(ROOT / "scripts" / "live" / "setup.sh")], cwd=ROOT)  # noqa: S603, S607
    assert setup.returncode == 0, "scripts/live/setup.sh failed"
    report_dir = tmp_path_factory.mktemp("live") / "live"
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "scripts" / "live" / "run_live.py"), "--report-dir", str(report_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    return LiveRun(result.returncode, result.stdout + result.stderr, report_dir)


@pytest.mark.live
@live
def test_live_servers_match_their_expectations(live_run: LiveRun) -> None:
    assert live_run.returncode == 0, live_run.output[-6000:]


@pytest.mark.live
@live
def test_identity_pair_tells_two_models_apart_and_one_model_from_itself(live_run: LiveRun) -> None:
    """Issue 13's live pair: two tiny models with one tokenizer, under one name. The fingerprint rule says "same
    model" for llama.cpp direct vs the same model behind LiteLLM, and "different models" for the other model
    behind another LiteLLM, on Completions and on chat (scripts/live/identity_pair.py; the numbers are in
    docs/live.md)."""
    python = ROOT / ".venv" / "bin" / "python"  # relaycheck's environment: the script imports it
    reports = [live_run.report_dir / "llama-cpp.json", live_run.report_dir / "litellm.json",
               live_run.report_dir / "identity-pair" / "litellm-other.json"]
    result = subprocess.run(  # noqa: S603
        [str(python), str(ROOT / "scripts" / "live" / "identity_pair.py"), *map(str, reports)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    # each pair on Completions, then on chat (its own fingerprint: both endpoints are certified by default)
    assert len(lines) == 4 and all(": OK (expected" in line for line in lines), lines
    assert all("same model:" in line for line in lines[:2]), lines
    assert all("different models:" in line for line in lines[2:]), lines


# -- the judge of scripts/live/run_live.py, without any server (runs in the default suite) -------------------------


def _run_live_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_live", ROOT / "scripts" / "live" / "run_live.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("run_live", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _report(verdicts: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v["grade"]] = counts.get(v["grade"], 0) + 1
    return {"skipped": None, "score": {"overall": {"counts": counts}}, "verdicts": verdicts}


@pytest.mark.parametrize(
    ("verdict", "ok"),
    [
        ({"check": "a", "grade": "pass", "message": "as specified", "note": None}, True),
        ({"check": "a", "grade": "known", "message": "m", "note": "expected fail: why"}, True),
        ({"check": "a", "grade": "fail", "message": "new deviation", "note": None}, False),
        ({"check": "a", "grade": "warn", "message": "new deviation", "note": None}, False),
        ({"check": "a", "grade": "error", "message": "transport", "note": None}, False),
        # a recorded deviation that went away (a fix) fails the run as much as a regression
        ({"check": "a", "grade": "pass", "message": "as specified",
          "note": "expectation was fail (why); it changed"}, False),
    ],
)
def test_judge_fails_on_any_unexplained_or_changed_verdict(tmp_path: Path, verdict: dict, ok: bool) -> None:
    import json

    run_live = _run_live_module()
    (tmp_path / "x.json").write_text(json.dumps(_report([verdict])), encoding="utf-8")
    run_live.expected_checks = lambda name: set()
    assert run_live.judge(tmp_path, ["x"])[0] is ok


def test_judge_flags_expectations_that_were_not_judged(tmp_path: Path) -> None:
    import json

    run_live = _run_live_module()
    (tmp_path / "x.json").write_text(json.dumps(_report([])), encoding="utf-8")
    run_live.expected_checks = lambda name: {"params.gone"}
    ok, lines = run_live.judge(tmp_path, ["x"])
    assert not ok and any("STALE" in line and "params.gone" in line for line in lines)


# -- a newcomer's run, without any server (default suite) -----------------------------------------------------


def test_missing_setup_is_exit_2_with_the_command_to_run(tmp_path: Path) -> None:
    """No venv, no relaycheck: one line saying what to run, never a traceback."""
    env = {**os.environ, "RELAYCHECK_LIVE_CACHE": str(tmp_path / "empty-cache")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "scripts" / "live" / "run_live.py"), "--report-dir", str(tmp_path / "r"),
         "--relaycheck", str(tmp_path / "no-such-relaycheck")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "scripts/live/setup.sh" in result.stdout


def test_reports_name_local_directories_relatively(tmp_path: Path) -> None:
    run_live = _run_live_module()
    report = tmp_path / "llama-cpp.json"
    report.write_text(json.dumps({"model": str(run_live.LIVE / "tiny.gguf"),
                                  "trace": f"File {run_live.ROOT}/x.py"}), encoding="utf-8")
    run_live.localise(tmp_path)
    text = report.read_text(encoding="utf-8")
    assert str(run_live.ROOT) not in text and str(run_live.LIVE) not in text
    assert json.loads(text)["model"] == ".cache/live/tiny.gguf"


def test_portkey_is_routed_by_headers_from_the_providers_file(tmp_path: Path) -> None:
    import yaml

    run_live = _run_live_module()
    servers = {name: run_live.Server(name, [], port, "/", {}, tmp_path, tmp_path / "log")
               for port, name in enumerate(["llama-cpp", "litellm", "openai-forward", "portkey",
                                            "llama-cpp-behind-portkey"], start=40000)}
    raw = yaml.safe_load(run_live.providers_yaml(servers))
    portkey = next(p for p in raw["providers"] if p["name"] == "portkey")
    assert portkey["headers"] == {"x-portkey-provider": "openai",
                                  "x-portkey-custom-host": "http://127.0.0.1:40004/v1"}
    assert "vllm" not in {p["name"] for p in raw["providers"]}  # opt-in only


# -- chat (issue 23): what run_live.py starts and writes for it, without any server (default suite) --------------


def _servers(run_live, tmp_path: Path, names: list[str]) -> dict:
    return {name: run_live.Server(name, [], port, "/", {}, tmp_path, tmp_path / "log")
            for port, name in enumerate(names, start=40000)}


def test_chat_settings_are_written_unless_completions_only(tmp_path: Path) -> None:
    """Every server is certified on both endpoints by default; --completions-only writes neither key."""
    import yaml

    run_live = _run_live_module()
    servers = _servers(run_live, tmp_path, ["llama-cpp", "litellm", "openai-forward", "portkey",
                                            "llama-cpp-behind-portkey", "llama-cpp-functions", "vllm",
                                            "litellm-other"])
    plain = yaml.safe_load(run_live.providers_yaml(servers, with_chat=False))["providers"]
    assert all("endpoints" not in p and "chat" not in p for p in plain)

    chat = {p["name"]: p for p in yaml.safe_load(run_live.providers_yaml(servers))["providers"]}
    tiny = {"context_length": 2048, "tokenizer": "none"}
    for name in ("llama-cpp", "litellm", "openai-forward", "portkey", "litellm-other"):
        assert chat[name]["endpoints"] == ["completions", "chat"]
        assert chat[name]["chat"] == {"model": "tiny-chat", **tiny}
    # vLLM answers under its first served name only: one name for both endpoints
    assert chat["vllm"]["chat"] == {"model": run_live.MODEL, **tiny}
    assert chat["llama-cpp-functions"]["endpoints"] == ["chat"]
    assert chat["llama-cpp-functions"]["chat"]["model"] == "tiny-chat-functions"
    assert chat["reference"]["chat"] == {"model": run_live.REFERENCE_CHAT_MODEL}


def test_llama_serves_completions_and_both_chat_formats_under_their_names(tmp_path: Path) -> None:
    run_live = _run_live_module()
    config = run_live.llama_config(tmp_path / "tiny.gguf", 40000, "sk-live-test")
    assert (config["host"], config["port"], config["api_key"]) == ("127.0.0.1", 40000, "sk-live-test")
    models = {m["model_alias"]: m for m in config["models"]}
    # the first model is what llama_cpp.server falls back to for an unknown name: the Completions model, as before
    assert config["models"][0]["model_alias"] == run_live.MODEL
    assert "chat_format" not in models[run_live.CHAT_MODEL]  # the GGUF's own template (Jinja2ChatFormatter)
    assert models[run_live.CHAT_FUNCTIONS_MODEL]["chat_format"] == "chatml-function-calling"
    assert {m["model"] for m in config["models"]} == {"tiny.gguf"}  # relative: no local path in the reports


def test_a_server_config_goes_through_a_pipe_never_to_disk(tmp_path: Path) -> None:
    """The llama config holds the API key: the server reads it from /dev/fd/N, nothing is written to a file."""
    run_live = _run_live_module()
    reader = "import sys; print(sys.argv[-1]); print(open(sys.argv[-1]).read())"  # start() adds --config_file PATH
    server = run_live.Server("reader", [sys.executable, "-c", reader], 1, "/", {}, tmp_path,
                             tmp_path / "reader.log", config=b'{"api_key": "sk-live-secret"}')
    server.start()
    assert server.proc is not None and server.proc.wait(timeout=30) == 0
    server.stop()
    path, content = server.log_path.read_text().splitlines()[:2]
    assert path.startswith("/dev/fd/") and content == '{"api_key": "sk-live-secret"}'
    assert [p.name for p in tmp_path.iterdir()] == ["reader.log"]


def test_litellm_routes_chat_models_to_the_openai_provider(tmp_path: Path) -> None:
    import yaml

    run_live = _run_live_module()
    upstream = run_live.Server("llama", [], 40000, "/", {}, tmp_path, tmp_path / "log")
    run_live.LIVE = tmp_path  # venv_bin looks for the LiteLLM venv here: fake one
    (tmp_path / "venv-litellm" / "bin").mkdir(parents=True)
    (tmp_path / "venv-litellm" / "bin" / "litellm").touch()
    run_live.litellm_server("litellm", tmp_path, upstream, "sk-up", "sk-master")
    config = yaml.safe_load((tmp_path / "litellm.yaml").read_text())
    routes = {m["model_name"]: m["litellm_params"]["model"] for m in config["model_list"]}
    assert routes == {run_live.MODEL: f"text-completion-openai/{run_live.MODEL}",
                      run_live.CHAT_MODEL: f"openai/{run_live.CHAT_MODEL}",
                      run_live.CHAT_FUNCTIONS_MODEL: f"openai/{run_live.CHAT_FUNCTIONS_MODEL}"}
    assert "sk-up" not in (tmp_path / "litellm.yaml").read_text()  # keys come from the environment


def test_the_tiny_models_chat_template_renders_chatml(tmp_path: Path) -> None:
    """The template make_tiny_gguf.py writes: ChatML layout, text parts joined, tool calls and tools rendered."""
    pytest.importorskip("jinja2")  # not a dependency of the project: the live venvs have it
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x: __import__("json").dumps(x)
    template = env.from_string((ROOT / "scripts" / "live" / "tiny-chat-template.jinja").read_text().rstrip("\n"))
    prompt = template.render(
        messages=[{"role": "user", "content": [{"type": "text", "text": "Say "}, {"type": "image_url"},
                                               {"type": "text", "text": "hi"}]},
                  {"role": "assistant", "content": None,
                   "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
                  {"role": "tool", "content": "42"}],
        tools=[{"type": "function", "function": {"name": "f"}}], add_generation_prompt=True)
    assert prompt == ('<|im_start|>system\n{"name": "f"}\n<|im_end|>\n'
                      "<|im_start|>user\nSay hi<|im_end|>\n"
                      '<|im_start|>assistant\n<tool_call>{"name": "f", "arguments": "{}"}</tool_call><|im_end|>\n'
                      "<|im_start|>tool\n42<|im_end|>\n"
                      "<|im_start|>assistant\n")


def _identity_pair_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("identity_pair", ROOT / "scripts" / "live" / "identity_pair.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("identity_pair", module)
    spec.loader.exec_module(module)
    return module


def test_the_identity_pair_covers_chat_where_both_sides_serve_it() -> None:
    """Issue 23: the pair's other model is fingerprinted on chat too, and each pair is judged on each endpoint both
    sides certified, with that endpoint's own fingerprint (relaycheck compare groups them the same way)."""
    from relaycheck.endpoint import Endpoint
    from relaycheck.identity.fingerprint import Fingerprint, PromptPrint

    run_live = _run_live_module()
    both = run_live.pair_command("relaycheck", Path("p.yaml"), Path("r"))
    assert both[both.index("--checks") + 1] == "identity" and "chat.identity" in both
    assert "chat.identity" not in run_live.pair_command("relaycheck", Path("p.yaml"), Path("r"), with_chat=False)

    pair = _identity_pair_module()

    def prints(endpoint: Endpoint, model: str) -> Fingerprint:
        prefix = "chat-identity-fp" if endpoint is Endpoint.CHAT else "identity-fp"
        tops = {"a": {"x": -0.1, "y": -2.5}, "b": {"y": -0.1, "x": -2.5}}[model]  # TV 0.8: another model
        return Fingerprint(model, {f"{prefix}-{i}": PromptPrint(f"{prefix}-{i}", f"p{i}", "t", tops)
                                   for i in range(1, 4)})

    served = {"llama-cpp": ("a", True), "litellm": ("a", True), "litellm-other": ("b", True)}

    def fingerprint(report: str, endpoint: Endpoint) -> Fingerprint:
        model, chat = served[report]
        return prints(endpoint, model) if endpoint is Endpoint.COMPLETIONS or chat else Fingerprint("", {})

    reports = {name: name for name in served}
    ok, lines = pair.judge_all(reports, fingerprint)
    assert ok and len(lines) == 4, lines
    assert [" on Chat Completions" in line for line in lines] == [False, True, False, True]
    assert all(": OK (expected" in line for line in lines), lines

    served["litellm-other"] = ("a", True)  # the other model's chat answered by the claimed one: caught per endpoint
    ok, lines = pair.judge_all(reports, fingerprint)
    assert not ok and sum("WRONG" in line for line in lines) == 2, lines

    served["litellm-other"] = ("b", False)  # a --completions-only run: no chat fingerprint, chat not judged
    ok, lines = pair.judge_all(reports, fingerprint)
    assert ok and len(lines) == 3 and sum(" on Chat Completions" in line for line in lines) == 1, lines
