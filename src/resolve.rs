//! Runs the resolution sources under one global deadline and collects what they found.
//!
//! Precedence: an inherited `DD_AGENT_HOST` (`env`), both Agent sockets (`socket`), an Agent
//! sharing the task's network namespace (`sidecar`: Fargate, or an awsvpc task listing an Agent
//! container), the Managed Instances daemon bridge (`daemon-bridge`), the metadata file, IMDSv2,
//! IMDSv1, and, for bridge networking only, the default gateway as a last resort (on ECS
//! Anywhere, `LaunchType` `EXTERNAL`: 127.0.0.1 in host mode, the gateway in bridge mode, and
//! never IMDS). Cheap local checks come first (sockets, environment, one read of the metadata
//! file). Then, on a current-thread runtime and from the same instant, the task metadata requests
//! and the metadata file polling run concurrently; IMDS starts at once only when the task
//! metadata is not asked, or the launch type is known to be EC2 (`AWS_EXECUTION_ENV=AWS_ECS_EC2`)
//! and the metadata file says bridge or host networking; otherwise it waits for the task
//! metadata's answer (at most its short budget), so a sidecar, daemon-bridge or Anywhere task
//! never sends an IMDS request. A host found by the file or IMDS is final once the task metadata
//! (if asked) has answered. Nothing outlives the deadline, and nothing here changes the process:
//! the findings are data for `plan` and `report`.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Config, Imds};
use crate::environ::Environ;
use crate::source::daemon_bridge::{self, Evidence};
use crate::source::metadata_file::{self, MetadataFile};
use crate::source::socket::{self, Sockets};
use crate::source::task_metadata::{self, Container, TaskMetadata};
use crate::source::{Attempt, Journal, Source, gateway, imds};

/// The address sidecar Agents listen on. Not "localhost": Node.js may resolve it to ::1 first.
pub(crate) const SIDECAR_HOST: &str = "127.0.0.1";
/// `AWS_EXECUTION_ENV` on the EC2 launch type: the only value that lets IMDS start at once.
pub(crate) const EC2_EXECUTION_ENV: &str = "AWS_ECS_EC2";
/// The task metadata `LaunchType` of ECS Anywhere.
pub(crate) const ANYWHERE_LAUNCH_TYPE: &str = "EXTERNAL";

/// The agent and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// An IP address, or whatever non-empty value an inherited DD_AGENT_HOST holds; `None`
    /// when both Unix sockets make a host unnecessary.
    pub(crate) host: Option<String>,
    pub(crate) source: Source,
}

/// Which kind of Agent deployment ddboot detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentKind {
    /// A daemon Agent on the instance, reached through the host's IP (or, on Managed
    /// Instances, the daemon bridge).
    Daemon,
    /// An Agent container in the same task (same network namespace).
    Sidecar,
    /// The Agent's Unix sockets, shared through a volume.
    Socket,
}

impl AgentKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            AgentKind::Daemon => "daemon",
            AgentKind::Sidecar => "sidecar",
            AgentKind::Socket => "socket",
        }
    }
}

/// The ECS shape as detected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Platform {
    /// `AWS_EXECUTION_ENV` (AWS_ECS_EC2, AWS_ECS_FARGATE).
    pub(crate) execution_env: Option<String>,
    /// Task metadata `LaunchType` (EC2, FARGATE, MANAGED_INSTANCES, EXTERNAL).
    pub(crate) launch_type: Option<String>,
    /// bridge, host, awsvpc, container:…, from the metadata file or the task metadata.
    pub(crate) network_mode: Option<String>,
    /// The Agent container found in the task, if any.
    pub(crate) agent_container: Option<String>,
    pub(crate) agent: Option<AgentKind>,
    pub(crate) sockets: Sockets,
}

/// Everything the sources found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Findings {
    pub(crate) resolved: Option<Resolved>,
    pub(crate) attempts: Vec<Attempt>,
    /// Time from ddboot's start to the end of resolution.
    pub(crate) elapsed: Duration,
    pub(crate) platform: Platform,
    /// This container as the task metadata endpoint described it (labels, image).
    pub(crate) container: Option<Container>,
}

/// Resolves the agent. `started` is when ddboot started: the deadline counts from there.
pub(crate) fn resolve(config: &Config, env: &Environ, started: std::time::Instant) -> Findings {
    let deadline = Instant::from_std(started + config.timeout);
    let journal = Journal::default();
    let mut platform = Platform {
        execution_env: env.non_empty("AWS_EXECUTION_ENV").map(str::to_string),
        sockets: socket::find(&config.socket_dir),
        ..Platform::default()
    };
    let fargate = platform.execution_env.as_deref() == Some("AWS_ECS_FARGATE");
    let managed_env = daemon_bridge::managed_instances(platform.execution_env.as_deref(), None);

    let mut decided = None;
    if let Some(host) = env.non_empty("DD_AGENT_HOST") {
        journal.begin(Source::Env).ok(host.to_string());
        decided = Some(Resolved { host: Some(host.to_string()), source: Source::Env });
    } else {
        let why =
            if env.contains("DD_AGENT_HOST") { "DD_AGENT_HOST is empty" } else { "DD_AGENT_HOST is not set" };
        journal.skip(Source::Env, why);
    }
    record_sockets(&journal, &platform.sockets, &config.socket_dir);
    if decided.is_none() && platform.sockets.both() {
        decided = Some(Resolved { host: None, source: Source::Socket });
        platform.agent = Some(AgentKind::Socket);
    }
    if decided.is_none() && fargate {
        journal.begin(Source::Sidecar).ok(format!("{SIDECAR_HOST} (AWS_EXECUTION_ENV=AWS_ECS_FARGATE)"));
        decided = Some(Resolved { host: Some(SIDECAR_HOST.into()), source: Source::Sidecar });
        platform.agent = Some(AgentKind::Sidecar);
    }

    if let (None, Some(why), None) = (&decided, managed_env, &config.task_metadata) {
        // Managed Instances without a task metadata endpoint: no way to rule out an Agent
        // container, so the daemon bridge is a guess (the metadata file tells the family).
        let file_host = config.metadata_file.as_deref().and_then(|p| metadata_file::read(p).ok()?.host);
        let evidence = Evidence::Unread("ECS_CONTAINER_METADATA_URI_V4 is not set");
        let (host, detail) = daemon_bridge::choose(why, &evidence, file_host);
        journal.begin(Source::DaemonBridge).ok(detail);
        decided = Some(found(host, Source::DaemonBridge));
        platform.agent = Some(AgentKind::Daemon);
    }

    let search = Search {
        config,
        deadline,
        journal: &journal,
        need_host: decided.is_none(),
        task_metadata: config.task_metadata.as_ref().filter(|_| decided.is_none() || config.tags.wanted(env)),
        managed_env,
        ec2_env: platform.execution_env.as_deref() == Some(EC2_EXECUTION_ENV),
    };
    let outcome = search.run();
    platform.launch_type = outcome.task.as_ref().and_then(|t| t.launch_type().map(str::to_string));
    platform.network_mode = outcome.network_mode.clone();
    platform.agent_container = outcome.task.as_ref().and_then(|t| t.agent_container().map(str::to_string));
    let resolved = decided.or(outcome.resolved);
    if platform.agent.is_none() {
        platform.agent = match resolved.as_ref().map(|r| r.source) {
            Some(Source::Sidecar) => Some(AgentKind::Sidecar),
            Some(
                Source::DaemonBridge
                | Source::MetadataFile
                | Source::Imdsv2
                | Source::Imdsv1
                | Source::Gateway,
            ) => Some(AgentKind::Daemon),
            _ => None,
        };
    }
    match &resolved {
        Some(r) => journal.skip_missing(&Source::ALL, &format!("not needed: {} answered first", r.source)),
        None => journal.skip_missing(&Source::ALL, "not reached before the deadline"),
    }
    Findings {
        resolved,
        attempts: journal.into_attempts(),
        elapsed: started.elapsed(),
        platform,
        container: outcome.task.and_then(|t| t.container.ok()),
    }
}

fn record_sockets(journal: &Journal, sockets: &Sockets, dir: &std::path::Path) {
    match (&sockets.apm, &sockets.dsd) {
        (Some(_), Some(_)) => journal.begin(Source::Socket).ok(sockets.describe()),
        (None, None) if sockets.stale.is_empty() => {
            journal.skip(Source::Socket, format!("no Agent socket in {}", dir.display()))
        }
        (None, None) => journal.begin(Source::Socket).fail(sockets.describe()),
        _ => journal.begin(Source::Socket).fail(format!("{}: the host is still needed", sockets.describe())),
    }
}

/// The network part of the search.
struct Search<'a> {
    config: &'a Config,
    deadline: Instant,
    journal: &'a Journal,
    /// False when env, sockets or Fargate already decided the host.
    need_host: bool,
    /// The endpoint to ask, when its answer is needed (host or tags).
    task_metadata: Option<&'a crate::http::Endpoint>,
    /// `AWS_EXECUTION_ENV` says Managed Instances (how, for the report).
    managed_env: Option<&'static str>,
    /// `AWS_EXECUTION_ENV=AWS_ECS_EC2`: IMDS may start before the task metadata answered.
    ec2_env: bool,
}

#[derive(Default)]
struct SearchOutcome {
    resolved: Option<Resolved>,
    task: Option<TaskMetadata>,
    network_mode: Option<String>,
    /// The host the metadata file gave, if any (IPv6: an IPv6-only task).
    file_host: Option<IpAddr>,
    /// The task metadata said `LaunchType` `EXTERNAL` (ECS Anywhere).
    anywhere: bool,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Polls an optional future; pending forever when there is none.
async fn maybe<F: Future + Unpin>(f: &mut Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

impl Search<'_> {
    fn run(&self) -> SearchOutcome {
        let mut out = SearchOutcome::default();
        let mut polling = None;
        if !self.need_host {
            // The host is known; only the tags may still need the task metadata.
        } else if let Some(path) = &self.config.metadata_file {
            let started = std::time::Instant::now();
            match metadata_file::read(path) {
                Ok(doc) => {
                    out.network_mode = doc.network_mode.clone();
                    out.file_host = doc.host;
                    match doc.host {
                        Some(host) => {
                            self.journal.begin_at(Source::MetadataFile, started).ok(host.to_string());
                            out.resolved = Some(found(host, Source::MetadataFile));
                        }
                        None if !doc.ready => polling = Some((path.clone(), doc, started)),
                        None => self
                            .journal
                            .begin_at(Source::MetadataFile, started)
                            .fail(metadata_file::no_host_reason(&doc)),
                    }
                }
                Err(why) => self.journal.begin_at(Source::MetadataFile, started).fail(why),
            }
        } else {
            let why = match self.config.ignored("ECS_CONTAINER_METADATA_FILE") {
                Some(i) => format!("invalid ECS_CONTAINER_METADATA_FILE: {}", i.why),
                None => "ECS_CONTAINER_METADATA_FILE is not set".into(),
            };
            self.journal.skip(Source::MetadataFile, why);
        }
        if let Imds::Disabled(why) = &self.config.imds {
            self.journal.skip_missing(&[Source::Imdsv2, Source::Imdsv1], why);
        }
        if self.task_metadata.is_none() {
            let why = match self.config.ignored("ECS_CONTAINER_METADATA_URI_V4") {
                Some(i) => format!("invalid ECS_CONTAINER_METADATA_URI_V4: {}", i.why),
                None => "ECS_CONTAINER_METADATA_URI_V4 is not set or not needed".into(),
            };
            self.journal.skip(Source::TaskMetadata, why);
        }
        let imds_possible = self.need_host && matches!(self.config.imds, Imds::Enabled(_));
        let network_needed =
            self.task_metadata.is_some() || polling.is_some() || (imds_possible && out.resolved.is_none());
        if network_needed {
            match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
                Ok(runtime) => runtime.block_on(self.concurrent(polling, &mut out)),
                Err(e) => {
                    self.journal.skip_missing(&Source::ALL, &format!("cannot start the I/O runtime: {e}"))
                }
            }
        }
        if self.need_host {
            self.decide(&mut out);
        }
        out
    }

    /// Task metadata, file polling and IMDS side by side under the deadline.
    async fn concurrent(
        &self,
        polling: Option<(PathBuf, MetadataFile, std::time::Instant)>,
        out: &mut SearchOutcome,
    ) {
        let (config, journal, deadline) = (self.config, self.journal, self.deadline);
        let mut task: Option<Boxed<'_, TaskMetadata>> = self
            .task_metadata
            .map(|ep| Box::pin(task_metadata::fetch(ep, deadline, journal)) as Boxed<'_, _>);
        let mut file: Option<Boxed<'_, (Option<IpAddr>, MetadataFile)>> =
            polling.map(|(path, doc, started)| {
                Box::pin(async move { metadata_file::poll(&path, doc, started, deadline, journal).await })
                    as Boxed<'_, _>
            });
        let mut imds: Option<Boxed<'_, Option<(IpAddr, Source)>>> = None;
        let mut imds_started = !self.need_host || matches!(config.imds, Imds::Disabled(_));
        loop {
            // IMDS may start once the task metadata answered (sidecar, daemon bridge and Anywhere
            // ruled out), or at once on EC2 when the network mode rules out a sidecar.
            let shape_known = task.is_none()
                || (self.ec2_env && matches!(out.network_mode.as_deref(), Some("bridge" | "host")));
            if !imds_started && out.resolved.is_none() && shape_known && !out.anywhere {
                imds_started = true;
                if let Imds::Enabled(access) = &config.imds {
                    imds = Some(Box::pin(imds::resolve(access, deadline, journal)));
                }
            }
            let host_work_left =
                out.resolved.is_none() && (file.is_some() || imds.is_some() || !imds_started);
            if task.is_none() && !host_work_left {
                break;
            }
            tokio::select! {
                t = maybe(&mut task) => {
                    task = None;
                    if out.network_mode.is_none() {
                        out.network_mode = t.network_mode().map(str::to_string);
                    }
                    if self.need_host && sidecar(&t).is_some() {
                        journal.won(Source::Sidecar);
                        out.resolved = Some(Resolved { host: Some(SIDECAR_HOST.into()), source: Source::Sidecar });
                        file = None;
                        imds = None;
                    } else if self.need_host {
                        match self.shape(&t, out) {
                            Shape::DaemonBridge(host) => {
                                journal.won(Source::DaemonBridge);
                                out.resolved = Some(found(host, Source::DaemonBridge));
                                file = None;
                                imds = None;
                            }
                            Shape::Anywhere => {
                                // Neither the file's host nor IMDS: the gateway rules decide.
                                out.anywhere = true;
                                out.resolved = None;
                                file = None;
                                imds = None;
                                imds_started = true;
                            }
                            Shape::Other => {}
                        }
                    }
                    out.task = Some(t);
                }
                (host, doc) = maybe(&mut file) => {
                    file = None;
                    out.file_host = doc.host.or(out.file_host);
                    out.network_mode = doc.network_mode.or(out.network_mode.take());
                    if let Some(ip) = host {
                        out.resolved.get_or_insert(found(ip, Source::MetadataFile));
                        journal.won(Source::MetadataFile);
                        imds = None;
                    }
                }
                r = maybe(&mut imds) => {
                    imds = None;
                    if let Some((ip, source)) = r {
                        out.resolved.get_or_insert(found(ip, source));
                        journal.won(source);
                        file = None;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    /// What the task metadata's answer says about the shape, once a sidecar is ruled out.
    /// Records the daemon-bridge attempt when it decides.
    fn shape(&self, t: &TaskMetadata, out: &SearchOutcome) -> Shape {
        let launch = t.launch_type();
        if launch == Some(ANYWHERE_LAUNCH_TYPE) {
            return Shape::Anywhere;
        }
        let Some(why) = self.managed_env.or_else(|| daemon_bridge::managed_instances(None, launch)) else {
            return Shape::Other;
        };
        let evidence = match &t.task {
            Ok(_) if t.agent_container().is_some() => return Shape::Other,
            Ok(_) => Evidence::NoAgentContainer(t),
            Err(e) => Evidence::Unread(e),
        };
        let (host, detail) = daemon_bridge::choose(why, &evidence, out.file_host);
        self.journal.begin(Source::DaemonBridge).ok(detail);
        Shape::DaemonBridge(host)
    }

    /// Sidecar and daemon-bridge bookkeeping, ECS Anywhere and the bridge gateway fallback,
    /// after the concurrent phase.
    fn decide(&self, out: &mut SearchOutcome) {
        let sidecar_container = out.task.as_ref().and_then(sidecar);
        match (&out.resolved, sidecar_container) {
            (Some(r), Some(why)) if r.source == Source::Sidecar => {
                self.journal.begin(Source::Sidecar).ok(why)
            }
            _ => {
                let why = match &out.task {
                    Some(_) => "no Agent container in this task and not Fargate",
                    None => "not Fargate, and no task metadata to find an Agent container in",
                };
                self.journal.skip(Source::Sidecar, why);
            }
        }
        let by_shape =
            matches!(out.resolved.as_ref().map(|r| r.source), Some(Source::Sidecar | Source::DaemonBridge));
        if !by_shape
            && out.task.is_none()
            && let Some(why) = self.managed_env
        {
            // The task metadata did not answer before the deadline: the daemon bridge, as a guess
            // (also over the metadata file's host, which is not where a daemon Agent listens).
            let evidence = Evidence::Unread("no answer before the deadline");
            let (host, detail) = daemon_bridge::choose(why, &evidence, out.file_host);
            self.journal.begin(Source::DaemonBridge).ok(detail);
            out.resolved = Some(found(host, Source::DaemonBridge));
        }
        if !self.journal.has(Source::DaemonBridge) {
            let launch = out.task.as_ref().and_then(TaskMetadata::launch_type);
            let why = match daemon_bridge::managed_instances(None, launch).or(self.managed_env) {
                Some(_) => "Managed Instances, but the task lists an Agent container",
                None => "not Managed Instances (AWS_EXECUTION_ENV and LaunchType say otherwise or nothing)",
            };
            self.journal.skip(Source::DaemonBridge, why);
        }
        if out.anywhere {
            self.journal.skip_missing(
                &[Source::MetadataFile],
                "ECS Anywhere (LaunchType EXTERNAL): the gateway rules decide",
            );
            self.journal.skip_missing(
                &[Source::Imdsv2, Source::Imdsv1],
                "ECS Anywhere (LaunchType EXTERNAL): there is no IMDS",
            );
        }
        if out.resolved.is_some() {
            return;
        }
        if out.anywhere && out.network_mode.as_deref() == Some("host") {
            self.journal.begin(Source::Gateway).ok(format!(
                "{SIDECAR_HOST} (ECS Anywhere, host network mode: the Agent on this host is on loopback)"
            ));
            out.resolved = Some(Resolved { host: Some(SIDECAR_HOST.into()), source: Source::Gateway });
            return;
        }
        if out.network_mode.as_deref() != Some("bridge") {
            let mode = out.network_mode.as_deref().unwrap_or("unknown");
            self.journal
                .skip(Source::Gateway, format!("fallback for bridge networking only (network mode {mode})"));
            return;
        }
        let step = self.journal.begin(Source::Gateway);
        match gateway::default_gateway() {
            Ok(ip) if out.anywhere => {
                step.ok(format!(
                    "{ip} (ECS Anywhere, bridge network: the Agent on this host via the gateway)"
                ));
                out.resolved = Some(found(IpAddr::V4(ip), Source::Gateway));
            }
            Ok(ip) => {
                step.ok(format!("{ip} (fallback: bridge network, every other source failed)"));
                out.resolved = Some(found(IpAddr::V4(ip), Source::Gateway));
            }
            Err(why) => step.fail(why),
        }
    }
}

fn found(ip: IpAddr, source: Source) -> Resolved {
    Resolved { host: Some(ip.to_string()), source }
}

/// The shape the task metadata revealed, once a sidecar is ruled out.
enum Shape {
    DaemonBridge(IpAddr),
    Anywhere,
    Other,
}

/// Why the task's Agent shares this container's network namespace, if it does.
fn sidecar(task: &TaskMetadata) -> Option<String> {
    let launch = task.task.as_ref().ok().and_then(|t| t.launch_type.as_deref());
    if launch == Some("FARGATE") {
        return Some(format!("{SIDECAR_HOST} (LaunchType FARGATE)"));
    }
    let agent = task.agent_container()?;
    (task.network_mode() == Some("awsvpc")).then(|| {
        format!(
            "{SIDECAR_HOST} (awsvpc task with Agent container {agent:?}, LaunchType {})",
            launch.unwrap_or("unknown")
        )
    })
}
