"""The property phase: send the generated cases through the provider's client and record them as exchanges.

Exchanges are stored under ``property-example-<i>``, ``property-positive-<i>`` and ``property-negative-<i>``, next
to the hand-written probes, so the report holds them and ``relaycheck rejudge`` grades them offline. One more
entry, ``property-plan``, is not a request (``not_sent`` says so): its body is the plan as JSON (seed, counts,
what generation dropped and why, what each case breaks), which is how the checks know the seed, or why the phase
did not run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from relaycheck.property.generate import Case, Generated, generate_cases
from relaycheck.transport.client import Outgoing, ProviderClient
from relaycheck.transport.exchange import Exchange, RecordedRequest

if TYPE_CHECKING:
    from relaycheck.config.providers import Provider
    from relaycheck.runner.engine import Target
    from relaycheck.transport.budget import Budget

PLAN_PROBE = "property-plan"
PLAN_NOTE = "plan of the property phase, not a request"
NOT_RUN = "property phase not run: "
DEFAULT_SEED = 20240618
SEED_ENV = "RELAYCHECK_PROPERTY_SEED"
KINDS = ("example", "positive", "negative")


def probe_id(kind: str, index: int) -> str:
    return f"property-{kind}-{index}"


def parse_probe_id(probe: str) -> tuple[str, int] | None:
    """``("positive", 3)`` for ``property-positive-3``; None for anything else (the plan included)."""
    parts = probe.split("-")
    if len(parts) == 3 and parts[0] == "property" and parts[1] in KINDS and parts[2].isdigit():
        return parts[1], int(parts[2])
    return None


def default_seed(environ: Mapping[str, str] | None = None) -> int:
    """``$RELAYCHECK_PROPERTY_SEED`` when set (to replay a run), else a fixed seed: reports stay comparable."""
    raw = (os.environ if environ is None else environ).get(SEED_ENV, "").strip()
    return int(raw) if raw.lstrip("-").isdigit() else DEFAULT_SEED


def split(examples: int) -> tuple[int, int]:
    """How many of ``examples`` generated cases are positive and negative (the document's examples come on top)."""
    return (examples + 1) // 2, examples // 2


@dataclass
class PropertyPlan:
    seed: int
    examples: int  # generated cases asked for (Provider.property_examples)
    positive: int = 0
    negative: int = 0
    document_examples: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # generation: reason -> count
    why: dict[str, str] = field(default_factory=dict)  # probe id -> what the case is / breaks
    not_run: str | None = None  # why the phase sent nothing on purpose
    error: str | None = None  # the harness failed (generation raised)
    tools: dict[str, str] = field(default_factory=dict)

    def to_exchange(self, url: str) -> Exchange:
        reason = PLAN_NOTE if self.not_run is None else NOT_RUN + self.not_run
        body = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return Exchange(PLAN_PROBE, RecordedRequest("PLAN", url, {}, body), time.time(), not_sent=reason, attempts=0)

    @classmethod
    def from_exchange(cls, exchange: Exchange) -> PropertyPlan:
        raw = json.loads(exchange.request.body)
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def _tools() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("schemathesis", "hypothesis"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out


def _order(generated: Generated) -> list[tuple[str, Case]]:
    """Examples first, then positive and negative alternately: when the budget runs short, each kind got some."""
    out = [(probe_id("example", i), c) for i, c in enumerate(generated.examples)]
    for i in range(max(len(generated.positive), len(generated.negative))):
        if i < len(generated.positive):
            out.append((probe_id("positive", i), generated.positive[i]))
        if i < len(generated.negative):
            out.append((probe_id("negative", i), generated.negative[i]))
    return out


async def record_property_phase(
    client: ProviderClient, model: str, examples: int, seed: int, *, document_examples: bool = True
) -> dict[str, Exchange]:
    """Generate, send (each request reserving in ``client.budget``) and record; returns exchanges by probe id."""
    plan = PropertyPlan(seed=seed, examples=examples, tools=_tools())
    if examples <= 0:
        plan.not_run = "property_examples is 0"
        return {PLAN_PROBE: plan.to_exchange(client.url)}
    positive, negative = split(examples)
    try:
        generated = await asyncio.to_thread(
            generate_cases, seed, positive, negative, model, examples=document_examples, base_url=client.base_url
        )
    except Exception as exc:  # a harness fault: graded `error`, never a crash of the whole run
        plan.error = f"generation failed: {exc.__class__.__name__}: {exc}"
        return {PLAN_PROBE: plan.to_exchange(client.url)}
    plan.positive, plan.negative = len(generated.positive), len(generated.negative)
    plan.document_examples, plan.dropped = len(generated.examples), dict(generated.skipped)
    ordered = _order(generated)
    plan.why = {probe: case.why for probe, case in ordered}
    exchanges: dict[str, Exchange] = {PLAN_PROBE: plan.to_exchange(client.url)}

    async def send(probe: str, case: Case) -> None:
        exchanges[probe] = await client.send(Outgoing(probe, case.body, "valid", max(1, case.worst_case_tokens)))

    # Tasks start in this order, and each reserves its budget before its first await: the order above holds.
    await asyncio.gather(*(send(probe, case) for probe, case in ordered))
    return {PLAN_PROBE: exchanges.pop(PLAN_PROBE), **{p: exchanges[p] for p, _ in ordered}}


# -- standalone use ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One property check's verdict, with what reproduces it."""

    check: str
    grade: str
    message: str
    seed: int | None
    request: str | None = None  # the smallest failing request as a curl line, key redacted
    response: str | None = None
    probe: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_property_tests(
    provider: Provider,
    target: Target,
    budget: Budget,
    examples: int | None = None,
    seed: int | None = None,
    *,
    exchanges_out: dict[str, Exchange] | None = None,
) -> list[Finding]:
    """Run the property phase alone against ``target`` within ``budget`` and judge it with the property checks.

    ``examples`` defaults to ``provider.property_examples``, ``seed`` to :func:`default_seed`. The recorded
    exchanges are added to ``exchanges_out`` when given (e.g. a run's exchanges, for a report).
    """
    from relaycheck.checks import property as property_checks
    from relaycheck.checks.model import Recorded, judge
    from relaycheck.spec import load_contract

    seed = default_seed() if seed is None else seed
    count = provider.property_examples if examples is None else examples

    async def record() -> dict[str, Exchange]:
        async with ProviderClient.for_provider(provider, target.base_url, target.api_key, budget,
                                               headers=target.headers) as client:
            return await record_property_phase(client, provider.model, count, seed)

    recorded = asyncio.run(record())
    if exchanges_out is not None:
        exchanges_out.update(recorded)
    view = Recorded(recorded, load_contract(), provider.model)
    findings = []
    for check in property_checks.CHECKS:
        verdict = judge(check, view)
        probe = verdict.probes[0] if len(verdict.probes) == 1 else None
        failing = recorded.get(probe) if probe and verdict.grade.value in ("fail", "warn") else None
        findings.append(
            Finding(
                check=verdict.check,
                grade=verdict.grade.value,
                message=verdict.message,
                seed=seed,
                request=property_checks.curl(failing) if failing else None,
                response=property_checks.response_summary(failing) if failing else None,
                probe=probe,
            )
        )
    return findings
