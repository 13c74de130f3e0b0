#!/usr/bin/env bash
# The live servers, vLLM included: llama.cpp, LiteLLM, openai-forward and the Portkey gateway on the tiny model,
# and vLLM on its Hugging Face twin, all on 127.0.0.1, each certified against its expectations file
# (scripts/live/run_live.py). Opt-in in the nightly workflow: vLLM alone is a 3.5 GB install.
#
# Usage: live.sh OUT          OUT: the reports folder (OUT.log keeps the run's output)
# Env:   GITHUB_STEP_SUMMARY: where the fenced output goes, if set. RELAYCHECK_LIVE_ROOT: the checkout (tests).
# Exit:  run_live.py's: 0 when every report matches its expectations, 1 on any change, 2 when setup failed.
set -uo pipefail

out=${1:?usage: live.sh OUT}
root=${RELAYCHECK_LIVE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}

# fence TEXT_FILE: a Markdown code fence longer than any run of backticks in the file, so nothing escapes it
fence() {
  local longest
  longest=$(grep -o '`\+' "$1" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  local n=$(( longest >= 3 ? longest + 1 : 3 ))
  printf '%*s' "$n" '' | tr ' ' '`'
}

if ! bash "$root/scripts/live/setup.sh" --with-vllm; then
  echo "live: setup failed (see above)" >&2
  printf '\n### Live servers\n\n_Setup failed: see the job log._\n' >> "$summary"
  exit 2
fi
mkdir -p "$out"
"$root/.venv/bin/python" "$root/scripts/live/run_live.py" --with-vllm --report-dir "$out" > "$out.log" 2>&1
rc=$?
cat "$out.log"
f=$(fence "$out.log")
{
  printf '\n### Live servers (vLLM included)\n\n%s\n' "$f"
  tail -n 80 "$out.log"
  printf '%s\n' "$f"
} >> "$summary"
exit "$rc"
