#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (loopback mocks only).
# Later stages (end-to-end tracers, network namespaces, fuzz and bench smoke) are added below.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# Belt and braces for the network rule: any ddboot started without an explicit endpoint
# override in this suite must not reach the real metadata services.
export AWS_EC2_METADATA_DISABLED=true
unset ECS_CONTAINER_METADATA_URI_V4 ECS_CONTAINER_METADATA_URI ECS_CONTAINER_METADATA_FILE DD_AGENT_HOST

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== static build"
bin=$(scripts/build-static.sh | tail -n 1)
echo "static binary: $bin ($(stat -c %s "$bin") bytes)"
echo "== end to end with real tracers (ddtrace, dd-trace, php-fpm, the JVM) on loopback"
bash scripts/e2e.sh
