#!/usr/bin/env bash
# Paired start time of two ddboot builds on the IMDSv2 path: BEFORE and AFTER run against the same
# loopback mockmeta in ROUNDS rounds of `hyperfine -N --runs RUNS`, both commands in every round,
# their order alternating, so that load changes hit both alike. Prints a Markdown table of the
# per-round medians and the medians of all runs, with the AFTER/BEFORE ratio.
#
#   scripts/bench-paired.sh BEFORE AFTER [ROUNDS] [RUNS]     (defaults: 5 rounds of 200 runs)
#
# Network rule: the IMDS endpoint is the mock on 127.0.0.1 (guard_loopback), the environment is
# cleared (clean_env) and the socket directory is an empty temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh

[ $# -ge 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 64; }
before=$(realpath "$1") after=$(realpath "$2") rounds=${3:-5} runs=${4:-200}
command -v hyperfine >/dev/null && command -v jq >/dev/null || { echo "needs hyperfine and jq" >&2; exit 69; }

work=$(mktemp -d)
trap 'stop_mocks; rm -rf "$work"' EXIT
BENCH_HOME=$work
DDBOOT=$after build_all
mkdir "$work/sockets"
start_mock "$work" imds --local-ipv4 10.0.1.43
guard_loopback "$MOCK_URL"

cmd() { printf '%s --socket-dir %s -- /bin/true' "$1" "$work/sockets"; }
for bin in "$before" "$after"; do
  line=$(clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="$MOCK_URL" -- "$bin" --socket-dir "$work/sockets" -- /bin/true 2>&1)
  case $line in *"DD_AGENT_HOST=10.0.1.43 (imdsv2"*) ;; *) echo "$bin: unexpected: $line" >&2; exit 1 ;; esac
done

median() { jq -s 'add | sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end * 1000'; }
echo "| round | before (median) | after (median) | after / before |"
echo "|---|---|---|---|"
for r in $(seq "$rounds"); do
  pair=("$(cmd "$before")" "$(cmd "$after")")
  [ $((r % 2)) = 1 ] || pair=("${pair[1]}" "${pair[0]}")
  clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="$MOCK_URL" -- \
    hyperfine -N --warmup 20 --runs "$runs" --style none --export-json "$work/r$r.json" "${pair[@]}" >/dev/null 2>&1
  for who in before after; do
    bin=${!who}
    jq --arg c "$(cmd "$bin")" '.results[] | select(.command == $c) | .times' "$work/r$r.json" >"$work/$who.$r"
  done
  b=$(median <"$work/before.$r") a=$(median <"$work/after.$r")
  printf '| %s | %.3f ms | %.3f ms | %.3f |\n' "$r" "$b" "$a" "$(awk "BEGIN { print $a / $b }")"
done
b=$(cat "$work"/before.* | median) a=$(cat "$work"/after.* | median)
printf '| all %s runs each | %.3f ms | %.3f ms | **%.3f** |\n' "$((rounds * runs))" "$b" "$a" "$(awk "BEGIN { print $a / $b }")"
