//! A snapshot of the environment ddboot inherited, the changes made to it, and the child
//! environment built from both.
//!
//! ddboot never calls `set_var`: it reads the process environment once into an [`Environ`], every
//! decision reads that snapshot (so tests can pass any environment they like), each decision is a
//! [`Change`] that says where its value came from ([`Origin`]), and the app's environment is the
//! snapshot with the changes applied, handed to `execve` as is.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// One change to the app's environment, with where its value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) name: String,
    /// `None` removes the variable.
    pub(crate) value: Option<String>,
    pub(crate) origin: Origin,
}

impl Change {
    /// Sets `name` to `value`.
    pub(crate) fn set(name: &str, value: impl Into<String>, origin: Origin) -> Change {
        Change { name: name.into(), value: Some(value.into()), origin }
    }
}

/// Where a value of the app's environment comes from; rendered as the reports show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The source that resolved the Agent's host, by name (`imdsv2`, `metadata-file` …).
    Source(&'static str),
    /// An inherited empty `DD_AGENT_HOST` removed: no host was resolved.
    NoHost,
    /// An Agent socket found in the socket directory.
    Socket,
    /// A `--dd-*` flag, by name (`--dd-env`).
    Flag(&'static str),
    /// Inherited from ddboot's environment, left untouched.
    Inherited,
    /// A container label, by its full name (`com.datadoghq.tags.env`).
    Label(String),
    /// The tag of the container's image.
    ImageTag,
    /// Nothing gives a value.
    Unset,
    /// Tracer injection.
    Inject,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Source(name) => f.write_str(name),
            Origin::NoHost => f.write_str("empty, no host resolved"),
            Origin::Socket => f.write_str("socket"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Inherited => f.write_str("inherited"),
            Origin::Label(label) => write!(f, "label {label}"),
            Origin::ImageTag => f.write_str("image tag"),
            Origin::Unset => f.write_str("unset"),
            Origin::Inject => f.write_str("inject"),
        }
    }
}

/// The search path execvp uses when `PATH` is unset.
pub(crate) const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The inherited environment, in its original order, byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Environ {
    vars: Vec<(OsString, OsString)>,
}

impl Environ {
    /// Snapshot of this process's environment.
    pub(crate) fn from_process() -> Self {
        Self { vars: std::env::vars_os().collect() }
    }

    /// An environment made of the given pairs (for tests).
    #[cfg(test)]
    pub(crate) fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The value of `name`, as `getenv` would return it (the first occurrence).
    pub(crate) fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars.iter().find(|(k, _)| k.as_bytes() == name.as_bytes()).map(|(_, v)| v.as_os_str())
    }

    /// The value of `name` when it is set and valid UTF-8.
    pub(crate) fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(OsStr::to_str)
    }

    /// The value of `name` when it is set, valid UTF-8 and not empty after trimming.
    pub(crate) fn non_empty(&self, name: &str) -> Option<&str> {
        self.get_str(name).filter(|v| !v.trim().is_empty())
    }

    /// Whether `name` is present at all (even with an empty value).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The directories to search for programs: `PATH`, or what execvp uses without one.
    pub(crate) fn search_path(&self) -> &OsStr {
        self.get("PATH").filter(|p| !p.is_empty()).unwrap_or(OsStr::new(DEFAULT_PATH))
    }

    /// Where the search path finds the executable `name`, relative directories taken from `cwd`.
    pub(crate) fn which(&self, name: &OsStr, cwd: &std::path::Path) -> Option<std::path::PathBuf> {
        which::which_in(name, Some(self.search_path()), cwd).ok()
    }

    /// All variables, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// This environment with `changes` applied, in order.
    pub(crate) fn with(&self, changes: &[Change]) -> Environ {
        let mut env = self.clone();
        for change in changes {
            match &change.value {
                Some(v) => env.set(&change.name, v.as_str()),
                None => env.unset(&change.name),
            }
        }
        env
    }

    /// This environment with `name` set to `value` (every earlier occurrence removed).
    pub(crate) fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.unset(name);
        self.vars.push((name.into(), value.into()));
    }

    /// This environment without any occurrence of `name`.
    pub(crate) fn unset(&mut self, name: &str) {
        self.vars.retain(|(k, _)| k.as_bytes() != name.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_occurrence_like_getenv() {
        let env = Environ::from_pairs([("A", "1"), ("A", "2"), ("B", " ")]);
        assert_eq!(env.get_str("A"), Some("1"));
        assert_eq!(env.non_empty("B"), None);
        assert!(env.contains("B"));
        assert_eq!(env.get("C"), None);
    }

    #[test]
    fn set_replaces_every_occurrence_and_unset_removes_them() {
        let mut env = Environ::from_pairs([("A", "1"), ("B", "x"), ("A", "2")]);
        env.set("A", "3");
        assert_eq!(env.iter().filter(|(k, _)| *k == "A").count(), 1);
        assert_eq!(env.get_str("A"), Some("3"));
        env.unset("B");
        assert!(!env.contains("B"));
    }
}
