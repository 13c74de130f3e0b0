"""The endpoint dimension: providers state their endpoints, checks and probes carry theirs, a view reads its own,
and an endpoint that is not served is said once, spends almost nothing and scores nothing."""

from __future__ import annotations

import json

import pytest

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Recorded, accumulate, route_missing, serving
from relaycheck.config.providers import ConfigError, embedded_reference, parse_providers
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import PROBES, probes_of
from relaycheck.runner.engine import certify
from relaycheck.runner.session import ProviderChoice, select_providers
from relaycheck.spec import load_contract
from relaycheck.spec.contracts import load_contracts
from relaycheck.transport.budget import CHAT_UNCAPPED_TOKENS, choice_tokens, worst_case_tokens
from relaycheck.transport.exchange import Exchange, RecordedRequest

VENDOR = {"name": "v", "base_url": "https://relay.example/v1", "api_key_env": "V_KEY"}


def _provider(**fields: object):  # type: ignore[no-untyped-def]
    (provider,) = parse_providers({"providers": [{**VENDOR, **fields}]}).providers
    return provider


def test_a_provider_without_chat_is_certified_on_completions_alone() -> None:
    assert _provider().endpoints == (Endpoint.COMPLETIONS,)
    with_chat = _provider(chat={"model": "gpt-4o-mini", "context_length": 128000})
    assert with_chat.endpoints == (Endpoint.COMPLETIONS, Endpoint.CHAT)
    assert with_chat.settings(Endpoint.CHAT).model == "gpt-4o-mini"
    assert with_chat.settings(Endpoint.CHAT).context_length == 128000
    assert with_chat.settings(Endpoint.COMPLETIONS).model == "gpt-3.5-turbo-instruct"
    only_chat = _provider(chat={"model": "gpt-4o-mini"}, endpoints=["chat"])
    assert only_chat.endpoints == (Endpoint.CHAT,)


@pytest.mark.parametrize(("fields", "message"), [
    ({"endpoints": ["chat"]}, "state the chat model it sells"),
    ({"endpoints": ["responses"]}, "unknown endpoint 'responses'"),
    ({"endpoints": []}, "at least one"),
    ({"chat": {"modle": "x"}}, "did you mean 'model'"),
    ({"chat": {"model": "x", "context_length": 3}}, "at least 16"),
    ({"chat": "gpt-4o"}, "must be a mapping"),
    ({"discover_endpoints": True}, "unknown field"),
])
def test_bad_endpoint_configuration_is_one_line(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _provider(**fields)


def test_the_command_line_states_endpoints_or_lets_them_be_found() -> None:
    base = {"base_url": "https://relay.example/v1", "api_key_env": "V_KEY"}
    (adhoc,) = select_providers(ProviderChoice(**base))
    assert adhoc.discover_endpoints
    (chat,) = select_providers(ProviderChoice(**base, endpoints=(Endpoint.CHAT,), model="gpt-4o"))
    assert chat.endpoints == (Endpoint.CHAT,) and not chat.discover_endpoints
    assert chat.settings(Endpoint.CHAT).model == "gpt-4o"  # --model is the chat model when only chat is asked
    (reference,) = select_providers(ProviderChoice(endpoints=(Endpoint.CHAT,)))
    assert reference.endpoints == (Endpoint.CHAT,)
    with pytest.raises(ConfigError, match="--chat-model"):
        select_providers(ProviderChoice(chat_model="gpt-4o"))


def test_probes_and_checks_carry_their_endpoint_in_their_ids() -> None:
    assert {p.endpoint for p in PROBES} == set(Endpoint)
    for probe in PROBES:
        assert Endpoint.of_probe(probe.id) is probe.endpoint
        assert probe.url_path in ("models", probe.endpoint.path)
    for check in load_catalogue().checks:
        assert check.id.startswith(check.feature + "."), check.id
        assert Endpoint.of_feature(check.id) is check.endpoint
        assert all(Endpoint.of_probe(p) is check.endpoint for p in check.probes), check.id
    chat = probes_of(Endpoint.CHAT)
    assert len(chat) <= 70  # issue 22: chat adds at most 70 requests
    assert all(p.id.startswith("chat-") for p in chat)


def _exchange(probe: str, status: int, body: bytes, content_type: str = "application/json", at: float = 1.0,
              method: str = "POST") -> Exchange:
    return Exchange(probe, RecordedRequest(method, f"http://x/v1/{Endpoint.of_probe(probe).path}", {}, "{}"), at,
                    status=status, headers={"content-type": content_type}, body=body)


def test_a_missing_route_is_told_from_an_answer_of_the_endpoint() -> None:
    assert route_missing(_exchange("basic", 405, b'{"detail":"Method Not Allowed"}'))
    assert route_missing(_exchange("basic", 404, b'{"error":{"message":"Invalid URL (POST /v1/completions)"}}'))
    assert route_missing(_exchange("basic", 200, b"<html></html>", "text/html"))
    not_found = b'{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","code":' \
                b'"model_not_found","param":null}}'
    assert route_missing(_exchange("basic", 404, not_found)) is None  # the route is there; the model is not
    assert route_missing(_exchange("basic", 400, b'{"error":{"message":"bad"}}')) is None
    assert route_missing(_exchange("basic", 500, b"<html>oops</html>", "text/html")) is None
    # the first answer of the endpoint decides, a chat answer does not speak for Completions
    exchanges = {"logprobs": _exchange("logprobs", 405, b"{}", at=1.0), "basic": _exchange("basic", 200, b"{}", at=2),
                 "chat-basic": _exchange("chat-basic", 200, b"{}", at=0.5)}
    assert serving(exchanges, Endpoint.COMPLETIONS).served is False
    assert serving(exchanges, Endpoint.CHAT).served is True
    assert serving({}, Endpoint.CHAT).served is None


def test_a_view_reads_its_endpoints_probes_by_their_short_names() -> None:
    plain, chat = _exchange("basic", 200, b"{}"), _exchange("chat-basic", 201, b"{}")
    view = Recorded({"basic": plain, "chat-basic": chat}, load_contract(), "m", endpoint=Endpoint.CHAT)
    assert view.exchanges["basic"] is chat and view.exchanges.get("chat-basic") is chat
    assert list(view.exchanges) == ["chat-basic"]
    assert Recorded({"basic": plain, "chat-basic": chat}, load_contract(), "m").exchanges["basic"] is plain


def test_a_stream_of_tool_call_deltas_is_assembled_as_openai_python_does() -> None:
    acc = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    accumulate(acc, {"index": 0, "function": {"arguments": '{"a":'}})
    accumulate(acc, {"index": 0, "id": "call_1", "function": {"arguments": "1}"}})  # an id sent again
    assert acc["function"]["arguments"] == '{"a":1}'
    assert acc["id"] == "call_1call_1"  # what a client gets from a relay that repeats the id


def _stream(probe: str, chunks: list[dict[str, object]]) -> Exchange:
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    from relaycheck.transport.sse import parse_sse

    parsed = parse_sse(text.encode())
    ex = _exchange(probe, 200, text.encode(), "text/event-stream")
    request = RecordedRequest("POST", ex.request.url, {}, json.dumps({"stream": True}))
    return Exchange(probe, request, 1.0, status=200, headers=ex.headers, body=ex.body, events=tuple(parsed.events))


def test_chat_answers_come_the_same_from_a_body_and_from_a_stream() -> None:
    calls = [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get", "arguments": '{"a":1}'}}]
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": calls,
                                                   "refusal": None}, "finish_reason": "tool_calls", "logprobs": None}]}
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get", "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]
    plain = _exchange("chat-tools-named", 200, json.dumps(body).encode())
    streamed = _stream("chat-stream-tools-named", chunks)
    view = Recorded({plain.probe: plain, streamed.probe: streamed}, load_contract(), "m", endpoint=Endpoint.CHAT)
    (a,), (b,) = view.answers("tools-named"), view.answers("stream-tools-named")
    assert a.tool_calls == b.tool_calls == tuple(calls)
    assert a.finish_reason == b.finish_reason == "tool_calls" and b.finishes == 1 and b.role == "assistant"
    broken = _stream("chat-stream-tools-named", [{"choices": [{"index": 0, "delta": {"tool_calls": [
        {"id": "x", "function": {"name": "get"}}]}}]}])
    (c,) = Recorded({broken.probe: broken}, load_contract(), "m", endpoint=Endpoint.CHAT).answers("stream-tools-named")
    assert c.problems and "index" in c.problems[0]


def test_chat_spend_counts_what_a_chat_answer_carries() -> None:
    assert worst_case_tokens({"messages": [], "max_completion_tokens": 5, "n": 2}, Endpoint.CHAT) == 10
    assert worst_case_tokens({"messages": [], "max_tokens": 7, "max_completion_tokens": 9}, Endpoint.CHAT) == 7
    assert worst_case_tokens({"messages": []}, Endpoint.CHAT) == CHAT_UNCAPPED_TOKENS
    message = {"content": "x" * 64, "tool_calls": [{"function": {"name": "get", "arguments": "y" * 32}}]}
    assert choice_tokens({"message": message}) == (64 + 3 + 32) // 16
    assert choice_tokens({"delta": {"content": "hi"}}) == 1
    assert choice_tokens({"logprobs": {"content": [{}, {}, {}]}, "delta": {"content": "abc"}}) == 3


@pytest.mark.parametrize("quirk", ["completions-route-404", "completions-route-405", "completions-route-html"])
@pytest.mark.parametrize("stated", [True, False])
def test_an_endpoint_not_served_is_said_once_and_costs_almost_nothing(quirk: str, stated: bool) -> None:
    """Issue 28: a relay serving chat alone. At most 3 requests on the missing endpoint, one plain line, only what is
    served scored, no vacuous pass; failed only when someone stated the provider serves it."""
    from relaycheck.report.document import build_report

    catalogue = load_catalogue().excluding("property")
    provider = embedded_reference(quirks=(quirk,)).with_overrides(discover_endpoints=not stated)
    (run,) = certify([provider], catalogue, load_contracts())
    on_completions = [x for x in run.exchanges.values() if x.attempts and Endpoint.of_probe(x.probe) is
                      Endpoint.COMPLETIONS and x.request.method == "POST"]
    assert len(on_completions) <= 3
    verdicts = {v.check: v for v in run.verdicts}
    served = verdicts["route.served"]
    assert "does not serve POST /v1/completions" in served.message
    assert served.grade is (Grade.FAIL if stated else Grade.SKIPPED)
    completions = [v for v in run.verdicts if Endpoint.of_feature(v.check) is Endpoint.COMPLETIONS]
    assert all(v.grade is Grade.SKIPPED for v in completions if v.check != "route.served")  # no vacuous pass
    chat = [v for v in run.verdicts if Endpoint.of_feature(v.check) is Endpoint.CHAT]
    assert chat and all(v.grade is Grade.PASS for v in chat), [(v.check, v.message) for v in chat
                                                               if v.grade is not Grade.PASS][:3]
    report = build_report(run, catalogue)
    lines = [r.line() for r in report.endpoints()]
    assert lines[0].startswith("Completions: does not serve POST /v1/completions (HTTP ")
    assert report.score.by_endpoint[Endpoint.CHAT].percent == 100.0
    assert bool(report.score.overall.must_failures) is stated


def test_a_provider_that_serves_neither_endpoint_fails() -> None:
    catalogue = load_catalogue().excluding("property")
    provider = embedded_reference(quirks=("completions-route-405", "chat-route-404")).with_overrides(
        discover_endpoints=True)
    (run,) = certify([provider], catalogue, load_contracts())
    verdicts = {v.check: v for v in run.verdicts}
    assert verdicts["route.served"].grade is Grade.FAIL and verdicts["chat.route.served"].grade is Grade.FAIL
    assert "serves none of the endpoints" in verdicts["chat.route.served"].message


def test_a_fault_is_labelled_by_what_its_exchanges_showed() -> None:
    from relaycheck.report.causes import causes, wire_deviation
    from relaycheck.report.document import build_report

    assert wire_deviation(_exchange("basic", 405, b'{"detail":"Method Not Allowed"}')) == "D90"
    assert wire_deviation(_exchange("basic", 200, b'{"error":{"message":"bad"}}')) == "D40"
    assert wire_deviation(_exchange("basic", 502, b"<html>bad gateway</html>", "text/html")) == "D42"
    assert wire_deviation(_exchange("basic", 400, b"<html>bad</html>", "text/html")) == "D41"
    assert wire_deviation(_exchange("basic", 400, b'{"error":{"message":"bad"}}')) is None
    catalogue = load_catalogue().excluding("property")
    (run,) = certify([embedded_reference(quirks=("completions-route-405",), endpoints=(Endpoint.COMPLETIONS,))],
                     catalogue, load_contracts())
    (fault,) = causes(build_report(run, catalogue)).faults
    assert fault.deviation == "D90" and fault.checks == ("route.served",)


def test_spend_is_stated_per_endpoint_from_what_each_endpoint_s_exchanges_cost() -> None:
    """What certifying chat adds is counted, not estimated: the tallies add up to the totals, a JSON report round
    trips them, and each endpoint's line says its own."""
    from relaycheck.report.document import build_report
    from relaycheck.report.model import Report

    catalogue = load_catalogue().excluding("property")
    (run,) = certify([embedded_reference()], catalogue, load_contracts())
    spend = run.spend
    tallies = spend.by_endpoint
    assert set(tallies) == {Endpoint.COMPLETIONS, Endpoint.CHAT}
    assert sum(t.requests for t in tallies.values()) == spend.requests
    assert sum(t.completion_tokens for t in tallies.values()) == spend.completion_tokens
    assert sum(t.prompt_tokens for t in tallies.values()) == spend.prompt_tokens
    sent = {e: sum(x.attempts for x in run.exchanges.values() if Endpoint.of_probe(x.probe) is e) for e in Endpoint}
    assert {e: t.requests for e, t in tallies.items()} == sent
    assert tallies[Endpoint.CHAT].requests <= 70 and tallies[Endpoint.CHAT].completion_tokens <= 2500  # issue 22
    report = build_report(run, catalogue)
    again = Report.from_json(json.loads(json.dumps(report.to_json())))
    assert again.spend.by_endpoint == tallies
    chat_line = next(r.line() for r in again.endpoints() if r.info.endpoint is Endpoint.CHAT)
    assert f"· {tallies[Endpoint.CHAT].requests} requests, " in chat_line


def test_no_property_leaves_out_the_phase_on_every_endpoint() -> None:
    catalogue = load_catalogue()
    assert {c.feature for c in catalogue.checks} >= {"property", "chat.property"}
    left = {c.feature for c in catalogue.excluding("property").checks}
    assert not left & {"property", "chat.property"} and "chat.tools" in left


def test_a_cap_not_honoured_is_named_as_the_request_named_it() -> None:
    catalogue = load_catalogue().select(("params.max-tokens", "chat.params.max-tokens"))
    (run,) = certify([embedded_reference(quirks=("drop-max-tokens",))], catalogue, load_contracts())
    messages = {v.check: v.message for v in run.verdicts}
    assert messages["params.max-tokens"].startswith("max_tokens 4 was not honoured")
    assert messages["chat.params.max-tokens"].startswith("max_completion_tokens 4 was not honoured")
