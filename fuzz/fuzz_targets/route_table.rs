//! Fuzzes `ddboot::fuzz::source::gateway::parse_default_gateway` (the text of `/proc/net/route`): it
//! never panics, and a gateway it returns is non-zero and is the Gateway column of some line after
//! the header whose Destination and Mask are zero and whose Flags have RTF_UP|RTF_GATEWAY.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(ip) = ddboot::fuzz::source::gateway::parse_default_gateway(&text) else { return };
    assert_ne!(ip, Ipv4Addr::UNSPECIFIED);
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let backed = text.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() >= 8
            && hex(f[1]) == Some(0)
            && hex(f[7]) == Some(0)
            && hex(f[3]).is_some_and(|flags| flags & 3 == 3)
            && hex(f[2]).map(|gw| Ipv4Addr::from(gw.to_ne_bytes())) == Some(ip)
    });
    assert!(backed, "{ip} is not the gateway of any default route in {text:?}");
});
