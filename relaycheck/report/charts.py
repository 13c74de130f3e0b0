"""Shapes, not medians: latency per probe as small inline SVG, the distributions behind the medians, and spend per
feature. Pure functions from a report to numbers (typed) and from numbers to SVG markup.

Inline SVG: no script, no font, no network, a few kilobytes per page (a chart is a handful of lines and rects), and
every label is escaped text. A median hides a stream that sends its first token fast and then stalls, or one that
buffers the whole answer and sends it at the end; the timeline shows both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from relaycheck.endpoint import Endpoint
from relaycheck.report import escape
from relaycheck.report.model import Report
from relaycheck.transport.budget import delivered_tokens
from relaycheck.transport.exchange import Exchange

TIMELINE_ROWS = 80  # probes drawn per page; the rest are in the table beside it
LABEL_W, PLOT_W, ROW_H = 190, 460, 13
NUMBERS_W = 170  # right of a distribution's plot: its p50 and p95 as text
COLOURS = {"headers": "#57606a", "first_token": "#0969da", "chunk": "#1a7f37", "total": "#8c959f",
           "p50": "#0969da", "p95": "#cf222e"}


_e = escape.html  # the one HTML escape every page uses (control characters shown)


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


# -- numbers --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeShape:
    """One exchange's timeline: when headers came, the first token, each chunk, and the end (seconds)."""

    probe: str
    headers: float | None
    first_token: float | None
    total: float
    chunks: tuple[float, ...]  # arrival times of the data events after the first token


@dataclass(frozen=True)
class Distribution:
    metric: str  # "time to first byte", …
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    def percentile(self, p: float) -> float | None:
        """Nearest rank: the smallest value with at least p% of the values at or below it."""
        if not self.values:
            return None
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def p50(self) -> float | None:
        return self.percentile(50)

    @property
    def p95(self) -> float | None:
        return self.percentile(95)


@dataclass(frozen=True)
class FeatureSpend:
    feature: str
    requests: int
    completion_tokens: int  # counted like the budget does: the larger of reported and delivered


def shapes(report: Report) -> list[ProbeShape]:
    out = []
    for x in report.exchanges:
        t = x.timing
        if x.status is None or t.total is None:
            continue
        start = t.first_token if t.first_token is not None else t.headers
        chunks = tuple(start + g for g in accumulate(t.chunk_gaps)) if start is not None and t.chunk_gaps else ()
        out.append(ProbeShape(x.probe, t.headers, t.first_token, t.total, chunks))
    return out


def distributions(report: Report) -> list[Distribution]:
    answered = [x for x in report.exchanges if x.status is not None]
    return [
        Distribution("time to first byte", tuple(x.timing.headers for x in answered if x.timing.headers is not None)),
        Distribution("time to first token", tuple(x.timing.first_token for x in answered
                                                  if x.timing.first_token is not None)),
        Distribution("gap between chunks", tuple(g for x in answered for g in x.timing.chunk_gaps)),
        Distribution("total", tuple(x.timing.total for x in answered if x.timing.total is not None)),
    ]


def spend_by_feature(report: Report) -> list[FeatureSpend]:
    """Requests and completion tokens per feature: an exchange counts for the first check (catalogue order) that
    reads it; one no check reads counts as "other"."""
    owner: dict[str, str] = {}
    for row in report.verdicts:
        for probe in row.verdict.probes:
            owner.setdefault(probe, row.check.feature)
    totals: dict[str, list[int]] = {f: [0, 0] for f in report.features()}
    for x in report.exchanges:
        if x.not_sent:
            continue
        feature = owner.get(x.probe) or _unread_feature(x.probe)
        entry = totals.setdefault(feature, [0, 0])
        entry[0] += max(x.attempts, 1)
        entry[1] += exchange_tokens(x)
    return [FeatureSpend(f, r, t) for f, (r, t) in totals.items() if r]


def _unread_feature(probe: str) -> str:
    """A generated case no verdict names (the property checks read the plan): its endpoint's property feature."""
    endpoint = Endpoint.of_probe(probe)
    generated = probe.removeprefix(endpoint.probe_prefix).startswith("property-")
    return f"{endpoint.prefix}property" if generated else "other"


def exchange_tokens(x: Exchange) -> int:
    """Completion tokens an exchange cost: the larger of what it reported and what arrived."""
    payloads = list(x.chunks) if x.events else [x.json()]
    reported = 0
    for payload in payloads:
        usage = payload.get("usage") if isinstance(payload, dict) else None
        value = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            reported = max(reported, value)
    return max(reported, delivered_tokens(payloads))


# -- SVG ------------------------------------------------------------------------------------------------------


def timeline_svg(rows: Sequence[ProbeShape], scale: float | None = None) -> str:
    """Per probe a line from 0 to the end, a tick at the first byte, a dot at the first token and a mark per
    chunk. One shared time axis (``scale`` seconds, default the slowest probe)."""
    rows = list(rows)[:TIMELINE_ROWS]
    if not rows:
        return ""
    span = scale or max(r.total for r in rows) or 1e-3
    height = ROW_H * len(rows) + 22

    def x(t: float) -> float:
        return LABEL_W + PLOT_W * min(t, span) / span

    parts = [f'<svg class="chart timeline" width="{LABEL_W + PLOT_W + 10}" '
             f'height="{height}" viewBox="0 0 {LABEL_W + PLOT_W + 10} {height}" role="img" '
             f'aria-label="latency per probe">']
    for i, r in enumerate(rows):
        y = ROW_H * i + ROW_H / 2
        tip = (f"{r.probe}: first byte {_ms(r.headers)}, first token {_ms(r.first_token)}, "
               f"{len(r.chunks)} chunks, total {_ms(r.total)}")
        parts.append(f'<g class="probe"><title>{_e(tip)}</title>'
                     f'<text x="{LABEL_W - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{_e(r.probe)}</text>'
                     f'<line x1="{LABEL_W}" y1="{y:.1f}" x2="{x(r.total):.1f}" y2="{y:.1f}" '
                     f'stroke="{COLOURS["total"]}" stroke-width="2"/>')
        if r.headers is not None:
            parts.append(f'<line x1="{x(r.headers):.1f}" y1="{y - 4:.1f}" x2="{x(r.headers):.1f}" y2="{y + 4:.1f}" '
                         f'stroke="{COLOURS["headers"]}" stroke-width="2"/>')
        for c in r.chunks:
            parts.append(f'<line x1="{x(c):.1f}" y1="{y - 3:.1f}" x2="{x(c):.1f}" y2="{y + 3:.1f}" '
                         f'stroke="{COLOURS["chunk"]}" stroke-width="1"/>')
        if r.first_token is not None:
            parts.append(f'<circle cx="{x(r.first_token):.1f}" cy="{y:.1f}" r="3" fill="{COLOURS["first_token"]}"/>')
        parts.append("</g>")
    parts.append(_axis(span, ROW_H * len(rows) + 4))
    parts.append("</svg>")
    return "".join(parts)


def _axis(span: float, y: float) -> str:
    ticks = []
    for i in range(5):
        t = span * i / 4
        px = LABEL_W + PLOT_W * i / 4
        ticks.append(f'<line x1="{px:.1f}" y1="{y:.1f}" x2="{px:.1f}" y2="{y + 4:.1f}" stroke="#8c959f"/>'
                     f'<text x="{px:.1f}" y="{y + 15:.1f}" text-anchor="middle" font-size="10">{_e(_ms(t))}</text>')
    return (f'<line x1="{LABEL_W}" y1="{y:.1f}" x2="{LABEL_W + PLOT_W}" y2="{y:.1f}" stroke="#8c959f"/>'
            + "".join(ticks))


def distribution_svg(labels: Sequence[str], dists: Sequence[Distribution], scale: float | None = None) -> str:
    """One row per distribution: a faint line over the whole range, a bar from p50 to p95, the values as dots.
    Rows share one axis, so side by side they compare (the comparison page draws one row per provider)."""
    rows = [(label, d) for label, d in zip(labels, dists, strict=True)]
    span = scale or max((max(d.values) for _, d in rows if d.values), default=0.0) or 1e-3
    height = ROW_H * 2 * len(rows) + 22

    def x(t: float) -> float:
        return LABEL_W + PLOT_W * min(t, span) / span

    width = LABEL_W + PLOT_W + NUMBERS_W
    parts = [f'<svg class="chart distribution" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="latency distribution">']
    for i, (label, d) in enumerate(rows):
        y = ROW_H * 2 * i + ROW_H
        tip = f"{label}: n {d.n}, p50 {_ms(d.p50)}, p95 {_ms(d.p95)}"
        parts.append(f'<g class="dist"><title>{_e(tip)}</title><text x="{LABEL_W - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end" font-size="10">{_e(label)}</text>')
        if d.values and d.p50 is not None and d.p95 is not None:
            parts.append(f'<line x1="{x(min(d.values)):.1f}" y1="{y:.1f}" x2="{x(max(d.values)):.1f}" y2="{y:.1f}" '
                         f'stroke="#d1d9e0" stroke-width="1"/>')
            for v in sorted(set(round(v, 4) for v in d.values))[:200]:  # bounded: a dot per distinct value
                parts.append(f'<circle cx="{x(v):.1f}" cy="{y:.1f}" r="1.6" fill="#8c959f" fill-opacity="0.6"/>')
            parts.append(f'<rect x="{x(d.p50):.1f}" y="{y - 4:.1f}" width="{max(x(d.p95) - x(d.p50), 1.5):.1f}" '
                         f'height="8" fill="{COLOURS["p95"]}" fill-opacity="0.25" stroke="{COLOURS["p95"]}"/>'
                         f'<line x1="{x(d.p50):.1f}" y1="{y - 6:.1f}" x2="{x(d.p50):.1f}" y2="{y + 6:.1f}" '
                         f'stroke="{COLOURS["p50"]}" stroke-width="2"/>'
                         f'<text x="{LABEL_W + PLOT_W + 8}" y="{y + 4:.1f}" font-size="10">'
                         f'{_e(f"p50 {_ms(d.p50)} · p95 {_ms(d.p95)}")}</text>')
        else:
            parts.append(f'<text x="{LABEL_W}" y="{y + 4:.1f}" font-size="10">{_e("no data")}</text>')
        parts.append("</g>")
    parts.append(_axis(span, ROW_H * 2 * len(rows) + 2))
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(items: Sequence[tuple[str, float, str]]) -> str:
    """Horizontal bars: (label, value, value as shown)."""
    if not items:
        return ""
    top = max(v for _, v, _ in items) or 1
    height = ROW_H * len(items) + 6
    parts = [f'<svg class="chart bars" width="{LABEL_W + PLOT_W + 10}" '
             f'height="{height}" viewBox="0 0 {LABEL_W + PLOT_W + 10} {height}" role="img" aria-label="bars">']
    for i, (label, value, shown) in enumerate(items):
        y = ROW_H * i + 2
        w = (PLOT_W - 90) * value / top
        parts.append(f'<g><title>{_e(f"{label}: {shown}")}</title><text x="{LABEL_W - 6}" y="{y + 9}" '
                     f'text-anchor="end" font-size="10">{_e(label)}</text><rect x="{LABEL_W}" y="{y}" '
                     f'width="{w:.1f}" height="{ROW_H - 3}" fill="#0969da" fill-opacity="0.7"/>'
                     f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 9}" font-size="10">{_e(shown)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
