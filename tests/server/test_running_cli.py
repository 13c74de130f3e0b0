"""serve_in_thread / RunningServer, and the ``serve`` command's helpers."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from relaycheck.server import RunningServer, ServerConfig, all_quirks, create_app, serve_in_thread
from relaycheck.server.cli import add_serve_arguments, run_serve

from .conftest import API_KEY, MODEL


def _connectable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_serve_in_thread_lifecycle() -> None:
    server = serve_in_thread(ServerConfig(api_key=None))
    assert isinstance(server, RunningServer)
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1" and server.port > 0
    assert httpx.get(server.base_url + "/models", timeout=5).status_code == 200
    with server as same:
        assert same is server
    assert not _connectable(server.port)


def test_context_manager_on_a_chosen_port() -> None:
    with socket.socket() as probe:  # find a free port, then let the server bind it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with RunningServer(ServerConfig(), port=port) as server:
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        response = httpx.post(
            server.base_url + "/completions",
            json={"model": MODEL, "prompt": "x", "max_tokens": 1},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=5,
        )
        assert response.status_code == 200


def test_two_servers_run_side_by_side() -> None:
    with (
        serve_in_thread(ServerConfig()) as first,
        serve_in_thread(ServerConfig(quirks=frozenset({"no-auth"}))) as second,
    ):
        assert first.port != second.port
        assert httpx.get(first.base_url + "/models", timeout=5).status_code == 401
        assert httpx.get(second.base_url + "/models", timeout=5).status_code == 200


def test_unknown_quirk_in_config() -> None:
    with pytest.raises(KeyError, match="known quirks"):
        create_app(ServerConfig(quirks=frozenset({"nope"})))


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(argv)


def test_serve_arguments() -> None:
    args = _parse()
    assert (args.host, args.port, args.api_key, args.no_auth, args.quirk) == (
        "127.0.0.1",
        8000,
        None,
        False,
        [],
    )
    assert (args.latency_ms, args.jitter_ms, args.chunk_delay_ms, args.rate_limit, args.list_quirks) == (
        0.0,
        0.0,
        0.0,
        None,
        False,
    )
    args = _parse(
        "--port", "0", "--quirk", "no-done", "--quirk", "empty-id", "--rate-limit", "2.5", "--no-auth"
    )
    assert (
        args.quirk == ["no-done", "empty-id"] and args.rate_limit == 2.5 and args.no_auth and args.port == 0
    )


def test_list_quirks(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_serve(_parse("--list-quirks")) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DEVIATION", "ENDPOINTS", "DESCRIPTION"]
    for quirk in all_quirks():
        (line,) = [line for line in lines if line.split()[0] == quirk.name]
        assert quirk.deviation in line and quirk.description in line
        assert set(line.split()[2].split(",")) == set(quirk.endpoints)
        assert ("benign" in line.split(None, 3)[3]) == quirk.benign


def test_unknown_quirk_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_serve(_parse("--quirk", "no-such-quirk")) == 2
    captured = capsys.readouterr()
    assert (
        captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "no-such-quirk" in captured.err
    )


def test_serve_runs_until_interrupted() -> None:
    code = (
        "import argparse, sys\n"
        "from relaycheck.server.cli import add_serve_arguments, run_serve\n"
        "p = argparse.ArgumentParser(); add_serve_arguments(p)\n"
        "sys.exit(run_serve(p.parse_args(sys.argv[1:])))\n"
    )
    env = {**os.environ, "RELAYCHECK_SERVE_KEY": "sk-from-env"}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--quirk", "empty-id"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("relaycheck reference provider on http://127.0.0.1:"), line
        base_url = line.split(" on ", 1)[1].strip()
        body = {"model": MODEL, "prompt": "x", "max_tokens": 1}
        response = httpx.post(
            base_url + "/completions", json=body, headers={"Authorization": "Bearer sk-from-env"}, timeout=5
        )
        assert response.status_code == 200 and response.json()["id"] == ""
        refused = httpx.post(
            base_url + "/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5
        )
        assert refused.status_code == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
