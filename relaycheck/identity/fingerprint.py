"""A model's fingerprint, read from probes a certification sends, and the rule that says "same model or not".

The fingerprint of a report is, for a fixed set of prompts, the temperature-0 answer and the first token's top
logprobs. It costs the identity probes (``identity-fp-*``, logprobs 5, a few tokens each) plus answers other checks
already asked for (``basic``, ``greedy``, ``logprobs``). Nothing is stored apart from the exchanges: any report
that keeps its exchanges has its fingerprint, old ones included.

Each endpoint has its own: Chat Completions' is read the same way from its probes (``chat-identity-fp-*``, fixed
one-message conversations at temperature 0 with ``top_logprobs: 5``, plus ``chat-logprobs``, ``chat-basic`` and
``chat-greedy``), its first token's alternatives from ``logprobs.content[0].top_logprobs``, its prompt the
conversation. The two are never mixed (another model answers each endpoint), and the rule below is the same.

The rule, after logprob tracking (Chauvin et al., arXiv 2512.03816: first-token logprobs, compared statistically,
not exactly, because they wobble between calls) and Model Equality Testing (Gao et al., arXiv 2410.20247: two
samples, a distance, a threshold whose false-alarm rate is measured):

- per prompt, two distances between the two first-token distributions: the total variation (TV) over the union of
  both top-k lists (a token missing from one list counts as probability 0 there), and the *logprob gap*, the
  largest difference between the two sides' logprobs of one token (a token listed on one side only is compared
  with the other side's last listed logprob, which it would have beaten). The gap sees what TV cannot: under
  another model a peaked distribution keeps its top token, and its TV stays small, while its lesser tokens move by
  nats; logprob jitter moves them by a small fraction of one (at most 0.31 in 200 faithful pairs at σ 0.05);
- a prompt differs *strongly* above ``TV_STRONG`` or ``LOGPROB_STRONG``, and *weakly* (it *moved*) above
  ``TV_WEAK`` or ``LOGPROB_MOVED``;
- two fingerprints come from *different models* when one prompt differs strongly or ``MIN_DIFFERING`` weakly.
  One weak difference is tolerated: logprobs jitter between calls.
- Temperature-0 answers decide only when fewer than three prompts have logprobs on both sides (a provider
  without logprobs): then ``MIN_DIFFERING`` answers differing in their first ``TEXT_PREFIX`` characters. With
  logprobs they are shown, not counted: temperature 0 is not perfectly deterministic, and an answer can flip where
  the distribution did not move.

Once the rule says "different models", *how many* prompts moved tells a partly routed night from a full swap (a
gateway that sends a share of the requests to another deployment under the same name, docs/deviations.md D86,
against one that sends them all, D47): ``SWAP_SHARE`` or more of the compared prompts moved reads as a swap, fewer
as partial routing. Measured on the reference provider (``bench/identity_bench.py``): a full swap to another model
moves 7 to 9 of the 9 prompts with logprobs, partial routing about the share it routes. The count is a reading; the
rule alone decides "different models", and so ``diff``'s exit code.

``bench/identity_bench.py`` measures the false alarms of this rule between faithful providers with logprob jitter
and temperature-0 divergence, and its detection of substitution.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relaycheck.endpoint import ENDPOINTS, Endpoint
from relaycheck.probes.chat import FINGERPRINT_PROMPTS as CHAT_PROMPTS
from relaycheck.report.model import Report
from relaycheck.transport.exchange import Exchange

# probe -> what it contributes: the identity probes give both; the others are reused as they are.
FINGERPRINT_PROBES = (*(f"identity-fp-{i}" for i in range(1, 9)), "logprobs", "basic", "greedy")
CHAT_FINGERPRINT_PROBES = (*(f"chat-identity-fp-{i}" for i in range(1, len(CHAT_PROMPTS) + 1)), "chat-logprobs",
                           "chat-basic", "chat-greedy")
TV_WEAK = 0.1  # a prompt differs weakly (it moved): it takes two of them
TV_STRONG = 0.25  # a prompt differs strongly: one is enough
LOGPROB_MOVED = 0.5  # nats: a first-token logprob gap past this, the prompt moved (weakly)
LOGPROB_STRONG = 1.0  # nats: past this, strongly (an e-fold change in one token's probability)
TEXT_PREFIX = 12
MIN_DIFFERING = 2
SWAP_SHARE = 0.75  # this share of the compared prompts moved (or more) reads as a swap, less as partial routing
SHOWN_MOVED = 4  # prompts whose distances a change line shows


@dataclass(frozen=True)
class PromptPrint:
    probe: str
    prompt: str
    text: str | None  # the temperature-0 answer
    top: dict[str, float] | None  # the first token's top logprobs (label -> logprob)


@dataclass(frozen=True)
class Fingerprint:
    model: str
    prints: dict[str, PromptPrint]  # by probe id

    def __bool__(self) -> bool:
        return bool(self.prints)


@dataclass(frozen=True)
class PromptDifference:
    probe: str
    distance: float | None  # TV of the first-token distributions, when both sides have logprobs
    texts_differ: bool | None  # the temperature-0 answers' first characters differ (None: not both known)
    shown: str
    gap: float | None = None  # the largest first-token logprob difference, when both sides have logprobs

    @property
    def strong(self) -> bool:
        return self.distance is not None and (self.distance > TV_STRONG or (self.gap or 0.0) > LOGPROB_STRONG)

    @property
    def weak(self) -> bool:
        """The first-token distributions moved past the jitter the rule tolerates (both sides have logprobs)."""
        return self.distance is not None and (self.distance > TV_WEAK or (self.gap or 0.0) > LOGPROB_MOVED)


@dataclass(frozen=True)
class Match:
    """The rule's answer for two fingerprints, with the evidence behind it."""

    same: bool | None  # None: too few prompts in common to say
    prompts: tuple[PromptDifference, ...]
    basis: str  # "logprobs" or "answers"

    @property
    def differing(self) -> list[PromptDifference]:
        """The prompts that moved: answered, by the rule, by another model than the other side's."""
        if self.basis == "logprobs":
            return [p for p in self.prompts if p.weak]
        return [p for p in self.prompts if p.texts_differ]

    @property
    def compared(self) -> list[PromptDifference]:
        """The prompts the rule's basis compares: those with logprobs on both sides, or with both answers."""
        if self.basis == "logprobs":
            return [p for p in self.prompts if p.distance is not None]
        return [p for p in self.prompts if p.texts_differ is not None]

    def reading(self) -> str:
        """What "different models" looks like, plainly: how many prompts moved, a swap or partial routing."""
        if self.same is not False:
            return ""
        k, n = len(self.differing), len(self.compared)
        if k >= SWAP_SHARE * n:
            share = f"all {n}" if k == n else f"{k} of {n}"
            return f"{share} prompts answered by a different model: all moved, the model behind the name was swapped"
        return (f"{k} of {n} prompts answered by a different model, {n - k} as before: partial routing (a share of "
                f"the requests, about {k / n:.0%} or more, goes to another model), or a substitute that answers the "
                "other prompts alike")

    def evidence(self) -> str:
        """What the rule counted, and the rule itself."""
        if self.basis == "logprobs":
            strong = sum(p.strong for p in self.prompts)
            return (f"first-token distributions of {len(self.differing)} of {len(self.compared)} prompts with "
                    f"logprobs differ (TV > {TV_WEAK} or a logprob gap > {LOGPROB_MOVED}), {strong} strongly "
                    f"(TV > {TV_STRONG} or gap > {LOGPROB_STRONG}); rule: 1 strong or {MIN_DIFFERING} weak")
        return (f"temperature-0 answers to {len(self.differing)} of {len(self.prompts)} prompts differ (no logprobs "
                f"to compare); rule: {MIN_DIFFERING} or more")

    def summary(self) -> str:
        if self.same is None:
            return f"not enough prompts in common ({len(self.prompts)}) to tell"
        verdict = "same model" if self.same else f"different models ({self.reading()})"
        return f"{verdict}: {self.evidence()}"


def _first_choice(body: Any) -> dict[str, Any] | None:
    try:
        choice = body["choices"][0]
    except (TypeError, KeyError, IndexError):
        return None
    return choice if isinstance(choice, dict) else None


def fingerprint_probes(endpoint: Endpoint) -> tuple[str, ...]:
    return CHAT_FINGERPRINT_PROBES if endpoint is Endpoint.CHAT else FINGERPRINT_PROBES


def _first_alternatives(logprobs: Any) -> Any:
    """The first position's alternatives: a legacy ``top_logprobs[0]`` mapping, or chat's
    ``content[0].top_logprobs`` list of ``{token, logprob}`` as a mapping (the first of a repeated token kept)."""
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list):
        first = content[0] if content and isinstance(content[0], dict) else {}
        tops = first.get("top_logprobs")
        items = [t for t in tops if isinstance(t, dict) and isinstance(t.get("token"), str)] if isinstance(
            tops, list) else []
        return {t["token"]: t.get("logprob") for t in reversed(items)}
    tops = logprobs.get("top_logprobs")
    return tops[0] if isinstance(tops, list) and tops else None


def _top(choice: Mapping[str, Any]) -> dict[str, float] | None:
    first = _first_alternatives(choice.get("logprobs"))
    if not isinstance(first, dict) or not first:
        return None
    values = {k: float(v) for k, v in first.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return values if values and all(math.isfinite(v) and v <= 1e-6 for v in values.values()) else None


def _prompt_of(request: Any) -> str:
    """What was asked: the Completions prompt, or the chat conversation (as canonical JSON)."""
    if isinstance(request, dict) and "messages" in request:
        return json.dumps(request.get("messages"), sort_keys=True, ensure_ascii=False)
    return str(request.get("prompt") if isinstance(request, dict) else None)


def _answer_text(choice: Mapping[str, Any]) -> str | None:
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else choice.get("text")
    return text if isinstance(text, str) else None


def fingerprint_from_bodies(bodies: Mapping[str, tuple[Any, Any]], model: str,
                            endpoint: Endpoint = Endpoint.COMPLETIONS) -> Fingerprint:
    """From (request JSON, response JSON or None) per probe id (the endpoint's fingerprint probes)."""
    prints: dict[str, PromptPrint] = {}
    for probe in fingerprint_probes(endpoint):
        request, response = bodies.get(probe, (None, None))
        choice = _first_choice(response)
        if choice is None:
            continue
        prints[probe] = PromptPrint(probe, _prompt_of(request), _answer_text(choice), _top(choice))
    return Fingerprint(model, prints)


def fingerprint_of(exchanges: Mapping[str, Exchange], model: str,
                   endpoint: Endpoint = Endpoint.COMPLETIONS) -> Fingerprint:
    """From a run's (or a stored report's) recorded exchanges: only successful answers count."""
    wanted = fingerprint_probes(endpoint)
    bodies = {
        probe: (ex.request.json(), ex.json())
        for probe, ex in exchanges.items()
        if probe in wanted and ex.status == 200 and not ex.not_sent and not ex.transport_error
    }
    return fingerprint_from_bodies(bodies, model, endpoint)


def total_variation(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Half the L1 distance of the two (truncated) first-token distributions over the union of their tokens."""
    return 0.5 * sum(abs(math.exp(a.get(t, -math.inf)) - math.exp(b.get(t, -math.inf))) for t in set(a) | set(b))


def logprob_gap(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """The largest difference between the two sides' first-token logprobs. A token listed on one side only is at
    least as far from the other side as it is above that side's last listed logprob (it would have been listed)."""
    def far(t: str) -> float:
        if t in a and t in b:
            return abs(a[t] - b[t])
        mine, other = (a, b) if t in a else (b, a)
        return max(0.0, mine[t] - min(other.values()))

    return max((far(t) for t in set(a) | set(b)), default=0.0)


def _compare_prompt(a: PromptPrint, b: PromptPrint) -> PromptDifference | None:
    texts = None if a.text is None or b.text is None else a.text[:TEXT_PREFIX] != b.text[:TEXT_PREFIX]
    answers = f"answers {a.text and a.text[:TEXT_PREFIX]!r} vs {b.text and b.text[:TEXT_PREFIX]!r}"
    if a.top is not None and b.top is not None:
        tv = total_variation(a.top, b.top)
        best_a, best_b = max(a.top, key=a.top.__getitem__), max(b.top, key=b.top.__getitem__)
        gap = logprob_gap(a.top, b.top)
        return PromptDifference(a.probe, tv, texts, f"{a.probe}: first-token TV {tv:.2f}, logprob gap {gap:.2f} "
                                                    f"(top {best_a!r} vs {best_b!r}), {answers}", gap)
    if texts is None:
        return None
    return PromptDifference(a.probe, None, texts, f"{a.probe}: {answers}")


def match(a: Fingerprint, b: Fingerprint) -> Match:
    prompts = []
    for probe in a.prints:  # in probe order, as built; an endpoint's prints carry its own probe ids
        if probe in a.prints and probe in b.prints and a.prints[probe].prompt == b.prints[probe].prompt:
            diff = _compare_prompt(a.prints[probe], b.prints[probe])
            if diff is not None:
                prompts.append(diff)
    with_logprobs = [p for p in prompts if p.distance is not None]
    if len(with_logprobs) >= 3:
        weak = sum(p.weak for p in with_logprobs)
        different = any(p.strong for p in with_logprobs) or weak >= MIN_DIFFERING
        return Match(not different, tuple(prompts), "logprobs")
    answered = [p for p in prompts if p.texts_differ is not None]
    if len(answered) < 3:
        return Match(None, tuple(prompts), "answers")
    return Match(sum(bool(p.texts_differ) for p in answered) < MIN_DIFFERING, tuple(prompts), "answers")


def report_fingerprint(report: Report, endpoint: Endpoint = Endpoint.COMPLETIONS) -> Fingerprint:
    """The fingerprint of a report (built from a run or read back from disk) on one endpoint, from its recorded
    exchanges; empty when the report did not certify that endpoint (an old report has no chat)."""
    model = report.provider.model_on(endpoint)
    return fingerprint_of(report.by_probe, model, endpoint) if model else Fingerprint("", {})


def _on(endpoint: Endpoint, model: str) -> str:
    """How a line names the model: as before chat for Completions, with the endpoint for the others."""
    return model if endpoint is Endpoint.COMPLETIONS else f"{model} on {endpoint.title}"


@dataclass(frozen=True)
class ModelChange:
    """The same-model rule's "different models" for one provider's model on one endpoint against a trusted report
    of it: a regression for ``diff`` and ``compare --baseline`` (the model behind the name is not the one it was)."""

    provider: str
    against: str  # what it is matched against: "the baseline", "pinned baseline NAME"
    match: Match
    endpoint: Endpoint = Endpoint.COMPLETIONS

    @property
    def what(self) -> str:
        """The fingerprint's name in a line: ``model fingerprint``, ``Chat Completions model fingerprint``."""
        chat = self.endpoint is not Endpoint.COMPLETIONS
        return f"{self.endpoint.title} model fingerprint" if chat else "model fingerprint"

    @property
    def reading(self) -> str:
        return self.match.reading()

    def evidence(self) -> str:
        """The rule's count and the prompts that moved, each with its distances."""
        moved = self.match.differing
        more = f"; and {len(moved) - SHOWN_MOVED} more" if len(moved) > SHOWN_MOVED else ""
        return f"{self.match.evidence()}; moved: " + "; ".join(p.shown for p in moved[:SHOWN_MOVED]) + more

    def line(self) -> str:
        return f"{self.what} changed against {self.against}: {self.reading}. {self.evidence()}"


def model_change(baseline: Report, current: Report, endpoint: Endpoint = Endpoint.COMPLETIONS) -> ModelChange | None:
    """The change ``diff`` reports when the two reports' fingerprints on ``endpoint`` say different models; None
    when the rule says the same model or cannot tell, when another model was asked for (the diff says so already),
    or when the endpoint was not certified in both."""
    was, now = baseline.provider.model_on(endpoint), current.provider.model_on(endpoint)
    if not was or was != now:
        return None
    result = match(report_fingerprint(baseline, endpoint), report_fingerprint(current, endpoint))
    return ModelChange(current.provider.name, "the baseline", result, endpoint) if result.same is False else None


@dataclass(frozen=True)
class BaselineMatch:
    """One report claiming a pinned baseline's model on an endpoint, matched against it by the same-model rule."""

    provider: str
    baseline: str
    model: str
    match: Match
    endpoint: Endpoint = Endpoint.COMPLETIONS

    @property
    def change(self) -> ModelChange | None:
        against = f"pinned baseline {self.baseline}"
        return ModelChange(self.provider, against, self.match, self.endpoint) if self.match.same is False else None

    def line(self) -> str:
        flag = "⚑ " if self.match.same is False else ""
        return (f"{flag}{self.provider} vs pinned baseline {self.baseline} ({_on(self.endpoint, self.model)}): "
                f"{self.match.summary()}")


def baseline_matches(baseline: Report, reports: list[Report]) -> list[BaselineMatch]:
    """Every report claiming the pinned baseline's model on an endpoint (the baseline itself left out), matched
    against the baseline's fingerprint there."""
    found = []
    for endpoint in ENDPOINTS:
        pinned = report_fingerprint(baseline, endpoint)
        if not pinned:  # not certified there, or nothing of the fingerprint recorded: nothing to match against
            continue
        for report in reports:
            if report.provider.model_on(endpoint) != pinned.model or _same_run(report, baseline):
                continue
            found.append(BaselineMatch(report.provider.name, baseline.provider.name, pinned.model,
                                       match(pinned, report_fingerprint(report, endpoint)), endpoint))
    return found


CROSS_PROBES = ("identity-cross-1", "identity-cross-2", "identity-cross-3")  # identity-fp-1..3 under a cheaper name


def cross_match(exchanges: Mapping[str, Exchange], model: str, endpoint: Endpoint = Endpoint.COMPLETIONS) -> Match:
    """The claimed model against the cheaper model on the same provider, on the first three fingerprint prompts
    (``exchanges`` by full probe id, or an endpoint's view that finds them by their short names)."""
    claimed_probes = tuple(endpoint.probe_id(f"identity-fp-{i}") for i in range(1, len(CROSS_PROBES) + 1))

    def bodies(probes: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
        out = {}
        for probe, as_probe in zip(probes, claimed_probes, strict=True):
            ex = exchanges.get(probe)
            if ex is not None and ex.status == 200 and not ex.not_sent and not ex.transport_error:
                out[as_probe] = (ex.request.json(), ex.json())
        return out

    cross = tuple(endpoint.probe_id(p) for p in CROSS_PROBES)
    claimed = fingerprint_from_bodies(bodies(claimed_probes), model, endpoint)
    return match(claimed, fingerprint_from_bodies(bodies(cross), model, endpoint))


def _same_run(a: Report, b: Report) -> bool:
    """The baseline itself, passed among the reports (read twice from disk, so not the same object)."""
    return a.provider == b.provider and a.started == b.started and a.exchanges == b.exchanges
