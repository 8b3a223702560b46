//! The one place envsync opens a connection to a Docker engine.
//!
//! Every crate that talks to Docker gets its client from [`connect`], so the engine
//! address, API version negotiation, timeouts and the wording of "no engine" errors
//! are decided once. The engine is chosen as the docker CLI chooses it ([`endpoint`]):
//! `DOCKER_HOST` (`unix://`, `tcp://` with `DOCKER_TLS_VERIFY`, `ssh://`), the current
//! `docker context`, or the default socket. Engines as old as API 1.41 (Docker 20.10, Debian bookworm's
//! `docker.io`) are supported through negotiation. Commands run inside the engine's
//! containers quote their words with [`shell_quote`].

pub mod config;
pub mod endpoint;
mod shell;
mod ssh;

use std::path::PathBuf;
use std::time::Duration;

pub use bollard;
use bollard::Docker;
pub use endpoint::DEFAULT_HOST;
use endpoint::{Endpoint, Environment, TlsFiles};
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

/// The first contact's deadline over `ssh://`, which includes ssh's own connection
/// (`ConnectTimeout=10`), the login and the remote docker CLI starting.
pub const SSH_PING_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors opening or using the engine connection. Each names the engine's address; a
/// missing engine, a socket the user may not open and a TLS failure are told apart.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "no Docker engine at `{host}`{}; start one with `just engine`, or point DOCKER_HOST or `docker context use` at one", origin_note(.origin)
    )]
    NoEngine {
        host: String,
        origin: Option<String>,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("permission denied on the Docker socket `{host}`; run as a user in the socket's group (usually `docker`), or point DOCKER_HOST at an engine you may use")]
    PermissionDenied {
        host: String,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("TLS failure talking to the Docker engine at `{host}` (client certificate, key or CA in `{}`); check DOCKER_CERT_PATH and that the engine trusts the client certificate", .cert_dir.display())]
    Tls {
        host: String,
        cert_dir: PathBuf,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("cannot use Docker engine at `{host}`{}", origin_note(.origin))]
    Connect {
        host: String,
        origin: Option<String>,
        #[source]
        source: Box<bollard::errors::Error>,
    },
    #[error("Docker engine at `{host}` did not answer within {}s; start one with `just engine` or set DOCKER_HOST", .after.as_secs())]
    Timeout { host: String, after: Duration },
    #[error("cannot use engine address `{host}`: {reason}")]
    BadHost { host: String, reason: String },
    #[error("docker context `{name}` (`{}`): {reason}", .file.display())]
    BadContext {
        name: String,
        file: PathBuf,
        reason: String,
    },
    #[error("cannot read the docker configuration `{}`: {reason}", .file.display())]
    Config { file: PathBuf, reason: String },
    #[error("credential helper `{helper}` for registry `{server}` failed: {reason}")]
    CredentialHelper {
        helper: String,
        server: String,
        reason: String,
    },
}

fn origin_note(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
}

/// The engine address in force, as the user wrote it: `DOCKER_HOST`, the current
/// context's endpoint, or the platform's default socket.
pub fn engine_host() -> String {
    endpoint::resolve(&Environment::from_process())
        .map(|r| r.host)
        .unwrap_or_else(|_| {
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string())
        })
}

/// Connect to the engine the environment names (see [`endpoint`]), check that it
/// answers, and negotiate the API version down to what the engine speaks.
pub async fn connect() -> Result<Docker, EngineError> {
    connect_to(&endpoint::resolve(&Environment::from_process())?).await
}

/// Connect to the engine at `host` (`unix://`, `tcp://`, `ssh://user@host:port`), as
/// [`connect`] does for the environment's engine: TLS for `tcp://` when
/// `DOCKER_TLS_VERIFY` is set, with the same certificate directory. Used to reach the
/// engine of another node of a cluster.
pub async fn connect_host(host: &str) -> Result<Docker, EngineError> {
    let resolved = endpoint::Resolved {
        endpoint: endpoint::parse_host(host, Environment::from_process().tls_files())?,
        host: host.to_string(),
        origin: endpoint::Origin::Default,
    };
    connect_to(&resolved).await
}

/// Connect to a resolved engine, check that it answers, negotiate the API version.
pub async fn connect_to(resolved: &endpoint::Resolved) -> Result<Docker, EngineError> {
    let host = resolved.host.clone();
    let origin = match &resolved.origin {
        endpoint::Origin::Context(name) => Some(format!("docker context `{name}`")),
        endpoint::Origin::DockerHost => Some("DOCKER_HOST".to_string()),
        endpoint::Origin::Default => None,
    };
    let timeout = DEFAULT_TIMEOUT.as_secs();
    let version = bollard::API_DEFAULT_VERSION;
    let opened = match &resolved.endpoint {
        Endpoint::Unix(path) => {
            Docker::connect_with_unix(&path.to_string_lossy(), timeout, version)
        }
        Endpoint::Tcp { addr, tls: None } => {
            Docker::connect_with_http(&format!("tcp://{addr}"), timeout, version)
        }
        Endpoint::Tcp {
            addr,
            tls: Some(files),
        } => {
            check_tls_files(&host, files)?;
            Docker::connect_with_ssl(
                &format!("tcp://{addr}"),
                &files.key,
                &files.cert,
                &files.ca,
                timeout,
                version,
            )
        }
        Endpoint::Ssh(dest) => ssh::connect(dest, &host, timeout),
    };
    let classify = |source: bollard::errors::Error| {
        classify(&resolved.endpoint, &host, origin.clone(), source)
    };
    let docker = opened.map_err(classify)?;
    let deadline = match resolved.endpoint {
        Endpoint::Ssh(_) => SSH_PING_TIMEOUT,
        _ => PING_TIMEOUT,
    };
    let negotiated = tokio::time::timeout(deadline, docker.negotiate_version())
        .await
        .map_err(|_| EngineError::Timeout {
            host: host.clone(),
            after: deadline,
        })?
        .map_err(classify)?;
    Ok(negotiated)
}

/// The TLS files must exist before bollard is asked to read them (it would panic on a
/// missing client key).
fn check_tls_files(host: &str, files: &TlsFiles) -> Result<(), EngineError> {
    for file in [&files.ca, &files.cert, &files.key] {
        if !file.is_file() {
            return Err(EngineError::BadHost {
                host: host.to_string(),
                reason: format!(
                    "TLS is on (DOCKER_TLS_VERIFY or the context) but `{}` is missing; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem",
                    file.display()
                ),
            });
        }
    }
    Ok(())
}

/// Tell a missing engine, a socket the user may not open and a TLS failure apart, by
/// the IO and TLS errors in `source`'s chain.
fn classify(
    endpoint: &Endpoint,
    host: &str,
    origin: Option<String>,
    source: bollard::errors::Error,
) -> EngineError {
    let host = host.to_string();
    let source = Box::new(source);
    if let bollard::errors::Error::SocketNotFoundError(_) = *source {
        return EngineError::NoEngine {
            host,
            origin,
            source,
        };
    }
    let mut tls = false;
    let mut kind = None;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*source);
    while let Some(err) = cause {
        if err.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            kind = kind.or(Some(io.kind()));
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                tls = true;
            }
        }
        cause = err.source();
    }
    match (endpoint, tls, kind) {
        (
            Endpoint::Tcp {
                tls: Some(files), ..
            },
            true,
            _,
        ) => EngineError::Tls {
            host,
            cert_dir: files.cert.parent().map(PathBuf::from).unwrap_or_default(),
            source,
        },
        (_, _, Some(std::io::ErrorKind::PermissionDenied)) => {
            EngineError::PermissionDenied { host, source }
        }
        (_, _, Some(std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused)) => {
            EngineError::NoEngine {
                host,
                origin,
                source,
            }
        }
        _ => EngineError::Connect {
            host,
            origin,
            source,
        },
    }
}
