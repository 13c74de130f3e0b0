"""chat.logprobs.truth on answers the reference provider does not give: tokens that are pieces of a character, labelled
as OpenAI labels them or as the reference does, pass; bytes that are code points, or alternatives of another
position, fail; the shape check refuses more alternatives than asked and accepts fewer at some positions."""

from __future__ import annotations

import json
from typing import Any

from relaycheck.checks import logprobs as chat_logprobs
from relaycheck.checks.model import Grade, Recorded, judge
from relaycheck.endpoint import Endpoint
from relaycheck.spec import load_contract
from relaycheck.transport.exchange import Exchange, RecordedRequest

REQUEST = {"model": "gpt-4", "messages": [{"role": "user", "content": "x"}], "temperature": 0, "logprobs": True,
           "top_logprobs": 2, "max_completion_tokens": 4}


def _entry(token: str, data: list[int], alternatives: list[str] | None = None) -> dict[str, Any]:
    tops = [{"token": t, "logprob": -0.1 * i, "bytes": list(t.encode())} for i, t in enumerate(alternatives or [token])]
    return {"token": token, "logprob": -0.1, "bytes": data, "top_logprobs": tops}


def _recorded(content: str, entries: list[dict[str, Any]]) -> Recorded:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
        "logprobs": {"content": entries, "refusal": None}, "finish_reason": "length"}]}
    request = RecordedRequest("POST", "http://127.0.0.1/v1/chat/completions", {}, json.dumps(REQUEST))
    ex = Exchange("chat-logprobs", request, 0.0, status=200, headers={"content-type": "application/json"},
                  body=json.dumps(body).encode())
    return Recorded({ex.probe: ex}, load_contract(endpoint=Endpoint.CHAT), "gpt-4", endpoint=Endpoint.CHAT)


def _grade(check: Any, content: str, entries: list[dict[str, Any]]) -> tuple[Grade, str]:
    verdict = judge(check, _recorded(content, entries))
    return verdict.grade, verdict.message


def test_pieces_of_a_character_pass_however_they_are_labelled() -> None:
    café = " caf\u00e9"
    reference = [_entry(" caf", list(b" caf")), _entry("", [0xC3]), _entry("\u00e9", [0xA9])]
    openai = [_entry(" caf", list(b" caf")), _entry("\\xc3", [0xC3]), _entry("\\xa9", [0xA9])]
    for entries in (reference, openai):
        assert _grade(chat_logprobs.truth, café, entries)[0] is Grade.PASS


def test_code_points_for_bytes_fail() -> None:
    grade, message = _grade(chat_logprobs.truth, "\u00e9", [_entry("\u00e9", [0xE9])])  # djl-serving#1714: ord(c)
    assert grade is Grade.FAIL and "bytes do not join" in message


def test_a_token_missing_from_its_own_alternatives_fails_at_temperature_0() -> None:
    entries = [_entry(" a", list(b" a")), _entry(" b", list(b" b"), alternatives=[" a", " c"])]
    grade, message = _grade(chat_logprobs.truth, " a b", entries)
    assert grade is Grade.FAIL and "not among its own top_logprobs" in message


def test_fewer_alternatives_at_some_positions_pass_more_than_asked_fail() -> None:
    two, one = _entry(" a", list(b" a"), [" a", " b"]), _entry(" b", list(b" b"))
    assert _grade(chat_logprobs.shape, " a b", [two, one])[0] is Grade.PASS
    three = _entry(" a", list(b" a"), [" a", " b", " c"])
    grade, message = _grade(chat_logprobs.shape, " a b", [three, one])
    assert grade is Grade.FAIL and "more alternatives" in message
