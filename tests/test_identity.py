"""The model fingerprint and its same-model rule, the diff and compare lines, and the report section."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Recorded, judge, unreliable_answer
from relaycheck.cli.main import main
from relaycheck.config.providers import embedded_reference
from relaycheck.endpoint import Endpoint
from relaycheck.identity.fingerprint import (
    CHAT_FINGERPRINT_PROBES,
    FINGERPRINT_PROBES,
    Fingerprint,
    fingerprint_from_bodies,
    match,
    model_change,
    report_fingerprint,
    total_variation,
)
from relaycheck.identity.section import identity_markdown, known_behaviour
from relaycheck.probes.catalogue import ProbeContext, probes_by_id
from relaycheck.report.document import build_report
from relaycheck.report.model import Report
from relaycheck.runner.engine import certify
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig
from relaycheck.server.running import serve_in_thread
from relaycheck.spec import load_contract
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.exchange import Exchange, RecordedRequest
from relaycheck.transport.sse import SSEEvent

MODEL = "gpt-3.5-turbo-instruct"


def _fingerprint(client: httpx.Client, base_url: str) -> Fingerprint:
    bodies = {}
    for probe_id in FINGERPRINT_PROBES:
        body = probes_by_id()[probe_id].build(ProbeContext(MODEL, {}))
        r = client.post(f"{base_url}/completions", json=body, headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
        bodies[probe_id] = (body, r.json())
    return fingerprint_from_bodies(bodies, MODEL)


@pytest.fixture(scope="module")
def servers():  # type: ignore[no-untyped-def]
    wobbly = ServerConfig(logprob_jitter=0.05, divergence=0.3)
    configs = {
        "a": wobbly,
        "b": wobbly,
        "salted": dataclasses.replace(wobbly, quirks=frozenset({"model-salted"})),
        "tokenizer": dataclasses.replace(wobbly, quirks=frozenset({"tokenizer-swapped"})),
    }
    running = {name: serve_in_thread(c) for name, c in configs.items()}
    try:
        with httpx.Client(timeout=10) as client:
            yield {name: _fingerprint(client, s.base_url) for name, s in running.items()}
    finally:
        for s in running.values():
            s.stop()


def test_faithful_providers_with_wobble_are_the_same_model(servers) -> None:  # type: ignore[no-untyped-def]
    result = match(servers["a"], servers["b"])
    assert result.same is True, result.summary()
    assert len(result.prompts) == len(FINGERPRINT_PROBES)


@pytest.mark.parametrize("other", ["salted", "tokenizer"])
def test_a_substitute_is_another_model(servers, other: str) -> None:  # type: ignore[no-untyped-def]
    result = match(servers["a"], servers[other])
    assert result.same is False and result.basis == "logprobs" and result.differing
    assert all("TV" in p.shown for p in result.differing)


def test_too_few_prompts_in_common_says_so(servers) -> None:  # type: ignore[no-untyped-def]
    few = Fingerprint(MODEL, dict(list(servers["a"].prints.items())[:2]))
    assert match(few, servers["b"]).same is None
    assert "not enough" in match(few, servers["b"]).summary()


def test_total_variation() -> None:
    assert total_variation({"a": 0.0}, {"a": 0.0}) == 0
    assert total_variation({"a": 0.0}, {"b": 0.0}) == pytest.approx(1.0)


def _report(quirks: tuple[str, ...] = ()) -> Report:
    catalogue = load_catalogue().select(("identity", "params.echo-logprobs"))
    (run,) = certify([embedded_reference(quirks=quirks)], catalogue, load_contracts())
    return build_report(run, catalogue)


def test_reports_keep_their_fingerprint_and_diff_says_when_the_model_changed() -> None:
    before, after, swapped = _report(), _report(), _report(("model-salted",))
    assert len(report_fingerprint(before).prints) == len(FINGERPRINT_PROBES)
    assert model_change(before, after) is None
    change = model_change(before, swapped)
    assert change is not None and "model fingerprint changed against the baseline" in change.line()
    assert "the model behind the name was swapped" in change.reading


def test_report_section_and_known_behaviour() -> None:
    report = _report()
    text = "\n".join(identity_markdown(report))
    assert "### Identity and billing" in text and "identity.prompt-tokens" in text and "Cannot prove" in text
    # the reference answers echo+logprobs; the real gpt-3.5-turbo-instruct refuses it
    (reading,) = known_behaviour(report)
    assert reading.startswith("evidence of substitution") and "lm-hackers/pull/7" in reading
    refused = dataclasses.replace(report, exchanges=tuple(dataclasses.replace(e, status=400)
                                                          if e.probe == "echo-logprobs" else e
                                                          for e in report.exchanges))
    assert known_behaviour(refused)[0].startswith("consistent with the real model")


def test_compare_and_a_pinned_baseline_flag_a_swapped_model() -> None:
    from relaycheck.identity.fingerprint import baseline_matches
    from relaycheck.report.compare import compare

    trusted, faithful, swapped = _report(), _report(), _report(("model-salted",))
    (group,) = [g for g in compare([trusted, faithful, swapped]).groups if g.endpoint is Endpoint.COMPLETIONS]
    assert list(group.flagged) == ["reference #3"]
    assert any("model fingerprint differs" in reason for reason in group.flagged["reference #3"])
    assert "same model" in group.fingerprint["reference #2"]
    found = baseline_matches(trusted, [dataclasses.replace(trusted), faithful, swapped])  # the baseline is left out
    lines = [m.line() for m in found]
    assert len(lines) == 2 and not lines[0].startswith("⚑") and lines[1].startswith("⚑ ")
    assert found[0].change is None and found[1].change is not None


@pytest.mark.parametrize(("quirk", "pattern"), [
    ("hidden-prompt-prefix", "a constant 12 extra tokens per prompt: a hidden prompt prefix billed"),
    ("usage-multiplied", "usage multiplied"),
    ("usage-from-characters", "neither a constant offset nor a constant factor"),
])
def test_billing_failures_say_what_the_difference_looks_like(quirk: str, pattern: str) -> None:
    catalogue = load_catalogue().select(("identity.prompt-tokens",))
    (run,) = certify([embedded_reference(quirks=(quirk,))], catalogue, load_contracts())
    assert pattern in run.verdicts[0].message


# -- issue 27: a changed model is a regression, partial routing is told from a swap, a cache is named ---------------


def _served_report(tmp_path, name: str, quirks: tuple[str, ...] = ()) -> Path:  # type: ignore[no-untyped-def]
    """A run through the CLI of the reference provider served with a faithful provider's wobble (and ``quirks``)."""
    config = ServerConfig(quirks=frozenset(quirks), logprob_jitter=0.05, divergence=0.2)
    with serve_in_thread(config) as server, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("RELAYCHECK_IDENTITY_KEY", str(config.api_key))
        providers = tmp_path / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [
            {"name": "relay", "base_url": server.base_url, "api_key_env": "RELAYCHECK_IDENTITY_KEY"}]}))
        out = tmp_path / name
        main(["run", "-q", "-p", "relay", "--providers-file", str(providers), "--report-dir", str(out),
              "--checks", "identity", "--no-property"])
    return out / "relay.json"


@pytest.fixture(scope="module")
def nights(tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("identity-nights")
    return {name: _served_report(tmp, name, quirks) for name, quirks in (
        ("faithful", ()), ("again", ()), ("routed", ("partial-routing",)), ("swapped", ("model-salted",)),
        ("cached", ("response-cache",)))}


def test_diff_exits_1_on_another_model_and_reads_partial_routing_apart_from_a_swap(nights, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["diff", str(nights["faithful"]), str(nights["again"])]) == 0
    assert "model" not in capsys.readouterr().out
    assert main(["diff", str(nights["faithful"]), str(nights["routed"])]) == 1
    routed = capsys.readouterr().out
    assert "relay: model changed" in routed and "REGRESSED model fingerprint" in routed
    assert re.search(r"\b[1-6] of 9 prompts answered by a different model, [3-8] as before: partial routing", routed)
    assert main(["diff", str(nights["faithful"]), str(nights["swapped"])]) == 1
    swapped = capsys.readouterr().out
    assert "prompts answered by a different model: all moved, the model behind the name was swapped" in swapped
    # a full swap also makes the cheaper model the model list names indistinguishable from the claimed one (both
    # answered by the swapped-in model): that finding stands; partial routing moves the fingerprint alone
    assert "REGRESSED identity.cheaper-model" in swapped
    assert main(["diff", "--model-change", "warn", str(nights["faithful"]), str(nights["routed"])]) == 0
    assert "WARNING   model fingerprint" in capsys.readouterr().out


def test_compare_with_a_pinned_baseline_exits_1_on_another_model(nights, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = ["--report-dir", str(tmp_path / "cmp")]
    assert main(["compare", str(nights["again"]), "--baseline", str(nights["faithful"]), *out]) == 0
    capsys.readouterr()
    assert main(["compare", str(nights["again"]), str(nights["routed"]), "--baseline", str(nights["faithful"]),
                 *out]) == 1
    said = capsys.readouterr().out
    assert "MODEL CHANGED: relay: " in said and "partial routing" in said
    assert main(["compare", str(nights["routed"]), "--baseline", str(nights["faithful"]), "--model-change", "warn",
                 *out]) == 0
    assert "model changed (warning)" in capsys.readouterr().out


def test_a_cache_is_named_in_the_diff(nights, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    assert main(["diff", str(nights["faithful"]), str(nights["cached"])]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED identity.response-cache" in out and "replayed from a cache" in out


def _answer(probe: str, ident: str, text: str, user: str) -> Exchange:
    body = {"id": ident, "object": "text_completion", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "length"}]}
    request = RecordedRequest("POST", "http://127.0.0.1/v1/completions", {},
                              json.dumps({"model": MODEL, "prompt": "x", "temperature": 1, "user": user}))
    return Exchange(probe, request, 0.0, status=200, headers={"content-type": "application/json"},
                    body=json.dumps(body).encode())


@pytest.mark.parametrize(("answers", "grade", "said"), [
    ((("a", "one"), ("b", "two"), ("c", "three")), Grade.PASS, ""),
    ((("a", "one"), ("b", "one"), ("c", "three")), Grade.PASS, "the same text under two ids"),  # a peaked model
    ((("a", "one"), ("a", "two"), ("a", "three")), Grade.PASS, ""),  # ids reused, answers fresh: shape.id-unique's
    ((("a", "one"), ("a", "one"), ("c", "three")), Grade.WARN, "another user got a fresh one"),
    ((("a", "one"), ("a", "one"), ("a", "one")), Grade.WARN, "one user's answer is served to another"),
])
def test_the_cache_check_judges_id_and_text(answers, grade: Grade, said: str) -> None:  # type: ignore[no-untyped-def]
    check = load_catalogue().get("identity.response-cache")
    users = ("relaycheck-cache-a", "relaycheck-cache-a", "relaycheck-cache-b")
    exchanges = {p: _answer(p, i, t, u) for p, (i, t), u in zip(check.probes, answers, users, strict=True)}
    verdict = judge(check, Recorded(exchanges, load_contract(), MODEL))
    assert verdict.grade is grade, verdict
    assert said in f"{verdict.message} {verdict.observed}"


def _got(status: int | None, content_type: str, body: bytes, **fields: object) -> Exchange:
    request = RecordedRequest("POST", "http://127.0.0.1/v1/completions", {}, '{"stream": true}')
    return Exchange("stream", request, 0.0, status=status, headers={"content-type": content_type}, body=body,
                    **fields)  # type: ignore[arg-type]


def test_what_counts_as_no_answer_of_the_endpoint() -> None:
    page = b"<html><head><title>504 Gateway Time-out</title></head></html>"
    assert unreliable_answer(_got(504, "text/html", page)).startswith("HTTP 504 text/html on 'stream'")
    assert unreliable_answer(_got(502, "text/plain", b"Bad Gateway"))
    assert unreliable_answer(_got(200, "text/html", b"<html>web ui</html>"))
    assert unreliable_answer(_got(None, "", b"", transport_error="read timeout")).endswith("read timeout")
    envelope = json.dumps({"error": {"message": "server error", "type": "server_error", "param": None,
                                     "code": None}}).encode()
    assert unreliable_answer(_got(500, "application/json", envelope)) is None  # OpenAI's own 5xx is an answer
    assert unreliable_answer(_got(200, "application/json", b'{"choices": []}')) is None  # wrong, but the endpoint's
    assert unreliable_answer(_got(200, "text/event-stream", b"", events=(SSEEvent("[DONE]", 0.0),))) is None
    assert unreliable_answer(_got(200, "application/json", b'{"cut', truncated=True)) is None  # our bound


# -- Chat Completions: its own fingerprint, the same rule ----------------------------------------------------------

CHAT_MODEL = "gpt-4"


def _chat_fingerprint(client: httpx.Client, base_url: str) -> Fingerprint:
    bodies = {}
    for probe_id in CHAT_FINGERPRINT_PROBES:
        body = probes_by_id()[probe_id].build(ProbeContext(CHAT_MODEL, {}))
        r = client.post(f"{base_url}/chat/completions", json=body,
                        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
        bodies[probe_id] = (body, r.json())
    return fingerprint_from_bodies(bodies, CHAT_MODEL, Endpoint.CHAT)


@pytest.fixture(scope="module")
def chat_prints():  # type: ignore[no-untyped-def]
    wobbly = ServerConfig(logprob_jitter=0.05, divergence=0.3)
    configs = {"a": wobbly, "b": wobbly, "salted": dataclasses.replace(wobbly, quirks=frozenset({"model-salted"}))}
    running = {name: serve_in_thread(c) for name, c in configs.items()}
    try:
        with httpx.Client(timeout=10) as client:
            yield {name: _chat_fingerprint(client, s.base_url) for name, s in running.items()}
    finally:
        for s in running.values():
            s.stop()


def test_chat_fingerprint_reads_chat_answers_and_tells_a_swap(chat_prints) -> None:  # type: ignore[no-untyped-def]
    a = chat_prints["a"]
    assert set(a.prints) == set(CHAT_FINGERPRINT_PROBES)
    with_logprobs = [p for p in a.prints.values() if p.top]
    assert len(with_logprobs) == len(CHAT_FINGERPRINT_PROBES) - 2  # chat-basic and chat-greedy ask none
    assert all(p.text and p.prompt.startswith("[{") for p in a.prints.values())  # the content; the conversation
    same = match(a, chat_prints["b"])
    assert same.same is True and same.basis == "logprobs", same.summary()
    swapped = match(a, chat_prints["salted"])
    assert swapped.same is False, swapped.summary()


def _chat_report(quirks: tuple[str, ...] = ()) -> Report:
    catalogue = load_catalogue().select(("chat.identity",))
    (run,) = certify([embedded_reference(quirks=quirks)], catalogue, load_contracts())
    return build_report(run, catalogue)


def test_diff_compare_and_a_pinned_baseline_tell_a_swapped_chat_model() -> None:
    from relaycheck.identity.fingerprint import baseline_matches
    from relaycheck.report.compare import compare

    trusted, faithful, swapped = _chat_report(), _chat_report(), _chat_report(("model-salted",))
    assert len(report_fingerprint(trusted, Endpoint.CHAT).prints) == len(CHAT_FINGERPRINT_PROBES)
    assert not report_fingerprint(trusted).prints  # no Completions probe was sent: nothing mixed in
    assert model_change(trusted, faithful, Endpoint.CHAT) is None
    change = model_change(trusted, swapped, Endpoint.CHAT)
    assert change is not None and "Chat Completions model fingerprint changed" in change.line()
    (group,) = [g for g in compare([trusted, faithful, swapped]).groups if g.endpoint is Endpoint.CHAT]
    assert group.label == "gpt-4 (Chat Completions)" and list(group.flagged) == ["reference #3"]
    assert any("model fingerprint differs" in reason for reason in group.flagged["reference #3"])
    lines = [x.line() for x in baseline_matches(trusted, [faithful, swapped]) if x.endpoint is Endpoint.CHAT]
    assert len(lines) == 2 and not lines[0].startswith("⚑") and lines[1].startswith("⚑ ")


def test_the_report_section_shows_chat_billing_and_its_fingerprint() -> None:
    text = "\n".join(identity_markdown(_chat_report()))
    assert "chat.identity.prompt-tokens" in text and "chat.identity.message-overhead" in text
    assert "Chat Completions: 9 conversations (7 with first-token logprobs)" in text


@pytest.mark.parametrize(("quirk", "pattern"), [
    ("hidden-system-prompt", "10 tokens more than the prompt are billed on every request: a hidden system prompt?"),
    ("usage-content-only", "the content alone is billed (no per-message overhead, no role)"),
])
def test_chat_billing_failures_say_what_the_slope_and_intercept_show(quirk: str, pattern: str) -> None:
    catalogue = load_catalogue().select(("chat.identity.message-overhead",))
    (run,) = certify([embedded_reference(quirks=(quirk,))], catalogue, load_contracts())
    assert pattern in run.verdicts[0].message
