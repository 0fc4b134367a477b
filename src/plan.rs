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

use crate::config::Config;
use crate::environ::Environ;
use crate::inject::{self, Probe};
use crate::resolve::Findings;
use crate::source::Source;
use crate::source::task_metadata::{TAG_LABEL_PREFIX, image_tag};

/// One change to the app's environment, with where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    /// `None` removes the variable.
    pub value: Option<String>,
    /// Why: a source name (`imdsv2`), `flag --dd-env`, `label com.datadoghq.tags.env` …
    pub origin: String,
}

/// A unified service tag as the app will see it, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: &'static str,
    pub value: Option<String>,
    /// `flag --dd-env`, `inherited`, `label com.datadoghq.tags.env`, `image tag`, or `unset`.
    pub origin: String,
}

/// What will be executed, and with which environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// PROGRAM and its arguments, byte for byte.
    pub argv: Vec<OsString>,
    /// Changes in the order they are applied.
    pub changes: Vec<Change>,
    /// DD_ENV, DD_SERVICE, DD_VERSION with their origins (also when inherited or unset).
    pub tags: Vec<Tag>,
    /// Files to write just before the exec (the PHP-FPM overlay).
    pub files: Vec<(std::path::PathBuf, String)>,
}

impl Plan {
    /// The app's environment: the inherited one with the changes applied.
    pub fn child_env(&self, inherited: &Environ) -> Environ {
        let mut env = inherited.clone();
        for change in &self.changes {
            match &change.value {
                Some(v) => env.set(&change.name, v.as_str()),
                None => env.unset(&change.name),
            }
        }
        env
    }

    /// Writes the planned files. Each lives in a directory private to ddboot's user (created
    /// 0700, or reused only when it is a real directory of ours that nobody else can write), and
    /// is created under its own (random) name with `O_EXCL | O_NOFOLLOW`: a planted symlink or
    /// file in a shared `/tmp` can neither be followed nor swapped in, and a name that exists
    /// already is an error, never overwritten. The file stays for the app's lifetime.
    pub fn write_files(&self) -> Result<(), String> {
        for (path, text) in &self.files {
            write_private(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

impl Plan {
    /// What `--explain` does instead of [`Plan::write_files`], to predict it: for each file, the
    /// same directory rules (created 0700 if missing, else a real directory of ours that nobody
    /// else can write), then a probe file created (`O_EXCL`, no symlink followed) and removed in
    /// that directory. A directory it created is removed again, so nothing is left behind.
    pub(crate) fn probe_files(&self) -> Result<(), String> {
        for (path, _) in &self.files {
            probe_private(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

fn probe_private(path: &Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let dir = path.parent().ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no parent directory"))?;
    let created = match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            let ours =
                meta.is_dir() && meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o077 == 0;
            if !ours {
                return Err(Error::other(format!(
                    "{} exists and is not ddboot's private directory",
                    dir.display()
                )));
            }
            false
        }
        Err(e) => return Err(e),
    };
    let probe = dir.join(format!(".ddboot-probe-{}", std::process::id()));
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&probe);
    let removed = opened.and_then(|file| {
        drop(file);
        std::fs::remove_file(&probe)
    });
    if created {
        let _ = std::fs::remove_dir(dir);
    }
    removed
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind, Write};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let dir = path.parent().ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no parent directory"))?;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            let ours =
                meta.is_dir() && meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o077 == 0;
            if !ours {
                return Err(Error::other(format!(
                    "{} exists and is not ddboot's private directory",
                    dir.display()
                )));
            }
        }
        Err(e) => return Err(e),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(text.as_bytes()).inspect_err(|_| {
        // Only the file this run created.
        let _ = std::fs::remove_file(path);
    })
}

/// Builds the plan: host, sockets and tags first, then the tracer injection on top of the
/// resulting environment.
pub fn plan(config: &Config, env: &Environ, findings: &Findings, tracer: &Probe) -> Plan {
    let mut changes = Vec::new();
    match findings.resolved.as_ref().map(|r| (r.source, r.host.as_deref())) {
        Some((Source::Env, _)) => {}
        Some((source, Some(host))) => changes.push(set("DD_AGENT_HOST", host, source.name())),
        Some((_, None)) | None if env.contains("DD_AGENT_HOST") => changes.push(Change {
            name: "DD_AGENT_HOST".into(),
            value: None,
            origin: "empty, no host resolved".into(),
        }),
        Some((_, None)) | None => {}
    }
    let sockets = &findings.platform.sockets;
    for (name, path) in [("DD_TRACE_AGENT_URL", &sockets.apm), ("DD_DOGSTATSD_URL", &sockets.dsd)] {
        if let Some(path) = path
            && env.non_empty(name).is_none()
        {
            changes.push(set(name, &unix_url(path), "socket"));
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
                changes.push(set(name, &url, source.name()));
            }
        }
    }
    let tags = tags(config, env, findings);
    for tag in &tags {
        if let Some(value) = &tag.value
            && tag.origin != "inherited"
        {
            changes.push(set(tag.name, value, &tag.origin));
        }
    }
    let mut plan = Plan { argv: config.command.clone(), changes, tags, files: Vec::new() };
    let injection = inject::apply(tracer, &plan.argv, &plan.child_env(env));
    plan.argv = injection.argv;
    plan.changes.extend(injection.changes);
    plan.files = injection.files;
    plan
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
    [
        ("DD_ENV", "--dd-env", "env", &config.tags.env),
        ("DD_SERVICE", "--dd-service", "service", &config.tags.service),
        ("DD_VERSION", "--dd-version", "version", &config.tags.version),
    ]
    .into_iter()
    .map(|(name, flag, key, flag_value)| {
        let label = container.and_then(|c| c.tag_label(key)).map(str::trim).filter(|v| usable(v));
        let (value, origin) = if let Some(v) = flag_value {
            (Some(v.clone()), format!("flag {flag}"))
        } else if let Some(v) = env.non_empty(name) {
            (Some(v.to_string()), "inherited".to_string())
        } else if let Some(v) = label {
            (Some(v.to_string()), format!("label {TAG_LABEL_PREFIX}{key}"))
        } else if let (Some(v), "DD_VERSION") = (&image_tag, name) {
            (Some(v.clone()), "image tag".to_string())
        } else {
            (None, "unset".to_string())
        };
        Tag { name, value, origin }
    })
    .collect()
}

/// A tag value from metadata must be non-empty and free of control characters.
fn usable(v: &str) -> bool {
    !v.is_empty() && !v.chars().any(char::is_control)
}

fn set(name: &str, value: &str, origin: &str) -> Change {
    Change { name: name.into(), value: Some(value.into()), origin: origin.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::resolve::{Platform, Resolved};
    use crate::source::socket::Sockets;
    use crate::source::task_metadata::Container;
    use clap::Parser;
    use std::path::PathBuf;
    use std::time::Duration;

    fn plan(config: &Config, env: &Environ, findings: &Findings) -> Plan {
        let off = crate::inject::probe(crate::inject::Mode::Off, None, &config.command, env, Path::new("/"));
        super::plan(config, env, findings, &off)
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
    fn files_go_into_a_private_directory_only() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("ddboot-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("base");
        let file = base.join("mine/php-fpm.conf");
        write_private(&file, "one").expect("first write");
        assert!(write_private(&file, "two").is_err(), "an existing name is never overwritten");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "one");
        write_private(&base.join("mine/other.conf"), "two").expect("a second file in our own directory");
        let mode = std::fs::metadata(base.join("mine")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A directory planted by someone else (here: world-writable) or a symlink is refused.
        std::fs::create_dir(base.join("planted")).expect("planted");
        std::fs::set_permissions(base.join("planted"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        assert!(write_private(&base.join("planted/php-fpm.conf"), "x").is_err());
        std::os::unix::fs::symlink(base.join("planted"), base.join("link")).expect("symlink");
        assert!(write_private(&base.join("link/php-fpm.conf"), "x").is_err());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn exports_a_resolved_host() {
        let env = Environ::from_pairs([("DD_AGENT_HOST", "")]);
        let p = plan(&config(&[]), &env, &findings(Some(("10.0.0.1", Source::Imdsv2))));
        assert_eq!(p.child_env(&env).get_str("DD_AGENT_HOST"), Some("10.0.0.1"));
        assert_eq!(p.changes[0].origin, "imdsv2");
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
            let got: Vec<(&str, Option<&str>)> =
                p.tags.iter().map(|t| (t.origin.as_str(), t.value.as_deref())).collect();
            assert_eq!(got, expected, "args {args:?}, env {env:?}");
            let child = p.child_env(&env);
            for t in &p.tags {
                assert_eq!(child.non_empty(t.name), t.value.as_deref(), "{}", t.name);
            }
        }
    }
}
