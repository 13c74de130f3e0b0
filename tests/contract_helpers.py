"""What the contracts' tests share (tests/test_contract.py, tests/test_chat_contract.py).

Reading the official excerpts in tests/fixtures/official/ and comparing the contracts' schemas with them; building
the responses schemathesis validates against a contract.

An excerpt is YAML fragments of OpenAI's openapi.yaml, each under a ``# ---- <what> (lines a-b) ----`` header.
:func:`normalise` turns a 3.0 (``nullable``) or 3.1 (null types) schema into one comparable shape, so the
contracts' schemas can be held to the official ones field by field (tests/test_contract.py, test_chat_contract.py).
"""

from __future__ import annotations

import json
import pathlib
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import jsonschema
import requests
import yaml
from schemathesis import Response

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "official"

_HEADER = re.compile(r"^# ---- (?P<title>.+?) ----\s*$", re.MULTILINE)
_LINES = re.compile(r" \(lines \d+-\d+\)$")

ABSENT = "<absent>"
_COMPARED = ("minimum", "maximum", "minItems", "maxItems", "format", "const")


def excerpt_sections(path: pathlib.Path) -> dict[str, str]:
    """Title -> YAML text of every section of the excerpt at ``path``."""
    text = path.read_text(encoding="utf-8")
    headers = list(_HEADER.finditer(text))
    assert headers, f"no '# ---- ... ----' section headers in {path.name}"
    return {
        match.group("title"): text[match.end() : nxt.start() if nxt else len(text)]
        for match, nxt in zip(headers, [*headers[1:], None], strict=True)
    }


def parsed_section(body: str) -> Any:
    return yaml.safe_load(textwrap.dedent(body))


def official_schemas(path: pathlib.Path) -> dict[str, Any]:
    """components.schemas of the excerpt, merged from every 'components.schemas' section."""
    schemas: dict[str, Any] = {}
    for title, body in excerpt_sections(path).items():
        if not title.startswith("components.schemas"):
            continue
        parsed = parsed_section(body)
        assert isinstance(parsed, dict), title
        # A fragment ends with the (empty) key that follows it in the full file; drop those.
        schemas.update({name: schema for name, schema in parsed.items() if schema is not None})
    return schemas


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Merge a local components/schemas $ref into its siblings (3.1 allows siblings of $ref)."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    target = defs[ref.rsplit("/", 1)[-1]]
    merged = dict(_resolve(target, defs))
    merged.update({k: v for k, v in schema.items() if k != "$ref"})
    return merged


def types_of(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()
    return set(declared) if isinstance(declared, list) else {declared}


def normalise(schema: dict[str, Any], defs: dict[str, Any], hoist: bool = False) -> dict[str, Any]:
    """Types, nullability, bounds, defaults, enum, items, properties and branches of a schema.

    3.0 ``nullable: true``, a 3.1 ``"null"`` in ``type``, a ``{type: "null"}`` branch, a nullable
    branch and ``None`` in ``enum`` all become ``nullable: True`` on the schema. A 3.0-era
    ``default: null`` on a non-null branch is hoisted to the schema (in 3.1 it belongs there).
    ``example``/``description`` and ``x-`` annotations are ignored. With ``hoist``, a schema that is only
    one non-null branch (``anyOf: [X, null]``, ``oneOf: [X]``) is that branch, nullable if it was: the chat
    document wraps components that way where the contract refers to them directly, and the other way round.
    """
    schema = _resolve(schema, defs)
    types = types_of(schema)
    nullable = bool(schema.get("nullable")) or "null" in types
    types.discard("null")
    default = schema.get("default", ABSENT)

    branches = []
    for raw in schema.get("oneOf", []) + schema.get("anyOf", []):
        if _resolve(raw, defs).get("type") == "null":
            nullable = True
            continue
        branch = normalise(raw, defs, hoist)
        nullable = nullable or branch["nullable"]
        if branch["default"] is None and default == ABSENT:
            default = None
        if branch["default"] is None:
            branch["default"] = ABSENT
        branch["nullable"] = False
        branches.append(branch)
    if hoist and len(branches) == 1 and not types and "properties" not in schema and "items" not in schema:
        single = {**branches[0], "nullable": nullable}
        if default != ABSENT and single["default"] == ABSENT:
            single["default"] = default
        return single

    enum = schema.get("enum")
    if enum is not None:
        nullable = nullable or None in enum
        enum = sorted(value for value in enum if value is not None)

    out: dict[str, Any] = {
        "types": sorted(types),
        "nullable": nullable,
        "default": default,
        "enum": enum,
        **{key: schema.get(key, ABSENT) for key in _COMPARED},
        "branches": sorted(branches, key=lambda b: json.dumps(b, sort_keys=True)),
    }
    if isinstance(schema.get("items"), dict):
        out["items"] = normalise(schema["items"], defs, hoist)
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: normalise(v, defs, hoist) for k, v in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), dict):
        # Only the value type: logit_bias also encodes the -100..100 range given in prose.
        out["additionalProperties"] = sorted(types_of(_resolve(schema["additionalProperties"], defs)))
    return out


def keyed_values(node: Any, keys: frozenset[str]) -> Iterator[Any]:
    """Every value held under one of ``keys``, anywhere in a parsed document (a held value is not searched)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys:
                yield value
            else:
                yield from keyed_values(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from keyed_values(item, keys)


def keyword_paths(node: Any, keyword: str, path: str = "#") -> Iterator[str]:
    """The JSON pointer of every object in ``node`` that has ``keyword`` (e.g. 3.0's ``nullable``)."""
    if isinstance(node, dict):
        if keyword in node:
            yield path
        for key, value in node.items():
            yield from keyword_paths(value, keyword, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from keyword_paths(value, keyword, f"{path}/{index}")


def st_response(url: str, status: int, body: bytes | dict[str, Any], content_type: str = "application/json") -> Response:
    """A schemathesis Response to ``POST url``, for ``operation.is_valid_response``."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = requests.Request("POST", url, json={}).prepare()
    return Response(status, {"content-type": [content_type]}, content, request, 0.01, True)


def sse(*payloads: str) -> bytes:
    """A data-only event stream of these payloads."""
    return "".join(f"data: {payload}\n\n" for payload in payloads).encode()


def assert_self_contained(schema: dict[str, Any]) -> None:
    """A schema from ``Contract.schema``: valid draft 2020-12, every $ref pointing into its own $defs."""
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "#/components/" not in json.dumps(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    for ref in re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema)):
        assert ref in schema["$defs"]
