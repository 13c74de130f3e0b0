"""``relaycheck serve``: run the reference provider in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

import uvicorn

from relaycheck.endpoint import Endpoint
from relaycheck.server.app import create_app
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig
from relaycheck.server.quirks import all_quirks, get_quirk

KEY_ENV = "RELAYCHECK_SERVE_KEY"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = a free port)")
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help=f"bearer key clients must send (default ${KEY_ENV} or {DEFAULT_API_KEY})",
    )
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a key")
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a quirk (repeatable); see --list-quirks",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="N", help="delay before the first byte"
    )
    parser.add_argument("--jitter-ms", type=float, default=0.0, metavar="N", help="random extra delay 0..N")
    parser.add_argument(
        "--chunk-delay-ms", type=float, default=0.0, metavar="N", help="delay between SSE chunks"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="R",
        help="requests per second (token bucket); over it: 429 with Retry-After",
    )
    parser.add_argument("--list-quirks", action="store_true", help="list the quirks and exit")


def quirk_table() -> str:
    """One line per quirk: its name, the deviation it reproduces, the endpoints it applies to, what it does."""
    quirks = all_quirks()
    width = max(len(q.name) for q in quirks)
    lines = [f"{'NAME':<{width}}  {'DEVIATION':<9}  {'ENDPOINTS':<16}  DESCRIPTION"]
    for q in quirks:
        description = f"{q.description} (benign: the spec allows it)" if q.benign else q.description
        endpoints = ",".join(e.value for e in Endpoint if e in q.endpoints)
        lines.append(f"{q.name:<{width}}  {q.deviation:<9}  {endpoints:<16}  {description}")
    return "\n".join(lines)


def run_serve(args: argparse.Namespace) -> int:
    if args.list_quirks:
        print(quirk_table())
        return 0
    for name in args.quirk:
        try:
            get_quirk(name)
        except KeyError as exc:
            print(f"relaycheck serve: {exc.args[0]}", file=sys.stderr)
            return 2
    api_key = None if args.no_auth else (args.api_key or os.environ.get(KEY_ENV) or DEFAULT_API_KEY)
    config = ServerConfig(
        api_key=api_key,
        quirks=frozenset(args.quirk),
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        chunk_delay_ms=args.chunk_delay_ms,
        rate_limit=args.rate_limit,
    )
    uv_config = uvicorn.Config(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(uv_config)
    original_startup = server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]  # print the real port once bound
        await original_startup(sockets=sockets)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"relaycheck reference provider on http://{host}:{port}/v1", flush=True)
        if config.quirks:
            print(f"quirks: {', '.join(sorted(config.quirks))}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        server.run()
    return 0
