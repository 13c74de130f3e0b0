"""One definition of "not certified": the exit code, the summary and the report list the same verdicts."""

from __future__ import annotations

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.checks.model import Grade, Verdict
from relaycheck.config.providers import embedded_reference
from relaycheck.report.document import build_report
from relaycheck.report.markdown import provider_markdown, terminal_summary
from relaycheck.runner.engine import ProviderRun


def _run_with(grades: dict[str, Grade]) -> ProviderRun:
    catalogue = load_catalogue()
    run = ProviderRun(embedded_reference())
    run.verdicts = [Verdict(c.id, grades.get(c.id, Grade.PASS), "m") for c in catalogue.checks]
    run.finished = run.started
    return run


def test_an_unjudged_must_check_blocks_like_a_failed_one() -> None:
    catalogue = load_catalogue()
    run = _run_with({"stream.done": Grade.ERROR})
    built = build_report(run, catalogue)
    report = built.to_json()
    assert [v.check for v in run.must_failures(catalogue)] == ["stream.done"]  # what makes `run` exit 1
    assert report["score"]["overall"]["must_failures"] == ["stream.done"]
    assert "FAIL" in terminal_summary([built]).splitlines()[0]
    assert "MUST checks failed or unjudged (1): stream.done" in provider_markdown(built)


def test_should_warnings_and_errors_do_not_block() -> None:
    catalogue = load_catalogue()
    run = _run_with({"shape.model": Grade.WARN, "shape.id-prefix": Grade.ERROR})  # SHOULD and INFO levels
    built = build_report(run, catalogue)
    report = built.to_json()
    assert not run.must_failures(catalogue)
    assert report["score"]["overall"]["must_failures"] == []
    assert "PASS" in terminal_summary([built]).splitlines()[0]
