//! Fuzzes `ddboot::source::metadata_file::parse` (the ECS container metadata file): it never
//! panics; it accepts exactly the JSON objects; a host it reports is the `HostPrivateIPv4Address`
//! string as `parse_ipv4` validates it (never 0.0.0.0, broadcast or multicast); READY means the
//! literal `"MetadataFileStatus": "READY"`; and the result depends on the document, not on its
//! spelling (re-serialising the parsed JSON gives the same result).
#![no_main]

use ddboot::source::metadata_file;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let parsed = metadata_file::parse(data);
    let doc = serde_json::from_slice::<Value>(data).ok().filter(Value::is_object);
    let (Ok(m), Some(doc)) = (&parsed, &doc) else {
        assert!(parsed.is_err() && doc.is_none(), "accepted {parsed:?} but JSON object is {doc:?}");
        return;
    };
    let host_field = doc.get("HostPrivateIPv4Address").and_then(Value::as_str);
    // A valid HostPrivateIPv4Address is the host; without one the host may come from
    // HostIPv6Address, under the same acceptance rule.
    if let Some(v4) = host_field.and_then(|s| ddboot::source::parse_ipv4(s.as_bytes()).ok()) {
        assert_eq!(m.host, Some(std::net::IpAddr::V4(v4)));
    }
    if let Some(ip) = m.host {
        assert!(!ip.is_unspecified() && !ip.is_multicast(), "{ip}");
        assert!(!matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast()), "{ip}");
    }
    assert_eq!(m.ready, doc.get("MetadataFileStatus") == Some(&Value::from("READY")));
    let again = serde_json::to_vec(doc).expect("a Value serialises");
    assert_eq!(metadata_file::parse(&again).as_ref(), Ok(m));
});
