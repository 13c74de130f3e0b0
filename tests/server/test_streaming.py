"""Streaming: the chunk sequence, include_usage, n >= 2, delays, and many concurrent clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest

from .conftest import API_KEY, COUNTING, MODEL, Api


def test_chunk_sequence(api: Api) -> None:
    streamed = api.stream(prompt=COUNTING, temperature=0, max_tokens=6)
    chunks = streamed.chunks
    assert len(chunks) == 7  # one per token, then the final chunk
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and chunks[0]["id"].startswith("cmpl-")
    assert {(c["object"], c["created"], c["model"]) for c in chunks} == {
        ("text_completion", chunks[0]["created"], MODEL)
    }
    for chunk in chunks:
        assert "usage" not in chunk
        (choice,) = chunk["choices"]
        assert set(choice) == {"text", "index", "logprobs", "finish_reason"}
    assert [c["choices"][0]["text"] for c in chunks] == [" ", "5", ",", " ", "6", ",", ""]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 6 + ["length"]
    assert streamed.response.content.endswith(b"\n\ndata: [DONE]\n\n")


def test_include_usage(api: Api) -> None:
    body = {"prompt": [COUNTING, "Say this is a test"], "n": 2, "temperature": 0, "max_tokens": 5}
    whole = api.complete(**body)
    streamed = api.stream(stream_options={"include_usage": True}, **body)
    *content, last = streamed.chunks
    assert all(c["usage"] is None and c["choices"] for c in content)
    assert last["choices"] == [] and last["usage"] == whole["usage"]
    assert streamed.events[-2:] == [json.dumps(last, separators=(",", ":"), ensure_ascii=False), "[DONE]"]


@pytest.mark.parametrize("options", [None, {"include_usage": False}, {}])
def test_no_usage_unless_asked(api: Api, options: dict[str, bool] | None) -> None:
    streamed = api.stream(prompt="x", max_tokens=3, stream_options=options)
    assert all(c["choices"] and c.get("usage") is None for c in streamed.chunks)


def test_n_streams_every_index_once(api: Api) -> None:
    streamed = api.stream(prompt=[COUNTING, "Say this is a test"], n=2, temperature=0, max_tokens=4)
    assert streamed.finishes() == {0: ["length"], 1: ["length"], 2: ["length"], 3: ["length"]}
    # Every choice's final chunk is its last chunk.
    for index in range(4):
        mine = [c["choices"][0] for c in streamed.chunks if c["choices"][0]["index"] == index]
        assert [c["finish_reason"] is not None for c in mine] == [False] * (len(mine) - 1) + [True]
    assert streamed.text(0) == streamed.text(1) == " 5, "
    assert streamed.text(2) == streamed.text(3) == ". This is a"


def test_best_of_equal_to_n_streams(api: Api) -> None:
    assert api.stream(prompt="x", n=2, best_of=2, max_tokens=2).finishes().keys() == {0, 1}


def test_logprobs_stream_final_chunk_has_empty_arrays(api: Api) -> None:
    last = api.stream(prompt=COUNTING, logprobs=2, max_tokens=2, temperature=0).chunks[-1]["choices"][0]
    assert last["text"] == "" and last["finish_reason"] == "length"
    assert last["logprobs"] == {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}


def test_echo_stream_sends_the_prompt_first(api: Api) -> None:
    first = api.stream(prompt=COUNTING, echo=True, max_tokens=2, temperature=0).chunks[0]["choices"][0]
    assert first["text"] == COUNTING and first["finish_reason"] is None


def test_chunks_are_sent_as_generated(api_for: Callable[..., Api]) -> None:
    delayed = api_for(chunk_delay_ms=40)
    body = {"model": MODEL, "prompt": COUNTING, "stream": True, "max_tokens": 5, "temperature": 0}
    arrivals: list[float] = []
    start = time.perf_counter()
    with delayed.client.stream("POST", "/completions", json=body) as response:
        for _ in response.iter_raw():
            arrivals.append(time.perf_counter() - start)
    # 5 tokens + final chunk + [DONE]: 6 gaps of 40 ms; the first bytes come long before the last.
    assert arrivals[-1] >= 6 * 0.04 * 0.9
    assert arrivals[0] < arrivals[-1] - 0.15


def test_latency_before_the_first_byte(api_for: Callable[..., Api]) -> None:
    slow = api_for(latency_ms=150, jitter_ms=50)
    start = time.perf_counter()
    slow.complete(prompt="x", max_tokens=1)
    assert 0.15 <= time.perf_counter() - start < 2.0
    start = time.perf_counter()
    assert slow.client.get("/models").status_code == 200
    assert time.perf_counter() - start >= 0.15


async def _one_stream(client: httpx.AsyncClient, i: int) -> str:
    body = {
        "model": MODEL,
        "prompt": COUNTING,
        "stream": True,
        "max_tokens": 20,
        "temperature": 0,
        "stream_options": {"include_usage": True},
    }
    text = []
    async with client.stream("POST", "/completions", json=body) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                text.extend(c["text"] for c in chunk["choices"])
            elif line == "data: [DONE]":
                return "".join(text)
    raise AssertionError(f"stream {i} ended without [DONE]")


def test_fifty_concurrent_streams(api_for: Callable[..., Api]) -> None:
    server = api_for(chunk_delay_ms=10).server

    async def main() -> list[str]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=20,
            limits=limits,
        ) as client:
            tasks = [asyncio.wait_for(_one_stream(client, i), timeout=20) for i in range(50)]
            return await asyncio.gather(*tasks)

    start = time.perf_counter()
    texts = asyncio.run(main())
    elapsed = time.perf_counter() - start
    assert texts == ["".join(f" {i}," for i in range(5, 11)) + " 11"] * 50
    # Each stream alone takes ~0.2 s (21 gaps of 10 ms); served concurrently, 50 of them take about as long.
    assert elapsed < 8.0, elapsed
