//! Shared harness of ddboot's integration tests: a [`Ddboot`] command builder that cannot let the
//! binary reach the real metadata endpoints (it always clears the environment and either points
//! IMDS at a loopback mock or sets `AWS_EC2_METADATA_DISABLED=true`, and it refuses link-local
//! addresses anywhere), a runner with a watchdog, unique temp dirs for metadata files, and
//! parsers for what the app dumps (`env -0`, argv) and for `--explain --json`.

#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub use mockmeta::{Behaviour, Get, Mock, Put, Tokens};
pub use serde_json::Value;

/// The binary that `cargo test` built; the default binary under test.
pub const CARGO_DDBOOT: &str = env!("CARGO_BIN_EXE_ddboot");

/// The binary under test: `DDBOOT_BIN` when set (any build: the static musl release binaries of
/// `scripts/release.sh`, the aarch64 one included), else the one `cargo test` built.
pub fn ddboot_bin() -> PathBuf {
    match std::env::var_os("DDBOOT_BIN") {
        Some(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => PathBuf::from(CARGO_DDBOOT),
    }
}

/// The program the binary under test runs under, split on spaces: `DDBOOT_RUNNER` (e.g.
/// `qemu-aarch64-static` for the aarch64 build; qemu-user hands the app's `execve` to the host
/// kernel, so the apps the tests start stay host-native). Empty when unset.
/// The runner is looked up in the tests' own `PATH` now, so a test that gives the child another
/// `PATH` still starts it.
pub fn ddboot_runner() -> Vec<OsString> {
    let runner = std::env::var("DDBOOT_RUNNER").unwrap_or_default();
    let mut words: Vec<OsString> = runner.split_whitespace().map(OsString::from).collect();
    if let Some(program) = words.first_mut().filter(|p| !p.as_bytes().contains(&b'/')) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(found) = std::env::split_paths(&path).map(|d| d.join(&*program)).find(|p| p.is_file()) {
            *program = found.into_os_string();
        }
    }
    words
}

/// The argv prefix that starts the binary under test: the runner's words, then the binary.
pub fn ddboot_argv() -> Vec<OsString> {
    let mut argv = ddboot_runner();
    argv.push(ddboot_bin().into_os_string());
    argv
}

/// A single path that starts the binary under test, for scripts that run it as `"$0"`: the
/// binary itself, or (with a runner) a two-line `exec RUNNER BIN "$@"` wrapper. The wrapper lives
/// in cargo's `CARGO_TARGET_TMPDIR`, named by a hash of its text: every test binary of a run
/// shares one file (written to a temp name, then renamed), and nothing piles up in /tmp.
pub fn ddboot_path() -> PathBuf {
    use std::hash::{Hash, Hasher};
    static WRAPPER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if ddboot_runner().is_empty() {
        return ddboot_bin();
    }
    WRAPPER
        .get_or_init(|| {
            let quoted: Vec<String> = ddboot_argv()
                .iter()
                .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
                .collect();
            let text = format!("#!/bin/sh\nexec {} \"$@\"\n", quoted.join(" "));
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut hasher);
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let path = dir.join(format!("ddboot-runner-{:016x}", hasher.finish()));
            let temp = dir.join(format!(".ddboot-runner-{}.tmp", std::process::id()));
            std::fs::write(&temp, text).expect("write the runner wrapper");
            std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the wrapper");
            std::fs::rename(&temp, &path).expect("rename the runner wrapper into place");
            path
        })
        .clone()
}
/// The `PATH` every child gets unless a test overrides it.
pub const CHILD_PATH: &str = "/usr/bin:/bin";
/// `DDBOOT_SOCKET_DIR` unless a test overrides it: no Agent socket on the test machine can
/// decide the host.
pub const NO_SOCKET_DIR: &str = "/nonexistent/ddboot-tests/sockets";
/// A run that takes longer than this is killed and the test fails (a hang, not a slow machine).
pub const WATCHDOG: Duration = Duration::from_secs(15);
/// The app that dumps its environment, NUL-separated.
pub const ENV_DUMP: [&str; 2] = ["/usr/bin/env", "-0"];
/// The app that dumps its arguments (after `$0`) byte for byte, each followed by a NUL.
pub const ARGV_DUMP: [&str; 4] = ["/bin/sh", "-c", r#"for a in "$@"; do printf "%s\0" "$a"; done"#, "sh"];
/// The app that prints its PID.
pub const PID_DUMP: [&str; 3] = ["/bin/sh", "-c", "echo $$"];
/// A dead proxy address: nothing listens on the discard port.
pub const DEAD_PROXY: &str = "http://127.0.0.1:9";
/// Every proxy variable a client library might honour.
pub const PROXY_VARS: [&str; 6] =
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"];
/// The address the default mock answers.
pub const MOCK_IP: &str = "10.0.1.43";

/// Only endpoints on loopback (IPv4 or IPv6) may ever be handed to ddboot.
fn is_trusted_endpoint(url: &str) -> bool {
    url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:")
}

/// Builds a ddboot command that can only talk to loopback mocks.
///
/// `env_clear()` always; `PATH=/usr/bin:/bin` and `DDBOOT_SOCKET_DIR` (a missing directory) unless
/// the test sets them; and unless the test gave
/// a loopback endpoint (the `--imds-endpoint` flag through [`Ddboot::imds`], or
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` through [`Ddboot::imds_env`]) it sets
/// `AWS_EC2_METADATA_DISABLED=true`. [`Ddboot::command`] panics when none of those protections
/// holds, or when any argument or variable mentions a link-local metadata address. The one
/// exception is a run inside a network namespace the test built ([`Ddboot::in_netns`],
/// [`Ddboot::in_new_netns`]), where the namespace keeps every packet off the host.
#[derive(Debug, Clone, Default)]
pub struct Ddboot {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    endpoint_flag: Option<String>,
    /// Run `/bin/sh -c SCRIPT DDBOOT ARGS...` instead of ddboot itself (`$0` is ddboot).
    shell: Option<String>,
    /// Programs put in front of ddboot (e.g. `setpriv ... --`).
    launcher: Vec<OsString>,
    /// Another copy of ddboot to start instead of [`ddboot_bin`] (see [`Ddboot::binary`]).
    bin: Option<PathBuf>,
    /// The network namespace the test built that ddboot runs in ([`Ddboot::in_netns`],
    /// [`Ddboot::in_new_netns`]): there the namespace is the protection, not the loopback checks.
    isolated: Option<String>,
}

impl Ddboot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Points IMDS at `mock` with `--imds-endpoint`.
    pub fn imds(self, mock: &Mock) -> Self {
        self.imds_endpoint(&mock.url())
    }

    /// `--imds-endpoint URL`; the URL must be on loopback.
    pub fn imds_endpoint(mut self, url: &str) -> Self {
        assert!(is_trusted_endpoint(url), "harness: refusing IMDS endpoint {url:?} (loopback only)");
        self.endpoint_flag = Some(url.to_string());
        self
    }

    /// Points IMDS at `mock` through `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn imds_env(self, mock: &Mock) -> Self {
        self.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", mock.url())
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// `--metadata-file PATH`.
    pub fn metadata_file(self, path: &Path) -> Self {
        self.arg("--metadata-file").arg(path)
    }

    /// Agent sockets in `dir` (a temp dir) instead of the missing default directory.
    pub fn socket_dir(self, dir: &Path) -> Self {
        assert!(dir.starts_with(std::env::temp_dir()), "harness: the socket dir must be a temp dir");
        self.env("DDBOOT_SOCKET_DIR", dir)
    }

    /// `--timeout T`.
    pub fn timeout(self, t: &str) -> Self {
        self.arg("--timeout").arg(t)
    }

    /// `ECS_CONTAINER_METADATA_URI_V4=<mock>/v4/mock-container`.
    pub fn task_metadata(self, mock: &Mock) -> Self {
        self.task_metadata_url(&mock.task_metadata_uri())
    }

    /// `ECS_CONTAINER_METADATA_URI_V4=URL`; the URL must be on loopback.
    pub fn task_metadata_url(self, url: &str) -> Self {
        assert!(is_trusted_endpoint(url), "harness: task metadata URI {url:?} is not on loopback");
        self.env("ECS_CONTAINER_METADATA_URI_V4", url)
    }

    /// `--task-metadata-uri <mock>/v4/mock-container`.
    pub fn task_metadata_flag(self, mock: &Mock) -> Self {
        self.task_metadata_flag_url(&mock.task_metadata_uri())
    }

    /// `--task-metadata-uri URL`; the URL must be on loopback.
    pub fn task_metadata_flag_url(self, url: &str) -> Self {
        assert!(is_trusted_endpoint(url), "harness: task metadata URI {url:?} is not on loopback");
        self.arg("--task-metadata-uri").arg(url)
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((name.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Runs `/bin/sh -c SCRIPT DDBOOT ARGS...`: in the script, `"$0"` is ddboot and `"$@"` the args.
    pub fn through_shell(mut self, script: &str) -> Self {
        self.shell = Some(script.to_string());
        self
    }

    /// Puts `prefix` in front of the whole command line.
    pub fn launcher<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.launcher = prefix.into_iter().map(|a| a.as_ref().to_os_string()).collect();
        self
    }

    /// Runs ddboot inside `ns` (`ip netns exec NS`), a network namespace this test process built
    /// (its name starts with `ddb` and holds this process's PID). Its default endpoints then reach
    /// only the namespace's own routes and mocks, so the loopback-only checks are off: no
    /// `AWS_EC2_METADATA_DISABLED` default, and metadata addresses are allowed.
    pub fn in_netns(mut self, ns: &str) -> Self {
        let ours = format!("-{}-", std::process::id());
        assert!(
            ns.starts_with("ddb") && ns.contains(&ours),
            "harness: {ns:?} is not a namespace this test built"
        );
        self.launcher = ["ip", "netns", "exec", ns].map(OsString::from).to_vec();
        self.isolated = Some(format!("netns {ns}"));
        self
    }

    /// Runs ddboot in a fresh network namespace of its own (`unshare -n`, nothing but `lo`; use
    /// [`Ddboot::through_shell`] to bring `lo` up), with the loopback-only checks off as in
    /// [`Ddboot::in_netns`].
    pub fn in_new_netns(mut self) -> Self {
        self.launcher = ["unshare", "-n"].map(OsString::from).to_vec();
        self.isolated = Some("a new network namespace".into());
        self
    }

    /// The final environment of the ddboot process (later settings win).
    fn final_env(&self) -> BTreeMap<OsString, OsString> {
        let mut env = BTreeMap::new();
        env.insert(OsString::from("PATH"), OsString::from(CHILD_PATH));
        env.insert(OsString::from("DDBOOT_SOCKET_DIR"), OsString::from(NO_SOCKET_DIR));
        for (k, v) in &self.env {
            env.insert(k.clone(), v.clone());
        }
        let env_endpoint_trusted = env
            .get(OsStr::new("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
            .is_some_and(|v| is_trusted_endpoint(&v.to_string_lossy()));
        if self.isolated.is_some() {
            return env;
        }
        if self.endpoint_flag.is_none()
            && !env_endpoint_trusted
            && !env.contains_key(OsStr::new("AWS_EC2_METADATA_DISABLED"))
        {
            env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        }
        let disabled = env
            .get(OsStr::new("AWS_EC2_METADATA_DISABLED"))
            .is_some_and(|v| v.to_string_lossy().trim().eq_ignore_ascii_case("true"));
        assert!(
            self.endpoint_flag.is_some() || env_endpoint_trusted || disabled,
            "harness: this command could reach the real IMDS: give a loopback endpoint or \
             AWS_EC2_METADATA_DISABLED=true ({self:?})"
        );
        env
    }

    /// The ddboot argv (without the program itself).
    fn ddboot_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        if let Some(url) = &self.endpoint_flag {
            args.push(OsString::from("--imds-endpoint"));
            args.push(OsString::from(url));
        }
        args.extend(self.args.iter().cloned());
        args
    }

    /// The command, checked: see the type's documentation.
    pub fn command(&self) -> Command {
        let env = self.final_env();
        let args = self.ddboot_args();
        if self.isolated.is_none() {
            refuse_metadata_addresses(
                env.iter().flat_map(|(k, v)| [k, v]).chain(args.iter()).chain(self.launcher.iter()),
            );
        }
        let mut argv: Vec<OsString> = self.launcher.clone();
        match &self.shell {
            Some(script) => {
                assert!(self.bin.is_none(), "harness: binary() does not apply to through_shell()");
                argv.extend(["/bin/sh".into(), "-c".into(), script.into(), ddboot_path().into()]);
            }
            None => {
                argv.extend(ddboot_runner());
                argv.push(self.bin.clone().unwrap_or_else(ddboot_bin).into_os_string());
            }
        }
        argv.extend(args);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear().envs(&env);
        cmd
    }

    /// Runs the command to completion (stdin from /dev/null), under the watchdog.
    pub fn run(&self) -> Finished {
        run_watched(self.command(), WATCHDOG, self)
    }

    /// Runs ddboot with `extra` appended to its arguments.
    pub fn run_with(&self, extra: &[&str]) -> Finished {
        self.clone().args(extra).run()
    }

    /// `--explain --json`: the report (exit 0 when resolved, 1 when not).
    pub fn explain(&self) -> Value {
        let f = self.run_with(&["--explain", "--json"]);
        let v = f.json();
        let expected = if v["source"].is_null() { 1 } else { 0 };
        assert_eq!(f.code(), Some(expected), "{f:?}");
        v
    }

    /// `--explain` (text).
    pub fn explain_text(&self) -> String {
        let f = self.run_with(&["--explain"]);
        assert!(matches!(f.code(), Some(0 | 1)), "{f:?}");
        String::from_utf8(f.stdout).expect("UTF-8 report")
    }

    /// Runs the app `env -0` (quietly) and returns the environment it got.
    pub fn app_env(&self) -> BTreeMap<String, String> {
        let mut extra = vec!["--quiet", "--"];
        extra.extend(ENV_DUMP);
        let f = self.run_with(&extra);
        f.assert_code(0);
        f.env()
    }
}

/// The one runner: `cmd` to completion (stdin from /dev/null, stdout and stderr captured), under
/// a watchdog: a run longer than `watchdog` is killed and the test fails, showing `what`.
pub fn run_watched(mut cmd: Command, watchdog: Duration, what: &dyn std::fmt::Debug) -> Finished {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    run_plugged(cmd, watchdog, what)
}

/// [`run_watched`] with the three streams as the caller set them on `cmd` (set stdin: a
/// `Command`'s default is to inherit it): only the piped stdout and stderr are read (the others,
/// `/dev/full` or a pipe without reader say, leave theirs empty). When the child leads a process
/// group of its own (`process_group(0)`), whatever is left in that group when it exits is killed.
pub fn run_plugged(mut cmd: Command, watchdog: Duration, what: &dyn std::fmt::Debug) -> Finished {
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn {what:?}: {e}"));
    let pid = child.id();
    let read_all = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = read_all(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = read_all(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let mut peak_rss_kib = 0;
    // Sampled until the exit; the exec into the app starts a new (smaller) high-water mark.
    let status = wait_watched(&mut child, watchdog, what, || {
        peak_rss_kib = peak_rss_kib.max(high_water_kib(pid).unwrap_or(0));
    });
    let elapsed = started.elapsed();
    Finished {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned(),
        elapsed,
        pid,
        peak_rss_kib,
    }
}

/// `VmHWM` (peak resident set) of a running process, in KiB.
pub fn high_water_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// Substrings that name a real metadata endpoint; never allowed near ddboot.
pub const FORBIDDEN: [&str; 4] = ["169.254.", "fd00:ec2", "[fd00:", "metadata.google"];

/// The one loopback guard: panics when any argument or variable names a real metadata endpoint.
pub fn refuse_metadata_addresses<I, S>(items: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    for item in items {
        let text = item.as_ref().to_string_lossy();
        for bad in FORBIDDEN {
            assert!(!text.contains(bad), "harness: refusing {text:?}: it names a real metadata endpoint");
        }
    }
}

/// What a run left behind.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// From spawn to exit, as seen by the test.
    pub elapsed: Duration,
    /// `Child::id()` of the process spawned.
    pub pid: u32,
    /// The highest `VmHWM` sampled while it ran (ddboot's, then the app's after the exec).
    pub peak_rss_kib: u64,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finished")
            .field("status", &self.status)
            .field("elapsed", &self.elapsed)
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &self.stderr)
            .finish()
    }
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Asserts the exit code, showing everything on failure.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "unexpected exit: {self:?}");
        self
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// stdout as the `--explain --json` object (exactly one JSON value).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| panic!("not one JSON value ({e}): {self:?}"))
    }

    /// stdout as an `env -0` dump.
    pub fn env(&self) -> BTreeMap<String, String> {
        assert!(self.stdout.is_empty() || self.stdout.ends_with(b"\0"), "not an env -0 dump: {self:?}");
        let mut env = BTreeMap::new();
        for entry in self.stdout.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let (k, v) = entry.split_once('=').unwrap_or_else(|| panic!("bad env entry {entry:?}"));
            assert!(env.insert(k.to_string(), v.to_string()).is_none(), "{k} appears twice: {self:?}");
        }
        env
    }

    /// stdout as an [`ARGV_DUMP`] dump: the app's arguments after `$0`.
    pub fn argv(&self) -> Vec<Vec<u8>> {
        assert!(self.stdout.is_empty() || self.stdout.ends_with(b"\0"), "not an argv dump: {self:?}");
        let mut parts: Vec<Vec<u8>> = self.stdout.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        parts.pop();
        parts
    }

    /// Asserts that stderr is exactly the one status line for `host` from `source`.
    pub fn assert_status_line(&self, host: &str, source: &str) -> &Self {
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:?}");
        let prefix = format!("ddboot: DD_AGENT_HOST={host} ({source}, ");
        let rest = lines[0].strip_prefix(&prefix).unwrap_or_else(|| panic!("expected {prefix:?}…: {self:?}"));
        let number = rest
            .strip_suffix(" ms)")
            .or_else(|| rest.strip_suffix(" s)"))
            .unwrap_or_else(|| panic!("the status line should end with a time: {self:?}"));
        assert!(number.parse::<f64>().is_ok_and(|n| n >= 0.0), "bad time {number:?}: {self:?}");
        self
    }

    /// Asserts the app got `DD_AGENT_HOST=host` (stdout is an env dump).
    pub fn assert_app_host(&self, host: &str) -> &Self {
        assert_eq!(self.env().get("DD_AGENT_HOST").map(String::as_str), Some(host), "{self:?}");
        self
    }

    /// Asserts an error exit: `code`, and exactly one stderr line, starting `ddboot:` (for runs
    /// where nothing else is printed: usage errors, or a resolved host with `-q`).
    pub fn assert_error(&self, code: i32) -> &Self {
        self.assert_code(code);
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected exactly one stderr line: {self:?}");
        assert!(lines[0].starts_with("ddboot:"), "{self:?}");
        self
    }

    /// Asserts an error exit after other reports (the unresolved warning): `code`, and every
    /// stderr line starts with `ddboot:`.
    pub fn assert_error_lines(&self, code: i32) -> &Self {
        self.assert_code(code);
        let lines = self.stderr_lines();
        assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with("ddboot:")), "{self:?}");
        self
    }
}

/// The attempts of `source` in a `--explain --json` report.
pub fn attempts_of<'a>(report: &'a Value, source: &str) -> Vec<&'a Value> {
    report["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts array in {report}"))
        .iter()
        .filter(|a| a["source"] == source)
        .collect()
}

/// Asserts `source` has exactly one attempt, with `outcome` (ok, failed, skipped); returns it.
pub fn assert_attempt<'a>(report: &'a Value, source: &str, outcome: &str) -> &'a Value {
    let found = attempts_of(report, source);
    assert_eq!(found.len(), 1, "expected one {source} attempt in {report:#}");
    let a = found[0];
    assert_eq!(a["outcome"], outcome, "{source}: {report:#}");
    assert!(a["elapsed_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{source} elapsed_ms: {report:#}");
    assert!(a["detail"].is_string(), "{source} detail: {report:#}");
    a
}

/// The detail of the one attempt of `source`.
pub fn detail_of(report: &Value, source: &str) -> String {
    let found = attempts_of(report, source);
    assert_eq!(found.len(), 1, "expected one {source} attempt in {report:#}");
    found[0]["detail"].as_str().unwrap_or_default().to_string()
}

/// Starts a mock with the default behaviour changed by `f`.
pub fn start_mock(f: impl FnOnce(&mut Behaviour)) -> Mock {
    let mut b = Behaviour::default();
    f(&mut b);
    Mock::start(b)
}

/// Asserts the mock got no request at all (allowing a moment for one in flight to be logged).
pub fn assert_no_requests(mock: &Mock) {
    assert!(
        !mock.wait_for_requests(1, Duration::from_millis(100)),
        "unexpected requests: {:?}",
        mock.requests()
    );
}

/// Asserts what ddboot must never send: X-Forwarded-For, a proxy-style absolute target, a path
/// other than the token and local-ipv4 paths, a token-less GET after a token was issued.
pub fn assert_hygiene(mock: &Mock) {
    let requests = mock.requests();
    for r in &requests {
        assert!(r.header("X-Forwarded-For").is_none(), "X-Forwarded-For sent: {r:?}");
        assert!(
            r.header("Forwarded").is_none() && r.header("Via").is_none(),
            "forwarding header sent: {r:?}"
        );
        assert!(!r.headers.iter().any(|(n, _)| n.to_ascii_lowercase().starts_with("proxy-")), "{r:?}");
        assert!(r.path.starts_with('/'), "absolute-form (proxy) target: {r:?}");
        let known = (r.method == "PUT" && r.path == mockmeta::TOKEN_PATH)
            || (r.method == "GET" && (r.path == mockmeta::LOCAL_IPV4_PATH || r.path == mockmeta::IPV6_PATH));
        assert!(known, "unexpected request: {r:?}");
        if r.method == "PUT" {
            let ttl: u32 = r
                .header(mockmeta::TTL_HEADER)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("token PUT without a TTL: {r:?}"));
            assert!((1..=21600).contains(&ttl), "TTL out of range: {r:?}");
        }
    }
    if !mock.issued_tokens().is_empty() {
        assert_eq!(mock.tokenless_gets(), 0, "token-less GET although IMDSv2 worked: {requests:?}");
    }
}

/// A unique temp directory (`tempfile`), readable by all (0755: some tests run the app as
/// another user), removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("ddboot-it-").tempdir().expect("create temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Writes `contents` to `name` (mode 0644) and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod temp file");
        p
    }

    /// Binds a Unix socket at `<dir>/<name>` as the Agent does (kept alive by the caller): a
    /// datagram socket for `dsd.socket`, a stream listener otherwise. ddboot probes each one.
    pub fn socket(&self, name: &str) -> Box<dyn std::any::Any> {
        if name == "dsd.socket" {
            Box::new(
                std::os::unix::net::UnixDatagram::bind(self.join(name)).expect("bind Unix datagram socket"),
            )
        } else {
            Box::new(std::os::unix::net::UnixListener::bind(self.join(name)).expect("bind Unix socket"))
        }
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A metadata file as the ECS agent writes it once the container runs (`MetadataFileStatus`
/// READY), with `HostPrivateIPv4Address` when `host` is given.
pub fn ready_file(host: Option<&str>) -> String {
    let mut doc = serde_json::json!({
        "Cluster": "default",
        "ContainerInstanceARN": "arn:aws:ecs:us-west-2:012345678910:container-instance/1f73d099",
        "TaskARN": "arn:aws:ecs:us-west-2:012345678910:task/2b88376d",
        "ContainerID": "98e44444008169587b826b4cd76c6732e5899747e753af1e19a35db64f9e9c32",
        "ContainerName": "metadata",
        "DockerContainerName": "/ecs-metadata-7-metadata-f0edfbd6d09fdef20800",
        "ImageID": "sha256:c24f66af34b4d76558f7743109e2476b6325fcf6cc167c6e1e07cd121a22b341",
        "ImageName": "httpd:2.4",
        "PortMappings": [{"ContainerPort": 80, "HostPort": 80, "BindIp": "", "Protocol": "tcp"}],
        "Networks": [{"NetworkMode": "host", "IPv4Addresses": ["10.0.0.10"]}],
        "MetadataFileStatus": "READY",
        "AvailabilityZone": "us-east-1b",
    });
    if let Some(host) = host {
        doc["HostPrivateIPv4Address"] = Value::String(host.into());
    }
    serde_json::to_string_pretty(&doc).expect("json")
}

/// A metadata file as written before the container runs: no `MetadataFileStatus`, with
/// `HostPrivateIPv4Address` only when `host` is given.
pub fn early_file(host: Option<&str>) -> String {
    let mut doc = serde_json::json!({
        "Cluster": "default",
        "ContainerInstanceARN": "arn:aws:ecs:us-west-2:012345678910:container-instance/1f73d099",
        "TaskARN": "arn:aws:ecs:us-west-2:012345678910:task/2b88376d",
        "ContainerName": "metadata",
    });
    if let Some(host) = host {
        doc["HostPrivateIPv4Address"] = Value::String(host.into());
    }
    serde_json::to_string(&doc).expect("json")
}

/// Replaces `path` atomically (temp file + rename), as the ECS agent does.
pub fn replace_by_rename(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp-replace");
    std::fs::write(&tmp, contents).expect("write replacement");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).expect("chmod replacement");
    std::fs::rename(&tmp, path).expect("rename replacement");
}

/// Whether this test process runs as root (owner of `/proc/self` is the effective uid).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Whether `haystack` contains `needle`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts `elapsed < bound`.
pub fn assert_within(f: &Finished, bound: Duration) {
    assert!(f.elapsed < bound, "took {:?}, expected < {bound:?}: {f:?}", f.elapsed);
}

/// The bytes of an OsStr.
pub fn bytes(s: &OsStr) -> Vec<u8> {
    s.as_bytes().to_vec()
}

// --- Runs that assert a resolution, another copy of the binary under the one builder, and files
// that change or block under a running ddboot ---

impl Ddboot {
    /// Runs the app [`ENV_DUMP`] and asserts that it started with `DD_AGENT_HOST=host`, after the
    /// one status line naming `source`; returns the run.
    pub fn assert_resolves(&self, host: &str, source: &str) -> Finished {
        let f = self.run_with(&ENV_DUMP);
        f.assert_code(0).assert_app_host(host).assert_status_line(host, source);
        f
    }

    /// Asserts that with `name=value` set and IMDS at a default mock (`--imds-endpoint`), the app
    /// still gets [`MOCK_IP`] from `imdsv2`.
    pub fn assert_imdsv2_despite(name: &str, value: &str) {
        let mock = start_mock(|_| {});
        Ddboot::new().imds(&mock).env(name, value).assert_resolves(MOCK_IP, "imdsv2");
    }

    /// Starts `bin` (another copy of the binary under test, e.g. the one `--install` wrote)
    /// instead of [`ddboot_bin`], under the same runner and guard. Not with [`Ddboot::through_shell`].
    pub fn binary(mut self, bin: &Path) -> Self {
        self.bin = Some(bin.to_path_buf());
        self
    }
}

/// Starts a thread that replaces `path` with `contents` by rename (as the ECS agent does) after
/// `after`; join it once the run is over.
pub fn replace_later(path: &Path, after: Duration, contents: String) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        replace_by_rename(&path, &contents);
    })
}

impl TempDir {
    /// Makes a FIFO at `<dir>/<name>` (nothing ever writes it: a reader would block) and returns
    /// its path.
    pub fn fifo(&self, name: &str) -> PathBuf {
        let path = self.join(name);
        let made = Command::new("mkfifo").arg(&path).status().expect("run mkfifo");
        assert!(made.success(), "mkfifo {} failed", path.display());
        path
    }
}

// --- The watchdog every runner shares, the streaming runner (`Ddboot::spawn`), and the app that
// reports its DD_AGENT_HOST with the parsers of ddboot's status lines (faults, netns) ---

/// The process group `child` leads (`process_group(0)`), if it does.
fn group_led_by(child: &std::process::Child) -> Option<nix::unistd::Pid> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).ok()?);
    nix::unistd::getpgid(Some(pid)).ok().filter(|g| *g == pid)
}

/// Kills what is left of `group` (nothing, when the run was right; an app that outlived a
/// forking ddboot would hold the pipes open forever).
fn kill_group(group: Option<nix::unistd::Pid>) {
    if let Some(group) = group {
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
}

/// Waits for `child` at most `bound` (from now), calling `each` between polls; past the bound it
/// kills the child (and its process group when it leads one) and fails the test, showing `what`.
/// When the child leads a process group, whatever is left in it once the child exits is killed
/// too. Every runner of the harness waits here.
pub fn wait_watched(
    child: &mut std::process::Child,
    bound: Duration,
    what: &dyn std::fmt::Debug,
    mut each: impl FnMut(),
) -> ExitStatus {
    let since = Instant::now();
    let group = group_led_by(child);
    loop {
        each();
        if let Some(status) = child.try_wait().expect("wait for the child") {
            kill_group(group);
            return status;
        }
        if since.elapsed() > bound {
            kill_group(group);
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {bound:?}: {what:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A process started by [`Ddboot::spawn`] or [`Running::start`]: its stdout lines as they come,
/// its stderr collected, and the PID that [`Running::signal`] targets.
pub struct Running {
    child: std::process::Child,
    /// The PID signals go to: the child, unless the caller retargets it (the init of a PID
    /// namespace the child created, say).
    pub target: i32,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    stderr_seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Ddboot {
    /// Starts the command (stdin from /dev/null) without waiting: see [`Running`].
    pub fn spawn(&self) -> Running {
        Running::start(self.command())
    }
}

impl Running {
    /// Starts `command` (stdin from /dev/null, stdout and stderr piped; whatever else the caller
    /// set on it, a `pre_exec` hook or a process group say, stays: what is left of a group it
    /// leads is killed when it exits, as [`run_plugged`] does).
    pub fn start(mut command: Command) -> Running {
        use std::io::BufRead;
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot spawn {command:?}: {e}"));
        let target = i32::try_from(child.id()).expect("pid");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr_seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen = stderr_seen.clone();
        let stderr = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut s) = seen.lock() {
                            s.push_str(&String::from_utf8_lossy(&buf[..n]));
                        }
                    }
                }
            }
            seen.lock().map(|s| s.clone()).unwrap_or_default()
        });
        Running { child, target, lines, stderr, stderr_seen }
    }

    /// `Child::id()` of the process spawned.
    pub fn child_id(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, within `bound`; `None` when stdout closed or nothing came in time.
    pub fn next_line(&self, bound: Duration) -> Option<String> {
        self.lines.recv_timeout(bound).ok()
    }

    /// The next stdout line, within [`WATCHDOG`]; on a timeout, SIGKILLs the target and fails.
    pub fn line(&self) -> String {
        self.lines.recv_timeout(WATCHDOG).unwrap_or_else(|e| self.stuck(e))
    }

    /// Every stdout line until stdout closes, each within [`WATCHDOG`] (as [`Running::line`]).
    pub fn all_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            match self.lines.recv_timeout(WATCHDOG) {
                Ok(line) => lines.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(e) => self.stuck(e),
            }
        }
    }

    fn stuck(&self, e: std::sync::mpsc::RecvTimeoutError) -> ! {
        std::thread::sleep(Duration::from_millis(100));
        let target = nix::unistd::Pid::from_raw(self.target);
        let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL);
        panic!("no line from the app ({e}); stderr: {:?}", self.stderr_now())
    }

    /// Waits for a line equal to `want`, failing on anything else.
    pub fn expect_line(&self, want: &str) {
        assert_eq!(self.line(), want);
    }

    /// What the process wrote on stderr so far (only complete once it has exited).
    pub fn stderr_now(&self) -> String {
        self.stderr_seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends `signal` to the target.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.target), signal).expect("kill");
    }

    /// Waits (at most `bound`, then SIGKILL and fail) for the exit; returns the status, all of
    /// stderr, and the time from this call to the exit.
    pub fn wait(mut self, bound: Duration) -> (ExitStatus, String, Duration) {
        let since = Instant::now();
        let status = wait_watched(&mut self.child, bound, &"a run started by Running::start", || {});
        let elapsed = since.elapsed();
        let stderr = self.stderr.join().expect("stderr");
        (status, stderr, elapsed)
    }
}

/// ddboot's default deadline (`--timeout` unset).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(1);
/// The first line [`HOST_APP`] prints.
pub const HOST_APP_MARKER: &str = "ddboot-tests: the app ran";
/// A shell script for an app that prints [`HOST_APP_MARKER`], then `host=` and the DD_AGENT_HOST
/// it got (`<unset>` when it got none).
pub const HOST_APP: &str = r#"echo "ddboot-tests: the app ran"; echo "host=${DD_AGENT_HOST-<unset>}""#;

/// `12.3 ms` / `1.02 s`, as ddboot prints a duration.
pub fn parse_human(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix(" ms") {
        return ms.parse::<f64>().ok().map(|v| Duration::from_secs_f64(v / 1000.0));
    }
    text.strip_suffix(" s")?.parse::<f64>().ok().map(Duration::from_secs_f64)
}

/// A finished run as text, for the runs of [`HOST_APP`]: the exit code (128+N for a signal N).
#[derive(Debug)]
pub struct AppRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Spawn to exit, as the test saw it.
    pub elapsed: Duration,
    /// The highest `VmHWM` sampled while it ran (ddboot's, then the app's).
    pub peak_rss_kib: u64,
}

impl From<Finished> for AppRun {
    fn from(f: Finished) -> AppRun {
        AppRun {
            code: f.code().or(f.signal().map(|s| 128 + s)),
            stdout: f.stdout_text(),
            stderr: f.stderr,
            elapsed: f.elapsed,
            peak_rss_kib: f.peak_rss_kib,
        }
    }
}

impl AppRun {
    /// Whether [`HOST_APP`] ran (its marker is the first line).
    pub fn app_ran(&self) -> bool {
        self.stdout.lines().next() == Some(HOST_APP_MARKER)
    }

    /// The DD_AGENT_HOST [`HOST_APP`] got (`None`: unset); fails if the app did not run.
    pub fn app_host(&self) -> Option<&str> {
        assert!(self.app_ran(), "the app did not run: {self:?}");
        let host =
            self.stdout.lines().nth(1).and_then(|l| l.strip_prefix("host=")).expect("the app's host line");
        (host != "<unset>").then_some(host)
    }

    /// ddboot's status line: (host, source, its own time).
    pub fn resolved(&self) -> Option<(String, String, Duration)> {
        let rest = self.stderr.lines().find_map(|l| l.strip_prefix("ddboot: DD_AGENT_HOST="))?;
        let (host, rest) = rest.split_once(" (")?;
        let (source, took) = rest.strip_suffix(')')?.split_once(", ")?;
        Some((host.into(), source.into(), parse_human(took)?))
    }

    /// ddboot's own time in its unresolved warning.
    pub fn unresolved_after(&self) -> Option<Duration> {
        let prefix = "ddboot: warning: Datadog Agent host not resolved after ";
        let rest = self.stderr.lines().find_map(|l| l.strip_prefix(prefix))?;
        parse_human(rest.split(';').next()?)
    }

    /// Asserts ddboot resolved `host` from `source` and handed it to the app (exit 0); returns
    /// ddboot's own time from its status line.
    pub fn assert_resolved_app(&self, host: &str, source: &str) -> Duration {
        assert_eq!(self.code, Some(0), "ddboot did not hand over to the app: {self:?}");
        assert_eq!(self.app_host(), Some(host), "{self:?}");
        let (got_host, got_source, took) =
            self.resolved().unwrap_or_else(|| panic!("expected the status line for {host}: {self:?}"));
        assert_eq!((got_host.as_str(), got_source.as_str()), (host, source), "{self:?}");
        took
    }

    /// Asserts ddboot found no host, warned why, and still started the app (exit 0) without
    /// DD_AGENT_HOST; returns ddboot's own time from its warning.
    pub fn assert_unresolved_app(&self) -> Duration {
        assert_eq!(self.code, Some(0), "ddboot did not hand over to the app: {self:?}");
        assert_eq!(self.app_host(), None, "{self:?}");
        assert!(
            self.stderr.contains("starting the app without DD_AGENT_HOST"),
            "the warning must say what happens: {self:?}"
        );
        self.unresolved_after().unwrap_or_else(|| panic!("expected the unresolved warning: {self:?}"))
    }

    /// The unresolved warning's reason for `source` (its line `ddboot: warning: SOURCE OUTCOME:
    /// REASON`); fails when there is none.
    pub fn reason(&self, source: &str) -> String {
        let tag = format!("ddboot: warning: {source} ");
        let line = self.stderr.lines().find_map(|l| l.strip_prefix(&tag));
        let line = line.unwrap_or_else(|| panic!("no reason for {source}: {self:?}"));
        line.split_once(": ").map_or("", |(_, why)| why).to_string()
    }
}

/// Names of the `#[test]` functions in `source`, and of the rows of its `rows!` tables (a
/// `name => check;` line each: tests/faults.rs), for the tests that keep docs naming tests honest.
pub fn test_fn_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (mut armed, mut in_rows) = (false, false);
    for line in source.lines() {
        let trimmed = line.trim();
        if line == "rows! {" {
            in_rows = true;
        } else if in_rows && line == "}" {
            in_rows = false;
        } else if in_rows && let Some((name, _)) = line.strip_prefix("    ").and_then(|l| l.split_once(" =>"))
        {
            if !name.starts_with(' ') {
                names.push(name.to_string());
            }
        } else if trimmed == "#[test]" {
            armed = true;
        } else if armed && let Some(rest) = trimmed.strip_prefix("fn ") {
            // The `fn $name` of the `rows!` macro itself is no test.
            if !rest.starts_with('$') {
                names.push(rest.split(['(', '<']).next().unwrap_or("").to_string());
            }
            armed = false;
        }
    }
    names
}
