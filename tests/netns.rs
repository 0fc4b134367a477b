//! Real network topology tests (root and `ip netns` required; CI runs them as root): three
//! network namespaces per test, container → host (a router, ip_forward on) → imds, joined by veth
//! pairs created inside the namespaces, with the `mockmeta` binary listening on
//! 169.254.169.254:80 in the imds namespace and setting the IP TTL of its token PUT answers as
//! EC2's `HttpPutResponseHopLimit` does. ddboot runs in the container namespace with the default
//! endpoint, after the test checked that the namespace holds only its own veth and that its route
//! to 169.254.169.254 goes through the test's router. Each case also runs the documented
//! `curl` recipe in the same topology, bounded by `timeout 20`, and prints both measurements
//! (`cargo test --test netns -- --nocapture`) for docs/reliability.md. Nothing is added to the
//! root namespace; every namespace (`ddb-<pid>-<n>-{c,r,i}`), its links and the mock are removed by
//! a guard, even when the test panics.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

const IMDS_IP: &str = "169.254.169.254";
/// ddboot's default deadline: no `--timeout` in this file.
const DEADLINE: Duration = common::DEFAULT_DEADLINE;
/// "At once": a refusal or an ICMP error must not make ddboot wait for anything.
const AT_ONCE: Duration = Duration::from_millis(300);
/// The `timeout` put around the recipe.
const RECIPE_BOUND: Duration = Duration::from_secs(20);
/// Kills a run still going after this.
const WATCHDOG: Duration = Duration::from_secs(40);
const MARKER: &str = common::HOST_APP_MARKER;
/// The app, for ddboot and for the recipe: a marker, then what DD_AGENT_HOST it got.
const APP: &str = common::HOST_APP;

/// The IMDSv2 form of Datadog's documented one-liner, with [`APP`] as `<cmd>`.
fn recipe() -> String {
    format!(
        r#"export TOKEN=$(curl -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600"); export DD_AGENT_HOST=$(curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/local-ipv4); {APP}"#
    )
}

/// Serializes the `ip` commands that create and delete namespaces (`ip netns add` mounts
/// /run/netns on first use; concurrent first uses can race).
static IP_LOCK: Mutex<()> = Mutex::new(());
static SEQ: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------

/// Fails (never skips) with a clear reason when the tests cannot run here.
fn preflight() {
    assert!(
        common::running_as_root(),
        "tests/netns.rs needs root (to create network namespaces and veth pairs); CI runs the suite as \
         root. Run as root, or skip these tests with `cargo test -- --skip netns_`"
    );
    let ip = Command::new("ip").arg("netns").arg("list").output();
    assert!(
        ip.as_ref().is_ok_and(|o| o.status.success()),
        "tests/netns.rs needs `ip netns` (iproute2, run as root): {ip:?}"
    );
    for (tool, package) in [("curl", "curl"), ("timeout", "coreutils")] {
        let found = Command::new(tool).arg("--version").stdout(Stdio::null()).status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "tests/netns.rs needs `{tool}` ({package}) to run the documented recipe"
        );
    }
}

/// The `mockmeta` binary of this workspace, built if it is missing or older than its sources.
fn mockmeta_binary() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    // This test runs as target/<profile>/deps/netns-<hash>; the binary is target/<profile>/mockmeta.
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf();
    let path = profile_dir.join("mockmeta");
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("mockmeta");
    let sources = newest(&package.join("src")).max(modified(&package.join("Cargo.toml")));
    if !path.exists() || sources > modified(&path) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(&cargo);
        cmd.args(["build", "--quiet", "-p", "mockmeta", "--bin", "mockmeta"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", target);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()) && path.exists(),
            "cannot build the mockmeta binary ({cargo} build -p mockmeta): {status:?}; build it first \
             (`cargo build -p mockmeta`, or `cargo test --workspace` builds it)"
        );
    }
    *built = Some(path.clone());
    path
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The newest modification time of the files under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut best = modified(dir);
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        let t = if p.is_dir() { newest(&p) } else { modified(&p) };
        best = best.max(t);
    }
    best
}

// ---------------------------------------------------------------------------------------------
// The topology
// ---------------------------------------------------------------------------------------------

/// Runs `ip ARGS`, panicking with its stderr on failure; returns stdout.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a run in the container namespace left behind: the harness's, as text.
type Finished = common::AppRun;

/// container (eth0 10.250.N.1/30) → router (c0 10.250.N.2/30, i0 10.250.N.5/30, forwarding) →
/// imds (eth0 10.250.N.6/30, 169.254.169.254/32 on lo). Removed on drop.
struct Topology {
    container: String,
    router: String,
    imds: String,
    net: usize,
    dir: common::TempDir,
    mock: Option<Child>,
}

impl Topology {
    fn new() -> Topology {
        preflight();
        let n = SEQ.fetch_add(1, Ordering::SeqCst) + 1;
        let prefix = format!("ddb-{}-{n}", std::process::id());
        let dir = common::TempDir::new();
        fs::create_dir_all(dir.join("sockets")).expect("temp dir");
        // The guard exists before anything is created: a failure below still cleans up.
        let t = Topology {
            container: format!("{prefix}-c"),
            router: format!("{prefix}-r"),
            imds: format!("{prefix}-i"),
            net: n % 250 + 1,
            dir,
            mock: None,
        };
        {
            let _lock = IP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            for ns in [&t.container, &t.router, &t.imds] {
                ip(&["netns", "add", ns]);
            }
        }
        let (c, r, i, n) = (t.container.as_str(), t.router.as_str(), t.imds.as_str(), t.net);
        for ns in [c, r, i] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        // Each veth is created inside a namespace with its peer sent to another: the root
        // namespace never holds either end.
        ip(&["-n", c, "link", "add", "eth0", "type", "veth", "peer", "name", "c0", "netns", r]);
        ip(&["-n", r, "link", "add", "i0", "type", "veth", "peer", "name", "eth0", "netns", i]);
        for (ns, dev, addr) in [
            (c, "eth0", format!("10.250.{n}.1/30")),
            (r, "c0", format!("10.250.{n}.2/30")),
            (r, "i0", format!("10.250.{n}.5/30")),
            (i, "eth0", format!("10.250.{n}.6/30")),
        ] {
            ip(&["-n", ns, "addr", "add", &addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        ip(&["-n", i, "addr", "add", &format!("{IMDS_IP}/32"), "dev", "lo"]);
        ip(&["-n", c, "route", "add", "default", "via", &format!("10.250.{n}.2")]);
        ip(&["-n", i, "route", "add", "default", "via", &format!("10.250.{n}.5")]);
        ip(&["-n", r, "route", "add", &format!("{IMDS_IP}/32"), "via", &format!("10.250.{n}.6")]);
        let forward = Command::new("ip")
            .args(["netns", "exec", r, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
            .status()
            .expect("enable forwarding");
        assert!(forward.success(), "cannot enable ip_forward in {r}");
        t
    }

    /// The names of the links in `ns` (without the `@peer` suffix).
    fn links(ns: &str) -> BTreeSet<String> {
        ip(&["-n", ns, "-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|name| name.split('@').next().unwrap_or(name).to_string())
            .collect()
    }

    /// The network rule, checked before anything runs with the default endpoint: the
    /// namespaces hold only the test's links, and the container's route to 169.254.169.254 goes
    /// through the test's router.
    fn verify_isolation(&self) {
        let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(Topology::links(&self.container), set(&["lo", "eth0"]), "container links");
        assert_eq!(Topology::links(&self.router), set(&["lo", "c0", "i0"]), "router links");
        assert_eq!(Topology::links(&self.imds), set(&["lo", "eth0"]), "imds links");
        let route = ip(&["-n", &self.container, "route", "get", IMDS_IP]);
        let via = format!("via 10.250.{}.2 dev eth0", self.net);
        assert!(
            route.contains(&via),
            "the container's route to {IMDS_IP} is not via the test's router: {route}"
        );
    }

    /// Starts `mockmeta` on 169.254.169.254:80 in the imds namespace.
    fn start_mock(&mut self, extra: &[&str]) {
        self.stop_mock();
        let (log, ready) = (self.dir.join("mock.log"), self.dir.join("mock.ready"));
        let _ = fs::remove_file(&log);
        let _ = fs::remove_file(&ready);
        let listen = format!("{IMDS_IP}:80");
        let local_ipv4 = self.agent_host();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.imds])
            .arg(mockmeta_binary())
            .args(["--listen", &listen, "--local-ipv4", &local_ipv4])
            .arg("--log")
            .arg(&log)
            .arg("--ready-file")
            .arg(&ready)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn mockmeta");
        self.mock = Some(child);
        let started = Instant::now();
        while !ready.exists() {
            if let Some(status) = self.mock.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("mockmeta exited: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(10), "mockmeta not ready after 10 s");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the mock this topology started (by its own child handle).
    fn stop_mock(&mut self) {
        if let Some(mut child) = self.mock.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the mock answers to local-ipv4: any marker value (it is only a body).
    fn agent_host(&self) -> String {
        format!("10.250.{}.77", self.net)
    }

    /// The mock's request log.
    fn requests(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.dir.join("mock.log")).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("mock log line")).collect()
    }

    fn count(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.requests().iter().filter(|r| pred(r)).count()
    }

    fn token_puts(&self) -> usize {
        self.count(|r| r["method"] == "PUT" && r["path"] == "/latest/api/token")
    }

    fn tokenless_gets(&self) -> usize {
        self.count(|r| {
            let token = r["headers"]
                .as_object()
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("X-aws-ec2-metadata-token")));
            r["method"] == "GET"
                && r["path"].as_str().is_some_and(|p| p.starts_with("/latest/meta-data/"))
                && !token
        })
    }

    /// `ip route replace KIND 169.254.169.254/32` in the router (blackhole, unreachable, prohibit).
    fn router_route(&self, kind: &str) {
        ip(&["-n", &self.router, "route", "replace", kind, &format!("{IMDS_IP}/32")]);
    }

    /// Runs `argv` in the container namespace with a clean environment.
    fn run_in_container<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(&self, argv: &[S]) -> Finished {
        self.verify_isolation();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.container]).args(argv).env_clear().env("PATH", "/usr/bin:/bin");
        common::run_watched(cmd, WATCHDOG, &argv).into()
    }

    /// ddboot with the default endpoint and deadline, an empty socket directory, then the app, in
    /// the container namespace (the harness's [`common::Ddboot::in_netns`]).
    fn ddboot(&self) -> Finished {
        self.verify_isolation();
        let ddboot = common::Ddboot::new().in_netns(&self.container).arg("--socket-dir");
        ddboot.arg(self.dir.join("sockets")).args(["--", "/bin/sh", "-c", APP]).run().into()
    }

    /// The documented recipe under `timeout 20`, run after ddboot's run `f` in the same
    /// topology; prints both measurements as `case`.
    fn recipe_after(&self, case: &str, f: &Finished) -> Finished {
        let bound = RECIPE_BOUND.as_secs().to_string();
        let r = self.run_in_container(&["timeout", &bound, "/bin/sh", "-c", &recipe()]);
        report(case, f, &r);
        r
    }

    /// A fresh topology whose mock runs with `mock` (`None`: nothing listens on port 80) and
    /// whose router routes 169.254.169.254 as `route` when given; then ddboot's run in it.
    fn ddboot_in(mock: Option<&[&str]>, route: Option<&str>) -> (Topology, Finished) {
        let mut t = Topology::new();
        if let Some(extra) = mock {
            t.start_mock(extra);
        }
        if let Some(kind) = route {
            t.router_route(kind);
        }
        let f = t.ddboot();
        (t, f)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.stop_mock();
        let _lock = IP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Deleting a namespace deletes its veth ends, and with them their peers.
        for ns in [&self.container, &self.router, &self.imds] {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

/// Prints one measurement line for docs/reliability.md.
fn report(case: &str, ddboot: &Finished, recipe: &Finished) {
    let what = match (ddboot.resolved(), ddboot.unresolved_after()) {
        (Some((host, source, took)), _) => format!("DD_AGENT_HOST={host} via {source} in {took:.1?}"),
        (None, Some(took)) => format!("unresolved after {took:.1?}, app started"),
        _ => "?".into(),
    };
    let recipe_what = if recipe.code == Some(124) {
        "killed by timeout, app never started".to_string()
    } else {
        let host = recipe.app_ran().then(|| recipe.app_host().unwrap_or("<unset>").to_string());
        format!("exit {:?}, app ran: {}, DD_AGENT_HOST={:?}", recipe.code, recipe.app_ran(), host)
    };
    eprintln!(
        "measured [{case}]: ddboot {:.1?} wall ({what}); recipe {:.1?} wall ({recipe_what})",
        ddboot.elapsed, recipe.elapsed
    );
}

/// Asserts the recipe hung until `timeout` killed it, without ever starting the app.
fn assert_recipe_hangs(recipe: &Finished) {
    assert_eq!(recipe.code, Some(124), "expected the recipe to hang until timeout: {recipe:?}");
    assert!(!recipe.app_ran(), "{recipe:?}");
    assert!(recipe.elapsed >= RECIPE_BOUND - Duration::from_millis(500), "{recipe:?}");
}

/// Asserts the recipe ran the app with an exported but empty DD_AGENT_HOST (or, when the
/// router's ICMP errors are rate-limited, hung until `timeout`).
fn assert_recipe_exports_empty_or_hangs(recipe: &Finished) {
    if recipe.code == Some(124) {
        assert!(!recipe.app_ran(), "{recipe:?}");
    } else {
        assert_eq!(recipe.code, Some(0), "{recipe:?}");
        assert_eq!(recipe.app_host(), Some(""), "the recipe exports an empty DD_AGENT_HOST: {recipe:?}");
    }
}

/// The network answers ddboot with an error (`route`: the router's route kind; `None`: nothing
/// listens on port 80): it starts the app unresolved at once, naming `why` for IMDSv2, and the
/// recipe (`case`) exports an empty host or hangs. Returns ddboot's run.
fn assert_gives_up_at_once(route: Option<&str>, why: &str, case: &str) -> Finished {
    let (t, f) = Topology::ddboot_in(route.map(|_| &["--put-ttl", "2"][..]), route);
    let took = f.assert_unresolved_app();
    assert!(took < AT_ONCE && f.elapsed < AT_ONCE, "not at once: {took:?} / {:?}: {f:?}", f.elapsed);
    assert!(f.reason("imdsv2").contains(why), "{f:?}");
    assert_recipe_exports_empty_or_hangs(&t.recipe_after(case, &f));
    f
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/// Hop limit 1 (EC2's default for new instance types' PUT answers, fatal in bridge mode): the
/// router decrements the token answer's TTL to 0 and drops it; ddboot falls back to IMDSv1 after
/// its 250 ms token budget, inside the default deadline. The recipe waits for the token forever.
#[test]
fn netns_hop_limit_1_resolves_through_imdsv1() {
    let (t, f) = Topology::ddboot_in(Some(&["--put-ttl", "1"]), None);
    let took = f.assert_resolved_app(&t.agent_host(), "imdsv1");
    assert!(took < DEADLINE && f.elapsed < DEADLINE, "took {took:?} / {:?}: {f:?}", f.elapsed);
    assert_eq!((t.token_puts(), t.tokenless_gets()), (1, 1), "{:?}", t.requests());
    assert_recipe_hangs(&t.recipe_after("hop limit 1", &f));
}

/// Hop limit 1 on an instance that requires tokens (`HttpTokens=required`): no source can answer;
/// ddboot starts the app unresolved inside the deadline, and the warning says why for both.
#[test]
fn netns_hop_limit_1_with_tokens_required_starts_the_app_unresolved() {
    let (t, f) = Topology::ddboot_in(Some(&["--put-ttl", "1", "--tokens", "required"]), None);
    let took = f.assert_unresolved_app();
    assert!(took < DEADLINE && f.elapsed < DEADLINE, "took {took:?} / {:?}: {f:?}", f.elapsed);
    assert!(f.reason("imdsv2").contains("hop limit"), "{f:?}");
    assert!(f.reason("imdsv1").contains("HttpTokens=required"), "{f:?}");
    assert_eq!((t.token_puts(), t.tokenless_gets()), (1, 1), "{:?}", t.requests());
    eprintln!(
        "measured [hop limit 1, tokens required]: ddboot {:.1?} wall (unresolved after {took:.1?})",
        f.elapsed
    );
}

/// Hop limit 2 (and the kernel default 64): the token answer crosses the router; ddboot uses
/// IMDSv2 and never sends a token-less request. The recipe works here too.
#[test]
fn netns_hop_limit_2_or_more_resolves_through_imdsv2() {
    let mut t = Topology::new();
    for ttl in ["2", "64"] {
        t.start_mock(&["--put-ttl", ttl]);
        let f = t.ddboot();
        let took = f.assert_resolved_app(&t.agent_host(), "imdsv2");
        assert!(took < AT_ONCE, "TTL {ttl}: took {took:?}: {f:?}");
        assert_eq!(t.tokenless_gets(), 0, "TTL {ttl}: token-less request: {:?}", t.requests());
        assert_eq!(t.token_puts(), 1, "{:?}", t.requests());
        if ttl == "2" {
            let r = t.recipe_after("hop limit 2", &f);
            assert_eq!(r.code, Some(0), "{r:?}");
            assert_eq!(r.app_host(), Some(t.agent_host().as_str()), "{r:?}");
        }
    }
}

/// A blackhole on the host (what a DROP rule for 169.254.169.254 does): no SYN-ACK ever. ddboot
/// gives up when its token request cannot connect, and the app starts within the deadline.
#[test]
fn netns_blackholed_route_starts_the_app_unresolved() {
    let (t, f) = Topology::ddboot_in(Some(&["--put-ttl", "2"]), Some("blackhole"));
    let took = f.assert_unresolved_app();
    assert!(took <= DEADLINE && f.elapsed < DEADLINE + Duration::from_millis(200), "{took:?}: {f:?}");
    assert!(f.reason("imdsv2").contains("no TCP connection"), "{f:?}");
    assert!(t.requests().is_empty(), "{:?}", t.requests());
    assert_recipe_hangs(&t.recipe_after("blackhole", &f));
}

/// ICMP host unreachable from the router: ddboot gives up on IMDS at once. (ddboot runs first in
/// a fresh router: the router rate-limits its ICMP errors, after which this case looks like the
/// blackhole.)
#[test]
fn netns_unreachable_route_gives_up_at_once() {
    let f = assert_gives_up_at_once(Some("unreachable"), "unreachable", "unreachable");
    assert!(f.reason("imdsv1").contains("not a case"), "{f:?}");
}

/// ICMP administratively prohibited (`prohibit` route, what a REJECT rule sends): at once too.
#[test]
fn netns_prohibited_route_gives_up_at_once() {
    assert_gives_up_at_once(Some("prohibit"), "unreachable", "prohibit");
}

/// Nothing listens on 169.254.169.254:80 (the imds namespace answers RST): at once.
#[test]
fn netns_refused_gives_up_at_once() {
    assert_gives_up_at_once(None, "refused", "refused");
}

// ---------------------------------------------------------------------------------------------
// Bad IMDS variables (issue 13): never another address
// ---------------------------------------------------------------------------------------------

/// Runs ddboot in a fresh network namespace of its own (only `lo`, up) under
/// `strace -f -e trace=connect`, with a clean environment plus `vars`; returns
/// (exit code, stdout, stderr, every `connect` strace saw).
fn ddboot_alone_traced(vars: &[(&str, &[u8])]) -> (Option<i32>, String, String, Vec<String>) {
    use std::os::unix::ffi::OsStrExt;
    preflight();
    let dir = common::TempDir::new();
    let log = dir.join("strace.log");
    let script = r#"ip link set lo up && exec strace -f -qq -e trace=connect -o "$LOG" "$0" "$@""#;
    let ddboot =
        common::Ddboot::new().in_new_netns().through_shell(script).args(["--", "/bin/sh", "-c", APP]);
    let ddboot = ddboot.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").env("LOG", &log);
    let f = vars.iter().fold(ddboot, |d, (k, v)| d.env(k, std::ffi::OsStr::from_bytes(v))).run();
    let connects = fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_string).collect();
    (f.code(), f.stdout_text(), f.stderr, connects)
}

/// A bad `AWS_EC2_METADATA_SERVICE_ENDPOINT` (not UTF-8, a hostname, another scheme) or
/// `…_ENDPOINT_MODE` (unknown, not UTF-8): one warning naming the variable, IMDS skipped, the app
/// started, and not one `connect` to any address: never the default 169.254.169.254 instead.
/// A valid loopback endpoint is traced the same way first, to show the trace sees connects.
#[test]
fn netns_bad_imds_variables_never_reach_another_address() {
    let (code, stdout, _, connects) =
        ddboot_alone_traced(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", b"http://127.0.0.1:18080")]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with(MARKER), "{stdout}");
    assert!(connects.iter().any(|c| c.contains("127.0.0.1") && c.contains("18080")), "{connects:?}");

    let cases: [(&str, &[u8]); 5] = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", b"http://127.0.0.1:18080\xff"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", b"http://metadata.internal"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", b"ftp://127.0.0.1:18080"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", b"IPv5"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", b"IPv4\xff"),
    ];
    for (name, value) in cases {
        let shown = String::from_utf8_lossy(value);
        let (code, stdout, stderr, connects) = ddboot_alone_traced(&[(name, value)]);
        assert_eq!(code, Some(0), "{name}={shown}: {stderr}");
        assert!(stdout.starts_with(MARKER), "{name}={shown}: the app did not run: {stdout} {stderr}");
        let inet: Vec<&String> = connects.iter().filter(|c| c.contains("AF_INET")).collect();
        assert!(inet.is_empty(), "{name}={shown}: connected to {inet:?}");
        let warnings: Vec<&str> =
            stderr.lines().filter(|l| l.contains(&format!("ignoring {name}:"))).collect();
        assert_eq!(warnings.len(), 1, "{name}={shown}: {stderr}");
        if shown.contains("metadata.internal") {
            assert!(warnings[0].contains("DNS"), "{stderr}");
        }
        println!("measured [{name}={shown}]: {} connect(s) traced; {}", connects.len(), warnings[0]);
    }
}

/// `AWS_EC2_METADATA_DISABLED` / `…_V1_DISABLED` other than `true`/`false` (botocore's rule: a
/// warning, counted as false), and a bad `ECS_CONTAINER_METADATA_URI_V4` or
/// `ECS_CONTAINER_METADATA_FILE` (skipped with a warning): the app starts (it used to exit 64), and
/// the only address ever connected to is the loopback endpoint the environment names.
#[test]
fn netns_bad_aws_variables_warn_and_start_the_app() {
    const LOOPBACK: (&str, &[u8]) = ("AWS_EC2_METADATA_SERVICE_ENDPOINT", b"http://127.0.0.1:18080");
    const OFF: (&str, &[u8]) = ("AWS_EC2_METADATA_DISABLED", b"true");
    let cases: [[(&str, &[u8]); 2]; 7] = [
        [("AWS_EC2_METADATA_DISABLED", b"yes"), LOOPBACK],
        [("AWS_EC2_METADATA_DISABLED", b"true\xff"), LOOPBACK],
        [("AWS_EC2_METADATA_V1_DISABLED", b"1"), LOOPBACK],
        [("ECS_CONTAINER_METADATA_URI_V4", b"not a url"), OFF],
        [("ECS_CONTAINER_METADATA_URI_V4", b"http://127.0.0.1:51678/v4\xff"), OFF],
        [("ECS_CONTAINER_METADATA_FILE", b"/tmp/ecs-metadata\xff.json"), OFF],
        [("AWS_EXECUTION_ENV", b"AWS_ECS_FARGATE\xff"), OFF],
    ];
    for vars in cases {
        let (name, value) = vars[0];
        let shown = String::from_utf8_lossy(value);
        let (code, stdout, stderr, connects) = ddboot_alone_traced(&vars);
        assert_eq!(code, Some(0), "{name}={shown}: {stderr}");
        assert!(stdout.starts_with(MARKER), "{name}={shown}: the app did not run: {stdout} {stderr}");
        let elsewhere: Vec<&String> =
            connects.iter().filter(|c| c.contains("AF_INET") && !c.contains("\"127.0.0.1\"")).collect();
        assert!(elsewhere.is_empty(), "{name}={shown}: connected to {elsewhere:?}");
        let warnings: Vec<&str> =
            stderr.lines().filter(|l| l.contains(&format!("ignoring {name}:"))).collect();
        assert_eq!(warnings.len(), 1, "{name}={shown}: {stderr}");
        if vars[1] == LOOPBACK {
            let tried = connects.iter().any(|c| c.contains("\"127.0.0.1\"") && c.contains("18080"));
            assert!(tried, "{name}={shown} counts as false: IMDS is asked: {connects:?}");
        }
        println!("measured [{name}={shown}]: app started; {}", warnings[0]);
    }
}
