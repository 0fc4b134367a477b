#!/usr/bin/env bash
# Paired start time of two ddboot builds on the IMDSv2 path: BEFORE and AFTER run against the same
# loopback mockmeta, interleaved run by run (scripts/bench/paired.py: A B, B A, ...), so that a
# load change on a shared machine hits both alike. Prints a Markdown table of the medians per
# block of pairs and of all runs, with the AFTER/BEFORE ratio, then the median per-pair ratio.
#
#   scripts/bench-paired.sh BEFORE AFTER [PAIRS] [BLOCKS]   (defaults: 2000 pairs in 5 blocks)
#
# Network rule: the IMDS endpoint is the mock on 127.0.0.1 (guard_loopback), the environment is
# cleared (clean_env) and the socket directory is an empty temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh

[ $# -ge 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 64; }
before=$(realpath "$1") after=$(realpath "$2") pairs=${3:-2000} blocks=${4:-5}

work=$(mktemp -d)
trap 'stop_mocks; rm -rf "$work"' EXIT
BENCH_HOME=$work
DDBOOT=$after build_all
mkdir "$work/sockets"
# Both builds run from fresh copies in one directory: where and how a binary was written changes
# its start (measured: the very same bytes 1.078 × slower from cargo's target directory, written
# by the linker, than from a `cp` in /tmp).
cp "$before" "$work/before" && cp "$after" "$work/after"
before=$work/before after=$work/after
start_mock "$work" imds --local-ipv4 10.0.1.43
guard_loopback "$MOCK_URL"

for bin in "$before" "$after"; do
  line=$(clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="$MOCK_URL" -- "$bin" --socket-dir "$work/sockets" -- /bin/true 2>&1)
  case $line in *"DD_AGENT_HOST=10.0.1.43 (imdsv2"*) ;; *) echo "$bin: unexpected: $line" >&2; exit 1 ;; esac
done

warmup=$((pairs / 20))
clean_env AWS_EC2_METADATA_SERVICE_ENDPOINT="$MOCK_URL" -- python3 scripts/bench/paired.py \
  "$pairs" "$warmup" "$blocks" -- "$before" --socket-dir "$work/sockets" -- /bin/true \
  ::: "$after" --socket-dir "$work/sockets" -- /bin/true
