"""Checks on answers the real servers of the live run give (docs/live.md, docs/live-chat-findings.md), recorded here
by hand because no quirk of the reference provider produces them: each fired on a server for a reason that is not
the property it judges, or for a fault another check grades once, and was fixed at its root.

* a streamed call whose id and name come again in every delta (llama-cpp-python): the name the client concatenates
  is chat.tools.stream-call-head's finding; the named tool_choice was honoured, and the stream equals its twin;
* a call forced by name that ends "stop" (vLLM, as OpenAI's own: vllm-project/vllm#25054);
* a "required" answer cut by max_completion_tokens while writing its calls (vLLM on the tiny model);
* a 500 and an empty 200 stream for "required" (chatml-function-calling): graded by chat.tools.required and
  chat.stream.data-json, not again by every check that reads those probes for evidence (chat.stream.done, nor
  chat.tools.parallel-false, whose probe is sent with "required" too);
* LiteLLM's usage chunk, last, with choices [{"index": 0, "delta": {}}] instead of []: stream.usage-chunk's finding,
  not stream.usage-null-elsewhere's (no other chunk carries usage);
* a "required" parallel answer cut while writing its calls: streamed, the pieces came; unstreamed, vLLM parses
  only a finished array, so no call (chat.stream.text-matches);
* a chat template of the model's own (no public tokenizer): its reply priming is not OpenAI's 3 tokens;
* a server that ignores max_completion_tokens bills what it generated: params.max-tokens' finding, not inflation.
"""

from __future__ import annotations

import json

from test_tool_checks import WEATHER, _answer, _call, _error, _request, _stream

from relaycheck.checks import stream, tools, usage
from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Check, Grade, Recorded, judge
from relaycheck.endpoint import Endpoint
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.sse import parse_sse

CHAT = Endpoint.CHAT
BY_ID = {c.id: c for c in load_catalogue().checks}
HEAD = {"index": 0, "id": "call__0_get_weather", "type": "function", "function": {"name": "get_weather"}}


def _grade(check: Check, *exchanges: Exchange, model: str = "gpt-4o-mini", tokenizer: str | None = "auto") -> Grade:
    recorded = Recorded({ex.probe: ex for ex in exchanges}, load_contracts().of(CHAT), model, tokenizer, CHAT)
    return judge(check, recorded).grade


def _billed(probe: str, prompt: int, completion: int, content: str = "text", finish: str = "stop",
            logprobs: list[str] | None = None) -> Exchange:
    lp = None if logprobs is None else {"content": [{"token": t, "logprob": -1.0, "bytes": list(t.encode()),
                                                     "top_logprobs": []} for t in logprobs], "refusal": None}
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "tiny-chat", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content, "refusal": None}, "logprobs": lp,
         "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}
    return Exchange(probe, _request(probe), 1.0, status=200, headers={"content-type": "application/json"},
                    body=json.dumps(body).encode())


# -- tool calls ------------------------------------------------------------------------------------------------


def _repeating_stream() -> Exchange:
    """llama-cpp-python's streamed named call: id, type and name again with every piece of the arguments."""
    pieces = ['{"city":', '"Paris",', '"unit":"celsius"}']
    return _stream("chat-stream-tools-named", [{"role": "assistant", "content": None}] + [
        {"tool_calls": [{**HEAD, "function": {"name": "get_weather", "arguments": piece}}]} for piece in pieces])


def test_a_repeated_head_is_graded_once_by_stream_call_head() -> None:
    streamed = _repeating_stream()
    plain = _answer("chat-tools-named", {"content": None, "tool_calls": [_call("get_weather", WEATHER)]},
                    "tool_calls")
    assert _grade(tools.stream_call_head, streamed) is Grade.FAIL
    assert _grade(tools.named, plain, streamed) is Grade.PASS  # get_weather was called, as named
    assert _grade(BY_ID["chat.stream.text-matches"], plain, streamed, _stream("chat-stream", [{"content": "Hi"}],
                                                                              "stop")) is Grade.PASS
    other = _stream("chat-stream-tools-named", [{"tool_calls": [{**HEAD, "function": {
        "name": "get_time", "arguments": '{"city":"Paris"}'}}]}])
    assert _grade(tools.named, plain, other) is Grade.FAIL  # another function is still another function


def test_a_call_forced_by_name_may_end_stop_as_openai_s_do() -> None:
    named = _answer("chat-tools-named", {"content": "", "tool_calls": [_call("get_weather", WEATHER)]}, "stop")
    assert _grade(tools.finish_reason, named) is Grade.PASS
    required = _answer("chat-tools-required", {"content": None, "tool_calls": [_call("get_weather", WEATHER)]},
                       "stop")
    assert _grade(tools.finish_reason, named, required) is Grade.FAIL
    streamed = _stream("chat-stream-tools-named", [{"tool_calls": [{**HEAD, "function": {
        "name": "get_weather", "arguments": WEATHER}}]}], "stop")
    assert _grade(tools.stream_finish_reason, streamed) is Grade.PASS


def test_required_cut_while_writing_its_calls_is_skipped_but_prose_fails() -> None:
    cut = _answer("chat-tools-required", {"content": ""}, "length")  # vLLM: the array of calls not closed in time
    assert _grade(tools.required, cut) is Grade.SKIPPED
    prose = _answer("chat-tools-required", {"content": "The weather in Paris is"}, "length")
    assert _grade(tools.required, prose) is Grade.FAIL


def test_a_failure_is_graded_by_the_probe_s_own_check_only() -> None:
    crash = _error("chat-tools-required", 500, {"error": {"message": "", "type": "internal_server_error",
                                                          "param": None, "code": None}})
    named = _answer("chat-tools-named", {"content": None, "tool_calls": [_call("get_weather", WEATHER)]},
                    "tool_calls")
    assert _grade(tools.required, crash, named) is Grade.FAIL
    for check in (tools.call_shape, tools.arguments, tools.finish_reason):
        assert _grade(check, crash, named) is Grade.PASS, check.id
    auto = _error("chat-tools-auto", 500, {"error": {"message": "", "type": "server_error", "param": None,
                                                     "code": None}})
    assert _grade(tools.call_shape, auto, named) is Grade.FAIL  # no check of its own: read here, failed here


def test_an_empty_200_stream_is_graded_by_data_json_only() -> None:
    empty = Exchange("chat-stream-tools-parallel", _request("chat-stream-tools-parallel"), 1.0, status=200,
                     headers={"content-type": "text/event-stream"}, body=b"", events=())
    good = _stream("chat-stream-tools-named", [{"tool_calls": [{**HEAD, "function": {
        "name": "get_weather", "arguments": WEATHER}}]}])
    plain = _stream("chat-stream", [{"role": "assistant", "content": "Hi"}], "stop")
    assert _grade(BY_ID["chat.stream.data-json"], plain, good, empty) is Grade.FAIL
    for check in (tools.stream_arguments, tools.stream_finish_reason, BY_ID["chat.stream.object"],
                  BY_ID["chat.stream.id-stable"], BY_ID["chat.stream.done"]):
        assert _grade(check, plain, good, empty) is Grade.PASS, check.id
    cut = Exchange("chat-stream", _request("chat-stream"), 1.0, status=200, headers={
        "content-type": "text/event-stream"}, body=plain.body.replace(b"data: [DONE]\n\n", b""),
        events=plain.events[:-1])
    assert _grade(BY_ID["chat.stream.done"], cut, good) is Grade.FAIL  # events without [DONE]: still its finding


def test_parallel_false_is_not_failed_for_the_required_choice_it_is_sent_with() -> None:
    crash = {"error": {"message": "", "type": "internal_server_error", "param": None, "code": None}}
    single = _error("chat-tools-single", 500, crash)  # chatml-function-calling: assert tool_choice == "auto"
    parallel = tools.parallel_false
    assert _grade(parallel, single, _error("chat-tools-required", 500, crash)) is Grade.SKIPPED
    assert _grade(tools.required, _error("chat-tools-required", 500, crash)) is Grade.FAIL  # graded there, once
    called = _answer("chat-tools-required", {"content": None, "tool_calls": [_call("get_weather", WEATHER)]},
                     "tool_calls")
    assert _grade(parallel, single, called) is Grade.FAIL  # "required" works on its own: the 500 is this probe's
    two = _answer("chat-tools-single", {"content": None, "tool_calls": [
        _call("get_weather", WEATHER), _call("get_time", '{"city":"Tokyo"}', "call_2")]}, "tool_calls")
    assert _grade(parallel, two, _error("chat-tools-required", 500, crash)) is Grade.FAIL


def _cut_twins(streamed_calls: list[dict]) -> tuple[Exchange, Exchange]:
    """vLLM on the tiny model: "required" with parallel calls, the array not closed within the cap."""
    plain = _answer("chat-tools-parallel", {"content": ""}, "length")
    deltas = [{"role": "assistant", "content": ""}] + [{"tool_calls": [c]} for c in streamed_calls]
    return _stream("chat-stream-tools-parallel", deltas, "length"), plain


def test_a_parallel_answer_cut_while_writing_its_calls_is_no_stream_difference() -> None:
    matches = BY_ID["chat.stream.text-matches"]
    greedy = (_stream("chat-stream", [{"role": "assistant", "content": "Hi"}], "stop"),
              _answer("chat-greedy", {"content": "Hi"}))
    streamed, plain = _cut_twins([{**HEAD, "function": {"name": "get_weather", "arguments": WEATHER}},
                                  {"index": 1, "id": "call_2", "type": "function", "function": {
                                      "name": "get_time", "arguments": '{"ci'}}])
    assert _grade(matches, streamed, plain, *greedy) is Grade.PASS
    finished = _answer("chat-tools-parallel", {"content": None, "tool_calls": [_call("get_time", WEATHER)]},
                       "tool_calls")
    other = _stream("chat-stream-tools-parallel", [{"tool_calls": [{**HEAD, "function": {
        "name": "get_weather", "arguments": WEATHER}}]}])
    assert _grade(matches, other, finished, *greedy) is Grade.WARN  # finished calls that differ still differ


# -- usage -----------------------------------------------------------------------------------------------------


def _repeats(intercept: int, slope: int) -> list[Exchange]:
    return [_billed(f"chat-usage-repeat-{k}", intercept + slope * k, 1) for k in (1, 2, 3)]


def test_a_template_of_the_model_s_own_primes_the_reply_with_its_own_tokens() -> None:
    linear = BY_ID["chat.usage.linear"]
    # llama-cpp-python and vLLM on the tiny model: <|im_start|>assistant and a newline, spelt in plain text
    live = _repeats(16, 28)
    assert _grade(linear, *live, model="tiny-chat", tokenizer=None) is Grade.PASS
    assert _grade(linear, *live, model="tiny-chat") is Grade.PASS  # auto: no tokenizer known for the name
    assert _grade(linear, *live, model="gpt-4o-mini") is Grade.FAIL  # OpenAI's format: 3 tokens prime the reply
    hidden = _repeats(16 + 40, 28)  # a system message of its own, beyond the priming
    assert _grade(linear, *hidden, model="tiny-chat", tokenizer=None) is Grade.FAIL


def test_a_cap_the_server_ignores_bounds_no_bill() -> None:
    bounds = BY_ID["chat.usage.completion-bounds"]
    basic = _billed("chat-basic", 43, 62, "a long answer past the cap of 7")  # llama: max_completion_tokens ignored
    assert _grade(bounds, basic) is Grade.FAIL  # nothing shows the cap was not honoured: inflated, as far as seen
    logprobs = _billed("chat-logprobs", 43, 24, "".join(["ab"] * 24), logprobs=["ab"] * 24)  # 24 tokens for a cap of 4
    assert _grade(bounds, basic, logprobs) is Grade.PASS
    assert _grade(BY_ID["chat.params.max-tokens"], logprobs, _billed("chat-greedy", 43, 8)) is Grade.FAIL
    honoured = _billed("chat-logprobs", 43, 4, "abcd", "length", logprobs=["a", "b", "c", "d"])
    assert _grade(bounds, basic, honoured) is Grade.FAIL


def test_the_checks_named_here_exist() -> None:
    assert {c.id for c in (stream.object_, stream.id_stable, usage.linear)} <= set(BY_ID)


def _usage_stream(deltas: list[dict], usage_choices: list[dict] | None, every: bool = False) -> Exchange:
    usage = {"prompt_tokens": 23, "completion_tokens": 25, "total_tokens": 48}
    chunks = [{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "tiny-chat",
               "choices": [{"index": 0, "delta": d, "finish_reason": None}], **({"usage": usage} if every else {})}
              for d in deltas]
    chunks.append({**chunks[0], "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if usage_choices is not None:
        chunks.append({**chunks[0], "choices": usage_choices, "usage": usage})
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return Exchange("chat-stream-usage", _request("chat-stream-usage"), 1.0, status=200,
                    headers={"content-type": "text/event-stream"}, body=text.encode(),
                    events=tuple(parse_sse(text.encode()).events))


def test_a_misshapen_usage_chunk_is_graded_once_by_usage_chunk() -> None:
    null_elsewhere, usage_chunk = BY_ID["chat.stream.usage-null-elsewhere"], BY_ID["chat.stream.usage-chunk"]
    litellm = _usage_stream([{"role": "assistant"}, {"content": "Hi"}], [{"index": 0, "delta": {}}])
    assert _grade(usage_chunk, litellm) is Grade.FAIL
    assert _grade(null_elsewhere, litellm) is Grade.PASS  # no other chunk carries usage
    every = _usage_stream([{"role": "assistant"}, {"content": "Hi"}], [{"index": 0, "delta": {}}], every=True)
    assert _grade(null_elsewhere, every) is Grade.FAIL  # usage on the content chunks too: its own finding
    good = _usage_stream([{"role": "assistant"}, {"content": "Hi"}], [])
    assert _grade(null_elsewhere, good) is Grade.PASS and _grade(usage_chunk, good) is Grade.PASS
