"""The openai Python SDK parses every kind of answer the conformant server gives."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest
from openai import OpenAI

from relaycheck.server.config import default_chat_models

from .conftest import API_KEY, COUNTING, MODEL, Api


@pytest.fixture(scope="module")
def sdk(api: Api) -> OpenAI:
    return OpenAI(base_url=api.server.base_url, api_key=API_KEY, max_retries=0)


def test_non_stream(sdk: OpenAI) -> None:
    completion = sdk.completions.create(model=MODEL, prompt=COUNTING, max_tokens=6, temperature=0)
    assert completion.object == "text_completion"
    assert completion.choices[0].text == " 5, 6,"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.total_tokens == 17
    assert completion.system_fingerprint == "fp_relaycheck"


def test_stream(sdk: OpenAI) -> None:
    chunks = list(
        sdk.completions.create(model=MODEL, prompt=COUNTING, max_tokens=6, temperature=0, stream=True)
    )
    assert "".join(c.choices[0].text for c in chunks) == " 5, 6,"
    assert [c.choices[0].finish_reason for c in chunks][-1] == "length"
    assert all(c.usage is None for c in chunks)


def test_stream_with_usage(sdk: OpenAI) -> None:
    chunks = list(
        sdk.completions.create(
            model=MODEL,
            prompt=COUNTING,
            max_tokens=6,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert "".join(c.choices[0].text for c in chunks[:-1]) == " 5, 6,"


def test_logprobs_and_echo(sdk: OpenAI) -> None:
    completion = sdk.completions.create(
        model=MODEL, prompt="Say this is a test", max_tokens=3, temperature=0, logprobs=2, echo=True
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens is not None and logprobs.token_logprobs is not None
    assert "".join(logprobs.tokens) == completion.choices[0].text
    assert logprobs.token_logprobs[0] is None and logprobs.top_logprobs is not None
    assert logprobs.text_offset is not None and logprobs.text_offset[0] == 0


def test_streamed_logprobs(sdk: OpenAI) -> None:
    chunks = list(
        sdk.completions.create(
            model=MODEL, prompt=COUNTING, max_tokens=4, temperature=0, logprobs=1, stream=True
        )
    )
    tokens = [t for c in chunks for t in (c.choices[0].logprobs.tokens or [])]  # type: ignore[union-attr]
    assert tokens == [" ", "5", ",", " "]


def test_n_and_prompt_list(sdk: OpenAI) -> None:
    completion = sdk.completions.create(
        model=MODEL, prompt=[COUNTING, "Say this is a test"], n=2, max_tokens=2, temperature=0
    )
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    streamed = list(sdk.completions.create(model=MODEL, prompt=COUNTING, n=3, max_tokens=2, stream=True))
    assert {c.choices[0].index for c in streamed} == {0, 1, 2}


def test_token_prompts_seed_and_bias(sdk: OpenAI) -> None:
    completion = sdk.completions.create(
        model=MODEL,
        prompt=[[16, 11]],
        max_tokens=3,
        seed=1,
        logit_bias={"13": 100},
        best_of=2,
        n=1,
        suffix="!",
        user="u1",
    )
    assert completion.choices[0].text == "..."


@pytest.mark.parametrize(
    ("kwargs", "exception"),
    [
        ({"model": "nope"}, openai.NotFoundError),
        ({"temperature": 5}, openai.BadRequestError),
        ({"n": 2, "best_of": 1}, openai.BadRequestError),
        ({"max_tokens": 5000}, openai.BadRequestError),
        ({"extra_body": {"foo": 1}}, openai.BadRequestError),
    ],
)
def test_errors_raise_the_right_exception(sdk: OpenAI, kwargs: dict, exception: type[Exception]) -> None:
    arguments = {"model": MODEL, "prompt": "x", "max_tokens": 1, **kwargs}
    with pytest.raises(exception) as info:
        sdk.completions.create(**arguments)
    assert isinstance(info.value, openai.APIStatusError) and info.value.body is not None


def test_authentication_error(api: Api) -> None:
    wrong = OpenAI(base_url=api.server.base_url, api_key="sk-not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.completions.create(model=MODEL, prompt="x")
    assert info.value.code == "invalid_api_key"


def test_rate_limit_error(api_for: Callable[..., Api]) -> None:
    limited = OpenAI(base_url=api_for(rate_limit=1.0).server.base_url, api_key=API_KEY, max_retries=0)
    limited.completions.create(model=MODEL, prompt="x", max_tokens=1)
    with pytest.raises(openai.RateLimitError) as info:
        limited.completions.create(model=MODEL, prompt="x", max_tokens=1)
    assert info.value.code == "rate_limit_exceeded"
    assert int(info.value.response.headers["retry-after"]) >= 1


def test_models_list(sdk: OpenAI) -> None:
    listed = [m.id for m in sdk.models.list()]
    assert listed == ["gpt-3.5-turbo-instruct", "davinci-002", "babbage-002", *default_chat_models()]
