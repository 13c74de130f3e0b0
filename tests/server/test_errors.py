"""Errors: validation (schema and semantic), auth, unknown model and path, context length, rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from relaycheck.server.config import default_chat_models

from .conftest import COUNTING, MODEL, Api, validate


def ok(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": "x", "max_tokens": 1, **extra}


SCHEMA_ERRORS = [
    (ok(temperature=2.5), "temperature"),
    (ok(temperature=-0.1), "temperature"),
    (ok(temperature="hot"), "temperature"),
    (ok(top_p=1.5), "top_p"),
    (ok(n=0), "n"),
    (ok(n=129), "n"),
    (ok(n=1.5), "n"),
    (ok(logprobs=6), "logprobs"),
    (ok(logprobs=-1), "logprobs"),
    (ok(logprobs=True), "logprobs"),
    (ok(stop=["a", "b", "c", "d", "e"]), "stop"),
    (ok(stop=[]), "stop"),
    (ok(stop=5), "stop"),
    (ok(best_of=21), "best_of"),
    (ok(presence_penalty=3), "presence_penalty"),
    (ok(frequency_penalty=-2.5), "frequency_penalty"),
    (ok(max_tokens=-1), "max_tokens"),
    (ok(max_tokens="16"), "max_tokens"),
    (ok(echo="yes"), "echo"),
    (ok(stream="yes"), "stream"),
    (ok(prompt=5), "prompt"),
    (ok(prompt=[[]]), "prompt"),
    (ok(prompt=[1, "a"]), "prompt"),
    (ok(user=5), "user"),
    (ok(user=None), "user"),
    (ok(seed="x"), "seed"),
    (ok(logit_bias={"13": 101}), "logit_bias"),
    (ok(logit_bias=[1]), "logit_bias"),
    (ok(stream=True, stream_options={"include_usage": "yes"}), "stream_options"),
    (ok(suffix=5), "suffix"),
    ({"prompt": "x"}, "model"),
    ({"model": MODEL}, "prompt"),
    (ok(model=5), "model"),
]


@pytest.mark.parametrize(
    ("body", "param"), SCHEMA_ERRORS, ids=[f"{p}-{i}" for i, (_, p) in enumerate(SCHEMA_ERRORS)]
)
def test_schema_errors_name_the_field(api: Api, body: dict[str, Any], param: str) -> None:
    error = api.error(400, body)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert param in error["message"]


def test_unknown_field(api: Api) -> None:
    error = api.error(400, ok(foo=1))
    assert error == {
        "message": "Unrecognized request argument supplied: foo",
        "type": "invalid_request_error",
        "param": "foo",
        "code": None,
    }


def test_missing_prompt_message(api: Api) -> None:
    assert api.error(400, {"model": MODEL})["message"] == "Missing required parameter: 'prompt'."


SEMANTIC_ERRORS = [
    (ok(n=2, best_of=1), "best_of"),
    (ok(n=3, best_of=2), "best_of"),
    (ok(best_of=0), "best_of"),
    (ok(best_of=2, stream=True), "best_of"),
    (ok(stream_options={"include_usage": True}), "stream_options"),
    (ok(stream=False, stream_options={"include_usage": True}), "stream_options"),
    (ok(logit_bias={"abc": 1}), "logit_bias"),
    (ok(logit_bias={"-1": 1}), "logit_bias"),
    (ok(logit_bias={"999999": 1}), "logit_bias"),
    (ok(prompt=[999999]), "prompt"),
    (ok(prompt=[[1, 2], [-1]]), "prompt"),
    (ok(prompt=[]), "prompt"),
]


@pytest.mark.parametrize(
    ("body", "param"), SEMANTIC_ERRORS, ids=[f"{p}-{i}" for i, (_, p) in enumerate(SEMANTIC_ERRORS)]
)
def test_semantic_errors(api: Api, body: dict[str, Any], param: str) -> None:
    assert api.error(400, body)["param"] == param


def test_stream_options_message(api: Api) -> None:
    error = api.error(400, ok(stream_options={"include_usage": True}))
    assert error["message"] == "The 'stream_options' parameter is only allowed when 'stream' is enabled."


def test_context_length(api: Api) -> None:
    error = api.error(400, ok(prompt=[5] * 2040, max_tokens=16))
    assert error["code"] == "context_length_exceeded" and error["param"] == "prompt"
    assert "2048" in error["message"] and "2056" in error["message"]
    assert api.complete(prompt=[5] * 2032, max_tokens=16)["usage"]["prompt_tokens"] == 2032
    assert api.error(400, ok(max_tokens=10**12))["code"] == "context_length_exceeded"
    # Streams are refused before they open.
    assert api.error(400, ok(prompt=[5] * 2048, stream=True))["code"] == "context_length_exceeded"


def test_unknown_model(api: Api) -> None:
    error = api.error(404, ok(model="gpt-nope"))
    assert error == {
        "message": "The model `gpt-nope` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


@pytest.mark.parametrize(
    "raw", [b"{bad", b"", b"NaN", b'{"model": "m", "prompt": "x", "temperature": NaN}', b"\xff"]
)
def test_malformed_json(api: Api, raw: bytes) -> None:
    error = api.error(400, content=raw, headers={"Content-Type": "application/json"})
    assert error["param"] is None and error["message"].startswith("We could not parse the JSON body")


@pytest.mark.parametrize("raw", [b"[1]", b'"x"', b"null"])
def test_body_must_be_an_object(api: Api, raw: bytes) -> None:
    assert api.error(400, content=raw)["param"] is None


def test_auth(api: Api) -> None:
    client = httpx.Client(base_url=api.server.base_url, timeout=10)
    missing = client.post("/completions", json=ok())
    assert missing.status_code == 401
    validate("ErrorResponse", missing.json())
    assert missing.json()["error"]["message"].startswith("You didn't provide an API key")
    assert missing.json()["error"]["code"] == "invalid_api_key"
    for header in ("Bearer sk-wrong-key-0000", "Bearer", "Basic c2s6", "sk-relaycheck-reference"):
        response = client.post("/completions", json=ok(), headers={"Authorization": header})
        assert response.status_code == 401, header
        validate("ErrorResponse", response.json())
        assert response.json()["error"]["type"] == "invalid_request_error"
    wrong = client.post("/completions", json=ok(), headers={"Authorization": "Bearer sk-wrong-key-0000"})
    assert wrong.json()["error"]["message"].startswith("Incorrect API key provided: sk-")
    assert "sk-wrong-key-0000" not in wrong.text  # the key is masked
    assert client.get("/models").status_code == 401
    client.close()


def test_auth_disabled(api_for: Callable[..., Api]) -> None:
    open_server = api_for(api_key=None)
    response = httpx.post(open_server.server.base_url + "/completions", json=ok(), timeout=10)
    assert response.status_code == 200


def test_models(api: Api) -> None:
    listing = api.client.get("/models")
    assert listing.status_code == 200
    body = listing.json()
    assert body["object"] == "list"
    # exactly what is served: the Completions models, then the chat models (gpt-4o's pair only with the o200k extra)
    assert [m["id"] for m in body["data"]] == ["gpt-3.5-turbo-instruct", "davinci-002", "babbage-002",
                                              *default_chat_models()]
    assert default_chat_models()[:2] == ("gpt-3.5-turbo", "gpt-4")
    assert all(
        set(m) == {"id", "object", "created", "owned_by"} and m["object"] == "model" for m in body["data"]
    )
    assert api.client.get("/models/davinci-002").json()["id"] == "davinci-002"
    missing = api.client.get("/models/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/nope", 404), ("GET", "/", 404), ("GET", "/completions", 405), ("POST", "/models", 405)],
)
def test_unknown_paths_and_methods(api: Api, method: str, path: str, status: int) -> None:
    response = api.client.request(method, path)
    assert response.status_code == status
    validate("ErrorResponse", response.json())
    assert response.json()["error"]["type"] == "invalid_request_error"
    if status == 405:  # RFC 9110: a 405 lists the methods the resource supports
        assert set(response.headers["allow"].split(", ")) == ({"POST"} if path == "/completions" else {"GET", "HEAD"})
    outside = httpx.request(method, api.server.base_url.removesuffix("/v1") + "/elsewhere", timeout=10)
    assert outside.status_code == 404 and "error" in outside.json()


def test_rate_limit(api_for: Callable[..., Api]) -> None:
    limited = api_for(rate_limit=2.0)
    statuses = [limited.post(ok()).status_code for _ in range(2)]
    assert statuses == [200, 200]  # burst = max(1, rate)
    refused = limited.post(ok())
    assert refused.status_code == 429
    validate("ErrorResponse", refused.json())
    assert refused.json()["error"]["type"] == "requests"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    time.sleep(0.6)  # a token every 0.5 s
    assert limited.post(ok()).status_code == 200


def test_slow_rate_gives_longer_retry_after(api_for: Callable[..., Api]) -> None:
    limited = api_for(rate_limit=0.2)
    assert limited.post(ok()).status_code == 200
    refused = limited.post(ok())
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 5


def test_errors_count_toward_the_same_bucket_and_are_json(api_for: Callable[..., Api]) -> None:
    limited = api_for(rate_limit=1.0)
    assert limited.post(ok(model="nope")).status_code == 404
    assert limited.post(ok(prompt=COUNTING)).status_code == 429
