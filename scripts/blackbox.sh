#!/usr/bin/env bash
# Black-box checks on shipped binaries: the integration tests that start the ddboot binary
# (every test file but readme.rs, which reads --help of the cargo build), run against a
# release artifact chosen with DDBOOT_BIN, under DDBOOT_RUNNER when it is for another
# architecture. Covers the metadata file, IMDSv2, the hop-limit fallback (loopback and routed
# netns topologies), task metadata, sockets, exec with exact argv, exit codes 64/69/126/127,
# --print-env, --explain --json, --install and the example task definitions.
#   scripts/blackbox.sh dist/ddboot-0.1.0-x86_64-linux-musl
#   scripts/blackbox.sh dist/ddboot-0.1.0-aarch64-linux-musl qemu-aarch64-static
# The last line is "<arch>-linux-musl: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "$1")
runner=${2:-}
export DDBOOT_BIN=$bin DDBOOT_RUNNER=$runner AWS_EC2_METADATA_DISABLED=true
tests=(core imds metadata_file process ecs faults examples netns)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== black-box: $bin ${runner:+(under $runner)}"
${runner:+$runner} "$bin" --version
skip=()
if [ -n "$runner" ]; then
  # qemu-user installs a host handler for every signal it emulates, so the host kernel resets
  # them all to default at the app's execve: an inherited "ignore" cannot survive the runner
  # itself. These two are checked natively (x86_64 musl and the glibc build), not under qemu.
  skip=(--skip an_inherited_sigpipe_ignore_reaches_the_app --skip sigpipe_is_default_in_the_app_and_inherited_ignores_stay)
fi
status=0
cargo test --locked -q --no-fail-fast "${tests[@]/#/--test=}" -- "${skip[@]}" >"$log" 2>&1 || status=$?
grep -E '^test result|FAILED|panicked' "$log" || true
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p + 0, f + 0 }' "$log")
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
fi
label=$(basename "$bin"); label=${label#ddboot-*-}
echo "black-box checks on $(basename "$bin")${runner:+ under $runner}:"
if [ ${#skip[@]} -gt 0 ]; then
  echo "(not run under $runner, checked natively instead: $(printf '%s ' "${skip[@]}" | sed 's/--skip //g'))"
fi
printf '%s: %d passed, %d failed\n' "$label" "$passed" "$failed"
exit "$status"
