"""Benchmark: what the property phase costs, apart from the rest of a certification.

Not a test: run it by hand (``python bench/property_bench.py``); it prints tables and writes JSON. Every figure
comes from a fresh process, measured with ``wait4`` (its own CPU seconds and peak RSS, not the benchmark's), so the
one-off costs (imports, schemathesis building its strategies from the contract) are counted as a user pays them.

1. Imports and generation alone: ``python -c`` importing relaycheck, then schemathesis and Hypothesis; drawing the
   cases of one phase (no network).
2. The phase's cost at zero latency: ``relaycheck run`` (reports written, as a user runs it) against a reference
   server outside the measured process, for 1 provider and for 16 (16 names in one providers file, all on that
   server, each a paid vendor's default entry: 10 property examples, concurrency 4): the hand-written probes
   alone (``--no-property``), the default run (probes and the property phase), and ``--checks property``. The
   phase costs the default run minus the probes alone. Goals: at most 1 s of CPU and 60 MB for one provider;
   16 providers under 400 MB peak RSS.
3. A default certification (every check, property phase included) of one provider at ``--latency-ms`` (400 ms
   before the first byte, 20 ms between chunks, concurrency 8), timed in a fresh process, against the lower bound
   of its dependency chains and concurrency (``bench/certify_bench.py``'s, from a zero-latency run's exchanges).
   Goal: within 1.5x (the median of three runs: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from certify_bench import KEY_VAR, lower_bound, run_certify

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.property import default_seed
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig
from relaycheck.server.running import serve_in_thread

MODEL = "gpt-3.5-turbo-instruct"
GOAL_PHASE_CPU_S, GOAL_PHASE_MB, GOAL_MANY_MB, GOAL_RATIO = 1.0, 60.0, 400.0, 1.5


@dataclass
class Measured:
    wall_s: float
    cpu_s: float  # user + system, the process and whatever it waited for
    peak_mb: float  # its peak resident set (ru_maxrss)
    requests: int = 0
    stdout: str = ""


def measure(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run ``argv`` in a fresh process; its own CPU time and peak RSS, from wait4."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode not in (0, 1):  # 1: a MUST check failed, a verdict all the same
            raise SystemExit(f"{' '.join(argv[:6])}… failed ({child.returncode}): {err.read()[-800:]}")
        return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout=out.read())


def python(code: str) -> Measured:
    return measure([sys.executable, "-c", code])


def imports_and_generation(seed: int) -> dict[str, Measured]:
    generate = ("from relaycheck.property.generate import generate_cases; from relaycheck.property.plan import split; "
                f"generate_cases({seed}, *split({{n}}), {MODEL!r})")
    return {
        "python alone": python("pass"),
        "import relaycheck (the CLI)": python("import relaycheck.cli.main"),
        "  + import schemathesis, hypothesis": python("import relaycheck.cli.main, schemathesis, hypothesis"),
        "draw one phase's cases (10 examples), no network": python(generate.format(n=10)),
        "draw one phase's cases (40 examples, the embedded default)": python(generate.format(n=40)),
    }


def providers_file(folder: Path, base_url: str, count: int) -> Path:
    entries = [{"name": f"bench-{i}", "base_url": base_url, "api_key_env": KEY_VAR} for i in range(count)]
    path = folder / f"providers-{count}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "providers": entries}), encoding="utf-8")
    return path


def relaycheck_run(providers: Path, *options: str) -> Measured:
    with tempfile.TemporaryDirectory(prefix="relaycheck-bench-") as out:
        argv = [sys.executable, "-m", "relaycheck.cli.main", "run", "--providers-file", str(providers), "-p", "all",
                "-q", "--report-dir", out, *options]
        measured = measure(argv, env={**os.environ, KEY_VAR: DEFAULT_API_KEY}, cwd=Path(out))
        for report in Path(out).glob("bench-*.json"):
            measured.requests += json.loads(report.read_text(encoding="utf-8"))["spend"]["requests"]
    return measured


def phase_cost(counts: tuple[int, ...]) -> dict[str, dict[str, Measured]]:
    out: dict[str, dict[str, Measured]] = {}
    with serve_in_thread(ServerConfig()) as server, tempfile.TemporaryDirectory() as folder:
        for count in counts:
            providers = providers_file(Path(folder), server.base_url, count)
            out[str(count)] = {
                "probes only (--no-property)": relaycheck_run(providers, "--no-property"),
                "default run (probes + property phase)": relaycheck_run(providers),
                "property phase alone (--checks property)": relaycheck_run(providers, "--checks", "property"),
            }
    return out


def child_certify(base_url: str, concurrency: int) -> int:
    """In a fresh process: certify one provider with every check; print the wall time and requests as JSON."""
    env = {**os.environ, KEY_VAR: DEFAULT_API_KEY}
    wall, runs = run_certify([base_url], concurrency, load_catalogue(), env)
    print(json.dumps({"wall_s": wall, "requests": runs[0].spend.requests}))
    return 0


def latency_ratio(latency_ms: float, chunk_delay_ms: float, concurrency: int, runs: int) -> dict[str, Any]:
    """The median of ``runs`` timed certifications (each in a fresh process): the machine is shared, its load
    moves wall times by a second or more."""
    env = {**os.environ, KEY_VAR: DEFAULT_API_KEY}
    with serve_in_thread(ServerConfig()) as server:
        _, (structure,) = run_certify([server.base_url], concurrency, load_catalogue(), env)
    bound = lower_bound(structure, latency_ms / 1000, chunk_delay_ms / 1000, concurrency)
    timed = []
    with serve_in_thread(ServerConfig(latency_ms=latency_ms, chunk_delay_ms=chunk_delay_ms)) as slow:
        for _ in range(runs):
            child = measure([sys.executable, __file__, "--child-certify", slow.base_url,
                             "--concurrency", str(concurrency)])
            timed.append(json.loads(child.stdout) | {"process_cpu_s": child.cpu_s, "process_peak_mb": child.peak_mb})
    walls = sorted(t["wall_s"] for t in timed)
    median = statistics.median(walls)
    return {**bound, "wall_s": median, "walls_s": walls, "requests": timed[0]["requests"], "runs": timed,
            "ratio_to_lower_bound": median / bound["lower_bound_s"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", type=int, default=16, help="the many-provider run (default 16)")
    parser.add_argument("--latency-ms", type=float, default=400)
    parser.add_argument("--chunk-delay-ms", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=8, help="of the latency run")
    parser.add_argument("--latency-runs", type=int, default=3, help="timed certifications; the median counts")
    parser.add_argument("--out", type=Path, default=Path("bench/results/property.json"))
    parser.add_argument("--child-certify", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_certify:
        return child_certify(args.child_certify, args.concurrency)
    seed = default_seed()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {platform.python_version()} · {os.cpu_count()} CPUs (load {load}) · seed {seed} · each row a fresh "
          "process")

    alone = imports_and_generation(seed)
    print(f"\n{'imports and generation':<60} {'CPU s':>6} {'peak MB':>8}")
    for label, m in alone.items():
        print(f"  {label:<58} {m.cpu_s:6.2f} {m.peak_mb:8.0f}")

    cost = phase_cost((1, args.providers))
    print(f"\n{'relaycheck run, zero latency':<46}" + "".join(
        f"{f'{n} provider' + ('s' if n != '1' else ''):>34}" for n in cost))
    print(f"{'':<46}" + f"{'wall s':>8} {'CPU s':>7} {'peak MB':>8} {'requests':>9}" * len(cost))
    for label in cost["1"]:
        cells = "".join(f"{m.wall_s:8.2f} {m.cpu_s:7.2f} {m.peak_mb:8.0f} {m.requests:9d}"
                        for m in (cost[n][label] for n in cost))
        print(f"  {label:<44}{cells}")
    phase = {}
    for n, rows in cost.items():
        base, full = rows["probes only (--no-property)"], rows["default run (probes + property phase)"]
        phase[n] = {"cpu_s": full.cpu_s - base.cpu_s, "peak_mb": full.peak_mb - base.peak_mb,
                    "requests": full.requests - base.requests}
    cells = "".join(f"{'':>8} {p['cpu_s']:7.2f} {p['peak_mb']:8.0f} {p['requests']:9d}" for p in phase.values())
    print(f"  {'the property phase (default minus probes)':<44}{cells}")

    timed = latency_ratio(args.latency_ms, args.chunk_delay_ms, args.concurrency, args.latency_runs)
    print(f"\ndefault certification, one provider, {args.latency_ms:g} ms latency, {args.chunk_delay_ms:g} ms chunks, "
          f"concurrency {args.concurrency} (fresh processes)")
    print(f"  wall {timed['wall_s']:.2f} s (median of {', '.join(f'{w:.2f}' for w in timed['walls_s'])}), "
          f"{timed['requests']} requests; lower bound {timed['lower_bound_s']:.2f} s "
          f"(chain {timed['critical_path_s']:.2f} | throughput {timed['throughput_bound_s']:.2f}); "
          f"ratio {timed['ratio_to_lower_bound']:.2f}")

    many = cost[str(args.providers)]["default run (probes + property phase)"]
    goals = [
        (f"property phase, 1 provider: CPU <= {GOAL_PHASE_CPU_S:g} s", phase["1"]["cpu_s"] <= GOAL_PHASE_CPU_S),
        (f"property phase, 1 provider: memory <= {GOAL_PHASE_MB:g} MB", phase["1"]["peak_mb"] <= GOAL_PHASE_MB),
        (f"{args.providers} providers, default run: peak RSS < {GOAL_MANY_MB:g} MB", many.peak_mb < GOAL_MANY_MB),
        (f"default certification at {args.latency_ms:g} ms: <= {GOAL_RATIO:g}x the lower bound",
         timed["ratio_to_lower_bound"] <= GOAL_RATIO),
    ]
    print("\ngoals")
    for label, met in goals:
        print(f"  {'met    ' if met else 'MISSED '} {label}")

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_before": load},
        "settings": vars(args) | {"out": str(args.out), "seed": seed},
        "imports_and_generation": {k: asdict(v) | {"stdout": None} for k, v in alone.items()},
        "zero_latency": {n: {k: asdict(v) | {"stdout": None} for k, v in rows.items()} for n, rows in cost.items()},
        "property_phase": phase,
        "latency": timed,
        "goals": {label: met for label, met in goals},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"json: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
