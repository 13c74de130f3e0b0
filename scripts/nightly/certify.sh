#!/usr/bin/env bash
# One provider's night: certify, then diff against the baseline. The exit code is the job's verdict.
#
# Usage: certify.sh NAME [more `relaycheck run` options…]
# Env:   REPORTS (default reports) and BASELINE (default baseline): folders; BASELINE/NAME.json is the baseline
#        (scripts/nightly/find-baseline.sh puts it there). GITHUB_STEP_SUMMARY: where the summary goes, if set.
#        KEY_ENV and RELAYCHECK_API_KEY: the vendor's key (from its own CI environment), exported under the
#        variable its providers.yaml entry names, and nowhere else.
#        MODEL_CHANGE: fail (default) or warn, what `relaycheck diff --model-change` makes of a changed model
#        fingerprint (another model answers some or all requests under the name): a failed night, or a warning.
# Exit:  with a baseline, `relaycheck diff`'s code: 1 on a regression (a check got worse, a check that passed only
#        when re-sent after a gateway page, or a changed model fingerprint), 0 when nothing got worse; without one,
#        `relaycheck run`'s: 1 if a MUST check failed. A usage or configuration error (2) wins over both.
#        A failed night is not tomorrow's baseline (find-baseline.sh takes the last successful one), so a model
#        swap keeps failing until the vendor goes back, or a new baseline is committed.
# No pipes: every exit code is the command's own (pipefail is set anyway).
set -uo pipefail

name=${1:?usage: certify.sh NAME [relaycheck run options…]}
shift
reports=${REPORTS:-reports}
baseline=${BASELINE:-baseline}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
model_change=${MODEL_CHANGE:-fail}
if [ "$model_change" != fail ] && [ "$model_change" != warn ]; then
  echo "certify: MODEL_CHANGE '$model_change' is neither fail nor warn" >&2
  exit 2
fi

if [ -n "${KEY_ENV:-}" ]; then
  if [[ ! $KEY_ENV =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    echo "certify: KEY_ENV '$KEY_ENV' is not a variable name" >&2
    exit 2
  fi
  export "$KEY_ENV=${RELAYCHECK_API_KEY:-}"
fi
unset RELAYCHECK_API_KEY

# fence TEXT_FILE: a Markdown code fence longer than any run of backticks in the file, so nothing escapes it
fence() {
  local longest
  longest=$(grep -o '`\+' "$1" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
  local n=$(( longest >= 3 ? longest + 1 : 3 ))
  printf '%*s' "$n" '' | tr ' ' '`'
}

relaycheck run -p "$name" --report-dir "$reports" "$@"
run_rc=$?
if [ -f "$reports/$name.md" ]; then
  cat "$reports/$name.md" >> "$summary"
fi
if [ "$run_rc" -eq 2 ]; then
  echo "certify: relaycheck run could not start (exit 2, see above)" >&2
  exit 2
fi

if [ ! -f "$baseline/$name.json" ]; then
  echo "certify: no baseline for $name; the verdict is tonight's run alone (exit $run_rc)"
  printf '\n_No baseline for %s: nothing to compare with yet._\n' "$name" >> "$summary"
  exit "$run_rc"
fi
if [ ! -f "$reports/$name.json" ]; then
  echo "certify: relaycheck run wrote no report for $name" >&2
  exit 2
fi

diff_out=$(mktemp)
trap 'rm -f "$diff_out"' EXIT
relaycheck diff --model-change "$model_change" "$baseline/$name.json" "$reports/$name.json" > "$diff_out"
diff_rc=$?
cat "$diff_out"
f=$(fence "$diff_out")
{
  printf '\n### What changed since the baseline\n\n%s\n' "$f"
  cat "$diff_out"
  printf '%s\n' "$f"
} >> "$summary"
exit "$diff_rc"
