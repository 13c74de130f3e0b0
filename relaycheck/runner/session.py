"""One certification session, as both front-ends run it: choose providers, select checks, certify, redact, write.

``relaycheck run`` (``relaycheck/cli/main.py``) and the pytest plugin (``relaycheck/pytest_plugin.py``) turn their
options into a :class:`ProviderChoice` and :class:`SessionOptions` and call :func:`run_session`; neither knows the
steps. Front-ends import this module; nothing here imports a front-end.

Expectations are read here, before any request, and handed to the judge: judging stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from relaycheck.checks import property as property_checks
from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.config.adhoc import AdhocOptions, adhoc_provider
from relaycheck.config.providers import (
    ConfigError,
    Provider,
    embedded_reference,
    find_providers_file,
    load_providers,
)
from relaycheck.endpoint import ENDPOINTS, Endpoint
from relaycheck.runner.engine import ProgressFn, ProviderRun, certify
from relaycheck.runner.expectations import Expectation, expectations_yaml, leading_comment, load_expectations
from relaycheck.transport.redact import Redactor

DEFAULT_EXPECTATIONS_DIR = Path("expectations")
DEFAULT_REPORT_DIR = Path("reports")
ADHOC_NAME = "adhoc"
# What `relaycheck run` certifies the embedded reference on by default, and a --base-url provider is tried on.
REFERENCE_ENDPOINTS = ENDPOINTS
ADHOC_ENDPOINTS = ENDPOINTS


@dataclass(frozen=True)
class ProviderChoice:
    """Which providers to certify, as a user names them: names from a providers file, or one ad-hoc URL."""

    names: tuple[str, ...] = ()  # 'all' for every provider in the file
    providers_file: Path | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    name: str | None = None  # the ad-hoc provider's name (reports are NAME.json)
    quirks: tuple[str, ...] = ()  # switched on in the embedded reference provider
    endpoints: tuple[Endpoint, ...] = ()  # --endpoint: the endpoints to certify (none given: what each states)
    chat_model: str | None = None  # the ad-hoc provider's chat model
    adhoc: AdhocOptions = AdhocOptions()  # the --base-url provider's providers.yaml fields, as options


def endpoints_option(value: str | None) -> tuple[Endpoint, ...]:
    """``--endpoint chat|completions|all``, as both front-ends take it: the endpoints stated (none when not given)."""
    if value is None:
        return ()
    return ENDPOINTS if value == "all" else (Endpoint.parse(value),)


def select_providers(choice: ProviderChoice) -> list[Provider]:
    """The providers a choice names; raises :class:`ConfigError` (one line) on any problem."""
    _check_quirks(choice.quirks)
    if choice.base_url:
        if choice.names:
            raise ConfigError("use either --provider or --base-url, not both")
        return [_adhoc(choice)]
    if choice.model or choice.api_key_env or choice.name or choice.chat_model:
        raise ConfigError("--model, --chat-model, --api-key-env and --name go with --base-url")
    if choice.adhoc.given:
        raise ConfigError("--context-length, --tokenizer, --cheaper-model, --header, --header-env, --auth and --set "
                          "go with --base-url (a providers.yaml entry states them as fields)")
    if not choice.names:
        reference = embedded_reference(quirks=choice.quirks)
        return [_on_endpoints(reference.with_overrides(endpoints=REFERENCE_ENDPOINTS), choice.endpoints)]
    providers_file = load_providers(find_providers_file(choice.providers_file))
    names = [p.name for p in providers_file.providers] if "all" in choice.names else choice.names
    chosen = [providers_file.get(name) for name in dict.fromkeys(names)]
    if choice.quirks:
        chosen = [p.with_overrides(quirks=choice.quirks) if p.embedded else p for p in chosen]
    _check_quirks(q for p in chosen for q in p.quirks)  # a file's quirk list too: one line, before any request
    return [_on_endpoints(p, choice.endpoints) for p in chosen]


def _adhoc(choice: ProviderChoice) -> Provider:
    """The ``--base-url`` provider. Without ``--endpoint`` every endpoint is tried and one found not served is
    reported, not failed; ``--model`` names the chat model when only chat is asked for."""
    if not choice.api_key_env:
        raise ConfigError("--base-url needs --api-key-env VAR (the variable holding the key)")
    endpoints = choice.endpoints or ADHOC_ENDPOINTS
    model, chat_model = choice.model, choice.chat_model
    if endpoints == (Endpoint.CHAT,) and model and not chat_model:
        model, chat_model = None, model
    provider = adhoc_provider(choice.name or ADHOC_NAME, choice.base_url, choice.api_key_env, model, choice.adhoc,
                              endpoints=endpoints, chat_model=chat_model)
    return provider.with_overrides(discover_endpoints=not choice.endpoints)


def _on_endpoints(provider: Provider, endpoints: tuple[Endpoint, ...]) -> Provider:
    """``provider`` certified on ``endpoints`` only (--endpoint), which it must be configured for."""
    if not endpoints:
        return provider
    missing = [e for e in endpoints if e not in provider.endpoints and not provider.embedded]
    if missing:
        raise ConfigError(f"provider '{provider.name}' is not configured for {missing[0].route}: add "
                          f"{'a chat: section (chat: {model: …})' if missing[0] is Endpoint.CHAT else 'completions'} "
                          "to its endpoints in the providers file, or leave --endpoint out")
    return provider.with_overrides(endpoints=endpoints)


def _check_quirks(quirks: Iterable[str]) -> None:
    from relaycheck.server.quirks import get_quirk

    for quirk in quirks:
        try:
            get_quirk(quirk)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0]) if exc.args else f"unknown quirk {quirk}") from None


def select_catalogue(
    prefixes: Iterable[str] = (), check_ids: Iterable[str] | None = None, property_phase: bool = True
) -> Catalogue:
    """The checks a session judges: by id prefix or feature, then (pytest's own selection) by exact id."""
    prefixes = tuple(prefixes)
    catalogue = load_catalogue().select(prefixes)
    if check_ids is not None:
        wanted = set(check_ids)
        catalogue = Catalogue(tuple(c for c in catalogue.checks if c.id in wanted))
    if not property_phase:  # deselects the property checks, so the phase they read sends nothing
        catalogue = catalogue.excluding(property_checks.FEATURE)
    if not catalogue.checks and prefixes:
        raise ConfigError(f"no check matches {', '.join(prefixes)} (see relaycheck list)")
    return catalogue


def expectations_path(provider: Provider, directory: Path = DEFAULT_EXPECTATIONS_DIR) -> Path:
    """Where a provider's expectations live: the file its entry names, else ``expectations/NAME.yaml``.

    The same path is read by a run and written by ``--update-expectations``, so recording then re-running is green.
    """
    return provider.expectations or directory / f"{provider.name}.yaml"


def applied_expectations(
    providers: Iterable[Provider], directory: Path = DEFAULT_EXPECTATIONS_DIR
) -> tuple[list[Provider], dict[str, dict[str, Expectation]]]:
    """Each provider with the expectations file that applies to it (named, or found by name), and its entries.

    A file named in the providers file must exist; ``expectations/NAME.yaml`` applies only when it exists.
    """
    out, expected = [], {}
    for provider in providers:
        path = expectations_path(provider, directory)
        if provider.expectations is None and not path.is_file():
            out.append(provider)
            expected[provider.name] = {}
            continue
        out.append(provider.with_overrides(expectations=path))
        expected[provider.name] = load_expectations(path)
    return out, expected


@dataclass(frozen=True)
class SessionOptions:
    providers: tuple[Provider, ...]
    catalogue: Catalogue
    report_dir: Path = DEFAULT_REPORT_DIR
    expectations: bool = True  # apply expectations files; off to grade raw
    expectations_dir: Path = DEFAULT_EXPECTATIONS_DIR
    update_expectations: bool = False  # grade raw and write each provider's deviations to its file
    progress: ProgressFn | None = None
    environ: Mapping[str, str] | None = None


@dataclass
class SessionResult:
    runs: list[ProviderRun]
    catalogue: Catalogue
    redactor: Redactor
    reports: list  # the typed reports the writers produced, one per provider
    expectation_files: list[Path] = field(default_factory=list)  # written by update_expectations

    @property
    def blocking(self) -> bool:
        """A MUST check failed or could not be judged: exit 1, a red test."""
        return any(run.must_failures(self.catalogue) for run in self.runs)


def check_report_dir(report_dir: Path) -> None:
    """A report folder that cannot be one is a usage error, said before anything is announced or sent."""
    if report_dir.exists() and not report_dir.is_dir():
        raise ConfigError(f"report folder {report_dir}: exists and is not a directory")


def run_session(options: SessionOptions) -> SessionResult:
    """Certify, judge with the expectations that apply, redact and write the reports (and expectations)."""
    from relaycheck.report.writer import atomic_write, write_reports
    from relaycheck.spec.contracts import load_contracts

    check_report_dir(options.report_dir)
    if options.expectations and not options.update_expectations:
        providers, expected = applied_expectations(options.providers, options.expectations_dir)
    else:
        providers, expected = list(options.providers), {p.name: {} for p in options.providers}
    runs = certify(providers, options.catalogue, load_contracts(), progress=options.progress,
                   environ=options.environ, expectations=expected)
    # keys, and header values taken from the environment
    keys = [p.api_key(options.environ) for p in providers] + [s for r in runs if r.target for s in r.target.secrets]
    redactor = Redactor.for_keys(keys)
    try:
        reports = write_reports(runs, options.catalogue, options.report_dir, redactor)
    except OSError as exc:
        raise ConfigError(f"cannot write reports to {options.report_dir}: {exc.strerror or exc}") from None
    result = SessionResult(runs, options.catalogue, redactor, reports)
    if options.update_expectations:
        for run in runs:
            path = expectations_path(run.provider, options.expectations_dir)
            if not path.exists() and not any(v.grade.deviation for v in run.verdicts):
                continue  # nothing to record, no file to bring up to date: an empty file would say nothing
            previous = load_expectations(path) if path.exists() else {}
            header = leading_comment(path.read_text(encoding="utf-8")) if path.exists() else ""
            path.parent.mkdir(parents=True, exist_ok=True)
            text = expectations_yaml(run.name, run.verdicts, previous, header)
            atomic_write(path, redactor.text(text))
            result.expectation_files.append(path)
    return result
