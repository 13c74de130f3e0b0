"""Keeping API keys out of everything relaycheck writes.

Redaction happens twice on purpose: request headers are recorded already redacted, and every text a report
writer emits passes through :class:`Redactor` as a last line of defence (a key echoed back in a provider's
error message, e.g. "Incorrect API key provided: sk-…", must not land in a report either).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MASK = "<redacted>"
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"})


@dataclass(frozen=True)
class Redactor:
    secrets: tuple[str, ...] = ()

    @classmethod
    def for_keys(cls, keys: Iterable[str | None]) -> Redactor:
        # Very short "keys" would turn ordinary words into masks; real keys are long, test keys are ≥ 8 chars.
        return cls(tuple(sorted({k for k in keys if k and len(k) >= 8}, key=len, reverse=True)))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {k: (MASK if k.lower() in SECRET_HEADERS else self.text(v)) for k, v in headers.items()}

    def __add__(self, other: Redactor) -> Redactor:
        return Redactor.for_keys((*self.secrets, *other.secrets))
