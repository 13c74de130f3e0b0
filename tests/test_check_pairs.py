"""Every check passes on the conformant reference provider and fails on the quirk that reproduces its deviation.

This is what makes a verdict trustworthy: a check with no provider it fails on could be asserting nothing, and a
check that fails on the conformant server would be failing providers for what the spec allows. The test fails if
any catalogued check lacks a pair here.
"""

from __future__ import annotations

import pytest

from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.checks.model import Grade, Level, Verdict
from relaycheck.config.providers import embedded_reference
from relaycheck.runner.engine import certify
from relaycheck.server.quirks import all_quirks
from relaycheck.spec import load_contract

# check id -> the quirk sets (each a tuple of quirk names switched on together) on which it must fail.
PAIRS: dict[str, tuple[tuple[str, ...], ...]] = {
    "shape.content-type": (("json-as-sse",),),
    "shape.schema": (("logprobs-key-omitted",), ("created-float",)),
    "shape.object": (("chat-object",),),
    "shape.id": (("empty-id",),),
    "shape.id-prefix": (("chatcmpl-id",),),
    "shape.created": (("created-float",), ("created-millis",)),
    "shape.model": (("model-substituted",),),
    "shape.finish-reason": (("finish-reason-eos",),),
    "shape.logprobs-key": (("logprobs-key-omitted",),),
    "shape.usage-present": (("usage-missing",),),
    "shape.usage-total": (("usage-total-wrong",),),
    "shape.usage-nonzero": (("usage-zero",),),
    "shape.usage-matches-tokens": (("usage-inflated",),),
    "shape.raw-continuation": (("chat-template",),),
    "defaults.max-tokens": (("max-tokens-default-unlimited",),),
    "defaults.n": (("n-default-2",),),
    "defaults.echo": (("echo-default-on",),),
    "defaults.logprobs": (("logprobs-default-on",),),
    "params.max-tokens": (("drop-max-tokens",), ("usage-inflated",)),
    "params.stop-string": (("drop-stop",), ("stop-included",)),
    "params.stop-list": (("drop-stop",), ("stop-included",)),
    "params.n": (("drop-n",),),
    "params.best-of": (("best-of-returns-all",),),
    "params.echo": (("drop-echo",),),
    "params.logprobs-shape": (("chat-logprobs",), ("logprobs-bool",)),
    "params.logprobs-text": (("logprobs-tokens-mismatch",),),
    "params.logprobs-offsets": (("logprobs-offsets-wrong",),),
    "params.logprobs-top": (("logprobs-too-many-top",),),
    "params.logprobs-zero": (("logprobs-zero-null",),),
    "params.echo-logprobs": (("echo-logprobs-first-not-null",),),
    "params.prompt-list": (("prompt-list-first-only",),),
    "params.prompt-tokens": (("token-prompt-500",),),
    "params.prompt-token-lists": (("token-prompt-500",),),
    "params.float-sampling": (("integer-temperature",),),
    "params.seed": (("ignore-seed",),),
    "params.logit-bias": (("drop-logit-bias",),),
    # A clean 4xx for suffix is `unsupported`; a 5xx is a failure.
    "params.suffix": (("reject-explicit-defaults", "errors-500"),),
    "params.explicit-defaults": (("reject-explicit-defaults",),),
    "params.empty-prompt": (("one-api-prompt-validation",),),
    "stream.content-type": (("sse-as-json",),),
    "stream.data-json": (("non-json-data-line",),),
    "stream.done": (("no-done",),),
    "stream.nothing-after-done": (("data-after-done",),),
    "stream.chunk-schema": (("usage-chunk-no-choices",), ("chunk-object-chat",)),
    "stream.object": (("chunk-object-chat",),),
    "stream.id-stable": (("chunk-ids-vary",),),
    "stream.finish-once": (("stream-no-finish-reason",), ("finish-reason-every-chunk",)),
    "stream.text-matches": (("stream-drops-first-token",),),
    "stream.incremental": (("stream-buffered",),),
    "stream.usage-chunk": (("usage-chunk-missing",), ("usage-on-last-content-chunk",)),
    "stream.usage-null-elsewhere": (("usage-zeros-every-chunk",),),
    "stream.no-usage-unasked": (("usage-chunk-forced",),),
    "stream.n-indices": (("stream-n-index-wrong",),),
    "stream.sse-fields": (("sse-error-field",),),
    "errors.auth-no-key": (("no-auth",),),
    "errors.auth-wrong-key": (("no-auth",),),
    "errors.unknown-model": (("unknown-model-503",), ("model-fallback",)),
    "errors.rejects-temperature": (("accept-out-of-range",),),
    "errors.rejects-top-p": (("accept-out-of-range",),),
    "errors.rejects-n": (("accept-out-of-range",),),
    "errors.rejects-logprobs": (("accept-out-of-range",),),
    "errors.rejects-stop-count": (("accept-out-of-range",),),
    "errors.rejects-best-of-below-n": (("no-best-of-n-rule",),),
    "errors.rejects-missing-prompt": (("one-api-prompt-validation",),),
    "errors.rejects-missing-model": (("default-model-when-missing",),),
    "errors.rejects-malformed-json": (("malformed-json-500",),),
    "errors.envelope": (("errors-flat",), ("unknown-model-503",)),
    "errors.fields-typed": (("errors-int-code",),),
    "errors.never-200": (("errors-200",),),
    "errors.not-html": (("errors-html",),),
    "errors.client-not-5xx": (("errors-500",), ("malformed-json-500",)),
    "errors.param-named": (("errors-param-null",),),
    # Property checks judge schemathesis-generated cases; each fails on a quirk the generated traffic meets.
    "property.positive-accepted": (("integer-temperature",),),
    "property.positive-response-schema": (("chat-object",), ("no-done",)),
    "property.negative-rejected": (("accept-out-of-range",),),
    "property.negative-envelope": (("errors-flat",),),
    "property.examples": (("chat-object",), ("reject-explicit-defaults",)),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _run(quirks: tuple[str, ...], catalogue: Catalogue) -> dict[str, Verdict]:
    (run,) = certify([embedded_reference(quirks=quirks)], catalogue, load_contract())
    return {v.check: v for v in run.verdicts}


def _quirk_sets() -> list[tuple[str, ...]]:
    return sorted({quirks for sets in PAIRS.values() for quirks in sets})


def test_every_check_has_a_failing_pair(catalogue: Catalogue) -> None:
    missing = sorted(set(catalogue.ids) - set(PAIRS))
    assert not missing, f"checks with no quirk that makes them fail: {missing}"
    assert not set(PAIRS) - set(catalogue.ids), "pairs for checks that are not catalogued"
    known = {q.name for q in all_quirks()}
    unknown = {q for sets in PAIRS.values() for quirks in sets for q in quirks} - known
    assert not unknown, f"pairs name quirks the reference server lacks: {sorted(unknown)}"


def test_conformant_reference_passes_every_check(catalogue: Catalogue) -> None:
    verdicts = _run((), catalogue)
    not_passed = {k: f"{v.grade}: {v.message} / {v.observed}" for k, v in verdicts.items() if v.grade is not Grade.PASS}
    assert not not_passed


def test_benign_variations_pass_every_check(catalogue: Catalogue) -> None:
    """SSE comments, CRLF, no space after data:, id/retry lines, extra fields, pretty JSON: all allowed."""
    benign = tuple(q.name for q in all_quirks() if q.benign)
    assert len(benign) >= 5
    verdicts = _run(benign, catalogue)
    not_passed = {k: f"{v.grade}: {v.message} / {v.observed}" for k, v in verdicts.items() if v.grade is not Grade.PASS}
    assert not not_passed


@pytest.mark.parametrize("benign", [q.name for q in all_quirks() if q.benign])
def test_each_benign_variation_alone_passes(benign: str, catalogue: Catalogue) -> None:
    streaming = catalogue.select(("stream", "shape", "errors"))
    verdicts = _run((benign,), streaming)
    assert all(v.grade is Grade.PASS for v in verdicts.values()), {
        k: v.message for k, v in verdicts.items() if v.grade is not Grade.PASS}


@pytest.mark.parametrize("quirks", _quirk_sets(), ids=lambda q: "+".join(q))
def test_quirk_fails_its_checks(quirks: tuple[str, ...], catalogue: Catalogue) -> None:
    targets = [c for c, sets in PAIRS.items() if quirks in sets]
    # Only the targeted checks (and so only the probes they read) are run: cheaper, and it keeps the pairs honest.
    selected = Catalogue(tuple(catalogue.get(t) for t in targets))
    verdicts = _run(quirks, selected)
    for check_id in targets:
        check = catalogue.get(check_id)
        verdict = verdicts[check_id]
        expected = Grade.FAIL if check.level is Level.MUST else Grade.WARN
        assert verdict.grade is expected, f"{check_id} with {quirks}: {verdict.grade} {verdict.message}"
        assert verdict.observed or verdict.expected, f"{check_id}: a failure must carry its evidence"
        assert verdict.probes, f"{check_id}: a failure must name the exchange that shows it"
