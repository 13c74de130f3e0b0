"""A provider's strings are escaped for the medium they land in: one hostile string (``HOSTILE``: terminal escape
sequences, Markdown and HTML payloads, a lone surrogate) in every field a provider chooses, through the real CLI,
then every output file and the terminal are read as their consumer would read them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hostile.helpers import PLANTED_KEY, hostile_entry
from hostile.outputs import RAW_CONTROL, assert_sane_outputs
from hostile.payload_servers import Injection
from hostile.test_cli import relaycheck, write_providers
from relaycheck.report import escape

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
UNESCAPED_LINK = re.compile(r"(?<!\\)\]\(|(?<!\\)!(?<!\\)\[")  # a link's ]( or an image's ![


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Two providers on the injection server (so the comparison page and its answer table are written too)."""
    tmp = tmp_path_factory.mktemp("injection")
    with Injection(key=PLANTED_KEY) as server:
        providers = write_providers(tmp / "p.yaml", [hostile_entry("one", server.base_url),
                                                     hostile_entry("two", server.base_url)])
        result = relaycheck("run", "--providers-file", str(providers), "-p", "one", "-p", "two",
                            "--report-dir", str(tmp / "reports"), cwd=tmp, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    return tmp / "reports", result.stdout, result.stderr


def test_outputs_parse_and_the_terminal_is_clean(injected: tuple[Path, str, str]) -> None:
    reports, out, err = injected
    assert_sane_outputs(reports, out, err)
    assert "one " in out and "two " in out


@pytest.mark.parametrize("name", ["summary.md", "one.md", "two.md", "comparison.md"])
def test_markdown_holds_no_injected_markup(name: str, injected: tuple[Path, str, str]) -> None:
    text = (injected[0] / name).read_text(encoding="utf-8")
    assert not RAW_CONTROL.search(text.replace("\r\n", "\n").replace("\n", "")), "a raw control character"
    assert "\r" not in text
    for needle in ("<img", "<!--", "<script", "</script"):
        assert needle not in text, needle
    assert not UNESCAPED_LINK.search(text), UNESCAPED_LINK.search(text)
    assert "**bold**" not in text
    injected = [line for line in text.splitlines() if line.lstrip().startswith("#") and "heading" in line]
    assert not injected, injected  # the payload's "# heading" never starts a line of its own
    for table in _tables(text):  # every row of a table has the columns of its header
        widths = {len(UNESCAPED_PIPE.findall(row)) for row in table}
        assert len(widths) == 1, table


def _tables(text: str) -> list[list[str]]:
    tables: list[list[str]] = []
    previous = False
    for line in text.splitlines():
        row = line.startswith("|")
        if row and not previous:
            tables.append([])
        if row:
            tables[-1].append(line)
        previous = row
    return tables


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


@pytest.mark.parametrize("name", ["one.html", "two.html", "comparison.html"])
def test_html_holds_no_injected_markup(name: str, injected: tuple[Path, str, str]) -> None:
    text = (injected[0] / name).read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(text)
    assert parser.tags.count("script") == 1 and "img" not in parser.tags
    assert not {a for a in parser.attributes if a.startswith("on")}
    assert not parser.comments
    assert not RAW_CONTROL.search(text.replace("\n", "").replace("\t", ""))
    assert escape.html("<img src=x onerror=alert(1)>") in text  # the payload is there, as text


def test_junit_is_xml_with_the_payload_as_text(injected: tuple[Path, str, str]) -> None:
    raw = (injected[0] / "junit.xml").read_bytes()
    root = ET.fromstring(raw)
    texts = [t for node in root.iter() for t in (node.text or "", *node.attrib.values())]
    assert any("<img src=x" in t for t in texts)  # ElementTree escaped it; a CI parser reads it back as text
    assert not any(RAW_CONTROL.search(t.replace("\n", "").replace("\t", "")) for t in texts)


def test_escape_functions_cover_every_medium() -> None:
    from hostile.payload_servers import HOSTILE

    assert not RAW_CONTROL.search(escape.terminal(HOSTILE))
    cell = escape.markdown(HOSTILE, 80)
    assert not UNESCAPED_PIPE.search(cell) and "\n" not in cell and "<" not in cell
    assert "\\" + "|" in cell
    ET.fromstring(f"<a b=\"{escape.html(HOSTILE)}\">{escape.html(HOSTILE)}</a>".encode())
    element = ET.Element("a", b=escape.xml(HOSTILE))
    element.text = escape.xml(HOSTILE)
    ET.fromstring(ET.tostring(element))
