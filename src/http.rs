//! A deliberately small HTTP/1.1 client for the link-local metadata endpoints.
//!
//! IMDS and the ECS task metadata endpoint speak plain HTTP on an IP literal, so this client
//! does exactly that and nothing else: one request per connection (`Connection: close`), no
//! proxy, no redirects, no DNS, no compression, no extra headers (no `X-Forwarded-For`), every
//! body capped and rejected (not truncated) when larger. Each request is bounded by an absolute
//! deadline, and failures are classified the way the resolution rules need them: refused or
//! unreachable (give up on the endpoint), a timeout or reset after connecting (what the IMDS
//! hop limit looks like), or a bad answer. It replaces reqwest, which cost about 490 KB of the
//! binary's 2 MiB budget for features ddboot must switch off anyway.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// The largest response head (status line and headers) accepted.
const MAX_HEAD: usize = 8 * 1024;

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

impl Failure {
    /// True for failures that happen before anything reached the endpoint: retrying or falling
    /// back to another request to the same endpoint cannot help.
    pub fn endpoint_unreachable(&self) -> bool {
        matches!(self, Failure::Refused | Failure::Unreachable(_) | Failure::ConnectTimeout)
    }
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
    let stream = match timeout_at(connect_by.min(deadline), TcpStream::connect(endpoint.addr)).await {
        Err(_) => return Err(Failure::ConnectTimeout),
        Ok(Err(e)) => return Err(connect_failure(&e)),
        Ok(Ok(s)) => s,
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", endpoint.authority);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    let exchange = async move {
        let mut conn = Conn { stream, buf: Vec::with_capacity(1024), pos: 0 };
        conn.stream.write_all(head.as_bytes()).await.map_err(|e| io_failure(&e))?;
        conn.response(cap).await
    };
    timeout_at(deadline, exchange).await.unwrap_or(Err(Failure::Timeout))
}

fn connect_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::TimedOut => Failure::ConnectTimeout,
        _ => Failure::Unreachable(e.to_string()),
    }
}

fn io_failure(e: &io::Error) -> Failure {
    Failure::Reset(e.to_string())
}

/// A buffered reader over one connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

impl Conn {
    /// Reads more bytes into the buffer; false at end of stream.
    async fn fill(&mut self) -> Result<bool, Failure> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 2048];
        let n = self.stream.read(&mut chunk).await.map_err(|e| io_failure(&e))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// One line without its CRLF (or LF); at most `max` bytes.
    async fn line(&mut self, max: usize) -> Result<Vec<u8>, Failure> {
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let mut line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() - self.pos > max {
                return Err(Failure::Malformed("line too long".into()));
            }
            if !self.fill().await? {
                return Err(Failure::Reset("connection closed mid-answer".into()));
            }
        }
    }

    /// Exactly `n` bytes.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, Failure> {
        while self.buf.len() - self.pos < n {
            if !self.fill().await? {
                return Err(Failure::Reset("connection closed before the body was complete".into()));
            }
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    /// Everything until the peer closes, at most `cap` bytes.
    async fn rest(&mut self, cap: usize) -> Result<Vec<u8>, Failure> {
        loop {
            if self.buf.len() - self.pos > cap {
                return Err(Failure::TooLarge(cap));
            }
            if !self.fill().await? {
                return Ok(self.buf[self.pos..].to_vec());
            }
        }
    }

    /// Status line, headers (skipping 1xx interim answers), then the body by its framing.
    async fn response(&mut self, cap: usize) -> Result<Response, Failure> {
        loop {
            let head = self.head().await?;
            if (100..200).contains(&head.status) {
                continue;
            }
            let body = if head.status == 204 || head.status == 304 {
                Vec::new()
            } else if head.chunked {
                self.chunked(cap).await?
            } else if let Some(len) = head.length {
                if len > cap {
                    return Err(Failure::TooLarge(cap));
                }
                self.take(len).await?
            } else {
                self.rest(cap).await?
            };
            return Ok(Response { status: head.status, body });
        }
    }

    async fn head(&mut self) -> Result<Head, Failure> {
        let status_line = self.line(MAX_HEAD).await.map_err(|e| match e {
            Failure::Reset(_) => Failure::Reset("connection closed without an answer".into()),
            other => other,
        })?;
        let status = parse_status_line(&status_line)?;
        let mut head = Head { status, length: None, chunked: false };
        let mut total = status_line.len();
        loop {
            let line = self.line(MAX_HEAD).await?;
            total += line.len() + 2;
            if total > MAX_HEAD {
                return Err(Failure::Malformed("headers too large".into()));
            }
            if line.is_empty() {
                return Ok(head);
            }
            let text = String::from_utf8_lossy(&line);
            let Some((name, value)) = text.split_once(':') else {
                return Err(Failure::Malformed("header without a colon".into()));
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                let len = value.parse().map_err(|_| Failure::Malformed("bad Content-Length".into()))?;
                if head.length.is_some_and(|l| l != len) {
                    return Err(Failure::Malformed("conflicting Content-Length".into()));
                }
                head.length = Some(len);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.to_ascii_lowercase().split(',').any(|v| v.trim() == "chunked");
            }
        }
    }

    async fn chunked(&mut self, cap: usize) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        loop {
            let line = self.line(256).await?;
            let size_text = String::from_utf8_lossy(&line);
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| Failure::Malformed("bad chunk size".into()))?;
            if size == 0 {
                // Trailers, if any, end with an empty line; they carry nothing ddboot needs.
                while !self.line(MAX_HEAD).await?.is_empty() {}
                return Ok(body);
            }
            if body.len().saturating_add(size) > cap {
                return Err(Failure::TooLarge(cap));
            }
            body.extend(self.take(size).await?);
            if !self.line(2).await?.is_empty() {
                return Err(Failure::Malformed("chunk not followed by CRLF".into()));
            }
        }
    }
}

struct Head {
    status: u16,
    length: Option<usize>,
    chunked: bool,
}

/// `HTTP/1.x NNN reason` → NNN.
fn parse_status_line(line: &[u8]) -> Result<u16, Failure> {
    let text = std::str::from_utf8(line).map_err(|_| Failure::Malformed("status line is not text".into()))?;
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    let valid_code = code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
        && (b'1'..=b'5').contains(&code.as_bytes()[0]);
    if !version.starts_with("HTTP/1.") || !valid_code {
        return Err(Failure::Malformed(format!("not an HTTP/1.x status line: {:?}", truncate(text, 40))));
    }
    code.parse().map_err(|_| Failure::Malformed("bad status code".into()))
}

/// At most `max` characters of `s`, for messages.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
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

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Ok(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 404"), Ok(404));
        assert!(parse_status_line(b"SSH-2.0-OpenSSH").is_err());
        assert!(parse_status_line(b"HTTP/1.1 20 OK").is_err());
        assert!(parse_status_line(b"HTTP/2 200").is_err());
        assert!(parse_status_line(b"HTTP/1.1 050 X").is_err());
        assert!(parse_status_line(b"HTTP/1.1 600 X").is_err());
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 5), "hi");
    }
}
