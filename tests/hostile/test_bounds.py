"""The stated time bound, the run deadline, retry waits, the budget under retries, and neighbours unaffected."""

from __future__ import annotations

from pathlib import Path

import pytest

import relaycheck.transport.client as client_module
from hostile.helpers import assert_every_check_graded, hostile_provider, reference_provider, timed_certify
from hostile.servers import EndlessStream, HangBeforeHeaders, Html502, SlowSuccess, TooManyRequests
from relaycheck.checks.model import Grade, Level
from relaycheck.config.providers import Provider, load_providers
from relaycheck.probes.catalogue import PROBES
from relaycheck.runner.engine import RUN_GRACE, run_worst_case, worst_case_seconds

REPO = Path(__file__).resolve().parents[2]
FIVE_MINUTES = 300.0


def test_default_run_against_any_provider_is_bounded_by_five_minutes(catalogue) -> None:
    vendor = Provider(name="vendor", base_url="https://api.example.test/v1", api_key_env="K")
    assert worst_case_seconds(vendor, PROBES, property_requests=100) < FIVE_MINUTES
    shipped = load_providers(REPO / "providers.yaml").providers
    assert run_worst_case(shipped, catalogue) < FIVE_MINUTES
    for provider in shipped:
        assert worst_case_seconds(provider, PROBES) < FIVE_MINUTES


def test_bound_is_the_schedule_when_that_is_smaller() -> None:
    # One probe, no retries, total 6, concurrency 4: one attempt of at most 6 s (+ its chain, itself).
    provider = hostile_provider("p", "http://127.0.0.1:9/v1", retries=0)
    one = [p for p in PROBES if p.id == "basic"]
    assert worst_case_seconds(provider, one) == pytest.approx(6 + 6 + RUN_GRACE)
    assert worst_case_seconds(provider, PROBES) == pytest.approx(provider.timeouts.run + RUN_GRACE)


def test_slow_but_successful_provider_is_cut_at_the_run_deadline(catalogue, contract) -> None:
    """Every answer is complete and inside timeouts.total, so neither the breaker nor a per-request timeout
    helps: the run deadline does."""
    with SlowSuccess() as server:
        provider = hostile_provider("slow", server.base_url, timeouts={"run": 5})
        runs, took, bound = timed_certify([provider], catalogue, contract)
    assert bound == pytest.approx(5 + RUN_GRACE)
    assert took <= bound + 5
    assert_every_check_graded(runs[0], catalogue)
    assert any("run deadline of 5s" in v.message and v.grade is Grade.ERROR for v in runs[0].verdicts)


def test_retry_after_20_storm_does_not_stall(catalogue, contract) -> None:
    """429 with Retry-After 20 everywhere: no wait is granted past the run deadline, each probe is tried once."""
    with TooManyRequests(retry_after="20") as server:
        provider = hostile_provider("storm", server.base_url, timeouts={"run": 15})
        runs, took, bound = timed_certify([provider], catalogue, contract)
        seen = len(server.seen)
    assert took <= bound + 5 and took < 10
    assert runs[0].spend.retries == 0 and seen == runs[0].spend.requests
    assert any(v.grade is Grade.FAIL and "429" in (v.observed or v.message) for v in runs[0].verdicts)


def test_total_retry_waiting_is_capped(catalogue, contract, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_RETRY_WAIT_TOTAL", 3.0)
    with TooManyRequests(retry_after="1") as server:
        provider = hostile_provider("storm", server.base_url)
        runs, took, bound = timed_certify([provider], catalogue, contract)
    assert runs[0].spend.retries <= 3
    assert took <= bound + 5


@pytest.mark.parametrize(("retry_after", "budget"), [(None, 10), ("0", 10), ("3600", 10), ("0", 70)])
def test_budget_holds_under_retries(catalogue, contract, retry_after: str | None, budget: int) -> None:
    """A budget of N requests: at most N reach a 429-always server, retries included. With a small budget the
    probes that got none are graded skipped, naming the budget; with a larger one, retries spend it too."""
    with TooManyRequests(retry_after=retry_after) as server:
        provider = hostile_provider("storm", server.base_url, budget={"requests": budget})
        runs, took, bound = timed_certify([provider], catalogue, contract)
        seen = len(server.seen)
    run = runs[0]
    assert seen <= budget
    assert run.spend.requests == seen
    assert took <= bound + 5
    assert_every_check_graded(run, catalogue)
    if budget < run.probes_total:
        skipped = [v for v in run.verdicts if v.grade is Grade.SKIPPED]
        assert skipped and any("budget" in v.message for v in skipped)
    else:
        assert run.spend.retries > 0 and seen == budget  # retries happened, counted against the same budget


def test_hostile_neighbours_do_not_change_the_reference_verdicts(catalogue, contract) -> None:
    alone, _, _ = timed_certify([reference_provider()], catalogue, contract)
    expected = {v.check: v.grade for v in alone[0].verdicts}
    levels = {c.id: c.level for c in catalogue.checks}
    assert all(g is Grade.PASS for c, g in expected.items() if levels[c] is Level.MUST)

    with HangBeforeHeaders() as hang, EndlessStream() as endless, Html502() as html, \
            TooManyRequests(retry_after="1") as storm:
        providers = [hostile_provider("hang", hang.base_url), hostile_provider("endless", endless.base_url),
                     reference_provider(), hostile_provider("html", html.base_url),
                     hostile_provider("storm", storm.base_url)]
        runs, took, bound = timed_certify(providers, catalogue, contract)
    assert took <= bound + 5
    by_name = {r.name: r for r in runs}
    assert {v.check: v.grade for v in by_name["reference"].verdicts} == expected
    assert not by_name["reference"].must_failures(catalogue)
    for name in ("hang", "endless", "html", "storm"):
        assert_every_check_graded(by_name[name], catalogue)
        assert by_name[name].must_failures(catalogue)
