//! The `metadata-file` source ($ECS_CONTAINER_METADATA_FILE / --metadata-file): a READY file and
//! an early (not READY) file with HostPrivateIPv4Address resolve on the first read with no IMDS
//! request; a not-READY file is re-opened and re-read until the ECS agent replaces it by rename
//! (while IMDS is disabled or hangs); IMDS runs concurrently with the polling; a READY file
//! without the host, and a missing, unreadable, directory, FIFO, oversized or non-JSON file go to
//! the next source at once with the reason recorded; polling ends at the deadline.

mod common;

use std::time::Duration;

use common::*;

/// A run that should end well before its 5 s deadline.
const QUICK: Duration = Duration::from_millis(2500);

#[test]
fn a_ready_file_resolves_on_the_first_read_without_any_imds_request() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.0.2.15")));
    let mock = start_mock(|_| {});
    Ddboot::new().imds(&mock).metadata_file(&file).assert_resolves("10.0.2.15", "metadata-file");
    assert_no_requests(&mock);

    // The same through ECS_CONTAINER_METADATA_FILE.
    Ddboot::new()
        .imds(&mock)
        .env("ECS_CONTAINER_METADATA_FILE", &file)
        .assert_resolves("10.0.2.15", "metadata-file");
    assert_no_requests(&mock);
}

#[test]
fn an_early_file_with_the_host_is_used_before_it_is_ready() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(Some("10.0.2.16")));
    let mock = start_mock(|_| {});
    let f = Ddboot::new()
        .imds(&mock)
        .metadata_file(&file)
        .timeout("5s")
        .assert_resolves("10.0.2.16", "metadata-file");
    assert_within(&f, QUICK);
    assert_no_requests(&mock);
}

#[test]
fn the_flag_wins_over_the_variable() {
    let dir = TempDir::new();
    let from_var = dir.write("var.json", ready_file(Some("10.0.2.1")));
    let from_flag = dir.write("flag.json", ready_file(Some("10.0.2.2")));
    let f = Ddboot::new()
        .env("ECS_CONTAINER_METADATA_FILE", &from_var)
        .metadata_file(&from_flag)
        .args(ENV_DUMP)
        .run();
    f.assert_code(0).assert_app_host("10.0.2.2");
}

#[test]
fn a_not_ready_file_is_re_read_until_replaced_by_rename_with_imds_disabled() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(None));
    let writer = replace_later(&file, Duration::from_millis(150), ready_file(Some("10.0.3.3")));
    let f = Ddboot::new().metadata_file(&file).args(["--timeout", "3s"]).args(ENV_DUMP).run();
    writer.join().expect("writer");
    f.assert_code(0).assert_app_host("10.0.3.3").assert_status_line("10.0.3.3", "metadata-file");
    assert_within(&f, Duration::from_millis(2500));
}

#[test]
fn a_not_ready_file_is_re_read_until_replaced_by_rename_while_imds_hangs() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(None));
    let mock = start_mock(|b| {
        b.put = Put::Hang;
        b.get = Get::Hang;
    });
    let writer = replace_later(&file, Duration::from_millis(150), ready_file(Some("10.0.3.4")));
    let f =
        Ddboot::new().imds(&mock).metadata_file(&file).args(["--timeout", "3s", "--explain", "--json"]).run();
    writer.join().expect("writer");
    f.assert_code(0);
    let report = f.json();
    assert_eq!(report["agent_host"], "10.0.3.4", "{report:#}");
    assert_eq!(report["source"], "metadata-file", "{report:#}");
    assert_attempt(&report, "metadata-file", "ok");
    assert_within(&f, Duration::from_millis(2500));
    assert_hygiene(&mock);
}

#[test]
fn a_not_ready_file_replaced_by_a_ready_file_without_host_stops_the_polling() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(None));
    let writer = replace_later(&file, Duration::from_millis(150), ready_file(None));
    let f = Ddboot::new().metadata_file(&file).args(["--timeout", "5s", "--explain", "--json"]).run();
    writer.join().expect("writer");
    f.assert_code(1);
    assert_attempt(&f.json(), "metadata-file", "failed");
    assert_within(&f, QUICK);
}

#[test]
fn a_not_ready_file_with_imds_working_resolves_through_imdsv2_quickly() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(None));
    let mock = start_mock(|_| {});
    let f = Ddboot::new().imds(&mock).metadata_file(&file).timeout("5s").assert_resolves(MOCK_IP, "imdsv2");
    assert_within(&f, QUICK);
    assert_hygiene(&mock);
}

#[test]
fn a_file_that_never_becomes_ready_is_polled_until_the_deadline() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", early_file(None));
    let f = Ddboot::new().metadata_file(&file).args(["--timeout", "300ms", "--explain", "--json"]).run();
    f.assert_code(1);
    assert_attempt(&f.json(), "metadata-file", "failed");
    assert!(f.elapsed >= Duration::from_millis(250), "stopped polling before the deadline: {f:?}");
    assert_within(&f, Duration::from_millis(300 + 1500));
}

#[test]
fn a_ready_file_without_host_goes_to_the_next_source() {
    let dir = TempDir::new();
    let no_host = dir.write("no-host.json", ready_file(None));
    let bad_hosts = [
        dir.write("ipv6.json", ready_file(Some("fe80::1"))),
        dir.write("empty.json", ready_file(Some(""))),
        dir.write("garbage.json", ready_file(Some("ip-10-0-0-1.ec2.internal"))),
    ];
    for file in std::iter::once(&no_host).chain(&bad_hosts) {
        assert_goes_to_the_next_source(file, &[]);
    }
}

/// Runs the unusable metadata file at `path` twice: with IMDS working (→ imdsv2) and with IMDS
/// disabled (→ unresolved at once), both quickly; returns the recorded reason of the second run.
fn assert_goes_to_the_next_source(path: &std::path::Path, launcher: &[&str]) -> String {
    let mock = start_mock(|_| {});
    let f = Ddboot::new()
        .launcher(launcher)
        .imds(&mock)
        .metadata_file(path)
        .args(["--timeout", "5s", "--explain", "--json"])
        .run();
    f.assert_code(0);
    let report = f.json();
    assert_eq!(report["source"], "imdsv2", "{}: {report:#}", path.display());
    assert_attempt(&report, "metadata-file", "failed");
    assert_within(&f, QUICK);

    let f = Ddboot::new()
        .launcher(launcher)
        .metadata_file(path)
        .args(["--timeout", "5s", "--explain", "--json"])
        .run();
    f.assert_code(1);
    let report = f.json();
    assert_attempt(&report, "metadata-file", "failed");
    assert_within(&f, QUICK);
    detail_of(&report, "metadata-file")
}

/// [`assert_goes_to_the_next_source`], and the recorded reason contains one of `words`.
fn assert_invalid_file(path: &std::path::Path, words: &[&str], launcher: &[&str]) {
    let detail = assert_goes_to_the_next_source(path, launcher).to_lowercase();
    assert!(words.iter().any(|w| detail.contains(w)), "reason {detail:?} should say one of {words:?}");
}

#[test]
fn a_missing_file_goes_to_the_next_source() {
    let dir = TempDir::new();
    assert_invalid_file(&dir.join("does-not-exist.json"), &["no such file", "not found", "missing"], &[]);
}

#[test]
fn a_directory_goes_to_the_next_source() {
    let dir = TempDir::new();
    let sub = dir.join("metadata.json");
    std::fs::create_dir(&sub).expect("mkdir");
    assert_invalid_file(&sub, &["directory", "regular file"], &[]);
}

#[test]
fn a_file_that_is_not_json_goes_to_the_next_source() {
    let dir = TempDir::new();
    for (name, contents) in [
        ("text.json", "HostPrivateIPv4Address=10.0.0.1"),
        ("truncated.json", "{\"HostPrivateIPv4Address\": \"10.0.0.1\""),
        ("empty.json", ""),
        ("array.json", "[{\"HostPrivateIPv4Address\": \"10.0.0.1\"}]"),
        ("binary.json", "\u{0}\u{1}\u{2}"),
    ] {
        assert_invalid_file(&dir.write(name, contents), &["json", "object"], &[]);
    }
}

#[test]
fn a_too_large_file_goes_to_the_next_source_even_with_a_valid_host() {
    let dir = TempDir::new();
    // Valid JSON with the host, padded with whitespace to 2 MiB: rejected, not truncated.
    let mut contents = ready_file(Some("10.0.4.4")).into_bytes();
    contents.resize(2 * 1024 * 1024, b' ');
    let file = dir.write("metadata.json", contents);
    assert_invalid_file(&file, &["large", "size", "big"], &[]);
}

#[test]
fn an_unreadable_file_goes_to_the_next_source() {
    let dir = TempDir::new();
    let file = dir.write("metadata.json", ready_file(Some("10.0.4.5")));
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    // Root reads anything: run ddboot as nobody then.
    let launcher: &[&str] = if running_as_root() {
        &["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    } else {
        &[]
    };
    assert_invalid_file(&file, &["denied", "permission", "unreadable"], launcher);
}

#[test]
fn a_fifo_does_not_block() {
    let dir = TempDir::new();
    let fifo = dir.fifo("metadata.json");
    assert_invalid_file(&fifo, &["regular file", "fifo", "pipe"], &[]);
}

/// An IPv6-only file whose `HostIPv6Address` is there but unusable (`::`, multicast, not an
/// address, not a string) is reported as invalid, naming the field, like a bad
/// `HostPrivateIPv4Address`: never as a file without a host from an old ECS agent.
#[test]
fn a_ready_ipv6_only_file_with_an_invalid_host_says_it_is_invalid() {
    let dir = TempDir::new();
    for bad in [
        serde_json::json!("::"),
        serde_json::json!("ff02::1"),
        serde_json::json!("2600::g"),
        serde_json::json!("fe80::1%eth0"),
        serde_json::json!(7),
    ] {
        let mut doc: serde_json::Value = serde_json::from_str(&ready_file(None)).expect("json");
        doc["HostIPv6Address"] = bad.clone();
        let file = dir.write("metadata.json", doc.to_string());
        let f = Ddboot::new().metadata_file(&file).args(["--explain", "--json"]).run();
        f.assert_code(1);
        let detail = detail_of(&f.json(), "metadata-file");
        assert!(detail.contains("HostIPv6Address is invalid"), "{bad}: {detail}");
        assert!(!detail.contains("old ECS agent"), "{bad}: {detail}");
    }
}
