//! The last step: find PROGRAM and replace ddboot with it through `execve`.
//!
//! PROGRAM is looked up in the app's `PATH` (the `which` crate) unless it contains a `/`; argv
//! goes through byte for byte, no shell is involved, and the environment is exactly the planned
//! one. Signal dispositions and the mask pass through as ddboot inherited them (the binary skips
//! the Rust runtime's start-up, which would have set SIGPIPE to "ignore"; see `main.rs`). On
//! success this never returns; the app keeps ddboot's PID (PID 1 in a container) and receives
//! signals directly.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::environ::Environ;
use crate::error::Error;

/// Executes `argv` with `env`. Returns only on failure, with the 126/127 error to exit with.
pub fn exec(argv: &[OsString], env: &Environ) -> Error {
    let Some(program) = argv.first() else {
        return Error::Usage("no PROGRAM given".into());
    };
    let path = match find_program(program, env) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let Ok(path_c) = CString::new(path.as_os_str().as_bytes()) else {
        return Error::NotFound(format!("{}: contains a NUL byte", program.to_string_lossy()));
    };
    let argv_c: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.clone().into_vec())).collect();
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
        return Error::NotExecutable("an argument or variable contains a NUL byte".into());
    };
    let errno = match nix::unistd::execve(&path_c, &argv_c, &env_c) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    exec_error(program, &path, errno)
}

fn exec_error(program: &OsStr, path: &Path, errno: Errno) -> Error {
    let shown = program.to_string_lossy();
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

/// Resolves PROGRAM the way execvp does, with the app's PATH.
fn find_program(program: &OsStr, env: &Environ) -> Result<PathBuf, Error> {
    let shown = program.to_string_lossy();
    if program.is_empty() {
        return Err(Error::NotFound("'': not found".into()));
    }
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let search = env.search_path();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    match which::which_in(program, Some(search), &cwd) {
        Ok(path) => Ok(path),
        Err(_) => {
            // `which` only returns executable files; a file that is there but not executable is
            // the shell's 126, not 127.
            let present = std::env::split_paths(search).any(|dir| cwd.join(dir).join(program).is_file());
            if present {
                Err(Error::NotExecutable(format!("{shown}: permission denied")))
            } else {
                Err(Error::NotFound(format!("{shown}: not found in PATH")))
            }
        }
    }
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
        assert_eq!(find_program(OsStr::new("./x"), &env).expect("as is"), PathBuf::from("./x"));
        assert_eq!(find_program(OsStr::new(""), &env).unwrap_err().exit_code(), 127);
        let e = exec_error(OsStr::new("/tmp"), Path::new("/tmp"), Errno::EACCES);
        assert_eq!((e.exit_code(), e.to_string().as_str()), (126, "/tmp: is a directory"));
    }
}
