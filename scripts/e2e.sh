#!/usr/bin/env bash
# End-to-end test of ddboot's tracer injection with real clients, on loopback only.
#
# What runs: the mock IMDS + ECS task metadata endpoint (mockmeta, 127.0.0.1) reports
# local-ipv4 127.0.0.2 and the container's com.datadoghq.tags.{env,service,version} labels;
# Datadog's APM test agent (ddapm-test-agent) listens on 127.0.0.2:8126. Then, each under
# `ddboot --inject …`:
#   Python  ddtrace-run (ddtrace from PyPI), span received by the test agent with the labels' tags;
#           the venv's interpreter named by absolute path and by shebang while the venv is not on
#           PATH (traced), and the system python3 next to a venv on PATH (left unwrapped)
#   Node.js dd-trace@5 (npm), found by ddboot while the cwd is elsewhere; span received likewise
#   PHP     Debian's php8.2-fpm at the default clear_env, queried over FastCGI (cgi-fcgi)
#   Java    a -javaagent jar built here with javac, at a configured path (and a missing one)
#   .NET    environment only, with a fake tracer home (no .NET runtime is installable here)
#   Ruby    Debian's ruby and bundler (ruby-bundler), `ruby` and `bundle exec` with and without a
#           stand-in `datadog` gem in GEM_HOME (no gem registry is reachable here: the real gem
#           cannot be installed, so the stand-in's auto_instrument only records that it loaded)
# Every check prints PASS:/FAIL:; the last line is `e2e: N passed, M failed`; exit 1 on any FAIL.
#
# Installs what it needs, cached under .cache/e2e (gitignored): two Python venvs (test agent,
# ddtrace), dd-trace under .cache/e2e/node, the javac-built jar; php8.2-fpm, libfcgi-bin, ruby and
# ruby-bundler with apt-get when php-fpm8.2, cgi-fcgi, ruby or bundle is missing (needs root or
# sudo). A warm cache skips them.
#
# Network: after the installs, traffic only to loopback. Every ddboot run overrides the IMDS and
# task metadata endpoints (mock), gets an empty --socket-dir, and tracers send only to
# DD_AGENT_HOST=127.0.0.2. As root (unshare), the checks run in a network namespace of their own
# with only lo up, so nothing can get out even by mistake.
#
# Environment knobs: E2E_CACHE (default .cache/e2e), E2E_KEEP=1 keeps the temp dir,
# E2E_NETNS=off runs the checks in the machine's own network namespace,
# E2E_AGENT_PORT (default 8126; another value is given to the tracers as DD_TRACE_AGENT_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib/target-dir.sh
e2e=$root/scripts/e2e
cache=${E2E_CACHE:-$root/.cache/e2e}
bin=$target_dir/debug
export CARGO_TERM_COLOR=never

# Pinned client versions: the cache is reinstalled when one of these changes.
ddtrace_py=4.16.0
test_agent=1.69.1
dd_trace_js=5.132.0

agent_ip=127.0.0.2
agent_port=${E2E_AGENT_PORT:-8126}
agent_url=http://$agent_ip:$agent_port
# What the mock's container labels say (scripts/e2e/container.json).
want_env="e2e-env"
want_service=ddboot-e2e-svc
want_version=1.2.3-e2e
dotnet_profiler='{846F5F1C-F9AE-4B07-969E-05C26BC060D8}'

# now_ms: milliseconds on a monotonic clock (/proc/uptime, 10 ms steps): immune to clock steps
now_ms() {
  local up _
  read -r up _ </proc/uptime
  echo $((10#${up/./} * 10))
}
t0=${E2E_T0:-$(now_ms)}
passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS: %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL: %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$@"; }
# expect_eq DESC ACTUAL EXPECTED
expect_eq() { if [[ $2 == "$3" ]]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi; }
# expect_has DESC HAYSTACK NEEDLE / expect_lacks DESC HAYSTACK NEEDLE
expect_has() { if [[ $2 == *"$3"* ]]; then pass "$1"; else fail "$1: '$3' not in '$2'"; fi; }
expect_lacks() { if [[ $2 != *"$3"* ]]; then pass "$1"; else fail "$1: '$3' found in '$2'"; fi; }
elapsed() {
  local ms=$(($(now_ms) - $1))
  ((ms >= 0)) || ms=0
  printf '%d.%03ds' $((ms / 1000)) $((ms % 1000))
}

# Processes this script started (killed by PID at exit) and its temp dir.
pids=()
work=
summarized=0
cleanup() {
  local status=$? p i
  if ((!summarized)); then
    fail "scripts/e2e.sh stopped early (exit status $status, see the error above)"
    echo "e2e: $passed passed, $failed failed"
  fi
  for p in "${pids[@]}"; do [[ -z $p ]] || kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    [[ -n $p ]] || continue
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  [[ -z $work ]] || if [[ ${E2E_KEEP:-} == 1 ]]; then echo "e2e: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "e2e.sh: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR

# Clean slate: nothing from the caller's environment may steer ddboot, the tracers or the JVM.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(DD_|DDBOOT_|ECS_|AWS_|CORECLR_|COR_)' || true)
unset NODE_OPTIONS NODE_PATH JAVA_TOOL_OPTIONS _JAVA_OPTIONS JDK_JAVA_OPTIONS PYTHONPATH PYTHONSTARTUP
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
# The tracers' side channels go to the agent host (loopback) anyway; keep them quiet and short.
export DD_INSTRUMENTATION_TELEMETRY_ENABLED=false DD_REMOTE_CONFIGURATION_ENABLED=false \
  DD_TRACE_STARTUP_LOGS=false DD_CRASHTRACKING_ENABLED=false DD_PROFILING_ENABLED=false \
  DD_APPSEC_ENABLED=false DD_DATA_STREAMS_ENABLED=false DD_RUNTIME_METRICS_ENABLED=false
[[ $agent_port == 8126 ]] || export DD_TRACE_AGENT_PORT=$agent_port

# ---------------------------------------------------------------------------------------------
section "install (cache: $cache)"
t_install=$(now_ms)
mkdir -p "$cache"
sudo=
[[ $(id -u) == 0 ]] || sudo=sudo

apt_missing=()
command -v php-fpm8.2 >/dev/null || apt_missing+=(php8.2-fpm)
command -v cgi-fcgi >/dev/null || apt_missing+=(libfcgi-bin)
command -v ruby >/dev/null || apt_missing+=(ruby)
command -v bundle >/dev/null || apt_missing+=(ruby-bundler)
if ((${#apt_missing[@]} == 0)); then
  note "apt: php8.2-fpm, libfcgi-bin, ruby and ruby-bundler already installed"
else
  note "apt: installing ${apt_missing[*]}"
  t=$(now_ms)
  # policy-rc.d keeps the package from starting a php-fpm service of its own, where it exists.
  { timeout 600 $sudo apt-get update -q &&
    timeout 900 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends "${apt_missing[@]}"; } >"$cache/apt.log" 2>&1 ||
    { tail -n 20 "$cache/apt.log" || true; fail "apt-get install ${apt_missing[*]} (log: $cache/apt.log)"; }
  note "apt: $(elapsed "$t")"
fi

# venv DIR SPEC: a venv with exactly SPEC installed, reused while its stamp matches.
venv() {
  local dir=$1 spec=$2 stamp t
  stamp="$spec $(python3 -c 'import sys; print(sys.version.split()[0])')"
  if [[ -f $dir/.e2e-stamp && $(cat "$dir/.e2e-stamp") == "$stamp" ]]; then
    note "pip: $spec cached in $dir"
    return 0
  fi
  t=$(now_ms)
  rm -rf "$dir"
  python3 -m venv "$dir"
  timeout 900 "$dir/bin/pip" install -q --disable-pip-version-check --no-input "$spec" >"$dir.log" 2>&1 ||
    { tail -n 20 "$dir.log" || true; return 1; }
  printf '%s\n' "$stamp" >"$dir/.e2e-stamp"
  note "pip: $spec installed in $(elapsed "$t")"
}
# dd-trace for Node.js under $cache/node, reused while its stamp matches.
node_tracer() {
  local stamp t
  stamp="dd-trace@$dd_trace_js $(node --version)"
  if [[ -f $cache/node/.e2e-stamp && $(cat "$cache/node/.e2e-stamp") == "$stamp" ]]; then
    note "npm: dd-trace@$dd_trace_js cached in $cache/node"
    return 0
  fi
  t=$(now_ms)
  rm -rf "$cache/node"
  mkdir -p "$cache/node"
  timeout 900 npm install --prefix "$cache/node" --no-audit --no-fund --omit=dev --loglevel=error \
    "dd-trace@$dd_trace_js" >"$cache/npm.log" 2>&1 || { tail -n 20 "$cache/npm.log" || true; return 1; }
  printf '%s\n' "$stamp" >"$cache/node/.e2e-stamp"
  note "npm: dd-trace@$dd_trace_js installed in $(elapsed "$t")"
}
# The three installs are independent: run them side by side.
venv "$cache/venv-agent" "ddapm-test-agent==$test_agent" &
job_agent=$!
venv "$cache/venv-py" "ddtrace==$ddtrace_py" &
job_py=$!
node_tracer &
job_node=$!
wait "$job_agent" || fail "pip install ddapm-test-agent==$test_agent (log: $cache/venv-agent.log)"
wait "$job_py" || fail "pip install ddtrace==$ddtrace_py (log: $cache/venv-py.log)"
wait "$job_node" || fail "npm install dd-trace@$dd_trace_js (log: $cache/npm.log)"

# The stand-in Java agent: built with javac once per source version.
java_hash=$(cat "$e2e/java/E2eAgent.java" "$e2e/java/E2eApp.java" "$e2e/java/MANIFEST.MF" | sha256sum | cut -c1-16)
java_dir=$cache/java/$java_hash
if [[ -f $java_dir/agent/e2e-agent.jar && -f $java_dir/classes/E2eApp.class ]]; then
  note "javac: agent jar cached in $java_dir"
else
  t=$(now_ms)
  rm -rf "$cache/java"
  mkdir -p "$java_dir/classes" "$java_dir/agent"
  if javac -d "$java_dir/classes" "$e2e/java/E2eAgent.java" "$e2e/java/E2eApp.java" &&
    jar cfm "$java_dir/agent/e2e-agent.jar" "$e2e/java/MANIFEST.MF" -C "$java_dir/classes" E2eAgent.class; then
    note "javac: agent jar built in $(elapsed "$t")"
  else
    fail "javac/jar: build the stand-in Java agent"
  fi
fi
note "install: $(elapsed "$t_install")"

section "build"
t=$(now_ms)
cargo build -q --locked -p ddboot -p mockmeta
note "cargo build -p ddboot -p mockmeta: $(elapsed "$t")"
have_inject=0
if "$bin/ddboot" --help | grep -q -- '--inject'; then
  have_inject=1
  pass "ddboot --help lists --inject"
else
  fail "ddboot --help lists --inject (tracer injection is not in this build: only the no-injection baselines run)"
fi

# The checks need no network but loopback: when this shell may, it runs them again in a network
# namespace of their own whose only interface is lo (127.0.0.0/8), so nothing can leak out
# whatever a tracer tries. The caches are warm by now: the second pass skips straight to them.
if [[ ${E2E_NETNS:-auto} != off && -z ${E2E_IN_NETNS:-} ]] && ((failed == 0)) &&
  command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  note "re-running in a new network namespace (loopback only; E2E_NETNS=off runs here instead)"
  summarized=1
  # shellcheck disable=SC2016  # $0 is the inner shell's
  E2E_IN_NETNS=1 E2E_T0=$t0 exec unshare -n bash -c 'ip link set lo up && exec bash "$0"' "$root/scripts/e2e.sh"
fi
if [[ -n ${E2E_IN_NETNS:-} ]]; then
  note "network: a namespace of its own, with only lo up"
else
  note "network: the machine's own (no unshare here); every endpoint is still on loopback"
fi

# ---------------------------------------------------------------------------------------------
section "services"
work=$(mktemp -d "${TMPDIR:-/tmp}/ddboot-e2e.XXXXXX")

# free_port [HOST]: a TCP port nothing listens on (HOST defaults to 127.0.0.1)
free_port() { python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "${1:-127.0.0.1}"; }
# port_free HOST PORT: nothing listens there (SO_REUSEADDR, as servers bind: TIME_WAIT is no obstacle)
port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))' "$1" "$2" 2>/dev/null
}
# wait_tcp HOST PORT SECONDS [PID]: until a TCP connect succeeds (false on timeout or if PID died)
wait_tcp() {
  local deadline=$(($(now_ms) + $3 * 1000))
  while (($(now_ms) < deadline)); do
    # shellcheck disable=SC2016  # $1/$2 are the inner shell's arguments
    if timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; then return 0; fi
    if [[ -n ${4:-} ]] && ! kill -0 "$4" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}
# http_get URL: loopback only, never through a proxy, bounded
http_get() { curl -sS --noproxy '*' --max-time 5 "$1"; }
# field FILE PREFIX PATH: one field of the JSON line an app printed (<missing> when absent)
field() { python3 "$e2e/field.py" "$@" 2>/dev/null || echo '<missing>'; }
# run NAME CMD...: runs CMD bounded in time; stdout/stderr in $work/NAME.{out,err}; sets rc
run() {
  local name=$1
  shift
  rc=0
  timeout -k 5 60 "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null || rc=$?
}
# show NAME: what a run printed, indented (ddboot's own lines are on stderr)
show() {
  local f
  for f in "$work/$1.err" "$work/$1.out"; do
    [[ -s $f ]] && sed -e 's/^/   | /' "$f" | head -n 40
  done
  return 0
}
mkdir -p "$work/sockets" "$work/elsewhere" "$work/tmp"

"$bin/mockmeta" --listen 127.0.0.1:0 --local-ipv4 "$agent_ip" \
  --container-json "$e2e/container.json" --task-json "$e2e/task.json" \
  --ready-file "$work/mock.url" --log "$work/mock.log" >"$work/mock.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [[ -s $work/mock.url ]] && break; sleep 0.05; done
if [[ -s $work/mock.url ]]; then
  mock_url=$(cat "$work/mock.url")
  pass "mock IMDS + task metadata up at $mock_url (local-ipv4 $agent_ip)"
else
  fail "mock IMDS did not start within 5s"
  mock_url=http://127.0.0.1:9
fi
export AWS_EC2_METADATA_SERVICE_ENDPOINT=$mock_url
export ECS_CONTAINER_METADATA_URI_V4=$mock_url/v4/mock-container
dd=("$bin/ddboot" --socket-dir "$work/sockets")

t=$(now_ms)
if ! port_free "$agent_ip" "$agent_port"; then
  fail "$agent_ip:$agent_port is already in use (a test agent left over?)"
else
  otlp_http=$(free_port "$agent_ip")
  otlp_grpc=$(free_port "$agent_ip")
  (cd "$work" && exec env -u DD_TRACE_AGENT_URL -u DD_AGENT_URL -u DD_API_KEY -u DD_SITE \
    "$cache/venv-agent/bin/ddapm-test-agent" --host "$agent_ip" --port "$agent_port" \
    --otlp-http-port "$otlp_http" --otlp-grpc-port "$otlp_grpc" --disable-llmobs-data-forwarding \
    >"$work/test-agent.log" 2>&1) &
  pids+=($!)
  agent_pid=$!
  up=0
  for ((i = 0; i < 300; i++)); do
    if http_get "$agent_url/test/session/clear" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$agent_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ((up)); then
    pass "APM test agent $test_agent up at $agent_url in $(elapsed "$t") (OTLP on $otlp_http/$otlp_grpc)"
  else
    fail "APM test agent did not answer within 30s"
    tail -n 20 "$work/test-agent.log" || true
  fi
fi

# A baseline: what ddboot resolves here, with no injection.
# shellcheck disable=SC2016  # expanded by the app's shell, after ddboot
run base "${dd[@]}" -- sh -c 'echo "DD_AGENT_HOST=${DD_AGENT_HOST-} DD_ENV=${DD_ENV-} DD_SERVICE=${DD_SERVICE-} DD_VERSION=${DD_VERSION-}"'
expect_eq "ddboot resolves the agent from the mock IMDS and the tags from the labels" "$(cat "$work/base.out")" \
  "DD_AGENT_HOST=$agent_ip DD_ENV=$want_env DD_SERVICE=$want_service DD_VERSION=$want_version"
show base

# span_check LABEL SPAN_NAME TRACE_ID: the test agent got the span, with the labels' tags
span_check() {
  local label=$1 name=$2 id=$3 out
  if out=$(timeout 30 python3 "$e2e/traces.py" "$agent_url" "$name" "$id" 15); then
    pass "$label: test agent received span $name"
    note "span: $out"
    expect_eq "$label: span service" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["service"])' "$out")" "$want_service"
    expect_eq "$label: span meta.env" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["meta"].get("env"))' "$out")" "$want_env"
    expect_eq "$label: span meta.version" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["meta"].get("version"))' "$out")" "$want_version"
  else
    fail "$label: test agent received span $name: $out"
    { tail -n 15 "$work/test-agent.log" | sed -e 's/^/   | /'; } 2>/dev/null || true
  fi
}
clear_agent() { http_get "$agent_url/test/session/clear" >/dev/null 2>&1 || true; }

# ---------------------------------------------------------------------------------------------
section "Python (ddtrace $ddtrace_py, ddtrace-run)"
t=$(now_ms)
pypath=$cache/venv-py/bin:$PATH
if ((have_inject)); then
  clear_agent
  run py env -C "$e2e" PATH="$pypath" "${dd[@]}" --inject auto -- python app.py
  show py
  expect_eq "python: exit status" "$rc" 0
  expect_eq "python --inject auto: 'ddtrace' in sys.modules at startup" "$(field "$work/py.out" 'E2E-PY ' ddtrace_loaded_at_startup)" true
  expect_eq "python: the app's argv is unchanged under ddtrace-run" "$(field "$work/py.out" 'E2E-PY ' argv)" '["app.py"]'
  expect_eq "python: app sees DD_AGENT_HOST" "$(field "$work/py.out" 'E2E-PY ' env/DD_AGENT_HOST)" "$agent_ip"
  span_check python e2e.py "$(field "$work/py.out" 'E2E-PY ' trace_id)"

  # The same through the environment, with an explicit mode.
  run py-env env -C "$e2e" PATH="$pypath" DDBOOT_INJECT=python "${dd[@]}" -- python app.py
  expect_eq "python DDBOOT_INJECT=python: 'ddtrace' in sys.modules at startup" "$(field "$work/py-env.out" 'E2E-PY ' ddtrace_loaded_at_startup)" true

  # Detection by shebang: PROGRAM's basename says nothing, its first line does.
  mkdir -p "$work/shebang"
  { echo '#!/usr/bin/env python3'; cat "$e2e/app.py"; } >"$work/shebang/serve-orders"
  chmod +x "$work/shebang/serve-orders"
  run py-shebang env -C "$work/elsewhere" PATH="$work/shebang:$pypath" "${dd[@]}" --inject auto -- serve-orders
  expect_eq "python by shebang (serve-orders, #!/usr/bin/env python3): ddtrace loaded" "$(field "$work/py-shebang.out" 'E2E-PY ' ddtrace_loaded_at_startup)" true
  [[ $(field "$work/py-shebang.out" 'E2E-PY ' ddtrace_loaded_at_startup) == true ]] || show py-shebang

  # The interpreter the user named decides the ddtrace-run: the venv's, found beside its python,
  # while the venv is not on PATH (the common task-definition case).
  nopath=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  clear_agent
  run py-abs env -C "$e2e" PATH="$nopath" "${dd[@]}" --inject auto -- "$cache/venv-py/bin/python" app.py
  expect_eq "python by absolute path, venv not on PATH: 'ddtrace' in sys.modules at startup" "$rc/$(field "$work/py-abs.out" 'E2E-PY ' ddtrace_loaded_at_startup)" 0/true
  [[ $(field "$work/py-abs.out" 'E2E-PY ' ddtrace_loaded_at_startup) == true ]] || show py-abs
  span_check "python by absolute path" e2e.py "$(field "$work/py-abs.out" 'E2E-PY ' trace_id)"
  { echo "#!$cache/venv-py/bin/python"; cat "$e2e/app.py"; } >"$work/shebang/serve-venv"
  chmod +x "$work/shebang/serve-venv"
  clear_agent
  run py-venv-shebang env -C "$work/elsewhere" PATH="$nopath" "${dd[@]}" --inject auto -- "$work/shebang/serve-venv"
  expect_eq "python by shebang #!<venv>/bin/python, venv not on PATH: 'ddtrace' in sys.modules at startup" "$rc/$(field "$work/py-venv-shebang.out" 'E2E-PY ' ddtrace_loaded_at_startup)" 0/true
  [[ $(field "$work/py-venv-shebang.out" 'E2E-PY ' ddtrace_loaded_at_startup) == true ]] || show py-venv-shebang
  span_check "python by venv shebang" e2e.py "$(field "$work/py-venv-shebang.out" 'E2E-PY ' trace_id)"

  # The system Python named while a venv with ddtrace-run is on PATH: that ddtrace-run belongs to
  # another environment, so the app starts unwrapped, and the warning names the interpreter.
  sys_py=$(PATH=$nopath command -v python3)
  run py-system env -C "$e2e" PATH="$pypath" "${dd[@]}" --inject auto -- "$sys_py" app.py
  expect_eq "system $sys_py with a venv on PATH: starts, ddtrace not loaded" "$rc/$(field "$work/py-system.out" 'E2E-PY ' ddtrace_loaded_at_startup)" 0/false
  expect_has "system $sys_py: the warning names the interpreter inspected" "$(cat "$work/py-system.err")" "for the interpreter $sys_py"
  expect_lacks "system $sys_py: the venv's ddtrace-run is not used" "$(cat "$work/py-system.err")" "$cache/venv-py/bin/ddtrace-run"
  note "ddboot said: $(grep -h warning "$work/py-system.err" | head -n 1)"

  # --explain --json shows the runtime, the tracer and the argv change; runs nothing.
  run explain env -C "$e2e" PATH="$pypath" "${dd[@]}" --explain --json --inject auto -- python app.py
  js() { field "$work/explain.out" '' "$1"; }
  note "explain .inject: $(js inject)" "explain .command: $(js command)"
  expect_eq "explain --json: exit status" "$rc" 0
  expect_eq "explain --json: inject.runtime" "$(js inject/runtime)" python
  expect_eq "explain --json: inject.detected_by" "$(js inject/detected_by)" "program name python"
  expect_eq "explain --json: inject.tracer_path (ddtrace-run on PATH)" "$(js inject/tracer_path)" "$cache/venv-py/bin/ddtrace-run"
  expect_eq "explain --json: command (argv change)" "$(js command)" "[\"$cache/venv-py/bin/ddtrace-run\", \"python\", \"app.py\"]"
  expect_eq "explain --json: env.DD_SERVICE from the label" "$(js env/DD_SERVICE)/$(js origins/DD_SERVICE)" "$want_service/label com.datadoghq.tags.service"
  expect_lacks "explain --json: ran nothing" "$(cat "$work/explain.out")" 'E2E-PY'
fi
run py-off env -C "$e2e" PATH="$pypath" "${dd[@]}" -- python app.py
expect_eq "python without --inject: 'ddtrace' not in sys.modules" "$(field "$work/py-off.out" 'E2E-PY ' ddtrace_loaded_at_startup)" false
note "python: $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
section "Node.js (dd-trace $dd_trace_js, node $(node --version))"
t=$(now_ms)
nm=$cache/node/node_modules
init=$nm/dd-trace/init.js
# The app lives under $cache/node/app, so walking up from the script finds $cache/node/node_modules;
# it is started from $work/elsewhere, whose parent chain has no node_modules.
mkdir -p "$cache/node/app"
cp "$e2e/node/app.js" "$cache/node/app/app.js"
for d in "$work/elsewhere" "$(dirname "$work")" /; do
  [[ ! -e $d/node_modules ]] || note "warning: $d/node_modules exists: the cwd walk-up may find it"
done
if ((have_inject)); then
  clear_agent
  run node env -C "$work/elsewhere" NODE_OPTIONS=--max-old-space-size=300 "${dd[@]}" --inject auto -- node "$cache/node/app/app.js"
  show node
  expect_eq "node: exit status" "$rc" 0
  expect_eq "node --inject auto (script-dir walk-up, cwd elsewhere): dd-trace loaded at startup" "$(field "$work/node.out" 'E2E-NODE ' dd_trace_loaded_at_startup)" true
  expect_eq "node: dd-trace loaded from the node_modules above the script" "$(field "$work/node.out" 'E2E-NODE ' dd_trace_module)" "$init"
  node_opts=$(field "$work/node.out" 'E2E-NODE ' env/NODE_OPTIONS)
  note "NODE_OPTIONS seen by the app: $node_opts"
  expect_has "node: NODE_OPTIONS keeps the inherited option" "$node_opts" --max-old-space-size=300
  expect_has "node: NODE_OPTIONS gets --require <abs path>/dd-trace/init.js" "$node_opts" "--require $init"
  span_check node e2e.node "$(field "$work/node.out" 'E2E-NODE ' trace_id)"

  # Found through NODE_PATH: the script and the cwd have no node_modules above them.
  run node-path env -C "$work/elsewhere" NODE_PATH="$nm" "${dd[@]}" --inject node -- node "$e2e/node/app.js"
  expect_eq "node via NODE_PATH (--inject node): dd-trace loaded at startup" "$(field "$work/node-path.out" 'E2E-NODE ' dd_trace_loaded_at_startup)" true
  [[ $(field "$work/node-path.out" 'E2E-NODE ' dd_trace_module) == "$init" ]] || show node-path

  # Found by walking up from the cwd: the script is in the repo, the cwd under $cache/node.
  run node-cwd env -C "$cache/node/app" "${dd[@]}" --inject auto -- node "$e2e/node/app.js"
  expect_eq "node via the cwd walk-up: dd-trace loaded at startup" "$(field "$work/node-cwd.out" 'E2E-NODE ' dd_trace_loaded_at_startup)" true
  [[ $(field "$work/node-cwd.out" 'E2E-NODE ' dd_trace_module) == "$init" ]] || show node-cwd

  # Nowhere to be found: the app still starts, untouched.
  run node-none env -C "$work/elsewhere" "${dd[@]}" --inject auto -- node "$e2e/node/app.js"
  expect_eq "node, no dd-trace anywhere: the app still starts" "$rc/$(field "$work/node-none.out" 'E2E-NODE ' dd_trace_loaded_at_startup)" 0/false
  expect_eq "node, no dd-trace anywhere: NODE_OPTIONS untouched" "$(field "$work/node-none.out" 'E2E-NODE ' env/NODE_OPTIONS)" null
  note "ddboot said: $(tr '\n' ' ' <"$work/node-none.err")"

  # A tracer under a path with a space (a stub dd-trace/init.js that only marks itself loaded):
  # whatever ddboot does with it, the app must start (NODE_OPTIONS is split on spaces unless quoted).
  sp="$work/my app"
  mkdir -p "$sp/node_modules/dd-trace"
  echo '// e2e stub: being in require.cache is all it does' >"$sp/node_modules/dd-trace/init.js"
  cp "$e2e/node/app.js" "$sp/app.js"
  run node-space env -C "$work/elsewhere" "${dd[@]}" --inject auto -- node "$sp/app.js"
  expect_eq "node, dd-trace under a path with a space: the app still starts" "$rc/$(field "$work/node-space.out" 'E2E-NODE ' argv/1)" "0/$sp/app.js"
  note "with a space: stub loaded from $(field "$work/node-space.out" 'E2E-NODE ' dd_trace_module), NODE_OPTIONS=$(field "$work/node-space.out" 'E2E-NODE ' env/NODE_OPTIONS)"
  [[ $rc == 0 ]] || show node-space
fi
run node-off env -C "$work/elsewhere" "${dd[@]}" -- node "$cache/node/app/app.js"
expect_eq "node without --inject: dd-trace not loaded" "$(field "$work/node-off.out" 'E2E-NODE ' dd_trace_loaded_at_startup)" false
note "node: $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
section "PHP-FPM ($(php-fpm8.2 -v 2>/dev/null | head -n 1 || echo 'php-fpm8.2 missing'))"
t=$(now_ms)
# start_fpm NAME [SOCKET_DIR] -- DDBOOT_ARGS...: php-fpm under ddboot in the background
start_fpm() {
  local name=$1 sockdir=$work/sockets
  shift
  if [[ $1 != -- ]]; then sockdir=$1; shift; fi
  shift
  fpm_dir=$work/$name
  mkdir -p "$fpm_dir"
  fpm_port=$(free_port)
  # cwd: the pool's dir (-y pool.conf is relative); TMPDIR: where ddboot writes its overlay
  (cd "$e2e/php" && E2E_FPM_DIR=$fpm_dir E2E_FPM_PORT=$fpm_port E2E_FPM_MARKER=leaked TMPDIR=$work/tmp \
    exec "$bin/ddboot" --socket-dir "$sockdir" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null) &
  fpm_pid=$!
  pids+=("$fpm_pid")
  wait_tcp 127.0.0.1 "$fpm_port" 20 "$fpm_pid"
}
stop_fpm() {
  local i
  kill -TERM "$fpm_pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$fpm_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$fpm_pid" 2>/dev/null || true
  wait "$fpm_pid" 2>/dev/null || true
  # reaped: forget it, so cleanup never signals a PID that may have been reused
  local keep=() p
  for p in "${pids[@]}"; do [[ $p == "$fpm_pid" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# fcgi NAME: GET index.php from the pool over FastCGI; the response is in $work/NAME.http.
# env -i: cgi-fcgi sends its own environment as FastCGI params, which getenv() would see too.
fcgi() {
  env -i PATH=/usr/bin:/bin SCRIPT_FILENAME="$e2e/php/index.php" SCRIPT_NAME=/index.php \
    REQUEST_URI=/index.php REQUEST_METHOD=GET QUERY_STRING= SERVER_PROTOCOL=HTTP/1.1 \
    GATEWAY_INTERFACE=CGI/1.1 SERVER_NAME=localhost \
    timeout 10 cgi-fcgi -bind -connect "127.0.0.1:$fpm_port" >"$work/$1.http" 2>&1 || true
}
# fpm_evidence: the config php-fpm's master runs with (its process title names it) and, when
# that is not pool.conf itself, the config's text (ddboot's overlay)
fpm_evidence() {
  local title
  title=$(tr '\0' ' ' <"/proc/$fpm_pid/cmdline" 2>/dev/null || true)
  note "php-fpm master: $title"
  fpm_cfg=$(sed -n 's/^php-fpm: master process (\(.*\)) *$/\1/p' <<<"$title")
  if [[ -n $fpm_cfg && $fpm_cfg != "$e2e/php/pool.conf" && -r $fpm_cfg ]]; then
    note "config given to php-fpm ($fpm_cfg):"
    sed -e 's/^/   | /' "$fpm_cfg"
  fi
}
php_field() { field "$work/$1.http" 'E2E-PHP ' "$2"; }
# serve_fpm NAME WHAT [SOCKET_DIR] -- DDBOOT_ARGS...: start_fpm, then the master's config and a
# worker's answer over FastCGI; when it does not come up, FAIL: WHAT (on its port) with the tail
# of php-fpm's log, and status 1
serve_fpm() {
  local name=$1 what=$2
  shift 2
  if start_fpm "$name" "$@"; then
    fpm_evidence
    fcgi "$name"
    note "worker: $(grep '^E2E-PHP' "$work/$name.http" || cat "$work/$name.http")"
    return 0
  fi
  fail "$what on 127.0.0.1:$fpm_port"
  sed -e 's/^/   | /' "$work/$name/php-fpm.log" 2>/dev/null | tail -n 20 || true
  return 1
}
if ! command -v php-fpm8.2 >/dev/null || ! command -v cgi-fcgi >/dev/null; then
  fail "php-fpm8.2 and cgi-fcgi are installed"
else
  if ((have_inject)); then
    if serve_fpm fpm "php-fpm8.2 under ddboot --inject auto listens" -- --inject auto -- php-fpm8.2 -F -R -y pool.conf; then
      pass "php-fpm8.2 under ddboot --inject auto listens on 127.0.0.1:$fpm_port"
      expect_eq "php: request served by php-fpm" "$(php_field fpm sapi)" fpm-fcgi
      expect_eq "php: clear_env still in force (the master's E2E_FPM_MARKER is hidden)" "$(php_field fpm clear_env_probe)" false
      for pair in DD_AGENT_HOST=$agent_ip DD_ENV=$want_env DD_SERVICE=$want_service DD_VERSION=$want_version; do
        expect_eq "php env[] overlay: worker getenv('${pair%%=*}')" "$(php_field fpm "getenv/${pair%%=*}")" "${pair#*=}"
      done
      for pair in agent_host=$agent_ip env=$want_env service=$want_service version=$want_version; do
        expect_eq "php -d INI: worker get_cfg_var('datadog.${pair%%=*}')" "$(php_field fpm "get_cfg_var/datadog.${pair%%=*}")" "${pair#*=}"
      done
      php_env_ok=no php_ini_ok=no
      [[ $(php_field fpm getenv/DD_AGENT_HOST) == "$agent_ip" ]] && php_env_ok=yes
      [[ $(php_field fpm get_cfg_var/datadog.agent_host) == "$agent_ip" ]] && php_ini_ok=yes
      note "php mechanisms that reached the worker: env[] overlay=$php_env_ok, -d INI=$php_ini_ok"
    fi
    show fpm
    stop_fpm

    # The long option, and an Agent trace socket: DD_TRACE_AGENT_URL must reach the worker too.
    mkdir -p "$work/sockets-apm"
    # A live Agent socket (bound and listening): ddboot probes each socket and a dead one (bound,
    # never listened on) is stale.
    python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(16)
open(sys.argv[2], "w").close(); time.sleep(600)' "$work/sockets-apm/apm.socket" "$work/apm.ready" &
    apm_listener=$!
    pids+=("$apm_listener")
    for _ in $(seq 250); do [ -e "$work/apm.ready" ] && break; sleep 0.02; done
    if serve_fpm fpm-sock "php-fpm8.2 --fpm-config=PATH under ddboot --inject php starts" "$work/sockets-apm" -- \
      --inject php -- php-fpm8.2 -F -R --fpm-config="$e2e/php/pool.conf"; then
      expect_eq "php --fpm-config=PATH, apm.socket: worker getenv('DD_TRACE_AGENT_URL')" "$(php_field fpm-sock getenv/DD_TRACE_AGENT_URL)" "unix://$work/sockets-apm/apm.socket"
      expect_eq "php --fpm-config=PATH, apm.socket: worker get_cfg_var('datadog.trace.agent_url')" "$(php_field fpm-sock get_cfg_var/datadog.trace.agent_url)" "unix://$work/sockets-apm/apm.socket"
      expect_eq "php --fpm-config=PATH: worker getenv('DD_AGENT_HOST')" "$(php_field fpm-sock getenv/DD_AGENT_HOST)" "$agent_ip"
    else
      show fpm-sock
    fi
    stop_fpm
    kill "$apm_listener" 2>/dev/null || true

    # The official php:*-fpm image's layout: php-fpm.conf says include=etc/php-fpm.d/*.conf, a
    # path php-fpm resolves against its prefix (/usr/local there; -p here), not the cwd.
    prefix=$work/fpm-prefix
    mkdir -p "$prefix/etc/php-fpm.d"
    printf '[global]\ninclude=etc/php-fpm.d/*.conf\n' >"$prefix/etc/php-fpm.conf"
    cp "$e2e/php/pool.conf" "$prefix/etc/php-fpm.d/www.conf"
    if serve_fpm fpm-prefix "php-fpm8.2 -p PREFIX under ddboot --inject auto starts" -- \
      --inject auto -- php-fpm8.2 -F -R -p "$prefix" -y "$prefix/etc/php-fpm.conf"; then
      expect_eq "php prefix layout (include=etc/php-fpm.d/*.conf): worker get_cfg_var('datadog.agent_host')" "$(php_field fpm-prefix get_cfg_var/datadog.agent_host)" "$agent_ip"
      expect_eq "php prefix layout (include=etc/php-fpm.d/*.conf): worker getenv('DD_AGENT_HOST') (env[] overlay needs the pools found)" "$(php_field fpm-prefix getenv/DD_AGENT_HOST)" "$agent_ip"
    fi
    show fpm-prefix
    stop_fpm
    # With -p and no -y, php-fpm reads PREFIX/etc/php-fpm.conf: an overlay must wrap that one
    # (or none at all), never the distribution's default. Checked with --explain: nothing runs.
    run fpm-prefix-explain env -C "$work/elsewhere" "${dd[@]}" --explain --json --inject auto -- php-fpm8.2 -F -R -p "$prefix"
    wrapped=$(field "$work/fpm-prefix-explain.out" '' inject/files/0/contents | sed -n 's/^include = //p')
    note "php-fpm -p PREFIX without -y: ddboot's overlay includes '${wrapped:-<no overlay>}'; command $(field "$work/fpm-prefix-explain.out" '' command)"
    if [[ -z $wrapped || $wrapped == "$prefix/etc/php-fpm.conf" ]]; then
      pass "php-fpm -p PREFIX without -y: the config php-fpm runs is still PREFIX/etc/php-fpm.conf"
    else
      fail "php-fpm -p PREFIX without -y: the overlay swaps PREFIX/etc/php-fpm.conf for $wrapped"
    fi
  fi

  if serve_fpm fpm-off "php-fpm8.2 under ddboot (no injection) starts" -- -- php-fpm8.2 -F -R -y pool.conf; then
    # (php-fpm rewrites its process title over /proc/PID/environ: ddboot's status line tells)
    expect_has "php without --inject: ddboot gave the master DD_AGENT_HOST" "$(cat "$work/fpm-off.err")" "ddboot: DD_AGENT_HOST=$agent_ip"
    expect_eq "php without --inject: the worker does not see it (clear_env)" "$(php_field fpm-off getenv/DD_AGENT_HOST)" false
    expect_eq "php without --inject: no datadog.agent_host INI" "$(php_field fpm-off get_cfg_var/datadog.agent_host)" false
  else
    show fpm-off
  fi
  stop_fpm
fi
note "php: $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
section "Java ($(java -version 2>&1 | head -n 1))"
t=$(now_ms)
jar=$work/dd-java/dd-java-agent.jar
mkdir -p "$work/dd-java"
cp "$java_dir/agent/e2e-agent.jar" "$jar"
classes=$java_dir/classes
if ((have_inject)); then
  run java env JAVA_TOOL_OPTIONS=-Dddboot.e2e=kept "${dd[@]}" --inject auto --java-agent "$jar" -- java -cp "$classes" E2eApp
  show java
  expect_eq "java: exit status" "$rc" 0
  expect_has "java --java-agent: the JVM ran the agent's premain, which sees DD_AGENT_HOST" "$(cat "$work/java.out")" "e2e-agent: premain DD_AGENT_HOST=$agent_ip DD_SERVICE=$want_service"
  expect_has "java: premain ran before main" "$(cat "$work/java.out")" "e2e-app: started agent_loaded=true"
  expect_has "java: JAVA_TOOL_OPTIONS keeps the inherited option" "$(cat "$work/java.out")" "-Dddboot.e2e=kept"
  expect_has "java: JAVA_TOOL_OPTIONS gets -javaagent:<jar>" "$(cat "$work/java.out")" "-javaagent:$jar"

  run java-env env DDBOOT_INJECT=java DDBOOT_JAVA_AGENT="$jar" "${dd[@]}" -- java -cp "$classes" E2eApp
  expect_has "java DDBOOT_INJECT=java DDBOOT_JAVA_AGENT: agent loaded" "$(cat "$work/java-env.out")" "e2e-app: started agent_loaded=true"

  run java-missing "${dd[@]}" --inject auto --java-agent "$work/nowhere/dd-java-agent.jar" -- java -cp "$classes" E2eApp
  show java-missing
  expect_eq "java, configured jar missing: the JVM still starts" "$rc/$(grep -c 'e2e-app: started agent_loaded=false' "$work/java-missing.out" || true)" 0/1
  expect_lacks "java, configured jar missing: no -javaagent injected" "$(cat "$work/java-missing.out" "$work/java-missing.err")" "-javaagent"
  expect_has "java, configured jar missing: ddboot warns, naming the path" "$(cat "$work/java-missing.err")" "$work/nowhere/dd-java-agent.jar"

  # A jar under a path with a space: whatever ddboot does with it, the JVM must start.
  mkdir -p "$work/dd java"
  cp "$jar" "$work/dd java/dd-java-agent.jar"
  run java-space "${dd[@]}" --inject java --java-agent "$work/dd java/dd-java-agent.jar" -- java -cp "$classes" E2eApp
  expect_eq "java, jar under a path with a space: the JVM still starts" "$rc/$(grep -c '^e2e-app: started' "$work/java-space.out" || true)" 0/1
  note "with a space: $(grep -h '^e2e-app' "$work/java-space.out" || true)" "ddboot said: $(tr '\n' ' ' <"$work/java-space.err")"
fi
run java-off "${dd[@]}" -- java -cp "$classes" E2eApp
expect_has "java without --inject: no agent" "$(cat "$work/java-off.out")" "e2e-app: started agent_loaded=false JAVA_TOOL_OPTIONS=null"
note "java: $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
section ".NET (fake tracer home, a 'dotnet' that dumps its environment)"
t=$(now_ms)
# The tracer home's per-platform directory for this machine: linux-x64, linux-arm64, or their
# linux-musl-* forms where the C library is musl (not merely installed beside glibc).
case $(uname -m) in aarch64 | arm64) cpu=arm64 ;; *) cpu=x64 ;; esac
if getconf GNU_LIBC_VERSION >/dev/null 2>&1; then plat=linux-$cpu; else plat=linux-musl-$cpu; fi
so=Datadog.Trace.ClrProfiler.Native.so
mkdir -p "$work/dotnet-bin" "$work/dd-dotnet/$plat" "$work/dd-dotnet-flat" "$work/dd-dotnet-empty"
cp "$e2e/dotnet/dotnet" "$work/dotnet-bin/dotnet"
chmod +x "$work/dotnet-bin/dotnet"
: >"$work/dd-dotnet/$plat/$so"
: >"$work/dd-dotnet-flat/$so"
# A full tracer home ships every platform's profiler: ddboot must pick this machine's.
for d in linux-x64 linux-musl-x64 linux-arm64 linux-musl-arm64; do
  mkdir -p "$work/dd-dotnet-all/$d"
  : >"$work/dd-dotnet-all/$d/$so"
done
dotnet_env() { grep "^e2e-dotnet-env: $2=" "$work/$1.out" | sed -e "s/^e2e-dotnet-env: $2=//" || true; }
if ((have_inject)); then
  run dotnet env PATH="$work/dotnet-bin:$PATH" DD_DOTNET_TRACER_HOME="$work/dd-dotnet" "${dd[@]}" --inject auto -- dotnet app.dll --urls x
  show dotnet
  expect_eq "dotnet: exit status" "$rc" 0
  expect_has "dotnet: argv passed through" "$(cat "$work/dotnet.out")" "e2e-dotnet: argv=app.dll --urls x"
  expect_eq "dotnet: CORECLR_ENABLE_PROFILING" "$(dotnet_env dotnet CORECLR_ENABLE_PROFILING)" 1
  expect_eq "dotnet: CORECLR_PROFILER" "$(dotnet_env dotnet CORECLR_PROFILER)" "$dotnet_profiler"
  expect_eq "dotnet: CORECLR_PROFILER_PATH ($plat layout)" "$(dotnet_env dotnet CORECLR_PROFILER_PATH)" "$work/dd-dotnet/$plat/$so"
  expect_eq "dotnet: DD_DOTNET_TRACER_HOME" "$(dotnet_env dotnet DD_DOTNET_TRACER_HOME)" "$work/dd-dotnet"
  expect_eq "dotnet: DD_AGENT_HOST" "$(dotnet_env dotnet DD_AGENT_HOST)" "$agent_ip"
  expect_eq "dotnet: DD_SERVICE" "$(dotnet_env dotnet DD_SERVICE)" "$want_service"

  run dotnet-flat env PATH="$work/dotnet-bin:$PATH" DD_DOTNET_TRACER_HOME="$work/dd-dotnet-flat" "${dd[@]}" --inject dotnet -- dotnet app.dll
  expect_eq "dotnet --inject dotnet: CORECLR_PROFILER_PATH (flat layout)" "$(dotnet_env dotnet-flat CORECLR_PROFILER_PATH)" "$work/dd-dotnet-flat/$so"

  run dotnet-all env PATH="$work/dotnet-bin:$PATH" DD_DOTNET_TRACER_HOME="$work/dd-dotnet-all" "${dd[@]}" --inject auto -- dotnet app.dll
  expect_eq "dotnet, home with every platform: this machine's profiler ($plat)" "$(dotnet_env dotnet-all CORECLR_PROFILER_PATH)" "$work/dd-dotnet-all/$plat/$so"

  run dotnet-empty env PATH="$work/dotnet-bin:$PATH" DD_DOTNET_TRACER_HOME="$work/dd-dotnet-empty" "${dd[@]}" --inject auto -- dotnet app.dll
  expect_eq "dotnet, no profiler .so in the home: runs, no CORECLR_* set" "$rc/$(grep -c '^e2e-dotnet-env: CORECLR_' "$work/dotnet-empty.out" || true)" 0/0
  note "ddboot said: $(tr '\n' ' ' <"$work/dotnet-empty.err")"
fi
run dotnet-off env PATH="$work/dotnet-bin:$PATH" DD_DOTNET_TRACER_HOME="$work/dd-dotnet" "${dd[@]}" -- dotnet app.dll
expect_eq "dotnet without --inject: no CORECLR_* set" "$(grep -c '^e2e-dotnet-env: CORECLR_' "$work/dotnet-off.out" || true)" 0
note ".NET: $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
section "Ruby ($(ruby --version 2>/dev/null || echo 'ruby missing'), a stand-in datadog gem)"
t=$(now_ms)
# No gem registry is reachable here: the real datadog gem cannot be installed. The stand-in has
# the real gem's layout (GEM_HOME/gems/datadog-<version>/lib/datadog/auto_instrument.rb); its
# auto_instrument only records that Ruby required it before the app's first line.
rb=$work/ruby-app
gem_home=$work/gems
gem=$gem_home/gems/datadog-2.99.0
mkdir -p "$rb" "$gem" "$work/gems-none"
cp "$e2e/ruby/app.rb" "$e2e/ruby/Gemfile" "$rb/"
cp -r "$e2e/ruby/datadog/lib" "$gem/"
ai=$gem/lib/datadog/auto_instrument
rbf() { field "$work/$1.out" 'E2E-RB ' "$2"; }
if ! command -v ruby >/dev/null; then
  fail "ruby is not installed (apt-get install ruby)"
elif ((have_inject)); then
  run rb env -C "$rb" GEM_HOME="$gem_home" "${dd[@]}" --inject auto -- ruby app.rb
  expect_eq "ruby --inject auto, gem in GEM_HOME: exit status / auto_instrument required at startup" "$rc/$(rbf rb datadog_loaded_at_startup)" 0/true
  expect_eq "ruby: RUBYOPT gets -r<absolute gem path>/lib/datadog/auto_instrument" "$(rbf rb env/RUBYOPT)" "-r$ai"
  expect_eq "ruby: app sees DD_AGENT_HOST and DD_SERVICE" "$(rbf rb env/DD_AGENT_HOST) $(rbf rb env/DD_SERVICE)" "$agent_ip $want_service"
  [[ $rc == 0 ]] || show rb
  run rb-none env -C "$rb" GEM_HOME="$work/gems-none" "${dd[@]}" --inject ruby -- ruby app.rb
  expect_eq "ruby --inject ruby, no gem: starts, nothing required, RUBYOPT unset" "$rc/$(rbf rb-none datadog_loaded_at_startup)/$(rbf rb-none env/RUBYOPT)" 0/false/null
  expect_has "ruby, no gem: the warning names the interpreter" "$(cat "$work/rb-none.err")" "Ruby tracer not found for the interpreter"
  expect_lacks "ruby, no gem: no LoadError" "$(cat "$work/rb-none.err")" LoadError
  note "ddboot said: $(grep -h warning "$work/rb-none.err" | head -n 1)"
  if command -v bundle >/dev/null; then
    run rb-bundle env -C "$rb" BUNDLE_GEMFILE="$rb/Gemfile" GEM_HOME="$gem_home" "${dd[@]}" --inject auto -- bundle exec ruby app.rb
    expect_eq "bundle exec ruby, gem in GEM_HOME: exit status / under Bundler / auto_instrument required" "$rc/$(rbf rb-bundle bundler)/$(rbf rb-bundle datadog_loaded_at_startup)" 0/true/true
    expect_has "bundle exec: RUBYOPT keeps bundler/setup and gets the gem's -r" "$(rbf rb-bundle env/RUBYOPT)" "-r$ai"
    [[ $rc == 0 ]] || show rb-bundle
    run rb-bundle-none env -C "$rb" BUNDLE_GEMFILE="$rb/Gemfile" GEM_HOME="$work/gems-none" "${dd[@]}" --inject auto -- bundle exec ruby app.rb
    expect_eq "bundle exec ruby, no gem: starts under Bundler, nothing required" "$rc/$(rbf rb-bundle-none bundler)/$(rbf rb-bundle-none datadog_loaded_at_startup)" 0/true/false
    [[ $rc == 0 ]] || show rb-bundle-none
  else
    fail "bundle is not installed (apt-get install ruby-bundler)"
  fi
  # Already injected (the admission controller's RUBYOPT): nothing added.
  run rb-already env -C "$rb" GEM_HOME="$gem_home" RUBYOPT="-r$ai" "${dd[@]}" --inject auto -- ruby app.rb
  expect_eq "ruby, RUBYOPT already requires auto_instrument: RUBYOPT unchanged" "$rc/$(rbf rb-already env/RUBYOPT)" "0/-r$ai"
fi
run rb-off env -C "$rb" GEM_HOME="$gem_home" "${dd[@]}" -- ruby app.rb
expect_eq "ruby without --inject: nothing required" "$(rbf rb-off datadog_loaded_at_startup)" false
note "ruby: $(elapsed "$t")"

# ---------------------------------------------------------------------------------------------
section "summary"
note "mock: $(grep -c '"/v4/mock-container"' "$work/mock.log" || true) container metadata requests, $(grep -c '/latest/meta-data/local-ipv4' "$work/mock.log" || true) IMDS local-ipv4 requests"
note "total time: $(elapsed "$t0")"
summarized=1
echo "e2e: $passed passed, $failed failed"
if ((failed > 0)); then exit 1; fi
