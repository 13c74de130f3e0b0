"""``providers.yaml``: which providers to certify and within which limits.

The file is validated completely on load. Any problem becomes a :class:`ConfigError` whose message is one line
naming the file, the provider and the field, so the CLI can print it and exit 2 instead of a traceback.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEFAULT_MODEL = "gpt-3.5-turbo-instruct"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_CONFIG_BYTES = 1 << 20  # a providers file is a few KB; refuse to parse something hostile-sized


class ConfigError(Exception):
    """A configuration problem a user can fix; its message is a single line."""


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0  # between bytes; a stream that stalls longer is cut
    total: float = 90.0  # whole exchange, headers to last byte
    # The whole recording of one provider (every probe, retry and wait): past it no request is sent and one in
    # flight is cut. With the defaults a run against any provider ends within 5 minutes, whatever it does.
    run: float = 240.0


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2 * 1024 * 1024
    max_stream_events: int = 5000


@dataclass(frozen=True)
class BudgetLimits:
    requests: int = 120
    completion_tokens: int = 6000


@dataclass(frozen=True)
class Provider:
    name: str
    model: str = DEFAULT_MODEL
    base_url: str | None = None  # None only for the embedded reference provider
    api_key_env: str | None = None
    embedded: bool = False
    quirks: tuple[str, ...] = ()  # embedded only: reference-server quirks to switch on (demos, tests)
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: Limits = field(default_factory=Limits)
    budget: BudgetLimits = field(default_factory=BudgetLimits)
    concurrency: int = 4
    rate_limit: float | None = None  # requests per second the provider allows us
    retries: int = 2  # on 429 / 5xx, honouring Retry-After
    property_examples: int = 10  # schemathesis examples per provider
    expectations: Path | None = None

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) if self.api_key_env else None

    def with_overrides(self, **changes: Any) -> Provider:
        return replace(self, **changes)


@dataclass(frozen=True)
class ProvidersFile:
    path: Path | None
    providers: tuple[Provider, ...]

    def get(self, name: str) -> Provider:
        for provider in self.providers:
            if provider.name == name:
                return provider
        names = [p.name for p in self.providers]
        raise ConfigError(f"unknown provider '{name}'{_suggest(name, names)} (known: {', '.join(names) or 'none'})")


# -- loading ----------------------------------------------------------------------------------------------------

_TOP_KEYS = {"version", "defaults", "providers"}
_SECTIONS = {"timeouts": Timeouts, "limits": Limits, "budget": BudgetLimits}


def load_providers(path: Path) -> ProvidersFile:
    where = str(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{where}: file is larger than {MAX_CONFIG_BYTES} bytes; is it the right file?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read: {exc.__class__.__name__}: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}:{line}: not valid YAML: {problem}") from None
    return parse_providers(raw, where, base_dir=path.parent)


def parse_providers(raw: Any, where: str = "providers.yaml", base_dir: Path | None = None) -> ProvidersFile:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'providers' list at the top")
    _reject_unknown(raw, _TOP_KEYS, where)
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: 'defaults' must be a mapping")
    entries = raw.get("providers")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: 'providers' must be a non-empty list")
    seen: set[str] = set()
    providers = []
    for index, entry in enumerate(entries):
        label = f"{where}: providers[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{label}: each provider must be a mapping")
        name = entry.get("name")
        if isinstance(name, str):
            label = f"{where}: provider '{name}'"
        provider = _parse_provider({**_merge_defaults(defaults, entry)}, label, base_dir)
        if provider.name in seen:
            raise ConfigError(f"{label}: field 'name': duplicate provider name '{provider.name}'")
        seen.add(provider.name)
        providers.append(provider)
    return ProvidersFile(path=None if base_dir is None else base_dir, providers=tuple(providers))


def _merge_defaults(defaults: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in entry.items():
        if key in _SECTIONS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _parse_provider(entry: dict[str, Any], label: str, base_dir: Path | None) -> Provider:
    allowed = {f.name for f in fields(Provider)}
    _reject_unknown(entry, allowed, label)
    name = _get(entry, "name", str, label, required=True)
    if not NAME_RE.match(name):
        raise ConfigError(f"{label}: field 'name': '{name}' must be letters, digits, '-', '_' or '.'")
    embedded = _get(entry, "embedded", bool, label, default=False)
    base_url = _get(entry, "base_url", str, label)
    api_key_env = _get(entry, "api_key_env", str, label)
    if embedded:
        if base_url is not None:
            raise ConfigError(f"{label}: field 'base_url': an embedded provider has no base_url")
    else:
        if base_url is None:
            raise ConfigError(f"{label}: field 'base_url' is required (e.g. https://api.example.com/v1)")
        _check_url(base_url, f"{label}: field 'base_url'")
        if api_key_env is None:
            raise ConfigError(f"{label}: field 'api_key_env' is required: the environment variable holding the key")
    if api_key_env is not None and not ENV_RE.match(api_key_env):
        raise ConfigError(f"{label}: field 'api_key_env': '{api_key_env}' is not an environment variable name")
    quirks = _get(entry, "quirks", list, label, default=[])
    if quirks and not embedded:
        raise ConfigError(f"{label}: field 'quirks': only the embedded reference provider has quirks")
    if not all(isinstance(q, str) for q in quirks):
        raise ConfigError(f"{label}: field 'quirks': must be a list of quirk names")
    expectations = _get(entry, "expectations", str, label)
    if expectations is not None and base_dir is not None:
        expectations_path: Path | None = (base_dir / expectations).resolve()
    else:
        expectations_path = Path(expectations) if expectations else None
    rate_limit = _get(entry, "rate_limit", (int, float), label)
    return Provider(
        name=name,
        model=_get(entry, "model", str, label, default=DEFAULT_MODEL),
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_env=api_key_env,
        embedded=embedded,
        quirks=tuple(quirks),
        timeouts=_section(entry, "timeouts", label),
        limits=_section(entry, "limits", label),
        budget=_section(entry, "budget", label),
        concurrency=_positive_int(entry, "concurrency", label, default=4),
        rate_limit=None if rate_limit is None else _positive(float(rate_limit), "rate_limit", label),
        retries=_non_negative_int(entry, "retries", label, default=2),
        property_examples=_non_negative_int(entry, "property_examples", label, default=10),
        expectations=expectations_path,
    )


def _section(entry: dict[str, Any], key: str, label: str) -> Any:
    cls = _SECTIONS[key]
    raw = entry.get(key)
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: field '{key}' must be a mapping")
    _reject_unknown(raw, {f.name for f in fields(cls)}, f"{label}: field '{key}'")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        whole = f.type in ("int", int)
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            kind_name = "a whole number" if whole else "a number"
            raise ConfigError(f"{label}: field '{key}.{f.name}' must be {kind_name}, not {value!r}")
        kind = int if whole else float
        values[f.name] = _positive(kind(value), f"{key}.{f.name}", label)
    return cls(**values)


def _check_url(url: str, label: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label}: '{url}' is not an http(s) URL")
    if parts.query or parts.fragment:
        raise ConfigError(f"{label}: '{url}' must not have a query or fragment")
    if parts.username or parts.password:
        raise ConfigError(f"{label}: '{url}' must not carry credentials; put the key in the api_key_env variable")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{label}: '{url}' has an invalid port") from None


def _reject_unknown(raw: dict[str, Any], allowed: set[str], label: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{label}: unknown field '{key}'{_suggest(str(key), allowed)}")


def _suggest(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _get(entry: dict[str, Any], key: str, kind: Any, label: str, required: bool = False, default: Any = None) -> Any:
    if key not in entry or entry[key] is None:
        if required:
            raise ConfigError(f"{label}: field '{key}' is required")
        return default
    value = entry[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(dict.fromkeys(_KIND_NAMES[k] for k in kinds))
        raise ConfigError(f"{label}: field '{key}' must be {names}, not {type(value).__name__} {value!r}")
    return value


_KIND_NAMES = {str: "a string", bool: "true or false", list: "a list", int: "a number", float: "a number"}


def _positive(value: float, key: str, label: str) -> Any:
    if value <= 0:
        raise ConfigError(f"{label}: field '{key}' must be greater than 0")
    return value


def _positive_int(entry: dict[str, Any], key: str, label: str, default: int) -> int:
    value = _non_negative_int(entry, key, label, default)
    return int(_positive(value, key, label))


def _non_negative_int(entry: dict[str, Any], key: str, label: str, default: int) -> int:
    value = _get(entry, key, int, label, default=default)
    if value < 0:
        raise ConfigError(f"{label}: field '{key}' must not be negative")
    return int(value)


def find_providers_file(explicit: Path | None, cwd: Path | None = None) -> Path:
    """The file named on the command line, else ``./providers.yaml``, else the one shipped with the source."""
    if explicit is not None:
        return explicit
    local = (cwd or Path.cwd()) / "providers.yaml"
    if local.exists():
        return local
    return Path(__file__).resolve().parents[2] / "providers.yaml"


def embedded_reference(model: str = DEFAULT_MODEL, quirks: tuple[str, ...] = ()) -> Provider:
    """The built-in reference provider, used when no providers file is needed (``relaycheck run``)."""
    return Provider(name="reference", embedded=True, model=model, quirks=quirks, concurrency=8, property_examples=40)
