"""``relaycheck history``: per provider over nights, one self-contained page with small inline SVG charts.

For each provider (reports grouped by provider name, ordered by when they started): the score, MUST failures,
latency p50/p95 (over the answered exchanges), availability (the runs that got answers at all: a run skipped for a
missing key, or whose every request failed in transport, got none), spend, the checks re-sent and how many of them
were flaky that night, and the flaky checks, told by the same rule ``diff`` applies
(:func:`relaycheck.report.diff.flaky_because`): a check whose grade alternates across the nights, or that failed
first and passed when its probes were re-sent; and any night's check graded warn because it passed only when
re-sent after getting no answer of the endpoint (a gateway's HTML 504).

Pure functions from reports to typed figures, and from figures to markup; every value is escaped, the page loads
nothing (the shared page shell of :mod:`relaycheck.report.html` and its Content-Security-Policy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from relaycheck.checks.model import Grade, Verdict
from relaycheck.endpoint import Endpoint
from relaycheck.report import escape
from relaycheck.report.diff import flaky_because
from relaycheck.report.html import _page, badge
from relaycheck.report.model import Report

CHART_W, CHART_H, PAD = 260, 70, 6


@dataclass(frozen=True)
class EndpointNight:
    """One endpoint's figures in one night: a chat regression is seen as chat's, not as a dip of the whole."""

    endpoint: Endpoint
    percent: float | None
    must_failures: int
    requests: int | None  # None: the report has no spend per endpoint

    def cell(self) -> str:
        score = "–" if self.percent is None else f"{self.percent:g}%"
        return f"{self.endpoint.title} {score}, {self.must_failures} MUST"


@dataclass(frozen=True)
class Night:
    """One provider's run, as the history shows it."""

    started: str
    skipped: str | None
    percent: float | None
    must_failures: int
    p50: float | None  # seconds, total time of the answered exchanges
    p95: float | None
    answered: int  # exchanges that got an HTTP answer
    sent: int  # exchanges that left (not budget-refused, not preconditions)
    requests: int
    completion_tokens: int
    prompt_tokens: int
    reruns: int  # MUST checks re-sent after failing first
    flaky: int = 0  # of those, the ones that did not fail again (warn when the first attempt got no answer at all)
    # Per endpoint certified (none in a report from before the endpoint dimension): its score, MUST failures, requests
    endpoints: tuple[EndpointNight, ...] = ()

    @property
    def available(self) -> bool:
        """The run got answers: it was not skipped and at least one request was answered."""
        return self.skipped is None and self.answered > 0


@dataclass(frozen=True)
class FlakyCheck:
    check: str
    grades: tuple[Grade | None, ...]  # per night, None where the check was not in that report
    why: str


@dataclass(frozen=True)
class ProviderHistory:
    name: str
    nights: tuple[Night, ...]
    flaky: tuple[FlakyCheck, ...]

    @property
    def availability(self) -> tuple[int, int]:
        return sum(n.available for n in self.nights), len(self.nights)


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (p95 of 20 values is the 19th): a value that was measured, never interpolated."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def night(report: Report) -> Night:
    totals = [p.total for p in report.latency.by_probe.values() if p.total is not None]
    sent = [x for x in report.exchanges if not x.not_sent]
    return Night(
        started=report.started,
        skipped=report.skipped,
        percent=report.score.overall.percent,
        must_failures=len(report.score.overall.must_failures),
        p50=percentile(totals, 0.5),
        p95=percentile(totals, 0.95),
        answered=sum(1 for x in sent if x.status is not None),
        sent=len(sent),
        requests=report.spend.requests,
        completion_tokens=report.spend.completion_tokens,
        prompt_tokens=report.spend.prompt_tokens,
        reruns=sum(1 for r in report.verdicts if r.verdict.rerun is not None),
        flaky=len(report.score.overall.flaky),
        endpoints=tuple(_endpoint_night(report, e) for e in report.score.by_endpoint),
    )


def _endpoint_night(report: Report, endpoint: Endpoint) -> EndpointNight:
    summary = report.score.by_endpoint[endpoint]
    spent = report.spend.by_endpoint.get(endpoint)
    return EndpointNight(endpoint, summary.percent, len(summary.must_failures),
                         None if spent is None else spent.requests)


def flaky_checks(reports: Sequence[Report]) -> list[FlakyCheck]:
    """Checks that flip across ``reports`` (one provider's, oldest first): any window of the history in which
    ``diff`` would call a change flaky."""
    checks = list(dict.fromkeys(r.id for report in reports for r in report.verdicts))
    out = []
    for check in checks:
        verdicts: list[Verdict | None] = [report.by_check[check].verdict if check in report.by_check else None
                                          for report in reports]
        present = [v for v in verdicts if v is not None]
        why = next((w for i in range(len(present)) if (w := _flaky_at(check, present[: i + 1]))), "")
        if why:
            out.append(FlakyCheck(check, tuple(v.grade if v else None for v in verdicts), why))
    return out


def _flaky_at(check: str, verdicts: Sequence[Verdict]) -> str:
    last = verdicts[-1]
    if last.flaky and last.rerun is not None and last.rerun.unreliable:  # graded warn for it, any night
        return f"{last.rerun.first.value} at first ({last.rerun.unreliable}), {last.grade.value} when re-sent"
    if len(verdicts) < 2 or (last.grade is verdicts[-2].grade and not last.flaky):
        return ""
    return flaky_because(check, verdicts)


def histories(reports: Iterable[Report]) -> list[ProviderHistory]:
    by_name: dict[str, list[Report]] = {}
    for report in reports:
        by_name.setdefault(report.name, []).append(report)
    out = []
    for name, group in by_name.items():
        group.sort(key=lambda r: r.started)
        out.append(ProviderHistory(name, tuple(night(r) for r in group), tuple(flaky_checks(group))))
    return out


# -- markup ---------------------------------------------------------------------------------------------------


_e = escape.html  # the one HTML escape every page uses (control characters shown)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def line_svg(label: str, series: Sequence[tuple[str, Sequence[float | None], str]], dates: Sequence[str],
             unit: str = "") -> str:
    """A small line chart: one polyline per series (name, values per night, colour), a dot per measured night,
    gaps where a night has no value; the y axis from 0 to the largest value, stated as text."""
    values = [v for _, vs, _ in series for v in vs if v is not None]
    top = max(values, default=0.0) or 1.0
    n = max(len(dates), 1)

    def x(i: int) -> float:
        return PAD + (CHART_W - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return CHART_H - PAD - (CHART_H - 2 * PAD) * v / top

    parts = [f'<svg class="chart history" width="{CHART_W}" height="{CHART_H + 14}" '
             f'viewBox="0 0 {CHART_W} {CHART_H + 14}" role="img" aria-label="{_e(label)}">',
             f'<line x1="{PAD}" y1="{CHART_H - PAD}" x2="{CHART_W - PAD}" y2="{CHART_H - PAD}" stroke="#d1d9e0"/>']
    for name, vs, colour in series:
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                         f'<title>{_e(name)} {_e(dates[i] if i < len(dates) else "")}: {_e(_fmt(v, unit))}</title>'
                         "</circle>")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    legend = " · ".join(name for name, _, _ in series)
    parts.append(f'<text x="{PAD}" y="{CHART_H + 11}" font-size="10">{_e(legend)}: 0–{_e(_fmt(top, unit))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return _ms(value)
    if unit == "%":
        return f"{value:g}%"
    return f"{value:g}"


def provider_section(history: ProviderHistory) -> str:
    nights = history.nights
    dates = [n.started for n in nights]
    up, total = history.availability
    endpoints = list(dict.fromkeys(e.endpoint for n in nights for e in n.endpoints))
    per_endpoint = [(e.title, [_percent_of(n, e) for n in nights], colour)
                    for e, colour in zip(endpoints, ENDPOINT_COLOURS, strict=False)] if len(endpoints) > 1 else []
    charts = [
        line_svg("score", [("score", [n.percent for n in nights], "#1a7f37"), *per_endpoint], dates, "%"),
        line_svg("MUST failures", [("MUST failures", [float(n.must_failures) if n.skipped is None else None
                                                      for n in nights], "#cf222e")], dates),
        line_svg("latency", [("p50", [n.p50 for n in nights], "#0969da"), ("p95", [n.p95 for n in nights],
                                                                            "#cf222e")], dates, "s"),
        line_svg("spend", [("completion tokens", [float(n.completion_tokens) for n in nights], "#8250df")], dates),
    ]
    rows = "".join(
        f"<tr class=\"{'up' if n.available else 'down'}\"><td class=\"mono\">{_e(n.started)}</td>"
        f"<td class=\"num\">{_e('–' if n.percent is None else f'{n.percent:g}%')}"
        f"{_endpoint_cells(n) if len(endpoints) > 1 else ''}</td>"
        f"<td class=\"num\">{_e('–' if n.skipped else n.must_failures)}</td>"
        f"<td class=\"num\">{_e(_ms(n.p50))}</td><td class=\"num\">{_e(_ms(n.p95))}</td>"
        f"<td>{_e('yes' if n.available else ('skipped: ' + n.skipped) if n.skipped else 'no answer')}"
        f" <span class=\"meta\">({n.answered}/{n.sent} answered)</span></td>"
        f"<td class=\"num\">{n.requests}</td><td class=\"num\">{n.prompt_tokens}+{n.completion_tokens}</td>"
        f"<td class=\"num\">{n.reruns or ''}</td><td class=\"num\">{n.flaky or ''}</td></tr>"
        for n in nights
    )
    if history.flaky:
        flaky_rows = "".join(
            f"<tr class=\"flaky\"><th class=\"mono\">{_e(f.check)}</th><td>{' '.join(badge(g) for g in f.grades)}"
            f"</td><td>{_e(f.why)}</td></tr>"
            for f in history.flaky
        )
        flaky = ("<table class=\"flaky-checks\"><thead><tr><th>check</th><th>grade per night</th><th>why flaky</th>"
                 f"</tr></thead><tbody>{flaky_rows}</tbody></table>")
    else:
        flaky = "<p class=\"meta\">No check flips across these nights.</p>"
    return (
        f"<section class=\"provider-history\" id=\"provider-{_e(history.name)}\"><h2>{_e(history.name)}</h2>"
        f"<p class=\"meta\">{total} nights · available {up}/{total} (runs that got answers)</p>"
        f"<div class=\"chart-box\">{''.join(charts)}</div>"
        "<table class=\"nights\"><thead><tr><th>night (started)</th><th>score</th><th>MUST failures</th><th>p50</th>"
        "<th>p95</th><th>available</th><th>requests</th><th>tokens (prompt+completion)</th><th>re-sent</th>"
        "<th>flaky</th></tr>"
        f"</thead><tbody>{rows}</tbody></table><h3>Flaky checks</h3>{flaky}</section>"
    )


ENDPOINT_COLOURS = ("#9a6700", "#0969da")  # Completions, chat (after the overall score's green)


def _percent_of(night_: Night, endpoint: Endpoint) -> float | None:
    return next((e.percent for e in night_.endpoints if e.endpoint is endpoint), None)


def _endpoint_cells(night_: Night) -> str:
    return "".join(f"<br><span class=\"meta endpoint\">{_e(e.cell())}</span>" for e in night_.endpoints)


def history_html(reports: Sequence[Report]) -> str:
    found = histories(reports)
    nav = " · ".join(f"<a href=\"#provider-{_e(h.name)}\">{_e(h.name)}</a>" for h in found)
    body = (f"<h1>relaycheck history</h1><p class=\"meta\">{len(reports)} reports, {len(found)} providers: {nav}</p>"
            + "".join(provider_section(h) for h in found))
    return _page("relaycheck history", body)
