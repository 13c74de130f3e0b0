"""``relaycheck run``'s options for a provider given by ``--base-url``: the fields of a providers.yaml entry."""

from __future__ import annotations

import argparse

from relaycheck.config.adhoc import AdhocOptions


def add_adhoc_arguments(run: argparse.ArgumentParser) -> None:
    group = run.add_argument_group(
        "a --base-url provider's settings", "the fields of a providers.yaml entry (see its comments), as options")
    group.add_argument("--context-length", type=int, metavar="TOKENS",
                       help="the model's context window (default: what the provider's GET /v1/models publishes, "
                            "e.g. vLLM's max_model_len; the prompt over it is sent only when one is known)")
    group.add_argument("--tokenizer", metavar="NAME",
                       help="whose tokenizer counts the tokens: auto (by model name), cl100k_base, o200k_base, none")
    group.add_argument("--cheaper-model", action="append", default=[], metavar="MODEL",
                       help="a cheaper model the provider serves too (default: babbage-002 or davinci-002 when its "
                            "model list names one); its answers must differ from the claimed model's")
    group.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                       help="an extra request header sent as given (repeatable)")
    group.add_argument("--header-env", action="append", default=[], metavar="'NAME: VARIABLE'",
                       help="an extra header whose value is read from VARIABLE, redacted like the key (repeatable)")
    group.add_argument("--auth", choices=("bearer", "api-key"),
                       help="how the key is sent: Authorization: Bearer (default) or an api-key header (Azure)")
    group.add_argument("--set", action="append", default=[], dest="settings", metavar="FIELD=VALUE",
                       help="any other field by its providers.yaml name, the value read as YAML (repeatable): "
                            "--set budget.requests=60 --set timeouts.run=120 --set rate_limit=2")


def adhoc_options(args: argparse.Namespace) -> AdhocOptions:
    return AdhocOptions(
        context_length=args.context_length,
        tokenizer=args.tokenizer,
        cheaper_models=tuple(args.cheaper_model),
        headers=tuple(args.header),
        header_envs=tuple(args.header_env),
        auth=args.auth,
        settings=tuple(args.settings),
    )
