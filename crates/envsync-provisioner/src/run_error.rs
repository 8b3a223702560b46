//! The error of running an environment, and how engine errors are classified into it.
//!
//! A module of its own, outside `run`, because `health` (which `run` uses to wait for
//! containers) reports the same errors: both depend on this one, not on each other.

use std::time::Duration;

/// Errors running an environment. Each names the service, container, port or network
/// concerned and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid environment: {field}: {problem}")]
    InvalidSpec { field: String, problem: String },
    /// A service package the manifest pins badly. The reason is the source, so the
    /// chain (`{:#}`) reads as `InvalidSpec` does.
    #[error("invalid environment: {field}")]
    InvalidPin {
        field: String,
        #[source]
        source: Box<crate::error::ProvisionError>,
    },
    #[error("image `{image}` for `{service}` is not in the Docker engine; build it first (`envsync up` builds service images from the manifest)")]
    ImageMissing { service: String, image: String },
    #[error("host port {port} wanted by `{service}` is already taken{}; stop what holds it or change the service's port", holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default())]
    PortTaken {
        service: String,
        port: u16,
        holder: Option<String>,
    },
    #[error("container name `{container}` is taken by a container envsync did not create; remove it (`docker rm -f {container}`) or rename the project")]
    NameTaken { container: String },
    #[error("network `{network}` exists but was not created by envsync for project `{project}`; remove it (`docker network rm {network}`) or rename the project")]
    NetworkForeign { network: String, project: String },
    #[error("`{service}` (container `{container}`) exited with code {exit_code} before it was ready; last log lines:\n{logs}")]
    Exited {
        service: String,
        container: String,
        exit_code: i64,
        logs: String,
    },
    #[error("`{service}` (container `{container}`) is unhealthy; last health check output: `{last_output}`; last log lines:\n{logs}")]
    Unhealthy {
        service: String,
        container: String,
        last_output: String,
        logs: String,
    },
    #[error("`{service}` (container `{container}`) was not ready after {}s; last health check output: `{last_output}`; last log lines:\n{logs}", .waited.as_secs())]
    ReadyTimeout {
        service: String,
        container: String,
        waited: Duration,
        last_output: String,
        logs: String,
    },
    #[error("post_create command `{command}` exited with code {exit_code} in `{container}`; fix it in [dev] and run `envsync up` again (the container is recreated and every command runs again); its output:\n{output}")]
    PostCreate {
        container: String,
        command: String,
        exit_code: i64,
        output: String,
    },
    #[error("no running development container for project `{project}` (`{container}`); start it with `envsync up`")]
    NoDevContainer { project: String, container: String },
    #[error("the Docker engine stopped answering while {doing} `{target}`; start it again and rerun the command (`envsync up` resumes from what exists)")]
    EngineGone {
        doing: String,
        target: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the Docker engine refused {doing} `{target}`")]
    Engine {
        doing: String,
        target: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
}

/// Classify an engine error: a lost connection (the engine stopped, the socket went
/// away) is reported differently from a refusal, because the fix differs.
pub(crate) fn engine_error(doing: &str, target: &str, source: bollard::errors::Error) -> RunError {
    use bollard::errors::Error as E;
    let gone = matches!(
        source,
        E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
    );
    let (doing, target) = (doing.to_string(), target.to_string());
    if gone {
        RunError::EngineGone {
            doing,
            target,
            source,
        }
    } else {
        RunError::Engine {
            doing,
            target,
            source,
        }
    }
}

pub(crate) fn status_code(err: &bollard::errors::Error) -> Option<u16> {
    match err {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}
