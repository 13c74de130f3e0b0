"""The pytest front-end: ``pytest --pyargs conformance --provider NAME`` runs the catalogue as one test per check.

A pytest plugin (entry point ``pytest11: relaycheck``), so it works wherever relaycheck is installed. Each test is
marked with its check's level (``must``, ``should``, ``info``) and feature (``shape``, ``stream``, …), so pytest's
own selection works: ``-m must``, ``-k stream``, a file, a node id. Only the checks left after selection are
certified, so selection limits what is sent and spent. Probes are sent once, up front, for every selected provider
at the same time (the first test triggers the session fixture); each test then only reads its verdict.

Grades map onto pytest outcomes: pass → passed, warn → passed with a warning, fail/error → failed,
unsupported/skipped → skipped, known → xfail. Reports are written to ``--report-dir`` as ``relaycheck run`` writes
them; the certification itself is :func:`relaycheck.runner.session.run_session`, the CLI's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.checks.model import Check, Grade, Level, Verdict
from relaycheck.config.providers import ConfigError, Provider, shipped_providers_file
from relaycheck.endpoint import ENDPOINTS
from relaycheck.runner.engine import ProviderRun, provider_catalogue
from relaycheck.runner.session import (
    DEFAULT_REPORT_DIR,
    ProviderChoice,
    SessionOptions,
    endpoints_option,
    run_session,
    select_catalogue,
    select_providers,
)
from relaycheck.transport.redact import Redactor

PARAMS = ("provider_name", "check_id")


class RelaycheckWarning(UserWarning):
    """A SHOULD-level expectation was missed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("relaycheck", "relaycheck conformance (tests taking provider_name and check_id)")
    group.addoption("--provider", action="append", default=[], metavar="NAME",
                    help="provider from providers.yaml to certify (repeatable; default: the embedded reference)")
    group.addoption("--providers-file", type=Path, default=None, metavar="FILE",
                    help=f"providers file (default ./providers.yaml, else the shipped one: {shipped_providers_file()})")
    group.addoption("--base-url", default=None, metavar="URL", help="ad-hoc provider base URL (ending in /v1)")
    group.addoption("--model", default=None, metavar="MODEL", help="model for --base-url")
    group.addoption("--api-key-env", default=None, metavar="VAR", help="variable holding the key for --base-url")
    group.addoption("--quirk", action="append", default=[], metavar="NAME", help="reference-server quirk")
    group.addoption("--checks", action="append", default=[], metavar="PREFIX", help="check id prefix or feature")
    group.addoption("--endpoint", choices=("completions", "chat", "all"), default=None,
                    help="certify only this endpoint (default: what each provider states); -m chat selects too")
    group.addoption("--no-expectations", action="store_true", help="ignore expectations files (grade raw)")
    group.addoption("--report-dir", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR", help="report directory")


@dataclass(frozen=True)
class Selection:
    providers: tuple[Provider, ...]
    catalogue: Catalogue  # before pytest's own selection


SELECTION = pytest.StashKey[Selection]()
SELECTED_CHECKS = pytest.StashKey[frozenset[str]]()
CERTIFICATION = pytest.StashKey["Certification"]()


def pytest_configure(config: pytest.Config) -> None:
    for level in Level:
        config.addinivalue_line("markers", f"{level.value.lower()}: relaycheck checks of level {level.value}")
    for endpoint in ENDPOINTS:
        config.addinivalue_line("markers", f"{endpoint.value}: relaycheck checks of {endpoint.route}")
    for feature in dict.fromkeys(area(c) for c in load_catalogue().checks):
        config.addinivalue_line("markers", f"{feature}: relaycheck checks of feature '{feature}' (either endpoint)")
    if config.getoption("provider") or config.getoption("base_url") or config.getoption("quirk"):
        _selection(config)  # a bad provider, file or quirk is one usage line now, not an error per module


def area(check: Check) -> str:
    """A check's feature without its endpoint: the module (``conformance/test_shape.py``) and marker (``-m shape``)
    that hold both ``shape.schema`` and ``chat.shape.schema``; ``-m chat`` selects the endpoint."""
    return check.feature.removeprefix(check.endpoint.prefix)


def _selection(config: pytest.Config) -> Selection:
    if SELECTION in config.stash:
        return config.stash[SELECTION]
    choice = ProviderChoice(
        names=tuple(config.getoption("provider")),
        providers_file=config.getoption("providers_file"),
        base_url=config.getoption("base_url"),
        model=config.getoption("model"),
        api_key_env=config.getoption("api_key_env"),
        quirks=tuple(config.getoption("quirk")),
        endpoints=endpoints_option(config.getoption("endpoint")),
    )
    try:
        selection = Selection(tuple(select_providers(choice)), select_catalogue(config.getoption("checks")))
    except ConfigError as exc:
        raise pytest.UsageError(f"relaycheck: {exc}") from None
    config.stash[SELECTION] = selection
    return selection


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not set(PARAMS) <= set(metafunc.fixturenames):
        return
    selection = _selection(metafunc.config)
    feature = getattr(metafunc.module, "FEATURE", None)
    params = [
        pytest.param(p.name, c.id, id=f"{p.name}::{c.id}",
                     marks=[getattr(pytest.mark, c.level.value.lower()), getattr(pytest.mark, area(c)),
                            getattr(pytest.mark, c.endpoint.value)])
        for p in selection.providers
        for c in provider_catalogue(p, selection.catalogue).checks
        if feature is None or area(c) == feature
    ]
    metafunc.parametrize(PARAMS, params)


@pytest.hookimpl(trylast=True)
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


def pytest_collection_finish(session: pytest.Session) -> None:
    """After pytest's own selection (-k, -m, files, node ids): the checks whose tests will run are certified."""
    chosen = {_check_of(item) for item in session.items}
    session.config.stash[SELECTED_CHECKS] = frozenset(c for c in chosen if c is not None)


def _check_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("check_id") if callspec is not None else None


@dataclass
class Certification:
    runs: dict[str, ProviderRun]
    catalogue: Catalogue
    redactor: Redactor

    def verdict(self, provider: str, check_id: str) -> Verdict:
        return next(v for v in self.runs[provider].verdicts if v.check == check_id)

    def report(self, provider: str, check_id: str) -> None:
        """The body of every conformance test: label and attach the evidence (allure, if active), then the outcome."""
        from relaycheck.report.allure import attach_verdict

        verdict = self.verdict(provider, check_id)
        attach_verdict(verdict, self.catalogue.get(check_id), self.runs[provider].exchanges, self.redactor, provider)
        assert_verdict(verdict)


@pytest.fixture(scope="session")
def certification(request: pytest.FixtureRequest) -> Certification:
    config = request.config
    selection = _selection(config)
    wanted = config.stash.get(SELECTED_CHECKS, None)  # None: collected without the hook (never in a normal run)
    catalogue = selection.catalogue
    if wanted is not None:
        catalogue = Catalogue(tuple(c for c in catalogue.checks if c.id in wanted))
    try:
        result = run_session(SessionOptions(
            providers=selection.providers,
            catalogue=catalogue,
            report_dir=config.getoption("report_dir"),
            expectations=not config.getoption("no_expectations"),
        ))
    except ConfigError as exc:
        pytest.exit(f"relaycheck: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return Certification({r.name: r for r in result.runs}, result.catalogue, result.redactor)


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
