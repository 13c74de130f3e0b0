"""An incremental Server-Sent Events parser that keeps what a conformance check needs to see.

It follows the WHATWG event-stream rules (lines end in CRLF, LF or CR; ``:`` starts a comment; one optional
space after the colon is dropped; ``data`` lines accumulate; a blank line dispatches) so that every variation
the spec allows parses the same way. Unlike a client library it also keeps what a client would silently
ignore: lines whose field name is not one of the four SSE fields, and how many comment lines came by.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: the joined ``data`` lines and when the blank line that ended it arrived."""

    data: str
    at: float
    event: str | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"data": self.data, "at": round(self.at, 6), "event": self.event, "id": self.id}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> SSEEvent:
        return cls(
            data=str(raw["data"]),
            at=float(raw.get("at") or 0.0),  # type: ignore[arg-type]
            event=raw.get("event"),  # type: ignore[arg-type]
            id=raw.get("id"),  # type: ignore[arg-type]
        )


@dataclass
class SSEParser:
    """Feed bytes as they arrive with ``feed(chunk, at)``; read ``events``, ``stray_lines``, ``comments``."""

    events: list[SSEEvent] = field(default_factory=list)
    stray_lines: list[str] = field(default_factory=list)
    comments: int = 0
    _pending: bytes = b""
    _data: list[str] = field(default_factory=list)
    _event: str | None = None
    _id: str | None = None

    def feed(self, chunk: bytes, at: float) -> None:
        buffer = self._pending + chunk
        lines = buffer.splitlines(keepends=True)
        self._pending = b""
        # A trailing line without its end-of-line waits for the next chunk. A lone CR at the very end may be the
        # first half of a CRLF, so it waits too.
        if lines and (not lines[-1].endswith((b"\n", b"\r")) or lines[-1].endswith(b"\r")):
            self._pending = lines.pop()
        for line in lines:
            self._line(line.rstrip(b"\r\n").decode("utf-8", errors="replace"), at)

    def close(self, at: float) -> None:
        """End of stream: a final line without a newline still counts, an undispatched event does not (spec)."""
        if self._pending:
            pending, self._pending = self._pending, b""
            self._line(pending.rstrip(b"\r\n").decode("utf-8", errors="replace"), at)

    def _line(self, line: str, at: float) -> None:
        if line == "":
            self._dispatch(at)
            return
        if line.startswith(":"):
            self.comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "retry":
            pass
        else:
            self.stray_lines.append(line)

    def _dispatch(self, at: float) -> None:
        if self._data:
            self.events.append(SSEEvent(data="\n".join(self._data), at=at, event=self._event, id=self._id))
        self._data = []
        self._event = None


def parse_sse(body: bytes, at: float = 0.0) -> SSEParser:
    """Parse a whole recorded body at once (used when re-judging offline)."""
    parser = SSEParser()
    parser.feed(body, at)
    parser.close(at)
    return parser
