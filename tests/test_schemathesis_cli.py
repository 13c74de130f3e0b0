"""schemathesis's own CLI, all checks, on the contract against ``relaycheck serve``: it must find nothing.

A failure here means the contract calls valid what the reference refuses (ST202: a cross-field rule the prose
states and the schema does not), or the reference answers something the contract or HTTP forbids (e.g. ST204, a
405 without Allow). The contract is given the reference deployment's model limits (context window, vocabulary),
which the model-independent contract cannot state (``relaycheck.spec.limits``). Bounded: about 15 s on 2 cores.

The chat contract is given, besides those limits, what the reference serves (``bounds.chat_served``: no audio,
media parts, custom tools or deprecated functions, which it refuses cleanly, and small fixed tool and format
schemas, as the property phase sends) and its x-rules stated as schema (``chat_rules.as_schema``), since
schemathesis reads schema only: a conversation out of role order is valid to it and refused by the reference.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from relaycheck.endpoint import Endpoint
from relaycheck.property.bounds import chat_served
from relaycheck.server.config import DEFAULT_API_KEY, ServerConfig
from relaycheck.server.tokenizer import default_tokenizer
from relaycheck.spec.chat_rules import as_schema
from relaycheck.spec.contract import contract_path
from relaycheck.spec.limits import with_model_limits

BIN = Path(sys.executable).parent
RUN_TIMEOUT_S = 240


def _serve() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([str(BIN / "relaycheck"), "serve", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()  # "relaycheck reference provider on http://127.0.0.1:PORT/v1"
    found = re.search(r"http://127\.0\.0\.1:\d+/v1", line)
    if not found:
        server.kill()
        raise AssertionError(f"relaycheck serve did not start: {line!r}")
    return server, found.group(0)


def _contract(endpoint: Endpoint) -> dict:
    document = yaml.safe_load(contract_path(endpoint).read_text(encoding="utf-8"))
    if endpoint is Endpoint.CHAT:
        document, missed = chat_served(document)
        assert not missed
    # cl100k has no token 100256
    limited = with_model_limits(document, ServerConfig().context_length, default_tokenizer().dense_size)
    return as_schema(limited) if endpoint is Endpoint.CHAT else limited


@pytest.mark.parametrize("endpoint", list(Endpoint), ids=str)
def test_schemathesis_finds_nothing(tmp_path: Path, endpoint: Endpoint) -> None:
    limited = _contract(endpoint)
    contract = tmp_path / f"{endpoint.value}.yaml"
    contract.write_text(yaml.safe_dump(limited, allow_unicode=True), encoding="utf-8")
    server, base_url = _serve()
    try:
        result = subprocess.run(
            [str(BIN / "schemathesis"), "run", str(contract), "--url", base_url, "--checks", "all",
             "--max-examples", "30", "--header", f"Authorization: Bearer {DEFAULT_API_KEY}", "--no-color",
             "--generation-database", "none", "--request-timeout", "30"],
            cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    codes = sorted(set(re.findall(r"\bST\d{3}\b", result.stdout)))
    assert result.returncode == 0 and not codes, f"schemathesis reported {codes}:\n{result.stdout[-4000:]}"
