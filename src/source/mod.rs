//! The resolution sources and the journal every source writes its attempt into.
//!
//! A source is one way of learning where the Datadog Agent is (one module each). Each run of a
//! source is an [`Attempt`]: its outcome, how long it took and a one-line detail (the address or
//! why not). A [`Step`] records its attempt even when the deadline cancels it mid-flight, so the
//! report always says what every source was doing when time ran out.

pub(crate) mod daemon_bridge;
pub(crate) mod gateway;
pub(crate) mod imds;
pub(crate) mod metadata_file;
pub(crate) mod socket;
pub(crate) mod task_metadata;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Where an answer came from, in the order sources are consulted. `TaskMetadata` finds no host
/// itself: it tells the ECS shape (for `Sidecar` and `Gateway`) and the service tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    Env,
    Socket,
    TaskMetadata,
    Sidecar,
    DaemonBridge,
    MetadataFile,
    Imdsv2,
    Imdsv1,
    Gateway,
}

impl Source {
    /// Every source, in order.
    pub(crate) const ALL: [Source; 9] = [
        Source::Env,
        Source::Socket,
        Source::TaskMetadata,
        Source::Sidecar,
        Source::DaemonBridge,
        Source::MetadataFile,
        Source::Imdsv2,
        Source::Imdsv1,
        Source::Gateway,
    ];

    /// The name used in every output.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Source::Env => "env",
            Source::Socket => "socket",
            Source::TaskMetadata => "task-metadata",
            Source::Sidecar => "sidecar",
            Source::DaemonBridge => "daemon-bridge",
            Source::MetadataFile => "metadata-file",
            Source::Imdsv2 => "imdsv2",
            Source::Imdsv1 => "imdsv1",
            Source::Gateway => "gateway",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Failed,
    Skipped,
}

impl Outcome {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One source's attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) source: Source,
    pub(crate) outcome: Outcome,
    pub(crate) elapsed: Duration,
    pub(crate) detail: String,
}

/// The attempts of one run, written by the sources as they finish.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    attempts: RefCell<Vec<Attempt>>,
    /// Set when a source won: steps dropped after that were cancelled, not failed.
    winner: Cell<Option<Source>>,
}

impl Journal {
    /// Starts timing an attempt of `source`.
    pub(crate) fn begin(&self, source: Source) -> Step<'_> {
        self.begin_at(source, Instant::now())
    }

    /// An attempt of `source` that started at `start` (work done before the step existed).
    pub(crate) fn begin_at(&self, source: Source, start: Instant) -> Step<'_> {
        Step { journal: self, source, start, phase: RefCell::new("starting"), done: false }
    }

    /// Declares the winner: steps still running are cancelled from now on, not failed.
    pub(crate) fn won(&self, source: Source) {
        self.winner.set(Some(source));
    }

    /// Records every source in `sources` that has no attempt yet as skipped.
    pub(crate) fn skip_missing(&self, sources: &[Source], why: &str) {
        for &source in sources {
            if !self.has(source) {
                self.skip(source, why);
            }
        }
    }

    /// Records a source that did not run, and why.
    pub(crate) fn skip(&self, source: Source, why: impl Into<String>) {
        self.push(Attempt { source, outcome: Outcome::Skipped, elapsed: Duration::ZERO, detail: why.into() });
    }

    /// Whether `source` has an attempt recorded.
    pub(crate) fn has(&self, source: Source) -> bool {
        self.attempts.borrow().iter().any(|a| a.source == source)
    }

    fn push(&self, attempt: Attempt) {
        self.attempts.borrow_mut().push(attempt);
    }

    /// All attempts, in source order (a stable sort keeps repeated sources in time order).
    pub(crate) fn into_attempts(self) -> Vec<Attempt> {
        let mut v = self.attempts.into_inner();
        v.sort_by_key(|a| a.source);
        v
    }
}

/// An attempt in progress. Dropping it unfinished (the deadline cancelled its future) records
/// a failure that names the phase it was in.
pub(crate) struct Step<'j> {
    journal: &'j Journal,
    source: Source,
    start: Instant,
    phase: RefCell<&'static str>,
    done: bool,
}

impl Step<'_> {
    /// Names what the source is waiting for, for the report if the deadline strikes.
    pub(crate) fn phase(&self, phase: &'static str) {
        *self.phase.borrow_mut() = phase;
    }

    pub(crate) fn ok(self, detail: impl Into<String>) {
        self.finish(Outcome::Ok, detail.into());
    }

    pub(crate) fn fail(self, detail: impl Into<String>) {
        self.finish(Outcome::Failed, detail.into());
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn finish(mut self, outcome: Outcome, detail: String) {
        self.done = true;
        self.journal.push(Attempt { source: self.source, outcome, elapsed: self.start.elapsed(), detail });
    }
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        if !self.done {
            let phase = self.phase.borrow();
            // Only host sources compete: the task metadata is never cancelled by a winner, it
            // can only run out of time.
            let (outcome, detail) = match self.journal.winner.get() {
                Some(w) if self.source != Source::TaskMetadata => {
                    (Outcome::Skipped, format!("cancelled: {w} answered first (was {phase})"))
                }
                _ => (Outcome::Failed, format!("deadline reached while {phase}")),
            };
            self.journal.push(Attempt {
                source: self.source,
                outcome,
                elapsed: self.start.elapsed(),
                detail,
            });
        }
    }
}

/// Accepts a metadata body only when, trimmed of surrounding whitespace, it is one IPv4 address
/// that can name a host (see [`usable_host`]). Anything else is rejected with a short reason that
/// quotes (a bounded part of) what was received.
pub fn parse_ipv4(body: &[u8]) -> Result<Ipv4Addr, String> {
    parse_ip(body, "IPv4")
}

/// The same for one IPv6 address (IMDS `meta-data/ipv6`, `HostIPv6Address`), under the same rule.
pub fn parse_ipv6(body: &[u8]) -> Result<Ipv6Addr, String> {
    parse_ip(body, "IPv6")
}

/// One address of the `family` that `T` is, under [`usable_host`].
fn parse_ip<T: std::str::FromStr + Into<IpAddr> + Copy>(body: &[u8], family: &str) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not text".to_string())?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the answer is empty".into());
    }
    let ip: T = trimmed
        .parse()
        .map_err(|_| format!("not an {family} address: {}", crate::output::quote(trimmed, 40)))?;
    usable_host(ip.into())?;
    Ok(ip)
}

/// `Networks[0].NetworkMode` of a container's metadata (task metadata or metadata file), as is.
pub(crate) fn first_network_mode(container: &serde_json::Value) -> Option<&str> {
    container.get("Networks")?.as_array()?.first()?.get("NetworkMode")?.as_str()
}

/// The one acceptance rule for both address families: any address that can name a host,
/// loopback included (tests use it), but never the unspecified address (0.0.0.0, ::) or a
/// multicast one, nor the IPv4 broadcast address. An IPv4-mapped IPv6 address is judged as the
/// IPv4 address it carries.
pub(crate) fn usable_host(ip: IpAddr) -> Result<IpAddr, String> {
    let bad = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => return usable_host(IpAddr::V4(v4)).map(|_| ip),
            None => v6.is_unspecified() || v6.is_multicast(),
        },
    };
    if bad { Err(format!("{ip} cannot be an agent host")) } else { Ok(ip) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of `bad` is refused by `parse`.
    fn rejects_each<T: std::fmt::Debug>(parse: fn(&[u8]) -> Result<T, String>, bad: &[&[u8]]) {
        for bad in bad {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn accepts_only_one_usable_ipv4() {
        assert_eq!(parse_ipv4(b"10.0.1.43"), Ok(Ipv4Addr::new(10, 0, 1, 43)));
        assert_eq!(parse_ipv4(b" 10.0.1.43\n"), Ok(Ipv4Addr::new(10, 0, 1, 43)));
        assert_eq!(parse_ipv4(b"127.0.0.2"), Ok(Ipv4Addr::new(127, 0, 0, 2)));
        rejects_each(
            parse_ipv4,
            &[
                b"",
                b"  \n",
                b"fe80::1",
                b"10.0.1",
                b"10.0.1.43 10.0.1.44",
                b"10.0.1.256",
                b"<html>",
                b"0.0.0.0",
                b"255.255.255.255",
                b"224.0.0.1",
                b"\xff\xfe",
                b"10.0.1.43\x00",
            ],
        );
    }

    #[test]
    fn accepts_only_one_usable_ipv6_under_the_same_rule() {
        assert_eq!(parse_ipv6(b"2600:1f14:abc::17\n"), Ok("2600:1f14:abc::17".parse().expect("ip")));
        assert_eq!(parse_ipv6(b"::1"), Ok(Ipv6Addr::LOCALHOST));
        assert_eq!(parse_ipv6(b"fd00:ec2::172:2"), Ok("fd00:ec2::172:2".parse().expect("ip")));
        rejects_each(
            parse_ipv6,
            &[
                b"",
                b"::",
                b"ff02::1",
                b"ff05::2",
                b"::ffff:0.0.0.0",
                b"::ffff:224.0.0.1",
                b"::ffff:255.255.255.255",
                b"10.0.1.43",
                b"[::1]",
                b"fe80::1%eth0",
                b"2600:1f14::17 2600:1f14::18",
                b"2600:1f14::g",
                b"\xff\xfe",
            ],
        );
        // Both families, one rule.
        for (v4, v6) in [("0.0.0.0", "::"), ("224.0.0.1", "ff02::1"), ("127.0.0.1", "::1")] {
            let a = usable_host(v4.parse().expect("v4")).is_ok();
            let b = usable_host(v6.parse().expect("v6")).is_ok();
            assert_eq!(a, b, "{v4} vs {v6}");
        }
    }

    #[test]
    fn a_cancelled_step_records_its_phase() {
        let journal = Journal::default();
        {
            let step = journal.begin(Source::Imdsv2);
            step.phase("waiting for the token");
        }
        journal.begin(Source::MetadataFile).ok("10.0.0.1");
        journal.skip(Source::Env, "unset");
        journal.won(Source::MetadataFile);
        {
            let step = journal.begin(Source::Imdsv1);
            step.phase("waiting for local-ipv4");
        }
        let a = journal.into_attempts();
        let order: Vec<_> = a.iter().map(|a| a.source).collect();
        assert_eq!(order, [Source::Env, Source::MetadataFile, Source::Imdsv2, Source::Imdsv1]);
        assert_eq!(a[2].outcome, Outcome::Failed);
        assert_eq!(a[2].detail, "deadline reached while waiting for the token");
        assert_eq!(a[3].outcome, Outcome::Skipped);
        assert_eq!(a[3].detail, "cancelled: metadata-file answered first (was waiting for local-ipv4)");
    }
}
