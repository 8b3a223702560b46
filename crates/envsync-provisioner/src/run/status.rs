//! `status`: the project's containers as `envsync status` shows them, with what
//! tells a user something is wrong: the exit code of a container that ended and how
//! often the engine restarted it.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use futures_util::future::try_join_all;
use serde::Serialize;

use super::decide::{ContainerState, Existing, HealthState};
use super::RunError;
use crate::env::container_name;
use crate::labels::{project_container_filter, Role, LABEL_ROLE};
use crate::run_error::{engine_error, status_code};

/// A running container of the project, as `envsync status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub role: Role,
    pub container: String,
    pub image: String,
    pub state: ContainerState,
    /// `None` without a health check.
    pub health: Option<HealthState>,
    pub ports: Vec<crate::env::PortMap>,
    /// The exit code of the container's last run, when it is not running (exited,
    /// dead, or restarting after it ended); `None` while it runs.
    pub exit_code: Option<i64>,
    /// How many times the engine restarted it under its restart policy.
    pub restarts: i64,
}

impl ServiceStatus {
    /// Whether a container `up` started is not running now (exited, restarting, dead,
    /// paused, ...): every container of the project is meant to run.
    pub fn is_down(&self) -> bool {
        self.state != ContainerState::Running
    }
}

/// The project's containers, sorted by service (the development container last), from
/// one listing and one inspection per container (for exit codes and restart counts,
/// which the listing lacks), made concurrently.
pub async fn status(docker: &Docker, project: &str) -> Result<Vec<ServiceStatus>, RunError> {
    let filters = HashMap::from([("label".to_string(), project_container_filter(project))]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| engine_error("listing the containers of project", project, e))?;
    let mut out: Vec<ServiceStatus> = try_join_all(
        list.iter()
            .filter_map(|c| Some((Existing::from_summary(c)?, c)))
            .map(|(e, c)| async move {
                let last = last_run(docker, &e).await?;
                Ok::<_, RunError>((e, c, last))
            }),
    )
    .await?
    .into_iter()
    .map(|(e, c, last)| {
        let labels = c.labels.clone().unwrap_or_default();
        ServiceStatus {
            role: role_of(&labels),
            container: container_name(project, &e.service),
            image: e
                .config
                .as_ref()
                .map(|c| c.image.clone())
                .unwrap_or(e.image.clone()),
            state: last.state.unwrap_or(e.state),
            health: e.health(),
            ports: e.ports.clone(),
            exit_code: last.exit_code,
            restarts: last.restarts,
            service: e.service,
        }
    })
    .collect();
    out.sort_by(|a, b| (a.role == Role::Dev, &a.service).cmp(&(b.role == Role::Dev, &b.service)));
    Ok(out)
}

/// What a container's inspection adds to its listing.
#[derive(Default)]
struct LastRun {
    /// The state at inspection: the exit code belongs to it, not to the listing's
    /// state, which a restarting container may have left in between.
    state: Option<ContainerState>,
    exit_code: Option<i64>,
    restarts: i64,
}

/// How a container's last run ended (no exit code while it runs) and how often it was
/// restarted. A container removed since the listing has nothing to add.
async fn last_run(docker: &Docker, e: &Existing) -> Result<LastRun, RunError> {
    let inspect = match docker.inspect_container(&e.id, None).await {
        Ok(inspect) => inspect,
        Err(err) if status_code(&err) == Some(404) => return Ok(LastRun::default()),
        Err(err) => return Err(engine_error("inspecting container", &e.id, err)),
    };
    let state = inspect
        .state
        .as_ref()
        .map(|s| ContainerState::from_inspect(s.status));
    let ended = matches!(
        state,
        Some(ContainerState::Exited | ContainerState::Dead | ContainerState::Restarting)
    );
    Ok(LastRun {
        state,
        exit_code: inspect.state.and_then(|s| s.exit_code).filter(|_| ended),
        restarts: inspect.restart_count.unwrap_or(0),
    })
}

/// The role a container's label names. The listing's filter guarantees the label is
/// there; a value other than `dev` (set by hand, not by `up`) is shown as a service,
/// which is also where such a container sorted before roles were typed.
fn role_of(labels: &HashMap<String, String>) -> Role {
    match labels.get(LABEL_ROLE).map(String::as_str) {
        Some("dev") => Role::Dev,
        _ => Role::Service,
    }
}
