//! Runs the resolution sources under one global deadline and collects what they found.
//!
//! Order: an inherited `DD_AGENT_HOST` wins without any lookup; then one read of the metadata
//! file, which ends the search when it has the host (no IMDS request at all); otherwise the file
//! polling and IMDS run concurrently on a current-thread runtime, and the first valid address
//! wins. Nothing here outlives the deadline, and nothing here changes the process: the findings
//! are data for the planner.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Config, Imds};
use crate::environ::Environ;
use crate::source::metadata_file::{self, MetadataFile};
use crate::source::{Attempt, Journal, Source, imds};

/// The host sources, in order.
const HOST_SOURCES: [Source; 4] = [Source::Env, Source::MetadataFile, Source::Imdsv2, Source::Imdsv1];

/// The agent host and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// An IPv4 address, or whatever non-empty value an inherited DD_AGENT_HOST holds.
    pub host: String,
    pub source: Source,
}

/// Everything the sources found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    pub resolved: Option<Resolved>,
    pub attempts: Vec<Attempt>,
    /// Time from ddboot's start to the end of resolution.
    pub elapsed: Duration,
}

/// Resolves the agent host. `started` is when ddboot started: the deadline counts from there.
pub fn resolve(config: &Config, env: &Environ, started: std::time::Instant) -> Findings {
    let deadline = Instant::from_std(started + config.timeout);
    let journal = Journal::default();
    let resolved = match env.non_empty("DD_AGENT_HOST") {
        Some(host) => {
            journal.begin(Source::Env).ok(host.to_string());
            Some(Resolved { host: host.to_string(), source: Source::Env })
        }
        None => {
            let why = if env.contains("DD_AGENT_HOST") {
                "DD_AGENT_HOST is empty"
            } else {
                "DD_AGENT_HOST is not set"
            };
            journal.skip(Source::Env, why);
            lookup(config, deadline, &journal).map(|(ip, source)| Resolved { host: ip.to_string(), source })
        }
    };
    match &resolved {
        Some(r) => journal.skip_missing(&HOST_SOURCES, &format!("not needed: {} answered first", r.source)),
        None => journal.skip_missing(&HOST_SOURCES, "not reached before the deadline"),
    }
    Findings { resolved, attempts: journal.into_attempts(), elapsed: started.elapsed() }
}

/// The metadata file's first read, then, when needed, the concurrent phase.
fn lookup(config: &Config, deadline: Instant, journal: &Journal) -> Option<(Ipv4Addr, Source)> {
    let mut polling = None;
    if let Some(path) = &config.metadata_file {
        let started = std::time::Instant::now();
        match metadata_file::read(path) {
            Ok(MetadataFile { host: Some(host), .. }) => {
                journal.begin_at(Source::MetadataFile, started).ok(host.to_string());
                return Some((host, Source::MetadataFile));
            }
            Ok(doc) if !doc.ready => polling = Some((path.clone(), doc, started)),
            Ok(_) => journal
                .begin_at(Source::MetadataFile, started)
                .fail("READY but without HostPrivateIPv4Address (old ECS agent, or IPv6-only instance)"),
            Err(why) => journal.begin_at(Source::MetadataFile, started).fail(why),
        }
    } else {
        journal.skip(Source::MetadataFile, "ECS_CONTAINER_METADATA_FILE is not set");
    }
    if let Imds::Disabled(why) = &config.imds {
        journal.skip_missing(&[Source::Imdsv2, Source::Imdsv1], why);
    }
    if polling.is_none() && matches!(config.imds, Imds::Disabled(_)) {
        return None;
    }
    match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(runtime) => runtime.block_on(concurrent(config, polling, deadline, journal)),
        Err(e) => {
            journal.skip_missing(&HOST_SOURCES, &format!("cannot start the I/O runtime: {e}"));
            None
        }
    }
}

/// File polling and IMDS side by side; the first address wins, the deadline ends everything.
async fn concurrent(
    config: &Config,
    polling: Option<(PathBuf, MetadataFile, std::time::Instant)>,
    deadline: Instant,
    journal: &Journal,
) -> Option<(Ipv4Addr, Source)> {
    let mut file_done = polling.is_none();
    let file = async {
        let (path, doc, started) = polling?;
        metadata_file::poll(&path, doc, started, deadline, journal).await.map(|(ip, _)| ip)
    };
    let mut imds_done = matches!(config.imds, Imds::Disabled(_));
    let imds = async {
        match &config.imds {
            Imds::Enabled { endpoint, v1_allowed } => {
                imds::resolve(endpoint, *v1_allowed, deadline, journal).await
            }
            Imds::Disabled(_) => None,
        }
    };
    tokio::pin!(file, imds);
    loop {
        if file_done && imds_done {
            return None;
        }
        tokio::select! {
            r = &mut file, if !file_done => {
                file_done = true;
                if let Some(ip) = r {
                    journal.won(Source::MetadataFile);
                    return Some((ip, Source::MetadataFile));
                }
            }
            r = &mut imds, if !imds_done => {
                imds_done = true;
                if let Some((ip, source)) = r {
                    journal.won(source);
                    return Some((ip, source));
                }
            }
            _ = tokio::time::sleep_until(deadline) => return None,
        }
    }
}
