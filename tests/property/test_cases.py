"""Generated cases are drawn once per run: every provider that asks for the same ones shares one drawing."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.config.providers import Provider
from relaycheck.property import PLAN_PROBE, cases
from relaycheck.property.cases import CaseCache, CaseKey
from relaycheck.runner.engine import certify
from relaycheck.server.config import ServerConfig
from relaycheck.server.running import serve_in_thread
from relaycheck.spec.contracts import load_contracts

KEY_ENV = "RELAYCHECK_CASES_TEST_KEY"
MODEL = "gpt-3.5-turbo-instruct"


@pytest.fixture
def drawings(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The generations run, as their arguments (the real ones run: nothing is faked)."""
    seen: list[tuple] = []
    real = cases.generate_cases

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append((*args, *sorted(kwargs.items())))
        return real(*args, **kwargs)

    monkeypatch.setattr(cases, "generate_cases", counting)
    return seen


def _bodies(run) -> list[str]:  # noqa: ANN001
    return [ex.request.body for p, ex in sorted(run.exchanges.items()) if p != PLAN_PROBE]


def test_providers_asking_for_the_same_cases_share_one_drawing(drawings) -> None:
    catalogue = load_catalogue().select(("property",))
    with serve_in_thread(ServerConfig()) as server:
        one = Provider(name="one", base_url=server.base_url, api_key_env=KEY_ENV, property_examples=4)
        providers = [one, replace(one, name="two"), replace(one, name="three", property_examples=2)]
        runs = certify(providers, catalogue, load_contracts(), environ={KEY_ENV: server.config.api_key},
                       property_seed=99)
    assert len(drawings) == 2  # one for the two providers at 4 examples, one for the provider at 2
    first, second, third = runs
    assert _bodies(first) == _bodies(second) and len(_bodies(third)) < len(_bodies(first))
    assert all(v.grade.value == "pass" for run in runs for v in run.verdicts), [r.verdicts for r in runs]


def test_the_model_is_part_of_the_key() -> None:
    assert CaseKey.for_phase(MODEL, 10, 1) == CaseKey.for_phase(MODEL, 10, 1)
    assert CaseKey.for_phase(MODEL, 10, 1) != CaseKey.for_phase("davinci-002", 10, 1)
    assert CaseKey.for_phase(MODEL, 10, 1) != CaseKey.for_phase(MODEL, 10, 2)
    key = CaseKey.for_phase(MODEL, 7, 1)
    assert (key.positive, key.negative, key.operation_id) == (4, 3, "createCompletion")
    assert key.document.is_absolute()


def test_concurrent_waiters_get_one_drawing_and_a_cancelled_one_stops_no_other(drawings) -> None:
    key = CaseKey.for_phase(MODEL, 2, 5, document_examples=False)

    async def scenario() -> list:
        cache = CaseCache()
        cache.start(key)  # as the engine does before the probes: drawing begins, nobody waits yet
        impatient = asyncio.ensure_future(cache.cases(key))
        waiters = [asyncio.ensure_future(cache.cases(key)) for _ in range(5)]
        await asyncio.sleep(0)
        impatient.cancel()
        results = await asyncio.gather(*waiters)
        assert cache.keys == (key,)
        return results

    results = asyncio.run(scenario())
    assert len(drawings) == 1
    assert all(r is results[0] for r in results) and len(results[0].positive) == 1


def test_a_failed_drawing_fails_every_waiter() -> None:
    key = replace(CaseKey.for_phase(MODEL, 2, 5), operation_id="noSuchOperation")

    async def scenario() -> list:
        cache = CaseCache()
        return await asyncio.gather(*(cache.cases(key) for _ in range(3)), return_exceptions=True)

    errors = asyncio.run(scenario())
    assert all(isinstance(e, ValueError) and "noSuchOperation" in str(e) for e in errors)
