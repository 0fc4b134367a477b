//! The `socket` source: the Datadog Agent's Unix sockets in a shared volume.
//!
//! When `<dir>/apm.socket` is a socket (not merely a file of that name) that a live Agent answers,
//! traces can go there: `DD_TRACE_AGENT_URL=unix://<path>`; the same for `dsd.socket` and
//! `DD_DOGSTATSD_URL`. With both present no host is needed at all. A socket file outlives the
//! Agent that bound it, so each one is probed before it counts: a non-blocking `connect` (a
//! `SOCK_STREAM` one for `apm.socket`, `SOCK_DGRAM` for `dsd.socket`, which the Agent serves
//! that way). Success or EAGAIN (a full backlog) means live; ECONNREFUSED means stale: nobody
//! listens, and the file is reported and ignored. The probe never waits (well under 1 ms) and
//! sends nothing.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::libc;

/// The sockets found in the socket directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sockets {
    pub(crate) apm: Option<PathBuf>,
    pub(crate) dsd: Option<PathBuf>,
    /// Socket files that no Agent answers, with why (`apm.socket: stale (connection refused)`).
    pub(crate) stale: Vec<String>,
}

impl Sockets {
    /// Both the trace and the DogStatsD socket are there.
    pub(crate) fn both(&self) -> bool {
        self.apm.is_some() && self.dsd.is_some()
    }

    /// A short description for reports.
    pub(crate) fn describe(&self) -> String {
        let show = |p: &Option<PathBuf>| p.as_ref().map_or("absent".to_string(), |p| p.display().to_string());
        let mut text = format!("apm.socket: {}, dsd.socket: {}", show(&self.apm), show(&self.dsd));
        for s in &self.stale {
            text.push_str("; ");
            text.push_str(s);
        }
        text
    }
}

/// Looks for live `apm.socket` and `dsd.socket` sockets in `dir`.
pub(crate) fn find(dir: &Path) -> Sockets {
    let mut found = Sockets::default();
    for (name, kind) in [("apm.socket", libc::SOCK_STREAM), ("dsd.socket", libc::SOCK_DGRAM)] {
        let path = dir.join(name);
        let is_socket = std::fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket());
        if !is_socket {
            continue;
        }
        // The URL that names it is text: a path that is not UTF-8 would be written lossily.
        if path.to_str().is_none() {
            found.stale.push(format!("{name}: unusable (its path is not valid UTF-8)"));
            continue;
        }
        match probe(&path, kind) {
            Ok(()) | Err(Errno::EAGAIN | Errno::EINPROGRESS) => {
                if kind == libc::SOCK_STREAM {
                    found.apm = Some(path);
                } else {
                    found.dsd = Some(path);
                }
            }
            Err(Errno::ECONNREFUSED) => found.stale.push(format!("{name}: stale (connection refused)")),
            Err(e) => found.stale.push(format!("{name}: unusable ({})", e.desc())),
        }
    }
    found
}

/// A non-blocking, close-on-exec `connect` of a fresh socket of `kind` to `path`.
fn probe(path: &Path, kind: libc::c_int) -> Result<(), Errno> {
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_UNIX, kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `raw` is a descriptor socket(2) just returned, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes that outlives the call.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast::<libc::sockaddr>(), len) };
    if rc == 0 { Ok(()) } else { Err(Errno::last()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixDatagram, UnixListener};

    #[test]
    fn only_real_sockets_count() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("dsd.socket"), b"not a socket").expect("file");
        let _apm = UnixListener::bind(dir.path().join("apm.socket")).expect("bind");
        let found = find(dir.path());
        assert_eq!(found.apm, Some(dir.path().join("apm.socket")));
        assert_eq!(found.dsd, None);
        assert!(!found.both());
        assert_eq!(find(&dir.path().join("missing")), Sockets::default());
    }

    #[test]
    fn stale_sockets_do_not_count() {
        let dir = tempfile::tempdir().expect("dir");
        // A listener closed with its file left behind, and a datagram socket bound then closed.
        drop(UnixListener::bind(dir.path().join("apm.socket")).expect("bind"));
        drop(UnixDatagram::bind(dir.path().join("dsd.socket")).expect("bind"));
        let found = find(dir.path());
        assert_eq!((found.apm.as_ref(), found.dsd.as_ref()), (None, None), "{found:?}");
        assert_eq!(found.stale.len(), 2, "{found:?}");
        assert!(found.describe().contains("apm.socket: stale (connection refused)"), "{found:?}");
        // Live ones count again.
        for name in ["apm.socket", "dsd.socket"] {
            std::fs::remove_file(dir.path().join(name)).expect("rm");
        }
        let _apm = UnixListener::bind(dir.path().join("apm.socket")).expect("bind");
        let _dsd = UnixDatagram::bind(dir.path().join("dsd.socket")).expect("bind");
        let found = find(dir.path());
        assert!(found.both() && found.stale.is_empty(), "{found:?}");
    }
}
