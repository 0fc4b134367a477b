#!/usr/bin/env bash
# The whole test suite, what CI runs: formatting, lints, unit and integration tests (loopback
# mocks and network namespaces the tests build), the static build, the start storm, a smoke run
# of the benchmarks and of every fuzz target, and the end-to-end tests with real tracers. The
# release binaries (static musl, x86_64 and aarch64) get the black-box checks, natively and under
# qemu-aarch64-static, and run as PID 1 in podman containers.
# Needs root (network namespaces, apt for the e2e dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# Belt and braces for the network rule: any ddboot started without an explicit endpoint
# override in this suite must not reach the real metadata services.
export AWS_EC2_METADATA_DISABLED=true
unset ECS_CONTAINER_METADATA_URI_V4 ECS_CONTAINER_METADATA_URI ECS_CONTAINER_METADATA_FILE DD_AGENT_HOST

# section NAME: starts a section, after one line with the time the previous one took (what each
# step costs CI is read off this log; the last step, the e2e suite, prints its own total so that
# its "N passed, N failed" stays the last line).
section_start=$SECONDS
section() {
  [ -z "${section_name:-}" ] || echo "-- $section_name: $((SECONDS - section_start)) s"
  section_name=$1 section_start=$SECONDS
  echo "== $1"
}

section "cargo fmt --check"
cargo fmt --all -- --check
section "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
section "cargo test"
cargo test --workspace --locked
section "static build"
bin=$(scripts/build-static.sh | tail -n 1)
echo "static binary: $bin ($(stat -c %s "$bin") bytes)"
section "release: static musl binaries for x86_64 and aarch64 (what users deploy)"
mapfile -t release < <(scripts/release.sh)
musl_native=$(printf '%s\n' "${release[@]}" | grep -- "-$(uname -m)-linux-musl$")
musl_arm=$(printf '%s\n' "${release[@]}" | grep -- "-aarch64-linux-musl$")
section "black-box checks on the shipped binaries"
bash scripts/blackbox.sh "$musl_native"
if [ "$(uname -m)" != aarch64 ]; then
  bash scripts/blackbox.sh "$musl_arm" qemu-aarch64-static
fi
section "in a real container engine (podman + runc): ddboot as the ENTRYPOINT, PID 1"
# STOP_TIMEOUT: the `podman stop -t` of the exec-mode rows, which wait for it (ECS's default is
# 30 s; 10 s shows the same SIGKILL at a third of the CI time).
STOP_TIMEOUT=10 bash scripts/e2e-container.sh "$musl_native"
section "start storm (200 ddboot processes at once against one mock IMDS)"
bash scripts/storm.sh --no-timing
section "bench smoke (one run each, no timing asserted)"
bash scripts/bench.sh --smoke --before "$bin" --before-label "this same build (A/A: the paired plumbing only)"
section "fuzz smoke (each target ~10 s)"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
(cd fuzz && cargo fmt --check && cargo clippy --all-targets --locked -q -- -D warnings)
bash scripts/fuzz.sh --smoke
section "end to end with real tracers (ddtrace, dd-trace, php-fpm, the JVM) on loopback"
bash scripts/e2e.sh
