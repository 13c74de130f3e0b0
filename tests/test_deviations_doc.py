"""The deviation catalogue shipped in docs/ is the one the checks and quirks cite: every id they name has an entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relaycheck.checks.catalogue import load_catalogue
from relaycheck.server.quirks import all_quirks

DOC = Path(__file__).resolve().parents[1] / "docs" / "deviations.md"


def _entries() -> set[str]:
    return set(re.findall(r'<a id="(D\d\d)"></a>', DOC.read_text(encoding="utf-8")))


def test_every_cited_deviation_has_an_entry() -> None:
    entries = _entries()
    assert len(entries) >= 40
    cited = {d for c in load_catalogue().checks for d in c.deviations}
    cited |= {q.deviation for q in all_quirks() if not q.benign}
    assert cited - entries == set(), f"cited but not in docs/deviations.md: {sorted(cited - entries)}"


# Entries no check detects, and why: D26 (extra non-standard fields) is what the spec allows, so no check may fail
# it (the benign quirk `extra-fields` proves none does); D43 (429/5xx retry semantics) is how the transport retries,
# not a property of an answer; D86 (partial routing) needs a trusted night to compare with, so the model fingerprint
# finds it in `diff` and `compare --baseline`, not a check of one report; D87 (a gateway page the first time) is how
# any check's rerun is graded (warn, flaky), not a check of its own.
NOT_A_CHECK = {"D26", "D43", "D86", "D87"}
# Chat's entries (section G), reproduced by the reference provider's chat quirks; the chat checks written on top of
# that server cite them. An id leaves this set when a check detects it (and the test below says so).
# Every chat entry (D50-D67) is detected by a chat check by now: none awaits one.
AWAITING_CHAT_CHECKS: set[str] = set()


def test_every_entry_is_detected_or_knowingly_not() -> None:
    """A new entry no check detects is a gap to see: it must be detected, or listed above with why."""
    cited = {d for c in load_catalogue().checks for d in c.deviations}
    assert _entries() - cited == NOT_A_CHECK | (AWAITING_CHAT_CHECKS - cited)
    assert not AWAITING_CHAT_CHECKS & cited, f"detected now, drop from AWAITING_CHAT_CHECKS: {AWAITING_CHAT_CHECKS & cited}"


RESEARCH_NOTES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "known-deviations.md"


def test_the_research_notes_entries_are_all_copied() -> None:
    """docs/deviations.md extends the research notes it was copied from; it never drops or renames their entries.

    The notes live beside the repository on a development machine (and in CI), not in a bare clone."""
    if not RESEARCH_NOTES.exists():
        pytest.skip("the research notes are not beside this clone")
    title = re.compile(r"^\*\*(D\d\d\.[^*]*)\*\*", re.M)
    ours = set(title.findall(DOC.read_text(encoding="utf-8")))
    theirs = title.findall(RESEARCH_NOTES.read_text(encoding="utf-8"))
    assert len(theirs) >= 40
    assert [t for t in theirs if t not in ours] == []
