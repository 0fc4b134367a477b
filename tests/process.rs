//! How ddboot becomes the app: argv arrives byte for byte (spaces, quotes, newlines, empty
//! strings, flag-like words, non-UTF-8), the environment is the inherited one plus the planned
//! changes, the app keeps ddboot's PID and its exit status is the process's (code or signal);
//! and the exit codes before the exec, each with one `ddboot:` line on stderr: 64 (no PROGRAM,
//! unknown flag, bad option values), 126 (not executable, by path and via PATH), 127 (not found).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use common::*;

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
fn the_apps_exit_status_is_the_process_exit_status() {
    for code in [0, 1, 7, 42, 255] {
        let f = Ddboot::new().args(["/bin/sh", "-c", &format!("exit {code}")]).run();
        assert_eq!(f.code(), Some(code), "{f:?}");
    }
    // A signal that kills the app kills the process: ddboot is gone, not waiting for a child.
    let f = Ddboot::new().args(["/bin/sh", "-c", "kill -TERM $$"]).run();
    assert_eq!(f.signal(), Some(15), "{f:?}");
}

#[test]
fn the_app_keeps_ddboots_pid() {
    let f = Ddboot::new().args(PID_DUMP).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), f.pid.to_string(), "{f:?}");

    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).args(PID_DUMP).run();
    f.assert_code(0);
    assert_eq!(f.stdout_text().trim(), f.pid.to_string(), "{f:?}");
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
    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).arg("ddboot-no-such-program").run();
    f.assert_error_lines(127);
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 2, "status line, then the error: {f:?}");
    assert!(lines[0].starts_with("ddboot: DD_AGENT_HOST=10.0.1.43 (imdsv2, "), "{f:?}");
    assert!(lines[1].contains("ddboot-no-such-program"), "{f:?}");
    assert!(!mock.issued_tokens().is_empty());
    for t in mock.issued_tokens() {
        assert!(!f.stderr.contains(&t), "{f:?}");
    }

    // Unresolved: the warning, then the error.
    let f = Ddboot::new().arg("ddboot-no-such-program").run();
    f.assert_error_lines(127);
    assert!(f.stderr_lines().last().is_some_and(|l| l.contains("ddboot-no-such-program")), "{f:?}");
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["--help", "-h", "--version", "-V"] {
        let f = Ddboot::new().arg(flag).run();
        f.assert_code(0);
        assert!(!f.stdout.is_empty(), "{flag}: {f:?}");
    }
}
