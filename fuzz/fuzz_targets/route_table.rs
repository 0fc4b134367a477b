//! Fuzzes `ddboot::fuzz::source::gateway::parse_default_gateway` (the text of `/proc/net/route`): it
//! never panics, and a gateway it returns is non-zero and stands, as the kernel writes it (the
//! address's bytes as a host-order integer in hex), in the Gateway column (the third) of some line
//! after the header. Which line counts as the default route is left to the unit tests' literal tables
//! and to `tests/ecs.rs`, which checks the parser against iproute2 on this machine's table.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(ip) = ddboot::fuzz::source::gateway::parse_default_gateway(&text) else { return };
    assert_ne!(ip, Ipv4Addr::UNSPECIFIED);
    let column = u32::from_ne_bytes(ip.octets());
    let backed = text.lines().skip(1).any(|line| {
        let gateway = line.split_whitespace().nth(2);
        gateway.is_some_and(|gw| u32::from_str_radix(gw, 16) == Ok(column))
    });
    assert!(backed, "{ip} ({column:08X}) is not in the Gateway column of any line of {text:?}");
});
