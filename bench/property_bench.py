"""Benchmark: wall time of the default property run against a loopback reference provider.

Not a test: run it by hand (``python bench/property_bench.py``). It certifies the embedded reference provider
with only the property checks selected (the defaults: ``property_examples`` 40 for the embedded provider, 10 for
a paid vendor's entry), once per configuration, and prints the wall time split into generation (schemathesis +
Hypothesis, no network) and the whole run. Goal: well under a minute on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.config.providers import Provider, embedded_reference
from relaycheck.property import default_seed
from relaycheck.property.generate import _operation, generate_cases
from relaycheck.property.plan import split
from relaycheck.runner.engine import certify
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig
from relaycheck.server.running import serve_in_thread
from relaycheck.spec.contract import default_document_path
from relaycheck.spec.contracts import load_contracts

KEY_VAR = "RELAYCHECK_BENCH_KEY"


def timed(label: str, func) -> object:  # noqa: ANN001
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    print(f"  {label:<52} {elapsed:7.2f} s")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency the reference server injects")
    parser.add_argument("--full", action="store_true", help="also time a full certification (probes + property)")
    args = parser.parse_args()
    seed = default_seed()
    contract = load_contracts()
    print(f"python {platform.python_version()} · {os.cpu_count()} CPUs · seed {seed}")

    start = time.perf_counter()
    _operation(default_document_path().resolve(), "http://127.0.0.1/v1")
    print(f"  {'load the OpenAPI document (schemathesis, once per process)':<52} {time.perf_counter() - start:7.2f} s")
    for examples in (10, 40):
        pos, neg = split(examples)
        timed(f"generate {examples} cases (+ document examples), no network",
              lambda pos=pos, neg=neg: generate_cases(seed + 1, pos, neg, "gpt-3.5-turbo-instruct"))

    property_only = load_catalogue().select(("property",))
    runs: list[tuple[str, Provider]] = [("embedded reference, default (40 examples)", embedded_reference())]
    results = []
    with serve_in_thread(ServerConfig(latency_ms=args.latency_ms)) as server:
        paid = Provider(name="paid-like", base_url=server.base_url, api_key_env=KEY_VAR)  # property_examples 10
        runs.append(("paid vendor entry, default (10 examples), loopback", paid))
        for label, provider in runs:
            start = time.perf_counter()
            (run,) = certify([provider], property_only, contract, environ={KEY_VAR: DEFAULT_API_KEY})
            elapsed = time.perf_counter() - start
            results.append(elapsed)
            grades = ", ".join(f"{v.check.split('.', 1)[1]}={v.grade.value}" for v in run.verdicts)
            print(f"  {label:<52} {elapsed:7.2f} s  ({run.spend.requests} requests; {grades})")
        if args.full:
            start = time.perf_counter()
            (run,) = certify([embedded_reference()], load_catalogue(), contract)
            print(f"  {'full certification, embedded (probes + property)':<52} {time.perf_counter() - start:7.2f} s"
                  f"  ({run.spend.requests} requests)")
    print(f"default property run: {results[0]:.2f} s wall (goal: < 60 s on 2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
