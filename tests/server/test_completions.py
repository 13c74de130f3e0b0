"""Every request field with its official meaning, non-stream and stream (against the conformant server)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from relaycheck.server.tokenizer import default_tokenizer

from .conftest import COUNTING, MODEL, Api

TOK = default_tokenizer()


def counting(start: int, stop: int) -> str:
    return "".join(f" {i}," for i in range(start, stop + 1))


def test_response_shape(api: Api) -> None:
    before = int(time.time())
    body = api.complete(prompt=COUNTING, max_tokens=6, temperature=0)
    assert body["id"].startswith("cmpl-") and len(body["id"]) > 10
    assert body["object"] == "text_completion"
    assert before <= body["created"] <= time.time() + 1 and isinstance(body["created"], int)
    assert body["model"] == MODEL
    assert body["system_fingerprint"] == "fp_relaycheck"
    assert body["choices"] == [{"text": " 5, 6,", "index": 0, "logprobs": None, "finish_reason": "length"}]
    # cl100k: "1", ",", " ", "2", … (digits never carry the space) and " ", "5", ",", " ", "6", ","
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}


def test_ids_are_unique(api: Api) -> None:
    ids = {api.complete(prompt="x", max_tokens=1)["id"] for _ in range(10)}
    assert len(ids) == 10


@pytest.mark.parametrize("model", ["gpt-3.5-turbo-instruct", "davinci-002", "babbage-002"])
def test_every_listed_model_answers_under_its_name(api: Api, model: str) -> None:
    assert api.complete(model=model, prompt="x", max_tokens=1)["model"] == model


def test_max_tokens(api: Api) -> None:
    default = api.complete(prompt=COUNTING, temperature=0)
    assert default["usage"]["completion_tokens"] == 16
    assert default["choices"][0]["text"] == counting(5, 9) + " "
    assert default["choices"][0]["finish_reason"] == "length"
    assert api.complete(prompt=COUNTING, temperature=0, max_tokens=None)["usage"]["completion_tokens"] == 16
    long = api.complete(prompt=COUNTING, temperature=0, max_tokens=100)
    assert long["choices"][0]["text"] == counting(5, 37) + " "


@pytest.mark.parametrize("stream", [False, True])
def test_a_length_0_completion_is_refused_as_openai_refuses_it(api: Api, stream: bool) -> None:
    """OpenAI: "You requested a length 0 completion, which is not supported for this model" (D80)."""
    error = api.error(400, {"model": MODEL, "prompt": COUNTING, "max_tokens": 0, "echo": True, "stream": stream})
    assert error["param"] == "max_tokens" and error["type"] == "invalid_request_error"
    assert error["message"].startswith("You requested a length 0 completion")


def test_end_of_text_finishes_with_stop(api: Api) -> None:
    body = api.complete(prompt="Once upon a time", temperature=0, max_tokens=120)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == len(TOK.encode(choice["text"])) < 120


def test_prompt_forms(api: Api) -> None:
    text = api.complete(prompt=COUNTING, temperature=0, max_tokens=4)["choices"][0]["text"]
    ids = TOK.encode(COUNTING)
    assert api.complete(prompt=ids, temperature=0, max_tokens=4)["choices"][0]["text"] == text
    both = api.complete(prompt=[ids, TOK.encode("Say this is a test")], temperature=0, max_tokens=4)
    assert [c["text"] for c in both["choices"]] == [text, ". This is a"]
    assert both["usage"]["prompt_tokens"] == len(ids) + 5
    # GPT-2's ids for "This is a test." are valid token ids here.
    assert api.complete(prompt=[1212, 318, 257, 1332, 13], max_tokens=2)["usage"]["prompt_tokens"] == 5
    # null is the documented default, <|endoftext|>: a completion from the start of a document.
    null = api.complete(prompt=None, temperature=0, max_tokens=5)
    assert null["choices"][0]["text"] and null["usage"]["prompt_tokens"] == 1
    empty = api.complete(prompt="", temperature=0, max_tokens=5)
    assert empty["choices"][0]["text"] == null["choices"][0]["text"]


def test_prompt_list_is_prompt_major(api: Api) -> None:
    body = api.complete(prompt=[COUNTING, "Say this is a test"], n=2, temperature=0, max_tokens=3)
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert [c["text"] for c in body["choices"]] == [" 5,", " 5,", ". This is", ". This is"]


def test_n_choices_differ_when_sampled(api: Api) -> None:
    body = api.complete(prompt="Once upon a time", n=5, temperature=1.5, max_tokens=12, seed=11)
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3, 4]
    assert len({c["text"] for c in body["choices"]}) > 1
    assert 5 <= body["usage"]["completion_tokens"] <= 5 * 12


def _mean(choice: dict[str, Any]) -> float:
    logprobs = choice["logprobs"]["token_logprobs"]
    return sum(logprobs) / len(logprobs)


def test_best_of_returns_the_candidate_with_the_best_mean_logprob(api: Api) -> None:
    common = {
        "prompt": "The",
        "temperature": 1.8,
        "max_tokens": 6,
        "seed": 5,
        "logprobs": 0,
        "logit_bias": {str(TOK.eot_id): -100},
    }  # no early end-of-text: every logprob is visible
    everything = api.complete(best_of=4, n=4, **common)  # best_of == n: all candidates, unranked
    best = max(everything["choices"], key=_mean)
    assert len({c["text"] for c in everything["choices"]}) > 1
    chosen = api.complete(best_of=4, n=1, **common)
    assert [c["text"] for c in chosen["choices"]] == [best["text"]]
    assert chosen["usage"]["completion_tokens"] == everything["usage"]["completion_tokens"] == 24
    two = api.complete(best_of=4, n=2, **common)
    ranked = sorted(everything["choices"], key=_mean, reverse=True)
    assert [c["text"] for c in two["choices"]] == [c["text"] for c in ranked[:2]]
    assert [c["index"] for c in two["choices"]] == [0, 1]


def test_echo(api: Api) -> None:
    body = api.complete(prompt=COUNTING, echo=True, temperature=0, max_tokens=2)
    assert body["choices"][0]["text"] == COUNTING + " 5"
    assert body["usage"]["completion_tokens"] == 2


def check_logprobs(choice: dict[str, Any], logprobs: int) -> None:
    lp = choice["logprobs"]
    n = len(lp["tokens"])
    assert len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]) == n
    assert "".join(lp["tokens"]) == choice["text"]
    offset = 0
    for token, logprob, top, at in zip(
        lp["tokens"], lp["token_logprobs"], lp["top_logprobs"], lp["text_offset"], strict=True
    ):
        assert at == offset
        offset += len(token)
        if logprob is None:
            continue
        assert logprob <= 0
        assert 1 <= len(top) <= logprobs + 1
        assert top[token] == logprob  # the sampled token is always there
        assert all(v <= 0 for v in top.values())


@pytest.mark.parametrize("logprobs", [0, 1, 2, 5])
def test_logprobs_legacy_object(api: Api, logprobs: int) -> None:
    body = api.complete(prompt="Say this is a test", logprobs=logprobs, max_tokens=8, temperature=0)
    choice = body["choices"][0]
    check_logprobs(choice, logprobs)
    tops = choice["logprobs"]["top_logprobs"]
    if logprobs == 0:
        assert all(len(top) == 1 for top in tops)  # just the sampled token (documented choice)
    else:
        assert any(len(top) >= logprobs for top in tops)


def test_logprobs_with_echo(api: Api) -> None:
    body = api.complete(prompt="Say this is a test", echo=True, logprobs=2, max_tokens=3, temperature=0)
    choice = body["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"].startswith("Say this is a test")
    assert lp["tokens"][:5] == ["Say", " this", " is", " a", " test"]
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None
    assert all(isinstance(v, float) for v in lp["token_logprobs"][1:])
    assert lp["text_offset"][:3] == [0, 3, 8]
    check_logprobs(choice, 2)


def test_unicode_prompt_with_echo_and_logprobs(api: Api) -> None:
    prompt = "Grüße 🎉 — naïve"
    body = api.complete(prompt=prompt, echo=True, logprobs=1, max_tokens=4, temperature=0)
    choice = body["choices"][0]
    assert choice["text"].startswith(prompt)
    check_logprobs(choice, 1)
    # Tokens that end inside a character carry "" and the completing token carries the character.
    assert "" in choice["logprobs"]["tokens"]


def test_partial_character_at_the_end_of_a_token_prompt(api: Api) -> None:
    ids = TOK.encode("👍")[:1]  # the first two of the emoji's four bytes
    # one forced "." after it (a length-0 completion is refused): the partial character is replaced, once
    body = api.complete(prompt=ids, echo=True, logprobs=0, max_tokens=1, logit_bias={"13": 100}, temperature=0)
    assert body["choices"][0]["text"] == "\ufffd."
    check_logprobs(body["choices"][0], 0)


@pytest.mark.parametrize(
    ("stop", "text"),
    [
        (" 7", counting(5, 6)),
        ([" 7", " 6"], " 5,"),  # the earliest match wins
        (", 7", " 5, 6"),  # spans the tokens ",", " " and "7"
        ("6, 7", " 5, "),  # starts at the token "6", ends inside no token
        ("\n", None),  # never matches here: runs to max_tokens
        (["x", "y", "z", "9"], counting(5, 8) + " "),
    ],
)
def test_stop(api: Api, stop: Any, text: str | None) -> None:
    body = api.complete(prompt=COUNTING, stop=stop, temperature=0, max_tokens=16, logprobs=1)
    choice = body["choices"][0]
    if text is None:
        assert choice["finish_reason"] == "length" and choice["text"] == counting(5, 9) + " "
    else:
        assert choice["text"] == text and choice["finish_reason"] == "stop"
    check_logprobs(choice, 1)
    streamed = api.stream(prompt=COUNTING, stop=stop, temperature=0, max_tokens=16)
    assert streamed.text() == choice["text"]
    assert streamed.finishes() == {0: [choice["finish_reason"]]}


def test_suffix_is_accepted_and_ignored(api: Api) -> None:
    body = api.complete(prompt=COUNTING, suffix="\nreturn x", temperature=0, max_tokens=6)
    assert body["choices"][0]["text"] == counting(5, 6)
    assert api.complete(prompt="x", suffix=None, best_of=1, max_tokens=1)["choices"]


def test_temperature_zero_is_deterministic(api: Api) -> None:
    texts = {
        api.complete(prompt="Once upon a time", temperature=0, max_tokens=20)["choices"][0]["text"]
        for _ in range(3)
    }
    assert len(texts) == 1


def test_seed(api: Api) -> None:
    def run(**extra: Any) -> str:
        body = api.complete(prompt="Once upon a time", temperature=1.6, max_tokens=20, **extra)
        return body["choices"][0]["text"]

    assert run(seed=42) == run(seed=42)
    assert len({run(seed=s) for s in range(5)}) > 1
    assert len({run() for _ in range(5)}) > 1  # no seed: not reproducible


def test_float_sampling_parameters(api: Api) -> None:
    assert api.complete(prompt="x", temperature=0.7, top_p=0.9, max_tokens=2)["choices"]
    # top_p close to 0 keeps only the most likely token: the greedy text at any temperature.
    greedy = api.complete(prompt=COUNTING, temperature=0, max_tokens=10)["choices"][0]["text"]
    assert (
        api.complete(prompt=COUNTING, temperature=2, top_p=0, max_tokens=10)["choices"][0]["text"] == greedy
    )


def test_penalties_change_the_text(api: Api) -> None:
    plain = api.complete(prompt="Say this is a test", temperature=0, max_tokens=30)["choices"][0]["text"]
    penalised = api.complete(
        prompt="Say this is a test", temperature=0, max_tokens=30, frequency_penalty=2, presence_penalty=2
    )["choices"][0]["text"]
    assert plain != penalised
    assert plain.count(" test") > penalised.count(" test")
    assert api.complete(prompt="x", presence_penalty=-2, frequency_penalty=-2, max_tokens=2)["choices"]


def test_logit_bias(api: Api) -> None:
    forced = api.complete(prompt="Say this is a test", logit_bias={"13": 100}, max_tokens=6, temperature=1)
    assert forced["choices"][0]["text"] == "......"
    five = TOK.encode(" 5")[0]
    banned = api.complete(prompt=COUNTING, logit_bias={str(five): -100}, max_tokens=2, temperature=0)
    assert not banned["choices"][0]["text"].startswith(" 5")


def test_user_field(api: Api) -> None:
    assert api.complete(prompt="x", user="user-1234", max_tokens=1)["choices"]


def test_explicit_nulls_mean_defaults(api: Api) -> None:
    nulls = {
        name: None
        for name in (
            "best_of",
            "echo",
            "frequency_penalty",
            "logit_bias",
            "logprobs",
            "max_tokens",
            "n",
            "presence_penalty",
            "seed",
            "stop",
            "stream",
            "suffix",
            "temperature",
            "top_p",
            "stream_options",
        )
    }
    body = api.complete(prompt=COUNTING, **nulls)
    assert len(body["choices"]) == 1 and body["choices"][0]["logprobs"] is None
    assert body["choices"][0]["text"] != COUNTING  # no echo
    assert body["usage"]["completion_tokens"] <= 16  # temperature 1: end-of-text may come first


def test_any_content_type_is_parsed_as_json(api: Api) -> None:
    response = api.post(
        content=b'{"model": "davinci-002", "prompt": "x", "max_tokens": 1}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200 and response.json()["object"] == "text_completion"


STREAM_CASES = [
    {"prompt": COUNTING, "temperature": 0, "max_tokens": 12},
    {"prompt": COUNTING, "temperature": 0, "max_tokens": 6, "logprobs": 3},
    {"prompt": COUNTING, "temperature": 0, "max_tokens": 4, "echo": True, "logprobs": 1},
    {"prompt": "Grüße 🎉", "temperature": 0, "max_tokens": 5, "echo": True, "logprobs": 0},
    {"prompt": "Once upon a time", "temperature": 1.3, "max_tokens": 30, "seed": 3, "logprobs": 2},
    {"prompt": [COUNTING, "Say this is a test"], "n": 2, "temperature": 0, "max_tokens": 5},
    {"prompt": ["Once upon a time", "The"], "n": 3, "temperature": 1.5, "max_tokens": 8, "seed": 9},
    {"prompt": COUNTING, "temperature": 0, "max_tokens": 12, "stop": ["9,", ", 8"]},
]


@pytest.mark.parametrize("body", STREAM_CASES, ids=range(len(STREAM_CASES)))
def test_stream_carries_the_same_completion(api: Api, body: dict[str, Any]) -> None:
    whole = api.complete(**body)
    streamed = api.stream(**body)
    for choice in whole["choices"]:
        index = choice["index"]
        assert streamed.text(index) == choice["text"]
        assert streamed.finishes()[index] == [choice["finish_reason"]]
        if choice["logprobs"] is not None:
            parts = [c["logprobs"] for ch in streamed.chunks for c in ch["choices"] if c["index"] == index]
            for key in ("tokens", "token_logprobs", "top_logprobs", "text_offset"):
                assert [v for part in parts for v in part[key]] == choice["logprobs"][key], key


@pytest.mark.parametrize("path", ["/completions", "/chat/completions"])
def test_logprobs_near_temperature_0_are_finite_json(api: Api, path: str) -> None:
    """At a temperature near 0 the alternatives' logprobs underflow: they are floored (as vLLM floors them), never
    the -Infinity that strict JSON parsers refuse (schemathesis's CLI found it: ST108 on temperature 5e-324)."""
    import json

    body = {"model": MODEL, "prompt": [1228], "echo": True, "logprobs": 4, "max_tokens": 8, "temperature": 5e-324}
    if path == "/chat/completions":
        body = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "Say this is a test"}],
                "logprobs": True, "top_logprobs": 4, "max_completion_tokens": 8, "temperature": 5e-324}
    response = api.client.post(path, json=body)
    assert response.status_code == 200, response.text

    def refuse(constant: str) -> None:
        raise AssertionError(f"not JSON: {constant}")

    json.loads(response.text, parse_constant=refuse)
    assert "-9999.0" in response.text  # the floor is what the underflowed alternatives report
