# Sourced by the scripts that run the static musl binary: sets $bin to the binary under test
# (the script's first argument, else DDBOOT_BIN, else an x86_64 musl build of scripts/release.sh,
# which honours CARGO_TARGET_DIR), as an absolute path.
# Usage: . scripts/lib/musl-bin.sh   (from the repository root, with the script's arguments)
bin=${1:-${DDBOOT_BIN:-}}
if [ -z "$bin" ]; then
  bin=$(RELEASE_TARGETS=x86_64-unknown-linux-musl scripts/release.sh | tail -n 1)
fi
bin=$(realpath "$bin")
