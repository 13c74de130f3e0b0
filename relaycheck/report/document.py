"""The per-provider report built from a run (:func:`build_report`), and its JSON written to disk.

Everything in it has passed through the redactor: request headers are recorded redacted, and the serialised
document is redacted once more as text before it is written.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from relaycheck import __version__
from relaycheck.checks.catalogue import Catalogue
from relaycheck.report.model import (
    BudgetInfo,
    CheckInfo,
    Latency,
    ProbeLatency,
    ProviderInfo,
    Report,
    SuiteInfo,
    VerdictRow,
)
from relaycheck.runner.engine import ProviderRun
from relaycheck.transport.budget import Spend
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.redact import Redactor


def build_report(run: ProviderRun, catalogue: Catalogue) -> Report:
    provider = run.provider
    verdicts = {v.check: v for v in run.verdicts}
    finished = run.finished or run.started
    return Report(
        suite=SuiteInfo(__version__, catalogue.revision, len(catalogue.checks)),
        provider=ProviderInfo(
            name=provider.name,
            model=provider.model,
            address=run.target.label if run.target else (provider.base_url or "embedded reference provider"),
            embedded=provider.embedded,
            quirks=tuple(provider.quirks),
            expectations=str(provider.expectations) if provider.expectations else None,
        ),
        started=iso(run.started),
        finished=iso(finished),
        duration_s=round(finished - run.started, 3),
        skipped=run.skipped,
        stopped=run.stopped,
        spend=Spend(**vars(run.spend)),  # a copy: the report must not move with a budget still in use
        budget=BudgetInfo(provider.budget.requests, provider.budget.completion_tokens),
        verdicts=tuple(VerdictRow(CheckInfo.of(c), verdicts[c.id]) for c in catalogue.checks if c.id in verdicts),
        latency=latency(run.exchanges.values()),
        exchanges=tuple(run.exchanges.values()),
    )


def latency(exchanges: Iterable[Exchange]) -> Latency:
    by_probe: dict[str, ProbeLatency] = {}
    gaps: list[float] = []
    for ex in exchanges:
        if ex.status is None:
            continue
        by_probe[ex.probe] = ProbeLatency(
            time_to_headers=ex.timing.headers,
            time_to_first_token=ex.timing.first_token,
            total=ex.timing.total,
            chunks=len(ex.events),
            max_gap=round(max(ex.timing.chunk_gaps), 6) if ex.timing.chunk_gaps else None,
        )
        gaps.extend(ex.timing.chunk_gaps)
    totals = [v.total for v in by_probe.values() if v.total is not None]
    firsts = [v.time_to_first_token for v in by_probe.values() if v.time_to_first_token is not None]
    return Latency(
        median_total=round(statistics.median(totals), 6) if totals else None,
        median_time_to_first_token=round(statistics.median(firsts), 6) if firsts else None,
        median_chunk_gap=round(statistics.median(gaps), 6) if gaps else None,
        by_probe=by_probe,
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def write_json(report: Report, path: Path, redactor: Redactor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redactor.text(report.dumps()) + "\n", encoding="utf-8")
