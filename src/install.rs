//! `ddboot --install DIR`: copy ddboot's own executable to `DIR/ddboot` (creating `DIR`).
//!
//! This lets an image holding nothing but ddboot act as an ECS init container that puts ddboot
//! into a volume shared with app containers whose images cannot be rebuilt. The copy is atomic:
//! written to a temporary file in `DIR` whose name is random (from `getrandom`, so two installers
//! that are both PID 1 in their own PID namespaces never pick the same one) and created
//! `O_EXCL`, made 0755, synced, then renamed over `DIR/ddboot`. An app container therefore never
//! sees a half-written binary, concurrent installers all succeed (the last rename wins, each
//! with a whole file), a leftover temp file from a crashed run is never in the way, and on
//! failure only the temp file this run created is removed.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many random names are tried before giving up (each collision is a 2⁻⁶⁴ event).
const NAME_ATTEMPTS: usize = 8;

/// Copies the running executable into `dir`; returns the installed path.
pub(crate) fn install(dir: &Path) -> Result<PathBuf, String> {
    let source =
        std::env::current_exe().map_err(|e| format!("cannot locate ddboot's own executable: {e}"))?;
    install_from(&source, dir)
}

fn install_from(source: &Path, dir: &Path) -> Result<PathBuf, String> {
    let target = dir.join("ddboot");
    let fail = |e: io::Error| format!("cannot install into {}: {e}", dir.display());
    fs::create_dir_all(dir).map_err(fail)?;
    let mut from = File::open(source).map_err(fail)?;
    let (tmp, mut to) = create_temp(dir).map_err(fail)?;
    let mut copy = || -> io::Result<()> {
        io::copy(&mut from, &mut to)?;
        to.set_permissions(fs::Permissions::from_mode(0o755))?;
        to.sync_all()?;
        fs::rename(&tmp, &target)
    };
    copy().map_err(|e| {
        // Only the file this run created, never one of another installer.
        let _ = fs::remove_file(&tmp);
        fail(e)
    })?;
    Ok(target)
}

/// Creates `dir/.ddboot.<16 random hex digits>.tmp` with `O_CREAT | O_EXCL` (which never follows
/// a symlink), retrying with a fresh name if one exists.
fn create_temp(dir: &Path) -> io::Result<(PathBuf, File)> {
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..NAME_ATTEMPTS {
        let tmp = dir.join(format!(".ddboot.{:016x}.tmp", crate::file::random_u64()?));
        match OpenOptions::new().write(true).create_new(true).mode(0o700).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_atomically_with_mode_0755() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let source = dir.join("source");
        fs::write(&source, b"\x7fELF pretend").expect("write");
        fs::write(dir.join("ddboot"), b"old").expect("write");
        let installed = install_from(&source, &dir).expect("installs");
        assert_eq!(fs::read(&installed).expect("read"), b"\x7fELF pretend");
        assert_eq!(fs::metadata(&installed).expect("stat").permissions().mode() & 0o777, 0o755);
        let leftovers = fs::read_dir(&dir)
            .expect("ls")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp")));
        assert_eq!(leftovers.count(), 0);
        assert!(install_from(&source, &dir.join("new/sub")).is_ok(), "creates the directory");
        assert!(install_from(&source, &source.join("x")).unwrap_err().contains("cannot install"));
    }

    #[test]
    fn temp_names_are_random_and_never_reused() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let (a, _) = create_temp(&dir).expect("first");
        let (b, _) = create_temp(&dir).expect("second");
        assert_ne!(a, b);
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(name.starts_with(".ddboot.") && name.ends_with(".tmp") && name.len() == 28, "{name}");
    }

    #[test]
    fn a_failed_copy_removes_only_its_own_temp_file() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        fs::create_dir_all(dir.join("ddboot")).expect("a directory where the binary goes");
        fs::write(dir.join("ddboot/x"), b"").expect("non-empty, so rename fails");
        fs::write(dir.join(".ddboot.1.tmp"), b"someone else's").expect("write");
        let source = dir.join("source");
        fs::write(&source, b"bin").expect("write");
        assert!(install_from(&source, &dir).is_err());
        let mut names: Vec<String> = fs::read_dir(&dir)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        names.sort();
        assert_eq!(names, [".ddboot.1.tmp", "ddboot", "source"]);
    }
}
