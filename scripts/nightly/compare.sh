#!/usr/bin/env bash
# The night's comparison of every provider's report: ARTIFACTS/report-NAME/NAME.json → OUT/comparison.{html,md}.
# Usage: compare.sh ARTIFACTS OUT     Exit: relaycheck compare's (2 when no report is there).
set -euo pipefail
artifacts=${1:?usage: compare.sh ARTIFACTS OUT}
out=${2:?usage: compare.sh ARTIFACTS OUT}
shopt -s nullglob
reports=("$artifacts"/report-*/*.json)
if [ ${#reports[@]} -eq 0 ]; then
  echo "compare: no report in $artifacts" >&2
  exit 2
fi
relaycheck compare "${reports[@]}" --report-dir "$out"
cat "$out/comparison.md" >> "${GITHUB_STEP_SUMMARY:-/dev/null}"
