#!/usr/bin/env bash
# Builds the release artifacts: static, stripped musl binaries of ddboot for x86_64 and aarch64
# (release profile), in dist/ddboot-<version>-<arch>-linux-musl, with dist/SHA256SUMS. Installs
# the rustup targets it needs, honours CARGO_TARGET_DIR, links aarch64 with the rust-lld that
# ships with Rust (no cross gcc needed), and refuses to ship a binary that is not static or not
# stripped. Prints each artifact with its size; the last lines are the artifacts' paths.
#   scripts/release.sh                 # both targets
#   RELEASE_TARGETS=x86_64-unknown-linux-musl scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/target-dir.sh

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
read -r -a targets <<<"${RELEASE_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}"
# The linker settings Dockerfile.example repeats (a test keeps the two in step).
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld

installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t" >&2
done

mkdir -p dist
artifacts=()
for t in "${targets[@]}"; do
  echo "== cargo build --release --target $t" >&2
  cargo build --release --locked -p ddboot --target "$t" >&2
  built="$target_dir/$t/release/ddboot"
  out="dist/ddboot-$version-${t%%-*}-linux-musl"
  # Static: no program interpreter and no shared library needed; stripped: no symbol table.
  headers=$(readelf -lSd "$built")
  if grep -q 'INTERP' <<<"$headers" || grep -q '(NEEDED)' <<<"$headers"; then
    echo "release: $built is not statically linked" >&2
    exit 1
  fi
  if grep -q '\.symtab' <<<"$headers"; then
    echo "release: $built is not stripped" >&2
    exit 1
  fi
  install -m 0755 "$built" "$out.tmp"
  mv -f "$out.tmp" "$out"
  artifacts+=("$out")
done
# Every artifact of this version in dist/, so a one-target build keeps the other's line.
(cd dist && sha256sum "ddboot-$version-"*-linux-musl >SHA256SUMS)
echo "== dist (version $version)" >&2
for a in "${artifacts[@]}"; do
  printf '%-45s %9d bytes (%s KiB)\n' "$a" "$(stat -c %s "$a")" "$(( $(stat -c %s "$a") / 1024 ))" >&2
done
echo "dist/SHA256SUMS" >&2
printf '%s\n' "${artifacts[@]/#/$PWD/}"
