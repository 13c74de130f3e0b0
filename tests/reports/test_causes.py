"""Root causes: the grouping rule on small made-up reports, and on the evidence it was decided on (five faults of
the reference provider switched on together)."""

from __future__ import annotations

from pathlib import Path

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Level, Verdict
from relaycheck.config.providers import embedded_reference
from relaycheck.report.causes import causes
from relaycheck.report.document import build_report
from relaycheck.report.markdown import provider_markdown, terminal_summary
from relaycheck.report.model import CheckInfo, ProviderInfo, Report, SuiteInfo, VerdictRow
from relaycheck.runner.engine import certify
from relaycheck.spec.contracts import load_contracts

from .conftest import FIVE_FAULTS


def row(check: str, grade: Grade = Grade.FAIL, *, deviations: tuple[str, ...] = (), message: str = "wrong",
        expected: str | None = None, observed: str | None = None, probes: tuple[str, ...] = ("p",)) -> VerdictRow:
    info = CheckInfo(check, title=check, level=Level.MUST, feature=check.split(".")[0], deviations=deviations)
    return VerdictRow(info, Verdict(check, grade, message, expected, observed, probes))


def report(*rows: VerdictRow) -> Report:
    return Report(SuiteInfo("0", "rev", len(rows)), ProviderInfo("p"), "", "", 0.0, tuple(rows))


def test_refusals_answered_with_success_are_one_fault_whatever_the_checks_cite() -> None:
    found = causes(report(
        row("errors.a", deviations=("D13",), expected="HTTP 400 (4xx)", observed='HTTP 200 application/json: {"error"'),
        row("errors.b", deviations=("D10",), expected="HTTP 401", observed="HTTP 200 application/json: {}"),
        row("errors.c", deviations=("D40",), expected="HTTP 4xx", observed="HTTP 200: {}", probes=("q",)),
    ))
    assert [f.deviation for f in found.faults] == ["D40"]
    assert found.faults[0].checks == ("errors.a", "errors.b", "errors.c")
    assert "HTTP 200" in found.faults[0].symptom


def test_a_shared_value_or_field_links_checks_and_unrelated_ones_stay_apart() -> None:
    found = causes(report(
        row("shape.x", deviations=("D20",), observed="'eos_token'", probes=("a",)),
        row("stream.y", deviations=("D18", "D20"), message="chunk 3 violates the schema at choices/0/finish_reason",
            probes=("b",)),
        row("params.z", deviations=("D20",), message="finish_reason does not say why", probes=("c",)),
        row("params.stop", deviations=("D17",), observed="' 5, 6, 7'", probes=("d",)),
        row("stream.stop", deviations=("D17",), observed="' 5, 6, 7'", probes=("e",)),
        row("stream.done", deviations=("D28", "D36"), observed="last event: ...", probes=("f",)),
    ))
    assert {f.deviation: f.checks for f in found.faults} == {
        "D20": ("shape.x", "stream.y", "params.z"),  # no check shares a probe: the field and the value link them
        "D17": ("params.stop", "stream.stop"),
        "D28": ("stream.done",),  # the check's main deviation (first cited) when counts tie
    }
    assert found.summary() == "3 faults explain 6 failed or warned checks (3 blocking)"


def test_a_probe_links_checks_only_when_nothing_else_does() -> None:
    found = causes(report(
        row("a.one", deviations=("D01",), probes=("same",)),
        row("a.two", deviations=("D02",), probes=("same",)),
        row("a.three", deviations=("D03",), observed="'x1'", probes=("same",)),
    ))
    assert sorted(f.checks for f in found.faults) == [("a.one", "a.two"), ("a.three",)]


def test_grouping_never_hides_a_verdict_and_counts_only_bad_ones() -> None:
    rows = [row("a.pass", Grade.PASS), row("a.known", Grade.KNOWN), row("a.skip", Grade.SKIPPED),
            row("a.fail"), row("a.warn", Grade.WARN, probes=("other",)), row("a.error", Grade.ERROR, probes=("z",))]
    found = causes(report(*rows))
    listed = [c for f in found.faults for c in f.checks]
    assert sorted(listed) == ["a.error", "a.fail", "a.warn"] and len(listed) == len(set(listed))
    assert found.faults[0].worst is Grade.FAIL  # worst first
    assert causes(report(row("a.pass", Grade.PASS))).summary() == "no fault: no check failed or warned"


def test_five_quirks_are_about_five_faults(five_dir: Path) -> None:
    """The evidence of the rule: five reference-provider quirks together fail some 40 checks; the page says 5."""
    rep = Report.load(five_dir / "relay-five.json")
    bad = [r.id for r in rep.verdicts if r.grade.bad]
    found = causes(rep)
    assert len(bad) >= 30 and rep.provider.quirks == FIVE_FAULTS
    assert sorted(c for f in found.faults for c in f.checks) == sorted(bad)  # every bad verdict, once
    assert 4 <= len(found.faults) <= 6, [(f.key, f.checks) for f in found.faults]
    by_deviation = {f.deviation: f for f in found.faults}
    # errors-200 (D40), drop-stop (D17), no-done (D28), usage-inflated (D45), finish-reason-eos (D20)
    assert {"D40", "D17", "D28", "D45", "D20"} <= set(by_deviation)
    assert "errors.never-200" in by_deviation["D40"].checks and len(by_deviation["D40"].rows) >= 10
    assert {"params.stop-string", "stream.stop-string"} <= set(by_deviation["D17"].checks)


def test_markdown_and_terminal_show_faults_first(five_dir: Path) -> None:
    rep = Report.load(five_dir / "relay-five.json")
    md = provider_markdown(rep)
    found = causes(rep)
    assert f"**{found.summary()}**" in md
    faults_at, checks_at, features_at = md.index("### Faults"), md.index("### Checks by fault"), md.index("| feature")
    assert faults_at < checks_at < features_at
    assert "| 1 | D40 HTTP 200 with an error body" in md
    for fault_number, fault in enumerate(found.faults, 1):
        for check in fault.checks:
            assert f"| {fault_number} | ❌ fail | `{check}` |" in md or f"| {fault_number} | ⚠️ warn | `{check}` |" in md
    terminal = terminal_summary([rep])
    assert found.summary() in terminal and "fault 1: D40" in terminal


def test_errors_of_one_kind_are_one_fault_with_no_deviation() -> None:
    found = causes(report(
        row("a.one", Grade.ERROR, deviations=("D01",), message="probe 'x': ReadTimeout after 10.0 s", probes=("x",)),
        row("b.two", Grade.ERROR, deviations=("D02",), message="probe 'y': ReadTimeout after 10.0 s", probes=("y",)),
        row("c.three", Grade.ERROR, message="probe 'z': body cut at the size bound", probes=("z",)),
        row("d.four", deviations=("D03",), message="wrong", probes=("x",)),
    ))
    by_checks = {f.checks: f for f in found.faults}
    assert set(by_checks) == {("a.one", "b.two"), ("c.three",), ("d.four",)}
    timeout = by_checks[("a.one", "b.two")]
    assert timeout.deviation is None and timeout.symptom.startswith("no verdict could be had: probe 'x': ReadTimeout")
    assert by_checks[("d.four",)].deviation == "D03"


def test_a_wrong_status_for_any_request_is_one_fault_named_by_its_kind() -> None:
    page = "HTTP 502 text/html: <html><head><title>502 Bad Gateway</title>"
    found = causes(report(
        row("shape.a", deviations=("D02",), expected="HTTP 200", observed=page, probes=("a",)),
        row("stream.b", deviations=("D23",), expected="HTTP 200", observed=page, probes=("b",)),
        row("errors.c", deviations=("D13",), expected="HTTP 400 (4xx)", observed="HTTP 502: <html>…", probes=("c",)),
    ))
    (fault,) = found.faults
    assert fault.deviation == "D41" and fault.checks == ("shape.a", "stream.b", "errors.c")
    assert fault.symptom == "2 valid requests and 1 that must be refused were answered with HTTP 502 (HTML)"
    refused = causes(report(
        row("params.x", deviations=("D22",), expected="HTTP 200", observed="HTTP 400 application/json: {}"),
        row("params.y", deviations=("D01",), expected="HTTP 200", observed="HTTP 400 application/json: {}",
            probes=("q",)),
    ))
    (fault,) = refused.faults
    assert fault.deviation is None and fault.symptom == "valid requests were answered with HTTP 400"


def test_a_verdict_naming_the_check_that_explains_it_joins_that_fault() -> None:
    found = causes(report(
        row("identity.prompt-tokens", deviations=("D45", "D47"), probes=("a",),
            message="prompt_tokens differs (another tokenizer answers; one fault with identity.tokenizer)"),
        row("identity.tokenizer", Grade.WARN, deviations=("D47",), observed="logprobs: ' 5'", probes=("b",)),
        row("usage.linear", deviations=("D45",), message="prompt_tokens does not grow linearly", probes=("c",)),
    ))
    # the field prompt_tokens would fold usage.linear in too: the named fault is what the billing check is, and
    # usage.linear's own finding stays a fault of its own
    assert [f.checks for f in found.faults] == [("identity.prompt-tokens", "identity.tokenizer"), ("usage.linear",)]
    alone = causes(report(row("identity.prompt-tokens", message="one fault with identity.tokenizer", probes=("a",)),
                          row("stream.x", deviations=("D30",), probes=("b",))))
    assert len(alone.faults) == 2  # naming a check that did not fail links nothing


def _certified(quirks: tuple[str, ...]) -> Report:
    (run,) = certify([embedded_reference(quirks=quirks)], CATALOGUE, load_contracts())
    return build_report(run, CATALOGUE)


CATALOGUE = load_catalogue().excluding("property")


def test_another_tokenizer_is_one_fault_and_hides_no_other_usage_finding() -> None:
    """Issue 24: a tokenizer that is not the claimed model's fails the billing checks, as one fault (D47), while the
    usage checks that compare counts with each other still judge, and find what else is wrong."""
    swapped = causes(_certified(("tokenizer-swapped",)))
    # both endpoints: one fault, the tokenizer's, however many billing checks of either endpoint it fails
    assert [(f.deviation, f.checks) for f in swapped.faults] == [
        ("D47", ("identity.prompt-tokens", "identity.completion-tokens", "identity.tokenizer",
                 "identity.cheaper-model", "chat.identity.prompt-tokens", "chat.identity.completion-tokens",
                 "chat.identity.tokenizer", "chat.identity.cheaper-model", "chat.identity.message-overhead"))]
    both = _certified(("tokenizer-swapped", "stream-usage-first-choice"))
    grades = {r.id: r.grade for r in both.verdicts}
    assert grades["usage.stream-every-choice"] is Grade.FAIL
    assert all(grades[c] is Grade.PASS for c in ("usage.linear", "usage.stream-matches", "usage.prompt-tokens"))
    faults = {f.deviation: f.checks for f in causes(both).faults}
    assert set(faults) == {"D47", "D81"} and "usage.stream-every-choice" in faults["D81"]
