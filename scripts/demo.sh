#!/usr/bin/env bash
# The main job end to end on this machine, with bundled mocks on loopback only:
# a mock IMDS (mockmeta) on 127.0.0.1 and an ECS metadata file in a temp dir stand in for AWS.
# Nothing here can reach the real 169.254.169.254: every run overrides the endpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/target-dir.sh
echo "building ddboot and the mock (cargo build; a first build takes about a minute)" >&2
cargo build -q -p ddboot -p mockmeta
bin=$target_dir/debug
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# start_mock NAME ARGS... : runs mockmeta, waits for its URL, stores it in $url
start_mock() {
  local name=$1; shift
  "$bin/mockmeta" --ready-file "$work/$name.url" --log "$work/$name.log" "$@" >/dev/null &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$name.url" ] && break; sleep 0.02; done
  url=$(cat "$work/$name.url")
}
section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show_app_env() { "$bin/ddboot" "$@" -- /bin/sh -c 'echo "app: pid $$, DD_AGENT_HOST=${DD_AGENT_HOST-<unset>} DD_SERVICE=${DD_SERVICE-<unset>}"'; }

start_mock imds --local-ipv4 10.0.1.43 --tokens required
imds_url=$url
start_mock hoplimit --local-ipv4 10.0.1.44 --put hang
hop_url=$url

section "1. ECS metadata file (READY, HostPrivateIPv4Address): no network request at all"
cat > "$work/metadata.json" <<'JSON'
{"Cluster":"default","ContainerName":"app","Networks":[{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.2"]}],
 "MetadataFileStatus":"READY","HostPrivateIPv4Address":"10.0.1.42"}
JSON
ECS_CONTAINER_METADATA_FILE="$work/metadata.json" AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url" \
  show_app_env --dd-service demo-api

section "2. IMDSv2 (token required) when there is no metadata file: ddboot --explain"
AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url" "$bin/ddboot" --explain || true
AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url" show_app_env
echo "mock IMDS saw: $(grep -c '"PUT"' "$work/imds.log") token PUTs, $(grep '"GET"' "$work/imds.log" | grep -c '"X-aws-ec2-metadata-token":') GETs with a token, $(grep '"GET"' "$work/imds.log" | grep -vc '"X-aws-ec2-metadata-token":') without"

section "3. Hop limit: the token PUT is never answered; ddboot falls back to IMDSv1 within the deadline"
AWS_EC2_METADATA_SERVICE_ENDPOINT="$hop_url" show_app_env
echo "(the documented recipe, curl without --max-time, would wait here forever)"

section "4. Nothing answers: fail open, the app starts without DD_AGENT_HOST"
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9 DD_AGENT_HOST= show_app_env

section "5. --print-env for existing startup scripts"
AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds_url" "$bin/ddboot" -q --print-env --dd-env "it's prod"
