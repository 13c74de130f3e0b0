"""Certification: send every probe once per provider (concurrently, within its limits), then judge.

Recording and judging are separate steps: :func:`record_provider` talks to the network, :func:`judge_run` is pure
and is what ``relaycheck rejudge`` calls on stored exchanges.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from relaycheck import __version__
from relaycheck.checks.catalogue import Catalogue
from relaycheck.checks.model import Grade, Level, Recorded, Verdict, judge
from relaycheck.config.providers import Provider
from relaycheck.probes.catalogue import PROBES, PreconditionFailed, Probe, ProbeContext, worst_case_tokens
from relaycheck.runner.expectations import Expectation, apply_expectations, load_expectations
from relaycheck.spec import Contract
from relaycheck.transport.budget import Budget, Spend
from relaycheck.transport.client import Outgoing, ProviderClient
from relaycheck.transport.exchange import Exchange, RecordedRequest
from relaycheck.transport.redact import Redactor

ProgressFn = Callable[[str, "ProviderRun"], None]


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str | None
    label: str  # what the report shows as the provider's address


@dataclass
class ProviderRun:
    provider: Provider
    target: Target | None = None
    exchanges: dict[str, Exchange] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    spend: Spend = field(default_factory=Spend)
    skipped: str | None = None  # why the provider was not certified at all (e.g. its key is not set)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    probes_total: int = 0

    @property
    def name(self) -> str:
        return self.provider.name

    def must_failures(self, catalogue: Catalogue) -> list[Verdict]:
        """MUST checks that failed, or that could not be judged: either way the provider is not certified."""
        levels = {c.id: c.level for c in catalogue.checks}
        return [
            v for v in self.verdicts if v.grade in (Grade.FAIL, Grade.ERROR) and levels.get(v.check) is Level.MUST
        ]


# -- targets -----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def open_target(provider: Provider, environ: Mapping[str, str] | None = None) -> Iterator[Target | str]:
    """The address and key to certify, or a string saying why the provider is skipped.

    The embedded provider is started here on a free loopback port and stopped on exit.
    """
    if provider.embedded:
        from relaycheck.server.config import ServerConfig
        from relaycheck.server.running import serve_in_thread

        config = ServerConfig(quirks=frozenset(provider.quirks))
        with serve_in_thread(config) as server:
            quirks = f" with quirks {', '.join(provider.quirks)}" if provider.quirks else ""
            yield Target(server.base_url, config.api_key, f"embedded reference provider{quirks}")
        return
    key = provider.api_key(environ)
    if not key:
        yield f"key not set: export {provider.api_key_env}=<your key> to certify {provider.name}"
        return
    assert provider.base_url is not None
    yield Target(provider.base_url, key, provider.base_url)


# -- recording ---------------------------------------------------------------------------------------------------


async def record_provider(
    run: ProviderRun,
    target: Target,
    probes: Sequence[Probe] = PROBES,
    progress: ProgressFn | None = None,
    redactor: Redactor | None = None,
    property_phase: bool = False,
) -> None:
    provider = run.provider
    budget = Budget(provider.budget.requests, provider.budget.completion_tokens, spend=run.spend)
    run.target = target
    run.probes_total = len(probes)
    async with ProviderClient(
        target.base_url,
        target.api_key,
        timeouts=provider.timeouts,
        limits=provider.limits,
        budget=budget,
        concurrency=provider.concurrency,
        rate_limit=provider.rate_limit,
        retries=provider.retries,
        redactor=redactor,
    ) as client:
        done: dict[str, asyncio.Future[Exchange]] = {p.id: asyncio.get_running_loop().create_future() for p in probes}

        async def one(probe: Probe) -> None:
            deps = {d: await done[d] for d in probe.depends_on if d in done}
            exchange = await _send_probe(client, provider.model, probe, deps)
            run.exchanges[probe.id] = exchange
            done[probe.id].set_result(exchange)
            if progress:
                progress("probe", run)

        await asyncio.gather(*(one(p) for p in probes))
        # -- property phase (issue 5): schemathesis cases after the probes, same client and budget ----------------
        if property_phase:
            from relaycheck.property import default_seed, record_property_phase

            fuzzed = await record_property_phase(client, provider.model, provider.property_examples, default_seed())
            run.probes_total += len(fuzzed)
            run.exchanges.update(fuzzed)
            if progress:
                progress("probe", run)
        # -- end property phase --------------------------------------------------------------------------------
    run.finished = time.time()


async def _send_probe(client: ProviderClient, model: str, probe: Probe, deps: dict[str, Exchange]) -> Exchange:
    try:
        body = probe.build(ProbeContext(model, deps))
    except PreconditionFailed as why:
        request = RecordedRequest("POST", client.url, {}, "")
        reason = f"precondition: {why}"
        return Exchange(probe.id, request, time.time(), transport_error=f"not sent: {reason}", not_sent=reason,
                        attempts=0)
    return await client.send(Outgoing(probe.id, body, probe.auth, worst_case_tokens(body)))


# -- judging ------------------------------------------------------------------------------------------------------


def judge_run(
    run: ProviderRun, catalogue: Catalogue, contract: Contract, expectations: Mapping[str, Expectation] | None = None
) -> list[Verdict]:
    """Grade a run's recordings; ``expectations`` default to the provider's file ({} grades raw)."""
    if run.skipped:
        verdicts = [Verdict(c.id, Grade.SKIPPED, run.skipped) for c in catalogue.checks]
    else:
        recorded = Recorded(run.exchanges, contract, run.provider.model)
        verdicts = [judge(c, recorded) for c in catalogue.checks]
    if expectations is None:
        expectations = load_expectations(run.provider.expectations)
    return apply_expectations(verdicts, expectations)


def certify(
    providers: Sequence[Provider],
    catalogue: Catalogue,
    contract: Contract,
    progress: ProgressFn | None = None,
    environ: Mapping[str, str] | None = None,
    use_expectations: bool = True,
) -> list[ProviderRun]:
    """Certify several providers in parallel, each within its own limits; one provider's trouble stays its own.

    Expectations files are read before any request is sent (a bad file must not cost a run). With
    ``use_expectations=False`` (recording new expectations) verdicts are graded raw.
    """
    expected = {p.name: load_expectations(p.expectations) if use_expectations else {} for p in providers}
    needed = _probes_for(catalogue)
    runs = [ProviderRun(p) for p in providers]
    with contextlib.ExitStack() as stack:
        targets: list[Target | str] = [stack.enter_context(open_target(p, environ)) for p in providers]
        redactor = Redactor.for_keys(t.api_key for t in targets if isinstance(t, Target))

        async def all_providers() -> None:
            tasks = []
            for run, target in zip(runs, targets, strict=True):
                if isinstance(target, str):
                    run.skipped = target
                    run.finished = time.time()
                    if progress:
                        progress("skipped", run)
                    continue
                run.target = target
                if progress:
                    progress("start", run)
                tasks.append(record_provider(run, target, needed, progress, redactor,
                                             property_phase="property" in catalogue.features))  # issue 5
            await asyncio.gather(*tasks)

        asyncio.run(all_providers())
    for run in runs:
        run.verdicts = judge_run(run, catalogue, contract, expected[run.name])
        if progress:
            progress("done", run)
    return runs


def _probes_for(catalogue: Catalogue) -> list[Probe]:
    """Only the probes the selected checks read (and what those depend on): a narrow run spends less."""
    wanted = {p for c in catalogue.checks for p in c.probes}
    by_id = {p.id: p for p in PROBES}
    frontier = list(wanted)
    while frontier:
        for dep in by_id[frontier.pop()].depends_on:
            if dep not in wanted:
                wanted.add(dep)
                frontier.append(dep)
    return [p for p in PROBES if p.id in wanted]


def suite_info(catalogue: Catalogue) -> dict[str, Any]:
    return {"version": __version__, "catalogue_revision": catalogue.revision, "checks": len(catalogue.checks)}
