"""The property phase against the reference provider: conformant passes, each quirk fails with a curl to replay it,
the budget holds across probes and fuzzing, and the checks say why when the phase did not run."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from relaycheck.checks import property as property_checks
from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Recorded, judge
from relaycheck.cli.main import main
from relaycheck.config.providers import BudgetLimits, Provider
from relaycheck.property import PLAN_PROBE
from relaycheck.runner.engine import certify
from relaycheck.server.config import ServerConfig
from relaycheck.server.running import RunningServer, serve_in_thread
from relaycheck.spec import load_contract
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.exchange import Exchange

SEED = 4321  # any seed; this one draws, among its 6 negative cases, a number out of range (about 3 in 4 seeds do)
KEY_ENV = "RELAYCHECK_PROPERTY_TEST_KEY"
EXAMPLES = 12
PROPERTY_IDS = {c.id for c in property_checks.CHECKS if not c.id.startswith("chat.")}


def provider_for(server: RunningServer, **changes) -> Provider:
    """A provider entry pointing at ``server`` as a paid vendor would be configured (key from the environment)."""
    return Provider(name="loopback", base_url=server.base_url, api_key_env=KEY_ENV, **changes)


@dataclass(frozen=True)
class Finding:
    """One property check's verdict, with what reproduces it (the smallest failing request and its answer)."""

    check: str
    grade: str
    message: str
    seed: int
    request: str | None
    response: str | None
    probe: str | None


def _findings(quirks: tuple[str, ...] = (), examples: int = EXAMPLES) -> tuple[dict[str, Finding], dict[str, Exchange]]:
    """The property phase alone, through the one engine with a property-only catalogue."""
    catalogue = load_catalogue().select(("property",))
    with serve_in_thread(ServerConfig(quirks=frozenset(quirks))) as server:
        provider = provider_for(server, budget=BudgetLimits(100, 5000), property_examples=examples)
        key = server.config.api_key
        (run,) = certify([provider], catalogue, load_contracts(), environ={KEY_ENV: key}, property_seed=SEED)
    findings = []
    for verdict in run.verdicts:
        probe = verdict.probes[0] if len(verdict.probes) == 1 else None
        failing = run.exchanges.get(probe) if probe and verdict.grade in (Grade.FAIL, Grade.WARN) else None
        findings.append(Finding(
            verdict.check, verdict.grade.value, verdict.message, SEED,
            property_checks.curl(failing) if failing else None,
            property_checks.response_summary(failing) if failing else None,
            probe,
        ))
    assert key and all(key not in (f.request or "") + (f.response or "") + f.message for f in findings)
    return {f.check: f for f in findings}, run.exchanges


def test_conformant_reference_passes_every_property_check() -> None:
    findings, exchanges = _findings()
    assert set(findings) == PROPERTY_IDS
    assert {k: f.grade for k, f in findings.items()} == dict.fromkeys(PROPERTY_IDS, "pass")
    assert all(f.seed == SEED and f"seed {SEED}" in f.message for f in findings.values())
    kinds = {p.rsplit("-", 1)[0] for p in exchanges if p != PLAN_PROBE}
    assert kinds == {"property-positive", "property-negative", "property-example"}
    assert sum(p.startswith(("property-positive", "property-negative")) for p in exchanges) == EXAMPLES


@pytest.mark.parametrize(
    ("quirk", "check"),
    [
        ("accept-out-of-range", "property.negative-rejected"),
        ("errors-200", "property.negative-rejected"),
        ("chat-object", "property.positive-response-schema"),
        ("finish-reason-eos", "property.positive-response-schema"),
        ("created-float", "property.positive-response-schema"),
    ],
)
def test_quirk_fails_with_a_reproducing_request(quirk: str, check: str) -> None:
    findings, exchanges = _findings((quirk,))
    finding = findings[check]
    assert finding.grade == "fail", finding
    assert finding.request and finding.request.startswith("curl -sS -X POST http://127.0.0.1:")
    assert "-H 'Authorization: Bearer <redacted>'" in finding.request
    assert "--data-raw" in finding.request
    assert finding.response and finding.response.startswith("HTTP ")
    assert finding.probe in exchanges and finding.probe.startswith("property-")
    assert f"seed {SEED}" in finding.message


def test_errors_500_and_flat_errors_fail_the_negative_checks() -> None:
    assert _findings(("errors-500",))[0]["property.negative-rejected"].grade == "fail"
    assert _findings(("errors-flat",))[0]["property.negative-envelope"].grade == "fail"


def test_engine_runs_the_phase_and_rejudge_is_offline() -> None:
    """certify() runs the property phase after the probes; the verdicts come back the same from stored exchanges."""
    catalogue = load_catalogue().select(("property", "shape.object"))
    with serve_in_thread(ServerConfig(quirks=frozenset({"chat-object"}))) as server:
        provider = provider_for(server, property_examples=6)
        (run,) = certify([provider], catalogue, load_contracts(), environ={KEY_ENV: server.config.api_key})
    verdicts = {v.check: v for v in run.verdicts}
    assert verdicts["shape.object"].grade is Grade.FAIL
    failed = verdicts["property.positive-response-schema"]
    assert failed.grade is Grade.FAIL and "curl " in (failed.observed or "") and failed.probes
    assert "Bearer <redacted>" in failed.observed
    assert "basic" in run.exchanges and any(p.startswith("property-positive-") for p in run.exchanges)
    stored = {p: Exchange.from_dict(ex.to_dict()) for p, ex in run.exchanges.items()}
    again = [judge(c, Recorded(stored, load_contract(), provider.model)) for c in catalogue.checks]
    assert [(v.check, v.grade, v.message) for v in again] == [(v.check, v.grade, v.message) for v in run.verdicts]


def test_budget_holds_across_probes_and_fuzzing(counted_server) -> None:
    server, counter = counted_server
    catalogue = load_catalogue()  # 36 hand-written probes first: they alone would pass a budget of 12
    provider = provider_for(server, budget=BudgetLimits(requests=12, completion_tokens=10_000), property_examples=40)
    (run,) = certify([provider], catalogue, load_contracts(), environ={KEY_ENV: server.config.api_key})
    assert counter.http <= 12
    assert run.spend.requests == counter.http
    fuzz = [ex for p, ex in run.exchanges.items() if p.startswith("property-") and p != PLAN_PROBE]
    assert len(fuzz) > 12 and all(ex.not_sent and "budget" in ex.not_sent for ex in fuzz if ex.status is None)
    for verdict in run.verdicts:
        if verdict.check in PROPERTY_IDS:
            assert verdict.grade is Grade.SKIPPED and "budget" in verdict.message, verdict


def test_budget_partly_spent_on_fuzzing(counted_server) -> None:
    """Only property checks selected: the budget goes to fuzzing, and stops there."""
    server, counter = counted_server
    provider = provider_for(server, budget=BudgetLimits(requests=9, completion_tokens=10_000), property_examples=30)
    (run,) = certify([provider], load_catalogue().select(("property",)), load_contracts(),
                     environ={KEY_ENV: server.config.api_key})
    assert counter.http == 9 == run.spend.requests
    unsent = [ex for p, ex in run.exchanges.items() if p != PLAN_PROBE and ex.not_sent]
    assert len(unsent) == 30 + 6 - 9 and all("budget" in ex.not_sent for ex in unsent)
    verdicts = {v.check: v for v in run.verdicts}
    assert verdicts["property.examples"].grade is Grade.PASS  # the 6 examples go first, then positive/negative
    assert "not sent (budget exhausted)" in verdicts["property.positive-accepted"].message
    assert all(v.grade in (Grade.PASS, Grade.SKIPPED) for v in verdicts.values())


def test_checks_skip_when_the_phase_did_not_run() -> None:
    recorded = Recorded({}, load_contract(), "m")
    for check in (c for c in property_checks.CHECKS if c.id in PROPERTY_IDS):
        verdict = judge(check, recorded)
        assert verdict.grade is Grade.SKIPPED and "not run" in verdict.message


def test_zero_examples_means_no_phase(counted_server) -> None:
    server, counter = counted_server
    provider = provider_for(server, property_examples=0)
    (run,) = certify([provider], load_catalogue().select(("property",)), load_contracts(),
                     environ={KEY_ENV: server.config.api_key})
    assert counter.http == 0
    assert all(v.grade is Grade.SKIPPED and "property_examples is 0" in v.message for v in run.verdicts)


def test_no_property_flag_deselects_the_feature(tmp_path, counted_server) -> None:
    server, counter = counted_server
    assert main(["run", "--no-property", "--checks", "property", "-q", "--report-dir", str(tmp_path)]) == 2
    code = main(["run", "--no-property", "--checks", "shape.object", "-q", "--report-dir", str(tmp_path)])
    assert code == 0
    report = (tmp_path / "reference.json").read_text()
    assert "property-" not in report
