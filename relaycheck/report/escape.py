"""Escaping for each medium a provider's strings land in: the terminal, Markdown, HTML and XML.

Everything a provider chooses (JSON keys, messages, model names, ids, header values, texts) is hostile input: a
carriage return or an erase-line sequence can overwrite a FAIL line with a fake PASS, a ``|`` or a newline breaks
a Markdown table, ``![x](url)`` and ``<img>`` load content into a CI job summary. Every writer routes such values
through one function here, chosen by where the text goes; none of them builds its own escaping.

Control characters are never dropped silently: they are shown visibly escaped (``\\r``, ``\\x1b``, ``\\u202e``),
so a reader sees that the provider sent them.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

# C0 and C1 controls, DEL, lone surrogates, line/paragraph separators, bidirectional overrides (they reorder what a
# reader sees), BOM and interlinear annotations: nothing a reader must see raw.
_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb" \
          "\ud800-\udfff"
_VISIBLE = re.compile(f"[{_UNSAFE}]")
_VISIBLE_KEEP_LINES = re.compile(f"[{_UNSAFE.replace(chr(0) + '-' + chr(0x1f), chr(0) + '-' + chr(8))}\x0b-\x1f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_XML_NONCHAR = re.compile("[\ufffe\uffff]")

# Markdown punctuation that can start markup inside a line: emphasis, code, links and images (no link without its
# brackets), tables, strike-through, headings. What only matters at the start of a line (``-``, ``+``, ``1.``) is
# left alone: a value never starts one, since newlines are escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]!#|~])")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _show(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, multiline: bool = False) -> str:
    """``value`` with every control, bidi and separator character shown as an escape; ``multiline`` keeps
    newlines and tabs (a body shown in a ``<pre>``)."""
    text = _text(value)
    return (_VISIBLE_KEEP_LINES if multiline else _VISIBLE).sub(_show, text)


def clip(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def terminal(value: Any, limit: int | None = None, multiline: bool = False) -> str:
    """For stdout and stderr: no raw control byte or escape sequence, one line unless ``multiline``."""
    return clip(visible(value, multiline), limit)


def markdown(value: Any, limit: int | None = None) -> str:
    """Inline Markdown text (a table cell, a heading, a list item): one line; no markup, link, image, HTML or
    comment can start inside it, and a ``|`` never ends a cell. Cut to ``limit`` before escaping, so an escape
    is never cut in half."""
    text = clip(visible(value), limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def html(value: Any) -> str:
    """HTML text or attribute value: markup characters and quotes as entities; newlines and tabs kept (they are
    whitespace in HTML and lines in a ``<pre>``), every other control character shown as an escape."""
    return _html.escape(visible(value, multiline=True), quote=True)


def xml(value: Any) -> str:
    """Text for an XML 1.0 document (ElementTree escapes the markup characters): XML forbids most control
    characters even as references, and lone surrogates; they are shown as escapes, as are CR and C1 controls (a
    parser would silently normalise or keep them)."""
    return _XML_NONCHAR.sub(_show, visible(value, multiline=True))
