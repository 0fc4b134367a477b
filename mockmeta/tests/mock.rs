//! Tests of the [`mockmeta::Mock`] library against a plain std `TcpStream` client on 127.0.0.1:
//! the IMDSv2 token flow and its validation, the failure behaviours (hang, reset, drip, chunked,
//! 503 under load), the ECS task metadata paths, request parsing and the request log.

use mockmeta::{Behaviour, Get, Mock, Put, TaskMeta, Tokens};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    /// Raw body bytes (not de-chunked).
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to the mock");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Send a raw request and read the whole response (the mock closes after one).
fn raw(addr: SocketAddr, request: &str) -> io::Result<Response> {
    let mut s = connect(addr);
    s.write_all(request.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8(buf[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    Ok(Response { status, headers, body: buf[split + 4..].to_vec() })
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    raw(addr, &req).expect("a response")
}

fn put_token(addr: SocketAddr, ttl: &str) -> Response {
    request(addr, "PUT", "/latest/api/token", &[("X-aws-ec2-metadata-token-ttl-seconds", ttl)])
}

fn get_ipv4(addr: SocketAddr, token: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = token.map(|t| vec![("X-aws-ec2-metadata-token", t)]).unwrap_or_default();
    request(addr, "GET", "/latest/meta-data/local-ipv4", &headers)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap(), 16).unwrap();
        body = &body[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n");
        body = &body[size + 2..];
    }
}

/// Send a request and expect no answer within 300 ms.
fn assert_silent(addr: SocketAddr, request: &str) -> TcpStream {
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).expect_err("the mock must not answer");
    assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{err:?}");
    s
}

fn assert_reset(addr: SocketAddr, request: &str) {
    let mut s = connect(addr);
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let err = s.read_to_end(&mut buf).expect_err("a reset, not a response");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err:?}");
    assert!(buf.is_empty());
}

const PUT_REQ: &str = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
const GET_REQ: &str = "GET /latest/meta-data/local-ipv4 HTTP/1.1\r\n\r\n";

#[test]
fn token_flow_with_required_tokens() {
    let mock = Mock::start(Behaviour { tokens: Tokens::Required, ..Behaviour::default() });
    let addr = mock.addr();

    assert_eq!(get_ipv4(addr, None).status, 401);

    let put = put_token(addr, "21600");
    assert_eq!(put.status, 200);
    assert_eq!(put.header("Connection"), Some("close"));
    assert_eq!(put.header("x-aws-ec2-metadata-token-ttl-seconds"), Some("21600"));
    let token = put.text();
    assert_eq!(token.len(), 56);

    let ok = get_ipv4(addr, Some(&token));
    assert_eq!((ok.status, ok.text().as_str()), (200, "10.0.1.43"));
    assert_eq!(ok.header("Content-Length"), Some("9"));
    assert_eq!(get_ipv4(addr, Some("not-a-token")).status, 401);

    let second = put_token(addr, "1").text();
    assert_ne!(second, token);

    assert_eq!(mock.token_puts(), 2);
    assert_eq!(mock.tokenless_gets(), 1);
    assert_eq!(mock.token_gets(), 2);
    assert_eq!(mock.issued_tokens(), vec![token, second]);
}

#[test]
fn optional_tokens_still_reject_unknown_tokens() {
    let mock = Mock::start(Behaviour { local_ipv4: "192.0.2.7".into(), ..Behaviour::default() });
    assert_eq!(get_ipv4(mock.addr(), None).text(), "192.0.2.7");
    assert_eq!(get_ipv4(mock.addr(), Some("bogus")).status, 401);
    assert_eq!(mock.tokenless_gets(), 1);
    assert_eq!(mock.token_gets(), 1);
}

#[test]
fn token_ttl_validation() {
    let mock = Mock::start(Behaviour::default());
    for bad in ["0", "21601", "abc", "-5", ""] {
        assert_eq!(put_token(mock.addr(), bad).status, 400, "ttl {bad:?}");
    }
    let missing = request(mock.addr(), "PUT", "/latest/api/token", &[]);
    assert_eq!(missing.status, 400);
    assert_eq!(put_token(mock.addr(), "1").status, 200);
    assert_eq!(mock.issued_tokens().len(), 1);
}

#[test]
fn forwarded_and_versioned_puts_are_forbidden() {
    let mock = Mock::start(Behaviour::default());
    let ttl = ("X-aws-ec2-metadata-token-ttl-seconds", "60");
    let xff = request(mock.addr(), "PUT", "/latest/api/token", &[ttl, ("X-Forwarded-For", "10.0.0.1")]);
    assert_eq!(xff.status, 403);
    let versioned = request(mock.addr(), "PUT", "/2021-01-01/api/token", &[ttl]);
    assert_eq!(versioned.status, 403);
    assert_eq!(request(mock.addr(), "GET", "/latest/api/token", &[]).status, 405);
    assert!(mock.issued_tokens().is_empty());
    assert_eq!(mock.token_puts(), 1);
    assert_eq!(mock.count("PUT", "/2021-01-01/api/token"), 1);
}

#[test]
fn put_hang_never_answers_but_is_logged() {
    let mock = Mock::start(Behaviour { put: Put::Hang, ..Behaviour::default() });
    let _held = assert_silent(mock.addr(), PUT_REQ);
    assert_eq!(mock.token_puts(), 1);
    assert!(mock.issued_tokens().is_empty());
}

#[test]
fn get_hang_and_task_hang_never_answer() {
    let mock =
        Mock::start(Behaviour { get: Get::Hang, task_metadata: TaskMeta::Hang, ..Behaviour::default() });
    let _a = assert_silent(mock.addr(), GET_REQ);
    let _b = assert_silent(mock.addr(), "GET /v4/mock-container HTTP/1.1\r\n\r\n");
    assert_eq!(mock.requests().len(), 2);
}

#[test]
fn put_and_get_reset() {
    let put = Mock::start(Behaviour { put: Put::Reset, ..Behaviour::default() });
    assert_reset(put.addr(), PUT_REQ);
    let get = Mock::start(Behaviour { get: Get::Reset, ..Behaviour::default() });
    assert_reset(get.addr(), GET_REQ);
    assert_eq!(put.token_puts() + get.tokenless_gets(), 2);
}

#[test]
fn put_status_and_fail_then_token() {
    let mock = Mock::start(Behaviour {
        put: Put::FailThenToken { failures: 2, status: 500 },
        ..Behaviour::default()
    });
    assert_eq!(put_token(mock.addr(), "60").status, 500);
    assert_eq!(put_token(mock.addr(), "60").status, 500);
    assert_eq!(put_token(mock.addr(), "60").status, 200);
    assert_eq!(mock.issued_tokens().len(), 1);

    let mock = Mock::start(Behaviour { put: Put::Status(404), ..Behaviour::default() });
    let r = put_token(mock.addr(), "60");
    assert_eq!(r.status, 404);
    assert!(r.text().contains("404 - Not Found"));
}

#[test]
fn chunked_forever_keeps_streaming() {
    let mock = Mock::start(Behaviour { get: Get::ChunkedForever, ..Behaviour::default() });
    let mut s = connect(mock.addr());
    s.write_all(GET_REQ.as_bytes()).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = Vec::new();
    while total.len() <= 64 * 1024 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended after {} bytes", total.len());
        total.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&total[..200]);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"));
    assert!(head.contains("\r\n\r\n200\r\n1111"));
}

#[test]
fn max_concurrent_answers_503() {
    let mock = Mock::start(Behaviour { get: Get::Hang, max_concurrent: Some(1), ..Behaviour::default() });
    let mut first = connect(mock.addr());
    first.write_all(GET_REQ.as_bytes()).unwrap();
    assert!(mock.wait_for_requests(1, TIMEOUT));

    assert_eq!(get_ipv4(mock.addr(), None).status, 503);
    assert_eq!(
        request(mock.addr(), "PUT", "/latest/api/token", &[]).status,
        503,
        "the limit is across all paths"
    );
    assert!(mock.max_concurrent_seen() >= 2);
    assert_eq!(mock.tokenless_gets(), 2);
}

#[test]
fn sequential_requests_never_trip_max_concurrent() {
    let mock = Mock::start(Behaviour { max_concurrent: Some(1), ..Behaviour::default() });
    for _ in 0..20 {
        assert_eq!(get_ipv4(mock.addr(), None).status, 200);
    }
}

#[test]
fn put_ip_ttl_still_issues_tokens() {
    let mock = Mock::start(Behaviour { put_ip_ttl: Some(1), ..Behaviour::default() });
    let put = put_token(mock.addr(), "60");
    assert_eq!(put.status, 200);
    assert_eq!(get_ipv4(mock.addr(), Some(&put.text())).status, 200);
}

#[test]
fn get_variants() {
    let body =
        Mock::start(Behaviour { get: Get::Body(b"10.0.0.1\n\0junk".to_vec()), ..Behaviour::default() });
    let r = get_ipv4(body.addr(), None);
    assert_eq!(r.body, b"10.0.0.1\n\0junk");
    assert_eq!(r.header("Content-Length"), Some("14"));

    let status = Mock::start(Behaviour { get: Get::Status(500), ..Behaviour::default() });
    assert_eq!(get_ipv4(status.addr(), None).status, 500);

    let redirect = Mock::start(Behaviour {
        get: Get::Redirect("http://127.0.0.1:9/elsewhere".into()),
        ..Behaviour::default()
    });
    let r = get_ipv4(redirect.addr(), None);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("http://127.0.0.1:9/elsewhere"));

    let unauthorized = Mock::start(Behaviour { get: Get::UnauthorizedFirst(2), ..Behaviour::default() });
    let token = put_token(unauthorized.addr(), "60").text();
    assert_eq!(get_ipv4(unauthorized.addr(), Some(&token)).status, 401);
    assert_eq!(get_ipv4(unauthorized.addr(), None).status, 401);
    assert_eq!(get_ipv4(unauthorized.addr(), Some(&token)).status, 200);
    assert_eq!(get_ipv4(unauthorized.addr(), Some("bogus")).status, 401);

    let other = request(status.addr(), "GET", "/latest/meta-data/instance-id", &[]);
    assert_eq!(other.status, 404);
    assert_eq!(request(status.addr(), "GET", "/", &[]).status, 404);
}

#[test]
fn drip_sends_one_byte_per_interval() {
    let mock = Mock::start(Behaviour {
        get: Get::Drip { body: b"abc".to_vec(), interval: Duration::from_millis(30) },
        ..Behaviour::default()
    });
    let started = Instant::now();
    let r = get_ipv4(mock.addr(), None);
    assert!(started.elapsed() >= Duration::from_millis(90));
    assert_eq!((r.status, r.body.as_slice()), (200, b"abc".as_slice()));
    assert_eq!(r.header("Content-Length"), Some("3"));
}

#[test]
fn task_metadata_paths() {
    let big = format!("{{\"Containers\":[{}]}}", vec!["{\"Name\":\"x\"}"; 400].join(","));
    assert!(big.len() > 2048);
    let mock = Mock::start(Behaviour {
        container_json: Some("{\"Name\":\"app\"}".into()),
        task_json: Some(big.clone()),
        ..Behaviour::default()
    });
    let c = request(mock.addr(), "GET", "/v4/mock-container", &[]);
    assert_eq!((c.status, c.text().as_str()), (200, "{\"Name\":\"app\"}"));
    assert_eq!(c.header("Content-Type"), Some("application/json"));
    assert_eq!(c.header("Content-Length"), Some("14"));
    let t = request(mock.addr(), "GET", "/v4/mock-container/task", &[]);
    assert_eq!(t.status, 200);
    assert_eq!(t.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(t.header("Content-Length"), None);
    assert_eq!(dechunk(&t.body), big.as_bytes());
    assert!(mock.task_metadata_uri().ends_with("/v4/mock-container"));

    let empty = Mock::start(Behaviour::default());
    let r = request(empty.addr(), "GET", "/v4/mock-container/task", &[]);
    assert_eq!((r.status, r.text().as_str()), (404, "\"not found\""));

    let failing = Mock::start(Behaviour {
        container_json: Some("{}".into()),
        task_metadata: TaskMeta::Status(500),
        ..Behaviour::default()
    });
    assert_eq!(request(failing.addr(), "GET", "/v4/mock-container", &[]).status, 500);

    let slow = Mock::start(Behaviour {
        container_json: Some("{}".into()),
        task_metadata: TaskMeta::Delay(Duration::from_millis(100)),
        ..Behaviour::default()
    });
    let started = Instant::now();
    assert_eq!(request(slow.addr(), "GET", "/v4/mock-container", &[]).text(), "{}");
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn response_delay_applies_to_every_request() {
    let mock =
        Mock::start(Behaviour { response_delay: Some(Duration::from_millis(100)), ..Behaviour::default() });
    let started = Instant::now();
    assert_eq!(put_token(mock.addr(), "60").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[test]
fn malformed_requests_get_400() {
    let mock = Mock::start(Behaviour::default());
    for bad in [
        "GARBAGE\r\n\r\n",
        "GET /latest/meta-data/local-ipv4 HTTP/9.9\r\n\r\n",
        "GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nno colon here\r\n\r\n",
        "PUT /latest/api/token HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
    ] {
        assert_eq!(raw(mock.addr(), bad).unwrap().status, 400, "{bad:?}");
    }
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(17 * 1024));
    assert_eq!(raw(mock.addr(), &huge).unwrap().status, 400);
    // Bodies are read and discarded; bare LF line endings are accepted.
    let with_body =
        "PUT /latest/api/token HTTP/1.1\nX-aws-ec2-metadata-token-ttl-seconds: 5\nContent-Length: 4\n\nbody";
    assert_eq!(raw(mock.addr(), with_body).unwrap().status, 200);
}

#[test]
fn log_records_everything_in_order() {
    let mock = Mock::start(Behaviour::default());
    let token = put_token(mock.addr(), "60").text();
    get_ipv4(mock.addr(), Some(&token));
    get_ipv4(mock.addr(), None);
    request(mock.addr(), "GET", "/v4/mock-container?x=1", &[]);

    let log = mock.requests();
    let seen: Vec<(&str, &str)> = log.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/meta-data/local-ipv4"),
            ("GET", "/latest/meta-data/local-ipv4"),
            ("GET", "/v4/mock-container?x=1"),
        ]
    );
    assert_eq!(log[0].header("x-AWS-ec2-metadata-token-TTL-seconds"), Some("60"));
    assert_eq!(log[1].header("X-aws-ec2-metadata-token"), Some(token.as_str()));
    assert_eq!(log[2].header("X-aws-ec2-metadata-token"), None);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(mock.count("GET", "/latest/meta-data/local-ipv4"), 2);
    assert_eq!(mock.count("POST", "/latest/meta-data/local-ipv4"), 0);
    let json = log[0].to_json();
    assert_eq!(json["method"], "PUT");
    assert_eq!(json["headers"]["X-aws-ec2-metadata-token-ttl-seconds"], "60");
    assert_eq!(mock.max_concurrent_seen(), 1);
}

#[test]
fn drop_stops_listening() {
    let mock = Mock::start(Behaviour::default());
    let addr = mock.addr();
    assert!(mock.url().starts_with("http://127.0.0.1:"));
    drop(mock);
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn ipv6_loopback_url_and_put_ttl() {
    let Ok(mock) =
        Mock::start_on("[::1]:0".parse().unwrap(), Behaviour { put_ip_ttl: Some(2), ..Behaviour::default() })
    else {
        return; // no IPv6 on this machine
    };
    assert!(mock.url().starts_with("http://[::1]:"), "{}", mock.url());
    assert_eq!(put_token(mock.addr(), "60").status, 200);
}

/// An IPv6-only instance: `local-ipv4` answers 404, `ipv6` answers (token rules alike), and the
/// listing names both; without `ipv6` set, `ipv6` is a 404 like any unknown item.
#[test]
fn ipv6_only_instance_and_ipv6_loopback_listener() {
    let b = Behaviour {
        ipv6: Some("2600:1f14:abc:de00::17".into()),
        get: Get::Status(404),
        tokens: Tokens::Required,
        ..Behaviour::default()
    };
    // On [::1] where the host has IPv6 loopback, else on 127.0.0.1.
    let mock = Mock::start_ipv6_loopback(b.clone()).unwrap_or_else(|| Mock::start(b));
    let addr = mock.addr();
    assert!(mock.url().starts_with(if addr.is_ipv6() { "http://[::1]:" } else { "http://127.0.0.1:" }));
    let token = put_token(addr, "60").text();
    assert_eq!(get_ipv4(addr, Some(&token)).status, 404);
    let v6 = request(addr, "GET", mockmeta::IPV6_PATH, &[("X-aws-ec2-metadata-token", &token)]);
    assert_eq!((v6.status, v6.text().as_str()), (200, "2600:1f14:abc:de00::17"));
    assert_eq!(request(addr, "GET", mockmeta::IPV6_PATH, &[]).status, 401);
    let listing = request(addr, "GET", "/latest/meta-data/", &[("X-aws-ec2-metadata-token", &token)]);
    assert_eq!(listing.text(), "ipv6\nlocal-ipv4");

    let plain = Mock::start(Behaviour::default());
    assert_eq!(request(plain.addr(), "GET", mockmeta::IPV6_PATH, &[]).status, 404);
    assert_eq!(get_ipv4(plain.addr(), None).text(), "10.0.1.43");
}
