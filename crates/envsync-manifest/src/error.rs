//! Errors reading a lock file. Manifest problems are collected as
//! [`ManifestErrors`](crate::ManifestErrors) instead, so that all of them are reported at once.

use std::path::PathBuf;

/// A lock file that cannot be read or understood. Each variant names the file and,
/// where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot read lock `{}`: {source}; run `envsync lock` to create it", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
