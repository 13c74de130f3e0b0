"""The chat contract's x-rules: what a Chat Completions request must satisfy that JSON Schema cannot say.

``openapi/chat.yaml`` lists each rule under ``CreateChatCompletionRequest.x-rules``, with the official prose and
OpenAI's own error messages; each function here checks one of them (the rule's ``checked-by``) and :data:`RULES`
maps every rule id to its function. They are pure functions of a request body, total over any JSON value (a
generated body may be anything), so the reference provider, a generator and the checks can share them:

- ``tool-message-answers-call``: a tool message stands in the run of tool messages right after an assistant
  message with tool_calls, and its tool_call_id is one of that message's call ids;
- ``tool-calls-answered``: every call of such an assistant message is answered in that run;
- ``named-tool-declared``: a named tool_choice, and each allowed_tools entry, names a declared tool of its type;
- ``named-function-declared``: a named function_call names a declared function;
- ``one-completion-bound``: not both max_tokens and max_completion_tokens;
- ``json-mode-mentions-json``: with response_format json_object, some message says "json" (any case).

The last two JSON Schema could state as ``anyOf`` rules, but the request already has five, and schemathesis
models allOf of anyOf by spelling out every combination: with a sixth it draws nothing (the document's header).

Where OpenAI publishes a message for a breach, :attr:`Breach.message` is OpenAI's (sources in the document);
elsewhere it is relaycheck's wording, said so in the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from relaycheck.tokens.chat import content_text

__all__ = [
    "RULES",
    "as_schema",
    "Breach",
    "breaches",
    "function_call_names_declared",
    "json_mode_mentions_json",
    "one_completion_bound",
    "tool_calls_answered",
    "tool_choice_names_declared",
    "tool_messages_answer_calls",
]

TOOL_MESSAGE_ANSWERS_CALL = "tool-message-answers-call"
TOOL_CALLS_ANSWERED = "tool-calls-answered"
NAMED_TOOL_DECLARED = "named-tool-declared"
NAMED_FUNCTION_DECLARED = "named-function-declared"
ONE_COMPLETION_BOUND = "one-completion-bound"
JSON_MODE_MENTIONS_JSON = "json-mode-mentions-json"

# OpenAI's texts, verbatim (its "preceeding" included): miurla/morphic#136, dapr/dapr-agents#145, sdcb/chats#132.
_NO_PRECEDING_CALLS = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."
)
_UNKNOWN_CALL_ID = "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
_UNANSWERED = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
    "The following tool_call_ids did not have response messages: {ids}"
)
# langchain-ai/langgraph#5943 (code invalid_parameter_combination), meta-llama/PurpleLlama#94 (param messages)
_BOTH_BOUNDS = "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported."
_NO_JSON_WORD = "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."


@dataclass(frozen=True)
class Breach:
    """One broken x-rule: which, where (OpenAI's ``param`` style, ``messages.[3].role``), and the error text."""

    rule: str
    param: str
    message: str


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _call_ids(message: Mapping[str, Any]) -> list[str | None]:
    return [_str(_dict(call).get("id")) for call in _list(message.get("tool_calls"))]


def _role_order(body: Any) -> Iterator[Breach]:
    """Both tool-message rules in one walk: a run of tool messages answers the assistant message before it."""
    calls: list[str | None] = []  # the ids of the assistant message the current run of tool messages answers
    unanswered: dict[str | None, None] = {}
    asked_at = -1  # its index; -1 outside a run
    messages = _list(_dict(body).get("messages"))
    for index, message in enumerate([*messages, None]):  # None: the end closes the last run
        role = _dict(message).get("role")
        if role == "tool":
            answered = _str(_dict(message).get("tool_call_id"))
            if asked_at < 0:
                yield Breach(TOOL_MESSAGE_ANSWERS_CALL, f"messages.[{index}].role", _NO_PRECEDING_CALLS)
            elif answered is None or answered not in calls:
                yield Breach(TOOL_MESSAGE_ANSWERS_CALL, f"messages.[{index}].tool_call_id",
                             _UNKNOWN_CALL_ID.format(id=answered))
            else:
                unanswered.pop(answered, None)
            continue
        if unanswered:  # OpenAI does not document which index it names; relaycheck names the asking message
            ids = ", ".join(str(i) for i in unanswered)
            yield Breach(TOOL_CALLS_ANSWERED, f"messages.[{asked_at}].role", _UNANSWERED.format(ids=ids))
        calls = _call_ids(_dict(message)) if role == "assistant" else []
        unanswered = dict.fromkeys(calls)
        asked_at = index if calls else -1


def tool_messages_answer_calls(body: Any) -> list[Breach]:
    """``tool-message-answers-call``: every tool message answers a call of the assistant message its run follows."""
    return [b for b in _role_order(body) if b.rule == TOOL_MESSAGE_ANSWERS_CALL]


def tool_calls_answered(body: Any) -> list[Breach]:
    """``tool-calls-answered``: every assistant tool call is answered before the next non-tool message."""
    return [b for b in _role_order(body) if b.rule == TOOL_CALLS_ANSWERED]


def _named(entry: Any) -> tuple[str | None, str | None]:
    """(type, name) of a tool or of a tool choice: {type: function, function: {name}} or {type: custom, ...}."""
    kind = _str(_dict(entry).get("type"))
    return kind, _str(_dict(_dict(entry).get(kind)).get("name")) if kind else None


def tool_choice_names_declared(body: Any) -> list[Breach]:
    """``named-tool-declared``: a named tool_choice and every allowed_tools entry name a tool declared in tools."""
    declared = {_named(tool) for tool in _list(_dict(body).get("tools"))}
    choice = _dict(_dict(body).get("tool_choice"))
    if choice.get("type") == "allowed_tools":
        named = [(f"tool_choice.allowed_tools.tools.[{k}]", entry)
                 for k, entry in enumerate(_list(_dict(choice.get("allowed_tools")).get("tools")))]
    elif choice:
        named = [("tool_choice", choice)]
    else:
        return []
    out = []
    for param, entry in named:
        kind, name = _named(entry)
        if (kind, name) not in declared:
            text = f"(relaycheck's wording) {param} names {kind} tool {name!r}, which tools does not declare."
            out.append(Breach(NAMED_TOOL_DECLARED, param, text))
    return out


def function_call_names_declared(body: Any) -> list[Breach]:
    """``named-function-declared``: a named function_call names a function declared in functions."""
    call = _dict(_dict(body).get("function_call"))
    if not call:
        return []
    declared = {_str(_dict(function).get("name")) for function in _list(_dict(body).get("functions"))}
    name = _str(call.get("name"))
    if name is not None and name in declared:
        return []
    return [Breach(NAMED_FUNCTION_DECLARED, "function_call",
                   f"(relaycheck's wording) function_call names function {name!r}, which functions does not declare.")]


def one_completion_bound(body: Any) -> list[Breach]:
    """``one-completion-bound``: max_tokens and max_completion_tokens are not both set (null is not set)."""
    if all(_dict(body).get(name) is not None for name in ("max_tokens", "max_completion_tokens")):
        return [Breach(ONE_COMPLETION_BOUND, "max_tokens", _BOTH_BOUNDS)]
    return []


def json_mode_mentions_json(body: Any) -> list[Breach]:
    """``json-mode-mentions-json``: with response_format json_object, a message's content says "json"."""
    if _dict(_dict(body).get("response_format")).get("type") != "json_object":
        return []
    if any("json" in content_text(_dict(m).get("content")).lower() for m in _list(_dict(body).get("messages"))):
        return []
    return [Breach(JSON_MODE_MENTIONS_JSON, "messages", _NO_JSON_WORD)]


RULES: Mapping[str, Callable[[Any], list[Breach]]] = MappingProxyType(
    {
        TOOL_MESSAGE_ANSWERS_CALL: tool_messages_answer_calls,
        TOOL_CALLS_ANSWERED: tool_calls_answered,
        NAMED_TOOL_DECLARED: tool_choice_names_declared,
        NAMED_FUNCTION_DECLARED: function_call_names_declared,
        ONE_COMPLETION_BOUND: one_completion_bound,
        JSON_MODE_MENTIONS_JSON: json_mode_mentions_json,
    }
)


def breaches(body: Any) -> list[Breach]:
    """Every x-rule the body breaks, rule by rule in :data:`RULES` order."""
    return [breach for rule in RULES.values() for breach in rule(body)]


def as_schema(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the chat contract under which every x-rule holds, for a generator that reads schema only
    (schemathesis's CLI): the rules' subjects are left out rather than related, since JSON Schema cannot compare
    a tool message's id with a call's, and one more ``anyOf`` rule is past what schemathesis models (the header).

    No tool message and no assistant ``tool_calls`` (both role-order rules hold); ``tool_choice`` a string only
    (named-tool-declared); ``function_call`` ``"none"`` or ``"auto"`` (named-function-declared); no ``max_tokens``,
    the deprecated bound (one-completion-bound); no ``json_object`` format (json-mode-mentions-json). Every request
    of the copy is one of the contract's that breaks no x-rule."""
    import copy

    out = copy.deepcopy(dict(document))
    schemas = out["components"]["schemas"]
    request = schemas["CreateChatCompletionRequest"]
    tool_message = {"$ref": "#/components/schemas/ChatCompletionRequestToolMessage"}
    schemas["ChatCompletionRequestMessage"]["oneOf"].remove(tool_message)
    assistant = schemas["ChatCompletionRequestAssistantMessage"]
    assistant["properties"].pop("tool_calls")
    assistant["anyOf"] = [b for b in assistant["anyOf"] if "tool_calls" not in b.get("required", [])]
    schemas["ChatCompletionToolChoiceOption"] = {
        k: v for k, v in schemas["ChatCompletionToolChoiceOption"].items() if k != "oneOf"
    } | {"type": "string", "enum": ["none", "auto", "required"]}
    if "function_call" in request["properties"]:
        request["properties"]["function_call"] = {"type": "string", "enum": ["none", "auto"]}
    request["properties"].pop("max_tokens")
    json_object = {"$ref": "#/components/schemas/ResponseFormatJsonObject"}
    request["properties"]["response_format"]["oneOf"].remove(json_object)
    return out
