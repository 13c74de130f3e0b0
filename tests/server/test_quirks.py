"""Each quirk shows its deviation on the wire, and the conformant server does not.

``CASES`` pairs every quirk with the request(s) that reveal it and a predicate over what came back. The
predicate must be false against the conformant server and true against the quirk: so each case proves the
quirk works *and* that the predicate can tell the difference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from relaycheck.endpoint import Endpoint
from relaycheck.server import all_quirks, get_quirk
from relaycheck.transport.sse import parse_sse

from .chat_api import CHAT_MODEL
from .conftest import API_KEY, COUNTING, MODEL, Api, validate


@dataclass(frozen=True)
class Send:
    body: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    model: bool = True  # add "model"
    raw: bytes | None = None  # send these bytes instead of the JSON body
    auth: bool = True
    get: str | None = None  # GET this path instead (no body)
    chat: bool = False  # POST /chat/completions (with the default chat model) instead of /completions


@dataclass
class Wire:
    status: int
    content_type: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def events(self) -> list[str]:
        return [e.data for e in parse_sse(self.content).events]

    @property
    def chunks(self) -> list[dict[str, Any]]:
        found = []
        for data in self.events:
            try:
                found.append(json.loads(data))
            except ValueError:
                continue
        return [c for c in found if isinstance(c, dict)]

    def choices(self) -> list[dict[str, Any]]:
        return [c for chunk in self.chunks for c in chunk.get("choices") or []]

    @property
    def choice(self) -> dict[str, Any]:
        return self.json["choices"][0]


def send(api: Api, request: Send) -> Wire:
    model = CHAT_MODEL if request.chat else MODEL
    body = {"model": model, **request.body} if request.model else dict(request.body)
    if request.stream:
        body["stream"] = True
    headers = {} if request.auth else {"Authorization": ""}
    path = "/chat/completions" if request.chat else "/completions"
    if request.get is not None:
        response = api.client.get(request.get, headers=headers)
    elif request.raw is not None:
        response = api.client.post(path, content=request.raw, headers=headers)
    else:
        response = api.client.post(path, json=body, headers=headers)
    return Wire(response.status_code, response.headers.get("content-type", ""), response.content,
                dict(response.headers))


@dataclass(frozen=True)
class Case:
    requests: tuple[Send, ...]
    deviates: Callable[[list[Wire]], bool]


def case(deviates: Callable[[Wire], bool], **body: Any) -> Case:
    return Case((Send(body),), lambda wires: deviates(wires[0]))


def stream_case(deviates: Callable[[Wire], bool], **body: Any) -> Case:
    return Case((Send(body, stream=True),), lambda wires: deviates(wires[0]))


def raw_case(request: Send, deviates: Callable[[Wire], bool]) -> Case:
    return Case((request,), lambda wires: deviates(wires[0]))


def _usage(w: Wire) -> dict[str, int]:
    return w.json["usage"]


def _lp(w: Wire) -> dict[str, Any]:
    return w.choice["logprobs"]


GREEDY = {"prompt": COUNTING, "temperature": 0, "max_tokens": 6}  # " 5, 6," in six cl100k tokens
TEST_GREEDY = {"prompt": "Say this is a test", "temperature": 0, "max_tokens": 4}
USAGE = {"stream_options": {"include_usage": True}}
UNKNOWN_MODEL = {"model": "gpt-nope", "prompt": "x"}
BEST_OF = {"prompt": COUNTING, "best_of": 2, "max_tokens": 3, "temperature": 1, "seed": 1}
LOOP = {"prompt": "Say this is a test", "max_tokens": 10, "temperature": 0}  # ". This is a test. This is a test"
INSERT = {"prompt": "def add(a, b):", "max_tokens": 4, "temperature": 0}
OUT_OF_RANGE = [
    {"temperature": 2.5},
    {"top_p": 1.5},
    {"n": 0},
    {"logprobs": 6},
    {"stop": list("abcde")},
    {"best_of": 21},
    {"presence_penalty": 3},
]

OPTIONS = [{"logprobs": 1}, {"echo": True}, {"suffix": "!"}]  # refused only when streamed by stream-rejects-options

CASES: dict[str, Case] = {
    # request side
    "drop-max-tokens": case(lambda w: _usage(w)["completion_tokens"] != 3, **{**GREEDY, "max_tokens": 3}),
    "max-tokens-default-unlimited": case(
        lambda w: _usage(w)["completion_tokens"] > 16, prompt=COUNTING, temperature=0
    ),
    "drop-stop": case(lambda w: " 7" in w.choice["text"], stop=" 7", **{**GREEDY, "max_tokens": 8}),
    "stop-included": case(
        lambda w: w.choice["text"].endswith(" 7"), stop=" 7", **{**GREEDY, "max_tokens": 8}
    ),
    "drop-n": case(lambda w: len(w.json["choices"]) == 1, prompt="x", n=3, max_tokens=2),
    "drop-echo": case(lambda w: not w.choice["text"].startswith(COUNTING), echo=True, **GREEDY),
    "echo-default-on": case(lambda w: w.choice["text"].startswith(COUNTING), **GREEDY),
    "n-default-2": case(lambda w: len(w.json["choices"]) == 2, **GREEDY),
    "logprobs-default-on": case(lambda w: w.choice["logprobs"] is not None, **GREEDY),
    "drop-logit-bias": case(lambda w: w.choice["text"] != "......", logit_bias={"13": 100}, **GREEDY),
    "ignore-seed": Case(
        tuple(
            Send({"prompt": "Once upon a time", "temperature": 2, "max_tokens": 30, "seed": 4})
            for _ in range(3)
        ),
        lambda wires: len({w.choice["text"] for w in wires}) > 1,
    ),
    "best-of-returns-all": case(lambda w: len(w.json["choices"]) == 3, prompt="x", best_of=3, max_tokens=2),
    "no-best-of-n-rule": case(lambda w: w.status == 200, prompt="x", n=2, best_of=1, max_tokens=1),
    "reject-explicit-defaults": case(
        lambda w: w.status == 400, prompt="x", best_of=1, suffix=None, max_tokens=1
    ),
    "one-api-prompt-validation": Case(
        (Send({"prompt": ""}), Send({"max_tokens": 1})),
        lambda wires: wires[0].status == 400 and wires[1].status == 200,
    ),
    "logprobs-bool": case(
        lambda w: w.status == 400 and "bool" in w.json["error"]["message"],
        prompt="x",
        logprobs=2,
        max_tokens=1,
    ),
    "chat-logprobs": case(lambda w: "content" in _lp(w) and "tokens" not in _lp(w), logprobs=2, **GREEDY),
    "logprobs-zero-null": case(lambda w: w.choice["logprobs"] is None, logprobs=0, **GREEDY),
    "logprobs-too-many-top": case(
        lambda w: any(len(t) > 2 for t in _lp(w)["top_logprobs"]), logprobs=1, **GREEDY
    ),
    "logprobs-offsets-wrong": case(lambda w: _lp(w)["text_offset"] != [0, 1, 2, 3, 4, 5], logprobs=1, **GREEDY),
    "logprobs-tokens-mismatch": case(
        lambda w: "".join(_lp(w)["tokens"]) != w.choice["text"], logprobs=1, **GREEDY
    ),
    "echo-logprobs-first-not-null": case(
        lambda w: _lp(w)["token_logprobs"][0] is not None, echo=True, logprobs=1, **GREEDY
    ),
    "prompt-list-first-only": case(lambda w: len(w.json["choices"]) == 1, prompt=["a", "b"], max_tokens=1),
    "token-prompt-500": Case(
        (Send({"prompt": [16, 11], "max_tokens": 1}), Send({"prompt": [[16, 11]], "max_tokens": 1})),
        lambda wires: all(w.status == 500 for w in wires),
    ),
    "integer-temperature": case(lambda w: w.status == 400, prompt="x", temperature=0.7, max_tokens=1),
    "accept-out-of-range": Case(
        tuple(Send({"prompt": "x", "max_tokens": 1, **extra}) for extra in OUT_OF_RANGE),
        lambda wires: all(w.status == 200 for w in wires),
    ),
    "chat-template": case(
        lambda w: w.choice["text"].startswith("Sure! Here is a response:"),
        prompt=COUNTING,
        temperature=0,
        max_tokens=10,
    ),
    "default-model-when-missing": raw_case(
        Send({"prompt": "x", "max_tokens": 1}, model=False), lambda w: w.status == 200
    ),
    "malformed-json-500": raw_case(Send(raw=b'{"model": '), lambda w: w.status == 500),
    # live (issue 17): what vLLM and the Portkey gateway do
    "refuse-greedy-n": case(lambda w: w.status == 400 and w.json["error"]["param"] == "n", prompt="x", n=2,
                            temperature=0, max_tokens=1),
    "refuse-suffix": case(lambda w: w.status == 400 and w.json["error"]["param"] == "suffix", prompt="x",
                          suffix="y", max_tokens=1),
    "drop-unknown-params": case(lambda w: w.status == 200, prompt="x", relaycheck_no_such_parameter=1, max_tokens=1),
    # response shape
    "chat-object": case(lambda w: w.json["object"] == "chat.completion", **GREEDY),
    "empty-id": case(lambda w: w.json["id"] == "", **GREEDY),
    "chatcmpl-id": case(lambda w: w.json["id"].startswith("chatcmpl-"), **GREEDY),
    "finish-reason-eos": case(lambda w: w.choice["finish_reason"] == "eos_token", **GREEDY),
    "logprobs-key-omitted": case(lambda w: "logprobs" not in w.choice, **GREEDY),
    "usage-missing": case(lambda w: "usage" not in w.json, **GREEDY),
    "usage-zero": case(lambda w: set(_usage(w).values()) == {0}, **GREEDY),
    "usage-total-wrong": case(lambda w: _usage(w)["total_tokens"] != 17, **GREEDY),
    "usage-inflated": case(lambda w: _usage(w)["completion_tokens"] != 6, **GREEDY),
    "created-float": case(lambda w: isinstance(w.json["created"], float), **GREEDY),
    "created-millis": case(lambda w: w.json["created"] > 10**11, **GREEDY),
    "model-substituted": case(lambda w: w.json["model"] != MODEL, **GREEDY),
    "json-as-sse": case(lambda w: w.content_type.startswith("text/event-stream"), **GREEDY),
    # streaming
    "chunk-object-chat": stream_case(
        lambda w: any(c["object"] == "chat.completion.chunk" for c in w.chunks), **GREEDY
    ),
    "chunk-ids-vary": stream_case(lambda w: len({c["id"] for c in w.chunks}) > 1, **GREEDY),
    "sse-as-json": stream_case(lambda w: w.content_type.startswith("application/json"), **GREEDY),
    "no-done": stream_case(lambda w: "[DONE]" not in w.events, **GREEDY),
    "data-after-done": stream_case(lambda w: w.events[-1] != "[DONE]", **GREEDY),
    "non-json-data-line": stream_case(lambda w: len(w.chunks) < len(w.events) - 1, **GREEDY),
    "stream-no-finish-reason": stream_case(
        lambda w: all(c["finish_reason"] is None for c in w.choices()), **GREEDY
    ),
    "finish-reason-every-chunk": stream_case(
        lambda w: all(c["finish_reason"] for c in w.choices()), **GREEDY
    ),
    "stream-buffered": stream_case(
        lambda w: sum(c["finish_reason"] is None for c in w.choices()) == 1, **GREEDY
    ),
    "stream-drops-first-token": stream_case(
        lambda w: "".join(c["text"] for c in w.choices()) != " 5, 6,", **GREEDY
    ),
    "usage-chunk-missing": stream_case(
        lambda w: not any(c.get("usage") for c in w.chunks), **GREEDY, **USAGE
    ),
    "usage-on-last-content-chunk": stream_case(
        lambda w: all(c.get("choices") for c in w.chunks) and bool(w.chunks[-1].get("usage")),
        **GREEDY,
        **USAGE,
    ),
    "usage-zeros-every-chunk": stream_case(
        lambda w: any(
            c.get("usage") == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            for c in w.chunks
        ),
        **GREEDY,
        **USAGE,
    ),
    "usage-chunk-forced": stream_case(lambda w: any(c.get("usage") for c in w.chunks), **GREEDY),
    "usage-chunk-no-choices": stream_case(
        lambda w: any("choices" not in c for c in w.chunks), **GREEDY, **USAGE
    ),
    "sse-error-field": stream_case(
        lambda w: any(s.startswith("error:") for s in parse_sse(w.content).stray_lines), **GREEDY
    ),
    "stream-n-index-wrong": stream_case(lambda w: {c["index"] for c in w.choices()} == {0}, n=2, **GREEDY),
    # truth of streamed answers, finish reasons and identities: streamed and plain twins side by side
    "stream-drop-stop": Case(
        (Send({**GREEDY, "stop": " 6"}, stream=True), Send({**GREEDY, "stop": " 6"})),
        lambda ws: " 6" in "".join(c["text"] for c in ws[0].choices()) and " 6" not in ws[1].choice["text"],
    ),
    "stream-drop-logprobs": Case(
        (Send({**GREEDY, "logprobs": 1}, stream=True), Send({**GREEDY, "logprobs": 1})),
        lambda ws: all(c["logprobs"] is None for c in ws[0].choices()) and ws[1].choice["logprobs"] is not None,
    ),
    "stream-rejects-options": Case(
        tuple(Send({**GREEDY, **option}, stream=stream) for option in OPTIONS for stream in (True, False)),
        lambda ws: all(w.status == (400 if i % 2 == 0 else 200) for i, w in enumerate(ws)),
    ),
    "stream-drop-echo": Case(
        (Send({**GREEDY, "echo": True}, stream=True), Send({**GREEDY, "echo": True})),
        lambda ws: not "".join(c["text"] for c in ws[0].choices()).startswith(COUNTING)
        and ws[1].choice["text"].startswith(COUNTING),
    ),
    "stop-partial-left": case(lambda w: w.choice["text"] != " 5,", stop=" 6", **GREEDY),
    "finish-reason-always-stop": case(lambda w: w.choice["finish_reason"] == "stop", **GREEDY),
    "prompt-list-swapped": Case(
        (
            Send({"prompt": [COUNTING, "Say this is a test"], "temperature": 0, "max_tokens": 2}),
            Send({"prompt": COUNTING, "temperature": 0, "max_tokens": 2}),
        ),
        lambda ws: next(c["text"] for c in ws[0].json["choices"] if c["index"] == 0) != ws[1].choice["text"],
    ),
    "id-reused": Case((Send(GREEDY), Send(GREEDY)), lambda ws: ws[0].json["id"] == ws[1].json["id"]),
    "chunk-model-upstream": Case(
        (Send(GREEDY, stream=True), Send(GREEDY)),
        lambda ws: any(c["model"] != MODEL for c in ws[0].chunks) and ws[1].json["model"] == MODEL,
    ),
    "stream-error-200": stream_case(
        lambda w: w.status == 200 and '"error"' in w.events[0], prompt="x", temperature=5
    ),
    # errors
    "no-auth": raw_case(Send({"prompt": "x", "max_tokens": 1}, auth=False), lambda w: w.status == 200),
    "unknown-model-503": raw_case(Send(UNKNOWN_MODEL, model=False), lambda w: w.status == 503),
    "model-fallback": raw_case(Send(UNKNOWN_MODEL, model=False), lambda w: w.status == 200),
    "errors-flat": raw_case(
        Send(UNKNOWN_MODEL, model=False), lambda w: "error" not in w.json and w.json["object"] == "error"
    ),
    "errors-int-code": raw_case(Send(UNKNOWN_MODEL, model=False), lambda w: w.json["error"]["code"] == 404),
    "errors-200": raw_case(Send(UNKNOWN_MODEL, model=False), lambda w: w.status == 200),
    "errors-html": raw_case(
        Send(UNKNOWN_MODEL, model=False), lambda w: w.content_type.startswith("text/html")
    ),
    "errors-500": raw_case(Send(UNKNOWN_MODEL, model=False), lambda w: w.status == 500),
    # the route itself missing: answered before authentication, whatever the request
    "completions-route-404": raw_case(Send(GREEDY, auth=False), lambda w: w.status == 404
                                      and w.json == {"detail": "Not Found"}),
    "completions-route-405": raw_case(Send(GREEDY), lambda w: w.status == 405 and w.headers.get("allow") == "GET, HEAD"),
    "completions-route-html": raw_case(Send(GREEDY), lambda w: w.status == 200
                                       and w.content_type.startswith("text/html")),
    "errors-param-null": case(lambda w: w.json["error"]["param"] is None, prompt="x", temperature=5),
    # usage truth and parameter effects (issue 12, part 2); COUNTING is 11 cl100k tokens
    "prompt-list-usage-first": case(
        lambda w: _usage(w)["prompt_tokens"] != 22, prompt=[COUNTING, COUNTING], max_tokens=1
    ),
    "stream-usage-counts-end": stream_case(
        lambda w: w.chunks[-1]["usage"]["completion_tokens"] != 6, **GREEDY, **USAGE
    ),
    "best-of-not-billed": case(lambda w: _usage(w)["completion_tokens"] <= 3, **BEST_OF),
    "best-of-ignored": case(lambda w: _usage(w)["completion_tokens"] <= 3, **BEST_OF),
    # the fifth stop is where the greedy text would stop: cut to four, the text runs on past it
    "stop-list-cut-to-four": case(lambda w: w.status == 200, prompt=COUNTING, max_tokens=4,
                                  stop=["#1", "#2", "#3", "#4", ","]),
    "usage-zeros-unasked": stream_case(
        lambda w: all(c.get("usage") == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
                      for c in w.chunks), **GREEDY
    ),
    "best-of-drops-logprobs": case(lambda w: w.choice["logprobs"] is None, **BEST_OF, logprobs=1),
    "errors-traceback": raw_case(
        Send(UNKNOWN_MODEL, model=False), lambda w: "Traceback (most recent call last)" in w.json["error"]["message"]
    ),
    "models-list-omits-claimed": raw_case(Send(get="/models"), lambda w: MODEL not in {m["id"] for m in w.json["data"]}),
    "ignore-penalties": Case(
        (Send(LOOP), Send({**LOOP, "frequency_penalty": 2}), Send({**LOOP, "presence_penalty": 2})),
        lambda wires: len({w.choice["text"] for w in wires}) == 1,
    ),
    "suffix-ignored": Case(
        (Send(INSERT), Send({**INSERT, "suffix": "\n    return c"})),
        lambda wires: wires[0].choice["text"] == wires[1].choice["text"],
    ),
    "context-truncated": case(lambda w: w.status == 200, prompt=[13] * 2048, max_tokens=16),
    # benign
    "sse-comments": stream_case(lambda w: parse_sse(w.content).comments > 0, **GREEDY),
    "sse-crlf": stream_case(lambda w: b"\r\n" in w.content, **GREEDY),
    "sse-no-space": stream_case(lambda w: b"data:{" in w.content, **GREEDY),
    "sse-fields": stream_case(lambda w: b"id: 1\n" in w.content and b"retry: 3000\n" in w.content, **GREEDY),
    "extra-fields": Case(
        (Send(GREEDY), Send(GREEDY, stream=True), Send(UNKNOWN_MODEL, model=False)),
        lambda wires: (
            "provider" in wires[0].json
            and all("timings" in c for c in wires[1].chunks)
            and "provider" in wires[2].json["error"]
        ),
    ),
    "pretty-json": case(lambda w: w.content.startswith(b'{\n  "id"'), **GREEDY),
    # identity and billing
    "model-salted": case(lambda w: w.choice["text"] != ". This is a", **TEST_GREEDY),
    "tokenizer-swapped": case(lambda w: _lp(w)["tokens"] != [" ", "5", ",", " ", "6", ","], logprobs=1, **GREEDY),
    # 24 requests: all answered by the claimed model with probability (2/3)**24, under 1e-4
    "partial-substitution": Case(
        (Send(TEST_GREEDY),) * 24, lambda wires: any(w.choice["text"] != ". This is a" for w in wires)
    ),
    "cheap-model-under-name": case(lambda w: w.choice["text"] != ". This is a", **TEST_GREEDY),
    "hidden-prompt-prefix": case(lambda w: _usage(w)["prompt_tokens"] != 11, **GREEDY),
    "usage-multiplied": case(lambda w: _usage(w)["completion_tokens"] != 6, **GREEDY),
    "usage-from-characters": case(lambda w: _usage(w)["prompt_tokens"] != 11, **GREEDY),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_quirk_shows_on_the_wire(name: str, api: Api, api_for: Callable[..., Api]) -> None:
    entry = CASES[name]
    conformant = [send(api, r) for r in entry.requests]
    assert not entry.deviates(conformant), f"the conformant server shows {name}'s deviation"
    quirky = [send(api_for(name), r) for r in entry.requests]
    assert entry.deviates(quirky), f"{name} does not show on the wire"


def test_every_quirk_has_a_case() -> None:
    """Every quirk that runs on Completions has a case here (chat's: tests/server/test_chat_quirks.py)."""
    names = [q.name for q in all_quirks()]
    assert len(names) == len(set(names))
    assert {q.name for q in all_quirks() if Endpoint.COMPLETIONS in q.endpoints} == set(CASES)


def test_registry_entries() -> None:
    # Which catalogue entry a deviation names is held by tests/test_deviations_doc.py against docs/deviations.md,
    # the project's catalogue (the research notes' D01-D46 plus the entries found since).
    for quirk in all_quirks():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", quirk.name)
        assert quirk.description and "\n" not in quirk.description
        assert quirk.benign == (quirk.deviation == "benign"), quirk.name
        if not quirk.benign:
            assert re.fullmatch(r"D\d\d", quirk.deviation), quirk.name
        assert quirk.endpoints and quirk.endpoints <= set(Endpoint), quirk.name
    assert get_quirk("no-done").deviation == "D28"
    with pytest.raises(KeyError, match="no-done"):
        get_quirk("no-such-quirk")


def test_quirks_combine(api_for: Callable[..., Api]) -> None:
    combined = api_for("chat-object", "empty-id", "usage-missing", "finish-reason-eos", "stop-included")
    body = send(combined, Send({"stop": " 6", **GREEDY})).json
    assert body["object"] == "chat.completion" and body["id"] == "" and "usage" not in body
    assert body["choices"][0]["finish_reason"] == "eos_token" and body["choices"][0]["text"] == " 5, 6"
    streamed = send(combined, Send(GREEDY, stream=True))
    assert {c["id"] for c in streamed.chunks} == {""}
    assert {c["finish_reason"] for c in streamed.choices()} == {None, "eos_token"}


def test_stream_quirks_keep_the_stream_parseable(api_for: Callable[..., Api]) -> None:
    buffered = send(api_for("stream-buffered"), Send({**GREEDY, "logprobs": 1, "n": 2}, stream=True))
    content = [c for c in buffered.choices() if c["finish_reason"] is None]
    assert sorted(c["index"] for c in content) == [0, 1]
    assert all(c["text"] == " 5, 6," and c["logprobs"]["tokens"] == [" ", "5", ",", " ", "6", ","] for c in content)
    forced = send(api_for("usage-chunk-forced"), Send(GREEDY, stream=True))
    assert forced.chunks[-1]["choices"] == [] and forced.chunks[-1]["usage"]["completion_tokens"] == 6
    moved = send(api_for("usage-on-last-content-chunk"), Send({**GREEDY, **USAGE}, stream=True))
    assert moved.chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert moved.chunks[-1]["usage"]["total_tokens"] == 17


BENIGN = [q.name for q in all_quirks() if q.benign and Endpoint.COMPLETIONS in q.endpoints]


@pytest.mark.parametrize("name", BENIGN)
def test_benign_quirks_are_still_conformant(name: str, api_for: Callable[..., Api]) -> None:
    quirky = api_for(name)
    sdk = OpenAI(base_url=quirky.server.base_url, api_key=API_KEY, max_retries=0)
    completion = sdk.completions.create(model=MODEL, **GREEDY)
    assert completion.choices[0].text == " 5, 6,"
    chunks = list(
        sdk.completions.create(model=MODEL, stream=True, stream_options={"include_usage": True}, **GREEDY)
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == " 5, 6,"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6
    with pytest.raises(openai.NotFoundError):
        sdk.completions.create(model="nope", prompt="x")
    # The raw exchanges still satisfy the contract's schemas.
    validate("CreateCompletionResponse", send(quirky, Send(GREEDY)).json)
    streamed = send(quirky, Send({**GREEDY, **USAGE}, stream=True))
    assert streamed.events[-1] == "[DONE]"
    for chunk in streamed.chunks:
        validate("CreateCompletionChunk", chunk)
    validate("ErrorResponse", send(quirky, Send(UNKNOWN_MODEL, model=False)).json)


def test_html_errors_keep_the_status(api_for: Callable[..., Api]) -> None:
    response = httpx.post(
        api_for("errors-html").server.base_url + "/completions", json={"model": MODEL}, timeout=10
    )
    assert response.status_code == 401 and response.headers["content-type"].startswith("text/html")
