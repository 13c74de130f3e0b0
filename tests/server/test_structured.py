"""Constrained generation: what the reference writes for a schema validates against it, for every chat model."""

from __future__ import annotations

import json
import random
from enum import Enum
from typing import Any, Literal

import jsonschema
import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field

from relaycheck.server.config import default_chat_models
from relaycheck.server.model import Sampling, chat_model
from relaycheck.server.structured import generate_json, unserved_keyword


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    number: int = Field(ge=1, le=999)


class Person(BaseModel):
    name: str = Field(min_length=3, max_length=12)
    age: int | None
    score: float = Field(gt=0, lt=1)
    colour: Colour
    kind: Literal["a", "b"]
    home: Address
    others: list[Address]
    tags: list[str] = Field(min_length=2, max_length=3)
    ok: bool


class Tree(BaseModel):
    label: str
    children: list[Tree]


SCHEMAS: list[dict[str, Any]] = [
    to_strict_json_schema(Person),
    to_strict_json_schema(Tree),
    Person.model_json_schema(),
    {"type": "object", "properties": {"x": {"type": ["integer", "null"], "multipleOf": 5, "minimum": 7}}},
    {"type": "array", "prefixItems": [{"const": 1}, {"type": "string", "format": "date"}], "minItems": 2},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
               {"properties": {"b": {"type": "number", "exclusiveMaximum": -3}}, "required": ["b"]}]},
    {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"n": {"enum": [1, "two", None]}}}]},
    {},
]


@pytest.mark.parametrize("model", default_chat_models())
@pytest.mark.parametrize("index", range(len(SCHEMAS)))
@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_generated_json_validates(model: str, index: int, temperature: float) -> None:
    schema = SCHEMAS[index]
    engine = chat_model(model)
    context = engine.tokenizer.encode("Tell me about the village at the edge of the forest")
    for seed in range(3):
        text = generate_json(engine, context, schema, Sampling(temperature=temperature), random.Random(seed))
        jsonschema.validate(json.loads(text), schema)


def test_models_write_different_values() -> None:
    schema = to_strict_json_schema(Person)
    context = chat_model("gpt-3.5-turbo").tokenizer.encode("Say this is a test")
    texts = {generate_json(chat_model(m), context, schema, Sampling(temperature=0), random.Random(0))
             for m in ("gpt-3.5-turbo", "gpt-4")}
    assert len(texts) == 2


def test_unserved_keywords() -> None:
    assert unserved_keyword({"type": "string", "pattern": "^a"}) == "pattern"
    assert unserved_keyword({"properties": {"if": {"type": "string"}}}) is None  # a property named "if"
    assert unserved_keyword({"$defs": {"X": {"not": {}}}}) == "not"
    assert unserved_keyword({"type": "array", "uniqueItems": True, "minItems": 2}) == "uniqueItems"
    assert all(unserved_keyword(s) is None for s in SCHEMAS)
