//! The one error type of ddboot and the exit code each failure maps to.
//!
//! Only failures that stop ddboot before the exec live here: a usage error (64), an unresolved
//! agent host under `--strict` (69), `--install` failing (73), a report that cannot be written to
//! stdout (74), a PROGRAM that cannot be executed (126) or cannot be found (127). The other exit
//! codes do not pass through here: 128+N for SIGTERM, SIGINT or SIGHUP before the exec (the
//! `signals` handler exits at once), `--explain`'s 1 when the host is not resolved (a report, not a
//! failure), and under `--init` the app's own status. Failures of a resolution source are not
//! errors: they are recorded as attempts and the app starts anyway (fail-open).

use std::fmt;

/// Why ddboot stopped without running the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Error {
    /// Bad flags, a bad environment variable, or no PROGRAM: exit 64 (EX_USAGE).
    Usage(String),
    /// No agent host could be resolved and `--strict` was given: exit 69 (EX_UNAVAILABLE).
    Unresolved(String),
    /// `--install` could not write its copy: exit 73 (EX_CANTCREAT).
    CantCreate(String),
    /// `--print-env` or `--explain` could not write to stdout (other than EPIPE): exit 74
    /// (EX_IOERR).
    Output(String),
    /// PROGRAM exists but cannot be executed: exit 126.
    NotExecutable(String),
    /// PROGRAM was not found: exit 127.
    NotFound(String),
}

impl Error {
    /// The process exit code for this error, following sysexits(3) and the shell's 126/127.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 64,
            Error::Unresolved(_) => 69,
            Error::CantCreate(_) => 73,
            Error::Output(_) => 74,
            Error::NotExecutable(_) => 126,
            Error::NotFound(_) => 127,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m)
            | Error::Unresolved(m)
            | Error::CantCreate(m)
            | Error::Output(m)
            | Error::NotExecutable(m)
            | Error::NotFound(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_sysexits_and_the_shell() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 64);
        assert_eq!(Error::Unresolved("x".into()).exit_code(), 69);
        assert_eq!(Error::CantCreate("x".into()).exit_code(), 73);
        assert_eq!(Error::Output("x".into()).exit_code(), 74);
        assert_eq!(Error::NotExecutable("x".into()).exit_code(), 126);
        assert_eq!(Error::NotFound("x".into()).exit_code(), 127);
        assert_eq!(Error::NotFound("no such program".into()).to_string(), "no such program");
    }
}
