//! The `socket` source: the Datadog Agent's Unix sockets in a shared volume.
//!
//! When `<dir>/apm.socket` is a socket (not merely a file of that name), traces can go there:
//! `DD_TRACE_AGENT_URL=unix://<path>`; the same for `dsd.socket` and `DD_DOGSTATSD_URL`. With both
//! present no host is needed at all. Only `stat` is used: no connection is attempted.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// The sockets found in the socket directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sockets {
    pub apm: Option<PathBuf>,
    pub dsd: Option<PathBuf>,
}

impl Sockets {
    /// Both the trace and the DogStatsD socket are there.
    pub fn both(&self) -> bool {
        self.apm.is_some() && self.dsd.is_some()
    }

    /// A short description for reports.
    pub fn describe(&self) -> String {
        let show = |p: &Option<PathBuf>| p.as_ref().map_or("absent".to_string(), |p| p.display().to_string());
        format!("apm.socket: {}, dsd.socket: {}", show(&self.apm), show(&self.dsd))
    }
}

/// Looks for `apm.socket` and `dsd.socket` in `dir`.
pub fn find(dir: &Path) -> Sockets {
    let socket = |name: &str| {
        let path = dir.join(name);
        std::fs::metadata(&path).ok().filter(|m| m.file_type().is_socket()).map(|_| path)
    };
    Sockets { apm: socket("apm.socket"), dsd: socket("dsd.socket") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn only_real_sockets_count() {
        let dir = std::env::temp_dir().join(format!("ddboot-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("dsd.socket"), b"not a socket").expect("file");
        let _apm = UnixListener::bind(dir.join("apm.socket")).expect("bind");
        let found = find(&dir);
        assert_eq!(found.apm, Some(dir.join("apm.socket")));
        assert_eq!(found.dsd, None);
        assert!(!found.both());
        assert_eq!(find(&dir.join("missing")), Sockets::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
