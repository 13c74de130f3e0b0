"""Identity and billing: usage counted with the claimed model's own tokenizer, and that tokenizer's fingerprint.

These checks read probes other checks already sent (no request of their own). The tokenizer is the provider's
``tokenizer`` setting: ``auto`` takes it from the model name by OpenAI's own table (gpt-3.5-turbo-instruct,
davinci-002, babbage-002: cl100k_base); a model with no public tokenizer skips them, saying so.

What they prove: a bill that does not match the claimed model's tokenizer on prompts relaycheck chose, and tokens
that are not that tokenizer's. What they cannot: a substitute model sharing the tokenizer (that is the model
fingerprint's job, in the reports), or billing on prompts other than these.

On Chat Completions the same functions judge chat's probes (``chat.identity.*``, at the end): a conversation's
prompt tokens by the OpenAI Cookbook's message rule (``relaycheck.tokens.chat``: 3 per message and its values, 1 per
name, 3 for the reply, the tools rule), the slope and intercept of repeated messages, completion tokens of content
and tool calls, and the tokenizer behind chat logprobs' tokens and their ``bytes``.
"""

from __future__ import annotations

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
    snippet,
)
from relaycheck.checks.usage import billed, fit
from relaycheck.endpoint import Endpoint
from relaycheck.identity.fingerprint import CROSS_PROBES, cross_match
from relaycheck.identity.known import LENGTH_ZERO_SOURCE, known_limits
from relaycheck.probes.chat import FINGERPRINT_PROMPTS as CHAT_FINGERPRINT_PROMPTS
from relaycheck.probes.model_list import MODELS_PROBE, model_cards, names_model, published_window
from relaycheck.tokens.chat import REPLY_PRIMING, TOKENS_PER_MESSAGE, chat_prompt_tokens, content_text
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

# Chat's, by their short names: one message, a system message, a name, tools (with tool_choice auto, the default
# the Cookbook's tool figures were measured with), and the repeated messages.
CHAT = Endpoint.CHAT
REPEATS = ("usage-repeat-1", "usage-repeat-2", "usage-repeat-3")
CHAT_PROMPT_PROBES = ("basic", "system", "name", "tools-auto", *REPEATS)
CHAT_FINGERPRINT = tuple(f"identity-fp-{i}" for i in range(1, len(CHAT_FINGERPRINT_PROMPTS) + 1))
# One choice each: content (its tokens, listed by logprobs where asked) or tool calls (their arguments).
CHAT_COMPLETION_PROBES = ("basic", "greedy", "logprobs", *CHAT_FINGERPRINT, "tools-named", "json-schema")
CHAT_LOGPROBS_PROBES = ("logprobs", *CHAT_FINGERPRINT)
# What a tool call may cost beyond its arguments' tokens: its name's tokens plus this. OpenAI publishes no rule for
# the completion tokens of a call (openai-chat-facts §4); the arguments are a lower bound, the allowance is stated.
TOOL_CALL_OVERHEAD = 8
_PROBES = {  # endpoint: (prompt, completion, logprobs) probes, by short name
    Endpoint.COMPLETIONS: (PROMPT_PROBES, COMPLETION_PROBES, LOGPROBS_PROBES),
    CHAT: (CHAT_PROMPT_PROBES, CHAT_COMPLETION_PROBES, CHAT_LOGPROBS_PROBES),
}


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
    endpoint: Endpoint = Endpoint.COMPLETIONS

    def quoted(self) -> str:
        return ", ".join(repr(t) for t in self.tokens[:8])

    def cause(self) -> str:
        """The one fault this is, in words every verdict it explains repeats (the report groups them by it)."""
        return (f"another tokenizer answers: {len(self.tokens)} token string(s) its logprobs list are not tokens of "
                f"{self.encoding} ({self.quoted()}), so the counts follow its vocabulary; one fault with "
                f"{self.endpoint.prefix}identity.tokenizer")


def foreign_tokens(r: Recorded, enc: tokens.Encoding) -> Foreign | None:
    """The first logprobs answer that lists tokens (or alternatives) the claimed tokenizer does not have."""
    for probe in _PROBES[r.endpoint][2]:
        found = _listed(r, probe)
        if found is None:
            continue
        listed, alternatives = found
        foreign = sorted({label for label, data in listed + alternatives if data and enc.token_id(data) is None})
        if foreign:
            return Foreign(r.exchanges.key(probe), tuple(foreign), enc.name, r.endpoint)
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
    for probe in _PROBES[r.endpoint][0]:
        reported = _usage_field(r, probe, "prompt_tokens")
        body = r.exchanges[probe].request.json() if probe in r.exchanges else None
        counted = _prompt_count(enc, body, r.endpoint) if isinstance(body, dict) else None
        if reported is None or counted is None:
            continue
        counts, how = counted
        rows.append(Billed(probe, reported, sum(counts), sum(counts), sum(counts), how, len(counts)))
    return _verdict(rows, "prompt_tokens", foreign_tokens(r, enc))


def _prompt_count(enc: tokens.Encoding, body: dict[str, Any], endpoint: Endpoint) -> tuple[list[int], str] | None:
    """The exact token count of each prompt of a request, and how it was had; None when it is malformed."""
    if endpoint is CHAT:
        messages, tools = body.get("messages"), body.get("tools")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return None
        rule = "the Cookbook's message rule" + (" and its tools rule" if tools else "")
        return [chat_prompt_tokens(enc, messages, tools if isinstance(tools, list) else None)], f"{enc.name}, {rule}"
    counts = tokens.prompt_token_counts(enc, body.get("prompt"))
    return None if counts is None else (counts, f"{enc.name}, {len(counts)} prompt(s)")


def _only_choice(r: Recorded, probe: str) -> dict[str, Any] | None:
    try:
        choices = r.choices(probe)
    except (Skip, Refused, Fail, Inconclusive):
        return None
    return choices[0] if len(choices) == 1 and isinstance(choices[0].get("text"), str) else None


def _only_answer(r: Recorded, probe: str) -> Answer | None:
    """The one choice of a successful chat answer (content or tool calls), or None."""
    try:
        answers = r.answers(probe)
    except (Skip, Refused, Fail, Inconclusive):
        return None
    return answers[0] if len(answers) == 1 and (isinstance(answers[0].content, str) or answers[0].tool_calls) else None


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
    for probe in _PROBES[r.endpoint][1]:
        reported = _usage_field(r, probe, "completion_tokens")
        row = _chat_completion_row(r, enc, probe) if r.endpoint is CHAT else _completion_row(r, enc, probe)
        if reported is not None and row is not None:
            counted, low, high, how = row
            rows.append(Billed(probe, reported, counted, low, high, how))
    return _verdict(rows, "completion_tokens", foreign_tokens(r, enc))


Counted = tuple[int, int, int, str]  # counted, lowest and highest allowed, how


def _completion_row(r: Recorded, enc: tokens.Encoding, probe: str) -> Counted | None:
    choice = _only_choice(r, probe)
    if choice is None:
        return None
    return _text_row(enc, choice["text"], r.returned_tokens(probe), choice.get("finish_reason"), "text")


def _text_row(enc: tokens.Encoding, text: str, listed: list[Any] | None, finish: Any, what: str) -> Counted:
    stop = 1 if finish == "stop" else 0
    if listed is not None and all(isinstance(t, str) for t in listed):
        # The tokens the answer itself lists: exact, whatever tokenization the model chose.
        return len(listed), len(listed), len(listed) + stop, "tokens listed in logprobs"
    # Re-encoding gives the canonical tokenization; a model may emit a non-canonical one (one more).
    counted = enc.count(text)
    return counted, counted, counted + 1 + stop, f"{enc.name} re-encoding of the {what}"


def _chat_completion_row(r: Recorded, enc: tokens.Encoding, probe: str) -> Counted | None:
    """A chat answer's content as Completions' text; its tool calls by their arguments' tokens (a lower bound), with
    each call's name and TOOL_CALL_OVERHEAD allowed on top (no published rule)."""
    answer = _only_answer(r, probe)
    if answer is None:
        return None
    if not answer.tool_calls:
        return _text_row(enc, answer.content or "", answer.logprob_tokens(), answer.finish_reason, "content")
    functions = [c.get("function") if isinstance(c, dict) else None for c in answer.tool_calls]
    texts = [(f.get("name"), f.get("arguments")) for f in functions if isinstance(f, dict)]
    if len(texts) != len(functions) or not all(isinstance(n, str) and isinstance(a, str) for n, a in texts):
        return None  # a call without a string name and arguments (chat.tools judges it): nothing to count
    low = enc.count(answer.content or "") + sum(enc.count(a) for _, a in texts)
    allowance = sum(enc.count(n) + TOOL_CALL_OVERHEAD for n, _ in texts)
    return low, low, low + allowance + 1, (f"{enc.name}: {len(texts)} call(s)' arguments, their names and "
                                           f"{TOOL_CALL_OVERHEAD} more each allowed")


TokenSeen = tuple[str, bytes]  # how an answer labels a token, and the bytes it stands for


def _listed(r: Recorded, probe: str) -> tuple[list[TokenSeen], list[TokenSeen]] | None:
    """The tokens a logprobs answer lists, and its top_logprobs alternatives (chat: ``logprobs.content``)."""
    if r.endpoint is CHAT:
        answer = _only_answer(r, probe)
        content = answer.logprobs.get("content") if answer and isinstance(answer.logprobs, dict) else None
        if not isinstance(content, list):
            return None
        entries = [e for e in content if isinstance(e, dict) and isinstance(e.get("token"), str)]
        tops = [t for e in entries if isinstance(e.get("top_logprobs"), list) for t in e["top_logprobs"]]
        return [_chat_token(e) for e in entries], [_chat_token(t) for t in tops
                                                   if isinstance(t, dict) and isinstance(t.get("token"), str)]
    choice = _only_choice(r, probe)
    lp = choice.get("logprobs") if choice else None
    if not isinstance(lp, dict) or not isinstance(lp.get("tokens"), list):
        return None
    listed = [t for t in lp["tokens"] if isinstance(t, str)]
    alternatives = [k for top in lp.get("top_logprobs") or [] if isinstance(top, dict) for k in top]
    return [(t, bytes_of_label(t)) for t in listed], [(t, bytes_of_label(t)) for t in alternatives]


def _chat_token(entry: dict[str, Any]) -> TokenSeen:
    """A chat logprobs entry as the bytes it stands for: its ``bytes`` where they are the token's (its UTF-8, or a
    piece of a character only bytes can say), else its label (bytes that disagree with their token are
    chat.logprobs.truth's finding, not the tokenizer's)."""
    token, raw = entry["token"], entry.get("bytes")
    if not isinstance(raw, list) or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256
                                            for b in raw):
        return token, bytes_of_label(token)
    data = bytes(raw)
    try:
        return token, data if data.decode("utf-8") == token else bytes_of_label(token)
    except UnicodeDecodeError:
        return token, data


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
    for probe in _PROBES[r.endpoint][2]:
        found = _listed(r, probe)
        if found is None:
            continue
        listed, alternatives = found
        ids = [enc.token_id(data) for _, data in listed]
        joined = b"".join(data for _, data in listed)
        try:
            text = joined.decode("utf-8")
        except UnicodeDecodeError:  # the answer ends inside a character: its split cannot be re-made from text
            text = None
        answers += 1
        if text is not None and all(data for _, data in listed) and enc.encode(text) != ids:
            resplit.append((probe, [label for label, _ in listed], [enc.label(i) for i in enc.encode(text)]))
        seen += len(listed) + len(alternatives)
    if not seen:
        raise Skip("no logprobs answer listed tokens")
    # A model may emit a split its tokenizer would not make (a runner-up token taken once, by sampling or a
    # temperature-0 flip: the reference provider's faithful `divergence`); another tokenizer splits most answers
    # its own way. So a split is evidence only when most answers show one.
    if len(resplit) >= max(MIN_RESPLIT, answers / 2):
        probe, listed_labels, own = resplit[0]
        return Fail(
            f"the tokens listed are not {enc.name}'s split of their own text, in {len(resplit)} of {answers} answers",
            expected=f"{enc.name}: {own}",
            observed=f"{probe}: {listed_labels}",
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
    result = cross_match(r.exchanges, r.model, r.endpoint)
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
    shown = _shown(answers)
    if not first.replays(again):
        return _not_replayed(first, again, shown)
    shared = other_user.replays(first)
    return Fail(
        "answers replayed from a cache: the same request at temperature 1, sent twice, got the first completion "
        "back (same id, same text)" + (", and so did another user: one user's answer is served to another"
                                        if shared else "; another user got a fresh one (the cache keys on user)"),
        expected="two completions, each sampled, each with its own id",
        observed=shown,
        probe=again.probe,
    )




def _shown(answers: list[Sampled]) -> str:
    return "; ".join(f"{a.probe}: id {a.id!r}, text {a.text!r}" for a in answers)


def _not_replayed(first: Sampled, again: Sampled, shown: str) -> Outcome:
    if first.text == again.text and first.id != again.id:
        shown += (" (the same text under two ids: a peaked model, a seed honoured, or a cache that mints ids; not "
                  "judged)")
    return Pass(observed=shown)


@check(
    "chat.identity.response-cache",
    title="the same seeded request at temperature 1, sent again once answered, is a new completion with its own id",
    clause='CreateChatCompletionResponse.id: "A unique identifier for the chat completion"; '
    'CreateChatCompletionRequest.seed: "repeated requests with the same seed and parameters should return the same '
    'result": the same text, as a new completion (each its own id), never the first one replayed',
    level=Level.SHOULD,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=("chat-seed-a", "chat-seed-b"),
    fails_on=("response-cache",),
    deviations=("D85",),
)
def chat_response_cache(r: Recorded) -> Outcome:
    """Chat reads the seed probes (two identical temperature-1 requests, the second sent once the first is
    answered): no request is added, and a cache that replays them is told from a seed honoured by the id."""
    answers = [Sampled(p, r.ok_json(p).get("id"), r.text(p)) for p in ("seed-a", "seed-b")]
    first, again = answers
    if not first.replays(again):
        return _not_replayed(first, again, _shown(answers))
    return Fail("answers replayed from a cache: the same request at temperature 1, sent again, got the first "
                "completion back (same id, same text)", expected="a new completion with its own id (the same text "
                "if the seed is honoured)", observed=_shown(answers), probe=again.probe)


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


# -- the same on Chat Completions, and the message overhead ----------------------------------------------------

COOKBOOK = ('OpenAI Cookbook "How to count tokens with tiktoken" (num_tokens_from_messages, num_tokens_for_tools): '
            "3 tokens per message plus the tokens of its values, 1 per name, 3 priming the reply; the tools rule")


@check(
    "chat.identity.message-overhead",
    title="each copy of a user message adds one message as the Cookbook counts it, on top of the 3 that prime the "
    "reply: the per-message overhead billed, no hidden system prompt",
    clause=f'CompletionUsage.prompt_tokens: "Number of tokens in the prompt"; {COOKBOOK}',
    level=Level.MUST,
    feature=f"{CHAT.prefix}{FEATURE}",
    probes=tuple(CHAT.probe_id(p) for p in REPEATS),
    fails_on=("hidden-system-prompt", "usage-content-only"),
    deviations=("D60", "D61", "D45"),
)
def message_overhead(r: Recorded) -> Outcome:
    """The slope and intercept of prompt_tokens over 1, 2 and 3 copies of one user message (TrueLLMs' slope test,
    with the exact rule): the slope is one message (3 + its role and content), the intercept the reply priming.
    A hidden system prompt shows as a larger intercept; usage counted from the content alone as a smaller slope."""
    enc = encoding_of(r)
    points = [(k, b) for k, probe in enumerate(REPEATS, 1) if (b := billed(r, probe)) is not None]
    if len(points) < len(REPEATS):
        raise Skip("the repeated messages did not all come back with usage")
    shown = "; ".join(str(b) for _, b in points)
    slope, intercept = fit(points)
    k3, b3 = points[2]
    if b3.prompt_tokens != intercept + slope * k3:
        return Fail("prompt_tokens does not grow linearly with the copies of a message",
                    f"{intercept} + {slope} x {k3} = {intercept + slope * k3}", shown, b3.probe)
    messages = points[0][1].body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        raise Skip("the repeated request carries no message to count")
    per_message = chat_prompt_tokens(enc, messages[:1]) - REPLY_PRIMING
    if slope != per_message and (foreign := foreign_tokens(r, enc)):
        return Fail(f"each copy of the message is billed {slope} tokens where {enc.name} counts {per_message}: "
                    f"{foreign.cause()}", f"{per_message} per copy", f"{slope} per copy: {shown}", points[1][1].probe)
    if slope != per_message:
        content = enc.count(content_text(messages[0].get("content")))
        why = (": the content alone is billed (no per-message overhead, no role)" if slope == content
               else ": the per-message overhead is not billed" if slope == per_message - TOKENS_PER_MESSAGE else "")
        return Fail(f"each copy of the message is billed {slope} tokens where {enc.name} and the Cookbook's rule "
                    f"count {per_message}{why}",
                    f"{per_message} per copy ({TOKENS_PER_MESSAGE} per message, its role and its content)",
                    f"{slope} per copy: {shown}", points[1][1].probe)
    if intercept != REPLY_PRIMING:
        more = intercept - REPLY_PRIMING
        why = (f"{more} tokens more than the prompt are billed on every request: a hidden system prompt?" if more > 0
               else f"{-more} tokens fewer than the prompt's are billed on every request (the reply priming missed?)")
        return Fail(why, f"intercept {REPLY_PRIMING} (the tokens that prime the reply)", f"intercept {intercept}: "
                    f"{shown}", points[0][1].probe)
    return Pass(f"{slope} tokens per copy of the message, intercept {intercept}", observed=shown)


_CHAT_SHARED = {  # check: (short probe names on chat, the quirks that prove it there, its deviations)
    prompt_tokens: (CHAT_PROMPT_PROBES, ("hidden-system-prompt", "usage-content-only", "usage-multiplied"),
                    ("D45", "D47", "D60", "D61")),
    completion_tokens: (CHAT_COMPLETION_PROBES, ("usage-inflated", "usage-multiplied"), ("D45", "D47")),
    tokenizer: (CHAT_LOGPROBS_PROBES, ("tokenizer-swapped",), ("D47",)),
    cheaper_model: (None, ("cheap-model-under-name",), ("D47",)),
    model_listed: (None, ("models-list-omits-claimed",), ("D47",)),
}
_CHAT_CLAUSES = {
    prompt_tokens: f'CompletionUsage.prompt_tokens: "Number of tokens in the prompt"; {COOKBOOK}',
    completion_tokens: f"{USAGE_CLAUSE} Content is counted as Completions' text (one more allowed at a stop); a tool "
    f"call by its arguments' tokens, with its name's and {TOOL_CALL_OVERHEAD} more allowed (no published rule, "
    "openai-chat-facts §4)",
    tokenizer: "CreateChatCompletionResponse.model names the model that answered; ChatCompletionTokenLogprob.bytes "
    '"the UTF-8 bytes representation of the token": the claimed model\'s tokenizer defines which can be listed',
}
CHAT_CHECKS = (
    *(on_endpoint(c, CHAT, probes=probes, fails_on=quirks, deviations=deviations, clause=_CHAT_CLAUSES.get(c))
      for c, (probes, quirks, deviations) in _CHAT_SHARED.items()),
    message_overhead,
    chat_response_cache,
)
CHECKS += CHAT_CHECKS
