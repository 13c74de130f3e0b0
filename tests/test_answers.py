"""Recorded.answers gives one per-choice view of a JSON body and of an event stream, assembled as a client would."""

from __future__ import annotations

import json
from typing import Any

from relaycheck.checks.model import Recorded
from relaycheck.spec import load_contract
from relaycheck.transport.exchange import DONE, Exchange, RecordedRequest
from relaycheck.transport.sse import SSEEvent


def _lp(tokens: list[str], start: int) -> dict[str, list[Any]]:
    offsets = [start + sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return {"tokens": tokens, "token_logprobs": [-0.5] * len(tokens), "top_logprobs": [{t: -0.5} for t in tokens],
            "text_offset": offsets}


def _chunk(index: int, text: str, finish: str | None, logprobs: Any) -> dict[str, Any]:
    return {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
            "choices": [{"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}]}


def _stream(chunks: list[dict[str, Any]]) -> Exchange:
    events = tuple(SSEEvent(json.dumps(c), 0.0) for c in chunks) + (SSEEvent(DONE, 0.0),)
    request = RecordedRequest("POST", "http://127.0.0.1/v1/completions", {}, '{"prompt": "x", "stream": true}')
    return Exchange("s", request, 0.0, status=200, headers={"content-type": "text/event-stream"}, events=events)


def _recorded(ex: Exchange) -> Recorded:
    return Recorded({ex.probe: ex}, load_contract(), "m")


def test_interleaved_choices_are_joined_per_index_with_their_logprobs() -> None:
    ex = _stream([
        _chunk(1, " b", None, _lp([" b"], 0)),
        _chunk(0, " a", None, _lp([" a"], 0)),
        _chunk(0, "1", None, _lp(["1"], 2)),
        _chunk(1, "2", None, _lp(["2"], 2)),
        _chunk(0, "", "length", _lp([], 3)),
        _chunk(1, "", "stop", None),  # a final chunk without logprobs adds nothing
    ])
    first, second = _recorded(ex).answers("s")
    assert (first.index, first.text, first.finish_reason, first.finishes, first.pieces) == (0, " a1", "length", 1, 2)
    assert first.logprobs["tokens"] == [" a", "1"] and first.logprobs["text_offset"] == [0, 2]
    assert (second.index, second.text, second.finish_reason) == (1, " b2", "stop")
    assert second.logprobs["tokens"] == [" b", "2"]


def test_a_chunk_with_non_legacy_logprobs_is_what_the_answer_shows() -> None:
    chat = {"content": [{"token": " a", "logprob": -0.1}]}
    ex = _stream([_chunk(0, " a", None, chat), _chunk(0, "", "length", None)])
    (answer,) = _recorded(ex).answers("s")
    assert answer.logprobs == chat  # so a legacy-shape check fails on it instead of reading an empty object


def test_a_json_body_reads_the_same_way() -> None:
    body = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m", "usage": {"prompt_tokens": 1},
            "choices": [{"index": 0, "text": " a1", "logprobs": _lp([" a", "1"], 0), "finish_reason": "length"}]}
    request = RecordedRequest("POST", "http://127.0.0.1/v1/completions", {}, '{"prompt": "x"}')
    ex = Exchange("j", request, 0.0, status=200, headers={"content-type": "application/json"},
                  body=json.dumps(body).encode())
    recorded = _recorded(ex)
    (answer,) = recorded.answers("j")
    assert (answer.text, answer.finish_reason, answer.finishes) == (" a1", "length", 1)
    assert recorded.returned_tokens("j") == [" a", "1"]
    assert recorded.usage("j") == {"prompt_tokens": 1}
