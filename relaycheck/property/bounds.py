"""The Completions contract bounded to what the property phase sends: the document its cases are drawn from.

The contract allows ``best_of`` up to 20 and states two cross-field rules about it, "best_of must be greater
than n" and "results cannot be streamed", as ``anyOf`` lists spelled out value by value (21 and 22 branches: JSON
Schema cannot compare two members). Every drawn body is then clamped to ``best_of`` and ``n`` at most 2
(:mod:`relaycheck.property.clamp`), so all but three branches of each rule describe requests that are never sent;
and building strategies from them is most of the phase's cost: schemathesis canonicalizes the request schema
(``jsonschema_rs.canonicalize``), whose time grows with about the fourth power of an ``anyOf``'s branches (0.2 s
for 21, 4 ms for 8, on this machine), once for the positive body and again for each schema a negative case
mutates, each leaving a canonical form of up to 40 MB behind (bench/property_bench.py measures it).

:func:`generation_document` states ``best_of`` at most :data:`~relaycheck.property.clamp.MAX_N` and spells both
rules for that range: the same requests as the contract where ``best_of`` is at most 2, and nothing else. Which
bodies are valid is still judged by the contract itself (a positive case must validate against it, a negative
case must not), so this changes what is drawn from, never what is called valid. A contract whose rules no longer
read as expected is drawn from as it is (slower, as correct): ``tests/property/test_bounds.py`` says so first.
"""

from __future__ import annotations

import copy
from typing import Any

from relaycheck.property.clamp import CHAT_UNSENT_MEMBERS, MAX_N, MAX_PARTS
from relaycheck.property.conversation import MAX_MESSAGES, MAX_TOOLS

Branches = list[dict[str, Any]]
REQUEST = "CreateCompletionRequest"


def best_of_rules(top: int) -> tuple[Branches, Branches]:
    """The contract's two best_of rules, spelled for ``best_of`` up to ``top`` (the contract: ``top`` = 20).

    "best_of must be greater than n" (OpenAI accepts equal; n defaults to 1): best_of absent or null, or best_of k
    with n at most k. "Results cannot be streamed": not streamed, or best_of 1 or null, or n k with best_of at most
    k (with the first rule: equal), n from ``top`` up needing no bound since best_of cannot exceed it.
    """
    at_least_n = [{"properties": {"best_of": {"type": "null"}}}] + [
        {"required": ["best_of"], "properties": {"best_of": {"const": k}, "n": {"maximum": k}}}
        for k in range(1, top + 1)
    ]
    not_streamed = [
        {"properties": {"stream": {"enum": [False, None]}}},
        {"properties": {"best_of": {"enum": [1, None]}}},
        {"required": ["n"], "properties": {"n": {"type": "integer", "minimum": top}}},
    ] + [{"required": ["n"], "properties": {"n": {"const": k}, "best_of": {"maximum": k}}} for k in range(2, top)]
    return at_least_n, not_streamed


def generation_document(document: dict[str, Any], top: int = MAX_N) -> dict[str, Any]:
    """A copy of the Completions contract with best_of at most ``top`` and its rules spelled for that range; the
    document itself (a copy) when its rules are not spelled as :func:`best_of_rules` says."""
    out = copy.deepcopy(document)
    request = out.get("components", {}).get("schemas", {}).get(REQUEST)
    if not isinstance(request, dict):
        return out
    best_of = request.get("properties", {}).get("best_of", {})
    stated = best_of.get("maximum")
    if not isinstance(stated, int) or stated <= top:
        return out
    rules = [rule for rule in request.get("allOf", []) if isinstance(rule, dict)]
    wanted, narrowed = best_of_rules(stated), best_of_rules(top)
    found = [next((rule for rule in rules if rule.get("anyOf") == branches), None) for branches in wanted]
    if any(rule is None for rule in found):
        return out
    for rule, branches in zip(found, narrowed, strict=True):
        rule["anyOf"] = branches  # type: ignore[index]  # found holds no None here
    best_of["maximum"] = top
    return out


# -- Chat Completions -------------------------------------------------------------------------------------------

CHAT_REQUEST = "CreateChatCompletionRequest"
# Union branches never sent: content parts that make the provider fetch or decode media (image, audio, file), the
# deprecated function role, custom tools (GPT-5 only) and the tool choices and calls naming them.
CHAT_UNSENT_PARTS = ("ChatCompletionRequestMessageContentPartImage", "ChatCompletionRequestMessageContentPartAudio",
                     "ChatCompletionRequestMessageContentPartFile")
# A function's parameters and a json_schema format are any JSON Schema, which the provider must read (OpenAI refuses
# one that is not a schema: the contract's x-observed) and constrain its output by: the phase sends these two.
CHAT_SENT_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["type", "properties", "additionalProperties"],
    "properties": {"type": {"enum": ["object"]}, "properties": {"type": "object", "maxProperties": 0},
                   "additionalProperties": {"enum": [False]}},
}
CHAT_USER_SCHEMAS = ("FunctionParameters", "ResponseFormatJsonSchemaSchema")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _without_refs(union: Any, names: tuple[str, ...]) -> bool:
    """Drop the branches of ``union`` (a oneOf or anyOf) that are ``$ref`` to ``names``; whether it had them."""
    if not isinstance(union, dict):
        return False
    for key in ("oneOf", "anyOf"):
        branches = union.get(key)
        if isinstance(branches, list) and any(b in branches for b in map(_ref, names)):
            union[key] = [b for b in branches if b not in [_ref(n) for n in names]]
            return True
    return False


def _mentions(rule: Any, names: tuple[str, ...]) -> bool:
    """Whether an allOf rule of the request binds one of ``names`` (names a member in required or properties)."""
    branches = rule.get("anyOf", []) if isinstance(rule, dict) else []
    return any(isinstance(b, dict) and (set(b.get("required", [])) | set(b.get("properties", {}))) & set(names)
               for b in branches)


def chat_served(document: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of the chat contract without what the chat phase never sends (:data:`CHAT_UNSENT_MEMBERS`, the
    function role, media content parts, custom tools), and the cross-field rules left without a subject; with
    the narrowings that did not apply (a contract whose shape changed: ``tests/property/test_bounds.py`` says so).

    Removing a member from a closed object or a branch from a union only takes requests away: every request of
    the copy is one of the contract's."""
    out = copy.deepcopy(document)
    schemas = out.get("components", {}).get("schemas", {})
    request = schemas.get(CHAT_REQUEST)
    missed: list[str] = []
    if not isinstance(request, dict):
        return out, [CHAT_REQUEST]
    members = request.get("properties", {})
    for name in CHAT_UNSENT_MEMBERS:
        if members.pop(name, None) is None:
            missed.append(f"{CHAT_REQUEST}.{name}")
    request["allOf"] = [rule for rule in request.get("allOf", []) if not _mentions(rule, CHAT_UNSENT_MEMBERS)]
    if not _without_refs(schemas.get("ChatCompletionRequestMessage"), ("ChatCompletionRequestFunctionMessage",)):
        missed.append("ChatCompletionRequestMessage: the function role")
    if not _without_refs(schemas.get("ChatCompletionToolChoiceOption"), ("ChatCompletionNamedToolChoiceCustom",)):
        missed.append("ChatCompletionToolChoiceOption: the custom choice")
    if not _without_refs(members.get("tools", {}).get("items"), ("CustomToolChatCompletions",)):
        missed.append(f"{CHAT_REQUEST}.tools: custom tools")
    user = schemas.get("ChatCompletionRequestUserMessage", {}).get("properties", {}).get("content", {})
    parts = next((b for b in user.get("oneOf", []) if isinstance(b, dict) and b.get("type") == "array"), {})
    if not _without_refs(parts.get("items"), CHAT_UNSENT_PARTS):
        missed.append("ChatCompletionRequestUserMessage.content: media parts")
    assistant = schemas.get("ChatCompletionRequestAssistantMessage", {})
    calls = assistant.get("properties", {}).get("tool_calls", {})
    if not _without_refs(calls.get("items"), ("ChatCompletionMessageCustomToolCallParam",)):
        missed.append("ChatCompletionRequestAssistantMessage.tool_calls: custom calls")
    for name in ("audio", "function_call"):  # a previous audio answer's id; the deprecated call
        if assistant.get("properties", {}).pop(name, None) is None:
            missed.append(f"ChatCompletionRequestAssistantMessage.{name}")
    if isinstance(assistant.get("anyOf"), list):
        assistant["anyOf"] = [b for b in assistant["anyOf"] if "function_call" not in b.get("required", [])]
    for name in CHAT_USER_SCHEMAS:
        if name in schemas:
            schemas[name] = {**copy.deepcopy(CHAT_SENT_SCHEMA), "description": schemas[name].get("description", "")}
        else:
            missed.append(name)
    tools = members.get("tools")
    if isinstance(tools, dict):
        tools["minItems"] = 1  # `tools: []`: refused by some (the contract's x-observed), never sent
    return out, missed


def chat_generation_document(document: dict[str, Any]) -> dict[str, Any]:
    """The chat contract the chat phase draws from: :func:`chat_served`, with at most :data:`MAX_MESSAGES`
    messages, :data:`MAX_TOOLS` tools and calls per message and :data:`MAX_PARTS` content parts, the sizes the
    clamps send (drawing what would be cut costs time and breaks the role order when cut). Validity is judged by
    the contract itself and its x-rules, never by this copy."""
    out, _ = chat_served(document)
    schemas = out.get("components", {}).get("schemas", {})
    request = schemas.get(CHAT_REQUEST, {}).get("properties", {})
    for name, top in (("messages", MAX_MESSAGES), ("tools", MAX_TOOLS)):
        if isinstance(request.get(name), dict):
            request[name]["maxItems"] = top
    calls = schemas.get("ChatCompletionRequestAssistantMessage", {}).get("properties", {}).get("tool_calls")
    if isinstance(calls, dict):
        calls["maxItems"] = MAX_TOOLS
    for schema in schemas.values():
        content = schema.get("properties", {}).get("content") if isinstance(schema, dict) else None
        for branch in (content or {}).get("oneOf", []) + (content or {}).get("anyOf", []):
            if isinstance(branch, dict) and branch.get("type") == "array" and "maxItems" not in branch:
                branch["maxItems"] = MAX_PARTS
    return out
