//! The one error type of the drift crate: every variant names the target, file, line or
//! field that caused it, and says what to do about it.
//!
//! Messages quote what the user typed and what a target said (container states, ssh
//! output, paths, parse errors); every such value is [escaped](crate::report::escape()) where the message
//! is written, so an error about a hostile target cannot drive the terminal either.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::report::escape;

/// A path as a message shows it.
fn shown(path: &Path) -> String {
    escape(&path.display().to_string()).into_owned()
}

/// Everything that can go wrong collecting, reading or comparing snapshots.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// `lock --from TARGET`: declared packages TARGET does not have.
    #[error("`{}` lacks {} declared {}: {}; install {} there, or remove {} from the manifest", escape(.target), .packages.len(), if .packages.len() == 1 { "package" } else { "packages" }, .packages.join(", "), if .packages.len() == 1 { "it" } else { "them" }, if .packages.len() == 1 { "it" } else { "them" })]
    TargetLacks {
        target: String,
        packages: Vec<String>,
    },

    /// `lock --from TARGET`: declared packages TARGET runs at versions the manifest excludes.
    #[error("`{}` runs versions the manifest does not allow: {}; relax the constraints in the manifest to lock what `{}` runs", escape(.target), .packages.join("; "), escape(.target))]
    TargetExcluded {
        target: String,
        packages: Vec<String>,
    },

    #[error("cannot understand target `{}`: {}; use `local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]`, `swarm:SERVICE` or `FILE.json`", escape(.text), escape(.reason))]
    TargetSyntax { text: String, reason: String },

    #[error("cannot read snapshot `{}`", shown(.path))]
    SnapshotRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a valid snapshot at line {line}, column {column}: {}", escape(.source_name), escape(.message))]
    SnapshotParse {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("`{}` has schema `{}`; this envsync reads `{expected}`", escape(.source_name), escape(.found))]
    SnapshotSchema {
        source_name: String,
        found: String,
        expected: &'static str,
    },

    #[error("cannot reach the Docker engine for target `{}`", escape(.target))]
    Engine {
        target: String,
        #[source]
        source: envsync_engine::EngineError,
    },

    #[error("Docker engine request for target `{}` failed: {}", escape(.target), escape(.message))]
    Docker { target: String, message: String },

    #[error("container `{}` does not exist; list containers with `docker ps -a`", escape(.name))]
    ContainerNotFound { name: String },

    #[error("container `{0}` is {1}, not running; start it with `docker start {0}`", escape(.name), escape(.state))]
    ContainerNotRunning { name: String, state: String },

    #[error("this engine is not a swarm manager (`{}` is in swarm state `{}`), so it cannot list the tasks of `swarm:{}`; point DOCKER_HOST at a manager node", escape(.engine), escape(.state), escape(.service))]
    NotSwarmManager {
        service: String,
        engine: String,
        state: String,
    },

    #[error("swarm service `{}` does not exist; list services with `docker service ls`", escape(.service))]
    SwarmServiceNotFound { service: String },

    #[error("`{}` runs on node `{}` ({}), and no engine is configured for other nodes; pass `--swarm-node-engine ssh://USER@{{addr}}` or set ENVSYNC_SWARM_NODE_ENGINE", escape(.task), escape(.node), escape(.addr))]
    SwarmNodeUnreachable {
        task: String,
        node: String,
        addr: String,
    },

    #[error("`{}` is {}, not running; it has no container to read yet", escape(.task), escape(.state))]
    SwarmTaskNotRunning { task: String, state: String },

    #[error("`swarm:{}` is a fleet of tasks, not one target; compare it against a reference with `envsync diff REFERENCE swarm:{}`", escape(.service), escape(.service))]
    SwarmFleet { service: String },

    #[error("image `{}` does not exist in the engine; build or load it first", escape(.reference))]
    ImageNotFound { reference: String },

    #[error("ssh to `{}` failed (exit {code}): {}", escape(.target), escape(.stderr))]
    Ssh {
        target: String,
        code: String,
        stderr: String,
    },

    #[error("cannot run `{}`: {}", escape(.program), escape(.message))]
    Command { program: String, message: String },

    #[error("`{}` did not finish within {}s", escape(.program), .after.as_secs())]
    CommandTimeout { program: String, after: Duration },

    #[error("collecting `{}` did not finish within {}s; raise the timeout or check the target", escape(.target), .after.as_secs())]
    Timeout { target: String, after: Duration },

    #[error("collecting `{}` produced more than {limit} bytes; the target holds too much or is hostile", escape(.target))]
    TooLarge { target: String, limit: u64 },

    #[error("cannot read `{}`", shown(.path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a directory holding a root filesystem", shown(.path))]
    NotARoot { path: PathBuf },

    #[error("collection output from `{}` is malformed: {}", escape(.target), escape(.message))]
    Malformed { target: String, message: String },

    #[error("collecting `{}` did not finish: {}; no partial inventory is reported", escape(.target), escape(.what))]
    Incomplete { target: String, what: String },

    #[error("snapshot of `{}` is incomplete ({} unread: {}); fix the target's permissions, collect as a user who can read them, or pass `--allow-incomplete`", escape(.target), .unread.len(), escape(&.unread.join("; ")))]
    SnapshotIncomplete { target: String, unread: Vec<String> },

    #[error("snapshot `{}` is larger than {limit} bytes; it is not a snapshot envsync wrote", shown(.path))]
    SnapshotTooLarge { path: PathBuf, limit: u64 },

    #[error("hash key from `{}` is unusable: {}", escape(.source_name), escape(.message))]
    HashKey {
        source_name: String,
        message: String,
    },

    #[error("`{}` was hashed with key `{}` and `{}` with key `{}`; their file and environment hashes cannot be compared; collect both with one key (set `ENVSYNC_HASH_KEY` or `ENVSYNC_HASH_KEY_FILE` to the team's key)", escape(.left), escape(.left_key), escape(.right), escape(.right_key))]
    HashKeyMismatch {
        left: String,
        left_key: String,
        right: String,
        right_key: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: DriftError, expected: &str) {
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn target_text_is_escaped() {
        check(
            DriftError::Ssh {
                target: "ssh://h".into(),
                code: "255".into(),
                stderr: "\x1b]0;PWNED\x07denied\r\n".into(),
            },
            "ssh to `ssh://h` failed (exit 255): \\u{1b}]0;PWNED\\u{7}denied\\r\\n",
        );
        check(
            DriftError::ContainerNotRunning {
                name: "web\x1b[2J".into(),
                state: "exited\u{202E}".into(),
            },
            "container `web\\u{1b}[2J` is exited\\u{202e}, not running; start it with `docker start web\\u{1b}[2J`",
        );
        check(
            DriftError::NotARoot {
                path: PathBuf::from("/srv/\x07root"),
            },
            "`/srv/\\u{7}root` is not a directory holding a root filesystem",
        );
    }
}
