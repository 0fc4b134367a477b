//! The effects step: the one place where ddboot changes the filesystem for the app before it
//! starts, writing the files a tracer needs (the PHP-FPM overlay), so that planning stays pure and
//! runs once on a tracer whose files are known to exist.
//!
//! Each file lives in a directory private to ddboot's user (created 0700, or reused only when it
//! is a real directory of ours that nobody else can write), and is created under its own (random)
//! name with `O_EXCL | O_NOFOLLOW`: a planted symlink or file in a shared `/tmp` can neither be
//! followed nor swapped in, and a name that exists already is an error, never overwritten. The
//! file stays for the app's lifetime. `--explain` predicts the same step without leaving anything
//! behind; `--print-env` writes nothing. When a file cannot be written the tracer falls back to
//! what needs no file, and the outcome says why.

use std::io::{Error, ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::config::Mode;
use crate::environ::Environ;
use crate::inject::Probe;

/// What the start does when the PHP-FPM overlay cannot be written (and `--explain` predicts).
const FILES_FALLBACK: &str = "PHP-FPM workers get only the INI settings";

/// The tracer once its files are written, and the warning to print when they could not be.
pub(crate) struct Written {
    pub(crate) tracer: Probe,
    pub(crate) warning: Option<String>,
}

/// Writes the tracer's files for the app's environment `app_env` (run), checks that they could be
/// written (`--explain`), or does nothing (`--print-env`).
pub(crate) fn write_files(tracer: Probe, app_env: &Environ, mode: &Mode) -> Written {
    let files = tracer.files(app_env);
    let failed = |path: &Path, e: Error| format!("cannot write {}: {e}; {FILES_FALLBACK}", path.display());
    for (path, text) in &files {
        match mode {
            Mode::Run => {
                if let Err(e) = write_private(path, text) {
                    let warning = Some(format!("ddboot: warning: {}", failed(path, e)));
                    return Written { tracer: tracer.without_files(None), warning };
                }
            }
            Mode::Explain(_) => {
                if let Err(e) = probe_private(path) {
                    return Written { tracer: tracer.without_files(Some(&failed(path, e))), warning: None };
                }
            }
            Mode::PrintEnv | Mode::Install(_) => {}
        }
    }
    Written { tracer, warning: None }
}

/// Whether [`private_dir`] made the directory or found it.
enum Dir {
    Created,
    Existing,
}

/// `dir`, created 0700, or a real directory of ours that nobody else can write.
fn private_dir(dir: &Path) -> std::io::Result<Dir> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(Dir::Created),
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
            Ok(Dir::Existing)
        }
        Err(e) => Err(e),
    }
}

fn parent(path: &Path) -> std::io::Result<&Path> {
    path.parent().ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no parent directory"))
}

/// Creates `path` with `O_EXCL | O_NOFOLLOW` and this mode.
fn create_new(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// What `--explain` does instead of [`write_private`], to predict it: the same directory rules,
/// then a probe file created and removed in that directory. A directory it created is removed
/// again, so nothing is left behind.
fn probe_private(path: &Path) -> std::io::Result<()> {
    let dir = parent(path)?;
    let created = private_dir(dir)?;
    // A random name, as every file ddboot creates: the PID is 1 in every container.
    let removed = crate::file::random_u64().and_then(|r| {
        let probe = dir.join(format!(".ddboot-probe.{r:016x}"));
        let file = create_new(&probe, 0o600)?;
        drop(file);
        std::fs::remove_file(&probe)
    });
    if let Dir::Created = created {
        let _ = std::fs::remove_dir(dir);
    }
    removed
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    private_dir(parent(path)?)?;
    let mut file = create_new(path, 0o644)?;
    file.write_all(text.as_bytes()).inspect_err(|_| {
        // Only the file this run created.
        let _ = std::fs::remove_file(path);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_into_a_private_directory_only() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().expect("base");
        let file = base.path().join("mine/php-fpm.conf");
        write_private(&file, "one").expect("first write");
        assert!(write_private(&file, "two").is_err(), "an existing name is never overwritten");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "one");
        write_private(&base.path().join("mine/other.conf"), "two")
            .expect("a second file in our own directory");
        let mode = std::fs::metadata(base.path().join("mine")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A directory planted by someone else (here: world-writable) or a symlink is refused.
        std::fs::create_dir(base.path().join("planted")).expect("planted");
        std::fs::set_permissions(base.path().join("planted"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        assert!(write_private(&base.path().join("planted/php-fpm.conf"), "x").is_err());
        std::os::unix::fs::symlink(base.path().join("planted"), base.path().join("link")).expect("symlink");
        assert!(write_private(&base.path().join("link/php-fpm.conf"), "x").is_err());
    }

    #[test]
    fn the_explain_probe_has_a_name_of_its_own_and_leaves_nothing() {
        let base = tempfile::tempdir().expect("base");
        let dir = base.path().join("mine");
        write_private(&dir.join("kept.conf"), "x").expect("the directory");
        // What another start (PID 1 in its own container, like this one) could leave behind under
        // a PID-derived name: the probe must not trip over it.
        for pid in [1, std::process::id()] {
            std::fs::write(dir.join(format!(".ddboot-probe-{pid}")), "").expect("leftover");
        }
        probe_private(&dir.join("php-fpm.conf")).expect("probe");
        probe_private(&dir.join("php-fpm.conf")).expect("probe again");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut expected = vec![format!(".ddboot-probe-{}", std::process::id()), ".ddboot-probe-1".into()];
        expected.push("kept.conf".into());
        expected.sort();
        assert_eq!(names, expected, "the probe removed its own file and nothing else");
    }
}
