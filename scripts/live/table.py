"""Print a Markdown table of the live run's verdicts: check id -> grade per server (for docs/live.md).

    python scripts/live/table.py [--report-dir reports/live] [--all]

A ``known`` verdict is shown with the grade it was recorded as (``known: fail``); an unexplained deviation is in
bold. By default only the checks where at least one server did not pass are listed; ``--all`` lists every check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ("reference", "llama-cpp", "litellm", "openai-forward", "portkey", "vllm")
EXPECTED = re.compile(r"^expected (\w+):")


def cell(verdict: dict | None) -> str:
    if verdict is None:
        return "–"
    grade = verdict["grade"]
    if grade == "known":
        match = EXPECTED.match(verdict.get("note") or "")
        return f"known: {match.group(1)}" if match else "known"
    return f"**{grade}**" if grade in ("fail", "warn", "unsupported", "error") else grade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports" / "live")
    parser.add_argument("--all", action="store_true", help="list every check, not only the deviating ones")
    args = parser.parse_args(argv)

    reports = {}
    for name in SERVERS:
        path = args.report_dir / f"{name}.json"
        if path.exists():
            reports[name] = json.loads(path.read_text(encoding="utf-8"))
    if not reports:
        print(f"no reports in {args.report_dir}", file=sys.stderr)
        return 1
    names = list(reports)
    verdicts = {n: {v["check"]: v for v in r["verdicts"]} for n, r in reports.items()}
    order: dict[str, dict] = {}
    for name in names:
        for v in reports[name]["verdicts"]:
            order.setdefault(v["check"], v)

    print("| check | level | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for check, meta in order.items():
        row = [verdicts[n].get(check) for n in names]
        if not args.all and all(v is not None and v["grade"] == "pass" for v in row):
            continue
        print(f"| `{check}` | {meta.get('level', '')} | " + " | ".join(cell(v) for v in row) + " |")
    print()
    totals = []
    for name in names:
        counts = reports[name]["score"]["overall"]["counts"]
        totals.append(f"{name}: " + ", ".join(f"{g} {n}" for g, n in counts.items() if n))
    print("Totals: " + "; ".join(totals) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
