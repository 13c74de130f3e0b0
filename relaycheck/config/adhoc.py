"""A provider given on the command line (``relaycheck run --base-url …``), with the settings of a providers.yaml entry.

The options become an entry of the file's own shape and go through :func:`parse_providers`, so every value is
validated, and refused in one line, exactly as it would be in the file: a context length, a tokenizer, cheaper
models, extra headers (a literal value, or one read from the environment and redacted like the key), the auth
scheme, and any other field by its file name (``--set budget.requests=60``, ``--set timeouts.run=120``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from relaycheck.config.providers import COMMAND_LINE, DEFAULT_CHAT_MODEL, ConfigError, Provider, parse_providers
from relaycheck.endpoint import Endpoint

# Entry fields with an option of their own: --set cannot name them (one way to say each).
OWN_OPTIONS = {
    "name": "--name", "base_url": "--base-url", "api_key_env": "--api-key-env", "model": "--model",
    "context_length": "--context-length", "tokenizer": "--tokenizer", "cheaper_models": "--cheaper-model",
    "headers": "--header / --header-env", "auth": "--auth",
}
MAX_SETTING = 1024  # characters of one --set value: a setting, not a document


@dataclass(frozen=True)
class AdhocOptions:
    """The providers.yaml fields given as options; empty ones are left to the entry's defaults."""

    context_length: int | None = None
    tokenizer: str | None = None
    cheaper_models: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()  # "Name: value", sent as given
    header_envs: tuple[str, ...] = ()  # "Name: VARIABLE", the value read from the environment
    auth: str | None = None
    settings: tuple[str, ...] = ()  # "field=value" or "section.field=value", the value read as YAML

    @property
    def given(self) -> bool:
        return any(v not in (None, ()) for v in vars(self).values())


def adhoc_provider(name: str, base_url: str, api_key_env: str, model: str | None,
                   options: AdhocOptions = AdhocOptions(), endpoints: tuple[Endpoint, ...] = (Endpoint.COMPLETIONS,),
                   chat_model: str | None = None) -> Provider:
    """The provider the options describe, validated as a providers.yaml entry (one-line :class:`ConfigError`).

    On chat it sells ``chat_model`` (else what ``--set chat.model=…`` says, else the default chat model)."""
    entry: dict[str, Any] = {}
    for setting in options.settings:
        _set(entry, setting)
    entry.update({"name": name, "base_url": base_url, "api_key_env": api_key_env,
                  "endpoints": [e.value for e in endpoints]})
    if Endpoint.CHAT in endpoints:
        chat = entry.setdefault("chat", {})
        if isinstance(chat, dict):
            chat["model"] = chat_model or chat.get("model") or DEFAULT_CHAT_MODEL
    given = {"model": model, "context_length": options.context_length, "tokenizer": options.tokenizer,
             "auth": options.auth, "cheaper_models": list(options.cheaper_models) or None,
             "headers": _headers(options) or None}
    entry.update({k: v for k, v in given.items() if v is not None})
    (provider,) = parse_providers({"providers": [entry]}, COMMAND_LINE).providers
    return provider


def _set(entry: dict[str, Any], setting: str) -> None:
    key, sep, raw = setting.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {_shown(setting)}: expected FIELD=VALUE, e.g. --set budget.requests=60")
    if key in OWN_OPTIONS:
        raise ConfigError(f"--set {key}: give it with {OWN_OPTIONS[key]}")
    if len(raw) > MAX_SETTING:
        raise ConfigError(f"--set {key}: the value is longer than {MAX_SETTING} characters")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: the value is not a YAML scalar or list") from None
    section, dot, field = key.partition(".")
    if dot:
        inner = entry.setdefault(section, {})
        if not isinstance(inner, dict):
            raise ConfigError(f"--set {key}: '{section}' was given a value of its own")
        inner[field] = value
    else:
        entry[key] = value


def _headers(options: AdhocOptions) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for given, from_env in [*((h, False) for h in options.headers), *((h, True) for h in options.header_envs)]:
        name, sep, value = given.partition(":")
        option = "--header-env" if from_env else "--header"
        if not sep or not name.strip():
            # the value is not repeated: it may be a secret given where a variable's name belongs
            raise ConfigError(f"{option}: expected 'Name: {'VARIABLE' if from_env else 'value'}' (the value is not "
                              "repeated here)")
        headers[name.strip()] = {"env": value.strip()} if from_env else value.strip()
    return headers


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:79] + "…"
