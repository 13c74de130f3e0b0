#!/usr/bin/env bash
# Record reports of the embedded reference provider, with and without quirks, into OUT/<case>/.
# Used with scripts/compare_reports.py to show that a refactoring keeps every verdict and its evidence:
#   bash scripts/record_reference_reports.sh /tmp/before   (on the old code)
#   bash scripts/record_reference_reports.sh /tmp/after    (on the new code)
#   python scripts/compare_reports.py /tmp/before /tmp/after
# RELAYCHECK (default: relaycheck on PATH) is the command to run.
set -uo pipefail
out=${1:?usage: record_reference_reports.sh OUT}
rc=${RELAYCHECK:-relaycheck}
mkdir -p "$out"
declare -A cases=(
  [plain]=""
  [benign]="sse-comments sse-crlf sse-no-space sse-fields extra-fields pretty-json"
  [protocol]="no-done usage-inflated errors-flat"
  [chat]="chat-template"
  [params]="drop-max-tokens logprobs-bool drop-n stop-included reject-explicit-defaults"
  [stream]="chunk-ids-vary stream-buffered usage-chunk-missing non-json-data-line"
  [shape]="json-as-sse created-millis usage-missing"
  [errors]="errors-html errors-200 token-prompt-500 unknown-model-503"
  [sse-as-json]="sse-as-json"
)
for name in "${!cases[@]}"; do
  args=()
  for q in ${cases[$name]}; do args+=(--quirk "$q"); done
  $rc run -q --report-dir "$out/$name" "${args[@]}" > "$out/$name.log" 2>&1
  echo "$name: exit $?"
done
# expectations: record a quirky provider's deviations, then run it again so they come back `known`
dir="$out/expectations-work"
mkdir -p "$dir"
cat > "$dir/providers.yaml" <<YAML
providers:
  - {name: relay, embedded: true, quirks: [no-done, logprobs-bool], expectations: $dir/relay.yaml}
YAML
$rc run -q -p relay --providers-file "$dir/providers.yaml" --report-dir "$dir/first" --update-expectations \
  > "$out/expectations-first.log" 2>&1
# a fixed provider against the same expectations: the stale ones are noticed
cat > "$dir/providers.yaml" <<YAML
providers:
  - {name: relay, embedded: true, quirks: [no-done, logprobs-bool], expectations: $dir/relay.yaml}
  - {name: fixed, embedded: true, quirks: [no-done], expectations: $dir/relay.yaml}
YAML
$rc run -q -p all --providers-file "$dir/providers.yaml" --report-dir "$out/expectations" > "$out/expectations.log" 2>&1
echo "expectations: exit $?"
# rejudge goes through the report reader and writer without a request
$rc rejudge "$out/protocol/reference.json" --out "$out/rejudged" > "$out/rejudged.log" 2>&1
echo "rejudged: exit $?"
$rc diff "$out/plain/reference.json" "$out/protocol/reference.json" > "$out/diff.txt" 2>&1
echo "diff: exit $?"
$rc compare "$out/expectations/relay.json" "$out/expectations/fixed.json" "$out/plain/reference.json" \
  --out "$out/compared" > "$out/compare.txt" 2>&1
echo "compare: exit $?"
