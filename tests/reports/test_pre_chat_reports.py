"""A report written before the endpoint dimension (Completions only: no endpoints, no score or spend per endpoint)
still loads, renders, compares, diffs and re-judges. The fixture is a real one: ``relaycheck run --no-property
--checks shape --checks stream --checks identity`` on the embedded reference at commit 71e9f1c, the last before chat.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relaycheck.cli.main import main
from relaycheck.endpoint import Endpoint
from relaycheck.report.html import provider_html
from relaycheck.report.markdown import provider_markdown
from relaycheck.report.model import Report

OLD = Path(__file__).parents[1] / "fixtures" / "reports" / "pre-chat-reference.json"


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("current")
    assert main(["run", "-q", "--no-property", "--checks", "shape", "--checks", "stream", "--checks", "identity",
                 "--checks", "chat.shape", "--report-dir", str(out)]) == 0
    return out / "reference.json"


def test_an_old_report_loads_as_completions_alone() -> None:
    raw = json.loads(OLD.read_text())
    assert "by_endpoint" not in raw["score"] and "endpoints" not in raw["provider"]  # really from before
    report = Report.load(OLD)
    assert [r.info.endpoint for r in report.endpoints()] == [Endpoint.COMPLETIONS]
    assert report.spend.by_endpoint == {}
    assert all(r.spend is None for r in report.endpoints())  # no per-endpoint spend claimed for it
    assert "reference" in provider_markdown(report) and "<html" in provider_html(report)


def test_an_old_report_compares_diffs_and_rejudges_beside_a_new_one(current: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(OLD), str(current), "--report-dir", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "comparison.html").read_text().count("reference") >= 2
    capsys.readouterr()
    code = main(["diff", str(OLD), str(current)])
    out = capsys.readouterr().out
    assert code == 0, out  # nothing got worse: the new endpoint's checks are new, said as such
    assert "new       chat.shape.schema" in out and "Chat Completions model not certified → gpt-4" in out
    assert main(["rejudge", str(OLD), "--report-dir", str(tmp_path / "rj")]) == 0
    rejudged = Report.load(tmp_path / "rj" / "reference.json")
    assert rejudged.rejudged is not None
