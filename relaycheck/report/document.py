"""The per-provider report document (JSON, versioned) built from a run, and read back for rejudge/compare/diff.

Everything in it has passed through the redactor: request headers are recorded redacted, and the serialised
document is redacted once more as text before it is written.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relaycheck.checks.catalogue import Catalogue
from relaycheck.checks.model import Grade, Verdict
from relaycheck.runner.engine import ProviderRun, suite_info
from relaycheck.transport.exchange import Exchange
from relaycheck.transport.redact import Redactor

REPORT_VERSION = 1
GRADE_ORDER = tuple(Grade)
GRADE_VALUES = frozenset(g.value for g in Grade)


def build_report(run: ProviderRun, catalogue: Catalogue) -> dict[str, Any]:
    provider = run.provider
    verdicts = {v.check: v for v in run.verdicts}
    return {
        "report_version": REPORT_VERSION,
        "suite": {"name": "relaycheck", **suite_info(catalogue)},
        "provider": {
            "name": provider.name,
            "model": provider.model,
            "address": run.target.label if run.target else (provider.base_url or "embedded reference provider"),
            "embedded": provider.embedded,
            "quirks": list(provider.quirks),
            "expectations": str(provider.expectations) if provider.expectations else None,
        },
        "started": _iso(run.started),
        "finished": _iso(run.finished or run.started),
        "duration_s": round((run.finished or run.started) - run.started, 3),
        "skipped": run.skipped,
        "spend": run.spend.to_dict(),
        "budget": {"requests": provider.budget.requests, "completion_tokens": provider.budget.completion_tokens},
        "score": score(run.verdicts, catalogue),
        "verdicts": [
            {**c.to_dict(), **verdicts[c.id].to_dict()} for c in catalogue.checks if c.id in verdicts
        ],
        "latency": latency(run.exchanges.values()),
        "exchanges": [ex.to_dict() for ex in run.exchanges.values()],
        "rejudged": None,  # set by ``relaycheck rejudge``: when, and the original run's suite
    }


def score(verdicts: list[Verdict], catalogue: Catalogue) -> dict[str, Any]:
    """Counts per grade, overall and by feature, and the share of judged checks that passed.

    The percentage is a summary only: the failures themselves are always listed next to it.
    """
    features = {c.id: c.feature for c in catalogue.checks}

    def summary(subset: list[Verdict]) -> dict[str, Any]:
        counts = Counter(v.grade.value for v in subset)
        judged = sum(counts[g.value] for g in Grade if g.judged)
        return {
            "counts": {g.value: counts.get(g.value, 0) for g in GRADE_ORDER},
            "percent": round(100 * counts.get("pass", 0) / judged, 1) if judged else None,
            # MUST checks failed or unjudged: the same verdicts that make `relaycheck run` exit 1.
            "must_failures": sorted(v.check for v in catalogue.blocking(subset)),
        }

    return {
        "overall": summary(verdicts),
        "by_feature": {f: summary([v for v in verdicts if features.get(v.check) == f]) for f in catalogue.features},
    }


def latency(exchanges: Any) -> dict[str, Any]:
    by_probe = {}
    gaps: list[float] = []
    for ex in exchanges:
        if ex.status is None:
            continue
        by_probe[ex.probe] = {
            "time_to_headers": ex.timing.headers,
            "time_to_first_token": ex.timing.first_token,
            "total": ex.timing.total,
            "chunks": len(ex.events),
            "max_gap": round(max(ex.timing.chunk_gaps), 6) if ex.timing.chunk_gaps else None,
        }
        gaps.extend(ex.timing.chunk_gaps)
    totals = [v["total"] for v in by_probe.values() if v["total"] is not None]
    firsts = [v["time_to_first_token"] for v in by_probe.values() if v["time_to_first_token"] is not None]
    return {
        "median_total": round(statistics.median(totals), 6) if totals else None,
        "median_time_to_first_token": round(statistics.median(firsts), 6) if firsts else None,
        "median_chunk_gap": round(statistics.median(gaps), 6) if gaps else None,
        "by_probe": by_probe,
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class ReportError(Exception):
    """A report file that cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class StoredReport:
    """A report read back from disk."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> StoredReport:
        """Read and sanity-check a report; any problem becomes a one-line :class:`ReportError`."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReportError(f"{path}: no such report") from None
        except IsADirectoryError:
            raise ReportError(f"{path}: is a directory, expected a report .json") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportError(f"{path}: cannot read: {exc.__class__.__name__}") from None
        except ValueError as exc:
            raise ReportError(f"{path}: not JSON ({exc})") from None
        if not isinstance(raw, dict) or "report_version" not in raw:
            raise ReportError(f"{path}: not a relaycheck report (no report_version)")
        if raw["report_version"] != REPORT_VERSION:
            raise ReportError(
                f"{path}: report_version {raw['report_version']!r} (this relaycheck reads {REPORT_VERSION})"
            )
        provider = raw.get("provider")
        if not isinstance(provider, dict) or not isinstance(provider.get("name"), str):
            raise ReportError(f"{path}: report has no provider name")
        if not isinstance(raw.get("verdicts"), list) or not all(
            isinstance(v, dict) and isinstance(v.get("check"), str) and v.get("grade") in GRADE_VALUES
            for v in raw["verdicts"]
        ):
            raise ReportError(f"{path}: report verdicts are malformed")
        return cls(path, raw)

    @property
    def provider(self) -> str:
        return str(self.data["provider"]["name"])

    @property
    def verdicts(self) -> dict[str, dict[str, Any]]:
        return {v["check"]: v for v in self.data.get("verdicts", [])}

    def exchanges(self) -> dict[str, Exchange]:
        return {e["probe"]: Exchange.from_dict(e) for e in self.data.get("exchanges", [])}


def write_json(report: dict[str, Any], path: Path, redactor: Redactor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redactor.text(json.dumps(report, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
