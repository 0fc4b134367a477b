#!/usr/bin/env bash
# Peak RSS of ddboot under each hostile HTTP peer (docs/reliability.md, "Hostile HTTP peers").
#
#   scripts/hostile-rss.sh [DDBOOT] [MOCKMETA]   (defaults: the release ddboot and the debug
#                                                mockmeta in cargo's target directory)
#   DEADLINE=5s scripts/hostile-rss.sh ...       another deadline (DDBOOT_TIMEOUT; default 1s)
#
# Needs root (unshare -n), /usr/bin/time and iproute2. Everything runs in a new network namespace
# with only loopback up: `mockmeta` there answers both the token PUT and the local-ipv4 GET with
# the hostile peer (`task-trailers`: both task metadata paths, with IMDS disabled), and ddboot
# runs against it with its default 1 s deadline (or $DEADLINE) under
# `/usr/bin/time -v`. One line per peer: KIND, peak RSS (KiB), ddboot's exit code, wall time,
# and ddboot's first "failed" warning (the hostile source's; cut to 160 characters). Without
# arguments it builds ddboot (release) and the mock first, so the default is never a stale build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/target-dir.sh
[ $# -ge 1 ] || cargo build --release --locked -q -p ddboot
[ $# -ge 2 ] || cargo build --locked -q -p mockmeta
ddboot=$(realpath "${1:-$target_dir/release/ddboot}")
mockmeta=$(realpath "${2:-$target_dir/debug/mockmeta}")
for kind in trailers interim headers huge-length huge-until-close task-trailers; do
    unshare -n bash -c '
        set -euo pipefail
        ip link set lo up
        dir=$(mktemp -d)
        if [[ $3 == task-trailers ]]; then
            "$2" --task-metadata hostile:trailers --ready-file "$dir/url" >/dev/null &
        else
            "$2" --put "hostile:$3" --get "hostile:$3" --ready-file "$dir/url" >/dev/null &
        fi
        mock=$!
        for _ in $(seq 200); do [[ -s $dir/url ]] && break; sleep 0.01; done
        url=$(cat "$dir/url")
        if [[ $3 == task-trailers ]]; then
            where=(--task-metadata-uri "$url/v4/mock-container")
            imds=AWS_EC2_METADATA_DISABLED=true
        else
            where=(--imds-endpoint "$url")
            imds=AWS_EC2_METADATA_DISABLED=false
        fi
        code=0
        env -i PATH=/usr/bin:/bin DDBOOT_TIMEOUT="$4" "$imds" /usr/bin/time -v -o "$dir/time" "$1" \
            "${where[@]}" --socket-dir /nonexistent -- /bin/true 2>"$dir/err" || code=$?
        kill "$mock"
        rss=$(sed -n "s/^\tMaximum resident set size (kbytes): //p" "$dir/time")
        wall=$(sed -n "s/^\tElapsed (wall clock) time (h:mm:ss or m:ss): //p" "$dir/time")
        printf "%-17s peak RSS %7s KiB  exit %-3s wall %s  %s\n" "$3" "$rss" "$code" "$wall" \
            "$(grep -m1 " failed: " "$dir/err" | cut -c1-${WARN_CHARS:-160})"
        rm -rf "$dir"
    ' sh "$ddboot" "$mockmeta" "$kind" "${DEADLINE:-1s}"
done
