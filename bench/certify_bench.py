"""Benchmark: how close certification comes to its lower bound, for one provider and for four in parallel.

Not a test: run it by hand (``python bench/certify_bench.py``); it prints a table and writes JSON.

The reference provider is started with injected latency (default 400 ms before the first byte, 20 ms between
chunks). The lower bound for one provider is the largest of

- the longest chain of dependent requests (e.g. greedy -> stop-string), each at its service time;
- the total service time of all requests divided by the provider's concurrency.

A request's service time is the injected latency plus its chunk delays; the number of chunks each probe streams
is taken from a zero-latency run first, so the bound describes this very workload.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from relaycheck.checks.catalogue import Catalogue, load_catalogue
from relaycheck.config.providers import Provider, parse_providers
from relaycheck.probes.catalogue import probes_by_id
from relaycheck.runner.engine import ProviderRun, certify
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig
from relaycheck.server.running import serve_in_thread
from relaycheck.spec.contracts import load_contracts

KEY_VAR = "RELAYCHECK_BENCH_KEY"


def hand_written() -> Catalogue:
    return load_catalogue().excluding("property")  # the phase on every endpoint, as --no-property


# What the reference serves on each endpoint: the bench certifies both by default, as `relaycheck run` does.
ENDPOINT_ENTRY = {"completions": {}, "chat": {"chat": {"model": "gpt-4"}}}


def providers_for(urls: list[str], concurrency: int, endpoints: tuple[str, ...] = ("completions", "chat"),
                  ) -> list[Provider]:
    entries = [
        {"name": f"bench-{i}", "base_url": url, "api_key_env": KEY_VAR, "concurrency": concurrency,
         "budget": {"requests": 500, "completion_tokens": 50000}, "endpoints": list(endpoints),
         **{k: v for e in endpoints for k, v in ENDPOINT_ENTRY[e].items()}}
        for i, url in enumerate(urls)
    ]
    return list(parse_providers({"providers": entries}, "bench").providers)


def run_certify(urls: list[str], concurrency: int, catalogue: Catalogue, env: dict[str, str],
                endpoints: tuple[str, ...] = ("completions", "chat")) -> tuple[float, list[ProviderRun]]:
    started = time.perf_counter()
    runs = certify(providers_for(urls, concurrency, endpoints), catalogue, load_contracts(), environ=env)
    return time.perf_counter() - started, runs


def run(urls: list[str], concurrency: int, endpoints: tuple[str, ...] = ("completions", "chat"),
        ) -> tuple[float, list[ProviderRun]]:
    return run_certify(urls, concurrency, hand_written(), {**os.environ, KEY_VAR: DEFAULT_API_KEY}, endpoints)


def lower_bound(structure: ProviderRun, latency: float, chunk_delay: float, concurrency: int) -> dict[str, float]:
    """Exchanges that were sent, at their service times; a generated case (``property-positive-3``) depends on
    nothing, and the property plan is not a request."""
    service = {}
    for probe_id, ex in structure.exchanges.items():
        if ex.not_sent:
            continue
        chunks = max(len(ex.events) - 1, 0)  # delays fall between chunks
        service[probe_id] = latency + chunks * chunk_delay
    by_id = probes_by_id()

    def chain(probe_id: str) -> float:
        deps = [d for d in by_id[probe_id].depends_on if d in service] if probe_id in by_id else []
        return service[probe_id] + max((chain(d) for d in deps), default=0.0)

    critical = max(chain(p) for p in service)
    throughput = sum(service.values()) / concurrency
    return {"critical_path_s": critical, "throughput_bound_s": throughput, "lower_bound_s": max(critical, throughput)}


def harness_overhead(concurrency: int) -> dict[str, float]:
    with serve_in_thread(ServerConfig()) as server:
        wall, runs = run([server.base_url], concurrency)
    requests = runs[0].spend.requests
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "relaycheck.cli.main", "run", "--quiet", "--report-dir", out],
                              check=False, capture_output=True, text=True)
        cli_s = time.perf_counter() - started
        if done.returncode not in (0, 1) or not (Path(out) / "reference.json").exists():
            raise SystemExit(f"relaycheck run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return {"requests": requests, "wall_s": wall, "requests_per_s": requests / wall, "cli_run_to_report_s": cli_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=400)
    parser.add_argument("--chunk-delay-ms", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--providers", type=int, default=4)
    parser.add_argument("--endpoint", choices=("completions", "chat", "all"), default="all",
                        help="which endpoints the providers are certified on (default both)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/certify.json"))
    args = parser.parse_args()
    endpoints = ("completions", "chat") if args.endpoint == "all" else (args.endpoint,)
    latency, chunk_delay = args.latency_ms / 1000, args.chunk_delay_ms / 1000

    with serve_in_thread(ServerConfig()) as server:
        _, (structure,) = run([server.base_url], args.concurrency, endpoints)
    bound = lower_bound(structure, latency, chunk_delay, args.concurrency)

    slow = ServerConfig(latency_ms=args.latency_ms, chunk_delay_ms=args.chunk_delay_ms)
    with ExitStack() as stack:
        servers = [stack.enter_context(serve_in_thread(slow)) for _ in range(args.providers)]
        one_wall, (one,) = run([servers[0].base_url], args.concurrency, endpoints)
        many_wall, many = run([s.base_url for s in servers], args.concurrency, endpoints)
    overhead = harness_overhead(args.concurrency)

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "settings": vars(args) | {"out": str(args.out)},
        "one_provider": {"wall_s": one_wall, "requests": one.spend.requests,
                         "completion_tokens": one.spend.completion_tokens, **bound,
                         "ratio_to_lower_bound": one_wall / bound["lower_bound_s"]},
        "parallel": {"providers": args.providers, "wall_s": many_wall,
                     "requests": sum(r.spend.requests for r in many),
                     "completion_tokens": sum(r.spend.completion_tokens for r in many),
                     "ratio_to_one_provider": many_wall / one_wall},
        "harness_zero_latency": overhead,
    }
    rows = [
        ("one provider: wall", f"{one_wall:.2f} s"),
        ("  requests / completion tokens", f"{one.spend.requests} / {one.spend.completion_tokens}"),
        ("  lower bound (chain | throughput)",
         f"{bound['lower_bound_s']:.2f} s ({bound['critical_path_s']:.2f} | {bound['throughput_bound_s']:.2f})"),
        ("  ratio to lower bound (goal <= 1.5)", f"{result['one_provider']['ratio_to_lower_bound']:.2f}"),
        (f"{args.providers} providers in parallel: wall", f"{many_wall:.2f} s"),
        ("  ratio to one provider (goal <= 1.3)", f"{result['parallel']['ratio_to_one_provider']:.2f}"),
        ("zero latency: requests per second", f"{overhead['requests_per_s']:.1f}"),
        ("zero latency: relaycheck run to report", f"{overhead['cli_run_to_report_s']:.2f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"latency {args.latency_ms:g} ms, chunk delay {args.chunk_delay_ms:g} ms, concurrency {args.concurrency}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"json: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
