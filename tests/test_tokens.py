"""relaycheck.tokens: exact cl100k counts, offline, checked against tiktoken's own test vectors."""

from __future__ import annotations

import pytest

from relaycheck import tokens
from relaycheck.tokens.encoding import bytes_of_label

# tiktoken's tests/test_encoding.py (test_simple, test_simple_regex, test_basic_encode, test_encode_surrogate_pairs)
CL100K_VECTORS = {
    "hello world": [15339, 1917],
    "rer": [38149],
    "'rer": [2351, 81],
    "today\n ": [31213, 198, 220],
    "today\n \n": [31213, 27907],
    "today\n  \n": [31213, 14211],
    " \x850": [220, 126, 227, 15],
    "👍": [9468, 239, 235],
    "\ud83d\udc4d": [9468, 239, 235],
}


@pytest.fixture(scope="module")
def cl100k() -> tokens.Encoding:
    return tokens.get_encoding("cl100k_base")


@pytest.mark.parametrize(("text", "ids"), CL100K_VECTORS.items())
def test_tiktoken_vectors(cl100k: tokens.Encoding, text: str, ids: list[int]) -> None:
    assert cl100k.encode(text) == ids
    assert cl100k.decode(ids) == text.encode("utf-16", "surrogatepass").decode("utf-16")


def test_special_tokens_and_membership(cl100k: tokens.Encoding) -> None:
    assert cl100k.eot_token == 100257 and cl100k.n_ordinary == 100256
    assert cl100k.encode("<|endoftext|>") != [100257]  # text, not the special token
    assert cl100k.token_id(b"<|endoftext|>") == 100257
    assert cl100k.token_id(b" hello") == 24748 and cl100k.token_id(b" hello world") is None
    assert cl100k.is_token(100255) and not cl100k.is_token(100256) and cl100k.is_token(100276)
    assert cl100k.encode("\ud83d") == cl100k.encode("\ufffd")  # a lone surrogate, as tiktoken does


def test_labels_round_trip(cl100k: tokens.Encoding) -> None:
    first = cl100k.encode("👍")[0]
    assert cl100k.label(first) == "bytes:\\xf0\\x9f"
    assert bytes_of_label(cl100k.label(first)) == cl100k.token_bytes(first)
    assert bytes_of_label(" hello") == b" hello" and bytes_of_label("bytes:") == b"bytes:"


def test_prompt_forms(cl100k: tokens.Encoding) -> None:
    count = tokens.prompt_token_counts
    assert count(cl100k, "1, 2, 3, 4,") == [11]
    assert count(cl100k, ["hello world", "Say this is a test"]) == [2, 5]
    assert count(cl100k, [33, 68, 75]) == [3]
    assert count(cl100k, [[33, 68], [13]]) == [2, 1]
    assert count(cl100k, None) == [1]
    assert count(cl100k, []) is None and count(cl100k, [1, "a"]) is None and count(cl100k, [True]) is None


def test_model_names() -> None:
    for model in ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002", "gpt-3.5-turbo-instruct-0914"):
        assert tokens.encoding_for_model(model) == "cl100k_base"
    assert tokens.encoding_for_model("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_for_model("llama-3-8b") is None


def test_unknown_or_missing_encodings_say_why() -> None:
    with pytest.raises(tokens.TokenizerUnavailable, match="unknown tokenizer"):
        tokens.get_encoding("p50k_base")
    try:
        tokens.get_encoding("o200k_base")
    except tokens.TokenizerUnavailable as e:  # bpe-openai (optional) not installed
        assert "bpe_openai" in str(e)
    else:
        assert tokens.get_encoding("o200k_base").encode("hello world") == [24912, 2375]
