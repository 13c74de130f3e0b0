"""Writing a run's reports to disk: one JSON and one Markdown file per provider, and a Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relaycheck.checks.catalogue import Catalogue
from relaycheck.report.document import build_report, write_json
from relaycheck.report.markdown import provider_markdown
from relaycheck.runner.engine import ProviderRun
from relaycheck.transport.redact import Redactor


def write_reports(runs: list[ProviderRun], catalogue: Catalogue, out_dir: Path, redactor: Redactor) -> list[dict[str, Any]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for run in runs:
        report = build_report(run, catalogue)
        write_json(report, out_dir / f"{run.name}.json", redactor)
        (out_dir / f"{run.name}.md").write_text(redactor.text(provider_markdown(report)), encoding="utf-8")
        reports.append(report)
    summary = "\n".join(provider_markdown(r) for r in reports)
    (out_dir / "summary.md").write_text(redactor.text(summary), encoding="utf-8")
    return reports
