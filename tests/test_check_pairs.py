"""Every check passes on the conformant reference provider and fails on the quirk that reproduces its deviation.

This is what makes a verdict trustworthy: a check with no provider it fails on could be asserting nothing, and a
check that fails on the conformant server would be failing providers for what the spec allows. Each check declares
its proof in the catalogue (``fails_on``: the quirk sets it must fail on); the test fails if a catalogued check
declares none, names a quirk the reference server lacks, or is proven by a quirk that reproduces none of the
deviations the check says it detects.
"""

from __future__ import annotations

import pytest

from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.checks.model import Grade, Level, Verdict
from relaycheck.config.providers import embedded_reference
from relaycheck.runner.engine import certify
from relaycheck.server.quirks import all_quirks
from relaycheck.spec.contracts import load_contracts

CATALOGUE = load_catalogue()

@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _run(quirks: tuple[str, ...], catalogue: Catalogue) -> dict[str, Verdict]:
    (run,) = certify([embedded_reference(quirks=quirks)], catalogue, load_contracts())
    return {v.check: v for v in run.verdicts}


def _quirk_sets() -> list[tuple[str, ...]]:
    return sorted({quirks for c in CATALOGUE.checks for quirks in c.fails_on})


def test_every_check_has_a_failing_pair(catalogue: Catalogue) -> None:
    missing = sorted(c.id for c in catalogue.checks if not c.fails_on)
    assert not missing, f"checks with no quirk that makes them fail: {missing}"
    quirks = {q.name: q for q in all_quirks()}
    unknown = {q for c in catalogue.checks for quirk_set in c.fails_on for q in quirk_set} - set(quirks)
    assert not unknown, f"checks name quirks the reference server lacks: {sorted(unknown)}"
    benign = {q for c in catalogue.checks for quirk_set in c.fails_on for q in quirk_set if quirks[q].benign}
    assert not benign, f"a benign variation cannot prove a check fails: {sorted(benign)}"


def test_each_proof_reproduces_a_deviation_the_check_detects(catalogue: Catalogue) -> None:
    """A check's proof and its claim agree: some quirk of each proving set reproduces one of its deviations."""
    quirks = {q.name: q for q in all_quirks()}
    disagree = {
        c.id: (c.deviations, quirk_set)
        for c in catalogue.checks
        for quirk_set in c.fails_on
        if not {quirks[q].deviation for q in quirk_set} & set(c.deviations)
    }
    assert not disagree, f"proof quirks reproduce none of the check's deviations: {disagree}"


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
    targets = [c.id for c in catalogue.checks if quirks in c.fails_on]
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
