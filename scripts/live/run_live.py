"""Certify real third-party servers on this machine: llama.cpp (llama-cpp-python), three real relays in front of
it (LiteLLM, openai-forward, the Portkey gateway) and, opt-in, vLLM.

    bash scripts/live/setup.sh [--with-vllm]       # once: installs the servers under .cache/live/ (docs/live.md)
    python scripts/live/run_live.py [--with-vllm] [--completions-only]  # any Python >= 3.11; relaycheck from .venv

What it does, in order:

1. writes the tiny GGUF model (scripts/live/make_tiny_gguf.py, deterministic) to .cache/live/tiny.gguf;
2. starts, each on a free 127.0.0.1 port with an API key generated for this run (passed through environment
   variables only, never written to a file):
   * llama-cpp-python's server on the tiny model, aliases ``gpt-3.5-turbo-instruct`` and ``tiny-chat`` (chat through
     the GGUF's chat template) and ``tiny-chat-functions`` (the chatml-function-calling chat format), from a config
     file handed over through a pipe (it holds the key);
   * the LiteLLM proxy, forwarding ``text-completion-openai/gpt-3.5-turbo-instruct`` and, for chat,
     ``openai/tiny-chat`` and ``openai/tiny-chat-functions`` to llama's /v1;
   * openai-forward (its ASGI app under uvicorn), forwarding to llama; it maps its own forward key to llama's key;
   * the Portkey AI gateway (scripts/live/portkey_serve.mjs: its app on 127.0.0.1 only), routed to llama by the
     request headers x-portkey-provider / x-portkey-custom-host that the providers file sets per provider;
   * with --with-vllm: vLLM's OpenAI server on the tiny model's Hugging Face twin (same weights, tokenizer and chat
     template), served as ``gpt-3.5-turbo-instruct`` on both endpoints, with the Hermes tool parser;
   * one more llama-cpp-python, certified as ``llama-cpp-functions`` on chat only (not with --completions-only);
3. waits for each to answer (bounded), writes a temporary providers file (llama-cpp, litellm, openai-forward and
   the embedded reference, each with ``endpoints`` and its ``chat`` model unless --completions-only) and runs
   ``relaycheck run ... --report-dir reports/live``;
4. stops every server it started (always), copies their logs (keys redacted) to reports/live/logs/;
5. judges the JSON reports itself, stricter than relaycheck's own exit code:
   exit 0 only when every verdict of every provider is pass, known or skipped-as-expected, i.e. each ``fail``,
   ``warn``, ``unsupported`` and ``error`` is recorded in expectations/<name>.yaml, and no recorded expectation
   changed -- a deviation that disappeared (a fix) fails the run as much as a new one, so the expectations file
   is kept true. Exit 1 otherwise; exit 2 when the run could not be made (setup missing, a server did not start).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIVE = Path(os.environ.get("RELAYCHECK_LIVE_CACHE", ROOT / ".cache" / "live"))
HOST = "127.0.0.1"  # never anything else
MODEL = "gpt-3.5-turbo-instruct"
# Chat (issue 23): every server answers /v1/chat/completions on the tiny model under these names as well.
CHAT_MODEL = "tiny-chat"  # llama-cpp-python: the GGUF's own chat template (Jinja2ChatFormatter), its default handler
CHAT_FUNCTIONS_MODEL = "tiny-chat-functions"  # llama-cpp-python: chat_format chatml-function-calling (adds "auto")
CHAT_CONTEXT_LENGTH = 2048  # n_ctx of llama-cpp-python, --max-model-len of vLLM
# vLLM's chat model: its only served name, the Completions one (it answers any alias under its first served name)
VLLM_CHAT_MODEL = MODEL
REFERENCE_CHAT_MODEL = "gpt-3.5-turbo"  # the embedded reference's chat model: cl100k, as its Completions model
PROVIDERS = ("llama-cpp", "litellm", "openai-forward", "portkey")
OPTIONAL_PROVIDERS = ("vllm",)  # --with-vllm (a 3.5 GB install; the nightly job runs it)
# llama-cpp-python's tool-calling chat format, certified on chat only, on its own llama instance.
CHAT_ONLY_PROVIDERS = ("llama-cpp-functions",)
KEY_ENV = {
    "llama-cpp": "RELAYCHECK_LIVE_LLAMA_KEY",
    "llama-cpp-functions": "RELAYCHECK_LIVE_LLAMA_FUNCTIONS_KEY",
    "litellm": "RELAYCHECK_LIVE_LITELLM_KEY",
    "openai-forward": "RELAYCHECK_LIVE_FORWARD_KEY",
    "portkey": "RELAYCHECK_LIVE_PORTKEY_KEY",
    "vllm": "RELAYCHECK_LIVE_VLLM_KEY",
    "litellm-other": "RELAYCHECK_LIVE_LITELLM_OTHER_KEY",
}
# The identity pair (issue 13): another tiny model, the same tokenizer and name, behind its own LiteLLM.
PAIR_PROVIDER = "litellm-other"
OTHER_MODEL = "tiny-other.gguf"
OTHER_SEED = 20261124  # make_tiny_gguf.py's SEED + 1: other weights
PAIR_DIR = "identity-pair"  # under the report dir: the pair provider's report (fingerprint probes only)
VLLM_STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}
VLLM_READY_TIMEOUT = 360.0  # vLLM compiles and warms up its model: about 80 s alone, minutes on a busy machine
HF_TWIN = "tiny-hf"  # the Hugging Face twin of tiny.gguf, for vLLM
BAD_GRADES = {"fail", "warn", "unsupported", "error"}
CHANGED_MARK = "; it changed"  # relaycheck/runner/expectations.py apply_expectations


class LiveError(Exception):
    """The live run could not be made (exit 2)."""


def log(msg: str) -> None:
    print(f"[live {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    ready_path: str
    env: dict[str, str]
    cwd: Path
    log_path: Path
    ready_key: str | None = None
    ready_timeout: float | None = None  # longer than the run's --ready-timeout for a slow starter (vLLM)
    # A config file handed over through a pipe (``--config_file /dev/fd/N``), never written to disk: it holds the key.
    config: bytes | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after: float | None = None
    _log: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.monotonic()
        argv, fds = self.argv, ()
        if self.config is not None:  # small (< 64 KiB, a pipe's buffer): written whole before the server starts
            read_end, write_end = os.pipe()
            os.write(write_end, self.config)
            os.close(write_end)
            argv, fds = [*self.argv, "--config_file", f"/dev/fd/{read_end}"], (read_end,)
        try:
            # own session: stop() signals this server's process group only (LiteLLM may spawn workers)
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv built above
                argv, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
        log(f"started {self.name} (pid {self.proc.pid}) on {self.base_url}")

    def wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        url = self.base_url + self.ready_path
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LiveError(f"{self.name} exited with {self.proc.returncode} before it was ready; "
                                f"log: {self.log_path}\n{tail(self.log_path)}")
            request = urllib.request.Request(url)
            if self.ready_key:
                request.add_header("Authorization", f"Bearer {self.ready_key}")
            try:
                with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - 127.0.0.1 only
                    if response.status == 200:
                        self.ready_after = time.monotonic() - self.started_at
                        log(f"{self.name} ready after {self.ready_after:.1f} s")
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except (OSError, urllib.error.URLError) as exc:
                last = exc.__class__.__name__
            time.sleep(0.5)
        raise LiveError(
            f"{self.name} not ready after {timeout:.0f} s ({last}); log: {self.log_path}\n{tail(self.log_path)}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            log(f"stopped {self.name}")
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def venv_bin(venv: str, exe: str, setup_args: str = "") -> Path:
    path = LIVE / venv / "bin" / exe
    if not path.exists():
        raise LiveError(f"{path} is missing: run `bash scripts/live/setup.sh{' ' + setup_args if setup_args else ''}` "
                        "first")
    return path


def base_env() -> dict[str, str]:
    """A clean environment for the servers: no inherited proxies (127.0.0.1 only) and no stray keys."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
    return env


def llama_config(model: Path, port: int, key: str) -> dict[str, object]:
    """llama-cpp-python's --config_file: one model file under three names, each with its own chat format.

    ``MODEL`` (first, so also what a request naming an unknown model gets) and ``CHAT_MODEL`` use the GGUF's chat
    template (llama_cpp/llama.py picks "chat_template.default" when no chat_format is given), whose handler honours
    only a named tool_choice; ``CHAT_FUNCTIONS_MODEL`` uses the chatml-function-calling handler, which adds
    tool_choice "auto" (and has its own ChatML template). The server keeps one model loaded and reloads when a
    request names another (llama_cpp/server/model.py LlamaProxy.__call__): the tiny model loads in milliseconds.
    """
    # The model by its name, from its own directory: without `model` in a request llama-cpp-python answers with
    # the model path, which must not put this machine's directories into the reports.
    common = {"model": model.name, "n_ctx": CHAT_CONTEXT_LENGTH, "n_threads": 1}
    return {
        "host": HOST, "port": port, "api_key": key,
        "models": [
            {**common, "model_alias": MODEL},
            {**common, "model_alias": CHAT_MODEL},
            {**common, "model_alias": CHAT_FUNCTIONS_MODEL, "chat_format": "chatml-function-calling"},
        ],
    }


def llama_server(name: str, work: Path, model: Path, key: str) -> Server:
    port = free_port()
    return Server(
        name=name,
        # Everything is in the config file (with one, llama_cpp.server ignores its other options).
        argv=[str(venv_bin("venv-llama", "python")), "-m", "llama_cpp.server"],
        config=json.dumps(llama_config(model, port, key)).encode("utf-8"),
        port=port, ready_path="/v1/models", ready_key=key,
        env=base_env(), cwd=model.parent, log_path=work / f"{name}.log",
    )


def portkey_server(work: Path) -> Server:
    """The gateway's own bundle, served on 127.0.0.1 only by our wrapper (it has no host option)."""
    node = shutil.which("node")
    package = LIVE / "portkey" / "node_modules" / "@portkey-ai" / "gateway"
    if node is None or not package.is_dir():
        raise LiveError(f"the Portkey gateway is missing ({package}): run `bash scripts/live/setup.sh` first")
    port = free_port()
    return Server(
        name="portkey",
        argv=[node, str(ROOT / "scripts" / "live" / "portkey_serve.mjs"), str(LIVE / "portkey"), f"--port={port}"],
        port=port, ready_path="/", env={**base_env(), "NODE_ENV": "production"}, cwd=work,
        log_path=work / "portkey.log",
    )


def vllm_server(work: Path, model_dir: Path, key: str) -> Server:
    port = free_port()
    env = {
        **base_env(),
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB: the tiny model needs next to nothing
        "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        # chat: a named or "required" tool_choice through the JSON-schema structured output built from the tool's
        # parameters (vllm/tool_parsers/abstract_tool_parser.py adjust_request), not through the Hermes parser's
        # structural tag, which pins the arguments only for tools marked strict and which the tiny model never
        # closes (docs/live-chat-findings.md, vLLM)
        "VLLM_ENFORCE_STRICT_TOOL_CALLING": "0",
    }
    return Server(
        name="vllm",
        argv=[str(venv_bin("venv-vllm", "python", "--with-vllm")), "-m", "vllm.entrypoints.openai.api_server",
              # one name for both endpoints: vLLM answers every request under its first served name
              # (vllm/entrypoints/openai/models/serving.py model_name: base_model_paths[0].name), so a second alias
              # for chat would come back as the first and read as a substituted model (VLLM_CHAT_MODEL)
              "--model", model_dir.name, "--served-model-name", VLLM_CHAT_MODEL, "--host", HOST, "--port", str(port),
              "--api-key", key, "--max-model-len", str(CHAT_CONTEXT_LENGTH),
              # chat: vLLM 0.32 refuses every tool_choice but "none" without a tool parser; Hermes-style
              # <tool_call>{...}</tool_call> is how the tiny model's template writes past calls
              "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
              # compact JSON: otherwise xgrammar lets the random model write whitespace until max_tokens
              "--structured-outputs-config", json.dumps(VLLM_STRUCTURED_OUTPUTS)],
        port=port, ready_path="/v1/models", ready_key=key, env=env, cwd=model_dir.parent,
        log_path=work / "vllm.log", ready_timeout=VLLM_READY_TIMEOUT,
    )


def litellm_server(name: str, work: Path, upstream: Server, upstream_key: str, master_key: str) -> Server:
    """The LiteLLM proxy in front of one llama, from a config file (keys come from the environment)."""
    port = free_port()
    config = work / f"{name}.yaml"
    config.write_text(
        "# written by scripts/live/run_live.py; keys come from the environment\n"
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: text-completion-openai/{MODEL}\n"
        f"      api_base: {upstream.base_url}/v1\n"
        "      api_key: os.environ/LIVE_UPSTREAM_KEY\n"
        # chat: LiteLLM's OpenAI chat provider (the openai SDK) against the same llama
        + "".join(
            f"  - model_name: {chat_model}\n"
            "    litellm_params:\n"
            f"      model: openai/{chat_model}\n"
            f"      api_base: {upstream.base_url}/v1\n"
            "      api_key: os.environ/LIVE_UPSTREAM_KEY\n"
            for chat_model in (CHAT_MODEL, CHAT_FUNCTIONS_MODEL)
        )
        + "general_settings:\n"
        "  master_key: os.environ/LIVE_MASTER_KEY\n",
        encoding="utf-8",
    )
    env = {**base_env(), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LIVE_UPSTREAM_KEY": upstream_key,
           "LIVE_MASTER_KEY": master_key, "LITELLM_TELEMETRY": "False"}
    return Server(
        name=name,
        argv=[str(venv_bin("venv-litellm", "litellm")), "--config", str(config), "--host", HOST, "--port", str(port)],
        port=port, ready_path="/v1/models", ready_key=master_key, env=env, cwd=work, log_path=work / f"{name}.log",
    )


def build_servers(work: Path, model: Path, keys: dict[str, str], with_vllm: bool = False,
                  with_chat: bool = True) -> list[Server]:
    """llama-cpp, and the two relays each in front of its own llama-cpp-python instance.

    One llama per certified provider: llama-cpp-python serves one request at a time and, by default
    (``interrupt_requests``), a new request aborts a stream in flight. relaycheck certifies the providers in
    parallel, so a shared llama would cut one provider's streams whenever another provider's request arrives.
    """
    llama = llama_server("llama-cpp", work, model, keys["llama-cpp"])
    llama_for_litellm = llama_server("llama-cpp-behind-litellm", work, model, keys["llama-cpp"])
    llama_for_forward = llama_server("llama-cpp-behind-openai-forward", work, model, keys["llama-cpp"])
    llama_for_portkey = llama_server("llama-cpp-behind-portkey", work, model, keys["llama-cpp"])
    forward_port = free_port()

    litellm = litellm_server("litellm", work, llama_for_litellm, keys["llama-cpp"], keys["litellm"])

    # openai-forward: forwards everything under / to llama; a client presenting the forward key gets llama's
    # key substituted (FORWARD_KEY_CONFIG -> level 0 -> OPENAI_API_KEY_CONFIG); any other key passes through.
    forward_env = {
        **base_env(),
        "FORWARD_CONFIG": json.dumps([{"base_url": llama_for_forward.base_url, "route": "/", "type": "openai"}]),
        "OPENAI_API_KEY_CONFIG": json.dumps({keys["llama-cpp"]: [0]}),
        "FORWARD_KEY_CONFIG": json.dumps({keys["openai-forward"]: 0}),
        "TIMEOUT": "30",
    }
    forward = Server(
        name="openai-forward",
        argv=[str(venv_bin("venv-forward", "python")), "-m", "uvicorn", "openai_forward.app:app",
              "--host", HOST, "--port", str(forward_port), "--log-level", "warning"],
        port=forward_port, ready_path="/healthz",
        env=forward_env, cwd=work, log_path=work / "openai-forward.log",  # cwd: it reads ./.env
    )
    # The identity pair: another model (other weights, the same tokenizer) under the same name, behind its own
    # LiteLLM; only its fingerprint is asked for (scripts/live/identity_pair.py).
    llama_other = llama_server("llama-cpp-other", work, model.with_name(OTHER_MODEL), keys["llama-cpp"])
    litellm_other = litellm_server(PAIR_PROVIDER, work, llama_other, keys["llama-cpp"], keys[PAIR_PROVIDER])
    servers = [llama, llama_for_litellm, llama_for_forward, llama_for_portkey, llama_other, litellm, litellm_other,
               forward, portkey_server(work)]
    if with_chat:  # the same llama-cpp-python under its tool-calling chat format: its own instance, as every provider
        servers.insert(0, llama_server("llama-cpp-functions", work, model, keys["llama-cpp-functions"]))
    if with_vllm:
        servers.append(vllm_server(work, model.with_name(HF_TWIN), keys["vllm"]))
    return servers


def chat_lines(name: str) -> list[str]:
    """A provider's chat settings: the endpoints it is certified on and the chat model it sells.

    ``tokenizer: none`` as on Completions (a chat section names its own: the tiny model's 577-token BPE is no
    public tokenizer, and vLLM's chat model has a name OpenAI's table would give cl100k_base).
    """
    if name == "reference":
        return ["    endpoints: [completions, chat]", f"    chat: {{model: {REFERENCE_CHAT_MODEL}}}"]
    model = {"vllm": VLLM_CHAT_MODEL, **dict.fromkeys(CHAT_ONLY_PROVIDERS, CHAT_FUNCTIONS_MODEL)}.get(name, CHAT_MODEL)
    endpoints = "[chat]" if name in CHAT_ONLY_PROVIDERS else "[completions, chat]"
    return [f"    endpoints: {endpoints}",
            f"    chat: {{model: {model}, context_length: {CHAT_CONTEXT_LENGTH}, tokenizer: none}}"]


def providers_yaml(servers: dict[str, Server], with_chat: bool = True) -> str:  # noqa: C901 - flat on purpose
    def chat(name: str) -> list[str]:
        return chat_lines(name) if with_chat else []

    lines = [
        "# written by scripts/live/run_live.py for one live run",
        "version: 1",
        "defaults:",
        f"  model: {MODEL}",
        "  concurrency: 1          # llama-cpp-python serves one request at a time",
        "  retries: 1",
        # run: both endpoints through a relay paced at one request a second (LiteLLM takes up to 5 s for an
        # upstream 500) pass the default 240 s deadline: LiteLLM's chat probes were graded `error` at 240 s.
        "  timeouts: {connect: 5, read: 60, total: 120, run: 900}",
        # Both endpoints: about 80 Completions and 70 chat requests, property cases and the reruns of failing MUST
        # checks. llama-cpp-python ignores max_completion_tokens, so relaycheck reserves a multiple of every chat
        # cap it sends (its overrun factor): a free local model, so the ceiling is set far above what is spent.
        "  budget: {requests: 400, completion_tokens: 400000}",
        "  property_examples: 10",
        # The tiny model's 577-token BPE is no public tokenizer: the identity checks have nothing to hold its usage
        # and logprobs to (skipped, saying so), rather than failing by construction.
        "  tokenizer: none",
        "providers:",
        "  - name: reference",
        "    embedded: true",
        "    tokenizer: auto           # the reference provider serves cl100k_base, gpt-3.5-turbo-instruct's own",
        "    concurrency: 8",
        "    property_examples: 40",
        "    budget: {requests: 400, completion_tokens: 20000}",
        *chat("reference"),
    ]
    for name in [n for n in (*PROVIDERS, *CHAT_ONLY_PROVIDERS, *OPTIONAL_PROVIDERS) if n in servers]:
        if name == "vllm":  # serves requests concurrently and keeps its connections sane: not paced
            lines += [
                "  - name: vllm",
                f"    base_url: {servers[name].base_url}/v1",
                f"    api_key_env: {KEY_ENV[name]}",
                "    concurrency: 4",
                f"    expectations: {json.dumps(str(ROOT / 'expectations' / 'vllm.yaml'))}",
                *chat(name),
            ]
            continue
        lines += [
            f"  - name: {name}",
            f"    base_url: {servers[name].base_url}/v1",
            f"    api_key_env: {KEY_ENV[name]}",
            # One request a second: after an unhandled exception uvicorn answers 500 and then closes the keep-alive
            # connection without "Connection: close". relaycheck retries such a request once, but openai-forward's
            # upstream pool meets the same race and answers its own 500; paced, both see the close first.
            "    rate_limit: 1",
            f"    expectations: {json.dumps(str(ROOT / 'expectations' / f'{name}.yaml'))}",
            *chat(name),
        ]
        if name == "portkey":  # the gateway routes by request headers only (its key passes through to llama)
            upstream = servers["llama-cpp-behind-portkey"].base_url
            lines += [
                "    headers:",
                "      x-portkey-provider: openai",
                f"      x-portkey-custom-host: {upstream}/v1",
            ]
    if PAIR_PROVIDER in servers:  # certified apart, its fingerprint only (run_pair)
        lines += [
            f"  - name: {PAIR_PROVIDER}",
            f"    base_url: {servers[PAIR_PROVIDER].base_url}/v1",
            f"    api_key_env: {KEY_ENV[PAIR_PROVIDER]}",
            "    rate_limit: 1",
            *chat(PAIR_PROVIDER),
        ]
    return "\n".join(lines) + "\n"


# -- the identity pair ------------------------------------------------------------------------------------------


def pair_command(relaycheck: str, providers_file: Path, report_dir: Path, with_chat: bool = True) -> list[str]:
    """The other model's fingerprint run: its identity checks only, chat's too when chat is certified (its own
    fingerprint, judged apart by identity_pair.py)."""
    cmd = [relaycheck, "run", "--providers-file", str(providers_file), "-p", PAIR_PROVIDER, "--checks", "identity",
           *(["--checks", "chat.identity"] if with_chat else []), "--no-property", "--report-dir",
           str(report_dir / PAIR_DIR)]
    return cmd


def start_pair(relaycheck: str, providers_file: Path, report_dir: Path, env: dict[str, str],
               with_chat: bool = True) -> subprocess.Popen[bytes]:
    """The other model's fingerprint: its identity checks only (about 17 requests per endpoint), beside the main
    run."""
    cmd = pair_command(relaycheck, providers_file, report_dir, with_chat)
    log("running: " + " ".join(cmd))
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603


def judge_pair(relaycheck: str, report_dir: Path) -> tuple[bool, list[str]]:
    """scripts/live/identity_pair.py with relaycheck's Python: the same-model rule on the two pairs."""
    python = Path(relaycheck).parent / "python"
    result = subprocess.run(  # noqa: S603
        [str(python if python.exists() else sys.executable), str(ROOT / "scripts" / "live" / "identity_pair.py"),
         str(report_dir / "llama-cpp.json"), str(report_dir / "litellm.json"),
         str(report_dir / PAIR_DIR / f"{PAIR_PROVIDER}.json")],
        capture_output=True, text=True, timeout=120,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    return result.returncode == 0, lines


# -- judging the reports ---------------------------------------------------------------------------------------


def judge(report_dir: Path, names: list[str]) -> tuple[bool, list[str]]:
    """(ok, lines): every deviation is known and no expectation changed, for every provider."""
    ok = True
    lines: list[str] = []
    for name in names:
        path = report_dir / f"{name}.json"
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            lines.append(f"{name}: no readable report ({exc.__class__.__name__}: {exc})")
            ok = False
            continue
        if report.get("skipped"):
            lines.append(f"{name}: provider skipped: {report['skipped']}")
            ok = False
            continue
        counts = report["score"]["overall"]["counts"]
        summary = ", ".join(f"{g} {n}" for g, n in counts.items() if n)
        problems = []
        for verdict in report["verdicts"]:
            note = verdict.get("note") or ""
            if CHANGED_MARK in note:
                problems.append(f"  CHANGED {verdict['check']}: now {verdict['grade']} ({verdict['message']}); {note}")
            elif verdict["grade"] in BAD_GRADES:
                problems.append(f"  NEW     {verdict['check']}: {verdict['grade']}: {verdict['message']}")
        expected = expected_checks(name)
        present = {v["check"] for v in report["verdicts"]}
        for check in sorted(expected - present):
            problems.append(f"  STALE   {check}: recorded in expectations/{name}.yaml but not judged in this run")
        lines.append(f"{name}: {'OK' if not problems else 'MISMATCH'} ({summary})")
        lines.extend(problems)
        ok = ok and not problems
    return ok, lines


def expected_checks(name: str) -> set[str]:
    path = ROOT / "expectations" / f"{name}.yaml"
    if not path.exists():
        return set()
    import yaml  # relaycheck's environment has it; imported lazily so --help works anywhere

    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {e["check"] for e in raw.get("expectations", []) if isinstance(e, dict) and "check" in e}


def default_relaycheck() -> str:
    beside = Path(sys.executable).parent / "relaycheck"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "relaycheck")


def require_relaycheck(path: str) -> None:
    if not (Path(path).is_file() and os.access(path, os.X_OK)) and shutil.which(path) is None:
        raise LiveError(f"relaycheck is not installed at {path}: run `bash scripts/live/setup.sh` (it creates the "
                        "project's .venv), or pass --relaycheck")


def localise(report_dir: Path) -> None:
    """Reports and logs name this checkout's directories relatively: no local absolute path is published.

    The servers are started from their own directories with relative names already; this catches what is left
    (tracebacks quoting site-packages, the expectations files' paths).
    """
    replacements = [(str(LIVE), ".cache/live"), (str(ROOT), "."), (str(Path.home()), "~")]
    for path in sorted(report_dir.rglob("*")):
        if not path.is_file() or path.suffix not in (".json", ".html", ".md", ".xml", ".log", ".txt", ".yaml"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        new = text
        for old, short in replacements:
            if len(old) > 1:
                new = new.replace(old, short)
        for cut in range(len(str(ROOT)), 4, -1):  # a snippet clipped inside the path ("/work/wt/l…")
            new = new.replace(str(ROOT)[:cut] + "\u2026", "\u2026")
        if new != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, path)


# -- main ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Certify llama.cpp, LiteLLM, openai-forward, the Portkey gateway and (opt-in) vLLM on 127.0.0.1,"
        " beside the reference provider, and judge each against expectations/<name>.yaml (docs/live.md)."
    )
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports" / "live")
    parser.add_argument("--relaycheck", default=default_relaycheck(),
                        help="the relaycheck executable (default: next to this Python, else the project's .venv)")
    parser.add_argument("--ready-timeout", type=float, default=120.0, help="seconds each server may take to start")
    parser.add_argument("--keep-providers-file", action="store_true",
                        help="copy the generated providers file (no keys in it) to the report dir")
    parser.add_argument("--judge-only", action="store_true",
                        help="do not run anything: judge the reports already in --report-dir")
    parser.add_argument("--update-expectations", action="store_true",
                        help="re-record expectations/<name>.yaml from this run (relaycheck run --update-expectations: "
                        "hand-written reasons and each file's header comment are kept); verify every new entry by hand")
    parser.add_argument("--with-vllm", action="store_true",
                        help="also certify vLLM (needs `bash scripts/live/setup.sh --with-vllm`, 3.5 GB)")
    parser.add_argument("--completions-only", action="store_true",
                        help="certify Completions alone (by default every server is certified on both endpoints, and "
                        "llama-cpp-functions, llama-cpp-python's chatml-function-calling format, on chat)")
    args = parser.parse_args(argv)
    args.with_chat = not args.completions_only
    report_dir = args.report_dir.resolve()
    names = ["reference", *PROVIDERS, *(CHAT_ONLY_PROVIDERS if args.with_chat else ()),
             *(OPTIONAL_PROVIDERS if args.with_vllm else ())]

    if args.judge_only:
        ok, lines = judge(report_dir, names)
        pair_ok, pair_lines = judge_pair(args.relaycheck, report_dir)
        print("\n".join(lines + pair_lines))
        return 0 if ok and pair_ok else 1

    t0 = time.monotonic()
    keys = {name: "sk-live-" + secrets.token_urlsafe(24)
            for name in (*PROVIDERS, *CHAT_ONLY_PROVIDERS, *OPTIONAL_PROVIDERS, PAIR_PROVIDER)}
    keys["portkey"] = keys["llama-cpp"]  # the gateway passes Authorization through to its llama
    servers: list[Server] = []
    work = Path(tempfile.mkdtemp(prefix="relaycheck-live-"))
    timings: dict[str, float] = {}
    rc_relaycheck: int | None = None
    try:
        require_relaycheck(args.relaycheck)
        model = LIVE / "tiny.gguf"
        twin = ["--hf-out", str(LIVE / HF_TWIN)] if args.with_vllm else []
        subprocess.run([str(venv_bin("venv-llama", "python")), str(ROOT / "scripts/live/make_tiny_gguf.py"),  # noqa: S603
                        "--out", str(model), *twin], check=True)
        subprocess.run([str(venv_bin("venv-llama", "python")), str(ROOT / "scripts/live/make_tiny_gguf.py"),  # noqa: S603
                        "--out", str(model.with_name(OTHER_MODEL)), "--seed", str(OTHER_SEED)], check=True)
        servers = build_servers(work, model, keys, with_vllm=args.with_vllm, with_chat=args.with_chat)
        by_name = {s.name: s for s in servers}
        t_start = time.monotonic()
        for server in servers:  # llama first: the relays' readiness checks do not need it, but it is quick
            server.start()
        for server in servers:
            server.wait_ready(max(args.ready_timeout, server.ready_timeout or 0))
        timings["start"] = time.monotonic() - t_start
        providers_file = work / "providers.yaml"
        providers_file.write_text(providers_yaml(by_name, with_chat=args.with_chat), encoding="utf-8")
        if args.keep_providers_file:
            report_dir.mkdir(parents=True, exist_ok=True)
            (report_dir / "providers.live.yaml").write_text(providers_file.read_text(encoding="utf-8"))

        env = {**os.environ, **{KEY_ENV[name]: key for name, key in keys.items()}}
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        pair = start_pair(args.relaycheck, providers_file, report_dir, env, args.with_chat)
        cmd = [args.relaycheck, "run", "--providers-file", str(providers_file),
               *[a for name in names for a in ("-p", name)], "--report-dir", str(report_dir),
               *(["--update-expectations"] if args.update_expectations else [])]
        log("running: " + " ".join(cmd))
        t_run = time.monotonic()
        rc_relaycheck = subprocess.run(cmd, env=env, cwd=ROOT).returncode  # noqa: S603
        timings["certification"] = time.monotonic() - t_run
        log(f"relaycheck exited with {rc_relaycheck}; identity pair run exited with {pair.wait(timeout=600)}")
    except LiveError as exc:
        log(f"ERROR: {exc}")
        return 2
    except subprocess.CalledProcessError as exc:
        log(f"ERROR: {exc}")
        return 2
    finally:
        for server in reversed(servers):
            server.stop()
        save_logs(servers, work, report_dir, keys)
        if report_dir.is_dir():
            localise(report_dir)
    if rc_relaycheck == 2:
        log("relaycheck reported a usage or configuration error")
        return 2

    ok, lines = judge(report_dir, names)
    pair_ok, pair_lines = judge_pair(args.relaycheck, report_dir)
    ok = ok and pair_ok
    lines += pair_lines
    timings["total"] = time.monotonic() - t0
    print("\n".join(lines))
    ready = ", ".join(f"{s.name} {s.ready_after:.1f} s" for s in servers if s.ready_after is not None)
    log(f"timings: servers ready in {timings.get('start', 0):.1f} s ({ready}); "
        f"certification {timings.get('certification', 0):.1f} s; total {timings['total']:.1f} s")
    log("RESULT: " + ("every deviation is recorded and none changed" if ok
                      else "deviations differ from expectations/ (see above)"))
    return 0 if ok else 1


def save_logs(servers: list[Server], work: Path, report_dir: Path, keys: dict[str, str]) -> None:
    """Server logs go next to the reports, with this run's keys blanked out; the temp dir is removed."""
    out = report_dir / "logs"
    out.mkdir(parents=True, exist_ok=True)
    for server in servers:
        text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
        for key in keys.values():
            text = text.replace(key, "<redacted>")
        (out / f"{server.name}.log").write_text(text, encoding="utf-8")
    for path in sorted(work.iterdir(), reverse=True):
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        work.rmdir()


if __name__ == "__main__":
    sys.exit(main())
