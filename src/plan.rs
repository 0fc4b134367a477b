//! The planning step: pure functions from configuration and findings to the exact environment
//! changes and argv of the app.
//!
//! Nothing here performs I/O. The rules: a resolved host is exported as `DD_AGENT_HOST` (an
//! inherited non-empty value is kept as is); an unresolved host never yields an empty
//! `DD_AGENT_HOST`, and an inherited empty one is removed; a `--dd-*` flag wins over an inherited
//! tag, and an inherited non-empty tag is otherwise left untouched.

use std::ffi::OsString;

use crate::config::Config;
use crate::environ::Environ;
use crate::resolve::Findings;
use crate::source::Source;

/// One change to the app's environment, with where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    /// `None` removes the variable.
    pub value: Option<String>,
    /// Why: a source name (`imdsv2`), `flag --dd-env`, `empty` …
    pub origin: String,
}

/// What will be executed, and with which environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// PROGRAM and its arguments, byte for byte.
    pub argv: Vec<OsString>,
    /// Changes in the order they are applied.
    pub changes: Vec<Change>,
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
}

/// Builds the plan.
pub fn plan(config: &Config, env: &Environ, findings: &Findings) -> Plan {
    let mut changes = Vec::new();
    match &findings.resolved {
        Some(r) if r.source == Source::Env => {}
        Some(r) => changes.push(set("DD_AGENT_HOST", &r.host, r.source.name())),
        None if env.contains("DD_AGENT_HOST") => changes.push(Change {
            name: "DD_AGENT_HOST".into(),
            value: None,
            origin: "empty, host unresolved".into(),
        }),
        None => {}
    }
    for (name, flag, value) in [
        ("DD_ENV", "--dd-env", &config.tags.env),
        ("DD_SERVICE", "--dd-service", &config.tags.service),
        ("DD_VERSION", "--dd-version", &config.tags.version),
    ] {
        if let Some(v) = value {
            changes.push(set(name, v, &format!("flag {flag}")));
        }
    }
    Plan { argv: config.command.clone(), changes }
}

fn set(name: &str, value: &str, origin: &str) -> Change {
    Change { name: name.into(), value: Some(value.into()), origin: origin.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::resolve::Resolved;
    use clap::Parser;
    use std::time::Duration;

    fn config(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from(["ddboot"].iter().chain(args).chain(&["app"])).expect("cli");
        Config::new(cli, &Environ::default()).expect("config")
    }

    fn findings(resolved: Option<(&str, Source)>) -> Findings {
        Findings {
            resolved: resolved.map(|(h, s)| Resolved { host: h.into(), source: s }),
            attempts: vec![],
            elapsed: Duration::ZERO,
        }
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
    fn tag_flags_win_and_inherited_tags_stay() {
        let env = Environ::from_pairs([("DD_ENV", "staging"), ("DD_SERVICE", "inherited")]);
        let p = plan(&config(&["--dd-env", "prod", "--dd-version", "1.2"]), &env, &findings(None));
        let child = p.child_env(&env);
        assert_eq!(child.get_str("DD_ENV"), Some("prod"));
        assert_eq!(child.get_str("DD_SERVICE"), Some("inherited"));
        assert_eq!(child.get_str("DD_VERSION"), Some("1.2"));
        assert_eq!(p.argv, ["app"]);
    }
}
