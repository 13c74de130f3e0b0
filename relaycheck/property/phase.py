"""The property phase: send the generated cases through the provider's client and record them as exchanges.

Exchanges are stored under ``property-example-<i>``, ``property-positive-<i>`` and ``property-negative-<i>`` (on
chat, the same ids with the endpoint's prefix: ``chat-property-positive-<i>``), next to the hand-written probes,
so the report holds them and ``relaycheck rejudge`` grades them offline. One more entry, ``property-plan``
(``chat-property-plan``), is not a request (``not_sent`` says so): its body is the plan as JSON (seed, counts,
what generation dropped and why, what each case breaks), which is how the checks know the seed, or why the phase
did not run.

The cases come from the run's :class:`~relaycheck.property.cases.CaseCache`: drawn once for every provider that
asks for the same ones, and drawn ahead (:func:`prefetch`) while the provider's probes are in flight.
"""

from __future__ import annotations

import asyncio

from relaycheck.endpoint import Endpoint
from relaycheck.property.cases import CaseCache, CaseKey
from relaycheck.property.generate import CHAT_OPERATION_ID, OPERATION_ID, Case, Generated
from relaycheck.property.plan import PropertyPlan, plan_probe, probe_id
from relaycheck.transport.client import Outgoing, ProviderClient
from relaycheck.transport.exchange import Exchange


def _tools() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("schemathesis", "hypothesis"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out


OPERATIONS = {Endpoint.COMPLETIONS: OPERATION_ID, Endpoint.CHAT: CHAT_OPERATION_ID}  # what each endpoint draws


def _order(generated: Generated, endpoint: Endpoint) -> list[tuple[str, Case]]:
    """Examples first, then positive and negative alternately: when the budget runs short, each kind got some."""
    out = [(probe_id("example", i, endpoint), c) for i, c in enumerate(generated.examples)]
    for i in range(max(len(generated.positive), len(generated.negative))):
        if i < len(generated.positive):
            out.append((probe_id("positive", i, endpoint), generated.positive[i]))
        if i < len(generated.negative):
            out.append((probe_id("negative", i, endpoint), generated.negative[i]))
    return out


def case_key(model: str, examples: int, seed: int, endpoint: Endpoint = Endpoint.COMPLETIONS) -> CaseKey:
    return CaseKey.for_phase(model, examples, seed, operation_id=OPERATIONS[endpoint])


def prefetch(cases: CaseCache, model: str, examples: int, seed: int,
             endpoint: Endpoint = Endpoint.COMPLETIONS) -> None:
    """Start drawing the cases :func:`record_property_phase` will ask ``cases`` for (none when it sends none)."""
    if examples > 0:
        cases.start(case_key(model, examples, seed, endpoint))


async def record_property_phase(
    client: ProviderClient, model: str, examples: int, seed: int, cases: CaseCache | None = None,
    endpoint: Endpoint = Endpoint.COMPLETIONS,
) -> dict[str, Exchange]:
    """Send ``endpoint``'s generated cases (each request reserving in ``client.budget``) and record; exchanges by
    probe id. ``model`` is the one the provider sells there.

    ``cases`` is the run's cache (a provider certified alone may leave it out and draw its own).
    """
    plan = PropertyPlan(seed=seed, examples=examples, tools=_tools())
    url = client.url_for(endpoint.path)
    plan_id = plan_probe(endpoint)
    if examples <= 0:
        plan.not_run = "property_examples is 0"
        return {plan_id: plan.to_exchange(url, endpoint)}
    try:
        generated = await (cases or CaseCache()).cases(case_key(model, examples, seed, endpoint))
    except Exception as exc:  # a harness fault: graded `error`, never a crash of the whole run
        plan.error = f"generation failed: {exc.__class__.__name__}: {exc}"
        return {plan_id: plan.to_exchange(url, endpoint)}
    plan.positive, plan.negative = len(generated.positive), len(generated.negative)
    plan.document_examples, plan.dropped = len(generated.examples), dict(generated.skipped)
    ordered = _order(generated, endpoint)
    plan.why = {probe: case.why for probe, case in ordered}
    exchanges: dict[str, Exchange] = {plan_id: plan.to_exchange(url, endpoint)}

    async def send(probe: str, case: Case) -> None:
        exchanges[probe] = await client.send(Outgoing(probe, case.body, "valid", max(1, case.worst_case_tokens),
                                                      path=endpoint.path))

    # Tasks start in this order, and each reserves its budget before its first await: the order above holds.
    await asyncio.gather(*(send(probe, case) for probe, case in ordered))
    return {plan_id: exchanges.pop(plan_id), **{p: exchanges[p] for p, _ in ordered}}
