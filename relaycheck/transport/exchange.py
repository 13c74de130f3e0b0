"""A recorded request/response pair: everything a check may look at, and nothing secret.

Exchanges are the unit the whole design turns on: the runner records one per probe, checks read them, reports
store them, and ``relaycheck rejudge`` grades stored ones again without sending a request.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from relaycheck.transport import safejson
from relaycheck.transport.sse import SSEEvent

DONE = "[DONE]"
STORED_WHEN_TRUNCATED = 64 * 1024  # bytes of a truncated body kept in reports
STORED_EVENTS_WHEN_TRUNCATED = 200


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]  # already redacted
    body: str  # the exact text sent (malformed-JSON probes send text that is not JSON)

    def json(self) -> Any:
        return safejson.parse(self.body)


@dataclass(frozen=True)
class Timing:
    """Client-side timings in seconds from the moment the request was handed to the connection."""

    headers: float | None = None  # response headers received (time to first byte)
    first_token: float | None = None  # first SSE event carrying non-empty text
    total: float | None = None  # body complete (or given up on)
    chunk_gaps: tuple[float, ...] = ()  # between consecutive data events

    def to_dict(self) -> dict[str, Any]:
        return {
            "headers": _round(self.headers),
            "first_token": _round(self.first_token),
            "total": _round(self.total),
            "chunk_gaps": [round(g, 6) for g in self.chunk_gaps],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Timing:
        return cls(raw.get("headers"), raw.get("first_token"), raw.get("total"), tuple(raw.get("chunk_gaps") or ()))


@dataclass(frozen=True)
class Exchange:
    probe: str
    request: RecordedRequest
    started_at: float  # wall-clock Unix time the request was sent (for `created` checks)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    events: tuple[SSEEvent, ...] = ()
    stray_lines: tuple[str, ...] = ()
    sse_comments: int = 0
    timing: Timing = field(default_factory=Timing)
    transport_error: str | None = None  # set when no complete response was had: timeout, reset, too large…
    truncated: bool = False  # the body or stream went past a configured bound and was cut
    attempts: int = 1  # 1 + retries after 429/5xx
    not_sent: str | None = None  # why the request never left (budget exhausted, provider down)

    @classmethod
    def unsent(cls, probe: str, request: RecordedRequest, reason: str) -> Exchange:
        """The one form of a request that never left (budget, precondition, a plan that is not a request)."""
        return cls(probe, request, time.time(), not_sent=reason, attempts=0)

    # -- what checks ask -------------------------------------------------------------------------------------

    @property
    def succeeded(self) -> bool:
        """A complete HTTP 200 answer: the one kind of answer a check may read values from."""
        return self.status == 200 and not self.transport_error and not self.truncated and not self.not_sent

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @cached_property
    def parsed(self) -> tuple[bool, Any]:
        """(True, value) when the whole body is one JSON document, else (False, None); bounded in depth."""
        try:
            return True, safejson.loads(self.body)
        except ValueError:
            return False, None

    @cached_property
    def too_deep(self) -> bool:
        """The body or a stream event is JSON nested past the bound: relaycheck does not judge it (spec-allowed
        extra fields may nest, so it is not a failure either)."""
        # a stream's body is SSE, not JSON: only its events are parsed (brackets in its other lines are text)
        texts = [e.data for e in self.events] if self.events else [self.body.decode("utf-8", errors="replace")]
        return any(safejson.depth(t) > safejson.MAX_DEPTH for t in texts if t.count("[") + t.count("{") >
                   safejson.MAX_DEPTH)

    def json(self) -> Any:
        return self.parsed[1]

    @property
    def is_json(self) -> bool:
        return self.parsed[0]

    @cached_property
    def chunks(self) -> tuple[Any, ...]:
        """Parsed JSON of every data event before ``[DONE]``; a non-JSON payload appears as ``None``."""
        out: list[Any] = []
        for event in self.events:
            if event.data == DONE:
                break
            out.append(safejson.parse(event.data))
        return tuple(out)

    # -- storage ---------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        # A body cut at the size bound is graded inconclusive whatever it holds; its head is evidence enough, and
        # storing megabytes of a hostile provider's flood would only bloat the report.
        raw, events = self.body, self.events
        if self.truncated:
            raw, events = raw[:STORED_WHEN_TRUNCATED], events[:STORED_EVENTS_WHEN_TRUNCATED]
        try:
            body: dict[str, str] = {"text": raw.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"base64": base64.b64encode(raw).decode("ascii")}
        return {
            "probe": self.probe,
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": self.request.headers,
                "body": self.request.body,
            },
            "started_at": self.started_at,
            "status": self.status,
            "headers": self.headers,
            "body": body,
            "events": [e.to_dict() for e in events],
            "stray_lines": list(self.stray_lines),
            "sse_comments": self.sse_comments,
            "timing": self.timing.to_dict(),
            "transport_error": self.transport_error,
            "truncated": self.truncated,
            "attempts": self.attempts,
            "not_sent": self.not_sent,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Exchange:
        body_raw = raw.get("body") or {}
        body = (
            base64.b64decode(body_raw["base64"])
            if "base64" in body_raw
            else str(body_raw.get("text", "")).encode("utf-8")
        )
        req = raw["request"]
        return cls(
            probe=raw["probe"],
            request=RecordedRequest(req["method"], req["url"], dict(req["headers"]), req["body"]),
            started_at=float(raw["started_at"]),
            status=raw.get("status"),
            headers=dict(raw.get("headers") or {}),
            body=body,
            events=tuple(SSEEvent.from_dict(e) for e in raw.get("events") or ()),
            stray_lines=tuple(raw.get("stray_lines") or ()),
            sse_comments=int(raw.get("sse_comments") or 0),
            timing=Timing.from_dict(raw.get("timing") or {}),
            transport_error=raw.get("transport_error"),
            truncated=bool(raw.get("truncated")),
            attempts=int(raw.get("attempts") if raw.get("attempts") is not None else 1),
            not_sent=raw.get("not_sent"),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
