"""The endpoints relaycheck certifies: the one dimension every probe, check, provider setting and report row has.

Completions (``POST /v1/completions``) was first, so its check ids, features and probe ids carry no prefix
(``shape.schema``, probe ``basic``): reports, expectations files and baselines written before chat keep their
meaning. Chat Completions (``POST /v1/chat/completions``) prefixes all three: check ``chat.tools.stream-deltas``,
feature ``chat.tools``, probe ``chat-tools-named``. The prefix is the single source of a check's endpoint: a
check declares its feature, and the feature says which endpoint it judges.
"""

from __future__ import annotations

from enum import StrEnum


class Endpoint(StrEnum):
    COMPLETIONS = "completions"
    CHAT = "chat"

    @property
    def path(self) -> str:
        """Where its requests go, under the provider's base URL (which ends in /v1)."""
        return _PATHS[self]

    @property
    def route(self) -> str:
        """How a person names it: ``POST /v1/chat/completions``."""
        return f"POST /v1/{self.path}"

    @property
    def title(self) -> str:
        return _TITLES[self]

    @property
    def prefix(self) -> str:
        """What its check ids and features start with (Completions: nothing, for old reports' sake)."""
        return "" if self is Endpoint.COMPLETIONS else f"{self.value}."

    @property
    def probe_prefix(self) -> str:
        """What its probe ids start with: ``chat-basic`` (Completions: nothing)."""
        return "" if self is Endpoint.COMPLETIONS else f"{self.value}-"

    def probe_id(self, name: str) -> str:
        """A probe's full id from the short name a check reads it by (``basic`` is chat's ``chat-basic``)."""
        return name if name.startswith(self.probe_prefix) else self.probe_prefix + name

    @classmethod
    def of_feature(cls, feature: str) -> Endpoint:
        """The endpoint a feature (or a check id) belongs to: ``chat.tools`` is chat's, ``stream`` Completions'."""
        for endpoint in cls:
            if endpoint.prefix and feature.startswith(endpoint.prefix):
                return endpoint
        return cls.COMPLETIONS

    @classmethod
    def of_probe(cls, probe: str) -> Endpoint:
        """The endpoint a probe id (or a re-sent one, ``chat-basic@rerun``) belongs to."""
        for endpoint in cls:
            if endpoint.probe_prefix and probe.startswith(endpoint.probe_prefix):
                return endpoint
        return cls.COMPLETIONS

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """An endpoint from what a user writes (``chat``, ``completions``); ValueError names the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown endpoint {text!r} (choose from {', '.join(e.value for e in cls)})") from None


ENDPOINTS: tuple[Endpoint, ...] = tuple(Endpoint)

_PATHS = {Endpoint.COMPLETIONS: "completions", Endpoint.CHAT: "chat/completions"}
_TITLES = {Endpoint.COMPLETIONS: "Completions", Endpoint.CHAT: "Chat Completions"}
