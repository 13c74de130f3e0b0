"""Real reports for the report tests: the conformant reference provider and quirky ones, certified once per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.config.providers import embedded_reference
from relaycheck.report.writer import write_reports
from relaycheck.runner.engine import certify
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.redact import Redactor

# relay-a deviates in the protocol; relay-b answers like a chat model (its answers differ from the others')
QUIRKS_A = ("no-done", "usage-inflated", "errors-flat")
QUIRKS_B = ("chat-template",)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    providers = [
        embedded_reference(),
        embedded_reference(quirks=QUIRKS_A).with_overrides(name="relay-a"),
        embedded_reference(quirks=QUIRKS_B).with_overrides(name="relay-b"),
    ]
    catalogue = load_catalogue()
    runs = certify(providers, catalogue, load_contracts())
    write_reports(runs, catalogue, out, Redactor())
    return out


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def reference_report(run_dir: Path) -> dict[str, Any]:
    return load(run_dir / "reference.json")


@pytest.fixture(scope="session")
def quirky_report(run_dir: Path) -> dict[str, Any]:
    return load(run_dir / "relay-a.json")


# Five faults of the reference provider switched on together: the evidence the root-cause rule was decided on
# (relaycheck/report/causes.py). errors-200 alone fails about 18 checks, drop-stop 6.
FIVE_FAULTS = ("errors-200", "drop-stop", "no-done", "usage-inflated", "finish-reason-eos")


@pytest.fixture(scope="session")
def five_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """relay-five (the five faults) and a provider whose key is not set (skipped), with their comparison."""
    out = tmp_path_factory.mktemp("five")
    providers = [
        embedded_reference(quirks=FIVE_FAULTS).with_overrides(name="relay-five"),
        embedded_reference().with_overrides(name="absent", embedded=False, base_url="http://127.0.0.1:9/v1",
                                            api_key_env="RELAYCHECK_TEST_KEY_NEVER_SET"),
    ]
    catalogue = load_catalogue()
    runs = certify(providers, catalogue, load_contracts(), environ={})
    write_reports(runs, catalogue, out, Redactor())
    return out
