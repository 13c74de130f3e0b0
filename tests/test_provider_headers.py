"""Per-provider extra headers and auth scheme (providers.yaml ``headers`` and ``auth``), end to end.

A raw-socket server on 127.0.0.1 records what reached it and echoes every header it received back in its
completion text, the worst case for a secret header: the value then comes back in a response body, in every
report, unless relaycheck redacts it like a key.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hostile.helpers import assert_key_absent
from hostile.servers import HostileServer, SeenRequest, head

from relaycheck.config.providers import ConfigError, parse_providers

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-headers-test-key-5d1c7a90e2b34f68"
SECRET = "pk-routing-secret-93b0c1e47d2a"  # sent as a header, read from the environment
LITERAL = "relaycheck-attribution"


class EchoHeaders(HostileServer):
    """A completion whose text is every request header it received, as JSON."""

    async def respond(self, request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        body = json.dumps({
            "id": "cmpl-echo", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
            "choices": [{"text": json.dumps(request.headers), "index": 0, "logprobs": None,
                         "finish_reason": "length"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        writer.write(head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body)),
                                     "Connection": "close"}) + body)
        await writer.drain()


def _run(providers: Path, reports: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relaycheck.cli.main", "run", "--providers-file", str(providers), "-p", "echo",
         "--checks", "shape", "--checks", "errors.auth", "--no-property", "--report-dir", str(reports)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=providers.parent,
    )


@pytest.mark.parametrize("auth", ["bearer", "api-key"])
def test_headers_reach_the_server_and_never_a_report(tmp_path: Path, auth: str) -> None:
    with EchoHeaders() as server:
        providers = tmp_path / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [{
            "name": "echo", "base_url": server.base_url, "api_key_env": "ECHO_KEY", "auth": auth,
            "headers": {"X-Title": LITERAL, "x-portkey-api-key": {"env": "ECHO_ROUTING"}},
            "timeouts": {"connect": 2, "read": 5, "total": 10, "run": 60},
        }]}), encoding="utf-8")
        result = _run(providers, tmp_path / "reports", {"ECHO_KEY": KEY, "ECHO_ROUTING": SECRET})
        seen = server.seen
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert seen, result.stderr[-3000:]
    valid = [r for r in seen if KEY in r.headers.get("authorization", "") + r.headers.get("api-key", "")]
    assert valid, [r.headers for r in seen]
    for request in seen:  # every request carries the extra headers, whatever key it presents
        assert request.headers.get("x-title") == LITERAL
        assert request.headers.get("x-portkey-api-key") == SECRET
    for request in valid:
        if auth == "api-key":
            assert request.headers["api-key"] == KEY and "authorization" not in request.headers
        else:
            assert request.headers["authorization"] == f"Bearer {KEY}" and "api-key" not in request.headers
    reports = tmp_path / "reports"
    assert (reports / "echo.json").exists()
    for secret in (KEY, SECRET):
        assert_key_absent(reports, secret, result.stdout, result.stderr)
    report = json.loads((reports / "echo.json").read_text(encoding="utf-8"))
    text = json.dumps(report)
    assert LITERAL in text  # a literal value is no secret: the recorded request shows it
    assert "<redacted>" in text


def test_header_from_an_unset_variable_skips_the_provider(tmp_path: Path) -> None:
    with EchoHeaders() as server:
        providers = tmp_path / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [{
            "name": "echo", "base_url": server.base_url, "api_key_env": "ECHO_KEY",
            "headers": {"x-portkey-api-key": {"env": "ECHO_ROUTING_UNSET"}},
        }]}), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "ECHO_ROUTING_UNSET"}
        result = subprocess.run(
            [sys.executable, "-m", "relaycheck.cli.main", "run", "--providers-file", str(providers), "-p", "echo",
             "--no-property", "--report-dir", str(tmp_path / "r")],
            env={**env, "ECHO_KEY": KEY}, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
        assert not server.seen  # nothing is sent without every header
    assert "Traceback" not in result.stderr
    assert "ECHO_ROUTING_UNSET" in result.stdout + result.stderr


def _entry(**extra: object) -> dict[str, object]:
    return {"name": "p", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "K", **extra}


def test_headers_and_auth_parse() -> None:
    provider = parse_providers({
        "defaults": {"headers": {"X-Title": "relaycheck"}},
        "providers": [_entry(auth="api-key", headers={"x-portkey-provider": "openai", "X-Key": {"env": "PK"}})],
    }).providers[0]
    assert provider.auth == "api-key"
    assert [(h.name, h.value, h.env) for h in provider.headers] == [
        ("X-Title", "relaycheck", None), ("x-portkey-provider", "openai", None), ("X-Key", None, "PK")]
    values = provider.header_values({"PK": "secret-value"})
    assert not isinstance(values, str)
    assert [(v.name, v.secret) for v in values] == [("X-Title", False), ("x-portkey-provider", False),
                                                     ("X-Key", True)]
    assert "PK" in str(provider.header_values({}))
    assert parse_providers({"providers": [_entry()]}).providers[0].auth == "bearer"


@pytest.mark.parametrize(("extra", "needle"), [
    ({"auth": "basic"}, "field 'auth' must be 'bearer'"),
    ({"auth": 1}, "field 'auth' must be a string"),
    ({"headers": ["X-A: b"]}, "field 'headers' must be a mapping"),
    ({"headers": {"bad name": "x"}}, "is not a valid header name"),
    ({"headers": {"Authorization": "Bearer x"}}, "relaycheck sets this header itself (the key is sent by"),
    ({"headers": {"api-key": "x"}}, "relaycheck sets this header itself"),
    ({"headers": {"Content-Type": "text/plain"}}, "relaycheck sets this header itself"),
    ({"headers": {"X-A": "line\r\nX-Injected: 1"}}, "must be printable ASCII"),
    ({"headers": {"X-A": "caf\u00e9"}}, "must be printable ASCII"),
    ({"headers": {"X-A": None}}, "must be a string or {env: VARIABLE}"),
    ({"headers": {"X-A": {"env": "1BAD"}}}, "'env' must name an environment variable"),
    ({"headers": {"X-A": {"env": "OK", "value": "x"}}}, "unknown field 'value'"),
    ({"headers": {"X-A": "1", "x-a": "2"}}, "header given twice"),
])
def test_bad_headers_and_auth_are_one_line_errors(extra: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_providers({"providers": [_entry(**extra)]})
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert message.startswith("providers.yaml: provider 'p': field '")


def test_embedded_reference_takes_a_bearer_key() -> None:
    with pytest.raises(ConfigError, match="embedded reference provider takes its key as a Bearer token"):
        parse_providers({"providers": [{"name": "reference", "embedded": True, "auth": "api-key"}]})


def test_secret_header_value_in_the_environment_is_checked_before_sending() -> None:
    provider = parse_providers({"providers": [_entry(headers={"X-Key": {"env": "PK"}})]}).providers[0]
    assert "not printable ASCII" in str(provider.header_values({"PK": "a\nb"}))
