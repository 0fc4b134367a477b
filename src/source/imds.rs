//! The `imdsv2` and `imdsv1` sources: the EC2 instance metadata service's `local-ipv4` (or, on an
//! IPv6-only instance, `ipv6`).
//!
//! IMDSv2 first: `PUT /latest/api/token`, then `GET /latest/meta-data/local-ipv4` with the token;
//! a GET answered 401 gets one fresh token and one retry. When `local-ipv4` answers 404 (an
//! IPv6-only instance has none), `GET /latest/meta-data/ipv6` is asked once with the same token
//! (or none, under IMDSv1); that one request raises the cap to [`MAX_REQUESTS_WITH_IPV6`]. When
//! the IPv4 endpoint cannot be reached at all (no route to it: network unreachable) and no endpoint or mode
//! was configured, the token request is sent once more to the IPv6 endpoint
//! `http://[fd00:ec2::254]`, inside the same budget. IMDSv1 (the same GET without a token)
//! is used only as the AWS SDKs do: after the token request timed out, was reset, or answered
//! 403/404/405, never after a 400 and never under `AWS_EC2_METADATA_V1_DISABLED=true`. Once a
//! token was obtained no token-less request is sent (instances alarm on `MetadataNoToken`). The
//! token request has its own short budget so the hop-limit case (the PUT's answer dropped on the
//! way back) still resolves through IMDSv1 well inside the deadline. Throttling and server errors
//! are retried with a short backoff; at most [`MAX_REQUESTS`] requests are sent per run (5 when
//! `meta-data/ipv6` is asked). The
//! token lives only in this module's stack frames: it never reaches the app.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::{Journal, Source, Step};
use crate::config::ImdsAccess;
use crate::http::{self, Endpoint, Failure};

pub(crate) const TOKEN_PATH: &str = "/latest/api/token";
pub(crate) const LOCAL_IPV4_PATH: &str = "/latest/meta-data/local-ipv4";
/// The instance's IPv6 address, asked only after `local-ipv4` answered 404.
pub(crate) const IPV6_PATH: &str = "/latest/meta-data/ipv6";
/// The TTL asked for: ddboot uses its token within the second it gets it.
pub(crate) const TOKEN_TTL_SECONDS: &str = "60";
/// The longest the token request may take: far above IMDS's real latency (≈1 ms), far below
/// the default deadline, so a dropped answer (hop limit) leaves time for IMDSv1.
pub(crate) const TOKEN_BUDGET: Duration = Duration::from_millis(250);
/// Every IMDS body ddboot reads is far smaller than this; a larger one is rejected.
pub(crate) const BODY_CAP: usize = 1024;
/// Requests per run, retries included.
pub(crate) const MAX_REQUESTS: u32 = 4;
/// The cap once `meta-data/ipv6` is asked: that request gets a slot of its own.
pub(crate) const MAX_REQUESTS_WITH_IPV6: u32 = 5;
/// The first retry waits about this long (with jitter), each later one three times longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(40);

/// Where the resolution goes after the token request.
enum Token {
    Got(String),
    /// The SDKs fall back to IMDSv1 after this (timeout, reset, 403/404/405).
    FallBack(String),
    /// Stop: no IMDSv1 either.
    GiveUp(String),
}

/// The request budget and backoff shared by the whole run. Every IMDS request goes through
/// [`Budget::send`], which enforces [`MAX_REQUESTS`].
struct Budget {
    endpoint: Endpoint,
    deadline: Instant,
    sent: u32,
    /// [`MAX_REQUESTS`], or [`MAX_REQUESTS_WITH_IPV6`] once `meta-data/ipv6` is asked.
    cap: u32,
    /// The IPv6 endpoint to try once when the IPv4 one is unreachable (only when nothing was
    /// configured); `None` once used or when not allowed.
    ipv6_fallback: Option<Endpoint>,
    /// Said in the detail of the attempt that answers (the endpoint actually used).
    note: String,
    backoff: Duration,
    /// Jitter state, so that a fleet of containers started together does not retry in lockstep.
    seed: u64,
}

impl Budget {
    fn can_send(&self) -> bool {
        self.sent < self.cap && Instant::now() < self.deadline
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        done_by: Instant,
    ) -> Result<http::Response, Failure> {
        if self.sent >= self.cap {
            return Err(Failure::NotSent("the IMDS request budget is spent"));
        }
        self.sent += 1;
        http::request(&self.endpoint, method, path, headers, BODY_CAP, done_by, done_by.min(self.deadline))
            .await
    }

    /// Waits before a retry that needs `requests` more requests (a token retry needs two: the
    /// PUT and the GET after it). Says why not when they would not fit the budget or the time.
    async fn back_off(&mut self, requests: u32) -> Result<(), &'static str> {
        if self.sent + requests > self.cap {
            return Err("no request left in the budget to retry");
        }
        // xorshift64: a jitter factor in [0.5, 1.5).
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let factor = 0.5 + (self.seed % 1000) as f64 / 1000.0;
        let wake = Instant::now() + self.backoff.mul_f64(factor);
        if wake >= self.deadline {
            return Err("no time left to retry");
        }
        tokio::time::sleep_until(wake).await;
        self.backoff *= 3;
        Ok(())
    }
}

fn retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// Runs IMDSv2, then IMDSv1 where `access` allows it, recording both attempts. Returns the host
/// and the source that found it. With `access.ipv6_fallback` (no endpoint or mode was
/// configured) the IPv6 endpoint may be tried once when the IPv4 one is unreachable.
pub(crate) async fn resolve(
    access: &ImdsAccess,
    deadline: Instant,
    journal: &Journal,
) -> Option<(IpAddr, Source)> {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let seed = (u64::from(nanos) << 20 ^ u64::from(std::process::id())) | 1;
    let ipv6_fallback = if access.ipv6_fallback { Endpoint::parse(IPV6_ENDPOINT).ok() } else { None };
    let mut budget = Budget {
        endpoint: access.endpoint.clone(),
        deadline,
        sent: 0,
        cap: MAX_REQUESTS,
        ipv6_fallback,
        note: String::new(),
        backoff: FIRST_BACKOFF,
        seed,
    };
    let v2 = journal.begin(Source::Imdsv2);
    let why_v1 = match fetch_token(&mut budget, &v2).await {
        Token::Got(token) => {
            let found = get_with_token(&mut budget, token, v2).await;
            journal.skip(Source::Imdsv1, "IMDSv2 answered: no token-less request sent");
            return found.map(|ip| (ip, Source::Imdsv2));
        }
        Token::GiveUp(why) => {
            v2.fail(why);
            journal.skip(Source::Imdsv1, "not a case for the IMDSv1 fallback");
            return None;
        }
        Token::FallBack(why) => why,
    };
    v2.fail(why_v1);
    if !access.v1_allowed {
        journal.skip(Source::Imdsv1, "AWS_EC2_METADATA_V1_DISABLED=true");
        return None;
    }
    if !budget.can_send() {
        journal.skip(Source::Imdsv1, "no time or request budget left");
        return None;
    }
    let v1 = journal.begin(Source::Imdsv1);
    get_local_ipv4(&mut budget, v1).await.map(|ip| (ip, Source::Imdsv1))
}

/// Whether this network namespace has no route at all to `endpoint` (ENETUNREACH: an IPv6-only
/// task or instance), as opposed to a router answering "host unreachable" or a rejecting rule.
/// A UDP `connect` only looks the route up: nothing is sent.
fn no_route(endpoint: &Endpoint) -> bool {
    let addr = endpoint.addr();
    let any: std::net::SocketAddr =
        if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    std::net::UdpSocket::bind(any)
        .and_then(|s| s.connect(addr))
        .is_err_and(|e| e.raw_os_error() == Some(nix::libc::ENETUNREACH))
}

/// The IPv6 IMDS endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
const IPV6_ENDPOINT: &str = crate::config::IPV6_IMDS_ENDPOINT;

/// The token request, retried on throttling and server errors.
async fn fetch_token(budget: &mut Budget, step: &Step<'_>) -> Token {
    step.phase("waiting for the token (PUT /latest/api/token)");
    loop {
        let remaining = budget.deadline.saturating_duration_since(Instant::now());
        let waited = TOKEN_BUDGET.min(remaining / 2);
        let done_by = Instant::now() + waited;
        let headers = [("X-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS)];
        let response = match budget.send("PUT", TOKEN_PATH, &headers, done_by).await {
            Ok(r) => r,
            Err(Failure::Timeout) => {
                return Token::FallBack(format!(
                    "no answer to the token request within {} (hop limit too low for this container?)",
                    crate::duration::human(waited)
                ));
            }
            Err(e @ Failure::Reset(_)) => return Token::FallBack(format!("token request: {e}")),
            Err(Failure::ConnectTimeout) => {
                return Token::GiveUp(format!(
                    "token request: no TCP connection within {} (route blackholed?)",
                    crate::duration::human(waited)
                ));
            }
            Err(Failure::Unreachable(why))
                if budget.ipv6_fallback.is_some() && no_route(&budget.endpoint) =>
            {
                if let Some(v6) = budget.ipv6_fallback.take() {
                    budget.note = format!(
                        ", via {v6}: {} unreachable ({})",
                        budget.endpoint,
                        crate::output::clip(&why, 60)
                    );
                    budget.endpoint = v6;
                    step.phase("waiting for the token from the IPv6 endpoint");
                }
                continue;
            }
            Err(e) => return Token::GiveUp(format!("token request{}: {e}", budget.note)),
        };
        match response.status {
            200 => {
                return match valid_token(&response.body) {
                    Some(token) => Token::Got(token),
                    None => Token::GiveUp("the token answer is not a token".into()),
                };
            }
            s @ 403..=405 => return Token::FallBack(format!("token request answered {s}")),
            s if retryable(s) => {
                if let Err(why) = budget.back_off(2).await {
                    return Token::GiveUp(format!("token request answered {s}; {why}"));
                }
            }
            s => return Token::GiveUp(format!("token request answered {s}")),
        }
    }
}

/// A token must be a short run of visible ASCII: it goes into a header.
fn valid_token(body: &[u8]) -> Option<String> {
    let ok = !body.is_empty() && body.len() <= BODY_CAP && body.iter().all(|b| b.is_ascii_graphic());
    ok.then(|| String::from_utf8_lossy(body).into_owned())
}

/// The IMDSv2 GET; on 401 one fresh token and one more GET.
async fn get_with_token(budget: &mut Budget, token: String, step: Step<'_>) -> Option<IpAddr> {
    let mut token = token;
    let mut refreshed = false;
    loop {
        step.phase("waiting for local-ipv4 (GET with token)");
        match get_once(budget, LOCAL_IPV4_PATH, Some(&token)).await {
            Got::Status(401) if !refreshed && budget.sent + 2 <= MAX_REQUESTS => {
                refreshed = true;
                match fetch_token(budget, &step).await {
                    Token::Got(fresh) => token = fresh,
                    Token::FallBack(why) | Token::GiveUp(why) => {
                        step.fail(format!("GET answered 401, then the fresh {why}"));
                        return None;
                    }
                }
            }
            Got::Status(s) if retryable(s) && budget.back_off(1).await.is_ok() => {}
            Got::Ip(ip) => {
                let suffix = if refreshed { " (after a fresh token)" } else { "" };
                step.ok(format!("{ip}{suffix}{}", budget.note));
                return Some(ip);
            }
            Got::Status(404) => return get_ipv6(budget, Some(&token), step).await,
            Got::Status(401) if refreshed => {
                step.fail("GET answered 401 again after a fresh token");
                return None;
            }
            other => {
                step.fail(other.describe());
                return None;
            }
        }
    }
}

/// After `local-ipv4` answered 404: `meta-data/ipv6`, once (retried like the other GETs only if
/// the raised cap still allows it), with the same token or none.
async fn get_ipv6(budget: &mut Budget, token: Option<&str>, step: Step<'_>) -> Option<IpAddr> {
    step.phase("waiting for ipv6 (local-ipv4 answered 404)");
    budget.cap = MAX_REQUESTS_WITH_IPV6;
    loop {
        match get_once(budget, IPV6_PATH, token).await {
            Got::Ip(ip) => {
                step.ok(format!("{ip} (meta-data/ipv6: local-ipv4 answered 404{})", budget.note));
                return Some(ip);
            }
            Got::Status(s) if retryable(s) && budget.back_off(1).await.is_ok() => {}
            Got::Status(404) => {
                step.fail(
                    "GET answered 404 for local-ipv4 and for ipv6: this instance has no address in IMDS",
                );
                return None;
            }
            Got::Invalid(why) => {
                step.fail(format!("local-ipv4 answered 404, then ipv6 rejected: {why}"));
                return None;
            }
            other => {
                step.fail(format!("local-ipv4 answered 404, then ipv6 {}", other.describe()));
                return None;
            }
        }
    }
}

/// The IMDSv1 GET, retried on throttling and server errors.
async fn get_local_ipv4(budget: &mut Budget, step: Step<'_>) -> Option<IpAddr> {
    step.phase("waiting for local-ipv4 (GET without token)");
    loop {
        match get_once(budget, LOCAL_IPV4_PATH, None).await {
            Got::Ip(ip) => {
                step.ok(format!("{ip}{}", budget.note));
                return Some(ip);
            }
            Got::Status(404) => return get_ipv6(budget, None, step).await,
            Got::Status(s) if retryable(s) && budget.back_off(1).await.is_ok() => {}
            Got::Status(401) => {
                step.fail("GET answered 401: this instance requires IMDSv2 tokens (HttpTokens=required)");
                return None;
            }
            other => {
                step.fail(other.describe());
                return None;
            }
        }
    }
}

enum Got {
    Ip(IpAddr),
    Status(u16),
    Invalid(String),
    Failed(Failure),
}

impl Got {
    fn describe(&self) -> String {
        match self {
            Got::Ip(ip) => ip.to_string(),
            Got::Status(404) => "GET answered 404: no local-ipv4 (IPv6-only instance?)".into(),
            Got::Status(s) => format!("GET answered {s}"),
            Got::Invalid(why) => format!("local-ipv4 rejected: {why}"),
            Got::Failed(f) => format!("GET: {f}"),
        }
    }
}

async fn get_once(budget: &mut Budget, path: &str, token: Option<&str>) -> Got {
    let deadline = budget.deadline;
    let response = match token {
        Some(t) => budget.send("GET", path, &[("X-aws-ec2-metadata-token", t)], deadline).await,
        None => budget.send("GET", path, &[], deadline).await,
    };
    let parse = |body: &[u8]| {
        if path == IPV6_PATH {
            super::parse_ipv6(body).map(IpAddr::V6)
        } else {
            super::parse_ipv4(body).map(IpAddr::V4)
        }
    };
    match response {
        Ok(r) if r.status == 200 => match parse(&r.body) {
            Ok(ip) => Got::Ip(ip),
            Err(why) => Got::Invalid(why),
        },
        Ok(r) => Got::Status(r.status),
        Err(e) => Got::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_be_safe_header_values() {
        assert_eq!(valid_token(b"AQAEAbc-_=="), Some("AQAEAbc-_==".into()));
        assert_eq!(valid_token(b""), None);
        assert_eq!(valid_token(b"abc\r\nX-Forwarded-For: 1"), None);
        assert_eq!(valid_token(b"a b"), None);
        assert_eq!(valid_token(&[b'a'; BODY_CAP + 1]), None);
    }

    #[test]
    fn retries_only_throttling_and_server_errors() {
        assert!(retryable(503) && retryable(500) && retryable(429));
        assert!(!retryable(400) && !retryable(401) && !retryable(404));
    }
}
