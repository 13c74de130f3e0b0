"""Usage truth: the numbers a buyer pays for, checked against what came back and against each other.

No tokenizer is needed here (token-exact counting is ``identity``'s): every check compares usage with something
the same recordings fix. A choice that stopped at ``length`` generated exactly max_tokens tokens; token-id prompts
have a known length; the same prompt has one count; a list of prompts is the sum of its members; k copies of a
prompt cost k times one copy. Where only an inconsistency can be seen, the verdict names both numbers and both
probes.

Chat Completions is judged by the same functions on its own probes (``chat.usage.*``, at the end), where a chat
request differs: its cap is ``max_completion_tokens`` (or the deprecated ``max_tokens``, no default), a choice may
answer with tool calls instead of content, one conversation (messages, tools, response format) has one count, and
the intercept of repeated messages is the 3 tokens that prime the reply. Chat adds what its usage carries: the
breakdowns (``cached_tokens`` within ``prompt_tokens``, ``reasoning_tokens`` within ``completion_tokens``) and the
usage of a streamed ``n=2``, which covers both choices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from relaycheck import tokens
from relaycheck.checks.model import (
    Answer,
    Fail,
    Inconclusive,
    Level,
    Outcome,
    Pass,
    Recorded,
    Refused,
    Skip,
    check,
    on_endpoint,
)
from relaycheck.endpoint import Endpoint
from relaycheck.probes.catalogue import HELLO_TOKENS, probes_of
from relaycheck.tokens.chat import REPLY_PRIMING

FEATURE = "usage"
USAGE = 'CompletionUsage: prompt_tokens "Number of tokens in the prompt", completion_tokens "Number of tokens in the ' \
    'generated completion"'
DEFAULT_MAX_TOKENS = 16
SPECIAL_TOKENS = 1  # a begin-of-sequence token some engines add (llama.cpp): tolerated once per prompt
CHAT = Endpoint.CHAT
# The intercept of prompt_tokens over repeated messages: nothing on Completions; on chat the 3 tokens that prime the
# reply (the Cookbook's rule), within what a server's own template may add or save (a begin-of-sequence token, a
# newline): a hidden system prompt costs more than that (its 3-token frame and role alone are 4).
INTERCEPT = {Endpoint.COMPLETIONS: (0, SPECIAL_TOKENS), CHAT: (REPLY_PRIMING, 2)}


def openai_chat_format(r: Recorded) -> bool:
    """Whether the claimed chat model is one of OpenAI's tokenizers (the provider's setting, or OpenAI's table for
    its name): then its conversation is framed as the Cookbook counts it, 3 tokens priming the reply. A model with
    no public tokenizer (``tokenizer: none``, a name OpenAI's table does not know) has a template of its own, whose
    priming relaycheck cannot count: a ChatML template spelt in plain text costs 16 tokens of a small vocabulary
    (``<|im_start|>assistant`` and a newline), honestly billed (docs/live-chat-findings.md)."""
    if r.tokenizer is None:
        return False
    return r.tokenizer != "auto" or tokens.encoding_for_model(r.model) is not None


# A length-0 completion is judged on its own, by params.max-tokens-zero: what it bills is that check's finding, once.
JUDGED_APART = ("context-overflow", "max-tokens-zero")


def answering(endpoint: Endpoint) -> tuple[str, ...]:
    """Every probe of ``endpoint`` whose answer carries usage (the error and overflow probes expect a refusal)."""
    apart = {endpoint.probe_id(p) for p in JUDGED_APART}
    return tuple(p.id for p in probes_of(endpoint) if p.is_completion() and not p.is_error_probe()
                 and p.id not in apart)


ANSWERING = answering(Endpoint.COMPLETIONS)


@dataclass(frozen=True)
class Billed:
    """The usage one successful answer reports, with the request it answers and its choices."""

    probe: str
    prompt_tokens: int
    completion_tokens: int
    body: dict[str, Any]  # the request sent
    answers: tuple[Answer, ...]  # per choice, a stream assembled the way a client does
    usage: dict[str, Any] | None = None  # the usage object as it came (its breakdowns included)
    endpoint: Endpoint = Endpoint.COMPLETIONS

    def __str__(self) -> str:
        return f"'{self.probe}': prompt_tokens {self.prompt_tokens}, completion_tokens {self.completion_tokens}"


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def asked_for_usage(body: dict[str, Any]) -> bool:
    """A request whose answer carries its usage: any non-streamed one, a stream only with include_usage."""
    options = body.get("stream_options")
    return body.get("stream") is not True or (isinstance(options, dict) and options.get("include_usage") is True)


def billed(r: Recorded, probe: str) -> Billed | None:
    """The usage of a successful answer (a JSON body, or a stream's usage chunk), or None when it has none.

    A stream that did not ask for usage has none to judge: usage sent anyway is stream.no-usage-unasked's finding,
    graded there once, whatever its numbers.
    """
    ex = r.exchanges.get(probe)
    body = ex.request.json() if ex is not None and ex.succeeded else None
    if not isinstance(body, dict) or not asked_for_usage(body):
        return None
    try:
        usage, answers = r.usage(probe), r.answers(probe)
    except (Fail, Skip, Inconclusive, Refused):
        return None  # an unusable answer: the shape and stream checks grade it
    if not isinstance(usage, dict) or not (_int(usage.get("prompt_tokens")) and _int(usage.get("completion_tokens"))):
        return None
    return Billed(probe, usage["prompt_tokens"], usage["completion_tokens"], body, tuple(answers), usage, r.endpoint)


def _all_billed(r: Recorded) -> Iterator[Billed]:
    for probe in answering(r.endpoint):
        found = billed(r, probe)
        if found is not None:
            yield found


def _max_tokens(body: dict[str, Any], endpoint: Endpoint = Endpoint.COMPLETIONS) -> int | None:
    """The cap per choice a request sets: max_tokens (default 16); on chat the smaller of max_completion_tokens and
    the deprecated max_tokens, None when it sets neither (no default: the model's own limit)."""
    if endpoint is CHAT:
        caps = [v for v in (body.get("max_completion_tokens"), body.get("max_tokens")) if _int(v)]
        return min(caps) if caps else None
    value = body.get("max_tokens")
    return value if _int(value) else DEFAULT_MAX_TOKENS


def _prompt_count(body: dict[str, Any]) -> int:
    prompt = body.get("prompt")
    return len(prompt) if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)) else 1


def completion_range(b: Billed) -> tuple[int, int]:
    """The fewest and the most completion tokens the answer can have cost, from the choices that came back.

    A choice that ended at ``length`` generated exactly max_tokens tokens; any other choice with text (chat: or
    tool calls) at least one and at most max_tokens; best_of candidates that were not returned between none and
    max_tokens each. A chat request without a cap has no upper bound here.
    """
    mt = _max_tokens(b.body, b.endpoint)
    n = b.body.get("n") if _int(b.body.get("n")) else 1
    best_of = b.body.get("best_of") if _int(b.body.get("best_of")) else n
    low = sum(choice_floor(b, answer) for answer in b.answers)
    high = UNBOUNDED if mt is None else mt * max(n, best_of, 1) * _prompt_count(b.body)
    return low, high


UNBOUNDED = 2**62


def choice_floor(b: Billed, answer: Answer) -> int:
    """The fewest completion tokens one returned choice can have cost: its cap if it ended at ``length``, one if it
    has text (chat: or tool calls) of its own (an echoed text starts with the prompt: it tells nothing of the
    completion), else none."""
    mt = _max_tokens(b.body, b.endpoint)
    if answer.finish_reason == "length" and mt is not None:
        return mt
    return int(bool(answer.text or answer.tool_calls) and b.body.get("echo") is not True)


@check(
    "usage.completion-bounds",
    title="completion_tokens covers every choice and candidate returned, and no more than max_tokens allows",
    clause=f"{USAGE}; max_tokens: the maximum number of tokens generated; best_of: 'Generates best_of "
    "completions server-side' (each is billed); n and prompt lists: one completion per choice",
    level=Level.MUST,
    feature=FEATURE,
    probes=ANSWERING,
    deviations=("D25", "D45", "D81"),
    fails_on=("usage-zero", "usage-from-characters", "stream-usage-first-choice"),
)
def completion_bounds(r: Recorded) -> Outcome:
    judged = 0
    ignored = cap_ignored(r)
    for b in _all_billed(r):
        low, high = completion_range(b)
        judged += 1
        if b.completion_tokens < low:
            return Fail("completion_tokens is less than the choices returned show",
                        f"{low} <= completion_tokens <= {high}", str(b), b.probe)
        if b.completion_tokens > high and ignored is None:
            return Fail("completion_tokens is more than max_tokens allows", f"{low} <= completion_tokens <= {high}",
                        str(b), b.probe)
    if not judged:
        raise Skip("no answer reported usage (see shape.usage-present)")
    if ignored is not None:
        return Pass(f"{judged} answers billed at least what their choices show; the cap bounds no bill, since the "
                    f"provider returns more tokens than it asks ({ignored}: the max-tokens check's finding)")
    return Pass(f"{judged} answers billed within what their choices show")


def cap_ignored(r: Recorded) -> str | None:
    """Where an answer lists (in its logprobs) more tokens than its request's cap: the provider does not honour the
    cap (judged once, by params.max-tokens), so completion_tokens above a cap is what was generated, not inflated
    billing. None when no answer shows it."""
    for probe in answering(r.endpoint):
        ex = r.exchanges.get(probe)
        body = ex.request.json() if ex is not None and ex.succeeded else None
        if not isinstance(body, dict) or body.get("echo") is True:  # echoed logprobs list the prompt's tokens too
            continue
        cap = _max_tokens(body, r.endpoint)
        listed = r.returned_tokens(probe) if cap is not None else None  # the first choice's
        if cap is not None and listed is not None and len(listed) > cap:
            return f"'{probe}' lists {len(listed)} tokens for a cap of {cap}"
    return None


# What a chat prompt is made of: the model too (the cheaper model's probes ask the same conversations of another
# model, whose tokenizer may differ).
CONVERSATION = ("model", "messages", "tools", "tool_choice", "parallel_tool_calls", "response_format")


def _prompt_key(body: dict[str, Any]) -> str | None:
    """The prompt as a comparable key: only single prompts, and no suffix (the suffix is model input too); a chat
    request's conversation with everything that may be rendered into its prompt (tools, response format)."""
    if "messages" in body:
        return json.dumps({k: body.get(k) for k in CONVERSATION}, sort_keys=True)
    prompt = body.get("prompt")
    if body.get("suffix") or not isinstance(prompt, str):
        return None
    return prompt


@check(
    "usage.prompt-tokens",
    title="the same prompt is counted the same everywhere, a list of prompts as the sum of its members",
    clause=f"{USAGE}: one count per prompt, whatever else the request asks (n, echo, logprobs, stop, stream)",
    level=Level.MUST,
    feature=FEATURE,
    probes=ANSWERING,
    deviations=("D45",),
    fails_on=("prompt-list-usage-first", "usage-from-characters"),
)
def prompt_tokens(r: Recorded) -> Outcome:
    first: dict[str, Billed] = {}
    repeated = 0
    for b in _all_billed(r):
        key = _prompt_key(b.body)
        if key is None:
            continue
        seen = first.setdefault(key, b)
        repeated += seen is not b
        if seen.prompt_tokens != b.prompt_tokens:
            return Fail(f"one prompt, two counts: {seen.prompt_tokens} and {b.prompt_tokens}",
                        f"prompt_tokens {seen.prompt_tokens} (as for '{seen.probe}')", str(b), b.probe)
    listed = billed(r, "prompt-list")
    prompts = listed.body.get("prompt") if listed else None
    if listed and isinstance(prompts, list) and all(p in first for p in prompts):
        total = sum(first[p].prompt_tokens for p in prompts)
        if listed.prompt_tokens != total:
            members = " + ".join(f"{first[p].prompt_tokens} ('{first[p].probe}')" for p in prompts)
            return Fail("a list of prompts is not counted as the sum of its members",
                        f"prompt_tokens {members} = {total}", str(listed), "prompt-list")
    if not repeated:
        raise Skip("no prompt was answered twice with usage")
    return Pass(f"{len(first)} prompts, each with one count in {repeated + len(first)} answers"
                + (", the list summed" if listed else ""))


def fit(points: list[tuple[int, Billed]]) -> tuple[int, int]:
    """Slope and intercept through the first two points (copies, prompt_tokens)."""
    (k1, b1), (k2, b2) = points[:2]
    slope = (b2.prompt_tokens - b1.prompt_tokens) // (k2 - k1)
    return slope, b1.prompt_tokens - slope * k1


@check(
    "usage.linear",
    title="prompt_tokens grows by one copy's count per copy of a repeated prompt: no hidden prefix, no multiplier",
    clause=f"{USAGE}: k copies of a prompt are k times its tokens; token ids are counted one each",
    level=Level.MUST,
    feature=FEATURE,
    probes=("usage-repeat-1", "usage-repeat-2", "usage-repeat-3", "prompt-tokens", "usage-tokens-x3"),
    deviations=("D45",),
    # counts compared with each other, not with a tokenizer: they still judge behind another tokenizer
    fails_on=("hidden-prompt-prefix", "usage-multiplied", ("tokenizer-swapped", "hidden-prompt-prefix")),
)
def linear(r: Recorded) -> Outcome:
    text = [(k, b) for k, probe in ((1, "usage-repeat-1"), (2, "usage-repeat-2"), (3, "usage-repeat-3"))
            if (b := billed(r, probe)) is not None]
    if len(text) < 3:
        raise Skip("the repeated prompts did not all come back with usage")
    slope, intercept = fit(text)
    k3, b3 = text[2]
    if b3.prompt_tokens != intercept + slope * k3:
        return Fail("prompt_tokens does not grow linearly with the copies of a prompt",
                    f"{intercept} + {slope} x {k3} = {intercept + slope * k3}",
                    f"{text[0][1]}; {text[1][1]}; {b3}", b3.probe)
    if r.endpoint is CHAT and not openai_chat_format(r):
        # The priming opens one assistant turn of the model's own template: fewer tokens than a whole turn of the
        # repeated message, with its content. A hidden system message costs a whole turn, content and all, beyond it.
        if not 0 <= intercept < slope:
            return Fail(f"every request is billed {intercept} tokens beyond its messages, a whole message's worth "
                        "or more (a hidden system prompt?)" if intercept > 0 else
                        f"every request is billed {-intercept} tokens fewer than its messages have",
                        f"prompt_tokens = {slope} per copy, intercept 0 to {slope - 1}: the reply priming of the "
                        "model's own template (no public tokenizer: its exact size is not known)",
                        f"intercept {intercept}: {text[0][1]}; {text[1][1]}", text[0][1].probe)
        return Pass(f"{slope} tokens per copy, intercept {intercept}: the model's own template primes the reply "
                    f"(no public tokenizer to count it exactly: held below one copy, {slope})")
    expected, slack = INTERCEPT[r.endpoint]
    if abs(intercept - expected) > slack:
        extra = intercept - expected
        why = (f"every request is billed {extra} tokens that are not in its prompt (a hidden prefix?)" if extra > 0
               else f"every request is billed {-extra} tokens fewer than its prompt has (an overhead not billed?)")
        return Fail(why, f"prompt_tokens = {slope} per copy, intercept {expected} (± {slack})",
                    f"intercept {intercept}: {text[0][1]}; {text[1][1]}", text[0][1].probe)
    ids = [(k, b) for k, probe in ((1, "prompt-tokens"), (3, "usage-tokens-x3")) if (b := billed(r, probe))]
    if len(ids) == 2:
        per_copy, _ = fit(ids)
        if per_copy != len(HELLO_TOKENS):
            return Fail(f"{len(HELLO_TOKENS)} more token ids were billed as {per_copy} tokens (a multiplier?)",
                        f"prompt_tokens + {len(HELLO_TOKENS)} per copy of {HELLO_TOKENS}",
                        f"{ids[0][1]}; {ids[1][1]}", ids[1][1].probe)
    note = (f"; token ids one each ({len(HELLO_TOKENS)} per copy)" if len(ids) == 2
            else "" if r.endpoint is CHAT else "; token-id prompts not served")
    return Pass(f"{slope} tokens per copy, intercept {intercept}{note}")


@check(
    "usage.stream-matches",
    title="the usage chunk of a stream equals the usage of the same temperature-0 request unstreamed",
    clause='ChatCompletionStreamOptions.include_usage: the usage chunk "shows the token usage statistics for the '
    'entire request"',
    level=Level.MUST,
    feature=FEATURE,
    probes=("greedy", "stream-usage"),
    deviations=("D30", "D45"),
    fails_on=("stream-usage-counts-end", ("tokenizer-swapped", "stream-usage-counts-end")),
)
def stream_matches(r: Recorded) -> Outcome:
    plain, streamed = billed(r, "greedy"), billed(r, "stream-usage")
    if plain is None or streamed is None:
        raise Skip("the temperature-0 request and its streamed twin did not both report usage")
    twin = {k: v for k, v in streamed.body.items() if k not in ("stream", "stream_options")}
    if twin != plain.body:
        raise Skip("'stream-usage' is not the streamed twin of 'greedy'")
    if [a.text for a in streamed.answers] != [a.text for a in plain.answers]:
        if streamed.prompt_tokens != plain.prompt_tokens:
            return Fail("the streamed request's prompt is counted differently", str(plain), str(streamed),
                        "stream-usage")
        raise Skip("the streamed text differs from the unstreamed one (see stream.text-matches): usage may too")
    same = (streamed.prompt_tokens, streamed.completion_tokens) == (plain.prompt_tokens, plain.completion_tokens)
    return Pass(str(streamed)) if same else Fail("the same text is billed differently streamed", str(plain),
                                                 str(streamed), "stream-usage")


@check(
    "usage.stream-every-choice",
    title="with n > 1, the usage chunk of a stream counts the completion tokens of every choice, not the first's",
    clause='ChatCompletionStreamOptions.include_usage: the usage chunk "shows the token usage statistics for the '
    'entire request"; n: "How many completions to generate for each prompt" (each one generated, and billed)',
    level=Level.MUST,
    feature=FEATURE,
    probes=("stream-usage-n",),
    deviations=("D81", "D30"),
    # the tokenizer is not read: another one behind the name (identity.tokenizer's fault) hides nothing here
    fails_on=("stream-usage-first-choice", ("tokenizer-swapped", "stream-usage-first-choice")),
)
def stream_every_choice(r: Recorded) -> Outcome:
    b = billed(r, "stream-usage-n")
    if b is None:
        raise Skip("'stream-usage-n' came back without a usage chunk (see stream.usage-chunk and params.n)")
    n = b.body.get("n") if _int(b.body.get("n")) else 1
    if len(b.answers) < n:
        raise Skip(f"the stream carried {len(b.answers)} of its {n} choices (see stream.n)")
    floors = [choice_floor(b, a) for a in b.answers]
    shown = " + ".join(f"{f} (choice {a.index}, {a.finish_reason})" for f, a in zip(floors, b.answers, strict=True))
    if b.completion_tokens < sum(floors):
        first = " (as for the first choice alone)" if b.completion_tokens <= floors[0] else ""
        return Fail(f"the usage chunk counts {b.completion_tokens} completion tokens{first}, fewer than the {n} "
                    "choices streamed", f"completion_tokens >= {shown} = {sum(floors)}", str(b), b.probe)
    return Pass(f"{b.completion_tokens} completion tokens for {n} choices (at least {shown})")


CHECKS = (completion_bounds, prompt_tokens, linear, stream_matches, stream_every_choice)


# -- the same on Chat Completions, and what chat's usage adds ----------------------------------------------------

CHAT_USAGE = 'CompletionUsage (CreateChatCompletionResponse.usage): prompt_tokens "Number of tokens in the prompt", ' \
    'completion_tokens "Number of tokens in the generated completion", total_tokens "(prompt + completion)"'
CACHE_MINIMUM = 1024  # OpenAI prompt caching: "enabled automatically for prompts that are 1024 tokens or longer"
BREAKDOWNS = (  # (details object, member, the total that includes it, what exceeding it suggests)
    ("prompt_tokens_details", "cached_tokens", "prompt_tokens", "an upstream's uncached count reported as the prompt?"),
    ("completion_tokens_details", "reasoning_tokens", "completion_tokens",
     "reasoning reported apart from the completion?"),
)


def _details(usage: dict[str, Any] | None, name: str, member: str) -> Any:
    details = usage.get(name) if isinstance(usage, dict) else None
    return details.get(member) if isinstance(details, dict) else None


@check(
    "chat.usage.total",
    title="in every answer's usage (a stream's usage chunk too), total_tokens = prompt_tokens + completion_tokens",
    clause=CHAT_USAGE,
    level=Level.MUST,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=answering(CHAT),
    deviations=("D25", "D45"),
    fails_on=("usage-total-wrong",),
)
def chat_total(r: Recorded) -> Outcome:
    judged = 0
    for b in _all_billed(r):
        total = b.usage.get("total_tokens") if b.usage else None
        judged += 1
        if total != b.prompt_tokens + b.completion_tokens:
            return Fail("total_tokens is not prompt_tokens + completion_tokens",
                        f"total_tokens {b.prompt_tokens + b.completion_tokens}", f"{b}, total_tokens {total!r}",
                        b.probe)
    if not judged:
        raise Skip("no answer reported usage (see chat.shape.usage-present)")
    return Pass(f"{judged} answers, each total the sum of its counts")


@check(
    "chat.usage.details",
    title="the usage breakdowns fit their totals: cached_tokens within prompt_tokens (0 below 1,024 prompt tokens), "
    "reasoning_tokens within completion_tokens",
    clause="CompletionUsage.prompt_tokens_details.cached_tokens: \"Cached tokens present in the prompt\" "
    "(prompt_tokens includes them); completion_tokens_details.reasoning_tokens: \"Tokens generated by the model "
    "for reasoning\" (part of completion_tokens); OpenAI prompt caching starts at 1,024 prompt tokens. Absent "
    "breakdowns are allowed (optional members)",
    level=Level.MUST,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=answering(CHAT),
    deviations=("D45",),
    fails_on=("cached-tokens-above-prompt", "reasoning-tokens-above-completion"),
)
def chat_details(r: Recorded) -> Outcome:
    judged = 0
    for b in _all_billed(r):
        for details, member, total, why in BREAKDOWNS:
            value = _details(b.usage, details, member)
            if value is None:
                continue
            if not (_int(value) and value >= 0):
                return Fail(f"{member} is not a non-negative integer", "an integer >= 0", f"{b}, {member} {value!r}",
                            b.probe)
            judged += 1
            if value > getattr(b, total):
                return Fail(f"{member} exceeds {total}, which includes them ({why})",
                            f"{member} <= {getattr(b, total)}", f"{b}, {member} {value}", b.probe)
        cached = _details(b.usage, "prompt_tokens_details", "cached_tokens")
        if cached and b.prompt_tokens < CACHE_MINIMUM:
            return Fail(f"cached_tokens reported for a prompt below the {CACHE_MINIMUM} tokens caching starts at",
                        "cached_tokens 0", f"{b}, cached_tokens {cached}", b.probe)
    if not judged:
        return Pass("no answer reported a usage breakdown (optional): nothing to hold")
    return Pass(f"{judged} breakdown figures, each within its total")


@check(
    "chat.usage.stream-choices",
    title="the usage chunk of a streamed n=2 covers both choices",
    clause='ChatCompletionStreamOptions.include_usage: the usage chunk "shows the token usage statistics for the '
    'entire request"; n: "How many chat completion choices to generate" (each is billed)',
    level=Level.MUST,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=(CHAT.probe_id("stream-n"),),
    deviations=("D81", "D30", "D45"),
    fails_on=("stream-usage-first-choice",),
)
def chat_stream_choices(r: Recorded) -> Outcome:
    try:
        answers = r.answers("stream-n")
    except Refused as refused:
        raise Skip(f"the streamed n=2 was refused (HTTP {refused.status}): see chat.stream.n") from None
    b = billed(r, "stream-n")
    if b is None:
        raise Skip("the streamed n=2 reported no usage (see chat.stream.usage-chunk)")
    if len(answers) < 2:
        raise Skip(f"the streamed n=2 carried {len(answers)} choice(s) (see chat.stream.n)")
    low, high = completion_range(b)
    shown = "; ".join(f"choice {a.index}: finish_reason {a.finish_reason!r}, {len(a.text)} characters" for a in answers)
    if b.completion_tokens < low:
        return Fail("completion_tokens counts fewer tokens than the choices streamed (one choice billed?)",
                    f"completion_tokens >= {low} for {len(answers)} choices", f"{b}; {shown}", b.probe)
    if b.completion_tokens > high:
        return Fail("completion_tokens is more than n x max_completion_tokens allows", f"<= {high}", str(b), b.probe)
    return Pass(f"{b} for {len(answers)} choices", observed=shown)


_CHAT_SHARED = {  # check: (the quirks that prove it on chat, title)
    completion_bounds: (("usage-zero", "stream-usage-first-choice"),
                        "completion_tokens covers every choice returned (content or tool calls), and no more than "
                        "max_completion_tokens allows"),
    prompt_tokens: (("stream-prompt-tokens-inflated",),
                    "one conversation is counted the same everywhere, streamed or not, whatever else is asked"),
    linear: (("hidden-system-prompt", "usage-content-only"),
             "prompt_tokens grows by one message per copy of a repeated message, from the 3 tokens that prime the "
             "reply: no hidden system prompt, the message overhead billed"),
    stream_matches: (("stream-prompt-tokens-inflated", "usage-chunk-zeros"), None),
}
_CHAT_DEVIATIONS = {completion_bounds: ("D25", "D81", "D30", "D45"), linear: ("D45", "D60", "D61"),
                    prompt_tokens: ("D45", "D59"), stream_matches: ("D29", "D45", "D59")}
_CHAT_PROBES = {completion_bounds: answering(CHAT), prompt_tokens: answering(CHAT),
                linear: tuple(f"usage-repeat-{k}" for k in (1, 2, 3))}  # stream_matches reads the same short names
CHAT_CHECKS = (
    *(on_endpoint(c, CHAT, fails_on=quirks, title=title, probes=_CHAT_PROBES.get(c),
                  deviations=_CHAT_DEVIATIONS.get(c)) for c, (quirks, title) in _CHAT_SHARED.items()),
    chat_total, chat_details, chat_stream_choices,
)
CHECKS += CHAT_CHECKS
