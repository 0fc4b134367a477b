//! Fuzzes ddboot's HTTP/1.1 response reading (hyper's HTTP/1 client with an 8 KiB read buffer,
//! bodies through `http_body_util::Limited`, ddboot's failure classification) through its public
//! entry point, `ddboot::fuzz::http::request`, over a loopback socket: `ddboot::fuzz::http::peer` on
//! 127.0.0.1 reads the request, answers with the fuzz input verbatim, half-closes and waits for
//! the client to hang up. The first byte picks the body cap (0 to 2040 bytes) so the over-cap
//! paths are reachable.
//!
//! Whatever the answer, the client never panics and never hangs (the server always ends the
//! exchange, so a `Timeout` would be a parser loop); an accepted answer has a final status
//! (200 to 999: interim answers, 101 included, are never final) and a body within the cap,
//! empty for 204 and 304; and it has a complete head (an empty line ends it).
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use ddboot::fuzz::http::{self, Endpoint, Failure, peer};
use libfuzzer_sys::fuzz_target;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::time::Instant;

struct Harness {
    rt: Runtime,
    listener: TcpListener,
    endpoint: Endpoint,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (listener, endpoint) = rt.block_on(peer::bind());
        Harness { rt, listener, endpoint }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap_byte, answer)) = data.split_first() else { return };
    let cap = usize::from(cap_byte) * 8;
    let h = harness();
    let result = h.rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        let path = h.endpoint.path("/latest/meta-data/local-ipv4");
        let client = http::request(&h.endpoint, "GET", &path, &[], cap, deadline, deadline);
        let (_head, result) = tokio::join!(peer::serve_once(&h.listener, answer), client);
        result
    });
    match result {
        Ok(r) => {
            // hyper takes any three digits from 100 to 999 (RFC 9110 wants 100..=599); ddboot
            // treats a status it does not know as a failed answer, which is harmless.
            assert!((200..=999).contains(&r.status), "status {}", r.status);
            assert!(r.body.len() <= cap, "body of {} bytes over the cap of {cap}", r.body.len());
            if r.status == 204 || r.status == 304 {
                assert!(r.body.is_empty(), "{} with a body", r.status);
            }
            assert!(
                answer.windows(2).any(|w| w == b"\n\n") || answer.windows(3).any(|w| w == b"\n\r\n"),
                "accepted an answer without a complete head: {answer:?}"
            );
        }
        Err(Failure::Timeout | Failure::ConnectTimeout | Failure::Refused) => {
            panic!("{result:?}: the exchange should have ended by itself")
        }
        Err(_) => {}
    }
});
