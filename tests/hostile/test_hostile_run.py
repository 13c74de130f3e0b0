"""The corpus of issue 15, through the real ``relaycheck run``: every hostile provider of a class at once (deep and
wide JSON, lone surrogates, control and escape sequences and Markdown/HTML payloads in every provider-chosen
string, the key echoed raw, split, escaped and encoded, a provider ignoring max_tokens, usage under- and
over-reported), and configuration mistakes that put a key or a password in the wrong field.

Every case ends with reports that parse (JSON against its schema, JUnit as XML), no traceback, the key in no output
in any form (every file, stdout, stderr), a terminal free of raw control bytes, and the spend within the stated
bound. The providers of a run share one subprocess and run in parallel, so the corpus costs one run, not twenty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from hostile.helpers import SMALL
from hostile.outputs import assert_key_in_no_form, assert_sane_outputs
from hostile.payload_servers import ECHOES, DeepAndWide, Injection, KeyEcho, SplitKey, Surrogates
from hostile.servers import HostileServer
from hostile.spend_servers import SPEND_CORPUS

REPO = Path(__file__).resolve().parents[2]
KEY_ENV = "RELAYCHECK_CORPUS_KEY"
# A key with the characters each encoding treats specially: '/' (JSON's \/, %2F), '+' and '=' (base64's own
# alphabet, quote_plus), '-' and '_' (URL-safe base64).
KEY = "sk-proj/Hx+7f3a9c2e=5b1d_40868e21Qz"
CEILING = 300

SERVERS: dict[str, Callable[[], HostileServer]] = {
    "deep-and-wide": lambda: DeepAndWide(key=KEY),
    "surrogates": lambda: Surrogates(key=KEY),
    "injection": lambda: Injection(key=KEY),
    "split-key": lambda: SplitKey(key=KEY),
    **{f"echo-{form}": (lambda form=form: KeyEcho(key=KEY, form=form)) for form in ECHOES},
    **{name: SPEND_CORPUS[name] for name in ("ignores-max-tokens", "under-reports-one", "under-reports-negative",
                                            "over-reports")},
}


def relaycheck(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, KEY_ENV: KEY, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "relaycheck.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def entry(name: str, base_url: str) -> dict[str, Any]:
    return {"name": name, "base_url": base_url, "api_key_env": KEY_ENV, **SMALL,
            "budget": {"completion_tokens": CEILING}, "property_examples": 2}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    tmp = tmp_path_factory.mktemp("corpus")
    with ExitStack() as stack:
        servers = {name: stack.enter_context(make()) for name, make in SERVERS.items()}
        providers = tmp / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [entry(n, s.base_url) for n, s in servers.items()]}))
        result = relaycheck("run", "--providers-file", str(providers), "-p", "all", "--report-dir",
                            str(tmp / "reports"), cwd=tmp)
        for name, server in servers.items():  # the key reached every server, so its absence below means something
            if name in SPEND_CORPUS:
                continue
            assert any(r.headers.get("authorization") == f"Bearer {KEY}" for r in server.seen), name
    yield tmp / "reports", result


def test_the_run_ends_with_exit_1_and_a_report_per_provider(corpus_run) -> None:
    reports, result = corpus_run
    assert result.returncode == 1, result.stderr[-3000:]
    assert {p.stem for p in reports.glob("*.json")} - {"manifest"} == set(SERVERS)
    assert "relaycheck failed while" not in (reports / "summary.md").read_text(encoding="utf-8"), \
        "no hostile provider of the corpus trips relaycheck itself"


def test_every_output_parses_holds_no_key_and_the_terminal_is_clean(corpus_run) -> None:
    reports, result = corpus_run
    assert_sane_outputs(reports, result.stdout, result.stderr, KEY)


@pytest.mark.parametrize("name", list(SERVERS))
def test_spend_within_the_stated_bound(name: str, corpus_run) -> None:
    report = json.loads((corpus_run[0] / f"{name}.json").read_text(encoding="utf-8"))
    spend = report["spend"]
    assert spend["overrun_bound_tokens"] is not None
    assert report["budget"]["completion_tokens"] == CEILING
    assert spend["completion_tokens"] <= CEILING + spend["overrun_bound_tokens"]
    if name != "over-reports":  # a claimed million is charged as claimed; everything else stays near the ceiling
        assert spend["completion_tokens"] <= CEILING + 2 * 500, spend


@pytest.mark.parametrize("name", ["echo-raw", "echo-quote", "echo-json-u", "echo-base64-offset1", "split-key"])
def test_the_echoed_key_was_there_to_find(name: str, corpus_run) -> None:
    """The echoes arrived and were masked (not dropped): the stored exchanges hold the mask where the key was."""
    text = (corpus_run[0] / f"{name}.json").read_text(encoding="utf-8")
    assert "<redacted>" in text


# -- configuration mistakes ---------------------------------------------------------------------------------------

GROQ = "gsk_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5m"
HF = "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH"
FIREWORKS = "fw_" + "3ZbTxD7qMkPw9LsRvNcYh2Fj"
OPENAI = "sk-proj-" + "Zx8k2LmQ9vR4tY7wP3nB6cD1fG5hJ0aS"
ENTROPY = "Zx8k2LmQ9vR4tY7wP3nB6cD1fG5hJ0aS"
PASSWORD = "hunter2-s3cr3t-pw"


def _one_line_exit_2(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert result.stderr.startswith("relaycheck: error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    for secret in secrets:
        assert_key_in_no_form({"stdout": result.stdout, "stderr": result.stderr}, secret)


@pytest.mark.parametrize("key", [GROQ, HF, FIREWORKS, OPENAI, ENTROPY], ids=["gsk", "hf", "fw", "sk-dashes", "entropy"])
@pytest.mark.parametrize("where", ["api_key_env", "header-env", "header-literal", "command-line"])
def test_a_key_in_the_wrong_field_is_refused_unrepeated(key: str, where: str, tmp_path: Path) -> None:
    base = {"name": "x", "base_url": "http://127.0.0.1:9/v1", "api_key_env": KEY_ENV}
    if where == "command-line":
        result = relaycheck("run", "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", key, cwd=tmp_path,
                            timeout=60)
    else:
        if where == "api_key_env":
            base["api_key_env"] = key
        elif where == "header-env":
            base["headers"] = {"X-Gateway-Key": {"env": key}}
        else:
            base["headers"] = {"X-Gateway-Key": key}
        (tmp_path / "p.yaml").write_text(yaml.safe_dump({"providers": [base]}), encoding="utf-8")
        result = relaycheck("run", "--providers-file", str(tmp_path / "p.yaml"), "-p", "x", cwd=tmp_path,
                            timeout=60)
    _one_line_exit_2(result, key)
    assert "key" in result.stderr
    assert not (tmp_path / "reports").exists()  # refused before anything was written or sent


@pytest.mark.parametrize("url", [f"http://user:{PASSWORD}@127.0.0.1:9/v1", f"https://{PASSWORD}@127.0.0.1:9/v1",
                                 f"http://127.0.0.1:9/v1?key={PASSWORD}", f"http://u:{PASSWORD}@[::1/v1"])
def test_a_password_in_a_url_is_masked(url: str, tmp_path: Path) -> None:
    result = relaycheck("run", "--base-url", url, "--api-key-env", KEY_ENV, cwd=tmp_path, timeout=60)
    _one_line_exit_2(result, PASSWORD)
    assert "***" in result.stderr


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "GROQ_API_KEY", "HF_TOKEN", "FIREWORKS_API_KEY", "fw_key",
                                  "sk_live_key_name", "AZURE_OPENAI_API_KEY_2", "MY_VERY_LONG_PROVIDER_NAME_API_KEY"])
def test_variable_names_are_not_mistaken_for_keys(name: str) -> None:
    from relaycheck.config.providers import looks_like_key, parse_providers

    assert not looks_like_key(name)
    parse_providers({"providers": [{"name": "x", "base_url": "http://127.0.0.1:9/v1", "api_key_env": name}]})
