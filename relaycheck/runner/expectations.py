"""Per-provider expectations: recorded deviations that turn into ``known`` so a nightly run stays green.

File format (YAML)::

    provider: llama-cpp
    expectations:
      - check: params.echo
        grade: unsupported
        reason: llama.cpp refuses echo (https://github.com/ggml-org/llama.cpp/issues/8942)
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
    grade: Grade
    reason: str


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
        try:
            grade = Grade(str(entry.get("grade")))
        except ValueError:
            raise ConfigError(f"{path}: expectations[{i}]: unknown grade {entry.get('grade')!r}") from None
        out[entry["check"]] = Expectation(entry["check"], grade, str(entry.get("reason") or ""))
    return out


def apply_expectations(verdicts: Iterable[Verdict], expectations: dict[str, Expectation]) -> list[Verdict]:
    """A verdict that matches its recorded expectation becomes ``known``; any other verdict stands as it is.

    Either way a verdict with an expectation carries it as :class:`ExpectationOutcome` (what the file records,
    and whether it still holds), which ``diff`` reads; the note says the same in words.
    """
    out = []
    for verdict in verdicts:
        expected = expectations.get(verdict.check)
        if expected is not None and verdict.grade is expected.grade and verdict.grade is not Grade.PASS:
            outcome = ExpectationOutcome(expected.grade, expected.reason, matched=True)
            note = f"expected {expected.grade.value}: {expected.reason}"
            verdict = replace(verdict, grade=Grade.KNOWN, note=note, expectation=outcome)
        elif expected is not None:
            outcome = ExpectationOutcome(expected.grade, expected.reason, matched=False)
            note = f"expectation was {expected.grade.value} ({expected.reason}); it changed"
            verdict = replace(verdict, note=note, expectation=outcome)
        out.append(verdict)
    return out


def expectations_yaml(
    provider: str, verdicts: Iterable[Verdict], previous: dict[str, Expectation] | None = None
) -> str:
    """An expectations file recording every deviation of a run (``--update-expectations``).

    A reason written by hand (often an upstream issue link) is kept while the check keeps the same grade.
    """
    previous = previous or {}

    def reason(v: Verdict) -> str:
        old = previous.get(v.check)
        return old.reason if old is not None and old.grade is v.grade and old.reason else v.message

    entries = [
        {"check": v.check, "grade": v.grade.value, "reason": reason(v)}
        for v in verdicts
        if v.grade.deviation
    ]
    return yaml.safe_dump({"provider": provider, "expectations": entries}, sort_keys=False, allow_unicode=True)
