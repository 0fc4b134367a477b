#!/usr/bin/env bash
# Benchmarks ddboot against the documented recipes, checks the size and memory budget, and runs
# the start storm (scripts/storm.sh); writes BENCHMARKS.md from what it measured in this one run.
#
# usage: scripts/bench.sh [--smoke] [--out FILE] [--before BIN [--before-label TEXT]]
#   (default)  60 runs per fast row in 6 interleaved rounds, 30 for the hop-limit ddboot row, 3 for
#              the 30 s recipe; peak RSS, size, cargo-bloat (installed if missing), the size
#              baselines (scripts/bench/sizes), strace and perf breakdowns, the storm with its
#              timing asserted; writes BENCHMARKS.md at the repository root (or FILE); prints
#              PASS/MISS per target; exits 1 when a target is missed or the storm fails (after
#              writing the file)
#   --smoke    one run per row, the hop-limit recipe bounded by `timeout 3` instead of 30, no
#              cargo-bloat, baselines or profiles, the storm without timing assertions; writes to
#              a temp file (or FILE), never to BENCHMARKS.md; asserts nothing about timing: exits 0
#              when everything ran and every row exported the DD_AGENT_HOST it should (storm
#              assertion failures are reported, not fatal); about 10 s once the builds are done
#   --before   also time this build's IMDSv2 path against BIN, an earlier static build, with
#              scripts/bench-paired.sh (2000 interleaved pairs of runs; smoke: 20) and check it
#              stays within 1.10 × BIN's; TEXT (e.g. the commit BIN was built from) names BIN in
#              the report
# Needs root for apt-get (hyperfine, time, jq, curl) when those are missing, and for the storm's
# private network namespace (without it the storm checks totals only).
#
# Network: loopback only. The IMDS is a local mockmeta on 127.0.0.1 (tokens optional, so both the
# v1 and v2 recipes work), the ECS metadata file lives in a temp dir, every ddboot run gets an
# IMDS endpoint on 127.0.0.1 (or AWS_EC2_METADATA_DISABLED=true), the curl recipes have
# 169.254.169.254 replaced by the mock's URL, every process runs in a cleared environment (no
# proxy variables, no ECS_CONTAINER_METADATA_URI_V4, an empty CURL_HOME), and ddboot always gets
# --socket-dir on an empty temp dir.
set -euo pipefail
invoked_from=$PWD
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib/target-dir.sh
# shellcheck source=scripts/bench/lib.sh
. scripts/bench/lib.sh

smoke=no out= before_bin= before_label=
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) smoke=yes; shift ;;
    --out) out=$(cd "$invoked_from" && realpath -m "$2"); shift 2 ;;
    --before) before_bin=$(cd "$invoked_from" && realpath "$2"); shift 2 ;;
    --before-label) before_label=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 64 ;;
  esac
done

# The fast rows are measured in ROUNDS interleaved rounds (each round runs every fast row for
# RUNS / ROUNDS runs, in a rotated order) so that a load change on this shared machine hits every
# row alike; their statistics are computed over all the rounds' runs.
if [ $smoke = yes ]; then
  RUNS=1 ROUNDS=1 WARMUP=0 HOP_RECIPE_RUNS=1 HOP_RECIPE_TIMEOUT=3 HOP_DDBOOT_RUNS=1 RSS_RUNS=1
else
  RUNS=60 ROUNDS=6 WARMUP=3 HOP_RECIPE_RUNS=3 HOP_RECIPE_TIMEOUT=30 HOP_DDBOOT_RUNS=30 RSS_RUNS=20
fi
MIB=1048576
TARGET_SIZE=$((2 * MIB)) TARGET_RSS_KIB=4096 TARGET_V2_RATIO=0.25 TARGET_FILE_DELTA_MS=1.0
TARGET_MUSL_SIZE=$((MIB + MIB / 5)) TARGET_MUSL_FILE_RATIO=1.10 TARGET_PAIRED_RATIO=1.10
FILE_IP=10.0.1.42 IMDS_IP=10.0.1.43 HOP_IP=10.0.1.44
TRIPLE=$(uname -m)-unknown-linux-gnu

need_tool hyperfine hyperfine
need_tool /usr/bin/time time
need_tool jq jq
need_tool curl curl
need_tool timeout coreutils

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "== building (static ddboot, mockmeta)" >&2
if [ $smoke = yes ] && [ -z "${MOCKMETA:-}" ]; then
  # Timings are not asserted in smoke mode: the debug mock (built by cargo test) is enough.
  cargo build --locked -q -p mockmeta >&2
  MOCKMETA=$target_dir/debug/mockmeta
fi
build_all
echo "== building the release binaries (scripts/release.sh: static musl, x86_64 and aarch64)" >&2
mapfile -t release_bins < <(scripts/release.sh)
DDBOOT_MUSL=$(printf '%s\n' "${release_bins[@]}" | grep -- "-$(uname -m)-linux-musl$")

work=$(mktemp -d "${TMPDIR:-/tmp}/ddboot-bench.XXXXXX")
BENCH_HOME=$work/home
mkdir -p "$BENCH_HOME" "$work/sockets" "$work/json"
cleanup() {
  stop_mocks
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $smoke = yes ]; then
  report=${out:-$work/BENCHMARKS.smoke.md}
else
  report=${out:-$root/BENCHMARKS.md}
fi

start_mock "$work" imds --local-ipv4 "$IMDS_IP"
imds_url=$MOCK_URL
start_mock "$work" hop --local-ipv4 "$HOP_IP" --put hang
hop_url=$MOCK_URL
guard_loopback "$imds_url"
guard_loopback "$hop_url"
cat >"$work/metadata.json" <<JSON
{"Cluster":"default","ContainerName":"app","DockerContainerName":"/ecs-app-1","ImageName":"app:1.0",
 "Networks":[{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.2"]}],
 "MetadataFileStatus":"READY","HostPrivateIPv4Address":"$FILE_IP"}
JSON
metadata_file=$work/metadata.json
socket_flag="--socket-dir $work/sockets"
# ECS Managed Instances with a Managed Daemon Agent: the task metadata (LaunchType
# MANAGED_INSTANCES, no Agent container in the task) on loopback; ddboot answers 169.254.172.2
# without asking IMDS.
cat >"$work/mi-container.json" <<JSON
{"DockerId":"mi-app","Name":"app","Image":"app:1.0","Labels":{},
 "Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.7.9"]}]}
JSON
cat >"$work/mi-task.json" <<JSON
{"Cluster":"default","LaunchType":"MANAGED_INSTANCES","Containers":[{"DockerId":"mi-app","Name":"app","Image":"app:1.0"}]}
JSON
start_mock "$work" mi --container-json "$work/mi-container.json" --task-json "$work/mi-task.json"
guard_loopback "$MOCK_URL"
mi_task_uri=$MOCK_URL/v4/mock-container
# A static app that does nothing, so the musl rows time the exec chain, not the app's loader.
static_true=$work/static-true
printf 'int main(void) { return 0; }\n' | cc -static -Os -x c -o "$static_true" -

baselines=''
if [ $smoke = no ]; then
  echo "== size baselines (scripts/bench/sizes, $target_dir/bench-sizes)" >&2
  cp -r scripts/bench/sizes "$work/sizes"
  cp Cargo.lock "$work/sizes/Cargo.lock"
  (cd "$work/sizes" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    CARGO_TARGET_DIR="$target_dir/bench-sizes" cargo build -q --release --target "$TRIPLE" --bins >&2)
  baselines=$target_dir/bench-sizes/$TRIPLE/release
fi

# The documented recipes, with the IMDS address replaced by the mock's URL.
recipe_v2() { # URL
  printf '%s' "sh -c \"export TOKEN=\\\$(curl -s -X PUT \\\"$1/latest/api/token\\\" -H \\\"X-aws-ec2-metadata-token-ttl-seconds: 21600\\\"); export DD_AGENT_HOST=\\\$(curl -s -H \\\"X-aws-ec2-metadata-token: \\\$TOKEN\\\" $1/latest/meta-data/local-ipv4); exec /bin/true\""
}
recipe_v1() { # URL
  printf '%s' "sh -c \"export DD_AGENT_HOST=\\\$(curl $1/latest/meta-data/local-ipv4); exec /bin/true\""
}
recipe_jq="sh -c 'export DD_AGENT_HOST=\$(jq -r .HostPrivateIPv4Address \"\$ECS_CONTAINER_METADATA_FILE\"); exec /bin/true'"

# Rows: id|label|environment (space-separated VAR=VALUE)|command|runs|warmup|expected host
# ("-" = not checked)|mode (interleaved: split over the rounds; single: one hyperfine run).
# Commands are parsed by hyperfine -N (no shell of its own).
rows=(
  "bare|bare exec|-|/bin/true|$RUNS|$WARMUP|-|interleaved"
  "ddboot_file|ddboot, metadata-file path|ECS_CONTAINER_METADATA_FILE=$metadata_file AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds_url|$DDBOOT $socket_flag -- /bin/true|$RUNS|$WARMUP|$FILE_IP|interleaved"
  "jq|documented jq recipe (metadata file)|ECS_CONTAINER_METADATA_FILE=$metadata_file|$recipe_jq|$RUNS|$WARMUP|$FILE_IP|interleaved"
  "ddboot_v2|ddboot, IMDSv2 path|AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds_url|$DDBOOT $socket_flag -- /bin/true|$RUNS|$WARMUP|$IMDS_IP|interleaved"
  "curl_v2|documented curl recipe, IMDSv2|-|$(recipe_v2 "$imds_url")|$RUNS|$WARMUP|$IMDS_IP|interleaved"
  "curl_v1|documented curl recipe, IMDSv1|-|$(recipe_v1 "$imds_url")|$RUNS|$WARMUP|$IMDS_IP|interleaved"
  "hop_ddboot|hop limit (PUT never answered): ddboot|AWS_EC2_METADATA_SERVICE_ENDPOINT=$hop_url|$DDBOOT $socket_flag -- /bin/true|$HOP_DDBOOT_RUNS|$((WARMUP > 0 ? 1 : 0))|$HOP_IP|single"
  "hop_curl_v2|hop limit: curl IMDSv2 recipe under \`timeout $HOP_RECIPE_TIMEOUT\`|-|timeout $HOP_RECIPE_TIMEOUT $(recipe_v2 "$hop_url")|$HOP_RECIPE_RUNS|0|-|single"
)
if [ -n "$baselines" ]; then
  # For scale: what exec'ing any static glibc program costs here (see the size baselines).
  rows+=("hello|reference: static Rust hello world (glibc, built like ddboot)|-|$baselines/hello|$RUNS|$WARMUP|-|interleaved")
fi
# What users deploy: the static musl binary, against the cheapest way to add one variable and
# exec the same static app.
rows+=(
  "env_static|reference: \`/usr/bin/env X=Y\` then a static app|-|/usr/bin/env X=Y $static_true|$RUNS|$WARMUP|-|interleaved"
  "mi_daemon|ddboot, Managed Instances daemon (task metadata on loopback, no IMDS)|AWS_EXECUTION_ENV=AWS_ECS_MANAGED_INSTANCES ECS_CONTAINER_METADATA_URI_V4=$mi_task_uri AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds_url|$DDBOOT $socket_flag -- /bin/true|$RUNS|$WARMUP|169.254.172.2|interleaved"
  "musl_file|ddboot (static musl), metadata-file path, then the same static app|ECS_CONTAINER_METADATA_FILE=$metadata_file AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds_url|$DDBOOT_MUSL $socket_flag -- $static_true|$RUNS|$WARMUP|$FILE_IP|interleaved"
)

# row_env ENV: the environment words of a row.
row_env() { [ "$1" = - ] || tr ' ' '\n' <<<"$1"; }

# Every row must do what its label says: run it once with the app replaced by printenv.
echo "== checking that every row exports the expected DD_AGENT_HOST" >&2
check_failures=0
for row in "${rows[@]}"; do
  IFS='|' read -r id label envs cmd _ _ expect _ <<<"$row"
  [ "$expect" != - ] || continue
  check_cmd=${cmd/\/bin\/true/\/usr\/bin\/printenv DD_AGENT_HOST}
  check_cmd=${check_cmd/$static_true/\/usr\/bin\/printenv DD_AGENT_HOST}
  before=$(wc -l <"$work/imds.log")
  mapfile -t vars < <(row_env "$envs")
  clean_env "${vars[@]}" -- hyperfine -N --runs 1 --style none --output "$work/check.$id" "$check_cmd" >/dev/null 2>&1 || true
  got=$(tr -d '\n' <"$work/check.$id" 2>/dev/null || true)
  after=$(wc -l <"$work/imds.log")
  if [ "$got" != "$expect" ]; then
    echo "CHECK FAILED: $label exported DD_AGENT_HOST='$got', expected $expect" >&2
    check_failures=$((check_failures + 1))
  fi
  if { [[ $id == *_file ]] || [ "$id" = mi_daemon ]; } && [ "$before" != "$after" ]; then
    echo "CHECK FAILED: the metadata-file path sent $((after - before)) IMDS request(s)" >&2
    check_failures=$((check_failures + 1))
  fi
done
[ "$check_failures" -eq 0 ] || { echo "bench: $check_failures row check(s) failed" >&2; exit 1; }

echo "== timing (hyperfine -N; fast rows in $ROUNDS interleaved rounds)" >&2
# time_row ROW RUNS WARMUP JSON
time_row() {
  local id label envs cmd vars extra=()
  IFS="|" read -r id label envs cmd _ <<<"$1"
  mapfile -t vars < <(row_env "$envs")
  [ "$id" != hop_curl_v2 ] || extra=(--ignore-failure)
  echo "-- $label ($2 runs)" >&2
  clean_env "${vars[@]}" -- hyperfine -N --style basic --runs "$2" --warmup "$3" "${extra[@]}" \
    --command-name "$label" --export-json "$4" "$cmd" >&2
}
fast=() slow=()
for row in "${rows[@]}"; do
  case $row in *"|interleaved") fast+=("$row") ;; *) slow+=("$row") ;; esac
done
for round in $(seq 1 "$ROUNDS"); do
  echo "-- round $round of $ROUNDS" >&2
  for k in $(seq 0 $((${#fast[@]} - 1))); do
    row=${fast[$(((k + round - 1) % ${#fast[@]}))]}
    time_row "$row" $((RUNS / ROUNDS)) "$WARMUP" "$work/json/${row%%|*}.round$round.json"
  done
done
# Merge the rounds: statistics over every run, CPU times weighted by runs.
for row in "${fast[@]}"; do
  id=${row%%|*}
  jq -s '[.[].results[0]] as $r | ([$r[].times[]] | sort) as $t | ($t | length) as $n
    | ($t | add / $n) as $mean
    | {results: [{command: $r[0].command, times: $t, exit_codes: [$r[].exit_codes[]], mean: $mean,
        median: (if $n % 2 == 1 then $t[($n - 1) / 2] else ($t[$n / 2 - 1] + $t[$n / 2]) / 2 end),
        stddev: (if $n > 1 then ([$t[] | (. - $mean) * (. - $mean)] | add / ($n - 1) | sqrt) else null end),
        min: $t[0], max: $t[-1],
        user: ([$r[] | .user * (.times | length)] | add / $n),
        system: ([$r[] | .system * (.times | length)] | add / $n)}]}' \
    "$work/json/$id".round*.json >"$work/json/$id.json"
done
for row in "${slow[@]}"; do
  IFS="|" read -r id _ _ _ runs warmup _ <<<"$row"
  time_row "$row" "$runs" "$warmup" "$work/json/$id.json"
done

# hf ID FIELD: a field of a row's hyperfine result (times in seconds).
hf() { jq -r ".results[0].$2" "$work/json/$1.json"; }

echo "== peak RSS of ddboot --explain (GNU time, $RSS_RUNS runs per path)" >&2
rss_max=0
declare -A rss_path
for path in file v2 hop; do
  case $path in
    file) vars=(ECS_CONTAINER_METADATA_FILE="$metadata_file" AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url") ;;
    v2) vars=(AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url") ;;
    hop) vars=(AWS_EC2_METADATA_SERVICE_ENDPOINT="$hop_url") ;;
  esac
  worst=0
  for _ in $(seq "$RSS_RUNS"); do
    clean_env "${vars[@]}" -- /usr/bin/time -f %M -o "$work/rss" "$DDBOOT" --socket-dir "$work/sockets" --explain >/dev/null
    kib=$(tail -n 1 "$work/rss")
    [ "$kib" -le "$worst" ] || worst=$kib
  done
  rss_path[$path]=$worst
  [ "$worst" -le "$rss_max" ] || rss_max=$worst
done

echo "== binary size" >&2
size_bytes=$(stat -c %s "$DDBOOT")

bloat_json=
if [ $smoke = no ]; then
  echo "== cargo bloat --crates (unstripped copy in $target_dir/bench-bloat)" >&2
  if ! command -v cargo-bloat >/dev/null 2>&1; then cargo install --locked cargo-bloat >&2; fi
  # Same flags as scripts/build-static.sh, but not stripped (cargo-bloat needs the symbols) and
  # in its own target dir so the static binary is left alone.
  bloat_json=$work/bloat.json
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=false \
    CARGO_TARGET_DIR="$target_dir/bench-bloat" \
    cargo bloat --release --locked --target "$TRIPLE" -p ddboot --crates -n 0 --message-format json \
    >"$bloat_json" 2>"$work/bloat.err" || { cat "$work/bloat.err" >&2; exit 1; }
fi

straced=no
if [ $smoke = no ] && command -v strace >/dev/null 2>&1; then
  echo "== strace -c of one run per path" >&2
  for path in file v2; do
    case $path in
      file) vars=(ECS_CONTAINER_METADATA_FILE="$metadata_file" AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url") ;;
      v2) vars=(AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url") ;;
    esac
    # ddboot's own system calls: everything up to and including its execve of the app.
    clean_env "${vars[@]}" -- strace -o "$work/strace.all.$path" "$DDBOOT" --socket-dir "$work/sockets" -q -- /bin/true
    awk '/^execve\(/ { n++ } n == 2 { print; exit } { print }' "$work/strace.all.$path" | cut -c 1-150 >"$work/strace.$path"
  done
  straced=yes
fi

profiled=no
if [ $smoke = no ] && command -v perf >/dev/null 2>&1 && [ -n "$bloat_json" ]; then
  # Where the metadata-file path's time goes: perf over 500 runs of the unstripped build (same
  # code as the static binary, with symbols). The process is called ddboot until its execve.
  echo "== perf profile of the metadata-file path" >&2
  unstripped=$target_dir/bench-bloat/$TRIPLE/release/ddboot
  cat >"$work/loop.sh" <<LOOP
i=0
while [ \$i -lt 500 ]; do "$unstripped" --socket-dir "$work/sockets" -q -- /bin/true; i=\$((i + 1)); done
LOOP
  if clean_env ECS_CONTAINER_METADATA_FILE="$metadata_file" AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url" -- \
    perf record -q -F 20000 -o "$work/perf.data" -- sh "$work/loop.sh" >/dev/null 2>&1; then
    perf report -i "$work/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' >"$work/perf.comm" || true
    perf report -i "$work/perf.data" --comm ddboot --percentage relative --no-children --sort dso,sym --stdio 2>/dev/null |
      grep -E '^ +[0-9]' >"$work/perf.sym" || true
    [ -s "$work/perf.sym" ] && profiled=yes
  fi
fi

echo "== start storm (scripts/storm.sh)" >&2
storm_args=(--report "$work/storm.md")
[ $smoke = no ] || storm_args+=(--no-timing)
storm_rc=0
scripts/storm.sh "${storm_args[@]}" >"$work/storm.out" 2>&1 || storm_rc=$?
cat "$work/storm.out" >&2
[ -s "$work/storm.md" ] || { echo "bench: the storm did not run (exit $storm_rc)" >&2; exit 1; }
init_rc=0
if [ $smoke = no ]; then
  echo "== PID 1: scripts/bench-init.sh, scripts/e2e-container-init.sh (podman stop -t 30)" >&2
  bash scripts/bench-init.sh "$DDBOOT_MUSL" >"$work/bench-init.md" || init_rc=$?
  STOP_TIMEOUT=30 bash scripts/e2e-container-init.sh "$DDBOOT_MUSL" >"$work/container-init.txt" 2>&1 || init_rc=$?
  cat "$work/bench-init.md" "$work/container-init.txt" >&2
fi
if [ -n "$before_bin" ]; then
  echo "== paired IMDSv2 start time against ${before_label:-$before_bin} (scripts/bench-paired.sh)" >&2
  paired_shape=(2000 5)
  [ $smoke = no ] || paired_shape=(20 1)
  scripts/bench-paired.sh "$before_bin" "$DDBOOT" "${paired_shape[@]}" >"$work/paired.md"
  cat "$work/paired.md" >&2
  paired_ratio=$(sed -n 's/^| all .*\*\*\([0-9.]*\)\*\* |$/\1/p' "$work/paired.md")
  [ -n "$paired_ratio" ] || { echo "bench: no ratio in bench-paired.sh's output" >&2; exit 1; }
fi
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

# ---- the report ----------------------------------------------------------------------------
fmt_ms() { awk -v s="$1" 'BEGIN { v = s * 1000; if (v >= 100) printf "%.0f ms", v; else if (v >= 10) printf "%.1f ms", v; else printf "%.2f ms", v }'; }
bare=$(hf bare median)
verdicts=() missed=0
verdict() { # NAME MEASURED OK
  local result=PASS
  [ "$3" = yes ] || { result=MISS; missed=$((missed + 1)); }
  verdicts+=("| $1 | $2 | **$result** |")
  echo "$result  $1: $2"
}
v2=$(hf ddboot_v2 median) curl2=$(hf curl_v2 median) file=$(hf ddboot_file median)
musl_file=$(hf musl_file median) env_static=$(hf env_static median)
ratio_musl=$(awk -v a="$musl_file" -v b="$env_static" 'BEGIN { printf "%.3f", a / b }')
ratio_v2=$(awk -v a="$v2" -v b="$curl2" 'BEGIN { printf "%.3f", a / b }')
delta_file=$(awk -v a="$file" -v b="$bare" 'BEGIN { printf "%+.2f", (a - b) * 1000 }')
echo "== targets" >&2
{
  verdict "ddboot IMDSv2 path ≤ $TARGET_V2_RATIO × the curl IMDSv2 recipe (medians)" \
    "$(fmt_ms "$v2") vs $(fmt_ms "$curl2") = $ratio_v2 ×" \
    "$(awk -v r="$ratio_v2" -v t="$TARGET_V2_RATIO" 'BEGIN { print (r <= t) ? "yes" : "no" }')"
  verdict "ddboot metadata-file path within $TARGET_FILE_DELTA_MS ms of the bare exec (medians)" \
    "$(fmt_ms "$file") vs $(fmt_ms "$bare") = $delta_file ms" \
    "$(awk -v d="$delta_file" -v t="$TARGET_FILE_DELTA_MS" 'BEGIN { print (d <= t) ? "yes" : "no" }')"
  verdict "peak RSS of \`ddboot --explain\` ≤ 4 MiB (worst of $RSS_RUNS runs × 3 paths)" \
    "$rss_max KiB ($(awk -v k="$rss_max" 'BEGIN { printf "%.2f", k / 1024 }') MiB)" \
    "$([ "$rss_max" -le "$TARGET_RSS_KIB" ] && echo yes || echo no)"
  verdict "static $TRIPLE binary ≤ 2.0 MiB" \
    "$size_bytes bytes ($(awk -v b="$size_bytes" 'BEGIN { printf "%.3f", b / 1048576 }') MiB)" \
    "$([ "$size_bytes" -le "$TARGET_SIZE" ] && echo yes || echo no)"
  verdict "static musl binary's metadata-file path within $TARGET_MUSL_FILE_RATIO × \`/usr/bin/env X=Y <static app>\` (medians, same rounds)" \
    "$(fmt_ms "$musl_file") vs $(fmt_ms "$env_static") = $ratio_musl ×" \
    "$(awk -v r="$ratio_musl" -v t="$TARGET_MUSL_FILE_RATIO" 'BEGIN { print (r <= t) ? "yes" : "no" }')"
  if [ -n "$before_bin" ]; then
    verdict "IMDSv2 path within $TARGET_PAIRED_RATIO × the earlier build's (${before_label:-$(basename "$before_bin")}; paired, all runs' medians)" \
      "$paired_ratio ×" "$(awk -v r="$paired_ratio" -v t="$TARGET_PAIRED_RATIO" 'BEGIN { print (r <= t) ? "yes" : "no" }')"
  fi
  for b in "${release_bins[@]}"; do
    bytes=$(stat -c %s "$b")
    verdict "$(basename "$b") ≤ 1.2 MiB" \
      "$bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.3f", b / 1048576 }') MiB)" \
      "$([ "$bytes" -le "$TARGET_MUSL_SIZE" ] && echo yes || echo no)"
  done
} >"$work/verdicts.txt"
cat "$work/verdicts.txt"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=
[ -z "$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ] ||
  dirty=" (with uncommitted changes to src/, Cargo.toml or Cargo.lock)"
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

{
  if [ $smoke = yes ]; then
    echo "# Benchmarks (smoke run: one run per row, nothing asserted — not the published numbers)"
  else
    echo "# Benchmarks"
  fi
  echo
  echo "Generated by \`scripts/bench.sh\`$([ $smoke = yes ] && echo " --smoke"); do not edit by hand. Every number below comes from one run of the script."
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
  echo "| ddboot commit | \`$commit\`$dirty |"
  echo "| machine | $(nproc) CPUs, $cpu, Linux $(uname -r) |"
  echo "| load average (1, 5, 15 min) | $load_before at the start, $load_after at the end$(awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { if (l > n / 2) print " — other work was running: absolute times are noisy, the medians and ratios less so" }') |"
  echo "| tools | $(hyperfine --version), $(curl --version | head -n 1 | cut -d ' ' -f 1-2), $(jq --version), $(rustc --version | cut -d ' ' -f 1-2) |"
  echo "| binary | \`scripts/build-static.sh\` output ($TRIPLE, glibc, \`-C target-feature=+crt-static\`), release profile |"
  echo
  echo "## Targets"
  echo
  echo "| target | measured | result |"
  echo "|---|---|---|"
  printf '%s\n' "${verdicts[@]}"
  echo "| start storm: every assertion of \`scripts/storm.sh\`$([ $smoke = yes ] && echo " (timing not asserted)") | see *Start storm* | **$([ "$storm_rc" -eq 0 ] && echo PASS || echo FAIL)** |"
  echo
  echo "## Start time"
  echo
  echo "\`hyperfine -N\` (no intermediate shell; every process in a cleared environment). Rows 1–6 and from 9 on: $RUNS runs each, taken in $ROUNDS interleaved rounds of $((RUNS / ROUNDS)) (after $WARMUP warm-up runs per round, row order rotated each round) so that load changes hit every row alike; rows 7–8: one hyperfine run each. The ratio is each median over the bare exec's."
  echo "The IMDS is \`mockmeta\` on 127.0.0.1 (it writes each response, head and body, with one \`sendto\`); the metadata file is in a temp dir."
  echo
  echo "| # | case | median | × bare exec | mean ± σ | min | max | user + sys CPU | runs |"
  echo "|---|---|---|---|---|---|---|---|---|"
  i=0
  for row in "${rows[@]}"; do
    IFS='|' read -r id label _ _ runs _ <<<"$row"
    i=$((i + 1))
    med=$(hf "$id" median)
    printf '| %s | %s | %s | %s | %s ± %s | %s | %s | %s | %s |\n' "$i" "$label" "$(fmt_ms "$med")" \
      "$(awk -v a="$med" -v b="$bare" 'BEGIN { r = a / b; if (r >= 100) printf "%.0f", r; else printf "%.1f", r }')" \
      "$(fmt_ms "$(hf "$id" mean)")" "$(fmt_ms "$(hf "$id" 'stddev // 0')")" \
      "$(fmt_ms "$(hf "$id" min)")" "$(fmt_ms "$(hf "$id" max)")" \
      "$(fmt_ms "$(jq -r '.results[0] | .user + .system' "$work/json/$id.json")")" "$runs"
  done
  echo
  hop_codes=$(jq -r '.results[0].exit_codes | group_by(.) | map("\(length)× \(.[0])") | join(", ")' "$work/json/hop_curl_v2.json")
  echo "Row 8 exits: $hop_codes (124 = killed by \`timeout\`: the recipe's \`curl -X PUT\` never returns when the token answer is dropped; without \`timeout\` it would wait forever)."
  echo "Row 7: ddboot gives the token request 250 ms, then falls back to IMDSv1 and starts the app with DD_AGENT_HOST=$HOP_IP (checked before timing, like every row with a host: each row was first run once with the app replaced by \`printenv DD_AGENT_HOST\`)."
  echo "Row 2 sent no request to the IMDS mock (checked from its log), although IMDS was enabled."
  echo "The Managed Instances daemon row (\`daemon-bridge\`: one task metadata request on loopback, then DD_AGENT_HOST=169.254.172.2): $(fmt_ms "$(hf mi_daemon median)"), $(awk -v a="$(hf mi_daemon median)" -v b="$file" 'BEGIN { printf "%+.2f", (a - b) * 1000 }') ms against the metadata-file path; it sent no request to the IMDS mock either (checked from its log)."
  if [ -n "$baselines" ]; then
    echo "Row 9, for scale: a whole static glibc process (fork, execve, startup, exit) costs $(fmt_ms "$(hf hello median)") here; ddboot's metadata-file path adds $delta_file ms to the bare exec, i.e. one execve and static-glibc startup of its own (see *Where the metadata-file path's time goes*)."
  fi
  echo
  echo "Commands (\`ddboot\` = the static binary, \`\$T\` = the temp dir, the port is the mock's):"
  echo
  echo '```sh'
  i=0
  for row in "${rows[@]}"; do
    IFS='|' read -r id label envs cmd _ <<<"$row"
    i=$((i + 1))
    e=
    [ "$envs" = - ] || e="$envs "
    printf '%s\n' "# $i. $label" "$e$cmd" | sed -e "s|$DDBOOT_MUSL|ddboot-musl|g" -e "s|$DDBOOT|ddboot|g" -e "s|$work|\$T|g" -e "s|$root/||g"
  done
  echo '```'
  echo
  echo "## Memory"
  echo
  echo "Peak RSS (\`/usr/bin/time -f %M\`, worst of $RSS_RUNS runs) of \`ddboot --explain\`:"
  echo
  echo "| path | peak RSS |"
  echo "|---|---|"
  echo "| metadata file | ${rss_path[file]} KiB |"
  echo "| IMDSv2 | ${rss_path[v2]} KiB |"
  echo "| hop limit (token timeout, IMDSv1) | ${rss_path[hop]} KiB |"
  echo
  echo "## Size"
  echo
  echo "\`scripts/build-static.sh\`: **$size_bytes bytes** ($(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1024 }') KiB), stripped."
  echo
  echo "\`scripts/release.sh\` (what users deploy: static musl, stripped, release profile):"
  echo
  for b in "${release_bins[@]}"; do
    echo "- \`$(basename "$b")\`: **$(stat -c %s "$b") bytes** ($(awk -v b="$(stat -c %s "$b")" 'BEGIN { printf "%.1f", b / 1024 }') KiB)"
  done
  echo
  if [ -n "$baselines" ]; then
    hello=$(stat -c %s "$baselines/hello")
    all=$(stat -c %s "$baselines/all")
    echo "### What each runtime dependency costs"
    echo
    echo "\`scripts/bench/sizes/\`: static binaries built exactly like ddboot (same profile, same flags, same crate versions and features): a hello world, hello world plus a minimal use of one dependency shaped like ddboot's, all of them together, and all but one."
    echo "*Alone* = that binary minus hello world; *in company* = all minus all-but-it (what removing it from ddboot would save, roughly)."
    echo
    echo "| binary | size | alone | in company |"
    echo "|---|---|---|---|"
    echo "| static hello world (glibc + std) | $hello | — | — |"
    for dep in clap tokio hyper serde_json which nix; do
      d=$(stat -c %s "$baselines/$dep") b=$(stat -c %s "$baselines/all_but_$dep")
      printf '| + %s | %s | +%s KiB | %s KiB |\n' "$dep" "$d" \
        "$(awk -v a="$d" -v h="$hello" 'BEGIN { printf "%.1f", (a - h) / 1024 }')" \
        "$(awk -v a="$all" -v b="$b" 'BEGIN { printf "%.1f", (a - b) / 1024 }')"
    done
    echo "| all six | $all | +$(awk -v a="$all" -v h="$hello" 'BEGIN { printf "%.1f", (a - h) / 1024 }') KiB | — |"
    echo "| **ddboot** | **$size_bytes** | +$(awk -v a="$size_bytes" -v h="$hello" 'BEGIN { printf "%.1f", (a - h) / 1024 }') KiB | — |"
    echo
    echo "hyper runs on tokio's runtime: its *alone* includes tokio's, and tokio's *in company* includes hyper's."
    echo
    echo "Budget left: $(awk -v b="$size_bytes" -v t="$TARGET_SIZE" 'BEGIN { printf "%.1f", (t - b) / 1024 }') KiB; the static hello world alone takes $(awk -v h="$hello" -v t="$TARGET_SIZE" 'BEGIN { printf "%.0f", 100 * h / t }')% of the 2 MiB."
    echo
  fi
  if [ -n "$bloat_json" ]; then
    echo "### cargo-bloat, per crate"
    echo
    echo "\`cargo bloat --release --target $TRIPLE --crates\` with \`RUSTFLAGS=\"-C target-feature=+crt-static\"\` (not stripped, so the file is larger: $(jq -r '."file-size"' "$bloat_json") bytes; .text $(jq -r '."text-section-size"' "$bloat_json") bytes). With LTO and \`opt-level = \"z\"\` much of tokio, clap and serde_json is inlined into \`ddboot\`'s own functions, so these per-crate numbers understate the dependencies (see the table above); \`[Unknown]\` is mostly static glibc."
    echo
    echo "| crate | .text | share of .text |"
    echo "|---|---|---|"
    jq -r '."text-section-size" as $t | .crates[:12][] | "| \(.name) | \(.size / 1024 * 10 | round / 10) KiB | \(.size * 1000 / $t | round / 10)% |"' "$bloat_json"
    echo
  fi
  if [ $straced = yes ]; then
    echo "## Syscalls"
    echo
    echo "\`strace\` of one \`ddboot -q -- /bin/true\` per path, from ddboot's execve up to and including its execve of the app:"
    echo
    for path in file v2; do
      echo "<details><summary>$([ $path = file ] && echo "metadata-file path" || echo "IMDSv2 path"): $(wc -l <"$work/strace.$path") system calls — $(sed -E 's/^([a-z_0-9]+)\(.*/\1/' "$work/strace.$path" | sort | uniq -c | sort -rn | awk '{ printf "%s%s×%s", (NR > 1 ? ", " : ""), $2, $1 }')</summary>"
      echo
      echo '```'
      cat "$work/strace.$path"
      echo '```'
      echo "</details>"
      echo
    done
  fi
  if [ $profiled = yes ]; then
    cpuid_re='intel_check_word|handle_intel|handle_amd|handle_zhaoxin|get_common_cache_info|get_common_indices|get_extended_indices|update_active|init_cpu_features|init_cacheinfo|dl_init_cacheinfo'
    echo "## Where the metadata-file path's time goes"
    echo
    echo "\`perf record -F 20000\` over 500 runs of \`ddboot -q -- /bin/true\` (the unstripped build from the cargo-bloat step: same code, with symbols), samples of the ddboot process from its execve up to its execve of the app:"
    echo
    echo "| part | share of ddboot's samples |"
    echo "|---|---|"
    awk -v re="$cpuid_re" '{ p = $1; sub("%", "", p); sym = $NF
      if ($2 == "[kernel.kallsyms]") k += p; else if (sym ~ re) c += p; else if (sym ~ /ddboot|clap|serde|tokio|which|nix|core::|alloc::|std::/) r += p; else o += p }
      END { printf "| glibc static startup: CPU feature and cache-size detection (`cpuid`, trapped by the hypervisor) | %.1f%% |\n", c
            printf "| kernel: execve, page faults, tearing the address space down at the second execve | %.1f%% |\n", k
            printf "| other libc code (static-PIE self-relocation, malloc, stdio, std runtime setup) | %.1f%% |\n", o
            printf "| Rust code: ddboot, clap, serde_json, std | %.1f%% |\n", r }' "$work/perf.sym"
    echo
    echo "Samples per process: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }' "$work/perf.comm") (\`true\` is the app after the execve, \`sh\` the loop)."
    echo
    echo "<details><summary>top symbols</summary>"
    echo
    echo '```'
    head -n 25 "$work/perf.sym"
    echo '```'
    echo "</details>"
    echo
  fi
  if [ $smoke = no ]; then
    echo "## PID 1 (\`--init\`, signals before the app starts)"
    echo
    echo "\`scripts/bench-init.sh\` (the static musl binary as PID 1 of a PID namespace, IMDS disabled, the host from a metadata file; signals sent from outside the namespace):"
    echo
    grep '^|' "$work/bench-init.md"
    echo
    echo "\`scripts/e2e-container-init.sh\` with \`STOP_TIMEOUT=30\` (podman + runc, \`--network none\`; the image holds the static ddboot, Debian's python3.11 and node with their libraries, and tini-static; stop time is \`podman stop\`'s wall time, podman's own work included; exit $init_rc):"
    echo
    sed -n '/^podman stop -t/,$p' "$work/container-init.txt" | grep -v '^e2e-container-init:'
    echo
    grep 'container teardown included' "$work/container-init.txt" | tail -n 1 | sed 's/^ *//; s/^/Stop during resolution (ddboot as PID 1, 5 s deadline, stop at 1 s, the app never started): /'
    echo
  fi
  if [ -n "$before_bin" ]; then
    echo "## IMDSv2 start time against an earlier build (paired)"
    echo
    echo "\`scripts/bench-paired.sh\` with BEFORE = ${before_label:-\`$before_bin\`} and AFTER = this report's binary: the same loopback mockmeta (\`--local-ipv4 $IMDS_IP\`); ${paired_shape[0]} pairs of runs after $((paired_shape[0] / 20)) warm-up pairs, interleaved run by run (BEFORE then AFTER, then AFTER then BEFORE, ...) by \`scripts/bench/paired.py\`, each run timed from \`posix_spawn\` to the reaped exit with its output on /dev/null, so that a load change hits both builds alike. Each command is \`BIN --socket-dir \$T/sockets -- /bin/true\` in a cleared environment with \`AWS_EC2_METADATA_SERVICE_ENDPOINT\` on the mock; both printed \`DD_AGENT_HOST=$IMDS_IP (imdsv2, …)\` before timing."
    echo
    cat "$work/paired.md"
    echo
  fi
  echo "## Start storm"
  echo
  echo "\`scripts/storm.sh\`$([ $smoke = yes ] && echo " --no-timing") (exit $storm_rc):"
  echo
  cat "$work/storm.md"
} >"$report"

if [ $smoke = yes ]; then
  if [ -z "$out" ]; then
    keep=$(mktemp "${TMPDIR:-/tmp}/ddboot-bench-smoke.XXXXXX.md")
    cp "$report" "$keep"
    report=$keep
  fi
  echo "bench --smoke: everything ran; report (not BENCHMARKS.md): $report" >&2
  [ "$storm_rc" -eq 0 ] || echo "bench --smoke: NOTE the storm's assertions failed (exit $storm_rc); not fatal in smoke mode" >&2
  exit 0
fi
echo "bench: wrote $report" >&2
if grep -q 'FAIL' "$work/bench-init.md" 2>/dev/null; then
  missed=$((missed + 1))
fi
if [ "$missed" -gt 0 ] || [ "$storm_rc" -ne 0 ] || [ "$init_rc" -ne 0 ]; then
  echo "bench: $missed target(s) missed, storm exit $storm_rc, PID 1 scripts exit $init_rc" >&2
  exit 1
fi
