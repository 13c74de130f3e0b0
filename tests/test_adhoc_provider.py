"""A provider given only on the command line (issue 24): the settings of a providers.yaml entry as options, the
window and a cheaper model read from the provider's own model list, and every report naming where they came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from relaycheck.config.adhoc import AdhocOptions, adhoc_provider
from relaycheck.config.providers import BudgetLimits, ConfigError, Header, embedded_reference, parse_providers
from relaycheck.probes.catalogue import PreconditionFailed, ProbeContext, probes_by_id
from relaycheck.probes.model_list import ContextWindow, context_window, listed_cheaper, published_window
from relaycheck.runner.session import ProviderChoice, select_providers
from relaycheck.server import ServerConfig, serve_in_thread
from relaycheck.server.config import DEFAULT_API_KEY
from relaycheck.transport.exchange import Exchange, RecordedRequest

REPO = Path(__file__).resolve().parents[1]
MODEL = "gpt-3.5-turbo-instruct"
URL = "https://relay.test/v1"


def _models(*cards: dict[str, Any], status: int = 200) -> Exchange:
    body = json.dumps({"object": "list", "data": list(cards)}).encode()
    return Exchange("models", RecordedRequest("GET", URL + "/models", {}, ""), 0.0, status=status,
                    headers={"content-type": "application/json"}, body=body)


# -- the model list: what each server publishes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "tokens", "field", "prompt_only"),
    [
        ({"max_model_len": 8192, "owned_by": "vllm"}, 8192, "data[].max_model_len", False),  # vLLM
        ({"context_length": 4095, "top_provider": {"context_length": 4096}}, 4095, "data[].context_length", False),
        ({"top_provider": {"context_length": 4096, "max_completion_tokens": 4096}}, 4096,
         "data[].top_provider.context_length", False),  # OpenRouter's primary provider
        ({"context_window": 131072, "active": True}, 131072, "data[].context_window", False),  # Groq
        ({"max_context_length": 32768}, 32768, "data[].max_context_length", False),  # Mistral, LM Studio
        ({"meta": {"n_ctx_train": 2048, "n_vocab": 256}}, 2048, "data[].meta.n_ctx_train", False),  # llama.cpp
        ({"max_input_tokens": 8192, "mode": "completion"}, 8192, "data[].max_input_tokens", True),  # LiteLLM
        ({"max_model_len": 4096.0}, 4096, "data[].max_model_len", False),  # an integral float is a count
    ],
)
def test_published_windows(card: dict[str, Any], tokens: int, field: str, prompt_only: bool) -> None:
    window = published_window(_models({"id": "other", "max_model_len": 1}, {"id": MODEL, **card}), MODEL)
    assert window == ContextWindow(tokens, f"GET /v1/models {field}", prompt_only)
    # a bound on the prompt alone is passed by one token more: the overflow probe is over it either way
    assert window.overflow_prompt == tokens + prompt_only


@pytest.mark.parametrize(
    "models",
    [
        _models({"id": MODEL, "object": "model", "owned_by": "me", "permissions": []}),  # llama-cpp-python
        _models({"id": "other-model", "max_model_len": 4096}),  # the window of another model says nothing
        _models({"id": MODEL, "max_model_len": True}, {"id": MODEL, "max_model_len": -3}),
        _models({"id": MODEL, "max_model_len": 4096}, status=404),
        None,
    ],
)
def test_no_published_window(models: Exchange | None) -> None:
    assert published_window(models, MODEL) is None


def test_a_dated_snapshot_publishes_the_window_and_the_configured_one_wins() -> None:
    models = _models({"id": MODEL + "-0914", "max_model_len": 4096})
    assert published_window(models, MODEL) == ContextWindow(4096, "GET /v1/models data[].max_model_len")
    assert context_window(2048, "providers.yaml (context_length)", models, MODEL) == ContextWindow(
        2048, "providers.yaml (context_length)")


def test_the_overflow_probe_takes_the_published_window_or_says_why_not() -> None:
    overflow = probes_by_id()["context-overflow"]
    assert overflow.depends_on == ("models",)
    body = overflow.build(ProbeContext(MODEL, {"models": _models({"id": MODEL, "max_input_tokens": 100})}))
    assert isinstance(body, dict) and len(body["prompt"]) == 101 and body["max_tokens"] == 16
    with pytest.raises(PreconditionFailed, match=r"none configured .*--context-length.*data\[\].max_model_len"):
        overflow.build(ProbeContext(MODEL, {"models": _models({"id": MODEL})}))
    with pytest.raises(PreconditionFailed, match="over the 131072 prompt tokens"):
        overflow.build(ProbeContext(MODEL, {"models": _models({"id": MODEL, "context_length": 1 << 20})}))


def test_a_cheaper_model_the_provider_lists_is_cross_checked() -> None:
    listing = _models({"id": MODEL}, {"id": "davinci-002"}, {"id": "babbage-002"})
    assert listed_cheaper(listing, MODEL) == "babbage-002"  # the cheapest first
    assert listed_cheaper(_models({"id": MODEL}, {"id": "davinci-002"}), MODEL + "-0914") == "davinci-002"
    assert listed_cheaper(_models({"id": MODEL}), MODEL) is None
    cross = probes_by_id()["identity-cross-1"]
    assert cross.depends_on == ("models",)
    body = cross.build(ProbeContext(MODEL, {"models": listing}))
    assert isinstance(body, dict) and body["model"] == "babbage-002"
    named = cross.build(ProbeContext(MODEL, {"models": listing}, cheaper_model="davinci-002"))
    assert isinstance(named, dict) and named["model"] == "davinci-002"  # a configured one wins


# -- the options: a providers.yaml entry, validated as one --------------------------------------------------------


def test_options_are_the_fields_of_an_entry() -> None:
    options = AdhocOptions(context_length=4096, tokenizer="cl100k_base", cheaper_models=("babbage-002",),
                           headers=("X-Title: relaycheck",), header_envs=("x-portkey-api-key: PORTKEY_KEY",),
                           auth="api-key",
                           settings=("budget.requests=60", "timeouts.run=120", "rate_limit=2.5", "retries=0"))
    p = adhoc_provider("relay", URL, "RELAY_KEY", MODEL, options)
    assert (p.context_length, p.context_source) == (4096, "command line (--context-length)")
    assert (p.tokenizer, p.cheaper_models, p.auth) == ("cl100k_base", ("babbage-002",), "api-key")
    assert p.headers == (Header("X-Title", value="relaycheck"), Header("x-portkey-api-key", env="PORTKEY_KEY"))
    assert (p.budget.requests, p.timeouts.run, p.rate_limit, p.retries) == (60, 120.0, 2.5, 0)
    assert p.budget.completion_tokens == BudgetLimits().completion_tokens and p.timeouts.connect == 5.0  # the rest of a section keeps its default
    plain = adhoc_provider("relay", URL, "RELAY_KEY", None)
    assert (plain.model, plain.context_length, plain.context_source, plain.tokenizer) == (MODEL, None, None, "auto")


def test_the_window_source_is_where_it_was_written(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    parsed = parse_providers({"providers": [{"name": "a", "base_url": URL, "api_key_env": "K", "context_length": 999}]},
                             str(path))
    assert parsed.providers[0].context_source == f"{path} (context_length)"
    assert embedded_reference().context_source == "the embedded reference's own window"
    with pytest.raises(ConfigError, match="unknown field 'context_source'"):
        parse_providers({"providers": [{"name": "a", "base_url": URL, "api_key_env": "K", "context_source": "x"}]})


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (AdhocOptions(settings=("model=gpt-4",)), "--set model: give it with --model"),
        (AdhocOptions(settings=("budget",)), "expected FIELD=VALUE"),
        (AdhocOptions(settings=("concurency=4",)), "unknown field 'concurency' (did you mean 'concurrency'?)"),
        (AdhocOptions(settings=("budget.request=4",)), "field 'budget': unknown field 'request'"),
        (AdhocOptions(settings=("timeouts.run=[1",)), "--set timeouts.run: the value is not a YAML"),
        (AdhocOptions(context_length=8), "'context_length' must be at least 16"),
        (AdhocOptions(tokenizer="p50k"), "field 'tokenizer' must be"),
        (AdhocOptions(headers=("no colon here",)), "--header: expected 'Name: value'"),
        (AdhocOptions(headers=("Authorization: Bearer x",)), "relaycheck sets this header itself"),
        (AdhocOptions(header_envs=("X-Key: sk-proj-abcdefghijklmnopqrstuvwxyz123456",)), "looks like an API key"),
    ],
)
def test_bad_options_are_one_line(options: AdhocOptions, needle: str) -> None:
    with pytest.raises(ConfigError) as raised:
        adhoc_provider("relay", URL, "RELAY_KEY", MODEL, options)
    message = str(raised.value)
    assert needle in message and "\n" not in message
    assert "abcdefghijklmnop" not in message  # a value that may be a key is never repeated


def test_the_options_go_with_base_url() -> None:
    with pytest.raises(ConfigError, match="go with --base-url"):
        select_providers(ProviderChoice(adhoc=AdhocOptions(context_length=4096)))
    (provider,) = select_providers(ProviderChoice(base_url=URL, api_key_env="K",
                                                  adhoc=AdhocOptions(cheaper_models=("davinci-002",))))
    assert provider.cheaper_models == ("davinci-002",)


# -- end to end: only --base-url, --model and --api-key-env --------------------------------------------------------


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relaycheck.cli.main", "run", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def test_a_url_alone_sends_the_overflow_probe_and_every_report_names_the_window(tmp_path: Path) -> None:
    with serve_in_thread(ServerConfig()) as server:
        done = _run("--base-url", server.base_url, "--model", MODEL, "--api-key-env", "RC_KEY", "--name", "relay",
                    "--checks", "params.context-refused", "--checks", "identity.cheaper-model", "--no-property",
                    "--report-dir", str(tmp_path), env={"RC_KEY": DEFAULT_API_KEY})
        configured = _run("--base-url", server.base_url, "--api-key-env", "RC_KEY", "--context-length", "1024",
                          "--checks", "params.context-refused", "--no-property", "--report-dir", str(tmp_path / "c"),
                          env={"RC_KEY": DEFAULT_API_KEY})
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads((tmp_path / "relay.json").read_text(encoding="utf-8"))
    exchanges = {x["probe"]: x for x in report["exchanges"]}
    overflow = json.loads(exchanges["context-overflow"]["request"]["body"])
    assert len(overflow["prompt"]) == 2048 and exchanges["context-overflow"]["status"] == 400
    verdicts = {v["check"]: v for v in report["verdicts"]}
    assert verdicts["params.context-refused"]["grade"] == "pass"
    assert "window: 2048 tokens, from GET /v1/models data[].max_model_len" in verdicts["params.context-refused"][
        "message"]
    assert report["basis"]["context_window"] == {"tokens": 2048, "source": "GET /v1/models data[].max_model_len",
                                                 "prompt_only": False}
    # the cheaper model the reference lists beside the claimed one, cross-checked though none was named
    assert json.loads(exchanges["identity-cross-1"]["request"]["body"])["model"] == "babbage-002"
    assert verdicts["identity.cheaper-model"]["grade"] == "pass"
    assert report["basis"]["cheaper_model"]["source"].startswith("the provider's GET /v1/models")
    assert report["basis"]["trusted_reference"].startswith("Identity against a trusted reference: not judged")
    markdown = (tmp_path / "relay.md").read_text(encoding="utf-8")
    html = (tmp_path / "relay.html").read_text(encoding="utf-8")
    for text in (markdown, html):
        assert "Context window: 2048 tokens, from GET /v1/models data" in text.replace("\\", "")
        assert "Identity against a trusted reference: not judged" in text
        assert "compare --baseline TRUSTED.json" in text
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "junit.xml").iter("property")}
    assert props["context_window"] == "Context window: 2048 tokens, from GET /v1/models data[].max_model_len."
    assert props["identity.trusted_reference"].startswith("Identity against a trusted reference: not judged")
    # a window given on the command line is the one judged against, and named so
    assert configured.returncode == 1  # 1024 stated, 2048 served: the prompt over the stated window was answered
    stated = json.loads((tmp_path / "c" / "adhoc.json").read_text(encoding="utf-8"))
    sent = {x["probe"]: x for x in stated["exchanges"]}["context-overflow"]
    assert len(json.loads(sent["request"]["body"])["prompt"]) == 1024
    assert stated["basis"]["context_window"]["source"] == "command line (--context-length)"
    assert stated["provider"]["context_length"] == 1024


def test_adhoc_options_without_a_url_are_a_usage_error(tmp_path: Path) -> None:
    done = _run("--context-length", "4096", "--report-dir", str(tmp_path), env={})
    assert done.returncode == 2 and "go with --base-url" in done.stderr and len(done.stderr.splitlines()) == 1
