"""Side by side: matrix, unique failures, same-model agreement; `compare` and multi-provider `run`."""

from __future__ import annotations

import copy
import json
from html import escape
from pathlib import Path
from typing import Any

import pytest

from relaycheck.cli.main import main
from relaycheck.endpoint import Endpoint
from relaycheck.report.compare import Comparison, comparison_markdown
from relaycheck.report.compare import compare as compare_reports
from relaycheck.report.model import Report


def compare(data: list[dict[str, Any]]) -> Comparison:
    return compare_reports([Report.from_json(d) for d in data])


def reports(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads((run_dir / f"{n}.json").read_text(encoding="utf-8")) for n in ("reference", "relay-a", "relay-b")]


def test_matrix_and_unique_failures(run_dir: Path) -> None:
    comparison = compare(reports(run_dir))
    assert comparison.providers == ["reference", "relay-a", "relay-b"]
    assert all(len(row.cells) == 3 for row in comparison.rows)
    unique = comparison.unique_failures()
    assert ("relay-a", "stream.done", "fail") in unique
    assert all(provider != "reference" for provider, _, _ in unique)
    assert comparison.features[:2] == ["route", "shape"]


def test_same_model_disagreement_is_flagged(run_dir: Path) -> None:
    comparison = compare(reports(run_dir))
    group, chat = comparison.groups  # one per endpoint: the model each claims there
    assert (group.endpoint, chat.endpoint) == (Endpoint.COMPLETIONS, Endpoint.CHAT)
    assert chat.label == "gpt-4 (Chat Completions)" and chat.providers == group.providers
    assert "completion_tokens for the same answer to 'chat-greedy' differ (possible usage inflation)" in chat.flagged[
        "relay-a"]
    assert group.providers == ["reference", "relay-a", "relay-b"]
    # relay-b answers like a chat model: the odd one out; the other two agree with each other on the answers, and
    # relay-a (usage-inflated) bills those same answers twice the completion tokens: with two, no majority says who
    assert group.flagged["relay-b"] == ["answer to 'greedy' differs (possible model substitution)",
                                        "answer to 'basic' differs (possible model substitution)",
                                        "answer to 'defaults' differs (possible model substitution)",
                                        "answer to 'stream' differs (possible model substitution)"]
    for name in ("reference", "relay-a"):
        assert {r for r in group.flagged[name]} == {
            f"completion_tokens for the same answer to '{p}' differ (possible usage inflation)"
            for p in ("greedy", "basic", "defaults")}  # the stream probe asks for no usage
    assert group.completion["greedy"]["relay-b"].agrees is None  # its answer differs: nothing to hold it to
    assert {p.value for p in group.served["basic"].values()} == {"gpt-3.5-turbo-instruct"}
    assert all(p.agrees for p in group.served["basic"].values())
    assert group.answers["greedy"]["reference"].agrees is True
    assert group.answers["stream"]["relay-b"].agrees is False
    assert group.answers["stream"]["reference"].value == group.answers["greedy"]["reference"].value


def test_prompt_token_inflation_is_flagged(run_dir: Path) -> None:
    data = reports(run_dir)
    inflated = copy.deepcopy(data[1])
    for x in inflated["exchanges"]:
        if x["probe"] == "basic":
            body = json.loads(x["body"]["text"])
            body["usage"]["prompt_tokens"] += 40
            x["body"]["text"] = json.dumps(body)
    comparison = compare([data[0], inflated, data[0] | {"provider": {**data[0]["provider"], "name": "ref2"}}])
    group, _ = comparison.groups
    assert group.flagged["relay-a"][0] == "prompt_tokens for 'basic' differ (possible usage inflation)"
    md = comparison_markdown(comparison)
    assert "usage inflation" in md


def test_two_disagreeing_providers_are_both_flagged(run_dir: Path) -> None:
    data = reports(run_dir)
    group, _ = compare([data[0], data[2]]).groups
    assert set(group.flagged) == {"reference", "relay-b"}


def test_different_models_are_not_compared(run_dir: Path) -> None:
    data = reports(run_dir)
    other = copy.deepcopy(data[2])
    other["provider"]["model"] = "davinci-002"
    for endpoint in other["provider"]["endpoints"]:
        endpoint["model"] = {"completions": "davinci-002", "chat": endpoint["model"]}[endpoint["endpoint"]]
    assert [g.endpoint for g in compare([data[0], other]).groups] == [Endpoint.CHAT]  # the same chat model only
    for endpoint in other["provider"]["endpoints"]:
        endpoint["model"] = "davinci-002" if endpoint["endpoint"] == "completions" else "gpt-4o"
    assert compare([data[0], other]).groups == []


def test_markdown(run_dir: Path) -> None:
    md = comparison_markdown(compare(reports(run_dir)))
    assert "| check | reference | relay-a | relay-b |" in md
    assert "‼ ❌ fail" in md and "⚑ **relay-b**" in md
    assert "median latency" in md


def test_compare_command(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(run_dir / f"{n}.json") for n in ("reference", "relay-a", "relay-b")]
    assert main(["compare", *paths, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "only relay-a: stream.done fail" in out and "relay-b" in out
    page = (tmp_path / "comparison.html").read_text(encoding="utf-8")
    assert page.count('<th class="provider">') >= 3
    assert (tmp_path / "comparison.md").exists()


def test_compare_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("nope", encoding="utf-8")
    assert main(["compare", str(tmp_path / "bad.json"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.json" in err


def test_run_with_several_providers_writes_the_comparison(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    providers = tmp_path / "providers.yaml"
    providers.write_text(
        "providers:\n"
        "  - {name: ref, embedded: true}\n"
        "  - {name: nodone, embedded: true, quirks: [no-done]}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code = main(["run", "-p", "all", "--providers-file", str(providers), "--report-dir", str(out), "-q",
                 "--checks", "stream"])
    assert code == 1  # no-done violates a MUST
    for name in ("ref.json", "ref.html", "nodone.html", "junit.xml", "comparison.html", "comparison.md"):
        assert (out / name).exists(), name
    assert "stream.done" in (out / "comparison.md").read_text(encoding="utf-8")


def test_comparison_page_columns_links_titles_and_a_skipped_provider(five_dir: Path, run_dir: Path) -> None:
    page = (five_dir / "comparison.html").read_text(encoding="utf-8")
    five = Report.load(five_dir / "relay-five.json")
    absent = Report.load(five_dir / "absent.json")
    assert absent.skipped and "RELAYCHECK_TEST_KEY_NEVER_SET" in absent.skipped
    for name in ("relay-five", "absent"):
        assert f'<a href="{name}.html">{name}</a>' in page and (five_dir / f"{name}.html").is_file()
    assert five.started in page and f"relaycheck {five.suite.version}" in page  # run date and suite per column
    figures = page[page.index('id="figures-table"'):page.index("</table>", page.index('id="figures-table"'))]
    must_row = figures[figures.index("<th>MUST failures</th>"):]
    must_row = must_row[: must_row.index("</tr>")]
    assert '<span class="badge skipped">skipped</span>' in must_row and ">0<" not in must_row
    for row in five.verdicts:
        assert f"<div class=\"title\">{escape(row.check.title)}</div>" in page  # titles in the rows
    md = (five_dir / "comparison.md").read_text(encoding="utf-8")
    assert "| MUST failures | 34 | skipped |".replace("34", str(len(five.score.overall.must_failures))) in md
    # `relaycheck compare` into another folder links no page that is not there
    other = run_dir.parent / "compare-elsewhere"
    main(["compare", str(five_dir / "relay-five.json"), str(five_dir / "absent.json"), "--out", str(other)])
    assert 'href="relay-five.html"' not in (other / "comparison.html").read_text(encoding="utf-8")


def test_agreement_tables_have_completion_tokens_and_served_model(run_dir: Path) -> None:
    page = (run_dir / "comparison.html").read_text(encoding="utf-8")
    md = (run_dir / "comparison.md").read_text(encoding="utf-8")
    for kind in ("answer", "prompt_tokens", "completion_tokens", "served model"):
        assert f"<th>{kind} <code>" in page and f"| {kind} `" in md
