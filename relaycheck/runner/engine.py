"""Certification: send every probe once per provider (concurrently, within its limits), then judge.

Recording and judging are separate steps: :func:`record_provider` talks to the network, :func:`judge_run` is pure
and is what ``relaycheck rejudge`` calls on stored exchanges.

A MUST check that fails (or cannot be judged) is not yet a failure: once everything is recorded, its probes are
re-sent once through the same client (same budget, same run deadline), stored as ``PROBE@rerun``, and the check
is judged on them; the verdict carries how it stood first (:class:`~relaycheck.checks.model.Rerun`). A failure
the rerun does not repeat is flaky, which ``diff`` keeps apart from a regression.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from relaycheck.checks.catalogue import Catalogue
from relaycheck.checks.model import (
    RERUN_SUFFIX,
    Check,
    Claim,
    Grade,
    Recorded,
    Rerun,
    Verdict,
    graded_after_rerun,
    judge,
    route_missing,
    unreliable_answer,
)
from relaycheck.config.providers import HeaderValue, Provider
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import (
    PROBES,
    PreconditionFailed,
    Probe,
    ProbeContext,
    probes_by_id,
)
from relaycheck.property.cases import CaseCache
from relaycheck.property.plan import case_kind, is_plan, parse_probe_id, plan_probe, worst_case_requests
from relaycheck.runner.expectations import Expectation, apply_expectations, load_expectations
from relaycheck.spec.contracts import Contracts
from relaycheck.transport.budget import Budget, Spend, overrun_bound, worst_case_tokens
from relaycheck.transport.client import MAX_RETRY_AFTER, MAX_RETRY_WAIT_TOTAL, Outgoing, ProviderClient
from relaycheck.transport.exchange import Exchange, RecordedRequest
from relaycheck.transport.redact import Redactor

ProgressFn = Callable[[str, "ProviderRun"], None]
# The probes to re-send, given what was recorded: those of the MUST checks that fail (judged with expectations)
RerunFn = Callable[[Mapping[str, Exchange]], Sequence[str]]


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str | None
    label: str  # what the report shows as the provider's address
    headers: tuple[HeaderValue, ...] = ()  # the provider's extra request headers, resolved

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a report: the key and the header values read from the environment."""
        return tuple(s for s in (self.api_key, *(h.value for h in self.headers if h.secret)) if s)


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
    stopped: str | None = None  # why requests stopped being sent part-way (provider down, run deadline)
    fault: str | None = None  # relaycheck itself failed on this provider (one line): every verdict is an error

    @property
    def name(self) -> str:
        return self.provider.name

    def must_failures(self, catalogue: Catalogue) -> list[Verdict]:
        """MUST checks that failed, or that could not be judged: either way the provider is not certified."""
        return catalogue.blocking(self.verdicts)


# -- targets -----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def open_target(provider: Provider, environ: Mapping[str, str] | None = None) -> Iterator[Target | str]:
    """The address and key to certify, or a string saying why the provider is skipped.

    The embedded provider is started here on a free loopback port and stopped on exit.
    """
    headers = provider.header_values(environ)
    if isinstance(headers, str):
        yield headers
        return
    if provider.embedded:
        from relaycheck.server.config import ServerConfig
        from relaycheck.server.running import serve_in_thread

        context = provider.context_length or ServerConfig.context_length  # the window the provider states
        config = ServerConfig(quirks=frozenset(provider.quirks), context_length=context)
        with serve_in_thread(config) as server:
            quirks = f" with quirks {', '.join(provider.quirks)}" if provider.quirks else ""
            yield Target(server.base_url, config.api_key, f"embedded reference provider{quirks}", headers)
        return
    key = provider.api_key(environ)
    if not key:
        yield f"key not set: export {provider.api_key_env}=<your key> to certify {provider.name}"
        return
    assert provider.base_url is not None
    yield Target(provider.base_url, key, provider.base_url, headers)


# -- recording ---------------------------------------------------------------------------------------------------


async def record_provider(
    run: ProviderRun,
    target: Target,
    probes: Sequence[Probe] = PROBES,
    progress: ProgressFn | None = None,
    redactor: Redactor | None = None,
    property_phase: bool | Sequence[Endpoint] = False,
    property_seed: int | None = None,
    rerun: RerunFn | None = None,
    case_cache: CaseCache | None = None,
) -> None:
    """``case_cache`` holds the run's generated cases, shared by its providers (one of its own when left out).
    ``property_phase`` names the endpoints whose property phase runs (True: Completions')."""
    provider = run.provider
    run.spend.overrun_bound = overrun_bound(provider.concurrency, provider.limits.max_body_bytes)
    budget = Budget(provider.budget.requests, provider.budget.completion_tokens, spend=run.spend)
    run.target = target
    run.probes_total = len(probes)
    fuzzed_on = ((Endpoint.COMPLETIONS,) if property_phase is True else tuple(property_phase or ()))
    if fuzzed_on:
        from relaycheck.property import default_seed, prefetch

        seed = default_seed() if property_seed is None else property_seed
        case_cache = case_cache or CaseCache()
        for endpoint in fuzzed_on:  # drawn while the probes are in flight
            prefetch(case_cache, provider.settings(endpoint).model, provider.property_examples, seed, endpoint)
    async with ProviderClient.for_provider(provider, target.base_url, target.api_key, budget, redactor,
                                           target.headers) as client:
        done: dict[str, asyncio.Future[Exchange]] = {p.id: asyncio.get_running_loop().create_future() for p in probes}

        closed: dict[Endpoint, str] = {}  # endpoints found not served: nothing more is sent there

        async def one(probe: Probe) -> None:
            deps = {d: await done[d] for d in probe.depends_on if d in done}
            if probe.endpoint in closed:
                request = RecordedRequest(probe.method, client.url_for(probe.url_path), {}, "")
                exchange = Exchange.unsent(probe.id, request, closed[probe.endpoint])
            else:
                exchange = await _send_probe(client, provider, probe, deps)
            run.exchanges[probe.id] = exchange
            done[probe.id].set_result(exchange)
            if run.stopped is None and (why := client.stop_reason()):
                run.stopped = why
                if progress:
                    progress("stopped", run)
            if progress:
                progress("probe", run)

        async def all_probes() -> None:
            # The canary goes first and alone: if max_tokens is ignored, its cost raises the overrun factor
            # every later reservation is multiplied by, before a wave of requests can overspend.
            # One canary per endpoint, together: each endpoint's first answer also says whether it is served.
            firsts = [c for e in dict.fromkeys(p.endpoint for p in probes)
                      if (c := _canary([p for p in probes if p.endpoint is e])) is not None]
            await asyncio.gather(*(one(first) for first in firsts))
            for first in firsts:
                if why := route_missing(run.exchanges[first.id]):
                    closed[first.endpoint] = f"not served: {first.endpoint.route} answered {why}"
            await asyncio.gather(*(one(p) for p in probes if p not in firsts))

        try:  # a backstop only: the client's own run deadline has normally ended every request by then
            async with asyncio.timeout(provider.timeouts.run + RUN_GRACE):
                await all_probes()
        except TimeoutError:
            for probe in probes:
                if probe.id not in run.exchanges:
                    why = f"not recorded: the run deadline of {provider.timeouts.run:g}s passed"
                    run.exchanges[probe.id] = Exchange(probe.id, RecordedRequest("POST", client.url, {}, ""),
                                                       time.time(), transport_error=why, attempts=0)
        # Property cases go after the probes, through the same client: same bounds, same budget; not at all once
        # the provider is down or out of time (nothing could be sent).
        if fuzzed_on:
            from relaycheck.property import PropertyPlan, record_property_phase

            async def phase(endpoint: Endpoint) -> dict[str, Exchange]:
                if why := client.stop_reason() or closed.get(endpoint):
                    plan = PropertyPlan(seed=seed, examples=provider.property_examples, not_run=why)
                    return {plan_probe(endpoint): plan.to_exchange(client.url_for(endpoint.path), endpoint)}
                return await record_property_phase(client, provider.settings(endpoint).model,
                                                   provider.property_examples, seed, case_cache, endpoint)

            for fuzzed in await asyncio.gather(*(phase(e) for e in fuzzed_on)):
                run.probes_total += len(fuzzed)
                run.exchanges.update(fuzzed)
            if progress:
                progress("probe", run)
        if rerun is not None:
            failing = set(rerun(run.exchanges))  # once: it judges every check (was once per probe)
            cases = sorted(p for p in failing if parse_probe_id(p))
            await _rerun(run, client, [p for p in probes if p.id in failing], progress, cases)
    run.finished = time.time()


async def _rerun(
    run: ProviderRun, client: ProviderClient, probes: Sequence[Probe], progress: ProgressFn | None,
    cases: Sequence[str] = (),
) -> None:
    """Re-send ``probes`` once, as ``PROBE@rerun``, each with the dependencies first recorded; and the generated
    ``cases`` (``property-positive-3``), each with the very body it was first sent with.

    Nothing is sent once the provider is down or out of time (each stays as an unsent exchange, saying why), and
    every request reserves in the same budget as the first ones.
    """
    run.probes_total += len(probes) + len(cases)

    async def again(original: Probe | str) -> None:
        rerun_id = (original.id if isinstance(original, Probe) else original) + RERUN_SUFFIX
        if why := client.stop_reason():
            exchange = Exchange.unsent(rerun_id, RecordedRequest("POST", client.url, {}, ""), why)
        elif isinstance(original, Probe):
            deps = {d: run.exchanges[d] for d in original.depends_on if d in run.exchanges}
            exchange = replace(await _send_probe(client, run.provider, original, deps), probe=rerun_id)
        else:  # a generated case: the text first sent, as it was (a malformed case stays malformed)
            first = run.exchanges[original].request
            endpoint = Endpoint.of_probe(original)
            tokens = max(1, worst_case_tokens(first.json(), endpoint))
            exchange = await client.send(Outgoing(rerun_id, first.body, "valid", tokens, path=endpoint.path))
        run.exchanges[rerun_id] = exchange
        if progress:
            progress("probe", run)

    await asyncio.gather(*(again(p) for p in [*probes, *cases]))


# max_tokens 4 with logprobs: the tokens returned show whether max_tokens is honoured (chat's: the same idea)
CANARIES = ("logprobs", "chat-logprobs")


def _canary(probes: Sequence[Probe]) -> Probe | None:
    """The probe of one endpoint sent before all others: the max_tokens canary if selected, else the first without
    dependencies (any exchange that costs more than its max_tokens raises the overrun factor)."""
    free = [p for p in probes if not p.depends_on]
    return next((p for p in free if p.id in CANARIES), free[0] if free else None)


async def _send_probe(client: ProviderClient, provider: Provider, probe: Probe, deps: dict[str, Exchange]) -> Exchange:
    sells = provider.settings(probe.endpoint)
    cheaper = sells.cheaper_models[0] if sells.cheaper_models else None
    try:
        body = probe.build(ProbeContext(sells.model, deps, cheaper, sells.context_length))
    except PreconditionFailed as why:
        return Exchange.unsent(probe.id, RecordedRequest("POST", client.url, {}, ""), f"precondition: {why}")
    if not probe.is_completion():  # no completion: nothing generated, nothing to reserve
        return await client.send(Outgoing(probe.id, body, probe.auth, 0, probe.method, probe.url_path))
    return await client.send(Outgoing(probe.id, body, probe.auth, worst_case_tokens(body, probe.endpoint),
                                      path=probe.url_path))


# -- the stated time bound -----------------------------------------------------------------------------------------

RUN_GRACE = 2.0  # after the run deadline: closing connections, the backstop above; judging is pure and quick


def worst_case_seconds(provider: Provider, probes: Sequence[Probe] = PROBES, property_requests: int = 0) -> float:
    """An upper bound, known before any request, on how long recording ``provider`` can take, whatever it does.

    Two bounds hold at once; the smaller is stated:

    - the run deadline: ``timeouts.run + RUN_GRACE``. Past ``timeouts.run`` the client sends nothing and cuts
      what is in flight, so this holds for every behaviour (also a provider that answers every request correctly
      but just inside ``timeouts.total``, which no breaker can tell from a slow healthy one);
    - the schedule: with A = min(requests × (1 + retries), budget.requests) attempts (every probe counted twice:
      once, and once more should a MUST check it serves fail) of at most ``timeouts.total``
      each on ``concurrency`` slots (greedy list scheduling: work / slots + the longest dependency chain), plus
      retry waits (at most ``MAX_RETRY_WAIT_TOTAL`` in all), plus rate-limit waits (A / rate_limit), plus the
      property phase, sent after the probes (each of its requests at most (1 + retries) attempts).

    A provider that is down costs far less: the breaker trips after ``DOWN_AFTER`` consecutive failures, checked
    once a request holds its slot, so about two waves of timeouts (2 × read timeout for one that never answers).
    """
    per_request = 1 + provider.retries
    # each probe at most twice: a failing MUST check's probes are re-sent once, after the rest
    attempts = (2 * len(probes) + property_requests) * per_request
    if provider.budget.requests is not None:
        attempts = min(attempts, provider.budget.requests)
    total = provider.timeouts.total
    waits = min(MAX_RETRY_WAIT_TOTAL, provider.retries * MAX_RETRY_AFTER * (len(probes) + property_requests))
    rate = attempts / provider.rate_limit if provider.rate_limit else 0.0
    schedule = (
        math.ceil(attempts / provider.concurrency) * total
        + _chain_depth(probes) * per_request * total
        + min(property_requests * per_request, attempts) * total
        + waits
        + rate
    )
    return min(schedule, provider.timeouts.run) + RUN_GRACE


def run_worst_case(providers: Sequence[Provider], catalogue: Catalogue) -> float:
    """The bound for a whole ``certify`` call: providers are recorded in parallel, so the largest one."""
    bounds = []
    for provider in providers:
        judged = provider_catalogue(provider, catalogue)
        fuzz = worst_case_requests(provider.property_examples) * len(_wants_property_phase(judged))
        bounds.append(worst_case_seconds(provider, _probes_for(judged), fuzz))
    return max(bounds, default=0.0)


def _chain_depth(probes: Sequence[Probe]) -> int:
    by_id = {p.id: p for p in probes}

    def depth(probe: Probe, seen: frozenset[str] = frozenset()) -> int:
        deps = [by_id[d] for d in probe.depends_on if d in by_id and d not in seen]
        return 1 + max((depth(d, seen | {probe.id}) for d in deps), default=0)

    return max((depth(p) for p in probes), default=0)


# -- judging ------------------------------------------------------------------------------------------------------


def judge_run(
    run: ProviderRun, catalogue: Catalogue, contracts: Contracts, expectations: Mapping[str, Expectation] | None
) -> list[Verdict]:
    """Grade a run's recordings against ``expectations`` ({} grades raw). Pure: reads nothing from disk.

    Only the checks of the endpoints the provider is certified on are judged. A blocking MUST check whose probes
    were re-sent (``PROBE@rerun``) is graded on those.
    """
    expectations = expectations or {}
    catalogue = provider_catalogue(run.provider, catalogue)
    if run.fault:
        return fault_verdicts(catalogue, run.fault)
    if run.skipped:
        return apply_expectations([Verdict(c.id, Grade.SKIPPED, run.skipped) for c in catalogue.checks], expectations)
    recorded = recorded_of(run.provider, run.exchanges, contracts)
    first = apply_expectations([judge(c, recorded) for c in catalogue.checks], expectations)
    blocking = {v.check for v in catalogue.blocking(first)}
    out = []
    for check, verdict in zip(catalogue.checks, first, strict=True):
        resent = [p + RERUN_SUFFIX for p in check.probes if p + RERUN_SUFFIX in run.exchanges]
        if any(map(is_plan, check.probes)):  # a property check reads the phase's cases: those re-sent replace theirs
            kinds = _case_kinds([verdict])
            resent += sorted(p for p in run.exchanges
                             if p.endswith(RERUN_SUFFIX) and _case_kind(p.removesuffix(RERUN_SUFFIX)) in kinds)
        if check.id in blocking and resent:
            verdict = _judged_again(check, verdict, resent, run, contracts, expectations)
        out.append(verdict)
    return out


def provider_catalogue(provider: Provider, catalogue: Catalogue) -> Catalogue:
    """The checks ``provider`` is judged on: those of the endpoints it is certified on."""
    return catalogue.for_endpoints(provider.endpoints)


def recorded_of(provider: Provider, exchanges: Mapping[str, Exchange], contracts: Contracts) -> Recorded:
    """The recordings seen from each endpoint the provider is certified on, with the model it claims there."""
    claims = {}
    for endpoint in provider.endpoints:
        sells = provider.settings(endpoint)
        claims[endpoint] = Claim(sells.model, sells.tokenizer, stated=not provider.discover_endpoints)
    return Recorded.of(exchanges, contracts, claims)


def _judged_again(check: Check, first: Verdict, resent: list[str], run: ProviderRun, contracts: Contracts,
                  expectations: Mapping[str, Expectation]) -> Verdict:
    """A failing MUST check judged on its re-sent probes; the first verdict stands if they could not be sent."""
    unsent = [run.exchanges[p].not_sent for p in resent if run.exchanges[p].not_sent]
    if unsent:
        return replace(first, rerun=Rerun(first.grade, first.message, tuple(resent), sent=False),
                       note=first.note or f"rerun not sent: {unsent[0]}")
    again = {p.removesuffix(RERUN_SUFFIX): run.exchanges[p] for p in resent}
    recorded = recorded_of(run.provider, {**run.exchanges, **again}, contracts)
    # a first attempt that got no answer of the endpoint (an HTML 504): a pass now is graded warn, flaky
    unreliable = next((why for p in again if (why := unreliable_answer(run.exchanges[p]))), None)
    (verdict,) = apply_expectations([graded_after_rerun(judge(check, recorded), unreliable)], expectations)
    note = verdict.note
    if note is None and verdict.grade is not first.grade:
        note = f"flaky: {first.grade.value} at first ({first.message}), {verdict.grade.value} when re-sent"
    elif note is None:
        note = f"{first.grade.value} again when its probes were re-sent"
    return replace(verdict, rerun=Rerun(first.grade, first.message, tuple(resent), unreliable=unreliable), note=note)


def _rerun_selector(catalogue: Catalogue, contracts: Contracts, provider: Provider,
                    expectations: Mapping[str, Expectation]) -> RerunFn:
    """Which probes to re-send: those of the MUST checks that block on what was recorded.

    A failing property check re-sends the generated cases of the kind it failed on (see :func:`_cases_to_resend`);
    probes never sent are not re-sent.
    """
    by_id = probes_by_id()

    def select(exchanges: Mapping[str, Exchange]) -> list[str]:
        recorded = recorded_of(provider, exchanges, contracts)
        verdicts = apply_expectations([judge(c, recorded) for c in catalogue.checks], expectations)
        blocking = catalogue.blocking(verdicts)
        failing = {v.check for v in blocking}
        wanted = {p for c in catalogue.checks if c.id in failing for p in c.probes}
        wanted |= _cases_to_resend(blocking, exchanges)
        return [p for p in wanted if (p in by_id or parse_probe_id(p)) and p in exchanges and not exchanges[p].not_sent]

    return select


def _cases_to_resend(failing: Sequence[Verdict], exchanges: Mapping[str, Exchange]) -> set[str]:
    """The generated cases a failing property check is judged on again: every case of the kind its failure names
    (its smallest failing case, ``property-negative-2``), so the check reads one fresh set of that kind, each
    case with its first body. A check that could not be judged at all names no case and re-sends none."""
    kinds = _case_kinds(failing)
    return {p for p in exchanges if _case_kind(p) in kinds}


def _case_kind(probe: str) -> tuple[Endpoint, str] | None:
    """``(COMPLETIONS, "positive")`` for the generated case ``property-positive-3``; None for anything else."""
    return case_kind(probe)


def _case_kinds(verdicts: Sequence[Verdict]) -> set[tuple[Endpoint, str]]:
    """The kinds of generated case the verdicts name as failing (a property check names its smallest failure)."""
    return {kind for v in verdicts for p in v.probes if (kind := _case_kind(p))}


def certify(
    providers: Sequence[Provider],
    catalogue: Catalogue,
    contracts: Contracts,
    progress: ProgressFn | None = None,
    environ: Mapping[str, str] | None = None,
    expectations: Mapping[str, Mapping[str, Expectation]] | None = None,
    property_seed: int | None = None,
) -> list[ProviderRun]:
    """Certify several providers in parallel, each within its own limits; one provider's trouble stays its own.

    ``expectations`` are by provider name (a provider missing from it is graded raw); without them, the file each
    provider's entry names is read. Either way they are read before any request is sent (a bad file must not cost
    a run) and handed to the pure judge.
    """
    if expectations is None:
        expectations = {p.name: load_expectations(p.expectations) for p in providers}
    expected = expectations
    runs = [ProviderRun(p) for p in providers]
    case_cache = CaseCache()  # the providers' generated cases: drawn once for all that ask for the same
    with contextlib.ExitStack() as stack:
        targets = [_enter_target(stack, run, environ) for run in runs]
        redactor = Redactor.for_keys(s for t in targets if isinstance(t, Target) for s in t.secrets)

        async def all_providers() -> None:
            tasks = []
            for run, target in zip(runs, targets, strict=True):
                if run.fault:
                    run.finished = time.time()
                    continue
                if isinstance(target, str):
                    run.skipped = target
                    run.finished = time.time()
                    if progress:
                        progress("skipped", run)
                    continue
                run.target = target
                if progress:
                    progress("start", run)
                judged = provider_catalogue(run.provider, catalogue)
                rerun = _rerun_selector(judged, contracts, run.provider, expected.get(run.name) or {})
                tasks.append(_isolated(run, record_provider(run, target, _probes_for(judged), progress, redactor,
                                                            property_phase=_wants_property_phase(judged),
                                                            property_seed=property_seed, rerun=rerun,
                                                            case_cache=case_cache)))
            await asyncio.gather(*tasks)

        asyncio.run(all_providers())
    for run in runs:
        try:
            run.verdicts = judge_run(run, catalogue, contracts, expected.get(run.name) or {})
        except Exception as exc:  # noqa: BLE001 - one provider's fault is its own: the others keep their verdicts
            run.fault = fault_reason("judging", exc)
            run.verdicts = fault_verdicts(provider_catalogue(run.provider, catalogue), run.fault)
        if progress:
            progress("done", run)
    return runs


# -- isolation ----------------------------------------------------------------------------------------------------
# A provider's bytes can trip a bug anywhere in relaycheck (a parser, a check, a writer). Whatever it is, it costs
# that provider its verdicts (each an error naming the fault in one line) and never another provider its report.


def fault_reason(stage: str, exc: BaseException) -> str:
    """One line: the stage and the exception, no traceback (what a user can act on, or quote in an issue)."""
    detail = " ".join(str(exc).split())
    detail = detail if len(detail) <= 200 else detail[:199] + "…"
    return f"relaycheck failed while {stage} this provider: {type(exc).__name__}" + (f": {detail}" if detail else "")


def fault_verdicts(catalogue: Catalogue, reason: str) -> list[Verdict]:
    return [Verdict(c.id, Grade.ERROR, reason) for c in catalogue.checks]


def _enter_target(stack: contextlib.ExitStack, run: ProviderRun, environ: Mapping[str, str] | None) -> Target | str:
    try:
        return stack.enter_context(open_target(run.provider, environ))
    except Exception as exc:  # noqa: BLE001 - e.g. the embedded server failing to start: this provider only
        run.fault = fault_reason("preparing", exc)
        return run.fault


async def _isolated(run: ProviderRun, recording: Coroutine[Any, Any, None]) -> None:
    try:
        await recording
    except Exception as exc:  # noqa: BLE001 - see above; CancelledError and KeyboardInterrupt still propagate
        run.fault = fault_reason("certifying", exc)
        run.finished = time.time()


def _wants_property_phase(catalogue: Catalogue) -> tuple[Endpoint, ...]:
    """The endpoints whose property phase a selected check reads (declared, like any probe, by the plan's id)."""
    wanted = {Endpoint.of_probe(p) for c in catalogue.checks for p in c.probes if is_plan(p)}
    return tuple(e for e in Endpoint if e in wanted)


def _probes_for(catalogue: Catalogue) -> list[Probe]:
    """Only the probes the selected checks read (and what those depend on): a narrow run spends less."""
    by_id = probes_by_id()
    wanted = {p for c in catalogue.checks for p in c.probes if p in by_id}  # the plan is not a hand-written probe
    frontier = list(wanted)
    while frontier:
        for dep in by_id[frontier.pop()].depends_on:
            if dep not in wanted:
                wanted.add(dep)
                frontier.append(dep)
    return [p for p in PROBES if p.id in wanted]
