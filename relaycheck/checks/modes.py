"""One semantic check, judged twice: on a non-streamed probe and on its streamed twin.

A parameter that works without ``stream`` and is lost with it is a deviation relays really have (LiteLLM drops
streamed logprobs, TGI ignored stop in streams). So each semantic check is written once, as a function of the
recordings and the probes it reads, and :func:`twin` turns it into two catalogued checks: ``params.NAME`` on the
plain probes and ``stream.NAME`` on their streamed twins (``stream-…`` probes, see the probe catalogue). The
function reads answers through :meth:`Recorded.answers`, which gives the same per-choice view of a JSON body and
of an assembled event stream, so the two checks cannot drift apart.

A streamed twin refused with a clean 4xx while its plain twin succeeded is not ``unsupported``: the provider does
the feature and refuses it only when streaming, which the official definition does not allow (only best_of
"cannot be streamed"). That is graded as the failure it is. Refused in both modes, the feature is unsupported once,
by the plain check; the streamed one is skipped. The streamed check reads the plain twins too, so a narrow run
sends them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from relaycheck.checks.model import Check, Fail, Level, Outcome, Recorded, Refused, Skip, check, is_clean_refusal

PLAIN = "params"
STREAM = "stream"
Semantic = Callable[[Recorded, tuple[str, ...]], Outcome]


@dataclass(frozen=True)
class Twins:
    plain: Check  # params.NAME, reading the plain probes
    streamed: Check  # stream.NAME, reading the streamed twins


def twin(
    name: str,
    *,
    title: str,
    clause: str,
    level: Level,
    plain: tuple[str, ...],
    streamed: tuple[str, ...],
    fails_on: tuple[str | tuple[str, ...], ...],
    fails_streamed_on: tuple[str | tuple[str, ...], ...],
    deviations: tuple[str, ...] = (),
    seeds: str = "",
    refusable: bool = False,
    plain_id: str | None = None,
    streamed_id: str | None = None,
    feature: str | None = None,
) -> Callable[[Semantic], Twins]:
    """Declare a semantic check in both modes. ``plain`` and ``streamed`` list the probes, position by position
    twins (a probe both modes share, such as the temperature-0 baseline, appears in both at the same place).

    ``feature`` puts both halves in one feature of their own (``chat.logprobs.NAME`` and
    ``chat.logprobs.stream-NAME``) instead of ``params.NAME`` and ``stream.NAME``."""
    assert len(plain) == len(streamed), "twin probes go in pairs"

    def wrap(func: Semantic) -> Twins:
        @functools.wraps(func)  # the catalogue's revision hashes the semantic function's source
        def judge_plain(r: Recorded) -> Outcome:
            return func(r, plain)

        @functools.wraps(func)
        def judge_streamed(r: Recorded) -> Outcome:
            try:
                return func(r, streamed)
            except Refused as refused:
                raise refused_only_streamed(r, refused, dict(zip(streamed, plain, strict=True))) from None

        common = {"title": title, "clause": clause, "level": level, "seeds": seeds, "deviations": deviations,
                  "refusable": refusable}
        plain_feature, streamed_feature = (feature, feature) if feature else (PLAIN, STREAM)
        streamed_name = f"stream-{name}" if feature else name
        return Twins(
            check(plain_id or f"{plain_feature}.{name}", feature=plain_feature, probes=plain, fails_on=fails_on,
                  **common)(judge_plain),  # type: ignore[arg-type]
            check(streamed_id or f"{streamed_feature}.{streamed_name}", feature=streamed_feature,
                  probes=tuple(dict.fromkeys((*streamed, *plain))), fails_on=fails_streamed_on,
                  **{**common, "title": f"{title} (streamed)"})(judge_streamed),  # type: ignore[arg-type]
        )

    return wrap


def refused_only_streamed(r: Recorded, refused: Refused, plain_of: dict[str, str]) -> Refused | Fail | Skip:
    """A streamed probe's refusal: a failure when its plain twin was served, skipped when that was refused too (the
    plain check grades the feature `unsupported` once), else the refusal as it came."""
    plain = plain_of.get(refused.probe)
    ex = r.exchanges.get(plain) if plain and plain != refused.probe else None
    if ex is None or ex.not_sent:
        return refused
    if is_clean_refusal(ex):
        return Skip(f"'{refused.probe}' was refused as '{plain}' was without stream: graded once, on '{plain}'")
    if not ex.succeeded:
        return refused
    return Fail(
        "refused only when streamed: the same request without stream was served",
        expected=f"HTTP 200, as for '{plain}'",
        observed=f"HTTP {refused.status}: {refused.message}",
        probe=refused.probe,
    )
