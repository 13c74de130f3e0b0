"""The model fingerprint and its same-model rule, the diff and compare lines, and the report section."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from relaycheck.checks.catalogue import load_catalogue
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
from relaycheck.spec.contracts import load_contracts

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
    line = model_change(before, swapped)
    assert line is not None and "model fingerprint changed" in line


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
    lines = baseline_matches(trusted, [dataclasses.replace(trusted), faithful, swapped])  # the baseline itself is left out
    assert len(lines) == 2 and not lines[0].startswith("⚑") and lines[1].startswith("⚑ ")


@pytest.mark.parametrize(("quirk", "pattern"), [
    ("hidden-prompt-prefix", "a constant 12 extra tokens per prompt: a hidden prompt prefix billed"),
    ("usage-multiplied", "usage multiplied"),
    ("usage-from-characters", "neither a constant offset nor a constant factor"),
])
def test_billing_failures_say_what_the_difference_looks_like(quirk: str, pattern: str) -> None:
    catalogue = load_catalogue().select(("identity.prompt-tokens",))
    (run,) = certify([embedded_reference(quirks=(quirk,))], catalogue, load_contracts())
    assert pattern in run.verdicts[0].message


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
    line = model_change(trusted, swapped, Endpoint.CHAT)
    assert line is not None and "Chat Completions model fingerprint changed" in line
    (group,) = [g for g in compare([trusted, faithful, swapped]).groups if g.endpoint is Endpoint.CHAT]
    assert group.label == "gpt-4 (Chat Completions)" and list(group.flagged) == ["reference #3"]
    assert any("model fingerprint differs" in reason for reason in group.flagged["reference #3"])
    lines = [x for x in baseline_matches(trusted, [faithful, swapped]) if "Chat Completions" in x]
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
