"""A chat ``Api`` helper: posts to /v1/chat/completions and validates what comes back.

The schemas are written here from OpenAI's definitions (openai/openai-openapi:openapi.yaml@f85dbe2:
``CreateChatCompletionResponse``, ``CreateChatCompletionStreamResponse``, ``ChatCompletionResponseMessage``,
``ChatCompletionMessageToolCall(Chunk)``, ``ChatCompletionTokenLogprob``, ``CompletionUsage``): their required
members, types and enums, 3.0 ``nullable`` written as a type list. The project's own chat contract
(``openapi/chat.yaml``) replaces them once it is wired in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema

from relaycheck.transport.sse import parse_sse

from .conftest import Api, validate

CHAT_MODEL = "gpt-3.5-turbo"
FINISH = ["stop", "length", "tool_calls", "content_filter", "function_call"]
_STR = {"type": "string"}
_INT = {"type": "integer"}
_ALTERNATIVE = {
    "type": "object",
    "required": ["token", "logprob", "bytes"],
    "properties": {"token": _STR, "logprob": {"type": "number"}, "bytes": {"type": ["array", "null"], "items": _INT}},
}
TOKEN_LOGPROB = {
    **_ALTERNATIVE,
    "required": ["token", "logprob", "bytes", "top_logprobs"],
    "properties": {**_ALTERNATIVE["properties"], "top_logprobs": {"type": "array", "items": _ALTERNATIVE}},
}
CHOICE_LOGPROBS = {
    "type": ["object", "null"],
    "required": ["content", "refusal"],
    "properties": {
        "content": {"type": ["array", "null"], "items": TOKEN_LOGPROB},
        "refusal": {"type": ["array", "null"], "items": TOKEN_LOGPROB},
    },
}
TOOL_CALL = {
    "type": "object",
    "required": ["id", "type", "function"],
    "properties": {
        "id": _STR,
        "type": {"enum": ["function"]},
        "function": {"type": "object", "required": ["name", "arguments"],
                     "properties": {"name": _STR, "arguments": _STR}},
    },
}
USAGE = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": _INT, "completion_tokens": _INT, "total_tokens": _INT,
        "prompt_tokens_details": {"type": "object", "additionalProperties": _INT},
        "completion_tokens_details": {"type": "object", "additionalProperties": _INT},
    },
}
RESPONSE = {
    "type": "object",
    "required": ["choices", "created", "id", "model", "object"],
    "properties": {
        "id": _STR, "created": _INT, "model": _STR, "system_fingerprint": _STR, "usage": USAGE,
        "object": {"enum": ["chat.completion"]},
        "choices": {"type": "array", "items": {
            "type": "object",
            "required": ["finish_reason", "index", "message", "logprobs"],
            "properties": {
                "finish_reason": {"enum": FINISH},
                "index": _INT,
                "logprobs": CHOICE_LOGPROBS,
                "message": {
                    "type": "object",
                    "required": ["role", "content", "refusal"],
                    "properties": {
                        "role": {"enum": ["assistant"]},
                        "content": {"type": ["string", "null"]},
                        "refusal": {"type": ["string", "null"]},
                        "tool_calls": {"type": "array", "items": TOOL_CALL},
                        "annotations": {"type": "array"},
                    },
                },
            },
        }},
    },
}
CHUNK = {
    "type": "object",
    "required": ["choices", "created", "id", "model", "object"],
    "properties": {
        "id": _STR, "created": _INT, "model": _STR, "system_fingerprint": _STR,
        "object": {"enum": ["chat.completion.chunk"]},
        "usage": {"anyOf": [USAGE, {"type": "null"}]},
        "choices": {"type": "array", "items": {
            "type": "object",
            "required": ["delta", "finish_reason", "index"],
            "properties": {
                "index": _INT,
                "finish_reason": {"enum": [*FINISH, None]},
                "logprobs": CHOICE_LOGPROBS,
                "delta": {"type": "object", "properties": {
                    "content": {"type": ["string", "null"]},
                    "refusal": {"type": ["string", "null"]},
                    "role": {"enum": ["developer", "system", "user", "assistant", "tool"]},
                    "tool_calls": {"type": "array", "items": {
                        "type": "object",
                        "required": ["index"],
                        "properties": {
                            "index": _INT, "id": _STR, "type": {"enum": ["function"]},
                            "function": {"type": "object", "properties": {"name": _STR, "arguments": _STR}},
                        },
                    }},
                }},
            },
        }},
    },
}


def check(schema: dict[str, Any], instance: Any) -> None:
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3])


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@dataclass
class ChatStream:
    response: httpx.Response
    events: list[str]

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.events if e != "[DONE]"]

    def choices(self, index: int = 0) -> list[dict[str, Any]]:
        return [c for ch in self.chunks for c in ch["choices"] if c["index"] == index]

    def content(self, index: int = 0) -> str:
        return "".join(c["delta"].get("content") or "" for c in self.choices(index))

    def finish_reason(self, index: int = 0) -> str | None:
        reasons = [c["finish_reason"] for c in self.choices(index) if c["finish_reason"]]
        assert len(reasons) == 1, reasons
        return reasons[0]

    def tool_calls(self, index: int = 0) -> list[dict[str, Any]]:
        """The calls assembled as openai-python's accumulate_delta does: by ``index``, strings concatenated."""
        calls: dict[int, dict[str, Any]] = {}
        for choice in self.choices(index):
            for delta in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(delta["index"], {"function": {"name": "", "arguments": ""}})
                for key in ("id", "type"):
                    if key in delta:
                        call[key] = call.get(key, "") + delta[key] if key == "id" else delta[key]
                for key in ("name", "arguments"):
                    call["function"][key] += delta.get("function", {}).get(key) or ""
        return [calls[i] for i in sorted(calls)]

    def logprobs(self, index: int = 0) -> list[dict[str, Any]]:
        return [e for c in self.choices(index) if c.get("logprobs") for e in c["logprobs"]["content"] or []]


class ChatApi:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client

    def post(self, body: Any, **kwargs: Any) -> httpx.Response:
        return self.client.post("/chat/completions", json=body, **kwargs)

    def create(self, **body: Any) -> dict[str, Any]:
        """A successful non-stream chat completion, validated."""
        response = self.post({"model": CHAT_MODEL, **body})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        payload = response.json()
        check(RESPONSE, payload)
        return payload

    def stream(self, **body: Any) -> ChatStream:
        """A streamed chat completion; what every conformant chat stream has is asserted here."""
        response = self.post({"model": CHAT_MODEL, "stream": True, **body})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        result = ChatStream(response, [e.data for e in parse_sse(response.content).events])
        assert result.events[-1] == "[DONE]" and result.events.count("[DONE]") == 1
        chunks = result.chunks
        for chunk in chunks:
            check(CHUNK, chunk)
        assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
        for index in {c["index"] for ch in chunks for c in ch["choices"]}:
            first = result.choices(index)[0]["delta"]
            assert first["role"] == "assistant", first
            last = result.choices(index)[-1]
            assert last["delta"] == {} and last["finish_reason"] is not None
        return result

    def error(self, status: int, body: Any, **kwargs: Any) -> dict[str, Any]:
        response = self.post(body, **kwargs)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        validate("ErrorResponse", response.json())
        return response.json()["error"]
