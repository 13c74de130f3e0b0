"""Writing a run's reports to disk.

Per provider: ``NAME.json`` (the document), ``NAME.md`` and ``NAME.html``; for the run: ``summary.md`` and
``junit.xml``; with several providers also ``comparison.html`` and ``comparison.md``. Every text goes through the
redactor before it is written.
"""

from __future__ import annotations

from pathlib import Path

from relaycheck.checks.catalogue import Catalogue
from relaycheck.report.compare import compare, comparison_markdown
from relaycheck.report.document import build_report, write_json
from relaycheck.report.html import comparison_html, provider_html
from relaycheck.report.junit import junit_xml
from relaycheck.report.markdown import fit, provider_summary, summary_markdown
from relaycheck.report.model import Report
from relaycheck.runner.engine import ProviderRun
from relaycheck.transport.redact import Redactor


def write_reports(runs: list[ProviderRun], catalogue: Catalogue, out_dir: Path, redactor: Redactor) -> list[Report]:
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for run in runs:
        report = build_report(run, catalogue)
        write_provider(report, out_dir, redactor)
        reports.append(report)
    _write(out_dir / "summary.md", summary_markdown(reports), redactor)
    _write(out_dir / "junit.xml", junit_xml(reports), redactor)
    if len(reports) > 1:
        write_comparison(reports, out_dir, redactor)
    return reports


def write_provider(report: Report, out_dir: Path, redactor: Redactor) -> Path:
    """The JSON, Markdown and HTML of one provider's report; returns the JSON's path."""
    name = report.provider.name
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(report, out_dir / f"{name}.json", redactor)
    _write(out_dir / f"{name}.md", provider_summary(report), redactor)
    _write(out_dir / f"{name}.html", provider_html(report), redactor)
    return out_dir / f"{name}.json"


def write_comparison(reports: list[Report], out_dir: Path, redactor: Redactor | None = None) -> list[Path]:
    redactor = redactor or Redactor()
    out_dir.mkdir(parents=True, exist_ok=True)
    comparison = compare(reports)
    paths = [out_dir / "comparison.html", out_dir / "comparison.md"]
    # link a provider's page only when it is beside the comparison (`relaycheck compare` may write it elsewhere)
    pages = {column: f"{r.provider.name}.html" for column, r in zip(comparison.providers, reports, strict=True)
             if (out_dir / f"{r.provider.name}.html").is_file()}
    _write(paths[0], comparison_html(comparison, pages), redactor)
    markdown = fit(lambda _compact: comparison_markdown(comparison), "The full comparison: `comparison.html`.")
    _write(paths[1], markdown, redactor)
    return paths


def _write(path: Path, text: str, redactor: Redactor) -> None:
    path.write_text(redactor.text(text), encoding="utf-8")
