//! Reading files whose path came from outside (the environment, argv, a configuration file) without
//! ever blocking or reading without bound, and the unpredictable names of the files ddboot
//! creates ([`random_u64`]).
//!
//! Every such file is opened `O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, so a FIFO with no writer, a
//! terminal or a device cannot stall the start; it must then be a regular file (checked on the
//! open descriptor, so nothing can be swapped in between), and it is read through a cap that holds
//! even when its size changes or `stat` under-reports it (procfs).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// 64 bits from the kernel's CSPRNG (`getrandom(2)`), falling back to `/dev/urandom`: the
/// unpredictable part of every file name ddboot creates (always with `O_EXCL`).
pub(crate) fn random_u64() -> std::io::Result<u64> {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most `buf.len()` bytes into `buf`, which outlives the call.
    let n = unsafe { nix::libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if usize::try_from(n).ok() != Some(buf.len()) {
        File::open("/dev/urandom")?.read_exact(&mut buf)?;
    }
    Ok(u64::from_ne_bytes(buf))
}

/// Opens `path` non-blocking and checks that it is a regular file; returns it with its size.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), String> {
    let file = File::options()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    Ok((file, meta.len()))
}

/// The whole of a regular file of at most `max` bytes; a larger one is an error, not truncated.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let too_big = || format!("{} is larger than {} KiB", path.display(), max / 1024);
    let (file, len) = open_regular(path)?;
    if len > max {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

/// At most the first `max` bytes of a regular file.
pub(crate) fn read_head(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let (file, _) = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_blocks_on_a_fifo_and_never_reads_past_the_cap() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        assert!(read_head(&fifo, 10).unwrap_err().contains("not a regular file"));
        assert!(read_capped(dir.path(), 10).unwrap_err().contains("not a regular file"));
        assert!(read_capped(Path::new("/dev/zero"), 10).unwrap_err().contains("not a regular file"));
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789ab").expect("write");
        assert_eq!(read_head(&f, 4).expect("head"), b"0123");
        assert!(read_capped(&f, 10).unwrap_err().contains("larger than"));
        assert_eq!(read_capped(&f, 12).expect("whole"), b"0123456789ab");
        assert!(read_head(&dir.path().join("missing"), 1).unwrap_err().contains("cannot open"));
        assert_ne!(random_u64().expect("random"), random_u64().expect("random"));
    }
}
