//! The last step: find PROGRAM and replace ddboot with it through `execve`.
//!
//! PROGRAM is looked up in the app's `PATH` (the `which` crate) unless it contains a `/`; argv
//! goes through byte for byte, no shell is involved, and the environment is exactly the planned
//! one. Signal dispositions and the mask pass through as ddboot inherited them (the binary skips
//! the Rust runtime's start-up, and `signals` puts back SIGPIPE, which ddboot ignores while it
//! runs; `execve` resets its SIGTERM/SIGINT/SIGHUP handlers). [`Prepared`] is shared with
//! `--init`, whose child execs the app the same way. On
//! success this never returns; the app keeps ddboot's PID (PID 1 in a container) and receives
//! signals directly.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::libc;

use crate::environ::Environ;
use crate::error::Error;

/// Executes `argv` with `env`. Returns only on failure, with the 126/127 error to exit with.
pub(crate) fn exec(argv: &[OsString], env: &Environ) -> Error {
    match Prepared::new(argv, env) {
        Ok(prepared) => prepared.exec(),
        Err(e) => e,
    }
}

/// PROGRAM found and everything `execve` needs, built in advance: [`Prepared::execve`] allocates
/// nothing, so init mode's child can call it between `fork` and `execve`.
pub(crate) struct Prepared {
    program: OsString,
    path: PathBuf,
    path_c: CString,
    _argv_c: Vec<CString>,
    _env_c: Vec<CString>,
    argv_p: Vec<*const libc::c_char>,
    env_p: Vec<*const libc::c_char>,
}

impl Prepared {
    /// Looks PROGRAM up in the app's `PATH` and builds the C arrays; a failure is the 126/127
    /// error exec mode would give.
    pub(crate) fn new(argv: &[OsString], env: &Environ) -> Result<Prepared, Error> {
        let Some(program) = argv.first() else {
            return Err(Error::Usage("no PROGRAM given".into()));
        };
        let path = find_program(program, env)?;
        let Ok(path_c) = CString::new(path.as_os_str().as_bytes()) else {
            return Err(Error::NotFound(format!("{}: contains a NUL byte", program.to_string_lossy())));
        };
        let argv_c: Result<Vec<CString>, _> =
            argv.iter().map(|a| CString::new(a.clone().into_vec())).collect();
        let env_c: Result<Vec<CString>, _> = env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv)
            })
            .collect();
        let (Ok(argv_c), Ok(env_c)) = (argv_c, env_c) else {
            return Err(Error::NotExecutable("an argument or variable contains a NUL byte".into()));
        };
        let argv_p = argv_c.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let env_p = env_c.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        Ok(Prepared { program: program.clone(), path, path_c, _argv_c: argv_c, _env_c: env_c, argv_p, env_p })
    }

    /// Replaces ddboot with the app (SIGPIPE back as inherited first). Returns only on failure,
    /// with the 126/127 error to exit with.
    pub(crate) fn exec(&self) -> Error {
        crate::signals::restore_before_exec();
        let errno = self.execve();
        crate::signals::ignore_sigpipe();
        self.error(errno)
    }

    /// Calls `execve`; returns only on failure, with its errno. Async-signal-safe.
    pub(crate) fn execve(&self) -> Errno {
        // SAFETY: every pointer points into a CString owned by `self`, and both arrays end with a
        // null pointer, as execve(2) requires.
        unsafe { libc::execve(self.path_c.as_ptr(), self.argv_p.as_ptr(), self.env_p.as_ptr()) };
        Errno::last()
    }

    /// The 126/127 error for an `execve` that failed with `errno`.
    pub(crate) fn error(&self, errno: Errno) -> Error {
        exec_error(&self.program, &self.path, errno)
    }
}

fn exec_error(program: &OsStr, path: &Path, errno: Errno) -> Error {
    let shown = shown(program);
    match errno {
        Errno::ENOENT if path.exists() => {
            Error::NotFound(format!("{shown}: cannot run it: its interpreter or loader is missing ({errno})"))
        }
        Errno::ENOENT | Errno::ENOTDIR => Error::NotFound(format!("{shown}: not found")),
        // execve says EACCES for a directory; the shell's words are clearer.
        Errno::EACCES if path.is_dir() => Error::NotExecutable(format!("{shown}: is a directory")),
        _ => Error::NotExecutable(format!("{shown}: cannot execute: {}", errno.desc())),
    }
}

/// Resolves PROGRAM the way execvp does, with the app's PATH. Called before any network
/// request too, so a PROGRAM that is not there fails at once.
pub(crate) fn find_program(program: &OsStr, env: &Environ) -> Result<PathBuf, Error> {
    let shown = shown(program);
    if program.is_empty() {
        return Err(Error::NotFound("'': not found".into()));
    }
    if program.as_bytes().contains(&b'/') {
        // A path is used as is; only "nothing there" is decided here (execve reports the rest).
        return match std::fs::metadata(program) {
            Err(e)
                if matches!(
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                    Errno::ENOENT | Errno::ENOTDIR
                ) =>
            {
                Err(Error::NotFound(format!("{shown}: not found")))
            }
            _ => Ok(PathBuf::from(program)),
        };
    }
    let search = env.search_path();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    match env.which(program, &cwd) {
        Some(path) => Ok(path),
        None => {
            // `which` only returns executable files; a file that is there but not executable is
            // the shell's 126, not 127.
            let present = std::env::split_paths(search).any(|dir| cwd.join(dir).join(program).is_file());
            if present {
                Err(Error::NotExecutable(format!("{shown}: permission denied")))
            } else if program.as_bytes().starts_with(b"-") {
                Err(Error::NotFound(format!("{shown}: not found in PATH. {}", flag_hint(&shown))))
            } else {
                Err(Error::NotFound(format!("{shown}: not found in PATH")))
            }
        }
    }
}

/// PROGRAM as its messages quote it: at most 200 characters (argv can be of any size).
fn shown(program: &OsStr) -> String {
    crate::output::clip(&program.to_string_lossy(), 200)
}

/// What a user who meant `PROGRAM` as one of ddboot's flags needs to know: with
/// `ENTRYPOINT ["ddboot", "--"]`, everything after the image name is PROGRAM.
fn flag_hint(program: &str) -> String {
    let ddboot = std::env::current_exe().map_or_else(|_| "ddboot".into(), |p| p.display().to_string());
    format!(
        "ddboot's own flags go before `--`; with an entrypoint that ends in `--` (ENTRYPOINT [\"{ddboot}\", \"--\"]) \
         everything after the image name is PROGRAM: set DDBOOT_* variables instead (e.g. docker run -e DDBOOT_INJECT=auto), \
         or override the entrypoint (docker run --entrypoint {ddboot} IMAGE {} …)",
        program.escape_debug()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_in_the_apps_path() {
        let env = Environ::from_pairs([("PATH", "/nonexistent:/bin:/usr/bin")]);
        let p = find_program(OsStr::new("sh"), &env).expect("sh is installed");
        assert!(p.ends_with("sh"));
        let e = find_program(OsStr::new("ddboot-no-such-program"), &env).unwrap_err();
        assert_eq!(e.exit_code(), 127);
        assert_eq!(find_program(OsStr::new("/bin/sh"), &env).expect("as is"), PathBuf::from("/bin/sh"));
        assert_eq!(find_program(OsStr::new("./ddboot-no-such-program"), &env).unwrap_err().exit_code(), 127);
        assert_eq!(find_program(OsStr::new(""), &env).unwrap_err().exit_code(), 127);
        let e = find_program(OsStr::new("--explain"), &env).unwrap_err();
        assert_eq!(e.exit_code(), 127);
        let text = e.to_string();
        assert!(
            text.contains("go before `--`") && text.contains("DDBOOT_") && text.contains("--entrypoint"),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");
        let e = exec_error(OsStr::new("/tmp"), Path::new("/tmp"), Errno::EACCES);
        assert_eq!((e.exit_code(), e.to_string().as_str()), (126, "/tmp: is a directory"));
    }

    #[test]
    fn prepared_arrays_are_null_terminated_and_nul_bytes_refused() {
        let env = Environ::from_pairs([("PATH", "/bin:/usr/bin"), ("A", "b")]);
        let argv: Vec<OsString> = ["sh", "-c", ""].iter().map(OsString::from).collect();
        let p = Prepared::new(&argv, &env).expect("sh is installed");
        assert_eq!(p.argv_p.len(), 4);
        assert!(p.argv_p[3].is_null() && !p.argv_p[2].is_null());
        assert_eq!(p.env_p.len(), 3);
        assert!(p.env_p[2].is_null());
        let bad = vec![OsString::from("sh"), OsString::from("a\0b")];
        assert_eq!(Prepared::new(&bad, &env).err().map(|e| e.exit_code()), Some(126));
        assert_eq!(Prepared::new(&[], &env).err().map(|e| e.exit_code()), Some(64));
    }
}
