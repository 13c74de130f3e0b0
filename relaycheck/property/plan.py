"""The property phase's shared vocabulary: its plan, its probe ids, its seed and what it may cost.

Read by the phase that records the cases (:mod:`relaycheck.property.phase`), by the checks that grade them
(:mod:`relaycheck.checks.property`) and by the engine's time bound; it imports nothing of theirs, so none of them
depends on another through it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from relaycheck.endpoint import Endpoint
from relaycheck.transport.exchange import Exchange, RecordedRequest

PLAN_PROBE = "property-plan"  # Completions'; each endpoint's is its own (chat's: chat-property-plan)
PLAN_NOTE = "plan of the property phase, not a request"
NOT_RUN = "property phase not run: "
DEFAULT_SEED = 20240618
SEED_ENV = "RELAYCHECK_PROPERTY_SEED"
KINDS = ("example", "positive", "negative")
# The document's own request examples sent at most: each is a request on top of ``property_examples``.
MAX_DOCUMENT_EXAMPLES = 8


def plan_probe(endpoint: Endpoint = Endpoint.COMPLETIONS) -> str:
    """The plan's id on ``endpoint``: ``property-plan``, chat's ``chat-property-plan``."""
    return endpoint.probe_id(PLAN_PROBE)


def is_plan(probe: str) -> bool:
    """Whether ``probe`` is the plan of some endpoint's phase."""
    return probe == plan_probe(Endpoint.of_probe(probe))


def probe_id(kind: str, index: int, endpoint: Endpoint = Endpoint.COMPLETIONS) -> str:
    return endpoint.probe_id(f"property-{kind}-{index}")


def parse_probe_id(probe: str) -> tuple[str, int] | None:
    """``("positive", 3)`` for ``property-positive-3`` (and chat's ``chat-property-positive-3``); None for anything
    else (the plan included)."""
    parts = probe.removeprefix(Endpoint.of_probe(probe).probe_prefix).split("-")
    if len(parts) == 3 and parts[0] == "property" and parts[1] in KINDS and parts[2].isdigit():
        return parts[1], int(parts[2])
    return None


def case_kind(probe: str) -> tuple[Endpoint, str] | None:
    """The endpoint and kind of a generated case (``(CHAT, "negative")`` for ``chat-property-negative-2``)."""
    parsed = parse_probe_id(probe)
    return (Endpoint.of_probe(probe), parsed[0]) if parsed else None


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

    def to_exchange(self, url: str, endpoint: Endpoint = Endpoint.COMPLETIONS) -> Exchange:
        reason = PLAN_NOTE if self.not_run is None else NOT_RUN + self.not_run
        body = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return Exchange.unsent(plan_probe(endpoint), RecordedRequest("PLAN", url, {}, body), reason)

    @classmethod
    def from_exchange(cls, exchange: Exchange) -> PropertyPlan:
        raw = json.loads(exchange.request.body)
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


def worst_case_requests(examples: int) -> int:
    """The most requests one endpoint's phase sends for ``property_examples = examples``: the generated cases (split
    between positive and negative) plus the document's examples, which generation caps at
    :data:`MAX_DOCUMENT_EXAMPLES`. A provider certified on both endpoints runs the phase on each."""
    return max(0, examples) + MAX_DOCUMENT_EXAMPLES if examples > 0 else 0
