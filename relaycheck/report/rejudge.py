"""Re-grade a stored report's exchanges with the current catalogue: no request is sent.

The report's exchanges are turned back into a :class:`ProviderRun` and handed to
:func:`relaycheck.runner.engine.judge_run`, the same pure function a live run uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaycheck.checks.catalogue import Catalogue
from relaycheck.config.providers import BudgetLimits, Provider
from relaycheck.report.document import StoredReport, _iso, build_report
from relaycheck.runner.engine import ProviderRun, Target, judge_run
from relaycheck.runner.expectations import load_expectations
from relaycheck.spec import Contract
from relaycheck.transport.budget import Spend


@dataclass
class Rejudged:
    report: dict[str, Any]
    changed: list[dict[str, Any]] = field(default_factory=list)  # {check, before, after}
    expectations: Path | None = None


def run_from_report(stored: StoredReport, expectations: Path | None = None) -> ProviderRun:
    data = stored.data
    p = data["provider"]
    budget = data.get("budget") or {}
    provider = Provider(
        name=p["name"],
        model=p.get("model") or "gpt-3.5-turbo-instruct",
        base_url=None if p.get("embedded") else p.get("address"),
        embedded=bool(p.get("embedded")),
        quirks=tuple(p.get("quirks") or ()),
        budget=BudgetLimits(**{k: v for k, v in budget.items() if k in ("requests", "completion_tokens") and v}),
        expectations=expectations,
    )
    spend_raw = data.get("spend") or {}
    spend = Spend(
        requests=int(spend_raw.get("requests") or 0),
        prompt_tokens=int(spend_raw.get("prompt_tokens") or 0),
        completion_tokens=int(spend_raw.get("completion_tokens") or 0),
        retries=int(spend_raw.get("retries") or 0),
        refused=int(spend_raw.get("refused_by_budget") or 0),
    )
    run = ProviderRun(provider, exchanges=stored.exchanges(), spend=spend, skipped=data.get("skipped"))
    run.target = Target(base_url=p.get("address") or "", api_key=None, label=p.get("address") or "")
    run.probes_total = len(run.exchanges)
    return run


def rejudge(
    stored: StoredReport, catalogue: Catalogue, contract: Contract, expectations: Path | None = None
) -> Rejudged:
    """Grade the stored exchanges again. ``expectations`` defaults to the file the original run applied, if any."""
    original = stored.data
    if expectations is None and original["provider"].get("expectations"):
        candidate = Path(original["provider"]["expectations"])
        expectations = candidate if candidate.exists() else None
    run = run_from_report(stored, expectations)
    run.verdicts = judge_run(run, catalogue, contract, load_expectations(run.provider.expectations))
    report = build_report(run, catalogue)
    # the run itself (when, how long, what it spent, where) is the original's
    for key in ("started", "finished", "duration_s", "spend", "budget", "latency"):
        report[key] = original.get(key, report[key])
    kept = {k: v for k, v in original["provider"].items() if k != "expectations"}
    report["provider"] = {**report["provider"], **kept}
    report["provider"]["expectations"] = str(expectations) if expectations else None
    before = {v["check"]: v["grade"] for v in original.get("verdicts") or []}
    after = {v["check"]: v["grade"] for v in report["verdicts"]}
    changed = [
        {"check": c, "before": before.get(c), "after": after.get(c)}
        for c in [*after, *(c for c in before if c not in after)]
        if before.get(c) != after.get(c)
    ]
    report["rejudged"] = {
        "at": _iso(time.time()),
        "from": str(stored.path),
        "original_suite": original.get("suite"),
        "original_score": (original.get("score") or {}).get("overall"),
        "original_rejudged": original.get("rejudged"),
        "changed": changed,
    }
    return Rejudged(report, changed, expectations)
