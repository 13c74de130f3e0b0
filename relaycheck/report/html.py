"""Self-contained HTML pages: one per provider, and the side-by-side comparison.

Provider output is hostile input. Every value that came from a report is HTML-escaped here, on the server side;
the small inline script only toggles CSS classes and never writes markup. A Content-Security-Policy forbids any
fetch (``default-src 'none'``), so a page never reaches the network even if something slipped through.

Plain typed functions, not a template engine: decided on the pages' size and readability (docs/reports.md,
"Jinja2 or plain code"). Faults come first (report/causes.py), charts are inline SVG (report/charts.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from relaycheck.checks.model import Grade, Verdict
from relaycheck.checks.property import curl
from relaycheck.identity.section import identity_section
from relaycheck.report import escape
from relaycheck.report.causes import Causes, Fault, causes, fields_named
from relaycheck.report.charts import bars_svg, distribution_svg, distributions, shapes, spend_by_feature, timeline_svg
from relaycheck.report.clauses import OFFICIAL_SOURCE, definitions
from relaycheck.report.compare import Cell, Comparison, Figures, Probed, endpoint_cell, endpoints_of, figures, seconds
from relaycheck.report.deviations import lookup
from relaycheck.report.markdown import OTHER
from relaycheck.report.model import Report, VerdictRow
from relaycheck.spec import Contract, load_contract
from relaycheck.transport import safejson
from relaycheck.transport.exchange import Exchange

BODY_LIMIT = 16_000  # characters of a request or response body shown per exchange
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

STYLE = """
:root { --pass:#1a7f37; --fail:#cf222e; --warn:#9a6700; --error:#8250df; --unsupported:#57606a; --known:#0969da;
        --skipped:#8c959f; --bg:#fff; --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; max-width: 1280px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid
var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); margin: 0 0 8px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px; margin: 4px 0;
      white-space: pre-wrap; word-break: break-word; max-height: 420px; overflow: auto; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--soft); position: sticky; top: 0; z-index: 1; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff; font-size: 12px;
         font-weight: 600; white-space: nowrap; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.warn { background:
var(--warn); } .badge.error { background: var(--error); } .badge.unsupported { background: var(--unsupported); }
.badge.known { background: var(--known); } .badge.skipped { background: var(--skipped); }
.badge.missing { background: #fff; color: var(--muted); border: 1px dashed var(--line); }
.banner { border-radius: 6px; padding: 8px 12px; margin: 10px 0; border: 1px solid var(--line); }
.banner.bad { background: #ffebe9; border-color: #ff8182; } .banner.good { background: #dafbe1; border-color:
#4ac26b; } .banner.info { background: #ddf4ff; border-color: #54aeff; }
.bar { display: inline-block; width: 140px; height: 10px; background: #eee; border-radius: 5px; overflow: hidden;
       vertical-align: middle; margin-right: 6px; }
.bar > span { display: block; height: 100%; background: var(--pass); }
.problem { border: 1px solid var(--line); border-left: 5px solid var(--muted); border-radius: 6px; padding: 6px 12px;
           margin: 10px 0; }
.problem.grade-fail { border-left-color: var(--fail); } .problem.grade-warn { border-left-color: var(--warn); }
.problem.grade-error { border-left-color: var(--error); } .problem.grade-known { border-left-color: var(--known); }
dl.evidence { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0; }
dl.evidence dt { color: var(--muted); } dl.evidence dd { margin: 0; word-break: break-word; }
details > summary { cursor: pointer; }
.toolbar button { font: inherit; margin-right: 6px; padding: 2px 10px; border: 1px solid var(--line);
                  border-radius: 6px; background: var(--soft); cursor: pointer; }
body.only-problems tr.grade-pass, body.only-differences tr.same, tr.filtered-out { display: none; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; background: var(--soft); border: 1px
           solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.filters select, .filters input { font: inherit; padding: 1px 4px; }
#matrix td.cell { min-width: 110px; }
#matrix td.unique { background: #ffebe9; outline: 2px solid var(--fail); outline-offset: -2px; }
#matrix tr.feature th { background: #eef1f4; font-size: 13px; }
#matrix th.check { font-weight: normal; } #matrix th.check .title { color: var(--muted); font-size: 12px; }
.head-meta { font-weight: normal; font-size: 11px; } #spend-table td { white-space: nowrap; }
#spend-table .bar { width: 60px; }
.flag { color: var(--fail); font-weight: 600; }
span.flaky { color: var(--warn); font-weight: 600; }
.fault { border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 6px; padding: 4px 12px;
         margin: 12px 0; background: #fcfcfd; }
.fault.grade-fail { border-left-color: var(--fail); } .fault.grade-warn { border-left-color: var(--warn); }
.fault.grade-error { border-left-color: var(--error); }
.fault .problem { background: var(--bg); } h4 { font-size: 14px; margin: 6px 0; }
mark { background: #fff8c5; outline: 1px solid #d4a72c; }
pre.curl { background: #0d1117; color: #e6edf3; }
.chart-box { overflow-x: auto; } svg.chart text { fill: var(--fg); font-family: inherit; }
dl.glossary dt { margin-top: 6px; } dl.glossary dd { margin: 0 0 0 16px; color: var(--muted); }
.agree-yes { color: var(--pass); } .agree-no { color: var(--fail); font-weight: 600; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"""

SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('button[data-toggle]').forEach(function (button) {
    button.addEventListener('click', function () {
      var on = document.body.classList.toggle(button.getAttribute('data-toggle'));
      button.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
  });
  var filters = document.querySelectorAll('[data-filter]');
  function matches(row) {
    for (var i = 0; i < filters.length; i++) {
      var f = filters[i], want = f.value.trim().toLowerCase(), kind = f.getAttribute('data-filter');
      if (!want) continue;
      var have = (row.getAttribute('data-' + kind) || '').toLowerCase();
      if (kind === 'search' ? have.indexOf(want) < 0 : (' ' + have + ' ').indexOf(' ' + want + ' ') < 0) return false;
    }
    return true;
  }
  function apply() {
    var shown = 0;
    document.querySelectorAll('tr[data-search]').forEach(function (row) {
      var ok = matches(row);
      row.classList.toggle('filtered-out', !ok);
      if (ok) shown++;
    });
    document.querySelectorAll('[data-shown]').forEach(function (out) { out.textContent = String(shown); });
  }
  filters.forEach(function (f) { f.addEventListener('input', apply); f.addEventListener('change', apply); });
  if (filters.length) apply();
  document.querySelectorAll('button[data-open]').forEach(function (button) {
    button.addEventListener('click', function () {
      var open = button.getAttribute('data-open') === 'all';
      document.querySelectorAll('details.evidence-toggle').forEach(function (d) { d.open = open; });
    });
  });
});
"""


def e(value: Any) -> str:
    """HTML-escape anything (None becomes an empty string); control characters shown as escapes."""
    return escape.html(value)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n<script>{SCRIPT}</script>\n</head>\n"
        f"<body>\n{body}\n<footer>Generated by relaycheck. This page is self-contained: it loads nothing from the "
        "network.</footer>\n</body>\n</html>\n"
    )


def badge(grade: Grade | str | None) -> str:
    if grade is None:
        return '<span class="badge missing">not run</span>'
    # no emoji: the badge colour carries it, and emoji fonts are often missing on CI machines
    return f'<span class="badge {e(grade)}">{e(grade)}</span>'


def filters(features: list[str], levels: list[str], total: int, grade_label: str = "grade") -> str:
    """The filter bar: grade, level, feature and a search box; the script hides the rows that do not match."""
    def select(kind: str, label: str, values: list[str]) -> str:
        options = "".join(f"<option value=\"{e(v)}\">{e(v)}</option>" for v in values)
        return (f"<label>{e(label)} <select data-filter=\"{e(kind)}\" id=\"filter-{e(kind)}\"><option value=\"\">any"
                f"</option>{options}</select></label>")
    return (
        "<div class=\"filters\" role=\"search\">"
        + select("grade", grade_label, [g.value for g in sorted(Grade, key=lambda g: g.order)])
        + select("level", "level", levels)
        + select("feature", "feature", features)
        + "<label>search <input type=\"search\" data-filter=\"search\" id=\"filter-search\" "
        "placeholder=\"check, title, message\"></label>"
        + f"<span class=\"meta\"><span data-shown>{total}</span> of {total} checks shown</span></div>"
    )


def _search_text(*parts: Any) -> str:
    return e(" ".join(str(p) for p in parts if p)[:600].lower())


def _pct(value: Any) -> str:
    return "–" if value is None else f"{e(value)}%"


def _bar(value: Any) -> str:
    width = 0.0 if value is None else max(0.0, min(100.0, float(value)))
    return f'<span class="bar" aria-hidden="true"><span style="width:{width:.1f}%"></span></span>'


# -- per provider ---------------------------------------------------------------------------------------------


def provider_html(report: Report) -> str:
    found = causes(report)
    # faults first: what a reader needs in the first minute; the figures and the full list follow
    parts = [_header(report), _banners(report), _endpoints(report), _counts(report, found), _problems(report, found),
             _features_table(report), _figures(report), _basis(report), _identity(report), _all_checks(report),
             _glossary(report)]
    return _page(f"relaycheck: {report.provider.name}", "\n".join(p for p in parts if p))


def _header(report: Report) -> str:
    p, suite = report.provider, report.suite
    return (
        f"<header><h1>relaycheck: {e(p.name)} <span class=\"meta\">({e(p.model)})</span></h1>\n"
        f"<p class=\"meta\">{e(p.address)} · relaycheck {e(suite.version)} · catalogue "
        f"{e(suite.catalogue_revision)} · started {e(report.started)} · {e(report.duration_s)} s"
        + (f" · quirks: {e(', '.join(p.quirks))}" if p.quirks else "")
        + (f" · expectations: {e(p.expectations)}" if p.expectations else "")
        + "</p></header>"
    )


def _banners(report: Report) -> str:
    parts = []
    rejudged = report.rejudged
    if rejudged:
        orig = rejudged.original_suite
        parts.append(
            f"<div class=\"banner info\" id=\"rejudged\">Re-judged {e(rejudged.at)} from stored exchanges "
            f"(no request sent). Originally judged by relaycheck {e(orig.version)}, catalogue "
            f"{e(orig.catalogue_revision)}; {len(rejudged.changed)} grade(s) changed.</div>"
        )
    if report.skipped:
        parts.append(f"<div class=\"banner info\" id=\"skipped\"><b>Skipped</b>: {e(report.skipped)}</div>")
    must = report.score.overall.must_failures
    if must:
        parts.append(
            "<div class=\"banner bad\" id=\"status\"><b>MUST checks failed or unjudged</b>: "
            + ", ".join(f"<a href=\"#v-{e(c)}\"><code>{e(c)}</code></a>" for c in must)
            + "</div>"
        )
    elif not report.skipped:
        parts.append("<div class=\"banner good\" id=\"status\"><b>No MUST failure.</b></div>")
    return "\n".join(parts)


def _endpoints(report: Report) -> str:
    """Which endpoint came out how, one line each (one that is not served says so plainly)."""
    if report.skipped:
        return ""
    items = "".join(f"<li class=\"{'bad' if r.serving.served is False else ''}\">{e(r.line())}</li>"
                    for r in report.endpoints())
    return f"<ul id=\"endpoints\">{items}</ul>"


def _counts(report: Report, found: Causes) -> str:
    overall = report.score.overall
    return (
        "<p id=\"counts\">"
        + (f"<b id=\"fault-count\">{e(found.summary())}</b> · " if not report.skipped else "")
        + " ".join(f"{badge(g.value)} {e(n)}" for g, n in overall.counts.items() if n)
        + f" · score {_pct(overall.percent)}"
        + (f" · <span id=\"flaky-count\" title=\"failed first, not when their probes were re-sent: "
           f"{e(', '.join(overall.flaky))}\">flaky {e(len(overall.flaky))}</span>" if overall.flaky else "")
        + "</p>"
    )


def _basis(report: Report) -> str:
    """What the report was judged with and where each number came from (relaycheck/report/basis.py)."""
    if report.skipped:
        return ""
    items = "".join(f"<li>{e(line)}</li>" for line in report.basis.lines)
    return f"<section id=\"basis\"><h2>Judged with</h2><ul>{items}</ul></section>"


def _identity(report: Report) -> str:
    """The "Identity and billing" section (relaycheck/identity/section.py), as the Markdown summary has it."""
    section = identity_section(report)
    if section is None:
        return ""
    parts = ["<section id=\"identity\"><h2>Identity and billing</h2>"]
    if section.billing:
        parts.append("<table id=\"billing-table\"><thead><tr><th>evidence</th><th>grade</th><th>reported vs counted "
                     "(probes)</th></tr></thead><tbody>")
        parts += [f"<tr><td><code>{e(r.check)}</code></td><td>{badge(r.grade)}</td><td>{e(_cut(r.evidence))}</td></tr>"
                  for r in section.billing]
        parts.append("</tbody></table>")
    items = [f"<li>Known behaviour: {e(b)}</li>" for b in section.behaviours]
    if section.fingerprint_line:
        items.append(f"<li>Model fingerprint: {e(section.fingerprint_line)}</li>")
    items += [f"<li>Can prove: {e(section.can_prove)}</li>", f"<li>Cannot prove: {e(section.cannot_prove)}</li>"]
    parts.append("<ul>" + "".join(items) + "</ul></section>")
    return "".join(parts)


def _cut(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _glossary(report: Report) -> str:
    """The deviation entries the page cites, inline (the page is self-contained; ids link here)."""
    ids = sorted({d for r in report.verdicts if r.grade.notable for d in r.check.deviations})
    if not ids:
        return ""
    items = "".join(
        f"<dt id=\"dev-{e(d)}\"><b>{e(d)}</b> {e(lookup(d).title)}</dt><dd>{e(lookup(d).summary)} "
        f"<span class=\"meta\">Entry <code>{e(lookup(d).anchor)}</code> in the relaycheck repository.</span></dd>"
        for d in ids
    )
    return (f"<section id=\"deviations\"><h2>Known deviations cited</h2><p class=\"meta\">From relaycheck's "
            f"deviation catalogue (docs/deviations.md), embedded so the page needs nothing else.</p>"
            f"<dl class=\"glossary\">{items}</dl></section>")


def _features_table(report: Report) -> str:
    rows = []
    for feature, s in report.score.by_feature.items():
        other = sum(s.count(g) for g in OTHER)
        rows.append(
            f"<tr><th>{e(feature)}</th><td>{_bar(s.percent)}{_pct(s.percent)}</td>"
            f"<td class=\"num\">{e(s.count(Grade.PASS))}</td><td class=\"num\">{e(s.count(Grade.FAIL))}</td>"
            f"<td class=\"num\">{e(s.count(Grade.WARN))}</td><td class=\"num\">{e(other)}</td></tr>"
        )
    return (
        "<section id=\"features\"><h2>Score by feature</h2><table id=\"features-table\"><thead><tr><th>feature</th>"
        "<th>score</th><th>pass</th><th>fail</th><th>warn</th><th>other</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


def _figures(report: Report) -> str:
    spend, budget, latency = report.spend, report.budget, report.latency
    rows = [
        ("requests", f"{e(spend.requests)} of {e(budget.requests)} allowed "
                     f"({e(spend.retries)} retries, {e(spend.refused)} refused by budget)"),
        ("prompt tokens", e(spend.prompt_tokens)),
        ("completion tokens", f"{e(spend.completion_tokens)} of {e(budget.completion_tokens)} allowed"),
        ("median latency", e(seconds(latency.median_total))),
        ("median time to first token", e(seconds(latency.median_time_to_first_token))),
        ("median gap between chunks", e(seconds(latency.median_chunk_gap))),
    ]
    probe_rows = "".join(
        f"<tr><td><code>{e(probe)}</code></td><td class=\"num\">{e(seconds(v.time_to_headers))}</td>"
        f"<td class=\"num\">{e(seconds(v.time_to_first_token))}</td>"
        f"<td class=\"num\">{e(seconds(v.total))}</td><td class=\"num\">{e(v.chunks)}</td>"
        f"<td class=\"num\">{e(seconds(v.max_gap))}</td></tr>"
        for probe, v in latency.by_probe.items()
    )
    return (
        "<section id=\"figures\"><h2>Spend and latency</h2><table id=\"figures-table\"><tbody>"
        + "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
        + "</tbody></table>"
        + _latency_charts(report)
        + "<details><summary>Latency per probe (numbers)</summary><table><thead><tr><th>probe</th>"
        "<th>headers</th><th>first token</th><th>total</th><th>chunks</th><th>max gap</th></tr></thead><tbody>"
        + probe_rows
        + "</tbody></table></details>"
        + _spend_chart(report)
        + "</section>"
    )


LEGEND = (
    "<p class=\"meta legend\"><span style=\"color:#57606a\">| first byte</span> · "
    "<span style=\"color:#0969da\">● first token</span> · <span style=\"color:#1a7f37\">| a chunk</span> · "
    "<span style=\"color:#8c959f\">— until the end</span>; distributions: the blue line is p50, the red box "
    "p50–p95, dots are the values. Hover for the numbers.</p>"
)


def _latency_charts(report: Report) -> str:
    dists = distributions(report)
    timeline = timeline_svg(shapes(report))
    if not timeline:
        return ""
    return (
        "<h3 id=\"latency-shape\">Latency, as a shape</h3>" + LEGEND
        + "<div class=\"chart-box\">" + distribution_svg([d.metric for d in dists], dists) + "</div>"
        + "<details open class=\"timeline-box\"><summary>timeline per probe</summary><div class=\"chart-box\">"
        + timeline + "</div></details>"
    )


def _spend_chart(report: Report) -> str:
    spend = spend_by_feature(report)
    if not spend:
        return ""
    items = [(f.feature, float(f.completion_tokens), f"{f.completion_tokens} tokens, {f.requests} requests")
             for f in spend]
    return "<h3 id=\"spend-by-feature\">Spend per feature</h3><div class=\"chart-box\">" + bars_svg(items) + "</div>"


def _problems(report: Report, found: Causes) -> str:
    """The faults first, each with the checks it explains and their evidence; then the other notable verdicts
    (known, unsupported). Every notable verdict appears exactly once."""
    notable = report.notable()
    head = (
        f"<section id=\"problems\"><h2>Faults ({len(found.faults)}) and deviations ({len(notable)})</h2>"
        f"<p class=\"meta\" id=\"causes-summary\">{e(found.summary())}. A fault is one root cause: a known "
        "deviation, or the evidence several failing checks share; the checks it explains are listed under it, "
        "each with its own evidence.</p>"
        "<p class=\"toolbar\"><button type=\"button\" data-open=\"all\">expand all evidence</button>"
        "<button type=\"button\" data-open=\"none\">collapse all</button></p>"
    )
    if report.skipped:
        return head + f"<p>None: the provider was not certified ({e(report.skipped)}).</p></section>"
    if not notable:
        return head + "<p>None: every judged check passed.</p></section>"
    contract = load_contract()
    parts = [head]
    for i, fault in enumerate(found.faults, 1):
        parts.append(_fault(i, fault, report, contract))
    rest = [r for r in notable if not r.grade.bad]
    if rest:
        parts.append(f"<h3 id=\"other-notable\">Other notable verdicts ({len(rest)})</h3>")
        parts += [_problem(row, report.evidence(row), contract) for row in rest]
    return "".join(parts) + "</section>"


def _fault(number: int, fault: Fault, report: Report, contract: Contract) -> str:
    if fault.deviation:
        dev = lookup(fault.deviation)
        title = f"{_deviation_link(dev.id)} {e(dev.title)}"
        about = (f"<p class=\"dev-summary\">{e(dev.summary)} <span class=\"meta\">(entry "
                 f"<code>{e(dev.anchor)}</code>)</span></p>")
    else:
        title = e(fault.symptom)
        about = ""
    listed = ", ".join(f"<a href=\"#v-{e(r.id)}\"><code>{e(r.id)}</code></a>" for r in fault.rows)
    others = [d for d in fault.cited if d != fault.deviation]
    cited = (f"<p class=\"meta\">deviations its checks also cite: {', '.join(_deviation_link(d) for d in others)}"
             "</p>" if others else "")
    rows = "".join(_problem(row, report.evidence(row), contract) for row in fault.rows)
    plural = "check" if len(fault.rows) == 1 else "checks"
    return (
        f"<article class=\"fault grade-{e(fault.worst.value)}\" id=\"fault-{number}\" "
        f"data-checks=\"{len(fault.rows)}\"><h3 class=\"fault-title\">Fault {number}: {title} "
        f"<span class=\"meta\">{badge(fault.worst.value)} explains {len(fault.rows)} {plural}</span></h3>{about}"
        f"<p>seen as: {e(fault.symptom)}</p><p class=\"fault-checks\">{listed}</p>{cited}"
        f"<details class=\"evidence-toggle fault-verdicts\"><summary>the {len(fault.rows)} {plural} and their "
        f"evidence</summary>{rows}</details></article>"
    )


def _deviation_link(ident: str) -> str:
    dev = lookup(ident)
    return f"<a class=\"dev\" href=\"#dev-{e(ident)}\" title=\"{e(dev.title)}\">{e(ident)}</a>"


def _problem(row: VerdictRow, exchanges: list[Exchange], contract: Contract) -> str:
    v, c = row.verdict, row.check
    evidence = [("what happened", e(v.message))]
    for key, value in (("expected", v.expected), ("observed", v.observed), ("note", v.note)):
        if value:
            evidence.append((key, f"<code>{e(value)}</code>"))
    evidence.append(("clause", _clause(c.clause, contract)))
    if c.deviations:
        evidence.append(("known deviations", ", ".join(
            f"{_deviation_link(d)} <span class=\"meta\">{e(lookup(d).title)}</span>" for d in c.deviations)))
    body = "".join(f"<dt>{k}</dt><dd>{val}</dd>" for k, val in evidence)
    fields = fields_named(row)
    exchange_html = "".join(_exchange(x, fields if v.grade.bad else []) for x in exchanges)
    return (
        f"<article class=\"problem grade-{e(v.grade.value)}\" id=\"v-{e(v.check)}\">"
        f"<h4>{badge(v.grade.value)} <code>{e(v.check)}</code> <span class=\"meta\">{e(c.level.value)} · "
        f"{e(c.feature)}</span></h4><p>{e(c.title)}</p><dl class=\"evidence\">{body}</dl>"
        f"{exchange_html}</article>"
    )


def _clause(clause: str, contract: Contract) -> str:
    found = definitions(clause, contract)
    if not found:
        return e(clause)
    defs = "".join(f"<dt><code>{e(d.member)}</code></dt><dd>{e(d.text)}</dd>" for d in found)
    return (f"{e(clause)}<details class=\"definition\"><summary>official definition</summary>"
            f"<dl class=\"evidence\">{defs}</dl><p class=\"meta\">From relaycheck's contract "
            f"(relaycheck/spec/completions.yaml), which cites <code>{e(OFFICIAL_SOURCE)}</code>.</p></details>")


def _exchange(x: Exchange, fields: list[str] | None = None) -> str:
    # what the report file stores of it: a body cut at the size bound is stored (and shown) by its head
    stored = x.to_dict()
    req = stored["request"]
    status = x.status
    label = f"HTTP {status}" if status is not None else (x.not_sent or x.transport_error or "no answer")
    req_text = f"{req['method']} {req['url']}\n" + _headers(req["headers"]) + "\n" + _pretty(req["body"] or "")
    response = _headers(x.headers) + "\n"
    if x.events:
        response += "\n".join(f"data: {ev['data']}" for ev in stored["events"])
        if x.stray_lines:
            response += "\n\nlines that are not SSE fields:\n" + "\n".join(x.stray_lines)
    else:
        body = stored["body"]
        response += _pretty(body["text"]) if "text" in body else f"(binary body, base64) {body.get('base64', '')}"
    notes = []
    if x.not_sent:
        notes.append(f"not sent: {x.not_sent}")
    if x.transport_error:
        notes.append(f"transport: {x.transport_error}")
    if x.truncated:
        notes.append("cut at the configured size bound")
    if x.attempts > 1:
        notes.append(f"{x.attempts} attempts")
    replay = ""
    if fields is not None and not x.not_sent and req["method"] == "POST":
        replay = (f"<b>replay</b> <span class=\"meta\">(key redacted: put yours in)</span>"
                  f"<pre class=\"curl\">{e(_clip(curl(x)))}</pre>")
    marked = f" · field {e(', '.join(fields))} highlighted" if fields else ""
    return (
        f"<details class=\"evidence-toggle exchange\"><summary>exchange <code>{e(x.probe)}</code> → "
        f"{e(label)}{(' · ' + e('; '.join(notes))) if notes else ''}{marked}</summary>"
        f"<div>{replay}<b>request</b> <span class=\"meta\">(key redacted)</span><pre>{e(_clip(req_text))}</pre>"
        f"<b>response</b><pre>{_highlight(_clip(response), fields or [])}</pre></div></details>"
    )


def _highlight(text: str, fields: list[str]) -> str:
    """The escaped text with every line that carries one of ``fields`` as a JSON key marked."""
    if not fields:
        return e(text)
    keys = tuple(f'"{f}":' for f in fields)
    return "\n".join(f"<mark>{e(line)}</mark>" if any(k in line for k in keys) else e(line)
                      for line in text.split("\n"))


def _headers(headers: Mapping[str, str]) -> str:
    return "".join(f"{k}: {v}\n" for k, v in headers.items())


def _pretty(text: str) -> str:
    try:
        return json.dumps(safejson.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return text


def _clip(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"\n… ({len(text) - BODY_LIMIT} more characters)"


def _all_checks(report: Report) -> str:
    levels = list(dict.fromkeys(r.check.level.value for r in report.verdicts))
    parts = [
        "<section id=\"checks\"><h2>All checks</h2><p class=\"toolbar\"><button type=\"button\" "
        "data-toggle=\"only-problems\" aria-pressed=\"false\">hide passing checks</button></p>",
        filters(report.features(), levels, len(report.verdicts)),
    ]
    for feature in report.features():
        rows = []
        for row in (r for r in report.verdicts if r.check.feature == feature):
            v, c = row.verdict, row.check
            link = (f"<a href=\"#v-{e(v.check)}\"><code>{e(v.check)}</code></a>" if v.grade.notable
                    else f"<code>{e(v.check)}</code>")
            rows.append(
                f"<tr class=\"grade-{e(v.grade.value)}\" data-grade=\"{e(v.grade.value)}\" "
                f"data-level=\"{e(c.level.value)}\" data-feature=\"{e(c.feature)}\" "
                f"data-search=\"{_search_text(v.check, c.title, v.message)}\">"
                f"<td>{badge(v.grade.value)}</td><td>{link}</td>"
                f"<td>{e(c.level.value)}</td><td>{e(c.title)}</td><td>{_flaky_tag(v)}{e(v.message)}</td></tr>"
            )
        parts.append(
            f"<h3>{e(feature)}</h3><table class=\"checks\"><thead><tr><th>grade</th><th>check</th><th>level</th>"
            "<th>title</th><th>outcome</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _flaky_tag(v: Verdict) -> str:
    """Marks a verdict that failed first and not when its probes were re-sent, saying how it stood first."""
    if not v.flaky or v.rerun is None:
        return ""
    first = v.rerun.unreliable or v.rerun.first_message
    return f"<span class=\"flaky\" title=\"{e(first)}\">flaky ({e(v.rerun.first.value)} at first)</span> "


# -- comparison -----------------------------------------------------------------------------------------------


def comparison_html(comparison: Comparison, pages: Mapping[str, str] | None = None) -> str:
    """The side-by-side page; ``pages`` maps a provider (as named in the columns) to its page's file name in the
    same folder (only pages that are there are linked: the page stays usable when copied alone)."""
    names = comparison.providers
    pages = pages or {}
    provider_heads = "".join(_provider_head(n, r, pages.get(n)) for n, r in zip(names, comparison.reports,
                                                                                  strict=True))
    levels = list(dict.fromkeys(r.level for r in comparison.rows))
    parts = [
        "<header><h1>relaycheck comparison</h1><p class=\"meta\">"
        + e(f"{len(names)} providers · {len(comparison.rows)} checks")
        + "</p></header>",
        _comparison_figures(comparison, provider_heads),
        _comparison_charts(comparison),
        _unique(comparison),
        _agreement(comparison),
        "<section id=\"checks\"><h2>Checks</h2><p class=\"toolbar\"><button type=\"button\" "
        "data-toggle=\"only-differences\" aria-pressed=\"false\">only rows where providers differ</button> "
        "<span class=\"meta\">A red outline marks a failure only that provider has. Click a grade for its "
        "evidence. The grade filter keeps rows where any provider has that grade.</span></p>",
        filters(comparison.features, levels, len(comparison.rows), "any provider's grade"),
        f"<table id=\"matrix\"><thead><tr><th>check</th>{provider_heads}</tr></thead><tbody>",
    ]
    for feature in comparison.features:
        parts.append(f"<tr class=\"feature\"><th colspan=\"{len(names) + 1}\">{e(feature)}</th></tr>")
        for row in (r for r in comparison.rows if r.feature == feature):
            judged = {c.grade for c, rep in zip(row.cells, comparison.reports, strict=True) if not rep.skipped}
            same = len(judged) <= 1
            cells = "".join(_matrix_cell(c) for c in row.cells)
            grades = " ".join(sorted({str(c.grade) for c in row.cells if c.grade is not None}))
            parts.append(
                f"<tr class=\"row {'same' if same else 'differs'}{' has-unique' if row.has_unique else ''}\" "
                f"data-grade=\"{e(grades)}\" data-level=\"{e(row.level)}\" data-feature=\"{e(row.feature)}\" "
                f"data-search=\"{_search_text(row.check, row.title)}\">"
                f"<th class=\"check\"><code>{e(row.check)}</code> <span class=\"meta\">{e(row.level)}</span>"
                f"<div class=\"title\">{e(row.title)}</div></th>{cells}</tr>"
            )
    parts.append("</tbody></table></section>")
    return _page("relaycheck comparison", "\n".join(parts))


def _provider_head(name: str, report: Report, page: str | None) -> str:
    label = f"<a href=\"{e(quote(page))}\">{e(name)}</a>" if page else e(name)
    state = " <span class=\"badge skipped\">skipped</span>" if report.skipped else ""
    return (f"<th class=\"provider\">{label}{state}<div class=\"meta head-meta\">{e(report.started)}<br>"
            f"relaycheck {e(report.suite.version)}</div></th>")


def _comparison_charts(comparison: Comparison) -> str:
    """Latency distributions side by side (one axis per metric, one row per provider) and spend per feature."""
    live = [(n, r) for n, r in zip(comparison.providers, comparison.reports, strict=True) if not r.skipped]
    if not live:
        return ""
    per_provider = [distributions(r) for _, r in live]
    charts = []
    for i, metric in enumerate(d.metric for d in per_provider[0]):
        dists = [ds[i] for ds in per_provider]
        charts.append(f"<h3>{e(metric)}</h3><div class=\"chart-box\">"
                      + distribution_svg([n for n, _ in live], dists) + "</div>")
    spend = [{f.feature: f for f in spend_by_feature(r)} for _, r in live]
    features = list(dict.fromkeys(f for s in spend for f in s))
    top = max((f.completion_tokens for s in spend for f in s.values()), default=0) or 1
    heads = "".join(f"<th class=\"provider\">{e(n)}</th>" for n, _ in live)
    rows = "".join(
        f"<tr><th>{e(feature)}</th>" + "".join(
            f"<td class=\"num\">{_bar(100 * s[feature].completion_tokens / top)}{e(s[feature].completion_tokens)} "
            f"<span class=\"meta\">({e(s[feature].requests)} req)</span></td>" if feature in s else "<td>–</td>"
            for s in spend) + "</tr>"
        for feature in features
    )
    return (
        "<section id=\"latency-shapes\"><h2>Latency, as shapes</h2>" + LEGEND + "".join(charts)
        + "<h3 id=\"spend-by-feature\">Spend per feature (completion tokens)</h3><table id=\"spend-table\">"
        f"<thead><tr><th>feature</th>{heads}</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _matrix_cell(cell: Cell) -> str:
    if cell.grade is None:
        return f"<td class=\"cell missing\">{badge(None)}</td>"
    tip = cell.message if not cell.observed else f"{cell.message} — observed: {cell.observed}"
    evidence = [("what happened", cell.message)]
    evidence += [(k, getattr(cell, k)) for k in ("expected", "observed", "note") if getattr(cell, k)]
    dl = "".join(f"<dt>{k}</dt><dd>{e(v)}</dd>" for k, v in evidence)
    unique = " unique" if cell.unique else ""
    mark = "<span class=\"flag\" title=\"only this provider\">‼</span> " if cell.unique else ""
    return (
        f"<td class=\"cell grade-{e(cell.grade)}{unique}\" title=\"{e(tip[:300])}\">"
        f"<details class=\"evidence-toggle\"><summary>{mark}{badge(cell.grade)}</summary>"
        f"<dl class=\"evidence\">{dl}</dl></details></td>"
    )


def _comparison_figures(comparison: Comparison, provider_heads: str) -> str:
    figs = [figures(r) for r in comparison.reports]
    rows: list[tuple[str, Callable[[Figures], str]]] = [
        ("run", lambda f: e(f.started)),
        ("suite", lambda f: e(f.suite)),
        ("score", lambda f: _bar(f.percent) + _pct(f.percent)),
        ("faults", lambda f: e(f.faults)),
        ("MUST failures", lambda f: e(f.must_failures)),
        ("requests", lambda f: e(f.requests)),
        ("prompt tokens", lambda f: e(f.prompt_tokens)),
        ("completion tokens", lambda f: e(f.completion_tokens)),
        ("median latency", lambda f: e(seconds(f.median_total))),
        ("median time to first token", lambda f: e(seconds(f.median_time_to_first_token))),
        ("median chunk gap", lambda f: e(seconds(f.median_chunk_gap))),
    ]
    body = "".join(
        f"<tr><th>{label}</th>" + "".join(
            f"<td class=\"num\">{fn(f)}</td>" if not f.skipped or label in ("run", "suite")
            else f"<td class=\"skipped\">{badge('skipped')}</td>" for f in figs) + "</tr>"
        for label, fn in rows
    )
    body += "".join(  # each endpoint side by side: its score, or why it has none
        f"<tr><th>{e(endpoint.title)}</th>" + "".join(
            f"<td class=\"num\">{e(endpoint_cell(r, endpoint))}</td>" if not r.skipped
            else f"<td class=\"skipped\">{badge('skipped')}</td>" for r in comparison.reports) + "</tr>"
        for endpoint in endpoints_of(comparison.reports)
    )
    models = "".join(f"<td>{e(r.provider.model)}</td>" for r in comparison.reports)
    skipped = "".join(
        f"<li><b>{e(n)}</b> skipped: {e(r.skipped)}</li>"
        for n, r in zip(comparison.providers, comparison.reports, strict=True)
        if r.skipped
    )
    return (
        f"<section id=\"figures\"><h2>Score, spend and latency</h2><table id=\"figures-table\"><thead><tr><th></th>"
        f"{provider_heads}</tr></thead><tbody><tr><th>model</th>{models}</tr>{body}</tbody></table>"
        + (f"<ul>{skipped}</ul>" if skipped else "")
        + "</section>"
    )


def _unique(comparison: Comparison) -> str:
    unique = comparison.unique_failures()
    items = "".join(f"<li><b>{e(p)}</b> {badge(g)} <code>{e(c)}</code></li>" for p, c, g in unique)
    return (
        "<section id=\"unique\"><h2>Failures unique to one provider</h2>"
        + (f"<ul>{items}</ul>" if items else "<p>None.</p>")
        + "</section>"
    )


def _agreement(comparison: Comparison) -> str:
    if not comparison.groups:
        return ("<section id=\"agreement\"><h2>Same model, same answers?</h2><p>No two providers claim the same "
                "model.</p></section>")
    parts = ["<section id=\"agreement\"><h2>Same model, same answers?</h2><p class=\"meta\">Temperature-0 answers "
             "to the same probes, and the prompt tokens billed for the same prompt. A provider that disagrees with "
             "the rest may serve another model or inflate usage.</p>"]
    for group in comparison.groups:
        heads = "".join(f"<th class=\"provider\">{e(p)}</th>" for p in group.providers)
        rows = []
        for kind, table in group.tables():
            for probe, cells in table.items():
                rows.append(f"<tr><th>{e(kind)} <code>{e(probe)}</code></th>"
                            + "".join(_agree_cell(cells[p]) for p in group.providers) + "</tr>")
        flags = "".join(
            f"<li class=\"flag\">⚑ {e(provider)}: {e('; '.join(dict.fromkeys(reasons)))}</li>"
            for provider, reasons in group.flagged.items()
        )
        parts.append(
            f"<h3>model <code>{e(group.label)}</code></h3><table class=\"agreement\"><thead><tr><th></th>{heads}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + (f"<ul>{flags}</ul>" if flags else "<p class=\"agree-yes\">All agree.</p>")
        )
    parts.append("</section>")
    return "".join(parts)


def _agree_cell(probed: Probed) -> str:
    css = {True: "agree-yes", False: "agree-no", None: ""}[probed.agrees]
    mark = {True: "✓ ", False: "⚑ ", None: ""}[probed.agrees]
    shown = probed.shown if len(probed.shown) <= 160 else probed.shown[:159] + "…"
    return f"<td class=\"{css}\" title=\"{e(probed.shown[:1000])}\">{mark}<code>{e(shown)}</code></td>"
