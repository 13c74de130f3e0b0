"""HTML pages: self-contained, escaped, and showing what they promise."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from relaycheck.report.compare import compare
from relaycheck.report.html import comparison_html, provider_html
from relaycheck.report.model import Report

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
URL_ATTRS = {"src", "href", "action", "formaction", "poster", "data", "srcset", "background", "manifest", "ping"}
# The one kind of link that is not in the page: a provider's page written beside the comparison (a file name, no
# folder, no scheme); the writer links one only when the file is there (test_compare checks the targets exist).
SIBLING_PAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.html")


class Elements(HTMLParser):
    """Every real element and attribute of a page (escaped text is text, not markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def external_references(page: str) -> list[str]:
    parser = Elements()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        for name, value in attrs.items():
            if name in URL_ATTRS and not value.startswith("#") and not (name == "href" and SIBLING_PAGE.fullmatch(value)):
                found.append(f"<{tag} {name}={value!r}>")
            if name.startswith("on"):
                found.append(f"<{tag} {name}=…> event handler")
            if name == "style" and re.search(r"url\(|@import", value, re.I):
                found.append(f"<{tag} style={value!r}>")
        if tag in ("link", "iframe", "object", "embed", "base", "img", "audio", "video", "source", "form"):
            found.append(f"<{tag}>")
        if tag == "script" and "src" in attrs:
            found.append("<script src>")
    found += [s for s in parser.styles if re.search(r"url\(|@import", s, re.I)]
    return found


def hostile(report: dict[str, Any]) -> dict[str, Any]:
    """A report whose every provider-controlled text is an attack."""
    bad = copy.deepcopy(report)
    bad["provider"]["model"] = HOSTILE
    bad["provider"]["address"] = "https://evil.test/v1" + HOSTILE
    for v in bad["verdicts"]:
        if v["grade"] != "pass":
            v["message"] = HOSTILE
            v["observed"] = HOSTILE
            v["expected"] = HOSTILE
    for x in bad["exchanges"]:
        x["body"] = {"text": HOSTILE + '{"a": "<iframe src=https://evil.test>"}'}
        x["headers"]["x-evil"] = HOSTILE
        for event in x["events"]:
            event["data"] = HOSTILE
    return bad


def assert_inert(page: str, attacked: bool = True) -> None:
    assert "<script>alert" not in page and "<img src=x" not in page and "<iframe" not in page
    if attacked:
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert external_references(page) == []
    # only the page's own script block; nothing external
    assert page.count("<script") == 1 and "<script src" not in page and "<link" not in page
    assert "default-src 'none'" in page
    assert "innerHTML" not in page and "document.write" not in page and "insertAdjacentHTML" not in page


def test_provider_page_shows_failures_with_evidence(run_dir: Path, quirky_report: dict[str, Any]) -> None:
    page = (run_dir / "relay-a.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert_inert(page, attacked=False)
    for feature in quirky_report["score"]["by_feature"]:
        assert f"<th>{feature}</th>" in page
    for v in quirky_report["verdicts"]:
        assert f"<code>{v['check']}</code>" in page  # every check is listed
        if v["grade"] in ("fail", "warn", "error"):
            assert f'id="v-{v["check"]}"' in page  # with its evidence section
            for probe in v["probes"]:
                assert f"exchange <code>{probe}</code>" in page
    assert "<details class=\"evidence-toggle exchange\">" in page
    assert "Authorization: &lt;redacted&gt;" in page
    assert "median latency" in page and "completion tokens" in page


def test_provider_page_escapes_hostile_provider_text(quirky_report: dict[str, Any]) -> None:
    assert_inert(provider_html(Report.from_json(hostile(quirky_report))))


def test_comparison_page_escapes_hostile_provider_text(reference_report: dict[str, Any],
                                                       quirky_report: dict[str, Any]) -> None:
    a, b = hostile(reference_report), hostile(quirky_report)
    b["provider"]["model"] = a["provider"]["model"]
    page = comparison_html(compare([Report.from_json(a), Report.from_json(b)]))
    assert_inert(page)


def test_conformant_page_says_so(run_dir: Path) -> None:
    page = (run_dir / "reference.html").read_text(encoding="utf-8")
    assert "No MUST failure." in page and "Faults (0) and deviations (0)" in page


def test_failing_probes_have_a_replay_line_fields_marked_and_deviations_inline(five_dir: Path) -> None:
    page = (five_dir / "relay-five.html").read_text(encoding="utf-8")
    rep = Report.load(five_dir / "relay-five.json")
    assert_inert(page, attacked=False)
    for row in rep.verdicts:
        if not row.grade.bad:
            continue
        article = page[page.index(f'id="v-{row.id}"'):]
        article = article[: article.index("</article>")]
        for probe in row.verdict.probes:
            if probe in rep.by_probe and not rep.by_probe[probe].not_sent:
                assert "<pre class=\"curl\">curl -sS -X POST" in article, row.id  # a replay for each exchange
    assert "Bearer &lt;redacted&gt;" in page  # the replay line carries no key
    shape = page[page.index('id="v-shape.finish-reason"'):]
    assert "<mark>" in shape[: shape.index("</article>")] and "finish_reason" in shape  # the offending field
    for ident in ("D40", "D17", "D20"):
        assert f'href="#dev-{ident}"' in page and f'id="dev-{ident}"' in page  # linked, and defined inline
    assert "docs/deviations.md#D40" in page  # the entry's address, as text
    assert "official definition" in page and "CreateCompletionResponse.choices[].finish_reason" in page


def test_a_skipped_provider_page_says_it_was_not_certified(five_dir: Path) -> None:
    page = (five_dir / "absent.html").read_text(encoding="utf-8")
    assert "None: the provider was not certified (key not set" in page
    assert "every judged check passed" not in page and 'id="fault-count"' not in page
