"""Fixtures: reference servers on free 127.0.0.1 ports, and an ``Api`` helper that validates what comes back.

Every successful non-stream body the helper sees is validated against ``CreateCompletionResponse``, every
chunk against ``CreateCompletionChunk`` and every error against ``ErrorResponse`` (the project's contract),
unless the test asks for the raw exchange (quirk tests look at deliberately broken answers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from relaycheck.server import RunningServer, ServerConfig, serve_in_thread
from relaycheck.spec import load_contract
from relaycheck.transport.sse import parse_sse

API_KEY = "sk-relaycheck-reference"
MODEL = "gpt-3.5-turbo-instruct"
COUNTING = "1, 2, 3, 4,"


def validate(schema: str, instance: Any) -> None:
    errors = sorted(load_contract().validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, f"{schema}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:3])


@dataclass
class Streamed:
    response: httpx.Response
    events: list[str]  # the data payloads, in order ([DONE] included)
    stray_lines: list[str]
    comments: int

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.events if e != "[DONE]"]

    def text(self, index: int = 0) -> str:
        return "".join(
            c["text"] for ch in self.chunks for c in ch.get("choices") or [] if c["index"] == index
        )

    def finishes(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for chunk in self.chunks:
            for choice in chunk.get("choices") or []:
                if choice.get("finish_reason") is not None:
                    found.setdefault(choice["index"], []).append(choice["finish_reason"])
        return found


class Api:
    def __init__(self, server: RunningServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client

    def post(self, body: Any = None, **kwargs: Any) -> httpx.Response:
        if body is not None:
            kwargs["json"] = body
        return self.client.post("/completions", **kwargs)

    def complete(self, **body: Any) -> dict[str, Any]:
        """A successful non-stream completion, validated."""
        response = self.post({"model": MODEL, **body})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        payload = response.json()
        validate("CreateCompletionResponse", payload)
        return payload

    def stream(self, validate_chunks: bool = True, **body: Any) -> Streamed:
        """A streamed completion; the structure every conformant stream has is asserted here."""
        response = self.post({"model": MODEL, "stream": True, **body})
        assert response.status_code == 200, response.text
        parsed = parse_sse(response.content)
        result = Streamed(response, [e.data for e in parsed.events], parsed.stray_lines, parsed.comments)
        if validate_chunks:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert result.events[-1] == "[DONE]" and result.events.count("[DONE]") == 1
            assert response.content.endswith(b"data: [DONE]\n\n")
            for chunk in result.chunks:
                validate("CreateCompletionChunk", chunk)
        return result

    def error(self, status: int, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """An error answer with ``status``, validated against ErrorResponse; returns the inner error."""
        response = self.post(body, **kwargs)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        payload = response.json()
        validate("ErrorResponse", payload)
        return payload["error"]


def _client(server: RunningServer) -> httpx.Client:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=15)


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    with serve_in_thread(ServerConfig()) as running:
        yield running


@pytest.fixture(scope="session")
def api(server: RunningServer) -> Iterator[Api]:
    with _client(server) as client:
        yield Api(server, client)


@pytest.fixture(scope="module")
def api_for() -> Iterator[Callable[..., Api]]:
    """``api_for(*quirks, **config)``: an Api on a server with those quirks, started once per module."""
    started: dict[tuple[Any, ...], tuple[RunningServer, httpx.Client]] = {}

    def get(*quirks: str, **config: Any) -> Api:
        key = (frozenset(quirks), tuple(sorted(config.items())))
        if key not in started:
            running = serve_in_thread(ServerConfig(quirks=frozenset(quirks), **config))
            started[key] = (running, _client(running))
        running, client = started[key]
        return Api(running, client)

    yield get
    for _, client in started.values():
        client.close()
    # uvicorn notices a stop request within 0.1 s; stopping in parallel keeps module teardown short.
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda entry: entry[0].stop(), started.values()))
