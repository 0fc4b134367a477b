# Sourced by the scripts: sets $target_dir to cargo's target directory, honouring
# CARGO_TARGET_DIR and any build.target-dir in cargo's config (asks `cargo metadata`).
# Usage: . scripts/lib/target-dir.sh   (from the repository root)
target_dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
target_dir=${target_dir:-${CARGO_TARGET_DIR:-$PWD/target}}
