"""Do two runs agree on every verdict and its evidence? Exit 1 listing each difference, 0 when they agree.

    python scripts/compare_reports.py BEFORE.json AFTER.json
    python scripts/compare_reports.py BEFORE_DIR AFTER_DIR     (every *.json report, paired by relative path)

For every check present in both reports it compares the verdict (grade, message, expected, observed, note, the
probes it read, the check's catalogue metadata) and the exchanges those probes recorded. What differs from run to
run by nature is ignored: timings, start times, the loopback port, response ids, ``created`` stamps, the Date
header and the directory the reports were written under. A verdict field only one side has (a field a new version
adds) is listed as a note, not a difference.

The reference provider samples without a seed at temperature > 0, so a *sampled* exchange (no ``seed``,
temperature absent or not 0) may carry other text in each run: for those only the request, the status and the
content type are compared, and a verdict that read only sampled exchanges is compared on its grade (its message
and observed text are shown as notes when they differ). Two recordings of the same exchanges (``rejudge``) must
agree exactly. The reports are read as plain JSON on purpose: this script must not depend on the code it checks.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

VOLATILE_KEYS = {"started_at", "timing", "at", "date"}  # timings, timestamps, the Date header
VOLATILE_TEXT = [
    (re.compile(r"\b(chatcmpl|cmpl|req)-[A-Za-z0-9]{6,}"), r"\1-ID"),
    (re.compile(r"(127\.0\.0\.1|localhost):\d+"), r"\1:PORT"),
    (re.compile(r'("?created"?\s*[:=]\s*)\d{9,}(\.\d+)?'), r"\1TS"),
    (re.compile(r"\b1[6-9]\d{8}(\d{3})?\b"), "TS"),  # Unix seconds or milliseconds of this era
]


def normalise(value: Any, roots: tuple[str, ...] = ()) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, roots) for k, v in value.items() if k.lower() not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalise(v, roots) for v in value]
    if isinstance(value, str):
        for root in roots:
            value = value.replace(root, "ROOT")
        for pattern, replacement in VOLATILE_TEXT:
            value = pattern.sub(replacement, value)
        return value
    return value


def sampled(exchange: dict[str, Any]) -> bool:
    """A request the reference provider answers with fresh random text each time (no seed, temperature > 0)."""
    try:
        body = json.loads(exchange["request"]["body"])
    except (KeyError, TypeError, ValueError):
        return False
    return isinstance(body, dict) and body.get("seed") is None and body.get("temperature", 1) != 0


def _surface(exchange: dict[str, Any]) -> dict[str, Any]:
    """What a sampled exchange must keep between runs: the request, the status, the content type, the errors."""
    return {
        "request": exchange.get("request"),
        "status": exchange.get("status"),
        "content-type": (exchange.get("headers") or {}).get("content-type"),
        "transport_error": exchange.get("transport_error"),
        "not_sent": exchange.get("not_sent"),
    }


class Comparison:
    def __init__(self, label: str, roots: tuple[str, ...]) -> None:
        self.label = label
        self.roots = roots
        self.diffs: list[str] = []
        self.notes: list[str] = []

    def norm(self, value: Any) -> Any:
        return normalise(value, self.roots)

    def reports(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        b_verdicts = {v["check"]: v for v in before.get("verdicts") or []}
        a_verdicts = {v["check"]: v for v in after.get("verdicts") or []}
        only_b = sorted(set(b_verdicts) - set(a_verdicts))
        only_a = sorted(set(a_verdicts) - set(b_verdicts))
        if only_b or only_a:
            self.notes.append(f"checks only before {only_b}, only after {only_a} (not compared)")
        b_ex = {x["probe"]: x for x in before.get("exchanges") or []}
        a_ex = {x["probe"]: x for x in after.get("exchanges") or []}
        added: set[str] = set()
        for check in sorted(set(b_verdicts) & set(a_verdicts)):
            added |= self.verdict(check, b_verdicts[check], a_verdicts[check], b_ex, a_ex)
        if added:
            self.notes.append(f"verdict fields on one side only: {', '.join(sorted(added))}")
        any_sampled = any(sampled(x) for x in b_ex.values())
        for key in ("provider", "skipped", "spend", "budget", "score", "suite"):
            b, a = self.norm(before.get(key)), self.norm(after.get(key))
            if key == "suite":  # the catalogue revision changes with the code; the number of checks may not
                b, a = (b or {}).get("checks"), (a or {}).get("checks")
            if key == "spend" and any_sampled and b and a:
                tokens = ("prompt_tokens", "completion_tokens")
                if [b.get(t) for t in tokens] != [a.get(t) for t in tokens]:
                    self.notes.append(f"spend tokens vary with sampling: {_short(b)} → {_short(a)}")
                b, a = {k: v for k, v in b.items() if k not in tokens}, {k: v for k, v in a.items() if k not in tokens}
            if key == "score" and (only_a or only_b):
                continue  # the counts move with the catalogue; the verdicts compared above are what matters
            if b != a and key in before and key in after:
                self.diffs.append(f"{key}: {_short(b)} → {_short(a)}")

    def verdict(self, check: str, b: dict[str, Any], a: dict[str, Any], b_ex: dict[str, Any],
                a_ex: dict[str, Any]) -> set[str]:
        b, a = self.norm(b), self.norm(a)
        probes = b.get("probes") or []
        only_sampled = bool(probes) and all(p in b_ex and sampled(b_ex[p]) for p in probes)
        added = set()
        for key in sorted(set(b) | set(a)):
            if key not in b or key not in a:
                added.add(f"{key} ({'after' if key in a else 'before'} only)")
            elif b[key] != a[key]:
                line = f"{check}.{key}: {_short(b[key])} → {_short(a[key])}"
                if only_sampled and key in ("message", "expected", "observed"):
                    self.notes.append(f"sampled evidence varies: {line}")
                else:
                    self.diffs.append(line)
        for probe in probes:
            bx, ax = b_ex.get(probe), a_ex.get(probe)
            if (bx is None) != (ax is None):
                self.diffs.append(f"{check}: exchange {probe} {'missing after' if ax is None else 'new after'}")
                continue
            if bx is None or ax is None:
                continue
            nb, na = self.norm(bx), self.norm(ax)
            if sampled(bx):
                nb, na = _surface(nb), _surface(na)
            if nb != na:
                keys = sorted(k for k in set(nb) | set(na) if nb.get(k) != na.get(k))
                self.diffs.append(f"{check}: exchange {probe} differs in {', '.join(keys)}")
        return added


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pairs(before: Path, after: Path) -> list[tuple[Path, Path, str]]:
    if before.is_file() and after.is_file():
        return [(before, after, after.name)]
    found = []
    for b in sorted(before.rglob("*.json")):
        rel = b.relative_to(before)
        a = after / rel
        found.append((b, a, str(rel)))
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = Path(argv[0]), Path(argv[1])
    roots = tuple(str(p.resolve() if p.is_dir() else p.resolve().parent) for p in (before, after))
    roots += tuple(str(p if p.is_dir() else p.parent) for p in (before, after))
    diffs: list[str] = []
    compared = 0
    for b, a, label in pairs(before, after):
        if not a.exists():
            diffs.append(f"{label}: missing in {after}")
            continue
        b_doc, a_doc = json.loads(b.read_text(encoding="utf-8")), json.loads(a.read_text(encoding="utf-8"))
        if not isinstance(b_doc, dict) or "verdicts" not in b_doc:
            continue  # not a report
        comparison = Comparison(label, tuple(sorted(set(roots), key=len, reverse=True)))
        comparison.reports(b_doc, a_doc)
        compared += 1
        diffs += [f"{label}: {d}" for d in comparison.diffs]
        for note in comparison.notes:
            print(f"note: {label}: {note}")
    for diff in diffs:
        print(diff)
    print(f"{compared} report(s) compared, {len(diffs)} difference(s)")
    return 1 if diffs or not compared else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
