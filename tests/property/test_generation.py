"""Generation from the OpenAPI document: reproducible for a seed, bounded, cheap, and honest about validity."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from relaycheck.property.clamp import clamp_negative, clamp_positive
from relaycheck.property.generate import NEGATIVE_COST_CAP, generate_cases
from relaycheck.property.plan import split
from relaycheck.spec import load_contract
from relaycheck.transport.budget import worst_case_tokens

MODEL = "gpt-3.5-turbo-instruct"
SEED = 1234


@pytest.fixture(scope="module")
def generated():
    return generate_cases(SEED, 15, 15, MODEL)


def _request_validator():
    return load_contract().validator("CreateCompletionRequest")


def test_same_seed_same_cases(generated) -> None:
    again = generate_cases(SEED, 15, 15, MODEL)
    assert [c.text for c in again.positive] == [c.text for c in generated.positive]
    assert [c.text for c in again.negative] == [c.text for c in generated.negative]
    assert [c.text for c in again.examples] == [c.text for c in generated.examples]


def _texts(generated) -> list[str]:
    return [c.text for c in generated.examples + generated.positive + generated.negative]


def test_cases_do_not_depend_on_what_else_is_loaded(generated, tmp_path) -> None:
    """Hypothesis mixes in literals from loaded modules outside site-packages (an editable install's source, a
    user's conftest): a module full of them, loaded from a local folder, must not change the cases."""
    literals = [f"LITERAL_{i} = {'x' * (i % 7 + 1) + str(i)!r}\nNUMBER_{i} = {i * 37 + 5}" for i in range(300)]
    (tmp_path / "relaycheck_literal_rich.py").write_text("\n".join(literals) + "\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("relaycheck_literal_rich")
        again = generate_cases(SEED, 15, 15, MODEL)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("relaycheck_literal_rich", None)
    assert _texts(again) == _texts(generated)


def test_generation_ignores_and_leaves_nothing_in_the_working_directory(tmp_path) -> None:
    """Hypothesis caches under ./.hypothesis by default, and schemathesis reads a schemathesis.toml it finds in
    the working directory (or above): a generation in a fresh process, in a folder whose schemathesis.toml
    overrides the operation's generation settings, draws the cases it draws anywhere and writes nothing there."""
    toml = tmp_path / "schemathesis.toml"
    toml.write_text('[[operations]]\ninclude-operation-id = "createCompletion"\ngeneration.codec = "ascii"\n'
                    "generation.allow-x00 = true\n", encoding="utf-8")
    code = ("import json; from relaycheck.property.generate import generate_cases; "
            "g = generate_cases(7, 4, 4, 'gpt-3.5-turbo-instruct'); "
            "print(json.dumps([c.text for c in g.examples + g.positive + g.negative]))")
    drawn = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=120, capture_output=True,
                           text=True).stdout
    here = generate_cases(7, 4, 4, MODEL)
    assert json.loads(drawn) == _texts(here)
    assert list(tmp_path.iterdir()) == [toml]


def test_another_seed_other_cases(generated) -> None:
    other = generate_cases(SEED + 1, 15, 15, MODEL)
    assert [c.text for c in other.positive + other.negative] != [c.text for c in generated.positive + generated.negative]


def test_counts_are_bounded(generated) -> None:
    assert len(generated.positive) == 15
    assert len(generated.negative) == 15
    assert split(10) == (5, 5) and split(7) == (4, 3)
    small = generate_cases(SEED, 2, 1, MODEL, examples=False)
    assert (len(small.positive), len(small.negative), len(small.examples)) == (2, 1, 0)


def _assert_cheap(body: dict) -> None:
    assert body["model"] == MODEL
    # never 0: a length-0 completion is judged by its own probe (params.max-tokens-zero), not as a generated case
    assert isinstance(body["max_tokens"], int) and 1 <= body["max_tokens"] <= 4
    for name in ("n", "best_of"):
        if body.get(name) is not None:
            assert body[name] <= 2
    if body.get("best_of") is not None:
        assert body["best_of"] >= (body.get("n") or 1)
    prompt = body["prompt"]
    if isinstance(prompt, str):
        assert len(prompt) <= 40
    elif isinstance(prompt, list):
        assert 1 <= len(prompt) <= 8
        for item in prompt:
            if isinstance(item, str):
                assert len(item) <= 40 and len(prompt) <= 2
            elif isinstance(item, list):
                assert len(item) <= 8 and len(prompt) <= 2 and all(0 <= t < 256 for t in item)
            else:
                assert 0 <= item < 256
    assert worst_case_tokens(body) <= 16
    json.dumps(body, ensure_ascii=False).encode("utf-8")  # sendable: no lone surrogates


def test_positive_cases_are_valid_and_cheap(generated) -> None:
    validator = _request_validator()
    for case in generated.positive + generated.examples:
        assert isinstance(case.body, dict)
        assert validator.is_valid(case.body), case.text
        _assert_cheap(case.body)


def test_positive_cases_mix_streamed_and_not(generated) -> None:
    streamed = [c for c in generated.positive if c.body.get("stream") is True]
    assert 0 < len(streamed) < len(generated.positive)
    for case in streamed:
        assert case.body.get("best_of") in (None, case.body.get("n") or 1)  # best_of > n cannot be streamed


def test_negative_cases_are_invalid_and_affordable(generated) -> None:
    validator = _request_validator()
    for case in generated.negative:
        if isinstance(case.body, str):
            try:
                parsed = json.loads(case.body)
            except ValueError:
                continue  # not JSON at all: a malformed body
            assert not validator.is_valid(parsed)
        else:
            assert not validator.is_valid(case.body), case.text
            assert case.worst_case_tokens <= NEGATIVE_COST_CAP
        assert case.why


def test_document_examples_come_from_the_document(generated) -> None:
    texts = [c.body for c in generated.examples]
    assert {"model": MODEL, "prompt": "Say this is a test", "max_tokens": 4, "temperature": 0} in texts
    assert any(b.get("stream") is True and b.get("stream_options") == {"include_usage": True} for b in texts)


def test_clamp_positive_examples() -> None:
    validator = _request_validator()
    body = {"model": "x", "prompt": ["a" * 100, "b", "c"], "n": 5, "best_of": 0, "max_tokens": 9000.0,
            "logit_bias": {"": 5, "zz": -3, "q": 1}, "seed": 2**70, "stream_options": {"include_usage": True}}
    out = clamp_positive(body, MODEL, validator)
    assert out == {"model": MODEL, "prompt": ["a" * 40, "b"], "n": 2, "best_of": 2, "max_tokens": 4,
                   "logit_bias": {"32": 5, "129": -3}, "seed": 2**63 - 1}
    streamed = clamp_positive({"model": "x", "prompt": [[-1, 300, 5] * 5], "stream": True, "best_of": 2, "n": 1,
                               "max_tokens": None}, MODEL, validator)
    assert streamed == {"model": MODEL, "prompt": [[255, 44, 5, 255, 44, 5, 255, 44]], "stream": True,
                        "best_of": 1, "n": 1, "max_tokens": 4}
    assert clamp_positive({"model": "x", "prompt": "\ud800 ok"}, MODEL, validator)["prompt"] == "\ufffd ok"
    assert clamp_positive({"model": "x", "prompt": "x", "max_tokens": 0}, MODEL, validator)["max_tokens"] == 1


def test_clamp_negative_keeps_the_violation() -> None:
    validator = _request_validator()
    # n out of range is the violation: clamping it to 2 would make the body valid, so it stays.
    assert clamp_negative({"model": "", "prompt": "hi", "n": 500}, MODEL, validator) == {
        "model": MODEL, "prompt": "hi", "n": 500, "max_tokens": 4}
    # model of the wrong type is the violation: every other clamp applies.
    out = clamp_negative({"model": 1, "prompt": "x" * 99, "max_tokens": 99}, MODEL, validator)
    assert out == {"model": 1, "prompt": "x" * 40, "max_tokens": 4}
