//! `mockmeta` owns a small, std-only HTTP/1.1 mock of the EC2 instance metadata service
//! (IMDSv1/IMDSv2: `PUT /latest/api/token`, `GET /latest/meta-data/local-ipv4`, and
//! `GET /latest/meta-data/ipv6` for IPv6-only instances, also on an IPv6 listener) and of the ECS
//! task metadata endpoint v4 (`GET /v4/mock-container`, `GET /v4/mock-container/task`), used by
//! ddboot's integration tests (through [`Mock`]) and by shell scripts (through the `mockmeta`
//! binary). One thread per connection, one request per connection (`Connection: close`), and
//! every request is logged before its [`Behaviour`] runs so tests can assert what was *not* sent.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// IMDSv2 session token endpoint.
pub const TOKEN_PATH: &str = "/latest/api/token";
/// The metadata item ddboot reads.
pub const LOCAL_IPV4_PATH: &str = "/latest/meta-data/local-ipv4";
/// The item ddboot reads after `local-ipv4` answered 404 (IPv6-only instances).
pub const IPV6_PATH: &str = "/latest/meta-data/ipv6";
/// Request header carrying an IMDSv2 token on GETs.
pub const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Request header (on PUT) and response header carrying the token TTL.
pub const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
/// ECS task metadata v4 path of "this container" (what `ECS_CONTAINER_METADATA_URI_V4` points at).
pub const CONTAINER_PATH: &str = "/v4/mock-container";
/// ECS task metadata v4 path of the task.
pub const TASK_PATH: &str = "/v4/mock-container/task";

const META_PREFIX: &str = "/latest/meta-data/";
const MAX_HEAD: usize = 16 * 1024;
const MAX_DISCARDED_BODY: u64 = 1024 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const HANG_FOR: Duration = Duration::from_secs(600);
const DRAIN_FOR: Duration = Duration::from_secs(2);
const CHUNK_THRESHOLD: usize = 2048;
const JSON_CHUNK: usize = 1000;

/// One logged request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target exactly as sent (including any query string).
    pub path: String,
    /// Headers in the order and case they were sent.
    pub headers: Vec<(String, String)>,
    /// Time since the mock started.
    pub at: Duration,
}

impl Request {
    /// First header with that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `{"method":..,"path":..,"headers":{..},"at_ms":..}`; repeated headers are joined by ", ".
    pub fn to_json(&self) -> serde_json::Value {
        let mut headers = serde_json::Map::new();
        for (name, value) in &self.headers {
            match headers.get_mut(name) {
                Some(serde_json::Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(value);
                }
                _ => {
                    headers.insert(name.clone(), serde_json::Value::String(value.clone()));
                }
            }
        }
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "headers": headers,
            "at_ms": u64::try_from(self.at.as_millis()).unwrap_or(u64::MAX),
        })
    }

    fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

/// How the mock answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// Body of `GET /latest/meta-data/local-ipv4` (default "10.0.1.43").
    pub local_ipv4: String,
    /// Body of `GET /latest/meta-data/ipv6`; `None` (the default) answers 404, as on an instance
    /// without IPv6. An IPv6-only instance is `ipv6: Some(..)` with `get: Get::Status(404)`.
    pub ipv6: Option<String>,
    pub put: Put,
    pub get: Get,
    pub tokens: Tokens,
    /// IP TTL (IPv6 unicast hop limit on IPv6 sockets) set on connections whose request is a
    /// token PUT, before the response is written: emulates EC2's `HttpPutResponseHopLimit`.
    pub put_ip_ttl: Option<u32>,
    /// Answer 503 to a request arriving while N requests are already being served.
    pub max_concurrent: Option<usize>,
    /// Body of `GET /v4/mock-container`.
    pub container_json: Option<String>,
    /// Body of `GET /v4/mock-container/task`.
    pub task_json: Option<String>,
    pub task_metadata: TaskMeta,
    /// Sleep before answering every (admitted) request.
    pub response_delay: Option<Duration>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            local_ipv4: "10.0.1.43".to_string(),
            ipv6: None,
            put: Put::Token,
            get: Get::Ok,
            tokens: Tokens::Optional,
            put_ip_ttl: None,
            max_concurrent: None,
            container_json: None,
            task_json: None,
            task_metadata: TaskMeta::Ok,
            response_delay: None,
        }
    }
}

/// Behaviour of `PUT /{version}/api/token`.
#[derive(Clone, Debug)]
pub enum Put {
    /// Validate like EC2 (XFF → 403, versioned path → 403, bad TTL → 400) and issue a token.
    Token,
    /// Read the request, never answer (until the peer closes or 600 s pass).
    Hang,
    /// Read the request, then close with RST.
    Reset,
    /// Answer that status with a small HTML body.
    Status(u16),
    /// The first `failures` PUTs answer `status`, later ones behave as [`Put::Token`].
    FailThenToken { failures: usize, status: u16 },
    /// A hostile answer (see [`Hostile`]).
    Hostile(Hostile),
}

/// Answers no real server gives, to test what the client tolerates. The endless ones write
/// as fast as the peer reads, every write ending in the middle of a line, until the peer goes
/// away or [`HOSTILE_FOR`] passes.
#[derive(Clone, Debug)]
pub enum Hostile {
    /// These bytes verbatim, then a normal close.
    Raw(Vec<u8>),
    /// `200`, chunked, the last chunk (`0`), then trailer lines forever.
    Trailers,
    /// `100 Continue` answers forever.
    Interim,
    /// A `200` status line, then header lines forever.
    Headers,
    /// `200` with `Content-Length: 1073741824`, then the body forever.
    HugeLength,
    /// `200` with neither a length nor chunking (the body ends at close), then the body forever.
    HugeUntilClose,
}

/// The longest an endless hostile answer goes on.
pub const HOSTILE_FOR: Duration = Duration::from_secs(60);

/// Behaviour of `GET /latest/meta-data/local-ipv4` (after token checks).
#[derive(Clone, Debug)]
pub enum Get {
    /// 200, body = `local_ipv4`.
    Ok,
    /// That status with a small HTML body.
    Status(u16),
    /// 200 with exactly these bytes.
    Body(Vec<u8>),
    /// 200 with the Content-Length of `body`, then one byte per `interval`.
    Drip { body: Vec<u8>, interval: Duration },
    /// 200, chunked, endless 512-byte chunks of `1` until the peer goes away.
    ChunkedForever,
    /// Never answer.
    Hang,
    /// Close with RST.
    Reset,
    /// The first N GETs of local-ipv4 answer 401 whatever their token, then like [`Get::Ok`].
    UnauthorizedFirst(usize),
    /// 301 with this Location.
    Redirect(String),
    /// A hostile answer (see [`Hostile`]).
    Hostile(Hostile),
}

/// Whether GETs under `/latest/meta-data/` need a token. Either way, a token that the mock did
/// not issue (or that expired) gets 401, as on EC2.
#[derive(Clone, Debug)]
pub enum Tokens {
    Optional,
    Required,
}

/// Behaviour of the ECS task metadata paths.
#[derive(Clone, Debug)]
pub enum TaskMeta {
    Ok,
    Status(u16),
    Hang,
    Delay(Duration),
    /// A hostile answer (see [`Hostile`]) to both paths.
    Hostile(Hostile),
}

type Hook = Box<dyn Fn(&Request) + Send + Sync>;

struct Issued {
    token: String,
    at: Instant,
    ttl: u32,
}

#[derive(Default)]
struct State {
    log: Vec<Request>,
    issued: Vec<Issued>,
    token_put_attempts: usize,
    ipv4_gets: usize,
    token_seq: u64,
}

struct Shared {
    behaviour: Behaviour,
    started: Instant,
    state: Mutex<State>,
    /// Connections accepted and not yet finished.
    active: AtomicUsize,
    /// Requests admitted under `max_concurrent` and not yet finished.
    admitted: AtomicUsize,
    peak: AtomicUsize,
    stop: AtomicBool,
    hook: Option<Hook>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running mock server. Dropping it stops the accept loop; threads of hanging connections are
/// left to finish on their own (or die with the process).
pub struct Mock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Mock {
    /// Bind 127.0.0.1:0 and serve `b`. Panics on error (test helper).
    pub fn start(b: Behaviour) -> Mock {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Mock::start_on(loopback, b).expect("mockmeta: cannot bind 127.0.0.1:0")
    }

    /// Bind [::1]:0 and serve `b`; `None` where this host has no IPv6 loopback.
    pub fn start_ipv6_loopback(b: Behaviour) -> Option<Mock> {
        Mock::start_on(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)), b).ok()
    }

    /// Bind `addr` (any address, e.g. inside a network namespace) and serve `b`.
    pub fn start_on(addr: SocketAddr, b: Behaviour) -> io::Result<Mock> {
        Mock::spawn(addr, b, None)
    }

    /// Like [`Mock::start_on`], and also call `hook` with every request right after it is logged
    /// (on the connection's thread, before the behaviour runs). The binary uses it for `--log`.
    pub fn start_with_hook(
        addr: SocketAddr,
        b: Behaviour,
        hook: impl Fn(&Request) + Send + Sync + 'static,
    ) -> io::Result<Mock> {
        Mock::spawn(addr, b, Some(Box::new(hook)))
    }

    fn spawn(addr: SocketAddr, b: Behaviour, hook: Option<Hook>) -> io::Result<Mock> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            behaviour: b,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            active: AtomicUsize::new(0),
            admitted: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            hook,
        });
        let for_loop = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("mockmeta-accept".into())
            .spawn(move || accept_loop(listener, for_loop))?;
        Ok(Mock { addr, shared, accept: Some(accept) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` (IPv6 in brackets).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `url() + "/v4/mock-container"`, the value for `ECS_CONTAINER_METADATA_URI_V4`.
    pub fn task_metadata_uri(&self) -> String {
        format!("{}{}", self.url(), CONTAINER_PATH)
    }

    /// Snapshot of the request log, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state().log.clone()
    }

    /// Requests with this method and exact target.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.count_where(|r| r.method == method && r.path == path)
    }

    /// Requests matching `pred`.
    pub fn count_where(&self, pred: impl Fn(&Request) -> bool) -> usize {
        self.shared.state().log.iter().filter(|r| pred(r)).count()
    }

    /// `PUT /latest/api/token` requests.
    pub fn token_puts(&self) -> usize {
        self.count("PUT", TOKEN_PATH)
    }

    /// GETs under `/latest/meta-data/` without `X-aws-ec2-metadata-token`.
    pub fn tokenless_gets(&self) -> usize {
        self.count_where(|r| is_meta_get(r) && r.header(TOKEN_HEADER).is_none())
    }

    /// GETs under `/latest/meta-data/` with `X-aws-ec2-metadata-token` (valid or not).
    pub fn token_gets(&self) -> usize {
        self.count_where(|r| is_meta_get(r) && r.header(TOKEN_HEADER).is_some())
    }

    /// Every token the mock handed out, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.state().issued.iter().map(|i| i.token.clone()).collect()
    }

    /// Peak number of connections in progress at once (accepted and not yet answered/closed).
    pub fn max_concurrent_seen(&self) -> usize {
        self.shared.peak.load(SeqCst)
    }

    /// Wait until at least `n` requests were logged; false on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.shared.state().log.len() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        let mut target = self.addr;
        if target.ip().is_unspecified() {
            target.set_ip(match target.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let woke = TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept.take()
            && woke
        {
            let _ = handle.join();
        }
    }
}

fn is_meta_get(r: &Request) -> bool {
    r.method == "GET" && r.route().starts_with(META_PREFIX)
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Counted on the accept thread so that the peak does not depend on thread scheduling.
        let now = shared.active.fetch_add(1, SeqCst) + 1;
        shared.peak.fetch_max(now, SeqCst);
        let for_conn = Arc::clone(&shared);
        let spawned = thread::Builder::new().name("mockmeta-conn".into()).spawn(move || {
            let flight = InFlight { shared: &for_conn, active: true, admitted: false };
            serve(&for_conn, &stream, flight);
        });
        if spawned.is_err() {
            shared.active.fetch_sub(1, SeqCst);
        }
    }
}

/// A connection in progress; ends (idempotently) right before the final response is written,
/// so a client that reads a response and reconnects never races with the counter.
struct InFlight<'a> {
    shared: &'a Shared,
    active: bool,
    admitted: bool,
}

impl InFlight<'_> {
    /// Take a serving slot under `max_concurrent`; false if all are taken.
    fn admit(&mut self, max: usize) -> bool {
        let ok = self.shared.admitted.fetch_update(SeqCst, SeqCst, |n| (n < max).then_some(n + 1)).is_ok();
        self.admitted = ok;
        ok
    }

    fn end(&mut self) {
        if self.active {
            self.active = false;
            self.shared.active.fetch_sub(1, SeqCst);
        }
        if self.admitted {
            self.admitted = false;
            self.shared.admitted.fetch_sub(1, SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

enum HeadError {
    /// Peer went away (or timed out) before sending anything useful: no answer.
    Gone,
    /// Answer 400; log the request if its request line could be parsed.
    Malformed(Option<Request>),
}

fn read_head(shared: &Shared, reader: &mut BufReader<&TcpStream>) -> Result<Request, HeadError> {
    let mut total = 0usize;
    let mut lines: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut line = Vec::new();
        let room = (MAX_HEAD - total) as u64;
        let n = match reader.by_ref().take(room).read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(_) if lines.is_empty() => return Err(HeadError::Gone),
            Err(_) => return Err(HeadError::Malformed(partial(shared, &lines))),
        };
        total += n;
        if n == 0 && total == 0 {
            return Err(HeadError::Gone);
        }
        if !line.ends_with(b"\n") {
            // EOF in the middle of the head, or the 16 KiB cap was hit.
            return Err(HeadError::Malformed(partial(shared, &lines)));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        if line.is_empty() {
            if lines.is_empty() {
                continue; // RFC 9112 §2.2: ignore empty lines before the request line
            }
            break;
        }
        lines.push(line);
    }
    let (method, path) = parse_request_line(&lines[0]).ok_or(HeadError::Malformed(None))?;
    let mut headers = Vec::with_capacity(lines.len() - 1);
    let mut bad = false;
    for line in &lines[1..] {
        match parse_header(line) {
            Some(h) => headers.push(h),
            None => {
                bad = true;
                break;
            }
        }
    }
    let req = Request { method, path, headers, at: shared.started.elapsed() };
    if bad {
        return Err(HeadError::Malformed(Some(req)));
    }
    // Bodies are ignored, but read and discarded so closing does not turn into an RST.
    let mut length: Option<u64> = None;
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = match value.parse::<u64>() {
                Ok(v) if value.bytes().all(|c| c.is_ascii_digit()) => v,
                _ => return Err(HeadError::Malformed(Some(req))),
            };
            if length.is_some_and(|l| l != parsed) || parsed > MAX_DISCARDED_BODY {
                return Err(HeadError::Malformed(Some(req)));
            }
            length = Some(parsed);
        }
    }
    if let Some(len) = length.filter(|&l| l > 0) {
        let _ = io::copy(&mut reader.by_ref().take(len), &mut io::sink());
    }
    Ok(req)
}

/// Best-effort request for logging a malformed head.
fn partial(shared: &Shared, lines: &[Vec<u8>]) -> Option<Request> {
    let (method, path) = parse_request_line(lines.first()?)?;
    Some(Request {
        method,
        path,
        headers: lines[1..].iter().filter_map(|l| parse_header(l)).collect(),
        at: shared.started.elapsed(),
    })
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn parse_request_line(line: &[u8]) -> Option<(String, String)> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(is_tchar)
        || target.is_empty()
        || target.bytes().any(|c| c.is_ascii_control() || c == b' ')
        || !(version == "HTTP/1.1" || version == "HTTP/1.0")
    {
        return None;
    }
    Some((method.to_string(), target.to_string()))
}

fn parse_header(line: &[u8]) -> Option<(String, String)> {
    let colon = line.iter().position(|&c| c == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
        return None; // also rejects obs-fold lines, which start with whitespace
    }
    let value = String::from_utf8_lossy(value);
    Some((String::from_utf8_lossy(name).into_owned(), value.trim_matches([' ', '\t']).to_string()))
}

fn serve(shared: &Shared, stream: &TcpStream, mut flight: InFlight<'_>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let req = match read_head(shared, &mut reader) {
        Ok(req) => req,
        Err(HeadError::Gone) => return,
        Err(HeadError::Malformed(req)) => {
            if let Some(req) = req {
                record(shared, &req);
            }
            flight.end();
            let _ = respond(stream, 400, &[], HTML, &html_body(400));
            finish(stream);
            return;
        }
    };
    record(shared, &req);
    drop(reader);

    let b = &shared.behaviour;
    let route = req.route();
    if req.method == "PUT"
        && token_version(route).is_some()
        && let Some(ttl) = b.put_ip_ttl
        && let Err(e) = set_ip_ttl(stream, ttl)
    {
        eprintln!("mockmeta: cannot set IP TTL {ttl}: {e}");
    }
    if let Some(max) = b.max_concurrent
        && !flight.admit(max)
    {
        flight.end();
        let _ = respond(stream, 503, &[], HTML, &html_body(503));
        finish(stream);
        return;
    }
    if let Some(delay) = b.response_delay {
        thread::sleep(delay);
    }

    let action = if let Some(version) = token_version(route) {
        token_endpoint(shared, &req, version)
    } else if route == "/latest/meta-data" || route.starts_with(META_PREFIX) {
        meta_endpoint(shared, &req)
    } else if route == CONTAINER_PATH || route == TASK_PATH {
        task_endpoint(shared, &req, route == TASK_PATH)
    } else {
        Action::Html(404)
    };
    perform(stream, action, flight);
}

fn record(shared: &Shared, req: &Request) {
    shared.state().log.push(req.clone());
    if let Some(hook) = &shared.hook {
        hook(req);
    }
}

/// `Some(version)` for `/{version}/api/token`.
fn token_version(route: &str) -> Option<&str> {
    let rest = route.strip_prefix('/')?.strip_suffix("/api/token")?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

const HTML: &str = "text/html";
const TEXT: &str = "text/plain";
const JSON: &str = "application/json";

/// What to do with the connection once the request has been routed.
enum Action {
    /// Status, extra headers, content type, body.
    Respond(u16, Vec<(&'static str, String)>, &'static str, Vec<u8>),
    Html(u16),
    Json(u16, Vec<u8>),
    Drip(Vec<u8>, Duration),
    ChunkedForever,
    Hang,
    Reset,
    Hostile(Hostile),
}

fn token_endpoint(shared: &Shared, req: &Request, version: &str) -> Action {
    if req.method != "PUT" {
        return Action::Respond(405, vec![("Allow", "PUT".into())], HTML, html_body(405));
    }
    let attempt = {
        let mut st = shared.state();
        st.token_put_attempts += 1;
        st.token_put_attempts
    };
    match &shared.behaviour.put {
        Put::Token => issue_token(shared, req, version),
        Put::Hang => Action::Hang,
        Put::Reset => Action::Reset,
        Put::Status(n) => Action::Html(*n),
        Put::FailThenToken { failures, status } if attempt <= *failures => Action::Html(*status),
        Put::FailThenToken { .. } => issue_token(shared, req, version),
        Put::Hostile(h) => Action::Hostile(h.clone()),
    }
}

fn issue_token(shared: &Shared, req: &Request, version: &str) -> Action {
    if req.header("X-Forwarded-For").is_some() || version != "latest" {
        return Action::Html(403);
    }
    let ttl = match req.header(TTL_HEADER).and_then(parse_ttl) {
        Some(ttl) => ttl,
        None => return Action::Html(400),
    };
    let token = {
        let mut st = shared.state();
        let token = loop {
            st.token_seq += 1;
            let candidate = make_token(st.token_seq);
            if !st.issued.iter().any(|i| i.token == candidate) {
                break candidate;
            }
        };
        st.issued.push(Issued { token: token.clone(), at: Instant::now(), ttl });
        token
    };
    Action::Respond(200, vec![(TTL_HEADER, ttl.to_string())], TEXT, token.into_bytes())
}

fn parse_ttl(value: &str) -> Option<u32> {
    if value.is_empty() || value.len() > 5 || !value.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|t| (1..=21600).contains(t))
}

/// 56 base64url-ish characters derived from the clock, a counter and the pid (no RNG crate).
fn make_token(seq: u64) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut state = nanos ^ seq.rotate_left(40) ^ (u64::from(std::process::id()) << 20);
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..56).map(|_| ALPHABET[(next() >> 58) as usize] as char).collect()
}

fn token_is_valid(shared: &Shared, token: &str) -> bool {
    shared
        .state()
        .issued
        .iter()
        .any(|i| i.token == token && i.at.elapsed() < Duration::from_secs(u64::from(i.ttl)))
}

fn meta_endpoint(shared: &Shared, req: &Request) -> Action {
    if req.method != "GET" {
        return Action::Respond(405, vec![("Allow", "GET".into())], HTML, html_body(405));
    }
    let b = &shared.behaviour;
    let route = req.route();
    let is_ipv4 = route == LOCAL_IPV4_PATH;
    if let (true, Get::UnauthorizedFirst(n)) = (is_ipv4, &b.get) {
        let nth = {
            let mut st = shared.state();
            st.ipv4_gets += 1;
            st.ipv4_gets
        };
        if nth <= *n {
            return Action::Html(401);
        }
    }
    match (req.header(TOKEN_HEADER), &b.tokens) {
        (Some(token), _) if !token_is_valid(shared, token) => return Action::Html(401),
        (None, Tokens::Required) => return Action::Html(401),
        _ => {}
    }
    if !is_ipv4 {
        return if route == "/latest/meta-data" || route == META_PREFIX {
            let listing = if b.ipv6.is_some() { "ipv6\nlocal-ipv4" } else { "local-ipv4" };
            Action::Respond(200, vec![], TEXT, listing.as_bytes().to_vec())
        } else if let (IPV6_PATH, Some(ipv6)) = (route, &b.ipv6) {
            Action::Respond(200, vec![], TEXT, ipv6.clone().into_bytes())
        } else {
            Action::Html(404)
        };
    }
    match &b.get {
        Get::Ok | Get::UnauthorizedFirst(_) => {
            Action::Respond(200, vec![], TEXT, b.local_ipv4.clone().into_bytes())
        }
        Get::Status(n) => Action::Html(*n),
        Get::Body(body) => Action::Respond(200, vec![], TEXT, body.clone()),
        Get::Drip { body, interval } => Action::Drip(body.clone(), *interval),
        Get::ChunkedForever => Action::ChunkedForever,
        Get::Hang => Action::Hang,
        Get::Reset => Action::Reset,
        Get::Redirect(loc) => Action::Respond(301, vec![("Location", loc.clone())], HTML, html_body(301)),
        Get::Hostile(h) => Action::Hostile(h.clone()),
    }
}

fn task_endpoint(shared: &Shared, req: &Request, task: bool) -> Action {
    if req.method != "GET" {
        return Action::Respond(405, vec![("Allow", "GET".into())], JSON, json_str("405"));
    }
    let b = &shared.behaviour;
    match &b.task_metadata {
        TaskMeta::Ok => {}
        TaskMeta::Status(n) => return Action::Json(*n, json_str(reason(*n))),
        TaskMeta::Hang => return Action::Hang,
        TaskMeta::Delay(d) => thread::sleep(*d),
        TaskMeta::Hostile(h) => return Action::Hostile(h.clone()),
    }
    let body = if task { &b.task_json } else { &b.container_json };
    match body {
        Some(body) => Action::Json(200, body.clone().into_bytes()),
        None => Action::Json(404, json_str("not found")),
    }
}

fn json_str(s: &str) -> Vec<u8> {
    serde_json::Value::String(s.to_string()).to_string().into_bytes()
}

fn html_body(status: u16) -> Vec<u8> {
    let r = reason(status);
    format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<html><head><title>{status} - {r}</title></head>\
         <body><h1>{status} - {r}</h1></body></html>\n"
    )
    .into_bytes()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn head(status: u16, headers: &[(&str, String)], content_type: &str, length: Option<usize>) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    out.push_str(&format!("Content-Type: {content_type}\r\n"));
    match length {
        Some(len) => out.push_str(&format!("Content-Length: {len}\r\n")),
        None => out.push_str("Transfer-Encoding: chunked\r\n"),
    }
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("Server: mockmeta\r\nConnection: close\r\n\r\n");
    out.into_bytes()
}

fn respond(
    mut stream: &TcpStream,
    status: u16,
    headers: &[(&str, String)],
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    let mut out = head(status, headers, content_type, Some(body.len()));
    out.extend_from_slice(body);
    stream.write_all(&out)?;
    stream.flush()
}

fn perform(mut stream: &TcpStream, action: Action, mut flight: InFlight<'_>) {
    match action {
        Action::Respond(status, headers, ctype, body) => {
            flight.end();
            let _ = respond(stream, status, &headers, ctype, &body);
        }
        Action::Html(status) => {
            flight.end();
            let _ = respond(stream, status, &[], HTML, &html_body(status));
        }
        Action::Json(status, body) if body.len() <= CHUNK_THRESHOLD => {
            flight.end();
            let _ = respond(stream, status, &[], JSON, &body);
        }
        Action::Json(status, body) => {
            // Like the ECS agent (a Go server), large bodies go out chunked.
            let mut out = head(status, &[], JSON, None);
            for chunk in body.chunks(JSON_CHUNK) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            flight.end();
            let _ = stream.write_all(&out);
        }
        Action::Drip(body, interval) => {
            if stream.write_all(&head(200, &[], TEXT, Some(body.len()))).is_ok() {
                for byte in body {
                    thread::sleep(interval);
                    if stream.write_all(&[byte]).is_err() {
                        break;
                    }
                }
            }
            flight.end();
        }
        Action::ChunkedForever => {
            let _ = stream.set_write_timeout(Some(HANG_FOR));
            let mut chunk = b"200\r\n".to_vec();
            chunk.extend_from_slice(&[b'1'; 512]);
            chunk.extend_from_slice(b"\r\n");
            let batch = chunk.repeat(16);
            if stream.write_all(&head(200, &[], TEXT, None)).is_ok() {
                while stream.write_all(&batch).is_ok() {}
            }
            flight.end();
        }
        Action::Hostile(Hostile::Raw(bytes)) => {
            flight.end();
            let _ = stream.write_all(&bytes);
        }
        Action::Hostile(endless) => {
            stream_forever(stream, &endless);
            flight.end();
        }
        Action::Hang => {
            hang(stream);
            flight.end();
            return;
        }
        Action::Reset => {
            flight.end();
            if let Err(e) = set_linger_zero(stream) {
                eprintln!("mockmeta: cannot set SO_LINGER: {e}");
            }
            return; // the caller drops the socket: RST
        }
    }
    finish(stream);
}

/// What an endless hostile answer starts with, before its repeated units.
fn endless_opening(kind: &Hostile) -> &'static [u8] {
    match kind {
        Hostile::Trailers => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        Hostile::Interim => b"",
        Hostile::Headers => b"HTTP/1.1 200 OK\r\n",
        Hostile::HugeLength => b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n",
        Hostile::HugeUntilClose | Hostile::Raw(_) => b"HTTP/1.1 200 OK\r\n\r\n",
    }
}

/// One repeated unit of `len` bytes (at least 40): a trailer or header line, a `100 Continue`
/// answer padded with a header, or body bytes.
fn endless_unit(kind: &Hostile, len: usize) -> Vec<u8> {
    let (prefix, suffix): (&[u8], &[u8]) = match kind {
        Hostile::Trailers | Hostile::Headers => (b"X-Pad: ", b"\r\n"),
        Hostile::Interim => (b"HTTP/1.1 100 Continue\r\nX-Pad: ", b"\r\n\r\n"),
        Hostile::HugeLength | Hostile::HugeUntilClose | Hostile::Raw(_) => (b"", b""),
    };
    let mut unit = prefix.to_vec();
    unit.resize(len - suffix.len(), b'a');
    unit.extend_from_slice(suffix);
    unit
}

/// Writes `kind`'s opening, then its units forever, until a write fails or [`HOSTILE_FOR`]
/// passes. Units are 2 KiB long and start 1 KiB into a 2 KiB block (a filler unit after the
/// opening sees to it), and every write is one 2 KiB block: so no write ends at the end of a
/// line, and neither does any read of a reader that reads 2 KiB at a time, however far behind it
/// is.
fn stream_forever(mut stream: &TcpStream, kind: &Hostile) {
    const BLOCK: usize = 2048;
    let opening = endless_opening(kind);
    let mut filler = (BLOCK + BLOCK / 2 - opening.len() % BLOCK) % BLOCK;
    if filler < 40 {
        filler += BLOCK;
    }
    let unit = endless_unit(kind, BLOCK);
    let mut first = opening.to_vec();
    first.extend_from_slice(&endless_unit(kind, filler));
    first.extend_from_slice(&unit[..BLOCK / 2]);
    // Every later block: the second half of a unit, then the first half of the next.
    let mut block = unit[BLOCK / 2..].to_vec();
    block.extend_from_slice(&unit[..BLOCK / 2]);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    // One segment per write, so a reader that keeps up sees the write boundaries.
    let _ = stream.set_nodelay(true);
    let until = Instant::now() + HOSTILE_FOR;
    if first.chunks(BLOCK).any(|b| stream.write_all(b).is_err()) {
        return;
    }
    while Instant::now() < until && stream.write_all(&block).is_ok() {}
}

/// Never answer: keep the socket open until the peer closes it or `HANG_FOR` passes.
fn hang(mut stream: &TcpStream) {
    let deadline = Instant::now() + HANG_FOR;
    let mut buf = [0u8; 1024];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}

/// Half-close, then read until the peer closes so unread bytes never turn the close into an RST.
fn finish(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(DRAIN_FOR));
    let mut buf = [0u8; 1024];
    let mut left = 64 * 1024usize;
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        left = left.saturating_sub(n);
        if left == 0 {
            break;
        }
    }
}

fn set_ip_ttl(stream: &TcpStream, ttl: u32) -> io::Result<()> {
    match stream.local_addr()? {
        SocketAddr::V4(_) => stream.set_ttl(ttl),
        SocketAddr::V6(_) => sockopt::set_ipv6_unicast_hops(stream, ttl),
    }
}

fn set_linger_zero(stream: &TcpStream) -> io::Result<()> {
    sockopt::set_linger_zero(stream)
}

/// `setsockopt` for what std does not offer on stable (`SO_LINGER`, `IPV6_UNICAST_HOPS`).
#[cfg(unix)]
mod sockopt {
    use std::ffi::{c_int, c_void};
    use std::io;
    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    mod consts {
        pub const SOL_SOCKET: i32 = 1;
        pub const SO_LINGER: i32 = 13;
        pub const IPPROTO_IPV6: i32 = 41;
        pub const IPV6_UNICAST_HOPS: i32 = 16;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    mod consts {
        // BSDs and Apple platforms.
        pub const SOL_SOCKET: i32 = 0xffff;
        pub const SO_LINGER: i32 = 0x0080;
        pub const IPPROTO_IPV6: i32 = 41;
        pub const IPV6_UNICAST_HOPS: i32 = 4;
    }

    #[repr(C)]
    struct Linger {
        l_onoff: c_int,
        l_linger: c_int,
    }

    unsafe extern "C" {
        fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
    }

    fn set<T>(stream: &TcpStream, level: i32, name: i32, value: &T) -> io::Result<()> {
        let len = u32::try_from(std::mem::size_of::<T>()).expect("small option value");
        // SAFETY: the fd is owned by `stream` and stays open for the call; `value` points to a
        // live, properly sized and aligned option value of `len` bytes.
        let rc =
            unsafe { setsockopt(stream.as_raw_fd(), level, name, (value as *const T).cast::<c_void>(), len) };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    pub fn set_linger_zero(stream: &TcpStream) -> io::Result<()> {
        let linger = Linger { l_onoff: 1, l_linger: 0 };
        set(stream, consts::SOL_SOCKET, consts::SO_LINGER, &linger)
    }

    pub fn set_ipv6_unicast_hops(stream: &TcpStream, hops: u32) -> io::Result<()> {
        let hops = c_int::try_from(hops).map_err(|_| io::ErrorKind::InvalidInput)?;
        set(stream, consts::IPPROTO_IPV6, consts::IPV6_UNICAST_HOPS, &hops)
    }
}

#[cfg(not(unix))]
mod sockopt {
    use std::io;
    use std::net::TcpStream;

    pub fn set_linger_zero(_: &TcpStream) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub fn set_ipv6_unicast_hops(_: &TcpStream, _: u32) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_56_url_safe_chars_and_differ() {
        let a = make_token(1);
        let b = make_token(2);
        assert_eq!(a.len(), 56);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn ttl_bounds() {
        assert_eq!(parse_ttl("1"), Some(1));
        assert_eq!(parse_ttl("21600"), Some(21600));
        for bad in ["0", "21601", "", "-1", "+5", " 5", "1.5", "99999999999"] {
            assert_eq!(parse_ttl(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn token_paths() {
        assert_eq!(token_version("/latest/api/token"), Some("latest"));
        assert_eq!(token_version("/2021-01-01/api/token"), Some("2021-01-01"));
        assert_eq!(token_version("/api/token"), None);
        assert_eq!(token_version("/a/b/api/token"), None);
    }

    #[test]
    fn request_line_and_headers() {
        assert!(parse_request_line(b"GET / HTTP/1.1").is_some());
        assert!(parse_request_line(b"GET  / HTTP/1.1").is_none());
        assert!(parse_request_line(b"GET / HTTP/2.0").is_none());
        assert!(parse_request_line(b"GET /").is_none());
        assert_eq!(parse_header(b"X-A:  v \t"), Some(("X-A".to_string(), "v".to_string())));
        assert!(parse_header(b" folded").is_none());
        assert!(parse_header(b"Bad Name: x").is_none());
    }
}
