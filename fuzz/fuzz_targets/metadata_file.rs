//! Fuzzes `ddboot::fuzz::source::metadata_file::parse` (the ECS container metadata file): it never
//! panics; it accepts exactly the JSON objects; a host it reports is the `HostPrivateIPv4Address`
//! string as `parse_ipv4` validates it, else the `HostIPv6Address` string as `parse_ipv6` does
//! (never unspecified, broadcast or multicast); an invalid IPv4 value is reported only when no
//! host was found; READY means the
//! literal `"MetadataFileStatus": "READY"`; and the result depends on the document, not on its
//! spelling (re-serialising the parsed JSON gives the same result).
#![no_main]

use std::net::IpAddr;

use ddboot::fuzz::source::metadata_file;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let parsed = metadata_file::parse(data);
    let doc = serde_json::from_slice::<Value>(data).ok().filter(Value::is_object);
    let (Ok(m), Some(doc)) = (&parsed, &doc) else {
        assert!(parsed.is_err() && doc.is_none(), "accepted {parsed:?} but JSON object is {doc:?}");
        return;
    };
    let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::as_bytes);
    let v4 = field("HostPrivateIPv4Address").and_then(|s| ddboot::fuzz::source::parse_ipv4(s).ok());
    let v6 = field("HostIPv6Address").and_then(|s| ddboot::fuzz::source::parse_ipv6(s).ok());
    assert_eq!(m.host, v4.map(IpAddr::V4).or(v6.map(IpAddr::V6)));
    match m.host {
        Some(IpAddr::V4(ip)) => {
            assert!(!ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast(), "{ip}")
        }
        Some(IpAddr::V6(ip)) => assert!(!ip.is_unspecified() && !ip.is_multicast(), "{ip}"),
        None => {}
    }
    if m.host.is_some() {
        assert!(m.invalid_host.is_none(), "{m:?}");
    }
    assert_eq!(m.ready, doc.get("MetadataFileStatus") == Some(&Value::from("READY")));
    let again = serde_json::to_vec(doc).expect("a Value serialises");
    assert_eq!(metadata_file::parse(&again).as_ref(), Ok(m));
});
