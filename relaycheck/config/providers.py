"""``providers.yaml``: which providers to certify and within which limits.

The file is validated completely on load. Any problem becomes a :class:`ConfigError` whose message is one line
naming the file, the provider and the field, so the CLI can print it and exit 2 instead of a traceback.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from relaycheck.endpoint import Endpoint
from relaycheck.tokens.encoding import KNOWN_ENCODINGS

DEFAULT_MODEL = "gpt-3.5-turbo-instruct"
# What relay buyers typically buy on chat; the model an ad-hoc --base-url run certifies there unless told otherwise.
DEFAULT_CHAT_MODEL = "gpt-4o-mini"
REFERENCE_CONTEXT_LENGTH = 2048  # the embedded reference's context window (ServerConfig's; a test holds them equal)
MIN_CONTEXT_LENGTH = 16
MAX_CONTEXT_LENGTH = 1 << 17  # the overflow probe sends one context of prompt: keep its body bounded
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Prefixes of real providers' keys (OpenAI sk-, Groq gsk_, Hugging Face hf_, Fireworks fw_, xAI, Perplexity, NVIDIA,
# Replicate, GitHub, GitLab, Google, Anthropic's sk-ant-, …). Several are valid variable names, so a key pasted where
# a variable's name belongs would otherwise pass as one.
KEY_PREFIX_RE = re.compile(r"^(?:sk|gsk|hf|fw|xai|pplx|nvapi|r8|ghp|gho|ghs|ghu|github_pat|glpat|sess|pk|rk|csk|key|"
                           r"tgp_v1|api)[-_]|^AIza", re.IGNORECASE)
MAX_CONFIG_BYTES = 1 << 20  # a providers file is a few KB; refuse to parse something hostile-sized
MAX_YAML_NODES = 20_000  # after expanding aliases: a "billion laughs" file is refused before it is built
MAX_YAML_DEPTH = 64
MAX_CONCURRENCY = 256
MAX_RETRIES = 10
AUTH_SCHEMES = ("bearer", "api-key")  # Authorization: Bearer KEY (OpenAI), or api-key: KEY (Azure OpenAI)
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")  # an RFC 9110 token
MAX_HEADER_VALUE = 4096
# Set by relaycheck itself: the key goes in by the auth scheme, and the others decide what is measured.
RESERVED_HEADERS = frozenset({
    "authorization", "api-key", "content-type", "content-length", "content-encoding", "accept", "accept-encoding",
    "host", "transfer-encoding", "connection", "te", "upgrade", "expect", "proxy-authorization",
})


class ConfigError(Exception):
    """A configuration problem a user can fix; its message is a single line.

    Line breaks and other non-printable characters (from a hostile file, name or value) are escaped, so the
    message stays one line and cannot drive the terminal.
    """

    def __init__(self, message: str) -> None:
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message)))


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
    # Both endpoints: Completions about 80 requests and 300 completion tokens, chat at most 70 and 2,500, with
    # room for reruns and retries (providers.yaml's vendors have the same).
    requests: int = 220
    completion_tokens: int = 8000


@dataclass(frozen=True)
class Header:
    """One extra request header (routing, attribution): a literal value, or one read from an environment variable.

    A value from the environment is treated as a secret: it is redacted like a key everywhere relaycheck writes.
    """

    name: str
    value: str | None = None
    env: str | None = None


@dataclass(frozen=True)
class HeaderValue:
    name: str
    value: str
    secret: bool  # read from the environment: redacted like the key


@dataclass(frozen=True)
class EndpointSettings:
    """What a provider sells on one endpoint: the model certified there, and what is known of that model."""

    model: str
    # Whose tokenizer counts this model's tokens: "auto" (by model name, OpenAI's table), an encoding name, or None
    # ("none" in the file: token-exact checks are skipped).
    tokenizer: str | None = "auto"
    # Cheaper models the same provider serves: the claimed model's fingerprint must differ from the first one's.
    cheaper_models: tuple[str, ...] = ()
    # The model's context window in tokens, when the vendor states it: the context-overflow probe (about one
    # context of prompt tokens) runs only then.
    context_length: int | None = None


@dataclass(frozen=True)
class Provider:
    name: str
    model: str = DEFAULT_MODEL
    base_url: str | None = None  # None only for the embedded reference provider
    api_key_env: str | None = None
    auth: str = "bearer"  # one of AUTH_SCHEMES: how the key is presented
    headers: tuple[Header, ...] = ()  # extra request headers, sent with every request
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
    # Whose tokenizer counts this provider's tokens: "auto" (by model name, OpenAI's table), an encoding name,
    # or None ("none" in the file: token-exact checks are skipped).
    tokenizer: str | None = "auto"
    # Cheaper models the same provider serves: the claimed model's fingerprint must differ from the first one's.
    cheaper_models: tuple[str, ...] = ()
    # The model's context window in tokens, when the vendor states it: the context-overflow probe (about one
    # context of prompt tokens) runs only then. The embedded reference states its own.
    context_length: int | None = None
    # The chat model it sells (providers.yaml `chat:`); the fields above are its Completions model's.
    chat: EndpointSettings | None = None
    # The endpoints certified. A provider stating no chat section is certified on Completions alone.
    endpoints: tuple[Endpoint, ...] = (Endpoint.COMPLETIONS,)
    # True when nobody stated which endpoints the provider serves (an ad-hoc --base-url run without --endpoint):
    # an endpoint found not served is then reported as such, not failed; one stated and not served fails.
    discover_endpoints: bool = False

    def settings(self, endpoint: Endpoint) -> EndpointSettings:
        """What the provider sells on ``endpoint`` (chat: its chat section, else the default chat model)."""
        if endpoint is Endpoint.CHAT:
            return self.chat or EndpointSettings(DEFAULT_CHAT_MODEL)
        return EndpointSettings(self.model, self.tokenizer, self.cheaper_models, self.context_length)

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) if self.api_key_env else None

    def header_values(self, environ: Mapping[str, str] | None = None) -> tuple[HeaderValue, ...] | str:
        """The extra headers to send, or why they cannot be sent (an environment variable not set or unusable)."""
        env = os.environ if environ is None else environ
        values = []
        for header in self.headers:
            if header.env is None:
                values.append(HeaderValue(header.name, header.value or "", secret=False))
                continue
            value = env.get(header.env)
            if not value:
                return f"header not set: export {header.env}=<value> (header {header.name}) to certify {self.name}"
            if _bad_header_value(value):
                return f"the value of {header.env} (header {header.name}) is not printable ASCII: not sent"
            values.append(HeaderValue(header.name, value, secret=True))
        return tuple(values)

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
_CHAT_KEYS = {"model", "tokenizer", "cheaper_models", "context_length"}


def load_providers(path: Path) -> ProvidersFile:
    where = _clip(str(path))
    too_big = f"{where}: file is larger than {MAX_CONFIG_BYTES} bytes; is it the right file?"
    try:
        if path.is_dir():
            raise ConfigError(f"{where}: is a directory, not a providers file")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(too_big)
        with path.open("rb") as handle:  # bounded read: a FIFO or /dev/zero reports size 0
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(too_big)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start}); is it the right file?") from None
    return parse_providers(_load_yaml(text, where), where, base_dir=path.parent)


def _load_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load``, refusing documents whose alias-expanded size or nesting is hostile."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # rejects non-printable characters here already
        node = loader.get_single_node()
        if node is None:
            return None
        _check_node_size(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"{where}: line {mark.line + 1}" if mark else where
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] or "invalid YAML"
        raise ConfigError(f"{loc}: not valid YAML: {_clip(problem)}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_node_size(root: yaml.Node, where: str) -> None:
    """Count nodes as a loader would build them (an alias counts again at each use), without building them."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int, path: frozenset[int]) -> int:
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{where}: YAML nested more than {MAX_YAML_DEPTH} levels deep; refused")
        if id(node) in path:
            raise ConfigError(f"{where}: YAML refers to itself through an alias; refused")
        if id(node) in sizes:
            return sizes[id(node)]
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1, path | {id(node)}) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1, path | {id(node)}) + size(v, depth + 1, path | {id(node)})
                         for k, v in node.value)
        if total > MAX_YAML_NODES:
            raise ConfigError(f"{where}: YAML expands to more than {MAX_YAML_NODES} values (aliases); refused")
        sizes[id(node)] = total
        return total

    size(root, 0, frozenset())


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
        if key in (*_SECTIONS, "headers", "chat") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _default(name: str) -> Any:
    """A provider field's default, as the dataclass states it: the one place provider defaults are written."""
    (found,) = (f.default for f in fields(Provider) if f.name == name)
    return found


def _parse_provider(entry: dict[str, Any], label: str, base_dir: Path | None) -> Provider:
    allowed = {f.name for f in fields(Provider)} - {"discover_endpoints"}  # the command line's, not the file's
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
    if api_key_env is not None:
        _check_env_name(api_key_env, f"{label}: field 'api_key_env'")
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
    auth = _get(entry, "auth", str, label, default=_default("auth"))
    if auth not in AUTH_SCHEMES:
        raise ConfigError(f"{label}: field 'auth' must be 'bearer' (Authorization: Bearer) or 'api-key' (an api-key "
                          f"header, as Azure OpenAI), not {_show(auth)}")
    if embedded and auth != "bearer":
        raise ConfigError(f"{label}: field 'auth': the embedded reference provider takes its key as a Bearer token")
    return Provider(
        name=name,
        model=_get(entry, "model", str, label, default=_default("model")),
        base_url=base_url.rstrip("/") if base_url else None,
        api_key_env=api_key_env,
        auth=auth,
        headers=_headers(entry, label),
        embedded=embedded,
        quirks=tuple(quirks),
        timeouts=_section(entry, "timeouts", label),
        limits=_section(entry, "limits", label),
        budget=_section(entry, "budget", label),
        concurrency=_at_most(_positive_int(entry, "concurrency", label, _default("concurrency")), MAX_CONCURRENCY,
                             "concurrency", label),
        rate_limit=None if rate_limit is None else _positive(float(rate_limit), "rate_limit", label),
        retries=_at_most(_non_negative_int(entry, "retries", label, _default("retries")), MAX_RETRIES, "retries",
                         label),
        property_examples=_non_negative_int(entry, "property_examples", label, _default("property_examples")),
        expectations=expectations_path,
        tokenizer=_tokenizer(entry, label),
        cheaper_models=_cheaper_models(entry, label),
        context_length=_context_length(entry, label, embedded),
        **_endpoints(entry, label, embedded),
    )


def _endpoints(entry: dict[str, Any], label: str, embedded: bool) -> dict[str, Any]:
    """``chat: {model, tokenizer, cheaper_models, context_length}`` and ``endpoints: [completions, chat]``.

    Without ``endpoints``, a provider is certified on Completions, and on chat too when it has a chat section.
    """
    chat = _chat(entry, label, embedded)
    names = _get(entry, "endpoints", list, label)
    if names is None:
        return {"chat": chat, "endpoints": (Endpoint.COMPLETIONS, *((Endpoint.CHAT,) if chat else ()))}
    endpoints = []
    for name in names:
        try:
            endpoints.append(Endpoint.parse(name if isinstance(name, str) else repr(name)))
        except ValueError as exc:
            raise ConfigError(f"{label}: field 'endpoints': {exc}") from None
    if not endpoints:
        raise ConfigError(f"{label}: field 'endpoints' must name at least one of completions, chat")
    if Endpoint.CHAT in endpoints and chat is None and not embedded:
        raise ConfigError(f"{label}: field 'endpoints' lists chat: state the chat model it sells, e.g. "
                          f"chat: {{model: {DEFAULT_CHAT_MODEL}}}")
    return {"chat": chat, "endpoints": tuple(dict.fromkeys(endpoints))}


def _chat(entry: dict[str, Any], label: str, embedded: bool) -> EndpointSettings | None:
    raw = entry.get("chat")
    if raw is None:
        return None
    where = f"{label}: field 'chat'"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, e.g. chat: {{model: {DEFAULT_CHAT_MODEL}}}")
    _reject_unknown(raw, _CHAT_KEYS, where)
    return EndpointSettings(
        model=_get(raw, "model", str, where, required=True),
        tokenizer=_tokenizer(raw, where),
        cheaper_models=_cheaper_models(raw, where),
        context_length=_context_length(raw, where, embedded),
    )


def _cheaper_models(entry: dict[str, Any], label: str) -> tuple[str, ...]:
    names = _get(entry, "cheaper_models", list, label, default=[])
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"{label}: field 'cheaper_models' must be a list of model names, not {_show(names)}")
    return tuple(names)


def _tokenizer(entry: dict[str, Any], label: str) -> str | None:
    """``tokenizer: auto | none | cl100k_base | o200k_base``."""
    value = _get(entry, "tokenizer", str, label, default="auto")
    if value == "none":
        return None
    allowed = {"auto", *KNOWN_ENCODINGS}
    if value not in allowed:
        raise ConfigError(f"{label}: field 'tokenizer' must be 'auto' (by model name), 'none' or one of "
                          f"{', '.join(KNOWN_ENCODINGS)}, not {_show(value)}{_suggest(value[:200], allowed)}")
    return value


def _context_length(entry: dict[str, Any], label: str, embedded: bool) -> int | None:
    """``context_length: N`` tokens (at least 16), as the vendor states it; the embedded reference knows its own."""
    if entry.get("context_length") is None:
        return REFERENCE_CONTEXT_LENGTH if embedded else None
    value = _positive_int(entry, "context_length", label, default=0)
    if value < MIN_CONTEXT_LENGTH:
        raise ConfigError(f"{label}: field 'context_length' must be at least {MIN_CONTEXT_LENGTH} tokens")
    return _at_most(value, MAX_CONTEXT_LENGTH, "context_length", label)


def _headers(entry: dict[str, Any], label: str) -> tuple[Header, ...]:
    """``headers: {Name: "literal", Other: {env: VARIABLE}}``, each validated where it is written."""
    raw = entry.get("headers")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError(f"{label}: field 'headers' must be a mapping of header name to value, not {_show(raw)}")
    headers: list[Header] = []
    seen: set[str] = set()
    for name, value in raw.items():
        where = f"{label}: field 'headers.{_clip(str(name), 80)}'"
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            raise ConfigError(f"{where}: {_show(name)} is not a valid header name (letters, digits, !#$%&'*+.^_`|~-)")
        if name.lower() in RESERVED_HEADERS:
            hint = " (the key is sent by api_key_env and auth)" if name.lower() in ("authorization", "api-key") else ""
            raise ConfigError(f"{where}: relaycheck sets this header itself{hint}")
        if name.lower() in seen:
            raise ConfigError(f"{where}: header given twice (header names are case-insensitive)")
        seen.add(name.lower())
        headers.append(_header(name, value, where))
    return tuple(headers)


def _header(name: str, value: Any, where: str) -> Header:
    if isinstance(value, dict):
        _reject_unknown(value, {"env"}, where)
        env = value.get("env")
        if not isinstance(env, str):
            raise ConfigError(f"{where}: 'env' must name an environment variable, not {type(env).__name__}")
        _check_env_name(env, where, "'env' must name an environment variable")
        return Header(name, env=env)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{where}: must be a string or {{env: VARIABLE}}, not {type(value).__name__} {_show(value)}")
    text = str(value)
    if looks_like_key(text):  # a literal value is written in reports as it is; a secret must come from {env: …}
        raise ConfigError(f"{where}: the value looks like a key; read it from the environment with {{env: VARIABLE}} "
                          "(the value is not repeated here)")
    if _bad_header_value(text):
        raise ConfigError(f"{where}: the value must be printable ASCII, at most "
                          f"{MAX_HEADER_VALUE} characters")
    return Header(name, value=text)


def _bad_header_value(value: str) -> bool:
    """Not sendable as-is: too long, not ASCII (httpx encodes header values as ASCII), or with control characters."""
    return len(value) > MAX_HEADER_VALUE or not value.isascii() or any(not c.isprintable() for c in value)


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
        if (isinstance(value, bool) or not isinstance(value, int if whole else (int, float))
                or (isinstance(value, float) and not math.isfinite(value))):
            kind_name = "a whole number" if whole else "a finite number"
            raise ConfigError(f"{label}: field '{key}.{f.name}' must be {kind_name}, not {_show(value)}")
        kind = int if whole else float
        values[f.name] = _positive(kind(value), f"{key}.{f.name}", label)
    return cls(**values)


def looks_like_key(value: str) -> bool:
    """Whether ``value`` looks like an API key rather than a name: a known key prefix followed by a long mixed
    token, or a long high-entropy token (variable names are words: upper case, underscores, few digits)."""
    value = value.strip()
    prefix = KEY_PREFIX_RE.match(value)
    if prefix:
        rest = value[prefix.end():]
        if len(rest) >= 16 and _mixed(rest):
            return True
    longest = max((len(part) for part in re.split(r"[-_.]", value)), default=0)
    return len(value) >= 24 and longest >= 16 and _mixed(value) and _entropy(value) >= 3.5


def _mixed(text: str) -> bool:
    """Lower-case letters with upper-case letters or digits: a token, not a variable name."""
    return any(c.islower() for c in text) and (any(c.isupper() for c in text) or any(c.isdigit() for c in text))


def _entropy(text: str) -> float:
    counts = {c: text.count(c) for c in set(text)}
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _check_env_name(value: str, where: str, not_a_name: str = "is not an environment variable name") -> None:
    """A field that names an environment variable: never repeats a value that is not one (it may be the key)."""
    if looks_like_key(value):
        raise ConfigError(f"{where}: the value looks like an API key, not the name of the environment variable "
                          "holding it; put the key in a variable (export NAME=…) and write NAME here (the value "
                          "is not repeated here)")
    if not ENV_RE.match(value):
        raise ConfigError(f"{where}: {not_a_name} (letters, digits and '_', not starting with a digit; the value "
                          "is not repeated here, in case it is a key)")


_URL_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:/*)([^/?#]*@)")
_URL_QUERY = re.compile(r"([?#]).*$", re.DOTALL)


def masked_url(url: str) -> str:
    """A URL as messages show it: credentials (user:password@) and query or fragment (``?key=…``) masked."""
    url = _URL_USERINFO.sub(r"\1***@", url)
    return _URL_QUERY.sub(r"\1***", url)


def _check_url(url: str, label: str) -> None:
    import httpx  # the client's own parser: what it cannot use is refused here, not mid-run

    shown = _clip(masked_url(url))
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"{label}: '{shown}' is not a valid URL: {_clip(_masked_in(str(exc), url))}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label}: '{shown}' is not an http(s) URL")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError(f"{label}: '{shown}' contains spaces or control characters")
    try:
        if not httpx.URL(url).host:  # .host is where idna decoding fails
            raise ValueError("no host")
    except Exception as exc:  # noqa: BLE001 - httpx.InvalidURL, idna errors…
        raise ConfigError(f"{label}: '{shown}' is not a valid URL: {_clip(_masked_in(str(exc), url))}") from None
    url = shown
    if parts.query or parts.fragment:
        raise ConfigError(f"{label}: '{url}' must not have a query or fragment")
    if parts.username or parts.password:
        raise ConfigError(f"{label}: '{url}' must not carry credentials (masked here); put the key in the "
                          "api_key_env variable")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{label}: '{url}' has an invalid port") from None


def _masked_in(message: str, url: str) -> str:
    """A parser's message about ``url``, with the URL's secret parts masked wherever it quotes them."""
    parts = _URL_USERINFO.match(url)
    if parts:
        message = message.replace(parts.group(2), "***@").replace(parts.group(2)[:-1], "***")
    query = _URL_QUERY.search(url)
    if query and len(query.group()) > 1:
        message = message.replace(query.group()[1:], "***")
    return message


def _reject_unknown(raw: dict[str, Any], allowed: set[str], label: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{label}: unknown field '{_clip(str(key))}'{_suggest(str(key)[:200], allowed)}")


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def _show(value: Any) -> str:
    """A value for an error message: bounded however large or nested it is."""
    return _REPR.repr(value)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


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
        raise ConfigError(f"{label}: field '{key}' must be {names}, not {type(value).__name__} {_show(value)}")
    return value


_KIND_NAMES = {str: "a string", bool: "true or false", list: "a list", int: "a number", float: "a number"}


def _positive(value: float, key: str, label: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{label}: field '{key}' must be a finite number")
    if value <= 0:
        raise ConfigError(f"{label}: field '{key}' must be greater than 0")
    return value


def _positive_int(entry: dict[str, Any], key: str, label: str, default: int) -> int:
    value = _non_negative_int(entry, key, label, default)
    return int(_positive(value, key, label))


def _at_most(value: int, limit: int, key: str, label: str) -> int:
    if value > limit:
        raise ConfigError(f"{label}: field '{key}' must be at most {limit}")
    return value


def _non_negative_int(entry: dict[str, Any], key: str, label: str, default: int) -> int:
    value = _get(entry, key, int, label, default=default)
    if value < 0:
        raise ConfigError(f"{label}: field '{key}' must not be negative")
    return int(value)


def shipped_providers_file() -> Path:
    """The providers file shipped in the package (package data; in a source checkout a symlink to the repository's
    ``providers.yaml``), so a regular install finds the seed vendors wherever it runs."""
    return Path(__file__).with_name("providers.yaml")


def find_providers_file(explicit: Path | None, cwd: Path | None = None) -> Path:
    """The file named on the command line, else ``./providers.yaml``, else the one shipped with relaycheck."""
    if explicit is not None:
        return explicit
    local = (cwd or Path.cwd()) / "providers.yaml"
    if local.exists():
        return local
    return shipped_providers_file()


# The reference serves gpt-4 and, as "the cheaper model", gpt-3.5-turbo on chat (both cl100k_base, another model
# each): the identity checks have a cheaper model to tell the claimed one from.
REFERENCE_BUDGET = BudgetLimits(400, 20000)  # as providers.yaml's reference: every check, property phase and rerun
REFERENCE_CHAT = EndpointSettings("gpt-4", cheaper_models=("gpt-3.5-turbo",), context_length=REFERENCE_CONTEXT_LENGTH)


def embedded_reference(model: str = DEFAULT_MODEL, quirks: tuple[str, ...] = (),
                       endpoints: tuple[Endpoint, ...] = tuple(Endpoint)) -> Provider:
    """The built-in reference provider, used when no providers file is needed (``relaycheck run``)."""
    return Provider(name="reference", embedded=True, model=model, quirks=quirks, concurrency=8, property_examples=40,
                    cheaper_models=("babbage-002",), context_length=REFERENCE_CONTEXT_LENGTH, chat=REFERENCE_CHAT,
                    endpoints=endpoints, budget=REFERENCE_BUDGET)
