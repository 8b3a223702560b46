//! The one error type of the drift crate: every variant names the target, file, line or
//! field that caused it, and says what to do about it.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong collecting, reading or comparing snapshots.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("cannot understand target `{text}`: {reason}; use `local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]` or `FILE.json`")]
    TargetSyntax { text: String, reason: String },

    #[error("cannot read snapshot `{}`", .path.display())]
    SnapshotRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{source_name}` is not a valid snapshot at line {line}, column {column}: {message}")]
    SnapshotParse {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("`{source_name}` has schema `{found}`; this envsync reads `{expected}`")]
    SnapshotSchema {
        source_name: String,
        found: String,
        expected: &'static str,
    },

    #[error("cannot reach the Docker engine for target `{target}`")]
    Engine {
        target: String,
        #[source]
        source: envsync_engine::EngineError,
    },

    #[error("Docker engine request for target `{target}` failed: {message}")]
    Docker { target: String, message: String },

    #[error("container `{name}` does not exist; list containers with `docker ps -a`")]
    ContainerNotFound { name: String },

    #[error("container `{name}` is {state}, not running; start it with `docker start {name}`")]
    ContainerNotRunning { name: String, state: String },

    #[error("image `{reference}` does not exist in the engine; build or load it first")]
    ImageNotFound { reference: String },

    #[error("ssh to `{target}` failed (exit {code}): {stderr}")]
    Ssh {
        target: String,
        code: String,
        stderr: String,
    },

    #[error("cannot run `{program}`: {message}")]
    Command { program: String, message: String },

    #[error("`{program}` did not finish within {}s", .after.as_secs())]
    CommandTimeout { program: String, after: Duration },

    #[error("collecting `{target}` did not finish within {}s; raise the timeout or check the target", .after.as_secs())]
    Timeout { target: String, after: Duration },

    #[error("collecting `{target}` produced more than {limit} bytes; the target holds too much or is hostile")]
    TooLarge { target: String, limit: u64 },

    #[error("cannot read `{}`", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a directory holding a root filesystem", .path.display())]
    NotARoot { path: PathBuf },

    #[error("collection output from `{target}` is malformed: {message}")]
    Malformed { target: String, message: String },
}
