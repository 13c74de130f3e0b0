"""Identity and billing: usage counted with the claimed model's own tokenizer, and that tokenizer's fingerprint.

These checks read probes other checks already sent (no request of their own). The tokenizer is the provider's
``tokenizer`` setting: ``auto`` takes it from the model name by OpenAI's own table (gpt-3.5-turbo-instruct,
davinci-002, babbage-002: cl100k_base); a model with no public tokenizer skips them, saying so.

What they prove: a bill that does not match the claimed model's tokenizer on prompts relaycheck chose, and tokens
that are not that tokenizer's. What they cannot: a substitute model sharing the tokenizer (that is the model
fingerprint's job, in the reports), or billing on prompts other than these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relaycheck import tokens
from relaycheck.checks.model import Fail, Inconclusive, Level, Outcome, Pass, Recorded, Refused, Skip, check, snippet
from relaycheck.identity.fingerprint import CROSS_PROBES, cross_match
from relaycheck.identity.known import LENGTH_ZERO_SOURCE, known_limits
from relaycheck.probes.model_list import MODELS_PROBE, model_cards, names_model, published_window
from relaycheck.tokens.encoding import bytes_of_label

FEATURE = "identity"
USAGE_CLAUSE = 'CompletionUsage.prompt_tokens: "Number of tokens in the prompt."; completion_tokens: "Number of ' \
    'tokens in the generated completion."'
# Probes whose prompt takes each form the spec allows (string, string[], token ids, token-id arrays).
PROMPT_PROBES = ("basic", "prompt-list", "prompt-tokens", "prompt-token-lists")
# One prompt, one choice, no echo: completion_tokens is the tokens of the one text returned.
FINGERPRINT = tuple(f"identity-fp-{i}" for i in range(1, 9))
COMPLETION_PROBES = ("basic", "greedy", "logprobs", "logprobs-zero", *FINGERPRINT)
LOGPROBS_PROBES = ("logprobs", "logprobs-zero", *FINGERPRINT)
MIN_RESPLIT = 2  # answers split otherwise than the tokenizer would, at the least, for that to be evidence


def encoding_of(r: Recorded) -> tokens.Encoding:
    """The claimed model's tokenizer, or Skip with the reason none can be used."""
    setting = r.tokenizer
    if setting is None:
        raise Skip("tokenizer: none in providers.yaml")
    name = tokens.encoding_for_model(r.model) if setting == "auto" else setting
    if name is None:
        raise Skip(f"no public tokenizer is known for model {r.model!r} (set tokenizer: in providers.yaml)")
    try:
        return tokens.get_encoding(name)
    except tokens.TokenizerUnavailable as e:
        raise Skip(str(e)) from None


@dataclass(frozen=True)
class Billed:
    probe: str
    reported: int
    counted: int
    low: int  # the range the reported figure may take
    high: int
    how: str  # how ``counted`` was had
    prompts: int = 1

    @property
    def ok(self) -> bool:
        return self.low <= self.reported <= self.high

    def shown(self) -> str:
        allowed = str(self.low) if self.low == self.high else f"{self.low}..{self.high}"
        return f"{self.probe}: reported {self.reported}, counted {self.counted} ({self.how}; allowed {allowed})"


def _usage_field(r: Recorded, probe: str, name: str) -> int | None:
    """A usage figure of a successful answer, or None when the probe was refused, failed or has no usage."""
    try:
        body = r.ok_json(probe)
    except (Skip, Refused, Fail, Inconclusive):
        return None
    usage = body.get("usage")
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Foreign:
    """Token strings an answer's logprobs list that the claimed vocabulary does not have: another tokenizer."""

    probe: str
    tokens: tuple[str, ...]
    encoding: str

    def quoted(self) -> str:
        return ", ".join(repr(t) for t in self.tokens[:8])

    def cause(self) -> str:
        """The one fault this is, in words every verdict it explains repeats (the report groups them by it)."""
        return (f"another tokenizer answers: {len(self.tokens)} token string(s) its logprobs list are not tokens of "
                f"{self.encoding} ({self.quoted()}), so the counts follow its vocabulary; one fault with "
                "identity.tokenizer")


def foreign_tokens(r: Recorded, enc: tokens.Encoding) -> Foreign | None:
    """The first logprobs answer that lists tokens (or alternatives) the claimed tokenizer does not have."""
    for probe in LOGPROBS_PROBES:
        labels = _labels(r, probe)
        if labels is None:
            continue
        listed, alternatives = labels
        foreign = sorted({t for t in listed + alternatives if t and enc.token_id(bytes_of_label(t)) is None})
        if foreign:
            return Foreign(probe, tuple(foreign), enc.name)
    return None


def _verdict(rows: list[Billed], what: str, foreign: Foreign | None = None) -> Outcome:
    if not rows:
        raise Skip(f"no probe answered with a usable {what} figure")
    observed = "; ".join(row.shown() for row in rows)
    bad = [row for row in rows if not row.ok]
    if not bad:
        return Pass(observed=observed)
    ratio = sum(row.reported for row in bad) / max(1, sum(row.counted for row in bad))
    # Another tokenizer explains every count at once: said so, not mistaken for estimated or inflated billing.
    pattern = foreign.cause() if foreign else _pattern(rows, what)
    return Fail(
        f"{what} differs from the claimed model's tokenizer count (reported/counted {ratio:.2f} where it differs; "
        f"{pattern})",
        expected="the exact count of the claimed model's tokenizer",
        observed=observed,
        probe=bad[0].probe,
    )


def _pattern(rows: list[Billed], what: str) -> str:
    """What the differences look like, as TrueLLMs' slope test reads them: an offset, a factor, or neither."""
    per_prompt = {(row.reported - row.counted) / row.prompts for row in rows}
    if len(rows) >= 2 and len(per_prompt) == 1 and (extra := per_prompt.pop()) > 0:
        if what == "prompt_tokens":
            return f"a constant {extra:g} extra tokens per prompt: a hidden prompt prefix billed"
        return f"a constant {extra:g} extra tokens per answer"
    ratios = [row.reported / row.counted for row in rows if row.counted]
    if len(ratios) >= 2 and max(ratios) - min(ratios) <= 0.15 * max(ratios) and min(ratios) > 1:
        return f"a near-constant factor {sum(ratios) / len(ratios):.2f}: usage multiplied"
    return "neither a constant offset nor a constant factor: estimated, e.g. from characters"


@check(
    "identity.prompt-tokens",
    title="usage.prompt_tokens is the claimed model's token count of the prompt, in every prompt form",
    clause=USAGE_CLAUSE,
    level=Level.MUST,
    feature=FEATURE,
    probes=PROMPT_PROBES,
    fails_on=("hidden-prompt-prefix", "usage-multiplied", "usage-from-characters", "tokenizer-swapped"),
    deviations=("D45", "D47"),
)
def prompt_tokens(r: Recorded) -> Outcome:
    enc = encoding_of(r)
    rows = []
    for probe in PROMPT_PROBES:
        reported = _usage_field(r, probe, "prompt_tokens")
        body = r.exchanges[probe].request.json() if probe in r.exchanges else None
        counts = tokens.prompt_token_counts(enc, body.get("prompt")) if isinstance(body, dict) else None
        if reported is None or counts is None:
            continue
        counted = sum(counts)
        rows.append(Billed(probe, reported, counted, counted, counted, f"{enc.name}, {len(counts)} prompt(s)",
                           len(counts)))
    return _verdict(rows, "prompt_tokens", foreign_tokens(r, enc))


def _only_choice(r: Recorded, probe: str) -> dict[str, Any] | None:
    try:
        choices = r.choices(probe)
    except (Skip, Refused, Fail, Inconclusive):
        return None
    return choices[0] if len(choices) == 1 and isinstance(choices[0].get("text"), str) else None


@check(
    "identity.completion-tokens",
    title="usage.completion_tokens is the claimed model's token count of the text returned",
    clause=USAGE_CLAUSE + " (one more is allowed where the completion ended at a stop or end-of-text token)",
    level=Level.MUST,
    feature=FEATURE,
    probes=COMPLETION_PROBES,
    fails_on=("usage-inflated", "usage-multiplied", "usage-from-characters", "tokenizer-swapped"),
    deviations=("D45", "D47"),
)
def completion_tokens(r: Recorded) -> Outcome:
    enc = encoding_of(r)
    rows = []
    for probe in COMPLETION_PROBES:
        reported = _usage_field(r, probe, "completion_tokens")
        choice = _only_choice(r, probe)
        if reported is None or choice is None:
            continue
        stop = 1 if choice.get("finish_reason") == "stop" else 0
        listed = r.returned_tokens(probe)
        if listed is not None and all(isinstance(t, str) for t in listed):
            # The tokens the answer itself lists: exact, whatever tokenization the model chose.
            counted, slack, how = len(listed), 0, "tokens listed in logprobs"
        else:
            # Re-encoding gives the canonical tokenization; a model may emit a non-canonical one (one more).
            counted, slack, how = enc.count(choice["text"]), 1, f"{enc.name} re-encoding of the text"
        rows.append(Billed(probe, reported, counted, counted, counted + slack + stop, how))
    return _verdict(rows, "completion_tokens", foreign_tokens(r, enc))


def _labels(r: Recorded, probe: str) -> tuple[list[str], list[str]] | None:
    """The token labels a logprobs answer lists, and its top_logprobs alternatives."""
    choice = _only_choice(r, probe)
    lp = choice.get("logprobs") if choice else None
    if not isinstance(lp, dict) or not isinstance(lp.get("tokens"), list):
        return None
    listed = [t for t in lp["tokens"] if isinstance(t, str)]
    alternatives = [k for top in lp.get("top_logprobs") or [] if isinstance(top, dict) for k in top]
    return listed, alternatives


@check(
    "identity.tokenizer",
    title="logprobs tokens and their alternatives are tokens of the claimed model's vocabulary, in its split",
    clause="The model field names the model that answered (CreateCompletionResponse.model); the claimed model's "
    "public tokenizer defines which strings its logprobs can list",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=LOGPROBS_PROBES,
    fails_on=("tokenizer-swapped",),
    deviations=("D47",),
)
def tokenizer(r: Recorded) -> Outcome:
    enc = encoding_of(r)
    foreign = foreign_tokens(r, enc)
    if foreign:
        return Fail(f"{len(foreign.tokens)} token string(s) are not tokens of {enc.name}: another tokenizer answers",
                    expected=f"every token and alternative a token of {enc.name}",
                    observed=f"{foreign.probe}: {foreign.quoted()}", probe=foreign.probe)
    seen, answers = 0, 0
    resplit: list[tuple[str, list[str], list[str]]] = []  # (probe, listed, the tokenizer's own split)
    for probe in LOGPROBS_PROBES:
        labels = _labels(r, probe)
        if labels is None:
            continue
        listed, alternatives = labels
        ids = [enc.token_id(bytes_of_label(t)) for t in listed]
        text = b"".join(bytes_of_label(t) for t in listed).decode("utf-8", "replace")
        answers += 1
        if "" not in listed and enc.encode(text) != ids:
            resplit.append((probe, listed, [enc.label(i) for i in enc.encode(text)]))
        seen += len(listed) + len(alternatives)
    if not seen:
        raise Skip("no logprobs answer listed tokens")
    # A model may emit a split its tokenizer would not make (a runner-up token taken once, by sampling or a
    # temperature-0 flip: the reference provider's faithful `divergence`); another tokenizer splits most answers
    # its own way. So a split is evidence only when most answers show one.
    if len(resplit) >= max(MIN_RESPLIT, answers / 2):
        probe, listed, own = resplit[0]
        return Fail(
            f"the tokens listed are not {enc.name}'s split of their own text, in {len(resplit)} of {answers} answers",
            expected=f"{enc.name}: {own}",
            observed=f"{probe}: {listed}",
            probe=probe,
        )
    odd = f"; {len(resplit)} of {answers} answers split otherwise (a model may sample such a split: not judged)" \
        if resplit else ""
    return Pass(observed=f"{seen} token strings, all tokens of {enc.name}, in its split{odd}")


@check(
    "identity.cheaper-model",
    title="the claimed model answers unlike the cheaper model the same provider serves",
    clause="The model field names the model that answered (CreateCompletionResponse.model): answers "
    "indistinguishable under two names are evidence that the expensive name serves the cheap model",
    level=Level.INFO,
    feature=FEATURE,
    probes=(*FINGERPRINT[:3], *CROSS_PROBES),
    fails_on=("cheap-model-under-name",),
    deviations=("D47",),
)
def cheaper_model(r: Recorded) -> Outcome:
    for probe in CROSS_PROBES:
        try:
            r.ok(probe)
        except Refused as refused:
            raise Skip(f"the provider does not serve the cheaper model: {refused.message}") from None
    cheaper = r.exchange(CROSS_PROBES[0]).request.json() or {}
    result = cross_match(r.exchanges, r.model)
    if result.same is None:
        raise Skip(result.summary())
    observed = f"{r.model} vs {cheaper.get('model')}: {result.summary()}; " + "; ".join(p.shown for p in result.prompts)
    if result.same:
        return Fail(f"{r.model} and {cheaper.get('model')} answer indistinguishably on this provider: evidence the "
                    "name serves the cheaper model", expected="different first-token distributions", observed=observed,
                    probe=CROSS_PROBES[0])
    return Pass(observed=observed)


NOT_SERVED = (404, 405, 501)  # no model list at all: nothing to cross-check (relaycheck certifies completions)


def _listed_ids(r: Recorded) -> list[str]:
    """The model ids of the provider's GET /models answer, or Skip when it serves no list."""
    ex = r.exchange("models")
    if ex.status in NOT_SERVED:
        raise Skip(f"GET /models answered HTTP {ex.status}: the provider serves no model list")
    if ex.status != 200:
        raise Skip(f"GET /models answered HTTP {ex.status}, not a list: {snippet(ex.text, 120)}")
    cards = model_cards(ex)
    if cards is None:
        raise Fail("GET /models did not answer a list of models", expected='{"object": "list", "data": [{"id": …}]}',
                   observed=f"{ex.content_type or 'no content-type'}: {snippet(ex.text, 160)}", probe="models")
    return [m["id"] for m in cards]


@check(
    "identity.model-listed",
    title="the provider's own model list (GET /v1/models) names the model it serves under the claimed name",
    clause='GET /models: "Lists the currently available models"; a model answered under a name the provider does '
    "not list is served by some other arrangement (a redirect, a default): evidence, not proof, of substitution",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=("models",),
    fails_on=("models-list-omits-claimed",),
    deviations=("D47",),
)
def model_listed(r: Recorded) -> Outcome:
    ids = _listed_ids(r)
    shown = ", ".join(ids[:12]) + (f" and {len(ids) - 12} more" if len(ids) > 12 else "")
    if any(names_model(i, r.model) for i in ids):
        return Pass(observed=f"{len(ids)} models listed: {shown}")
    return Fail(f"{r.model} is served but not among the models the provider lists",
                expected=f"{r.model} (or a dated snapshot of it) in GET /models", observed=f"listed: {shown or 'none'}",
                probe="models")


CACHE_PROBES = ("identity-cache-1", "identity-cache-2", "identity-cache-user")


@dataclass(frozen=True)
class Sampled:
    """One answer of the cache probes: what a replay would repeat."""

    probe: str
    id: Any
    text: str

    def replays(self, other: Sampled) -> bool:
        """The same completion again: its id (unique per completion) and its text."""
        return isinstance(self.id, str) and bool(self.id) and self.id == other.id and self.text == other.text


@check(
    "identity.response-cache",
    title="the same request at temperature 1, sent twice, is answered anew, not replayed from a cache",
    clause='CreateCompletionResponse.id: "A unique identifier for the completion"; CreateCompletionRequest.'
    'temperature: "Higher values like 0.8 will make the output more random": two requests are two completions, '
    "each sampled, each with its own id",
    level=Level.SHOULD,
    feature=FEATURE,
    probes=CACHE_PROBES,
    fails_on=("response-cache",),
    deviations=("D85",),
)
def response_cache(r: Recorded) -> Outcome:
    answers = [Sampled(p, r.ok_json(p).get("id"), r.text(p)) for p in CACHE_PROBES]
    first, again, other_user = answers
    shown = "; ".join(f"{a.probe}: id {a.id!r}, text {a.text!r}" for a in answers)
    if not first.replays(again):
        if first.text == again.text and first.id != again.id:
            shown += " (the same text under two ids: a peaked model, or a cache that mints ids; not judged)"
        return Pass(observed=shown)
    shared = other_user.replays(first)
    return Fail(
        "answers replayed from a cache: the same request at temperature 1, sent twice, got the first completion "
        "back (same id, same text)" + (", and so did another user: one user's answer is served to another"
                                        if shared else "; another user got a fresh one (the cache keys on user)"),
        expected="two completions, each sampled, each with its own id",
        observed=shown,
        probe=again.probe,
    )




@check(
    "identity.known-limits",
    title="the limits seen are the claimed model's: no larger window published, a length-0 completion refused",
    clause="The model field names the model that answered (CreateCompletionResponse.model); a limit that is not the "
    "claimed model's (its documented context window; OpenAI's refusal of max_tokens 0) is another model's: "
    "evidence, not proof, of substitution",
    level=Level.INFO,
    feature=FEATURE,
    probes=(MODELS_PROBE, "max-tokens-zero"),
    fails_on=("served-model-limits",),
    deviations=("D82", "D47"),
)
def known_model_limits(r: Recorded) -> Outcome:
    known = known_limits(r.model)
    if known is None:
        raise Skip(f"no documented limits are known for {r.model!r}")
    seen = []
    published = published_window(r.exchanges.get(MODELS_PROBE), r.model)
    if published is not None and published.prompt_only:
        # a bound on the prompt a gateway copies from its price list (LiteLLM's cost map says 8192 for
        # gpt-3.5-turbo-instruct), not the window of the model that answers
        published = None
    if published is not None and published.tokens > known.window:
        return Fail(f"the provider publishes a {published.tokens}-token window for {r.model}, whose own is "
                    f"{known.window}: another model's limit", expected=f"at most {known.window} tokens "
                    f"({known.window_source})", observed=published.describe(), probe=MODELS_PROBE)
    if published is not None:
        seen.append(f"published window {published.tokens} tokens, within {r.model}'s {known.window}")
    zero = r.exchanges.get("max-tokens-zero")
    if zero is not None and zero.succeeded and known.refuses_length_zero:
        answers = r.answers("max-tokens-zero")
        if any(a.text for a in answers):  # tokens generated: the zero dropped on the way, params.max-tokens-zero
            raise Skip("max_tokens 0 was answered with tokens: a drop, graded by params.max-tokens-zero")
        return Fail(f"a length-0 completion was answered (HTTP 200, empty), which {r.model} refuses: another engine "
                    "answers under the name", expected=f"a 4xx: {LENGTH_ZERO_SOURCE}",
                    observed=f"HTTP 200: {snippet(zero.text, 160)}", probe="max-tokens-zero")
    if zero is not None and zero.status is not None and 400 <= zero.status < 500:
        seen.append(f"max_tokens 0 refused (HTTP {zero.status}), as {r.model} refuses it")
    if not seen:
        raise Skip("neither a published window nor an answer to max_tokens 0 to hold to the model's limits")
    return Pass("; ".join(seen), observed="; ".join(seen))


CHECKS = (prompt_tokens, completion_tokens, tokenizer, cheaper_model, model_listed, response_cache,
          known_model_limits)
