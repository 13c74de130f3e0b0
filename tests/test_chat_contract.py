"""The chat contract (openapi/chat.yaml), its x-rules (relaycheck.spec.chat_rules) and schemathesis on it.

The document is held to the official excerpt (tests/fixtures/official/openai-openapi-chat-excerpt.yaml): every
request member OpenAI defines, field by field, with each deliberate difference named; every component it shares
with OpenAI's; the official examples; the prose it quotes. Then what it accepts and refuses, the x-rules, and what
schemathesis 4 generates from it, offline: 200 positive bodies, how many the schema refuses (none may be) and how
many break an x-rule (the figure in the document's header).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import openapi_spec_validator
import pytest
import schemathesis
import yaml
from contract_helpers import (
    ABSENT,
    FIXTURES,
    ROOT,
    assert_self_contained,
    excerpt_sections,
    keyed_values,
    keyword_paths,
    normalise,
    official_schemas,
    parsed_section,
    sse,
    st_response,
)
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode, Response

from relaycheck.endpoint import Endpoint
from relaycheck.spec import Contract, contract_path, load_contract
from relaycheck.spec.chat_rules import RULES, Breach, breaches

DOCUMENT = ROOT / "openapi" / "chat.yaml"
EXCERPT = FIXTURES / "openai-openapi-chat-excerpt.yaml"
REQUEST = "CreateChatCompletionRequest"
RESPONSE = "CreateChatCompletionResponse"
CHUNK = "CreateChatCompletionStreamResponse"
OFFICIAL_ROOTS = (REQUEST, RESPONSE, CHUNK, "ErrorResponse")
SEED = 20240601
DRAWS = 200


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract(endpoint=Endpoint.CHAT)


@pytest.fixture(scope="module")
def ours(contract: Contract) -> dict[str, Any]:
    return contract.document["components"]["schemas"]


@pytest.fixture(scope="module")
def official() -> dict[str, Any]:
    return official_schemas(EXCERPT)


def _valid(contract: Contract, name: str, instance: Any) -> bool:
    return contract.validator(name).is_valid(instance)


def _refs(node: Any) -> Iterator[str]:
    return (ref.rsplit("/", 1)[-1] for ref in keyed_values(node, frozenset({"$ref"})))


def _reachable(schemas: dict[str, Any], roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(_refs(schemas[name]))
    return seen


# --------------------------------------------------------------------------------------------
# The official excerpt and examples
# --------------------------------------------------------------------------------------------


def test_contract_helpers_keeps_its_provenance_header() -> None:
    first = EXCERPT.read_text(encoding="utf-8").splitlines()[0]
    assert "github.com/openai/openai-openapi" in first
    assert "f85dbe223d40e1a31cba812ab2d755c7e98a92a3" in first


def test_excerpt_holds_everything_the_chat_operation_references(official: dict[str, Any]) -> None:
    operation = parsed_section(excerpt_sections(EXCERPT)["paths./chat/completions.post (lines 2121-2161)"])
    named = set(_refs(operation["post"]["requestBody"])) | set(_refs(operation["post"]["responses"]["200"]))
    assert named == {REQUEST, RESPONSE, CHUNK}
    assert _reachable(official, OFFICIAL_ROOTS) == set(official)  # complete, and nothing else


def _curl_body(curl: str) -> dict[str, Any]:
    return json.loads(curl[curl.index("-d '") + 4 : curl.rindex("'")])


def _official_examples() -> dict[str, tuple[dict[str, Any], Any]]:
    """Title -> (request body, response body or list of stream chunks), from the operation's x-oaiMeta."""
    requests_, responses = {}, {}
    for title, body in excerpt_sections(EXCERPT).items():
        found = re.match(r"paths\./chat/completions\.post\.x-oaiMeta\.examples\[\d\] (?P<name>.+?): (?P<part>.+?) \(", title)
        if not found:
            continue
        parsed = parsed_section(body)
        if found["part"].endswith("request.curl"):
            requests_[found["name"]] = _curl_body(parsed[0]["request"]["curl"])
        else:
            text = parsed["response"].strip()
            if text.startswith('{"id"'):  # the streaming example: one chunk a line, and a "...." line
                responses[found["name"]] = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
            else:
                responses[found["name"]] = json.loads(text)
    assert requests_.keys() == responses.keys() == {"Default", "Image input", "Streaming", "Functions", "Logprobs"}
    return {name: (requests_[name], responses[name]) for name in requests_}


OFFICIAL_EXAMPLES = _official_examples()


@pytest.mark.parametrize("name", sorted(OFFICIAL_EXAMPLES))
def test_official_example_requests_are_valid_and_keep_the_rules(contract: Contract, name: str) -> None:
    body = OFFICIAL_EXAMPLES[name][0]
    assert list(contract.validator(REQUEST).iter_errors(body)) == []
    assert breaches(body) == []


def _missing_required(contract: Contract, name: str, body: Any) -> set[str]:
    """The members the body lacks, wherever in the error tree (an anyOf error holds its branches' errors)."""
    missing = set()
    stack = list(contract.validator(name).iter_errors(body))
    while stack:
        error = stack.pop()
        stack.extend(error.context or [])
        if error.validator == "required":
            missing.add(re.search(r"'(\w+)' is a required property", error.message).group(1))
    return missing


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("Default", set()),
        ("Image input", set()),
        # Both examples are from 2023 (created 1699896916, 1702685778), before refusal existed; the official
        # schema requires it on the message and on the logprobs object, and so does the contract.
        ("Functions", {"refusal"}),
        ("Logprobs", {"refusal"}),
    ],
)
def test_official_example_responses(contract: Contract, name: str, missing: set[str]) -> None:
    body = OFFICIAL_EXAMPLES[name][1]
    assert _missing_required(contract, RESPONSE, body) == missing
    fixed = copy.deepcopy(body)
    for choice in fixed["choices"]:
        choice["message"].setdefault("refusal", None)
        if choice["logprobs"] is not None:
            choice["logprobs"].setdefault("refusal", None)
    assert _valid(contract, RESPONSE, fixed)


def test_official_streaming_example_chunks_are_valid(contract: Contract, official: dict[str, Any]) -> None:
    chunks = OFFICIAL_EXAMPLES["Streaming"][1]
    assert len(chunks) == 3 and chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    component = official[CHUNK]["x-oaiMeta"]["example"]
    chunks += [json.loads(line) for line in component.splitlines() if line.startswith("{")]
    for chunk in chunks:
        assert list(contract.validator(CHUNK).iter_errors(chunk)) == [], chunk


def test_official_response_object_example_is_valid(contract: Contract, official: dict[str, Any]) -> None:
    assert _valid(contract, RESPONSE, json.loads(official[RESPONSE]["x-oaiMeta"]["example"]))


def test_the_documents_own_examples_are_valid(contract: Contract) -> None:
    operation = contract.document["paths"]["/chat/completions"]["post"]
    request_examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert request_examples["official"]["value"] == OFFICIAL_EXAMPLES["Default"][0]
    assert request_examples["functions"]["value"] == OFFICIAL_EXAMPLES["Functions"][0]
    assert request_examples["logprobs"]["value"] == OFFICIAL_EXAMPLES["Logprobs"][0]
    for name, example in request_examples.items():
        assert _valid(contract, REQUEST, example["value"]) and breaches(example["value"]) == [], name
    ok = operation["responses"]["200"]["content"]
    assert ok["application/json"]["examples"]["official"]["value"] == OFFICIAL_EXAMPLES["Default"][1]
    for name, example in ok["application/json"]["examples"].items():
        assert _valid(contract, RESPONSE, example["value"]), name
    events = [line[len("data: ") :] for line in ok["text/event-stream"]["example"].splitlines() if line]
    assert events[-1] == "[DONE]"
    for data in events[:-1]:
        assert _valid(contract, CHUNK, json.loads(data))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_every_quoted_official_sentence_is_in_the_excerpt(contract: Contract) -> None:
    excerpt = _flat(EXCERPT.read_text(encoding="utf-8"))
    quotes = list(keyed_values(contract.document, frozenset({"x-official-prose", "official-prose"})))
    assert len(quotes) >= 10
    for quote in quotes:
        where, sentence = quote.split(": ", 1)
        assert where.split(".")[0] in excerpt, quote
        assert _flat(sentence) in excerpt, quote


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


def test_openapi_spec_validator_accepts_the_document() -> None:
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    openapi_spec_validator.validate(document)
    assert document["openapi"] == "3.1.0"


def test_no_30_nullable_keyword_anywhere(contract: Contract) -> None:
    assert list(keyword_paths(contract.document, "nullable")) == []


def test_document_shape(contract: Contract) -> None:
    doc = contract.document
    assert doc["servers"][0]["url"] == "{baseUrl}"
    assert doc["security"] == [{"ApiKeyAuth": []}]
    assert list(doc["paths"]) == ["/chat/completions"]
    operation = doc["paths"]["/chat/completions"]["post"]
    assert operation["operationId"] == "createChatCompletion"
    assert "x-seed-pages" not in doc["info"] and contract.disagreements() == [] and contract.seed_pages() == {}
    assert "f85dbe22" in doc["info"]["description"] and "e43b4224" in doc["info"]["description"]
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404", "429", "500", "503"}
    stream = responses["200"]["content"]["text/event-stream"]
    assert stream["x-sse-data-schema"] == {"$ref": f"#/components/schemas/{CHUNK}"}
    assert stream["x-sse-terminator"] == "[DONE]"
    data = stream["schema"]["properties"]["data"]
    assert data["if"] == {"const": "[DONE]"}
    assert data["else"]["contentMediaType"] == "application/json"
    assert {"$ref": f"#/components/schemas/{CHUNK}"} in data["else"]["contentSchema"]["anyOf"]
    for status in ("400", "401", "403", "404", "429", "500", "503"):
        name = responses[status]["$ref"].rsplit("/", 1)[-1]
        body = doc["components"]["responses"][name]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ErrorResponse"}, status


def test_loading_by_endpoint(contract: Contract, tmp_path: Any) -> None:
    packaged = contract_path(Endpoint.CHAT)
    assert packaged.name == "chat.yaml" and packaged.is_symlink()
    assert packaged.resolve() == DOCUMENT.resolve()
    assert contract is load_contract(DOCUMENT) is load_contract(endpoint=Endpoint.CHAT)
    assert load_contract(endpoint=Endpoint.COMPLETIONS) is load_contract()
    assert contract.endpoint is Endpoint.CHAT and load_contract().endpoint is Endpoint.COMPLETIONS
    assert (contract.operation.operation_id, contract.operation.request, contract.operation.response,
            contract.operation.chunk) == ("createChatCompletion", REQUEST, RESPONSE, CHUNK)
    assert contract.request_schema["properties"]["messages"]["minItems"] == 1
    assert contract.response_schema["properties"]["object"]["const"] == "chat.completion"
    assert contract.chunk_schema["properties"]["object"]["const"] == "chat.completion.chunk"
    assert set(contract.required_request_fields) == {"model", "messages"}
    with pytest.raises(ValueError, match="not both"):
        load_contract(DOCUMENT, endpoint=Endpoint.CHAT)


@pytest.mark.parametrize("name", sorted(yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))["components"]["schemas"]))
def test_every_component_is_a_valid_2020_12_schema(contract: Contract, name: str) -> None:
    assert_self_contained(contract.schema(name))


# Request objects OpenAI leaves open: user-supplied JSON Schemas and allowed_tools entries (tool definitions).
OPEN_REQUEST_OBJECTS = {"FunctionParameters", "ResponseFormatJsonSchemaSchema", "ChatCompletionAllowedTools.tools[]"}


def _objects(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema with properties (an object a body spells out) under ``node``, with a readable location."""
    if isinstance(node, dict):
        spelled = isinstance(node.get("properties"), dict)
        if spelled or node.get("additionalProperties") is True:
            yield where, node
        for key, value in node.items():
            if key in ("properties",):
                for prop, sub in value.items():
                    yield from _objects(sub, f"{where}.{prop}")
            elif key == "items":
                yield from _objects(value, f"{where}[]")
            elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list) and not spelled:
                for sub in value:  # the branches of an object that spells its members are rules on them
                    yield from _objects(sub, where)
            elif key == "additionalProperties" and isinstance(value, dict):
                yield from _objects(value, f"{where}{{}}")


def test_request_objects_are_closed_and_response_objects_open(ours: dict[str, Any]) -> None:
    request_side = _reachable(ours, (REQUEST,))
    response_side = _reachable(ours, (RESPONSE, CHUNK, "ErrorResponse"))
    assert request_side.isdisjoint(response_side - {"Metadata", "ServiceTier", "FunctionName"})
    for name in request_side:
        for where, node in _objects(ours[name], name):
            if where in OPEN_REQUEST_OBJECTS:
                assert node.get("additionalProperties") is True, where
            else:
                assert node.get("additionalProperties") is False, f"{where} is not closed"
    for name in response_side:
        assert "additionalProperties: false" not in yaml.safe_dump(ours[name]), name


# --------------------------------------------------------------------------------------------
# Against the official definition
# --------------------------------------------------------------------------------------------


def _official_request_members(official: dict[str, Any], name: str = REQUEST) -> dict[str, Any]:
    """The members of an official allOf schema, the later parts' declarations winning (the chat request's own)."""
    members: dict[str, Any] = {}
    for part in official[name].get("allOf", [official[name]]):
        if "$ref" in part:
            members.update(_official_request_members(official, part["$ref"].rsplit("/", 1)[-1]))
        else:
            members.update(part.get("properties", {}))
    return members


def _shape(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """normalise with single branches hoisted and `const: X` read as `enum: [X]` (the official spelling)."""
    def fold(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: fold(v) for k, v in node.items()}
            if out.get("const", ABSENT) != ABSENT:
                out["enum"], out["const"] = [out["const"]], ABSENT
            return out
        if isinstance(node, list):
            return [fold(v) for v in node]
        return node

    return fold(normalise(schema, defs, hoist=True))


def _differences(mine: Any, theirs: Any, path: str = "") -> set[str]:
    """The paths where two normalised shapes differ (the first level where they do)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return {d for key in set(mine) | set(theirs) if mine.get(key) != theirs.get(key)
                for d in _differences(mine.get(key), theirs.get(key), f"{path}.{key}")}
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs) and mine:
        return {d for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b
                for d in _differences(a, b, f"{path}[{i}]")}
    return {path}


# Every deliberate difference from the official member, with its reason (the header of chat.yaml says each).
REQUEST_DIFFERENCES = {
    "model": ({".types", ".branches"}, "officially anyOf string / an enum of model ids: any string"),
    "seed": ({".format", ".minimum", ".maximum"}, "int64 exactly, not the float rendering of 2^63"),
    "max_tokens": ({".minimum"}, "OpenAI refuses below 1 (it-at-m/mucgpt#608)"),
    "audio": ({".properties.voice.branches[1].types", ".properties.voice.branches[1].branches"},
              "VoiceIdsShared is anyOf string / an enum of voices: any string"),
    "messages": ({".items.branches"}, "compared message by message below"),
}


def test_request_members_are_the_officials(official: dict[str, Any], contract: Contract) -> None:
    members = _official_request_members(official)
    assert len(members) == 37
    assert set(contract.request_fields()) == set(members)
    assert set(contract.required_request_fields) == set(official[REQUEST]["allOf"][1]["required"]) == {
        "model", "messages"}


@pytest.mark.parametrize("field", sorted(_official_request_members(official_schemas(EXCERPT))))
def test_request_member_matches_official(field: str, official: dict[str, Any], ours: dict[str, Any]) -> None:
    mine = _shape(ours[REQUEST]["properties"][field], ours)
    theirs = _shape(_official_request_members(official)[field], official)
    expected, _why = REQUEST_DIFFERENCES.get(field, (set(), ""))
    assert {d for d in _differences(mine, theirs) if not d.startswith(".items.branches")} | (
        {".items.branches"} if field == "messages" and mine != theirs else set()) == expected


def test_top_logprobs_is_declared_three_ways_officially(official: dict[str, Any], ours: dict[str, Any]) -> None:
    """The official allOf makes null invalid for top_logprobs; its own declaration, the SDK and ours allow it."""
    declared = [
        official["ModelResponseProperties"]["properties"]["top_logprobs"],
        official["CreateModelResponseProperties"]["allOf"][1]["properties"]["top_logprobs"],
        official[REQUEST]["allOf"][1]["properties"]["top_logprobs"],
    ]
    assert [normalise(d, official)["nullable"] for d in declared] == [True, False, True]
    assert normalise(ours[REQUEST]["properties"]["top_logprobs"], ours)["nullable"] is True


# Components in both documents, and how ours differ on purpose.
COMPONENT_DIFFERENCES = {
    "ChatCompletionRequestAssistantMessage": (
        {".branches", ".properties.content.branches", ".properties.tool_calls.minItems"},
        "content required unless tool_calls/function_call; text parts or one refusal part; tool_calls non-empty",
    ),
    "CompletionUsage": (None, "counts at least 0; details and their members may be null (SDK Optional)"),
    RESPONSE: (None, "system_fingerprint nullable; usage as CompletionUsage"),
    CHUNK: (None, "system_fingerprint nullable; usage as CompletionUsage"),
    "VoiceIdsOrCustomVoice": ({".branches[1].types", ".branches[1].branches"}, "any string, as VoiceIdsShared"),
}
USAGE_DIFFERENCES = {".minimum", ".nullable"}  # at a usage count: minimum 0; at a detail: nullable


def test_the_six_messages_are_the_officials(official: dict[str, Any], ours: dict[str, Any]) -> None:
    """Each is compared with its official namesake below."""
    name = "ChatCompletionRequestMessage"
    assert set(_refs(ours[name])) == set(_refs(official[name])) and len(set(_refs(ours[name]))) == 6


@pytest.mark.parametrize("name", sorted(set(official_schemas(EXCERPT)) & set(
    yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))["components"]["schemas"])
    - {REQUEST, "ChatCompletionRequestMessage"}))
def test_component_matches_official(name: str, official: dict[str, Any], ours: dict[str, Any]) -> None:
    found = _differences(_shape(ours[name], ours), _shape(official[name], official))
    expected, _why = COMPONENT_DIFFERENCES.get(name, (set(), ""))
    if expected is None:  # usage and the objects carrying it: only the usage differences, nothing else
        found = {d for d in found if not any(d.endswith(u) for u in USAGE_DIFFERENCES)}
        found -= {".properties.system_fingerprint.nullable"}
        expected = set()
    assert found == expected


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        ("ChatCompletionMessageToolCallParam", "ChatCompletionMessageToolCall"),
        ("ChatCompletionMessageCustomToolCallParam", "ChatCompletionMessageCustomToolCall"),
        ("ChatCompletionChoice", None),
        ("ChatCompletionChunkChoice", None),
    ],
)
def test_split_components_keep_the_official_shape(
    mine: str, theirs: str | None, official: dict[str, Any], ours: dict[str, Any]
) -> None:
    """Components the contract names where the official document inlines or shares them."""
    if theirs is None:
        parent = RESPONSE if mine == "ChatCompletionChoice" else CHUNK
        target, defs = official[parent]["properties"]["choices"]["items"], official
    else:
        target, defs = official[theirs], official
    assert _differences(_shape(ours[mine], ours), _shape(target, defs)) == set()


# --------------------------------------------------------------------------------------------
# What the request schema accepts and refuses
# --------------------------------------------------------------------------------------------

BASE = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"foo": 1}, False),  # an unknown key: "Unrecognized request argument supplied: foo"
        ({"top_logprobs": 2}, False),  # "`logprobs` must be set to `true` if this parameter is used"
        ({"top_logprobs": 2, "logprobs": False}, False),
        ({"top_logprobs": 2, "logprobs": True}, True),
        ({"top_logprobs": None}, True),
        ({"top_logprobs": 21, "logprobs": True}, False),
        ({"stream_options": {"include_usage": True}}, False),  # "Only set this when you set stream: true"
        ({"stream_options": {"include_usage": True}, "stream": True}, True),
        ({"stream_options": {"include_usage": True, "x": 1}, "stream": True}, False),
        ({"stream_options": None}, True),
        ({"tool_choice": "required"}, False),  # nothing to call
        ({"tool_choice": "auto"}, False),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, False),
        ({"tool_choice": "none"}, True),  # the default without tools
        ({"tool_choice": "required", "tools": [TOOL]}, True),
        ({"tool_choice": "required", "tools": []}, False),
        ({"tool_choice": None}, False),  # not nullable (SDK: ChatCompletionToolChoiceOptionParam)
        ({"tools": []}, True),  # disputed (x-observed empty-tools): the official schema is kept
        ({"tools": [{**TOOL, "x": 1}]}, False),
        ({"tools": [{"type": "function", "function": {"name": "get weather"}}]}, False),  # a-z, A-Z, 0-9, _ and -
        ({"tools": [{"type": "function", "function": {"name": "f" * 65}}]}, False),  # at most 64
        ({"tools": [{"type": "retrieval"}]}, False),
        ({"function_call": {"name": "f"}}, False),
        ({"function_call": {"name": "f"}, "functions": [{"name": "f"}]}, True),
        ({"function_call": "none"}, True),
        ({"functions": []}, False),
        ({"n": 0}, False),
        ({"n": 1}, True),
        ({"n": 128}, True),
        ({"n": 129}, False),
        ({"n": None}, True),
        ({"max_tokens": 0}, False),  # "Expected a value >= 1, but got 0 instead."
        ({"max_tokens": 1}, True),
        ({"max_completion_tokens": 16}, True),
        ({"temperature": 2.5}, False),
        ({"temperature": None}, True),
        ({"top_p": 1.5}, False),
        ({"frequency_penalty": -2.5}, False),
        ({"logit_bias": {"50256": -100}}, True),
        ({"logit_bias": {"50256": 101}}, False),
        ({"logit_bias": {"x": 1}}, False),
        ({"stop": ["a", "b", "c", "d"]}, True),
        ({"stop": ["a", "b", "c", "d", "e"]}, False),
        ({"seed": 2**63 - 1}, True),
        ({"seed": 2**63}, False),
        ({"logprobs": 2}, False),  # a boolean here, an integer on /completions
        ({"response_format": {"type": "json_object"}}, True),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}}, False),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"},
                                                                     "strict": True}}}, True),
        ({"response_format": {"type": "yaml"}}, False),
        ({"response_format": {"type": "text", "x": 1}}, False),
        ({"modalities": ["text", "audio"]}, False),  # audio "Required when audio output is requested"
        ({"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, True),
        ({"modalities": ["text"]}, True),
        ({"audio": {"voice": "alloy"}}, False),
        ({"metadata": {f"k{i}": "v" for i in range(16)}}, True),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, False),  # "Set of 16 key-value pairs"
        ({"metadata": {"k": "v" * 513}}, False),
        ({"metadata": {"k": 1}}, False),
        ({"safety_identifier": "s" * 65}, False),
        ({"user": None}, False),
        ({"parallel_tool_calls": False}, True),  # x-observed: OpenAI refuses it without tools, no text says so
        ({"service_tier": "flex"}, True),
        ({"service_tier": "turbo"}, False),
        ({"reasoning_effort": "xhigh"}, True),
        ({"prediction": {"type": "content", "content": "x"}}, True),
        ({"web_search_options": {"search_context_size": "low", "x": 1}}, False),
        ({"prompt_cache_options": {"ttl": "30m"}}, True),
        ({"moderation": {"model": "omni-moderation-latest", "policy": {"input": {"mode": "block"}}}}, True),
        ({"messages": []}, False),
    ],
)  # fmt: skip
def test_request_validation(contract: Contract, change: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, REQUEST, {**BASE, **change}) is valid


def _with(*messages: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, "messages": [*BASE["messages"], *messages]}


@pytest.mark.parametrize(
    ("message", "valid"),
    [
        ({"role": "tool", "content": "sunny", "tool_call_id": "call_1"}, True),
        ({"role": "tool", "content": "sunny"}, False),  # no tool_call_id
        ({"role": "tool", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}],
          "tool_call_id": "call_1"}, False),  # tool messages take text parts only
        ({"role": "user", "content": [{"type": "text", "text": "hi"}]}, True),
        ({"role": "user", "content": [{"type": "video", "video": {}}]}, False),  # an unknown content part type
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}, True),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x", "detail": "max"}}]}, False),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]}, True),
        ({"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}, True),
        ({"role": "user", "content": [{"type": "text", "text": "hi", "x": 1}]}, False),
        ({"role": "user", "content": []}, False),
        ({"role": "user", "content": "hi", "x": 1}, False),  # an unknown member of a message
        ({"role": "user"}, False),
        ({"role": "critic", "content": "hi"}, False),
        ({"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}, False),
        ({"role": "developer", "content": "be brief", "name": "ops"}, True),
        ({"role": "assistant", "content": "hello"}, True),
        ({"role": "assistant", "content": None}, False),  # "Invalid value for 'content': expected a string, got null."
        ({"role": "assistant"}, False),  # "Required unless tool_calls or function_call is specified"
        ({"role": "assistant", "content": None, "tool_calls": [CALL]}, True),
        ({"role": "assistant", "tool_calls": [CALL]}, True),
        ({"role": "assistant", "content": None, "tool_calls": []}, False),  # openai/openai-node#1341
        ({"role": "assistant", "tool_calls": [{**CALL, "index": 0}]}, False),  # a chunk's member, not a call's
        ({"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}, True),
        ({"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}, True),
        ({"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}, {"type": "text", "text": "x"}]}, False),
        ({"role": "assistant", "content": [{"type": "refusal", "refusal": "a"}, {"type": "refusal", "refusal": "b"}]}, False),
        ({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, True),
        ({"role": "function", "name": "f", "content": None}, True),
        ({"role": "function", "content": "x"}, False),
    ],
)  # fmt: skip
def test_message_validation(contract: Contract, message: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, REQUEST, _with(message)) is valid


def test_a_tool_message_schema_without_tool_call_id_is_refused(contract: Contract) -> None:
    validator = contract.validator("ChatCompletionRequestToolMessage")
    assert validator.is_valid({"role": "tool", "content": "x", "tool_call_id": "c"})
    assert not validator.is_valid({"role": "tool", "content": "x"})


# --------------------------------------------------------------------------------------------
# Responses, chunks, errors
# --------------------------------------------------------------------------------------------

RESPONSE_BODY = OFFICIAL_EXAMPLES["Default"][1]
TOOL_CALL_RESPONSE = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": None, "annotations": [], "tool_calls": [
                {"id": "call_abc123", "type": "function",
                 "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Boston, MA\"}"}},
                {"id": "call_def456", "type": "function",
                 "function": {"name": "get_current_weather", "arguments": "{\"location\": \"Paris\"}"}},
            ]},
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 38, "total_tokens": 120,
              "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
    "service_tier": "default",
    "system_fingerprint": "fp_44709d6fcb",
}  # fmt: skip
LOGPROBS_RESPONSE = {
    **RESPONSE_BODY,
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Hi!", "refusal": None, "annotations": []},
        "logprobs": {"content": [
            {"token": "Hi", "logprob": -0.31, "bytes": [72, 105],
             "top_logprobs": [{"token": "Hi", "logprob": -0.31, "bytes": [72, 105]},
                              {"token": "Hello", "logprob": -1.32, "bytes": [72, 101, 108, 108, 111]}]},
            {"token": "!", "logprob": -0.02, "bytes": [33],
             "top_logprobs": [{"token": "!", "logprob": -0.02, "bytes": [33]},
                              {"token": "<|end|>", "logprob": -9999.0, "bytes": None}]},
        ], "refusal": None},
        "finish_reason": "stop",
    }],
}  # fmt: skip


def _chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4o-mini",
            "system_fingerprint": "fp_44709d6fcb", "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}], **extra}


# A streamed tool call as OpenAI sends it: id, type and name in the first delta of each call, then argument pieces,
# every delta naming its call by index (openai-python accumulates by index, concatenating strings).
TOOL_CALL_STREAM = [
    _chunk({"role": "assistant", "content": None, "refusal": None, "tool_calls": [
        {"index": 0, "id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"loc"}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ation\": \"Boston\"}"}}]}),
    _chunk({"tool_calls": [
        {"index": 1, "id": "call_def456", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{\"location\": \"Paris\"}"}}]}),
    _chunk({}, "tool_calls"),
]  # fmt: skip
USAGE_CHUNK = {**_chunk({}), "choices": [], "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                                                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                                                      "completion_tokens_details": {"reasoning_tokens": 0}}}


def _message(body: dict[str, Any], **change: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["choices"][0]["message"].update(change)
    return body


def _choice(body: dict[str, Any], **change: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["choices"][0].update(change)
    return body


def _without(body: dict[str, Any], *path: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (RESPONSE_BODY, True),
        (TOOL_CALL_RESPONSE, True),
        (LOGPROBS_RESPONSE, True),
        ({**RESPONSE_BODY, "provider": "x", "timings": {}}, True),  # extra members are allowed
        (_message(RESPONSE_BODY, reasoning_content="..."), True),
        ({**RESPONSE_BODY, "system_fingerprint": None}, True),
        (_without(RESPONSE_BODY, "usage"), True),
        (_without(RESPONSE_BODY, "choices", 0, "message", "refusal"), False),
        (_without(RESPONSE_BODY, "choices", 0, "message", "content"), False),
        (_without(RESPONSE_BODY, "choices", 0, "logprobs"), False),
        (_without(LOGPROBS_RESPONSE, "choices", 0, "logprobs", "refusal"), False),
        (_without(LOGPROBS_RESPONSE, "choices", 0, "logprobs", "content", 0, "bytes"), False),
        (_without(LOGPROBS_RESPONSE, "choices", 0, "logprobs", "content", 0, "top_logprobs"), False),
        (_choice(RESPONSE_BODY, finish_reason="eos"), False),
        (_choice(RESPONSE_BODY, finish_reason=None), False),
        (_choice(RESPONSE_BODY, finish_reason="function_call"), True),
        (_choice(RESPONSE_BODY, logprobs={"tokens": ["a"], "token_logprobs": [-1]}), False),  # the legacy shape
        ({**RESPONSE_BODY, "object": "text_completion"}, False),
        ({**RESPONSE_BODY, "object": "chat.completion.chunk"}, False),
        (_message(RESPONSE_BODY, role="user"), False),
        (_message(TOOL_CALL_RESPONSE, tool_calls=[{"id": "c", "type": "function",
                                                    "function": {"name": "f", "arguments": {"a": 1}}}]), False),
        (_message(TOOL_CALL_RESPONSE, tool_calls=[{"type": "function",
                                                    "function": {"name": "f", "arguments": "{}"}}]), False),
        ({**RESPONSE_BODY, "usage": {"prompt_tokens": 5, "completion_tokens": 7}}, False),
        ({**RESPONSE_BODY, "usage": {"prompt_tokens": -1, "completion_tokens": 7, "total_tokens": 6}}, False),
        ({**RESPONSE_BODY, "created": 1695869575.3}, False),
    ],
)  # fmt: skip
def test_response_validation(contract: Contract, body: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, RESPONSE, body) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        *[(chunk, True) for chunk in TOOL_CALL_STREAM],
        (USAGE_CHUNK, True),
        ({**_chunk({"content": "Hi"}), "usage": None}, True),
        ({**_chunk({"content": "Hi"}), "obfuscation": "r4N7vQ2m"}, True),
        (_chunk({"tool_calls": [{"index": 0}]}), True),  # only index is required
        (_chunk({"tool_calls": [{"function": {"arguments": "{}"}}]}), False),  # no index
        (_chunk({"tool_calls": [{"index": "0", "function": {"arguments": "{}"}}]}), False),
        (_chunk({"refusal": "I can't"}), True),
        (_chunk({"content": "x"}, "eos"), False),
        ({**_chunk({}), "object": "chat.completion"}, False),
        ({**USAGE_CHUNK, "choices": None}, False),
        (_without(USAGE_CHUNK, "choices"), False),
        (_without(_chunk({}), "choices", 0, "finish_reason"), False),
        (_without(_chunk({}), "choices", 0, "logprobs"), True),
        (_choice(_chunk({"content": "Hi"}), logprobs={"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105],
                                                                   "top_logprobs": []}], "refusal": None}), True),
    ],
)  # fmt: skip
def test_chunk_validation(contract: Contract, body: dict[str, Any], valid: bool) -> None:
    assert _valid(contract, CHUNK, body) is valid


def test_error_envelope(contract: Contract) -> None:
    error = {"error": {"message": "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                                  "message with 'tool_calls'.", "type": "invalid_request_error",
                       "param": "messages.[1].role", "code": None}}
    assert _valid(contract, "ErrorResponse", error)
    assert not _valid(contract, "ErrorResponse", {"error": {**error["error"], "code": 400}})
    assert not _valid(contract, "ErrorResponse", {"object": "error", "message": "m", "type": "BadRequestError"})


# --------------------------------------------------------------------------------------------
# x-rules (relaycheck.spec.chat_rules)
# --------------------------------------------------------------------------------------------


def test_every_x_rule_has_its_check_and_every_mark_names_a_rule(ours: dict[str, Any]) -> None:
    rules = ours[REQUEST]["x-rules"]
    assert set(rules) == set(RULES)
    for rule_id, rule in rules.items():
        assert rule["checked-by"] == f"relaycheck.spec.chat_rules.{RULES[rule_id].__name__}"
    marked = {rule for prop in ours[REQUEST]["properties"].values() for rule in prop.get("x-rule", [])}
    assert marked == set(RULES)


ASKED = {"role": "assistant", "content": None, "tool_calls": [CALL, {**CALL, "id": "call_2"}]}


def _answer(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "sunny"}


@pytest.mark.parametrize(
    ("messages", "found"),
    [
        ([ASKED, _answer("call_1"), _answer("call_2")], []),
        ([ASKED, _answer("call_2"), _answer("call_1"), {"role": "user", "content": "thanks"}], []),
        ([_answer("call_1")], [("tool-message-answers-call", "messages.[1].role")]),
        ([ASKED, _answer("call_1"), _answer("call_2"), {"role": "user", "content": "x"}, _answer("call_1")],
         [("tool-message-answers-call", "messages.[5].role")]),
        ([ASKED, _answer("call_9"), _answer("call_1"), _answer("call_2")],
         [("tool-message-answers-call", "messages.[2].tool_call_id")]),
        ([ASKED, _answer("call_1")], [("tool-calls-answered", "messages.[1].role")]),
        ([ASKED, {"role": "user", "content": "x"}, _answer("call_1"), _answer("call_2")],
         [("tool-calls-answered", "messages.[1].role"), ("tool-message-answers-call", "messages.[3].role"),
          ("tool-message-answers-call", "messages.[4].role")]),
        ([ASKED, _answer("call_1"), _answer("call_2"), ASKED], [("tool-calls-answered", "messages.[4].role")]),
    ],
)  # fmt: skip
def test_role_order(messages: list[dict[str, Any]], found: list[tuple[str, str]]) -> None:
    body = {**BASE, "messages": [*BASE["messages"], *messages]}
    assert sorted((b.rule, b.param) for b in breaches(body)) == sorted(found)


def test_role_order_errors_are_openais() -> None:
    (unanswered,) = breaches(_with(ASKED, _answer("call_1")))
    assert unanswered.message == (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        "'tool_call_id'. The following tool_call_ids did not have response messages: call_2")
    (orphan,) = breaches(_with(_answer("call_1")))
    assert orphan == Breach("tool-message-answers-call", "messages.[1].role",
                            "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                            "with 'tool_calls'.")


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, []),
        ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, ["tool_choice"]),
        ({"tools": [TOOL], "tool_choice": {"type": "custom", "custom": {"name": "get_weather"}}}, ["tool_choice"]),
        ({"tools": [{"type": "custom", "custom": {"name": "sql"}}],
          "tool_choice": {"type": "custom", "custom": {"name": "sql"}}}, []),
        ({"tools": [TOOL], "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_time"}}]}}},
         ["tool_choice.allowed_tools.tools.[1]"]),
        ({"tools": [TOOL], "tool_choice": "required"}, []),
        ({"functions": [{"name": "f"}], "function_call": {"name": "f"}}, []),
        ({"functions": [{"name": "f"}], "function_call": {"name": "g"}}, ["function_call"]),
        ({"functions": [{"name": "f"}], "function_call": "auto"}, []),
    ],
)  # fmt: skip
def test_named_tools_and_functions(change: dict[str, Any], found: list[str]) -> None:
    assert [b.param for b in breaches({**BASE, **change})] == found


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ({"max_tokens": 4}, []),
        ({"max_completion_tokens": 4, "max_tokens": None}, []),
        ({"max_completion_tokens": 4, "max_tokens": 4}, [("one-completion-bound", "max_tokens")]),
        ({"response_format": {"type": "json_object"}}, [("json-mode-mentions-json", "messages")]),
        ({"response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "Reply in JSON"}]}, []),
        ({"response_format": {"type": "json_object"},  # text parts are read joined, as the reference reads them
          "messages": [{"role": "system", "content": [{"type": "text", "text": "J"}, {"type": "text", "text": "son"}]},
                       {"role": "user", "content": "hi"}]}, []),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "a"}}}, []),
    ],
)  # fmt: skip
def test_one_completion_bound_and_json_mode(change: dict[str, Any], found: list[tuple[str, str]]) -> None:
    assert [(b.rule, b.param) for b in breaches({**BASE, **change})] == found


@pytest.mark.parametrize("body", [None, 1, "x", [], {}, {"messages": "x"}, {"messages": [1, None, {"role": 3}]},
                                  {"messages": [{"role": "assistant", "tool_calls": [{"id": [1]}, 1]},
                                                {"role": "tool", "tool_call_id": {"a": 1}}]},
                                  {"tools": [{"type": {"a": 1}}, 1], "tool_choice": {"type": "allowed_tools"}},
                                  {"function_call": {"name": []}, "functions": "x"}])  # fmt: skip
def test_rules_are_total(body: Any) -> None:
    assert all(isinstance(b, Breach) for b in breaches(body))


# --------------------------------------------------------------------------------------------
# schemathesis 4 on the document (offline)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def st_operation() -> Any:
    schema = schemathesis.openapi.from_path(DOCUMENT)
    schema.config.update(base_url="http://relay.test:8000/v1")  # from_path ignores the server variable
    schema.config.generation.update(with_security_parameters=False, allow_x00=False, codec="utf-8")
    return schema.find_operation_by_id("createChatCompletion")


def test_schemathesis_finds_the_operation(st_operation: Any) -> None:
    assert st_operation.label == "POST /chat/completions"
    case = st_operation.Case(body=dict(BASE))
    assert case.as_transport_kwargs()["url"] == "http://relay.test:8000/v1/chat/completions"


def _st_response(status: int, body: bytes | dict[str, Any], content_type: str = "application/json") -> Response:
    return st_response("http://relay.test:8000/v1/chat/completions", status, body, content_type)


ERROR = {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}}


@pytest.mark.parametrize(
    ("name", "status", "body", "content_type", "valid"),
    [
        ("response", 200, RESPONSE_BODY, "application/json", True),
        ("tool calls", 200, TOOL_CALL_RESPONSE, "application/json", True),
        ("no refusal", 200, _without(RESPONSE_BODY, "choices", 0, "message", "refusal"), "application/json", False),
        ("error", 400, ERROR, "application/json", True),
        ("vllm error", 400, {"object": "error", "message": "m", "type": "BadRequestError", "code": 400},
         "application/json", False),
        ("tool-call stream", 200, sse(*map(json.dumps, TOOL_CALL_STREAM), json.dumps(USAGE_CHUNK), "[DONE]"),
         "text/event-stream", True),
        ("chunk without index", 200, sse(json.dumps(_chunk({"tool_calls": [{"id": "c"}]})), "[DONE]"),
         "text/event-stream", False),
        ("stream error", 200, sse(json.dumps(ERROR)), "text/event-stream", True),
    ],
)  # fmt: skip
def test_schemathesis_validates_responses_against_the_contract(
    st_operation: Any, name: str, status: int, body: Any, content_type: str, valid: bool
) -> None:
    assert st_operation.is_valid_response(_st_response(status, body, content_type)) is valid, name


def _share(bodies: list[Any], broken: Any) -> float:
    return round(100 * sum(1 for body in bodies if broken(body)) / len(bodies), 1)


def test_schemathesis_positive_bodies_keep_the_schema_and_measure_the_x_rules(
    st_operation: Any, contract: Contract
) -> None:
    """200 positive bodies, drawn offline under a fixed seed: none refused by the schema; the x-rules measured.

    The shares are printed (``pytest -s``) and stated in chat.yaml's header; only the first is asserted, the
    others describe schemathesis, not the contract (a role-order strategy is the generator's job).
    """
    drawn: list[Any] = []

    @seed(SEED)
    @settings(max_examples=DRAWS, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=st_operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def draw(case: Any) -> None:
        drawn.append(case.body)

    draw()
    assert len(drawn) == DRAWS
    validator = contract.validator(REQUEST)
    refused = [body for body in drawn if not validator.is_valid(body)]
    assert refused == [], next(validator.iter_errors(refused[0])).message if refused else ""

    def rule(prefix: str) -> Any:
        return lambda body: any(b.rule.startswith(prefix) for b in breaches(body))

    figures = {
        "refused by the schema": _share(drawn, lambda body: not validator.is_valid(body)),
        "any x-rule": _share(drawn, breaches),
        "role order": _share(drawn, rule("tool-")),
        "named tool or function undeclared": _share(drawn, rule("named-")),
        "max_tokens with max_completion_tokens": _share(drawn, rule("one-completion-bound")),
        "json_object without 'json'": _share(drawn, rule("json-mode")),
        "parallel_tool_calls without tools": _share(drawn, lambda b: "parallel_tool_calls" in b and not b.get("tools")),
        "tools: []": _share(drawn, lambda body: body.get("tools") == []),
        "distinct bodies": len({json.dumps(body, sort_keys=True) for body in drawn}),
    }
    print(f"schemathesis {schemathesis.__version__}, {DRAWS} positive bodies, seed {SEED}: {figures}")
    assert figures["refused by the schema"] == 0
    assert figures["role order"] > 0  # what makes a role-order strategy necessary
