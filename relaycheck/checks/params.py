"""Parameters honoured, not merely accepted: each probe changes one field and these checks look for its effect."""

from __future__ import annotations

import re
from typing import Any

from relaycheck.checks.model import (
    LEGACY_LOGPROBS,
    Answer,
    Fail,
    Level,
    Outcome,
    Pass,
    Recorded,
    Refused,
    Skip,
    check,
    error_envelope,
    expect,
    on_endpoint,
    snippet,
)
from relaycheck.checks.modes import Twins, twin
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import TEST_PROMPT, PreconditionFailed, greedy_text, pick_stop
from relaycheck.probes.model_list import MODELS_PROBE, published_window
from relaycheck.transport.budget import choice_tokens, worst_case_tokens

FEATURE = "params"
SPEC = "openai-openapi@f85dbe22 CreateCompletionRequest"


def max_tokens_asked(r: Recorded, probe: str) -> int:
    """The cap the recorded request of ``probe`` set: max_tokens (the spec's 16 when it sent none); on chat the
    smaller of max_completion_tokens and max_tokens."""
    body = r.exchange(probe).request.json()
    return worst_case_tokens({**body, "n": 1} if isinstance(body, dict) else None, r.endpoint)


def cap_named(r: Recorded, probe: str) -> str:
    """The field that set ``probe``'s cap, as the request named it: chat's max_completion_tokens where it was sent."""
    body = r.exchange(probe).request.json()
    sent = isinstance(body, dict) and body.get("max_completion_tokens") is not None
    return "max_completion_tokens" if sent else "max_tokens"


@twin(
    "max-tokens",
    title="max_tokens limits the completion",
    clause=f'{SPEC}.max_tokens: "The maximum number of tokens that can be generated in the completion"',
    level=Level.MUST,
    plain=("greedy", "logprobs"),
    streamed=("stream-usage", "stream-logprobs"),
    fails_on=("drop-max-tokens", "usage-inflated"),
    fails_streamed_on=("drop-max-tokens", "usage-inflated"),
    deviations=("D02", "D11", "D45"),
)
def max_tokens_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    billed_probe, counted_probe = probes
    # The tokens actually returned (logprobs lists them) tell an ignored max_tokens from inflated billing.
    tokens = r.returned_tokens(counted_probe)
    returned = None if tokens is None else len(tokens)
    limit = max_tokens_asked(r, counted_probe)
    if returned is not None and returned > limit:
        return Fail(f"{cap_named(r, counted_probe)} {limit} was not honoured", f"at most {limit} tokens",
                    f"{returned} tokens returned", counted_probe)
    usage = r.usage(billed_probe)
    if usage is None:
        if returned is None:
            raise Skip(f"'{billed_probe}' reported no usage and '{counted_probe}' listed no tokens: nothing to count")
        return Pass(f"{returned} tokens returned; '{billed_probe}' reported no usage to judge")
    billed, billed_limit = usage.get("completion_tokens"), max_tokens_asked(r, billed_probe)
    if isinstance(billed, int) and billed <= billed_limit:
        return Pass(observed=f"completion_tokens {billed}")
    why = ("the tokens returned fit max_tokens: usage is inflated" if returned is not None
           else f"{cap_named(r, billed_probe)} {billed_limit} was not honoured, or usage is inflated")
    return Fail(why, f"completion_tokens <= {billed_limit}", f"completion_tokens {billed!r}", billed_probe)


max_tokens = max_tokens_twins.plain


def _stop_outcome(r: Recorded, probe: str) -> Outcome:
    stop, _ = _greedy_stop(r)
    answer = r.answers(probe)[0]
    if stop in answer.text:
        return Fail("the returned text contains the stop sequence", f"text without {stop!r}", repr(answer.text),
                    probe)
    if answer.finish_reason != "stop":
        return Fail("finish_reason is not stop after a stop sequence", '"stop"', repr(answer.finish_reason), probe)
    return Pass(f"stopped before {stop!r}", observed=repr(answer.text))


def _greedy_stop(r: Recorded) -> tuple[str, str]:
    """The stop sequence the stop probes were built with, and the greedy text that must come before it."""
    try:
        baseline = greedy_text(_Ctx(r))
        stop, end = pick_stop(baseline)
    except PreconditionFailed as why:
        raise Skip(str(why)) from None
    return stop, baseline[:end]


class _Ctx:
    """Adapter so the probe-building helpers can read recordings from a check."""

    def __init__(self, r: Recorded) -> None:
        self.model = r.model
        self.done = r.exchanges


STOP_CLAUSE = ('StopConfiguration: "Up to 4 sequences where the API will stop generating further tokens. The '
               'returned text will not contain the stop sequence."')


@twin(
    "stop-string",
    title="stop as a string ends the text before it, finish_reason stop",
    clause=STOP_CLAUSE,
    level=Level.MUST,
    plain=("greedy", "stop-string"),
    streamed=("greedy", "stream-stop-string"),
    fails_on=("drop-stop", "stop-included"),
    fails_streamed_on=("stream-drop-stop", "stop-included"),
    seeds="all three pages type stop as a string only",
    deviations=("D17",),
)
def stop_string_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    return _stop_outcome(r, probes[1])


@twin(
    "stop-list",
    title="stop as a list ends the text before any of them",
    clause="StopConfiguration: oneOf string / array (minItems 1, maxItems 4)",
    level=Level.MUST,
    plain=("greedy", "stop-list"),
    streamed=("greedy", "stream-stop-list"),
    fails_on=("drop-stop", "stop-included"),
    fails_streamed_on=("stream-drop-stop", "stop-included"),
    deviations=("D17",),
)
def stop_list_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    return _stop_outcome(r, probes[1])


@twin(
    "stop-exact",
    title="the text before a stop is exactly the greedy text before the stop sequence, no part of it left",
    clause=f"{STOP_CLAUSE}; at temperature 0 the text is the greedy text up to where the sequence begins",
    level=Level.SHOULD,  # exactness leans on temperature-0 determinism, which OpenAI calls best effort
    plain=("greedy", "stop-string", "stop-list"),
    streamed=("greedy", "stream-stop-string", "stream-stop-list"),
    fails_on=("stop-partial-left",),
    fails_streamed_on=("stop-partial-left",),
    deviations=("D17",),
)
def stop_exact_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    stop, before = _greedy_stop(r)
    for probe in probes[1:]:
        text = r.answers(probe)[0].text
        if text == before:
            continue
        left = text.removeprefix(before)
        if text.startswith(before) and stop.startswith(left):
            return Fail("part of the stop sequence was left at the end of the text", repr(before), repr(text), probe)
        return Fail("the text before the stop differs from the greedy text before the stop sequence", repr(before),
                    repr(text), probe)
    return Pass(f"both stop before {stop!r} exactly", observed=repr(before))


@twin(
    "n",
    title="n=2 returns two choices, indexed 0 and 1, each finished once",
    clause=f'{SPEC}.n: "How many completions to generate for each prompt"',
    level=Level.MUST,
    plain=("n",),
    streamed=("stream-n",),
    fails_on=("drop-n",),
    fails_streamed_on=("stream-n-index-wrong",),
    deviations=("D06", "D07", "D44"),
    refusable=True,
    streamed_id="stream.n-indices",  # the id it had before it had a plain twin
)
def n_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    answers = r.answers(probes[0])
    indices = sorted(a.index for a in answers)
    if indices != [0, 1]:
        return Fail("n was not honoured", "choices with index 0 and 1", f"indices {indices}")
    finishes = {a.index: a.finishes for a in answers}
    return expect(set(finishes.values()) == {1}, "a choice did not finish exactly once", "one finish_reason each",
                  f"finish_reason count per index {finishes}")


@twin(
    "finish-length",
    title='finish_reason is "length" exactly when max_tokens tokens came, else "stop"',
    clause='CreateCompletionResponse.choices[].finish_reason: "stop if the model hit a natural stop point or a '
    'provided stop sequence, length if the maximum number of tokens specified in the request was reached"',
    level=Level.MUST,
    plain=("logprobs",),
    streamed=("stream-logprobs",),
    fails_on=("finish-reason-always-stop",),
    fails_streamed_on=("finish-reason-always-stop",),
    deviations=("D20", "D21"),
)
def finish_length_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    probe = probes[0]
    limit = max_tokens_asked(r, probe)
    for answer in r.answers(probe):
        tokens = answer.logprob_tokens()
        if not isinstance(tokens, list):
            raise Skip("no logprobs tokens to count (see logprobs-shape)")
        if len(tokens) > limit:
            raise Skip(f"{len(tokens)} tokens for max_tokens {limit} (see max-tokens)")
        expected = "length" if len(tokens) == limit else "stop"  # the probe sets no stop sequence
        if answer.finish_reason != expected:
            return Fail(f"finish_reason does not say why choice {answer.index} ended", repr(expected),
                        f"{answer.finish_reason!r} after {len(tokens)} of max_tokens {limit} tokens", probe)
    return Pass()


stop_string, stop_list, stop_exact, n = (stop_string_twins.plain, stop_list_twins.plain, stop_exact_twins.plain,
                                         n_twins.plain)
finish_length = finish_length_twins.plain


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


@twin(
    "echo",
    title="echo returns the prompt followed by the completion",
    clause=f'{SPEC}.echo: "Echo back the prompt in addition to the completion"',
    level=Level.MUST,
    plain=("echo",),
    streamed=("stream-echo",),
    fails_on=("drop-echo",),
    fails_streamed_on=("stream-drop-echo", "stream-rejects-options"),
    seeds="xuedingmao documents echo",
    deviations=("D02", "D03", "D23"),
    refusable=True,
)
def echo_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    text = r.answers(probes[0])[0].text
    return expect(text.startswith(TEST_PROMPT), "echo was not honoured", f"text starting with {TEST_PROMPT!r}",
                  repr(text[:80]))


echo = echo_twins.plain


def _legacy_logprobs(r: Recorded, probe: str) -> tuple[str, dict[str, Any]]:
    answer: Answer = r.answers(probe)[0]
    lp = answer.logprobs
    if not isinstance(lp, dict) or not all(isinstance(lp.get(k), list) for k in LEGACY_LOGPROBS):
        raise Fail("logprobs is not the legacy object of four arrays", "{tokens, token_logprobs, top_logprobs, "
                   "text_offset}", repr(lp)[:200], probe)
    return answer.text, lp


@twin(
    "logprobs-shape",
    title="logprobs=2 returns tokens, token_logprobs, top_logprobs and text_offset of equal length",
    clause="CreateCompletionResponse.choices[].logprobs: {text_offset, token_logprobs, tokens, top_logprobs}; "
    "CreateCompletionRequest.logprobs: integer 0..5; streamed chunks share the response's shape",
    level=Level.MUST,
    plain=("logprobs",),
    streamed=("stream-logprobs",),
    fails_on=("chat-logprobs", "logprobs-bool"),
    fails_streamed_on=("stream-drop-logprobs", "stream-rejects-options", "chat-logprobs"),
    seeds="gptnb and xuedingmao type logprobs as null; the official type is integer 0-5",
    deviations=("D01", "D22", "D23"),
)
def logprobs_shape_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    _, lp = _legacy_logprobs(r, probes[0])
    lengths = {k: len(lp[k]) for k in LEGACY_LOGPROBS}
    ok = len(set(lengths.values())) == 1 and lengths["tokens"] > 0
    return expect(ok, "the logprobs arrays differ in length or are empty", "four arrays of one non-zero length",
                  repr(lengths))


@twin(
    "logprobs-text",
    title="the logprobs tokens join to the returned text",
    clause="CreateCompletionResponse.choices[].logprobs.tokens: the tokens of the choice text",
    level=Level.MUST,
    plain=("logprobs",),
    streamed=("stream-logprobs",),
    fails_on=("logprobs-tokens-mismatch",),
    fails_streamed_on=("logprobs-tokens-mismatch", "stream-drop-logprobs"),
    deviations=("D22", "D23"),
)
def logprobs_text_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    text, lp = _legacy_logprobs(r, probes[0])
    joined = "".join(t for t in lp["tokens"] if isinstance(t, str))
    return expect(joined == text, "tokens do not join to the text", repr(text), repr(joined))


logprobs_shape, logprobs_text = logprobs_shape_twins.plain, logprobs_text_twins.plain


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


@twin(
    "prompt-order",
    title="with a list of prompts, choice i continues prompt i (as each prompt alone does at temperature 0)",
    clause='CreateCompletionResponse.choices: "The list of completion choices the model generated for the input '
    'prompt"; choices[].index orders them by prompt (implied: SHOULD)',
    level=Level.SHOULD,
    plain=("prompt-list", "greedy", "basic"),
    streamed=("stream-prompt-list", "greedy", "basic"),
    fails_on=("prompt-list-swapped",),
    fails_streamed_on=("prompt-list-swapped",),
    deviations=("D08", "D44"),
    refusable=True,
)
def prompt_order_twins(r: Recorded, probes: tuple[str, ...]) -> Outcome:
    listed, *alone = probes  # the prompt-list probe, then each of its prompts sent alone (longer, temperature 0)
    texts = {a.index: a.text for a in r.answers(listed)}
    if sorted(texts, key=str) != [0, 1]:
        return Fail("one choice per prompt was not returned", "indices [0, 1]", f"indices {sorted(texts, key=str)}",
                    listed)
    singles = [r.answers(probe)[0].text for probe in alone]
    if all(single.startswith(texts[i]) for i, single in enumerate(singles)):
        return Pass(observed=repr(texts))
    if singles[0].startswith(texts[1]) and singles[1].startswith(texts[0]):
        return Fail("the choices of the two prompts are swapped", f"index 0 starts {singles[0]!r}, index 1 starts "
                    f"{singles[1]!r}", repr(texts), listed)
    return Fail("a choice is not the continuation of its prompt", f"prefixes of {singles!r}", repr(texts), listed)


prompt_order = prompt_order_twins.plain


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
# Semantic checks judged on streamed twins too: their `streamed` halves are catalogued with the stream checks.
TWINS: tuple[Twins, ...] = (max_tokens_twins, stop_string_twins, stop_list_twins, stop_exact_twins, n_twins,
                            finish_length_twins, echo_twins, logprobs_shape_twins, logprobs_text_twins,
                            prompt_order_twins)
CHECKS = (*CHECKS, stop_exact, finish_length, prompt_order)


# -- parameters have their effect (issue 12, part 2) ------------------------------------------------------------


@check(
    "params.best-of-candidates",
    title="best_of=2 generates two candidates: usage bills more than the one returned",
    clause=f'{SPEC}.best_of: "Generates best_of completions server-side and returns the best … Because this '
    'parameter generates many completions, it can quickly consume your token quota"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("best-of",),
    deviations=("D02", "D05"),
    refusable=True,
    fails_on=("best-of-ignored", "best-of-not-billed"),
)
def best_of_candidates(r: Recorded) -> Outcome:
    choice = r.choices("best-of")[0]
    usage = r.usage("best-of")
    billed = usage.get("completion_tokens") if usage else None
    max_tokens = r.exchange("best-of").request.json()["max_tokens"]
    if choice.get("finish_reason") != "length":
        raise Skip(f"the returned choice ended with {choice.get('finish_reason')!r} before max_tokens: its own "
                   "token count is unknown, so the other candidate's cannot be told apart")
    if not isinstance(billed, int) or billed < max_tokens:
        raise Skip(f"completion_tokens {billed!r} is below the returned choice's own {max_tokens} tokens: usage "
                   "cannot tell the candidates (see usage.completion-bounds)")
    if billed > max_tokens:
        return Pass(f"completion_tokens {billed}: the returned choice's {max_tokens} and more")
    # Counting after "1, 2, 3, 4," hardly ever ends at once, so an unbilled second candidate is one never generated.
    return Fail("only the returned choice is billed: best_of was ignored, or its candidates are not billed",
                f"completion_tokens > {max_tokens} (the returned choice ran to max_tokens {max_tokens})",
                f"completion_tokens {billed}", "best-of")


@check(
    "params.stop-fifth",
    title="five stop sequences are refused, or all five honoured: never silently cut to four",
    clause=f"{STOP_CLAUSE} (OpenAI refuses a fifth); a list the provider accepts is a list it applies",
    level=Level.SHOULD,  # accepting five is errors.rejects-stop-count's MUST; dropping one silently is worse
    feature=FEATURE,
    probes=("greedy", "stop-list", "stop-fifth"),
    deviations=("D13", "D17"),
    fails_on=("stop-list-cut-to-four",),
)
def stop_fifth(r: Recorded) -> Outcome:
    ex = r.exchange("stop-fifth")
    if ex.status is not None and 400 <= ex.status < 500:
        return Pass(f"refused with HTTP {ex.status}, as OpenAI does", observed=snippet(ex.text, 120))
    if ex.status != 200:
        raise Skip(f"five stop sequences answered HTTP {ex.status} (see errors.rejects-stop-count)")
    stop, before = _greedy_stop(r)
    if r.answers("stop-list")[0].text != before:
        raise Skip("a stop list of two is not honoured exactly either (see params.stop-list, params.stop-exact)")
    text = r.answers("stop-fifth")[0].text
    if text == before:
        return Pass(f"all five honoured: stopped before the fifth, {stop!r} (accepting five is "
                    "errors.rejects-stop-count's finding)", observed=repr(text))
    if text.startswith(before + stop):
        return Fail("the fifth stop sequence was dropped silently: the list was accepted and cut to four",
                    f"HTTP 400, or the text stopped before {stop!r}: {before!r}", repr(text), "stop-fifth")
    raise Skip(f"the text {text!r} is neither the greedy text nor the text before the stop: cannot tell")


@check(
    "params.best-of-logprobs",
    title="with best_of and logprobs, the returned choice carries its own logprobs",
    clause=f'{SPEC}.logprobs: "Include the log probabilities on the logprobs most likely output tokens, as well the '
    'chosen tokens"; best_of: "returns the best" (the returned choice, with what was asked of it)',
    level=Level.MUST,
    feature=FEATURE,
    probes=("best-of", "logprobs"),
    deviations=("D05", "D23"),
    refusable=True,
    fails_on=("best-of-drops-logprobs",),
)
def best_of_logprobs(r: Recorded) -> Outcome:
    answer = r.answers("best-of")[0]
    try:
        _legacy_logprobs(r, "logprobs")
    except (Fail, Refused):  # graded once, by params.logprobs-shape
        raise Skip("the provider serves no legacy logprobs even without best_of (see params.logprobs-shape)") from None
    lp = answer.logprobs
    tokens = lp.get("tokens") if isinstance(lp, dict) else None
    if not isinstance(tokens, list) or not tokens:
        return Fail("best_of lost the logprobs: the returned choice has none", "legacy logprobs (logprobs=1) of the "
                    "returned choice", f"logprobs {repr(lp)[:120]}", "best-of")
    joined = "".join(t for t in tokens if isinstance(t, str))
    return expect(joined == answer.text, "the logprobs are not the returned choice's: its tokens do not join to its "
                  "text (another candidate's?)", repr(answer.text), repr(joined), "best-of")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


def _penalty_effect(r: Recorded, probe: str, name: str) -> Outcome:
    base, penalized = r.text("penalty-base"), r.text(probe)
    words = _words(base)
    if len(set(words)) == len(words):
        raise Skip(f"the unpenalized continuation repeats nothing, so {name} has nothing to act on: {base!r}")
    return expect(penalized != base, f"{name} 2 left a repetitive temperature-0 continuation unchanged (ignored?)",
                  f"a text other than the unpenalized {base!r}", repr(penalized), probe)


PENALTY = ('"Positive values penalize new tokens based on {}" (OpenAI: mu[j] - c[j] * alpha_frequency - '
           "(c[j] > 0) * alpha_presence)")


@check(
    "params.frequency-penalty",
    title="frequency_penalty 2 changes a repetitive temperature-0 continuation",
    clause=f"{SPEC}.frequency_penalty: " + PENALTY.format("their existing frequency in the text so far"),
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("penalty-base", "penalty-frequency"),
    deviations=("D02",),
    fails_on=("ignore-penalties",),
)
def frequency_penalty(r: Recorded) -> Outcome:
    return _penalty_effect(r, "penalty-frequency", "frequency_penalty")


@check(
    "params.presence-penalty",
    title="presence_penalty 2 changes a repetitive temperature-0 continuation",
    clause=f"{SPEC}.presence_penalty: " + PENALTY.format("whether they appear in the text so far"),
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("penalty-base", "penalty-presence"),
    deviations=("D02",),
    fails_on=("ignore-penalties",),
)
def presence_penalty(r: Recorded) -> Outcome:
    return _penalty_effect(r, "penalty-presence", "presence_penalty")


@check(
    "params.suffix-effect",
    title="suffix changes the temperature-0 insertion",
    clause=f'{SPEC}.suffix: "The suffix that comes after a completion of inserted text"',
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("suffix", "suffix-none"),
    deviations=("D02", "D14"),
    fails_on=("suffix-ignored",),
)
def suffix_effect(r: Recorded) -> Outcome:
    try:
        inserted = r.text("suffix")
    except Refused as refused:  # graded once, as `unsupported`, by params.suffix
        raise Skip(f"suffix refused (HTTP {refused.status}): see params.suffix") from None
    plain = r.text("suffix-none")
    return expect(inserted != plain, "the suffix made no difference to the text (accepted and ignored?)",
                  f"an insertion other than the suffix-less continuation {plain!r}", repr(inserted), "suffix")


@check(
    "params.context-refused",
    title="a prompt plus max_tokens over the context window is refused, not silently truncated",
    clause=f'{SPEC}.max_tokens: "The token count of your prompt plus max_tokens cannot exceed the model\'s context '
    'length"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("context-overflow", "prompt-tokens", MODELS_PROBE),
    deviations=("D49",),
    fails_on=("context-truncated",),
)
def context_refused(r: Recorded) -> Outcome:
    ex = r.exchange("context-overflow")
    sent = ex.request.json()
    size = len(sent["prompt"]) if isinstance(sent, dict) and isinstance(sent.get("prompt"), list) else None
    published = published_window(r.exchanges.get(MODELS_PROBE), r.model)
    window = (published.describe() if published and published.overflow_prompt == size
              else "the context length configured for the provider")
    short = r.exchanges.get("prompt-tokens")
    if not ex.succeeded and (short is None or not short.succeeded):
        # The overflow prompt is token ids: a provider that serves none (params.prompt-tokens grades that) says
        # nothing of its window by refusing this one too, cleanly or with a 500.
        raise Skip(f"token-id prompts are not served ('prompt-tokens'), so HTTP {ex.status} says nothing of the window")
    if ex.status is not None and 400 <= ex.status < 500:
        envelope = error_envelope(ex)
        code = envelope.get("code") if envelope else None
        status = f"HTTP {ex.status}" + (f" {code}" if code else "")
        return Pass(f"{status} for {size} prompt tokens (window: {window})", observed=snippet(ex.text, 160))
    if ex.succeeded:
        usage = ex.json().get("usage") if isinstance(ex.json(), dict) else None
        billed = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return Fail("a request over the context window was served: the prompt was truncated or the window is "
                    "larger than the provider states", f"a 4xx (context_length_exceeded) for {size} prompt tokens "
                    f"+ max_tokens {sent.get('max_tokens')} (window: {window})", f"HTTP 200, prompt_tokens {billed}",
                    "context-overflow")
    return Fail("a request over the context window was not refused cleanly", "a 4xx with an error envelope",
                f"HTTP {ex.status}: {snippet(ex.text, 160)}", "context-overflow")


@check(
    "params.max-tokens-zero",
    title="max_tokens 0 is refused, as OpenAI refuses it, or answered with no token: never with a default's tokens",
    clause=f'{SPEC}.max_tokens: "The maximum number of tokens that can be generated in the completion" (minimum '
    "0); OpenAI's models refuse 0 with a 400, 'You requested a length 0 completion, which is not supported for this "
    "model' (microsoft/dp-few-shot-generation#23; stanford-crfm/helm#2317)",
    level=Level.MUST,
    feature=FEATURE,
    probes=("max-tokens-zero",),
    deviations=("D80", "D11"),
    fails_on=("max-tokens-zero-dropped",),
)
def max_tokens_zero(r: Recorded) -> Outcome:
    probe = "max-tokens-zero"
    try:
        answers = r.answers(probe)
    except Refused as refused:
        return Pass(f"refused with HTTP {refused.status}, as OpenAI refuses a length-0 completion",
                    observed=f"HTTP {refused.status}: {refused.message}")
    usage = r.usage(probe)
    billed = usage.get("completion_tokens") if isinstance(usage, dict) else None
    texts = [a.text for a in answers if a.text]
    if texts or (isinstance(billed, int) and not isinstance(billed, bool) and billed > 0):
        return Fail("max_tokens 0 was not honoured: tokens were generated, as when the zero is dropped on the way "
                    "and the upstream's default (16) applies, or 0 is read as 'unlimited'",
                    # in words, not a status: the fault is the zero dropped (D80), not a success for a refusal
                    "refused, as OpenAI refuses a 'length 0 completion', or a completion of no token",
                    f"HTTP 200, completion_tokens {billed}, text {snippet(repr(texts[0]) if texts else '', 80)}", probe)
    return Pass("answered with an empty completion: the contract's minimum 0 allows it (OpenAI's models refuse it; "
                "see identity.known-limits)", observed=f"HTTP 200, completion_tokens {billed}")


CHECKS += (stop_fifth, best_of_candidates, best_of_logprobs, frequency_penalty, presence_penalty, suffix_effect,
           context_refused, max_tokens_zero)


# -- the same on Chat Completions ------------------------------------------------------------------------------

CHAT = Endpoint.CHAT
_SHARED = {  # check: the quirks that prove it on chat
    max_tokens: ("drop-max-tokens", "usage-inflated"), stop_string: ("drop-stop", "stop-included"),
    stop_list: ("drop-stop", "stop-included"), stop_exact: ("stop-partial-left",), n: ("drop-n",),
    finish_length: ("finish-reason-always-stop",), float_sampling: ("integer-temperature",), seed: ("ignore-seed",),
    logit_bias: ("drop-logit-bias",), explicit_defaults: ("reject-explicit-defaults",),
    frequency_penalty: ("ignore-penalties",), presence_penalty: ("ignore-penalties",),
}
_SHARED_STREAMED = {
    max_tokens_twins.streamed: ("drop-max-tokens", "usage-inflated"),
    stop_string_twins.streamed: ("stream-drop-stop", "stop-included"),
    stop_list_twins.streamed: ("stream-drop-stop", "stop-included"), stop_exact_twins.streamed: ("stop-partial-left",),
    n_twins.streamed: ("stream-n-index-wrong",), finish_length_twins.streamed: ("finish-reason-always-stop",),
}
_CLAUSES = {max_tokens: 'CreateChatCompletionRequest.max_completion_tokens: "An upper bound for the number of tokens '
            'that can be generated for a completion"; max_tokens (deprecated) the same'}
CHAT_CHECKS = tuple(on_endpoint(c, CHAT, fails_on=quirks, clause=_CLAUSES.get(c)) for c, quirks in _SHARED.items())
# catalogued with the stream checks, as the Completions halves are
CHAT_STREAMED = tuple(on_endpoint(c, CHAT, fails_on=quirks) for c, quirks in _SHARED_STREAMED.items())
CHECKS += CHAT_CHECKS


@check(
    "chat.params.max-tokens-deprecated",
    title="the deprecated max_tokens still caps a chat completion (max_completion_tokens not sent)",
    clause='CreateChatCompletionRequest.max_tokens: "The maximum number of tokens that can be generated in the chat '
    'completion" (deprecated in favor of max_completion_tokens, still served: OpenAI translates it for every model '
    "that takes it)",
    level=Level.MUST,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=(CHAT.probe_id("max-tokens"),),
    deviations=("D56", "D02"),
    fails_on=("max-tokens-ignored",),
)
def max_tokens_deprecated(r: Recorded) -> Outcome:
    limit = max_tokens_asked(r, "max-tokens")
    choice = r.choices("max-tokens")[0]
    # What came back costs at least this much whatever the provider bills (budget.choice_tokens: a lower bound).
    returned = choice_tokens(choice)
    if returned > limit:
        return Fail(f"max_tokens {limit} was not honoured", f"at most {limit} tokens",
                    f"at least {returned} tokens returned: {snippet(repr(r.text('max-tokens')), 120)}", "max-tokens")
    usage = r.usage("max-tokens")
    billed = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if isinstance(billed, int) and billed > limit:
        return Fail(f"max_tokens {limit} was not honoured, or usage is inflated", f"completion_tokens <= {limit}",
                    f"completion_tokens {billed}", "max-tokens")
    return Pass(observed=f"completion_tokens {billed!r}, finish_reason {choice.get('finish_reason')!r}")


CHECKS += (max_tokens_deprecated,)
