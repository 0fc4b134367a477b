//! The ECS task metadata endpoint v4 (`$ECS_CONTAINER_METADATA_URI_V4`): this container and its
//! task.
//!
//! `GET $URI` describes this container (name, image, Docker labels, network mode); `GET $URI/task`
//! the task (launch type, every container). ddboot uses them to detect the ECS shape (Fargate or
//! Managed Instances, awsvpc, an Agent sidecar in the task) and to read the unified service tags
//! from the `com.datadoghq.tags.*` labels and the image tag. Both requests are made once, in
//! parallel, with a short budget inside the global deadline; a failure is recorded and otherwise
//! ignored. A `LaunchType` or `NetworkMode` ddboot does not know is reported and treated as
//! unknown. No field here carries the host's IP; the address families of the container's
//! networks tell an IPv6-only task.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{Journal, Source};
use crate::http::{self, Endpoint};

/// The longest the task metadata requests may take. The ECS agent answers in about a millisecond.
pub(crate) const BUDGET: Duration = Duration::from_millis(300);
/// Task documents with many containers run to tens of KiB.
pub(crate) const BODY_CAP: usize = 512 * 1024;
/// The Docker label prefix Datadog documents for unified service tagging.
pub(crate) const TAG_LABEL_PREFIX: &str = "com.datadoghq.tags.";
/// The launch types ddboot knows (`EXTERNAL` is ECS Anywhere).
pub(crate) const LAUNCH_TYPES: [&str; 4] = ["EC2", "FARGATE", "MANAGED_INSTANCES", "EXTERNAL"];
/// The network modes ddboot knows, besides `container:<name>`.
pub(crate) const NETWORK_MODES: [&str; 4] = ["awsvpc", "bridge", "host", "none"];

/// This container, as the endpoint describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    pub(crate) name: Option<String>,
    pub image: Option<String>,
    /// Only the `com.datadoghq.tags.*` labels, with the prefix removed (`env`, `service`, …).
    pub tag_labels: Vec<(String, String)>,
    pub(crate) network_mode: Option<String>,
    /// `Some(true)` when its networks carry `IPv6Addresses` and no `IPv4Addresses`.
    pub(crate) ipv6_only: Option<bool>,
    /// Values ddboot does not know and ignored, for the report.
    pub(crate) ignored: Vec<String>,
}

impl Container {
    /// The label `com.datadoghq.tags.<key>`.
    pub fn tag_label(&self, key: &str) -> Option<&str> {
        self.tag_labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A container of the task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskContainer {
    pub(crate) name: Option<String>,
    pub image: Option<String>,
    pub(crate) network_mode: Option<String>,
    pub(crate) ipv6_only: Option<bool>,
}

/// The task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    /// One of [`LAUNCH_TYPES`]; any other value is in `ignored` instead.
    pub(crate) launch_type: Option<String>,
    pub containers: Vec<TaskContainer>,
    /// Values ddboot does not know and ignored, for the report.
    pub(crate) ignored: Vec<String>,
}

/// What the two requests gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMetadata {
    pub container: Result<Container, String>,
    pub task: Result<Task, String>,
}

impl TaskMetadata {
    /// This container's network mode, from its own document or its entry in the task.
    pub fn network_mode(&self) -> Option<&str> {
        if let Some(mode) = self.container.as_ref().ok().and_then(|c| c.network_mode.as_deref()) {
            return Some(mode);
        }
        let name = self.container.as_ref().ok().and_then(|c| c.name.as_deref());
        let task = self.task.as_ref().ok()?;
        let mine = task.containers.iter().find(|c| name.is_some() && c.name.as_deref() == name);
        mine.or(task.containers.first()).and_then(|c| c.network_mode.as_deref())
    }

    /// Whether this container's networks are IPv6-only, from its own document or its task entry.
    pub(crate) fn ipv6_only(&self) -> Option<bool> {
        if let Some(v6) = self.container.as_ref().ok().and_then(|c| c.ipv6_only) {
            return Some(v6);
        }
        let name = self.container.as_ref().ok().and_then(|c| c.name.as_deref());
        let task = self.task.as_ref().ok()?;
        let mine = task.containers.iter().find(|c| name.is_some() && c.name.as_deref() == name);
        mine.or(task.containers.first()).and_then(|c| c.ipv6_only)
    }

    /// The launch type, when the task document was read and carries a known one.
    pub(crate) fn launch_type(&self) -> Option<&str> {
        self.task.as_ref().ok()?.launch_type.as_deref()
    }

    /// The name of a Datadog Agent container in the task other than this one.
    pub fn agent_container(&self) -> Option<&str> {
        let own = self.container.as_ref().ok().and_then(|c| c.name.as_deref());
        let task = self.task.as_ref().ok()?;
        task.containers
            .iter()
            .filter(|c| c.name.as_deref() != own || own.is_none())
            .find(|c| {
                c.name.as_deref() == Some("datadog-agent") || c.image.as_deref().is_some_and(is_agent_image)
            })
            .map(|c| c.name.as_deref().unwrap_or("(unnamed)"))
    }
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The first network's mode when ddboot knows it; an unknown one goes into `ignored`.
fn first_network_mode(v: &Value, ignored: &mut Vec<String>) -> Option<String> {
    let mode = super::first_network_mode(v)?.to_string();
    if NETWORK_MODES.contains(&mode.as_str()) || mode.starts_with("container:") {
        Some(mode)
    } else {
        ignored.push(format!("unknown NetworkMode {} ignored", crate::output::quote(&mode, 40)));
        None
    }
}

/// `Some(true)` when the networks list IPv6 addresses and no IPv4 address, `Some(false)` when
/// they list an IPv4 address, `None` when they list no address at all.
fn ipv6_only(v: &Value) -> Option<bool> {
    let networks = v.get("Networks").and_then(Value::as_array)?;
    let has = |key: &str| {
        networks.iter().any(|n| n.get(key).and_then(Value::as_array).is_some_and(|a| !a.is_empty()))
    };
    match (has("IPv4Addresses"), has("IPv6Addresses")) {
        (true, _) => Some(false),
        (false, true) => Some(true),
        (false, false) => None,
    }
}

/// Parses the container document (`GET $URI`).
pub fn parse_container(bytes: &[u8]) -> Result<Container, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("container: not valid JSON ({e})"))?;
    if !v.is_object() {
        return Err("container: not a JSON object".into());
    }
    let tag_labels = v
        .get("Labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, val)| {
                    Some((k.strip_prefix(TAG_LABEL_PREFIX)?.to_string(), val.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ignored = Vec::new();
    let network_mode = first_network_mode(&v, &mut ignored);
    Ok(Container {
        name: string(&v, "Name"),
        image: string(&v, "Image"),
        tag_labels,
        network_mode,
        ipv6_only: ipv6_only(&v),
        ignored,
    })
}

/// Parses the task document (`GET $URI/task`).
pub fn parse_task(bytes: &[u8]) -> Result<Task, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("task: not valid JSON ({e})"))?;
    if !v.is_object() {
        return Err("task: not a JSON object".into());
    }
    let mut ignored = Vec::new();
    let containers = v
        .get("Containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| TaskContainer {
                    name: string(c, "Name"),
                    image: string(c, "Image"),
                    network_mode: first_network_mode(c, &mut ignored),
                    ipv6_only: ipv6_only(c),
                })
                .collect()
        })
        .unwrap_or_default();
    let launch_type = match string(&v, "LaunchType") {
        Some(t) if LAUNCH_TYPES.contains(&t.as_str()) => Some(t),
        Some(t) => {
            ignored.push(format!("unknown LaunchType {} ignored", crate::output::quote(&t, 40)));
            None
        }
        None => None,
    };
    ignored.dedup();
    Ok(Task { launch_type, containers, ignored })
}

/// An image reference split into its repository and its tag (after the last ':' of the last path
/// segment), the digest dropped.
fn split_image(image: &str) -> (&str, Option<&str>) {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].rfind(':') {
        Some(colon) => (&no_digest[..last_slash + colon], Some(&no_digest[last_slash + colon + 1..])),
        None => (no_digest, None),
    }
}

/// Whether `image` is the Datadog Agent: `datadog/agent` on any registry, or
/// `gcr.io/datadoghq/agent` (and its regional mirrors).
pub fn is_agent_image(image: &str) -> bool {
    let repo = split_image(image.trim()).0.to_ascii_lowercase();
    let gcr = repo
        .strip_suffix("/datadoghq/agent")
        .is_some_and(|registry| registry == "gcr.io" || registry.ends_with(".gcr.io"));
    repo == "datadog/agent" || repo.ends_with("/datadog/agent") || gcr
}

/// The tag of an image reference: after the last ':' of its last path segment, never `latest`
/// and never a digest.
pub fn image_tag(image: &str) -> Option<String> {
    let tag = split_image(image.trim()).1?.trim();
    let usable = !tag.is_empty() && !tag.eq_ignore_ascii_case("latest") && !tag.starts_with("sha256");
    usable.then(|| tag.to_string())
}

/// Fetches both documents in parallel within [`BUDGET`] and the deadline; records the attempt.
pub(crate) async fn fetch(endpoint: &Endpoint, deadline: Instant, journal: &Journal) -> TaskMetadata {
    let step = journal.begin(Source::TaskMetadata);
    step.phase("waiting for the task metadata endpoint");
    let done_by = (Instant::now() + BUDGET).min(deadline);
    let get = |suffix: &'static str| {
        let path = endpoint.path(suffix);
        async move {
            match http::request(endpoint, "GET", &path, &[], BODY_CAP, done_by, done_by).await {
                Ok(r) if r.status == 200 => Ok(r.body),
                Ok(r) => Err(format!("GET {path} answered {}", r.status)),
                Err(e) => Err(format!("GET {path}: {e}")),
            }
        }
    };
    let (container, task) = tokio::join!(get(""), get("/task"));
    let found = TaskMetadata {
        container: container.and_then(|b| parse_container(&b)),
        task: task.and_then(|b| parse_task(&b)),
    };
    let mut ignored: Vec<&str> = Vec::new();
    for list in [found.container.as_ref().map(|c| &c.ignored), found.task.as_ref().map(|t| &t.ignored)] {
        for note in list.into_iter().flatten() {
            if !ignored.contains(&note.as_str()) {
                ignored.push(note);
            }
        }
    }
    let ignored = if ignored.is_empty() { String::new() } else { format!(" ({})", ignored.join("; ")) };
    let family = if found.ipv6_only() == Some(true) { ", IPv6-only networks" } else { "" };
    match (&found.container, &found.task) {
        (Ok(c), Ok(t)) => step.ok(format!(
            "launch type {}, network mode {}{family}, container {}, {} container(s) in the task{ignored}",
            t.launch_type.as_deref().unwrap_or("unknown"),
            found.network_mode().unwrap_or("unknown"),
            c.name.as_deref().unwrap_or("(unnamed)"),
            t.containers.len()
        )),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => step.ok(format!("partial: {e}{ignored}")),
        (Err(a), Err(b)) => step.fail(format!("{a}; {b}")),
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_agent_images_on_any_registry() {
        for yes in [
            "datadog/agent",
            "datadog/agent:7",
            "public.ecr.aws/datadog/agent:latest",
            "gcr.io/datadoghq/agent:7.52.0",
            "eu.gcr.io/datadoghq/agent",
            "docker.io/datadog/agent@sha256:0123",
            "registry.example.com:5000/mirror/datadog/agent:7",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/datadog/agent:7",
        ] {
            assert!(is_agent_image(yes), "{yes}");
        }
        for no in [
            "datadog/agent-dev-tools",
            "my/app:datadog",
            "evil.io/datadoghq/agent",
            "agent",
            "datadog/cluster-agent",
        ] {
            assert!(!is_agent_image(no), "{no}");
        }
    }

    #[test]
    fn image_tags_never_latest_nor_digest() {
        assert_eq!(
            image_tag("111122223333.dkr.ecr.us-west-2.amazonaws.com/app:1.4.2").as_deref(),
            Some("1.4.2")
        );
        assert_eq!(image_tag("registry:5000/team/app:v2").as_deref(), Some("v2"));
        assert_eq!(image_tag("registry:5000/team/app"), None);
        assert_eq!(image_tag("app:latest"), None);
        assert_eq!(image_tag("app@sha256:abcdef"), None);
        assert_eq!(image_tag("app:1.0@sha256:abcdef").as_deref(), Some("1.0"));
        assert_eq!(image_tag("app:"), None);
        assert_eq!(image_tag(""), None);
    }

    #[test]
    fn parses_labels_and_networks() {
        let c = parse_container(
            br#"{"Name":"web","Image":"app:1.2","Labels":{"com.datadoghq.tags.env":"prod","com.datadoghq.tags.service":"web","other":"x","com.datadoghq.tags.version":7},
                "Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.2.106"]}]}"#,
        )
        .expect("parses");
        assert_eq!(c.tag_label("env"), Some("prod"));
        assert_eq!(c.tag_label("service"), Some("web"));
        assert_eq!(c.tag_label("version"), None);
        assert_eq!(c.network_mode.as_deref(), Some("awsvpc"));
        assert!(parse_container(b"[]").is_err());
        assert!(parse_task(b"{").is_err());
    }

    #[test]
    fn unknown_launch_types_and_network_modes_are_reported_and_ignored() {
        let task = parse_task(
            br#"{"LaunchType":"SPACE","Containers":[{"Name":"web","Networks":[{"NetworkMode":"warp\u0007"}]},
                {"Name":"b","Networks":[{"NetworkMode":"container:web"}]}]}"#,
        )
        .expect("an unknown value is not fatal");
        assert_eq!(task.launch_type, None);
        assert_eq!(task.containers[0].network_mode, None);
        assert_eq!(task.containers[1].network_mode.as_deref(), Some("container:web"));
        assert_eq!(
            task.ignored,
            [r#"unknown NetworkMode "warp\u{7}" ignored"#, r#"unknown LaunchType "SPACE" ignored"#]
        );
        for known in LAUNCH_TYPES {
            let doc = format!(r#"{{"LaunchType":"{known}"}}"#);
            assert_eq!(parse_task(doc.as_bytes()).expect("parses").launch_type.as_deref(), Some(known));
        }
        let c = parse_container(br#"{"Networks":[{"NetworkMode":"mesh"}]}"#).expect("parses");
        assert_eq!((c.network_mode, c.ignored.len()), (None, 1));
    }

    #[test]
    fn tells_ipv6_only_networks() {
        let c = |doc: &str| parse_container(doc.as_bytes()).expect("parses").ipv6_only;
        assert_eq!(
            c(r#"{"Networks":[{"NetworkMode":"awsvpc","IPv6Addresses":["2600:1f14::5"]}]}"#),
            Some(true)
        );
        assert_eq!(
            c(
                r#"{"Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.0.5"],"IPv6Addresses":["2600::5"]}]}"#
            ),
            Some(false)
        );
        assert_eq!(
            c(r#"{"Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":[],"IPv6Addresses":["2600::5"]}]}"#),
            Some(true)
        );
        assert_eq!(c(r#"{"Networks":[{"NetworkMode":"host"}]}"#), None);
        assert_eq!(c("{}"), None);
    }

    #[test]
    fn finds_a_sidecar_agent_but_not_itself() {
        let task = parse_task(
            br#"{"LaunchType":"MANAGED_INSTANCES","Containers":[
                {"Name":"web","Image":"app:1","Networks":[{"NetworkMode":"awsvpc"}]},
                {"Name":"dd","Image":"public.ecr.aws/datadog/agent:7","Networks":[{"NetworkMode":"awsvpc"}]}]}"#,
        );
        let container = Ok(Container { name: Some("web".into()), ..Container::default() });
        let tm = TaskMetadata { container, task };
        assert_eq!(tm.agent_container(), Some("dd"));
        assert_eq!(tm.network_mode(), Some("awsvpc"));
        let own = TaskMetadata {
            container: Ok(Container { name: Some("dd".into()), ..Container::default() }),
            task: tm.task.clone(),
        };
        assert_eq!(own.agent_container(), None);
    }
}
