"""Every hostile server in the corpus, certified: a verdict for every check, within the stated bound, no leak."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile.helpers import (
    PLANTED_KEY,
    assert_every_check_graded,
    assert_key_absent,
    hostile_provider,
    timed_certify,
)
from hostile.servers import CORPUS
from relaycheck.checks.model import Grade, Level
from relaycheck.report.writer import write_reports
from relaycheck.transport.client import DOWN_AFTER
from relaycheck.transport.redact import Redactor

# What the grades must name, per server: (a grade that must occur, a phrase one of its messages must contain).
EXPECTED: dict[str, tuple[Grade, str]] = {
    "hang-before-headers": (Grade.ERROR, "timeout: read"),
    "hang-mid-stream": (Grade.ERROR, "timeout: read"),
    "slow-drip": (Grade.ERROR, "total limit of 6s"),
    "endless-stream": (Grade.ERROR, "completion tokens reserved for it"),  # cut long before the event bound
    "huge-body": (Grade.ERROR, "cut at the size bound"),
    "gzip-bomb": (Grade.ERROR, "cut at the size bound"),
    "invalid-utf8": (Grade.FAIL, "not a JSON object"),
    "html-502": (Grade.FAIL, "HTTP 502"),
    "connection-reset": (Grade.ERROR, "connection lost"),
    "wrong-content-length": (Grade.ERROR, "peer closed connection"),
    "garbage-headers": (Grade.ERROR, "RemoteProtocolError"),
}
DEAD = {"hang-before-headers", "hang-mid-stream", "slow-drip", "connection-reset", "wrong-content-length",
        "garbage-headers"}


def test_every_server_has_an_expectation() -> None:
    assert set(EXPECTED) == set(CORPUS)


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_server(name: str, catalogue, contract, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with CORPUS[name]() as server:
        provider = hostile_provider("hostile", server.base_url)
        runs, took, bound = timed_certify([provider], catalogue, contract)
        seen = server.seen
    run = runs[0]

    assert took <= bound + 5, f"took {took:.1f}s, stated worst case {bound:.0f}s"
    assert_every_check_graded(run, catalogue)
    grade, phrase = EXPECTED[name]
    matching = [v for v in run.verdicts if v.grade is grade and phrase in v.message]
    assert matching, sorted({f"{v.grade}: {v.message[:100]}" for v in run.verdicts})
    levels = {c.id: c.level for c in catalogue.checks}
    assert run.must_failures(catalogue), "a hostile provider cannot be certified"
    assert not [v for v in run.verdicts if v.grade is Grade.PASS and levels[v.check] is Level.MUST
                and name in DEAD and "status" in v.check]

    # Every body recorded stays within the bounds, whatever was sent.
    for exchange in run.exchanges.values():
        assert len(exchange.body) <= provider.limits.max_body_bytes
        assert len(exchange.events) <= provider.limits.max_stream_events
    if name in DEAD:  # the breaker: a provider that never completes an answer costs about one wave
        assert len(seen) <= provider.concurrency + DOWN_AFTER, len(seen)
        assert any("provider treated as down" in v.message for v in run.verdicts)
    # The key went to the configured server (so the leak checks below mean something)…
    assert any(r.headers.get("authorization") == f"Bearer {PLANTED_KEY}" for r in seen)
    # …and nowhere else: not in the reports, not in the recordings, not on the terminal.
    write_reports(runs, catalogue, tmp_path / "reports", Redactor.for_keys([PLANTED_KEY]))
    captured = capfd.readouterr()
    assert_key_absent(tmp_path / "reports", PLANTED_KEY, captured.out, captured.err)
    for exchange in run.exchanges.values():
        assert PLANTED_KEY.encode() not in exchange.body
        assert PLANTED_KEY not in (exchange.transport_error or "")
    assert "Traceback" not in captured.out + captured.err
