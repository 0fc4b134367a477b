# Sourced by the container end-to-end scripts (scripts/e2e-container.sh and
# scripts/e2e-container-init.sh): podman with the flags this machine needs ($podman_flags: runc,
# bounded ulimits, no Agent sockets; a script adds its network with `podman_flags+=(...)`), the
# containers a script made ($containers, removed by remove_containers, which its cleanup calls),
# waiting for a line in a container's log, and a timed `podman stop`.
# Usage: . scripts/lib/check.sh; . scripts/lib/podman.sh   (from the repository root)
containers=()
podman_flags=(--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
  -e DDBOOT_SOCKET_DIR=/nonexistent)
remove_containers() {
  local c
  for c in "${containers[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}
podman_run() { # podman_run NAME ARGS...: a container, detached, with $podman_flags
  local name=$1; shift
  containers+=("$name")
  podman run -d --name "$name" "${podman_flags[@]}" "$@" >/dev/null
}
wait_for_log() { # wait_for_log NAME PATTERN: until a line of NAME's log matches, at most 20 s
  local _
  for _ in $(seq 1000); do
    podman logs "$1" 2>&1 | grep -q "$2" && return 0
    sleep 0.02
  done
  return 1
}
timed_stop() { # timed_stop NAME TIMEOUT: `podman stop -t TIMEOUT`; sets $stop_ms and $stop_code
  local started
  started=$(date +%s%N)
  timeout $(($2 + 30)) podman stop -t "$2" "$1" >/dev/null 2>&1 || true
  stop_ms=$(ms_since "$started")
  stop_code=$(podman inspect "$1" --format '{{.State.ExitCode}}')
}
