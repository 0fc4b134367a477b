//! The `daemon-bridge` source: the Datadog Agent run as an ECS Managed Instances daemon.
//!
//! On ECS Managed Instances a platform team can run the Agent (≥ 7.77) as a managed daemon task,
//! one per instance, outside the app's task definition. Daemons share one network namespace, the
//! daemon bridge, at the static address 169.254.172.2 (fd00:ec2::172:2 for IPv6), and the
//! instance's private IP is not where that Agent listens. This module owns that rule: whether the
//! task runs on Managed Instances (`AWS_EXECUTION_ENV=AWS_ECS_MANAGED_INSTANCES` or task metadata
//! `LaunchType` `MANAGED_INSTANCES`), which address family the task uses (IPv6-only when its
//! networks carry only `IPv6Addresses`, or the metadata file has only `HostIPv6Address`), and the
//! one-line reason `--explain` gives. The resolver calls it only once sockets and a sidecar are
//! ruled out; no request is made here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::task_metadata::TaskMetadata;

/// The daemon bridge's static IPv4 address.
pub(crate) const HOST_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 172, 2);
/// The daemon bridge's static IPv6 address.
pub(crate) const HOST_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0x172, 0x2);
/// `AWS_EXECUTION_ENV` on ECS Managed Instances.
pub(crate) const EXECUTION_ENV: &str = "AWS_ECS_MANAGED_INSTANCES";
/// The task metadata `LaunchType` of ECS Managed Instances.
pub(crate) const LAUNCH_TYPE: &str = "MANAGED_INSTANCES";

/// How ddboot knows the task runs on Managed Instances, if it does.
pub(crate) fn managed_instances(
    execution_env: Option<&str>,
    launch_type: Option<&str>,
) -> Option<&'static str> {
    if execution_env == Some(EXECUTION_ENV) {
        Some("AWS_EXECUTION_ENV=AWS_ECS_MANAGED_INSTANCES")
    } else if launch_type == Some(LAUNCH_TYPE) {
        Some("LaunchType MANAGED_INSTANCES")
    } else {
        None
    }
}

/// What the task metadata said when the daemon bridge was chosen.
pub(crate) enum Evidence<'a> {
    /// The task document was read: no Agent container in it.
    NoAgentContainer(&'a TaskMetadata),
    /// The task document could not be read (why): the daemon bridge is a guess.
    Unread(&'a str),
}

/// The daemon bridge address for this task and the detail for the report. `file_host`: the host
/// the metadata file gave, if any (an IPv6 one: it had `HostIPv6Address` and no usable
/// `HostPrivateIPv4Address`).
pub(crate) fn choose(
    why_managed: &str,
    evidence: &Evidence<'_>,
    file_host: Option<IpAddr>,
) -> (IpAddr, String) {
    let task_ipv6_only = match evidence {
        Evidence::NoAgentContainer(t) => t.ipv6_only() == Some(true),
        Evidence::Unread(_) => false,
    };
    let (host, family) = if task_ipv6_only {
        (IpAddr::V6(HOST_V6), "; IPv6-only task (its networks carry IPv6Addresses only)")
    } else if file_host.is_some_and(|h| h.is_ipv6()) {
        (IpAddr::V6(HOST_V6), "; IPv6-only task (the metadata file has HostIPv6Address only)")
    } else {
        (IpAddr::V4(HOST_V4), "")
    };
    let detail = match evidence {
        Evidence::NoAgentContainer(_) => format!(
            "{host} (Managed Instances per {why_managed}, no Agent socket and no Agent container in the \
             task: the Agent daemon listens on the daemon bridge{family})"
        ),
        Evidence::Unread(why) => format!(
            "{host} (a guess: Managed Instances per {why_managed}, but the task metadata could not be read \
             to rule out an Agent container ({why}){family})"
        ),
    };
    (host, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::task_metadata::{Container, parse_task};

    #[test]
    fn the_static_addresses() {
        assert_eq!(HOST_V4.to_string(), "169.254.172.2");
        assert_eq!(HOST_V6.to_string(), "fd00:ec2::172:2");
    }

    #[test]
    fn managed_instances_from_the_environment_or_the_launch_type() {
        assert!(managed_instances(Some("AWS_ECS_MANAGED_INSTANCES"), None).is_some());
        assert!(managed_instances(None, Some("MANAGED_INSTANCES")).is_some());
        assert!(managed_instances(Some("AWS_ECS_EC2"), Some("EC2")).is_none());
        assert!(managed_instances(None, None).is_none());
    }

    #[test]
    fn the_family_follows_the_task_or_the_file() {
        let tm = |networks: &str| TaskMetadata {
            container: Ok(Container::default()),
            task: parse_task(
                format!(r#"{{"Containers":[{{"Name":"a","Networks":[{networks}]}}]}}"#).as_bytes(),
            ),
        };
        let v6 = tm(r#"{"NetworkMode":"awsvpc","IPv6Addresses":["2600::5"]}"#);
        let v4 = tm(r#"{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.0.5"]}"#);
        let (host, detail) = choose("x", &Evidence::NoAgentContainer(&v6), None);
        assert_eq!(host, IpAddr::V6(HOST_V6));
        assert!(detail.contains("IPv6-only"), "{detail}");
        assert_eq!(
            choose("x", &Evidence::NoAgentContainer(&v4), Some(IpAddr::V4(HOST_V4))).0,
            IpAddr::V4(HOST_V4)
        );
        assert_eq!(
            choose("x", &Evidence::NoAgentContainer(&v4), Some(IpAddr::V6(Ipv6Addr::LOCALHOST))).0,
            IpAddr::V6(HOST_V6)
        );
        let (host, detail) = choose("x", &Evidence::Unread("timeout"), None);
        assert_eq!(host, IpAddr::V4(HOST_V4));
        assert!(detail.contains("a guess"), "{detail}");
    }
}
