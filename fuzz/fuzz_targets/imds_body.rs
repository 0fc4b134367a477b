//! Fuzzes IMDS body validation, `ddboot::fuzz::source::parse_ipv4` (also used for the metadata file's
//! `HostPrivateIPv4Address`): it never panics; an accepted body is UTF-8 whose trimmed text is
//! exactly one IPv4 address in canonical dotted form that can name a host; a rejection reason is
//! one short line, so a hostile body can never flood or forge ddboot's log.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;

/// The longest rejection reason: a fixed text plus at most 40 quoted, escaped characters.
const MAX_REASON: usize = 512;

fuzz_target!(|data: &[u8]| {
    match ddboot::fuzz::source::parse_ipv4(data) {
        Ok(ip) => {
            let text = std::str::from_utf8(data).expect("an accepted body is UTF-8");
            let trimmed = text.trim();
            assert_eq!(trimmed.parse::<Ipv4Addr>(), Ok(ip), "{text:?}");
            assert_eq!(ip.to_string(), trimmed, "{text:?} is not canonical");
            assert!(!ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast(), "{ip}");
        }
        Err(reason) => {
            assert!(reason.len() <= MAX_REASON, "reason of {} bytes", reason.len());
            assert!(!reason.contains(['\n', '\r', '\u{1b}']), "reason is not one line: {reason:?}");
        }
    }
});
