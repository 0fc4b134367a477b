#!/usr/bin/env bash
# PID 1 in a real container (issue 11): `podman stop` (SIGTERM from outside, like ECS StopTask)
# of handler-less apps with ddboot as PID 1 in exec mode, with `ddboot --init`, and under
# `tini -- ddboot`, in one run; orphans left by the app counted as zombies (exec vs --init); and
# a stop sent while ddboot, as PID 1, is still resolving. The image is a second rootfs beside the
# distroless one of scripts/e2e-container.sh: the static ddboot, Python 3 (this machine's
# /usr/bin/python3.11, its libraries and only the stdlib files an app importing `time` loads),
# Node.js (/usr/bin/node and its libraries) and tini (Debian's tini-static).
#   scripts/e2e-container-init.sh [DDBOOT_STATIC_BINARY]   (or DDBOOT_BIN; default: the x86_64
#   musl binary of scripts/release.sh)
# Needs root, podman and runc. Every container runs with --network none (nothing can reach the
# metadata services) and gets the ECS metadata file bind-mounted read-only. STOP_TIMEOUT
# (default 30, ECS's default stopTimeout) is the `podman stop -t`; the exec-mode rows wait for
# it, so the run takes about 2 × STOP_TIMEOUT + 30 s. Prints a table; the last line is
# "e2e-container-init: N passed, N failed"; exit status 0 only when nothing failed.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/target-dir.sh
. scripts/lib/musl-bin.sh
stop_timeout=${STOP_TIMEOUT:-30}
python=/usr/bin/python3.11
node=/usr/bin/node
tini=/usr/bin/tini-static
for f in "$python" "$node" "$tini"; do
  [ -x "$f" ] || { echo "e2e-container-init: $f is missing (apt-get install python3.11-minimal nodejs tini)" >&2; exit 1; }
done

work=$(mktemp -d)
image="localhost/ddboot-e2e-init:$$"
. scripts/lib/check.sh
. scripts/lib/podman.sh
podman_flags+=(--network none -e AWS_EC2_METADATA_DISABLED=true)
cleanup() {
  remove_containers
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== image: static ddboot, Python 3, Node.js, tini"
rootfs=$work/rootfs
mkdir -p "$rootfs"/{usr/local/bin,usr/bin,etc,ecs,tmp,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
install -m 0755 "$bin" "$rootfs/usr/local/bin/ddboot"
install -m 0755 "$tini" "$rootfs/usr/bin/tini"
copy() { # copy FILE...: into the rootfs at the same path, keeping symlinks' targets
  local f
  for f in "$@"; do
    mkdir -p "$rootfs$(dirname "$f")"
    cp -L "$f" "$rootfs$f"
  done
}
copy "$python" "$node"
ln -s python3.11 "$rootfs/usr/bin/python3"
copy $(ldd "$python" "$node" | grep -o '/[^ ]*\.so[^ ]*' | sort -u)
# The stdlib files an app that imports os, signal and time loads (site included), with their
# packages' __init__ files; Python finds its prefix through os.py.
"$python" -c '
import os, signal, sys, time
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if f and os.path.exists(f):
        print(os.path.realpath(f))
' | while read -r f; do copy "$f"; done
mkdir -p "$rootfs$(dirname "$(realpath "$("$python" -c 'import os; print(os.__file__)')")")/lib-dynload"
printf 'root:x:0:0:root:/:/nonexistent\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
cat >"$rootfs/ecs/metadata.json" <<'JSON'
{"MetadataFileStatus": "READY", "HostPrivateIPv4Address": "10.9.8.7", "Cluster": "e2e"}
JSON
cat >"$work/early.json" <<'JSON'
{"Cluster": "e2e"}
JSON
chmod 0644 "$rootfs/ecs/metadata.json" "$work/early.json"
tar -C "$rootfs" -cf "$work/rootfs.tar" .
podman import -q "$work/rootfs.tar" "$image" >/dev/null
echo "  rootfs: $(du -sh "$rootfs" | cut -f1), $(find "$rootfs" -type f | wc -l) files"

py_app=(python3 -c 'import time; print("ready", flush=True); time.sleep(120)')
node_app=(node -e 'setInterval(() => {}, 1000); console.log("ready")')
ddboot=(/usr/local/bin/ddboot --metadata-file /ecs/metadata.json)
rows=()
stop_row() { # stop_row LABEL ENTRYPOINT_ARGS...: starts, waits for "ready", times podman stop
  local label=$1; shift
  local name="e2e-init-$$-${#rows[@]}"
  podman_run "$name" --entrypoint "$1" "$image" "${@:2}"
  if ! wait_for_log "$name" ready; then
    echo "    | $(podman logs "$name" 2>&1 | tail -n 3)"
  fi
  timed_stop "$name" "$stop_timeout"
  podman logs "$name" 2>&1 | grep -v '^ready$' | sed 's/^/    | /'
  podman rm -f "$name" >/dev/null 2>&1 || true
  rows+=("$(printf '| %-40s | %9s ms | %4s |' "$label" "$stop_ms" "$stop_code")")
  echo "  $label: stopped in $stop_ms ms, exit $stop_code"
}
stop_rows() { # stop_rows APP APP_COMMAND...: APP under exec mode, --init and tini, with their checks
  local app=$1; shift
  stop_row "ddboot -> $app (exec mode)" "${ddboot[@]}" -- "$@"
  check "exec mode: $app as PID 1 ignores SIGTERM, SIGKILL after the timeout (137)" [ "$stop_code" -eq 137 ]
  stop_row "ddboot --init -> $app" "${ddboot[@]}" --init -- "$@"
  check "--init: $app stops on SIGTERM with 143" [ "$stop_code" -eq 143 ]
  check "--init: $app stops in < 1000 ms" [ "$stop_ms" -lt 1000 ]
  stop_row "tini -- ddboot -> $app" /usr/bin/tini -- "${ddboot[@]}" -- "$@"
  check "tini: $app stops with 143" [ "$stop_code" -eq 143 ]
}

echo "== podman stop -t $stop_timeout of handler-less apps"
stop_rows Python "${py_app[@]}"
stop_rows Node.js "${node_app[@]}"

echo "== orphans: the app forks 5 children that each leave a grandchild behind"
# The app waits for its own children only (as most apps do), lets the 5 orphans end, then counts
# the zombies in the container.
orphans='
import os, time
for _ in range(5):
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(0.2)
            os._exit(0)
        os._exit(0)
    os.wait()
time.sleep(1)
z = 0
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            if open("/proc/%s/stat" % p).read().rsplit(") ", 1)[1].startswith("Z"):
                z += 1
        except OSError:
            pass
print("zombies=%d" % z, flush=True)
'
zombie_rows=()
for mode in exec init; do
  name="e2e-init-$$-orphans-$mode"
  flags=()
  [ "$mode" = init ] && flags=(--init)
  podman_run "$name" --entrypoint /usr/local/bin/ddboot "$image" \
    --metadata-file /ecs/metadata.json "${flags[@]}" -- python3 -c "$orphans"
  wait_for_log "$name" zombies= || true
  count=$(podman logs "$name" 2>&1 | sed -n 's/^zombies=//p')
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  zombie_rows+=("$(printf '| %-40s | %7s |' "ddboot $([ "$mode" = init ] && echo '--init ')-> Python" "${count:-?}")")
  echo "  $mode mode: ${count:-?} zombies"
  if [ "$mode" = init ]; then
    check "--init reaps the orphans: 0 zombies" [ "${count:-x}" = 0 ]
  else
    check "exec mode leaves the 5 orphans as zombies (the count is real)" [ "${count:-x}" = 5 ]
  fi
done

echo "== SIGTERM while ddboot (PID 1) resolves: metadata file never READY, --timeout 5s, stop at 1 s"
name="e2e-init-$$-resolving"
podman_run "$name" -v "$work/early.json:/ecs/early.json:ro" --entrypoint /usr/local/bin/ddboot \
  "$image" --metadata-file /ecs/early.json --timeout 5s -- python3 -c 'print("APP-RAN", flush=True)'
sleep 1
timed_stop "$name" "$stop_timeout"
logs=$(podman logs "$name" 2>&1)
podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
printf '%s\n' "$logs" | sed 's/^/    | /'
echo "  stopped in $stop_ms ms (podman stop, container teardown included), exit $stop_code"
check "SIGTERM during resolution as PID 1: exit 143" [ "$stop_code" -eq 143 ]
check "the app never started" sh -c "! printf '%s' \"\$1\" | grep -q APP-RAN" _ "$logs"
check "podman stop returned in < 5000 ms (before the deadline)" [ "$stop_ms" -lt 5000 ]

echo
echo "podman stop -t $stop_timeout, handler-less apps (same run):"
echo "| PID 1 -> app                             |   stop time  | exit |"
echo "|------------------------------------------|--------------|------|"
printf '%s\n' "${rows[@]}"
echo
echo "Orphans (5 children each leave a grandchild; the app waits for its children only):"
echo "| PID 1 -> app                             | zombies |"
echo "|------------------------------------------|---------|"
printf '%s\n' "${zombie_rows[@]}"
echo
echo "e2e-container-init: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
