"""Chat generation: conversations in valid role order, clamps that hold, one seed one set of cases, honest negatives."""

from __future__ import annotations

import json

import pytest

from relaycheck.endpoint import Endpoint
from relaycheck.property.conversation import MAX_MESSAGES, MAX_TOOLS, in_role_order
from relaycheck.property.generate import CHAT_OPERATION_ID, NEGATIVE_COST_CAP, generate_cases
from relaycheck.spec import load_contract
from relaycheck.spec.chat_rules import breaches
from relaycheck.transport.budget import worst_case_tokens

MODEL = "gpt-4"
SEED = 4321


def _generate(seed: int = SEED):  # noqa: ANN202
    return generate_cases(seed, 12, 12, MODEL, operation_id=CHAT_OPERATION_ID)


@pytest.fixture(scope="module")
def generated():  # noqa: ANN201
    return _generate()


def _validator():  # noqa: ANN202
    return load_contract(endpoint=Endpoint.CHAT).validator("CreateChatCompletionRequest")


def test_same_seed_same_cases(generated) -> None:
    again = _generate()
    assert [c.text for c in again.positive + again.negative + again.examples] == [
        c.text for c in generated.positive + generated.negative + generated.examples]
    other = _generate(SEED + 1)
    assert [c.text for c in other.positive] != [c.text for c in generated.positive]


def test_positives_are_valid_in_role_order_and_cheap(generated) -> None:
    validator = _validator()
    assert len(generated.positive) == 12 and generated.examples
    for case in generated.positive + generated.examples:
        body = case.body
        assert validator.is_valid(body) and breaches(body) == [], case.text
        assert body["model"] == MODEL
        bounds = [n for n in ("max_tokens", "max_completion_tokens") if body.get(n) is not None]
        assert len(bounds) == 1 and 1 <= body[bounds[0]] <= 4
        assert (body.get("n") or 1) <= 2
        assert 1 <= len(body["messages"]) <= MAX_MESSAGES
        for message in body["messages"]:
            content = message.get("content")
            texts = [content] if isinstance(content, str) else [p.get("text") or p.get("refusal") or ""
                                                                for p in content or []]
            assert all(len(t) <= 40 for t in texts) and len(texts) <= 2
            assert len(message.get("tool_calls") or []) <= MAX_TOOLS
        assert len(body.get("tools") or []) <= MAX_TOOLS
        assert len(body.get("logit_bias") or {}) <= 2
        assert body.get("stream") is True or body.get("stream_options") is None
        assert not {"audio", "prediction", "web_search_options", "functions", "service_tier"} & set(body)
        assert worst_case_tokens(body, Endpoint.CHAT) <= 8
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    # the strategy writes tool runs, not only plain messages
    assert any(m.get("role") == "tool" for c in generated.positive for m in c.body["messages"])


def test_negatives_break_the_schema_or_an_x_rule(generated) -> None:
    validator = _validator()
    assert len(generated.negative) == 12
    for case in generated.negative:
        if isinstance(case.body, str):
            try:
                parsed = json.loads(case.body)
            except ValueError:
                continue
        else:
            parsed = case.body
            assert case.worst_case_tokens <= NEGATIVE_COST_CAP
        assert not validator.is_valid(parsed) or breaches(parsed), case.text
        assert case.why


def _call(i: str) -> dict:
    return {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}}


def test_role_order_repairs() -> None:
    user = {"role": "user", "content": "hi"}
    asks = {"role": "assistant", "tool_calls": [_call("a"), _call("b"), _call("c")]}
    # an answer to no call is dropped; calls beyond two are dropped; a wrong id takes the unanswered one
    repaired = in_role_order([{"role": "tool", "tool_call_id": "x", "content": "?"}, asks,
                              {"role": "tool", "tool_call_id": "zz", "content": "r"}])
    assert repaired == [{"role": "assistant", "tool_calls": [_call("a"), _call("b")]},
                        {"role": "tool", "tool_call_id": "a", "content": "r"},
                        {"role": "tool", "tool_call_id": "b", "content": "ok"}]
    assert breaches({"messages": repaired}) == []
    # a cut keeps a call and its answers together
    assert in_role_order([user, asks, user]) == [user]
    assert in_role_order([{"role": "tool", "tool_call_id": "x", "content": "?"}]) is None
