//! Fuzzes `ddboot::fuzz::source::metadata_file::parse` (the ECS container metadata file): it never
//! panics; it accepts exactly the JSON objects; the host it reports is the documented rule stated
//! here with std alone, not with ddboot's parsers: `HostPrivateIPv4Address` (a string, trimmed)
//! when it is an IPv4 address that is not unspecified, broadcast or multicast, else
//! `HostIPv6Address` when it is an IPv6 address that is not unspecified or multicast (an
//! IPv4-mapped one judged as its IPv4 address); an invalid value is reported only when no host was
//! found; READY means the literal `"MetadataFileStatus": "READY"`; and the result depends on the
//! document, not on its spelling (re-serialising the parsed JSON gives the same result).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ddboot::fuzz::source::metadata_file;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn usable_v4(ip: Ipv4Addr) -> bool {
    !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast()
}

fn usable_v6(ip: Ipv6Addr) -> bool {
    match ip.to_ipv4_mapped() {
        Some(v4) => usable_v4(v4),
        None => !ip.is_unspecified() && !ip.is_multicast(),
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = metadata_file::parse(data);
    let doc = serde_json::from_slice::<Value>(data).ok().filter(Value::is_object);
    let (Ok(m), Some(doc)) = (&parsed, &doc) else {
        assert!(parsed.is_err() && doc.is_none(), "accepted {parsed:?} but JSON object is {doc:?}");
        return;
    };
    let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::trim);
    let v4 = field("HostPrivateIPv4Address").and_then(|s| s.parse().ok()).filter(|ip| usable_v4(*ip));
    let v6 = field("HostIPv6Address").and_then(|s| s.parse().ok()).filter(|ip| usable_v6(*ip));
    assert_eq!(m.host, v4.map(IpAddr::V4).or(v6.map(IpAddr::V6)), "{doc}");
    if m.host.is_some() {
        assert!(m.invalid_host.is_none(), "{m:?}");
    }
    assert_eq!(m.ready, doc.get("MetadataFileStatus") == Some(&Value::from("READY")));
    let again = serde_json::to_vec(doc).expect("a Value serialises");
    assert_eq!(metadata_file::parse(&again).as_ref(), Ok(m));
});
