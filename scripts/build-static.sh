#!/usr/bin/env bash
# Builds ddboot as one statically linked executable (glibc with +crt-static on this machine;
# see Dockerfile.example for musl) and prints its path as the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${DDBOOT_TARGET:-$(uname -m)-unknown-linux-gnu}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target "$target" -p ddboot >&2
bin="$PWD/target/$target/release/ddboot"
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "build-static: $bin is not statically linked" >&2
  exit 1
fi
echo "$bin"
