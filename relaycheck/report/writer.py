"""Writing a run's reports to disk.

Per provider: ``NAME.json`` (the document), ``NAME.md`` and ``NAME.html``; for the run: ``summary.md``,
``junit.xml`` and ``manifest.txt``; with several providers also ``comparison.html`` and ``comparison.md``.

- Redaction is on values: each report is redacted as a value (``document.redacted``) before any writer renders,
  truncates or serialises it; nothing is string-replaced in built JSON, XML or HTML.
- Isolation: a provider whose report cannot be built or rendered (any exception) gets an error report instead,
  every verdict ``error`` with the fault in one line; the other providers' reports are untouched.
- Every file is written atomically (a temporary file in the same folder, then ``os.replace``): a reader sees the
  old file or the new one, never half of one.
- One run per folder: ``manifest.txt`` lists the files the run wrote; files an earlier run listed in its manifest
  that this run did not write are removed, so the folder never mixes two runs. Files relaycheck did not write are
  never touched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from relaycheck.checks.catalogue import Catalogue
from relaycheck.report.compare import compare, comparison_markdown
from relaycheck.report.document import build_report, redacted, report_json
from relaycheck.report.html import comparison_html, provider_html
from relaycheck.report.junit import junit_xml
from relaycheck.report.markdown import fit, provider_summary, summary_markdown
from relaycheck.report.model import Report
from relaycheck.runner.engine import ProviderRun, fault_reason, fault_verdicts
from relaycheck.transport.redact import Redactor

MANIFEST = "manifest.txt"  # not .json: every tool that reads a folder of reports reads *.json


def write_reports(runs: list[ProviderRun], catalogue: Catalogue, out_dir: Path, redactor: Redactor) -> list[Report]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    reports = []
    for run in runs:
        report, rendered = _render_isolated(run, catalogue, redactor)
        reports.append(report)
        files.update(rendered)
    try:
        files["summary.md"] = summary_markdown(reports)
    except Exception:  # noqa: BLE001 - each report rendered alone; together, a fault falls back to one per report
        files["summary.md"] = "\n".join(files[f"{r.name}.md"] for r in reports)
    files["junit.xml"] = junit_xml(reports)  # each report rendered alone above: together they render too
    if len(reports) > 1:
        with contextlib.suppress(Exception):  # a page about all providers; without it every report still stands
            files.update(_comparison_files(reports, {r.name for r in reports if f"{r.name}.html" in files}))
    for name, text in files.items():
        atomic_write(out_dir / name, text)
    _replace_manifest(out_dir, sorted(files))
    return reports


def _render_isolated(run: ProviderRun, catalogue: Catalogue, redactor: Redactor) -> tuple[Report, dict[str, str]]:
    """The provider's redacted report and its files; an error report if anything about it raises."""
    try:
        report = redacted(build_report(run, catalogue), redactor)
        files = _provider_files(report)
        junit_xml([report])  # a fault in its JUnit suite is this provider's, found here rather than for all
        return report, files
    except Exception as exc:  # noqa: BLE001 - a provider's bytes may trip any writer: it costs that provider only
        run.fault = fault_reason("writing the reports of", exc)
        run.verdicts = fault_verdicts(catalogue, run.fault)
        failed = replace(run, exchanges={}, verdicts=run.verdicts)  # without what the provider sent
        report = redacted(build_report(failed, catalogue), redactor)
        return report, _provider_files(report, strict=False)


def _provider_files(report: Report, strict: bool = True) -> dict[str, str]:
    """NAME.json, NAME.md and NAME.html; not ``strict``: each that renders (a fault that recurs in the error
    report itself costs that one file, and the Markdown falls back to one line)."""
    name = report.provider.name
    renderers = {f"{name}.json": report_json, f"{name}.md": provider_summary, f"{name}.html": provider_html}
    if strict:
        return {file: render(report) for file, render in renderers.items()}
    files = {f"{name}.md": f"## relaycheck: {name}\n\n**error**: {report.stopped}\n"}
    for file, render in renderers.items():
        with contextlib.suppress(Exception):
            files[file] = render(report)
    return files


def _comparison_files(reports: list[Report], beside: set[str]) -> dict[str, str]:
    """The comparison page links a provider's page only when it is ``beside`` it (written in the same folder)."""
    comparison = compare(reports)
    pages = {column: f"{r.provider.name}.html" for column, r in zip(comparison.providers, reports, strict=True)
             if r.provider.name in beside}
    markdown = fit(lambda _compact: comparison_markdown(comparison), "The full comparison: `comparison.html`.")
    return {"comparison.html": comparison_html(comparison, pages), "comparison.md": markdown}


def write_provider(report: Report, out_dir: Path, redactor: Redactor) -> Path:
    """The JSON, Markdown and HTML of one provider's report; returns the JSON's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in _provider_files(redacted(report, redactor)).items():
        atomic_write(out_dir / name, text)
    return out_dir / f"{report.provider.name}.json"


def write_comparison(reports: list[Report], out_dir: Path, redactor: Redactor | None = None) -> list[Path]:
    redactor = redactor or Redactor()
    out_dir.mkdir(parents=True, exist_ok=True)
    # `relaycheck compare` may write the comparison elsewhere than the reports: link what is there
    beside = {r.provider.name for r in reports if (out_dir / f"{r.provider.name}.html").is_file()}
    files = _comparison_files([redacted(r, redactor) for r in reports], beside)
    for name, text in files.items():
        atomic_write(out_dir / name, text)
    return [out_dir / name for name in files]


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX and
    Windows). A lone surrogate that reached a text this far is written as its escape, never a crash."""
    data = text.encode("utf-8", errors="backslashreplace")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes it private; a report is as readable as any file
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _replace_manifest(out_dir: Path, written: list[str]) -> None:
    """Record what this run wrote; remove what the previous run wrote and this one did not."""
    for stale in sorted(set(_previous_files(out_dir)) - set(written) - {MANIFEST}):
        path = out_dir / stale
        if path.parent == out_dir and path.is_file():  # only plain names, only in this folder
            with contextlib.suppress(OSError):
                path.unlink()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write(out_dir / MANIFEST, f"# the files relaycheck run wrote here at {stamp}, one a line\n"
                 + "".join(f"{name}\n" for name in written))


def _previous_files(out_dir: Path) -> list[str]:
    try:
        lines = (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return []
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [n for n in names if "/" not in n and "\\" not in n and n not in (".", "..")]
