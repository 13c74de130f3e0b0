"""A check's clause, resolved to the official definition it cites, for reports to show inline.

Clauses cite the official OpenAPI document by schema member (``CreateCompletionRequest.logprobs``,
``CreateCompletionResponse.choices[].finish_reason``). The packaged contract (``relaycheck/spec/completions.yaml``)
is relaycheck's copy of those definitions, each member with the official wording (``description``) and what
OpenAI's document says (``x-official``). A page embeds them rather than linking out: it is self-contained, and the
upstream document's address is given as text (:data:`OFFICIAL_SOURCE`) for whoever wants to read it there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from relaycheck.spec import Contract

OFFICIAL_SOURCE = ("https://github.com/openai/openai-openapi/blob/f85dbe223d40e1a31cba812ab2d755c7e98a92a3/"
                   "openapi.yaml")
_MEMBER = re.compile(r"\b([A-Z][A-Za-z]+)((?:\.[a-z_]+(?:\[\])?)+)")
TEXT_LIMIT = 500


@dataclass(frozen=True)
class Definition:
    member: str  # "CreateCompletionRequest.logprobs"
    text: str  # the definition's wording, plain text


def definitions(clause: str, contract: Contract) -> list[Definition]:
    """The contract's definitions of the schema members a clause cites, in the order cited (each once)."""
    schemas = contract.document.get("components", {}).get("schemas", {})
    out: dict[str, Definition] = {}
    for schema, path in _MEMBER.findall(clause):
        member = schema + path
        if member in out or schema not in schemas:
            continue
        node = _member(schemas, schemas[schema], [p.removesuffix("[]") for p in path.strip(".").split(".")])
        text = _text(node)
        if text:
            out[member] = Definition(member, text)
    return list(out.values())


def _member(schemas: dict[str, Any], node: Any, path: list[str]) -> Any:
    for name in path:
        node = _resolve(schemas, node)
        if isinstance(node, dict) and node.get("type") == "array" or isinstance(node, dict) and "items" in node:
            node = _resolve(schemas, node.get("items"))
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict) or name not in props:
            return None
        node = props[name]
    # the member's own wording first (a nullable member carries it next to its anyOf), else its schema's
    return node if isinstance(node, dict) and node.get("description") else _resolve(schemas, node)


def _resolve(schemas: dict[str, Any], node: Any) -> Any:
    for _ in range(8):  # a bounded walk through $ref chains and nullable unions (anyOf: [X, null])
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node = schemas.get(node["$ref"].rsplit("/", 1)[-1])
        elif isinstance(node, dict) and "properties" not in node and isinstance(_union(node), list):
            node = next((o for o in _union(node) if isinstance(o, dict) and o.get("type") != "null"), None)
        else:
            break
    return node


def _union(node: dict[str, Any]) -> Any:
    return node.get("anyOf") or node.get("oneOf")


def _text(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    parts = [str(node[k]).strip() for k in ("description", "x-official") if node.get(k)]
    text = re.sub(r"\s+", " ", " — official: ".join(parts)).strip()
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
