"""providers.yaml: every bad input gets one clear line naming the provider and field, and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relaycheck.config.providers import ConfigError, load_providers, parse_providers

REPO = Path(__file__).resolve().parents[1]
VENDOR = {"name": "acme", "base_url": "https://api.acme.test/v1", "api_key_env": "ACME_KEY"}


def test_shipped_file_is_valid() -> None:
    providers = load_providers(REPO / "providers.yaml")
    names = [p.name for p in providers.providers]
    assert names == ["reference", "api4gpt", "gptnb", "xuedingmao"]
    by_name = {p.name: p for p in providers.providers}
    assert by_name["reference"].embedded
    assert by_name["api4gpt"].base_url == "https://one.api4gpt.com/v1"
    assert by_name["gptnb"].base_url == "https://api.gptnb.me/v1"
    assert by_name["xuedingmao"].base_url == "https://xuedingmao.online/v1"
    for vendor in ("api4gpt", "gptnb", "xuedingmao"):
        p = by_name[vendor]
        assert p.api_key_env and p.model == "gpt-3.5-turbo-instruct"
        assert p.budget.requests > 0 and p.timeouts.total > 0 and p.concurrency >= 1


def test_defaults_merge_into_sections() -> None:
    raw = {"defaults": {"timeouts": {"connect": 3}}, "providers": [{**VENDOR, "timeouts": {"read": 7}}]}
    p = parse_providers(raw).providers[0]
    assert (p.timeouts.connect, p.timeouts.read) == (3, 7)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"providers": [{**VENDOR, "base_ulr": "x"}]}, "provider 'acme': unknown field 'base_ulr' (did you mean 'base_url'?)"),
        ({"providers": [{**VENDOR, "concurrency": "four"}]}, "provider 'acme': field 'concurrency' must be a number"),
        ({"providers": [{**VENDOR, "concurrency": 0}]}, "provider 'acme': field 'concurrency' must be greater than 0"),
        ({"providers": [{**VENDOR, "timeouts": {"read": -1}}]}, "field 'timeouts.read' must be greater than 0"),
        ({"providers": [{**VENDOR, "timeouts": {"raed": 1}}]}, "field 'timeouts': unknown field 'raed'"),
        ({"providers": [{**VENDOR, "base_url": "ftp://x/v1"}]}, "provider 'acme': field 'base_url': 'ftp://x/v1' is not"),
        ({"providers": [{**VENDOR, "base_url": "not a url"}]}, "field 'base_url': 'not a url' is not an http(s) URL"),
        ({"providers": [{**VENDOR, "base_url": "https://u:p@x/v1"}]}, "must not carry credentials"),
        ({"providers": [{k: v for k, v in VENDOR.items() if k != "api_key_env"}]}, "field 'api_key_env' is required"),
        ({"providers": [{**VENDOR, "api_key_env": "not-a-var"}]}, "is not an environment variable name"),
        ({"providers": [VENDOR, VENDOR]}, "provider 'acme': field 'name': duplicate provider name 'acme'"),
        ({"providers": [{**VENDOR, "name": None}]}, "providers[0]: field 'name' is required"),
        ({"providers": []}, "'providers' must be a non-empty list"),
        ({"provider": []}, "unknown field 'provider' (did you mean 'providers'?)"),
        ([1, 2], "expected a mapping"),
        ({"providers": [{**VENDOR, "quirks": ["no-done"]}]}, "only the embedded reference provider has quirks"),
    ],
)
def test_bad_config_is_one_clear_line(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_providers(raw, "providers.yaml")
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_providers(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("providers:\n  - name: a\n    base_url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        load_providers(path)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relaycheck.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("providers:\n  - name: acme\n    base_url: https://a.test/v1\n    api_key_env: K\n    timeout: 3\n",
         "unknown field 'timeout'"),
        ("providers:\n  - {name: acme, base_url: 'https://a.test/v1', api_key_env: K, concurrency: x}\n",
         "field 'concurrency'"),
        ("providers:\n  - {name: acme, base_url: 'http//a.test', api_key_env: K}\n", "field 'base_url'"),
        ("providers:\n  - {name: a, embedded: true}\n  - {name: a, embedded: true}\n", "duplicate provider name"),
    ],
)
def test_cli_exits_2_with_one_line(tmp_path: Path, content: str, needle: str) -> None:
    (tmp_path / "providers.yaml").write_text(content)
    result = _cli("run", "-p", "acme", "-p", "a", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_cli_missing_file_and_unknown_provider(tmp_path: Path) -> None:
    result = _cli("run", "--providers-file", str(tmp_path / "missing.yaml"), "-p", "x", cwd=tmp_path)
    assert result.returncode == 2 and "file not found" in result.stderr
    (tmp_path / "providers.yaml").write_text("providers:\n  - {name: reference, embedded: true}\n")
    result = _cli("run", "-p", "refrence", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown provider 'refrence' (did you mean 'reference'?)" in result.stderr


def test_vendor_without_key_is_skipped_not_failed(tmp_path: Path) -> None:
    (tmp_path / "providers.yaml").write_text(
        "providers:\n  - {name: acme, base_url: 'https://a.test/v1', api_key_env: RELAYCHECK_TEST_UNSET_KEY}\n")
    result = _cli("run", "-p", "acme", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "RELAYCHECK_TEST_UNSET_KEY" in result.stdout
    assert "SKIPPED" in result.stdout


def test_tokenizer_setting() -> None:
    def tokenizer(value: object) -> str | None:
        return parse_providers({"providers": [{**VENDOR, "tokenizer": value}]}).providers[0].tokenizer

    assert parse_providers({"providers": [VENDOR]}).providers[0].tokenizer == "auto"
    assert tokenizer("cl100k_base") == "cl100k_base" and tokenizer("none") is None and tokenizer("auto") == "auto"
    with pytest.raises(ConfigError, match=r"provider 'acme': field 'tokenizer'.*did you mean 'cl100k_base'"):
        tokenizer("cl100k")
    with pytest.raises(ConfigError, match="'tokenizer'"):
        tokenizer(3)


def test_cheaper_models_setting() -> None:
    provider = parse_providers({"providers": [{**VENDOR, "cheaper_models": ["babbage-002"]}]}).providers[0]
    assert provider.cheaper_models == ("babbage-002",)
    assert parse_providers({"providers": [VENDOR]}).providers[0].cheaper_models == ()
    with pytest.raises(ConfigError, match="'cheaper_models' must be a list of model names"):
        parse_providers({"providers": [{**VENDOR, "cheaper_models": [""]}]})


def test_context_length_is_validated_and_the_reference_states_its_own(tmp_path: Path) -> None:
    from relaycheck.config.providers import REFERENCE_CONTEXT_LENGTH, embedded_reference, load_providers
    from relaycheck.server.config import ServerConfig

    assert embedded_reference().context_length == REFERENCE_CONTEXT_LENGTH == ServerConfig().context_length
    path = tmp_path / "providers.yaml"
    path.write_text("version: 1\nproviders:\n  - {name: a, base_url: 'https://a.example/v1', api_key_env: A_KEY,"
                    " context_length: 4096}\n  - {name: b, base_url: 'https://b.example/v1', api_key_env: B_KEY}\n"
                    "  - {name: reference, embedded: true}\n")
    a, b, reference = load_providers(path).providers
    assert (a.context_length, b.context_length, reference.context_length) == (4096, None, REFERENCE_CONTEXT_LENGTH)
    for bad in ("8", "'4096'", "-1", "true"):
        path.write_text(f"version: 1\nproviders:\n  - {{name: a, base_url: 'https://a.example/v1', api_key_env: A,"
                        f" context_length: {bad}}}\n")
        with pytest.raises(ConfigError, match="context_length"):
            load_providers(path)
