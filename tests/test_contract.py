"""The OpenAPI contract (openapi/completions.yaml) and relaycheck.spec.

Checks the document is valid OpenAPI 3.1, that schemathesis 4.x loads it, that every request field
matches the official definition (tests/fixtures/official/openai-openapi-completions-excerpt.yaml),
that the seed-page disagreements are recorded and enforced, and how the schemas behave.
"""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any

import jsonschema
import openapi_spec_validator
import pytest
import schemathesis
import yaml
from contract_helpers import ABSENT, assert_self_contained, keyword_paths, normalise, sse, st_response
from contract_helpers import official_schemas as read_official_schemas
from hypothesis import HealthCheck, given, settings
from schemathesis import Response

from relaycheck.spec import (
    Contract,
    ContractError,
    Disagreement,
    default_document_path,
    load_contract,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "openapi" / "completions.yaml"
OFFICIAL_EXCERPT = ROOT / "tests" / "fixtures" / "official" / "openai-openapi-completions-excerpt.yaml"

REQUIRED_SCHEMAS = {
    "CreateCompletionRequest",
    "CreateCompletionResponse",
    "CompletionChoice",
    "CompletionLogprobs",
    "CompletionUsage",
    "CreateCompletionChunk",
    "CompletionChunkChoice",
    "ErrorResponse",
    "Error",
    "StopConfiguration",
    "StreamOptions",
}
OFFICIAL_FIELDS = {
    "model",
    "prompt",
    "best_of",
    "echo",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "suffix",
    "temperature",
    "top_p",
    "user",
}

OFFICIAL_EXAMPLE_REQUEST = {
    "model": "gpt-3.5-turbo-instruct",
    "prompt": "Say this is a test",
    "max_tokens": 7,
    "temperature": 0,
}
OFFICIAL_EXAMPLE_RESPONSE = {
    "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
    "object": "text_completion",
    "created": 1589478378,
    "model": "gpt-3.5-turbo-instruct",
    "system_fingerprint": "fp_44709d6fcb",
    "choices": [{"text": "\n\nThis is indeed a test", "index": 0, "logprobs": None, "finish_reason": "length"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
OFFICIAL_STREAM_CHUNK = {
    "id": "cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe",
    "object": "text_completion",
    "created": 1690759702,
    "choices": [{"text": "This", "index": 0, "logprobs": None, "finish_reason": None}],
    "model": "gpt-3.5-turbo-instruct",
    "system_fingerprint": "fp_44709d6fcb",
}
USAGE_CHUNK = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1690759702,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
ERROR_BODY = {
    "error": {
        "message": "Incorrect API key provided: sk-false.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


@pytest.fixture(scope="module")
def official_schemas() -> dict[str, Any]:
    """components.schemas of the official excerpt, merged from every 'components.schemas' fragment."""
    schemas = read_official_schemas(OFFICIAL_EXCERPT)
    for name in (
        "CreateCompletionRequest",
        "CreateCompletionResponse",
        "StopConfiguration",
        "ChatCompletionStreamOptions",
        "CompletionUsage",
        "Error",
        "ErrorResponse",
    ):
        assert name in schemas, f"official excerpt lacks {name}"
    return schemas


def test_contract_helpers_keeps_its_provenance_header() -> None:
    first = OFFICIAL_EXCERPT.read_text(encoding="utf-8").splitlines()[0]
    assert "github.com/openai/openai-openapi" in first
    assert "f85dbe223d40e1a31cba812ab2d755c7e98a92a3" in first


def test_normalise_treats_30_and_31_nullability_alike() -> None:
    old = normalise({"type": "integer", "nullable": True, "minimum": 0}, {})
    new = normalise({"type": ["integer", "null"], "minimum": 0}, {})
    any_of = normalise({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}, {})
    assert old == new
    assert old["nullable"] is any_of["nullable"] is True
    assert normalise({"type": "string"}, {})["nullable"] is False


# --------------------------------------------------------------------------------------------
# The document and schemathesis
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="module")
def ours(contract: Contract) -> dict[str, Any]:
    return contract.document["components"]["schemas"]


def test_openapi_spec_validator_accepts_the_document() -> None:
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    openapi_spec_validator.validate(document)
    assert document["openapi"] == "3.1.0"


def test_document_shape(contract: Contract) -> None:
    doc = contract.document
    server = doc["servers"][0]
    assert server["url"] == "{baseUrl}"
    assert server["variables"]["baseUrl"]["default"].endswith("/v1")
    assert doc["components"]["securitySchemes"]["ApiKeyAuth"] == {
        **doc["components"]["securitySchemes"]["ApiKeyAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    assert doc["security"] == [{"ApiKeyAuth": []}]
    operation = doc["paths"]["/completions"]["post"]
    assert operation["operationId"] == "createCompletion"
    assert set(doc["components"]["schemas"]) >= REQUIRED_SCHEMAS
    assert "f85dbe22" in doc["info"]["description"] and "e43b4224" in doc["info"]["description"]

    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404", "429", "500", "503"}
    stream = responses["200"]["content"]["text/event-stream"]
    assert stream["x-sse-data-schema"] == {"$ref": "#/components/schemas/CreateCompletionChunk"}
    assert stream["x-sse-terminator"] == "[DONE]"
    data = stream["schema"]["properties"]["data"]
    assert data["if"] == {"const": "[DONE]"}
    assert data["else"]["contentMediaType"] == "application/json"
    assert {"$ref": "#/components/schemas/CreateCompletionChunk"} in data["else"]["contentSchema"]["anyOf"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateCompletionResponse"
    }
    for status in ("400", "401", "403", "404", "429", "500", "503"):
        name = responses[status]["$ref"].rsplit("/", 1)[-1]
        body = doc["components"]["responses"][name]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ErrorResponse"}, status
    retry_after = doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]
    assert retry_after["schema"] == {"type": "integer", "minimum": 1}

    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert examples["official"]["value"] == OFFICIAL_EXAMPLE_REQUEST
    assert responses["200"]["content"]["application/json"]["examples"]["official"]["value"] == (
        OFFICIAL_EXAMPLE_RESPONSE
    )


def test_no_30_nullable_keyword_anywhere(contract: Contract) -> None:
    assert list(keyword_paths(contract.document, "nullable")) == []


def test_packaged_copy_is_a_symlink_to_the_single_source() -> None:
    packaged = default_document_path()
    assert packaged.name == "completions.yaml"
    assert packaged.is_symlink()
    assert packaged.resolve() == DOCUMENT.resolve()
    assert load_contract() is load_contract(DOCUMENT)


@pytest.fixture(scope="module")
def st_schema() -> Any:
    schema = schemathesis.openapi.from_path(DOCUMENT)
    # from_path takes the base URL from the file location ("file:///v1"), not from the server
    # variable's default: the target must always be set explicitly.
    schema.config.update(base_url="http://relay.test:8000/v1")
    return schema


def test_schemathesis_loads_the_document_and_finds_the_operation(st_schema: Any) -> None:
    labels = [result.ok().label for result in st_schema.get_all_operations()]
    assert labels == ["POST /completions"]
    operation = st_schema.find_operation_by_id("createCompletion")
    assert operation.label == st_schema["/completions"]["POST"].label == "POST /completions"
    case = operation.Case(body=dict(OFFICIAL_EXAMPLE_REQUEST))
    assert case.as_transport_kwargs()["url"] == "http://relay.test:8000/v1/completions"


def test_schemathesis_generated_bodies_satisfy_the_contract(st_schema: Any, contract: Contract) -> None:
    operation = st_schema.find_operation_by_id("createCompletion")
    validator = contract.validator("CreateCompletionRequest")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        assert validator.is_valid(case.body), case.body

    check()


def _st_response(status: int, body: bytes | dict[str, Any], content_type: str = "application/json") -> Response:
    return st_response("http://relay.test:8000/v1/completions", status, body, content_type)


@pytest.mark.parametrize(
    ("name", "status", "body", "content_type", "valid"),
    [
        ("official response", 200, OFFICIAL_EXAMPLE_RESPONSE, "application/json", True),
        ("chat object", 200, {**OFFICIAL_EXAMPLE_RESPONSE, "object": "chat.completion"}, "application/json", False),
        ("error envelope", 401, ERROR_BODY, "application/json", True),
        ("vllm error", 400, {"object": "error", "message": "m", "type": "BadRequestError", "code": 400},
         "application/json", False),
        ("stream", 200, sse(json.dumps(OFFICIAL_STREAM_CHUNK), json.dumps(USAGE_CHUNK), "[DONE]"),
         "text/event-stream", True),
        ("stream eos", 200,
         sse(json.dumps({**OFFICIAL_STREAM_CHUNK, "choices": [{**OFFICIAL_STREAM_CHUNK["choices"][0],
                                                                  "finish_reason": "eos"}]}), "[DONE]"),
         "text/event-stream", False),
        ("stream not json", 200, sse("hello", "[DONE]"), "text/event-stream", False),
        ("stream error", 200, sse(json.dumps(ERROR_BODY)), "text/event-stream", True),
    ],
)  # fmt: skip
def test_schemathesis_validates_responses_against_the_contract(
    st_schema: Any, name: str, status: int, body: Any, content_type: str, valid: bool
) -> None:
    operation = st_schema.find_operation_by_id("createCompletion")
    assert operation.is_valid_response(_st_response(status, body, content_type)) is valid, name


# --------------------------------------------------------------------------------------------
# Against the official definition
# --------------------------------------------------------------------------------------------


def test_request_field_set_matches_official(official_schemas: dict[str, Any], contract: Contract) -> None:
    official = official_schemas["CreateCompletionRequest"]
    assert set(official["properties"]) == OFFICIAL_FIELDS
    assert set(contract.request_fields()) == OFFICIAL_FIELDS
    assert set(contract.required_request_fields) == set(official["required"]) == {"model", "prompt"}


@pytest.mark.parametrize("field", sorted(OFFICIAL_FIELDS))
def test_request_field_matches_official(field: str, official_schemas: dict[str, Any], ours: dict[str, Any]) -> None:
    official = official_schemas["CreateCompletionRequest"]["properties"][field]
    mine = ours["CreateCompletionRequest"]["properties"][field]
    if field == "prompt":
        mine = _without_prompt_bounds(mine)
    # stream_options references ChatCompletionStreamOptions officially, StreamOptions here.
    assert normalise(mine, ours) == normalise(official, official_schemas)


def _without_prompt_bounds(prompt: dict[str, Any]) -> dict[str, Any]:
    """The prompt schema without what the contract adds on purpose: token ids >= 0, a string[] of >= 1 item."""
    prompt = copy.deepcopy(prompt)
    for branch in prompt["oneOf"]:
        items = branch.get("items", {})
        if items.get("type") == "string":
            assert branch.pop("minItems") == 1 and "x-minItems-why" in branch
        inner = items.get("items", items)
        if inner.get("type") == "integer":
            assert inner.pop("minimum") == 0
    return prompt


@pytest.mark.parametrize(
    ("field", "types", "nullable", "default", "bounds"),
    [
        ("temperature", ["number"], True, 1, {"minimum": 0, "maximum": 2}),
        ("top_p", ["number"], True, 1, {"minimum": 0, "maximum": 1}),
        ("logprobs", ["integer"], True, None, {"minimum": 0, "maximum": 5}),
        ("max_tokens", ["integer"], True, 16, {"minimum": 0}),
        ("n", ["integer"], True, 1, {"minimum": 1, "maximum": 128}),
        ("best_of", ["integer"], True, 1, {"minimum": 0, "maximum": 20}),
        ("frequency_penalty", ["number"], True, 0, {"minimum": -2, "maximum": 2}),
        ("presence_penalty", ["number"], True, 0, {"minimum": -2, "maximum": 2}),
        ("user", ["string"], False, ABSENT, {}),
        ("prompt", [], True, "<|endoftext|>", {}),
    ],
)
def test_request_field_spot_checks(
    field: str, types: list[str], nullable: bool, default: Any, bounds: dict[str, int], ours: dict[str, Any]
) -> None:
    shape = normalise(ours["CreateCompletionRequest"]["properties"][field], ours)
    assert shape["types"] == types
    assert shape["nullable"] is nullable
    assert shape["default"] == default
    for key, value in bounds.items():
        assert shape[key] == value


def test_stop_and_prompt_branches(contract: Contract) -> None:
    fields = contract.request_fields()
    stop_array = next(b for b in fields["stop"]["oneOf"] if b.get("type") == "array")
    assert (stop_array["minItems"], stop_array["maxItems"]) == (1, 4)
    prompt_arrays = [b for b in fields["prompt"]["oneOf"] if b.get("type") == "array"]
    assert [b.get("minItems") for b in prompt_arrays] == [1, 1, 1]
    assert prompt_arrays[2]["items"]["minItems"] == 1
    bias = fields["logit_bias"]["additionalProperties"]
    assert (bias["type"], bias["minimum"], bias["maximum"]) == ("integer", -100, 100)
    assert fields["stream_options"]["anyOf"][0]["properties"].keys() == {"include_usage", "include_obfuscation"}


def test_response_matches_official(official_schemas: dict[str, Any], ours: dict[str, Any]) -> None:
    official = official_schemas["CreateCompletionResponse"]
    response = ours["CreateCompletionResponse"]
    assert set(response["required"]) == set(official["required"])
    assert set(response["properties"]) == set(official["properties"])
    assert response["properties"]["object"]["const"] == "text_completion" == official["properties"]["object"]["enum"][0]
    official_choice = official["properties"]["choices"]["items"]
    for name in ("CompletionChoice", "CompletionChunkChoice"):
        assert set(ours[name]["required"]) == set(official_choice["required"]), name
    official_enum = official_choice["properties"]["finish_reason"]["enum"]
    assert ours["CompletionChoice"]["properties"]["finish_reason"]["enum"] == official_enum
    assert ours["CompletionChunkChoice"]["properties"]["finish_reason"]["enum"] == [*official_enum, None]
    official_logprobs = official_choice["properties"]["logprobs"]["anyOf"][0]["properties"]
    assert set(ours["CompletionLogprobs"]["properties"]) == set(official_logprobs)
    assert set(ours["CreateCompletionChunk"]["required"]) == set(official["required"])
    assert set(ours["CompletionUsage"]["required"]) == set(official_schemas["CompletionUsage"]["required"])
    assert set(ours["CompletionUsage"]["properties"]) == set(official_schemas["CompletionUsage"]["properties"])


def test_error_matches_official(official_schemas: dict[str, Any], ours: dict[str, Any]) -> None:
    assert set(ours["Error"]["required"]) == set(official_schemas["Error"]["required"])
    assert ours["ErrorResponse"]["required"] == official_schemas["ErrorResponse"]["required"] == ["error"]
    for key in ("param", "code"):
        assert normalise(ours["Error"]["properties"][key], ours) == normalise(
            official_schemas["Error"]["properties"][key], official_schemas
        )


# --------------------------------------------------------------------------------------------
# Seed-page disagreements
# --------------------------------------------------------------------------------------------


def test_disagreements_are_recorded(contract: Contract) -> None:
    found = {d.field: d for d in contract.disagreements()}
    assert all(isinstance(d, Disagreement) and d.enforced and d.why for d in found.values())
    expected_pages = {
        "prompt": {"gptnb": "可选"},
        "user": {"xuedingmao": "必需"},
        "temperature": {"gptnb": "integer", "xuedingmao": "integer"},
        "top_p": {"gptnb": "integer", "xuedingmao": "integer"},
        "logprobs": {"gptnb": "null", "xuedingmao": "null"},
        "max_tokens": {"xuedingmao": "16", "gptnb": "2048"},
        "stop": {"gptnb": "string", "xuedingmao": "string"},
        "stream_options": {"api4gpt": "not listed", "gptnb": "not listed", "xuedingmao": "not listed"},
        "response.system_fingerprint": {"xuedingmao": "必需"},
        "response.usage": {"gptnb": "必需", "xuedingmao": "必需"},
    }
    for field, pages in expected_pages.items():
        assert field in found, field
        for page, says in pages.items():
            assert says in found[field].pages[page], (field, page)
    assert "optional" in found["prompt"].pages["gptnb"]
    assert "required" in found["user"].pages["xuedingmao"]


def test_enforced_readings_match_the_schema(contract: Contract) -> None:
    request = contract.request_schema
    props = request["properties"]
    assert "prompt" in request["required"]
    assert "user" not in request["required"]
    assert props["user"]["type"] == "string"
    assert props["temperature"]["type"] == ["number", "null"]
    assert props["top_p"]["type"] == ["number", "null"]
    assert props["logprobs"]["type"] == ["integer", "null"]
    assert props["logprobs"]["maximum"] == 5
    assert props["max_tokens"]["default"] == 16
    assert contract.request_fields()["stop"]["oneOf"][1]["maxItems"] == 4
    response = contract.response_schema
    assert "system_fingerprint" not in response["required"]
    assert "usage" not in response["required"]
    for field in ("prompt", "temperature", "logprobs", "max_tokens", "user"):
        assert "Official" in contract.disagreement(field).why or "official" in contract.disagreement(field).why


def test_seed_pages_listed_in_info(contract: Contract) -> None:
    pages = contract.seed_pages()
    assert {key: page.url for key, page in pages.items()} == {
        "api4gpt": "https://one.api4gpt.com/v1",
        "gptnb": "https://api.gptnb.me/v1",
        "xuedingmao": "https://xuedingmao.online/v1",
    }
    assert {page.seed[:3] for page in pages.values()} == {"000", "001", "002"}


# --------------------------------------------------------------------------------------------
# Schema behaviour (jsonschema Draft 2020-12)
# --------------------------------------------------------------------------------------------


def _valid(contract: Contract, name: str, instance: Any) -> bool:
    return contract.validator(name).is_valid(instance)


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"prompt": None}, True),
        ({"prompt": ["a", "b"]}, True),
        ({"prompt": [1212, 318]}, True),
        ({"prompt": [[1212, 318], [13]]}, True),
        ({"prompt": []}, False),  # no prompt at all (the official string[] branch lacks minItems; see x-minItems-why)
        ({"prompt": [-1]}, False),  # a token id indexes the vocabulary
        ({"logit_bias": {"x": 1}}, False),  # keys are token ids
        ({"stream_options": {"include_usage": True}}, False),  # "Only set this when you set stream: true"
        ({"best_of": 1, "n": 2}, False),  # "best_of must be greater than n"
        ({"best_of": 0}, False),  # below the default n of 1
        ({"best_of": 2, "n": 2}, True),
        ({"best_of": 3, "n": 2, "stream": True}, False),  # "Results cannot be streamed"
        ({"best_of": 2, "n": 2, "stream": True}, True),  # no extra candidate
        ({"prompt": [[]]}, False),
        ({"temperature": 0.7}, True),
        ({"temperature": None}, True),
        ({"temperature": 2.5}, False),
        ({"top_p": 0.9}, True),
        ({"top_p": 1.5}, False),
        ({"logprobs": 5}, True),
        ({"logprobs": 6}, False),
        ({"logprobs": True}, False),
        ({"n": 0}, False),
        ({"n": 128}, True),
        ({"best_of": 21}, False),
        ({"stop": "\n"}, True),
        ({"stop": None}, True),
        ({"stop": ["a", "b", "c", "d"]}, True),
        ({"stop": ["a", "b", "c", "d", "e"]}, False),
        ({"stop": []}, False),
        ({"logit_bias": {"50256": -100}}, True),
        ({"logit_bias": {"50256": -101}}, False),
        ({"stream": True, "stream_options": {"include_usage": True}}, True),
        ({"stream_options": None}, True),
        ({"user": "user-1234"}, True),
        ({"user": None}, False),
        ({"seed": None}, True),
        ({"foo": 1}, False),
    ],
)
def test_request_validation(contract: Contract, change: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, "CreateCompletionRequest", {**OFFICIAL_EXAMPLE_REQUEST, **change}) is valid


def test_request_without_prompt_or_model_fails(contract: Contract) -> None:
    assert not _valid(contract, "CreateCompletionRequest", {"model": "gpt-3.5-turbo-instruct"})
    assert not _valid(contract, "CreateCompletionRequest", {"prompt": "x"})


def _with_choice(body: dict[str, Any], **choice: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["choices"][0].update(choice)
    return body


LEGACY_LOGPROBS = {
    "tokens": ["Say", " this"],
    "token_logprobs": [None, -0.5],
    "top_logprobs": [None, {" this": -0.5, " that": -2.1}],
    "text_offset": [0, 3],
}


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (OFFICIAL_EXAMPLE_RESPONSE, True),
        ({**OFFICIAL_EXAMPLE_RESPONSE, "timings": {"x": 1}, "provider": "p"}, True),
        (_with_choice(OFFICIAL_EXAMPLE_RESPONSE, stop_reason=None), True),
        ({k: v for k, v in OFFICIAL_EXAMPLE_RESPONSE.items() if k not in ("usage", "system_fingerprint")}, True),
        ({**OFFICIAL_EXAMPLE_RESPONSE, "system_fingerprint": None}, True),
        ({**OFFICIAL_EXAMPLE_RESPONSE, "object": "chat.completion"}, False),
        ({**OFFICIAL_EXAMPLE_RESPONSE, "created": 1695869575.3}, False),
        ({k: v for k, v in OFFICIAL_EXAMPLE_RESPONSE.items() if k != "id"}, False),
        (_with_choice(OFFICIAL_EXAMPLE_RESPONSE, finish_reason=None), False),
        (_with_choice(OFFICIAL_EXAMPLE_RESPONSE, finish_reason="eos_token"), False),
        (_with_choice(OFFICIAL_EXAMPLE_RESPONSE, logprobs=LEGACY_LOGPROBS), True),
        (_with_choice(OFFICIAL_EXAMPLE_RESPONSE, logprobs={"content": [{"token": "a", "logprob": -1}]}), True),
        (_with_choice(OFFICIAL_EXAMPLE_RESPONSE, logprobs={"tokens": "abc"}), False),
        ({**OFFICIAL_EXAMPLE_RESPONSE, "usage": {"prompt_tokens": 5, "completion_tokens": 7}}, False),
    ],
)
def test_response_validation(contract: Contract, body: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, "CreateCompletionResponse", body) is valid


def test_response_choice_missing_logprobs_key_fails(contract: Contract) -> None:
    body = copy.deepcopy(OFFICIAL_EXAMPLE_RESPONSE)
    del body["choices"][0]["logprobs"]
    assert not _valid(contract, "CreateCompletionResponse", body)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (OFFICIAL_STREAM_CHUNK, True),
        (_with_choice(OFFICIAL_STREAM_CHUNK, finish_reason="stop"), True),
        ({**OFFICIAL_STREAM_CHUNK, "usage": None}, True),
        (USAGE_CHUNK, True),
        ({**USAGE_CHUNK, "choices": None}, False),
        ({k: v for k, v in USAGE_CHUNK.items() if k != "choices"}, False),
        ({**OFFICIAL_STREAM_CHUNK, "object": "chat.completion.chunk"}, False),
        (_with_choice(OFFICIAL_STREAM_CHUNK, finish_reason="eos"), False),
        (_with_choice(OFFICIAL_STREAM_CHUNK, logprobs=LEGACY_LOGPROBS), True),
    ],
)
def test_chunk_validation(contract: Contract, body: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, "CreateCompletionChunk", body) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (ERROR_BODY, True),
        ({"error": {**ERROR_BODY["error"], "extra": 1}, "request_id": "x"}, True),
        ({"error": {**ERROR_BODY["error"], "code": 400}}, False),
        ({"error": {"message": "m", "type": "one_api_error"}}, False),
        ({"error": {k: v for k, v in ERROR_BODY["error"].items() if k != "param"}}, False),
        ({"error": {k: v for k, v in ERROR_BODY["error"].items() if k != "code"}}, False),
        ({"object": "error", "message": "m", "type": "BadRequestError", "param": None, "code": 400}, False),
        ({"detail": "Not Found"}, False),
    ],
)
def test_error_validation(contract: Contract, body: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, "ErrorResponse", body) is valid


# --------------------------------------------------------------------------------------------
# relaycheck.spec API
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REQUIRED_SCHEMAS))
def test_schemas_are_self_contained(contract: Contract, name: str) -> None:
    assert_self_contained(contract.schema(name))


def test_schema_copies_and_cached_validators(contract: Contract) -> None:
    first = contract.schema("CreateCompletionRequest")
    first["properties"].clear()
    assert contract.schema("CreateCompletionRequest")["properties"]
    assert contract.validator("CreateCompletionResponse") is contract.validator("CreateCompletionResponse")
    assert isinstance(contract.validator("ErrorResponse"), jsonschema.Draft202012Validator)
    assert contract.chunk_schema["$defs"].keys() >= {"CompletionChunkChoice", "CompletionUsage"}
    assert contract.error_schema["$defs"].keys() == {"Error"}
    assert contract.response_schema["properties"]["object"]["const"] == "text_completion"
    with pytest.raises(ContractError):
        contract.schema("NoSuchSchema")


def test_load_contract_from_another_path(tmp_path: pathlib.Path) -> None:
    copy_path = tmp_path / "c.yaml"
    copy_path.write_text(DOCUMENT.read_text(encoding="utf-8"), encoding="utf-8")
    other = load_contract(copy_path)
    assert other is not load_contract()
    assert other.document == load_contract().document
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.3\ncomponents: {schemas: {}}\n", encoding="utf-8")
    with pytest.raises(ContractError):
        load_contract(bad)


def test_the_checks_finish_reasons_are_the_contracts() -> None:
    """One definition in the checks (checks.model.FINISH_REASONS), held here to the contract's enum."""
    from relaycheck.checks.model import FINISH_REASONS

    choice = load_contract().response_schema["$defs"]["CompletionChoice"]
    assert tuple(choice["properties"]["finish_reason"]["enum"]) == FINISH_REASONS
