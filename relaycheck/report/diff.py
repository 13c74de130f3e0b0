"""Nightly regression: what changed between a baseline report and the current one.

Grades are ranked by how bad they are (pass < known, unsupported < warn < error < fail); ``skipped`` has no
rank (``Grade.rank``). A check whose rank went up regressed, one whose rank went down was fixed; any other grade
change (e.g. into or out of ``skipped``) is listed as changed. Expectation changes are listed too, read from the
verdicts' structured expectation outcomes: a check whose ``known`` expectation changed, and a check whose grade
changed while its recorded expectation went stale.

**Flaky versus changed.** A grade change is *flaky*, listed apart and never a regression, when the check is known to
flip: its verdict failed first and not when its probes were re-sent (``Verdict.rerun``, in the current or the
baseline run); both grades are in the set its expectation allows (WPT-style ``[pass, fail]``); or, given the
older reports of a history, its grade already changed before within it (pass → fail → pass: two changes or more
across the nights). A change after a stable history is a regression or a fix. A check that passed tonight only when
re-sent after a transport failure or an answer that was not the endpoint's (a gateway's HTML 504) is graded warn
for it (:func:`relaycheck.checks.model.unreliable_first`): a change into that grade is a regression, named by what
the first attempt got, not excused as flaky.

**The model behind the name.** When the two reports' model fingerprints say "different models"
(:mod:`relaycheck.identity.fingerprint`), that is a regression of its own, listed first with how many fingerprint
prompts moved (partial routing or a swap); ``model_change="warn"`` (``relaycheck diff --model-change warn``)
lowers it to a warning that does not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from relaycheck.checks.model import Grade, Verdict
from relaycheck.endpoint import ENDPOINTS
from relaycheck.identity.fingerprint import ModelChange, model_change
from relaycheck.report.model import Report, ReportError

ModelChangePolicy = Literal["fail", "warn"]  # a changed model fingerprint: a regression (the default), or a warning
MODEL_CHANGE_POLICIES: tuple[ModelChangePolicy, ...] = ("fail", "warn")


@dataclass(frozen=True)
class Change:
    check: str
    before: Grade | None
    after: Grade | None
    message: str = ""  # the current verdict's message (or the baseline's for a removed check)
    why: str = ""  # for a flaky change: what shows the check flips


@dataclass
class ProviderDiff:
    provider: str
    regressed: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    flaky: list[Change] = field(default_factory=list)  # grade changes of a check known to flip: not regressions
    new: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    expectations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # suite/catalogue changes, skipped runs
    model_changes: list[ModelChange] = field(default_factory=list)  # a fingerprint says another model answers

    @property
    def empty(self) -> bool:
        return not (self.regressed or self.fixed or self.changed or self.flaky or self.new or self.removed
                    or self.expectations or self.model_changes)


@dataclass
class Diff:
    providers: list[ProviderDiff]
    only_baseline: list[str] = field(default_factory=list)  # providers missing from the current run
    only_current: list[str] = field(default_factory=list)
    model_change: ModelChangePolicy = "fail"

    @property
    def model_changes(self) -> list[ModelChange]:
        return [c for p in self.providers for c in p.model_changes]

    @property
    def regressions(self) -> int:
        """What makes ``diff`` exit 1: regressed checks, and changed models unless lowered to a warning."""
        changed = len(self.model_changes) if self.model_change == "fail" else 0
        return sum(len(p.regressed) for p in self.providers) + changed


def diff_reports(baseline: Report, current: Report, history: Sequence[Report] = ()) -> ProviderDiff:
    """What changed from ``baseline`` to ``current``; ``history``: the same provider's older reports, oldest first."""
    out = ProviderDiff(current.provider.name)
    b_rev, c_rev = baseline.suite.catalogue_revision, current.suite.catalogue_revision
    if b_rev != c_rev:
        out.notes.append(f"catalogue revision {b_rev} → {c_rev}")
    for endpoint in dict.fromkeys(e.endpoint for e in (*baseline.provider.certified, *current.provider.certified)):
        was, now = baseline.provider.model_on(endpoint), current.provider.model_on(endpoint)
        if was != now:
            out.notes.append(f"{endpoint.title} model {was or 'not certified'} → {now or 'not certified'}")
    # the model behind the name on each endpoint, apart from what the checks say
    out.model_changes = [c for e in ENDPOINTS if (c := model_change(baseline, current, e)) is not None]
    if baseline.provider.name != current.provider.name:
        out.notes.append(f"provider {baseline.provider.name} → {current.provider.name}")
    if current.skipped:
        out.notes.append(f"current run skipped: {current.skipped}")
    before = {r.id: r.verdict for r in baseline.verdicts}
    after = {r.id: r.verdict for r in current.verdicts}
    _unserved(baseline, current, out, before, after)
    for check, b in before.items():
        if check not in after:
            out.removed.append(Change(check, b.grade, None, b.message))
    for check, a in after.items():
        b = before.get(check)
        if b is None:
            out.new.append(Change(check, None, a.grade, a.message))
            continue
        change = Change(check, b.grade, a.grade, a.message)
        if b.grade is not a.grade:
            rb, ra = b.grade.rank, a.grade.rank
            why = flaky_because(check, [*(r.verdict for h in history for r in h.verdicts if r.id == check), b, a])
            if why:
                out.flaky.append(Change(check, b.grade, a.grade, a.message, why))
            elif rb is not None and ra is not None and ra > rb:
                out.regressed.append(change)
            elif rb is not None and ra is not None and ra < rb:
                out.fixed.append(change)
            else:
                out.changed.append(change)
        b_held, a_held = _held(b), _held(a)
        if b_held != a_held and (b_held or a_held):
            out.expectations.append(f"{check}: expectation {b_held or 'none'} → {a_held or 'none'}")
        elif a.expectation is not None and a.expectation.stale and a.grade is not b.grade:
            out.expectations.append(f"{check}: {a.note}")
    return out


def _unserved(baseline: Report, current: Report, out: ProviderDiff, before: dict[str, Verdict],
              after: dict[str, Verdict]) -> None:
    """An endpoint that was served and is not any more is one regression, said once: its route check carries it,
    and its other checks (now skipped as not served) are left out of the lists rather than listed one by one."""
    served_before = {e.info.endpoint: e.serving.served for e in baseline.endpoints()}
    for result in current.endpoints():
        endpoint = result.info.endpoint
        if result.serving.served is not False or served_before.get(endpoint) is not True:
            continue
        route = next((r.id for r in current.verdicts if r.check.route_check_of(endpoint)), None)
        b, a = before.get(route) if route else None, after.get(route) if route else None
        out.regressed.append(Change(route or f"{endpoint.prefix}route.served", b.grade if b else None,
                                    a.grade if a else None, result.serving.statement()))
        for row in current.verdicts:
            if row.check.endpoint is endpoint:
                before.pop(row.id, None)
                after.pop(row.id, None)


def flaky_because(check: str, verdicts: Sequence[Verdict]) -> str:
    """Why a check's latest grade change is flaky, given its verdicts over the nights (oldest first), or ''."""
    *older, b, a = verdicts
    for v, when in ((a, "now"), (b, "in the baseline")):
        # passed only after an unreliable first answer (an HTML 504): graded warn for it, a finding, not noise
        if v.flaky and v.rerun is not None and not v.rerun.unreliable:
            return f"{when} {v.rerun.first.value} at first, {v.grade.value} when its probes were re-sent"
    allowed = a.expectation.allowed if a.expectation is not None else ()
    if len(allowed) > 1 and all(g in allowed or g is Grade.KNOWN for g in (b.grade, a.grade)):
        return f"its expectation allows {'/'.join(g.value for g in allowed)}"
    grades = [v.grade for v in verdicts if v.grade.rank is not None]
    flips = sum(1 for x, y in zip(grades, grades[1:], strict=False) if x is not y)
    if flips >= 2:
        return f"its grade alternates across {len(verdicts)} nights: {' → '.join(g.value for g in grades)}"
    return ""


def _held(v: Verdict) -> str | None:
    """The expectation a verdict was graded `known` by ('fail: reason'), if it was."""
    e = v.expectation
    return f"{e.grade.value}: {e.reason}" if e is not None and e.matched and v.grade is Grade.KNOWN else None


def diff_paths(baseline: Path, current: Path, history: Sequence[Path] = (),
               model_change: ModelChangePolicy = "fail") -> Diff:
    """Two report files, or two directories of reports paired by provider name; ``history``: older ones of the
    same kind, oldest first (a file's history is that provider's only). Raises :class:`ReportError`."""
    paths = [*history, baseline, current]
    for path in paths:
        if not path.exists():
            raise ReportError(f"{path}: no such file or directory")
    if len({p.is_dir() for p in paths}) > 1:
        raise ReportError(f"compare files with files or directories with directories ({', '.join(map(str, paths))})")
    if not baseline.is_dir():
        older = [Report.load(p) for p in history]
        return Diff([diff_reports(Report.load(baseline), Report.load(current), older)], model_change=model_change)
    b_reports, c_reports = _directory(baseline), _directory(current)
    if not b_reports and not c_reports:
        raise ReportError(f"no reports in {baseline} or {current}")
    nights = [_directory(p) for p in history]
    diffs = [diff_reports(b_reports[name], c_reports[name], [n[name] for n in nights if name in n])
             for name in b_reports if name in c_reports]
    return Diff(
        diffs,
        only_baseline=[n for n in b_reports if n not in c_reports],
        only_current=[n for n in c_reports if n not in b_reports],
        model_change=model_change,
    )


def _directory(path: Path) -> dict[str, Report]:
    if not path.exists():
        raise ReportError(f"{path}: no such directory")
    out: dict[str, Report] = {}
    for file in sorted(path.glob("*.json")):
        report = Report.load(file)
        out[report.name] = report
    return out


def format_diff(diff: Diff) -> str:
    lines = []
    fails = diff.model_change == "fail"
    for p in diff.providers:
        counts = [(len(p.regressed), "regressed"), (len(p.fixed), "fixed"), (len(p.flaky), "flaky"),
                  (len(p.changed), "changed"), (len(p.new), "new"), (len(p.removed), "removed"),
                  (len(p.expectations), "expectation changes")]
        said = [f"{n} {what}" for n, what in counts if n]
        if p.model_changes:
            said.insert(0, "model changed" + ("" if fails else " (warning)"))
        lines.append(f"{p.provider}: " + (", ".join(said) or "no change"))
        for change in p.model_changes:
            title = "REGRESSED" if fails else "WARNING"
            lines.append(f"  {title:<9} {change.what:<34} {_short(change.reading, 200)}")
            lines.append(f"  note: {change.what} against the baseline: {change.evidence()}")
        lines += [f"  note: {n}" for n in p.notes]
        for title, items in (("REGRESSED", p.regressed), ("fixed", p.fixed), ("flaky", p.flaky),
                             ("changed", p.changed), ("new", p.new), ("removed", p.removed)):
            for c in items:
                text = f"{c.why}: {c.message}" if c.why else c.message
                lines.append(f"  {title:<9} {c.check:<34} {c.before or '-'} → {c.after or '-'}  {_short(text)}")
        lines += [f"  expectation {e}" for e in p.expectations]
    lines += [f"only in baseline: {name} (provider missing from the current run)" for name in diff.only_baseline]
    lines += [f"only in current: {name} (no baseline)" for name in diff.only_current]
    lines.append(f"{diff.regressions} regression(s)" if diff.regressions else "no regression")
    if diff.model_changes and not fails:
        lines.append(f"{len(diff.model_changes)} model change(s), lowered to a warning (--model-change warn)")
    return "\n".join(lines)


def _short(text: str, limit: int = 90) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
