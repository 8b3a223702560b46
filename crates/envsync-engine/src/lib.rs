//! The one place envsync opens a connection to a Docker engine.
//!
//! Every crate that talks to Docker gets its client from [`connect`], so the engine
//! address, API version negotiation, timeouts and the wording of "no engine" errors
//! are decided once. Engines as old as API 1.41 (Docker 20.10, Debian bookworm's
//! `docker.io`) are supported through negotiation. Commands run inside the engine's
//! containers quote their words with [`shell_quote`].

mod shell;

use std::time::Duration;

pub use bollard;
use bollard::Docker;
pub use shell::shell_quote;

/// The label every resource envsync creates carries, so that it can find and remove
/// exactly what it made and nothing else.
pub const LABEL_MANAGED: &str = "io.envsync.managed";

/// How long a single engine request may take before it is abandoned. Builds and
/// long-running streams set their own, longer, timeouts.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the first contact with the engine may take; an engine that does not
/// answer within this is reported as unreachable rather than waited on.
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors opening or using the engine connection.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "cannot use Docker engine at `{host}`; start one with `just engine` or set DOCKER_HOST"
    )]
    Connect {
        host: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("Docker engine at `{host}` did not answer within {}s; start one with `just engine` or set DOCKER_HOST", .after.as_secs())]
    Timeout { host: String, after: Duration },
}

/// The engine address used when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The engine address in force: `DOCKER_HOST`, or the platform's default socket.
pub fn engine_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// Connect to the engine `DOCKER_HOST` names (or the default socket), check that it
/// answers, and negotiate the API version down to what the engine speaks.
pub async fn connect() -> Result<Docker, EngineError> {
    connect_to(&engine_host()).await
}

/// Connect to the engine at `host` (`unix://`, `tcp://`, `ssh://user@host`), check that
/// it answers and negotiate the API version, as [`connect`] does for `DOCKER_HOST`.
/// Used to reach the engine of another node of a cluster.
pub async fn connect_to(host: &str) -> Result<Docker, EngineError> {
    let host = host.to_string();
    let docker = Docker::connect_with_host(&host)
        .map_err(|source| EngineError::Connect {
            host: host.clone(),
            source,
        })?
        .with_timeout(DEFAULT_TIMEOUT);
    let negotiated = tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version())
        .await
        .map_err(|_| EngineError::Timeout {
            host: host.clone(),
            after: PING_TIMEOUT,
        })?
        .map_err(|source| EngineError::Connect {
            host: host.clone(),
            source,
        })?;
    Ok(negotiated)
}
