"""Whatever a client sends, the server answers with the contract: a valid completion or a valid 4xx error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

import relaycheck.server.app as app_module
from relaycheck.server import ServerConfig, create_app
from relaycheck.transport.sse import parse_sse

from .conftest import API_KEY, MODEL, Api, validate

_numbers = st.one_of(st.floats(-3, 3, allow_nan=False), st.integers(-3, 3), st.none())
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from([MODEL, "babbage-002", "nope", 5, None]),
    "prompt": st.one_of(
        st.text(max_size=20),
        st.lists(st.text(max_size=8), max_size=3),
        st.lists(st.integers(-2, 3000), max_size=4),
        st.lists(st.lists(st.integers(0, 3000), max_size=3), max_size=2),
        st.none(),
        st.integers(),
    ),
    "max_tokens": st.one_of(st.integers(-2, 30), st.floats(0, 5), st.none(), st.just("8")),
    "n": st.one_of(st.integers(-1, 3), st.none()),
    "best_of": st.one_of(st.integers(-1, 4), st.none()),
    "echo": st.one_of(st.booleans(), st.none(), st.just(1)),
    "logprobs": st.one_of(st.integers(-1, 6), st.none(), st.booleans()),
    "stop": st.one_of(st.text(max_size=3), st.lists(st.text(max_size=3), max_size=5), st.none()),
    "temperature": _numbers,
    "top_p": _numbers,
    "presence_penalty": _numbers,
    "frequency_penalty": _numbers,
    "logit_bias": st.one_of(
        st.none(),
        st.dictionaries(
            st.one_of(st.integers(-2, 3000).map(str), st.text(max_size=3)), st.integers(-120, 120), max_size=3
        ),
    ),
    "seed": st.one_of(st.integers(-(2**70), 2**70), st.none(), st.just(1.5)),
    "user": st.one_of(st.text(max_size=5), st.none()),
    "stream": st.one_of(st.booleans(), st.none()),
    "stream_options": st.one_of(
        st.none(), st.fixed_dictionaries({}, optional={"include_usage": st.booleans()})
    ),
    "suffix": st.one_of(st.text(max_size=5), st.none()),
    "unknown": st.just(1),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.fixed_dictionaries({}, optional=FIELDS))
def test_any_body_gets_a_contract_answer(api: Api, body: dict[str, Any]) -> None:
    response = api.post(body)
    assert response.status_code in (200, 400, 404), response.text
    if response.status_code != 200:
        payload = response.json()
        validate("ErrorResponse", payload)
        assert payload["error"]["param"] in (*body, "model", "prompt", None)
        return
    if body.get("stream"):
        events = [e.data for e in parse_sse(response.content).events]
        assert events[-1] == "[DONE]"
        for data in events[:-1]:
            validate("CreateCompletionChunk", json.loads(data))
    else:
        payload = response.json()
        validate("CreateCompletionResponse", payload)
        for choice in payload["choices"]:
            if choice["logprobs"] is not None:
                assert "".join(choice["logprobs"]["tokens"]) == choice["text"]


@pytest.fixture
def client() -> TestClient:
    return TestClient(
        create_app(ServerConfig()),
        raise_server_exceptions=False,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


def test_an_internal_failure_is_a_500_envelope(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "build_response", broken)
    response = client.post("/v1/completions", json={"model": MODEL, "prompt": "x"})
    assert response.status_code == 500
    validate("ErrorResponse", response.json())
    assert response.json()["error"]["type"] == "server_error" and "boom" not in response.text


def test_a_failure_mid_stream_is_a_data_error_event(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> AsyncIterator[dict[str, Any]]:
        yield {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": MODEL,
            "choices": [{"text": "a", "index": 0, "logprobs": None, "finish_reason": None}],
        }
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "stream_chunks", broken)
    response = client.post("/v1/completions", json={"model": MODEL, "prompt": "x", "stream": True})
    assert response.status_code == 200
    events = [json.loads(e.data) for e in parse_sse(response.content).events]
    assert events[0]["choices"][0]["text"] == "a"
    validate("ErrorResponse", events[-1])
    assert events[-1]["error"]["type"] == "server_error"
