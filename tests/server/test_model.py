"""The tokenizer and the trigram model, without HTTP."""

from __future__ import annotations

import math
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relaycheck.server.model import NGramModel, Sampling, default_model
from relaycheck.server.tokenizer import END_OF_TEXT, Tokenizer, corpus_tokenizer, default_tokenizer, gpt2_byte_order


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return default_tokenizer()


@pytest.fixture(scope="module")
def model() -> NGramModel:
    return default_model()


def greedy(
    model: NGramModel, prompt: str, count: int, sampling: Sampling | None = None, seed: int = 0
) -> list[int]:
    context = model.tokenizer.encode(prompt)
    out: list[int] = []
    rng = random.Random(seed)
    for _ in range(count):
        token = model.step(context, sampling or Sampling(temperature=0), rng, {}).token
        if token == model.tokenizer.eot_id:
            break
        out.append(token)
        context.append(token)
    return out


def test_byte_ids_follow_gpt2(tok: Tokenizer) -> None:
    assert tok.decode([0]) == "!" and tok.decode([13]) == "." and tok.decode([32]) == "A"
    order = gpt2_byte_order()
    assert sorted(order) == list(range(256))
    assert all(tok.token_bytes(i) == bytes([order[i]]) for i in range(256))
    assert tok.decode([tok.eot_id]) == END_OF_TEXT and tok.eot_id == 100257 == tok.max_id
    # cl100k: 100256 ordinary tokens, then end-of-text (100256 itself is unused); GPT-2 ids are valid too.
    assert tok.vocab_size == 100257 == len(tok.ids()) and not tok.is_valid(100256) and not tok.is_valid(100258)
    assert all(tok.is_valid(t) for t in [1212, 318, 257, 1332, 13])


def test_the_default_tokenizer_is_the_claimed_models() -> None:
    # tiktoken's own test vectors for cl100k_base (tests/test_encoding.py)
    tok = default_tokenizer()
    assert tok.encode("hello world") == [15339, 1917]
    assert tok.encode("today\n \n") == [31213, 27907]
    assert tok.encode(" \x850") == [220, 126, 227, 15]
    assert tok.encode("👍") == [9468, 239, 235]


def test_the_corpus_tokenizer_is_another_vocabulary() -> None:
    other = corpus_tokenizer()
    assert [other.decode([i]) for i in other.encode("1, 2, 3,")] == ["1", ",", " 2", ",", " 3", ","]
    assert other.encode("hello world") != default_tokenizer().encode("hello world")
    assert all(other.token_bytes(i) == default_tokenizer().token_bytes(i) for i in range(256))


def test_word_tokens_and_greedy_longest_match(tok: Tokenizer) -> None:
    ids = tok.encode("1, 2, 3, 4,")
    assert [tok.decode([i]) for i in ids] == ["1", ",", " ", "2", ",", " ", "3", ",", " ", "4", ","]
    assert [tok.decode([i]) for i in tok.encode(" the test")] == [" the", " test"]
    assert tok.encode("") == []


@given(st.text())
def test_round_trip_any_string(text: str) -> None:
    tok = default_tokenizer()
    assert tok.decode(tok.encode(text)) == text


@given(st.lists(st.integers(min_value=0, max_value=default_tokenizer().vocab_size - 1), max_size=30))
def test_text_pieces_join_to_the_decoded_text(indexes: list[int]) -> None:
    tok = default_tokenizer()
    ids = [tok.ids()[i] for i in indexes]
    pieces = tok.piece_decoder()
    text = "".join(pieces.feed(t) for t in ids) + pieces.flush()
    assert text == b"".join(tok.token_bytes(t) for t in ids).decode("utf-8", "replace")


def test_partial_utf8_labels(tok: Tokenizer) -> None:
    ids = tok.encode("👍")
    assert len(ids) == 3
    assert tok.token_label(ids[0]) == "bytes:\\xf0\\x9f"
    pieces = tok.piece_decoder()
    assert [pieces.feed(t) for t in ids] == ["", "", "👍"]


def test_counting_continues_greedily(model: NGramModel) -> None:
    out = greedy(model, "1, 2, 3, 4,", 80)
    assert len(out) == 80  # no end-of-text
    expected = "".join(f" {i}," for i in range(5, 31)) + " 31"
    assert model.tokenizer.decode(out) == expected
    assert [model.tokenizer.decode([t]) for t in out[:4]] == [" ", "5", ",", " "]


def test_say_this_is_a_test_continues_in_english(model: NGramModel) -> None:
    text = model.tokenizer.decode(greedy(model, "Say this is a test", 20))
    assert text.startswith(".") and " This is a test" in text
    assert text.isascii()


def test_generation_is_fast(model: NGramModel) -> None:
    start = time.perf_counter()
    count = 0
    for seed in range(10):
        count += len(greedy(model, "Once upon a time", 100, Sampling(temperature=1.0, top_p=0.9), seed))
    per_token = (time.perf_counter() - start) / max(count, 1)
    assert per_token < 0.001, f"{per_token * 1e6:.0f} µs per token"


def test_logprobs_are_a_normalised_distribution(model: NGramModel) -> None:
    context = model.tokenizer.encode("Say this is a test")
    sampling = Sampling(temperature=0.7, logit_bias={13: 3.0, 500: -5.0}, presence_penalty=0.5)
    counts = {13: 2}
    rng = random.Random(0)
    total = sum(
        math.exp(model.step(context, sampling, rng, counts, force=t).logprob) for t in model.tokenizer.ids()
    )
    assert total == pytest.approx(1.0, rel=1e-9)


def test_top_alternatives_are_the_most_likely(model: NGramModel) -> None:
    step = model.step(model.tokenizer.encode("1, 2, 3, 4,"), Sampling(temperature=0), random.Random(0), {}, 5)
    assert len(step.top) == 5
    assert step.top[0] == (step.token, step.logprob)
    assert [lp for _, lp in step.top] == sorted((lp for _, lp in step.top), reverse=True)


def test_logit_bias_forces_and_bans(model: NGramModel) -> None:
    forced = greedy(model, "Say this is a test", 10, Sampling(temperature=1.0, logit_bias={13: 100}), seed=3)
    assert forced == [13] * 10
    banned = greedy(
        model, "1, 2, 3, 4,", 1, Sampling(temperature=0, logit_bias={model.tokenizer.encode(" 5")[0]: -100})
    )
    assert model.tokenizer.decode(banned) != " 5"


def test_frequency_penalty_follows_openai_formula(model: NGramModel) -> None:
    context = model.tokenizer.encode("1, 2, 3, 4,")
    five = model.tokenizer.encode(" 5")[0]
    rng = random.Random(0)
    base = model.step(context, Sampling(temperature=1.0), rng, {}, force=five).logprob
    penalised = model.step(
        context,
        Sampling(temperature=1.0, frequency_penalty=0.5, presence_penalty=0.25),
        rng,
        {five: 2},
        force=five,
    ).logprob
    # The score drops by 2 * 0.5 + 0.25; the normaliser moves too, so the logprob drops by at most that.
    assert base - 1.25 <= penalised < base


def test_seed_determinism_and_top_p(model: NGramModel) -> None:
    hot = Sampling(temperature=1.5)
    assert greedy(model, "Once upon a time", 30, hot, seed=7) == greedy(
        model, "Once upon a time", 30, hot, seed=7
    )
    runs = {tuple(greedy(model, "Once upon a time", 30, hot, seed=s)) for s in range(5)}
    assert len(runs) > 1
    # top_p 0 keeps only the most likely token: sampling becomes greedy.
    nucleus = Sampling(temperature=1.5, top_p=0.0)
    assert greedy(model, "1, 2, 3, 4,", 20, nucleus, seed=1) == greedy(model, "1, 2, 3, 4,", 20)


def test_banning_every_candidate_leaves_the_floor_tokens(model: NGramModel) -> None:
    context = model.tokenizer.encode("1, 2, 3, 4,")
    banned = {t: -100.0 for t in model.candidates(context).tokens}
    step = model.step(context, Sampling(temperature=0, logit_bias=banned), random.Random(0), {}, 3)
    assert step.token not in banned
    assert [t for t, _ in step.top] == [t for t in model.tokenizer.ids() if t not in banned][:3]
    assert len({lp for _, lp in step.top}) == 1 and step.logprob == step.top[0][1]
