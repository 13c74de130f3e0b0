"""The per-provider report built from a run (:func:`build_report`), and its JSON text (:func:`report_json`).

Request headers and bodies are recorded redacted; the writer redacts the report once more, as a value, before it
is serialised (``relaycheck/report/writer.py``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from relaycheck import __version__
from relaycheck.checks.catalogue import Catalogue
from relaycheck.report.model import (
    BudgetInfo,
    CheckInfo,
    EndpointInfo,
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
        suite=SuiteInfo(__version__, catalogue.revision, len(catalogue.for_endpoints(provider.endpoints).checks)),
        provider=ProviderInfo(
            name=provider.name,
            model=provider.model,
            address=run.target.label if run.target else (provider.base_url or "embedded reference provider"),
            embedded=provider.embedded,
            quirks=tuple(provider.quirks),
            expectations=str(provider.expectations) if provider.expectations else None,
            tokenizer=provider.tokenizer,
            endpoints=tuple(EndpointInfo(e, provider.settings(e).model, provider.settings(e).tokenizer)
                            for e in provider.endpoints),
            discover_endpoints=provider.discover_endpoints,
        ),
        started=iso(run.started),
        finished=iso(finished),
        duration_s=round(finished - run.started, 3),
        skipped=run.skipped,
        stopped=run.fault or run.stopped,
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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, a surrogate is always unpaired


def report_json(report: Report) -> str:
    """The report as JSON text that any UTF-8 reader accepts: a lone surrogate a provider sent (``"\\ud800"``)
    is written as its JSON escape, so the file is valid UTF-8 and reads back to the same string."""
    text = report.dumps()
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def redacted(report: Report, redactor: Redactor) -> Report:
    """The report as a value with nothing secret in it: what every writer serialises (and truncates). Each
    exchange is redacted as a recording (body, stream chunks, headers), the rest string by string."""
    if not redactor.secrets:
        return report
    exchanges = tuple(redactor.exchange(x) for x in report.exchanges)
    raw = redactor.tree(replace(report, exchanges=()).to_json())
    raw["exchanges"] = [x.to_dict() for x in exchanges]
    return Report.from_json(raw, "redacted report")
