//! `down`: stop, then remove, exactly what carries this project's labels.

use std::collections::HashMap;

use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use futures_util::future::try_join_all;
use serde::Serialize;

use super::apply::stop_and_remove;
use super::RunError;
use crate::labels::{project_container_filter, project_filter, Role, LABEL_ROLE};
use crate::run_error::{engine_error, status_code};

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// Stop the project's containers (SIGTERM, then SIGKILL after the grace each was
/// created with), remove them and the network, and the named volumes when
/// `remove_volumes`; only resources labelled with this project are touched. The
/// development container stops first, so the application is gone before the services
/// it talks to; the services then stop together.
pub async fn down(
    docker: &Docker,
    project: &str,
    remove_volumes: bool,
) -> Result<DownReport, RunError> {
    let mut report = DownReport::default();
    let containers_filter =
        HashMap::from([("label".to_string(), project_container_filter(project))]);
    let filters = HashMap::from([("label".to_string(), project_filter(project))]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&containers_filter)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| engine_error("listing the containers of project", project, e))?;
    let is_dev = |c: &&ContainerSummary| {
        c.labels
            .as_ref()
            .and_then(|l| l.get(LABEL_ROLE))
            .map(String::as_str)
            == Some(Role::Dev.as_str())
    };
    for stage in [true, false] {
        try_join_all(
            containers
                .iter()
                .filter(|c| is_dev(c) == stage)
                .filter_map(|c| c.id.as_deref())
                .map(|id| stop_and_remove(docker, id, None)),
        )
        .await?;
    }
    report.containers = containers
        .iter()
        .filter_map(|c| {
            c.names
                .as_ref()?
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
        })
        .collect();
    report.containers.sort();

    let options = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    let networks = docker
        .list_networks(Some(options))
        .await
        .map_err(|e| engine_error("listing the networks of project", project, e))?;
    for net in networks {
        let name = net.name.unwrap_or_default();
        match docker.remove_network(&name).await {
            Ok(()) => report.networks.push(name),
            Err(err) if status_code(&err) == Some(404) => {}
            Err(err) => return Err(engine_error("removing network", &name, err)),
        }
    }

    if remove_volumes {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let volumes = docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| engine_error("listing the volumes of project", project, e))?;
        for vol in volumes.volumes.unwrap_or_default() {
            let rm = RemoveVolumeOptionsBuilder::default().build();
            match docker.remove_volume(&vol.name, Some(rm)).await {
                Ok(()) => report.volumes.push(vol.name),
                Err(err) if status_code(&err) == Some(404) => {}
                Err(err) => return Err(engine_error("removing volume", &vol.name, err)),
            }
        }
    }
    Ok(report)
}
