//! A deliberately small HTTP/1.1 client for the link-local metadata endpoints.
//!
//! IMDS and the ECS task metadata endpoint speak plain HTTP on an IP literal, so this client
//! does exactly that and nothing else: one request per connection (`Connection: close`), no
//! proxy, no redirects, no DNS, no compression, no extra headers (no `X-Forwarded-For`), every
//! body capped and rejected (not truncated) when larger. Each request is bounded by an absolute
//! deadline, and failures are classified the way the resolution rules need them: refused or
//! unreachable (give up on the endpoint), a timeout or reset after connecting (what the IMDS
//! hop limit looks like), or a bad answer. This module owns the endpoint, the connection and
//! that classification; reading the answer is left to hyper's HTTP/1 client over our own
//! `TcpStream` (read buffer capped at 8 KiB, body through `http_body_util::Limited`), so memory
//! is bounded whatever a peer streams and its strict parser rejects lenient framing
//! (`Content-Length: +8`, signed chunk sizes, `HTTP/1.9`). reqwest would cost about 600 KiB
//! and reads proxies from the environment by default.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, timeout_at};

/// The largest response head (status line and headers) accepted, and the most hyper buffers
/// at any time (its minimum `max_buf_size`).
const MAX_HEAD: usize = 8 * 1024;
/// The most interim (1xx) answers accepted before the final one. Metadata endpoints send none.
const MAX_INTERIM: usize = 16;

/// A metadata endpoint: an IP address, a port and a base path, parsed from an `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    addr: SocketAddr,
    /// `host[:port]` as written in the `Host` header.
    authority: String,
    /// The URL's path without a trailing slash ("" for none).
    base: String,
}

impl Endpoint {
    /// Parses `http://HOST[:PORT][/PATH]` where HOST is an IPv4 literal, a bracketed IPv6 literal
    /// or `localhost`. ddboot resolves no names: metadata endpoints are addresses by nature.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim();
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if path.bytes().any(|b| !b.is_ascii_graphic() || b == b'?' || b == b'#') {
            return Err(format!("{url:?}: the path must be plain ASCII (no spaces, query or fragment)"));
        }
        if authority.contains('@') {
            return Err(format!("{url:?}: credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| format!("{url:?}: bad host or port"))?;
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            host.parse()
                .map_err(|_| format!("{url:?}: the host must be an IP address (ddboot does not use DNS)"))?
        };
        Ok(Endpoint {
            addr: SocketAddr::new(ip, port.unwrap_or(80)),
            authority: authority.to_string(),
            base: path.trim_end_matches('/').to_string(),
        })
    }

    /// The socket address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request target for `suffix` under the endpoint's base path ("/" at least).
    pub fn path(&self, suffix: &str) -> String {
        let p = format!("{}{}", self.base, suffix);
        if p.is_empty() { "/".into() } else { p }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → (host without brackets, port).
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']')?;
        let after = &v6[end + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (&v6[..end], port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|&n| n > 0)?)
        }
        Some(_) => return None,
    };
    Some((host, port))
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request produced no complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The connection was refused: nothing listens there.
    Refused,
    /// The network said the endpoint cannot be reached (ICMP unreachable, no route, no address).
    Unreachable(String),
    /// No connection could be made before the deadline (a blackhole).
    ConnectTimeout,
    /// Connected, but the answer did not arrive (completely) before the deadline.
    Timeout,
    /// Connected, then the peer reset or closed the connection early.
    Reset(String),
    /// The body is larger than allowed.
    TooLarge(usize),
    /// The answer is not HTTP/1.x as expected.
    Malformed(String),
    /// The caller's policy did not let the request go out.
    NotSent(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused => f.write_str("connection refused"),
            Failure::Unreachable(why) => write!(f, "unreachable ({why})"),
            Failure::ConnectTimeout => {
                f.write_str("no TCP connection in the time allowed (route blackholed?)")
            }
            Failure::Timeout => f.write_str("no answer before the deadline"),
            Failure::Reset(why) => write!(f, "connection reset ({why})"),
            Failure::TooLarge(cap) => write!(f, "body larger than {cap} bytes, rejected"),
            Failure::Malformed(why) => write!(f, "malformed answer ({why})"),
            Failure::NotSent(why) => write!(f, "not sent: {why}"),
        }
    }
}

/// One request: `method path` with `headers`, connect bounded by `connect_by`, everything by
/// `deadline`; a body over `cap` bytes is a failure.
pub async fn request(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    cap: usize,
    connect_by: Instant,
    deadline: Instant,
) -> Result<Response, Failure> {
    let request = build_request(endpoint, method, path, headers)?;
    let stream = match timeout_at(connect_by.min(deadline), TcpStream::connect(endpoint.addr)).await {
        Err(_) => return Err(Failure::ConnectTimeout),
        Ok(Err(e)) => return Err(connect_failure(&e)),
        Ok(Ok(s)) => s,
    };
    timeout_at(deadline, exchange(stream, request, cap)).await.unwrap_or(Err(Failure::Timeout))
}

/// The request exactly as ddboot sends it: `Host`, the caller's headers, `Content-Length: 0`
/// on a method other than GET, `Connection: close`, and nothing else.
fn build_request(
    endpoint: &Endpoint,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<hyper::Request<Empty<Bytes>>, Failure> {
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, endpoint.authority.as_str());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if method != "GET" {
        builder = builder.header(hyper::header::CONTENT_LENGTH, "0");
    }
    builder
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::new())
        .map_err(|_| Failure::NotSent("the request is not valid HTTP (method, path or header)"))
}

/// Sends `request` on `stream` and reads the answer with hyper's HTTP/1 client: the read
/// buffer never grows past [`MAX_HEAD`] bytes (so a head, a line or a run of interim answers
/// cannot take more), the body goes through [`Limited`] at `cap`, and hyper's strict parser
/// decides what is HTTP/1.x.
async fn exchange(
    stream: TcpStream,
    mut request: hyper::Request<Empty<Bytes>>,
    cap: usize,
) -> Result<Response, Failure> {
    // hyper skips interim (1xx) answers however many come; a peer that sends nothing else is
    // told apart from a silent one after MAX_INTERIM of them.
    let interim = Arc::new((AtomicUsize::new(0), Notify::new()));
    let counter = Arc::clone(&interim);
    hyper::ext::on_informational(&mut request, move |_| {
        if counter.0.fetch_add(1, Ordering::Relaxed) == MAX_INTERIM {
            counter.1.notify_one();
        }
    });
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .handshake(Io(stream))
        .await
        .map_err(|e| hyper_failure(&e))?;
    let answer = async move {
        let response = sender.send_request(request).await.map_err(|e| hyper_failure(&e))?;
        let status = response.status().as_u16();
        if status < 200 {
            // hyper skips every interim answer but 101, which it hands over as an upgrade.
            return Err(Failure::Malformed(format!(
                "{status} answered to a request that asked for no upgrade"
            )));
        }
        let declared = hyper::body::Body::size_hint(response.body()).exact();
        if declared.is_some_and(|len| len > cap as u64) {
            return Err(Failure::TooLarge(cap));
        }
        let body =
            Limited::new(response.into_body(), cap).collect().await.map_err(|e| body_failure(&*e, cap))?;
        Ok(Response { status, body: body.to_bytes().to_vec() })
    };
    let mut answer = pin!(answer);
    let mut conn = pin!(conn);
    let result = tokio::select! {
        biased;
        done = &mut answer => done,
        () = interim.1.notified() => Err(too_many_interim()),
        // The connection ended first (closed, reset, or a parse error): hyper hands the reason to
        // the pending request or its body, so the answer ends at once.
        _ = &mut conn => answer.await,
    };
    // Checked whichever branch ended the exchange: the flood may have arrived in the same read
    // as the close.
    if interim.0.load(Ordering::Relaxed) > MAX_INTERIM {
        return Err(too_many_interim());
    }
    result
}

fn too_many_interim() -> Failure {
    Failure::Malformed(format!("more than {MAX_INTERIM} interim (1xx) answers"))
}

fn connect_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::TimedOut => Failure::ConnectTimeout,
        _ => Failure::Unreachable(e.to_string()),
    }
}

/// An I/O error after connecting: the peer went away, or (hyper's body decoder reports these as
/// I/O errors too) the framing was invalid.
fn io_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => Failure::Malformed(e.to_string()),
        io::ErrorKind::UnexpectedEof => {
            Failure::Reset("connection closed before the answer was complete".into())
        }
        _ => Failure::Reset(e.to_string()),
    }
}

/// Classifies what hyper reported.
fn hyper_failure(e: &hyper::Error) -> Failure {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return io_failure(io);
        }
        source = cause.source();
    }
    if e.is_incomplete_message() {
        Failure::Reset("connection closed before the answer was complete".into())
    } else {
        // Parse errors, e.g. "message head is too large" (over MAX_HEAD) or "invalid HTTP
        // version parsed".
        Failure::Malformed(e.to_string())
    }
}

/// Classifies an error from the body: over the cap, or what hyper reported.
fn body_failure(e: &(dyn std::error::Error + 'static), cap: usize) -> Failure {
    if e.is::<LengthLimitError>() {
        Failure::TooLarge(cap)
    } else if let Some(e) = e.downcast_ref::<hyper::Error>() {
        hyper_failure(e)
    } else {
        Failure::Malformed(e.to_string())
    }
}

/// The tokio socket through hyper's I/O traits: what hyper-util's `TokioIo` does, in safe code
/// and without the crate.
struct Io(TcpStream);

/// The most one read copies; hyper asks for at most its free buffer space anyway.
const READ_CHUNK: usize = 4096;

impl hyper::rt::Read for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut chunk = [0u8; READ_CHUNK];
        let want = buf.remaining().min(READ_CHUNK);
        let mut read = tokio::io::ReadBuf::new(&mut chunk[..want]);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut read))?;
        buf.put_slice(read.filled());
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for Io {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A peer on 127.0.0.1 that answers one request with bytes given verbatim: what the unit tests
/// and the `http_response` fuzz target serve their answers from. Only built for them (the
/// `loopback-peer` feature), never into ddboot.
#[cfg(any(test, feature = "loopback-peer"))]
pub mod peer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::Endpoint;

    /// A listener on an ephemeral loopback port and the endpoint that names it.
    pub async fn bind() -> (TcpListener, Endpoint) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind on loopback");
        let addr = listener.local_addr().expect("local addr");
        let endpoint = Endpoint::parse(&format!("http://{addr}")).expect("loopback endpoint");
        (listener, endpoint)
    }

    /// Accepts one connection, reads the request head (up to the blank line or the end), sends
    /// `answer`, half-closes, then waits until the client hangs up; returns the head it read.
    pub async fn serve_once(listener: &TcpListener, answer: &[u8]) -> Vec<u8> {
        let (mut conn, _) = listener.accept().await.expect("accept");
        let (mut head, mut chunk) = (Vec::new(), [0u8; 1024]);
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        // The client may give up mid-answer (a reset here is fine).
        let _ = conn.write_all(answer).await;
        let _ = conn.shutdown().await;
        while matches!(conn.read(&mut chunk).await, Ok(1..)) {}
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata_urls() {
        let e = Endpoint::parse("http://169.254.170.2/v4/abc-123/").expect("ok");
        assert_eq!(e.addr(), "169.254.170.2:80".parse().expect("addr"));
        assert_eq!(e.path("/task"), "/v4/abc-123/task");
        assert_eq!(e.path(""), "/v4/abc-123");
        assert_eq!(e.to_string(), "http://169.254.170.2/v4/abc-123");
        let e = Endpoint::parse("HTTP://[fd00:ec2::254]").expect("ok");
        assert_eq!(e.addr(), "[fd00:ec2::254]:80".parse().expect("addr"));
        assert_eq!(e.path(""), "/");
        let e = Endpoint::parse("http://127.0.0.1:8080").expect("ok");
        assert_eq!(e.addr().port(), 8080);
        assert_eq!(e.path("/latest/api/token"), "/latest/api/token");
        let e = Endpoint::parse("http://[::1]:99/x").expect("ok");
        assert_eq!(e.addr(), "[::1]:99".parse().expect("addr"));
        assert!(Endpoint::parse("http://localhost:1").is_ok());
    }

    #[test]
    fn rejects_what_it_cannot_use_safely() {
        for bad in [
            "https://169.254.169.254",
            "169.254.169.254",
            "http://",
            "http://metadata.google.internal",
            "http://1.2.3.4:0",
            "http://1.2.3.4:99999",
            "http://1.2.3.4:",
            "http://u:p@1.2.3.4",
            "http://1.2.3.4/a b",
            "http://1.2.3.4/a?x=1",
            "http://[::1",
            "http://[::1]x",
            "http://1.2.3.4/\r\nX-Forwarded-For: 1",
            "http://1.2.3.4/x\u{85}/",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    /// Serves `raw` to one request on 127.0.0.1 and returns what the client sent (the head) and
    /// what `request` made of the answer (a `PUT` with one header, as the token request does).
    fn exchange_with(raw: &'static [u8], cap: usize) -> (Vec<u8>, Result<Response, Failure>) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let (listener, endpoint) = peer::bind().await;
            let deadline = Instant::now() + std::time::Duration::from_secs(5);
            let headers = [("X-aws-ec2-metadata-token-ttl-seconds", "60")];
            let client = request(&endpoint, "PUT", "/latest/api/token", &headers, cap, deadline, deadline);
            tokio::join!(peer::serve_once(&listener, raw), client)
        })
    }

    fn answer(raw: &'static [u8]) -> Result<Response, Failure> {
        exchange_with(raw, 1024).1
    }

    fn malformed(raw: &'static [u8]) -> String {
        match answer(raw) {
            Err(Failure::Malformed(why)) => why,
            other => panic!("{:?} gave {other:?}, expected a malformed answer", String::from_utf8_lossy(raw)),
        }
    }

    #[test]
    fn sends_only_what_it_must() {
        let (head, result) = exchange_with(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nAQAEA", 1024);
        assert_eq!(result, Ok(Response { status: 200, body: b"AQAEA".to_vec() }));
        let head = String::from_utf8(head).expect("ASCII head");
        let mut lines: Vec<&str> = head.split("\r\n").collect();
        assert_eq!(lines.remove(0), "PUT /latest/api/token HTTP/1.1");
        let mut names: Vec<String> = lines
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap_or("").to_ascii_lowercase())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["connection", "content-length", "host", "x-aws-ec2-metadata-token-ttl-seconds"],
            "{head}"
        );
        assert!(head.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{head}");
        assert!(head.to_ascii_lowercase().contains("\r\ncontent-length: 0\r\n"), "{head}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").map(|r| r.status), Ok(200));
        assert_eq!(answer(b"HTTP/1.0 404\r\n\r\n").map(|r| r.status), Ok(404));
        assert_eq!(
            answer(b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc").map(|r| r.body),
            Ok(vec![])
        );
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 050 X\r\n\r\n",
            b"HTTP/1.9 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ] {
            assert!(matches!(answer(bad), Err(Failure::Malformed(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn lenient_framing_is_refused() {
        assert!(malformed(b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok").contains("content-length"));
        assert!(
            malformed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
                .contains("content-length")
        );
        assert!(
            malformed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nok\r\n0\r\n\r\n")
                .contains("chunk size")
        );
        assert!(
            malformed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nok\r\n0\r\n\r\n")
                .contains("chunk size")
        );
        let upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert!(malformed(upgrade).contains("101"));
    }

    #[test]
    fn interim_answers_are_skipped_up_to_a_limit() {
        let ok = answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(ok, Ok(Response { status: 200, body: b"ok".to_vec() }));
        let flood: &'static [u8] = "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM + 1).leak().as_bytes();
        assert!(matches!(answer(flood), Err(Failure::Malformed(why)) if why.contains("interim")));
    }

    #[test]
    fn bodies_are_capped_and_chunks_and_trailers_bounded() {
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(answer(chunked).map(|r| r.body), Ok(b"ok!".to_vec()));
        assert_eq!(
            exchange_with(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n12345", 4).1,
            Err(Failure::TooLarge(4))
        );
        assert_eq!(exchange_with(b"HTTP/1.1 200 OK\r\n\r\n12345", 4).1, Err(Failure::TooLarge(4)));
        assert_eq!(exchange_with(b"HTTP/1.1 200 OK\r\n\r\n1234", 4).1.map(|r| r.body), Ok(b"1234".to_vec()));
        let chunked_over =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n123\r\n2\r\n45\r\n0\r\n\r\n";
        assert_eq!(exchange_with(chunked_over, 4).1, Err(Failure::TooLarge(4)));
        let mut trailers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
        trailers.extend("X-T: aaaaaaaaaaaaaaaa\r\n".repeat(2000).as_bytes());
        trailers.extend_from_slice(b"\r\n");
        assert!(malformed(trailers.leak()).contains("trailers"));
    }

    #[test]
    fn early_ends_are_resets_and_huge_heads_malformed() {
        assert!(matches!(answer(b""), Err(Failure::Reset(_))));
        assert!(matches!(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n10."), Err(Failure::Reset(_))));
        assert!(matches!(
            answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n10."),
            Err(Failure::Reset(_))
        ));
        let mut head = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 9 * 1024));
        head.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
        assert!(malformed(head.leak()).contains("too large"));
    }
}
