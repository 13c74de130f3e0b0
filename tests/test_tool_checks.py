"""The tool and structured-output checks on answers the reference provider does not give: what the definition allows
(one call where two were asked, a repeated type, a refusal, a cut answer) passes or is skipped, never failed; a
clean refusal of a format is `unsupported`; a 4xx without the error envelope is not clean.

Every check's pass and fail on the wire is proven by tests/test_check_pairs.py against the reference provider;
these exchanges are recorded by hand because no quirk produces them (each is a shape some real server sends).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from relaycheck.checks import structured, tools
from relaycheck.checks.model import Check, Grade, Recorded, judge
from relaycheck.endpoint import Endpoint
from relaycheck.probes.chat import CHAT_PROBES
from relaycheck.probes.model import ProbeContext
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.exchange import Exchange, RecordedRequest
from relaycheck.transport.sse import parse_sse

PROBES = {p.id: p for p in CHAT_PROBES}
WEATHER = '{"city":"Paris","unit":"celsius"}'


def _request(probe: str) -> RecordedRequest:
    body = PROBES[probe].build(ProbeContext("gpt-4o-mini", {}))
    return RecordedRequest("POST", "http://x/v1/chat/completions", {}, json.dumps(body))


def _answer(probe: str, message: dict[str, Any], finish: str = "stop", status: int = 200) -> Exchange:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini", "choices": [
        {"index": 0, "message": {"role": "assistant", "refusal": None, **message}, "logprobs": None,
         "finish_reason": finish}]}
    return Exchange(probe, _request(probe), 1.0, status=status, headers={"content-type": "application/json"},
                    body=json.dumps(body).encode())


def _error(probe: str, status: int, body: dict[str, Any]) -> Exchange:
    return Exchange(probe, _request(probe), 1.0, status=status, headers={"content-type": "application/json"},
                    body=json.dumps(body).encode())


def _stream(probe: str, deltas: list[dict[str, Any]], finish: str = "tool_calls") -> Exchange:
    chunks = [{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
               "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]} for d in deltas]
    chunks.append({**chunks[0], "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Exchange(probe, _request(probe), 1.0, status=200, headers={"content-type": "text/event-stream"},
                    body=text.encode(), events=tuple(parse_sse(text.encode()).events))


def _call(name: str, arguments: str, ident: str = "call_1") -> dict[str, Any]:
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def _grade(check: Check, *exchanges: Exchange) -> Grade:
    recorded = Recorded({ex.probe: ex for ex in exchanges}, load_contracts().of(Endpoint.CHAT), "gpt-4o-mini",
                        endpoint=Endpoint.CHAT)
    return judge(check, recorded).grade


def test_one_call_where_two_were_asked_is_what_parallel_calls_allow() -> None:
    one = _answer("chat-tools-parallel", {"content": None, "tool_calls": [_call("get_weather", WEATHER)]},
                  "tool_calls")
    required = _answer("chat-tools-required", {"content": None, "tool_calls": [_call("get_weather", WEATHER)]},
                       "tool_calls")
    for check in (tools.call_shape, tools.arguments, tools.required, tools.finish_reason):
        assert _grade(check, one, required) is Grade.PASS, check.id


def test_two_calls_sharing_an_id_cannot_be_answered_apart() -> None:
    calls = [_call("get_weather", WEATHER, "call_1"), _call("get_time", '{"city":"Tokyo"}', "call_1")]
    both = _answer("chat-tools-parallel", {"content": None, "tool_calls": calls}, "tool_calls")
    assert _grade(tools.call_shape, both) is Grade.FAIL


def test_arguments_outside_the_strict_schema_fail() -> None:
    wrong = _answer("chat-tools-named", {"content": None, "tool_calls": [_call("get_weather", '{"city":"Rome"}')]},
                    "tool_calls")
    assert _grade(tools.arguments, wrong) is Grade.FAIL


def test_a_call_cut_by_max_tokens_is_skipped_not_failed() -> None:
    cut = _answer("chat-tools-named", {"content": None, "tool_calls": [_call("get_weather", '{"city":"Pa')]},
                  "length")
    assert _grade(tools.arguments, cut) is Grade.SKIPPED
    assert _grade(tools.finish_reason, cut) is Grade.PASS
    head = {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}
    streamed = _stream("chat-stream-tools-named", [head, {"tool_calls": [
        {"index": 0, "function": {"arguments": '{"city":"Pa'}}]}], "length")
    assert _grade(tools.stream_arguments, streamed) is Grade.SKIPPED


@pytest.mark.parametrize("later", [
    {"index": 0, "type": "function", "function": {"arguments": WEATHER}},  # type is replaced, not concatenated
    {"index": 0, "id": None, "function": {"name": None, "arguments": WEATHER}},  # null changes nothing
    {"index": 0, "id": "", "function": {"name": "", "arguments": WEATHER}},  # nor does ""
])
def test_what_the_accumulator_leaves_alone_is_no_repeat(later: dict[str, Any]) -> None:
    head = {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}
    streamed = _stream("chat-stream-tools-named", [head, {"tool_calls": [later]}])
    for check in (tools.stream_call_head, tools.stream_index, tools.stream_arguments):
        assert _grade(check, streamed) is Grade.PASS, check.id


def test_json_cut_short_is_skipped_but_prose_cut_short_fails() -> None:
    cut = _answer("chat-json-schema", {"content": '{"answer": "y'}, "length")
    assert _grade(structured.json_schema, cut) is Grade.SKIPPED
    prose = _answer("chat-json-schema", {"content": "The sky is blue because of Rayleigh"}, "length")
    assert _grade(structured.json_schema, prose) is Grade.FAIL


def test_a_models_refusal_is_allowed_in_place_of_the_json() -> None:
    refused = _answer("chat-json-schema", {"content": None, "refusal": "I can't help with that."})
    assert _grade(structured.json_schema, refused) is Grade.SKIPPED


def test_a_format_refused_cleanly_is_unsupported_and_its_stream_graded_once() -> None:
    envelope = {"error": {"message": "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
                                     "with this model.", "type": "invalid_request_error", "param": "response_format",
                          "code": None}}
    plain = _error("chat-json-schema", 400, envelope)
    streamed = _error("chat-stream-json-schema", 400, envelope)
    assert _grade(structured.json_schema, plain) is Grade.UNSUPPORTED
    assert _grade(structured.stream_json_schema, streamed, plain) is Grade.SKIPPED
    served = _answer("chat-json-schema", {"content": '{"answer":"yes"}'})
    assert _grade(structured.stream_json_schema, streamed, served) is Grade.FAIL  # refused only when streamed
    fastapi = _error("chat-json-schema", 422, {"detail": [{"type": "literal_error", "loc": ["body"]}]})
    assert _grade(structured.json_schema, fastapi) is Grade.FAIL  # no error envelope: not a clean refusal


def test_required_refused_cleanly_is_unsupported() -> None:
    envelope = {"error": {"message": "tool_choice 'required' is not supported", "type": "invalid_request_error",
                          "param": "tool_choice", "code": None}}
    assert _grade(tools.required, _error("chat-tools-required", 400, envelope),
                  _error("chat-tools-parallel", 400, envelope)) is Grade.UNSUPPORTED


def test_a_head_split_over_two_deltas_is_assembled_as_one_call() -> None:
    """Only index is required in a delta: id and type first, the name next, is one call to the accumulator."""
    streamed = _stream("chat-stream-tools-named", [
        {"role": "assistant", "content": None, "tool_calls": [{"index": 0, "id": "call_1", "type": "function"}]},
        {"tool_calls": [{"index": 0, "function": {"name": "get_weather", "arguments": WEATHER}}]}])
    for check in (tools.stream_call_head, tools.stream_index, tools.stream_arguments, tools.named):
        assert _grade(check, streamed, _answer("chat-tools-named", {
            "content": None, "tool_calls": [_call("get_weather", WEATHER)]}, "tool_calls")) is Grade.PASS, check.id


def test_each_probe_s_owner_is_a_check_that_reads_it() -> None:
    """tools.OWNERS says whose finding an unusable answer is: the owner must exist and read that probe, or the
    failure would be graded by no check at all."""
    from relaycheck.checks import tools
    from relaycheck.checks.catalogue import load_catalogue

    checks = load_catalogue().checks
    for probe, owner in tools.OWNERS.items():
        owners = [c for c in checks if c.id == owner or (owner.endswith(".*") and c.id.startswith(owner[:-1]))]
        assert any(f"chat-{probe}" in c.probes for c in owners), (probe, owner)
