//! `status`: the project's containers as `envsync status` shows them.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use serde::Serialize;

use super::decide::{ContainerState, Existing, HealthState};
use super::RunError;
use crate::env::container_name;
use crate::labels::{project_container_filter, Role, LABEL_ROLE};
use crate::run_error::engine_error;

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
}

/// The project's containers, sorted by service (the development container last), from
/// one engine request.
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
    let mut out: Vec<ServiceStatus> = list
        .iter()
        .filter_map(|c| {
            let e = Existing::from_summary(c)?;
            let labels = c.labels.clone().unwrap_or_default();
            Some(ServiceStatus {
                role: role_of(&labels),
                container: container_name(project, &e.service),
                image: e
                    .config
                    .as_ref()
                    .map(|c| c.image.clone())
                    .unwrap_or(e.image.clone()),
                state: e.state,
                health: e.health(),
                ports: e.ports.clone(),
                service: e.service,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.role == Role::Dev, &a.service).cmp(&(b.role == Role::Dev, &b.service)));
    Ok(out)
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
