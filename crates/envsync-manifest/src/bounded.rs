//! Reading an input file (manifest, lock) with a size cap: the file is read once, at
//! most `limit + 1` bytes of it, into one buffer, so a huge or endless file (a pipe,
//! `/dev/zero`, a sparse file of many GiB) is refused before it can exhaust memory.

use std::io::Read;
use std::path::Path;

/// The largest manifest envsync reads: a real one is a few KiB.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The largest lock envsync reads: a real one is tens of KiB (one line per component).
pub const MAX_LOCK_BYTES: u64 = 32 * 1024 * 1024;

/// Why a capped read gave no bytes.
#[derive(Debug)]
pub enum CappedReadError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// The file holds more than the cap.
    TooLarge,
}

/// The bytes of `path` when it holds at most `limit` bytes. Never reads more than
/// `limit + 1` bytes and never holds more than one copy of them.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, CappedReadError> {
    let file = std::fs::File::open(path).map_err(CappedReadError::Io)?;
    // The size is only a hint for the buffer (a pipe says 0, a file may grow).
    let hint = file.metadata().map_or(0, |m| m.len()).min(limit + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(CappedReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(CappedReadError::TooLarge);
    }
    Ok(bytes)
}

/// `limit` bytes for messages: `4 MiB`, `512 KiB`, `100 bytes`.
pub fn show_size(limit: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if limit >= MIB && limit.is_multiple_of(MIB) {
        format!("{} MiB", limit / MIB)
    } else if limit >= 1024 && limit.is_multiple_of(1024) {
        format!("{} KiB", limit / 1024)
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_cap_and_refuses_beyond() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        assert_eq!(read_capped(&path, 10).expect("fits"), b"0123456789");
        assert!(matches!(
            read_capped(&path, 9),
            Err(CappedReadError::TooLarge)
        ));
        assert!(matches!(
            read_capped(&dir.path().join("absent"), 9),
            Err(CappedReadError::Io(_))
        ));
    }

    /// A sparse file of 64 GiB (and `/dev/zero`, which never ends) is refused after
    /// reading `limit + 1` bytes: reading it whole would take minutes and all memory.
    #[test]
    fn huge_and_endless_files_are_refused_quickly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("huge");
        let file = std::fs::File::create(&path).expect("create");
        file.set_len(64 << 30).expect("sparse file");
        for p in [path.as_path(), Path::new("/dev/zero")] {
            assert!(matches!(
                read_capped(p, 1 << 20),
                Err(CappedReadError::TooLarge)
            ));
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(show_size(MAX_MANIFEST_BYTES), "4 MiB");
        assert_eq!(show_size(2048), "2 KiB");
        assert_eq!(show_size(100), "100 bytes");
    }
}
