"""The spend ceiling against providers that ignore max_tokens or lie about usage: counted from what arrived,
nothing sent once it is reached, and passed by no more than the stated bound."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hostile.helpers import PLANTED_KEY, assert_every_check_graded, assert_key_absent, hostile_provider
from hostile.spend_servers import SPEND_CORPUS, TOKEN
from relaycheck.checks.model import Grade
from relaycheck.report.writer import write_reports
from relaycheck.runner.engine import certify
from relaycheck.transport.budget import BYTES_PER_TOKEN, Budget, delivered_tokens
from relaycheck.transport.client import Outgoing, ProviderClient
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.redact import Redactor

CEILING = 300


@pytest.mark.parametrize("name", list(SPEND_CORPUS))
def test_spend_stays_within_the_stated_bound(name: str, catalogue, contract, tmp_path: Path) -> None:
    with SPEND_CORPUS[name]() as server:
        provider = hostile_provider("spender", server.base_url, budget={"completion_tokens": CEILING})
        runs = certify([provider], catalogue, contract)
        seen = server.seen
    run = runs[0]
    spend = run.spend
    assert_every_check_graded(run, catalogue)
    assert spend.overrun_bound is not None
    assert spend.completion_tokens <= CEILING + spend.overrun_bound
    # Far below that loose bound in fact: the canary (sent alone) shows the overrun, and nothing else fits after.
    if name == "honest-then-ignores":  # the canary was answered honestly: one wave in flight may pass the ceiling
        assert len(seen) <= 2 + 2 * provider.concurrency, len(seen)
        assert spend.completion_tokens <= CEILING + provider.concurrency * 500
    elif name == "over-reports":  # honoured max_tokens, but billed a million: no second request
        assert len(seen) == 1 and spend.completion_tokens == 1_000_000
    else:
        assert len(seen) == 1, len(seen)
        assert spend.completion_tokens >= 500 // BYTES_PER_TOKEN  # never free, whatever usage said
        assert spend.overrun_factor > 1
    assert spend.refused > 0
    budget_skips = [v for v in run.verdicts if v.grade is Grade.SKIPPED and "budget" in v.message]
    assert budget_skips, sorted({v.message[:80] for v in run.verdicts})
    assert not [v for v in run.verdicts if v.grade is Grade.PASS and v.check == "params.max-tokens"]

    write_reports(runs, catalogue, tmp_path, Redactor.for_keys([PLANTED_KEY]))
    stored = json.loads((tmp_path / "spender.json").read_text(encoding="utf-8"))
    assert stored["spend"]["overrun_bound_tokens"] == spend.overrun_bound
    assert_key_absent(tmp_path)


def test_a_stream_is_cut_once_it_passes_its_reservation() -> None:
    async def stream_once(base_url: str) -> tuple[Exchange, Budget]:
        provider = hostile_provider("streamer", base_url)
        budget = Budget(max_completion_tokens=1000)
        async with ProviderClient.for_provider(provider, base_url, PLANTED_KEY, budget) as client:
            body = {"model": "m", "prompt": "p", "max_tokens": 8, "stream": True}
            return await client.send(Outgoing("stream", body, max_completion_tokens=8)), budget

    with SPEND_CORPUS["ignores-max-tokens"]() as server:
        exchange, budget = asyncio.run(stream_once(server.base_url))
    assert (exchange.transport_error or "").startswith("cut: "), exchange.transport_error
    # Cut at the first network read (at most 64 KiB) that passes the reservation: before the 500 events end.
    assert 8 < len(exchange.events) < 500
    assert budget.spend.streams_cut == 1 and budget.spend.completion_tokens < 500
    assert budget.spend.overrun_factor > 1  # and what the rest may risk is lowered


@pytest.mark.parametrize("reported", [None, 0, -5, 1.5, "7", True, 10**30])
def test_reported_usage_never_counts_as_free(reported: object) -> None:
    budget = Budget(max_completion_tokens=100)
    reservation = budget.reserve(16)
    assert reservation is not None
    charged = budget.settle(reservation, -3, reported, delivered=2)
    assert charged >= 16 if reported != 10**30 else charged == 10**30
    assert budget.spend.prompt_tokens == 0


def test_a_refusal_costs_only_what_it_delivered() -> None:
    """A complete 4xx/5xx answer generated nothing: its reservation is not charged, but text it carried is."""
    budget = Budget(max_completion_tokens=100)
    honest, hostile = budget.reserve(16), budget.reserve(16)
    assert honest is not None and hostile is not None
    assert budget.settle(honest, None, None, delivered=0, refused=True) == 0
    text = {"choices": [{"text": TOKEN * 40, "logprobs": {"tokens": [TOKEN] * 40}}]}
    assert budget.settle(hostile, None, 0, delivered_tokens([text]), refused=True) == 40
    assert budget.spend.completion_tokens == 40 and budget.spend.reserved_completion_tokens == 32


def test_the_larger_of_reported_and_counted_is_charged() -> None:
    budget = Budget(max_completion_tokens=10_000)
    reservation = budget.reserve(4)
    assert reservation is not None
    text = {"choices": [{"text": TOKEN * 400, "logprobs": {"tokens": [TOKEN] * 400}}]}
    assert budget.settle(reservation, 5, 3, delivered_tokens([text])) == 400
    assert budget.spend.overrun_factor == 100
    later = budget.reserve(4)
    assert later is not None and later.completion_tokens == 400  # what the rest may risk, lowered


def test_once_the_ceiling_is_reached_nothing_more_is_sent() -> None:
    budget = Budget(max_completion_tokens=50)
    reservation = budget.reserve(10)
    assert reservation is not None
    budget.settle(reservation, 1, 60)
    assert budget.exhausted and budget.reserve(1) is None
