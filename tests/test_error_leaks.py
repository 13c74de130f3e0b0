"""errors.no-internals: what counts as a server's internals in an error message, and what does not."""

from __future__ import annotations

import pytest

from relaycheck.checks.errors import LEAKS

LEAKING = [
    ('boom\nTraceback (most recent call last):\n  File "/app/main.py", line 3, in <module>', "a Python traceback"),
    ('File "/usr/lib/python3.11/json/decoder.py", line 355, in raw_decode', "a Python stack frame"),
    ("at com.relay.api.Handler.complete(Handler.java:88)", "a Java stack frame"),
    ("panic: runtime error: index out of range\ngoroutine 17 [running]:", "a Go panic"),
    ("json: cannot unmarshal number into Go struct field GeneralOpenAIRequest.logprobs of type bool", "a Go type"),
    ("failed at /srv/relay/handlers/completions.go:120", "a source path"),
    ("AssertionError", "an exception name"),
    ("KeyError: 'choices'", "an exception name"),
    ("java.lang.NullPointerException (see logs)", "an exception name"),
]

CLEAN = [
    "Incorrect API key provided: sk-abc***1234. You can find your API key at https://platform.openai.com/account/api-keys.",
    "The model `gpt-nope` does not exist or you do not have access to it.",
    "This model's maximum context length is 4097 tokens, however you requested 4200 tokens.",
    "2.5 is greater than the maximum of 2 - 'temperature'",
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly.)",
    "Rate limit reached for requests: limit 3 requests per second. Please try again in 1s.",
    "invalid_request_error",
]


@pytest.mark.parametrize(("message", "what"), LEAKING)
def test_leaks_are_named(message: str, what: str) -> None:
    assert [w for w, pattern in LEAKS if pattern.search(message)][0] == what


@pytest.mark.parametrize("message", CLEAN)
def test_ordinary_messages_are_clean(message: str) -> None:
    assert not [w for w, pattern in LEAKS if pattern.search(message)]
