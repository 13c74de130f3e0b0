"""Constrained generation: a JSON value that validates against a JSON Schema, its free parts drawn from the model.

Used for tool-call arguments and for ``response_format`` ``json_schema``/``json_object`` content. The structure
(objects, keys, arrays, quotes) follows the schema; what a real model would choose comes from the reference model,
so answers differ from model to model (a salted model picks other words, enum items and numbers) and, at
temperature 0, never between calls:

- a string is up to :data:`STRING_TOKENS` tokens the model writes on from the conversation (and the strings written
  before it, so two strings differ), printable ASCII kept, cut at a quote or a line break, without leading or
  trailing punctuation (the key itself when nothing is left), fitted to minLength/maxLength;
- an enum item (and a boolean, ``true``/``false``) is the one whose first token the model likes best;
- a number or integer is derived from the token the model would write next, within minimum/maximum (a decimal
  strictly inside exclusive bounds).

Keywords served: ``type`` (one or a list), ``properties``, ``required``, ``additionalProperties``, ``items``,
``prefixItems``, ``minItems``/``maxItems``, ``enum``, ``const``, ``anyOf``/``oneOf`` (the first branch that is
not ``null``), ``allOf`` (merged), ``$ref`` into ``$defs``/``definitions``, ``minLength``/``maxLength``,
``minimum``/``maximum`` (exclusive too), ``multipleOf`` for integers, and the ``date``, ``date-time``, ``time``,
``email``, ``uuid`` and ``uri`` formats. Every property an object defines is written (strict schemas require them
all; for others it is allowed), so the output validates against the whole schema. A schema that needs what the
generator cannot promise (:data:`UNSERVED_KEYWORDS`, or ``uniqueItems`` with ``minItems`` above 1) is refused when
the request is validated (:func:`unserved_keyword`), never answered with JSON that fails it.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from relaycheck.server.model import NGramModel, Sampling

STRING_TOKENS = 4
ARRAY_DEPTH = 3  # deeper arrays get only their minItems: recursive schemas ($ref to themselves) end
MAX_DEPTH = 32  # a schema that recurses through required members alone has no finite value: stop with null
DEFAULT_SPAN = 100  # integers without bounds lie in 0..99
_PRINTABLE = re.compile(r"[^ -~]")
_LEADING = " .,;:!?-"  # what a value does not start or end with
_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
}
UNSERVED_KEYWORDS = (
    "pattern", "patternProperties", "propertyNames", "not", "if", "then", "else", "dependentSchemas",
    "dependentRequired", "contains", "minContains", "maxContains", "minProperties", "maxProperties",
    "unevaluatedProperties", "unevaluatedItems",
)
JSON_OBJECT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}  # what json_object mode writes: an object with one answer


class JsonGenerator:
    """One generation: the model, the context it continues (the conversation's content) and how to sample."""

    def __init__(
        self, model: NGramModel, context: Sequence[int], sampling: Sampling, rng: random.Random,
        root: Mapping[str, Any],
    ) -> None:
        self.model = model
        self.context = list(context)
        self.sampling = sampling
        self.rng = rng
        self.root = root

    def text(self) -> str:
        """The value for the root schema as compact JSON (``{"a":1}``, the way OpenAI's models write arguments)."""
        return json.dumps(self.value(self.root, "value", 0), ensure_ascii=False, separators=(",", ":"))

    # -- schema walking --------------------------------------------------------------------------

    def _resolve(self, schema: Any) -> Any:
        for _ in range(16):  # a $ref to a $ref to ...: the chain is short in any real schema
            ref = schema.get("$ref") if isinstance(schema, Mapping) else None
            if not isinstance(ref, str):
                return schema
            target: Any = self.root
            for part in ref.removeprefix("#").strip("/").split("/") if ref != "#" else ():
                target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(
                    target, Mapping) else {}
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def value(self, schema: Any, hint: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return None
        schema = self._resolve(schema)
        if schema is True or not isinstance(schema, Mapping):
            schema = {"type": "string"}
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.choose(schema["enum"], hint)
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                resolved = [self._resolve(b) for b in branches]
                pick = next((b for b in resolved if not (isinstance(b, Mapping) and b.get("type") == "null")),
                            resolved[0])
                rest = {k: v for k, v in schema.items() if k != key}
                return self.value({**rest, **pick} if isinstance(pick, Mapping) else pick, hint, depth)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self._resolve(part)
                if isinstance(part, Mapping):
                    merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
                    merged["required"] = [*merged.get("required", []), *part.get("required", [])]
                    merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
            return self.value(merged, hint, depth)
        kind = _type_of(schema)
        if kind == "null":
            return None
        if kind == "boolean":
            return self.choose([True, False], hint)
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema) if "multipleOf" not in schema else self.integer(schema)
        if kind == "array":
            return self.array(schema, hint, depth)
        if kind == "object":
            return self.object(schema, depth)
        return self.string(schema, hint)

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            required = [k for k in schema.get("required") or [] if isinstance(k, str)]
            return {k: self.value({}, k, depth + 1) for k in required}
        return {key: self.value(sub, key, depth + 1) for key, sub in properties.items()}

    def array(self, schema: Mapping[str, Any], hint: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
        minimum = int(schema.get("minItems", 0) or 0)
        maximum = schema.get("maxItems")
        count = max(minimum, len(prefix), 1 if maximum is None or maximum >= 1 else 0)
        if depth >= ARRAY_DEPTH:
            count = max(minimum, len(prefix))
        items = schema.get("items", {})
        out = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            out.append(self.value(sub, f"{hint} {i + 1}" if i else hint, depth + 1))
        return out

    # -- drawing from the model ------------------------------------------------------------------

    def _after(self, hint: str) -> list[int]:
        return self.context + self.model.tokenizer.encode(f" {hint}:")

    def choose(self, items: Sequence[Any], hint: str) -> Any:
        """The item whose text's first token the model likes best (sampled at a temperature above 0)."""
        context = self._after(hint)
        scores = []
        for item in items:
            text = item if isinstance(item, str) else json.dumps(item)
            ids = self.model.tokenizer.encode(" " + text)
            step = self.model.step(context, self.sampling, self.rng, {}, force=ids[0] if ids else None)
            scores.append(step.logprob)
        if self.sampling.temperature <= 0:
            return items[max(range(len(items)), key=lambda i: (scores[i], -i))]
        peak = max(scores)
        weights = [math.exp((s - peak) / self.sampling.temperature) for s in scores]
        return self.rng.choices(list(items), weights=weights)[0]

    def integer(self, schema: Mapping[str, Any]) -> int:
        low = schema.get("minimum")
        high = schema.get("maximum")
        if isinstance(schema.get("exclusiveMinimum"), int | float):
            low = math.floor(schema["exclusiveMinimum"]) + 1
        if isinstance(schema.get("exclusiveMaximum"), int | float):
            high = math.ceil(schema["exclusiveMaximum"]) - 1
        low = math.ceil(low) if isinstance(low, int | float) else None
        high = math.floor(high) if isinstance(high, int | float) else None
        if low is None:
            low = 0 if high is None or high >= 0 else high - DEFAULT_SPAN + 1
        if high is None:
            high = low + DEFAULT_SPAN - 1
        step = self.model.step(self.context, self.sampling, self.rng, {})
        value = low + step.token % max(1, high - low + 1)
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0:
            value = math.ceil(value / multiple) * multiple
            if value > high:
                value -= multiple
        return value

    def number(self, schema: Mapping[str, Any]) -> float:
        """A decimal strictly inside the bounds (exclusive or not), at a point the model's next token picks."""
        lows = [schema[k] for k in ("minimum", "exclusiveMinimum") if _is_number(schema.get(k))]
        highs = [schema[k] for k in ("maximum", "exclusiveMaximum") if _is_number(schema.get(k))]
        low = float(max(lows)) if lows else None
        high = float(min(highs)) if highs else None
        if low is None:
            low = 0.0 if high is None or high > 0 else high - DEFAULT_SPAN
        if high is None:
            high = low + DEFAULT_SPAN
        if low >= high:
            return low
        step = self.model.step(self.context, self.sampling, self.rng, {})
        value = round(low + (high - low) * (step.token % 99 + 1) / 100, 3)
        return value if low < value < high else (low + high) / 2

    def string(self, schema: Mapping[str, Any], hint: str) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        # The model writes on from where the text stands (the conversation, then the strings written so far), so
        # two strings of one value differ and a string follows what the user said about the call.
        context = self.context
        tokenizer = self.model.tokenizer
        decoder = tokenizer.piece_decoder()
        text = ""
        written = 0
        for _ in range(2 * STRING_TOKENS):  # leading punctuation is passed over, not written
            if written == STRING_TOKENS:
                break
            step = self.model.step(context, self.sampling, self.rng, {})
            context.append(step.token)
            if step.token == tokenizer.eot_id:
                if text:
                    break
                continue  # a value is not empty: the model writes on, as after any end of a text
            piece = decoder.feed(step.token)
            cut = re.search(r'["\n\r\\]', piece)
            if cut:
                text += piece[: cut.start()]
                break
            if text or piece.strip(_LEADING):
                text += piece
                written += 1
        text = _PRINTABLE.sub("", text).strip(_LEADING) or hint
        low = int(schema.get("minLength", 0) or 0)
        high = schema.get("maxLength")
        if len(text) < low:
            text += "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text


def unserved_keyword(schema: Any) -> str | None:
    """The first keyword of ``schema`` (at any depth) the generator cannot satisfy, or None."""
    if isinstance(schema, list):
        return next((k for k in map(unserved_keyword, schema) if k), None)
    if not isinstance(schema, Mapping):
        return None
    for keyword in UNSERVED_KEYWORDS:
        if keyword in schema and not (keyword in ("if", "then", "else", "not") and "properties" in schema
                                      and keyword in schema["properties"]):
            return keyword
    if schema.get("uniqueItems") is True and (schema.get("minItems") or 0) > 1:
        return "uniqueItems"
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            found = next((k for k in map(unserved_keyword, value.values()) if k), None)
        elif key in ("items", "prefixItems", "anyOf", "oneOf", "allOf", "additionalProperties"):
            found = unserved_keyword(value)
        else:
            continue
        if found:
            return found
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if kinds else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def generate_json(
    model: NGramModel, context: Sequence[int], schema: Mapping[str, Any] | None, sampling: Sampling,
    rng: random.Random,
) -> str:
    """A JSON text valid under ``schema`` (``None``: an object, as a function without parameters takes ``{}``)."""
    if schema is None:
        return "{}"
    return JsonGenerator(model, context, sampling, rng, schema).text()
