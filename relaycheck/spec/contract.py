"""Load an endpoint's OpenAPI contract (``openapi/completions.yaml``, ``openapi/chat.yaml``) and serve its schemas.

Each document has one operation; the request, response and chunk schemas are the ones that operation names (its
request body, its 200 ``application/json`` body, its 200 ``text/event-stream`` ``x-sse-data-schema``), so the
same :class:`Contract` serves both endpoints.
"""

from __future__ import annotations

import copy
import functools
import pathlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml
from jsonschema.protocols import Validator

from relaycheck.endpoint import Endpoint

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "PAGE_KEYS",
    "Contract",
    "ContractError",
    "Disagreement",
    "Operation",
    "SeedPage",
    "contract_path",
    "default_document_path",
    "load_contract",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMPONENT_PREFIX = "#/components/schemas/"
DEFS_PREFIX = "#/$defs/"

#: The seed relay doc pages, by the key used in ``x-seed-pages`` annotations.
PAGE_KEYS: tuple[str, ...] = ("api4gpt", "gptnb", "xuedingmao")

# How a location in components/schemas is named in a Disagreement.field: properties are joined
# with "." onto this base (request properties have no base: "prompt", "temperature", ...).
_FIELD_BASE: Mapping[str, str] = MappingProxyType(
    {
        "CreateCompletionRequest": "",
        "CreateCompletionResponse": "response",
        "CompletionChoice": "response.choices[]",
        "CompletionUsage": "response.usage",
        "CompletionLogprobs": "response.choices[].logprobs",
        "CreateCompletionChunk": "chunk",
        "CompletionChunkChoice": "chunk.choices[]",
        "ErrorResponse": "error",
        "Error": "error.error",
    }
)


# The packaged document of each endpoint (a symlink to openapi/<name> in a source checkout).
_DOCUMENTS: Mapping[Endpoint, str] = MappingProxyType(
    {Endpoint.COMPLETIONS: "completions.yaml", Endpoint.CHAT: "chat.yaml"}
)


class ContractError(ValueError):
    """The contract document is malformed or a schema name is unknown."""


def contract_path(endpoint: Endpoint) -> pathlib.Path:
    """The packaged contract of ``endpoint`` (a symlink to ``openapi/<name>.yaml`` in a source checkout)."""
    return pathlib.Path(__file__).with_name(_DOCUMENTS[endpoint])


def default_document_path() -> pathlib.Path:
    """The packaged Completions contract, the default of every caller written before chat."""
    return contract_path(Endpoint.COMPLETIONS)


@dataclass(frozen=True)
class Operation:
    """The document's one operation and the components it names."""

    path: str  # "/completions", "/chat/completions"
    method: str  # "post"
    operation_id: str  # "createCompletion", "createChatCompletion"
    request: str  # component of the application/json request body
    response: str  # component of the 200 application/json body
    chunk: str | None  # component of one SSE data payload (x-sse-data-schema), None if the operation never streams


@dataclass(frozen=True)
class Disagreement:
    """Where a seed doc page disagrees with another page or with the official definition."""

    field: str  # e.g. "prompt", "temperature", "response.usage", "auth"
    pages: Mapping[str, str]  # page key -> what the page says
    enforced: str  # the reading relaycheck enforces
    why: str  # one sentence citing the official clause


@dataclass(frozen=True)
class SeedPage:
    """One seed relay doc page, from ``info.x-seed-pages``."""

    key: str
    title: str
    url: str
    endpoint: str
    seed: str


def _component_name(node: Any, where: str) -> str:
    ref = node.get("$ref") if isinstance(node, Mapping) else None
    if not isinstance(ref, str) or not ref.startswith(COMPONENT_PREFIX):
        raise ContractError(f"{where} is not a components/schemas $ref")
    return ref[len(COMPONENT_PREFIX) :]


def _operation(document: Mapping[str, Any]) -> Operation:
    found = [
        (path, method, op)
        for path, item in (document.get("paths") or {}).items()
        if isinstance(item, Mapping)
        for method, op in item.items()
        if isinstance(op, Mapping) and "operationId" in op
    ]
    if len(found) != 1:
        raise ContractError(f"a contract has exactly one operation, this one has {len(found)}")
    path, method, op = found[0]
    where = f"{method.upper()} {path}"
    try:
        body = op["requestBody"]["content"]["application/json"]["schema"]
        ok = op["responses"]["200"]["content"]
        json_body = ok["application/json"]["schema"]
    except (KeyError, TypeError):
        raise ContractError(f"{where} lacks a JSON request body or a 200 application/json response") from None
    stream = ok.get("text/event-stream")
    return Operation(
        path=path,
        method=method,
        operation_id=op["operationId"],
        request=_component_name(body, f"{where} request body"),
        response=_component_name(json_body, f"{where} 200 application/json"),
        chunk=_component_name(stream["x-sse-data-schema"], f"{where} x-sse-data-schema") if stream else None,
    )


def _walk_refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _walk_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_refs(item)


def _rewrite_refs(node: Any) -> Any:
    """Deep-copy ``node``, pointing ``#/components/schemas/X`` refs at ``#/$defs/X``."""
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(COMPONENT_PREFIX):
                out[key] = DEFS_PREFIX + value[len(COMPONENT_PREFIX) :]
            else:
                out[key] = _rewrite_refs(value)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


class Contract:
    """The parsed contract. ``document`` is the raw OpenAPI document; treat it as read-only."""

    def __init__(self, document: dict[str, Any], path: pathlib.Path | None = None) -> None:
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
            raise ContractError("not an OpenAPI 3.1 document")
        schemas = document.get("components", {}).get("schemas")
        if not isinstance(schemas, dict):
            raise ContractError("document has no components/schemas")
        self.document = document
        self.path = path
        self._operation: Operation | None = None
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Validator] = {}

    def __repr__(self) -> str:
        return f"Contract(path={str(self.path)!r})"

    # -- the operation -------------------------------------------------------------------------

    @property
    def operation(self) -> Operation:
        """The document's one operation (read once, on first use)."""
        if self._operation is None:
            self._operation = _operation(self.document)
        return self._operation

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint whose path the operation is (``/chat/completions`` is :attr:`Endpoint.CHAT`)."""
        for endpoint in Endpoint:
            if self.operation.path == f"/{endpoint.path}":
                return endpoint
        raise ContractError(f"{self.operation.path!r} is no endpoint relaycheck certifies")

    # -- schemas -------------------------------------------------------------------------------

    @property
    def schema_names(self) -> list[str]:
        return list(self.document["components"]["schemas"])

    def _component(self, name: str) -> dict[str, Any]:
        try:
            return self.document["components"]["schemas"][name]
        except KeyError:
            raise ContractError(f"no schema named {name!r} in components/schemas") from None

    def _dependencies(self, name: str) -> list[str]:
        """Names of components transitively referenced from ``name`` (excluding itself), in order."""
        seen: dict[str, None] = {}
        stack = [name]
        while stack:
            current = stack.pop()
            for ref in _walk_refs(self._component(current)):
                if not ref.startswith(COMPONENT_PREFIX):
                    raise ContractError(f"unsupported $ref {ref!r} in schema {current!r}")
                target = ref[len(COMPONENT_PREFIX) :]
                if target != name and target not in seen:
                    seen[target] = None
                    stack.append(target)
        return list(seen)

    def _built_schema(self, name: str) -> dict[str, Any]:
        built = self._schemas.get(name)
        if built is None:
            body = _rewrite_refs(self._component(name))
            built = {"$schema": JSON_SCHEMA_DIALECT, **body}
            defs = {dep: _rewrite_refs(self._component(dep)) for dep in self._dependencies(name)}
            if name in {ref[len(COMPONENT_PREFIX) :] for ref in _walk_refs(self._component(name))}:
                defs[name] = _rewrite_refs(self._component(name))  # self-recursive schema
            if defs:
                built["$defs"] = defs
            jsonschema.Draft202012Validator.check_schema(built)
            self._schemas[name] = built
        return built

    def schema(self, name: str) -> dict[str, Any]:
        """A self-contained draft 2020-12 JSON Schema for ``components/schemas/<name>``.

        The component's own keywords are at the top level; every component it references is
        copied into ``$defs`` and ``$ref`` values point there. A fresh copy is returned each time.
        """
        return copy.deepcopy(self._built_schema(name))

    def validator(self, name: str) -> Validator:
        """A cached ``Draft202012Validator`` for :meth:`schema` ``(name)``."""
        validator = self._validators.get(name)
        if validator is None:
            validator = jsonschema.Draft202012Validator(self._built_schema(name))
            self._validators[name] = validator
        return validator

    @property
    def request_schema(self) -> dict[str, Any]:
        return self.schema(self.operation.request)

    @property
    def response_schema(self) -> dict[str, Any]:
        return self.schema(self.operation.response)

    @property
    def chunk_schema(self) -> dict[str, Any]:
        if self.operation.chunk is None:
            raise ContractError(f"{self.operation.operation_id} declares no text/event-stream x-sse-data-schema")
        return self.schema(self.operation.chunk)

    @property
    def error_schema(self) -> dict[str, Any]:
        return self.schema("ErrorResponse")

    def _inline(self, node: Any, trail: tuple[str, ...] = ()) -> Any:
        """Deep-copy ``node`` with component refs replaced by the component (sibling keys kept)."""
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
                target = ref[len(COMPONENT_PREFIX) :]
                if target in trail:
                    return copy.deepcopy(dict(node))  # recursion: leave the ref in place
                merged = dict(self._inline(self._component(target), (*trail, target)))
                merged.update({k: self._inline(v, trail) for k, v in node.items() if k != "$ref"})
                return merged
            return {k: self._inline(v, trail) for k, v in node.items()}
        if isinstance(node, list):
            return [self._inline(item, trail) for item in node]
        return node

    def request_fields(self) -> dict[str, dict[str, Any]]:
        """Property name -> schema of the request body's component, with component refs inlined."""
        name = self.operation.request
        properties = self._component(name).get("properties", {})
        return {field: self._inline(prop, (name,)) for field, prop in properties.items()}

    @property
    def required_request_fields(self) -> list[str]:
        return list(self._component(self.operation.request).get("required", []))

    # -- seed-page annotations -----------------------------------------------------------------

    def disagreements(self) -> list[Disagreement]:
        """Every ``x-seed-pages`` annotation under ``components``, in document order."""
        found: list[Disagreement] = []
        components = self.document.get("components", {})
        for name, scheme in components.get("securitySchemes", {}).items():
            if isinstance(scheme, Mapping) and "x-seed-pages" in scheme:
                found.append(self._disagreement("auth" if name == "ApiKeyAuth" else name, scheme))
        for name, schema in components.get("schemas", {}).items():
            self._collect(schema, _FIELD_BASE.get(name, name), found)
        return found

    def _collect(self, node: Any, field: str, found: list[Disagreement]) -> None:
        if not isinstance(node, Mapping):
            return
        if "x-seed-pages" in node:
            found.append(self._disagreement(field or "request", node))
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            for prop, sub in properties.items():
                self._collect(sub, f"{field}.{prop}" if field else prop, found)

    @staticmethod
    def _disagreement(field: str, node: Mapping[str, Any]) -> Disagreement:
        pages = node["x-seed-pages"]
        if not isinstance(pages, Mapping) or not all(isinstance(v, str) for v in pages.values()):
            raise ContractError(f"x-seed-pages on {field!r} must map page keys to strings")
        unknown = set(pages) - set(PAGE_KEYS)
        if unknown:
            raise ContractError(f"x-seed-pages on {field!r} has unknown page keys {sorted(unknown)}")
        try:
            enforced, why = node["x-enforced"], node["x-why"]
        except KeyError as exc:
            raise ContractError(f"x-seed-pages on {field!r} lacks {exc.args[0]}") from None
        return Disagreement(field=field, pages=MappingProxyType(dict(pages)), enforced=enforced, why=why)

    def disagreement(self, field: str) -> Disagreement:
        for item in self.disagreements():
            if item.field == field:
                return item
        raise KeyError(field)

    def seed_pages(self) -> dict[str, SeedPage]:
        """The seed pages listed in ``info.x-seed-pages``, by page key."""
        raw = self.document.get("info", {}).get("x-seed-pages", {})
        return {
            key: SeedPage(key=key, title=v["title"], url=v["url"], endpoint=v["endpoint"], seed=v["seed"])
            for key, v in raw.items()
        }


@functools.lru_cache(maxsize=8)
def _load(resolved: pathlib.Path) -> Contract:
    with resolved.open(encoding="utf-8") as fh:
        document = yaml.safe_load(fh)
    return Contract(document, resolved)


def load_contract(path: pathlib.Path | None = None, *, endpoint: Endpoint | None = None) -> Contract:
    """Parse the contract at ``path``, or the packaged one of ``endpoint`` (default: Completions), cached per path."""
    if path is not None and endpoint is not None:
        raise ValueError("load_contract takes a path or an endpoint, not both")
    return _load(pathlib.Path(path or contract_path(endpoint or Endpoint.COMPLETIONS)).resolve())
