#!/usr/bin/env bash
# Fuzz ddboot's parsers with cargo-fuzz (libFuzzer) on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   each target for that long (default 60)
#   scripts/fuzz.sh --smoke                each target for 10 s (what CI runs)
#   scripts/fuzz.sh --runs N               each target for exactly N inputs
#   scripts/fuzz.sh ... -- TARGET...       only these targets (default: every fuzz/fuzz_targets/*.rs)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a C++ compiler (libFuzzer is built
# from source by the libfuzzer-sys crate). The targets are built with `--sanitizer none`: the
# SanitizerCoverage instrumentation libFuzzer needs is stable, AddressSanitizer (-Zsanitizer) is
# not, and ddboot's parsers are safe Rust, where a bug shows as a panic or a failed assertion
# (debug assertions and overflow checks are on). FUZZ_SANITIZER=address switches ASan on through
# RUSTC_BOOTSTRAP=1 (about ten times slower).
#
# Seeds are read from fuzz/corpus/TARGET (committed, never written); what a run learns goes to
# DIR/corpus/TARGET, where DIR is the fuzz crate's target directory (fuzz/target, or
# CARGO_TARGET_DIR when set); a crashing input is saved in fuzz/artifacts/TARGET/ and the script
# exits 1. Logs: DIR/logs/TARGET.log. For each target one line is printed:
#   TARGET: N runs in S s (X/s), corpus C, ok
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=
targets=()
while (($#)); do
    case "$1" in
        --smoke) seconds=10 ;;
        --runs) runs=${2:?--runs needs a count}; shift ;;
        --) shift; targets=("$@"); break ;;
        -h | --help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *[!0-9]* | '') echo "fuzz.sh: bad argument $1 (see --help)" >&2; exit 64 ;;
        *) seconds=$1 ;;
    esac
    shift
done
if ((${#targets[@]} == 0)); then
    for f in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 69
fi

sanitizer=${FUZZ_SANITIZER:-none}
if [[ $sanitizer != none ]]; then
    export RUSTC_BOOTSTRAP=1
fi
triple=$(rustc -vV | sed -n 's/^host: //p')
# The fuzz crate is a workspace of its own: its target directory is fuzz/target unless
# CARGO_TARGET_DIR (or cargo's config) says otherwise.
fuzz_target=$(cd fuzz && . ../scripts/lib/target-dir.sh && echo "$target_dir")
mkdir -p "$fuzz_target/logs"
echo "== cargo fuzz build --sanitizer $sanitizer"
if ! (cd fuzz && cargo fuzz build --sanitizer "$sanitizer") >"$fuzz_target/logs/build.log" 2>&1; then
    cat "$fuzz_target/logs/build.log" >&2
    echo "fuzz.sh: the fuzz targets do not build" >&2
    exit 1
fi

if [[ -n $runs ]]; then
    limit=(-runs="$runs")
    echo "== fuzzing each target for $runs inputs"
else
    limit=(-max_total_time="$seconds")
    echo "== fuzzing each target for $seconds s"
fi

failed=0
for t in "${targets[@]}"; do
    bin=$fuzz_target/$triple/release/$t
    seeds=fuzz/corpus/$t
    work=$fuzz_target/corpus/$t
    log=$fuzz_target/logs/$t.log
    mkdir -p "$seeds" "$work" "fuzz/artifacts/$t"
    # Inputs up to 4 KiB, except for HTTP answers: the 8 KiB head limit must be reachable.
    max_len=4096
    [[ $t == http_response ]] && max_len=12288
    start=$(date +%s%N)
    status=0
    "$bin" "${limit[@]}" -max_len="$max_len" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$t/" "$work" "$seeds" >"$log" 2>&1 || status=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    count=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    count=${count:-$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)}
    count=${count:-0}
    corpus=$(find "$work" -type f | wc -l)
    rate=$((count * 1000 / (ms + 1)))
    if ((status == 0)); then
        printf '%s: %s runs in %d s (%s/s), corpus %s, ok\n' "$t" "$count" $((ms / 1000)) "$rate" "$corpus"
    else
        failed=1
        printf '%s: FAILED after %s runs (exit %s); crash input in fuzz/artifacts/%s/\n' \
            "$t" "$count" "$status" "$t"
        grep -E -A 20 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 40 >&2 || tail -n 40 "$log" >&2
        echo "reproduce: $bin fuzz/artifacts/$t/<file>" >&2
    fi
done
exit "$failed"
