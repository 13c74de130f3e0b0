"""``relaycheck compare``, ``diff``, ``rejudge`` and ``history``: commands that read stored reports and send no
request.

Exit codes: 0 fine; 1 ``diff`` found a regression (a check that got worse, or a changed model fingerprint), or
``compare --baseline`` found a report whose model fingerprint differs from the pinned baseline's
(``--model-change warn`` lowers a changed fingerprint to a warning); 2 unreadable input or usage error (one line on
stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from relaycheck.report.diff import MODEL_CHANGE_POLICIES
from relaycheck.report.escape import terminal
from relaycheck.report.model import Report, ReportError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _error(message: str) -> int:
    print(f"relaycheck: error: {terminal(message)}", file=sys.stderr)
    return EXIT_USAGE


def add_report_dir(parser: argparse.ArgumentParser, help_text: str, default: Path | None) -> None:
    """The output folder, one name across commands: ``--report-dir`` (``--out``, its old name here, still works)."""
    parser.add_argument("--report-dir", type=Path, default=default, metavar="DIR", dest="report_dir", help=help_text)
    parser.add_argument("--out", type=Path, dest="report_dir", help=argparse.SUPPRESS)


def add_model_change(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-change", choices=MODEL_CHANGE_POLICIES, default="fail",
                        help="a changed model fingerprint (another model answers under the name, for some or all "
                             "requests): fail (exit 1, the default) or warn (said, exit 0)")


def _say(text: str) -> None:
    """A line for the terminal: stored reports hold provider strings, shown with control characters escaped."""
    print(terminal(text, multiline=True))


# -- compare ------------------------------------------------------------------------------------------------------


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json",
                        help="per-provider reports (a directory stands for every report .json in it)")
    add_report_dir(parser, "where comparison.html and comparison.md are written (default ./reports)",
                   Path("reports"))
    parser.add_argument("--baseline", type=Path, metavar="TRUSTED.json",
                        help="a pinned trusted report (e.g. a run against the vendor you trust most): each report "
                             "claiming its model is matched against its model fingerprint; exit 1 when one "
                             "differs (see --model-change)")
    add_model_change(parser)


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json"))
            if not found:
                raise ReportError(f"{path}: no report .json in this directory")
            out.extend(found)
        else:
            out.append(path)
    return out


def cmd_compare(args: argparse.Namespace) -> int:
    from relaycheck.identity.fingerprint import baseline_matches
    from relaycheck.report.writer import write_comparison

    try:
        reports = [Report.load(p) for p in _expand(args.reports)]
    except ReportError as exc:
        return _error(str(exc))
    paths = write_comparison(reports, args.report_dir)
    from relaycheck.report.compare import compare

    comparison = compare(reports)
    _say(f"compared {len(reports)} reports: {', '.join(comparison.providers)}")
    for provider, check, grade in comparison.unique_failures():
        _say(f"  only {provider}: {check} {grade.value}")
    for group in comparison.groups:
        for provider, reasons in group.flagged.items():
            _say(f"  ⚑ {provider} (model {group.label}): {'; '.join(dict.fromkeys(reasons))}")
    changed = []
    if args.baseline is not None:
        try:
            baseline = Report.load(args.baseline)
        except ReportError as exc:
            return _error(str(exc))
        for found in baseline_matches(baseline, reports):
            _say(f"  {found.line()}")
            if found.change is not None:
                changed.append(found.change)
    for path in paths:
        _say(f"wrote {path}")
    for change in changed:
        verdict = "MODEL CHANGED" if args.model_change == "fail" else "model changed (warning)"
        _say(f"{verdict}: {change.provider}: {change.reading}")
    return EXIT_FAIL if changed and args.model_change == "fail" else EXIT_OK


# -- diff ---------------------------------------------------------------------------------------------------------


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT",
                        help="[OLDER …] BASELINE CURRENT: report .json files (or directories of them), oldest first; "
                             "the older ones are the stored history, by which a check that alternates is flaky")
    add_model_change(parser)


def cmd_diff(args: argparse.Namespace) -> int:
    from relaycheck.report.diff import diff_paths, format_diff

    if len(args.reports) < 2:
        return _error("diff needs a BASELINE and a CURRENT report (older ones before them: the history)")
    *history, baseline, current = args.reports
    try:
        diff = diff_paths(baseline, current, history, args.model_change)
    except ReportError as exc:
        return _error(str(exc))
    _say(format_diff(diff))
    return EXIT_FAIL if diff.regressions else EXIT_OK


# -- rejudge ------------------------------------------------------------------------------------------------------


def add_rejudge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", type=Path, metavar="REPORT.json", help="a stored per-provider report")
    add_report_dir(parser, "where the re-judged report is written (default: a 'rejudged' directory next to it)",
                   None)
    parser.add_argument("--expectations", type=Path, metavar="FILE",
                        help="expectations file to apply (default: the one the original run applied, if present)")


def cmd_rejudge(args: argparse.Namespace) -> int:
    from relaycheck.checks.catalogue import load_catalogue
    from relaycheck.config.providers import ConfigError
    from relaycheck.report.rejudge import rejudge
    from relaycheck.report.writer import write_provider
    from relaycheck.spec.contracts import load_contracts
    from relaycheck.transport.redact import Redactor

    try:
        original = Report.load(args.report)
        result = rejudge(original, args.report, load_catalogue(), load_contracts(), args.expectations)
    except (ReportError, ConfigError) as exc:
        return _error(str(exc))
    out_dir = args.report_dir or args.report.parent / "rejudged"
    if out_dir.resolve() == args.report.parent.resolve():
        return _error(f"--report-dir {out_dir} would overwrite the original report; choose another directory")
    path = write_provider(result.report, out_dir, Redactor())
    _say(f"rejudged {original.name}: catalogue {original.suite.catalogue_revision} → "
          f"{result.report.suite.catalogue_revision}, no request sent")
    if not result.changed:
        _say("  no grade changed")
    for change in result.changed:
        _say(f"  {change.check:<34} {change.before or '-'} → {change.after or '-'}")
    _say(f"wrote {path}")
    return EXIT_OK


# -- history ------------------------------------------------------------------------------------------------------


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", type=Path, metavar="REPORT",
                        help="reports of several nights (.json files, or directories of them), any order")
    add_report_dir(parser, "where history.html is written (default ./reports)", Path("reports"))


def cmd_history(args: argparse.Namespace) -> int:
    from relaycheck.report.history import histories, history_html
    from relaycheck.report.writer import atomic_write

    try:
        reports = [Report.load(p) for p in _expand(args.reports)]
    except ReportError as exc:
        return _error(str(exc))
    path = args.report_dir / "history.html"
    try:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(path, history_html(reports))
    except OSError as exc:
        return _error(f"cannot write {path}: {exc.strerror or exc}")
    for h in histories(reports):
        up, total = h.availability
        flaky = f", flaky: {', '.join(f.check for f in h.flaky)}" if h.flaky else ""
        _say(f"{h.name}: {total} nights, available {up}/{total}{flaky}")
    _say(f"wrote {path}")
    return EXIT_OK
