"""The request body of POST /v1/chat/completions: validation, then the parsed :class:`ChatRequest`.

The members and their types, ranges and defaults are OpenAI's ``CreateChatCompletionRequest``
(openai/openai-openapi:openapi.yaml@f85dbe223d40e1a31cba812ab2d755c7e98a92a3, with ``CreateModelResponseProperties``
and ``ModelResponseProperties``). Validation is written here, not read from a schema: the project's chat contract
(``openapi/chat.yaml``) is written in parallel, and OpenAI's chat errors carry messages and codes per rule, which
this module reproduces (``Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.``,
code ``integer_below_min_value``; the wording is OpenAI's as quoted by its clients, e.g. the temperature message in
openai-python users' reports). The rules no schema states, with their source:

- an argument OpenAI does not define: 400 ``Unrecognized request argument supplied: NAME`` (param NAME), as on
  Completions;
- ``max_tokens`` and ``max_completion_tokens`` together: 400 "Setting 'max_tokens' and 'max_completion_tokens' at
  the same time is not supported." (OpenAI's answer quoted in smallmain/vscode-unify-chat-provider#279);
- ``top_logprobs`` requires ``logprobs: true`` (the spec's ``top_logprobs`` description);
- ``stream_options`` only with ``stream`` (``ChatCompletionStreamOptions``: "Only set this when you set stream: true");
- ``tool_choice`` other than ``none`` without ``tools``: "Invalid value for 'tool_choice': 'tool_choice' is only
  allowed when 'tools' are specified." (quoted in writer/writer-framework#1013); a named function that ``tools`` lacks
  is refused too (the message is the reference's own, under OpenAI's "Invalid value for 'tool_choice'" prefix);
- role order: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with
  'tool_calls'." (OpenAI's spelling) and "An assistant message with 'tool_calls' must be followed by tool messages
  responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: …", param
  ``messages.[i].role`` (openai-chat-facts §1.2: miurla/morphic#136, smarter-sh/smarter#264);
- ``response_format`` ``json_object`` needs the word "json" in the messages: "'messages' must contain the word 'json'
  in some form, to use 'response_format' of type 'json_object'." (``ResponseFormatJsonObject``: "the model will not
  generate JSON without a system or user message instructing it to do so");
- the context: prompt plus the completion bound over the window is 400 ``context_length_exceeded``, param
  ``messages`` ("…(137 in the messages, 4000 in the completion). Please reduce the length of the messages or
  completion.", n3d1117/chatgpt-telegram-bot#174).

What the reference does not serve is refused cleanly (400, code ``unsupported_parameter`` or ``unsupported_value``,
naming the member): image, audio and file content parts, audio output, predicted outputs, web search, moderation,
custom tools, reasoning and verbosity settings (gpt-3.5-turbo and gpt-4o have none), and the deprecated
``functions``/``function_call`` and ``function`` role ("Deprecated in favor of tools", the spec; the reference
serves ``tools``). Harmless members are accepted and change nothing: ``user``, ``store``, ``metadata``,
``service_tier``, ``safety_identifier``, ``prompt_cache_key``, ``prompt_cache_retention``, ``prompt_cache_options``,
``modalities: ["text"]``, ``stream_options.include_obfuscation``. Unknown keys inside a message are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from relaycheck.server.chat_template import RenderedPrompt, render_prompt
from relaycheck.server.errors import ApiError, invalid
from relaycheck.server.model import Sampling
from relaycheck.server.params import logit_bias_map
from relaycheck.server.structured import unserved_keyword
from relaycheck.server.tokenizer import Tokenizer
from relaycheck.tokens.chat import content_text

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
TEXT_ONLY = ("text",)
PART_TYPES = {
    "system": TEXT_ONLY,
    "developer": TEXT_ONLY,
    "tool": TEXT_ONLY,
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
}
SERVED_PARTS = ("text", "refusal")
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
MAX_TOOL_CALLS = 16  # calls one answer makes at most (the mention rule, chat.py)

KNOWN = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs", "max_completion_tokens",
    "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n", "parallel_tool_calls",
    "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
    "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop", "store", "stream",
    "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
    "web_search_options",
})
# Members the reference refuses when set (not null): it does not serve what they ask for.
NOT_SERVED = {
    "audio": "audio output",
    "prediction": "predicted outputs",
    "web_search_options": "web search",
    "moderation": "moderated completions",
    "reasoning_effort": "reasoning (the served models are not reasoning models)",
    "verbosity": "verbosity (the served models have no such setting)",
    "functions": "the deprecated functions (use tools)",
    "function_call": "the deprecated function_call (use tool_choice)",
}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any] | None  # a JSON Schema; None: no parameters
    strict: bool


@dataclass(frozen=True)
class ToolChoice:
    """``mode`` is none, auto, required or named; ``allowed`` the tool names it may call (named: the one)."""

    mode: str
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseFormat:
    type: str = "text"  # text | json_object | json_schema
    name: str = ""
    schema: Mapping[str, Any] | None = None
    strict: bool = False


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request, defaults applied.

    The fields that mean what they mean on Completions carry the same names as :class:`CompletionRequest`'s
    (``n``, ``stop``, ``max_tokens``, ``sampling``, ``seed``, ``stream``, ``include_usage``, ``logprobs`` and the
    quirk switches), so a request-side quirk written for one applies to both with ``dataclasses.replace``.
    """

    model: str
    messages: tuple[Mapping[str, Any], ...]
    prompt: RenderedPrompt
    max_tokens: int  # the completion bound: max_completion_tokens, max_tokens, or what the context leaves
    n: int = 1
    stop: tuple[str, ...] = ()
    sampling: Sampling = field(default_factory=Sampling)
    seed: int | None = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    logprobs: int | None = None  # top_logprobs when logprobs is true, else None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = ToolChoice("none")
    parallel_tool_calls: bool = True
    response_format: ResponseFormat = ResponseFormat()
    # Switches no request field sets; only quirks do (as on CompletionRequest).
    include_stop: bool = False
    stop_overhang: int = 0
    forced_prefix: tuple[int, ...] = ()
    extra_alternatives: int = 0

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt.ids)

    def tool(self, name: str) -> ToolSpec:
        return next(t for t in self.tools if t.name == name)


# -- OpenAI's validation messages --------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _type_error(path: str, expected: str, value: Any) -> ApiError:
    return invalid(f"Invalid type for '{path}': expected {expected}, but got {_kind(value)} instead.", path,
                   code="invalid_type")


def _missing(path: str) -> ApiError:
    return invalid(f"Missing required parameter: '{path}'.", path, code="missing_required_parameter")


def _supported(path: str, value: Any, choices: Sequence[str]) -> ApiError:
    quoted = [f"'{c}'" for c in choices]
    listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)
    return invalid(f"Invalid value: '{value}'. Supported values are: {listed}.", path, code="invalid_value")


def _not_served(path: str, what: str) -> ApiError:
    return invalid(f"Unsupported parameter: '{path}' is not supported by the relaycheck reference provider "
                   f"(it does not serve {what}).", path, code="unsupported_parameter")


def _is_int(value: Any) -> bool:
    # 3.0 is a JSON Schema integer, as on Completions; booleans are not numbers
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(body: Mapping[str, Any], name: str, low: int | None = None, high: int | None = None) -> int | None:
    value = _numeric(body, name, low, high, "integer")
    return None if value is None else int(value)


def _decimal(body: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = _numeric(body, name, low, high, "decimal")
    return None if value is None else float(value)


def _numeric(body: Mapping[str, Any], name: str, low: float | None, high: float | None, kind: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if not (_is_int(value) if kind == "integer" else _is_number(value)):
        raise _type_error(name, f"an {kind}" if kind == "integer" else f"a {kind}", value)
    _range(name, value, low, high, kind)
    return value


def _range(path: str, value: float, low: float | None, high: float | None, kind: str) -> None:
    if low is not None and value < low:
        raise invalid(f"Invalid '{path}': {kind} below minimum value. Expected a value >= {low:g}, but got "
                      f"{value:g} instead.", path, code=f"{kind}_below_min_value")
    if high is not None and value > high:
        raise invalid(f"Invalid '{path}': {kind} above maximum value. Expected a value <= {high:g}, but got "
                      f"{value:g} instead.", path, code=f"{kind}_above_max_value")


def _boolean(body: Mapping[str, Any], name: str, path: str | None = None) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _type_error(path or name, "a boolean", value)
    return value


def _string(body: Mapping[str, Any], name: str, path: str | None = None, max_length: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    path = path or name
    if not isinstance(value, str):
        raise _type_error(path, "a string", value)
    if max_length is not None and len(value) > max_length:
        raise invalid(f"Invalid '{path}': string too long. Expected a string with maximum length {max_length}, "
                      f"but got a string with length {len(value)} instead.", path, code="string_above_max_length")
    return value


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _type_error(path, "an object", value)
    return value


def _array(value: Any, path: str, min_items: int = 0, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise _type_error(path, "an array", value)
    if len(value) < min_items:
        raise invalid(f"Invalid '{path}': empty array. Expected an array with minimum length {min_items}, but got an "
                      "empty array instead.", path, code="empty_array")
    if max_items is not None and len(value) > max_items:
        raise invalid(f"Invalid '{path}': array too long. Expected an array with maximum length {max_items}, but got "
                      f"an array with length {len(value)} instead.", path, code="array_above_max_length")
    return value


# -- messages ------------------------------------------------------------------------------------------


def _content(message: Mapping[str, Any], role: str, path: str, index: int) -> None:
    content = message.get("content")
    if content is None:
        if role == "assistant" and message.get("tool_calls"):
            return  # "Required unless tool_calls or function_call is specified" (the assistant message's content)
        if role == "assistant" or "content" in message:
            # OpenAI's answer to a null content: 'Invalid value for 'content': expected a string, got null.'
            raise invalid("Invalid value for 'content': expected a string, got null.", f"messages.[{index}].content")
        raise _missing(f"{path}.content")
    if isinstance(content, str):
        return
    parts = _array(content, f"{path}.content", min_items=1)
    for j, part in enumerate(parts):
        part_path = f"{path}.content[{j}]"
        part = _object(part, part_path)
        kind = part.get("type")
        if kind is None:
            raise _missing(f"{part_path}.type")
        if kind not in PART_TYPES[role]:
            raise _supported(f"{part_path}.type", kind, PART_TYPES[role])
        if kind not in SERVED_PARTS:
            raise invalid(f"Unsupported value: '{part_path}.type' does not support '{kind}' with this model (the "
                          "relaycheck reference provider serves text only). Supported values are: 'text'.",
                          f"{part_path}.type", code="unsupported_value")
        if not isinstance(part.get(kind), str):
            raise _missing(f"{part_path}.{kind}") if kind not in part else _type_error(
                f"{part_path}.{kind}", "a string", part[kind])
        if kind == "text" and part.get("prompt_cache_breakpoint") is not None:
            breakpoint_path = f"{part_path}.prompt_cache_breakpoint"
            mode = _object(part["prompt_cache_breakpoint"], breakpoint_path).get("mode")
            if mode != "explicit":
                raise _missing(f"{breakpoint_path}.mode") if mode is None else _supported(
                    f"{breakpoint_path}.mode", mode, ("explicit",))


def _tool_calls(message: Mapping[str, Any], path: str) -> list[str]:
    calls = message.get("tool_calls")
    if calls is None:
        return []
    ids = []
    for j, call in enumerate(_array(calls, f"{path}.tool_calls")):
        call_path = f"{path}.tool_calls[{j}]"
        call = _object(call, call_path)
        for key in ("id", "type", "function"):
            if key not in call:
                raise _missing(f"{call_path}.{key}")
        if call["type"] != "function":
            raise _supported(f"{call_path}.type", call["type"], ("function",))
        if _string(call, "id", f"{call_path}.id") is None:
            raise _missing(f"{call_path}.id")
        function = _object(call["function"], f"{call_path}.function")
        for key in ("name", "arguments"):
            if _string(function, key, f"{call_path}.function.{key}") is None:
                raise _missing(f"{call_path}.function.{key}")
        ids.append(call["id"])
    return ids


def _message(message: Any, i: int) -> Mapping[str, Any]:
    path = f"messages[{i}]"
    message = _object(message, path)
    role = message.get("role")
    if role is None:
        raise _missing(f"{path}.role")
    if not isinstance(role, str):
        raise _type_error(f"{path}.role", "a string", role)
    if role not in ROLES:
        raise _supported(f"{path}.role", role, ROLES)
    if role == "function":
        raise invalid(f"Unsupported value: '{path}.role' does not support 'function' with the relaycheck reference "
                      "provider (the role is deprecated in favor of 'tool'). Supported values are: 'system', "
                      "'developer', 'user', 'assistant', and 'tool'.", f"{path}.role", code="unsupported_value")
    _content(message, role, path, i)
    if "name" in message and message["name"] is None:  # a present name is a string (null is no default here)
        raise _type_error(f"{path}.name", "a string", None)
    _string(message, "name", f"{path}.name")
    if role == "tool" and _string(message, "tool_call_id", f"{path}.tool_call_id") is None:
        raise _missing(f"{path}.tool_call_id")
    if role == "assistant":
        _tool_calls(message, path)
        _string(message, "refusal", f"{path}.refusal")
    return message


def _role_order(messages: Sequence[Mapping[str, Any]]) -> None:
    """Tool messages answer the calls of the assistant message before them, and every call is answered."""
    pending: dict[str, None] = {}  # ids of the last assistant's calls not yet answered, in order
    caller = -1
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            if message["tool_call_id"] not in pending:
                raise invalid("Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                              "message with 'tool_calls'.", f"messages.[{i}].role", cause="role_order")
            del pending[message["tool_call_id"]]
            continue
        if pending:
            raise _unanswered(caller, pending)
        if role == "assistant" and message.get("tool_calls"):
            pending = {call["id"]: None for call in message["tool_calls"]}
            caller = i
    if pending:
        raise _unanswered(caller, pending)


def _unanswered(caller: int, pending: Mapping[str, None]) -> ApiError:
    return invalid("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                   "'tool_call_id'. The following tool_call_ids did not have response messages: "
                   f"{', '.join(pending)}", f"messages.[{caller}].role", cause="role_order")


# -- tools, tool_choice, response_format ---------------------------------------------------------------


def _schema_problem(schema: Mapping[str, Any], strict: bool) -> str | None:
    """Why ``schema`` is not a JSON Schema the reference can serve (None when it is)."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return exc.message
    keyword = unserved_keyword(schema)
    if keyword:
        return f"the relaycheck reference provider cannot generate output constrained by '{keyword}'."
    return _strict_problem(schema, ()) if strict else None


def _strict_problem(schema: Any, context: tuple[str, ...]) -> str | None:
    """Structured Outputs' strict-mode rules: every object closed and every property required."""
    if not isinstance(schema, Mapping):
        return None
    where = f"In context=({', '.join(repr(c) for c in context)}{',' if len(context) == 1 else ''})"
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        missing = [k for k in properties if k not in (schema.get("required") or [])]
        if missing:
            return (f"{where}, 'required' is required to be supplied and to be an array including every key in "
                    f"properties. Missing '{missing[0]}'.")
        for key, sub in properties.items():
            problem = _strict_problem(sub, (*context, "properties", key))
            if problem:
                return problem
    for key in ("items",):
        problem = _strict_problem(schema.get(key), (*context, key))
        if problem:
            return problem
    for key in ("anyOf", "allOf", "oneOf"):
        for j, sub in enumerate(schema.get(key) or []):
            problem = _strict_problem(sub, (*context, key, str(j)))
            if problem:
                return problem
    for defs in ("$defs", "definitions"):
        for name, sub in (schema.get(defs) or {}).items():
            problem = _strict_problem(sub, (*context, defs, name))
            if problem:
                return problem
    return None


def _name(value: Any, path: str) -> str:
    if value is None:
        raise _missing(path)
    if not isinstance(value, str):
        raise _type_error(path, "a string", value)
    if not NAME_PATTERN.fullmatch(value):
        raise invalid(f"Invalid '{path}': string does not match pattern. Expected a string that matches the pattern "
                      f"'^[a-zA-Z0-9_-]+$' of at most 64 characters, but got '{value}' instead.", path,
                      code="invalid_value")
    return value


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    raw = body.get("tools")
    if raw is None:
        return ()
    specs = []
    for i, tool in enumerate(_array(raw, "tools", min_items=1, max_items=128)):
        path = f"tools[{i}]"
        tool = _object(tool, path)
        kind = tool.get("type")
        if kind is None:
            raise _missing(f"{path}.type")
        if kind == "custom":
            raise _not_served(f"{path}.type", "custom tools")
        if kind != "function":
            raise _supported(f"{path}.type", kind, ("function", "custom"))
        if "function" not in tool:
            raise _missing(f"{path}.function")
        function = _object(tool["function"], f"{path}.function")
        name = _name(function.get("name"), f"{path}.function.name")
        description = _string(function, "description", f"{path}.function.description") or ""
        strict = bool(_boolean(function, "strict", f"{path}.function.strict"))
        parameters = function.get("parameters")
        if parameters is not None:
            parameters = _object(parameters, f"{path}.function.parameters")
            problem = _schema_problem(parameters, strict)
            if problem:
                raise invalid(f"Invalid schema for function '{name}': {problem}", f"{path}.function.parameters",
                              code="invalid_function_parameters")
        specs.append(ToolSpec(name, description, parameters, strict))
    return tuple(specs)


def _named(choice: Mapping[str, Any], path: str, tools: Sequence[ToolSpec]) -> str:
    function = _object(choice.get("function"), f"{path}.function") if "function" in choice else None
    if function is None:
        raise _missing(f"{path}.function")
    name = _name(function.get("name"), f"{path}.function.name")
    if name not in {t.name for t in tools}:
        raise invalid(f"Invalid value for 'tool_choice': function '{name}' is not one of the functions in 'tools'.",
                      "tool_choice", code="invalid_value")
    return name


def _tool_choice(body: Mapping[str, Any], tools: Sequence[ToolSpec]) -> ToolChoice:
    raw = body.get("tool_choice")
    names = tuple(t.name for t in tools)
    if raw is None:
        return ToolChoice("auto", names) if tools else ToolChoice("none")
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            raise _supported("tool_choice", raw, ("none", "auto", "required"))
        choice = ToolChoice(raw, names if raw != "none" else ())
    else:
        raw = _object(raw, "tool_choice")
        kind = raw.get("type")
        if kind == "function":
            choice = ToolChoice("named", (_named(raw, "tool_choice", tools),)) if tools else ToolChoice("named")
        elif kind == "allowed_tools":
            allowed = _object(raw.get("allowed_tools"), "tool_choice.allowed_tools")
            mode = allowed.get("mode")
            if mode not in ("auto", "required"):
                raise _supported("tool_choice.allowed_tools.mode", mode, ("auto", "required"))
            listed = _array(allowed.get("tools"), "tool_choice.allowed_tools.tools", min_items=1)
            picked = tuple(_named(_object(t, f"tool_choice.allowed_tools.tools[{j}]"),
                                  f"tool_choice.allowed_tools.tools[{j}]", tools) for j, t in enumerate(listed))
            choice = ToolChoice(mode, picked)
        elif kind == "custom":
            raise _not_served("tool_choice.type", "custom tools")
        else:
            raise _supported("tool_choice.type", kind, ("function", "allowed_tools", "custom"))
    if choice.mode != "none" and not tools:
        raise invalid("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                      "tool_choice")
    return choice


def _response_format(body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> ResponseFormat:
    raw = body.get("response_format")
    if raw is None:
        return ResponseFormat()
    raw = _object(raw, "response_format")
    kind = raw.get("type")
    if kind is None:
        raise _missing("response_format.type")
    if kind not in ("text", "json_object", "json_schema"):
        raise _supported("response_format.type", kind, ("text", "json_object", "json_schema"))
    if kind == "json_object":
        if not any("json" in content_text(m.get("content")).lower() for m in messages):
            raise invalid("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                          "'json_object'.", "messages")
        return ResponseFormat("json_object")
    if kind == "text":
        return ResponseFormat()
    if "json_schema" not in raw:
        raise _missing("response_format.json_schema")
    spec = _object(raw["json_schema"], "response_format.json_schema")
    name = _name(spec.get("name"), "response_format.json_schema.name")
    _string(spec, "description", "response_format.json_schema.description")
    strict = bool(_boolean(spec, "strict", "response_format.json_schema.strict"))
    schema = spec.get("schema")
    if schema is not None:
        schema = _object(schema, "response_format.json_schema.schema")
        problem = _schema_problem(schema, strict)
        if problem:
            raise invalid(f"Invalid schema for response_format '{name}': {problem}", "response_format",
                          code="invalid_json_schema")
    return ResponseFormat("json_schema", name, schema, strict)


# -- the rest ------------------------------------------------------------------------------------------


def _refuse_unserved(body: Mapping[str, Any]) -> None:
    for name, what in NOT_SERVED.items():
        if body.get(name) is not None:
            raise _not_served(name, what)
    modalities = body.get("modalities")
    if modalities is not None:
        for value in _array(modalities, "modalities"):
            if value != "text":
                raise _not_served("modalities", f"the {value} modality" if isinstance(value, str) else "it")


def _harmless(body: Mapping[str, Any]) -> None:
    """Accepted and without effect; their types still have to be right."""
    _boolean(body, "store")
    _string(body, "user")
    _string(body, "safety_identifier", max_length=64)
    _string(body, "prompt_cache_key")
    _string(body, "service_tier")
    retention = body.get("prompt_cache_retention")
    if retention is not None and retention not in ("in_memory", "24h"):
        raise _supported("prompt_cache_retention", retention, ("in_memory", "24h"))
    if body.get("prompt_cache_options") is not None:
        _object(body["prompt_cache_options"], "prompt_cache_options")
    metadata = body.get("metadata")
    if metadata is not None:
        metadata = _object(metadata, "metadata")
        if len(metadata) > 16:
            raise invalid(f"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
                          f"but got an object with {len(metadata)} properties instead.", "metadata",
                          code="object_above_max_properties")
        for key in metadata:
            _string(metadata, key, f"metadata.{key}", max_length=512)
            if len(key) > 64:
                raise invalid(f"Invalid 'metadata': key '{key[:64]}…' is longer than 64 characters.", "metadata",
                              code="invalid_value")


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    items = _array(stop, "stop", min_items=1, max_items=4)
    for j, item in enumerate(items):
        if not isinstance(item, str):
            raise _type_error(f"stop[{j}]", "a string", item)
    return tuple(s for s in items if s)  # an empty stop string would end every completion at once


def _logit_bias(body: Mapping[str, Any], tokenizer: Tokenizer) -> dict[int, float]:
    raw = body.get("logit_bias")
    if raw is None:
        return {}
    raw = _object(raw, "logit_bias")
    for key, value in raw.items():
        if not _is_int(value):
            raise _type_error(f"logit_bias.{key}", "an integer", value)
        _range(f"logit_bias.{key}", value, -100, 100, "integer")
    return logit_bias_map({k: int(v) for k, v in raw.items()}, tokenizer)


def _stream_options(body: Mapping[str, Any], stream: bool) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    options = _object(options, "stream_options")
    for key in options:
        if key not in ("include_usage", "include_obfuscation"):
            raise invalid(f"Unknown parameter: 'stream_options.{key}'.", f"stream_options.{key}",
                          code="unknown_parameter")
    _boolean(options, "include_obfuscation", "stream_options.include_obfuscation")
    return bool(_boolean(options, "include_usage", "stream_options.include_usage"))


def _completion_bound(body: Mapping[str, Any], prompt: RenderedPrompt, context_length: int) -> int:
    given = _integer(body, "max_tokens", low=1)
    completion = _integer(body, "max_completion_tokens", low=1)
    if given is not None and completion is not None:
        raise invalid("Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
                      "max_tokens")
    bound = completion if completion is not None else given
    prompt_tokens = len(prompt.ids)
    functions = f" (including {prompt.tool_tokens} in the functions)" if prompt.tool_tokens else ""
    if bound is None:
        if prompt_tokens >= context_length:  # not even one token of room
            raise invalid(f"This model's maximum context length is {context_length} tokens. However, your messages "
                          f"resulted in {prompt_tokens} tokens{functions}. Please reduce the length of the messages.",
                          "messages", code="context_length_exceeded", cause="context")
        return context_length - prompt_tokens
    if prompt_tokens + bound > context_length:
        messages = prompt_tokens - prompt.tool_tokens
        parts = f"{messages} in the messages, " + (f"{prompt.tool_tokens} in the functions, " if functions else "")
        raise invalid(f"This model's maximum context length is {context_length} tokens. However, you requested "
                      f"{prompt_tokens + bound} tokens ({parts}{bound} in the completion). Please reduce the length "
                      "of the messages or completion.", "messages", code="context_length_exceeded", cause="context")
    return bound


def parse_chat_request(body: Any, tokenizer: Tokenizer, context_length: int) -> ChatRequest:
    """Validate ``body`` (parsed JSON) and return the request, or raise :class:`ApiError` (400)."""
    for name in body:
        if name not in KNOWN:
            raise invalid(f"Unrecognized request argument supplied: {name}", name)
    if body.get("model") is None:
        raise _missing("model")
    model = _string(body, "model")
    if "messages" not in body:
        raise _missing("messages")
    messages = tuple(_message(m, i) for i, m in enumerate(_array(body["messages"], "messages", min_items=1)))
    _role_order(messages)
    _refuse_unserved(body)
    _harmless(body)
    n = _integer(body, "n", 1, 128)
    temperature = _decimal(body, "temperature", 0, 2)
    top_p = _decimal(body, "top_p", 0, 1)
    presence = _decimal(body, "presence_penalty", -2, 2)
    frequency = _decimal(body, "frequency_penalty", -2, 2)
    seed = _integer(body, "seed", -(2**63), 2**63 - 1)
    logprobs = _boolean(body, "logprobs")
    top_logprobs = _integer(body, "top_logprobs", 0, 20)
    if top_logprobs is not None and not logprobs:
        raise invalid("Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is "
                      "specified.", "top_logprobs")
    stream = bool(_boolean(body, "stream"))
    include_usage = _stream_options(body, stream)
    stop = _stop(body)
    bias = _logit_bias(body, tokenizer)
    tools = _tools(body)
    choice = _tool_choice(body, tools)
    parallel = _boolean(body, "parallel_tool_calls")
    if parallel is not None and not tools:
        raise invalid("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' "
                      "are specified.", "parallel_tool_calls")
    response_format = _response_format(body, messages)
    prompt = render_prompt(tokenizer, messages, body.get("tools") or ())
    bound = _completion_bound(body, prompt, context_length)
    assert model is not None
    return ChatRequest(
        model=model,
        messages=messages,
        prompt=prompt,
        max_tokens=bound,
        n=1 if n is None else n,
        stop=stop,
        sampling=Sampling(
            temperature=1.0 if temperature is None else temperature,
            top_p=1.0 if top_p is None else top_p,
            presence_penalty=presence or 0.0,
            frequency_penalty=frequency or 0.0,
            logit_bias=bias,
        ),
        seed=seed,
        user=body.get("user"),
        stream=stream,
        include_usage=include_usage,
        logprobs=(top_logprobs or 0) if logprobs else None,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=True if parallel is None else parallel,
        response_format=response_format,
    )
