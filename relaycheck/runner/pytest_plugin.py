"""The pytest front-end: ``pytest conformance --provider NAME`` runs the catalogue as one test per check.

Probes are sent once, up front, for every selected provider at the same time (the first test that needs them
triggers the session fixture); each test then only reads its verdict. Grades map onto pytest outcomes:
pass → passed, warn → passed with a warning, fail/error → failed, unsupported/skipped → skipped, known → xfail.
Reports are written to ``--report-dir`` exactly as ``relaycheck run`` writes them.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.checks.model import Grade, Verdict
from relaycheck.config.providers import ConfigError, Provider
from relaycheck.runner.engine import ProviderRun
from relaycheck.transport.redact import Redactor


class RelaycheckWarning(UserWarning):
    """A SHOULD-level expectation was missed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("relaycheck", "relaycheck conformance")
    group.addoption("--provider", action="append", default=[], metavar="NAME",
                    help="provider from providers.yaml to certify (repeatable; default: the embedded reference)")
    group.addoption("--providers-file", type=Path, default=None, metavar="FILE", help="providers file")
    group.addoption("--base-url", default=None, metavar="URL", help="ad-hoc provider base URL (ending in /v1)")
    group.addoption("--model", default=None, metavar="MODEL", help="model for --base-url")
    group.addoption("--api-key-env", default=None, metavar="VAR", help="variable holding the key for --base-url")
    group.addoption("--quirk", action="append", default=[], metavar="NAME", help="reference-server quirk")
    group.addoption("--checks", action="append", default=[], metavar="PREFIX", help="check id prefix or feature")
    group.addoption("--report-dir", type=Path, default=Path("reports"), metavar="DIR", help="report directory")


@dataclass
class Selection:
    providers: list[Provider]
    catalogue: Catalogue


def _selection(config: pytest.Config) -> Selection:
    cached = getattr(config, "_relaycheck_selection", None)
    if cached is not None:
        return cached
    from relaycheck.cli.main import select_providers

    args = argparse.Namespace(
        provider=config.getoption("provider"),
        providers_file=config.getoption("providers_file"),
        base_url=config.getoption("base_url"),
        model=config.getoption("model"),
        api_key_env=config.getoption("api_key_env"),
        quirk=config.getoption("quirk"),
    )
    try:
        providers = select_providers(args)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    selection = Selection(providers, load_catalogue().select(tuple(config.getoption("checks"))))
    config._relaycheck_selection = selection  # type: ignore[attr-defined]
    return selection


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check_id" not in metafunc.fixturenames:
        return
    selection = _selection(metafunc.config)
    feature = getattr(metafunc.module, "FEATURE", None)
    pairs = [
        (p.name, c.id)
        for p in selection.providers
        for c in selection.catalogue.checks
        if feature is None or c.feature == feature
    ]
    metafunc.parametrize(("provider_name", "check_id"), pairs, ids=[f"{p}::{c}" for p, c in pairs])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A feature with no selected check would show as a skipped test ("got empty parameter set"): deselect it."""
    empty = [
        i for i in items
        if "check_id" in getattr(i, "fixturenames", ())
        and any("empty parameter set" in str(m.kwargs.get("reason", "")) for m in i.iter_markers("skip"))
    ]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [i for i in items if i not in empty]


@dataclass
class Certification:
    runs: dict[str, ProviderRun]
    catalogue: Catalogue
    redactor: Redactor

    def verdict(self, provider: str, check_id: str) -> Verdict:
        return next(v for v in self.runs[provider].verdicts if v.check == check_id)

    def report(self, provider: str, check_id: str) -> None:
        """The body of every conformance test: label and attach the evidence (allure), then the outcome."""
        from relaycheck.report.allure import attach_verdict

        verdict = self.verdict(provider, check_id)
        attach_verdict(verdict, self.catalogue.get(check_id), self.runs[provider].exchanges, self.redactor, provider)
        assert_verdict(verdict)


@pytest.fixture(scope="session")
def certification(request: pytest.FixtureRequest) -> Certification:
    from relaycheck.report.writer import write_reports
    from relaycheck.runner.engine import certify
    from relaycheck.spec import load_contract

    selection = _selection(request.config)
    runs = certify(selection.providers, selection.catalogue, load_contract())
    keys = [p.api_key() for p in selection.providers] + [s for r in runs if r.target for s in r.target.secrets]
    redactor = Redactor.for_keys(keys)
    write_reports(runs, selection.catalogue, request.config.getoption("report_dir"), redactor)
    return Certification({r.name: r for r in runs}, selection.catalogue, redactor)


def assert_verdict(verdict: Verdict) -> None:
    """Turn a grade into the pytest outcome that says the same thing."""
    detail = verdict.message
    if verdict.expected is not None or verdict.observed is not None:
        detail += f"\n  expected: {verdict.expected}\n  observed: {verdict.observed}"
    if verdict.probes:
        detail += f"\n  probes: {', '.join(verdict.probes)}"
    if verdict.grade is Grade.PASS:
        return
    if verdict.grade is Grade.WARN:
        warnings.warn(RelaycheckWarning(f"{verdict.check}: {detail}"), stacklevel=2)
        return
    if verdict.grade is Grade.KNOWN:
        pytest.xfail(f"known: {verdict.note or detail}")
    if verdict.grade in (Grade.UNSUPPORTED, Grade.SKIPPED):
        pytest.skip(f"{verdict.grade.value}: {detail}")
    pytest.fail(f"{verdict.grade.value}: {detail}", pytrace=False)
