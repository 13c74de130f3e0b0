"""JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): a testsuite per provider, a testcase per check.

Mapping (``Grade.test_outcome``): ``fail`` → ``<failure>``; ``error`` → ``<error>``; ``skipped``, ``unsupported``
and ``known`` → ``<skipped>`` (with the reason); ``pass`` and ``warn`` pass (a warning's message goes to
``<system-out>``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from relaycheck.checks.model import Grade
from relaycheck.report import escape
from relaycheck.report.model import Report, VerdictRow


def _x(value: object) -> str:
    """Text safe for XML 1.0 (control characters are not allowed even escaped)."""
    return escape.xml(value)


def _evidence(row: VerdictRow) -> str:
    v = row.verdict
    lines = [v.message or ""]
    for key, value in (("expected", v.expected), ("observed", v.observed), ("note", v.note)):
        if value:
            lines.append(f"{key}: {value}")
    if row.check.clause:
        lines.append(f"clause: {row.check.clause}")
    if v.probes:
        lines.append("exchanges: " + ", ".join(v.probes))
    return "\n".join(lines)


def junit_xml(reports: list[Report]) -> str:
    suites = ET.Element("testsuites", name="relaycheck")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        counts = _counts(report)
        for k, n in counts.items():
            totals[k] += n
        suite = ET.SubElement(
            suites, "testsuite", name=_x(report.provider.name), timestamp=_x(report.started),
            time=str(report.duration_s or 0), **{k: str(n) for k, n in counts.items()},
        )
        _properties(ET.SubElement(suite, "properties"), report)
        for row in report.verdicts:
            _testcase(suite, row, report.provider.name)
    for k, n in totals.items():
        suites.set(k, str(n))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _counts(report: Report) -> dict[str, int]:
    outcomes = [row.grade.test_outcome for row in report.verdicts]
    return {"tests": len(outcomes), "failures": outcomes.count("failed"), "errors": outcomes.count("error"),
            "skipped": outcomes.count("skipped")}


def _properties(props: ET.Element, report: Report) -> None:
    for name, value in (
        ("model", report.provider.model),
        ("address", report.provider.address),
        ("suite.version", report.suite.version),
        ("catalogue_revision", report.suite.catalogue_revision),
        ("skipped", report.skipped),
    ):
        if value is not None:
            ET.SubElement(props, "property", name=name, value=_x(value))


def _testcase(suite: ET.Element, row: VerdictRow, provider: str) -> None:
    # classname provider.endpoint: CI test reporters group a provider's checks by endpoint
    case = ET.SubElement(suite, "testcase", name=_x(f"{row.check.feature}.{row.id}"),
                         classname=_x(f"{provider}.{row.check.endpoint.value}"), time="0")
    grade, outcome = row.grade, row.grade.test_outcome
    text = _x(_evidence(row))
    message = _x(escape.clip(f"{grade.value}: {row.verdict.message or ''}", 500))
    if outcome == "failed":
        ET.SubElement(case, "failure", message=message, type=_x(f"{row.check.level.value} violated")).text = text
    elif outcome == "error":
        ET.SubElement(case, "error", message=message, type="error").text = text
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message=message).text = text
    elif grade is Grade.WARN:
        ET.SubElement(case, "system-out").text = _x(f"warn ({row.check.level.value}): {_evidence(row)}")
