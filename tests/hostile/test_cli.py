"""The real ``relaycheck`` command against hostile providers and hostile input: exit 1 or 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hostile.helpers import KEY_ENV, PLANTED_KEY, assert_key_absent, hostile_entry
from hostile.servers import Html502, PlainForTls, closed_port

REPO = Path(__file__).resolve().parents[2]


def relaycheck(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, KEY_ENV: PLANTED_KEY, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "relaycheck.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_providers(path: Path, entries: list[dict[str, object]]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"providers": entries}), encoding="utf-8")
    return path


def test_cli_against_hostile_providers(tmp_path: Path) -> None:
    with Html502() as html, PlainForTls() as plain:
        providers = write_providers(tmp_path / "p.yaml", [
            hostile_entry("html", html.base_url),
            hostile_entry("tls", plain.tls_url),
            hostile_entry("closed", f"http://127.0.0.1:{closed_port()}/v1"),
        ])
        reports = tmp_path / "reports"
        result = relaycheck("run", "--providers-file", str(providers), "-p", "html", "-p", "tls", "-p", "closed",
                            "--report-dir", str(reports), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith("worst case: ") and lines[0].endswith(" s")
    for name in ("tls", "closed"):  # one clear line each, when the provider stopped being sent requests
        stopped = [line for line in lines if line.startswith(f"{name}: provider treated as down")]
        assert len(stopped) == 1 and "connection failed" in stopped[0], lines
    assert not [line for line in lines if line.startswith("html: provider treated as down")]
    assert_key_absent(reports, PLANTED_KEY, result.stdout, result.stderr)
    assert {p.name for p in reports.glob("*.json")} >= {"html.json", "tls.json", "closed.json"}


def _one_line_exit_2(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert result.stderr.startswith("relaycheck: error: ")
    assert needle in result.stderr


def _billion_laughs() -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "defaults:\n" + "".join(f"  {line}\n" for line in lines) + \
        "providers:\n  - {name: x, base_url: 'http://127.0.0.1:9/v1', api_key_env: K, model: *l9}\n"


def _bomb_in_a_value() -> str:
    anchors = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    anchors += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return ("providers:\n  - name: x\n    base_url: http://127.0.0.1:9/v1\n    api_key_env: K\n"
            f"    model: [{', '.join(anchors)}]\n")


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "malformed": (b"providers:\n  - name: x\n    base_url: [unclosed\n", "not valid YAML"),
    "billion-laughs": (_billion_laughs().encode(), "aliases"),
    "bomb-in-a-value": (_bomb_in_a_value().encode(), "aliases"),
    "self-reference": (b"providers: &p [*p]\n", "refers to itself"),
    "deep": (b"providers: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested"),
    "non-mapping": (b"- just\n- a list\n", "expected a mapping"),
    "scalar": (b"42\n", "expected a mapping"),
    "binary": (bytes(range(256)) * 64, "not UTF-8"),
    "nul": (b"providers:\n  - name: a\x00b\n", "not valid YAML"),
    "infinite-timeout": (b"providers:\n  - {name: x, base_url: 'http://127.0.0.1:9/v1', api_key_env: K, "
                         b"timeouts: {total: .inf}}\n", "finite"),
    "escape-codes": (b"providers:\n  - {name: x, base_url: \"http://a\\e[31m.test/v1\", api_key_env: K}\n",
                     "base_url"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_hostile_providers_file(kind: str, tmp_path: Path) -> None:
    content, needle = BAD_FILES[kind]
    path = tmp_path / "providers.yaml"
    path.write_bytes(content)
    result = relaycheck("run", "--providers-file", str(path), "-p", "x", cwd=tmp_path, timeout=60)
    _one_line_exit_2(result, needle)
    assert "\x1b" not in result.stderr


def test_fifty_megabyte_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    with path.open("wb") as handle:
        handle.write(b"providers:\n")
        handle.truncate(50 * 1024 * 1024)
    _one_line_exit_2(relaycheck("run", "--providers-file", str(path), "-p", "x", cwd=tmp_path), "larger than")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--providers-file", "{tmp}", "-p", "x"], "is a directory"),
        (["--providers-file", "{tmp}/dangling.yaml", "-p", "x"], "file not found"),
        (["--providers-file", "{tmp}/ok.yaml", "-p", "nope"], "unknown provider 'nope'"),
        (["--base-url", "http://[::1/v1", "--api-key-env", KEY_ENV], "not a valid URL"),
        (["--base-url", "ftp://example.test/v1", "--api-key-env", KEY_ENV], "not an http(s) URL"),
        (["--base-url", "http://exa mple.test/v1", "--api-key-env", KEY_ENV], "spaces or control characters"),
        (["--base-url", "http://xn--a.test/v1", "--api-key-env", KEY_ENV], "not a valid URL"),
        (["--base-url", "http://127.0.0.1:99999/v1", "--api-key-env", KEY_ENV], "invalid port"),
        (["--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "not-a-var"], "environment variable"),
        (["--report-dir", "{tmp}/ok.yaml"], "not a directory"),
    ],
)
def test_bad_command_line(args: list[str], needle: str, tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("providers:\n  - {name: reference, embedded: true}\n")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "missing-target.yaml")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    _one_line_exit_2(relaycheck("run", *argv, cwd=tmp_path, timeout=60), needle)
