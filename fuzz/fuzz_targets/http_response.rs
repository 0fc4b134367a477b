//! Fuzzes ddboot's HTTP/1.1 response parser (private, async) through its public entry point,
//! `ddboot::http::request`, over a loopback socket: a server on 127.0.0.1 reads the request,
//! answers with the fuzz input verbatim, half-closes and waits for the client to hang up. The
//! first byte picks the body cap (0 to 2040 bytes) so the over-cap paths are reachable.
//!
//! Whatever the answer, the client never panics and never hangs (the server always ends the
//! exchange, so a `Timeout` would be a parser loop); an accepted answer has a final (non-1xx)
//! three-digit status and a body within the cap, empty for 204 and 304.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use ddboot::http::{self, Endpoint, Failure};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind on loopback");
        let addr = listener.local_addr().expect("local addr");
        let endpoint = Endpoint::parse(&format!("http://{addr}")).expect("loopback endpoint");
        Harness { rt, listener, endpoint }
    })
}

/// Reads the request head, sends `answer`, half-closes, then waits until the client hangs up.
async fn serve(listener: &TcpListener, answer: &[u8]) {
    let (mut conn, _) = listener.accept().await.expect("accept");
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    // The client may give up mid-answer (a reset here is fine).
    let _ = conn.write_all(answer).await;
    let _ = conn.shutdown().await;
    while let Ok(n) = conn.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap_byte, answer)) = data.split_first() else { return };
    let cap = usize::from(cap_byte) * 8;
    let h = harness();
    let result = h.rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        let path = h.endpoint.path("/latest/meta-data/local-ipv4");
        let client = http::request(&h.endpoint, "GET", &path, &[], cap, deadline, deadline);
        let ((), result) = tokio::join!(serve(&h.listener, answer), client);
        result
    });
    match result {
        Ok(r) => {
            // Any three digits pass, so "050" gives status 50 (RFC 9110 wants 100..=599); ddboot
            // treats such a status as a failed answer, which is harmless.
            assert!(r.status <= 999 && !(100..200).contains(&r.status), "status {}", r.status);
            assert!(r.body.len() <= cap, "body of {} bytes over the cap of {cap}", r.body.len());
            if r.status == 204 || r.status == 304 {
                assert!(r.body.is_empty(), "{} with a body", r.status);
            }
            assert!(answer.contains(&b'\n'), "accepted an answer without a line: {answer:?}");
        }
        Err(Failure::Timeout | Failure::ConnectTimeout | Failure::Refused) => {
            panic!("{result:?}: the exchange should have ended by itself")
        }
        Err(_) => {}
    }
});
