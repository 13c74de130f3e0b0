"""Generated cases, drawn once per run and shared by every provider that asks for the same ones.

Drawing is the expensive part of the property phase (schemathesis builds its strategies from the contract, then
Hypothesis draws); sending is a handful of cheap requests. The cases are a pure function of a :class:`CaseKey`
(and the package versions), so providers with equal keys (the same model, seed and counts) get the very same
cases from one drawing, and a run's generation work grows with its contracts, not with its providers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from relaycheck.endpoint import Endpoint
from relaycheck.property.generate import OPERATION_ID, RULES, Generated, generate_cases, rules_for
from relaycheck.property.plan import split
from relaycheck.spec.contract import contract_path


@dataclass(frozen=True)
class CaseKey:
    """Everything one set of generated cases depends on, besides the package versions."""

    document: Path  # the OpenAPI document, resolved
    operation_id: str  # e.g. createCompletion
    seed: int
    positive: int
    negative: int
    model: str  # the clamps write it into every body
    document_examples: bool = True  # also the request examples the document carries

    @classmethod
    def for_phase(cls, model: str, examples: int, seed: int, *, document_examples: bool = True,
                  document: Path | None = None, operation_id: str = OPERATION_ID) -> CaseKey:
        """The key of a phase asked for ``examples`` generated cases (``Provider.property_examples``)."""
        positive, negative = split(examples)
        endpoint = rules_for(operation_id).endpoint if operation_id in RULES else None
        path = Path(document or contract_path(endpoint or Endpoint.COMPLETIONS)).resolve()
        return cls(path, operation_id, seed, positive, negative, model, document_examples)

    def generate(self) -> Generated:
        return generate_cases(self.seed, self.positive, self.negative, self.model, examples=self.document_examples,
                              document=self.document, operation_id=self.operation_id)


class CaseCache:
    """One run's generated cases, by key; each key is drawn once, in a worker thread, by whoever asks first, and
    whoever asks next waits for that drawing. Belongs to one event loop (one ``certify`` call). A drawing that
    fails fails alike for every provider that waits for it.

    :meth:`start` begins a drawing without waiting for it: the engine calls it before a provider's probes, so the
    cases are drawn while the probes wait on the network. The drawing is CPU-bound Python, and while it holds
    the GIL each wake-up of the event loop waits for it (up to the 5 ms switch interval), so the probes in
    flight meanwhile take a little longer, and measure a little slower, for about a second; at 400 ms latency
    that costs less than drawing after them (bench/property_bench.py measured 5.5 to 6.3 s against 6.3 to 7.3 s,
    the probes' median time to first byte within 50 ms)."""

    def __init__(self) -> None:
        self._drawings: dict[CaseKey, asyncio.Future[Generated]] = {}

    @property
    def keys(self) -> tuple[CaseKey, ...]:
        """The keys drawn (or being drawn) so far, in the order they were first asked for."""
        return tuple(self._drawings)

    def start(self, key: CaseKey) -> None:
        if key not in self._drawings:
            drawing = asyncio.ensure_future(asyncio.to_thread(key.generate))
            drawing.add_done_callback(_seen)
            self._drawings[key] = drawing

    async def cases(self, key: CaseKey) -> Generated:
        """``key``'s cases, shared: the caller must not change them. A waiter that is cancelled (its provider's
        run deadline) leaves the drawing running for the others."""
        self.start(key)
        return await asyncio.shield(self._drawings[key])


def _seen(drawing: asyncio.Future[Generated]) -> None:
    """A drawing nobody waits for (its provider went down before its phase, or every waiter was cancelled) must
    not be logged as an error never retrieved: its failure is reported to whoever does wait."""
    if not drawing.cancelled():
        drawing.exception()
