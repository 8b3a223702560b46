//! Errors reading a lock file. Manifest problems are collected as
//! [`ManifestErrors`](crate::ManifestErrors) instead, so that all of them are reported at once.

use std::path::PathBuf;

/// A lock file that cannot be read or understood. Each variant names the file and,
/// where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lock `{}`: {}", file.display(), read_problem(.source))]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lock `{}` is larger than {}, the most envsync reads; check that the path names an `envsync.lock`, or regenerate it with `envsync lock`", file.display(), crate::bounded::show_size(*.limit))]
    TooLarge { file: PathBuf, limit: u64 },
    #[error("{}:{line}:{column}: {message}; the lock is written by `envsync lock`, regenerate it rather than editing it by hand", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}: schema `{found}` is not a lock schema this envsync reads; expected `{expected}`", file.display())]
    Schema {
        file: PathBuf,
        line: usize,
        found: String,
        expected: &'static str,
    },
    #[error("{}:{line}: lock schema `{found}` was written by a newer envsync (this one reads `{expected}`); upgrade envsync", file.display())]
    FutureSchema {
        file: PathBuf,
        line: usize,
        found: String,
        expected: &'static str,
    },
    #[error("{}:{line}:{column}: {message}; regenerate the lock with `envsync lock`", file.display())]
    Field {
        file: PathBuf,
        line: usize,
        column: usize,
        /// Names the field and what is wrong with it.
        message: String,
    },
}

/// What went wrong reading a lock, and the fix that fits: a missing lock is created by
/// `envsync lock`, an unreadable one needs its permissions, not a new lock.
fn read_problem(source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::NotFound => "it does not exist; run `envsync lock` to create it".into(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; make it readable by this user (`chmod a+r`), or run envsync as a user who may read it".into()
        }
        _ => format!("{source}; check that the path names a readable file"),
    }
}
