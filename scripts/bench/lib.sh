# shellcheck shell=bash disable=SC2034
# Shared by scripts/bench.sh and scripts/storm.sh (sourced, not run).
#
# Network rule: every process started through these helpers talks to loopback only. The mocks
# listen on 127.0.0.1 (or on 0.0.0.0 inside a fresh network namespace that has nothing but lo),
# every ddboot run gets an explicit IMDS endpoint on loopback or AWS_EC2_METADATA_DISABLED=true,
# and the real metadata addresses are refused by `guard_loopback`.

# The variables every measured process is started with (and nothing else): see `clean_env`.
BENCH_PATH=/usr/local/bin:/usr/bin:/bin

# clean_env [--exec] VAR=VALUE... -- CMD...: runs CMD with only PATH, HOME, LANG=C, a curl config
# home without a .curlrc, no proxy at all, AWS_EC2_METADATA_DISABLED=true unless an endpoint is
# given, and the given variables. ECS_CONTAINER_METADATA_URI_V4 and friends are never inherited.
# With --exec the calling shell is replaced (by env, then CMD).
clean_env() {
  local vars=() endpoint=no replace=no
  [ "${1:-}" != --exec ] || { replace=yes; shift; }
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in AWS_EC2_METADATA_SERVICE_ENDPOINT=*) endpoint=yes; guard_loopback "${1#*=}" ;; esac
    vars+=("$1"); shift
  done
  shift
  local base=(PATH="$BENCH_PATH" HOME="${BENCH_HOME:?}" CURL_HOME="${BENCH_HOME:?}" LANG=C
              NO_PROXY='*' no_proxy='*')
  [ $endpoint = yes ] || base+=(AWS_EC2_METADATA_DISABLED=true)
  if [ $replace = yes ]; then exec env -i "${base[@]}" "${vars[@]}" "$@"; fi
  env -i "${base[@]}" "${vars[@]}" "$@"
}

# guard_loopback URL: aborts unless URL is http:// on 127.0.0.0/8.
guard_loopback() {
  case $1 in
    http://127.*) ;;
    *) echo "refusing a non-loopback endpoint: $1" >&2; exit 70 ;;
  esac
}

# start_mock DIR NAME ARGS...: starts mockmeta (ready file DIR/NAME.url, log DIR/NAME.log), records
# its pid in MOCK_PIDS, and sets MOCK_URL.
# MOCK_NICE=N (root only) starts it at that niceness.
MOCK_PIDS=()
start_mock() {
  local dir=$1 name=$2; shift 2
  local launch=()
  [ -z "${MOCK_NICE:-}" ] || [ "$(id -u)" != 0 ] || launch=(nice -n "$MOCK_NICE")
  rm -f "$dir/$name.url"
  "${launch[@]}" "${MOCKMETA:?}" --ready-file "$dir/$name.url" --log "$dir/$name.log" "$@" >"$dir/$name.out" 2>&1 &
  MOCK_PIDS+=($!)
  local _
  for _ in $(seq 500); do
    [ -s "$dir/$name.url" ] && break
    kill -0 "$!" 2>/dev/null || { cat "$dir/$name.out" >&2; echo "mockmeta $name died" >&2; exit 1; }
    sleep 0.01
  done
  [ -s "$dir/$name.url" ] || { echo "mockmeta $name did not start" >&2; exit 1; }
  MOCK_URL=$(cat "$dir/$name.url")
}

stop_mocks() {
  local p
  for p in "${MOCK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${MOCK_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  MOCK_PIDS=()
}

# build_all: sets DDBOOT (the static release binary of scripts/build-static.sh) and MOCKMETA
# (release build), unless both are already set.
build_all() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  if [ -z "${DDBOOT:-}" ]; then
    DDBOOT=$("$root/scripts/build-static.sh" | tail -n 1)
  fi
  if [ -z "${MOCKMETA:-}" ]; then
    (cd "$root" && cargo build --release --locked -q -p mockmeta >&2)
    MOCKMETA="$(cd "$root" && . scripts/lib/target-dir.sh && echo "$target_dir")/release/mockmeta"
  fi
  export DDBOOT MOCKMETA
}

# need_tool CMD DEBIAN_PACKAGE: installs the package with apt-get when CMD is missing.
APT_UPDATED=no
need_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $2 (for $1)" >&2
    if [ $APT_UPDATED = no ]; then apt-get update -qq >&2; APT_UPDATED=yes; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
  fi
  command -v "$1" >/dev/null 2>&1 || { echo "missing $1 (apt-get install $2)" >&2; exit 1; }
}
