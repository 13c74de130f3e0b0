"""Keeping API keys out of everything relaycheck writes: one :class:`Redactor`, used by the recorder and every writer.

Redaction happens on values, never on built output: a recording is redacted as it is stored (the body, the stream
events, the headers), and a report is redacted as a value (``relaycheck.report.document.redacted``) before any
writer serialises or truncates it. Replacing a key inside already-built XML or HTML would put the mask's ``<`` raw
into the markup; cutting a message before redacting it would leave a key minus its last characters.

A key is found in every form a provider may echo it in, not only verbatim:

- escaped character by character, in any mix: URL percent-escapes (``quote``, ``quote_plus``), JSON escapes
  (``\\/``, ``\\u00XX``, with any number of backslashes: JSON inside JSON), HTML character references;
- base64, standard and URL-safe, at each of the three byte alignments, so a key inside a longer base64 string (an
  ``Authorization: Basic`` value, a base64 body) is found: the characters that depend only on the key's bytes are
  masked, leaving at most three characters on each side, which say at most two bytes of it;
- split across stream chunks (or logprobs tokens): the pieces are joined in order, the joined text is searched,
  and each piece loses the part of the key it held (:meth:`Redactor.pieces`), so no output reassembles it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from relaycheck.transport import safejson
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.sse import SSEEvent

MASK = "<redacted>"
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"})
MIN_SECRET = 8  # very short "keys" would turn ordinary words into masks; real keys are long, test keys are ≥ 8


def _char_forms(char: str) -> str:
    """A regex alternation for one character of a key, in every escaped form a provider may write it in."""
    code = ord(char)
    forms = [re.escape(char)]
    utf8 = char.encode("utf-8")
    forms.append("".join(f"%{b:02x}" for b in utf8))  # the regex is case-insensitive: %2d and %2D
    if char == " ":
        forms.append(r"\+")  # quote_plus
    if code < 0x10000:
        forms.append(rf"\\+u{code:04x}")  # JSON \u002d, and \\u002d for JSON inside JSON
    if char in "/\"\\":
        forms.append(r"\\+" + re.escape(char))  # JSON \/ and friends
    forms.append(rf"&#0*{code};|&#x0*{code:x};")  # HTML character references
    return "(?:" + "|".join(forms) + ")"


def _base64_cores(secret: bytes) -> list[str]:
    """The base64 text that depends only on ``secret``'s bytes, at the three alignments, standard and URL-safe."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret + b"\0\0").decode("ascii")
        total = offset + len(secret)
        start = (0, 2, 3)[offset]  # the first characters mix the preceding bytes' bits in
        end = 4 * (total // 3) + (0, 1, 2)[total % 3]  # and the last ones the following bytes'
        core = encoded[start:end]
        if len(core) >= MIN_SECRET:
            cores += [core, core.replace("+", "-").replace("/", "_")]
    return list(dict.fromkeys(cores))


@dataclass(frozen=True)
class Redactor:
    secrets: tuple[str, ...] = ()

    @classmethod
    def for_keys(cls, keys: Iterable[str | None]) -> Redactor:
        return cls(tuple(sorted({k for k in keys if k and len(k) >= MIN_SECRET}, key=len, reverse=True)))

    def __add__(self, other: Redactor) -> Redactor:
        return Redactor.for_keys((*self.secrets, *other.secrets))

    # -- patterns --------------------------------------------------------------------------------------------

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        """One regex for every form of every secret (longest first, so a key containing another is masked whole)."""
        if not self.secrets:
            return None
        forms: list[str] = []
        for secret in self.secrets:
            forms.append("".join(_char_forms(c) for c in secret))
            raw = secret.encode("utf-8")
            forms += [re.escape(core) for core in _base64_cores(raw)]
            if not secret.isascii():  # its UTF-8 bytes read as Latin-1: how bytes() sees it
                forms.append(re.escape(raw.decode("latin-1")))
        return re.compile("|".join(forms), re.IGNORECASE)

    @cached_property
    def _literals(self) -> tuple[str, ...]:
        """Lower-cased literal forms: a text holding none of them, and no escape character, holds no secret (a
        form escaped in any character contains ``%``, ``\\``, ``&#`` or ``+``): the regex pass is skipped."""
        out = []
        for secret in self.secrets:
            out.append(secret.lower())
            out += [core.lower() for core in _base64_cores(secret.encode("utf-8"))]
            if not secret.isascii():
                out.append(secret.encode("utf-8").decode("latin-1").lower())
        return tuple(out)

    def _may_hold(self, value: str) -> bool:
        if "%" in value or "\\" in value or "&#" in value or "+" in value:
            return True
        low = value.lower()
        return any(literal in low for literal in self._literals)

    # -- values ----------------------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        pattern = self._pattern
        if pattern is None or not value or not self._may_hold(value):
            return value
        return pattern.sub(MASK, value)

    def found(self, value: str) -> bool:
        pattern = self._pattern
        return pattern is not None and self._may_hold(value) and pattern.search(value) is not None

    def bytes(self, data: bytes) -> bytes:
        """Bytes that may not be text (a body stored base64): searched byte for byte, as Latin-1."""
        if self._pattern is None or not data:
            return data
        return self.text(data.decode("latin-1")).encode("latin-1")

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {k: (MASK if k.lower() in SECRET_HEADERS else self.text(v)) for k, v in headers.items()}

    def pieces(self, parts: Sequence[str]) -> list[str]:
        """``parts`` (stream chunks' texts, in order) with every secret their concatenation holds removed: the
        first piece a match touches carries the mask, the others lose their share of the key."""
        joined = "".join(parts)
        pattern = self._pattern
        if pattern is None or not self._may_hold(joined):
            return list(parts)
        if len(parts) < 2:
            return [self.text(p) for p in parts]
        matches = [m.span() for m in pattern.finditer(joined)]
        if not matches:
            return list(parts)
        out, start = [], 0
        for part in parts:
            end = start + len(part)
            kept, cursor = [], start
            for a, b in matches:
                if b <= start or a >= end:
                    continue
                kept.append(joined[cursor:max(a, start)])
                if a >= start:
                    kept.append(MASK)
                cursor = min(b, end)
            kept.append(joined[cursor:end])
            out.append(self.text("".join(kept)))
            start = end
        return out

    def tree(self, value: Any) -> Any:
        """A parsed JSON value with every string (keys too) redacted, and every list of strings as pieces."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self._member(k, v) for k, v in value.items()}
        if isinstance(value, list):
            if len(value) > 1 and all(isinstance(v, str) for v in value):
                return self.pieces(value)
            return [self.tree(v) for v in value]
        return value

    def _member(self, key: Any, value: Any) -> Any:
        if key == "base64" and isinstance(value, str):  # a stored body that is not UTF-8: redact its bytes
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                return self.text(value)
            return base64.b64encode(self.bytes(raw)).decode("ascii")
        return self.tree(value)

    # -- recordings and reports ------------------------------------------------------------------------------

    def events(self, events: Sequence[SSEEvent]) -> list[SSEEvent]:
        """Stream events with every secret removed, also one split across chunks (per choice: texts, tokens)."""
        if self._pattern is None:
            return list(events)
        parsed = [safejson.parse(e.data) for e in events]
        slots: dict[tuple[str, Any], list[tuple[Callable[[], str], Callable[[str], None]]]] = {}
        for chunk in parsed:
            for choice in _choices(chunk):
                index = choice.get("index")
                if isinstance(choice.get("text"), str):
                    slots.setdefault(("text", index), []).append(_slot(choice, "text"))
                tokens = (choice.get("logprobs") or {}).get("tokens") if isinstance(choice.get("logprobs"), dict) \
                    else None
                if isinstance(tokens, list):
                    slots.setdefault(("tokens", index), []).extend(
                        _slot(tokens, i) for i, t in enumerate(tokens) if isinstance(t, str))
        changed = False
        for group in slots.values():
            before = [get() for get, _ in group]
            after = self.pieces(before)
            for (_, put), old, new in zip(group, before, after, strict=True):
                if old != new:
                    put(new)
                    changed = True
        out = []
        for event, chunk in zip(events, parsed, strict=True):
            data = _dumps(chunk) if changed and chunk is not None and _touched(event.data, chunk) else event.data
            out.append(replace(event, data=self.text(data)))
        return out

    def stream(self, body: bytes, events: Sequence[SSEEvent]) -> tuple[bytes, list[SSEEvent]]:
        """A response body and the events parsed from it, redacted alike (the raw stream holds the same chunks)."""
        redacted = self.events(events)
        body = self.bytes(body)
        for old, new in zip(events, redacted, strict=True):
            if old.data != new.data:
                body = body.replace(old.data.encode("utf-8"), new.data.encode("utf-8"))
        return body, redacted

    def exchange(self, exchange: Exchange) -> Exchange:
        body, events = self.stream(exchange.body, exchange.events)
        stored = replace(exchange, events=tuple(events), body=body).to_dict()
        stored_body = stored.pop("body")
        stored = self.tree({k: v for k, v in stored.items() if k != "events"})
        stored["events"] = [e.to_dict() for e in events]
        stored["body"] = self.tree(stored_body)
        stored["request"]["headers"] = self.headers(stored["request"]["headers"])
        return Exchange.from_dict(stored)


def _choices(chunk: Any) -> list[dict[str, Any]]:
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list):
        return []
    return [c for c in chunk["choices"] if isinstance(c, dict)]


def _slot(container: Any, key: Any) -> tuple[Callable[[], str], Callable[[str], None]]:
    def get() -> str:
        return container[key]

    def put(value: str) -> None:
        container[key] = value

    return get, put


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _touched(data: str, chunk: Any) -> bool:
    return safejson.parse(data) != chunk
