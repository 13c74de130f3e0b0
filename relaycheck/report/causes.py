"""Root causes: the bad verdicts of a report grouped into the faults that explain them.

One fault fails many checks: a relay that answers errors with HTTP 200 fails every check that sends an invalid
request, one that drops ``stop`` fails every stop check, streamed or not. A reader needs the faults first, then the
checks each one explains. This module is pure (a report in, typed faults out) and is what the HTML page, the
Markdown summary and the terminal summary all read.

The rule, decided on the reference provider with five quirks switched on together (errors-200, drop-stop,
no-done, usage-inflated, finish-reason-eos: 41 bad verdicts, 5 faults; ``tests/reports/test_causes.py`` holds it):

1. Each bad verdict (fail, error, warn) yields *clues*, read from its evidence, never from its check id:
   - ``status``: the answer's status class is not the one the check expected (a 2xx for a request that must be
     refused, a 5xx or an HTML page for any request): one fault however many requests met it (the catalogue's own
     deviation ids would mislead here: each check names what it tests, e.g. D13 "out of range accepted", not why
     the refusal failed);
   - ``field``: a response field the verdict names (``finish_reason``, ``completion_tokens``, a schema path);
   - ``value``: a quoted value the provider sent (``'eos_token'``, ``' 5, 6, 7'``), probe names excepted;
   - ``probe``: only when none of the above: the failing probe it read (two checks of one exchange);
   - ``unjudged``: an ``error`` verdict (no verdict could be had) by the kind of failure, probe and numbers left
     out: a provider that times out on 30 probes is one fault, not 30;
   - ``fault``: a verdict that names the check whose fault explains it ("one fault with identity.tokenizer": another
     tokenizer behind the name explains every token count) joins that check's, and by nothing else it shows (a
     field every usage check names would otherwise fold other usage findings into it).
2. Verdicts sharing a clue are one fault (connected components).
3. A fault is labelled with a known deviation, first by what its recorded exchanges show on the wire
   (:func:`wire_deviation`: a missing route D90, a 2xx error or HTML page D40, an HTML error page D41, a 5xx D42,
   an error event inside a 200 stream D34), whatever the failing check tests; else a status fault with the
   deviation whose entry defines it
   (:data:`STATUS_DEVIATIONS`: 2xx D40, an HTML page D41, 5xx D42; another status, e.g. valid requests refused
   with a 400, is named by what was seen); any other fault with the id its checks cite most (ties: the one cited
   first in a check's list, which is the check's main deviation). Faults that get the same deviation are merged.

Grouping never hides a verdict: every bad verdict is in exactly one fault (tested), in catalogue order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from relaycheck.checks.model import Grade, error_envelope, route_missing
from relaycheck.report.model import Report, VerdictRow
from relaycheck.transport.exchange import Exchange

# The deviation whose catalogue entry *is* the symptom "an answer came with a status the request did not call for":
# a 2xx for a request that must be refused, an HTML page, a 5xx.
STATUS_DEVIATIONS = {"2xx": "D40", "html": "D41", "5xx": "D42"}

_REFUSAL_EXPECTED = re.compile(r"\b4(?:\d\d|xx)\b")
_OBSERVED_STATUS = re.compile(r"(?:^|->\s*)HTTP (([1-5])\d\d)\b(?: ([\w.+-]+/[\w.+-]+))?")
_SUCCESS_EXPECTED = re.compile(r"\bHTTP 2\d\d\b")
_FIELD = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # snake_case response fields: finish_reason, completion_tokens
_SCHEMA_PATH = re.compile(r"\b(?:choices|usage|logprobs)/(?:\d+/)?([a-z_]+)")
_QUOTED = re.compile(r"'([^'\n]{1,60})'")
_ENUM = re.compile(r"is not one of \[[^\]]*\]")  # a schema message's list of allowed values: not what was sent
_NAMED_FAULT = re.compile(r"\bone fault with ([a-z]+(?:\.[a-z0-9-]+)+)")  # a verdict naming the check that explains it
# words of the check's own prose that look like fields but name no response field
_NOT_FIELDS = frozenset({"max_tokens", "include_usage", "stream_options", "logit_bias", "best_of", "top_p",
                         "cl100k_base", "o200k_base", "non_json"})


@dataclass(frozen=True)
class Fault:
    """One root cause and the bad verdicts it explains (in catalogue order)."""

    key: str  # "D40"; "unjudged:…" for errors; a clue ("probe:basic") when no deviation fits
    deviation: str | None  # the known deviation it is, when one is
    symptom: str  # what was seen, in words
    rows: tuple[VerdictRow, ...]
    cited: tuple[str, ...]  # every deviation id its checks cite, most cited first

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rows)

    @property
    def worst(self) -> Grade:
        return min((r.grade for r in self.rows), key=lambda g: g.order)

    @property
    def blocking(self) -> bool:
        return any(r.blocking for r in self.rows)


@dataclass(frozen=True)
class Causes:
    faults: tuple[Fault, ...]  # worst first, then the most checks explained

    @property
    def checks(self) -> int:
        return sum(len(f.rows) for f in self.faults)

    def summary(self) -> str:
        """The count line: faults as well as checks."""
        if not self.faults:
            return "no fault: no check failed or warned"
        blocking = sum(f.blocking for f in self.faults)
        verb = "explains" if len(self.faults) == 1 else "explain"
        return (f"{_n(len(self.faults), 'fault')} {verb} {_n(self.checks, 'failed or warned check')}"
                f" ({blocking} blocking)")

    def fault_of(self, check: str) -> Fault | None:
        return next((f for f in self.faults if check in f.checks), None)


def causes(report: Report) -> Causes:
    bad = [r for r in report.verdicts if r.grade.bad]
    if not bad:
        return Causes(())
    probes = set(report.by_probe) | {p for r in report.verdicts for p in r.verdict.probes}
    clues = {r.id: _clues(r, probes) | _wire_clues(report, r) for r in bad}
    groups = _components(bad, clues)
    labelled: dict[str, list[VerdictRow]] = {}
    symptoms: dict[str, str] = {}
    for group in groups:
        key, symptom = _label(group, clues)
        labelled.setdefault(key, []).extend(group)
        symptoms.setdefault(key, symptom)
    order = {r.id: i for i, r in enumerate(report.verdicts)}
    faults = []
    for key, rows in labelled.items():
        rows.sort(key=lambda r: order[r.id])
        deviation = key if re.fullmatch(r"D\d+", key) else None
        faults.append(Fault(key, deviation, symptoms[key], tuple(rows), _cited(rows)))
    faults.sort(key=lambda f: (f.worst.order, -len(f.rows), order[f.rows[0].id]))
    return Causes(tuple(faults))


# -- clues ----------------------------------------------------------------------------------------------------


def wire_deviation(ex: Exchange) -> str | None:
    """The deviation an exchange shows by itself on the wire, whatever was asked of it; None for an answer that is
    the endpoint's own (a refusal with the envelope, a completion)."""
    if ex.status is None:
        return None
    if route_missing(ex):
        return "D90"
    html = "html" in ex.content_type
    if 200 <= ex.status < 300 and (html or error_envelope(ex) is not None):
        return "D40"
    if ex.status >= 500:
        return "D42"
    if html:
        return "D41"
    if ex.status == 200 and any(isinstance(c, dict) and isinstance(c.get("error"), dict) for c in ex.chunks):
        return "D34"
    return None


def _wire_clues(report: Report, row: VerdictRow) -> set[str]:
    """``wire:D90`` and the like: what the verdict's failing exchanges showed on the wire (only the one it names
    when it names one: a check reading many probes fails on one of them)."""
    if row.verdict.grade is Grade.ERROR:
        return set()
    return {f"wire:{d}" for ex in report.evidence(row)[:1] if (d := wire_deviation(ex))}


def _clues(row: VerdictRow, probes: set[str]) -> set[str]:
    named = {f"fault:{c}" for c in _NAMED_FAULT.findall(row.verdict.message or "")}
    if named:  # explained by that fault: its own evidence (a field every usage check names) links nothing else
        return {f"fault:{row.id}", *named}
    return _evidence_clues(row, probes) | {f"fault:{row.id}"}


def _evidence_clues(row: VerdictRow, probes: set[str]) -> set[str]:
    v = row.verdict
    if v.grade is Grade.ERROR:
        # no verdict (timeout, reset, a body cut at the bound): one fault per kind of failure, whichever probe
        return {"unjudged:" + re.sub(r"\d+(?:\.\d+)?", "#", _QUOTED.sub("…", v.message))}
    observed = v.observed or ""
    status = _OBSERVED_STATUS.search(observed)
    wanted = "4" if _REFUSAL_EXPECTED.search(v.expected or "") else "2" if _SUCCESS_EXPECTED.search(v.expected or "") \
        else None
    if status and wanted and status.group(2) != wanted:
        # the status is the fault: the body of a wrong-status answer (an error message, an HTML page) says
        # nothing more, and every check that met it shows the same thing
        html = "html" in (status.group(3) or "") or "<html" in observed[:300].lower()
        kind = "html" if html and status.group(2) != "2" else f"{status.group(2)}xx"
        return {f"status:{kind}", f"code:{status.group(1)}" + (" (HTML)" if html else "")}
    # a property check's evidence is a curl line: only its "problem:" line says what went wrong
    problem = [line for line in observed.splitlines() if line.startswith("problem:")]
    said = _ENUM.sub("", " ".join([v.message, *(problem if observed.startswith("curl ") else [observed])]))
    expected = v.expected or ""
    found = {f"field:{f}" for f in _fields(said)}
    found |= {f"value:{q}" for q in _QUOTED.findall(said)
              if len(q.strip()) > 1 and q not in probes and q not in expected}
    return found or {f"probe:{p}" for p in v.probes[:1]} or {f"check:{v.check}"}


def fields_named(row: VerdictRow) -> list[str]:
    """The response fields a verdict names (what a report highlights in the recorded body)."""
    v = row.verdict
    observed = v.observed or ""
    problem = [line for line in observed.splitlines() if line.startswith("problem:")]
    return sorted(_fields(" ".join([v.message, v.expected or "", *(problem or [observed[:300]])])))


def _fields(text: str) -> set[str]:
    found = set(_SCHEMA_PATH.findall(text)) | set(_FIELD.findall(text))
    return {f for f in found if f not in _NOT_FIELDS}


def _components(rows: list[VerdictRow], clues: dict[str, set[str]]) -> list[list[VerdictRow]]:
    """Verdicts linked by any shared clue, transitively (union-find over the clues)."""
    parent = {r.id: r.id for r in rows}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, str] = {}
    for r in rows:
        for clue in sorted(clues[r.id]):
            if clue in owner:
                parent[root(r.id)] = root(owner[clue])
            else:
                owner[clue] = r.id
    groups: dict[str, list[VerdictRow]] = {}
    for r in rows:
        groups.setdefault(root(r.id), []).append(r)
    return list(groups.values())


# -- labels ---------------------------------------------------------------------------------------------------


def _label(group: list[VerdictRow], clues: dict[str, set[str]]) -> tuple[str, str]:
    unjudged = sorted({c for r in group for c in clues[r.id] if c.startswith("unjudged:")})
    if unjudged:  # no deviation explains a transport failure: the fault is what happened
        return unjudged[0], f"no verdict could be had: {group[0].verdict.message}"
    seen = Counter(c.removeprefix("wire:") for r in group for c in clues[r.id] if c.startswith("wire:"))
    if seen:  # what the exchanges showed, not what the checks that met it test
        deviation = min(seen, key=lambda d: (-seen[d], d))
        return deviation, f"{group[0].verdict.observed or group[0].verdict.message}"[:160]
    status = sorted({c.removeprefix("status:") for r in group for c in clues[r.id] if c.startswith("status:")})
    if status:
        codes = sorted({c.removeprefix("code:") for r in group for c in clues[r.id] if c.startswith("code:")})
        refusals = sum(bool(_REFUSAL_EXPECTED.search(r.verdict.expected or "")) for r in group)
        whom = ("requests that must be refused" if refusals == len(group) else "valid requests" if not refusals
                else f"{len(group) - refusals} valid requests and {refusals} that must be refused")
        kind = next((k for k in STATUS_DEVIATIONS if k in status), status[0])
        return STATUS_DEVIATIONS.get(kind, f"status:{kind}"), f"{whom} were answered with HTTP {', '.join(codes)}"
    cited = _cited(group)
    shared = sorted({c for r in group for c in clues[r.id] if not c.startswith("fault:")})
    symptom = _symptom(shared)
    # a check the others name as the fault that explains them: its own deviation is the fault's
    named = {c.removeprefix("fault:") for r in group for c in clues[r.id]
             if c.startswith("fault:") and c != f"fault:{r.id}"}
    explaining = [r for r in group if r.id in named and r.check.deviations]
    if explaining:
        return explaining[0].check.deviations[0], symptom
    if cited:
        return cited[0], symptom
    return (shared[0] if shared else f"check:{group[0].id}"), symptom


def _cited(rows: Iterable[VerdictRow]) -> tuple[str, ...]:
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for r in rows:
        for i, d in enumerate(r.check.deviations):
            counts[d] += 1
            first[d] = min(first.get(d, i), i)
    return tuple(sorted(counts, key=lambda d: (-counts[d], first[d], d)))


def _symptom(clues: list[str]) -> str:
    fields = [c.removeprefix("field:") for c in clues if c.startswith("field:")]
    values = [c.removeprefix("value:") for c in clues if c.startswith("value:")]
    parts = []
    if fields:
        parts.append("fields " + ", ".join(fields[:4]) if len(fields) > 1 else f"field {fields[0]}")
    if values:
        parts.append("values " + ", ".join(repr(v) for v in values[:3]))
    if not parts:
        probes = [c.removeprefix("probe:") for c in clues if c.startswith("probe:")]
        parts.append("probe " + ", ".join(probes[:3]) if probes else "one check")
    return "; ".join(parts)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
