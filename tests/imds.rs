//! The `imdsv2` and `imdsv1` sources against the loopback mock (`mockmeta`): IMDSv2 token flow
//! with no token-less request once a token exists; the SDK fallback rules to IMDSv1 (token PUT
//! hang = hop limit, reset, 403/404/405; never after 400 or under AWS_EC2_METADATA_V1_DISABLED);
//! one fresh token after a 401; body validation (garbage, IPv6, empty, oversized, slow drip,
//! endless chunked); the deadline (DDBOOT_TIMEOUT, --timeout, default 1 s); endpoint selection
//! and its precedence (flag, AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED) with
//! invalid values as usage errors; and hygiene: no proxy, no redirects, no X-Forwarded-For, the
//! token never reaches the app.

mod common;

use std::time::Duration;

use common::*;

/// `ddboot --imds-endpoint MOCK env -0`.
fn run_env_dump(mock: &Mock) -> Finished {
    Ddboot::new().imds(mock).args(ENV_DUMP).run()
}

/// `ddboot --imds-endpoint MOCK --explain --json` (exit 0 if resolved, else 1).
fn explain_json(mock: &Mock) -> Value {
    Ddboot::new().imds(mock).explain()
}

/// Asserts the IMDSv2 token flow of the runs against `mock`: `n` token PUTs, `n` GETs with a
/// token and none without, the last GET carrying the last token issued; then [`assert_hygiene`].
fn assert_token_flow(mock: &Mock, n: usize) {
    assert_eq!(mock.token_puts(), n, "{:?}", mock.requests());
    assert_eq!(mock.token_gets(), n, "{:?}", mock.requests());
    assert_eq!(mock.tokenless_gets(), 0, "{:?}", mock.requests());
    let tokens = mock.issued_tokens();
    assert_eq!(tokens.len(), n);
    let last_get = mock.requests().into_iter().rfind(|r| r.method == "GET").expect("a GET");
    assert_eq!(last_get.header(mockmeta::TOKEN_HEADER), tokens.last().map(String::as_str), "the last token");
    assert_hygiene(mock);
}

fn assert_unresolved_app_ran(f: &Finished) {
    f.assert_code(0);
    assert!(!f.env().contains_key("DD_AGENT_HOST"), "DD_AGENT_HOST must not be set: {f:?}");
    assert!(f.stderr.starts_with("ddboot:") && f.stderr.contains("warning"), "{f:?}");
}

#[test]
fn imdsv2_works_and_no_tokenless_request_is_sent() {
    let mock = start_mock(|_| {});
    Ddboot::new().imds(&mock).assert_resolves(MOCK_IP, "imdsv2");
    assert_token_flow(&mock, 1);
}

#[test]
fn imdsv2_with_required_tokens_and_its_json_report() {
    let mock = start_mock(|b| {
        b.tokens = Tokens::Required;
        b.local_ipv4 = "10.20.30.40".into();
    });
    let report = explain_json(&mock);
    assert_eq!(report["agent_host"], "10.20.30.40");
    assert_eq!(report["source"], "imdsv2");
    assert_eq!(report["env"]["DD_AGENT_HOST"], "10.20.30.40");
    assert_attempt(&report, "env", "skipped");
    assert_attempt(&report, "metadata-file", "skipped");
    assert_attempt(&report, "imdsv2", "ok");
    assert_attempt(&report, "imdsv1", "skipped");
    assert_eq!(mock.tokenless_gets(), 0);
    assert_hygiene(&mock);
}

#[test]
fn hop_limit_put_hang_resolves_through_imdsv1_inside_the_default_deadline() {
    let mock = start_mock(|b| b.put = Put::Hang);
    let f = Ddboot::new().imds(&mock).assert_resolves(MOCK_IP, "imdsv1");
    assert_within(&f, Duration::from_millis(900));
    assert_eq!(mock.token_puts(), 1, "{:?}", mock.requests());
    assert_eq!(mock.tokenless_gets(), 1, "{:?}", mock.requests());
    assert_hygiene(&mock);

    let mock = start_mock(|b| b.put = Put::Hang);
    let report = explain_json(&mock);
    assert_eq!(report["source"], "imdsv1");
    assert_attempt(&report, "imdsv2", "failed");
    assert_attempt(&report, "imdsv1", "ok");
}

#[test]
fn put_answered_400_never_falls_back_to_imdsv1() {
    let mock = start_mock(|b| b.put = Put::Status(400));
    let f = run_env_dump(&mock);
    assert_unresolved_app_ran(&f);
    assert_eq!(mock.token_puts(), 1);
    assert_eq!(mock.tokenless_gets(), 0, "{:?}", mock.requests());
    assert_eq!(mock.token_gets(), 0, "{:?}", mock.requests());
    assert_hygiene(&mock);

    assert_v1_skipped_after(Put::Status(400), Ddboot::new());
}

/// `--explain --json` of `cmd` against a mock whose token PUT does `put`: unresolved, with IMDSv2
/// failed and IMDSv1 skipped, and no token-less GET.
fn assert_v1_skipped_after(put: Put, cmd: Ddboot) {
    let mock = start_mock(|b| b.put = put);
    let report = cmd.imds(&mock).explain();
    assert!(report["source"].is_null() && report["agent_host"].is_null(), "unresolved (exit 1): {report:#}");
    assert_attempt(&report, "imdsv2", "failed");
    assert_attempt(&report, "imdsv1", "skipped");
    assert_eq!(mock.tokenless_gets(), 0, "{:?}", mock.requests());
}

#[test]
fn put_403_404_405_and_reset_fall_back_to_imdsv1() {
    for put in [Put::Status(403), Put::Status(404), Put::Status(405), Put::Reset] {
        let mock = start_mock(|b| b.put = put.clone());
        Ddboot::new().imds(&mock).assert_resolves(MOCK_IP, "imdsv1");
        assert_eq!(mock.token_puts(), 1, "{put:?}: {:?}", mock.requests());
        assert_eq!(mock.tokenless_gets(), 1, "{put:?}: {:?}", mock.requests());
        assert_hygiene(&mock);
    }
}

#[test]
fn v1_disabled_never_sends_a_tokenless_request() {
    for put in [Put::Hang, Put::Status(403), Put::Status(404), Put::Status(405), Put::Reset] {
        let mock = start_mock(|b| b.put = put.clone());
        let f = Ddboot::new().imds(&mock).env("AWS_EC2_METADATA_V1_DISABLED", "true").args(ENV_DUMP).run();
        assert_unresolved_app_ran(&f);
        assert_eq!(mock.tokenless_gets(), 0, "{put:?}: {:?}", mock.requests());
        assert_hygiene(&mock);
    }
    assert_v1_skipped_after(Put::Hang, Ddboot::new().env("AWS_EC2_METADATA_V1_DISABLED", "TRUE"));
}

#[test]
fn get_401_gets_one_fresh_token_and_one_retry() {
    let mock = start_mock(|b| b.get = Get::UnauthorizedFirst(1));
    Ddboot::new().imds(&mock).assert_resolves(MOCK_IP, "imdsv2");
    // The retry (the last GET) uses the fresh token.
    assert_token_flow(&mock, 2);
}

#[test]
fn get_401_twice_gives_up_without_more_requests() {
    let mock = start_mock(|b| b.get = Get::UnauthorizedFirst(100));
    let f = run_env_dump(&mock);
    assert_unresolved_app_ran(&f);
    assert_token_flow(&mock, 2);
}

#[test]
fn throttled_or_failing_token_requests_are_retried() {
    for status in [429, 503] {
        let mock = start_mock(|b| b.put = Put::FailThenToken { failures: 1, status });
        Ddboot::new().imds(&mock).assert_resolves(MOCK_IP, "imdsv2");
        assert_eq!(mock.token_puts(), 2, "{status}: {:?}", mock.requests());
        assert_hygiene(&mock);
    }
}

#[test]
fn bodies_that_are_not_one_ipv4_address_are_rejected() {
    let mut oversized = b"10.0.1.43".to_vec();
    oversized.resize(1025, b' ');
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"<html><body>Hello</body></html>".to_vec()),
        ("ipv6", b"fe80::1ff:fe23:4567:890a".to_vec()),
        ("ipv6 global", b"2001:db8::1".to_vec()),
        ("empty", Vec::new()),
        ("blank", b" \n".to_vec()),
        ("two addresses", b"10.0.1.43 10.0.1.44".to_vec()),
        ("truncated address", b"10.0.1".to_vec()),
        ("out of range", b"10.0.1.256".to_vec()),
        ("unspecified", b"0.0.0.0".to_vec()),
        ("not utf-8", b"\xff\xfe10.0.1.43".to_vec()),
        ("oversized, valid address padded to 1025 bytes", oversized),
    ];
    for (what, body) in cases {
        let mock = start_mock(|b| b.get = Get::Body(body.clone()));
        let f = Ddboot::new().imds(&mock).args(["--explain", "--json"]).run();
        let report = f.json();
        assert!(
            report["agent_host"].is_null(),
            "{what}: accepted {:?}: {report:#}",
            String::from_utf8_lossy(&body)
        );
        f.assert_code(1);
        assert_attempt(&report, "imdsv2", "failed");
        assert_hygiene(&mock);
        assert_eq!(mock.tokenless_gets(), 0, "{what}");
        // A bad body is not a reason to wait for the deadline.
        assert_within(&f, Duration::from_millis(2500));
    }
}

#[test]
fn bodies_are_trimmed_and_accepted_up_to_exactly_1_kib() {
    let mut at_cap = b"\n10.0.1.44".to_vec();
    at_cap.resize(1024, b' ');
    for (body, ip) in [(at_cap, "10.0.1.44"), (b" 10.0.1.45\r\n".to_vec(), "10.0.1.45")] {
        let mock = start_mock(|b| b.get = Get::Body(body.clone()));
        Ddboot::new().imds(&mock).assert_resolves(ip, "imdsv2");
        assert_hygiene(&mock);
    }
}

#[test]
fn slow_and_endless_bodies_are_bounded() {
    // 9 bytes at one per 100 ms: longer than the 300 ms deadline.
    let drip = start_mock(|b| {
        b.get = Get::Drip { body: MOCK_IP.as_bytes().to_vec(), interval: Duration::from_millis(100) }
    });
    let f = Ddboot::new().imds(&drip).args(["--timeout", "300ms"]).args(ENV_DUMP).run();
    assert_unresolved_app_ran(&f);
    assert_within(&f, Duration::from_millis(300 + 1500));
    assert_hygiene(&drip);

    let endless = start_mock(|b| b.get = Get::ChunkedForever);
    let f = Ddboot::new().imds(&endless).args(["--timeout", "300ms"]).args(ENV_DUMP).run();
    assert_unresolved_app_ran(&f);
    assert_within(&f, Duration::from_millis(300 + 1500));
    assert_hygiene(&endless);
}

#[test]
fn hanging_get_respects_ddboot_timeout() {
    let mock = start_mock(|b| b.get = Get::Hang);
    let f = Ddboot::new().imds(&mock).env("DDBOOT_TIMEOUT", "300ms").args(ENV_DUMP).run();
    assert_unresolved_app_ran(&f);
    assert_within(&f, Duration::from_millis(1500));
    assert!(f.elapsed >= Duration::from_millis(250), "gave up before its deadline: {f:?}");
    assert_hygiene(&mock);
}

#[test]
fn timeout_flag_wins_over_ddboot_timeout() {
    let mock = start_mock(|b| b.get = Get::Hang);
    let f = Ddboot::new()
        .imds(&mock)
        .env("DDBOOT_TIMEOUT", "30s")
        .args(["--timeout", "300ms"])
        .args(ENV_DUMP)
        .run();
    assert_unresolved_app_ran(&f);
    assert_within(&f, Duration::from_millis(300 + 1500));
}

#[test]
fn default_deadline_is_one_second() {
    let mock = start_mock(|b| b.get = Get::Hang);
    let f = run_env_dump(&mock);
    assert_unresolved_app_ran(&f);
    assert!(f.elapsed >= Duration::from_millis(950), "gave up before the 1 s deadline: {f:?}");
    assert_within(&f, Duration::from_millis(1000 + 1500));
}

#[test]
fn redirects_are_not_followed() {
    let target = start_mock(|_| {});
    let redirecting =
        start_mock(|b| b.get = Get::Redirect(format!("{}{}", target.url(), mockmeta::LOCAL_IPV4_PATH)));
    let f = run_env_dump(&redirecting);
    assert_unresolved_app_ran(&f);
    assert_no_requests(&target);
    assert_eq!(redirecting.count("GET", mockmeta::LOCAL_IPV4_PATH), 1, "{:?}", redirecting.requests());
    assert_hygiene(&redirecting);
}

#[test]
fn proxy_variables_set_to_a_dead_address_are_ignored() {
    let mock = start_mock(|_| {});
    let mut cmd = Ddboot::new().imds(&mock).env("NO_PROXY", "").env("no_proxy", "");
    for var in PROXY_VARS {
        cmd = cmd.env(var, DEAD_PROXY);
    }
    cmd.assert_resolves(MOCK_IP, "imdsv2");
    assert_hygiene(&mock);
}

#[test]
fn a_live_proxy_sees_no_request() {
    let mock = start_mock(|_| {});
    let proxy = start_mock(|_| {});
    let mut cmd = Ddboot::new().imds(&mock);
    for var in PROXY_VARS {
        cmd = cmd.env(var, proxy.url());
    }
    let f = cmd.args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(MOCK_IP);
    assert_no_requests(&proxy);
    assert_hygiene(&mock);
}

#[test]
fn the_token_never_reaches_the_app() {
    // Two tokens per run: the first GET is answered 401.
    let behaviour = |b: &mut Behaviour| b.get = Get::UnauthorizedFirst(1);

    let m = start_mock(behaviour);
    let f = run_env_dump(&m);
    f.assert_code(0).assert_app_host(MOCK_IP);
    let tokens = m.issued_tokens();
    assert_eq!(tokens.len(), 2);
    for t in &tokens {
        assert!(!contains_bytes(&f.stdout, t.as_bytes()), "token in the app's environment: {f:?}");
        assert!(!f.stderr.contains(t.as_str()), "token on stderr: {f:?}");
    }

    let m = start_mock(behaviour);
    let f = Ddboot::new().imds(&m).args(ARGV_DUMP).args(["a", "b"]).run();
    f.assert_code(0);
    assert_eq!(f.argv(), [b"a".to_vec(), b"b".to_vec()]);
    let tokens = m.issued_tokens();
    assert_eq!(tokens.len(), 2);
    for t in &tokens {
        assert!(!contains_bytes(&f.stdout, t.as_bytes()), "token in the app's argv: {f:?}");
        assert!(!f.stderr.contains(t.as_str()), "token on stderr: {f:?}");
    }

    for debug in [&["--explain"][..], &["--explain", "--json"], &["--print-env"]] {
        let m = start_mock(behaviour);
        let f = Ddboot::new().imds(&m).args(debug).run();
        f.assert_code(0);
        for t in &m.issued_tokens() {
            assert!(
                !contains_bytes(&f.stdout, t.as_bytes()) && !f.stderr.contains(t.as_str()),
                "{debug:?}: {f:?}"
            );
        }
    }
}

#[test]
fn endpoint_from_aws_ec2_metadata_service_endpoint() {
    let mock = start_mock(|_| {});
    Ddboot::new().imds_env(&mock).assert_resolves(MOCK_IP, "imdsv2");
    assert_hygiene(&mock);
}

#[test]
fn endpoint_flag_wins_over_the_variable() {
    let flagged = start_mock(|_| {});
    let ignored = start_mock(|_| {});
    let f = Ddboot::new().imds(&flagged).imds_env(&ignored).args(ENV_DUMP).run();
    f.assert_code(0).assert_app_host(MOCK_IP);
    assert_eq!(flagged.token_puts(), 1);
    assert_no_requests(&ignored);
}

#[test]
fn metadata_disabled_wins_over_the_variable() {
    let mock = start_mock(|_| {});
    let report = Ddboot::new().imds_env(&mock).env("AWS_EC2_METADATA_DISABLED", "true").explain();
    assert!(report["source"].is_null(), "unresolved (exit 1): {report:#}");
    assert_attempt(&report, "imdsv2", "skipped");
    assert_attempt(&report, "imdsv1", "skipped");
    assert_no_requests(&mock);
}

#[test]
fn endpoint_flag_wins_over_metadata_disabled() {
    Ddboot::assert_imdsv2_despite("AWS_EC2_METADATA_DISABLED", "true");
}

#[test]
fn valid_spellings_of_the_aws_variables_are_accepted() {
    for (name, value) in [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv6"),
        ("AWS_EC2_METADATA_DISABLED", "False"),
        ("AWS_EC2_METADATA_V1_DISABLED", "false"),
    ] {
        // No warning either: the status line is the only line.
        Ddboot::assert_imdsv2_despite(name, value);
    }
}

/// Whether `f` is a one-line usage error naming `named`, with the app not run.
fn is_usage_error_naming(f: &Finished, named: &str) -> bool {
    let lines = f.stderr_lines();
    f.code() == Some(64)
        && f.stdout.is_empty()
        && lines.len() == 1
        && lines[0].starts_with("ddboot:")
        && lines[0].contains(named)
}

/// The app ran (exit 0) after exactly one warning naming `named` (`ddboot: warning: ignoring
/// NAME: …`) among ddboot's lines.
fn warned_once_and_started(f: &Finished, named: &str) -> bool {
    let tag = format!("ddboot: warning: ignoring {named}: ");
    f.code() == Some(0) && f.stderr_lines().iter().filter(|l| l.starts_with(&tag)).count() == 1
}

#[test]
fn invalid_imds_flag_is_a_usage_error_and_a_bad_v1_variable_warns() {
    let mock = start_mock(|_| {});
    let mut failures = Vec::new();
    for bad in ["not a url", "https://127.0.0.1:1", "http://imds.internal", "http://127.0.0.1:0"] {
        let f = Ddboot::new().args(["--imds-endpoint", bad]).args(ENV_DUMP).run();
        if !is_usage_error_naming(&f, "--imds-endpoint") {
            failures.push(format!("--imds-endpoint {bad:?}: {f:?}"));
        }
    }
    assert_no_requests(&mock);
    // botocore's rule: anything but true/false warns and counts as false (IMDSv1 stays allowed).
    for value in ["1", "nope", "yes"] {
        for with_flag in [true, false] {
            let mut cmd = Ddboot::new().env("AWS_EC2_METADATA_V1_DISABLED", value);
            if with_flag {
                cmd = cmd.imds(&mock);
            }
            let f = cmd.args(ENV_DUMP).run();
            if !warned_once_and_started(&f, "AWS_EC2_METADATA_V1_DISABLED") {
                failures.push(format!("AWS_EC2_METADATA_V1_DISABLED={value:?} (flag: {with_flag}): {f:?}"));
            } else if with_flag && f.env().get("DD_AGENT_HOST").map(String::as_str) != Some(MOCK_IP) {
                failures.push(format!("AWS_EC2_METADATA_V1_DISABLED={value:?}: not resolved: {f:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A bad platform or AWS variable warns once and the app starts: also when another setting makes
/// the variable moot (the --imds-endpoint flag wins, or AWS_EC2_METADATA_DISABLED=true). In these
/// tests one of those is always present, so that no run can reach the real IMDS.
#[test]
fn invalid_imds_variables_warn_even_when_overridden() {
    let mock = start_mock(|_| {});
    // (variable, value, the overrides it runs under: true for --imds-endpoint MOCK, false for
    // AWS_EC2_METADATA_DISABLED=true, which a bad AWS_EC2_METADATA_DISABLED cannot be run under)
    let both: &[bool] = &[true, false];
    let cases: [(&str, &str, &[bool]); 5] = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5", both),
        ("AWS_EC2_METADATA_DISABLED", "yes", &[true]),
        ("AWS_EC2_METADATA_DISABLED", "1", &[true]),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://127.0.0.1:1", both),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://imds.internal", &[false]),
    ];
    let runs = cases.iter().flat_map(|&(var, value, flags)| flags.iter().map(move |&f| (var, value, f)));
    let mut failures = Vec::new();
    for (var, value, with_flag) in runs {
        let mut cmd = Ddboot::new().env(var, value);
        cmd = if with_flag { cmd.imds(&mock) } else { cmd.env("AWS_EC2_METADATA_DISABLED", "true") };
        let f = cmd.args(ENV_DUMP).run();
        let resolved =
            f.code() == Some(0) && f.env().get("DD_AGENT_HOST").map(String::as_str) == Some(MOCK_IP);
        if !warned_once_and_started(&f, var) || resolved != with_flag {
            let how = if with_flag { "--imds-endpoint MOCK" } else { "AWS_EC2_METADATA_DISABLED=true" };
            failures.push(format!("{var}={value:?} with {how}: {f:?}"));
        }
    }
    assert!(failures.is_empty(), "not a warning naming the variable and a start:\n{}", failures.join("\n"));
}
