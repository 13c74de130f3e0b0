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

from relaycheck import __version__
from relaycheck.config.providers import ConfigError, shipped_providers_file
from relaycheck.report.escape import terminal
from relaycheck.runner.session import ProviderChoice, endpoints_option

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE

EPILOG = """\
grades:  pass · fail (a MUST is violated) · warn (a SHOULD is missed) · unsupported (refused cleanly with an
         OpenAI-style 4xx) · known (matches the provider's expectations file) · skipped (precondition, key or
         budget) · error (no verdict: timeout, transport failure)
exit:    0 no MUST check failed · 1 a MUST check failed or errored · 2 usage or configuration error
"""

EXAMPLES = """examples:
  relaycheck run                                    certify the embedded reference provider
  relaycheck run -p gptnb                           a vendor of the providers file (its key variable set)
  relaycheck run -p all --report-dir nightly/       every provider, plus a comparison page
  relaycheck run --base-url https://relay.example/v1 --api-key-env RELAY_KEY --name relay
  relaycheck run -p gptnb --checks stream --no-property    a subset: only the probes it needs are sent
  relaycheck run -p gptnb --update-expectations     record known deviations in expectations/gptnb.yaml
  relaycheck diff last/ tonight/                    what changed (exit 1 on a regression)
  relaycheck diff n1/ n2/ n3/ tonight/              the same, nights before as history (flaky apart)
  relaycheck history nights/*/                      score, latency, spend and flaky checks over nights
  relaycheck list | head                            the catalogue
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relaycheck",
        description="Certify that an OpenAI-compatible provider's POST /v1/completions behaves like OpenAI's.",
        epilog=EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"relaycheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="certify providers and write reports (default: the embedded reference provider)",
        description="Certify one or more providers. With no provider options, starts the embedded reference "
        "provider on a free loopback port and certifies it.",
        epilog=EXAMPLES + "\n" + EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--provider", "-p", action="append", default=[], metavar="NAME",
                     help="a provider from providers.yaml (repeatable; 'all' for every one)")
    run.add_argument("--providers-file", type=Path, metavar="FILE",
                     help="providers file (default ./providers.yaml, else the one shipped with relaycheck: "
                          f"{shipped_providers_file()})")
    run.add_argument("--base-url", metavar="URL", help="certify an ad-hoc provider at URL (ending in /v1)")
    run.add_argument("--endpoint", choices=("completions", "chat", "all"), default=None,
                     help="certify only this endpoint (default: what each provider states; a --base-url provider "
                          "is tried on both, and one it does not serve is reported, not failed)")
    run.add_argument("--model", metavar="MODEL",
                     help="Completions model for --base-url (default gpt-3.5-turbo-instruct; with --endpoint chat "
                          "alone, the chat model)")
    run.add_argument("--chat-model", metavar="MODEL", help="chat model for --base-url (default gpt-4o-mini)")
    run.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the key for --base-url")
    run.add_argument("--name", metavar="NAME",
                     help="name of the --base-url provider: its reports are NAME.json … (default adhoc)")
    run.add_argument("--quirk", action="append", default=[], metavar="NAME",
                     help="switch on a reference-server quirk for the embedded provider (see serve --list-quirks)")
    run.add_argument("--checks", action="append", default=[], metavar="PREFIX",
                     help="only checks whose id starts with PREFIX or whose feature is PREFIX (repeatable)")
    run.add_argument("--report-dir", type=Path, default=Path("reports"), metavar="DIR",
                     help="where reports are written (default ./reports)")
    run.add_argument("--update-expectations", action="store_true",
                     help="grade raw and write each provider's deviations to its expectations file "
                          "(the one its entry names, else expectations/NAME.yaml)")
    run.add_argument("--no-expectations", action="store_true",
                     help="grade raw: ignore expectations files (by default expectations/NAME.yaml applies "
                          "when it exists, or the file the provider's entry names)")
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
    rc.add_diff_arguments(sub.add_parser(
        "diff", help="regressions, fixes and flaky checks from a baseline (and the nights before it) to a current "
                     "report (exit 1 on a regression)"))
    rc.add_rejudge_arguments(sub.add_parser("rejudge", help="re-grade a stored report's exchanges; sends nothing"))
    rc.add_history_arguments(sub.add_parser(
        "history", help="per provider over nights: score, MUST failures, latency, availability, spend, flaky checks "
                        "(history.html)"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except BrokenPipeError:
        # The reader went away (`relaycheck list | head`): not an error of ours, and no traceback. Later writes
        # (the interpreter's final flush) go nowhere; 141 is what a shell reports for a pipe closed this way.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "serve":
            from relaycheck.server.cli import run_serve

            return run_serve(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command in ("compare", "diff", "rejudge", "history"):
            from relaycheck.cli import report_commands

            return getattr(report_commands, f"cmd_{args.command}")(args)
        parser.print_help()
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"relaycheck: error: {terminal(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("relaycheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main's own answer: exit 141, nothing printed
    except Exception as exc:  # noqa: BLE001 - a bug must not print a traceback (it may quote provider bytes)
        print(f"relaycheck: internal error: {type(exc).__name__}: {terminal(exc, 300)}", file=sys.stderr)
        return EXIT_FAIL


# -- list --------------------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from relaycheck.checks.catalogue import load_catalogue

    catalogue = load_catalogue()
    if args.format == "json":
        checks = [{**c.to_dict(), "endpoint": c.endpoint.value} for c in catalogue.checks]
        print(json.dumps({"revision": catalogue.revision, "checks": checks}, indent=2, ensure_ascii=False))
    elif args.format == "markdown":
        print("| id | endpoint | level | feature | title | clause |\n|---|---|---|---|---|---|")
        for c in catalogue.checks:
            print(f"| `{c.id}` | {c.endpoint.route} | {c.level} | {c.feature} | {c.title} | "
                  f"{c.clause.replace('|', '/')} |")
    else:
        width = max(len(c.id) for c in catalogue.checks)
        for endpoint in catalogue.endpoints:
            of_endpoint = catalogue.for_endpoints((endpoint,))
            print(f"{endpoint.title} ({endpoint.route}): {len(of_endpoint.checks)} checks")
            for feature in of_endpoint.features:
                print(f"  {feature}:")
                for c in (c for c in of_endpoint.checks if c.feature == feature):
                    print(f"    {c.id:<{width}}  {c.level:<6}  {c.title}")
        print(f"\n{len(catalogue.checks)} checks · catalogue revision {catalogue.revision}")
    return EXIT_OK


# -- run ---------------------------------------------------------------------------------------------------------


def provider_choice(args: argparse.Namespace) -> ProviderChoice:
    return ProviderChoice(
        names=tuple(args.provider),
        providers_file=args.providers_file,
        base_url=args.base_url,
        model=args.model,
        api_key_env=args.api_key_env,
        name=args.name,
        quirks=tuple(args.quirk),
        endpoints=endpoints_option(args.endpoint),
        chat_model=args.chat_model,
    )



def cmd_run(args: argparse.Namespace) -> int:
    from relaycheck.report.markdown import terminal_summary
    from relaycheck.runner.engine import run_worst_case
    from relaycheck.runner.progress import Progress
    from relaycheck.runner.session import (
        SessionOptions,
        check_report_dir,
        run_session,
        select_catalogue,
        select_providers,
    )

    providers = select_providers(provider_choice(args))
    catalogue = select_catalogue(args.checks, property_phase=not args.no_property)
    check_report_dir(args.report_dir)
    progress = Progress(sys.stderr, enabled=not args.quiet)
    if not args.quiet:  # stated before any request: the run ends within this, whatever the providers do
        print(f"worst case: {run_worst_case(providers, catalogue):.0f} s", file=sys.stderr)
    try:
        result = run_session(SessionOptions(
            providers=tuple(providers),
            catalogue=catalogue,
            report_dir=args.report_dir,
            expectations=not args.no_expectations,
            update_expectations=args.update_expectations,
            progress=progress,
        ))
    finally:
        progress.close()
    print(result.redactor.text(terminal_summary(result.reports)))
    print(f"reports: {args.report_dir}/")
    for path in result.expectation_files:
        print(f"expectations: {path}")
    return EXIT_FAIL if result.blocking else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
