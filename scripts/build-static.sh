#!/usr/bin/env bash
# Builds ddboot as one statically linked executable (glibc with +crt-static on this machine;
# scripts/release.sh builds the static musl binaries users deploy) and prints its path as the
# last line. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/target-dir.sh
target="${DDBOOT_TARGET:-$(uname -m)-unknown-linux-gnu}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target "$target" -p ddboot >&2
bin="$target_dir/$target/release/ddboot"
[ -x "$bin" ] || { echo "build-static: no binary at $bin" >&2; exit 1; }
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "build-static: $bin is not statically linked" >&2
  exit 1
fi
echo "$bin"
