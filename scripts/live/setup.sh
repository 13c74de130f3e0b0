#!/usr/bin/env bash
# Install the real third-party servers used by the live certification run
# (see docs/live.md), each in its own virtualenv under .cache/live/ so pins
# cannot fight with each other or with the project's own environment.
#
# Idempotent: a venv whose pinned package already imports at the right version
# is left alone.  llama-cpp-python compiles llama.cpp from source (~7 min on
# 2 cores); pip caches the built wheel, so later runs are fast.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIVE="${RELAYCHECK_LIVE_CACHE:-$ROOT/.cache/live}"
PY="${RELAYCHECK_LIVE_PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
mkdir -p "$LIVE"

LLAMA_VERSION=0.3.36
LITELLM_VERSION=1.102.4   # 1.104.9-1.109.1 do not resolve here; 1.107.x must never be used
FORWARD_VERSION=0.8.1

have() {  # have VENV MODULE DIST VERSION
    local venv="$1" module="$2" dist="$3" version="$4"
    [ -x "$venv/bin/python" ] || return 1
    "$venv/bin/python" - "$module" "$dist" "$version" <<'PYEOF' >/dev/null 2>&1
import importlib, importlib.metadata as md, sys
module, dist, version = sys.argv[1:]
importlib.import_module(module)
sys.exit(0 if md.version(dist) == version else 1)
PYEOF
}

mkvenv() {
    [ -x "$1/bin/python" ] || "$PY" -m venv "$1"
    "$1/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
}

install_llama() {
    local venv="$LIVE/venv-llama"
    if have "$venv" llama_cpp.server llama_cpp_python "$LLAMA_VERSION" \
        && "$venv/bin/python" -c "import gguf, numpy" 2>/dev/null; then
        echo "[setup] llama-cpp-python $LLAMA_VERSION already installed"; return 0
    fi
    echo "[setup] installing llama-cpp-python $LLAMA_VERSION (compiles llama.cpp, ~7 min) ..."
    local t0=$SECONDS
    mkvenv "$venv"
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" \
        "$venv/bin/python" -m pip install "llama-cpp-python[server]==$LLAMA_VERSION" gguf numpy
    echo "[setup] llama-cpp-python installed in $((SECONDS - t0)) s"
}

install_litellm() {
    local venv="$LIVE/venv-litellm"
    if have "$venv" litellm.proxy.proxy_server litellm "$LITELLM_VERSION"; then
        echo "[setup] litellm $LITELLM_VERSION already installed"; return 0
    fi
    echo "[setup] installing litellm[proxy] $LITELLM_VERSION ..."
    local t0=$SECONDS
    mkvenv "$venv"
    "$venv/bin/python" -m pip install "litellm[proxy]==$LITELLM_VERSION"
    echo "[setup] litellm installed in $((SECONDS - t0)) s"
}

install_forward() {
    local venv="$LIVE/venv-forward"
    if have "$venv" openai_forward openai-forward "$FORWARD_VERSION" \
        && "$venv/bin/python" -c "import yaml, uvicorn" 2>/dev/null; then
        echo "[setup] openai-forward $FORWARD_VERSION already installed"; return 0
    fi
    echo "[setup] installing openai-forward $FORWARD_VERSION ..."
    local t0=$SECONDS
    mkvenv "$venv"
    # openai-forward imports yaml without declaring it; its own CLI binds 0.0.0.0,
    # so we run its ASGI app with uvicorn on 127.0.0.1 instead.
    "$venv/bin/python" -m pip install "openai-forward==$FORWARD_VERSION" pyyaml uvicorn
    echo "[setup] openai-forward installed in $((SECONDS - t0)) s"
}

# The llama build is CPU-bound and long: run it alongside the two relays'
# (mostly download/unpack) installs, then wait for all of them.
install_llama > "$LIVE/setup-llama.log" 2>&1 &
llama_pid=$!
rc=0
install_litellm || rc=1
install_forward || rc=1
if ! wait "$llama_pid"; then
    echo "[setup] llama-cpp-python install FAILED; see $LIVE/setup-llama.log" >&2
    tail -n 40 "$LIVE/setup-llama.log" >&2 || true
    rc=1
else
    tail -n 1 "$LIVE/setup-llama.log"
fi
exit $rc
