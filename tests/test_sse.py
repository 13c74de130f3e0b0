"""The SSE parser: every framing the spec allows parses the same; what clients drop silently is kept visible."""

from __future__ import annotations

import pytest

from relaycheck.transport.sse import SSEParser, parse_sse

CANONICAL = b'data: {"a":1}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize(
    "body",
    [
        CANONICAL,
        b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n',  # CRLF
        b'data: {"a":1}\r\rdata: [DONE]\r\r',  # CR
        b'data:{"a":1}\n\ndata:[DONE]\n\n',  # no space after the colon
        b': keep-alive\n\ndata: {"a":1}\n\n: OPENROUTER PROCESSING\n\ndata: [DONE]\n\n',  # comments
        b'id: 1\nretry: 3000\ndata: {"a":1}\n\nid: 2\ndata: [DONE]\n\n',  # id and retry fields
    ],
)
def test_valid_variations_parse_alike(body: bytes) -> None:
    parsed = parse_sse(body)
    assert [e.data for e in parsed.events] == ['{"a":1}', "[DONE]"]
    assert parsed.stray_lines == []


def test_bytes_split_anywhere_parse_alike() -> None:
    body = b'data: {"a":1}\r\n\r\n: c\r\ndata: [DONE]\r\n\r\n'
    for size in range(1, len(body)):
        parser = SSEParser()
        for i in range(0, len(body), size):
            parser.feed(body[i : i + size], at=float(i))
        parser.close(at=99.0)
        assert [e.data for e in parser.events] == ['{"a":1}', "[DONE]"], size


def test_multiline_data_joins_with_newline() -> None:
    assert parse_sse(b"data: a\ndata: b\n\n").events[0].data == "a\nb"


def test_unknown_fields_are_kept_visible() -> None:
    parsed = parse_sse(b'error: {"message":"x"}\ndata: {}\n\n')
    assert parsed.stray_lines == ['error: {"message":"x"}']
    assert [e.data for e in parsed.events] == ["{}"]


def test_unterminated_event_is_not_dispatched() -> None:
    assert parse_sse(b"data: {}\n\ndata: half").events[-1].data == "{}"
