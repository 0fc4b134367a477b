//! The `metadata-file` source: the ECS container metadata file (`$ECS_CONTAINER_METADATA_FILE`).
//!
//! The ECS agent writes this JSON file before the container starts and replaces it (temp file +
//! rename) once the container runs, adding `"MetadataFileStatus": "READY"`. Its
//! `HostPrivateIPv4Address` is the instance's private IP, learnt by the agent on the host, so the
//! container's IMDS hop limit does not matter; on an IPv6-only instance (ECS agent 1.95+) the file
//! carries `HostIPv6Address` instead, used when there is no usable IPv4 address. This module reads the file safely (never blocks on
//! a FIFO, never follows it past a size cap, accepts only a regular file), parses the few fields
//! ddboot uses, and polls by re-opening the path until the host appears, the file is READY
//! without one, or the deadline passes.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Journal, Source};

/// The largest metadata file accepted; real ones are a few KiB.
pub(crate) const MAX_SIZE: u64 = 256 * 1024;
/// Why a READY file without a host is no answer.
pub(crate) const READY_WITHOUT_HOST: &str =
    "READY but without HostPrivateIPv4Address or HostIPv6Address (old ECS agent?)";
/// How often a not-yet-READY file is re-read.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What ddboot uses from one version of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataFile {
    /// `HostPrivateIPv4Address` when present and a usable IPv4 address, else `HostIPv6Address`
    /// when present and a usable IPv6 address.
    pub host: Option<IpAddr>,
    /// Which of `HostPrivateIPv4Address` / `HostIPv6Address` is present but unusable and why (a
    /// number, an array, `""`, `010.002.002.002`, `::`…), escaped and short, when no host was
    /// found: an invalid value is not a missing one.
    pub invalid_host: Option<String>,
    /// `MetadataFileStatus` is `READY`.
    pub ready: bool,
    /// `Networks[0].NetworkMode` (bridge, host, awsvpc, container:…).
    pub(crate) network_mode: Option<String>,
}

/// One host address field of the file (`HostPrivateIPv4Address`, `HostIPv6Address`) read with
/// `parse`: the address, or why a present value is unusable (absent and `null` are neither).
fn host_field<T>(
    value: Option<&Value>,
    parse: fn(&[u8]) -> Result<T, String>,
) -> (Option<T>, Option<String>) {
    match value {
        None | Some(Value::Null) => (None, None),
        Some(Value::String(s)) => match parse(s.as_bytes()) {
            Ok(ip) => (Some(ip), None),
            Err(why) => (None, Some(why)),
        },
        Some(other) => {
            let shown = crate::output::clip(&other.to_string(), 40);
            (None, Some(format!("not a string: {}", crate::output::escape(&shown))))
        }
    }
}

/// Parses the file's JSON. Unknown fields are ignored; the top level must be an object.
pub fn parse(bytes: &[u8]) -> Result<MetadataFile, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let obj = doc.as_object().ok_or("not a JSON object")?;
    let (v4, invalid_v4) = host_field(obj.get("HostPrivateIPv4Address"), super::parse_ipv4);
    let (v6, invalid_v6) = host_field(obj.get("HostIPv6Address"), super::parse_ipv6);
    let host = v4.map(IpAddr::V4).or(v6.map(IpAddr::V6));
    let invalid_host = match (host, invalid_v4, invalid_v6) {
        (Some(_), _, _) => None,
        (None, Some(why), _) => Some(format!("HostPrivateIPv4Address is invalid ({why})")),
        (None, None, Some(why)) => Some(format!("HostIPv6Address is invalid ({why})")),
        (None, None, None) => None,
    };
    let ready = obj.get("MetadataFileStatus").and_then(Value::as_str) == Some("READY");
    let network_mode = super::first_network_mode(&doc).map(str::to_string);
    Ok(MetadataFile { host, invalid_host, ready, network_mode })
}

/// Opens and reads the file once: a regular file of at most [`MAX_SIZE`] bytes, opened
/// non-blocking (a FIFO cannot stall the start) and close-on-exec.
pub(crate) fn read(path: &Path) -> Result<MetadataFile, String> {
    let bytes = crate::file::read_capped(path, MAX_SIZE)?;
    parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Why a READY file gave no host: the field is missing, or present but invalid.
pub(crate) fn no_host_reason(doc: &MetadataFile) -> String {
    match &doc.invalid_host {
        Some(why) => format!("READY but {why}"),
        None => READY_WITHOUT_HOST.to_string(),
    }
}

/// Re-reads the file every [`POLL_INTERVAL`] (re-opening the path, so a replacement by rename is
/// seen) until it has a host, is READY without one, or `deadline` passes. A read that fails (the
/// file is briefly missing, or a writer that does not rename left it half-written) is retried
/// until the deadline too, and the last failure is reported then. `first` is the read the
/// caller already made at `started`. Records the attempt and returns the host, if any, with the
/// last version of the file read (its network mode matters even without a host).
pub(crate) async fn poll(
    path: &Path,
    first: MetadataFile,
    started: std::time::Instant,
    deadline: Instant,
    journal: &Journal,
) -> (Option<IpAddr>, MetadataFile) {
    let step = journal.begin_at(Source::MetadataFile, started);
    step.phase("waiting for the file to become READY");
    let mut latest = first;
    let mut last_error: Option<String> = None;
    loop {
        if let Some(host) = latest.host {
            let waited = crate::duration::human(step.elapsed());
            step.ok(format!("{host} (after {waited} of polling)"));
            return (Some(host), latest);
        }
        if latest.ready {
            step.fail(no_host_reason(&latest));
            return (None, latest);
        }
        if Instant::now() + POLL_INTERVAL > deadline {
            tokio::time::sleep_until(deadline).await;
            // The same words as a cancellation by the resolver's own deadline timer, which can
            // fire first at the same instant.
            let last = last_error.map(|e| format!(" (last read: {e})")).unwrap_or_default();
            step.fail(format!("deadline reached while waiting for the file to become READY{last}"));
            return (None, latest);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        match read(path) {
            Ok(doc) => {
                latest = doc;
                last_error = None;
            }
            Err(why) => {
                step.phase("re-reading the file after a failed read");
                last_error = Some(why);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: &str = r#"{
        "Cluster": "default",
        "ContainerName": "simple-app",
        "Networks": [ { "NetworkMode": "bridge", "IPv4Addresses": [ "192.0.2.0" ] } ],
        "MetadataFileStatus": "READY",
        "HostPrivateIPv4Address": "192.0.2.10",
        "SomethingNew": {"x": [1, 2]}
    }"#;

    #[test]
    fn parses_the_documented_ready_sample() {
        let m = parse(READY.as_bytes()).expect("parses");
        assert_eq!(m.host, Some(IpAddr::from([192, 0, 2, 10])));
        assert!(m.ready);
        assert_eq!(m.network_mode.as_deref(), Some("bridge"));
    }

    #[test]
    fn an_early_file_is_not_ready() {
        let m = parse(br#"{"Cluster": "default", "ContainerName": "metadata"}"#).expect("parses");
        assert_eq!(m, MetadataFile::default());
    }

    #[test]
    fn bad_host_values_are_invalid_not_absent() {
        for v in [r#""""#, r#""fe80::1""#, "42", "[1]", r#""010.002.002.002""#, r#""10.0.0.1 ""#] {
            let doc = format!(r#"{{"HostPrivateIPv4Address": {v}, "MetadataFileStatus": "READY"}}"#);
            let m = parse(doc.as_bytes()).expect("parses");
            // A value with surrounding space is still one IPv4 address; the rest are not.
            let good = v.contains("10.0.0.1");
            assert_eq!(m.host.is_some(), good, "{v}");
            assert_eq!(m.invalid_host.is_some(), !good, "{v}");
            if !good {
                assert!(no_host_reason(&m).contains("invalid"), "{v}: {}", no_host_reason(&m));
            }
        }
        let m = parse(br#"{"HostPrivateIPv4Address": null, "MetadataFileStatus": "READY"}"#).expect("parses");
        assert_eq!((m.host, m.invalid_host.as_deref()), (None, None));
        assert_eq!(no_host_reason(&m), READY_WITHOUT_HOST);
    }

    #[test]
    fn an_ipv6_only_file_gives_its_ipv6_host() {
        let doc = br#"{"MetadataFileStatus": "READY", "HostIPv6Address": "2600:1f14:abc:de00::17",
            "Networks": [ { "NetworkMode": "awsvpc", "IPv6Addresses": [ "2600:1f14:abc:de00::99" ] } ]}"#;
        let m = parse(doc).expect("parses");
        assert_eq!(m.host, Some("2600:1f14:abc:de00::17".parse().expect("ip")));
        // IPv4 first when both are there; a bad IPv6 value counts as absent, like a bad IPv4.
        let both = br#"{"HostPrivateIPv4Address": "10.0.0.1", "HostIPv6Address": "2600::1"}"#;
        assert_eq!(parse(both).expect("parses").host, Some(IpAddr::from([10, 0, 0, 1])));
        for bad in [r#""::""#, r#""ff02::1""#, r#""10.0.0.1""#, r#""2600::g""#, "7", "null"] {
            let doc = format!(r#"{{"HostIPv6Address": {bad}}}"#);
            let m = parse(doc.as_bytes()).expect("parses");
            assert_eq!(m.host, None, "{bad}");
            if bad != "null" {
                assert!(no_host_reason(&m).contains("HostIPv6Address is invalid"), "{bad}: {m:?}");
            }
        }
    }

    #[test]
    fn rejects_non_objects_and_invalid_json() {
        for bad in [&b"[]"[..], b"\"x\"", b"{", b"", b"\xff"] {
            assert!(parse(bad).is_err());
        }
    }

    #[test]
    fn read_refuses_directories_and_oversized_files() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        assert!(read(&dir).unwrap_err().contains("not a regular file"));
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; (MAX_SIZE + 1) as usize]).expect("write");
        assert!(read(&big).unwrap_err().contains("larger than"));
        assert!(read(&dir.join("missing")).unwrap_err().contains("cannot open"));
    }
}
