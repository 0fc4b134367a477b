//! The planning step: pure functions from configuration and findings to the exact environment
//! changes and argv of the app.
//!
//! Nothing here performs I/O. The rules: a resolved host is exported as `DD_AGENT_HOST` (an
//! inherited non-empty value is kept as is); an unresolved host never yields an empty
//! `DD_AGENT_HOST`, and an inherited empty one is removed; Agent sockets become
//! `DD_TRACE_AGENT_URL` / `DD_DOGSTATSD_URL` unless those are set, and so does a resolved IPv6
//! host (`http://[addr]:8126`, `udp://[addr]:8125`: tracers parse a raw IPv6 `DD_AGENT_HOST`
//! unevenly), after the sockets, which win; each service tag takes the first
//! of: its `--dd-*` flag, the inherited non-empty value (left untouched), the container's
//! `com.datadoghq.tags.*` label, and for `DD_VERSION` the image tag.

use std::ffi::OsString;
use std::path::Path;

use crate::config::{Config, TagFlag};
use crate::environ::{Change, Environ, Origin};
use crate::inject::{self, Probe};
use crate::resolve::Findings;
use crate::source::Source;
use crate::source::task_metadata::{TAG_LABEL_PREFIX, image_tag};

/// A unified service tag as the app will see it, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) name: &'static str,
    pub(crate) value: Option<String>,
    /// A flag, inherited, a label, the image tag, or unset.
    pub(crate) origin: Origin,
}

/// What ddboot exports whatever the tracer: the Agent's address and the service tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exports {
    /// Changes in the order they are applied.
    pub(crate) changes: Vec<Change>,
    /// DD_ENV, DD_SERVICE, DD_VERSION with their origins (also when inherited or unset).
    pub(crate) tags: Vec<Tag>,
}

impl Exports {
    /// The app's environment before any tracer injection.
    pub(crate) fn child_env(&self, inherited: &Environ) -> Environ {
        inherited.with(&self.changes)
    }
}

/// What will be executed, and with which environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// PROGRAM and its arguments, byte for byte.
    pub(crate) argv: Vec<OsString>,
    /// Changes in the order they are applied.
    pub(crate) changes: Vec<Change>,
    /// DD_ENV, DD_SERVICE, DD_VERSION with their origins (also when inherited or unset).
    pub(crate) tags: Vec<Tag>,
    /// The files the app needs (the PHP-FPM overlay), written by the effects step before planning.
    pub(crate) files: Vec<(std::path::PathBuf, String)>,
}

impl Plan {
    /// The app's environment: the inherited one with the changes applied.
    pub(crate) fn child_env(&self, inherited: &Environ) -> Environ {
        inherited.with(&self.changes)
    }
}

/// The plan: the exports, then the tracer injection on top of the environment they make.
pub(crate) fn plan(argv: &[OsString], env: &Environ, exports: Exports, tracer: &Probe) -> Plan {
    let app_env = exports.child_env(env);
    let injection = inject::apply(tracer, argv, &app_env);
    let mut changes = exports.changes;
    changes.extend(injection.changes);
    Plan { argv: injection.argv, changes, tags: exports.tags, files: tracer.files(&app_env) }
}

/// Host, sockets and tags, in this order.
pub(crate) fn exports(config: &Config, env: &Environ, findings: &Findings) -> Exports {
    let mut changes = Vec::new();
    match findings.resolved.as_ref().map(|r| (r.source, r.host.as_deref())) {
        Some((Source::Env, _)) => {}
        Some((source, Some(host))) => {
            changes.push(Change::set("DD_AGENT_HOST", host, Origin::Source(source.name())));
        }
        Some((_, None)) | None if env.contains("DD_AGENT_HOST") => {
            changes.push(Change { name: "DD_AGENT_HOST".into(), value: None, origin: Origin::NoHost });
        }
        Some((_, None)) | None => {}
    }
    let sockets = &findings.platform.sockets;
    for (name, path) in [("DD_TRACE_AGENT_URL", &sockets.apm), ("DD_DOGSTATSD_URL", &sockets.dsd)] {
        if let Some(path) = path
            && env.non_empty(name).is_none()
        {
            changes.push(Change::set(name, unix_url(path), Origin::Socket));
        }
    }
    if let Some((source, Some(host))) = findings.resolved.as_ref().map(|r| (r.source, r.host.as_deref()))
        && source != Source::Env
        && let Ok(ip) = host.parse::<std::net::Ipv6Addr>()
    {
        let urls = [
            ("DD_TRACE_AGENT_URL", format!("http://[{ip}]:{TRACE_PORT}"), &sockets.apm),
            ("DD_DOGSTATSD_URL", format!("udp://[{ip}]:{DOGSTATSD_PORT}"), &sockets.dsd),
        ];
        for (name, url, socket) in urls {
            if socket.is_none() && env.non_empty(name).is_none() {
                changes.push(Change::set(name, url, Origin::Source(source.name())));
            }
        }
    }
    let tags = tags(config, env, findings);
    for tag in &tags {
        if let Some(value) = &tag.value
            && tag.origin != Origin::Inherited
        {
            changes.push(Change::set(tag.name, value.as_str(), tag.origin.clone()));
        }
    }
    Exports { changes, tags }
}

/// The Agent's default APM and DogStatsD ports, for the URLs of an IPv6 host.
const TRACE_PORT: u16 = 8126;
const DOGSTATSD_PORT: u16 = 8125;

fn unix_url(path: &Path) -> String {
    format!("unix://{}", path.display())
}

/// Applies the tag precedence: flag > inherited non-empty > label > image tag (version only).
fn tags(config: &Config, env: &Environ, findings: &Findings) -> Vec<Tag> {
    let container = findings.container.as_ref();
    let image_tag = container.and_then(|c| c.image.as_deref()).and_then(image_tag).filter(|v| usable(v));
    config
        .tags
        .each()
        .into_iter()
        .map(|TagFlag { name, flag, key, value: flag_value }| {
            let label = container.and_then(|c| c.tag_label(key)).map(str::trim).filter(|v| usable(v));
            let (value, origin) = if let Some(v) = flag_value {
                (Some(v.clone()), Origin::Flag(flag))
            } else if let Some(v) = env.non_empty(name) {
                (Some(v.to_string()), Origin::Inherited)
            } else if let Some(v) = label {
                (Some(v.to_string()), Origin::Label(format!("{TAG_LABEL_PREFIX}{key}")))
            } else if let (Some(v), "DD_VERSION") = (&image_tag, name) {
                (Some(v.clone()), Origin::ImageTag)
            } else {
                (None, Origin::Unset)
            };
            Tag { name, value, origin }
        })
        .collect()
}

/// A tag value from metadata must be non-empty and free of control characters.
fn usable(v: &str) -> bool {
    !v.is_empty() && !v.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::config::InjectMode;
    use crate::resolve::{Platform, Resolved};
    use crate::source::socket::Sockets;
    use crate::source::task_metadata::Container;
    use clap::Parser;
    use std::path::PathBuf;
    use std::time::Duration;

    fn plan(config: &Config, env: &Environ, findings: &Findings) -> Plan {
        let off = crate::inject::probe(InjectMode::Off, None, &config.command, env, Path::new("/"));
        super::plan(&config.command, env, exports(config, env, findings), &off)
    }

    fn config(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from(["ddboot"].iter().chain(args).chain(&["app"])).expect("cli");
        Config::new(cli, &Environ::default()).expect("config")
    }

    fn findings(resolved: Option<(&str, Source)>) -> Findings {
        Findings {
            resolved: resolved.map(|(h, s)| Resolved { host: Some(h.into()), source: s }),
            attempts: vec![],
            elapsed: Duration::ZERO,
            platform: Platform::default(),
            container: None,
        }
    }

    #[test]
    fn exports_a_resolved_host() {
        let env = Environ::from_pairs([("DD_AGENT_HOST", "")]);
        let p = plan(&config(&[]), &env, &findings(Some(("10.0.0.1", Source::Imdsv2))));
        assert_eq!(p.child_env(&env).get_str("DD_AGENT_HOST"), Some("10.0.0.1"));
        assert_eq!(p.changes[0].origin.to_string(), "imdsv2");
    }

    #[test]
    fn keeps_an_inherited_host_untouched() {
        let env = Environ::from_pairs([("DD_AGENT_HOST", "agent.local")]);
        let p = plan(&config(&[]), &env, &findings(Some(("agent.local", Source::Env))));
        assert!(p.changes.is_empty());
    }

    #[test]
    fn never_exports_an_empty_host() {
        let env = Environ::from_pairs([("DD_AGENT_HOST", ""), ("PATH", "/bin")]);
        let p = plan(&config(&[]), &env, &findings(None));
        let child = p.child_env(&env);
        assert!(!child.contains("DD_AGENT_HOST"));
        assert_eq!(child.get_str("PATH"), Some("/bin"));
        let p = plan(&config(&[]), &Environ::default(), &findings(None));
        assert!(p.changes.is_empty());
    }

    #[test]
    fn sockets_become_urls_unless_set() {
        let mut f = findings(None);
        f.resolved = Some(Resolved { host: None, source: Source::Socket });
        f.platform.sockets = Sockets {
            apm: Some(PathBuf::from("/s/apm.socket")),
            dsd: Some(PathBuf::from("/s/dsd.socket")),
            ..Sockets::default()
        };
        let env = Environ::from_pairs([("DD_DOGSTATSD_URL", "udp://10.0.0.9:8125"), ("DD_AGENT_HOST", "")]);
        let child = plan(&config(&[]), &env, &f).child_env(&env);
        assert_eq!(child.get_str("DD_TRACE_AGENT_URL"), Some("unix:///s/apm.socket"));
        assert_eq!(child.get_str("DD_DOGSTATSD_URL"), Some("udp://10.0.0.9:8125"));
        assert!(!child.contains("DD_AGENT_HOST"));
    }

    #[test]
    fn an_ipv6_host_also_gets_bracketed_urls_unless_set_and_sockets_win() {
        let f = findings(Some(("fd00:ec2::172:2", Source::DaemonBridge)));
        let env = Environ::default();
        let child = plan(&config(&[]), &env, &f).child_env(&env);
        assert_eq!(child.get_str("DD_AGENT_HOST"), Some("fd00:ec2::172:2"));
        assert_eq!(child.get_str("DD_TRACE_AGENT_URL"), Some("http://[fd00:ec2::172:2]:8126"));
        assert_eq!(child.get_str("DD_DOGSTATSD_URL"), Some("udp://[fd00:ec2::172:2]:8125"));

        let env = Environ::from_pairs([("DD_TRACE_AGENT_URL", "http://agent:8126")]);
        let child = plan(&config(&[]), &env, &f).child_env(&env);
        assert_eq!(child.get_str("DD_TRACE_AGENT_URL"), Some("http://agent:8126"));
        assert_eq!(child.get_str("DD_DOGSTATSD_URL"), Some("udp://[fd00:ec2::172:2]:8125"));

        let mut one_socket = f.clone();
        one_socket.platform.sockets.dsd = Some(PathBuf::from("/s/dsd.socket"));
        let child = plan(&config(&[]), &Environ::default(), &one_socket).child_env(&Environ::default());
        assert_eq!(child.get_str("DD_TRACE_AGENT_URL"), Some("http://[fd00:ec2::172:2]:8126"));
        assert_eq!(child.get_str("DD_DOGSTATSD_URL"), Some("unix:///s/dsd.socket"));

        // IPv4 hosts and an inherited DD_AGENT_HOST get no URL.
        for f in [findings(Some(("10.0.0.1", Source::Imdsv2))), findings(Some(("::1", Source::Env)))] {
            let p = plan(&config(&[]), &Environ::default(), &f);
            assert!(p.changes.iter().all(|c| !c.name.ends_with("_URL")), "{p:?}");
        }
    }

    /// The precedence table: flag > inherited env > label > image tag (DD_VERSION only).
    #[test]
    fn tag_precedence_table() {
        let container = Container {
            image: Some("registry:5000/app:2.0".into()),
            tag_labels: vec![("env".into(), "label-env".into()), ("service".into(), "label-svc".into())],
            ..Container::default()
        };
        /// (flags, inherited env, container, expected (origin, value) for DD_ENV, DD_SERVICE, DD_VERSION)
        type Row<'a> =
            (&'a [&'a str], &'a [(&'a str, &'a str)], Option<Container>, [(&'a str, Option<&'a str>); 3]);
        let rows: [Row<'_>; 6] = [
            (
                &["--dd-env", "flag-env"],
                &[("DD_ENV", "env-env")],
                Some(container.clone()),
                [
                    ("flag --dd-env", Some("flag-env")),
                    ("label com.datadoghq.tags.service", Some("label-svc")),
                    ("image tag", Some("2.0")),
                ],
            ),
            (
                &[],
                &[("DD_ENV", "env-env"), ("DD_VERSION", "9")],
                Some(container.clone()),
                [
                    ("inherited", Some("env-env")),
                    ("label com.datadoghq.tags.service", Some("label-svc")),
                    ("inherited", Some("9")),
                ],
            ),
            (
                &[],
                &[("DD_ENV", "")],
                Some(container.clone()),
                [
                    ("label com.datadoghq.tags.env", Some("label-env")),
                    ("label com.datadoghq.tags.service", Some("label-svc")),
                    ("image tag", Some("2.0")),
                ],
            ),
            (
                &["--dd-version", "1.0"],
                &[],
                Some(Container { image: Some("app:latest".into()), ..Container::default() }),
                [("unset", None), ("unset", None), ("flag --dd-version", Some("1.0"))],
            ),
            (
                &[],
                &[],
                Some(Container {
                    image: Some("app@sha256:abc".into()),
                    tag_labels: vec![("version".into(), "3.1".into()), ("env".into(), "bad\nvalue".into())],
                    ..Container::default()
                }),
                [("unset", None), ("unset", None), ("label com.datadoghq.tags.version", Some("3.1"))],
            ),
            (&[], &[], None, [("unset", None), ("unset", None), ("unset", None)]),
        ];
        for (args, env, container, expected) in rows {
            let mut f = findings(None);
            f.container = container;
            let env = Environ::from_pairs(env.iter().copied());
            let p = plan(&config(args), &env, &f);
            let origins: Vec<String> = p.tags.iter().map(|t| t.origin.to_string()).collect();
            let got: Vec<(&str, Option<&str>)> =
                origins.iter().map(String::as_str).zip(p.tags.iter().map(|t| t.value.as_deref())).collect();
            assert_eq!(got, expected, "args {args:?}, env {env:?}");
            let child = p.child_env(&env);
            for t in &p.tags {
                assert_eq!(child.non_empty(t.name), t.value.as_deref(), "{}", t.name);
            }
        }
    }
}
