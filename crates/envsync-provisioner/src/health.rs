//! Waiting for a started container to become ready: healthy when it has a health
//! check, running otherwise. Polls the engine with a deadline; a container that exits
//! or turns unhealthy fails at once with its last log lines.

use std::time::{Duration, Instant};

use bollard::models::{ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use crate::env::HealthSpec;
use crate::run_error::{engine_error, RunError};

/// How many log lines a failure report carries.
pub const LOG_TAIL_LINES: usize = 20;

/// How often the engine is asked for the container's state while waiting.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// What a container's state says about its readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Waiting,
    Exited { exit_code: i64 },
    Unhealthy { last_output: String },
}

/// Readiness from one `inspect`: pure, so every case is testable without an engine.
pub fn readiness(
    status: Option<ContainerStateStatusEnum>,
    exit_code: Option<i64>,
    health: Option<HealthStatusEnum>,
    last_output: Option<&str>,
    has_healthcheck: bool,
) -> Readiness {
    match status {
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) => {
            return Readiness::Exited {
                exit_code: exit_code.unwrap_or(-1),
            }
        }
        Some(ContainerStateStatusEnum::RUNNING) => {}
        _ => return Readiness::Waiting,
    }
    if !has_healthcheck {
        return Readiness::Ready;
    }
    match health {
        Some(HealthStatusEnum::HEALTHY) => Readiness::Ready,
        Some(HealthStatusEnum::UNHEALTHY) => Readiness::Unhealthy {
            last_output: last_output.unwrap_or_default().trim().to_string(),
        },
        _ => Readiness::Waiting,
    }
}

/// Wait until `container` (running `service`) is ready, or fail with its last log lines
/// once it exits, turns unhealthy or `deadline` passes.
pub async fn wait_ready(
    docker: &Docker,
    service: &str,
    container: &str,
    healthcheck: Option<&HealthSpec>,
    deadline: Duration,
) -> Result<Duration, RunError> {
    let started = Instant::now();
    loop {
        let inspect = docker
            .inspect_container(container, None)
            .await
            .map_err(|e| engine_error("waiting for", container, e))?;
        let state = inspect.state.unwrap_or_default();
        let health = state.health.unwrap_or_default();
        let last_output = health
            .log
            .as_ref()
            .and_then(|log| log.last())
            .and_then(|r| r.output.clone());
        match readiness(
            state.status,
            state.exit_code,
            health.status,
            last_output.as_deref(),
            healthcheck.is_some(),
        ) {
            Readiness::Ready => return Ok(started.elapsed()),
            Readiness::Waiting => {}
            Readiness::Exited { exit_code } => {
                return Err(RunError::Exited {
                    service: service.to_string(),
                    container: container.to_string(),
                    exit_code,
                    logs: log_tail(docker, container).await,
                })
            }
            Readiness::Unhealthy { last_output } => {
                return Err(RunError::Unhealthy {
                    service: service.to_string(),
                    container: container.to_string(),
                    last_output,
                    logs: log_tail(docker, container).await,
                })
            }
        }
        if started.elapsed() >= deadline {
            return Err(RunError::ReadyTimeout {
                service: service.to_string(),
                container: container.to_string(),
                waited: deadline,
                last_output: last_output.unwrap_or_default().trim().to_string(),
                logs: log_tail(docker, container).await,
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The last [`LOG_TAIL_LINES`] lines the container wrote (stdout and stderr), or a note
/// saying why they could not be read.
pub async fn log_tail(docker: &Docker, container: &str) -> String {
    let tail = LOG_TAIL_LINES.to_string();
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&tail)
        .build();
    let mut stream = docker.logs(container, Some(options));
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => text.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
            Err(err) => {
                text.push_str(&format!("(reading the logs failed: {err})"));
                break;
            }
        }
    }
    if text.trim().is_empty() {
        "(the container wrote no log lines)".to_string()
    } else {
        text.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        status: ContainerStateStatusEnum,
        health: Option<HealthStatusEnum>,
        has_healthcheck: bool,
        expected: Readiness,
    ) {
        assert_eq!(
            readiness(
                Some(status),
                Some(137),
                health,
                Some("PONG\n"),
                has_healthcheck
            ),
            expected
        );
    }

    #[test]
    fn readiness_cases() {
        use ContainerStateStatusEnum as S;
        use HealthStatusEnum as H;
        check(S::RUNNING, None, false, Readiness::Ready);
        check(S::RUNNING, Some(H::STARTING), true, Readiness::Waiting);
        check(S::RUNNING, Some(H::HEALTHY), true, Readiness::Ready);
        check(
            S::RUNNING,
            Some(H::UNHEALTHY),
            true,
            Readiness::Unhealthy {
                last_output: "PONG".into(),
            },
        );
        check(S::CREATED, None, false, Readiness::Waiting);
        check(
            S::EXITED,
            Some(H::HEALTHY),
            true,
            Readiness::Exited { exit_code: 137 },
        );
        check(S::DEAD, None, false, Readiness::Exited { exit_code: 137 });
    }
}
