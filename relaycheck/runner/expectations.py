"""Per-provider expectations: recorded deviations that turn into ``known`` so a nightly run stays green.

File format (YAML)::

    provider: llama-cpp
    expectations:
      - check: params.echo
        grade: unsupported
        reason: llama.cpp refuses echo (https://github.com/ggml-org/llama.cpp/issues/8942)
      - check: stream.usage
        grade: [pass, fail]            # a set, WPT-style: the check is known to flip between these
        reason: the relay drops usage on some nights

A grade in a set other than ``pass`` grades ``known``; ``pass`` stays ``pass``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from relaycheck.checks.model import ExpectationOutcome, Grade, Verdict
from relaycheck.config.providers import ConfigError


@dataclass(frozen=True)
class Expectation:
    check: str
    grade: Grade  # the first of ``grades``
    reason: str
    grades: tuple[Grade, ...] = ()  # every grade allowed; () means just ``grade``

    @property
    def allowed(self) -> tuple[Grade, ...]:
        return self.grades or (self.grade,)

    def describe(self) -> str:
        return "/".join(g.value for g in self.allowed)


def load_expectations(path: Path | None) -> dict[str, Expectation]:
    if path is None:
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: expectations file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read expectations: {exc.__class__.__name__}") from None
    entries = raw.get("expectations") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a mapping with an 'expectations' list")
    out: dict[str, Expectation] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("check"), str):
            raise ConfigError(f"{path}: expectations[{i}]: needs 'check', 'grade' and 'reason'")
        raw_grades = entry.get("grade")
        listed = raw_grades if isinstance(raw_grades, list) else [raw_grades]
        try:
            grades = tuple(dict.fromkeys(Grade(str(g)) for g in listed))
        except ValueError:
            raise ConfigError(f"{path}: expectations[{i}]: unknown grade in {raw_grades!r}") from None
        if not grades:
            raise ConfigError(f"{path}: expectations[{i}]: 'grade' lists no grade")
        out[entry["check"]] = Expectation(entry["check"], grades[0], str(entry.get("reason") or ""),
                                          grades if len(grades) > 1 else ())
    return out


def apply_expectations(verdicts: Iterable[Verdict], expectations: dict[str, Expectation]) -> list[Verdict]:
    """A verdict that matches its recorded expectation becomes ``known``; any other verdict stands as it is.

    Either way a verdict with an expectation carries it as :class:`ExpectationOutcome` (what the file records,
    and whether it still holds), which ``diff`` reads; the note says the same in words.
    """
    out = []
    for verdict in verdicts:
        expected = expectations.get(verdict.check)
        if expected is not None and verdict.grade in expected.allowed and verdict.grade is not Grade.PASS:
            outcome = ExpectationOutcome(expected.grade, expected.reason, True, expected.grades)
            note = f"expected {expected.describe()}: {expected.reason}"
            verdict = replace(verdict, grade=Grade.KNOWN, note=note, expectation=outcome)
        elif expected is not None and verdict.grade in expected.allowed:  # pass, allowed by a set: as it is
            outcome = ExpectationOutcome(expected.grade, expected.reason, True, expected.grades)
            verdict = replace(verdict, expectation=outcome)
        elif expected is not None:
            outcome = ExpectationOutcome(expected.grade, expected.reason, False, expected.grades)
            note = f"expectation was {expected.describe()} ({expected.reason}); it changed"
            verdict = replace(verdict, note=note, expectation=outcome)
        out.append(verdict)
    return out


def leading_comment(text: str) -> str:
    """The comment lines a file starts with (what the file records and how it was checked), kept on re-recording."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(f"{line}\n" for line in lines)


def expectations_yaml(
    provider: str, verdicts: Iterable[Verdict], previous: dict[str, Expectation] | None = None, header: str = ""
) -> str:
    """An expectations file recording every deviation of a run (``--update-expectations``).

    A reason written by hand (often an upstream issue link) is kept while the check keeps the same grade, and so is
    the previous file's leading comment (``header``).
    """
    previous = previous or {}

    def reason(v: Verdict) -> str:
        old = previous.get(v.check)
        return old.reason if old is not None and v.grade in old.allowed and old.reason else v.message

    def grade(v: Verdict) -> str | list[str]:
        old = previous.get(v.check)  # a hand-written set that still holds is kept
        return [g.value for g in old.allowed] if old is not None and old.grades and v.grade in old.grades \
            else v.grade.value

    entries = [
        {"check": v.check, "grade": grade(v), "reason": reason(v)}
        for v in verdicts
        if v.grade.deviation
    ]
    body = yaml.safe_dump({"provider": provider, "expectations": entries}, sort_keys=False, allow_unicode=True,
                          width=116)
    return header + body
