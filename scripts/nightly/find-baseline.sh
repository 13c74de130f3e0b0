#!/usr/bin/env bash
# The baseline for tonight's diff of one provider, written to OUT_DIR/NAME.json.
#
#   1. a committed baseline, baselines/NAME.json (RELAYCHECK_BASELINES overrides the folder), if there is one;
#   2. else NAME.json from the report artifact of the last *successful scheduled* run of this workflow on this
#      branch. The run in progress is never it: it has not succeeded yet, and GITHUB_RUN_ID is excluded as well.
#      The filtering is done here, not trusted to gh's flags, so a test can prove it with a fake gh.
#
# Usage: find-baseline.sh NAME OUT_DIR        (case 2 needs gh, GH_TOKEN and the job permission actions: read)
# Exit:  0 with OUT_DIR/NAME.json, or 0 without it on a first night (no successful run yet, or that run has no
#        report for NAME: a new vendor); 1 when the runs cannot be listed (a broken lookup must not look like a
#        first night, or regressions would never fail the job); 2 on misuse.
set -euo pipefail

usage="usage: find-baseline.sh NAME OUT_DIR"
name=${1:?$usage}
out=${2:?$usage}
if [[ ! $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; then
  echo "find-baseline: '$name' is not a provider name" >&2
  exit 2
fi
mkdir -p "$out"

committed="${RELAYCHECK_BASELINES:-baselines}/$name.json"
if [ -f "$committed" ]; then
  cp "$committed" "$out/$name.json"
  echo "baseline for $name: committed $committed"
  exit 0
fi

workflow=${RELAYCHECK_WORKFLOW:-nightly.yml}
branch=${GITHUB_REF_NAME:-main}
if ! runs=$(gh run list --workflow "$workflow" --branch "$branch" --event schedule --status success --limit 30 \
              --json databaseId,event,status,conclusion); then
  echo "::error::find-baseline: cannot list the runs of $workflow (gh, GH_TOKEN, permission actions: read?)" >&2
  exit 1
fi
run_id=$(RUNS="$runs" python3 - "${GITHUB_RUN_ID:-0}" <<'PY'
import json, os, sys

current = sys.argv[1]
for run in json.loads(os.environ["RUNS"] or "[]"):  # newest first, as gh lists them
    if (run.get("event") == "schedule" and run.get("status") == "completed" and run.get("conclusion") == "success"
            and str(run.get("databaseId")) != current):
        print(run["databaseId"])
        break
PY
)
if [ -z "$run_id" ]; then
  echo "baseline for $name: none (no successful scheduled run of $workflow on $branch yet)"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if gh run download "$run_id" --name "report-$name" --dir "$tmp" && [ -f "$tmp/$name.json" ]; then
  cp "$tmp/$name.json" "$out/$name.json"
  echo "baseline for $name: run $run_id (last successful scheduled run)"
else
  echo "::warning::baseline for $name: run $run_id has no report-$name artifact; no diff tonight"
fi
