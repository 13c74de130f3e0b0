"""A connection closed before any answer is retried once on a fresh one, so the failure does not land on an
innocent probe; a provider that never answers still gets an `error`, and only one retry per request."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from hostile.servers import ConnectionReset, HostileServer, SeenRequest, chunk_json, head
from relaycheck.config.providers import Limits, Timeouts
from relaycheck.transport.budget import Budget
from relaycheck.transport.client import Outgoing, ProviderClient


@dataclass
class FirstConnectionDropped(HostileServer):
    """Like a server that closes an idle keep-alive connection without saying so: the first request is read and
    dropped unanswered; later ones get a valid completion."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.dropped = 0

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        if not self.dropped:
            self.dropped += 1
            writer.close()
            return
        body = json.dumps(chunk_json("ok") | {"usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                        "total_tokens": 2}}).encode()
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body)
        await writer.drain()
        writer.close()


def _send(server: HostileServer, budget: Budget) -> object:
    async def go() -> object:
        client = ProviderClient(server.base_url, "sk-relaycheck-test-key-123", timeouts=Timeouts(2, 2, 5),
                                limits=Limits(), budget=budget, retries=2)
        async with client:
            return await client.send(Outgoing("basic", {"model": "m", "prompt": "x", "max_tokens": 1}))

    return asyncio.run(go())


def test_a_silently_closed_connection_is_retried_once() -> None:
    budget = Budget(10, 100)
    with FirstConnectionDropped() as server:
        exchange = _send(server, budget)
        seen = len(server.seen)
    assert exchange.status == 200 and exchange.transport_error is None  # type: ignore[attr-defined]
    assert exchange.attempts == 2 and seen == 2  # type: ignore[attr-defined]
    assert budget.spend.requests == 2 and budget.spend.retries == 1  # the retry is counted in the spend


def test_a_provider_that_always_drops_gets_one_retry_then_an_error() -> None:
    budget = Budget(10, 100)
    with ConnectionReset() as server:
        exchange = _send(server, budget)
        seen = len(server.seen)
    assert exchange.status is None and "connection lost" in (exchange.transport_error or "")  # type: ignore[attr-defined]
    assert seen == 2 and budget.spend.requests == 2
