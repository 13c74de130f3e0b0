"""A planted key must appear in no output: reports, pages, JUnit, comparison, expectations, rejudge, stdout/stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from relaycheck.cli.main import main
from relaycheck.server.config import ServerConfig
from relaycheck.server.running import serve_in_thread

PLANTED = "sk-relaycheck-PLANTED-7f3c9a1e5b2d4c6a8e0f"
FRAGMENT = "PLANTED-7f3c9a1e"


def test_planted_key_leaks_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELAYCHECK_PLANTED_KEY", PLANTED)
    # A deviation, so that --update-expectations has something to write for it (a clean provider gets no file)
    with serve_in_thread(ServerConfig(api_key=PLANTED, quirks=frozenset({"errors-traceback"}))) as server:
        providers = tmp_path / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [
            {"name": "planted", "base_url": server.base_url, "api_key_env": "RELAYCHECK_PLANTED_KEY"},
            {"name": "ref", "embedded": True, "quirks": ["no-done"]},
        ]}), encoding="utf-8")
        code = main(["run", "-p", "planted", "-p", "ref", "--providers-file", str(providers),
                     "--report-dir", "reports", "--update-expectations"])
    assert code in (0, 1)
    out = tmp_path / "reports"
    for name in ("planted.json", "planted.md", "planted.html", "junit.xml", "comparison.html", "comparison.md",
                 "summary.md"):
        assert (out / name).exists(), name
    assert (tmp_path / "expectations" / "planted.yaml").exists()
    # the planted provider was really certified with the key (auth checks need it)
    assert '"skipped": null' in (out / "planted.json").read_text(encoding="utf-8")
    assert main(["rejudge", str(out / "planted.json"), "--out", "rejudged"]) == 0
    assert main(["compare", str(out / "planted.json"), str(out / "ref.json"), "--out", "compared"]) == 0
    main(["diff", str(out / "ref.json"), str(out / "planted.json")])
    captured = capsys.readouterr()
    assert FRAGMENT not in captured.out and FRAGMENT not in captured.err
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "providers.yaml"]
    assert len(files) >= 12
    leaks = [str(p.relative_to(tmp_path)) for p in files if FRAGMENT.encode() in p.read_bytes()]
    assert leaks == []
