#!/usr/bin/env bash
# ddboot as users deploy it: the static musl binary as the ENTRYPOINT of a distroless-style image
# (ddboot, one static test app and /etc/passwd: no shell, no curl), run by a real container engine
# (podman with runc), PID 1 in its container. The container joins a network namespace this
# script creates, whose only interface is its loopback, where the bundled mocks (mockmeta) serve
# IMDS: nothing can reach the real metadata services from in there (there is no route).
# Shown: DD_AGENT_HOST from the ECS metadata file, from IMDSv2 and through the hop-limit fallback
# (a mock whose token PUT never answers); the app is PID 1; the documented
# `sh -c "export DD_AGENT_HOST=$(curl ...)"` recipe cannot start in that image; a read-only root
# filesystem and --user 1000 work; and how long `podman stop` takes in exec mode. Then
# scripts/e2e-container-init.sh adds the PID 1 rows: `--init` and `tini --` against exec mode.
#   scripts/e2e-container.sh [DDBOOT_MUSL_BINARY]     (default: builds it with scripts/release.sh)
# Needs root, podman, runc and iproute2 (.ci/run installs them). STOP_TIMEOUT (default 10 s)
# is the `podman stop -t` of the stop row. Last line: "e2e-container: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/target-dir.sh
. scripts/lib/musl-bin.sh
stop_timeout=${STOP_TIMEOUT:-10}
cargo build -q --locked -p mockmeta
mockmeta="$target_dir/debug/mockmeta"

work=$(mktemp -d)
ns="ddb-ctr-$$"
image="localhost/ddboot-e2e-distroless:$$"
. scripts/lib/check.sh
. scripts/lib/podman.sh
podman_flags+=(--network "ns:/run/netns/$ns")
mocks=()
cleanup() {
  remove_containers
  for p in "${mocks[@]}"; do kill "$p" 2>/dev/null || true; done
  podman rmi -f "$image" >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== image: distroless-style rootfs with the static musl ddboot"
rootfs=$work/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/ecs" "$rootfs/tmp"
install -m 0755 "$bin" "$rootfs/usr/local/bin/ddboot"
cc -static -Os -o "$rootfs/app" scripts/e2e/container/app.c
strip "$rootfs/app"
printf 'root:x:0:0:root:/:/nonexistent\napp:x:1000:1000:app:/:/nonexistent\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
podman import -q --change 'ENTRYPOINT ["/usr/local/bin/ddboot", "--"]' --change 'CMD ["/app"]' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "  $(basename "$bin"): $(stat -c %s "$bin") bytes; image files: $(tar -tf "$work/rootfs.tar" | grep -v '/$' | tr '\n' ' ')"

echo "== network namespace $ns: loopback only, the mocks on 127.0.0.1"
ip netns add "$ns"
ip -n "$ns" link set lo up
start_mock() { # start_mock PORT ARGS...: mockmeta inside the namespace
  local port=$1; shift
  ip netns exec "$ns" "$mockmeta" --listen "127.0.0.1:$port" --ready-file "$work/mock-$port.url" \
    --log "$work/mock-$port.log" "$@" >/dev/null &
  mocks+=($!)
  for _ in $(seq 200); do [ -s "$work/mock-$port.url" ] && return; sleep 0.02; done
  echo "mockmeta on $port did not start" >&2; exit 1
}
start_mock 18080 --local-ipv4 10.0.1.43 --tokens required
start_mock 18081 --local-ipv4 10.0.1.44 --put hang
cat >"$work/metadata.json" <<'JSON'
{"MetadataFileStatus": "READY", "HostPrivateIPv4Address": "10.9.8.7", "Cluster": "e2e"}
JSON
chmod 0644 "$work/metadata.json"

# run NAME PODMAN_ARGS... -- IMAGE_ARGS...: one container to completion; sets $out, $code, $ms
run() {
  local name=$1; shift
  local opts=() started
  while [ "$1" != "--" ]; do opts+=("$1"); shift; done
  shift
  containers+=("$name")
  started=$(date +%s%N)
  code=0
  out=$(timeout 60 podman run --name "$name" "${podman_flags[@]}" "${opts[@]}" "$image" "$@" 2>&1) ||
    code=$?
  ms=$(ms_since "$started")
  podman rm -f "$name" >/dev/null 2>&1 || true
  printf '%s\n' "$out" | sed 's/^/    | /'
}
rows=()
resolved() { # resolved CASE HOST SOURCE HOW: after run, the checks of a case where ddboot resolves
  # HOST (through SOURCE; "-": nothing found), and its table row
  local case=$1 host=$2 source=$3 how=$4
  check "exit 0" [ "$code" -eq 0 ]
  check "DD_AGENT_HOST $how" contains "$out" "DD_AGENT_HOST=$host "
  [ "$source" = - ] || check "source $source" contains "$out" "($source"
  row "$case" "$host" "$source" "$ms" "$code"
}
row() { # row CASE HOST SOURCE MS EXIT: ddboot's own time comes from its status line in $out
  local own
  own=$(sed -n 's/.*ddboot: DD_AGENT_HOST=[^ ]* ([a-z0-9-]*, \([0-9.]* ms\)).*/\1/p; s/.*not resolved after \([0-9.]* ms\).*/\1/p' <<<"$out" | head -n 1)
  rows+=("$(printf '| %-34s | %-10s | %-13s | %10s | %8s ms | %4s |' "$1" "$2" "$3" "${own:--}" "$4" "$5")")
}

echo "== 1. ECS metadata file (bind-mounted read-only), IMDS disabled"
run e2e-file-$$ -v "$work/metadata.json:/ecs/metadata.json:ro" \
  -e ECS_CONTAINER_METADATA_FILE=/ecs/metadata.json -e AWS_EC2_METADATA_DISABLED=true -- /app
resolved "metadata file" 10.9.8.7 metadata-file "from the metadata file"
check "the app is PID 1 (exec mode)" contains "$out" "pid=1 "

echo "== 2. IMDSv2 (tokens required) through AWS_EC2_METADATA_SERVICE_ENDPOINT"
run e2e-imds-$$ -e AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:18080 -- /app
resolved IMDSv2 10.0.1.43 imdsv2 "from IMDSv2"
check "the token PUT was made" grep -q '"PUT"' "$work/mock-18080.log"

echo "== 3. hop-limit fallback: the token PUT never answers"
run e2e-hop-$$ -e AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:18081 -- /app
resolved "hop limit (PUT hangs)" 10.0.1.44 imdsv1 "through IMDSv1"

echo "== 4. nothing to find: the app still starts (fail-open), no empty DD_AGENT_HOST"
run e2e-none-$$ -e AWS_EC2_METADATA_DISABLED=true -- /app
resolved "nothing (fail-open)" "<unset>" - unset

echo "== 5. read-only root filesystem, --user 1000"
run e2e-ro-$$ --read-only --user 1000:1000 -e AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:18080 -- /app
resolved "--read-only --user 1000" 10.0.1.43 imdsv2 resolved
check "runs as uid 1000" contains "$out" "uid=1000 "

echo "== 6. the documented recipe in the same image"
run e2e-recipe-$$ --entrypoint sh -- -c \
  'export DD_AGENT_HOST=$(curl http://127.0.0.1:18080/latest/meta-data/local-ipv4); /app'
check "cannot start: no sh in the image (exit 127)" [ "$code" -eq 127 ]
row "sh -c \"export ...\$(curl ...)\"" "-" "cannot start" "$ms" "$code"

echo "== 7. podman stop -t $stop_timeout in exec mode: the app (no SIGTERM handler) is PID 1"
name=e2e-stop-$$
podman_run "$name" -e AWS_EC2_METADATA_DISABLED=true "$image" /app sleep
check "the app is running as PID 1" wait_for_log "$name" '^ready pid=1$'
timed_stop "$name" "$stop_timeout"
echo "    | stopped in $stop_ms ms, exit $stop_code"
check "SIGTERM is ignored by a handler-less PID 1: SIGKILL after the timeout (exit 137)" [ "$stop_code" -eq 137 ]
out=""
row "podman stop -t $stop_timeout (exec mode)" "-" "-" "$stop_ms" "$stop_code"

echo
echo "| case                               | host       | source        | ddboot     | podman run  | exit |"
echo "|------------------------------------|------------|---------------|------------|-------------|------|"
printf '%s\n' "${rows[@]}"
echo "(ddboot: the time ddboot reported, start to exec; podman run: the whole run, container set-up included)"
echo "e2e-container: $passed passed, $failed failed"

# PID 1 beyond exec mode: --init and tini against the same handler-less apps (Python, Node.js),
# orphans, a stop during resolution. Its own image (it needs Python and Node.js).
echo
echo "== PID 1 rows: scripts/e2e-container-init.sh (exec mode, --init, tini; STOP_TIMEOUT=$stop_timeout)"
init_rc=0
STOP_TIMEOUT=$stop_timeout bash scripts/e2e-container-init.sh "$bin" || init_rc=$?
[ "$failed" -eq 0 ] && [ "$init_rc" -eq 0 ]
