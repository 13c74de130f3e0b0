"""Parameters honoured, not merely accepted: each probe changes one field and these checks look for its effect."""

from __future__ import annotations

from typing import Any

from relaycheck.checks.model import Fail, Level, Outcome, Pass, Recorded, Skip, check, expect
from relaycheck.checks.shape import usage_of
from relaycheck.probes.catalogue import TEST_PROMPT, PreconditionFailed, greedy_text, pick_stop

FEATURE = "params"
SPEC = "openai-openapi@f85dbe22 CreateCompletionRequest"


@check(
    "params.max-tokens",
    title="max_tokens limits the completion",
    clause=f'{SPEC}.max_tokens: "The maximum number of tokens that can be generated in the completion"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("greedy", "logprobs"),
    fails_on=("drop-max-tokens", "usage-inflated"),
    deviations=("D02", "D11", "D45"),
)
def max_tokens(r: Recorded) -> Outcome:
    # The tokens actually returned (logprobs lists them) tell an ignored max_tokens from inflated billing.
    tokens = r.returned_tokens("logprobs")
    returned = None if tokens is None else len(tokens)
    if returned is not None and returned > 4:
        return Fail("max_tokens 4 was not honoured", "at most 4 tokens", f"{returned} tokens returned", "logprobs")
    billed = usage_of(r, "greedy").get("completion_tokens")
    if isinstance(billed, int) and billed <= 8:
        return Pass(observed=f"completion_tokens {billed}")
    why = ("the tokens returned fit max_tokens: usage is inflated" if returned is not None
           else "max_tokens 8 was not honoured, or usage is inflated")
    return Fail(why, "completion_tokens <= 8", f"completion_tokens {billed!r}", "greedy")


def _stop_outcome(r: Recorded, probe: str) -> Outcome:
    try:
        baseline = greedy_text(_Ctx(r))
        stop, end = pick_stop(baseline)
    except PreconditionFailed as why:
        raise Skip(str(why)) from None
    choice = r.choices(probe)[0]
    text = choice.get("text")
    if not isinstance(text, str) or stop in text:
        return Fail("the returned text contains the stop sequence", f"text without {stop!r}", repr(text), probe)
    if choice.get("finish_reason") != "stop":
        return Fail("finish_reason is not stop after a stop sequence", '"stop"', repr(choice.get("finish_reason")),
                    probe)
    note = "" if text == baseline[:end] else f" (differs from the greedy prefix {baseline[:end]!r})"
    return Pass(f"stopped before {stop!r}{note}", observed=repr(text))


class _Ctx:
    """Adapter so the probe-building helpers can read recordings from a check."""

    def __init__(self, r: Recorded) -> None:
        self.model = r.model
        self.done = r.exchanges


@check(
    "params.stop-string",
    title="stop as a string ends the text before it, finish_reason stop",
    clause='StopConfiguration: "Up to 4 sequences where the API will stop generating further tokens. The returned '
    'text will not contain the stop sequence."',
    level=Level.MUST,
    feature=FEATURE,
    probes=("greedy", "stop-string"),
    fails_on=("drop-stop", "stop-included"),
    seeds="all three pages type stop as a string only",
    deviations=("D17",),
)
def stop_string(r: Recorded) -> Outcome:
    return _stop_outcome(r, "stop-string")


@check(
    "params.stop-list",
    title="stop as a list ends the text before any of them",
    clause="StopConfiguration: oneOf string / array (minItems 1, maxItems 4)",
    level=Level.MUST,
    feature=FEATURE,
    probes=("greedy", "stop-list"),
    fails_on=("drop-stop", "stop-included"),
    deviations=("D17",),
)
def stop_list(r: Recorded) -> Outcome:
    return _stop_outcome(r, "stop-list")


@check(
    "params.n",
    title="n=2 returns two choices, indexed 0 and 1",
    clause=f'{SPEC}.n: "How many completions to generate for each prompt"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("n",),
    fails_on=("drop-n",),
    deviations=("D06", "D07"),
    refusable=True,
)
def n(r: Recorded) -> Outcome:
    indices = sorted(c.get("index") for c in r.choices("n"))
    return expect(indices == [0, 1], "n was not honoured", "choices with index 0 and 1", f"indices {indices}")


@check(
    "params.best-of",
    title="best_of=2, n=1 returns one choice",
    clause=f'{SPEC}.best_of: "Generates best_of completions server-side and returns the best"; n choices returned',
    level=Level.MUST,
    feature=FEATURE,
    probes=("best-of",),
    fails_on=("best-of-returns-all",),
    seeds="xuedingmao documents best_of",
    deviations=("D02", "D05"),
    refusable=True,
)
def best_of(r: Recorded) -> Outcome:
    count = len(r.choices("best-of"))
    return expect(count == 1, "best_of candidates were returned instead of the best n", "1 choice",
                  f"{count} choices")


@check(
    "params.echo",
    title="echo returns the prompt followed by the completion",
    clause=f'{SPEC}.echo: "Echo back the prompt in addition to the completion"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("echo",),
    fails_on=("drop-echo",),
    seeds="xuedingmao documents echo",
    deviations=("D02", "D03"),
    refusable=True,
)
def echo(r: Recorded) -> Outcome:
    text = r.text("echo")
    return expect(text.startswith(TEST_PROMPT), "echo was not honoured", f"text starting with {TEST_PROMPT!r}",
                  repr(text[:80]))


def _legacy_logprobs(r: Recorded, probe: str) -> tuple[str, dict[str, Any]]:
    choice = r.choices(probe)[0]
    lp = choice.get("logprobs")
    arrays = ("tokens", "token_logprobs", "top_logprobs", "text_offset")
    if not isinstance(lp, dict) or not all(isinstance(lp.get(k), list) for k in arrays):
        raise Fail("logprobs is not the legacy object of four arrays", "{tokens, token_logprobs, top_logprobs, "
                   "text_offset}", repr(lp)[:200], probe)
    return str(choice.get("text")), lp


@check(
    "params.logprobs-shape",
    title="logprobs=2 returns tokens, token_logprobs, top_logprobs and text_offset of equal length",
    clause="CreateCompletionResponse.choices[].logprobs: {text_offset, token_logprobs, tokens, top_logprobs}; "
    "CreateCompletionRequest.logprobs: integer 0..5",
    level=Level.MUST,
    feature=FEATURE,
    probes=("logprobs",),
    fails_on=("chat-logprobs", "logprobs-bool"),
    seeds="gptnb and xuedingmao type logprobs as null; the official type is integer 0-5",
    deviations=("D01", "D22"),
)
def logprobs_shape(r: Recorded) -> Outcome:
    _, lp = _legacy_logprobs(r, "logprobs")
    lengths = {k: len(lp[k]) for k in ("tokens", "token_logprobs", "top_logprobs", "text_offset")}
    ok = len(set(lengths.values())) == 1 and lengths["tokens"] > 0
    return expect(ok, "the logprobs arrays differ in length or are empty", "four arrays of one non-zero length",
                  repr(lengths))


@check(
    "params.logprobs-text",
    title="the logprobs tokens join to the returned text",
    clause="CreateCompletionResponse.choices[].logprobs.tokens: the tokens of the choice text",
    level=Level.MUST,
    feature=FEATURE,
    probes=("logprobs",),
    fails_on=("logprobs-tokens-mismatch",),
    deviations=("D22", "D23"),
)
def logprobs_text(r: Recorded) -> Outcome:
    text, lp = _legacy_logprobs(r, "logprobs")
    joined = "".join(t for t in lp["tokens"] if isinstance(t, str))
    return expect(joined == text, "tokens do not join to the text", repr(text), repr(joined))


@check(
    "params.logprobs-offsets",
    title="text_offset advances by the length of each token",
    clause="CreateCompletionResponse.choices[].logprobs.text_offset: character offset of each token",
    level=Level.MUST,
    feature=FEATURE,
    probes=("logprobs",),
    fails_on=("logprobs-offsets-wrong",),
    deviations=("D23",),
)
def logprobs_offsets(r: Recorded) -> Outcome:
    _, lp = _legacy_logprobs(r, "logprobs")
    tokens, offsets = lp["tokens"], lp["text_offset"]
    # The base may be 0 or the prompt's length (OpenAI counts from the prompt); the steps are what matter.
    steps_ok = all(
        isinstance(a, int) and isinstance(b, int) and b - a == len(str(tok))
        for a, b, tok in zip(offsets, offsets[1:], tokens, strict=False)
    )
    return expect(steps_ok and len(offsets) == len(tokens), "text_offset does not follow the tokens",
                  "offset[i+1] - offset[i] == len(tokens[i])", f"offsets {offsets} for tokens {tokens}")


@check(
    "params.logprobs-top",
    title="top_logprobs holds at most logprobs+1 alternatives, each a log probability",
    clause='CreateCompletionRequest.logprobs: "there may be up to logprobs+1 elements in the response"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("logprobs",),
    fails_on=("logprobs-too-many-top",),
    deviations=("D22",),
)
def logprobs_top(r: Recorded) -> Outcome:
    _, lp = _legacy_logprobs(r, "logprobs")
    for i, entry in enumerate(lp["top_logprobs"]):
        ok = isinstance(entry, dict) and 1 <= len(entry) <= 3 and all(
            isinstance(v, (int, float)) and v <= 1e-6 for v in entry.values())
        if not ok:
            return Fail(f"top_logprobs[{i}] is not 1 to 3 log probabilities", "a map of 1..3 token -> logprob <= 0",
                        repr(entry)[:200], "logprobs")
    return Pass()


@check(
    "params.logprobs-zero",
    title="logprobs=0 still returns the sampled tokens' log probabilities",
    clause='CreateCompletionRequest.logprobs: minimum 0; "The API will always return the logprob of the sampled '
    'token"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("logprobs-zero",),
    fails_on=("logprobs-zero-null",),
    deviations=("D23",),
)
def logprobs_zero(r: Recorded) -> Outcome:
    lp = r.choices("logprobs-zero")[0].get("logprobs")
    ok = isinstance(lp, dict) and isinstance(lp.get("tokens"), list) and len(lp["tokens"]) > 0
    return expect(ok, "logprobs 0 returned no log probabilities", "logprobs.tokens and token_logprobs",
                  repr(lp)[:160])


@check(
    "params.echo-logprobs",
    title="echo with logprobs covers the prompt tokens, the first with a null logprob",
    clause="Legacy OpenAI behaviour (vLLM PR #1504): with echo the first token has no logprob (null)",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("echo-logprobs",),
    fails_on=("echo-logprobs-first-not-null",),
    deviations=("D23",),
    refusable=True,  # gpt-3.5-turbo-instruct itself refuses echo together with logprobs
)
def echo_logprobs(r: Recorded) -> Outcome:
    text, lp = _legacy_logprobs(r, "echo-logprobs")
    if not text.startswith(TEST_PROMPT):
        return Fail("echo was not honoured together with logprobs", f"text starting with {TEST_PROMPT!r}",
                    repr(text[:80]))
    first = lp["token_logprobs"][0] if lp["token_logprobs"] else "missing"
    return expect(first is None, "the first echoed token has a logprob", "token_logprobs[0] = null", repr(first))


def _choice_count(r: Recorded, probe: str, expected: int) -> Outcome:
    indices = sorted(c.get("index") for c in r.choices(probe))
    return expect(indices == list(range(expected)), "one choice per prompt was not returned",
                  f"indices {list(range(expected))}", f"indices {indices}")


@check(
    "params.prompt-list",
    title="prompt as an array of strings gets one choice per prompt",
    clause='CreateCompletionRequest.prompt: "encoded as a string, array of strings, array of tokens, or array of '
    'token arrays"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("prompt-list",),
    fails_on=("prompt-list-first-only",),
    seeds="the pages describe all four forms but type prompt as string",
    deviations=("D08",),
    refusable=True,
)
def prompt_list(r: Recorded) -> Outcome:
    return _choice_count(r, "prompt-list", 2)


@check(
    "params.prompt-tokens",
    title="prompt as an array of token ids is accepted",
    clause="CreateCompletionRequest.prompt: oneOf … integer[] (minItems 1)",
    level=Level.MUST,
    feature=FEATURE,
    probes=("prompt-tokens",),
    fails_on=("token-prompt-500",),
    deviations=("D09",),
    refusable=True,
)
def prompt_tokens(r: Recorded) -> Outcome:
    return _choice_count(r, "prompt-tokens", 1)


@check(
    "params.prompt-token-lists",
    title="prompt as an array of token-id arrays gets one choice per array",
    clause="CreateCompletionRequest.prompt: oneOf … integer[][] (minItems 1)",
    level=Level.MUST,
    feature=FEATURE,
    probes=("prompt-token-lists",),
    fails_on=("token-prompt-500",),
    deviations=("D09",),
    refusable=True,
)
def prompt_token_lists(r: Recorded) -> Outcome:
    return _choice_count(r, "prompt-token-lists", 2)


@check(
    "params.float-sampling",
    title="temperature 0.7 and top_p 0.9 are accepted (numbers, not integers)",
    clause=f"{SPEC}.temperature: number 0..2; top_p: number 0..1",
    level=Level.MUST,
    feature=FEATURE,
    probes=("float-sampling",),
    fails_on=("integer-temperature",),
    seeds="gptnb types temperature and top_p as integer",
    deviations=("D12",),
)
def float_sampling(r: Recorded) -> Outcome:
    r.choices("float-sampling")
    return Pass("accepted")


@check(
    "params.seed",
    title="the same seed and parameters give the same text",
    clause=f'{SPEC}.seed: "repeated requests with the same seed and parameters should return the same result" '
    "(best effort)",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("seed-a", "seed-b"),
    fails_on=("ignore-seed",),
    seeds="xuedingmao documents seed",
    refusable=True,
    deviations=("D02",),
)
def seed(r: Recorded) -> Outcome:
    a, b = r.text("seed-a"), r.text("seed-b")
    return expect(a == b, "the same seed gave different texts", repr(a), repr(b), "seed-b")


@check(
    "params.logit-bias",
    title="logit_bias +100 on a token changes the temperature-0 output",
    clause=f'{SPEC}.logit_bias: "values like -100 or 100 should result in a ban or exclusive selection of the '
    'relevant token"',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("greedy", "logit-bias"),
    fails_on=("drop-logit-bias",),
    seeds="xuedingmao documents logit_bias",
    deviations=("D02",),
    refusable=True,
)
def logit_bias(r: Recorded) -> Outcome:
    biased, plain = r.text("logit-bias"), r.text("greedy")
    return expect(biased != plain, "logit_bias had no effect (silently dropped?)",
                  "a text different from the unbiased one", f"{biased!r} (unbiased: {plain!r})")


@check(
    "params.suffix",
    title="suffix is accepted",
    clause=f'{SPEC}.suffix: string, "The suffix that comes after a completion of inserted text" '
    "(only gpt-3.5-turbo-instruct)",
    level=Level.MUST,
    feature=FEATURE,
    probes=("suffix",),
    fails_on=(("reject-explicit-defaults", "errors-500"),),  # a clean 4xx is `unsupported`; a 5xx fails
    seeds="xuedingmao documents suffix",
    deviations=("D04", "D14", "D42"),
    refusable=True,
)
def suffix(r: Recorded) -> Outcome:
    r.choices("suffix")
    return Pass("accepted")


@check(
    "params.explicit-defaults",
    title="every optional field sent at its documented default is accepted",
    clause=f"{SPEC}: best_of default 1, suffix default null, echo false, logprobs null, n 1, stream false, …",
    level=Level.MUST,
    feature=FEATURE,
    probes=("explicit-defaults",),
    fails_on=("reject-explicit-defaults",),
    deviations=("D04",),
)
def explicit_defaults(r: Recorded) -> Outcome:
    r.choices("explicit-defaults")
    return Pass("accepted")


@check(
    "params.empty-prompt",
    title='prompt "" is accepted',
    clause='CreateCompletionRequest.prompt: oneOf string (default "") …',
    level=Level.MUST,
    feature=FEATURE,
    probes=("empty-prompt",),
    fails_on=("one-api-prompt-validation",),
    deviations=("D10",),
)
def empty_prompt(r: Recorded) -> Outcome:
    r.choices("empty-prompt")
    return Pass("accepted")


CHECKS = (max_tokens, stop_string, stop_list, n, best_of, echo, logprobs_shape, logprobs_text, logprobs_offsets,
          logprobs_top, logprobs_zero, echo_logprobs, prompt_list, prompt_tokens, prompt_token_lists, float_sampling,
          seed, logit_bias, suffix, explicit_defaults, empty_prompt)
