"""Helpers: a planted key, hostile providers with small bounds, a timed certify, leak scans."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from relaycheck.checks.catalogue import Catalogue
from relaycheck.config.providers import Provider, parse_providers
from relaycheck.runner.engine import ProviderRun, certify, run_worst_case
from relaycheck.spec.contracts import Contracts

KEY_ENV = "RELAYCHECK_HOSTILE_KEY"
PLANTED_KEY = "sk-hostile-planted-7f3a9c2e5b1d40868e21"
SMALL = {
    "timeouts": {"connect": 2, "read": 2, "total": 6, "run": 20},
    "limits": {"max_body_bytes": 1 << 20, "max_stream_events": 500},
}


def hostile_entry(name: str, base_url: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "base_url": base_url, "api_key_env": KEY_ENV, **SMALL}
    for key, value in overrides.items():
        entry[key] = {**entry[key], **value} if isinstance(value, dict) and key in entry else value
    return entry


def hostile_provider(name: str, base_url: str, **overrides: Any) -> Provider:
    return parse_providers({"providers": [hostile_entry(name, base_url, **overrides)]}).providers[0]


def reference_provider() -> Provider:
    return parse_providers({"providers": [{"name": "reference", "embedded": True}]}).providers[0]


def timed_certify(providers: list[Provider], catalogue: Catalogue, contract: Contracts,
                  progress: Any = None) -> tuple[list[ProviderRun], float, float]:
    """(runs, seconds taken, the bound stated before the run)."""
    bound = run_worst_case(providers, catalogue)
    start = time.monotonic()
    runs = certify(providers, catalogue, contract, progress=progress)
    return runs, time.monotonic() - start, bound


def assert_every_check_graded(run: ProviderRun, catalogue: Catalogue) -> None:
    assert [v.check for v in run.verdicts] == [c.id for c in catalogue.checks]
    harness = [v for v in run.verdicts if "harness error" in v.message]
    assert not harness, harness[:3]


def files_under(root: Path) -> Iterator[Path]:
    yield from (p for p in root.rglob("*") if p.is_file())


def assert_key_absent(root: Path, key: str = PLANTED_KEY, *texts: str) -> None:
    """Not in any file (nor in a base64-stored body, decoded), nor in the given texts (stdout, stderr)."""
    needle = key.encode()
    for path in files_under(root):
        data = path.read_bytes()
        assert needle not in data, f"key leaked into {path}"
        if path.suffix == ".json":
            for blob in _base64_bodies(json.loads(data)):
                assert needle not in base64.b64decode(blob), f"key leaked base64-encoded into {path}"
    for text in texts:
        assert key not in text


def _base64_bodies(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("base64"), str):
            yield node["base64"]
        for value in node.values():
            yield from _base64_bodies(value)
    elif isinstance(node, list):
        for value in node:
            yield from _base64_bodies(value)
