//! One writer per project: `lock`, `build`, `up` and `fetch` hold an exclusive lock on
//! `.envsync/project.lock` beside the manifest while they work, so two of them never
//! build the same images or write `envsync.lock` at once; the second waits, saying so.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use anyhow::Context;

/// Held until dropped (the operating system releases it when the process ends, too).
#[derive(Debug)]
pub(crate) struct ProjectLock {
    _file: File,
}

/// Take the project lock of the manifest at `manifest`, waiting for another envsync
/// that holds it.
pub(crate) fn acquire(manifest: &Path) -> anyhow::Result<ProjectLock> {
    let dir = manifest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".envsync");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let path = dir.join("project.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the project lock `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            crate::settings::note!(
                "waiting for another envsync in this project (it holds `{}`)…",
                path.display()
            );
            file.lock()
                .with_context(|| format!("waiting for the project lock `{}`", path.display()))?;
        }
        Err(TryLockError::Error(err)) => {
            return Err(err).with_context(|| format!("locking `{}`", path.display()))
        }
    }
    Ok(ProjectLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("envsync.toml");
        let first = acquire(&manifest).unwrap();
        let path = dir.path().join(".envsync/project.lock");
        let other = OpenOptions::new().write(true).open(&path).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(first);
        assert!(other.try_lock().is_ok());
    }
}
