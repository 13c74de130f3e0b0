"""JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): a testsuite per provider, a testcase per check.

Mapping: ``fail`` → ``<failure>``; ``error`` → ``<error>``; ``skipped``, ``unsupported`` and ``known`` →
``<skipped>`` (with the reason); ``pass`` and ``warn`` pass (a warning's message goes to ``<system-out>``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(value: Any) -> str:
    """Text safe for XML 1.0 (control characters are not allowed even escaped)."""
    return _INVALID_XML.sub("\ufffd", "" if value is None else str(value))


def _evidence(v: dict[str, Any]) -> str:
    lines = [v.get("message") or ""]
    for key in ("expected", "observed", "note"):
        if v.get(key):
            lines.append(f"{key}: {v[key]}")
    if v.get("clause"):
        lines.append(f"clause: {v['clause']}")
    if v.get("probes"):
        lines.append("exchanges: " + ", ".join(v["probes"]))
    return "\n".join(lines)


def junit_xml(reports: list[dict[str, Any]]) -> str:
    suites = ET.Element("testsuites", name="relaycheck")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        provider = report["provider"]["name"]
        verdicts = report.get("verdicts") or []
        counts = {
            "tests": len(verdicts),
            "failures": sum(v["grade"] == "fail" for v in verdicts),
            "errors": sum(v["grade"] == "error" for v in verdicts),
            "skipped": sum(v["grade"] in ("skipped", "unsupported", "known") for v in verdicts),
        }
        for k, n in counts.items():
            totals[k] += n
        suite = ET.SubElement(
            suites, "testsuite", name=_x(provider), timestamp=_x(report.get("started")),
            time=str(report.get("duration_s") or 0), **{k: str(n) for k, n in counts.items()},
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("model", report["provider"].get("model")),
            ("address", report["provider"].get("address")),
            ("suite.version", (report.get("suite") or {}).get("version")),
            ("catalogue_revision", (report.get("suite") or {}).get("catalogue_revision")),
            ("skipped", report.get("skipped")),
        ):
            if value is not None:
                ET.SubElement(props, "property", name=name, value=_x(value))
        for v in verdicts:
            case = ET.SubElement(
                suite, "testcase", name=_x(f"{v.get('feature', '')}.{v['check']}"), classname=_x(provider), time="0"
            )
            grade = v["grade"]
            text = _x(_evidence(v))
            message = _x(f"{grade}: {v.get('message') or ''}")[:500]
            if grade == "fail":
                kind = _x(f"{v.get('level', 'MUST')} violated")
                ET.SubElement(case, "failure", message=message, type=kind).text = text
            elif grade == "error":
                ET.SubElement(case, "error", message=message, type="error").text = text
            elif grade in ("skipped", "unsupported", "known"):
                ET.SubElement(case, "skipped", message=message).text = text
            elif grade == "warn":
                ET.SubElement(case, "system-out").text = _x(f"warn ({v.get('level')}): {_evidence(v)}")
    for k, n in totals.items():
        suites.set(k, str(n))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
