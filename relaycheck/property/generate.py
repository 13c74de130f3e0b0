"""Cases from the OpenAPI document, drawn with schemathesis 4 strategies under a fixed Hypothesis seed.

Nothing here touches the network. Generation and sending are separate steps on purpose: every request then goes
through :class:`relaycheck.transport.client.ProviderClient` (budget, rate limit, Retry-After, bounded reads), and
Hypothesis never shrinks against a paid endpoint (only the ``generate`` phase runs; no coverage, no stateful
phase, no example database).

- positive: ``op.as_strategy(GenerationMode.POSITIVE)``, clamped (:mod:`relaycheck.property.clamp`), kept only if
  still valid against ``CreateCompletionRequest``;
- negative: ``op.as_strategy(GenerationMode.NEGATIVE)`` with security parameters off (we always send our own
  Authorization), kept only if the body (after the clamps that keep it invalid) does *not* validate: schemathesis
  may call a mutation negative that the document allows;
- examples: ``op.get_strategies_from_examples()``: the request examples the document carries.

Each operation has its :class:`OperationRules` in :data:`RULES`: Completions' ``createCompletion`` and chat's
``createChatCompletion``, whose bodies are valid only when they keep the contract's x-rules too
(:mod:`relaycheck.spec.chat_rules`): positives are written in valid role order where that is cheap
(:mod:`relaycheck.property.conversation`) and dropped otherwise, and a negative may be one that breaks an x-rule
only.

Bodies are deduplicated; generation draws several times the wanted count and keeps the first distinct ones.

The cases are a function of the seed and the package versions only (:func:`_hermetic_hypothesis`): not of how
relaycheck was installed, what else the process imported, or what a previous run cached; and nothing is written to
the working directory.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema.protocols import Validator

from relaycheck.endpoint import Endpoint
from relaycheck.property.bounds import chat_generation_document, generation_document
from relaycheck.property.clamp import (
    CHAT_CLAMPS,
    MAX_TOKENS,
    Body,
    Validity,
    WithRules,
    clamp_chat_negative,
    clamp_chat_positive,
    clamp_negative,
    clamp_positive,
    sanitize,
)
from relaycheck.property.plan import MAX_DOCUMENT_EXAMPLES
from relaycheck.spec import load_contract
from relaycheck.spec.chat_rules import breaches
from relaycheck.spec.contract import contract_path
from relaycheck.transport.budget import worst_case_tokens

OPERATION_ID = "createCompletion"  # Completions; a case set is drawn for one operation of one document
CHAT_OPERATION_ID = "createChatCompletion"
DRAWS_PER_CASE = 5  # Hypothesis draws per wanted case (duplicates and skipped cases are common)
EXTRA_DRAWS = 10
ROUND = 8  # draws per Hypothesis run (see _draw_rounds)
# A negative case costs nothing on a conformant provider (it is rejected); on one that accepts it, this caps the
# damage (n: 129 out of range and accepted would cost 129 × max_tokens × prompts).
NEGATIVE_COST_CAP = MAX_TOKENS * 128 * 2

_LOCK = threading.Lock()  # Hypothesis and the schemathesis schema are used from one thread at a time


@dataclass(frozen=True)
class Case:
    kind: str  # "positive" | "negative" | "example"
    body: dict[str, Any] | str  # a str is sent as-is (negative cases that are not JSON at all)
    why: str  # what schemathesis says the case is (e.g. "violates `maximum` at /properties/n")
    endpoint: Endpoint = Endpoint.COMPLETIONS

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body, ensure_ascii=False)

    @property
    def worst_case_tokens(self) -> int:
        return worst_case_tokens(self.body if isinstance(self.body, dict) else None, self.endpoint)


@dataclass
class Generated:
    seed: int
    positive: list[Case] = field(default_factory=list)
    negative: list[Case] = field(default_factory=list)
    examples: list[Case] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> how many drawn cases were dropped

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass(frozen=True)
class OperationRules:
    """What drawing one operation's cases needs besides its document: the request schema every body is checked
    against (valid positives, invalid negatives), the rules it cannot state (chat's x-rules: a body that breaks
    one is invalid too), the clamps that make a body cheap, the document the cases are drawn from (the contract
    bounded to what the clamps send), and the endpoint its requests go to."""

    request_schema: str
    clamp_positive: Callable[[Any, str, Validity], Body | None]
    clamp_negative: Callable[[Body, str, Validity], Body]
    drawn_from: Callable[[dict[str, Any]], dict[str, Any]] = copy.deepcopy
    endpoint: Endpoint = Endpoint.COMPLETIONS
    x_rules: Callable[[Any], list[Any]] | None = None

    def validity(self, validator: Validator) -> Validity:
        return validator if self.x_rules is None else WithRules(validator, self.x_rules)

    def invalid_because(self, validator: Validator, body: Any) -> str:
        """Why a body is invalid, in a few words: the schema, or the first x-rule it breaks."""
        if not validator.is_valid(body):
            return "breaks the schema"
        broken = self.x_rules(body) if self.x_rules else []
        return f"breaks x-rule {broken[0].rule} at {broken[0].param}" if broken else "valid"


RULES = {
    OPERATION_ID: OperationRules("CreateCompletionRequest", clamp_positive, clamp_negative, generation_document),
    CHAT_OPERATION_ID: OperationRules("CreateChatCompletionRequest", clamp_chat_positive, clamp_chat_negative,
                                      chat_generation_document, Endpoint.CHAT, breaches),
}


def rules_for(operation_id: str) -> OperationRules:
    rules = RULES.get(operation_id)
    if rules is None:
        raise ValueError(f"no generation rules for operation {operation_id!r} (known: {', '.join(sorted(RULES))})")
    return rules


@functools.lru_cache(maxsize=4)
def _operation(path: Path, operation_id: str) -> Any:
    """The operation as schemathesis sees it, under a configuration that is all relaycheck's own.

    The configuration is passed, never discovered: without one, schemathesis reads a ``schemathesis.toml`` from
    the working directory or any parent up to a git root (``SchemathesisConfig.discover``), so running inside a
    project that has one would change the cases. No base URL is needed: only bodies are drawn, and the requests go
    through relaycheck's own client.

    ``codec=None`` draws from every code point but the surrogates, which is exactly what UTF-8 can encode; the
    default ``codec="utf-8"`` spells the same alphabet but has Hypothesis tabulate it by encoding all 1,114,112
    code points (``intervals_from_codec``: about 1 s of CPU and 150 MB at peak), a table it would otherwise cache
    under ``.hypothesis/``, which a hermetic draw does not keep (:func:`_hermetic_hypothesis`). schemathesis's
    ``Alphabet`` (4.32) excludes category Cs when no codec is given: the same intervals, so the same cases.
    schemathesis 4.27.4 (the lowest allowed) draws surrogates too without a codec; the clamps turn each into
    U+FFFD (:func:`~relaycheck.property.clamp.sanitize`), so every case is still sendable, and still a function
    of the seed and the package versions.
    """
    import schemathesis
    from schemathesis.config import GenerationConfig, ProjectConfig, ProjectsConfig, SchemathesisConfig

    generation = GenerationConfig(with_security_parameters=False, allow_x00=False, codec=None)
    config = SchemathesisConfig(projects=ProjectsConfig(default=ProjectConfig(generation=generation)))
    document = rules_for(operation_id).drawn_from(load_contract(path).document)
    return schemathesis.openapi.from_dict(document, config=config).find_operation_by_id(operation_id)


@contextlib.contextmanager
def _hermetic_hypothesis() -> Iterator[None]:
    """Hypothesis as a pure function of the seed for the duration of a generation, leaving no files behind.

    Hypothesis (since 6.131) draws, a few times in a hundred, a literal it collected from the source of every
    loaded module outside site-packages and the standard library (``_get_local_constants`` in
    ``hypothesis.internal.conjecture.providers``). Which modules those are depends on the install (an editable
    install's source tree counts, a regular install's site-packages does not) and on what else the process loaded
    (a user's conftest, a script): the same seed then gives different requests, and nightly diffs stop comparing
    like with like. No setting turns this off (``database=None``, ``phases`` and ``derandomize`` do not touch it),
    so while we draw the local pool is empty and the cache of allowed constants is cleared (it may hold another
    caller's pool). Hypothesis also caches its Unicode tables and those constants under ``./.hypothesis``: a
    temporary storage directory is used instead and removed after. The previous state is restored, so a user's
    own Hypothesis tests in the same process are unaffected. Callers hold ``_LOCK``.
    """
    from hypothesis import configuration
    from hypothesis.internal.conjecture import providers

    collect = getattr(providers, "_get_local_constants", None)  # absent before Hypothesis 6.131: nothing to do
    allowed = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    home = vars(configuration).get("__hypothesis_home_directory")
    with tempfile.TemporaryDirectory(prefix="relaycheck-hypothesis-") as storage:
        configuration.set_hypothesis_home_dir(storage)
        if collect is not None:
            empty = providers.Constants()
            providers._get_local_constants = lambda: empty
        if allowed is not None:
            allowed.clear()
        try:
            yield
        finally:
            if collect is not None:
                providers._get_local_constants = collect
            if allowed is not None:
                allowed.clear()
            configuration.set_hypothesis_home_dir(home)


class _Enough(Exception):  # noqa: N818 - a stop signal, not an error
    pass


def _draw(strategy: Any, count: int, seed: int, take: Callable[[Any], bool] | None = None) -> list[Any]:
    """Up to ``count`` draws from ``strategy``, deterministic for a seed; generate phase only.

    ``take`` sees each draw and returns True once it has all it wants: drawing stops there (Hypothesis replays
    the stopping draw once to report it, which ``take`` does not see).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    drawn: list[Any] = []
    full = False

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
    )
    @hypothesis_seed(seed)
    @given(strategy)
    def collect(case: Any) -> None:
        nonlocal full
        if full:
            raise _Enough
        drawn.append(case)
        if take is not None and take(case):
            full = True
            raise _Enough

    if count > 0:
        with contextlib.suppress(_Enough):
            collect()
    return drawn


def _body_only(case: Any) -> bool:
    """The case breaks nothing but its body (headers, query, path and cookies are as the document says)."""
    from schemathesis.core.parameters import ParameterLocation

    if case.headers or case.query or case.cookies or case.path_parameters:
        return False
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    location = getattr(data, "parameter_location", None)
    return location in (None, ParameterLocation.BODY)


def _raw_text(body: Any) -> str | None:
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        return body
    return None


def generate_cases(
    seed: int,
    positive: int,
    negative: int,
    model: str,
    *,
    examples: bool = True,
    document: Path | None = None,
    operation_id: str = OPERATION_ID,
) -> Generated:
    """Draw, clamp, filter and deduplicate up to ``positive`` / ``negative`` cases (plus the document's examples)
    for one operation of one document: a pure function of its arguments and the package versions."""
    from schemathesis import GenerationMode

    rules = rules_for(operation_id)
    path = Path(document or contract_path(rules.endpoint)).resolve()
    schema = load_contract(path).validator(rules.request_schema)
    validator = rules.validity(schema)
    out = Generated(seed)
    positives, negatives = _Picker("positive", positive, out), _Picker("negative", negative, out)
    offered = 0

    def take_positive(case: Any) -> bool:
        nonlocal offered
        raw = case.body
        if isinstance(raw, dict) and offered % 2 == 1 and raw.get("stream") is not True:
            # Every other positive case is streamed: left alone, the generator rarely picks stream: true.
            raw = {**raw, "stream": True}
        offered += 1
        body = rules.clamp_positive(raw, model, validator)
        if body is None:
            out.skip(_dropped("positive", raw, model, schema, rules))
        else:
            positives.offer(Case("positive", body, "valid request", rules.endpoint))
        return positives.full

    def take_negative(case: Any) -> bool:
        candidate = _negative(out, case, model, schema, rules)
        if candidate is not None:
            negatives.offer(candidate)
        return negatives.full

    with _LOCK, _hermetic_hypothesis():
        op = _operation(path, operation_id)
        if positive:
            _draw_rounds(op.as_strategy(generation_mode=GenerationMode.POSITIVE), positive, seed, take_positive)
        if negative:
            _draw_rounds(op.as_strategy(generation_mode=GenerationMode.NEGATIVE), negative, seed, take_negative)
        if examples:
            from hypothesis import strategies as st

            strategies = op.get_strategies_from_examples()
            if strategies:
                (drawn,) = _draw(st.tuples(*strategies), 1, seed)
                for case in drawn:
                    body = rules.clamp_positive(case.body, model, validator)
                    if body is None:
                        out.skip(_dropped("example", case.body, model, schema, rules))
                    elif len(out.examples) >= MAX_DOCUMENT_EXAMPLES:
                        out.skip("example: over the cap of document examples")
                    elif all(body != c.body for c in out.examples):
                        out.examples.append(Case("example", body, "document example", rules.endpoint))
    out.positive, out.negative = positives.finish(), negatives.finish()
    return out


def _dropped(kind: str, raw: Any, model: str, schema: Validator, rules: OperationRules) -> str:
    """The reason a drawn valid body is not sent, as ``Generated.skipped`` counts it."""
    if rules.x_rules is None or not isinstance(raw, dict):
        return f"{kind}: invalid once clamped"
    clamped = sanitize(raw)
    for clamp in CHAT_CLAMPS:
        clamp(clamped, model)
    if not clamped.get("messages"):
        return f"{kind}: no message left in role order once clamped"
    return f"{kind}: {rules.invalid_because(schema, clamped).split(' at ')[0]} once clamped"


def _draw_rounds(strategy: Any, wanted: int, seed: int, take: Callable[[Any], bool]) -> None:
    """Draw in short rounds, each under its own seed derived from ``seed``.

    A Hypothesis run explores early and mutates late; for a handful of requests, the early draws of several runs
    cover more of the document than the late draws of one (which are mostly near-copies).
    """
    total = wanted * DRAWS_PER_CASE + EXTRA_DRAWS
    done = False

    def guarded(case: Any) -> bool:
        nonlocal done
        done = done or take(case)
        return done

    for round_ in range(-(-total // ROUND)):
        _draw(strategy, ROUND, seed * 1_000 + round_, guarded)
        if done:
            return


class _Picker:
    """Distinct cases, spread over families: Hypothesis mutates one draw into many near-copies, and five cases
    that all omit ``model`` test less than five that break five different things. Each family (what a negative
    case breaks; which fields a positive case sets) gets at most a quarter of the places until the draws run out;
    the rest are then filled in draw order."""

    def __init__(self, kind: str, limit: int, out: Generated) -> None:
        self.kind, self.limit, self.out = kind, limit, out
        self.cap = max(1, -(-limit // 4))
        self.cases: list[Case] = []
        self.reserve: list[Case] = []
        self.families: dict[str, int] = {}
        self.seen: set[str] = set()

    @property
    def full(self) -> bool:
        return len(self.cases) >= self.limit

    def offer(self, case: Case) -> None:
        if case.text in self.seen:
            self.out.skip(f"{self.kind}: duplicate")
            return
        self.seen.add(case.text)
        family = _family(case)
        if not self.full and self.families.get(family, 0) < self.cap:
            self.families[family] = self.families.get(family, 0) + 1
            self.cases.append(case)
        else:
            self.reserve.append(case)

    def finish(self) -> list[Case]:
        return self.cases + self.reserve[: max(0, self.limit - len(self.cases))]


def _family(case: Case) -> str:
    if case.kind == "negative":
        return re.sub(r"\s*\(was .*?\)", "", case.why)
    body = case.body if isinstance(case.body, dict) else {}
    if case.endpoint is Endpoint.CHAT:
        roles = [m.get("role") for m in body.get("messages") or [] if isinstance(m, dict)]
        extra = sorted(set(body) - {"model", "messages", "max_tokens", "max_completion_tokens", "stream"})
        return f"{body.get('stream') is True}|{'>'.join(map(str, roles))}|{','.join(extra)}"
    prompt = body.get("prompt")
    shape = type(prompt).__name__ + (f"[{type(prompt[0]).__name__}]" if isinstance(prompt, list) and prompt else "")
    extra = sorted(set(body) - {"model", "prompt", "max_tokens", "stream"})
    return f"{body.get('stream') is True}|{shape}|{','.join(extra)}"


def _negative(out: Generated, case: Any, model: str, schema: Validator, rules: OperationRules) -> Case | None:
    """The case to send for a negative draw, or None (recorded in ``out.skipped``) when it must not be sent.

    A body the schema allows but an x-rule does not is a negative case too; its ``why`` names the rule."""
    if not _body_only(case):
        out.skip("negative: breaks headers, not the body")
        return None
    validator = rules.validity(schema)
    endpoint = rules.endpoint
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    why = str(getattr(data, "description", "") or "negative case").replace("\n", " ").strip()
    text = _raw_text(case.body)
    if text is not None:
        try:
            parsed = json.loads(text)
        except ValueError:
            return Case("negative", text, why, endpoint)  # not JSON at all
        if validator.is_valid(parsed):
            out.skip("negative: body is in fact valid")
            return None
        return Case("negative", text, _why(why, rules, schema, parsed), endpoint)
    if validator.is_valid(case.body):
        out.skip("negative: body is in fact valid")
        return None
    if not isinstance(case.body, dict):
        return Case("negative", json.dumps(sanitize(case.body)), why, endpoint)
    body = rules.clamp_negative(case.body, model, validator)
    candidate = Case("negative", body, _why(why, rules, schema, body), endpoint)
    if candidate.worst_case_tokens > NEGATIVE_COST_CAP:
        out.skip("negative: too costly should the provider accept it")
        return None
    return candidate


def _why(drawn: str, rules: OperationRules, schema: Validator, body: Any) -> str:
    """What a negative case breaks: schemathesis's words, or the x-rule when the schema allows the body."""
    return drawn if schema.is_valid(body) is False else rules.invalid_because(schema, body)
