"""Nightly regression: what changed between a baseline report and the current one.

Grades are ranked by how bad they are (pass < known, unsupported < warn < error < fail); ``skipped`` has no
rank. A check whose rank went up regressed, one whose rank went down was fixed; any other grade change
(e.g. into or out of ``skipped``) is listed as changed. Expectation changes are listed too: a check whose
expectation (the ``known`` note) changed, and a check whose grade no longer matches its recorded expectation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaycheck.identity.fingerprint import model_change
from relaycheck.report.document import ReportError, StoredReport

RANK = {"pass": 0, "known": 1, "unsupported": 1, "warn": 2, "error": 3, "fail": 4}


@dataclass(frozen=True)
class Change:
    check: str
    before: str | None
    after: str | None
    message: str = ""  # the current verdict's message (or the baseline's for a removed check)


@dataclass
class ProviderDiff:
    provider: str
    regressed: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    expectations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # suite/catalogue/model changes, skipped runs

    @property
    def empty(self) -> bool:
        return not (self.regressed or self.fixed or self.changed or self.new or self.removed or self.expectations)


@dataclass
class Diff:
    providers: list[ProviderDiff]
    only_baseline: list[str] = field(default_factory=list)  # providers missing from the current run
    only_current: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        return sum(len(p.regressed) for p in self.providers)


def diff_reports(baseline: dict[str, Any], current: dict[str, Any]) -> ProviderDiff:
    out = ProviderDiff(current["provider"]["name"])
    b_suite, c_suite = baseline.get("suite") or {}, current.get("suite") or {}
    if b_suite.get("catalogue_revision") != c_suite.get("catalogue_revision"):
        out.notes.append(
            f"catalogue revision {b_suite.get('catalogue_revision')} → {c_suite.get('catalogue_revision')}"
        )
    if baseline["provider"].get("model") != current["provider"].get("model"):
        out.notes.append(f"model {baseline['provider'].get('model')} → {current['provider'].get('model')}")
    swap = model_change(baseline, current)  # the model behind the name, apart from what the checks say
    if swap:
        out.notes.append(swap)
    if baseline["provider"]["name"] != current["provider"]["name"]:
        out.notes.append(f"provider {baseline['provider']['name']} → {current['provider']['name']}")
    if current.get("skipped"):
        out.notes.append(f"current run skipped: {current['skipped']}")
    before = {v["check"]: v for v in baseline.get("verdicts") or []}
    after = {v["check"]: v for v in current.get("verdicts") or []}
    for check, b in before.items():
        if check not in after:
            out.removed.append(Change(check, b["grade"], None, b.get("message", "")))
    for check, a in after.items():
        b = before.get(check)
        if b is None:
            out.new.append(Change(check, None, a["grade"], a.get("message", "")))
            continue
        change = Change(check, b["grade"], a["grade"], a.get("message", ""))
        if b["grade"] != a["grade"]:
            rb, ra = RANK.get(b["grade"]), RANK.get(a["grade"])
            if rb is not None and ra is not None and ra > rb:
                out.regressed.append(change)
            elif rb is not None and ra is not None and ra < rb:
                out.fixed.append(change)
            else:
                out.changed.append(change)
        b_note, a_note = _expectation(b), _expectation(a)
        if b_note != a_note and (b_note or a_note):
            out.expectations.append(f"{check}: expectation {b_note or 'none'} → {a_note or 'none'}")
        elif a.get("note") and "it changed" in a["note"] and a["grade"] != b["grade"]:
            out.expectations.append(f"{check}: {a['note']}")
    return out


def _expectation(v: dict[str, Any]) -> str | None:
    """The expectation behind a verdict, as recorded in its note (``known``: 'expected fail: reason')."""
    note = v.get("note") or ""
    if v.get("grade") == "known" and note.startswith("expected "):
        return note.removeprefix("expected ")
    return None


def diff_paths(baseline: Path, current: Path) -> Diff:
    """Two report files, or two directories of reports paired by provider name. Raises :class:`ReportError`."""
    for path in (baseline, current):
        if not path.exists():
            raise ReportError(f"{path}: no such file or directory")
    if baseline.is_dir() != current.is_dir():
        raise ReportError(f"compare a file with a file or a directory with a directory ({baseline}, {current})")
    if not baseline.is_dir():
        b, c = StoredReport.load(baseline), StoredReport.load(current)
        return Diff([diff_reports(b.data, c.data)])
    b_reports, c_reports = _directory(baseline), _directory(current)
    if not b_reports and not c_reports:
        raise ReportError(f"no reports in {baseline} or {current}")
    diffs = [diff_reports(b_reports[name].data, c_reports[name].data) for name in b_reports if name in c_reports]
    return Diff(
        diffs,
        only_baseline=[n for n in b_reports if n not in c_reports],
        only_current=[n for n in c_reports if n not in b_reports],
    )


def _directory(path: Path) -> dict[str, StoredReport]:
    if not path.exists():
        raise ReportError(f"{path}: no such directory")
    out: dict[str, StoredReport] = {}
    for file in sorted(path.glob("*.json")):
        report = StoredReport.load(file)
        out[report.provider] = report
    return out


def format_diff(diff: Diff) -> str:
    lines = []
    for p in diff.providers:
        lines.append(f"{p.provider}: {len(p.regressed)} regressed, {len(p.fixed)} fixed, {len(p.changed)} changed, "
                     f"{len(p.new)} new, {len(p.removed)} removed, {len(p.expectations)} expectation changes")
        lines += [f"  note: {n}" for n in p.notes]
        for title, items in (("REGRESSED", p.regressed), ("fixed", p.fixed), ("changed", p.changed),
                             ("new", p.new), ("removed", p.removed)):
            for c in items:
                lines.append(f"  {title:<9} {c.check:<34} {c.before or '-'} → {c.after or '-'}  {_short(c.message)}")
        lines += [f"  expectation {e}" for e in p.expectations]
    lines += [f"only in baseline: {name} (provider missing from the current run)" for name in diff.only_baseline]
    lines += [f"only in current: {name} (no baseline)" for name in diff.only_current]
    lines.append(f"{diff.regressions} regression(s)" if diff.regressions else "no regression")
    return "\n".join(lines)


def _short(text: str, limit: int = 90) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
