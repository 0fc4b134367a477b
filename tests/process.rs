//! How ddboot becomes the app: argv arrives byte for byte (spaces, quotes, newlines, empty
//! strings, flag-like words, non-UTF-8), the environment is the inherited one plus the planned
//! changes; and the exit codes before the exec, each with one `ddboot:` line on stderr: 64 (no
//! PROGRAM, unknown flag, bad option values), 126 (not executable, by path and via PATH), 127 (not
//! found, decided before any network request).
//!
//! Then the process guarantees of the exec: the app keeps ddboot's PID, so a SIGTERM sent to that
//! PID reaches the app's own handler; the app's exit status (a code, or the signal that killed it)
//! is what the parent sees; the app inherits exactly the file descriptors ddboot inherited (none of
//! ddboot's sockets or files leak) with stdin, stdout and stderr untouched; SIGPIPE is back to its
//! default while a signal ignored by ddboot's parent stays ignored, and no signal is blocked. Each
//! of these runs unresolved, resolved through a loopback mock IMDS (with the task metadata endpoint
//! on the same mock) and resolved from a metadata file, so every path that opens sockets or files
//! before the exec is covered. Runs go through the `common` harness (environment cleared, IMDS on
//! a loopback mock or disabled) with `--socket-dir` pointing at an empty temp dir.
//!
//! Last, `security_md_cites_only_existing_tests` keeps docs/security.md honest: every test or
//! file it cites exists.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use common::*;
use nix::libc;
use nix::sys::signal::Signal;

/// A command whose host resolves at once (inherited DD_AGENT_HOST) and prints no status line:
/// stderr holds only what the exec step says.
fn resolved_quietly() -> Ddboot {
    Ddboot::new().env("DD_AGENT_HOST", "10.1.2.3").arg("-q")
}

#[test]
fn argv_arrives_byte_for_byte() {
    let args: Vec<&OsStr> = [
        &b"plain"[..],
        b"with space",
        b"  padded  ",
        b"it's",
        b"\"double\"",
        b"new\nline",
        b"",
        b"",
        b"--strict",
        b"-q",
        b"--",
        b"--explain",
        b"--imds-endpoint",
        b"$(echo injected)",
        b"`echo injected`",
        b"* ?",
        b"tab\there",
        b"back\\slash",
        "h\u{e9}llo \u{2603}".as_bytes(),
        b"\xff\xfe not utf-8",
        b"",
    ]
    .into_iter()
    .map(OsStr::from_bytes)
    .collect();
    let f = resolved_quietly().args(ARGV_DUMP).args(&args).run();
    f.assert_code(0);
    let want: Vec<Vec<u8>> = args.iter().map(|a| bytes(a)).collect();
    assert_eq!(f.argv(), want, "{f:?}");
    assert_eq!(f.stderr, "", "-q before PROGRAM is ddboot's: {f:?}");

    // With `--` before PROGRAM.
    let f = resolved_quietly().arg("--").args(ARGV_DUMP).args(&args).run();
    f.assert_code(0);
    assert_eq!(f.argv(), want, "{f:?}");
}

#[test]
fn the_app_gets_the_inherited_environment_plus_the_changes() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.0.6.6")));
    let f = Ddboot::new()
        .metadata_file(&file)
        .env("FOO", "bar")
        .env("MULTI", "a\nb=c")
        .env("EMPTY", "")
        .env("DD_ENV", "staging")
        .args(["--dd-version", "7"])
        .args(ENV_DUMP)
        .run();
    f.assert_code(0);
    let want: BTreeMap<String, String> = [
        ("PATH", CHILD_PATH),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("DDBOOT_SOCKET_DIR", NO_SOCKET_DIR),
        ("FOO", "bar"),
        ("MULTI", "a\nb=c"),
        ("EMPTY", ""),
        ("DD_ENV", "staging"),
        ("DD_VERSION", "7"),
        ("DD_AGENT_HOST", "10.0.6.6"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(f.env(), want, "{f:?}");
}

#[test]
fn the_program_is_found_in_path() {
    let f = Ddboot::new().args(["sh", "-c", "echo found"]).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text(), "found\n");
}

#[test]
fn exit_64_without_program_or_debug_flag() {
    let f = Ddboot::new().run();
    f.assert_error(64);
    let f = Ddboot::new().args(["--strict", "-q"]).run();
    f.assert_error(64);
}

/// Arguments, environment, and what the usage error must name (any one of the names: the message
/// may name either side of a conflict or a requirement).
type UsageCase = (&'static [&'static str], &'static [(&'static str, &'static str)], &'static [&'static str]);

#[test]
fn exit_64_on_an_unknown_flag_or_bad_value() {
    let mut failures = Vec::new();
    let cases: [UsageCase; 9] = [
        (&["--bogus", "/bin/true"], &[], &["--bogus"]),
        (&["--timeout", "soon", "/bin/true"], &[], &["--timeout"]),
        (&["--timeout", "5h", "/bin/true"], &[], &["--timeout"]),
        (&["--timeout"], &[], &["--timeout"]),
        (&["/bin/true"], &[("DDBOOT_TIMEOUT", "soon")], &["DDBOOT_TIMEOUT"]),
        (&["/bin/true"], &[("DDBOOT_TIMEOUT", "61s")], &["DDBOOT_TIMEOUT"]),
        (&["/bin/true"], &[("DDBOOT_STRICT", "maybe")], &["DDBOOT_STRICT"]),
        (&["--json", "/bin/true"], &[], &["--json", "--explain"]),
        (&["--explain", "--print-env"], &[], &["--print-env", "--explain"]),
    ];
    for (args, env, named) in cases {
        let mut cmd = Ddboot::new().args(args);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let f = cmd.run();
        let lines = f.stderr_lines();
        let ok = f.code() == Some(64)
            && lines.len() == 1
            && lines[0].starts_with("ddboot:")
            && named.iter().any(|n| lines[0].contains(n));
        if !ok {
            failures.push(format!("{args:?} {env:?}: {f:?}"));
        }
    }
    assert!(failures.is_empty(), "not a one-line usage error naming the setting:\n{}", failures.join("\n"));
}

#[test]
fn exit_126_when_the_program_is_not_executable() {
    let dir = TempDir::new();
    let script = dir.write("not-executable", "#!/bin/sh\necho ran\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let f = resolved_quietly().arg(&script).run();
    f.assert_error(126);
    assert!(f.stdout.is_empty(), "{f:?}");

    let path = format!("{}:{CHILD_PATH}", dir.path().display());
    let f = resolved_quietly().env("PATH", &path).arg("not-executable").run();
    f.assert_error(126);
    assert!(f.stdout.is_empty(), "{f:?}");

    // A directory is found but cannot be executed either.
    let f = resolved_quietly().arg(dir.path()).run();
    f.assert_error(126);
}

#[test]
fn exit_127_when_the_program_is_not_found() {
    let dir = TempDir::new();
    let f = resolved_quietly().arg("ddboot-no-such-program").run();
    f.assert_error(127);
    let f = resolved_quietly().arg(dir.join("no-such-program")).run();
    f.assert_error(127);
    // PATH is the app's: a program outside it is not found.
    let f = resolved_quietly().env("PATH", dir.path()).args(["sh", "-c", "true"]).run();
    f.assert_error(127);
}

#[test]
fn exec_errors_follow_the_status_line_and_never_leak_a_token() {
    // A PROGRAM that is there but cannot be executed fails at the exec, after the resolution.
    let dir = TempDir::new();
    let not_executable = dir.write("not-executable", "#!/bin/sh\n");
    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).arg(&not_executable).run();
    f.assert_error_lines(126);
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 2, "status line, then the error: {f:?}");
    assert!(lines[0].starts_with("ddboot: DD_AGENT_HOST=10.0.1.43 (imdsv2, "), "{f:?}");
    assert!(lines[1].contains("not-executable"), "{f:?}");
    assert!(!mock.issued_tokens().is_empty());
    for t in mock.issued_tokens() {
        assert!(!f.stderr.contains(&t), "{f:?}");
    }

    // Unresolved: the warning, then the error.
    let f = Ddboot::new().arg(&not_executable).run();
    f.assert_error_lines(126);
    assert!(f.stderr_lines().last().is_some_and(|l| l.contains("not-executable")), "{f:?}");

    // A PROGRAM that is not there is looked up first: the error alone, before any request.
    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).arg("ddboot-no-such-program").run();
    f.assert_error(127);
    assert!(f.stderr.contains("ddboot-no-such-program"), "{f:?}");
    assert_no_requests(&mock);
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["--help", "-h", "--version", "-V"] {
        let f = Ddboot::new().arg(flag).run();
        f.assert_code(0);
        assert!(!f.stdout.is_empty(), "{flag}: {f:?}");
    }
}

// ---- Process guarantees of the exec -------------------------------------------------------------

/// The extra descriptor ddboot inherits in the descriptor tests.
const EXTRA_FD: RawFd = 7;
/// The app of the descriptor and signal tests: its blocked and ignored signal masks (read with
/// shell builtins: a child would race with the mask dash sets around `vfork`), its descriptors as
/// `ls -l` shows them (from a child `ls`, so listing opens nothing in the app itself), and the
/// agent host it was given.
const INSPECT: &str = r#"while read -r k v; do case $k in SigBlk:|SigIgn:) echo "$k $v";; esac; done </proc/$$/status
ls -l /proc/$$/fd; echo "host=${DD_AGENT_HOST-unset}"; exit 0"#;

/// How ddboot finds (or does not find) the agent before the exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    /// IMDS disabled, no metadata file: ddboot fails open.
    Unresolved,
    /// A loopback mock answers IMDS, and the task metadata endpoint on the same mock too.
    Imds,
    /// A READY metadata file holds the host; IMDS disabled.
    MetadataFile,
}

const SETUPS: [Setup; 3] = [Setup::Unresolved, Setup::Imds, Setup::MetadataFile];

/// One setup's ddboot command line, with the mock and the temp dir it needs kept alive.
struct Scenario {
    setup: Setup,
    dir: TempDir,
    mock: Option<Mock>,
    ddboot: Ddboot,
}

impl Scenario {
    fn new(setup: Setup) -> Scenario {
        let dir = TempDir::new();
        let sockets = dir.join("sockets");
        std::fs::create_dir(&sockets).expect("socket dir");
        let base = Ddboot::new().arg("--socket-dir").arg(&sockets);
        let (ddboot, mock) = match setup {
            Setup::Unresolved => (base, None),
            Setup::Imds => {
                let mock = start_mock(|_| {});
                let ddboot = base.imds(&mock).env("ECS_CONTAINER_METADATA_URI_V4", mock.task_metadata_uri());
                (ddboot, Some(mock))
            }
            Setup::MetadataFile => {
                let file = dir.write("ecs-container-metadata.json", ready_file(Some(MOCK_IP)));
                (base.metadata_file(&file), None)
            }
        };
        Scenario { setup, dir, mock, ddboot }
    }

    /// `ddboot ... -- APP...` through the harness (environment cleared, loopback only).
    fn command(&self, app: &[&str]) -> Command {
        self.ddboot.clone().arg("--").args(app).command()
    }

    /// The same app started by the test itself, without ddboot: the baseline.
    fn direct(&self, app: &[&str]) -> Command {
        let mut cmd = Command::new(app[0]);
        cmd.args(&app[1..]).env_clear().env("PATH", CHILD_PATH);
        cmd
    }

    /// The `DD_AGENT_HOST` the app must see.
    fn expected_host(&self) -> &'static str {
        match self.setup {
            Setup::Unresolved => "unset",
            Setup::Imds | Setup::MetadataFile => MOCK_IP,
        }
    }

    /// The run went the way the setup says: the mock was asked for the host and both task metadata
    /// documents (never with the IMDS token), and the socket dir is still empty.
    fn check_ran(&self) {
        if let Some(mock) = &self.mock {
            assert!(mock.count("GET", mockmeta::LOCAL_IPV4_PATH) >= 1, "no IMDS request reached the mock");
            assert!(mock.count("GET", mockmeta::CONTAINER_PATH) >= 1, "{:?}", mock.requests());
            assert!(mock.count("GET", mockmeta::TASK_PATH) >= 1, "{:?}", mock.requests());
            // The IMDS token goes to IMDS only, never to the task metadata endpoint.
            let leaked = mock
                .count_where(|r| r.path.starts_with("/v4/") && r.header(mockmeta::TOKEN_HEADER).is_some());
            assert_eq!(
                leaked,
                0,
                "the IMDS token was sent to the task metadata endpoint: {:?}",
                mock.requests()
            );
        }
        let sockets = self.dir.join("sockets").read_dir().expect("socket dir").count();
        assert_eq!(sockets, 0, "the socket dir is not empty");
    }
}

/// Reads a pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

/// Spawns `cmd` as the leader of a new process group, so the harness can clean up whatever a
/// broken run leaves behind (an app that outlived a forking ddboot would hold the pipes open
/// forever).
fn spawn(cmd: &mut Command) -> Child {
    cmd.process_group(0).spawn().expect("spawn")
}

/// Waits for `child` under the harness's watchdog, which kills what is left of its group once it
/// exits (or all of it on a hang).
fn wait(child: &mut Child) -> ExitStatus {
    wait_watched(child, WATCHDOG, &"a run of tests/process.rs", || {})
}

/// Runs `cmd` (stdin from /dev/null) as the leader of a new process group with the harness's
/// runner, which kills what is left of the group when it exits.
fn capture(mut cmd: Command) -> Finished {
    let what = format!("{cmd:?}");
    cmd.process_group(0);
    run_watched(cmd, WATCHDOG, &what)
}

/// Right before `cmd` execs (ddboot, or the baseline app): marks every descriptor from 3 up
/// close-on-exec, so the new program inherits exactly 0, 1, 2 and `fd` as [`EXTRA_FD`] (without
/// close-on-exec), and sets SIGUSR1 to ignored.
fn inherit_extra_fd_and_ignore_usr1(cmd: &mut Command, fd: RawFd) {
    let hook = move || {
        // SAFETY: plain syscalls on this forked child's own descriptors and dispositions.
        unsafe {
            if libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) != 0 {
                for other in 3..65_536 {
                    libc::fcntl(other, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            if fd != EXTRA_FD && libc::dup2(fd, EXTRA_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::fcntl(EXTRA_FD, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::signal(libc::SIGUSR1, libc::SIG_IGN) == libc::SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe calls (close_range, fcntl, dup2, signal) and
    // allocates nothing.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// The `N -> target` lines of `ls -l /proc/PID/fd`.
fn fd_table(listing: &str) -> BTreeMap<RawFd, String> {
    listing
        .lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" -> ")?;
            let fd = left.split_whitespace().last()?.parse().ok()?;
            Some((fd, target.to_string()))
        })
        .collect()
}

/// A mask line of `/proc/PID/status` (`SigIgn:\t0000000000001000`).
fn signal_mask(text: &str, name: &str) -> u64 {
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} line in {text}"));
    u64::from_str_radix(hex.trim(), 16).expect("hex mask")
}

/// Whether `signal` is in a `/proc/PID/status` mask (signal N is bit N-1).
fn in_mask(mask: u64, signal: Signal) -> bool {
    mask & (1 << (signal as i32 - 1)) != 0
}

/// What `/proc/self/fd/N` of the test points at (`pipe:[123]`, a path).
fn link_of(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).expect("readlink").to_string_lossy().into_owned()
}

#[test]
fn the_app_keeps_ddboots_pid() {
    for setup in SETUPS {
        let s = Scenario::new(setup);
        let f = capture(s.command(&["/bin/sh", "-c", r#"echo "$$ ${DD_AGENT_HOST-unset}""#]));
        assert!(f.status.success(), "{setup:?}: {f:?}");
        assert_eq!(f.stdout_text().trim(), format!("{} {}", f.pid, s.expected_host()), "{setup:?}: {f:?}");
        s.check_ran();
    }
}

#[test]
fn sigterm_sent_to_ddboots_pid_reaches_the_apps_handler() {
    let app = r#"trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.05; done"#;
    for setup in SETUPS {
        let s = Scenario::new(setup);
        let mut cmd = s.command(&["/bin/sh", "-c", app]);
        cmd.process_group(0);
        let run = Running::start(cmd);
        let first = run.next_line(WATCHDOG);
        if first.as_deref() != Some("ready") {
            run.signal(Signal::SIGKILL);
            let _ = run.wait(WATCHDOG);
            panic!("{setup:?}: the app did not start: {first:?}");
        }
        // The target is the child: ddboot's PID.
        run.signal(Signal::SIGTERM);
        let handled = run.next_line(Duration::from_secs(2));
        let rest = run.all_lines();
        let (status, stderr, _) = run.wait(WATCHDOG);
        assert_eq!(
            handled.as_deref(),
            Some("got-term"),
            "{setup:?}: the app's handler did not run\n{stderr}"
        );
        assert!(rest.is_empty(), "{setup:?}: more output: {rest:?}");
        assert_eq!(status.code(), Some(42), "{setup:?}: {status:?}\n{stderr}");
        s.check_ran();
    }
}

#[test]
fn the_apps_exit_status_is_the_process_exit_status() {
    for setup in SETUPS {
        let s = Scenario::new(setup);
        for code in [0, 1, 3, 42, 125, 255] {
            let f = capture(s.command(&["/bin/sh", "-c", &format!("exit {code}")]));
            assert_eq!(f.status.code(), Some(code), "{setup:?}: {f:?}");
        }
        // A signal that kills the app kills the process: ddboot is gone, not waiting for a child.
        for signal in [Signal::SIGTERM, Signal::SIGKILL, Signal::SIGSEGV] {
            let name = signal.as_str().trim_start_matches("SIG");
            // No core file from SIGSEGV: only the wait status matters.
            let script = format!("ulimit -c 0; kill -{name} $$; sleep 5");
            let f = capture(s.command(&["/bin/sh", "-c", &script]));
            assert_eq!(f.status.code(), None, "{setup:?} {signal}: exited instead of dying: {f:?}");
            assert_eq!(f.status.signal(), Some(signal as i32), "{setup:?} {signal}: {f:?}");
        }
        s.check_ran();
    }
}

#[test]
fn the_app_inherits_exactly_the_descriptors_ddboot_inherited() {
    let app = ["/bin/sh", "-c", INSPECT];
    for setup in SETUPS {
        let s = Scenario::new(setup);
        let file = File::create(s.dir.join("inherited-fd7")).expect("create the inherited file");
        let file_target = link_of(file.as_raw_fd());

        let mut cmd = s.command(&app);
        inherit_extra_fd_and_ignore_usr1(&mut cmd, file.as_raw_fd());
        let through = capture(cmd);
        assert!(through.status.success(), "{setup:?}: {through:?}");
        let host = format!("host={}\n", s.expected_host());
        assert!(through.stdout_text().contains(&host), "{setup:?}: {through:?}");
        s.check_ran();

        let mut cmd = s.direct(&app);
        inherit_extra_fd_and_ignore_usr1(&mut cmd, file.as_raw_fd());
        let direct = capture(cmd);
        assert!(direct.status.success(), "baseline: {direct:?}");

        let seen = fd_table(&through.stdout_text());
        let fds: BTreeSet<RawFd> = seen.keys().copied().collect();
        assert_eq!(fds, BTreeSet::from([0, 1, 2, EXTRA_FD]), "{setup:?}: the app's descriptors\n{through:?}");
        assert_eq!(seen[&EXTRA_FD], file_target, "{setup:?}: fd {EXTRA_FD} is not the inherited file");
        let baseline: BTreeSet<RawFd> = fd_table(&direct.stdout_text()).keys().copied().collect();
        assert_eq!(fds, baseline, "{setup:?}: ddboot changed the descriptor set");
    }
}

#[test]
fn stdin_stdout_and_stderr_reach_the_app_untouched() {
    // Every byte value, more than a pipe buffer holds: the app must read exactly these.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for setup in SETUPS {
        let s = Scenario::new(setup);
        let mut cmd = s.command(&["/bin/sh", "-c", "ls -l /proc/$$/fd; echo end-of-listing; exec cat"]);
        let mut child = spawn(cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let given = [link_of(stdin.as_raw_fd()), link_of(stdout.as_raw_fd()), link_of(stderr.as_raw_fd())];
        let input = data.clone();
        let writer = thread::spawn(move || {
            let mut stdin = stdin;
            // A failure shows as missing bytes below.
            let _ = stdin.write_all(&input);
        });
        let (out, err) = (drain(stdout), drain(stderr));
        let status = wait(&mut child);
        writer.join().expect("stdin writer");
        let (stdout, stderr) = (out.join().expect("stdout"), err.join().expect("stderr"));
        let stderr = String::from_utf8_lossy(&stderr);
        assert!(status.success(), "{setup:?}: {status:?}\n{stderr}");
        let marker = b"end-of-listing\n";
        let at = stdout.windows(marker.len()).position(|w| w == marker).expect("the listing's end");
        let (listing, read) = (String::from_utf8_lossy(&stdout[..at]), &stdout[at + marker.len()..]);
        assert!(read == data, "{setup:?}: the app read {} bytes, not the {} sent", read.len(), data.len());
        let seen = fd_table(&listing);
        for (fd, want) in (0..).zip(&given) {
            assert_eq!(seen.get(&fd), Some(want), "{setup:?}: fd {fd} of the app\n{listing}");
        }
        assert!(!stderr.contains("end-of-listing"), "{setup:?}: stdout and stderr mixed");
        s.check_ran();
    }
}

#[test]
fn sigpipe_is_default_in_the_app_and_inherited_ignores_stay() {
    for setup in SETUPS {
        let s = Scenario::new(setup);
        let file = File::create(s.dir.join("inherited-fd7")).expect("create the inherited file");
        let mut cmd = s.command(&["/bin/sh", "-c", INSPECT]);
        inherit_extra_fd_and_ignore_usr1(&mut cmd, file.as_raw_fd());
        let f = capture(cmd);
        assert!(f.status.success(), "{setup:?}: {f:?}");
        let text = f.stdout_text();
        let ignored = signal_mask(&text, "SigIgn");
        assert!(!in_mask(ignored, Signal::SIGPIPE), "{setup:?}: SIGPIPE ignored in the app ({ignored:016x})");
        assert!(
            in_mask(ignored, Signal::SIGUSR1),
            "{setup:?}: the inherited SIGUSR1 ignore was lost ({ignored:016x})"
        );
        assert_eq!(signal_mask(&text, "SigBlk"), 0, "{setup:?}: the app starts with signals blocked");
        s.check_ran();
    }
}

/// ddboot skips the Rust runtime's start-up (`#![no_main]`), so even SIGPIPE passes through as
/// inherited: a parent that ignores it gets an app that ignores it.
#[test]
fn an_inherited_sigpipe_ignore_reaches_the_app() {
    for setup in SETUPS {
        let s = Scenario::new(setup);
        let mut cmd = s.command(&["/bin/sh", "-c", INSPECT]);
        // SAFETY: one async-signal-safe call on the forked child's own disposition.
        unsafe {
            cmd.pre_exec(|| {
                if libc::signal(libc::SIGPIPE, libc::SIG_IGN) == libc::SIG_ERR {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let f = capture(cmd);
        assert!(f.status.success(), "{setup:?}: {f:?}");
        let ignored = signal_mask(&f.stdout_text(), "SigIgn");
        assert!(
            in_mask(ignored, Signal::SIGPIPE),
            "{setup:?}: the inherited SIGPIPE ignore was lost ({ignored:016x})"
        );
        s.check_ran();
    }
}

// ---- docs/security.md cites real tests ----------------------------------------------------------

/// Every `#[test]` function of `dir` and below, by name.
fn test_functions(dir: &std::path::Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir").map(|e| e.expect("dir entry").path()) {
        if entry.is_dir() {
            test_functions(&entry, found);
        } else if entry.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&entry).expect("read source");
            found.extend(test_fn_names(&text));
        }
    }
}

#[test]
fn security_md_cites_only_existing_tests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/security.md")).expect("docs/security.md");
    let mut tests = BTreeSet::new();
    test_functions(&root.join("tests"), &mut tests);
    test_functions(&root.join("src"), &mut tests);
    let mut problems = Vec::new();
    // The last cell of each row of the two tables that have a "held by" column.
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| ") && line.ends_with(" held by |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cell = line.trim_end_matches('|').rsplit('|').next().unwrap_or_default().trim();
        if cell == "no test" {
            continue;
        }
        let cited: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        if cited.is_empty() {
            problems.push(format!("cites nothing: {line}"));
        }
        for name in cited {
            let exists = if name.contains('/') { root.join(name).is_file() } else { tests.contains(name) };
            if !exists {
                problems.push(format!("no such test or file: {name}"));
            }
        }
    }
    assert!(problems.is_empty(), "docs/security.md:\n{}", problems.join("\n"));
}
