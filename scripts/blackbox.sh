#!/usr/bin/env bash
# Black-box checks on shipped binaries: every integration test file (each starts the ddboot
# binary through the harness in tests/common), run against a release artifact chosen with
# DDBOOT_BIN, under DDBOOT_RUNNER when it is for another architecture. Covers the metadata file,
# IMDSv2, the hop-limit fallback (loopback and routed netns topologies), task metadata, sockets,
# exec with exact argv, exit codes 64/69/126/127, --print-env, --explain --json, --install, the
# example task definitions and --help against the README.
#   scripts/blackbox.sh dist/ddboot-0.1.0-x86_64-linux-musl
#   scripts/blackbox.sh dist/ddboot-0.1.0-aarch64-linux-musl qemu-aarch64-static
# The last line is "<arch>-linux-musl: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "$1")
runner=${2:-}
export DDBOOT_BIN=$bin DDBOOT_RUNNER=$runner AWS_EC2_METADATA_DISABLED=true
tests=(core imds metadata_file process ecs faults examples netns shapes inject init readme)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== black-box: $bin ${runner:+(under $runner)}"
${runner:+$runner} "$bin" --version
skip=()
if [ -n "$runner" ]; then
  # What qemu-user itself changes, so these are checked natively (x86_64 musl and the glibc
  # build), not under qemu:
  # - it installs a host handler for every signal it emulates, so the host kernel resets them all
  #   to default at the app's execve: an inherited "ignore" cannot survive the runner;
  # - it runs threads of its own (the PID after ddboot's is taken, the "one thread" check fails,
  #   and an RLIMIT_NPROC that forbids ddboot's fork first stops qemu's own thread);
  # - it does not pass PR_SET_CHILD_SUBREAPER through, so orphans go to the namespace's init.
  for t in an_inherited_sigpipe_ignore_reaches_the_app sigpipe_is_default_in_the_app_and_inherited_ignores_stay \
    a_stop_signal_inherited_as_ignored_stays_ignored init_app_inherits_the_mask_dispositions_and_descriptors \
    exec_mode_is_unchanged_the_app_is_pid_1 init_parent_waits_with_one_thread_no_fd_and_no_cpu \
    init_falls_back_to_exec_when_it_cannot_fork init_outside_pid_1_is_a_subreaper_and_reaps_orphans; do
    skip+=(--skip "$t")
  done
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
  echo "not run under $runner ($(( ${#skip[@]} / 2 )), checked natively instead):$(printf ' %s' "${skip[@]}" | sed 's/ --skip//g')"
fi
printf '%s: %d passed, %d failed\n' "$label" "$passed" "$failed"
exit "$status"
