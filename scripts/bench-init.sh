#!/usr/bin/env bash
# The --init targets of issue 11, measured on this machine with the static ddboot as PID 1 of a
# PID namespace (`unshare --pid --fork --mount-proc`), IMDS disabled, the host from a metadata
# file in a temp dir (no network at all):
#   1. SIGTERM to exit of a handler-less Python app under --init (median of 20);
#   2. SIGTERM during resolution (metadata file never READY, --timeout 5s) to ddboot's exit, as
#      PID 1 (median of 20);
#   3. the init parent while the app runs: RSS (VmRSS) and CPU ticks (utime+stime) over 10 s;
#   4. forwarding latency: kill(ddboot, SIGUSR1) to the app's return from sigwaitinfo, median of
#      100 (CLOCK_MONOTONIC on both sides), next to the same app signalled directly.
#   scripts/bench-init.sh [DDBOOT_STATIC_BINARY]   (or DDBOOT_BIN; default: a musl release build)
# Needs root (PID namespaces) and python3. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/target-dir.sh
. scripts/lib/musl-bin.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '{"MetadataFileStatus": "READY", "HostPrivateIPv4Address": "10.9.8.7"}\n' >"$work/ready.json"
printf '{"Cluster": "bench"}\n' >"$work/early.json"

exec /usr/bin/python3 - "$bin" "$work" <<'PY'
import os, signal, statistics, subprocess, sys, time

ddboot, work = sys.argv[1], sys.argv[2]
ENV = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "DDBOOT_SOCKET_DIR": "/nonexistent"}
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"]

def start(args, ns=True):
    p = subprocess.Popen((UNSHARE if ns else []) + args, env=ENV, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if not ns:
        return p, p.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        if kids and os.path.basename(os.readlink(f"/proc/{kids[0]}/exe")).startswith("ddboot"):
            return p, int(kids[0])
        time.sleep(0.001)
    raise SystemExit("ddboot did not start")

def ms(ns):
    return ns / 1e6

base = [ddboot, "-q", "--metadata-file", f"{work}/ready.json"]
# 1. SIGTERM to exit, handler-less Python under --init.
stops = []
for _ in range(20):
    p, pid = start(base + ["--init", "--", "/usr/bin/python3", "-c",
                           "import time; print('ready', flush=True); time.sleep(120)"])
    assert p.stdout.readline() == b"ready\n"
    t0 = time.monotonic_ns()
    os.kill(pid, signal.SIGTERM)
    code = p.wait(10)
    stops.append(time.monotonic_ns() - t0)
    assert code == 143, code

# 2. SIGTERM during resolution, ddboot as PID 1.
early = []
for _ in range(20):
    p, pid = start([ddboot, "--metadata-file", f"{work}/early.json", "--timeout", "5s", "--",
                    "/bin/echo", "APP-RAN"])
    time.sleep(0.2)
    t0 = time.monotonic_ns()
    os.kill(pid, signal.SIGTERM)
    code = p.wait(10)
    early.append(time.monotonic_ns() - t0)
    assert code == 143 and b"APP-RAN" not in p.stdout.read(), code

# 3. Idle init parent: RSS and CPU ticks over 10 s.
p, pid = start(base + ["--init", "--", "/bin/sh", "-c", "echo ready; exec sleep 60"])
assert p.stdout.readline() == b"ready\n"
def ticks():
    f = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
    return int(f[11]) + int(f[12])
def status(key):
    return next(l.split(":", 1)[1].strip() for l in open(f"/proc/{pid}/status") if l.startswith(key + ":"))
t_before = ticks()
time.sleep(10)
idle_ticks = ticks() - t_before
rss, hwm, threads = status("VmRSS"), status("VmHWM"), status("Threads")
os.kill(pid, signal.SIGTERM)
p.wait(10)

# 4. Forwarding latency: the app blocks SIGUSR1 and waits for it with sigwaitinfo.
APP = r"""
import os, signal, sys, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})
print("ready", flush=True)
while True:
    s = signal.sigwaitinfo({signal.SIGUSR1, signal.SIGTERM})
    t = time.monotonic_ns()
    if s.si_signo == signal.SIGTERM:
        break
    print(t, flush=True)
"""
def latencies(args, ns):
    p, pid = start(args, ns)
    assert p.stdout.readline() == b"ready\n"
    out = []
    for _ in range(100):
        t0 = time.monotonic_ns()
        os.kill(pid, signal.SIGUSR1)
        out.append(int(p.stdout.readline()) - t0)
        time.sleep(0.005)
    os.kill(pid, signal.SIGTERM)
    p.wait(10)
    return out
forwarded = latencies(base + ["--init", "--", "/usr/bin/python3", "-c", APP], True)
direct = latencies(["/usr/bin/python3", "-c", APP], False)

med = lambda v: ms(statistics.median(v))
p90 = lambda v: ms(sorted(v)[int(len(v) * 0.9)])
print("| target | measured | result |")
print("|---|---|---|")
print(f"| SIGTERM to exit, handler-less Python under `--init` (PID 1 of a PID namespace) < 1 s | median {med(stops):.1f} ms, max {ms(max(stops)):.1f} ms (20 runs) | **{'PASS' if max(stops) < 1e9 else 'FAIL'}** |")
print(f"| SIGTERM during resolution, ddboot as PID 1, to its exit < 200 ms | median {med(early):.2f} ms, max {ms(max(early)):.2f} ms (20 runs) | **{'PASS' if max(early) < 2e8 else 'FAIL'}** |")
print(f"| init parent RSS while waiting ≤ 1.5 MiB | VmRSS {rss} (VmHWM {hwm}), {threads} thread | **{'PASS' if int(rss.split()[0]) <= 1536 else 'FAIL'}** |")
print(f"| init parent CPU over 10 s idle = 0 ticks | {idle_ticks} ticks | **{'PASS' if idle_ticks == 0 else 'FAIL'}** |")
print(f"| signal forwarded to the app ≤ 1 ms (median of 100) | median {med(forwarded):.3f} ms, p90 {p90(forwarded):.3f} ms; the same app signalled directly: median {med(direct):.3f} ms, p90 {p90(direct):.3f} ms | **{'PASS' if med(forwarded) <= 1 else 'FAIL'}** |")
PY
