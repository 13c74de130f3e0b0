#!/usr/bin/env bash
# Install headless Chromium (Debian package) for the report-rendering tests and screenshots. Idempotent:
# does nothing when a chromium binary is already on PATH.
set -euo pipefail

for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$candidate" >/dev/null 2>&1; then
    echo "install-chromium: $(command -v "$candidate") already installed"
    exit 0
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-chromium: need root (or sudo) to apt-get install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "install-chromium: $(command -v chromium) installed ($(chromium --version 2>/dev/null || echo unknown version))"
