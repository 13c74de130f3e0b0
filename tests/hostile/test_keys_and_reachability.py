"""Key hygiene (redirects, exception messages, echoed keys) and providers that cannot be reached at all."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from hostile.helpers import (
    PLANTED_KEY,
    assert_every_check_graded,
    assert_key_absent,
    hostile_provider,
    reference_provider,
    timed_certify,
)
from hostile.servers import GzipBomb, PlainForTls, Recording, Redirect, closed_port, gzip_bomb
from relaycheck.checks.model import Grade
from relaycheck.config.providers import Limits, Timeouts
from relaycheck.report.writer import write_reports
from relaycheck.transport.budget import Budget
from relaycheck.transport.client import Outgoing, ProviderClient, _BodyDecoder
from relaycheck.transport.redact import Redactor


def test_key_never_crosses_a_redirect(catalogue, contract, tmp_path: Path) -> None:
    with Recording(host="127.0.0.2") as elsewhere, Redirect(target="http://127.0.0.2:0/v1") as redirect:
        redirect.target = elsewhere.base_url
        provider = hostile_provider("redirect", redirect.base_url)
        runs, took, bound = timed_certify([provider], catalogue, contract)
        first, second = redirect.seen, elsewhere.seen
    assert took <= bound + 5
    assert first and any(r.headers.get("authorization") == f"Bearer {PLANTED_KEY}" for r in first)
    assert second == []  # not followed at all: the second listener saw no request, so no key
    run = runs[0]
    assert_every_check_graded(run, catalogue)
    assert {e.status for e in run.exchanges.values() if e.attempts} == {307}
    assert any(v.grade is Grade.FAIL and "307" in v.message for v in run.verdicts)
    write_reports(runs, catalogue, tmp_path, Redactor.for_keys([PLANTED_KEY]))
    assert_key_absent(tmp_path)


@pytest.mark.parametrize(
    "raised",
    [
        httpx.ConnectError(f"cannot connect with Authorization: Bearer {PLANTED_KEY}"),
        httpx.ReadError(f"reset while sending {PLANTED_KEY}"),
        httpx.RemoteProtocolError(f"bad response to https://x.test/v1?key={PLANTED_KEY}"),
        RuntimeError(f"unexpected: headers={{'authorization': 'Bearer {PLANTED_KEY}'}}"),
        httpx.InvalidURL(f"invalid url containing {PLANTED_KEY}"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_exception_messages_are_redacted(raised: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    async def go() -> tuple[str | None, str]:
        async with ProviderClient("http://127.0.0.1:9/v1", PLANTED_KEY, timeouts=Timeouts(1, 1, 2, 10),
                                  limits=Limits(), budget=Budget(), transport=httpx.MockTransport(handler)) as c:
            ex = await c.send(Outgoing("basic", {"model": "m", "prompt": "x"}))
        return ex.transport_error, repr(ex.to_dict())

    error, stored = asyncio.run(go())
    assert error and type(raised).__name__ in error or "connection" in (error or "")
    assert PLANTED_KEY not in (error or "") and PLANTED_KEY not in stored


def test_echoed_key_is_masked_in_the_recording_even_when_not_utf8() -> None:
    body = b'{"error": {"message": "Incorrect API key provided: ' + PLANTED_KEY.encode() + b'\xff"}}'

    async def go() -> bytes:
        transport = httpx.MockTransport(lambda request: httpx.Response(401, content=body))
        async with ProviderClient("http://127.0.0.1:9/v1", PLANTED_KEY, timeouts=Timeouts(), limits=Limits(),
                                  budget=Budget(), transport=transport) as c:
            return (await c.send(Outgoing("basic", {"model": "m", "prompt": "x"}))).body

    recorded = asyncio.run(go())
    assert PLANTED_KEY.encode() not in recorded and b"<redacted>" in recorded


def test_gzip_bomb_is_decoded_within_the_bound() -> None:
    bomb = gzip_bomb(16 << 20)
    decoder = _BodyDecoder("gzip")
    assert len(decoder.decode(bomb, 1001)) == 1001  # not 16 MB: the decoder stops at the bound


def test_gzip_bomb_recording_is_bounded(catalogue, contract) -> None:
    with GzipBomb() as server:
        provider = hostile_provider("bomb", server.base_url, limits={"max_body_bytes": 4096})
        runs, _, _ = timed_certify([provider], catalogue, contract)
    assert all(len(e.body) <= 4096 for e in runs[0].exchanges.values())
    assert any(e.truncated for e in runs[0].exchanges.values())


def test_unreachable_and_tls_refused_stay_their_own(catalogue, contract) -> None:
    events: list[tuple[str, str, str | None]] = []
    with PlainForTls() as plain:
        providers = [
            hostile_provider("closed", f"http://127.0.0.1:{closed_port()}/v1"),
            hostile_provider("tls", plain.tls_url),
            reference_provider(),
        ]
        runs, took, bound = timed_certify(providers, catalogue, contract,
                                          progress=lambda e, r: events.append((e, r.name, r.stopped)))
    assert took <= bound + 5
    by_name = {r.name: r for r in runs}
    for name in ("closed", "tls"):
        run = by_name[name]
        assert_every_check_graded(run, catalogue)
        assert all(v.grade in (Grade.ERROR, Grade.SKIPPED) for v in run.verdicts)
        assert sum(v.grade is Grade.ERROR for v in run.verdicts) > len(run.verdicts) // 2
        assert any("connection failed" in v.message for v in run.verdicts)
        stops = [why for event, who, why in events if event == "stopped" and who == name]
        assert len(stops) == 1 and "connection failed" in (stops[0] or "")
    assert not by_name["reference"].must_failures(catalogue)
    assert by_name["reference"].stopped is None
