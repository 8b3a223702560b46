//! `status`: the project's containers as `envsync status` shows them.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use serde::Serialize;

use super::decide::Existing;
use super::RunError;
use crate::env::container_name;
use crate::labels::{project_container_filter, LABEL_ROLE};
use crate::run_error::engine_error;

/// A running container of the project, as `envsync status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub role: String,
    pub container: String,
    pub image: String,
    /// `running`, `exited`, `created`, ...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `None` without a health check.
    pub health: Option<String>,
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
                role: labels.get(LABEL_ROLE).cloned().unwrap_or_default(),
                container: container_name(project, &e.service),
                image: e
                    .config
                    .as_ref()
                    .map(|c| c.image.clone())
                    .unwrap_or(e.image.clone()),
                state: e.state.clone(),
                health: e.health().map(str::to_string),
                ports: e.ports.clone(),
                service: e.service,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.role == "dev", &a.service).cmp(&(b.role == "dev", &b.service)));
    Ok(out)
}
