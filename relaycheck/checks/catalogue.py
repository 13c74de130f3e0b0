"""The catalogue: every check, in one place, the single source the CLI, the reports and the docs read."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from relaycheck.checks import (
    defaults,
    errors,
    identity,
    logprobs,
    messages,
    params,
    route,
    shape,
    stream,
    structured,
    tools,
    usage,
)
from relaycheck.checks import property as property_checks
from relaycheck.checks.model import Check, Level, Verdict
from relaycheck.endpoint import ENDPOINTS, Endpoint

AREAS = (route, shape, defaults, params, stream, messages, logprobs, errors, usage, property_checks, identity, tools,
         structured)


@dataclass(frozen=True)
class Catalogue:
    checks: tuple[Check, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for c in self.checks:
            if c.id in seen:
                raise ValueError(f"duplicate check id {c.id}")
            seen.add(c.id)

    def get(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.checks)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.feature for c in self.checks))

    @cached_property
    def revision(self) -> str:
        """Changes whenever a check's metadata or code changes, so reports say which judging they got."""
        digest = hashlib.sha256()
        for c in self.checks:
            digest.update(json.dumps(c.to_dict(), sort_keys=True).encode())
            digest.update(inspect.getsource(c.func).encode())
        return digest.hexdigest()[:12]

    def blocking(self, verdicts: Iterable[Verdict]) -> list[Verdict]:
        """Verdicts that stop certification: a MUST check that failed, or that could not be judged (error).

        The one definition the exit code, the terminal summary and every report use.
        """
        levels = {c.id: c.level for c in self.checks}
        return [v for v in verdicts if v.grade.blocks and levels.get(v.check) is Level.MUST]

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(dict.fromkeys(c.endpoint for c in self.checks))

    def for_endpoints(self, endpoints: Iterable[Endpoint]) -> Catalogue:
        """The checks of those endpoints only (a provider is judged on the endpoints it is certified on)."""
        wanted = set(endpoints)
        return Catalogue(tuple(c for c in self.checks if c.endpoint in wanted))

    def excluding(self, feature: str) -> Catalogue:
        """The catalogue without one feature's checks on every endpoint (``--no-property``: ``property`` and
        ``chat.property``, so neither phase is run)."""
        return Catalogue(tuple(c for c in self.checks if c.feature.removeprefix(c.endpoint.prefix) != feature))

    def select(self, patterns: tuple[str, ...]) -> Catalogue:
        """Checks whose id or feature starts with one of the patterns (all when none given)."""
        if not patterns:
            return self
        return Catalogue(tuple(c for c in self.checks if any(c.id.startswith(p) or c.feature == p for p in patterns)))


def load_catalogue() -> Catalogue:
    """Every check: Completions' first, then chat's, each endpoint's by area (reports list them in this order)."""
    checks = [c for area in AREAS for c in area.CHECKS]
    return Catalogue(tuple(sorted(checks, key=lambda c: ENDPOINTS.index(c.endpoint))))
