"""The ``relaycheck`` command.

Exit codes (CI conventions): 0 no MUST check failed; 1 a MUST check failed or could not be judged (error), or a
``diff`` found a regression; 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relaycheck import __version__
from relaycheck.config.providers import ConfigError, Provider, embedded_reference, find_providers_file, load_providers

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

EPILOG = """\
grades:  pass · fail (a MUST is violated) · warn (a SHOULD is missed) · unsupported (refused cleanly with an
         OpenAI-style 4xx) · known (matches the provider's expectations file) · skipped (precondition, key or
         budget) · error (no verdict: timeout, transport failure)
exit:    0 no MUST check failed · 1 a MUST check failed or errored · 2 usage or configuration error
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaycheck",
        description="Certify that an OpenAI-compatible provider's POST /v1/completions behaves like OpenAI's.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"relaycheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="certify providers and write reports (default: the embedded reference provider)",
        description="Certify one or more providers. With no provider options, starts the embedded reference "
        "provider on a free loopback port and certifies it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--provider", "-p", action="append", default=[], metavar="NAME",
                     help="a provider from providers.yaml (repeatable; 'all' for every one)")
    run.add_argument("--providers-file", type=Path, metavar="FILE",
                     help="providers file (default ./providers.yaml, else the one shipped with relaycheck)")
    run.add_argument("--base-url", metavar="URL", help="certify an ad-hoc provider at URL (ending in /v1)")
    run.add_argument("--model", metavar="MODEL", help="model for --base-url (default gpt-3.5-turbo-instruct)")
    run.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the key for --base-url")
    run.add_argument("--quirk", action="append", default=[], metavar="NAME",
                     help="switch on a reference-server quirk for the embedded provider (see serve --list-quirks)")
    run.add_argument("--checks", action="append", default=[], metavar="PREFIX",
                     help="only checks whose id starts with PREFIX or whose feature is PREFIX (repeatable)")
    run.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR",
                     help="where reports are written (default ./reports)")
    run.add_argument("--update-expectations", action="store_true",
                     help="write each provider's deviations to its expectations file (expectations/NAME.yaml)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    run.add_argument("--no-property", action="store_true",
                     help="skip the property tests generated from the OpenAPI document (feature 'property')")

    lst = sub.add_parser("list", help="print the check catalogue")
    lst.add_argument("--format", choices=("table", "json", "markdown"), default="table")

    serve = sub.add_parser("serve", help="run the reference provider (a conformant server, with optional quirks)")
    from relaycheck.server.cli import add_serve_arguments

    add_serve_arguments(serve)

    from relaycheck.cli import report_commands as rc

    rc.add_compare_arguments(sub.add_parser("compare", help="put stored reports side by side (HTML and Markdown)"))
    rc.add_diff_arguments(sub.add_parser("diff", help="regressions between a baseline and a current report (exit 1)"))
    rc.add_rejudge_arguments(sub.add_parser("rejudge", help="re-grade a stored report's exchanges; sends nothing"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "serve":
            from relaycheck.server.cli import run_serve

            return run_serve(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command in ("compare", "diff", "rejudge"):
            from relaycheck.cli import report_commands

            return getattr(report_commands, f"cmd_{args.command}")(args)
        parser.print_help()
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"relaycheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("relaycheck: interrupted", file=sys.stderr)
        return 130


# -- list --------------------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from relaycheck.checks.catalogue import load_catalogue

    catalogue = load_catalogue()
    if args.format == "json":
        print(json.dumps({"revision": catalogue.revision, "checks": [c.to_dict() for c in catalogue.checks]},
                         indent=2, ensure_ascii=False))
    elif args.format == "markdown":
        print("| id | level | feature | title | clause |\n|---|---|---|---|---|")
        for c in catalogue.checks:
            print(f"| `{c.id}` | {c.level} | {c.feature} | {c.title} | {c.clause.replace('|', '/')} |")
    else:
        width = max(len(c.id) for c in catalogue.checks)
        for feature in catalogue.features:
            print(f"{feature}:")
            for c in (c for c in catalogue.checks if c.feature == feature):
                print(f"  {c.id:<{width}}  {c.level:<6}  {c.title}")
        print(f"\n{len(catalogue.checks)} checks · catalogue revision {catalogue.revision}")
    return EXIT_OK


# -- run ---------------------------------------------------------------------------------------------------------


def select_providers(args: argparse.Namespace) -> list[Provider]:
    """Which providers this run certifies; raises ConfigError with one line on any problem."""
    if args.base_url:
        if args.provider:
            raise ConfigError("use either --provider or --base-url, not both")
        if not args.api_key_env:
            raise ConfigError("--base-url needs --api-key-env VAR (the variable holding the key)")
        from relaycheck.config.providers import parse_providers

        entry = {"name": "adhoc", "base_url": args.base_url, "api_key_env": args.api_key_env}
        if args.model:
            entry["model"] = args.model
        return list(parse_providers({"providers": [entry]}, "command line").providers)
    if args.model or args.api_key_env:
        raise ConfigError("--model and --api-key-env go with --base-url")
    if not args.provider:
        return [embedded_reference(quirks=tuple(args.quirk))]
    providers_file = load_providers(find_providers_file(args.providers_file))
    names = [p.name for p in providers_file.providers] if "all" in args.provider else args.provider
    chosen = [providers_file.get(name) for name in dict.fromkeys(names)]
    if args.quirk:
        chosen = [p.with_overrides(quirks=tuple(args.quirk)) if p.embedded else p for p in chosen]
    return chosen


def cmd_run(args: argparse.Namespace) -> int:
    from relaycheck.checks import property as property_checks
    from relaycheck.checks.catalogue import load_catalogue
    from relaycheck.report.markdown import terminal_summary
    from relaycheck.report.writer import write_reports
    from relaycheck.runner.engine import certify, run_worst_case
    from relaycheck.runner.expectations import expectations_yaml, load_expectations
    from relaycheck.runner.progress import Progress
    from relaycheck.server.quirks import get_quirk
    from relaycheck.spec import load_contract
    from relaycheck.transport.redact import Redactor

    for quirk in args.quirk:
        try:
            get_quirk(quirk)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0]) if exc.args else f"unknown quirk {quirk}") from None
    providers = select_providers(args)
    catalogue = load_catalogue().select(tuple(args.checks))
    if args.no_property:  # deselects the property checks, so the phase they read sends nothing
        catalogue = catalogue.excluding(property_checks.FEATURE)
    if not catalogue.checks:
        raise ConfigError(f"no check matches {', '.join(args.checks)} (see relaycheck list)")
    if args.report_dir.exists() and not args.report_dir.is_dir():
        raise ConfigError(f"--report-dir {args.report_dir}: exists and is not a directory")
    progress = Progress(sys.stderr, enabled=not args.quiet)
    if not args.quiet:  # stated before any request: the run ends within this, whatever the providers do
        print(f"worst case: {run_worst_case(providers, catalogue):.0f} s", file=sys.stderr)
    runs = certify(providers, catalogue, load_contract(), progress=_with_stop_lines(progress),
                   use_expectations=not args.update_expectations)
    secrets = [s for r in runs if r.target for s in r.target.secrets]  # keys, and header values from the environment
    redactor = Redactor.for_keys([p.api_key() for p in providers] + secrets)
    try:
        reports = write_reports(runs, catalogue, args.report_dir, redactor)
    except OSError as exc:
        raise ConfigError(f"cannot write reports to {args.report_dir}: {exc.strerror or exc}") from None
    print(redactor.text(terminal_summary(reports)))
    print(f"reports: {args.report_dir}/")
    if args.update_expectations:
        for run in runs:
            path = run.provider.expectations or Path("expectations") / f"{run.name}.yaml"
            previous = load_expectations(path) if path.exists() else {}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(redactor.text(expectations_yaml(run.name, run.verdicts, previous)), encoding="utf-8")
            print(f"expectations: {path}")
    return EXIT_FAIL if any(r.must_failures(catalogue) for r in runs) else EXIT_OK


def _with_stop_lines(progress: Any) -> Any:
    """The progress display, plus one line when a provider stops being sent requests (down, out of time)."""

    def report(event: str, run: Any) -> None:
        if event == "stopped" and progress.enabled:
            prefix = "\r\033[K" if progress.live else ""
            progress.stream.write(f"{prefix}{run.name}: {run.stopped}; its remaining requests are not sent\n")
            progress.stream.flush()
        progress(event, run)

    return report


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
