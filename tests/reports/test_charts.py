"""The numbers behind the charts, and the charts' markup: light, escaped, no script."""

from __future__ import annotations

from pathlib import Path

from relaycheck.report.charts import (
    Distribution,
    ProbeShape,
    distribution_svg,
    exchange_tokens,
    shapes,
    spend_by_feature,
    timeline_svg,
)
from relaycheck.report.model import Report


def test_percentiles_are_nearest_rank() -> None:
    d = Distribution("x", tuple(float(v) for v in range(1, 101)))
    assert (d.p50, d.p95, d.percentile(100)) == (50.0, 95.0, 100.0)
    assert Distribution("x", (0.3,)).p95 == 0.3 and Distribution("x", ()).p50 is None


def test_a_stream_timeline_places_every_chunk(run_dir: Path) -> None:
    report = Report.load(run_dir / "reference.json")
    stream = next(s for s in shapes(report) if s.probe == "stream")
    x = report.by_probe["stream"]
    assert len(stream.chunks) == len(x.timing.chunk_gaps) > 0
    assert stream.first_token is not None and stream.chunks[-1] >= stream.first_token
    svg = timeline_svg([stream])
    assert svg.count("<g class=\"probe\">") == 1 and svg.count('stroke-width="1"/>') == len(stream.chunks)


def test_spend_per_feature_adds_up(run_dir: Path) -> None:
    report = Report.load(run_dir / "relay-a.json")
    spend = spend_by_feature(report)
    sent = [x for x in report.exchanges if not x.not_sent]
    assert sum(f.completion_tokens for f in spend) == sum(exchange_tokens(x) for x in sent) > 0
    assert sum(f.requests for f in spend) == sum(max(x.attempts, 1) for x in sent)
    assert [f.feature for f in spend][:2] == ["route", "shape"]  # catalogue order


def test_charts_escape_labels_and_stay_light(run_dir: Path) -> None:
    hostile = '<script>alert(1)</script>"'
    svg = timeline_svg([ProbeShape(hostile, 0.01, 0.02, 0.05, (0.03, 0.04))])
    svg += distribution_svg([hostile], [Distribution("m", (0.1, 0.2))])
    assert "<script" not in svg and "&lt;script&gt;" in svg and "href" not in svg
    report = Report.load(run_dir / "reference.json")
    page_charts = timeline_svg(shapes(report))
    assert len(page_charts.encode()) < 60_000  # a few tens of kilobytes for every probe of a run


def test_generated_cases_count_for_their_endpoint_s_property_feature(run_dir: Path) -> None:
    report = Report.load(run_dir / "reference.json")
    spend = {f.feature: f.requests for f in spend_by_feature(report)}
    sent = [x for x in report.exchanges if not x.not_sent]
    chat_cases = sum(max(x.attempts, 1) for x in sent if x.probe.startswith("chat-property-"))
    cases = sum(max(x.attempts, 1) for x in sent if x.probe.startswith("property-"))
    assert chat_cases > 0 and cases > 0  # the fixture runs both phases
    assert spend.get("chat.property", 0) >= chat_cases and spend.get("property", 0) >= cases
    assert spend.get("other", 0) == 0, spend
