"""The probes: every request the hand-written suite sends, declared once (what a probe is: ``probes/model.py``).

These are Completions' (``POST /v1/completions``); chat's are in ``probes/chat.py``, and :data:`PROBES` holds
both. Each is sent at most once per provider, and every check that needs its answer reads the same recording.
Probes are cheap on purpose (temperature 0, a few tokens): Completions' stay under 80 requests and 1,500
completion tokens per provider. Every parameter
whose effect is checked has a streamed twin (`streamed`): the same body with ``stream: true``, judged by the same
semantic check (see ``relaycheck.checks.modes``).

Token-id prompts use ids below 256: in every byte-level BPE of the GPT family (GPT-2, p50k, cl100k) and in
llama.cpp's ``gpt2`` vocabularies those are the 256 single bytes in GPT-2's byte order, so the same ids mean the
same text everywhere (39, 68, 75, 75, 78 is "Hello"; 13 is ".").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relaycheck.endpoint import Endpoint
from relaycheck.probes.chat import CHAT_PROBES
from relaycheck.probes.model import (
    Body,
    PreconditionFailed,
    Probe,
    ProbeContext,
    answer_text,
    pick_stop,
    streamed,
)

__all__ = ["COMPLETIONS_PROBES", "PROBES", "PreconditionFailed", "Probe", "ProbeContext", "pick_stop", "probes_by_id",
           "probes_of", "streamed"]

COUNTING = "1, 2, 3, 4,"
TEST_PROMPT = "Say this is a test"
HELLO_TOKENS = [39, 68, 75, 75, 78]  # "Hello" in GPT-2 byte order
DOT_TOKEN = "13"  # "." in GPT-2 byte order
UNKNOWN_MODEL = "relaycheck-no-such-model-0"
NEVER = "\u00a7\u00a7never\u00a7\u00a7"  # a stop sequence no completion contains
UNKNOWN_PARAM = "relaycheck_no_such_parameter"  # no API has it: a relay that drops it drops real ones too


# -- dependent probes ------------------------------------------------------------------------------------------


def greedy_text(ctx: ProbeContext) -> str:
    return answer_text(ctx, "greedy")


def _greedy(ctx: ProbeContext, **extra: Any) -> dict[str, Any]:
    return {"model": ctx.model, "prompt": COUNTING, "max_tokens": 8, "temperature": 0, **extra}


def _stop_string(ctx: ProbeContext) -> dict[str, Any]:
    return _greedy(ctx, stop=pick_stop(greedy_text(ctx))[0])


def _stop_list(ctx: ProbeContext) -> dict[str, Any]:
    return _greedy(ctx, stop=[NEVER, pick_stop(greedy_text(ctx))[0]])


def _stop_fifth(ctx: ProbeContext) -> dict[str, Any]:
    """Five stop sequences, the fifth the one that ends the greedy text: over OpenAI's four (refused there), so a
    provider that accepts the list shows whether it honours all of it or cuts it to four silently."""
    never = [f"{NEVER}{i}" for i in range(1, 5)]
    return _greedy(ctx, stop=[*never, pick_stop(greedy_text(ctx))[0]])


UNIT = "Say this is a test.\n"  # ends in a newline, so copies tokenise alike at their boundaries
OVERFLOW_MAX_TOKENS = 16


def _without(body: Body, name: str) -> dict[str, Any]:
    assert isinstance(body, dict)
    return {k: v for k, v in body.items() if k != name}


def _repeated(ctx: ProbeContext, unit: str | list[int], copies: int) -> dict[str, Any]:
    return {"model": ctx.model, "prompt": unit * copies, "max_tokens": 1, "temperature": 0}


def _penalty(ctx: ProbeContext, **penalty: Any) -> dict[str, Any]:
    # 16 greedy tokens after the official example prompt tend to loop ("This is a test. This is a test."): a
    # repeated token is what the penalties act on.
    return {"model": ctx.model, "prompt": TEST_PROMPT, "max_tokens": 16, "temperature": 0, **penalty}


def _overflow(ctx: ProbeContext) -> dict[str, Any]:
    """A prompt of exactly one context of "." token ids, plus max_tokens: over the window by max_tokens.

    Costs about one context of prompt tokens, so it is sent only where the provider states its context length.
    """
    if ctx.context_length is None:
        raise PreconditionFailed("the provider states no context_length (providers.yaml)")
    return {"model": ctx.model, "prompt": [int(DOT_TOKEN)] * ctx.context_length, "max_tokens": OVERFLOW_MAX_TOKENS,
            "temperature": 0}


def _error(**fields: Any) -> Callable[[ProbeContext], dict[str, Any]]:
    def build(ctx: ProbeContext) -> dict[str, Any]:
        body = {"model": ctx.model, "prompt": TEST_PROMPT, "max_tokens": 1, **fields}
        return {k: v for k, v in body.items() if v is not _ABSENT}

    return build


_ABSENT = object()

FINGERPRINT_PROMPTS = (
    "Once upon a time", "The weather today", "Hello", "Every good test should be",
    "The people of the village", "She walked for a long", "The quick brown fox", "In the evening they",
)


CROSS_PROMPTS = 3


def _fingerprint(prompt: str) -> Callable[[ProbeContext], dict[str, Any]]:
    return lambda c: {"model": c.model, "prompt": prompt, "max_tokens": 3, "temperature": 0, "logprobs": 5}


def _cross(prompt: str) -> Callable[[ProbeContext], dict[str, Any]]:
    def build(c: ProbeContext) -> dict[str, Any]:
        if not c.cheaper_model:
            raise PreconditionFailed("no cheaper model named for this provider (providers.yaml cheaper_models)")
        return {**_fingerprint(prompt)(c), "model": c.cheaper_model}

    return build


# Probes that have a streamed twin (see `streamed`): the twins read the same body, with stream: true.
GREEDY = Probe("greedy", "a short temperature-0 continuation other probes compare against", _greedy)
STOP_STRING = Probe("stop-string", "stop as a string taken from the greedy text", _stop_string,
                    depends_on=("greedy",))
STOP_LIST = Probe("stop-list", "stop as a list", _stop_list, depends_on=("greedy",))
# n > 1 at temperature 1: n copies of a greedy completion are pointless, and servers refuse that combination
# (vLLM: "n must be 1 when using greedy sampling"), which would fail n for a reason that is not n.
N = Probe("n", "n=2", lambda c: {
    "model": c.model, "prompt": COUNTING, "max_tokens": 3, "temperature": 1, "n": 2}, optional=("n",))
ECHO = Probe("echo", "echo=true", lambda c: {
    "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 1, "temperature": 0, "echo": True}, optional=("echo",))
LOGPROBS = Probe("logprobs", "logprobs=2", lambda c: _greedy(c, max_tokens=4, logprobs=2))
PROMPT_LIST = Probe("prompt-list", "prompt as an array of strings", lambda c: {
    "model": c.model, "prompt": [COUNTING, TEST_PROMPT], "max_tokens": 2, "temperature": 0})
SUFFIX = Probe("suffix", "suffix", lambda c: {
    "model": c.model, "prompt": "def add(a, b):", "suffix": "\n    return c", "max_tokens": 4, "temperature": 0},
    optional=("suffix",))

COMPLETIONS_PROBES: tuple[Probe, ...] = (
    # Response shape and defaults
    Probe("basic", "the official example request", lambda c: {
        "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 7, "temperature": 0}),
    Probe("defaults", "no max_tokens, n, echo, logprobs or stream: the defaults apply", lambda c: {
        "model": c.model, "prompt": COUNTING, "temperature": 0}),
    GREEDY,
    # Parameters honoured
    STOP_STRING,
    STOP_LIST,
    Probe("stop-fifth", "five stop sequences, the fifth the one that ends the text", _stop_fifth,
          depends_on=("greedy",)),
    N,
    # Counting rarely ends at once, so the unreturned candidate has tokens to bill; the seed makes it repeatable.
    # logprobs too (OpenAI serves them with best_of): the returned choice must carry its own.
    Probe("best-of", "best_of=2 with n=1 and logprobs=1", lambda c: {
        "model": c.model, "prompt": COUNTING, "max_tokens": 3, "temperature": 1, "best_of": 2, "n": 1, "seed": 4242,
        "logprobs": 1}, optional=("best_of",)),
    ECHO,
    LOGPROBS,
    Probe("logprobs-zero", "logprobs=0", lambda c: _greedy(c, max_tokens=2, logprobs=0)),
    Probe("echo-logprobs", "echo with logprobs", lambda c: {
        "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 1},
        optional=("echo", "logprobs")),
    PROMPT_LIST,
    Probe("prompt-tokens", "prompt as an array of token ids", lambda c: {
        "model": c.model, "prompt": HELLO_TOKENS, "max_tokens": 2, "temperature": 0}),
    Probe("prompt-token-lists", "prompt as an array of token-id arrays", lambda c: {
        "model": c.model, "prompt": [HELLO_TOKENS, [13]], "max_tokens": 2, "temperature": 0}),
    Probe("float-sampling", "temperature 0.7 and top_p 0.9 (numbers, not integers)", lambda c: {
        "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 2, "temperature": 0.7, "top_p": 0.9}),
    # 16 tokens at temperature 1: two unseeded samples practically never coincide, so ignoring the seed shows.
    Probe("seed-a", "seed with temperature 1", lambda c: {
        "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 16, "temperature": 1, "seed": 4242},
        optional=("seed",)),
    Probe("seed-b", "the same request again", lambda c: {
        "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 16, "temperature": 1, "seed": 4242},
        optional=("seed",)),
    Probe("logit-bias", "logit_bias +100 on the '.' token", lambda c: _greedy(c, logit_bias={DOT_TOKEN: 100}),
          optional=("logit_bias",)),
    SUFFIX,
    Probe("explicit-defaults", "every optional field at its documented default", lambda c: {
        "model": c.model, "prompt": TEST_PROMPT, "max_tokens": 2, "temperature": 0, "best_of": 1, "suffix": None,
        "echo": False, "logprobs": None, "n": 1, "stream": False, "stop": None, "logit_bias": None,
        "presence_penalty": 0, "frequency_penalty": 0, "top_p": 1, "user": "relaycheck"}),
    Probe("empty-prompt", "prompt as the empty string", lambda c: {
        "model": c.model, "prompt": "", "max_tokens": 2, "temperature": 0}),
    # Streaming
    streamed(GREEDY, "the greedy request, streamed", "stream"),
    # The greedy request again, so its usage chunk can be compared with the non-streamed usage.
    streamed(GREEDY, "the greedy request, streamed with include_usage", "stream-usage",
             stream_options={"include_usage": True}),
    Probe("stream-usage-off", "streamed, include_usage false", lambda c: _greedy(
        c, max_tokens=3, stream=True, stream_options={"include_usage": False})),
    # Streamed twins: every parameter whose effect is checked above is checked on a stream too
    streamed(STOP_STRING),
    streamed(STOP_LIST),
    streamed(N),
    streamed(ECHO),
    streamed(LOGPROBS),
    streamed(PROMPT_LIST),
    streamed(SUFFIX),
    # Errors and authentication
    Probe("error-no-key", "no Authorization header", _error(), auth="missing"),
    Probe("error-wrong-key", "a wrong key", _error(), auth="wrong"),
    Probe("error-unknown-model", "a model that does not exist", lambda c: _error()(c) | {"model": UNKNOWN_MODEL}),
    Probe("error-temperature", "temperature 2.5 (max 2)", _error(temperature=2.5)),
    Probe("error-top-p", "top_p 1.5 (max 1)", _error(top_p=1.5)),
    Probe("error-n", "n 0 (min 1)", _error(n=0)),
    Probe("error-logprobs", "logprobs 6 (max 5)", _error(logprobs=6)),
    Probe("error-stop-count", "5 stop sequences (max 4)", _error(stop=["a", "b", "c", "d", "e"])),
    Probe("error-best-of", "best_of 1 below n 2", _error(n=2, best_of=1)),
    Probe("error-missing-prompt", "no prompt", _error(prompt=_ABSENT)),
    Probe("error-missing-model", "no model", lambda c: {"prompt": TEST_PROMPT, "max_tokens": 1}),
    Probe("error-stream-temperature", "temperature 2.5 (max 2), streamed: refused before any event",
          _error(temperature=2.5, stream=True)),
    Probe("error-malformed-json", "a body that is not JSON", lambda c: '{"model": "' + c.model + '", "prompt": '),
    # -- live (issue 17) --
    Probe("error-unknown-param", "a request parameter that does not exist", _error(**{UNKNOWN_PARAM: 1})),
    # Identity: the model fingerprint's prompts (relaycheck/identity/fingerprint.py), temperature 0 with the top 5
    # logprobs: 8 requests, 24 completion tokens. The tokenizer and completion-token checks read them too.
    *(
        Probe(f"identity-fp-{i}", f"fingerprint prompt {i}: temperature 0, top-5 logprobs", _fingerprint(prompt))
        for i, prompt in enumerate(FINGERPRINT_PROMPTS, 1)
    ),
    # The first three again under the provider's cheaper model: 3 requests, 9 tokens (sent only when one is named).
    *(
        Probe(f"identity-cross-{i}", f"fingerprint prompt {i} under the cheaper model", _cross(prompt))
        for i, prompt in enumerate(FINGERPRINT_PROMPTS[:CROSS_PROMPTS], 1)
    ),
    # Usage truth and parameters' effects (issue 12, part 2). A prompt repeated k times: prompt_tokens must be
    # k times one copy's count (a hidden injected prefix shows as an intercept, a multiplier in the slope).
    Probe("usage-repeat-1", "one copy of a unit prompt", lambda c: _repeated(c, UNIT, 1)),
    Probe("usage-repeat-2", "two copies of the unit prompt", lambda c: _repeated(c, UNIT, 2)),
    Probe("usage-repeat-3", "three copies of the unit prompt", lambda c: _repeated(c, UNIT, 3)),
    Probe("usage-tokens-x3", "the token-id prompt three times (15 ids)", lambda c: _repeated(c, HELLO_TOKENS, 3)),
    Probe("penalty-base", "a temperature-0 continuation that repeats itself", _penalty),
    Probe("penalty-frequency", "the same with frequency_penalty 2", lambda c: _penalty(c, frequency_penalty=2)),
    Probe("penalty-presence", "the same with presence_penalty 2", lambda c: _penalty(c, presence_penalty=2)),
    Probe("suffix-none", "the suffix request without its suffix", lambda c: _without(SUFFIX.build(c), "suffix")),
    Probe("context-overflow", "one context of prompt tokens plus max_tokens 16: over the window", _overflow),
    # The served model, cross-checked: the provider's own model list (GET /v1/models, no tokens) names it.
    Probe("models", "GET /v1/models: the model list", lambda c: "", method="GET", path="models"),
)


PROBES: tuple[Probe, ...] = (*COMPLETIONS_PROBES, *CHAT_PROBES)  # every endpoint's


def probes_by_id() -> dict[str, Probe]:
    return {p.id: p for p in PROBES}


def probes_of(endpoint: Endpoint) -> tuple[Probe, ...]:
    return tuple(p for p in PROBES if p.endpoint is endpoint)
