//! Integration tests of ddboot's ECS shape detection, run against the real binary: the task
//! metadata endpoint (one request per path, failures recorded and ignored, concurrency with the
//! metadata file), the Agent's Unix sockets, sidecar Agents (Fargate, Managed Instances, awsvpc
//! tasks listing an Agent container), the bridge-mode default gateway fallback (also inside a
//! throwaway network namespace), the unified service tags from Docker labels and image tags with
//! their precedence, and how `--explain` reports the platform. Every run goes through the
//! harness's `Ddboot` (tests/common), which clears the environment, points IMDS at a loopback
//! mock or sets `AWS_EC2_METADATA_DISABLED=true`, takes task metadata URIs on loopback only and
//! refuses any argument naming a real metadata endpoint; here the Agent sockets are always looked
//! for in a temp dir ([`ddboot`]), so no test can reach the real 169.254.169.254 or 169.254.170.2.

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Ddboot, TempDir};
use mockmeta::{Behaviour, CONTAINER_PATH, Mock, Put, TASK_PATH, TaskMeta};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// The task metadata documents.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/task-metadata");
/// What the default IMDS mock answers for local-ipv4.
const MOCK_IP: &str = "10.0.1.43";
/// The host of the READY metadata files that carry one.
const FILE_IP: &str = "10.9.8.7";

/// A ddboot command (the harness's, loopback only) whose Agent sockets are looked for in
/// `socket_dir`, a temp dir, never in /var/run/datadog.
fn ddboot(socket_dir: &Path) -> Ddboot {
    Ddboot::new().socket_dir(socket_dir)
}

fn fixture(name: &str) -> String {
    let path = Path::new(FIXTURES).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).expect("fixture is JSON")
}

/// A task metadata mock serving these documents.
fn task_mock(container: &str, task: &str, behaviour: TaskMeta) -> Mock {
    Mock::start(Behaviour {
        container_json: Some(container.to_string()),
        task_json: Some(task.to_string()),
        task_metadata: behaviour,
        ..Behaviour::default()
    })
}

/// A task metadata mock serving `<name>-container.json` and `<name>-task.json`.
fn fixture_mock(name: &str) -> Mock {
    task_mock(
        &fixture(&format!("{name}-container.json")),
        &fixture(&format!("{name}-task.json")),
        TaskMeta::Ok,
    )
}

/// An IMDS mock answering `MOCK_IP`.
fn imds_ok() -> Mock {
    Mock::start(Behaviour::default())
}

/// An IMDS mock whose token request answers 400: no IMDSv2, and no IMDSv1 after a 400.
fn imds_400() -> Mock {
    Mock::start(Behaviour { put: Put::Status(400), ..Behaviour::default() })
}

/// A loopback URL where nothing listens (a port just released).
fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Asserts the mock got no request (allowing a moment for one in flight to be logged).
fn assert_untouched(mock: &Mock) {
    assert!(
        !mock.wait_for_requests(1, Duration::from_millis(100)),
        "unexpected requests: {:?}",
        mock.requests()
    );
}

/// Asserts the task metadata mock got exactly `n` GETs of each path and nothing else.
fn assert_task_requests(mock: &Mock, n: usize) {
    assert_eq!(mock.count("GET", CONTAINER_PATH), n, "{:?}", mock.requests());
    assert_eq!(mock.count("GET", TASK_PATH), n, "{:?}", mock.requests());
    assert_eq!(mock.requests().len(), 2 * n, "{:?}", mock.requests());
}

/// A container metadata file (`ECS_CONTAINER_METADATA_FILE`).
fn metadata_file(host: Option<&str>, network_mode: Option<&str>, ready: bool) -> String {
    let mut doc = json!({
        "Cluster": "default",
        "ContainerInstanceARN": "arn:aws:ecs:us-west-2:012345678910:container-instance/1f73d099",
        "TaskARN": "arn:aws:ecs:us-west-2:012345678910:task/2b88376d",
        "ContainerName": "web",
    });
    if let Some(mode) = network_mode {
        doc["Networks"] = json!([{"NetworkMode": mode, "IPv4Addresses": ["172.17.0.2"]}]);
    }
    if ready {
        doc["MetadataFileStatus"] = json!("READY");
    }
    if let Some(host) = host {
        doc["HostPrivateIPv4Address"] = json!(host);
    }
    doc.to_string()
}

/// The attempts of `source` in a report.
fn attempts<'a>(report: &'a Value, source: &str) -> Vec<&'a Value> {
    report["attempts"].as_array().expect("attempts").iter().filter(|a| a["source"] == source).collect()
}

/// The one attempt of `source`.
fn attempt<'a>(report: &'a Value, source: &str) -> &'a Value {
    let found = attempts(report, source);
    assert_eq!(found.len(), 1, "expected one {source} attempt: {report:#}");
    found[0]
}

fn outcome(report: &Value, source: &str) -> String {
    attempt(report, source)["outcome"].as_str().expect("outcome").to_string()
}

fn detail(report: &Value, source: &str) -> String {
    attempt(report, source)["detail"].as_str().expect("detail").to_string()
}

/// Asserts where the host came from.
fn assert_resolved(report: &Value, host: Option<&str>, source: &str) {
    assert_eq!(report["source"], source, "{report:#}");
    assert_eq!(report["agent_host"].as_str(), host, "{report:#}");
}

/// The tag's (value, origin) in a report.
fn tag(report: &Value, name: &str) -> (Option<String>, String) {
    let t = &report["tags"][name];
    (t["value"].as_str().map(str::to_string), t["origin"].as_str().expect("origin").to_string())
}

/// The default IPv4 gateway with the lowest metric, as iproute2 shows it (`ip -4 route show
/// default`): an oracle independent of ddboot's own /proc/net/route parser.
fn default_gateway() -> Option<Ipv4Addr> {
    let ip = ip_command().expect("the ip command (iproute2) is needed");
    let out = Command::new(ip).args(["-4", "route", "show", "default"]).output().expect("run ip route");
    assert!(out.status.success(), "ip -4 route show default: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1));
            let gw = after("via")?.parse::<Ipv4Addr>().ok()?;
            let metric = after("metric").and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
            Some((metric, gw))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, gw)| gw)
}

/// The lines of a text report with runs of spaces collapsed.
fn normalized_lines(text: &str) -> Vec<String> {
    text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
}

fn assert_line(text: &str, line: &str) {
    assert!(normalized_lines(text).iter().any(|l| l == line), "no line {line:?} in:\n{text}");
}

// ---------------------------------------------------------------------------------------------
// 1. Task metadata
// ---------------------------------------------------------------------------------------------

/// `GET $URI` and `GET $URI/task`, once each per run, through the variable or the flag.
#[test]
fn task_metadata_requests_each_path_once() {
    let dir = TempDir::new();
    for by_flag in [false, true] {
        let tm = fixture_mock("ec2-bridge");
        let imds = imds_ok();
        let base = ddboot(dir.path()).imds(&imds);
        let cmd = if by_flag { base.task_metadata_flag(&tm) } else { base.task_metadata(&tm) };
        let report = cmd.explain();
        assert_task_requests(&tm, 1);
        assert_resolved(&report, Some(MOCK_IP), "imdsv2");
        assert_eq!(outcome(&report, "task-metadata"), "ok", "{report:#}");
        let d = detail(&report, "task-metadata");
        assert!(d.contains("launch type EC2") && d.contains("network mode bridge"), "{d}");
        assert_eq!(report["platform"]["launch_type"], "EC2");
        assert_eq!(report["platform"]["network_mode"], "bridge");
        assert_eq!(report["platform"]["agent"], "daemon");

        let env = cmd.app_env();
        assert_task_requests(&tm, 2);
        assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some(MOCK_IP));
        assert_eq!(env.get("DD_SERVICE").map(String::as_str), Some("shop-web"));
    }
}

/// A failing endpoint is recorded as a failed task-metadata attempt and otherwise ignored.
#[test]
fn task_metadata_failures_are_recorded_and_ignored() {
    let dir = TempDir::new();
    let container = fixture("ec2-bridge-container.json");
    let task = fixture("ec2-bridge-task.json");
    let cases: [(&str, Option<TaskMeta>, &str); 3] = [
        ("status 500", Some(TaskMeta::Status(500)), "answered 500"),
        // The budget (300 ms) ends well before the deadline, leaving time for IMDS.
        ("hang", Some(TaskMeta::Hang), "no answer before the deadline"),
        ("no server", None, "connection refused"),
    ];
    for (name, behaviour, why) in cases {
        let imds = imds_ok();
        let tm = behaviour.map(|b| task_mock(&container, &task, b));
        let url = tm.as_ref().map_or_else(|| format!("{}/v4/gone", refused_url()), Mock::task_metadata_uri);
        let cmd = ddboot(dir.path()).imds(&imds).task_metadata_url(&url).timeout("900ms");
        let started = Instant::now();
        let report = cmd.explain();
        assert!(started.elapsed() < Duration::from_secs(5), "{name}: took {:?}", started.elapsed());
        assert_resolved(&report, Some(MOCK_IP), "imdsv2");
        assert_eq!(outcome(&report, "task-metadata"), "failed", "{name}: {report:#}");
        let d = detail(&report, "task-metadata");
        assert!(d.contains(why), "{name}: {d}");
        assert!(report["platform"]["launch_type"].is_null(), "{name}: {report:#}");
        assert!(report["platform"]["network_mode"].is_null(), "{name}: {report:#}");
        assert_eq!(report["tags"]["DD_SERVICE"]["origin"], "unset", "{name}");
        if let Some(tm) = &tm {
            assert!(tm.count("GET", CONTAINER_PATH) <= 1 && tm.count("GET", TASK_PATH) <= 1, "{name}");
            assert_eq!(tm.requests().len(), 2, "{name}: {:?}", tm.requests());
        }
        let env = cmd.app_env();
        assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some(MOCK_IP), "{name}");
        assert!(!env.contains_key("DD_SERVICE"), "{name}");
    }
}

/// When the task metadata hangs until the global deadline while IMDS already answered (the
/// launch type is EC2 and the metadata file says bridge, so IMDS starts at once), the attempt is
/// still reported as failed.
#[test]
fn task_metadata_hanging_until_the_deadline_is_reported_failed() {
    let dir = TempDir::new();
    let file = dir.write("bridge.json", metadata_file(None, Some("bridge"), true));
    let tm = task_mock("{}", "{}", TaskMeta::Hang);
    let imds = imds_ok();
    for round in 0..5 {
        let report = ddboot(dir.path())
            .imds(&imds)
            .env("AWS_EXECUTION_ENV", "AWS_ECS_EC2")
            .task_metadata(&tm)
            .metadata_file(&file)
            .timeout("300ms")
            .explain();
        assert_resolved(&report, Some(MOCK_IP), "imdsv2");
        let a = attempt(&report, "task-metadata");
        assert_eq!(a["outcome"], "failed", "round {round}: task-metadata attempt {a}");
    }
}

/// The task metadata requests run in parallel with each other and with the metadata file: a
/// READY file with a host wins although the endpoint is slow, and IMDS is never asked.
#[test]
fn task_metadata_runs_concurrently_with_the_metadata_file() {
    let dir = TempDir::new();
    let file = dir.write("ready.json", metadata_file(Some(FILE_IP), Some("bridge"), true));
    let tm = task_mock(
        &fixture("ec2-bridge-container.json"),
        &fixture("ec2-bridge-task.json"),
        TaskMeta::Delay(Duration::from_millis(200)),
    );
    let imds = imds_ok();
    let report = ddboot(dir.path()).imds(&imds).task_metadata(&tm).metadata_file(&file).explain();
    assert_resolved(&report, Some(FILE_IP), "metadata-file");
    assert_untouched(&imds);
    assert_task_requests(&tm, 1);
    // Two 200 ms answers inside a 300 ms budget: only possible side by side.
    assert_eq!(outcome(&report, "task-metadata"), "ok", "{report:#}");
    assert!(!detail(&report, "task-metadata").starts_with("partial"), "{report:#}");
    assert_eq!(tm.max_concurrent_seen(), 2);
    let file_ms = attempt(&report, "metadata-file")["elapsed_ms"].as_f64().expect("elapsed_ms");
    assert!(file_ms < 150.0, "the file was read after the task metadata: {report:#}");
    assert_eq!(tag(&report, "DD_ENV"), (Some("prod".into()), "label com.datadoghq.tags.env".into()));
}

/// The file polling does not wait for a slow task metadata endpoint: a file that becomes READY
/// after ~60 ms is seen well before the endpoint's 280 ms answer.
#[test]
fn metadata_file_polling_does_not_wait_for_the_task_metadata() {
    let dir = TempDir::new();
    let file = dir.write("early.json", metadata_file(None, None, false));
    let tm = task_mock(
        &fixture("ec2-bridge-container.json"),
        &fixture("ec2-bridge-task.json"),
        TaskMeta::Delay(Duration::from_millis(280)),
    );
    let imds = imds_ok();
    let cmd = ddboot(dir.path()).imds(&imds).task_metadata(&tm).metadata_file(&file).timeout("2s");
    let ready = metadata_file(Some(FILE_IP), Some("bridge"), true);
    let replacement = common::replace_later(&file, Duration::from_millis(60), ready);
    let report = cmd.explain();
    replacement.join().expect("replacement thread");
    assert_resolved(&report, Some(FILE_IP), "metadata-file");
    assert_untouched(&imds);
    assert_eq!(outcome(&report, "task-metadata"), "ok", "{report:#}");
    let file_ms = attempt(&report, "metadata-file")["elapsed_ms"].as_f64().expect("elapsed_ms");
    assert!(file_ms < 250.0, "the file was polled after the task metadata answered: {report:#}");
}

/// Nothing needs the task metadata (inherited host, every tag given): no request at all.
#[test]
fn task_metadata_is_not_requested_when_nothing_needs_it() {
    let dir = TempDir::new();
    let tm = fixture_mock("ec2-bridge");
    let imds = imds_ok();
    let cmd = ddboot(dir.path())
        .imds(&imds)
        .task_metadata(&tm)
        .env("DD_AGENT_HOST", "agent.internal")
        .args(["--dd-env", "e", "--dd-service", "s", "--dd-version", "v"]);
    let report = cmd.explain();
    assert_resolved(&report, Some("agent.internal"), "env");
    assert_eq!(outcome(&report, "task-metadata"), "skipped");
    assert_untouched(&tm);
    assert_untouched(&imds);

    // The host is known but the tags are not: asked once, for the tags only.
    let tm = fixture_mock("ec2-bridge");
    let env =
        ddboot(dir.path()).imds(&imds).task_metadata(&tm).env("DD_AGENT_HOST", "agent.internal").app_env();
    assert_task_requests(&tm, 1);
    assert_untouched(&imds);
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some("agent.internal"));
    assert_eq!(env.get("DD_ENV").map(String::as_str), Some("prod"));
}

// ---------------------------------------------------------------------------------------------
// 2. Unix sockets
// ---------------------------------------------------------------------------------------------

/// Both sockets: no host needed, URLs exported, IMDS never asked, no DD_AGENT_HOST.
#[test]
fn both_sockets_make_a_host_unnecessary() {
    let dir = TempDir::new();
    let _apm = dir.socket("apm.socket");
    let _dsd = dir.socket("dsd.socket");
    let apm_url = format!("unix://{}", dir.join("apm.socket").display());
    let dsd_url = format!("unix://{}", dir.join("dsd.socket").display());
    let imds = imds_ok();
    let cmd = ddboot(dir.path()).imds(&imds);

    let report = cmd.explain();
    assert_resolved(&report, None, "socket");
    assert_eq!(outcome(&report, "socket"), "ok");
    assert_eq!(report["env"]["DD_TRACE_AGENT_URL"], apm_url.as_str());
    assert_eq!(report["env"]["DD_DOGSTATSD_URL"], dsd_url.as_str());
    assert_eq!(report["origins"]["DD_TRACE_AGENT_URL"], "socket");
    assert!(report["env"].get("DD_AGENT_HOST").is_none(), "{report:#}");
    assert_eq!(report["platform"]["agent"], "socket");

    for inherited in [None, Some("")] {
        let cmd = match inherited {
            Some(v) => cmd.clone().env("DD_AGENT_HOST", v),
            None => cmd.clone(),
        };
        let env = cmd.app_env();
        assert_eq!(env.get("DD_TRACE_AGENT_URL"), Some(&apm_url));
        assert_eq!(env.get("DD_DOGSTATSD_URL"), Some(&dsd_url));
        assert!(!env.contains_key("DD_AGENT_HOST"), "inherited {inherited:?}: {env:?}");
    }
    assert_untouched(&imds);
}

/// An already-set DD_TRACE_AGENT_URL is kept; the other socket is still exported.
#[test]
fn inherited_trace_agent_url_is_kept() {
    let dir = TempDir::new();
    let _apm = dir.socket("apm.socket");
    let _dsd = dir.socket("dsd.socket");
    let imds = imds_ok();
    let env = ddboot(dir.path()).imds(&imds).env("DD_TRACE_AGENT_URL", "http://10.1.1.1:8126").app_env();
    assert_eq!(env.get("DD_TRACE_AGENT_URL").map(String::as_str), Some("http://10.1.1.1:8126"));
    let dsd_url = format!("unix://{}", dir.join("dsd.socket").display());
    assert_eq!(env.get("DD_DOGSTATSD_URL"), Some(&dsd_url));
    assert!(!env.contains_key("DD_AGENT_HOST"));
    assert_untouched(&imds);
}

/// Only `socket` (apm.socket or dsd.socket) of the two in `dir` is usable: the socket attempt
/// fails saying `why`, the host is still resolved through IMDS, and the app gets that socket's
/// URL but not the other one's. Returns the report.
fn assert_one_usable_socket(dir: &TempDir, socket: &str, why: &str) -> Value {
    let imds = imds_ok();
    let cmd = ddboot(dir.path()).imds(&imds);
    let report = cmd.explain();
    assert_resolved(&report, Some(MOCK_IP), "imdsv2");
    assert_eq!(outcome(&report, "socket"), "failed");
    assert!(detail(&report, "socket").contains(why), "{report:#}");
    let env = cmd.app_env();
    let (var, other) = match socket {
        "apm.socket" => ("DD_TRACE_AGENT_URL", "DD_DOGSTATSD_URL"),
        _ => ("DD_DOGSTATSD_URL", "DD_TRACE_AGENT_URL"),
    };
    let url = format!("unix://{}", dir.join(socket).display());
    assert_eq!(env.get(var), Some(&url));
    assert!(!env.contains_key(other), "{env:?}");
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some(MOCK_IP));
    report
}

/// A regular file named apm.socket is not a socket: only dsd.socket counts, and the host is
/// still resolved.
#[test]
fn a_regular_file_is_not_a_socket() {
    let dir = TempDir::new();
    dir.write("apm.socket", "not a socket");
    let _dsd = dir.socket("dsd.socket");
    let report = assert_one_usable_socket(&dir, "dsd.socket", "apm.socket: absent");
    assert!(report["platform"]["sockets"]["apm"].is_null());
    assert_eq!(report["platform"]["agent"], "daemon");
}

/// One socket only: its URL is exported and the host is still resolved through IMDS.
#[test]
fn one_socket_still_needs_a_host() {
    let dir = TempDir::new();
    let _apm = dir.socket("apm.socket");
    assert_one_usable_socket(&dir, "apm.socket", "the host is still needed");
}

// ---------------------------------------------------------------------------------------------
// 3. Sidecar
// ---------------------------------------------------------------------------------------------

/// Runs `cmd` with IMDS at a fresh mock, expecting a sidecar Agent: 127.0.0.1 in the report and
/// in the app's environment, IMDS never asked. Returns the report.
fn assert_sidecar(cmd: Ddboot) -> Value {
    let imds = imds_ok();
    let cmd = cmd.imds(&imds);
    let report = cmd.explain();
    assert_resolved(&report, Some("127.0.0.1"), "sidecar");
    assert_eq!(report["platform"]["agent"], "sidecar", "{report:#}");
    let env = cmd.app_env();
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some("127.0.0.1"));
    assert_untouched(&imds);
    report
}

/// Runs with the task metadata of `tm` and IMDS at a fresh mock, expecting the daemon through
/// IMDS (the sidecar attempt skipped), in the report and in the app's environment. Returns the
/// report.
fn assert_daemon_not_sidecar(dir: &TempDir, tm: &Mock) -> Value {
    let imds = imds_ok();
    let cmd = ddboot(dir.path()).imds(&imds).task_metadata(tm);
    let report = cmd.explain();
    assert_resolved(&report, Some(MOCK_IP), "imdsv2");
    assert_eq!(outcome(&report, "sidecar"), "skipped");
    assert_eq!(report["platform"]["agent"], "daemon");
    assert!(imds.token_puts() >= 1);
    let env = cmd.app_env();
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some(MOCK_IP));
    report
}

/// Asserts the task a report shows: launch type, network mode, Agent container (`None`: null).
fn assert_task_platform(
    report: &Value,
    launch_type: &str,
    network_mode: &str,
    agent_container: Option<&str>,
) {
    let p = &report["platform"];
    assert_eq!(p["launch_type"], launch_type, "{report:#}");
    assert_eq!(p["network_mode"], network_mode, "{report:#}");
    assert_eq!(p["agent_container"].as_str(), agent_container, "{report:#}");
}

/// A task metadata mock serving fixture `name` whose task also lists a container named
/// datadog-agent running `image`, on `network_mode` at `ip`.
fn fixture_mock_with_agent(name: &str, image: &str, network_mode: &str, ip: &str) -> Mock {
    let mut task = fixture_json(&format!("{name}-task.json"));
    task["Containers"].as_array_mut().expect("containers").push(json!({
        "Name": "datadog-agent",
        "Image": image,
        "Type": "NORMAL",
        "Networks": [{"NetworkMode": network_mode, "IPv4Addresses": [ip]}]
    }));
    task_mock(&fixture(&format!("{name}-container.json")), &task.to_string(), TaskMeta::Ok)
}

/// AWS_EXECUTION_ENV=AWS_ECS_FARGATE: the Agent is a sidecar at 127.0.0.1, IMDS never asked.
#[test]
fn fargate_execution_env_means_a_sidecar() {
    let dir = TempDir::new();
    let report = assert_sidecar(ddboot(dir.path()).env("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE"));
    assert_eq!(report["platform"]["execution_env"], "AWS_ECS_FARGATE");
}

/// LaunchType FARGATE in the task metadata, without AWS_EXECUTION_ENV: a sidecar too.
#[test]
fn fargate_launch_type_means_a_sidecar() {
    let dir = TempDir::new();
    let tm = fixture_mock("fargate");
    let report = assert_sidecar(ddboot(dir.path()).task_metadata(&tm));
    assert_eq!(outcome(&report, "sidecar"), "ok");
    assert!(detail(&report, "sidecar").contains("FARGATE"), "{report:#}");
    assert_task_platform(&report, "FARGATE", "awsvpc", Some("datadog-agent"));
    assert!(report["platform"]["execution_env"].is_null());
    assert_task_requests(&tm, 2);
}

/// Managed Instances: an awsvpc task whose Agent container has a mirrored image and its own
/// name is a sidecar.
#[test]
fn managed_instances_agent_container_means_a_sidecar() {
    let dir = TempDir::new();
    let tm = fixture_mock("managed-instances");
    let report = assert_sidecar(ddboot(dir.path()).task_metadata(&tm));
    assert_task_platform(&report, "MANAGED_INSTANCES", "awsvpc", Some("dd-sidecar"));
    assert!(detail(&report, "sidecar").contains("dd-sidecar"), "{report:#}");
}

/// The documented EC2 awsvpc example has no Agent container: a daemon, found through IMDS.
#[test]
fn ec2_awsvpc_without_agent_container_is_a_daemon() {
    let dir = TempDir::new();
    let report = assert_daemon_not_sidecar(&dir, &fixture_mock("ec2-awsvpc"));
    assert_task_platform(&report, "EC2", "awsvpc", None);
}

/// An awsvpc task with a container NAMED datadog-agent (any image) is a sidecar.
#[test]
fn awsvpc_container_named_datadog_agent_is_a_sidecar() {
    let dir = TempDir::new();
    let image = "111122223333.dkr.ecr.us-west-2.amazonaws.com/observability/custom-build:2024.1";
    let tm = fixture_mock_with_agent("ec2-awsvpc", image, "awsvpc", "10.0.2.61");
    let report = assert_sidecar(ddboot(dir.path()).task_metadata(&tm));
    assert_task_platform(&report, "EC2", "awsvpc", Some("datadog-agent"));
}

/// A bridge task listing an Agent container is not a sidecar: 127.0.0.1 is the container itself.
#[test]
fn bridge_task_with_agent_container_is_not_a_sidecar() {
    let dir = TempDir::new();
    let tm = fixture_mock_with_agent("ec2-bridge", "public.ecr.aws/datadog/agent:7", "bridge", "172.17.0.6");
    let report = assert_daemon_not_sidecar(&dir, &tm);
    assert_eq!(report["platform"]["network_mode"], "bridge");
}

// ---------------------------------------------------------------------------------------------
// 4. Bridge fallback: the default gateway
// ---------------------------------------------------------------------------------------------

/// Asserts the report of a bridge task where every other source failed.
fn assert_gateway(report: &Value, case: &str) {
    match default_gateway() {
        Some(gw) => {
            assert_resolved(report, Some(&gw.to_string()), "gateway");
            assert_eq!(outcome(report, "gateway"), "ok", "{case}");
            assert!(detail(report, "gateway").contains("fallback"), "{case}: {report:#}");
            assert_eq!(report["platform"]["agent"], "daemon", "{case}");
        }
        None => {
            eprintln!("note: no default route on this machine; checking the gateway failure instead");
            assert!(report["source"].is_null(), "{case}: {report:#}");
            assert_eq!(outcome(report, "gateway"), "failed", "{case}: {report:#}");
            assert!(!detail(report, "gateway").is_empty(), "{case}");
        }
    }
}

/// Bridge networking (from the task metadata or from a READY metadata file without a host) and
/// IMDS failing (400 on the token, or refused): the default gateway.
#[test]
fn bridge_falls_back_to_the_default_gateway() {
    let dir = TempDir::new();
    let file = dir.write("bridge.json", metadata_file(None, Some("bridge"), true));
    for (from_task_metadata, imds_refused) in [(true, false), (true, true), (false, false), (false, true)] {
        let case =
            format!("network mode from task metadata: {from_task_metadata}, IMDS refused: {imds_refused}");
        let imds = imds_400();
        let tm = fixture_mock("ec2-bridge");
        let cmd = ddboot(dir.path());
        let cmd = if imds_refused { cmd.imds_endpoint(&refused_url()) } else { cmd.imds(&imds) };
        let cmd = if from_task_metadata { cmd.task_metadata(&tm) } else { cmd.metadata_file(&file) };
        let report = cmd.explain();
        assert_eq!(report["platform"]["network_mode"], "bridge", "{case}");
        assert_eq!(attempts(&report, "imdsv2")[0]["outcome"], "failed", "{case}: {report:#}");
        assert_gateway(&report, &case);
        if let Some(gw) = default_gateway() {
            let env = cmd.app_env();
            assert_eq!(env.get("DD_AGENT_HOST"), Some(&gw.to_string()), "{case}");
        }
    }
}

/// An old ECS agent: the file starts without Networks and becomes READY (bridge, no host) while
/// ddboot polls it. The network mode learnt from the READY version must still allow the gateway.
#[test]
fn bridge_learnt_while_polling_the_metadata_file_allows_the_gateway() {
    let dir = TempDir::new();
    let file = dir.write("early.json", metadata_file(None, None, false));
    let ready = metadata_file(None, Some("bridge"), true);
    let replacement = common::replace_later(&file, Duration::from_millis(60), ready);
    let report =
        ddboot(dir.path()).imds_endpoint(&refused_url()).metadata_file(&file).timeout("2s").explain();
    replacement.join().expect("replacement thread");
    assert_eq!(outcome(&report, "metadata-file"), "failed", "{report:#}");
    assert!(detail(&report, "metadata-file").contains("READY but without"), "{report:#}");
    assert_eq!(report["platform"]["network_mode"], "bridge", "{report:#}");
    assert_gateway(&report, "bridge learnt while polling");
}

/// awsvpc (or unknown) networking with IMDS failing: unresolved, the gateway is not used.
#[test]
fn awsvpc_never_falls_back_to_the_gateway() {
    let dir = TempDir::new();
    let file = dir.write("awsvpc.json", metadata_file(None, Some("awsvpc"), true));
    for from_task_metadata in [true, false] {
        let imds = imds_400();
        let tm = fixture_mock("ec2-awsvpc");
        let cmd = ddboot(dir.path()).imds(&imds);
        let cmd = if from_task_metadata { cmd.task_metadata(&tm) } else { cmd.metadata_file(&file) };
        let report = cmd.explain();
        assert!(report["source"].is_null() && report["agent_host"].is_null(), "{report:#}");
        assert_eq!(outcome(&report, "gateway"), "skipped");
        let d = detail(&report, "gateway");
        assert!(d.contains("bridge networking only") && d.contains("awsvpc"), "{d}");
        assert!(report["env"].get("DD_AGENT_HOST").is_none(), "{report:#}");
        let env = cmd.app_env();
        assert!(!env.contains_key("DD_AGENT_HOST"), "{env:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Service tags
// ---------------------------------------------------------------------------------------------

/// The report and the app's environment of a run whose host comes from a READY metadata file,
/// so only the tags are at stake: task metadata from `tm`, ddboot's `args`, `inherited` variables.
fn tags_run(tm: &Mock, args: &[&str], inherited: &[(&str, &str)]) -> (Value, BTreeMap<String, String>) {
    let dir = TempDir::new();
    let file = dir.write("ready.json", metadata_file(Some(FILE_IP), Some("bridge"), true));
    let mut cmd = ddboot(dir.path()).metadata_file(&file).task_metadata(tm).args(args);
    for (k, v) in inherited {
        cmd = cmd.env(k, v);
    }
    (cmd.explain(), cmd.app_env())
}

/// com.datadoghq.tags.* labels become DD_ENV, DD_SERVICE, DD_VERSION (a version label beats
/// the image tag).
#[test]
fn labels_become_service_tags() {
    let (report, env) = tags_run(&fixture_mock("ec2-bridge"), &[], &[]);
    for (name, value, key) in [
        ("DD_ENV", "prod", "env"),
        ("DD_SERVICE", "shop-web", "service"),
        ("DD_VERSION", "2.7.1-label", "version"),
    ] {
        let origin = format!("label com.datadoghq.tags.{key}");
        assert_eq!(tag(&report, name), (Some(value.to_string()), origin.clone()));
        assert_eq!(report["env"][name], value);
        assert_eq!(report["origins"][name], origin.as_str());
        assert_eq!(env.get(name).map(String::as_str), Some(value));
    }
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some(FILE_IP));
}

/// Without a version label the image tag is DD_VERSION; a registry port is not a tag.
#[test]
fn image_tag_becomes_the_version() {
    let (report, env) = tags_run(&fixture_mock("managed-instances"), &[], &[]);
    assert_eq!(tag(&report, "DD_VERSION"), (Some("3.2.0".into()), "image tag".into()));
    assert_eq!(report["origins"]["DD_VERSION"], "image tag");
    assert_eq!(tag(&report, "DD_ENV"), (None, "unset".into()));
    assert_eq!(tag(&report, "DD_SERVICE"), (None, "unset".into()));
    assert_eq!(env.get("DD_VERSION").map(String::as_str), Some("3.2.0"));
    assert!(!env.contains_key("DD_ENV") && !env.contains_key("DD_SERVICE"), "{env:?}");
}

/// `latest`, digests and registry ports never become DD_VERSION.
#[test]
fn latest_digests_and_registry_ports_are_never_versions() {
    let mut images: Vec<(String, String)> = vec![
        (
            "ec2-awsvpc fixture (:latest)".into(),
            fixture_json("ec2-awsvpc-container.json")["Image"].to_string(),
        ),
        (
            "fargate fixture (port and digest)".into(),
            fixture_json("fargate-container.json")["Image"].to_string(),
        ),
    ];
    for image in [
        "registry.example.com:5000/team/api",
        "localhost:5000/orders:latest",
        "app:LATEST",
        "registry.example.com:5000/team/api@sha256:0f9e8d7c6b5a49382716051f4e3d2c1b0a9f8e7d6c5b4a392817160504f3e2d1",
    ] {
        images.push((image.to_string(), json!(image).to_string()));
    }
    for (case, image_json) in images {
        let container = format!(
            r#"{{"Name":"app","Image":{image_json},"Networks":[{{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.5"]}}]}}"#
        );
        let tm = task_mock(&container, &fixture("ec2-bridge-task.json"), TaskMeta::Ok);
        let (report, env) = tags_run(&tm, &[], &[]);
        assert_eq!(tag(&report, "DD_VERSION"), (None, "unset".into()), "{case}: {report:#}");
        assert!(!env.contains_key("DD_VERSION"), "{case}: {env:?}");
    }
}

/// Precedence, through the binary: flag > inherited non-empty env > label > image tag.
#[test]
fn tag_precedence_table() {
    const ENV: &str = "label com.datadoghq.tags.env";
    const SVC: &str = "label com.datadoghq.tags.service";
    const VER: &str = "label com.datadoghq.tags.version";
    const IMAGE: &str = "image tag";
    const INHERITED: &str = "inherited";
    /// Each label origin and the value its label holds.
    const LABELS: [(&str, &str); 3] = [(ENV, "label-env"), (SVC, "label-svc"), (VER, "label-ver")];
    let container = |version_label: bool| {
        let mut labels = json!({"com.amazonaws.ecs.container-name": "app"});
        for (origin, value) in LABELS.into_iter().filter(|(o, _)| version_label || *o != VER) {
            labels[origin.trim_start_matches("label ")] = json!(value);
        }
        json!({
            "Name": "app",
            "Image": "registry.example.com:5000/team/app:2.0",
            "Labels": labels,
            "Networks": [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.5"]}],
        })
        .to_string()
    };
    let task = fixture("ec2-bridge-task.json");
    let plain = task_mock(&container(false), &task, TaskMeta::Ok);
    let versioned = task_mock(&container(true), &task, TaskMeta::Ok);
    const FLAGS: &[&str] = &["--dd-env", "flag-env", "--dd-service", "flag-svc", "--dd-version", "flag-ver"];
    const VARS: &[(&str, &str)] =
        &[("DD_ENV", "env-env"), ("DD_SERVICE", "env-svc"), ("DD_VERSION", "env-ver")];
    const EMPTY_VARS: &[(&str, &str)] = &[("DD_ENV", ""), ("DD_SERVICE", ""), ("DD_VERSION", "")];
    // (ddboot's args, inherited variables, version label, the origin of DD_ENV, DD_SERVICE,
    // DD_VERSION); the value each must have is the one its origin holds in that row.
    type Row = (&'static [&'static str], &'static [(&'static str, &'static str)], bool, [&'static str; 3]);
    let rows: [Row; 8] = [
        (&[], &[], false, [ENV, SVC, IMAGE]),
        (&[], &[], true, [ENV, SVC, VER]),
        (FLAGS, VARS, true, ["flag --dd-env", "flag --dd-service", "flag --dd-version"]),
        (&[], VARS, true, [INHERITED, INHERITED, INHERITED]),
        (&["--dd-service", "flag-svc"], &VARS[..2], false, [INHERITED, "flag --dd-service", IMAGE]),
        (&[], EMPTY_VARS, false, [ENV, SVC, IMAGE]),
        (
            &["--dd-version", "flag-ver"],
            &[("DD_VERSION", "env-ver"), ("DD_ENV", "")],
            true,
            [ENV, SVC, "flag --dd-version"],
        ),
        (&[], &VARS[2..], false, [ENV, SVC, INHERITED]),
    ];
    for (i, (args, inherited, version_label, origins)) in rows.into_iter().enumerate() {
        let tm = if version_label { &versioned } else { &plain };
        let (report, env) = tags_run(tm, args, inherited);
        for (name, origin) in ["DD_ENV", "DD_SERVICE", "DD_VERSION"].into_iter().zip(origins) {
            let row = format!("row {i} ({args:?}, {inherited:?}, version label {version_label}), {name}");
            let value = match origin {
                INHERITED => inherited.iter().find(|(k, _)| *k == name).map(|(_, v)| *v),
                IMAGE => Some("2.0"),
                _ => match origin.strip_prefix("flag ") {
                    Some(flag) => args.iter().position(|a| *a == flag).map(|i| args[i + 1]),
                    None => LABELS.iter().find(|(o, _)| *o == origin).map(|(_, v)| *v),
                },
            };
            assert!(value.is_some(), "{row}: the row gives no value for origin {origin:?}");
            assert_eq!(tag(&report, name), (value.map(str::to_string), origin.to_string()), "{row}");
            assert_eq!(env.get(name).map(String::as_str), value, "{row}");
            if origin == INHERITED {
                assert!(report["env"].get(name).is_none(), "{row}: an inherited value is left untouched");
            } else {
                assert_eq!(report["origins"][name], origin, "{row}");
            }
        }
    }
}

/// An inherited empty DD_ENV does not block the label, and the app gets the label's value.
#[test]
fn inherited_empty_env_does_not_block_the_label() {
    let (report, env) = tags_run(&fixture_mock("fargate"), &[], &[("DD_ENV", "")]);
    assert_eq!(tag(&report, "DD_ENV"), (Some("staging".into()), "label com.datadoghq.tags.env".into()));
    assert_eq!(env.get("DD_ENV").map(String::as_str), Some("staging"));
    assert_eq!(env.get("DD_SERVICE").map(String::as_str), Some("checkout-api"));
}

// ---------------------------------------------------------------------------------------------
// 6. --explain
// ---------------------------------------------------------------------------------------------

/// The text report shows the platform and where each tag came from.
#[test]
fn explain_text_shows_the_platform_and_tag_origins() {
    let (empty, dir) = (TempDir::new(), TempDir::new());
    let imds = imds_ok();
    let sidecar = fixture_mock("managed-instances");
    let bridge = fixture_mock("ec2-bridge");
    let _sockets = [dir.socket("apm.socket"), dir.socket("dsd.socket")];
    let no_sockets = ddboot(empty.path()).imds(&imds);
    // (command, the lines its text report has, runs of spaces collapsed; what else it says)
    let cases = [
        (
            no_sockets.clone().task_metadata(&sidecar),
            "AWS_EXECUTION_ENV unknown
            launch type MANAGED_INSTANCES
            network mode awsvpc
            agent sidecar
            agent container dd-sidecar
            sockets apm.socket: absent, dsd.socket: absent
            DD_VERSION 3.2.0 (image tag)
            DD_ENV - (unset)"
                .to_string(),
            Some("Agent host: 127.0.0.1 (from sidecar, "),
        ),
        (
            no_sockets.task_metadata(&bridge),
            "launch type EC2
            network mode bridge
            agent daemon
            DD_ENV prod (label com.datadoghq.tags.env)
            DD_SERVICE shop-web (label com.datadoghq.tags.service)
            DD_VERSION 2.7.1-label (label com.datadoghq.tags.version)"
                .to_string(),
            None,
        ),
        (
            ddboot(dir.path()).imds(&imds).env("AWS_EXECUTION_ENV", "AWS_ECS_EC2"),
            format!(
                "AWS_EXECUTION_ENV AWS_ECS_EC2
                agent socket
                sockets apm.socket: {}, dsd.socket: {}",
                dir.join("apm.socket").display(),
                dir.join("dsd.socket").display()
            ),
            None,
        ),
    ];
    for (cmd, lines, also) in cases {
        let text = cmd.explain_text();
        for line in lines.lines() {
            assert_line(&text, line.trim());
        }
        if let Some(also) = also {
            assert!(text.contains(also), "{text}");
        }
    }
}

/// The JSON report has the platform object with every field.
#[test]
fn explain_json_has_the_platform_object() {
    let dir = TempDir::new();
    let imds = imds_ok();
    let tm = fixture_mock("managed-instances");
    let report = ddboot(dir.path())
        .imds(&imds)
        .task_metadata(&tm)
        .env("AWS_EXECUTION_ENV", "AWS_ECS_MANAGED_INSTANCES")
        .explain();
    assert_eq!(
        report["platform"],
        json!({
            "execution_env": "AWS_ECS_MANAGED_INSTANCES",
            "launch_type": "MANAGED_INSTANCES",
            "network_mode": "awsvpc",
            "agent": "sidecar",
            "agent_container": "dd-sidecar",
            "sockets": {"apm": null, "dsd": null},
        })
    );
    for a in report["attempts"].as_array().expect("attempts") {
        let mut keys: Vec<&str> = a.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["detail", "elapsed_ms", "outcome", "source"], "{a}");
    }
    let sources: Vec<&str> = report["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["source"].as_str().expect("source"))
        .collect();
    for s in ["env", "socket", "task-metadata", "sidecar", "metadata-file", "imdsv2", "gateway"] {
        assert!(sources.contains(&s), "no {s} attempt: {report:#}");
    }

    let report = ddboot(dir.path()).explain();
    let p = &report["platform"];
    for key in ["execution_env", "launch_type", "network_mode", "agent", "agent_container"] {
        assert!(p.get(key).is_some_and(Value::is_null), "{key}: {report:#}");
    }
    assert_eq!(p["sockets"], json!({"apm": null, "dsd": null}));
}

// ---------------------------------------------------------------------------------------------
// 7. The real gateway, in a network namespace
// ---------------------------------------------------------------------------------------------

fn ip_command() -> Option<&'static str> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].into_iter().find(|p| Path::new(p).exists())
}

/// A network namespace deleted on drop.
struct Netns {
    ip: &'static str,
    name: String,
}

static NETNS_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Netns {
    fn create(ip: &'static str) -> Result<Netns, String> {
        let n = NETNS_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("ddb-gw-{}-{n}", std::process::id());
        run_ip(ip, &["netns", "add", &name])?;
        Ok(Netns { ip, name })
    }

    /// `ip -n <ns> ARGS`.
    fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend(args);
        run_ip(self.ip, &all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run_ip(self.ip, &["netns", "del", &self.name]) {
            eprintln!("warning: cannot delete network namespace {}: {e}", self.name);
        }
    }
}

fn run_ip(ip: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{ip}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {} {}", args.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Inside a fresh namespace (only `lo` and `d0`, plus a veth peer where dummies are missing)
/// whose default route is via 10.213.0.1, a bridge task with no other
/// source gets DD_AGENT_HOST=10.213.0.1 from the route table.
#[test]
fn gateway_in_a_network_namespace() {
    // Needs root and iproute2: without them the test fails rather than passing on nothing.
    let ip = ip_command().expect("the ip command (iproute2) is needed");
    let ns = Netns::create(ip).unwrap_or_else(|e| panic!("a network namespace (root needed): {e}"));
    ns.ip(&["link", "set", "lo", "up"]).expect("lo up");
    // A dummy interface; where the kernel has none, a veth pair with both ends in the namespace.
    if let Err(dummy) = ns.ip(&["link", "add", "d0", "type", "dummy"]) {
        if let Err(veth) = ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]) {
            panic!("neither a dummy nor a veth interface: {dummy}; {veth}");
        }
        ns.ip(&["link", "set", "d1", "up"]).expect("d1 up");
    }
    ns.ip(&["addr", "add", "10.213.0.2/24", "dev", "d0"]).expect("address");
    ns.ip(&["link", "set", "d0", "up"]).expect("d0 up");
    ns.ip(&["route", "add", "default", "via", "10.213.0.1", "dev", "d0"]).expect("default route");

    let dir = TempDir::new();
    let file = dir.write("bridge.json", metadata_file(None, Some("bridge"), true));
    let cmd = ddboot(dir.path())
        .launcher([ip, "netns", "exec", &ns.name])
        .imds_endpoint("http://127.0.0.1:9")
        .metadata_file(&file);
    let report = cmd.explain();
    assert_resolved(&report, Some("10.213.0.1"), "gateway");
    assert!(detail(&report, "gateway").contains("fallback"), "{report:#}");
    assert_eq!(attempts(&report, "imdsv2")[0]["outcome"], "failed");
    assert!(
        attempts(&report, "imdsv2")[0]["detail"].as_str().is_some_and(|d| d.contains("refused")),
        "{report:#}"
    );
    let env = cmd.app_env();
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some("10.213.0.1"));
}

// ---------------------------------------------------------------------------------------------
// Measurement (printed, not asserted)
// ---------------------------------------------------------------------------------------------

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// What the task metadata requests add to a run against the loopback mock: 50 runs with a READY
/// metadata file (host IP) with and without ECS_CONTAINER_METADATA_URI_V4, interleaved.
#[test]
fn task_metadata_overhead_is_measured() {
    const RUNS: usize = 50;
    let dir = TempDir::new();
    let file = dir.write("ready.json", metadata_file(Some(FILE_IP), Some("bridge"), true));
    let tm = fixture_mock("ec2-bridge");
    let without = ddboot(dir.path()).metadata_file(&file);
    let with = without.clone().task_metadata(&tm);
    let (mut wall_with, mut wall_without, mut wall_diff) = (vec![], vec![], vec![]);
    let (mut own_with, mut own_without) = (vec![], vec![]);
    for _ in 0..RUNS {
        let a = with.run_with(&["--explain", "--json"]);
        let b = without.run_with(&["--explain", "--json"]);
        let (ja, jb) = (a.json(), b.json());
        assert_eq!(ja["source"], "metadata-file");
        assert_eq!(jb["source"], "metadata-file");
        assert_eq!(ja["tags"]["DD_ENV"]["value"], "prod");
        let (ma, mb) = (a.elapsed.as_secs_f64() * 1e3, b.elapsed.as_secs_f64() * 1e3);
        wall_with.push(ma);
        wall_without.push(mb);
        wall_diff.push(ma - mb);
        own_with.push(ja["elapsed_ms"].as_f64().expect("elapsed_ms"));
        own_without.push(jb["elapsed_ms"].as_f64().expect("elapsed_ms"));
    }
    assert_task_requests(&tm, RUNS);
    eprintln!(
        "task metadata overhead over {RUNS} runs: process wall time median {:.2} ms with vs {:.2} ms \
         without (median paired difference {:.2} ms); ddboot's own elapsed_ms median {:.2} vs {:.2} ms \
         (difference {:.2} ms)",
        median(&mut wall_with),
        median(&mut wall_without),
        median(&mut wall_diff),
        median(&mut own_with),
        median(&mut own_without),
        median(&mut own_with) - median(&mut own_without),
    );
}
