"""What every run's outputs must be, whatever a provider sent: parseable reports, no key in any form, a terminal
free of raw control bytes, no traceback. The forms of the key are computed here independently of the Redactor."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from hostile.helpers import PLANTED_KEY, files_under

SCHEMA = Path(__file__).resolve().parents[2] / "relaycheck" / "report" / "report.schema.json"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")  # \t and \n allowed


@cache
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def key_forms(key: str = PLANTED_KEY) -> list[str]:
    """The key as a provider may echo it: raw, URL-encoded, JSON-escaped, and base64 inside a longer string."""
    raw = key.encode()
    forms = {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key),
             "".join(f"\\u{ord(c):04x}" for c in key), key.replace("/", "\\/")}
    for prefix in (b"", b"a", b"ab"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(prefix + raw + b"zz").decode()[4:-8])  # the part no neighbouring byte changes
    return sorted(forms)


def assert_key_in_no_form(texts: dict[str, str], key: str = PLANTED_KEY) -> None:
    forms = [f.lower() for f in key_forms(key)]
    for where, text in texts.items():
        low = text.lower()
        leaked = [f for f in forms if f in low]
        assert not leaked, f"key leaked into {where} as {leaked[0]!r}"


def output_texts(root: Path) -> dict[str, str]:
    """Every file's text, and for JSON reports also each stored base64 body decoded and each stream's joined
    chunk texts (the pieces of a key split across chunks must not reassemble it)."""
    out = {}
    for path in files_under(root):
        text = path.read_bytes().decode("utf-8")  # every output is valid UTF-8
        out[str(path)] = text
        if path.suffix == ".json":
            raw = json.loads(text)
            out[f"{path} (decoded)"] = json.dumps(raw, ensure_ascii=False)
            for i, blob in enumerate(_found(raw, "base64")):
                out[f"{path} base64 body {i}"] = base64.b64decode(blob).decode("latin-1")
            for i, joined in enumerate(_joined_streams(raw)):
                out[f"{path} stream {i}"] = joined
    return out


def assert_sane_outputs(root: Path, stdout: str, stderr: str, key: str = PLANTED_KEY) -> None:
    assert "Traceback" not in stdout + stderr, stderr[-3000:]
    for name, stream in (("stdout", stdout), ("stderr", stderr)):
        bad = RAW_CONTROL.search(stream)
        assert bad is None, f"raw {bad.group()!r} on {name}: {stream[max(bad.start() - 80, 0):bad.end() + 40]!r}"
    texts = output_texts(root)
    assert_key_in_no_form({**texts, "stdout": stdout, "stderr": stderr}, key)
    for path in files_under(root):
        if path.suffix == ".json" and path.name != "manifest.txt":
            validator().validate(json.loads(path.read_text(encoding="utf-8")))
        elif path.suffix == ".xml":
            ET.fromstring(path.read_bytes())
    assert not list(root.glob(".*.tmp")), "a temporary file was left behind"


def _found(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        if isinstance(node.get(key), str):
            yield node[key]
        for value in node.values():
            yield from _found(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _found(value, key)


def _joined_streams(report: Any) -> Iterator[str]:
    for exchange in report.get("exchanges") or () if isinstance(report, dict) else ():
        texts: dict[Any, list[str]] = {}
        for event in exchange.get("events") or ():
            try:
                chunk = json.loads(event["data"])
            except (ValueError, TypeError):
                continue
            for choice in chunk.get("choices") or () if isinstance(chunk, dict) else ():
                if isinstance(choice, dict) and isinstance(choice.get("text"), str):
                    texts.setdefault(choice.get("index"), []).append(choice["text"])
        yield from ("".join(parts) for parts in texts.values())
