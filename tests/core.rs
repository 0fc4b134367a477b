//! The core contract seen from outside: resolution order (an inherited DD_AGENT_HOST wins with no
//! lookup at all), what the app's environment gets (DD_AGENT_HOST, never an empty one; the
//! --dd-env/--dd-service/--dd-version tags and their precedence), the stderr status line and
//! -q/--quiet, the fail-open warning and --strict / DDBOOT_STRICT (exit 69, app not run), and
//! the debug modes: --explain (text, exit 0/1), --explain --json (one entry per source with its
//! outcome) and --print-env, including an `eval "$(ddboot --print-env)"` round trip through sh
//! for hostile values.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn an_inherited_dd_agent_host_is_kept_and_no_lookup_is_made() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.9.9.9")));
    let mock = start_mock(|_| {});
    let cmd = Ddboot::new().imds(&mock).metadata_file(&file);
    cmd.clone().env("DD_AGENT_HOST", "agent.internal").assert_resolves("agent.internal", "env");
    assert_no_requests(&mock);

    // Resolved: exit 0 (asserted by `explain`).
    let report = cmd.env("DD_AGENT_HOST", "192.0.2.1").explain();
    assert_eq!(report["agent_host"], "192.0.2.1");
    assert_eq!(report["source"], "env");
    assert_attempt(&report, "env", "ok");
    assert_attempt(&report, "metadata-file", "skipped");
    assert_attempt(&report, "imdsv2", "skipped");
    assert_attempt(&report, "imdsv1", "skipped");
    assert_no_requests(&mock);
}

#[test]
fn an_inherited_empty_dd_agent_host_is_removed_when_unresolved() {
    let f = Ddboot::new().env("DD_AGENT_HOST", "").args(ENV_DUMP).run();
    f.assert_code(0);
    assert!(!f.env().contains_key("DD_AGENT_HOST"), "{f:?}");
    assert!(f.stderr.starts_with("ddboot:") && f.stderr.contains("warning"), "{f:?}");

    let f = Ddboot::new().env("DD_AGENT_HOST", "").args(["--explain", "--json"]).run();
    f.assert_code(1);
    let report = f.json();
    assert!(report["env"]["DD_AGENT_HOST"].is_null(), "{report:#}");
    assert!(report["env"].as_object().is_some_and(|e| e.contains_key("DD_AGENT_HOST")), "{report:#}");
}

#[test]
fn an_inherited_empty_dd_agent_host_is_replaced_when_resolved() {
    Ddboot::assert_imdsv2_despite("DD_AGENT_HOST", "");
}

#[test]
fn quiet_silences_the_status_line() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.0.5.5")));
    for flag in ["-q", "--quiet"] {
        let f = Ddboot::new().metadata_file(&file).arg(flag).args(ENV_DUMP).run();
        f.assert_code(0).assert_app_host("10.0.5.5");
        assert_eq!(f.stderr, "", "{flag}: {f:?}");
    }
    // The variable, for images whose ENTRYPOINT is fixed.
    let f = Ddboot::new().metadata_file(&file).env("DDBOOT_QUIET", "true").args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host("10.0.5.5");
    assert_eq!(f.stderr, "", "DDBOOT_QUIET=true: {f:?}");
    let f = Ddboot::new().metadata_file(&file).env("DDBOOT_QUIET", "false").args(ENV_DUMP).run();
    f.assert_status_line("10.0.5.5", "metadata-file");
    let f = Ddboot::new().metadata_file(&file).args(ENV_DUMP).run();
    f.assert_status_line("10.0.5.5", "metadata-file");
}

#[test]
fn unresolved_runs_the_app_after_a_warning_naming_each_source() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", "this is not JSON");
    let mock = start_mock(|b| b.put = Put::Status(400));
    let f = Ddboot::new().imds(&mock).metadata_file(&file).args(ENV_DUMP).run();
    f.assert_code(0);
    assert!(!f.env().contains_key("DD_AGENT_HOST"), "{f:?}");
    let lines = f.stderr_lines();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with("ddboot:")), "{f:?}");
    for source in ["env", "metadata-file", "imdsv2", "imdsv1"] {
        assert!(f.stderr.contains(source), "the warning should name {source}: {f:?}");
    }
    assert!(f.stderr.contains("JSON"), "the warning should say why the file failed: {f:?}");
    assert!(f.stderr.contains("400"), "the warning should say why IMDSv2 failed: {f:?}");
}

#[test]
fn strict_exits_69_without_running_the_app() {
    let dir = TempDir::new();
    let marker = dir.join("app-ran");
    let app = ["/bin/sh".to_string(), "-c".into(), format!("echo ran > '{}'", marker.display())];
    let variants: [(&[&str], Option<&str>); 4] =
        [(&["--strict"], None), (&[], Some("true")), (&[], Some("1")), (&["--strict"], Some("false"))];
    for (flags, var) in variants {
        let mut cmd = Ddboot::new().args(flags);
        if let Some(v) = var {
            cmd = cmd.env("DDBOOT_STRICT", v);
        }
        let f = cmd.args(&app).run();
        f.assert_error_lines(69);
        assert!(!marker.exists(), "{flags:?} DDBOOT_STRICT={var:?}: the app ran: {f:?}");
        assert!(f.stdout.is_empty(), "{f:?}");
        for source in ["env", "metadata-file", "imdsv2", "imdsv1"] {
            assert!(f.stderr.contains(source), "the warning should name {source}: {f:?}");
        }
    }
    // Not strict: the app runs.
    let f = Ddboot::new().env("DDBOOT_STRICT", "false").args(&app).run();
    f.assert_code(0);
    assert!(marker.exists(), "{f:?}");
}

#[test]
fn strict_runs_the_app_when_resolved() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.0.5.6")));
    let f = Ddboot::new().arg("--strict").metadata_file(&file).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host("10.0.5.6");
}

#[test]
fn tag_flags_are_exported_and_win_over_inherited_values() {
    let f = Ddboot::new()
        .env("DD_ENV", "staging")
        .env("DD_SERVICE", "inherited-service")
        .env("DD_VERSION", "0.0.1")
        .args(["--dd-env", "prod", "--dd-service", "checkout api", "--dd-version", "1.2.3"])
        .args(ENV_DUMP)
        .run();
    f.assert_code(0);
    let env = f.env();
    assert_eq!(env.get("DD_ENV").map(String::as_str), Some("prod"));
    assert_eq!(env.get("DD_SERVICE").map(String::as_str), Some("checkout api"));
    assert_eq!(env.get("DD_VERSION").map(String::as_str), Some("1.2.3"));

    // Without flags, inherited tags are untouched and absent ones stay absent.
    let f = Ddboot::new().env("DD_ENV", "staging").env("DD_SERVICE", "svc").args(ENV_DUMP).run();
    let env = f.env();
    assert_eq!(env.get("DD_ENV").map(String::as_str), Some("staging"));
    assert_eq!(env.get("DD_SERVICE").map(String::as_str), Some("svc"));
    assert!(!env.contains_key("DD_VERSION"), "{f:?}");

    // One flag only changes its own variable.
    let f = Ddboot::new().env("DD_ENV", "staging").args(["--dd-version", "2"]).args(ENV_DUMP).run();
    let env = f.env();
    assert_eq!(env.get("DD_ENV").map(String::as_str), Some("staging"));
    assert_eq!(env.get("DD_VERSION").map(String::as_str), Some("2"));
    assert!(!env.contains_key("DD_SERVICE"), "{f:?}");
}

#[test]
fn explain_prints_a_report_runs_nothing_and_exits_0_or_1() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.0.7.7")));
    let marker = dir.join("app-ran");
    let script = format!("touch '{}'", marker.display());
    let app = ["--", "/bin/sh", "-c", script.as_str()];
    let f = Ddboot::new().metadata_file(&file).arg("--explain").args(app).run();
    f.assert_code(0);
    let out = f.stdout_text();
    assert!(out.contains("10.0.7.7") && out.contains("metadata-file"), "{f:?}");
    assert!(!marker.exists(), "--explain ran the app: {f:?}");

    let f = Ddboot::new().arg("--explain").args(app).run();
    f.assert_code(1);
    assert!(!f.stdout.is_empty(), "{f:?}");
    assert!(!marker.exists(), "--explain ran the app: {f:?}");

    let f = Ddboot::new().arg("--explain").run();
    f.assert_code(1);
    assert!(!f.stdout.is_empty(), "{f:?}");
}

#[test]
fn explain_json_has_one_entry_per_source_with_its_outcome() {
    let dir = TempDir::new();
    let ready = dir.write("ready.json", ready_file(Some("10.0.8.8")));
    let broken = dir.write("broken.json", "{");

    // metadata-file answers on the first read.
    let m = start_mock(|_| {});
    let f = Ddboot::new().imds(&m).metadata_file(&ready).args(["--explain", "--json"]).run();
    f.assert_code(0);
    let r = f.json();
    assert_eq!((r["agent_host"].as_str(), r["source"].as_str()), (Some("10.0.8.8"), Some("metadata-file")));
    assert_eq!(r["env"]["DD_AGENT_HOST"], "10.0.8.8");
    assert_attempt(&r, "env", "skipped");
    assert_attempt(&r, "metadata-file", "ok");
    assert_attempt(&r, "imdsv2", "skipped");
    assert_attempt(&r, "imdsv1", "skipped");
    assert_no_requests(&m);

    // The file fails, IMDSv2 answers.
    let m = start_mock(|_| {});
    let r = Ddboot::new().imds(&m).metadata_file(&broken).args(["--explain", "--json"]).run().json();
    assert_eq!(r["source"], "imdsv2");
    assert_attempt(&r, "env", "skipped");
    assert_attempt(&r, "metadata-file", "failed");
    assert_attempt(&r, "imdsv2", "ok");
    assert_attempt(&r, "imdsv1", "skipped");

    // Hop limit: IMDSv2 fails, IMDSv1 answers.
    let m = start_mock(|b| b.put = Put::Hang);
    let r = Ddboot::new().imds(&m).args(["--explain", "--json"]).run().json();
    assert_eq!(r["source"], "imdsv1");
    assert_attempt(&r, "metadata-file", "skipped");
    assert_attempt(&r, "imdsv2", "failed");
    assert_attempt(&r, "imdsv1", "ok");

    // Everything fails.
    let m = start_mock(|b| b.put = Put::Status(400));
    let f = Ddboot::new().imds(&m).metadata_file(&broken).args(["--explain", "--json"]).run();
    f.assert_code(1);
    let r = f.json();
    assert!(r["agent_host"].is_null() && r["source"].is_null(), "{r:#}");
    assert!(r["env"].is_object(), "{r:#}");
    assert!(r["env"].get("DD_AGENT_HOST").is_none(), "nothing to set or remove: {r:#}");
    assert_attempt(&r, "env", "skipped");
    assert_attempt(&r, "metadata-file", "failed");
    assert_attempt(&r, "imdsv2", "failed");
    assert_attempt(&r, "imdsv1", "skipped");

    // IMDS disabled: both IMDS sources skipped.
    let r = Ddboot::new().args(["--explain", "--json"]).run().json();
    assert_attempt(&r, "env", "skipped");
    assert_attempt(&r, "metadata-file", "skipped");
    assert_attempt(&r, "imdsv2", "skipped");
    assert_attempt(&r, "imdsv1", "skipped");
}

#[test]
fn explain_json_lists_tag_changes() {
    let f = Ddboot::new()
        .env("DD_SERVICE", "old")
        .args(["--explain", "--json", "--dd-service", "new", "--dd-env", "prod"])
        .run();
    let r = f.json();
    assert_eq!(r["env"]["DD_SERVICE"], "new");
    assert_eq!(r["env"]["DD_ENV"], "prod");
    assert!(r["env"].get("DD_VERSION").is_none(), "{r:#}");
}

#[test]
fn print_env_prints_export_and_unset_lines() {
    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).args(["--print-env", "--dd-env", "prod"]).run();
    f.assert_code(0);
    let out = f.stdout_text();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"export DD_AGENT_HOST='10.0.1.43'"), "{f:?}");
    assert!(lines.contains(&"export DD_ENV='prod'"), "{f:?}");
    let shell_line = |l: &str| {
        (l.starts_with("export ") && l.contains("='") && l.ends_with('\'')) || l.starts_with("unset ")
    };
    assert!(lines.iter().all(|l| shell_line(l)), "only export/unset lines: {f:?}");

    // Unresolved: exit 0, a warning, and an inherited empty DD_AGENT_HOST is unset.
    let f = Ddboot::new().env("DD_AGENT_HOST", "").arg("--print-env").run();
    f.assert_code(0);
    let out = f.stdout_text();
    assert!(out.lines().any(|l| l == "unset DD_AGENT_HOST"), "{f:?}");
    assert!(!out.contains("DD_AGENT_HOST="), "{f:?}");
    assert!(f.stderr.starts_with("ddboot:") && f.stderr.contains("warning"), "{f:?}");

    // Unresolved under --strict: 69 and nothing to eval.
    let f = Ddboot::new().args(["--print-env", "--strict", "--dd-env", "prod"]).run();
    f.assert_error_lines(69);
    assert!(f.stdout.is_empty(), "{f:?}");
}

/// `--print-env`'s fail-open warning follows the rule of the start's: one line of at most 160
/// characters per source that did not answer, then one summary line (not a single line with
/// every source's reason in brackets).
/// A huge inherited DD_AGENT_HOST reaches the app whole, but the status line quotes a bounded
/// part of it (every value from outside is clipped where it is printed).
#[test]
fn a_huge_inherited_dd_agent_host_gives_a_short_status_line() {
    let huge = "a".repeat(100_000);
    let f = Ddboot::new().env("DD_AGENT_HOST", &huge).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(&huge);
    let lines = f.stderr_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ddboot: DD_AGENT_HOST=aaaa"), "{}", &lines[0][..80]);
    assert!(lines[0].ends_with(')') && lines[0].contains("(env, "), "{}", &lines[0][lines[0].len() - 80..]);
    assert!(lines[0].chars().count() <= 320, "{} characters", lines[0].chars().count());
}

#[test]
fn print_env_unresolved_warning_is_one_short_line_per_source() {
    let f = Ddboot::new().arg("--print-env").run();
    f.assert_code(0);
    let lines = f.stderr_lines();
    assert!(lines.len() > 2, "one line per source, then the summary: {f:?}");
    assert!(lines.iter().all(|l| l.starts_with("ddboot: warning: ")), "{lines:#?}");
    assert!(lines.iter().all(|l| l.chars().count() <= 160), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains("imdsv2") && l.contains("AWS_EC2_METADATA_DISABLED")),
        "{lines:#?}"
    );
    let summary = lines.last().copied().unwrap_or_default();
    assert!(
        summary.contains("not resolved after") && summary.contains("printing no DD_AGENT_HOST"),
        "{summary}"
    );
}

#[test]
fn print_env_round_trips_hostile_values_through_sh_eval() {
    let dir = TempDir::new();
    let pwned = dir.join("pwned");
    let p = pwned.display();
    let values: Vec<String> = vec![
        r#"it's "quoted" with 'single' quotes"#.into(),
        format!("$(touch {p}-subst)"),
        format!("`touch {p}-backtick`"),
        "line one\nline two\n".into(),
        "\nleading newline".into(),
        "  leading and trailing spaces  ".into(),
        "tab\there".into(),
        r"back\slash \\ \n".into(),
        "'".into(),
        "''".into(),
        "'\\''".into(),
        "$HOME ${PATH} $$ $1".into(),
        format!("; touch {p}-semicolon; #"),
        "* ? [a-z] ~".into(),
        "!event %s %n".into(),
        "héllo wörld ☃".into(),
        String::new(),
    ];
    // `$0` is ddboot; "$@" its arguments.
    let script = r#"eval "$("$0" "$@")" || exit 99
printf '%s\0' "${DD_ENV-<unset>}" "${DD_SERVICE-<unset>}" "${DD_VERSION-<unset>}" "${DD_AGENT_HOST-<unset>}""#;
    let mock = start_mock(|_| {});
    for chunk in values.chunks(3) {
        let (env, service, version) = (&chunk[0], &chunk[1 % chunk.len()], &chunk[2 % chunk.len()]);
        let f = Ddboot::new()
            .imds(&mock)
            .through_shell(script)
            .args(["--print-env", "--dd-env"])
            .arg(env)
            .arg("--dd-service")
            .arg(service)
            .arg("--dd-version")
            .arg(version)
            .run();
        f.assert_code(0);
        let got = f.argv();
        let want = [env.as_bytes(), service.as_bytes(), version.as_bytes(), MOCK_IP.as_bytes()];
        assert_eq!(got, want.map(<[u8]>::to_vec), "{f:?}");
    }
    for suffix in ["-subst", "-backtick", "-semicolon"] {
        let marker = dir.join(&format!("pwned{suffix}"));
        assert!(!marker.exists(), "eval ran injected code ({suffix})");
    }

    // `unset` round-trips too: an inherited empty DD_AGENT_HOST is gone after the eval.
    let f = Ddboot::new()
        .env("DD_AGENT_HOST", "")
        .through_shell(r#"eval "$("$0" "$@")" || exit 99; printf '%s\0' "${DD_AGENT_HOST-<unset>}""#)
        .arg("--print-env")
        .run();
    f.assert_code(0);
    assert_eq!(f.argv(), [b"<unset>".to_vec()], "{f:?}");
}

#[test]
fn resolution_through_the_env_source_is_instant() {
    let f = Ddboot::new().env("DD_AGENT_HOST", "10.1.1.1").args(["--timeout", "5s"]).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host("10.1.1.1");
    assert_within(&f, Duration::from_millis(2500));
}

/// A huge bad value in a platform or AWS variable is ignored with a warning that quotes a bounded
/// part of it: no 100 KB warning line, no 100 KB detail in `--explain`.
#[test]
fn huge_bad_platform_variables_give_bounded_warnings() {
    let huge = "x".repeat(100_000);
    for var in [
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_V1_DISABLED",
        "ECS_CONTAINER_METADATA_URI_V4",
    ] {
        // A dead loopback endpoint on the command line: IMDS can only fail, and only there.
        let base = || Ddboot::new().imds_endpoint("http://127.0.0.1:9").env(var, &huge);
        let f = base().args(ENV_DUMP).run();
        f.assert_code(0);
        let lines = f.stderr_lines();
        assert!(lines.iter().any(|l| l.contains(&format!("ignoring {var}"))), "{var}: {lines:?}");
        let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(longest <= 400, "{var}: a stderr line of {longest} characters");
        let report = base().args(["--explain", "--json"]).run().json();
        let longest = report["attempts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["detail"].as_str().unwrap_or_default().chars().count())
            .max()
            .unwrap_or(0);
        assert!(longest <= 400, "{var}: an --explain detail of {longest} characters");
    }
}

/// A huge bad value of one of ddboot's own settings is still a usage error (64), on one line that
/// quotes a bounded part of it.
#[test]
fn huge_bad_own_settings_give_a_short_usage_error() {
    let huge = "x".repeat(100_000);
    for var in ["DDBOOT_TIMEOUT", "DDBOOT_INJECT", "DDBOOT_STRICT", "DDBOOT_INIT", "DDBOOT_INIT_GROUP"] {
        let f = Ddboot::new().env(var, &huge).args(ENV_DUMP).run();
        f.assert_error_lines(64);
        let line = f.stderr_lines().last().copied().unwrap_or_default().to_string();
        assert!(line.contains(var), "{var}: {}", &line[..line.len().min(200)]);
        assert!(line.chars().count() <= 400, "{var}: {} characters", line.chars().count());
    }
    let f = Ddboot::new().arg("--timeout").arg("1".repeat(100_000)).args(ENV_DUMP).run();
    f.assert_error_lines(64);
    assert!(f.stderr.chars().count() <= 400, "--timeout: {} characters", f.stderr.chars().count());
}

/// A huge PROGRAM that is not there: 127 at once, on one line that quotes a bounded part of it
/// (twice the value when it looks like a flag, before).
#[test]
fn a_huge_missing_program_gives_a_short_error() {
    for program in ["x".repeat(100_000), format!("-{}", "x".repeat(100_000))] {
        let f = Ddboot::new().arg("--").arg(&program).run();
        f.assert_error_lines(127);
        let count = f.stderr.chars().count();
        assert!(count <= 1000, "{}…: {count} characters", &program[..10]);
        assert!(f.stderr.contains("not found"), "{}", &f.stderr[..f.stderr.len().min(300)]);
    }
}

/// Live Agent sockets in a directory whose path is not valid UTF-8 cannot be named in a
/// `unix://` URL (it would be written lossily and name a socket that does not exist): they are
/// reported unusable, and the host found elsewhere is exported instead.
#[test]
fn sockets_under_a_path_not_utf8_are_not_exported_lossily() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new();
    let mut bytes = dir.path().as_os_str().as_bytes().to_vec();
    bytes.extend_from_slice(b"/s\xe9");
    let sockets = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
    std::fs::create_dir_all(&sockets).expect("dir");
    let _apm = std::os::unix::net::UnixListener::bind(sockets.join("apm.socket")).expect("bind apm");
    let _dsd = std::os::unix::net::UnixDatagram::bind(sockets.join("dsd.socket")).expect("bind dsd");
    let file = dir.write("metadata.json", ready_file(Some("10.0.7.7")));
    let f = Ddboot::new().env("DDBOOT_SOCKET_DIR", &sockets).metadata_file(&file).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host("10.0.7.7");
    let env = f.env();
    assert!(!env.contains_key("DD_TRACE_AGENT_URL") && !env.contains_key("DD_DOGSTATSD_URL"), "{env:?}");
}
