//! `ddboot --install DIR`: copy ddboot's own executable to `DIR/ddboot` (creating `DIR`).
//!
//! This lets an image holding nothing but ddboot act as an ECS init container that puts ddboot
//! into a volume shared with app containers whose images cannot be rebuilt. The copy is atomic:
//! written to a temporary file in `DIR`, made 0755, synced, then renamed over `DIR/ddboot`, so an
//! app container never sees a half-written binary.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Copies the running executable into `dir`; returns the installed path.
pub fn install(dir: &Path) -> Result<PathBuf, String> {
    let source =
        std::env::current_exe().map_err(|e| format!("cannot locate ddboot's own executable: {e}"))?;
    install_from(&source, dir)
}

fn install_from(source: &Path, dir: &Path) -> Result<PathBuf, String> {
    let target = dir.join("ddboot");
    let tmp = dir.join(format!(".ddboot.{}.tmp", std::process::id()));
    let copy = || -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let mut from = File::open(source)?;
        let mut to = OpenOptions::new().write(true).create_new(true).mode(0o755).open(&tmp)?;
        io::copy(&mut from, &mut to)?;
        to.set_permissions(fs::Permissions::from_mode(0o755))?;
        to.sync_all()?;
        fs::rename(&tmp, &target)
    };
    copy().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot install into {}: {e}", dir.display())
    })?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_atomically_with_mode_0755() {
        let dir = std::env::temp_dir().join(format!("ddboot-install-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
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
        let _ = fs::remove_dir_all(&dir);
    }
}
