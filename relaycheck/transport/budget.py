"""Spend accounting: requests and tokens per provider, with a hard ceiling.

Every request, hand-written probe, property test or retry alike, must first reserve its worst case here
(one request and ``max_tokens × choices`` completion tokens). A reservation that would pass the ceiling is
refused, so the ceiling holds even when every in-flight request spends its maximum. Settling afterwards
replaces the estimate with what the provider reported in ``usage``.

The lock is a threading lock because schemathesis sends from worker threads while probes run on an event loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reservation:
    requests: int
    completion_tokens: int
    retry: bool = False


@dataclass
class Spend:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    refused: int = 0  # requests not sent because the budget would have been passed

    def to_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "retries": self.retries,
            "refused_by_budget": self.refused,
        }


@dataclass
class Budget:
    max_requests: int | None = None
    max_completion_tokens: int | None = None
    spend: Spend = field(default_factory=Spend)
    _reserved_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, completion_tokens: int, retry: bool = False) -> Reservation | None:
        """Claim one request; ``None`` means the budget does not allow it and it must not be sent."""
        with self._lock:
            if self.max_requests is not None and self.spend.requests + 1 > self.max_requests:
                self.spend.refused += 1
                return None
            if (
                self.max_completion_tokens is not None
                and self.spend.completion_tokens + self._reserved_tokens + completion_tokens
                > self.max_completion_tokens
            ):
                self.spend.refused += 1
                return None
            self.spend.requests += 1
            self.spend.retries += int(retry)
            self._reserved_tokens += completion_tokens
            return Reservation(1, completion_tokens, retry)

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose request was not sent after all (the provider went down meanwhile)."""
        with self._lock:
            self._reserved_tokens -= reservation.completion_tokens
            self.spend.requests -= reservation.requests
            self.spend.retries -= int(reservation.retry)

    def settle(self, reservation: Reservation, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        """Replace the reservation by the spend the provider reported (the estimate when it reported none)."""
        with self._lock:
            self._reserved_tokens -= reservation.completion_tokens
            self.spend.prompt_tokens += max(0, prompt_tokens or 0)
            used = reservation.completion_tokens if completion_tokens is None else max(0, completion_tokens)
            self.spend.completion_tokens += used


# -- the worst case of one request -------------------------------------------------------------------------------

DEFAULT_MAX_TOKENS = 16  # CreateCompletionRequest.max_tokens: "Defaults to 16"
UNREADABLE_BODY_TOKENS = DEFAULT_MAX_TOKENS  # a body that is not a JSON object generates nothing when refused


def worst_case_tokens(body: object) -> int:
    """The most completion tokens a request may cost: max_tokens × candidates × prompts, with the spec's defaults.

    Candidates are the larger of ``n`` and ``best_of`` (best_of candidates are generated, and billed, server-side);
    a list of prompts multiplies everything, as each prompt gets its own choices.
    """
    if not isinstance(body, dict):
        return UNREADABLE_BODY_TOKENS
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        max_tokens = DEFAULT_MAX_TOKENS
    n = body.get("n") if isinstance(body.get("n"), int) else 1
    best_of = body.get("best_of") if isinstance(body.get("best_of"), int) else 1
    prompt = body.get("prompt")
    prompts = len(prompt) if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)) else 1
    return max(1, max_tokens) * max(1, n or 1, best_of or 1) * max(1, prompts)
