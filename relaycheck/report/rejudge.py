"""Re-grade a stored report's exchanges with the current catalogue: no request is sent.

The report's exchanges are turned back into a :class:`ProviderRun` and handed to
:func:`relaycheck.runner.engine.judge_run`, the same pure function a live run uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from relaycheck.checks.catalogue import Catalogue
from relaycheck.config.providers import BudgetLimits, EndpointSettings, Provider
from relaycheck.endpoint import Endpoint
from relaycheck.report.document import build_report, iso
from relaycheck.report.model import GradeChange, RejudgeInfo, Report
from relaycheck.runner.engine import ProviderRun, Target, judge_run
from relaycheck.runner.expectations import load_expectations
from relaycheck.spec.contracts import Contracts
from relaycheck.transport.budget import Spend


@dataclass(frozen=True)
class Rejudged:
    report: Report
    changed: tuple[GradeChange, ...] = ()
    expectations: Path | None = None


def run_from_report(report: Report, expectations: Path | None = None) -> ProviderRun:
    p, budget = report.provider, report.budget
    chat = next((e for e in p.certified if e.endpoint is Endpoint.CHAT), None)
    provider = Provider(
        name=p.name,
        model=p.model or "gpt-3.5-turbo-instruct",
        base_url=None if p.embedded else p.address,
        embedded=p.embedded,
        quirks=p.quirks,
        budget=BudgetLimits(**{k: v for k, v in vars(budget).items() if v}),
        expectations=expectations,
        tokenizer=p.tokenizer,
        chat=EndpointSettings(chat.model, chat.tokenizer) if chat else None,
        endpoints=tuple(e.endpoint for e in p.certified),
        discover_endpoints=p.discover_endpoints,
    )
    run = ProviderRun(provider, exchanges=dict(report.by_probe), spend=Spend(**vars(report.spend)),
                      skipped=report.skipped, stopped=report.stopped)
    run.target = Target(base_url=p.address, api_key=None, label=p.address)
    run.probes_total = len(run.exchanges)
    return run


def rejudge(
    original: Report, source: Path, catalogue: Catalogue, contracts: Contracts, expectations: Path | None = None
) -> Rejudged:
    """Grade the stored exchanges again. ``expectations`` defaults to the file the original run applied, if any.

    ``source`` is the file ``original`` was read from; the re-judged report names it.
    """
    if expectations is None and original.provider.expectations:
        candidate = Path(original.provider.expectations)
        expectations = candidate if candidate.exists() else None
    run = run_from_report(original, expectations)
    run.verdicts = judge_run(run, catalogue, contracts, load_expectations(expectations))
    fresh = build_report(run, catalogue)
    before = {r.id: r.grade for r in original.verdicts}
    after = {r.id: r.grade for r in fresh.verdicts}
    changed = tuple(
        GradeChange(c, before.get(c), after.get(c))
        for c in [*after, *(c for c in before if c not in after)]
        if before.get(c) is not after.get(c)
    )
    report = replace(
        fresh,
        # the run itself (when, how long, what it spent, where, whom) is the original's
        started=original.started,
        finished=original.finished,
        duration_s=original.duration_s,
        spend=original.spend,
        budget=original.budget,
        latency=original.latency,
        provider=replace(original.provider, expectations=str(expectations) if expectations else None),
        rejudged=RejudgeInfo(
            at=iso(time.time()),
            source=str(source),
            original_suite=original.suite,
            original_score=original.score.overall,
            changed=changed,
            original_rejudged=original.rejudged,
        ),
    )
    return Rejudged(report, changed, expectations)
