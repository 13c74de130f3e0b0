"""The deviation catalogue (``docs/deviations.md``) as reports embed it: each id's title and a short summary.

Pages are self-contained (no network, no relative links: a report is opened from a CI artifact, where ``docs/`` is
not beside it), so an id is explained inline, with the anchor ``docs/deviations.md#D40`` as text for the reader
who has the repository. ``docs/`` is not part of the installed package, hence the packaged ``deviations.json``;
``tests/reports/test_deviations_data.py`` holds it to the document. Regenerate it with
``python -m relaycheck.report.deviations docs/deviations.md > relaycheck/report/deviations.json``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

DOC_ANCHOR = "docs/deviations.md#{id}"
SUMMARY_LIMIT = 360  # characters: a tooltip or one short paragraph, the document has the rest

_ENTRY = re.compile(r'<a id="(D\d\d)"></a>\n(.*?)(?=\n<a id="D\d\d"></a>|\n## |\Z)', re.S)
_TITLE = re.compile(r"^\*\*D\d\d\.\s*(.*?)\*\*(.*)$", re.S)


@dataclass(frozen=True)
class Deviation:
    id: str
    title: str
    summary: str

    @property
    def anchor(self) -> str:
        return DOC_ANCHOR.format(id=self.id)


def parse(markdown: str) -> dict[str, Deviation]:
    """The entries of the catalogue document: title (its bold lead) and the text that follows, as plain text."""
    out = {}
    for ident, body in _ENTRY.findall(markdown):
        match = _TITLE.match(body.strip())
        title, rest = (match.group(1), match.group(2)) if match else ("", body)
        summary = _plain(rest.split("*Test:*")[0])
        if len(summary) > SUMMARY_LIMIT:
            summary = summary[: SUMMARY_LIMIT - 1].rsplit(" ", 1)[0] + "…"
        out[ident] = Deviation(ident, _plain(title).rstrip("."), summary)
    return out


def _plain(text: str) -> str:
    text = re.sub(r"\*\*|`|^\s*-\s+|^\s*---\s*$", "", text, flags=re.M)
    return re.sub(r"\s+", " ", text).strip()


@cache
def catalogue() -> dict[str, Deviation]:
    raw = json.loads(resources.files("relaycheck.report").joinpath("deviations.json").read_text(encoding="utf-8"))
    return {d["id"]: Deviation(d["id"], d["title"], d["summary"]) for d in raw}


def lookup(ident: str) -> Deviation:
    return catalogue().get(ident) or Deviation(ident, "not in this relaycheck's catalogue", "")


def to_json(entries: dict[str, Deviation]) -> str:
    rows = [{"id": d.id, "title": d.title, "summary": d.summary} for d in entries.values()]
    return json.dumps(rows, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(to_json(parse(Path(sys.argv[1]).read_text(encoding="utf-8"))))
