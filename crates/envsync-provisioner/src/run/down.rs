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
use crate::labels::{
    project_container_filter, project_filter, Role, LABEL_DEPENDS_ON, LABEL_ROLE, LABEL_SERVICE,
};
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
/// `remove_volumes`; only resources labelled with this project are touched. Containers
/// stop in the reverse of the order `up` started them (`stop_waves`): the application
/// is gone before the services it talks to.
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
    for wave in stop_waves(&containers) {
        try_join_all(
            wave.into_iter()
                .filter_map(|i| containers[i].id.as_deref())
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

/// The order `down` stops `containers` in: waves of indices into it, each container
/// stopping once nothing still running waits for it (as [`LABEL_DEPENDS_ON`] recorded
/// when it was created), containers of one wave together. A container created before
/// that label existed waits for nothing, except the development container, which waited
/// for every service. A cycle (which `up` refuses) stops what is left together.
pub fn stop_waves(containers: &[ContainerSummary]) -> Vec<Vec<usize>> {
    let label = |c: &ContainerSummary, key: &str| -> Option<String> {
        c.labels.as_ref().and_then(|l| l.get(key)).cloned()
    };
    let names: Vec<String> = containers
        .iter()
        .map(|c| label(c, LABEL_SERVICE).unwrap_or_default())
        .collect();
    let waits: Vec<Vec<String>> = containers
        .iter()
        .enumerate()
        .map(|(i, c)| match label(c, LABEL_DEPENDS_ON) {
            Some(list) => list
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect(),
            None if label(c, LABEL_ROLE).as_deref() == Some(Role::Dev.as_str()) => names
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| n.clone())
                .collect(),
            None => Vec::new(),
        })
        .collect();
    let mut stopped = vec![false; containers.len()];
    let mut waves = Vec::new();
    while stopped.iter().any(|s| !s) {
        let still_waited_for = |i: usize| {
            (0..containers.len()).any(|j| j != i && !stopped[j] && waits[j].contains(&names[i]))
        };
        let mut wave: Vec<usize> = (0..containers.len())
            .filter(|i| !stopped[*i] && !still_waited_for(*i))
            .collect();
        if wave.is_empty() {
            wave = (0..containers.len()).filter(|i| !stopped[*i]).collect();
        }
        for i in &wave {
            stopped[*i] = true;
        }
        waves.push(wave);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(service: &str, role: Role, depends_on: Option<&str>) -> ContainerSummary {
        let mut labels = HashMap::from([
            (LABEL_SERVICE.to_string(), service.to_string()),
            (LABEL_ROLE.to_string(), role.as_str().to_string()),
        ]);
        if let Some(list) = depends_on {
            labels.insert(LABEL_DEPENDS_ON.to_string(), list.to_string());
        }
        ContainerSummary {
            id: Some(format!("id-{service}")),
            labels: Some(labels),
            ..Default::default()
        }
    }

    fn names(containers: &[ContainerSummary], waves: Vec<Vec<usize>>) -> Vec<Vec<String>> {
        waves
            .into_iter()
            .map(|wave| {
                let mut names: Vec<String> = wave
                    .into_iter()
                    .map(|i| containers[i].labels.as_ref().unwrap()[LABEL_SERVICE].clone())
                    .collect();
                names.sort();
                names
            })
            .collect()
    }

    #[test]
    fn containers_stop_in_the_reverse_of_their_start_order() {
        // nginx waits for the app, the app for db and cache, the cache for nothing.
        let stack = [
            container("db", Role::Service, Some("")),
            container("cache", Role::Service, Some("")),
            container("dev", Role::Dev, Some("db,cache")),
            container("nginx", Role::Service, Some("dev")),
        ];
        assert_eq!(
            names(&stack, stop_waves(&stack)),
            [vec!["nginx"], vec!["dev"], vec!["cache", "db"]]
        );
    }

    #[test]
    fn containers_without_the_label_stop_as_before_it() {
        let stack = [
            container("db", Role::Service, None),
            container("dev", Role::Dev, None),
            container("cache", Role::Service, None),
        ];
        assert_eq!(
            names(&stack, stop_waves(&stack)),
            [vec!["dev"], vec!["cache", "db"]]
        );
    }

    #[test]
    fn a_cycle_stops_what_is_left_together() {
        let stack = [
            container("a", Role::Service, Some("b")),
            container("b", Role::Service, Some("a")),
            container("c", Role::Service, Some("a")),
        ];
        assert_eq!(
            names(&stack, stop_waves(&stack)),
            [vec!["c"], vec!["a", "b"]]
        );
    }
}
