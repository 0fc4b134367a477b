//! The ECS shapes of 2026 against the bundled mocks (issue 12): Managed Instances with a managed
//! daemon Agent (`daemon-bridge`, IPv4 and IPv6-only, sockets and a sidecar keeping precedence,
//! the guess when the task metadata cannot be read), IPv6-only instances (the metadata file's
//! `HostIPv6Address`; IMDS answering 404 for `local-ipv4` and serving `meta-data/ipv6`, on a
//! loopback IPv6 listener where the host has one), how an IPv6 host is exported, ECS Anywhere
//! (`LaunchType` `EXTERNAL`: never IMDS), IMDS waiting for the launch type unless
//! `AWS_EXECUTION_ENV=AWS_ECS_EC2`, and unknown `LaunchType` / `NetworkMode` values reported and
//! ignored. Every run goes through the shared harness (loopback endpoints only). The IPv6 IMDS
//! endpoint fallback is tested only inside network namespaces this file creates
//! (`netns_ipv6_endpoint_fallback`, root and `ip netns` required, like tests/netns.rs).

mod common;

use std::time::Duration;

use common::*;
use mockmeta::TaskMeta;
use serde_json::json;

const DAEMON_V4: &str = "169.254.172.2";
const DAEMON_V6: &str = "fd00:ec2::172:2";
/// An IPv6 address of the instance, as IMDS or the metadata file give it.
const INSTANCE_V6: &str = "2600:1f14:abc:de00::17";

/// A task metadata document pair (container, task) for an app container `orders` with these
/// networks, launch type and other containers.
fn task_docs(launch: &str, networks: serde_json::Value, others: &[(&str, &str)]) -> (String, String) {
    let me = json!({
        "Name": "orders",
        "Image": "localhost:5000/orders:3.2.0",
        "Labels": {"com.amazonaws.ecs.container-name": "orders"},
        "Networks": networks,
    });
    let mut containers = vec![me.clone()];
    for (name, image) in others {
        containers.push(json!({"Name": name, "Image": image, "Networks": networks}));
    }
    let task = json!({
        "Cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/mi",
        "TaskARN": "arn:aws:ecs:eu-west-1:111122223333:task/mi/5b7e3c2a19d84f6e8a0b1c2d3e4f5a6b",
        "Family": "orders",
        "LaunchType": launch,
        "Containers": containers,
    });
    (me.to_string(), task.to_string())
}

fn awsvpc_v4() -> serde_json::Value {
    json!([{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.1.4.77"]}])
}

fn awsvpc_v6() -> serde_json::Value {
    json!([{"NetworkMode": "awsvpc", "IPv6Addresses": ["2600:1f14:abc:de00::99"]}])
}

fn task_mock(docs: (String, String), behaviour: TaskMeta) -> Mock {
    start_mock(|b| {
        b.container_json = Some(docs.0);
        b.task_json = Some(docs.1);
        b.task_metadata = behaviour;
    })
}

/// ddboot with IMDS at `imds` and the task metadata at `tm`.
fn ddboot(imds: &Mock, tm: &Mock) -> Ddboot {
    Ddboot::new().imds(imds).env("ECS_CONTAINER_METADATA_URI_V4", tm.task_metadata_uri())
}

fn explain(cmd: &Ddboot) -> Value {
    let f = cmd.clone().args(["--explain", "--json"]).run();
    f.json()
}

fn app_env(cmd: &Ddboot) -> std::collections::BTreeMap<String, String> {
    let f = cmd.clone().args(ENV_DUMP).run();
    f.assert_code(0);
    f.env()
}

fn assert_imds_untouched(imds: &Mock) {
    assert_no_requests(imds);
}

// ---------------------------------------------------------------------------------------------
// Managed Instances: the daemon bridge
// ---------------------------------------------------------------------------------------------

/// Managed Instances (by AWS_EXECUTION_ENV or by LaunchType alone), no Agent container, no
/// sockets: the daemon bridge, no IMDS request, and --explain says why.
#[test]
fn managed_instances_daemon_uses_the_daemon_bridge_without_imds() {
    for with_env in [true, false] {
        let imds = start_mock(|_| {});
        let tm = task_mock(task_docs("MANAGED_INSTANCES", awsvpc_v4(), &[]), TaskMeta::Ok);
        let mut cmd = ddboot(&imds, &tm);
        if with_env {
            cmd = cmd.env("AWS_EXECUTION_ENV", "AWS_ECS_MANAGED_INSTANCES");
        }
        let report = explain(&cmd);
        assert_eq!(report["agent_host"], DAEMON_V4, "{report:#}");
        assert_eq!(report["source"], "daemon-bridge", "{report:#}");
        assert_eq!(report["platform"]["agent"], "daemon");
        assert_eq!(report["platform"]["launch_type"], "MANAGED_INSTANCES");
        let why = detail_of(&report, "daemon-bridge");
        let how = if with_env {
            "AWS_EXECUTION_ENV=AWS_ECS_MANAGED_INSTANCES"
        } else {
            "LaunchType MANAGED_INSTANCES"
        };
        assert!(why.contains(how) && why.contains("no Agent container"), "{why}");
        assert!(!why.contains("guess"), "{why}");
        assert_attempt(&report, "imdsv2", "skipped");
        assert_eq!(report["env"]["DD_AGENT_HOST"], DAEMON_V4);
        assert!(report["env"]["DD_TRACE_AGENT_URL"].is_null(), "IPv4: no URL: {report:#}");

        let f = cmd.clone().args(ENV_DUMP).run();
        f.assert_code(0).assert_app_host(DAEMON_V4).assert_status_line(DAEMON_V4, "daemon-bridge");
        assert_imds_untouched(&imds);
    }
}

/// An IPv6-only task (networks with IPv6Addresses only): fd00:ec2::172:2, with bracketed URLs.
#[test]
fn managed_instances_ipv6_only_task_uses_the_ipv6_daemon_bridge() {
    let imds = start_mock(|_| {});
    let tm = task_mock(task_docs("MANAGED_INSTANCES", awsvpc_v6(), &[]), TaskMeta::Ok);
    let cmd = ddboot(&imds, &tm);
    let report = explain(&cmd);
    assert_eq!(report["agent_host"], DAEMON_V6, "{report:#}");
    assert_eq!(report["source"], "daemon-bridge");
    assert!(detail_of(&report, "daemon-bridge").contains("IPv6-only"), "{report:#}");
    assert!(detail_of(&report, "task-metadata").contains("IPv6-only networks"), "{report:#}");
    let env = app_env(&cmd);
    assert_eq!(env.get("DD_AGENT_HOST").map(String::as_str), Some(DAEMON_V6));
    assert_eq!(env.get("DD_TRACE_AGENT_URL").map(String::as_str), Some("http://[fd00:ec2::172:2]:8126"));
    assert_eq!(env.get("DD_DOGSTATSD_URL").map(String::as_str), Some("udp://[fd00:ec2::172:2]:8125"));
    assert_imds_untouched(&imds);

    // The same when only the metadata file tells: HostIPv6Address and no HostPrivateIPv4Address.
    let dir = TempDir::new();
    let file = dir.write(
        "meta.json",
        json!({"MetadataFileStatus": "READY", "HostIPv6Address": INSTANCE_V6,
               "Networks": [{"NetworkMode": "awsvpc"}]})
        .to_string(),
    );
    let tm = task_mock(task_docs("MANAGED_INSTANCES", json!([{"NetworkMode": "awsvpc"}]), &[]), TaskMeta::Ok);
    let report = explain(&ddboot(&imds, &tm).metadata_file(&file));
    assert_eq!(report["agent_host"], DAEMON_V6, "{report:#}");
    assert!(detail_of(&report, "daemon-bridge").contains("HostIPv6Address only"), "{report:#}");
    assert_imds_untouched(&imds);
}

/// An inherited DD_TRACE_AGENT_URL is kept; --print-env quotes the IPv6 URLs for the shell.
#[test]
fn ipv6_urls_respect_inherited_values_and_print_env_quotes_them() {
    let imds = start_mock(|_| {});
    let tm = task_mock(task_docs("MANAGED_INSTANCES", awsvpc_v6(), &[]), TaskMeta::Ok);
    let env = app_env(&ddboot(&imds, &tm).env("DD_TRACE_AGENT_URL", "http://agent.local:8126"));
    assert_eq!(env.get("DD_TRACE_AGENT_URL").map(String::as_str), Some("http://agent.local:8126"));
    assert_eq!(env.get("DD_DOGSTATSD_URL").map(String::as_str), Some("udp://[fd00:ec2::172:2]:8125"));

    let f = ddboot(&imds, &tm).arg("--print-env").run();
    f.assert_code(0);
    let out = f.stdout_text();
    for line in [
        "export DD_AGENT_HOST='fd00:ec2::172:2'",
        "export DD_TRACE_AGENT_URL='http://[fd00:ec2::172:2]:8126'",
        "export DD_DOGSTATSD_URL='udp://[fd00:ec2::172:2]:8125'",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing: {out}");
    }
    // The lines evaluate to the same values in a real shell.
    let script =
        format!("{out}\nprintf '%s|%s|%s' \"$DD_AGENT_HOST\" \"$DD_TRACE_AGENT_URL\" \"$DD_DOGSTATSD_URL\"");
    let sh = std::process::Command::new("/bin/sh").arg("-c").arg(&script).env_clear().output().expect("sh");
    assert_eq!(
        String::from_utf8_lossy(&sh.stdout),
        "fd00:ec2::172:2|http://[fd00:ec2::172:2]:8126|udp://[fd00:ec2::172:2]:8125"
    );
    assert_imds_untouched(&imds);
}

/// Sockets and a sidecar keep precedence over the daemon bridge.
#[test]
fn sockets_and_a_sidecar_win_over_the_daemon_bridge() {
    let imds = start_mock(|_| {});
    let dir = TempDir::new();
    let _apm = dir.socket("apm.socket");
    let _dsd = dir.socket("dsd.socket");
    let tm = task_mock(task_docs("MANAGED_INSTANCES", awsvpc_v4(), &[]), TaskMeta::Ok);
    let report = explain(
        &ddboot(&imds, &tm)
            .env("AWS_EXECUTION_ENV", "AWS_ECS_MANAGED_INSTANCES")
            .env("DDBOOT_SOCKET_DIR", dir.path()),
    );
    assert_eq!(report["source"], "socket", "{report:#}");
    assert!(report["agent_host"].is_null());
    assert!(report["env"]["DD_AGENT_HOST"].is_null(), "{report:#}");

    let sidecar = task_docs("MANAGED_INSTANCES", awsvpc_v4(), &[("dd", "public.ecr.aws/datadog/agent:7")]);
    let tm = task_mock(sidecar, TaskMeta::Ok);
    let report = explain(&ddboot(&imds, &tm).env("AWS_EXECUTION_ENV", "AWS_ECS_MANAGED_INSTANCES"));
    assert_eq!(report["source"], "sidecar", "{report:#}");
    assert_eq!(report["agent_host"], "127.0.0.1");
    assert_attempt(&report, "daemon-bridge", "skipped");
    assert_imds_untouched(&imds);
}

/// On Managed Instances (by AWS_EXECUTION_ENV) the task metadata that cannot be read within its
/// budget, or is not offered at all, gives the daemon bridge as a reported guess; never IMDS.
#[test]
fn managed_instances_without_task_metadata_guesses_the_daemon_bridge() {
    let cases: [(&str, Option<TaskMeta>); 3] =
        [("hang", Some(TaskMeta::Hang)), ("500", Some(TaskMeta::Status(500))), ("no endpoint", None)];
    for (name, behaviour) in cases {
        let imds = start_mock(|_| {});
        let tm = behaviour.map(|b| task_mock(task_docs("MANAGED_INSTANCES", awsvpc_v4(), &[]), b));
        let mut cmd = Ddboot::new().imds(&imds).env("AWS_EXECUTION_ENV", "AWS_ECS_MANAGED_INSTANCES");
        if let Some(tm) = &tm {
            cmd = cmd.env("ECS_CONTAINER_METADATA_URI_V4", tm.task_metadata_uri());
        }
        let f = cmd.clone().args(["--explain", "--json"]).run();
        // Within the task metadata budget (300 ms) plus process overhead, far below the 1 s deadline.
        assert!(f.elapsed < Duration::from_millis(900), "{name}: {f:?}");
        let report = f.json();
        assert_eq!(report["agent_host"], DAEMON_V4, "{name}: {report:#}");
        assert_eq!(report["source"], "daemon-bridge", "{name}");
        let why = detail_of(&report, "daemon-bridge");
        assert!(why.contains("a guess"), "{name}: {why}");
        assert_imds_untouched(&imds);
    }
}

/// With a deadline shorter than the task metadata budget, the deadline strikes first: the daemon
/// bridge is still the guess, over the metadata file's host (the instance's IP).
#[test]
fn managed_instances_guess_wins_over_the_file_when_the_deadline_strikes_first() {
    let imds = start_mock(|_| {});
    let tm = task_mock(task_docs("MANAGED_INSTANCES", awsvpc_v4(), &[]), TaskMeta::Hang);
    let dir = TempDir::new();
    let file = dir.write("ready.json", ready_file(Some("10.9.8.7")));
    let cmd = ddboot(&imds, &tm)
        .env("AWS_EXECUTION_ENV", "AWS_ECS_MANAGED_INSTANCES")
        .metadata_file(&file)
        .args(["--timeout", "150ms"]);
    let report = explain(&cmd);
    assert_eq!(report["agent_host"], DAEMON_V4, "{report:#}");
    assert_eq!(report["source"], "daemon-bridge", "{report:#}");
    assert!(detail_of(&report, "daemon-bridge").contains("a guess"), "{report:#}");
    assert_imds_untouched(&imds);
}

// ---------------------------------------------------------------------------------------------
// IPv6-only instances
// ---------------------------------------------------------------------------------------------

/// An IMDS that serves only meta-data/ipv6 (local-ipv4 answers 404), on [::1] where the host has
/// IPv6 loopback: the IPv6 host in 3 requests (PUT, GET local-ipv4, GET ipv6 with the same token),
/// exported with bracketed URLs.
#[test]
fn imds_serving_only_ipv6_gives_the_ipv6_host() {
    let behaviour = |b: &mut Behaviour| {
        b.get = Get::Status(404);
        b.ipv6 = Some(INSTANCE_V6.into());
        b.tokens = Tokens::Required;
    };
    let mut b = Behaviour::default();
    behaviour(&mut b);
    let start = || Mock::start_ipv6_loopback(b.clone()).unwrap_or_else(|| Mock::start(b.clone()));
    let imds = start();
    eprintln!("IMDS mock at {} (IPv6 loopback: {})", imds.url(), imds.addr().is_ipv6());
    let f = Ddboot::new().imds_endpoint(&imds.url()).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(INSTANCE_V6).assert_status_line(INSTANCE_V6, "imdsv2");
    let env = f.env();
    assert_eq!(
        env.get("DD_TRACE_AGENT_URL").map(String::as_str),
        Some("http://[2600:1f14:abc:de00::17]:8126")
    );
    assert_eq!(env.get("DD_DOGSTATSD_URL").map(String::as_str), Some("udp://[2600:1f14:abc:de00::17]:8125"));
    let requests = imds.requests();
    let paths: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        paths,
        [("PUT", mockmeta::TOKEN_PATH), ("GET", mockmeta::LOCAL_IPV4_PATH), ("GET", mockmeta::IPV6_PATH)]
    );
    let token = imds.issued_tokens()[0].clone();
    assert_eq!(requests[2].header(mockmeta::TOKEN_HEADER), Some(token.as_str()), "the same token");
    assert_hygiene(&imds);

    let imds = start();
    let report = Ddboot::new().imds_endpoint(&imds.url()).args(["--explain", "--json"]).run().json();
    assert_eq!(report["source"], "imdsv2");
    assert!(detail_of(&report, "imdsv2").contains("meta-data/ipv6"), "{report:#}");
}

/// Under IMDSv1 (the token PUT answered 403), the ipv6 GET is token-less too.
#[test]
fn imdsv1_also_asks_ipv6_after_a_404() {
    let imds = start_mock(|b| {
        b.put = Put::Status(403);
        b.get = Get::Status(404);
        b.ipv6 = Some(INSTANCE_V6.into());
    });
    let f = Ddboot::new().imds(&imds).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(INSTANCE_V6).assert_status_line(INSTANCE_V6, "imdsv1");
    assert_eq!(imds.count("GET", mockmeta::IPV6_PATH), 1);
    assert_eq!(imds.tokenless_gets(), 2);
    assert_hygiene(&imds);
}

/// An ipv6 answer that is not a usable address is rejected like a bad IPv4: unresolved, the app
/// still starts, the reason quotes a bounded, escaped part of the answer.
#[test]
fn bad_ipv6_answers_are_rejected_like_bad_ipv4() {
    for (body, why) in [
        ("2600:1f14::zz", "not an IPv6 address"),
        ("::", "cannot be an agent host"),
        ("ff02::1", "cannot be an agent host"),
        ("10.0.1.43", "not an IPv6 address"),
    ] {
        let imds = start_mock(|b| {
            b.get = Get::Status(404);
            b.ipv6 = Some(body.into());
        });
        let f = Ddboot::new().imds(&imds).args(ENV_DUMP).run();
        f.assert_code(0);
        assert!(!f.env().contains_key("DD_AGENT_HOST"), "{body}: {f:?}");
        assert!(f.stderr.contains(why), "{body}: {f:?}");
        assert!(imds.requests().len() <= 5);
    }
}

/// The metadata file of an IPv6-only instance: HostIPv6Address is the host, IMDS is not asked.
#[test]
fn metadata_file_host_ipv6_address() {
    let imds = start_mock(|_| {});
    let dir = TempDir::new();
    let doc = json!({"MetadataFileStatus": "READY", "HostIPv6Address": INSTANCE_V6,
                     "Networks": [{"NetworkMode": "host", "IPv6Addresses": [INSTANCE_V6]}]});
    let file = dir.write("meta.json", doc.to_string());
    let f = Ddboot::new().imds(&imds).metadata_file(&file).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(INSTANCE_V6).assert_status_line(INSTANCE_V6, "metadata-file");
    assert_eq!(
        f.env().get("DD_DOGSTATSD_URL").map(String::as_str),
        Some("udp://[2600:1f14:abc:de00::17]:8125")
    );
    assert_imds_untouched(&imds);
    // A HostIPv6Address that is not an address is ignored like a bad HostPrivateIPv4Address.
    let bad = dir
        .write("bad.json", json!({"MetadataFileStatus": "READY", "HostIPv6Address": "2600::zz"}).to_string());
    let report = Ddboot::new().imds(&imds).metadata_file(&bad).args(["--explain", "--json"]).run().json();
    assert_attempt(&report, "metadata-file", "failed");
    assert_eq!(report["source"], "imdsv2", "{report:#}");
}

// ---------------------------------------------------------------------------------------------
// ECS Anywhere and when IMDS may start
// ---------------------------------------------------------------------------------------------

/// LaunchType EXTERNAL in host mode: 127.0.0.1, reported as ECS Anywhere; never IMDS, and not
/// the metadata file's host either. (Bridge mode: `netns_anywhere_bridge_uses_the_gateway`.)
#[test]
fn ecs_anywhere_host_mode_is_loopback_and_never_asks_imds() {
    let dir = TempDir::new();
    let imds = start_mock(|_| {});
    let networks = json!([{"NetworkMode": "host", "IPv4Addresses": ["192.168.1.20"]}]);
    let tm = task_mock(task_docs("EXTERNAL", networks, &[]), TaskMeta::Ok);
    let file = dir.write("host.json", ready_file(Some("10.9.8.7")));
    let cmd = ddboot(&imds, &tm).metadata_file(&file);
    let report = explain(&cmd);
    // Decided when the task metadata answered, not at the 1 s deadline.
    let ms = report["elapsed_ms"].as_f64().expect("elapsed_ms");
    assert!(ms < 500.0, "waited for the deadline: {report:#}");
    assert_eq!(report["platform"]["launch_type"], "EXTERNAL", "{report:#}");
    assert_eq!(report["platform"]["network_mode"], "host", "{report:#}");
    assert_eq!(
        (&report["agent_host"], &report["source"]),
        (&json!("127.0.0.1"), &json!("gateway")),
        "{report:#}"
    );
    assert!(detail_of(&report, "gateway").contains("ECS Anywhere, host network mode"), "{report:#}");
    assert!(detail_of(&report, "imdsv2").contains("ECS Anywhere"), "{report:#}");
    assert_attempt(&report, "imdsv2", "skipped");
    assert_attempt(&report, "imdsv1", "skipped");
    let f = cmd.clone().args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host("127.0.0.1").assert_status_line("127.0.0.1", "gateway");
    assert_imds_untouched(&imds);
}

/// Without AWS_EXECUTION_ENV=AWS_ECS_EC2, IMDS waits for the task metadata's LaunchType even when
/// the metadata file says bridge; with it, IMDS starts at once.
#[test]
fn imds_waits_for_the_launch_type_unless_the_environment_says_ec2() {
    let dir = TempDir::new();
    let bridge = dir.write("bridge.json", json!({"Networks": [{"NetworkMode": "bridge"}]}).to_string());
    // Anywhere, answering after 150 ms: had IMDS started at once, it would have been asked.
    let networks = json!([{"NetworkMode": "bridge", "IPv4Addresses": ["192.168.1.20"]}]);
    let imds = start_mock(|_| {});
    let tm =
        task_mock(task_docs("EXTERNAL", networks.clone(), &[]), TaskMeta::Delay(Duration::from_millis(150)));
    let report = explain(&ddboot(&imds, &tm).metadata_file(&bridge));
    assert_eq!(report["platform"]["launch_type"], "EXTERNAL", "{report:#}");
    assert_imds_untouched(&imds);

    // EC2 by the environment and bridge by the file: IMDS answers before the slow task metadata.
    let imds = start_mock(|_| {});
    let tm = task_mock(task_docs("EC2", networks, &[]), TaskMeta::Delay(Duration::from_millis(150)));
    let report = explain(&ddboot(&imds, &tm).metadata_file(&bridge).env("AWS_EXECUTION_ENV", "AWS_ECS_EC2"));
    assert_eq!(report["source"], "imdsv2", "{report:#}");
    let v2 = assert_attempt(&report, "imdsv2", "ok");
    let tm_ms = assert_attempt(&report, "task-metadata", "ok")["elapsed_ms"].as_f64().expect("ms");
    assert!(v2["elapsed_ms"].as_f64().expect("ms") < tm_ms, "IMDS did not start at once: {report:#}");
}

/// A LaunchType or NetworkMode ddboot does not know is reported and ignored, never fatal.
#[test]
fn unknown_launch_type_and_network_mode_are_reported_and_ignored() {
    let imds = start_mock(|_| {});
    let networks = json!([{"NetworkMode": "hyperspace\u{7}", "IPv4Addresses": ["10.1.4.77"]}]);
    let tm = task_mock(task_docs("ORBITAL", networks, &[]), TaskMeta::Ok);
    let cmd = ddboot(&imds, &tm);
    let report = explain(&cmd);
    let d = detail_of(&report, "task-metadata");
    assert!(d.contains(r#"unknown LaunchType "ORBITAL" ignored"#), "{d}");
    assert!(d.contains(r#"unknown NetworkMode "hyperspace\u{7}" ignored"#), "{d}");
    assert!(report["platform"]["launch_type"].is_null(), "{report:#}");
    assert!(report["platform"]["network_mode"].is_null(), "{report:#}");
    assert_eq!(report["source"], "imdsv2", "{report:#}");
    let f = cmd.clone().args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(MOCK_IP);
}

// ---------------------------------------------------------------------------------------------
// The IPv6 IMDS endpoint fallback, inside network namespaces this test creates
// ---------------------------------------------------------------------------------------------

/// Two namespaces joined by a veth pair, IPv6 only: `c` (ddboot: no IPv4 address but loopback, so
/// 169.254.169.254 is unreachable at once) and `i` (the mock on [fd00:ec2::254]:80). With no
/// endpoint or mode configured ddboot tries the IPv6 endpoint once and resolves `meta-data/ipv6`;
/// with the mode set to IPv4, or with a route that exists but rejects, it does not. Nothing is added to the root namespace; the guards
/// delete both namespaces and stop the mock even when the test panics.
#[test]
fn netns_ipv6_endpoint_fallback() {
    preflight();
    let c = Netns::new("c");
    let i = Netns::new("i");
    ip(&["-n", &c.0, "link", "add", "v6c", "type", "veth", "peer", "name", "v6i", "netns", &i.0]);
    for (ns, dev, addr) in [(&c, "v6c", "fd00:ec2::10/64"), (&i, "v6i", "fd00:ec2::254/64")] {
        ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
        ip(&["-n", &ns.0, "addr", "add", addr, "dev", dev, "nodad"]);
        ip(&["-n", &ns.0, "link", "set", dev, "up"]);
    }
    // The container namespace has no IPv4 route at all: no IMDS but the mock can be reached.
    let routes = output("ip", &["-n", &c.0, "-4", "route", "show"]);
    assert!(routes.trim().is_empty(), "unexpected IPv4 routes in {}: {routes}", c.0);
    let mock = MockProcess::start(
        &i,
        &["--listen", "[fd00:ec2::254]:80", "--get", "status:404", "--ipv6", INSTANCE_V6],
    );
    // A fresh veth drops what is sent before its carrier is up; a lost SYN would be retried only
    // after 1 s, past ddboot's 250 ms token budget. Wait until a TCP connection gets through.
    wait_for_tcp(&c, "fd00:ec2::254", 80);

    let report = run_in(&c, &[]);
    assert_eq!(report["agent_host"], INSTANCE_V6, "{report:#}");
    assert_eq!(report["source"], "imdsv2", "{report:#}");
    let d = detail_of(&report, "imdsv2");
    assert!(d.contains("via http://[fd00:ec2::254]") && d.contains("unreachable"), "{d}");
    assert_eq!(report["env"]["DD_TRACE_AGENT_URL"], "http://[2600:1f14:abc:de00::17]:8126");
    assert_eq!(
        mock.requests(),
        ["PUT /latest/api/token", "GET /latest/meta-data/local-ipv4", "GET /latest/meta-data/ipv6"],
        "one PUT to the IPv6 endpoint, then the two GETs"
    );

    // A configured mode (IPv4) means no fallback: unresolved, and the mock sees nothing more.
    let report = run_in(&c, &[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4")]);
    assert!(report["agent_host"].is_null(), "{report:#}");
    assert!(detail_of(&report, "imdsv2").contains("unreachable"), "{report:#}");
    assert_eq!(mock.requests().len(), 3, "no request without the fallback");

    // A route that exists but rejects (what a router's "host unreachable" or a REJECT rule looks
    // like) is not "no IPv4 route": no fallback either.
    ip(&["-n", &c.0, "route", "add", "unreachable", "169.254.169.254/32"]);
    let report = run_in(&c, &[]);
    assert!(report["agent_host"].is_null(), "{report:#}");
    let d = detail_of(&report, "imdsv2");
    assert!(d.contains("unreachable") && !d.contains("fd00:ec2::254"), "{d}");
    assert_eq!(mock.requests().len(), 3, "no request to the IPv6 endpoint");
}

/// ECS Anywhere in bridge mode, inside a fresh namespace whose default route is via 10.213.0.1:
/// the gateway source gives 10.213.0.1 and reports ECS Anywhere; the mock (task metadata and an
/// IMDS, both on the namespace's own loopback) gets no IMDS request.
#[test]
fn netns_anywhere_bridge_uses_the_gateway() {
    preflight();
    let ns = Netns::new("a");
    ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
    ip(&["-n", &ns.0, "link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ip(&["-n", &ns.0, "link", "set", "d1", "up"]);
    ip(&["-n", &ns.0, "addr", "add", "10.213.0.2/24", "dev", "d0"]);
    ip(&["-n", &ns.0, "link", "set", "d0", "up"]);
    ip(&["-n", &ns.0, "route", "add", "default", "via", "10.213.0.1", "dev", "d0"]);
    let dir = TempDir::new();
    let networks = json!([{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.5"]}]);
    let (container, task) = task_docs("EXTERNAL", networks, &[]);
    let container = dir.write("container.json", container);
    let task = dir.write("task.json", task);
    let mock = MockProcess::start(
        &ns,
        &[
            "--listen",
            "127.0.0.1:18080",
            "--container-json",
            &container.to_string_lossy(),
            "--task-json",
            &task.to_string_lossy(),
        ],
    );
    let report = run_in(
        &ns,
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", "http://127.0.0.1:18080/v4/mock-container"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:18080"),
        ],
    );
    assert_eq!(
        (&report["agent_host"], &report["source"]),
        (&json!("10.213.0.1"), &json!("gateway")),
        "{report:#}"
    );
    assert!(detail_of(&report, "gateway").contains("ECS Anywhere, bridge network"), "{report:#}");
    assert_attempt(&report, "imdsv2", "skipped");
    let mut seen = mock.requests();
    seen.sort();
    assert_eq!(seen, ["GET /v4/mock-container", "GET /v4/mock-container/task"], "no IMDS request");
}

// Namespace helpers (root and `ip netns` required; nothing is added to the root namespace).

/// Fails (never skips) with a clear reason when these tests cannot run here.
fn preflight() {
    assert!(
        running_as_root(),
        "the netns_ tests of tests/shapes.rs need root (network namespaces, veth pairs); CI runs the \
         suite as root. Run as root, or skip them with `cargo test -- --skip netns_`"
    );
}

/// A network namespace `ddb6-<pid>-<n>-<tag>`, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("ddb6-{}-{n}-{tag}", std::process::id());
        ip(&["netns", "add", &name]);
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The `mockmeta` binary running in a namespace, logging its requests; killed on drop.
struct MockProcess {
    child: std::process::Child,
    log: std::path::PathBuf,
    _dir: TempDir,
}

impl MockProcess {
    fn start(ns: &Netns, args: &[&str]) -> MockProcess {
        let dir = TempDir::new();
        let (log, ready) = (dir.join("requests.log"), dir.join("ready"));
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(mockmeta_binary())
            .args(args)
            .arg("--log")
            .arg(&log)
            .arg("--ready-file")
            .arg(&ready)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start mockmeta in the namespace");
        let mock = MockProcess { child, log, _dir: dir };
        let started = std::time::Instant::now();
        while !ready.exists() {
            assert!(started.elapsed() < Duration::from_secs(10), "mockmeta did not start in {}", ns.0);
            std::thread::sleep(Duration::from_millis(10));
        }
        mock
    }

    /// `METHOD PATH` of every request logged so far.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|r| format!("{} {}", r["method"].as_str().unwrap_or(""), r["path"].as_str().unwrap_or("")))
            .collect()
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ddboot --explain --json` in `ns` (the harness's [`Ddboot::in_netns`]: the namespace is the
/// protection), with a cleared environment plus `env`.
fn run_in(ns: &Netns, env: &[(&str, &str)]) -> Value {
    let ddboot = env.iter().fold(Ddboot::new().in_netns(&ns.0), |d, (k, v)| d.env(k, v));
    ddboot.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").run_with(&["--explain", "--json"]).json()
}

/// Waits (at most 10 s) until a TCP connection from `ns` to `host:port` succeeds. The mock logs
/// nothing for a connection that sends no request.
fn wait_for_tcp(ns: &Netns, host: &str, port: u16) {
    let script = format!("exec 3<>/dev/tcp/{host}/{port}");
    let started = std::time::Instant::now();
    loop {
        let ok = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.0, "timeout", "1", "bash", "-c", &script])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no TCP path to {host}:{port} in {}", ns.0);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn output(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd).args(args).output().expect("run");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `mockmeta` binary of this workspace, built (or found up to date) by cargo.
fn mockmeta_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>").to_path_buf();
    let path = profile.join("mockmeta");
    // Always through cargo (a no-op when up to date): a stale binary would lack newer flags.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(&cargo);
    cmd.args(["build", "--quiet", "-p", "mockmeta", "--bin", "mockmeta"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO_TARGET_DIR", profile.parent().expect("target dir"));
    if profile.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status();
    assert!(status.is_ok_and(|s| s.success()) && path.exists(), "cannot build mockmeta");
    path
}
