//! The fault matrix on loopback: one test per fault of the token PUT, the local-ipv4 GET, the ECS
//! metadata file and the task metadata endpoint, each asserting which source ddboot chose (or
//! that it found none), a generous bound on time that catches hangs, and that the app still ran.
//! The `install_*` rows need root (`unshare --pid`), as CI has; the others run as any user.
//! Every ddboot here starts with a clean environment, an empty socket directory (`DDBOOT_SOCKET_DIR`), and either
//! `--imds-endpoint` pointing at a `mockmeta` server on 127.0.0.1 or `AWS_EC2_METADATA_DISABLED=true`,
//! so nothing leaves the machine. `docs/reliability.md` lists every row; the last test keeps that
//! table and the tests in step.

mod common;

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{MOCK_IP, TempDir};
use mockmeta::{Behaviour, Get, Hostile, Mock, Put, TaskMeta};
use serde_json::Value;

/// The app: prints a marker, then the DD_AGENT_HOST it got.
const APP: [&str; 3] = ["/bin/sh", "-c", common::HOST_APP];
/// ddboot's default deadline (no `--timeout` anywhere in this file).
const DEADLINE: Duration = common::DEFAULT_DEADLINE;
/// The most ddboot may report for a fault that must not make it wait for the deadline.
const BEFORE_DEADLINE: Duration = Duration::from_millis(900);
/// Wall-clock bound of every run (spawn, resolution, exec, the app): catches hangs, not slowness.
const WALL: Duration = Duration::from_secs(5);
/// The host the metadata files of this file carry.
const FILE_IP: &str = "10.9.9.9";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A ddboot command that can only reach loopback: the harness's one builder (tests/common), in
/// this file's words; each run gets an empty socket directory of its own.
#[derive(Clone, Debug)]
struct Ddboot(common::Ddboot);

impl Ddboot {
    /// IMDS at `mock`, through `--imds-endpoint`.
    fn imds(mock: &Mock) -> Ddboot {
        Ddboot::imds_url(&mock.url())
    }

    fn imds_url(url: &str) -> Ddboot {
        Ddboot(common::Ddboot::new().imds_endpoint(url))
    }

    /// No IMDS at all (`AWS_EC2_METADATA_DISABLED=true`).
    fn no_imds() -> Ddboot {
        Ddboot(common::Ddboot::new().env("AWS_EC2_METADATA_DISABLED", "true"))
    }

    fn metadata_file(self, path: &Path) -> Ddboot {
        Ddboot(self.0.metadata_file(path))
    }

    fn task_metadata(self, uri: &str) -> Ddboot {
        Ddboot(self.0.task_metadata_flag_url(uri))
    }

    /// Runs `ddboot … -- APP` under the watchdog.
    fn run(&self) -> Finished {
        let mut tail = vec!["--"];
        tail.extend(APP);
        self.spawn(&tail)
    }

    /// `ddboot … --explain --json`: the report, whatever the exit code.
    fn explain(&self) -> Value {
        let f = self.spawn(&["--explain", "--json"]);
        serde_json::from_str(&f.stdout).unwrap_or_else(|e| panic!("not one JSON value ({e}): {f:?}"))
    }

    fn spawn(&self, tail: &[&str]) -> Finished {
        let sockets = TempDir::new();
        self.0.clone().socket_dir(sockets.path()).run_with(tail).into()
    }
}

/// What one run left behind: the harness's, as text.
type Finished = common::AppRun;

/// Prints what a row measured (`cargo test --test faults -- --nocapture` shows it).
fn measured(what: &str, f: &Finished) {
    let test = thread::current().name().unwrap_or("?").to_string();
    eprintln!("measured [{test}]: ddboot {what}; {:.1?} wall", f.elapsed);
}

impl Finished {
    /// Asserts the run resolved `host` from `source`, within `within` by ddboot's own clock and
    /// [`WALL`] by the test's, and that the app got it.
    fn assert_resolved(&self, host: &str, source: &str, within: Duration) -> &Self {
        let took = self.assert_resolved_app(host, source);
        measured(&format!("{source} in {took:.1?}"), self);
        assert!(took < within, "resolved after {took:?}, expected < {within:?}: {self:?}");
        assert!(self.elapsed < WALL, "took {:?} (bound {WALL:?}): {self:?}", self.elapsed);
        self
    }

    /// Asserts the run found no host, warned why, and still started the app without
    /// DD_AGENT_HOST; ddboot's own time must be below `within`. Returns ddboot's time.
    fn assert_unresolved(&self, within: Duration) -> Duration {
        let took = self.assert_unresolved_app();
        measured(&format!("unresolved after {took:.1?}"), self);
        assert!(took < within, "gave up after {took:?}, expected < {within:?}: {self:?}");
        assert!(self.elapsed < WALL, "took {:?} (bound {WALL:?}): {self:?}", self.elapsed);
        took
    }
}

/// The one attempt of `source` in an `--explain --json` report: (outcome, detail).
fn attempt(report: &Value, source: &str) -> (String, String) {
    let found: Vec<&Value> = report["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts in {report:#}"))
        .iter()
        .filter(|a| a["source"] == source)
        .collect();
    assert_eq!(found.len(), 1, "expected one {source} attempt: {report:#}");
    let field = |k: &str| found[0][k].as_str().unwrap_or_default().to_string();
    (field("outcome"), field("detail"))
}

/// A loopback mock with the default behaviour changed by `f`.
fn mock(f: impl FnOnce(&mut Behaviour)) -> Mock {
    let mut b = Behaviour::default();
    f(&mut b);
    Mock::start(b)
}

/// What IMDS must never see, whatever the fault: more than 4 requests per start, and a
/// token-less GET once a token was handed out (instances alarm on `MetadataNoToken`).
fn assert_imds_discipline(mock: &Mock) {
    let requests = mock.requests();
    // The cap is 4 requests, 5 when meta-data/ipv6 was asked (one more request for that item).
    let cap = if mock.count("GET", mockmeta::IPV6_PATH) > 0 { 5 } else { 4 };
    assert!(requests.len() <= cap, "more than {cap} IMDS requests: {requests:?}");
    if !mock.issued_tokens().is_empty() {
        assert_eq!(mock.tokenless_gets(), 0, "token-less GET after a token: {requests:?}");
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn dead_loopback_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A metadata file as the ECS agent writes it once the container runs.
fn ready_file(host: &str) -> String {
    serde_json::json!({
        "Cluster": "default",
        "ContainerName": "app",
        "Networks": [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}],
        "MetadataFileStatus": "READY",
        "HostPrivateIPv4Address": host,
    })
    .to_string()
}

/// A table of rows: each `name => check;` becomes the `#[test] fn name` that runs `check` (the
/// reliability table names the rows; `common::test_fn_names` reads them).
macro_rules! rows {
    ($($name:ident => $check:expr;)*) => {$(
        #[test]
        fn $name() {
            $check;
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// Token PUT faults
// ---------------------------------------------------------------------------------------------

/// PUT for a token of a mock whose PUT behaves as `put`; the token flow then resolves or not.
fn put_fault(put: Put) -> (Mock, Finished) {
    let m = mock(|b| b.put = put);
    let f = Ddboot::imds(&m).run();
    (m, f)
}

/// The SDK fallback after a PUT that behaves as `put`: one PUT, then one token-less GET, well
/// inside the deadline.
fn assert_v1_fallback(put: Put) -> Finished {
    let (m, f) = put_fault(put);
    f.assert_resolved(MOCK_IP, "imdsv1", BEFORE_DEADLINE);
    assert_eq!(m.token_puts(), 1, "{:?}", m.requests());
    assert_eq!(m.tokenless_gets(), 1, "{:?}", m.requests());
    assert_eq!(m.token_gets(), 0, "{:?}", m.requests());
    f
}

#[test]
fn put_hang_falls_back_to_imdsv1_inside_the_deadline() {
    let f = assert_v1_fallback(Put::Hang);
    assert!(f.stderr.contains("(imdsv1, "), "{f:?}");
}

#[test]
fn put_400_gives_up_without_imdsv1() {
    let (m, f) = put_fault(Put::Status(400));
    f.assert_unresolved(BEFORE_DEADLINE);
    assert!(f.reason("imdsv2").contains("400"), "{f:?}");
    assert_eq!(m.requests().len(), 1, "{:?}", m.requests());
    assert_eq!(m.tokenless_gets(), 0, "never IMDSv1 after a 400: {:?}", m.requests());
}

rows! {
    put_reset_falls_back_to_imdsv1 => assert_v1_fallback(Put::Reset);
    put_403_falls_back_to_imdsv1 => assert_v1_fallback(Put::Status(403));
    put_404_falls_back_to_imdsv1 => assert_v1_fallback(Put::Status(404));
    put_405_falls_back_to_imdsv1 => assert_v1_fallback(Put::Status(405));
}

/// Persistent server errors: retried with backoff (20, 60, 180 ms), 4 requests at most, no
/// IMDSv1 (a 5xx is not a fallback case), well before the deadline.
fn assert_persistent_5xx(status: u16) {
    let (m, f) = put_fault(Put::Status(status));
    f.assert_unresolved(BEFORE_DEADLINE);
    assert!(f.reason("imdsv2").contains(&status.to_string()), "{f:?}");
    assert_imds_discipline(&m);
    // Retried while the 4-request budget still leaves room for the GET that follows a token.
    assert_eq!(m.token_puts(), 3, "retried up to the request budget: {:?}", m.requests());
    assert_eq!(m.tokenless_gets(), 0, "{:?}", m.requests());
    let at: Vec<Duration> = m.requests().iter().map(|r| r.at).collect();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(15)), "no backoff between retries: {gaps:?}");
}

/// One refused PUT (`status`), then a token: retried, resolved through IMDSv2 with one GET.
fn assert_retried_once(status: u16) {
    let (m, f) = put_fault(Put::FailThenToken { failures: 1, status });
    f.assert_resolved(MOCK_IP, "imdsv2", BEFORE_DEADLINE);
    assert_eq!(m.token_puts(), 2, "{:?}", m.requests());
    assert_eq!(m.token_gets(), 1, "{:?}", m.requests());
    assert_imds_discipline(&m);
}

rows! {
    put_500_persistent_is_retried_then_unresolved => assert_persistent_5xx(500);
    put_503_once_is_retried_and_resolves_through_imdsv2 => assert_retried_once(503);
    put_503_persistent_is_retried_then_unresolved => assert_persistent_5xx(503);
    put_429_once_is_retried_and_resolves_through_imdsv2 => assert_retried_once(429);
}

#[test]
fn imds_refused_gives_up_at_once() {
    let f = Ddboot::imds_url(&dead_loopback_url()).run();
    let took = f.assert_unresolved(Duration::from_millis(300));
    assert!(f.reason("imdsv2").contains("refused"), "{f:?}");
    assert!(f.reason("imdsv1").contains("not a case for the IMDSv1 fallback"), "{took:?} {f:?}");
}

// ---------------------------------------------------------------------------------------------
// local-ipv4 GET faults (the token was obtained: never a token-less request afterwards)
// ---------------------------------------------------------------------------------------------

fn get_fault(get: Get) -> (Mock, Finished) {
    let m = mock(|b| b.get = get);
    let f = Ddboot::imds(&m).run();
    (m, f)
}

/// A local-ipv4 answer that leaves ddboot unresolved before the deadline after `puts` token PUTs
/// and `gets` GETs with a token, IMDS discipline kept; returns the run for the row's own checks.
fn assert_get_unresolved(get: Get, (puts, gets): (usize, usize)) -> (Mock, Finished) {
    let (m, f) = get_fault(get);
    f.assert_unresolved(BEFORE_DEADLINE);
    assert_eq!((m.token_puts(), m.token_gets()), (puts, gets), "{:?}", m.requests());
    assert_imds_discipline(&m);
    (m, f)
}

/// A rejected local-ipv4 answer: unresolved at once, one PUT and one GET, IMDS discipline.
fn assert_rejected_body(get: Get, reason: &str) {
    let (_, f) = assert_get_unresolved(get, (1, 1));
    assert!(f.reason("imdsv2").contains(reason), "expected {reason:?}: {f:?}");
}

/// A local-ipv4 answer that never completes: ddboot gives up at its deadline, not before.
fn assert_cut_at_the_deadline(get: Get) -> Mock {
    let (m, f) = get_fault(get);
    let took = f.assert_unresolved(DEADLINE + Duration::from_millis(300));
    assert!(took >= DEADLINE - Duration::from_millis(50), "gave up before the deadline: {took:?} {f:?}");
    assert_imds_discipline(&m);
    m
}

#[test]
fn get_401_gets_one_fresh_token_then_gives_up() {
    let (m, _) = assert_get_unresolved(Get::Status(401), (2, 2));
    assert_eq!(m.issued_tokens().len(), 2);
}

#[test]
fn get_404_is_unresolved_without_imdsv1() {
    // local-ipv4 404 (IPv6-only instance?) asks meta-data/ipv6 once with the same token; the mock
    // has no ipv6 either (404): unresolved, one PUT and two GETs, never token-less.
    let (m, f) = assert_get_unresolved(Get::Status(404), (1, 2));
    assert!(f.reason("imdsv2").contains("404 for local-ipv4 and for ipv6"), "{f:?}");
    assert_eq!(m.count("GET", mockmeta::IPV6_PATH), 1, "{:?}", m.requests());
}

rows! {
    get_500_is_retried_within_the_request_budget => assert_get_unresolved(Get::Status(500), (1, 3));
    get_empty_body_is_rejected => assert_rejected_body(Get::Body(Vec::new()), "empty");
    get_garbage_body_is_rejected =>
        assert_rejected_body(Get::Body(b"<html><body>Service Unavailable</body></html>".to_vec()), "not an IPv4");
    get_ipv6_body_is_rejected => assert_rejected_body(Get::Body(b"2001:db8::43".to_vec()), "not an IPv4");
}

#[test]
fn get_oversized_body_is_rejected() {
    let mut body = MOCK_IP.as_bytes().to_vec();
    body.resize(64 * 1024, b' ');
    assert_rejected_body(Get::Body(body), "larger than 1024 bytes");
}

#[test]
fn get_dripping_body_is_cut_at_the_deadline() {
    let m = assert_cut_at_the_deadline(Get::Drip {
        body: MOCK_IP.as_bytes().to_vec(),
        interval: Duration::from_secs(1),
    });
    assert_eq!((m.token_puts(), m.token_gets()), (1, 1), "{:?}", m.requests());
}

rows! {
    get_chunked_forever_is_cut_at_the_body_cap => assert_rejected_body(Get::ChunkedForever, "larger than 1024 bytes");
    get_hang_is_cut_at_the_deadline => assert_cut_at_the_deadline(Get::Hang);
    get_reset_is_unresolved_without_imdsv1 => assert_rejected_body(Get::Reset, "reset");
}

// ---------------------------------------------------------------------------------------------
// Metadata file faults: each one is reported and IMDS (a healthy mock) still answers
// ---------------------------------------------------------------------------------------------

/// The file at `path` is unusable: ddboot falls through to IMDSv2 without waiting, and the
/// report names why the file failed.
fn assert_file_falls_back(path: &Path, why: &str) {
    let m = mock(|_| {});
    Ddboot::imds(&m).metadata_file(path).run().assert_resolved(MOCK_IP, "imdsv2", BEFORE_DEADLINE);
    assert_imds_discipline(&m);
    let m = mock(|_| {});
    let report = Ddboot::imds(&m).metadata_file(path).explain();
    assert_eq!(report["source"], "imdsv2", "{report:#}");
    let (outcome, detail) = attempt(&report, "metadata-file");
    assert_eq!(outcome, "failed", "{report:#}");
    assert!(detail.contains(why), "expected {why:?} in the metadata-file detail: {report:#}");
}

#[test]
fn file_missing_falls_back_to_imds() {
    let dir = TempDir::new();
    assert_file_falls_back(&dir.join("absent.json"), "No such file or directory");
}

#[test]
fn file_is_a_directory_falls_back_to_imds() {
    let dir = TempDir::new();
    fs::create_dir(dir.join("metadata.json")).expect("mkdir");
    assert_file_falls_back(&dir.join("metadata.json"), "not a regular file");
}

#[test]
fn file_symlink_loop_falls_back_to_imds() {
    let dir = TempDir::new();
    symlink(dir.join("b.json"), dir.join("a.json")).expect("symlink");
    symlink(dir.join("a.json"), dir.join("b.json")).expect("symlink");
    assert_file_falls_back(&dir.join("a.json"), "(os error 40)");
}

/// Root reads files whatever their mode, so "unreadable" is emulated in a way root cannot
/// bypass: a path through a regular file (`file/child`, ENOTDIR).
#[test]
fn file_unreadable_path_falls_back_to_imds() {
    let dir = TempDir::new();
    let plain = dir.write("plain", ready_file(FILE_IP));
    assert_file_falls_back(&plain.join("metadata.json"), "Not a directory");
}

/// Mode 000: what holds depends on who runs ddboot. Root (as in CI) reads it anyway; anyone else
/// gets EACCES and falls through to IMDS.
#[test]
fn file_mode_000_is_read_by_root_only() {
    let dir = TempDir::new();
    let path = dir.write("metadata.json", ready_file(FILE_IP));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).expect("chmod 000");
    let root = fs::File::open(&path).is_ok();
    if root {
        let m = mock(|_| {});
        let f = Ddboot::imds(&m).metadata_file(&path).run();
        f.assert_resolved(FILE_IP, "metadata-file", BEFORE_DEADLINE);
        assert!(m.requests().is_empty(), "the file answered: no IMDS request: {:?}", m.requests());
    } else {
        assert_file_falls_back(&path, "Permission denied");
    }
}

#[test]
fn file_is_a_fifo_does_not_block() {
    let dir = TempDir::new();
    let path = dir.fifo("metadata.json");
    assert_file_falls_back(&path, "not a regular file");
}

/// A device (a symlink to /dev/zero: an endless read) is refused by its type, unread.
#[test]
fn file_is_a_device_is_rejected_unread() {
    let dir = TempDir::new();
    symlink("/dev/zero", dir.join("metadata.json")).expect("symlink");
    assert_file_falls_back(&dir.join("metadata.json"), "not a regular file");
}

/// A file that never becomes READY nor gets the host, with no IMDS to fall back to: ddboot
/// polls it until the deadline, then starts the app.
#[test]
fn file_never_ready_is_polled_until_the_deadline() {
    let dir = TempDir::new();
    let path = dir.write("metadata.json", r#"{"Cluster":"default","ContainerName":"app"}"#);
    let f = Ddboot::no_imds().metadata_file(&path).run();
    let took = f.assert_unresolved(DEADLINE + Duration::from_millis(300));
    assert!(took >= DEADLINE - Duration::from_millis(50), "gave up before the deadline: {took:?} {f:?}");
    // Two timers race at the deadline (the poll's and the resolver's); both wordings say so.
    let why = f.reason("metadata-file");
    assert!(why.contains("READY") && why.contains("deadline"), "{f:?}");
}

#[test]
fn file_of_20_mb_is_rejected_unread() {
    let dir = TempDir::new();
    // Valid JSON with a host: only the size cap keeps ddboot from using it.
    let mut doc = ready_file(FILE_IP);
    doc.pop();
    doc.push_str(&format!(r#","Pad":"{}"}}"#, "x".repeat(20 * 1024 * 1024)));
    let path = dir.write("metadata.json", doc);
    assert_file_falls_back(&path, "larger than 256 KiB");
}

/// A file whose `stat` size says nothing about its length (a procfs file reports 0): the read
/// itself stops at the cap. /proc/kallsyms is megabytes long on every Linux kernel.
#[test]
fn file_under_reporting_its_size_is_cut_at_the_cap() {
    let path = Path::new("/proc/kallsyms");
    let meta = fs::metadata(path).expect("/proc/kallsyms exists");
    assert_eq!(meta.len(), 0, "procfs reports size 0");
    assert_file_falls_back(path, "larger than 256 KiB");
}

#[test]
fn file_not_utf8_is_rejected() {
    let dir = TempDir::new();
    let mut doc = ready_file(FILE_IP).into_bytes();
    doc.pop();
    doc.extend_from_slice(b",\"ContainerName\":\"\xff\xfe\"}");
    let path = dir.write("metadata.json", doc);
    assert_file_falls_back(&path, "not valid JSON");
}

#[test]
fn file_invalid_json_is_rejected() {
    let dir = TempDir::new();
    let mut doc = ready_file(FILE_IP);
    doc.pop(); // truncated: the closing brace is missing
    let path = dir.write("metadata.json", doc);
    assert_file_falls_back(&path, "not valid JSON");
}

/// The ECS agent replaces the file by rename; here a thread does so in a loop (first versions
/// without the host and not READY, then READY versions with it) while ddboot polls. Every read
/// sees one whole version: ddboot ends with the file's host, never an error.
#[test]
fn file_replaced_by_rename_while_polled() {
    let dir = TempDir::new();
    let path = dir.write("metadata.json", r#"{"Cluster":"default","ContainerName":"app"}"#);
    let stop = Arc::new(AtomicBool::new(false));
    let renames = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (path, stop, renames) = (path.clone(), Arc::clone(&stop), Arc::clone(&renames));
        thread::spawn(move || {
            let started = Instant::now();
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                // Versions of varying size so a read may straddle a replacement.
                let pad = "p".repeat((n % 7) * 4096);
                let doc = if started.elapsed() < Duration::from_millis(150) {
                    serde_json::json!({"Cluster": "default", "ContainerName": "app", "Pad": pad}).to_string()
                } else {
                    let mut v: Value = serde_json::from_str(&ready_file(FILE_IP)).expect("json");
                    v["Pad"] = Value::String(pad);
                    v.to_string()
                };
                let tmp = path.with_extension(format!("tmp{}", n % 2));
                fs::write(&tmp, doc).expect("write version");
                fs::rename(&tmp, &path).expect("rename version");
                renames.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let f = Ddboot::no_imds().metadata_file(&path).run();
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer thread");
    f.assert_resolved(FILE_IP, "metadata-file", BEFORE_DEADLINE);
    assert!(renames.load(Ordering::SeqCst) > 20, "the file was not replaced while read");
}

// ---------------------------------------------------------------------------------------------
// Task metadata faults: the host still comes from IMDS, without waiting for the deadline
// ---------------------------------------------------------------------------------------------

fn assert_task_metadata_fault(task_uri: &str) {
    let m = mock(|_| {});
    let f = Ddboot::imds(&m).task_metadata(task_uri).run();
    f.assert_resolved(MOCK_IP, "imdsv2", BEFORE_DEADLINE);
    assert_imds_discipline(&m);
}

/// A task document over the 512 KiB cap is rejected (not truncated into a value): the labels
/// are not used, and the host still comes from IMDS.
#[test]
fn task_metadata_oversized_body_is_rejected() {
    let huge = format!(
        r#"{{"Name":"app","Labels":{{"com.datadoghq.tags.service":"from-huge-doc","Pad":"{}"}}}}"#,
        "x".repeat(600 * 1024)
    );
    let task = mock(|b| {
        b.container_json = Some(huge);
        b.task_json = Some(r#"{"LaunchType":"EC2","Containers":[]}"#.into());
    });
    let m = mock(|_| {});
    let report = Ddboot::imds(&m).task_metadata(&task.task_metadata_uri()).explain();
    assert_eq!(report["source"], "imdsv2", "{report:#}");
    assert!(
        report["tags"]["DD_SERVICE"]["value"].is_null(),
        "a label from a rejected document was used: {report:#}"
    );
    let (_, detail) = attempt(&report, "task-metadata");
    assert!(detail.contains("larger than"), "{detail}");
}

/// A response head over 8 KiB is malformed, whatever follows: a raw server on loopback sends a
/// 9 KiB header line before a valid address.
#[test]
fn imds_oversized_response_head_is_rejected() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut stream = stream.expect("accept");
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nX-Pad: {}\r\nContent-Length: 9\r\n\r\n10.0.1.43",
                "a".repeat(9 * 1024)
            );
            let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
        }
    });
    let f = Ddboot::imds_url(&url).run();
    f.assert_unresolved(BEFORE_DEADLINE);
    assert!(f.reason("imdsv2").contains("too"), "{f:?}");
    let _ = server.join();
}

#[test]
fn task_metadata_down_imds_still_resolves() {
    assert_task_metadata_fault(&format!("{}/v4/mock-container", dead_loopback_url()));
}

#[test]
fn task_metadata_slow_imds_still_resolves() {
    let task = mock(|b| b.task_metadata = TaskMeta::Delay(Duration::from_secs(3)));
    assert_task_metadata_fault(&task.task_metadata_uri());
    assert!(task.wait_for_requests(1, Duration::from_secs(1)), "the task metadata was not asked");
}

#[test]
fn task_metadata_hang_imds_still_resolves() {
    let task = mock(|b| b.task_metadata = TaskMeta::Hang);
    assert_task_metadata_fault(&task.task_metadata_uri());
    assert!(task.wait_for_requests(1, Duration::from_secs(1)), "the task metadata was not asked");
}

// ---------------------------------------------------------------------------------------------
// Hostile HTTP peers: memory stays bounded, lenient framing is refused
// ---------------------------------------------------------------------------------------------

/// The most a debug ddboot may hold under a hostile peer: it idles at about 5 MiB, and the
/// client before hyper grew past 100 MiB within the deadline under the endless peers.
const HOSTILE_RSS_KIB: u64 = 16 * 1024;

/// Both the token PUT and the local-ipv4 GET answered by `hostile`.
fn hostile_imds(hostile: Hostile) -> (Mock, Finished) {
    let m = mock(|b| {
        b.put = Put::Hostile(hostile.clone());
        b.get = Get::Hostile(hostile);
    });
    let f = Ddboot::imds(&m).run();
    (m, f)
}

impl Finished {
    /// Asserts ddboot's peak RSS, sampled every 2 ms while it ran, stayed under
    /// [`HOSTILE_RSS_KIB`]. (The kernel's `ru_maxrss` of children cannot serve here: a child
    /// spawned by vfork inherits this test process's high-water mark.) An unbounded client grows
    /// for as long as the peer streams, so sampling cannot miss it.
    ///
    /// Under `DDBOOT_RUNNER` (qemu-user for another architecture) the process sampled is the
    /// emulator, whose own footprint says nothing about ddboot's: the figure is printed, not
    /// asserted, and the native runs hold the bound.
    fn assert_bounded_memory(&self) -> &Self {
        let test = thread::current().name().unwrap_or("?").to_string();
        if !common::ddboot_runner().is_empty() {
            eprintln!("measured [{test}]: peak RSS {} KiB of the runner (not asserted)", self.peak_rss_kib);
            return self;
        }
        eprintln!("measured [{test}]: peak RSS {} KiB", self.peak_rss_kib);
        assert!(
            self.peak_rss_kib <= HOSTILE_RSS_KIB,
            "peak RSS {} KiB over {HOSTILE_RSS_KIB} KiB: {self:?}",
            self.peak_rss_kib
        );
        self
    }
}

/// An endless hostile answer to the token PUT: rejected at once, memory bounded, no IMDSv1.
fn assert_endless_rejected(hostile: Hostile, reason: &str) {
    let (m, f) = hostile_imds(hostile);
    f.assert_bounded_memory();
    f.assert_unresolved(BEFORE_DEADLINE);
    assert!(f.reason("imdsv2").contains(reason), "expected {reason:?}: {f:?}");
    assert_eq!(m.requests().len(), 1, "{:?}", m.requests());
    assert_imds_discipline(&m);
}

rows! {
    hostile_endless_trailer_lines_stay_bounded => assert_endless_rejected(Hostile::Trailers, "trailers");
    hostile_endless_interim_answers_stay_bounded => assert_endless_rejected(Hostile::Interim, "interim (1xx) answers");
    hostile_endless_header_lines_stay_bounded => assert_endless_rejected(Hostile::Headers, "too large");
    hostile_endless_body_with_a_huge_length_is_rejected_at_once =>
        assert_endless_rejected(Hostile::HugeLength, "larger than 1024 bytes");
    hostile_endless_body_until_close_is_cut_at_the_cap =>
        assert_endless_rejected(Hostile::HugeUntilClose, "larger than 1024 bytes");
}

/// The task metadata endpoint streams trailer lines on both paths: rejected as malformed (not
/// read until its 300 ms budget runs out), memory bounded, and the host still comes from IMDS.
#[test]
fn hostile_task_metadata_trailer_lines_stay_bounded() {
    let task = mock(|b| b.task_metadata = TaskMeta::Hostile(Hostile::Trailers));
    let m = mock(|_| {});
    let f = Ddboot::imds(&m).task_metadata(&task.task_metadata_uri()).run();
    f.assert_bounded_memory().assert_resolved(MOCK_IP, "imdsv2", BEFORE_DEADLINE);
    let report = Ddboot::imds(&mock(|_| {})).task_metadata(&task.task_metadata_uri()).explain();
    let (outcome, detail) = attempt(&report, "task-metadata");
    assert_eq!(outcome, "failed", "{report:#}");
    assert!(detail.contains("malformed answer (chunk trailers"), "{detail}");
}

/// The local-ipv4 GET answered with exactly `answer`, which carries the mock's address but is
/// not valid HTTP/1.1: refused as malformed, never used.
fn assert_lenient_refused(answer: &str, why: &str) {
    let raw = answer.replace("IP", MOCK_IP).into_bytes();
    let (m, f) = get_fault(Get::Hostile(Hostile::Raw(raw)));
    f.assert_unresolved(BEFORE_DEADLINE);
    let reason = f.reason("imdsv2");
    assert!(reason.contains("malformed") && reason.contains(why), "expected {why:?}: {f:?}");
    assert_eq!((m.token_puts(), m.token_gets()), (1, 1), "{:?}", m.requests());
    assert_imds_discipline(&m);
}

rows! {
    lenient_content_length_with_a_plus_sign_is_refused =>
        assert_lenient_refused("HTTP/1.1 200 OK\r\nContent-Length: +9\r\n\r\nIP", "content-length");
    lenient_signed_chunk_size_is_refused => assert_lenient_refused(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+9\r\nIP\r\n0\r\n\r\n",
        "chunk size",
    );
    lenient_http_1_9_is_refused => assert_lenient_refused("HTTP/1.9 200 OK\r\nContent-Length: 9\r\n\r\nIP", "version");
    lenient_101_is_not_skipped_as_interim => assert_lenient_refused(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nIP",
        "101",
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile input (issue 13): streams that cannot be written, values that try to forge output,
// files and sockets that lie. Each ran against the code before the fix and failed there; the
// before/after figures are in docs/reliability.md.
// ---------------------------------------------------------------------------------------------

/// How a run's stdout or stderr is plugged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plug {
    /// A pipe the test reads.
    Pipe,
    /// A pipe whose read end the test closes right after the spawn (EPIPE on write).
    ReaderGone,
    /// `/dev/full` (ENOSPC on write).
    DevFull,
}

/// A run of ddboot with plugged streams, outside this file's `Ddboot` (which gives each run a
/// socket directory of its own and pipes both streams), built by the harness's `common::Ddboot`:
/// the environment is clean apart from `PATH`, `DDBOOT_SOCKET_DIR` (a missing directory),
/// `AWS_EC2_METADATA_DISABLED=true` and `env`; nothing may name a link-local address. With
/// `ignore_sigpipe`, ddboot starts with SIGPIPE ignored (as `sh -c 'trap "" PIPE; …'` leaves it),
/// so a write to a pipe without reader fails with EPIPE instead of killing it.
struct Raw<'a> {
    args: &'a [&'a str],
    env: Vec<(&'a str, std::ffi::OsString)>,
    stdout: Plug,
    stderr: Plug,
    ignore_sigpipe: bool,
}

impl<'a> Raw<'a> {
    fn new(args: &'a [&'a str]) -> Raw<'a> {
        Raw { args, env: Vec::new(), stdout: Plug::Pipe, stderr: Plug::Pipe, ignore_sigpipe: false }
    }

    fn env(mut self, name: &'a str, value: impl AsRef<std::ffi::OsStr>) -> Raw<'a> {
        self.env.push((name, value.as_ref().to_os_string()));
        self
    }

    /// The harness's one builder (its environment and loopback guard), with SIGPIPE ignored
    /// through a shell's `trap` when asked.
    fn command(&self) -> Command {
        let mut ddboot = common::Ddboot::new().args(self.args);
        for (k, v) in &self.env {
            ddboot = ddboot.env(k, v);
        }
        if self.ignore_sigpipe {
            ddboot = ddboot.through_shell(r#"trap "" PIPE; exec "$0" "$@""#);
        }
        ddboot.command()
    }

    /// Runs under the harness's watchdog, reading only the streams plugged to a pipe.
    fn run(&self) -> Finished {
        let plug = |p: Plug| match p {
            Plug::Pipe => Stdio::piped(),
            // The read end is closed before ddboot starts: its first write must meet EPIPE (a
            // read end dropped after the spawn raced ddboot's write under load).
            Plug::ReaderGone => {
                let (reader, writer) = std::io::pipe().expect("pipe");
                drop(reader);
                Stdio::from(writer)
            }
            Plug::DevFull => {
                Stdio::from(fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full"))
            }
        };
        let mut cmd = self.command();
        cmd.stdin(Stdio::null()).stdout(plug(self.stdout)).stderr(plug(self.stderr));
        common::run_plugged(cmd, common::WATCHDOG, &self.args).into()
    }
}

/// The app of the stream tests: says it ran, exits 7.
const APP7: [&str; 4] = ["--", "/bin/sh", "-c", "echo ran; exit 7"];

#[test]
fn stderr_full_still_starts_the_app() {
    // Unresolved (the warning lines), then resolved from DD_AGENT_HOST (the status line).
    for host in [None, Some("10.1.1.1")] {
        let mut raw = Raw::new(&APP7);
        raw.stderr = Plug::DevFull;
        if let Some(h) = host {
            raw = raw.env("DD_AGENT_HOST", h);
        }
        let f = raw.run();
        assert_eq!((f.code, f.stdout.as_str()), (Some(7), "ran\n"), "host {host:?}: {f:?}");
        measured("started the app with stderr on /dev/full", &f);
    }
}

#[test]
fn stderr_closed_pipe_still_starts_the_app() {
    let mut raw = Raw::new(&APP7);
    raw.stderr = Plug::ReaderGone;
    raw.ignore_sigpipe = true;
    let f = raw.run();
    assert_eq!((f.code, f.stdout.as_str()), (Some(7), "ran\n"), "{f:?}");
}

#[test]
fn stdout_full_exits_74() {
    for args in [&["--print-env", "--dd-env", "prod"][..], &["--explain"], &["--explain", "--json"]] {
        let mut raw = Raw::new(args);
        raw.stdout = Plug::DevFull;
        let f = raw.run();
        assert_eq!(f.code, Some(74), "{args:?}: {f:?}");
        let last = f.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("ddboot: cannot write to stdout"), "{args:?}: {f:?}");
    }
}

#[test]
fn stdout_reader_gone_exits_0_quietly() {
    for args in
        [&["--explain"][..], &["--explain", "--json"], &["--print-env", "--dd-env", "prod"], &["--help"]]
    {
        let mut raw = Raw::new(args);
        raw.stdout = Plug::ReaderGone;
        raw.ignore_sigpipe = true;
        let f = raw.run();
        assert_eq!(f.code, Some(0), "{args:?}: {f:?}");
        let quiet = f.stderr.lines().all(|l| l.starts_with("ddboot: warning: "));
        assert!(quiet, "nothing but the fail-open warning of --print-env: {args:?}: {f:?}");
    }
}

#[test]
fn program_is_a_directory_says_so() {
    let f = Raw::new(&["--", "/tmp"]).run();
    assert_eq!(f.code, Some(126), "{f:?}");
    assert!(f.stderr.lines().last().is_some_and(|l| l == "ddboot: /tmp: is a directory"), "{f:?}");
}

/// Task metadata whose `Name` and `NetworkMode` carry a newline, a forged status line and ANSI
/// escapes: every stderr line starts with `ddboot: warning: `, none is forged, no ESC byte gets
/// through, and each line is at most 160 characters (one per source, then the summary).
#[test]
fn task_metadata_values_cannot_forge_output() {
    let forged = "ddboot: DD_AGENT_HOST=6.6.6.6 (env, 0.1 ms)";
    let container = serde_json::json!({
        "Name": format!("web\n{forged}\r\x1b[2J"),
        "Image": "app:1",
        "Networks": [{"NetworkMode": format!("bridgy\n{forged}\x1b[31m{}", "x".repeat(400))}],
    });
    let task = mock(|b| {
        b.container_json = Some(container.to_string());
        b.task_json = Some(r#"{"LaunchType":"EC2","Containers":[]}"#.into());
    });
    let f = Ddboot::no_imds().task_metadata(&task.task_metadata_uri()).run();
    f.assert_unresolved(BEFORE_DEADLINE);
    let lines: Vec<&str> = f.stderr.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with("ddboot: warning: ")), "{f:?}");
    assert!(!f.stderr.contains('\x1b') && !f.stderr.contains('\r'), "{f:?}");
    assert!(lines.iter().all(|l| l.chars().count() <= 160), "{lines:#?}");
    assert!(lines.last().is_some_and(|l| l.contains("not resolved after")), "{f:?}");
    // The text report escapes the same values.
    let explain = Ddboot::no_imds().task_metadata(&task.task_metadata_uri()).spawn(&["--explain"]);
    assert!(!explain.stdout.contains('\x1b') && !explain.stdout.contains('\r'), "{explain:?}");
    assert!(!explain.stdout.lines().any(|l| l.starts_with("ddboot:")), "{explain:?}");
    assert!(explain.stdout.contains("container web\\nddboot"), "{explain:?}");
    assert!(explain.stdout.contains(r#"unknown NetworkMode "bridgy\nddboot"#), "{explain:?}");
}

#[test]
fn file_invalid_host_is_reported_as_invalid() {
    for bad in [
        serde_json::json!(42),
        serde_json::json!(["10.0.0.1"]),
        serde_json::json!(""),
        serde_json::json!("010.002.002.002"),
    ] {
        let dir = TempDir::new();
        let mut doc: Value = serde_json::from_str(&ready_file(FILE_IP)).expect("json");
        doc["HostPrivateIPv4Address"] = bad.clone();
        let path = dir.write("metadata.json", doc.to_string());
        let report = Ddboot::no_imds().metadata_file(&path).explain();
        let (outcome, detail) = attempt(&report, "metadata-file");
        assert_eq!(outcome, "failed", "{bad}: {report:#}");
        assert!(detail.contains("HostPrivateIPv4Address is invalid"), "{bad}: {detail}");
    }
}

/// A writer that does not rename: the polled file is briefly invalid JSON, then READY with the
/// host. ddboot keeps polling through the bad read and resolves from the file.
#[test]
fn file_invalid_json_while_polled_is_retried() {
    let dir = TempDir::new();
    let path = dir.write("metadata.json", r#"{"Cluster":"default","ContainerName":"app"}"#);
    let writer = {
        let path = path.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            fs::write(&path, r#"{"Cluster":"default","Contai"#).expect("half-written version");
            thread::sleep(Duration::from_millis(200));
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, ready_file(FILE_IP)).expect("write");
            fs::rename(&tmp, &path).expect("rename");
        })
    };
    let f = Ddboot::no_imds().metadata_file(&path).run();
    writer.join().expect("writer");
    f.assert_resolved(FILE_IP, "metadata-file", BEFORE_DEADLINE);
}

/// `apm.socket` and `dsd.socket` left by a dead Agent (a listener closed with its file left, a
/// datagram socket bound then closed): they are reported stale, not exported, and the metadata
/// file's host wins.
#[test]
fn stale_sockets_lose_to_the_metadata_file() {
    let dir = TempDir::new();
    let sockets = dir.join("sockets");
    fs::create_dir_all(&sockets).expect("dir");
    drop(std::os::unix::net::UnixListener::bind(sockets.join("apm.socket")).expect("bind apm"));
    drop(std::os::unix::net::UnixDatagram::bind(sockets.join("dsd.socket")).expect("bind dsd"));
    let file = dir.write("metadata.json", ready_file(FILE_IP));
    let app = ["--", "/bin/sh", "-c", r#"echo "host=$DD_AGENT_HOST url=${DD_TRACE_AGENT_URL-}""#];
    let f = Raw::new(&app).env("DDBOOT_SOCKET_DIR", &sockets).env("ECS_CONTAINER_METADATA_FILE", &file).run();
    assert_eq!((f.code, f.stdout.as_str()), (Some(0), format!("host={FILE_IP} url=\n").as_str()), "{f:?}");
    let explain = Raw::new(&["--explain", "--json"]).env("DDBOOT_SOCKET_DIR", &sockets).run();
    let report: Value = serde_json::from_str(&explain.stdout).expect("json");
    let (outcome, detail) = attempt(&report, "socket");
    assert_eq!(outcome, "failed", "{report:#}");
    assert!(detail.contains("apm.socket: stale") && detail.contains("dsd.socket: stale"), "{detail}");
}

/// `--inject auto` with PROGRAM a FIFO nobody writes: the shebang read opens it non-blocking and
/// refuses it (not a regular file), and execve's refusal is the shell's 126, at once.
#[test]
fn inject_auto_program_fifo_does_not_hang() {
    let dir = TempDir::new();
    let fifo = dir.fifo("app");
    let program = fifo.to_str().expect("UTF-8 temp path");
    let f = Raw::new(&["--inject", "auto", "--", program]).run();
    measured("refused a FIFO as PROGRAM", &f);
    assert_eq!(f.code, Some(126), "{f:?}");
    assert!(f.elapsed < WALL, "{f:?}");
}

/// PHP-FPM's configuration includes `pool.d/*.conf`, where 25 files each include `pool.d/*.conf`
/// again, next to a FIFO: every file is read once (no blow-up through the include graph), the
/// FIFO is skipped without blocking, and the overlay re-opens the 25 pools.
#[test]
fn php_self_including_globs_and_a_fifo_are_read_once() {
    let dir = TempDir::new();
    let pools = dir.join("pool.d");
    fs::create_dir_all(&pools).expect("dir");
    for i in 0..25 {
        let text = format!("[pool{i}]\ninclude={}/*.conf\n", pools.display());
        fs::write(pools.join(format!("p{i:02}.conf")), text).expect("write pool");
    }
    dir.fifo("pool.d/zz-fifo.conf");
    let main = dir.write("php-fpm.conf", format!("[global]\ninclude={}/*.conf\n", pools.display()));
    let main = main.to_str().expect("UTF-8 temp path");
    let f = Raw::new(&["--explain", "--json", "--inject", "php", "--", "php-fpm8.2", "-F", "-y", main]).run();
    measured("walked 25 self-including PHP-FPM configuration files", &f);
    let report: Value = serde_json::from_str(&f.stdout).unwrap_or_else(|e| panic!("{e}: {f:?}"));
    let overlay = report["inject"]["files"][0]["contents"].as_str().unwrap_or_default();
    assert_eq!(overlay.matches("\n[pool").count(), 25, "{report:#}");
    assert!(f.elapsed < WALL, "{f:?}");
}

/// 10 PHP-FPM starts at once sharing one `$TMPDIR`, each with its own configuration: every master
/// gets an overlay of its own that includes its own configuration, and the overlays stay (the
/// masters re-read them on reload). The "php-fpm8.2" here is a script that waits a little, then
/// prints the `include` line of the overlay it was given.
#[test]
fn php_overlays_of_concurrent_starts_are_their_own() {
    let dir = TempDir::new();
    let bin = dir.join("bin");
    let tmp = dir.join("tmp");
    fs::create_dir_all(&bin).expect("bin");
    fs::create_dir_all(&tmp).expect("tmp");
    let fake = bin.join("php-fpm8.2");
    fs::write(
        &fake,
        "#!/bin/sh\nsleep 0.2\nwhile [ $# -gt 0 ]; do [ \"$1\" = -y ] && grep '^include' \"$2\"; shift; done\n",
    )
    .expect("write fake php-fpm");
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).expect("chmod");
    let confs: Vec<String> = (0..10)
        .map(|i| {
            let conf = dir.write(&format!("fpm{i}.conf"), format!("[global]\n[www{i}]\nlisten = 9{i}\n"));
            conf.to_str().expect("UTF-8 temp path").to_string()
        })
        .collect();
    let runs: Vec<Finished> = thread::scope(|scope| {
        let threads: Vec<_> = confs
            .iter()
            .map(|conf| {
                let path = format!("{}:/usr/bin:/bin", bin.display());
                let tmp = &tmp;
                scope.spawn(move || {
                    let args = ["--inject", "php", "-q", "--", "php-fpm8.2", "-F", "-y", conf];
                    let raw = Raw::new(&args).env("TMPDIR", tmp).env("DD_AGENT_HOST", "10.1.1.1");
                    raw.env("PATH", path).run()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("run")).collect()
    });
    let mut wrong = Vec::new();
    for (conf, f) in confs.iter().zip(runs) {
        let got = f.stdout.trim().to_string();
        if got != format!("include = {conf}") {
            wrong.push(format!("{conf}: {got:?} {}", f.stderr));
        }
    }
    let kept = fs::read_dir(tmp.join(format!("ddboot-{}", euid()))).expect("ls").count();
    eprintln!(
        "measured [overlays]: {} of 10 starts got another instance's include; {kept} overlays kept",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(kept, 10, "one overlay per start, kept");
}

/// The effective uid, as `ddboot-<euid>` names it (the owner of a file this process creates).
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new();
    fs::metadata(dir.write("probe", "")).expect("stat").uid()
}

/// ddboot's own settings stay strict: `DDBOOT_TIMEOUT`, `DDBOOT_INJECT`, `DDBOOT_STRICT` and the
/// `--timeout` flag with a value that is not UTF-8 are usage errors (64) naming them, and the
/// app does not run (the variables used to be read as unset, and the app started).
#[test]
fn own_settings_not_utf8_are_usage_errors() {
    use std::os::unix::ffi::OsStrExt;
    for (name, value) in
        [("DDBOOT_TIMEOUT", &b"2s\xff"[..]), ("DDBOOT_INJECT", b"auto\xff"), ("DDBOOT_STRICT", b"true\xff")]
    {
        let f = Raw::new(&APP7).env(name, std::ffi::OsStr::from_bytes(value)).run();
        assert_eq!((f.code, f.stdout.as_str()), (Some(64), ""), "{name}: {f:?}");
        let line = f.stderr.lines().last().unwrap_or_default();
        assert!(
            line.starts_with("ddboot: invalid ") && line.contains(name) && line.contains("UTF-8"),
            "{f:?}"
        );
    }
    let f =
        common::Ddboot::new().arg("--timeout").arg(std::ffi::OsStr::from_bytes(b"2s\xff")).args(APP7).run();
    assert_eq!(f.code(), Some(64), "{f:?}");
    assert!(f.stdout.is_empty(), "{f:?}");
}

/// Fails (never skips) when PID namespaces cannot be made: the `install_*` rows need root
/// (`unshare --pid`), as CI has.
fn pid_namespace_preflight() {
    let ok = Command::new("unshare").args(["--pid", "--fork", "true"]).status().is_ok_and(|s| s.success());
    assert!(ok, "the install_* tests need `unshare --pid --fork` (root); CI runs the suite as root");
}

/// An install row: the PID namespace preflight passed, a copy of ddboot to install from
/// (`bin`, stripped when `strip` is there: the same code, less I/O; `expected`, its bytes), and
/// the directory it installs into (`shared`, not created).
struct Install {
    _dir: TempDir,
    bin: PathBuf,
    expected: Vec<u8>,
    shared: PathBuf,
}

impl Install {
    fn new() -> Install {
        pid_namespace_preflight();
        let dir = TempDir::new();
        let bin = dir.join("installer");
        let built = common::ddboot_bin();
        let stripped =
            Command::new("strip").arg("-o").arg(&bin).arg(&built).status().is_ok_and(|s| s.success());
        if !stripped {
            fs::copy(&built, &bin).expect("copy ddboot");
        }
        let expected = fs::read(&bin).expect("read installer");
        let shared = dir.join("shared");
        Install { _dir: dir, bin, expected, shared }
    }

    /// `unshare --pid --fork INSTALLER --install SHARED` under the harness's watchdog: ddboot is
    /// PID 1 of its own PID namespace, as in an ECS init container.
    fn as_pid_1(&self) -> Finished {
        let installer = common::Ddboot::new().binary(&self.bin).launcher(["unshare", "--pid", "--fork"]);
        installer.arg("--install").arg(&self.shared).run().into()
    }
}

/// 6 installers at once, each PID 1 in its own PID namespace, 5 rounds, while a reader reads
/// `DIR/ddboot` in a loop: every installer succeeds and every read sees the whole binary.
#[test]
fn install_concurrent_pid_1_installers_all_succeed() {
    let install = Install::new();
    let (shared, expected) = (&install.shared, &install.expected);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (path, stop, len) = (shared.join("ddboot"), Arc::clone(&stop), expected.len());
        thread::spawn(move || {
            let (mut reads, mut partial) = (0usize, 0usize);
            while !stop.load(Ordering::SeqCst) {
                if let Ok(bytes) = fs::read(&path) {
                    reads += 1;
                    partial += usize::from(bytes.len() != len);
                }
            }
            (reads, partial)
        })
    };
    let (mut failed, mut messages) = (0, Vec::new());
    for _round in 0..5 {
        let runs: Vec<Finished> = thread::scope(|scope| {
            let threads: Vec<_> = (0..6).map(|_| scope.spawn(|| install.as_pid_1())).collect();
            threads.into_iter().map(|t| t.join().expect("installer")).collect()
        });
        for f in runs.into_iter().filter(|f| f.code != Some(0)) {
            failed += 1;
            messages.push(f.stderr);
        }
    }
    stop.store(true, Ordering::SeqCst);
    let (reads, partial) = reader.join().expect("reader");
    eprintln!("measured [install]: {failed} of 30 installers failed; {partial} partial of {reads} reads");
    assert_eq!(failed, 0, "{messages:?}");
    assert_eq!(partial, 0, "a reader saw a partial binary ({reads} reads)");
    assert!(reads > 0, "the reader never saw the installed file");
    assert!(fs::read(shared.join("ddboot")).expect("installed") == *expected, "the installed copy differs");
    let leftovers: Vec<_> = fs::read_dir(shared).expect("ls").flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers, ["ddboot"], "temp files left behind");
}

/// A temp file left by a crashed installer that was PID 1 too (`.ddboot.1.tmp`) is not in the
/// way, and it is not removed either: it is not this run's.
#[test]
fn install_leftover_temp_file_is_no_obstacle_and_not_removed() {
    let install = Install::new();
    fs::create_dir_all(&install.shared).expect("dir");
    let leftover = install.shared.join(".ddboot.1.tmp");
    fs::write(&leftover, b"from a crashed run").expect("write");
    let f = install.as_pid_1();
    assert_eq!(f.code, Some(0), "{}", f.stderr);
    assert!(fs::read(install.shared.join("ddboot")).expect("installed") == install.expected);
    assert_eq!(fs::read(&leftover).expect("the leftover is still there"), b"from a crashed run");
}

// ---------------------------------------------------------------------------------------------
// The table in docs/reliability.md and these tests
// ---------------------------------------------------------------------------------------------

/// Every `` `name` `` in the last column of the markdown tables of `doc` whose header's last
/// column is `test`.
fn table_tests(doc: &str) -> Vec<String> {
    let mut names = Vec::new();
    // None outside a table; Some(whether this table's last column is `test`) inside one.
    let mut table: Option<bool> = None;
    for line in doc.lines().map(str::trim) {
        let Some(row) = line.strip_prefix('|').and_then(|r| r.strip_suffix('|')) else {
            table = None;
            continue;
        };
        let last = row.rsplit('|').next().unwrap_or("").trim();
        let Some(is_test_table) = table else {
            table = Some(last == "test");
            continue; // the header
        };
        if !is_test_table || last.starts_with("---") {
            continue;
        }
        for (i, part) in last.split('`').enumerate() {
            let is_name = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if i % 2 == 1 && is_name {
                names.push(part.to_string());
            }
        }
    }
    names
}

#[test]
fn reliability_table_matches_the_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let doc = read("docs/reliability.md");
    let faults = read("tests/faults.rs");
    let netns = read("tests/netns.rs");
    let listed = table_tests(&doc);
    assert!(!listed.is_empty(), "no test names found in the tables of docs/reliability.md");
    let defined: Vec<String> =
        common::test_fn_names(&faults).into_iter().chain(common::test_fn_names(&netns)).collect();
    let missing: Vec<&String> = listed.iter().filter(|n| !defined.contains(n)).collect();
    assert!(missing.is_empty(), "docs/reliability.md lists tests that do not exist: {missing:?}");
    let unlisted: Vec<&String> = defined.iter().filter(|n| !listed.contains(n)).collect();
    assert!(unlisted.is_empty(), "tests missing from the table in docs/reliability.md: {unlisted:?}");
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&String> = listed.iter().filter(|n| !seen.insert(n.as_str())).collect();
    assert!(twice.is_empty(), "tests listed twice in docs/reliability.md: {twice:?}");
}
