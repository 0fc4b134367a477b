#!/usr/bin/env bash
# Start storm: N ddboot processes (default 200) released at the same instant against one mock
# IMDS on loopback, twice:
#   1. a healthy mock:                    every app gets DD_AGENT_HOST, <= 2 IMDS requests per start
#   2. a mock answering 503 beyond 8 concurrent requests (--max-concurrent 8, each admitted request
#      held 20 ms so that the limit bites): every app still starts within the deadline, resolved
#      or not, and <= 4 IMDS requests per start
# Each start is `ddboot -q -- sh -c 'echo "$DD_AGENT_HOST" > out/$i'` in a cleared environment
# (`env -i`, see scripts/bench/lib.sh); its wall time is the mtime of out/$i minus a timestamp
# taken right before the exec of env -i and ddboot.
#
# Requests are counted from the mock's --log. When this runs as root it re-executes itself in a
# fresh network namespace (only lo, nothing else) where the mock listens on 0.0.0.0 and start i
# talks to 127.0.0.(i+1): the Host header of every logged request names its start, so the
# maximum per start is exact. Without a namespace only the totals are checked.
#
# usage: scripts/storm.sh [-n N] [--grace-ms MS] [--no-timing] [--report FILE]
#   --grace-ms MS  allowance on top of ddboot's 1 s deadline for the execs and the app shell's
#                  startup under N-way contention (default 500)
#   --mock-nice N  niceness of the mock when root (default -10: the real IMDS does not share the
#                  instance's CPUs with the N starts; 0 to share them equally)
#   --no-timing    do not fail on start times (still measured and printed)
#   --report FILE  also write a Markdown summary there
# DDBOOT and MOCKMETA may point at prebuilt binaries; otherwise they are built. STORM_KEEP=1 keeps
# the temp dir (mock logs, each start's stderr) for inspection.
# Exits 1 when any assertion fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench/lib.sh
. "$here/bench/lib.sh"

n=200 grace_ms=500 timing=yes report=
MOCK_NICE=-10
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift 2 ;;
    --grace-ms) grace_ms=$2; shift 2 ;;
    --no-timing) timing=no; shift ;;
    --mock-nice) MOCK_NICE=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "storm: unknown argument $1" >&2; exit 64 ;;
  esac
done
if [ "$n" -lt 1 ] || [ "$n" -gt 250 ]; then echo "storm: -n must be 1..250" >&2; exit 64; fi
[ -z "$report" ] || report=$(realpath -m "$report")

build_all
need_tool jq jq

# Into a private network namespace when possible (root, unshare, ip).
if [ -z "${STORM_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null \
  && command -v ip >/dev/null && unshare --net true 2>/dev/null; then
  again=(-n "$n" --grace-ms "$grace_ms" --mock-nice "$MOCK_NICE")
  [ $timing = yes ] || again+=(--no-timing)
  [ -z "$report" ] || again+=(--report "$report")
  STORM_NETNS=1 exec unshare --net -- "$BASH" "$0" "${again[@]}"
fi
if [ "${STORM_NETNS:-}" = 1 ]; then
  ip link set lo up
  listen=0.0.0.0:0 attribution=yes
else
  listen=127.0.0.1:0 attribution=no
fi

DEADLINE_MS=1000 # ddboot's default --timeout
work=$(mktemp -d "${TMPDIR:-/tmp}/ddboot-storm.XXXXXX")
BENCH_HOME=$work/home
mkdir -p "$BENCH_HOME" "$work/sockets"
storm_pids=()
cleanup() {
  local p
  for p in "${storm_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_mocks
  if [ -n "${STORM_KEEP:-}" ]; then echo "storm: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
summary=() histograms=()

# storm NAME MAX_PER_START MUST_RESOLVE MOCK_ARGS...
storm() {
  local name=$1 max_per_start=$2 must_resolve=$3; shift 3
  local dir=$work/$name
  mkdir -p "$dir/out" "$dir/t0"
  start_mock "$dir" mock --listen "$listen" --local-ipv4 10.0.1.43 "$@"
  local port=${MOCK_URL##*:}
  # The gate: a FIFO held open for writing here; each start blocks reading it and is released
  # when the last writer closes (this shell, after every start has been forked).
  mkfifo "$dir/gate"
  local gate_w gate_r i
  exec {gate_w}<>"$dir/gate"
  exec {gate_r}<"$dir/gate"
  storm_pids=()
  for i in $(seq 1 "$n"); do
    local url="http://127.0.0.1:$port"
    [ $attribution = no ] || url="http://127.0.0.$((i + 1)):$port"
    (
      exec {gate_w}>&-
      read -r -u "$gate_r" _ || true
      exec {gate_r}<&-
      printf '%s\n' "$EPOCHREALTIME" >"$dir/t0/$i"
      exec 2>"$dir/out/$i.err"
      # shellcheck disable=SC2016 # $DD_AGENT_HOST and $0 are the app's
      clean_env --exec AWS_EC2_METADATA_SERVICE_ENDPOINT="$url" -- \
        "$DDBOOT" -q --socket-dir "$work/sockets" -- \
        /bin/sh -c 'echo "$DD_AGENT_HOST" >"$0"' "$dir/out/$i"
    ) &
    storm_pids+=($!)
  done
  exec {gate_r}<&-
  sleep 0.3 # let the starts reach the gate (not needed for correctness)
  local released=$EPOCHREALTIME
  exec {gate_w}>&-
  local bad_exit=0 p
  for p in "${storm_pids[@]}"; do wait "$p" || bad_exit=$((bad_exit + 1)); done
  local done_at=$EPOCHREALTIME
  storm_pids=()
  stop_mocks
  rm -f "$dir/gate"

  # Starts: which ran, which resolved, how long each took. The app's time is its output file's
  # mtime (the kernel's coarse clock: a few ms of granularity).
  local started=0 resolved=0 empty=0 lat_file=$dir/latency_ms host
  : >"$lat_file"
  for i in $(seq 1 "$n"); do
    [ -e "$dir/out/$i" ] || continue
    started=$((started + 1))
    host=
    read -r host <"$dir/out/$i" || true
    if [ "$host" = 10.0.1.43 ]; then resolved=$((resolved + 1)); elif [ -z "$host" ]; then empty=$((empty + 1)); fi
    printf '%s %s\n' "$(<"$dir/t0/$i")" "$dir/out/$i"
  done >"$dir/t0_and_out"
  if [ -s "$dir/t0_and_out" ]; then
    paste -d ' ' <(cut -d ' ' -f 1 "$dir/t0_and_out") <(cut -d ' ' -f 2 "$dir/t0_and_out" | xargs stat -c %.9Y) |
      awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' >"$lat_file"
  fi
  local stats
  stats=$(sort -n "$lat_file" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - - -"; exit }
    printf "%.1f %.1f %.1f %.1f\n", v[1], v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)], v[NR] }')
  local lat_min lat_p50 lat_p99 lat_max
  read -r lat_min lat_p50 lat_p99 lat_max <<<"$stats"

  # Requests, from the mock's log.
  local log=$dir/mock.log total per_start_max puts gets
  total=$(wc -l <"$log")
  puts=$(jq -s '[.[] | select(.method == "PUT")] | length' "$log")
  gets=$(jq -s '[.[] | select(.method == "GET")] | length' "$log")
  if [ $attribution = yes ]; then
    per_start_max=$(jq -rs 'group_by((.headers.Host // .headers.host)) | map(length) | max // 0' "$log")
    local hosts
    hosts=$(jq -rs 'map((.headers.Host // .headers.host)) | unique | length' "$log")
  else
    per_start_max=n/a hosts=n/a
  fi
  local wall_ms
  wall_ms=$(awk -v a="$done_at" -v b="$released" 'BEGIN { printf "%.0f", (a - b) * 1000 }')

  echo "== storm $name ($n starts at once; mock: $*)"
  echo "   apps started: $started/$n, resolved: $resolved, without DD_AGENT_HOST: $empty, non-zero exits: $bad_exit"
  echo "   start time (t0 before exec ddboot -> app running), ms: min $lat_min, median $lat_p50, p99 $lat_p99, max $lat_max; whole storm ${wall_ms} ms"
  echo "   IMDS requests: $total ($puts PUT, $gets GET) = $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.2f", t / n }') per start; max per start: $per_start_max (starts seen by the mock: $hosts)"
  local histogram=n/a
  if [ $attribution = yes ]; then
    histogram=$(jq -rs --argjson n "$n" 'group_by((.headers.Host // .headers.host)) | map(length) as $c
      | ([range(0; 5)] | map(. as $k | "\($k): \([$c[] | select(. == $k)] | length + (if $k == 0 then $n - ($c | length) else 0 end))")) as $h
      | ($h + ["more: \([$c[] | select(. > 4)] | length)"]) | join(", ")' "$log")
    echo "   starts by number of IMDS requests sent: $histogram"
  fi

  if [ "$empty" -gt 0 ]; then
    echo "   why the unresolved starts failed open (counts of ddboot's warning lines):"
    cat "$dir"/out/*.err | sed -E 's/[0-9]+(\.[0-9]+)? ?ms/N ms/g' | sort | uniq -c | sort -rn | head -8 | sed 's/^/     /'
  fi
  [ "$started" -eq "$n" ] || fail "$name: only $started of $n apps started"
  [ "$bad_exit" -eq 0 ] || fail "$name: $bad_exit starts exited non-zero"
  [ "$empty" -eq 0 ] || [ "$must_resolve" = no ] || fail "$name: $empty apps without DD_AGENT_HOST"
  [ "$must_resolve" = no ] || [ "$resolved" -eq "$n" ] || fail "$name: only $resolved of $n resolved"
  [ "$total" -le $((max_per_start * n)) ] || fail "$name: $total IMDS requests > $max_per_start x $n"
  if [ $attribution = yes ] && [ "$per_start_max" -gt "$max_per_start" ]; then
    fail "$name: a start sent $per_start_max IMDS requests (> $max_per_start)"
  fi
  if [ "$lat_max" != - ] && awk -v m="$lat_max" -v l=$((DEADLINE_MS + grace_ms)) 'BEGIN { exit !(m > l) }'; then
    if [ $timing = yes ]; then
      fail "$name: slowest start took $lat_max ms > deadline $DEADLINE_MS ms + grace $grace_ms ms"
    else
      echo "   (timing not asserted: slowest start $lat_max ms > $((DEADLINE_MS + grace_ms)) ms)"
    fi
  fi
  histograms+=("- $name: starts by number of IMDS requests sent: $histogram")
  summary+=("| $name | $* | $started/$n | $resolved | $lat_p50 | $lat_p99 | $lat_max | $total | $(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.2f", t / n }') | $per_start_max | ≤ $max_per_start |")
}

storm healthy 2 yes --put token --get ok
storm throttled 4 no --put token --get ok --max-concurrent 8 --delay-ms 20

if [ -n "$report" ]; then
  {
    echo "$n ddboot processes released at once by a gate (each forked and waiting first), default 1 s deadline; a start passes the timing check when its app runs within the deadline + ${grace_ms} ms for the execs and the app shell's startup on $(nproc) CPUs$([ "$timing" = yes ] || echo " (not asserted in this run)")."
    echo "The mock runs at niceness $([ "$(id -u)" = 0 ] && echo "${MOCK_NICE:-0}" || echo 0) (the real IMDS does not share the instance's CPUs with the starts); in the throttled storm it answers 503 beyond 8 concurrent requests and holds each admitted request 20 ms, so that the limit bites."
    echo "Start time = the mtime of the app's output file minus a timestamp taken right before \`exec env -i … ddboot\` (includes the execs and the app shell's startup; mtime has a few ms of granularity)."
    if [ $attribution = yes ]; then
      echo "Run in a private network namespace: start i used \`http://127.0.0.(i+1):PORT\`, so the mock log's Host header attributes every request to its start."
    else
      echo "No network namespace available: only totals are checked (per-start maximum not attributable)."
    fi
    echo
    echo "| storm | mock | apps started | resolved | start p50 (ms) | p99 (ms) | max (ms) | IMDS requests | per start | max per start | budget |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${summary[@]}"
    echo
    [ $attribution = no ] || printf '%s\n' "${histograms[@]}"
    echo
    if [ "$failures" -eq 0 ]; then echo "Storm assertions: **PASS**"; else echo "Storm assertions: **FAIL** ($failures)"; fi
  } >"$report"
fi
if [ "$failures" -gt 0 ]; then
  echo "storm: $failures assertion(s) failed"
  exit 1
fi
echo "storm: all assertions passed"
