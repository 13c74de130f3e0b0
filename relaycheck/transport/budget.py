"""Spend accounting: requests and tokens per provider, with a hard ceiling counted from what arrived.

Every request, hand-written probe, property test or retry alike, must first reserve its worst case here
(one request and ``max_tokens × choices`` completion tokens, times the overrun factor seen so far). A reservation
that would pass the ceiling is refused: once the ceiling is reached nothing more is sent.

Settling replaces the reservation by what the exchange cost, counted from what arrived: the larger of the
completion tokens the provider reported and the tokens relaycheck counted itself (:func:`delivered_tokens`). A
report that is missing, not a positive integer (zero, negative, a float, a string) never counts as free: the
reservation is charged instead (or the count, if larger), except for a complete non-2xx answer (a refusal
generates and bills nothing: only what it delivered counts). A provider over-reporting is charged what it reported:
that is what it bills.

Every settled exchange also says whether max_tokens was honoured: when it cost more than its ``max_tokens ×
choices``, the ratio becomes the overrun factor by which every later reservation is multiplied, so a provider that
ignores max_tokens stops being sent requests before the ceiling, not after. What can still pass the ceiling is
what the requests already in flight deliver beyond their reservations (see :func:`overrun_bound`).

The lock is a threading lock because schemathesis sends from worker threads while probes run on an event loop.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relaycheck.endpoint import Endpoint

# The count relaycheck makes itself is a lower bound, so that an honest provider is never charged more than it
# billed, nor its stream cut: per choice (of a body, or of each stream chunk) the tokens it lists in logprobs, at
# least one if it carries text, and one per BYTES_PER_TOKEN whole bytes of text. Real BPE tokenizers average about
# 4 bytes a token on English and tokens of 16 bytes or more are rare (long runs of spaces or dashes), so the byte
# count undercounts by about 4 times, never overcounts in practice, and a provider that delivers 500 tokens of
# text while reporting 1 is still charged about 125 of them, not 1 (all 500 if it lists them in logprobs).
BYTES_PER_TOKEN = 16


@dataclass(frozen=True)
class Reservation:
    requests: int
    completion_tokens: int  # reserved: base × the overrun factor at the time
    retry: bool = False
    base: int = 0  # the request's own worst case (max_tokens × choices), what max_tokens promises


@dataclass
class EndpointSpend:
    """What one endpoint's exchanges cost (settled: sent and answered, or failed): the report's spend per endpoint,
    so what certifying chat adds is stated, not estimated."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}

    @classmethod
    def from_dict(cls, raw: Any) -> EndpointSpend:
        raw = raw if isinstance(raw, dict) else {}
        return cls(*(int(raw.get(k) or 0) for k in ("requests", "prompt_tokens", "completion_tokens")))


@dataclass
class Spend:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    refused: int = 0  # requests not sent because the budget would have been passed
    overrun_factor: float = 1.0  # most completion tokens an exchange cost per token its max_tokens allowed
    streams_cut: int = 0  # streams cut off because they delivered more than their reservation
    overrun_bound: int | None = None  # tokens the ceiling may still be passed by (requests in flight)
    reported_completion_tokens: int = 0  # what the provider's usage said, summed (completion_tokens is the larger
    # of this and relaycheck's own count, per exchange)
    reserved_completion_tokens: int = 0  # the worst cases the sent requests reserved, summed
    by_endpoint: dict[Endpoint, EndpointSpend] = field(default_factory=dict)  # settled exchanges, by their probe's

    def tokens_text(self) -> str:
        """``79 completion tokens (reported 79, reserved 320)``: counted, what usage said, what was reserved."""
        return (f"{self.completion_tokens} completion tokens (reported {self.reported_completion_tokens}, "
                f"reserved {self.reserved_completion_tokens})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "retries": self.retries,
            "refused_by_budget": self.refused,
            "max_tokens_overrun_factor": round(self.overrun_factor, 2),
            "streams_cut": self.streams_cut,
            "overrun_bound_tokens": self.overrun_bound,
            "reported_completion_tokens": self.reported_completion_tokens,
            "reserved_completion_tokens": self.reserved_completion_tokens,
            "by_endpoint": {e.value: self.by_endpoint[e].to_dict() for e in Endpoint if e in self.by_endpoint},
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
            tokens = math.ceil(max(completion_tokens, 0) * self.spend.overrun_factor)
            if self.max_requests is not None and self.spend.requests + 1 > self.max_requests:
                self.spend.refused += 1
                return None
            if (
                self.max_completion_tokens is not None
                and self.spend.completion_tokens + self._reserved_tokens + tokens > self.max_completion_tokens
            ):
                self.spend.refused += 1
                return None
            self.spend.requests += 1
            self.spend.retries += int(retry)
            self._reserved_tokens += tokens
            return Reservation(1, tokens, retry, completion_tokens)

    def confirm(self, reservation: Reservation) -> Reservation | None:
        """Check a reservation again just before its request is sent (it may have waited for a slot while others
        spent): rescaled to the overrun factor seen since, and refused (released) if it no longer fits."""
        with self._lock:
            tokens = max(reservation.completion_tokens, math.ceil(reservation.base * self.spend.overrun_factor))
            others = self.spend.completion_tokens + self._reserved_tokens - reservation.completion_tokens
            if self.max_completion_tokens is not None and others + tokens > self.max_completion_tokens:
                self._reserved_tokens -= reservation.completion_tokens
                self.spend.requests -= reservation.requests
                self.spend.retries -= int(reservation.retry)
                self.spend.refused += 1
                return None
            self._reserved_tokens += tokens - reservation.completion_tokens
            return Reservation(reservation.requests, tokens, reservation.retry, reservation.base)

    @property
    def exhausted(self) -> bool:
        """The ceiling is reached: not even a one-token request fits any more."""
        with self._lock:
            tokens_out = (self.max_completion_tokens is not None
                          and self.spend.completion_tokens >= self.max_completion_tokens)
            requests_out = self.max_requests is not None and self.spend.requests >= self.max_requests
            return tokens_out or requests_out

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose request was not sent after all (the provider went down meanwhile)."""
        with self._lock:
            self._reserved_tokens -= reservation.completion_tokens
            self.spend.requests -= reservation.requests
            self.spend.retries -= int(reservation.retry)

    def settle(self, reservation: Reservation, prompt_tokens: Any, completion_tokens: Any, delivered: int = 0,
               stream_cut: bool = False, refused: bool = False,
               endpoint: Endpoint = Endpoint.COMPLETIONS) -> int:
        """Replace the reservation by what the exchange cost (see the module docstring); returns the charge.

        ``refused``: the provider answered in full with a non-2xx status. A refusal generates nothing and is not
        billed, so only what it reported or delivered counts; charging its reservation would make an honest
        provider's refusals (a tenth of the probes) look like most of its spend.
        """
        reported = _count(completion_tokens)
        fallback = 0 if refused else reservation.completion_tokens
        charged = max(reported, delivered) if reported > 0 else max(fallback, delivered)
        with self._lock:
            self._reserved_tokens -= reservation.completion_tokens
            self.spend.prompt_tokens += _count(prompt_tokens)
            self.spend.completion_tokens += charged
            self.spend.reported_completion_tokens += reported
            self.spend.reserved_completion_tokens += reservation.completion_tokens
            self.spend.streams_cut += int(stream_cut)
            tally = self.spend.by_endpoint.setdefault(endpoint, EndpointSpend())
            tally.requests += reservation.requests
            tally.prompt_tokens += _count(prompt_tokens)
            tally.completion_tokens += charged
            # Only a cost actually seen (reported or counted) says max_tokens was passed, not the fallback.
            seen = max(reported, delivered)
            if reservation.base > 0 and seen > reservation.base:
                self.spend.overrun_factor = max(self.spend.overrun_factor, seen / reservation.base)
        return charged


def _count(value: Any) -> int:
    """A reported token count: a non-negative int, else 0 (absent, negative, float, bool, string…)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def choice_tokens(choice: Any) -> int:
    """The lower-bound count of the completion tokens one choice (or one stream chunk's choice) carries.

    A Completions choice carries ``text`` and legacy logprobs ``tokens``; a chat choice its ``message`` (a stream
    chunk's: ``delta``) with content, refusal and tool calls' names and arguments, and logprobs ``content`` entries.
    """
    if not isinstance(choice, dict):
        return 0
    size = sum(len(piece.encode("utf-8", errors="surrogatepass")) for piece in _generated_strings(choice))
    logprobs = choice.get("logprobs")
    listed = None
    if isinstance(logprobs, dict):
        listed = logprobs.get("tokens") if "tokens" in logprobs else logprobs.get("content")
    return max(len(listed) if isinstance(listed, list) else 0, int(size > 0), size // BYTES_PER_TOKEN)


def _generated_strings(choice: dict[str, Any]) -> list[str]:
    """The strings a choice generated: its text, or its chat message's content, refusal and tool calls."""
    message = choice.get("message") if isinstance(choice.get("message"), dict) else choice.get("delta")
    if not isinstance(message, dict):
        return [choice["text"]] if isinstance(choice.get("text"), str) else []
    found = [message[key] for key in ("content", "refusal") if isinstance(message.get(key), str)]
    calls = message.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            found += [function[key] for key in ("name", "arguments") if isinstance(function.get(key), str)]
    return found


def delivered_tokens(payloads: Iterable[Any]) -> int:
    """Completion tokens counted in a response body, or in every chunk of a stream (summed)."""
    total = 0
    for payload in payloads:
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if isinstance(choices, list):
            total += sum(choice_tokens(c) for c in choices)
    return total


def overrun_bound(concurrency: int, max_body_bytes: int) -> int:
    """The most delivered tokens by which the counted spend can pass ``budget.completion_tokens``.

    Only requests already in flight when the ceiling is reached can pass it, at most ``concurrency`` of them, and
    none can deliver more than ``max_body_bytes`` (the body is cut there; a token is at least one byte). A stream
    is cut as soon as it passes its reservation, so in practice a stream adds at most one event. Reported usage
    above what was delivered is counted too (it ends the run sooner), but a provider can claim any number.
    """
    return concurrency * max_body_bytes


# -- the worst case of one request -------------------------------------------------------------------------------

DEFAULT_MAX_TOKENS = 16  # CreateCompletionRequest.max_tokens: "Defaults to 16"
UNREADABLE_BODY_TOKENS = DEFAULT_MAX_TOKENS  # a body that is not a JSON object generates nothing when refused
# Chat has no default cap (the model's own limit applies): a chat request without one reserves this. relaycheck's
# own chat requests always state a cap; this is for a generated or malformed case that states none.
CHAT_UNCAPPED_TOKENS = 4096


def worst_case_tokens(body: object, endpoint: Endpoint = Endpoint.COMPLETIONS) -> int:
    """The most completion tokens a request may cost: max_tokens × candidates × prompts, with the spec's defaults.

    Candidates are the larger of ``n`` and ``best_of`` (best_of candidates are generated, and billed, server-side);
    a list of prompts multiplies everything, as each prompt gets its own choices. A chat request's cap is the
    smaller of ``max_completion_tokens`` and ``max_tokens`` that it states (OpenAI honours either). A cap of 0
    reserves the default too: a relay that drops the zero on the way (D80) generates the upstream's default, which
    is then a drop to be judged (``params.max-tokens-zero``), not an overrun that would scale every later
    reservation.
    """
    if not isinstance(body, dict):
        return UNREADABLE_BODY_TOKENS
    if endpoint is Endpoint.CHAT:
        caps = [v for v in (body.get("max_completion_tokens"), body.get("max_tokens")) if _is_int(v)]
        max_tokens = min(caps) if caps else CHAT_UNCAPPED_TOKENS
    else:
        max_tokens = body.get("max_tokens")
    if not _is_int(max_tokens) or max_tokens == 0:
        max_tokens = DEFAULT_MAX_TOKENS
    n = body.get("n") if isinstance(body.get("n"), int) else 1
    best_of = body.get("best_of") if isinstance(body.get("best_of"), int) else 1
    prompt = body.get("prompt")
    prompts = len(prompt) if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)) else 1
    return max(1, max_tokens) * max(1, n or 1, best_of or 1) * max(1, prompts)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
