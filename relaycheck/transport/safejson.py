"""Bounded JSON parsing for bytes a provider chose: ``json.loads`` with a depth and a size bound.

``json.loads`` recurses once per nesting level, so a 2 KB body nested a thousand deep raises RecursionError (not
ValueError) wherever it is parsed, and a deep value would go on to break everything that walks it afterwards
(schema validation, ``repr``, the report writer). The depth is therefore measured before parsing, in one pass
over the brackets outside strings; a document that is too deep or too large is refused with :class:`TooDeep` /
:class:`TooLarge`, both ValueErrors, so every caller that already treats "not JSON" as an outcome stays right.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100  # real completions nest about 6 deep (choices → logprobs → top_logprobs → {token: logprob})
MAX_BYTES = 16 * 1024 * 1024  # above every configured body bound; what is bigger was never read whole

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    pass


class TooLarge(ValueError):
    pass


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= 1:
        return text.count("[") + text.count("{")
    deepest = level = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def loads(data: str | bytes | bytearray, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """``json.loads`` that raises only ValueError, whatever the input (too deep, too large, malformed)."""
    if len(data) > max_bytes:
        raise TooLarge(f"JSON larger than {max_bytes} bytes")
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if text.count("[") + text.count("{") > max_depth and depth(text) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:  # a backstop: the depth check above should have refused it already
        raise TooDeep(f"JSON nested deeper than the interpreter allows (limit {max_depth})") from None


def parse(data: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed value, or None when ``data`` is not (bounded) JSON."""
    try:
        return loads(data, max_depth)
    except ValueError:
        return None
