//! PID 1 behaviour (issue 11), in PID namespaces the tests create with
//! `unshare --pid --fork --mount-proc --kill-child` (root; CI runs the suite as root), so ddboot
//! really is PID 1 and the kernel's rule for a namespace's init applies: a signal without a
//! handler is dropped. Signals are sent from outside, as `podman stop` and ECS StopTask do.
//!
//! Under `--init`: SIGTERM stops a handler-less Python and a handler-less Node.js app with 143;
//! orphans are reaped (no zombie, as PID 1 and as a subreaper); exit codes 0, 7 and 137 pass
//! through; each forwarded signal reaches the app (and its process group with `--init-group`);
//! the app gets the inherited mask, dispositions and descriptors; the parent waits with one
//! thread, no descriptor of its own and no CPU. During resolution SIGTERM, SIGINT and SIGHUP end
//! ddboot with 128+N without starting the app (as PID 1 too), unless inherited as ignored. Exec
//! mode is unchanged: the app is PID 1. Every run goes through the `common` harness (environment
//! cleared, IMDS disabled). Times are printed (run with `--nocapture`) for BENCHMARKS.md, never
//! asserted beyond the watchdog.

mod common;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use nix::libc;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// The generous bound of a stop (a hang, not a slow machine).
const STOP_WATCHDOG: Duration = Duration::from_secs(10);
const PYTHON: &str = "/usr/bin/python3";
const NODE: &str = "/usr/bin/node";
const UNSHARE: [&str; 6] = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"];

/// Fails (never skips) with a clear reason when PID namespaces cannot be created here.
fn require_pid_namespaces() {
    assert!(running_as_root(), "tests/init.rs needs root to create PID namespaces; CI runs as root");
    let ok = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--", "/bin/true"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "tests/init.rs needs `unshare --pid --fork --mount-proc` (util-linux, root)");
}

/// Starts `cmd` with the harness's streaming runner (in a new PID namespace when `pid_ns`, its
/// init then the target of signals), with `pre` run in the forked child before the exec (to
/// inherit an ignored signal, say).
fn start(cmd: Ddboot, pid_ns: bool, pre: Option<fn() -> std::io::Result<()>>) -> Running {
    let cmd = if pid_ns { cmd.launcher(UNSHARE) } else { cmd };
    let mut command = cmd.command();
    // SAFETY: the hooks only make async-signal-safe calls (close_range, signal).
    unsafe {
        command.pre_exec(move || {
            // ddboot inherits only stdin, stdout and stderr (whatever ran the tests may leak more).
            libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int);
            pre.map_or(Ok(()), |f| f())
        })
    };
    let mut run = Running::start(command);
    if pid_ns {
        run.target = namespace_init(run.child_id()).as_raw();
    }
    run
}

/// The PID (here) of the one child of `unshare`: the namespace's PID 1.
fn namespace_init(unshare: u32) -> Pid {
    let path = format!("/proc/{unshare}/task/{unshare}/children");
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
            // Wait for unshare's child to exec (ddboot, its runner, or in exec mode already the
            // app ddboot exec'd) before signalling it: until then it is still `unshare`.
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if exe.file_name().is_some_and(|n| n != "unshare") {
                return Pid::from_raw(pid);
            }
        }
        assert!(started.elapsed() < WATCHDOG, "unshare {unshare} never started ddboot");
        thread::sleep(Duration::from_millis(1));
    }
}

/// ddboot with IMDS disabled and an inherited host: it resolves at once and says nothing.
fn quiet() -> Ddboot {
    Ddboot::new().env("DD_AGENT_HOST", "10.1.2.3").arg("-q")
}

/// Sends SIGTERM to PID 1 running `app` under `--init`; returns the exit code and the time from
/// the signal to the exit of the namespace.
fn stop_handlerless(app: &[&str]) -> (Option<i32>, Duration) {
    let run = start(quiet().arg("--init").arg("--").args(app), true, None);
    run.expect_line("ready");
    let sent = Instant::now();
    run.signal(Signal::SIGTERM);
    let (status, stderr, _) = run.wait(STOP_WATCHDOG);
    let elapsed = sent.elapsed();
    assert_eq!(stderr, "", "ddboot -q under --init prints nothing");
    (status.code(), elapsed)
}

/// SIGTERM to PID 1 running the handler-less `app` (`what`) under `--init`: it exits 143.
fn assert_stopped_with_143(what: &str, app: &[&str]) {
    require_pid_namespaces();
    let (code, elapsed) = stop_handlerless(app);
    eprintln!("handler-less {what} under --init: SIGTERM to exit in {elapsed:?}");
    assert_eq!(code, Some(143));
}

#[test]
fn init_sigterm_stops_a_handlerless_python_app_with_143() {
    assert_stopped_with_143(
        "Python",
        &[PYTHON, "-c", "import time; print('ready', flush=True); time.sleep(120)"],
    );
}

#[test]
fn init_sigterm_stops_a_handlerless_node_app_with_143() {
    assert_stopped_with_143("Node.js", &[NODE, "-e", "setInterval(() => {}, 1000); console.log('ready')"]);
}

/// Without --init the same handler-less app as PID 1 ignores SIGTERM: the reason for --init.
#[test]
fn exec_mode_pid1_app_without_handler_ignores_sigterm() {
    require_pid_namespaces();
    let run = start(
        quiet().args([
            "--",
            PYTHON,
            "-c",
            "import time; print('ready', flush=True); time.sleep(1.5); print('alive')",
        ]),
        true,
        None,
    );
    run.expect_line("ready");
    run.signal(Signal::SIGTERM);
    run.expect_line("alive");
    let (status, _, _) = run.wait(STOP_WATCHDOG);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn exec_mode_is_unchanged_the_app_is_pid_1() {
    require_pid_namespaces();
    let f = quiet().launcher(UNSHARE).args(PID_DUMP).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), "1", "{f:?}");
    let f = quiet().launcher(UNSHARE).arg("--init").args(PID_DUMP).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), "2", "under --init ddboot stays PID 1: {f:?}");
}

#[test]
fn init_exit_codes_pass_through() {
    require_pid_namespaces();
    for pid_ns in [true, false] {
        for (script, code) in
            [("exit 0", 0), ("exit 7", 7), ("kill -KILL $$", 137), ("ulimit -c 0; kill -SEGV $$", 139)]
        {
            let mut cmd = quiet().args(["--init", "--", "/bin/sh", "-c", script]);
            if pid_ns {
                cmd = cmd.launcher(UNSHARE);
            }
            let f = cmd.run();
            assert_eq!(f.code(), Some(code), "{script} (pid namespace: {pid_ns}): {f:?}");
            assert_eq!(f.stderr, "", "{f:?}");
        }
    }
}

#[test]
fn init_exec_errors_are_126_and_127_reported_by_ddboot() {
    let dir = TempDir::new();
    let not_executable = dir.write("script", "#!/bin/sh\n");
    let f = quiet().args(["--init", "--"]).arg(&not_executable).run();
    f.assert_error(126);
    assert!(f.stderr.contains("cannot execute"), "{f:?}");
    let f = quiet().args(["--init", "--", "ddboot-no-such-program"]).run();
    f.assert_error(127);
    let f = quiet().args(["--init", "--", "/nonexistent/app"]).run();
    f.assert_error(127);
}

/// A shell that leaves five orphans behind (each subshell exits before its `sleep`), waits for
/// them to end, then counts the zombies in its PID namespace. It runs under a Python app that
/// never calls `wait` for anything but the shell, as most apps do.
const ORPHANS: &str = "for i in 1 2 3 4 5; do (sleep 0.2 &); done; sleep 1; \
     echo zombies=$(grep -l '^State:[[:space:]]*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)";

fn orphans_app() -> [String; 3] {
    [PYTHON.into(), "-c".into(), format!("import subprocess; subprocess.run(['/bin/sh', '-c', {ORPHANS:?}])")]
}

#[test]
fn init_as_pid_1_reaps_orphans() {
    require_pid_namespaces();
    let f = quiet().launcher(UNSHARE).args(["--init", "--"]).args(orphans_app()).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), "zombies=0", "{f:?}");
    // The same app as PID 1 (exec mode) leaves them all: the count above is real.
    let f = quiet().launcher(UNSHARE).arg("--").args(orphans_app()).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), "zombies=5", "{f:?}");
}

#[test]
fn init_outside_pid_1_is_a_subreaper_and_reaps_orphans() {
    // The orphans' parent is ddboot (not the test), and none stays a zombie.
    let app = "(sleep 0.3 & echo $!); (sleep 0.3 & echo $!); sleep 0.1; echo ppids; sleep 0.6; echo done";
    let run = start(quiet().args(["--init", "--", "/bin/sh", "-c", app]), false, None);
    let orphans = [run.line(), run.line()];
    run.expect_line("ppids");
    for pid in &orphans {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("orphan alive");
        let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:")).map(str::trim);
        assert_eq!(ppid, Some(run.target.to_string().as_str()), "orphan {pid} adopted by ddboot");
    }
    run.expect_line("done");
    for pid in &orphans {
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "orphan {pid} was not reaped");
    }
    let (status, _, _) = run.wait(STOP_WATCHDOG);
    assert_eq!(status.code(), Some(0));
}

/// A Python app with a handler for every forwarded signal: it prints the signal's name; SIGTERM
/// also ends it. With `fork_child`, a child in the same process group reports too ("child NAME").
fn signal_app(fork_child: bool) -> String {
    format!(
        r#"
import os, signal, sys, time
names = "TERM INT HUP QUIT USR1 USR2 WINCH CONT TSTP ALRM".split()
child = {} and os.fork() == 0
who = "child " if child else ""
def on(sig, frame):
    name = signal.Signals(sig).name[3:]
    os.write(1, (who + name + "\n").encode())
    if name == "TERM":
        os._exit(0)
for n in names:
    signal.signal(getattr(signal, "SIG" + n), on)
if not child:
    time.sleep(0.2)
    print("ready", flush=True)
while True:
    time.sleep(1)
"#,
        if fork_child { "True" } else { "False" }
    )
}

const NAMES: [(Signal, &str); 10] = [
    (Signal::SIGINT, "INT"),
    (Signal::SIGHUP, "HUP"),
    (Signal::SIGQUIT, "QUIT"),
    (Signal::SIGUSR1, "USR1"),
    (Signal::SIGUSR2, "USR2"),
    (Signal::SIGWINCH, "WINCH"),
    (Signal::SIGCONT, "CONT"),
    (Signal::SIGTSTP, "TSTP"),
    (Signal::SIGALRM, "ALRM"),
    (Signal::SIGTERM, "TERM"),
];

#[test]
fn init_forwards_each_signal_to_the_app() {
    require_pid_namespaces();
    let run = start(quiet().args(["--init", "--", PYTHON, "-c", &signal_app(false)]), true, None);
    run.expect_line("ready");
    for (signal, name) in NAMES {
        run.signal(signal);
        run.expect_line(name);
    }
    let (status, stderr, _) = run.wait(STOP_WATCHDOG);
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn init_group_forwards_to_the_whole_process_group() {
    require_pid_namespaces();
    for (flag, group) in [("--init-group", true), ("--init", false)] {
        let run = start(quiet().args([flag, "--", PYTHON, "-c", &signal_app(true)]), true, None);
        run.expect_line("ready");
        run.signal(Signal::SIGUSR1);
        let mut got = vec![run.line()];
        if group {
            got.push(run.line());
        }
        got.sort();
        let want: Vec<&str> = if group { vec!["USR1", "child USR1"] } else { vec!["USR1"] };
        assert_eq!(got, want, "{flag}");
        run.signal(Signal::SIGUSR2);
        // Under --init the child never hears USR1/USR2: the next line is the app's own.
        let next = run.line();
        assert!(next == "USR2" || (group && next == "child USR2"), "{flag}: {next}");
        run.signal(Signal::SIGTERM);
        let (status, _, _) = run.wait(STOP_WATCHDOG);
        assert_eq!(status.code(), Some(0), "{flag}");
    }
}

/// The app under --init sees what ddboot inherited: no blocked signal, nothing ignored or caught
/// that was not (SIGPIPE, SIGTTIN, SIGTTOU back to the default), and only descriptors 0-2; an
/// inherited "ignore" stays.
#[test]
fn init_app_inherits_the_mask_dispositions_and_descriptors() {
    fn ignore_pipe_and_hup() -> std::io::Result<()> {
        // SAFETY: signal(2) is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
        }
        Ok(())
    }
    // cat reads its own status (it installs no handler); the shell lists its descriptors.
    let app = ["/bin/sh", "-c", "cat /proc/self/status; echo fds; ls /proc/$$/fd"];
    let bit = |signal: libc::c_int| 1u64 << (signal - 1);
    for (pre, ignored) in [
        (None, 0),
        (Some(ignore_pipe_and_hup as fn() -> std::io::Result<()>), bit(libc::SIGPIPE) | bit(libc::SIGHUP)),
    ] {
        let run = start(quiet().arg("--init").arg("--").args(app), false, pre);
        let lines = run.all_lines();
        let field = |name: &str| {
            let line = lines.iter().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("{lines:?}"));
            // Only the standard signals: real-time ones pass through as inherited, whatever they are.
            u64::from_str_radix(line.trim(), 16).expect("hex") & 0x7fff_ffff
        };
        assert_eq!(field("SigBlk:"), 0, "blocked: {lines:?}");
        assert_eq!(field("SigIgn:"), ignored, "ignored: {lines:?}");
        assert_eq!(field("SigCgt:"), 0, "caught: {lines:?}");
        let fds = lines.iter().skip_while(|l| *l != "fds").skip(1).map(String::as_str).collect::<Vec<_>>();
        assert_eq!(fds, ["0", "1", "2"], "only stdin, stdout, stderr: {lines:?}");
        let (status, _, _) = run.wait(STOP_WATCHDOG);
        assert_eq!(status.code(), Some(0));
    }
}

/// While the app runs, the init parent has one thread, no descriptor of its own (its IMDS sockets
/// are closed), sleeps in the kernel and uses no CPU.
#[test]
fn init_parent_waits_with_one_thread_no_fd_and_no_cpu() {
    require_pid_namespaces();
    // Resolved through the loopback mock IMDS: the I/O runtime ran, and is gone before the fork.
    let mock = start_mock(|_| {});
    let cmd = Ddboot::new().imds(&mock).args(["-q", "--init", "--", "/bin/sh", "-c", "echo ready; sleep 3"]);
    let run = start(cmd, true, None);
    run.expect_line("ready");
    let pid = run.target;
    let ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let fields: Vec<&str> = stat.rsplit_once(") ").expect("stat").1.split(' ').collect();
        (
            fields[0].to_string(),
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime"),
        )
    };
    let before = ticks();
    thread::sleep(Duration::from_secs(1));
    let after = ticks();
    assert_eq!(after.0, "S", "ddboot sleeps in the kernel");
    assert_eq!(before.1, after.1, "CPU ticks while idle");
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks").count();
    assert_eq!(tasks, 1, "one thread");
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .map(|e| e.expect("fd").file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "the parent keeps only what it inherited");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap_or("?").trim().to_string();
    eprintln!("init parent idle: RSS {rss}, {} CPU ticks over 1 s", after.1 - before.1);
    run.signal(Signal::SIGTERM);
    let (status, _, _) = run.wait(STOP_WATCHDOG);
    assert_eq!(status.code(), Some(143));
}

/// A metadata file that never gets READY nor an address: ddboot polls it until `--timeout`.
fn slow_resolution(dir: &TempDir, marker: &Path) -> Ddboot {
    let file = dir.write("metadata.json", early_file(None));
    Ddboot::new()
        .metadata_file(&file)
        .args(["--timeout", "5s", "--", "/bin/sh", "-c"])
        .arg(format!("echo started > {}", marker.display()))
}

/// Waits until ddboot has its handler for `signal` (SigCgt in /proc): from then on, a stop is
/// ddboot's to honour. Under a runner (qemu-user catches every signal itself, so SigCgt says
/// nothing about ddboot) it waits a generous second instead; the resolution lasts 5 s.
fn wait_for_handler(pid: Pid, signal: Signal) {
    if !ddboot_runner().is_empty() {
        thread::sleep(Duration::from_secs(1));
        return;
    }
    let bit = 1u64 << (signal as i32 - 1);
    let started = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        if caught & bit != 0 {
            return;
        }
        assert!(started.elapsed() < WATCHDOG, "ddboot {pid} never installed its {signal} handler");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_stop_signal_during_resolution_ends_ddboot_with_128_plus_n_without_the_app() {
    require_pid_namespaces();
    for (signal, code, pid_ns, init) in [
        (Signal::SIGTERM, 143, true, false),
        (Signal::SIGTERM, 143, true, true),
        (Signal::SIGINT, 130, true, false),
        (Signal::SIGHUP, 129, false, false),
        (Signal::SIGTERM, 143, false, true),
    ] {
        let dir = TempDir::new();
        let marker = dir.join("started");
        let mut cmd = slow_resolution(&dir, &marker);
        if init {
            cmd = cmd.env("DDBOOT_INIT", "true");
        }
        let run = start(cmd, pid_ns, None);
        wait_for_handler(Pid::from_raw(run.target), signal);
        let sent = Instant::now();
        run.signal(signal);
        let (status, stderr, _) = run.wait(STOP_WATCHDOG);
        let elapsed = sent.elapsed();
        let what = format!("{signal} (pid namespace: {pid_ns}, init: {init})");
        eprintln!("{what}: signal to exit {elapsed:?}");
        assert_eq!(status.code(), Some(code), "{what}: {stderr}");
        assert!(!marker.exists(), "{what}: the app started");
        let name = signal.as_str();
        assert_eq!(stderr, format!("ddboot: {name} before the app started: exiting {code}\n"), "{what}");
    }
}

#[test]
fn a_stop_signal_inherited_as_ignored_stays_ignored() {
    fn ignore_term() -> std::io::Result<()> {
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
        Ok(())
    }
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(None));
    let cmd = Ddboot::new().metadata_file(&file).args([
        "-q",
        "--timeout",
        "600ms",
        "--",
        "/bin/sh",
        "-c",
        "grep SigIgn /proc/self/status",
    ]);
    let run = start(cmd, false, Some(ignore_term));
    thread::sleep(Duration::from_millis(200));
    run.signal(Signal::SIGTERM);
    let line = run.line();
    let ignored = u64::from_str_radix(line.trim_start_matches("SigIgn:\t"), 16).expect("hex") & 0x7fff_ffff;
    assert_eq!(ignored, 1 << (libc::SIGTERM - 1), "{line}");
    let (status, _, _) = run.wait(STOP_WATCHDOG);
    assert_eq!(status.code(), Some(0));
    assert_eq!(status.signal(), None);
}

/// Under `--init` with stdin on a terminal, the app's process group is the foreground one (so
/// `docker run -it` and Ctrl-C keep working); `script` provides the terminal.
#[test]
fn init_makes_the_app_the_foreground_group_of_a_terminal() {
    let app = "ps -o pid=,pgid=,tpgid= -p $$";
    let inner = format!("'{}' -q --init -- /bin/sh -c '{app}'", ddboot_path().display());
    // Not through the harness (it would append ddboot's path to script's arguments); the same
    // protections by hand: cleared environment, IMDS disabled, a host inherited.
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"]).env_clear().env("PATH", CHILD_PATH);
    cmd.env("AWS_EC2_METADATA_DISABLED", "true").env("DDBOOT_SOCKET_DIR", NO_SOCKET_DIR);
    cmd.env("DD_AGENT_HOST", "10.1.2.3");
    let f = run_watched(cmd, WATCHDOG, &inner);
    let text = f.stdout_text();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{f:?}");
    assert_eq!(fields[0], fields[1], "the app leads its own group: {text}");
    assert_eq!(fields[1], fields[2], "the app's group is the terminal's foreground group: {text}");
}

/// The Python and Node.js examples start ddboot with `--init`, and `--explain` reports it.
#[test]
fn python_and_node_examples_use_init_and_explain_says_so() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        for c in doc["containerDefinitions"].as_array().into_iter().flatten() {
            let strings = |key: &str| -> Vec<String> {
                c[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
            };
            let (entry_point, command) = (strings("entryPoint"), strings("command"));
            let program = command.first().map(String::as_str).unwrap_or_default();
            if !["python", "node", "gunicorn", "uvicorn"].contains(&program) {
                continue;
            }
            let what = format!("{}: {}", path.display(), c["name"]);
            assert!(
                entry_point.iter().any(|a| a == "--init"),
                "{what}: a Python or Node.js app without --init"
            );
            let dashes = entry_point.iter().position(|a| a == "--").expect("--");
            let f = Ddboot::new()
                .args(&entry_point[1..dashes])
                .args(["--explain", "--json", "--", program])
                .run();
            assert_eq!(f.json()["process"]["app_mode"], "init", "{what}: {f:?}");
            checked += 1;
        }
    }
    assert!(checked >= 2, "no Python or Node.js example found");
}

#[test]
fn explain_reports_pid_1_and_the_mode() {
    require_pid_namespaces();
    let f = quiet().launcher(UNSHARE).args(["--explain", "--init-group", "--", "app"]).run();
    let text = f.stdout_text();
    assert!(text.contains("\nProcess\n  PID 1              yes\n  runs the app       init-group: "), "{f:?}");
    let f = quiet().args(["--explain", "--json", "--", "app"]).run();
    let process = &f.json()["process"];
    assert_eq!(process["pid1"], false, "{f:?}");
    assert_eq!(process["app_mode"], "exec", "{f:?}");
    assert_eq!(process["pid"].as_u64(), Some(u64::from(f.pid)), "{f:?}");
}

/// The status line names init mode; exec mode's is unchanged.
#[test]
fn the_status_line_names_init_mode() {
    let file = TempDir::new();
    let path = file.write("metadata.json", ready_file(Some("10.0.9.9")));
    let f = Ddboot::new().metadata_file(&path).args(["--init", "--", "/bin/true"]).run();
    f.assert_code(0);
    let line = f.stderr.trim_end();
    assert!(
        line.starts_with("ddboot: DD_AGENT_HOST=10.0.9.9 (metadata-file, ") && line.ends_with("); init mode"),
        "{f:?}"
    );
    Ddboot::new()
        .metadata_file(&path)
        .args(["--", "/bin/true"])
        .run()
        .assert_code(0)
        .assert_status_line("10.0.9.9", "metadata-file");
}

/// When the fork fails (here: RLIMIT_NPROC of 1 for an unprivileged user), ddboot warns and
/// starts the app in exec mode: fail-open.
#[test]
fn init_falls_back_to_exec_when_it_cannot_fork() {
    let f = quiet()
        .launcher([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "prlimit",
            "--nproc=1",
            "--",
        ])
        .args(["--init", "--"])
        .args(PID_DUMP)
        .run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), f.pid.to_string(), "the app took ddboot's PID: {f:?}");
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 1, "{f:?}");
    assert!(lines[0].starts_with("ddboot: warning: --init: cannot fork: "), "{f:?}");
    assert!(lines[0].ends_with("; running the app in exec mode instead"), "{f:?}");
}

/// SIGPIPE is ignored while ddboot runs: writing its report to a pipe nobody reads fails with
/// EPIPE instead of killing ddboot (`ddboot --explain | head -c0`).
#[test]
fn a_closed_stdout_does_not_kill_ddboot() {
    let (read, write) = nix::unistd::pipe().expect("pipe");
    drop(read);
    let mut cmd = quiet().args(["--explain", "--json", "--", "app"]).command();
    cmd.stdin(Stdio::null()).stdout(Stdio::from(write)).stderr(Stdio::piped());
    let f = run_plugged(cmd, WATCHDOG, &"ddboot --explain --json, stdout without reader");
    assert_eq!(f.signal(), None, "killed by a signal: {f:?}");
    assert_eq!(f.code(), Some(0), "{f:?}");
}
