//! `up` and `plan`: read what the engine holds for a project in one round of
//! concurrent requests, decide, then apply the decisions service by service.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters::ListContainersOptionsBuilder;
use bollard::Docker;
use futures_util::future::try_join_all;
use serde::Serialize;

use super::apply::{apply, check_ports, create_network, stop_and_remove};
use super::decide::{
    action_for, decide, desired, start_waves, validate, Action, Change, Desired, Existing,
    HealthState, NetworkState,
};
use super::post_create::run_post_create;
use super::{Progress, RunError};
use crate::env::{container_name, network_name, EnvSpec, HealthSpec, DEV_SERVICE};
use crate::health::wait_ready;
use crate::labels::{project_container_filter, project_labels, Role};
use crate::run_error::{engine_error, status_code};

/// How long a container without a health check (the development container, unless
/// `[dev]` gives one) may take to run.
const DEV_READY_DEADLINE: Duration = Duration::from_secs(60);

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    pub project: String,
    pub actions: Vec<Action>,
    /// Time spent reading the engine's state and deciding.
    #[serde(serialize_with = "as_millis")]
    pub plan_time: Duration,
    /// Total time of `up`.
    #[serde(serialize_with = "as_millis")]
    pub total_time: Duration,
}

impl UpReport {
    /// Whether `up` changed anything.
    pub fn changed(&self) -> bool {
        self.actions.iter().any(Action::is_change)
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// What the engine holds for a project, read in one round of concurrent requests.
struct Observed {
    network: NetworkState,
    existing: Vec<Existing>,
    image_ids: HashMap<String, String>,
}

async fn observe(docker: &Docker, spec: &EnvSpec) -> Result<Observed, RunError> {
    let network = network_name(&spec.project);
    let mut images: Vec<(&str, &str)> = spec
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.image.as_str()))
        .collect();
    if let Some(dev) = &spec.dev {
        images.push((DEV_SERVICE, dev.image.as_str()));
    }
    let image_lookups = try_join_all(images.iter().map(|(service, image)| async move {
        match docker.inspect_image(image).await {
            Ok(inspect) => Ok((image.to_string(), inspect.id.unwrap_or_default())),
            Err(err) if status_code(&err) == Some(404) => Err(RunError::ImageMissing {
                service: service.to_string(),
                image: image.to_string(),
            }),
            Err(err) => Err(engine_error("inspecting image", image, err)),
        }
    }));
    let (containers, net, image_ids) = tokio::join!(
        list_project_containers(docker, &spec.project),
        inspect_project_network(docker, &spec.project, &network),
        image_lookups
    );
    Ok(Observed {
        network: net?,
        existing: containers?,
        image_ids: image_ids?.into_iter().collect(),
    })
}

/// This project's containers (running or not), from one listing filtered by label.
pub async fn list_project_containers(
    docker: &Docker,
    project: &str,
) -> Result<Vec<Existing>, RunError> {
    let filters = HashMap::from([("label".to_string(), project_container_filter(project))]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| engine_error("listing the containers of project", project, e))?;
    Ok(list.iter().filter_map(Existing::from_summary).collect())
}

async fn inspect_project_network(
    docker: &Docker,
    project: &str,
    network: &str,
) -> Result<NetworkState, RunError> {
    match docker.inspect_network(network, None).await {
        Ok(inspect) => {
            let labels = inspect.labels.unwrap_or_default();
            let ours = project_labels(project)
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v));
            if !ours {
                return Err(RunError::NetworkForeign {
                    network: network.to_string(),
                    project: project.to_string(),
                });
            }
            Ok(inspect.id)
        }
        Err(err) if status_code(&err) == Some(404) => Ok(None),
        Err(err) => Err(engine_error("inspecting network", network, err)),
    }
}

/// What `up` would do, computed from the engine's state without changing anything.
pub async fn plan(docker: &Docker, spec: &EnvSpec) -> Result<Vec<Action>, RunError> {
    validate(spec)?;
    let observed = observe(docker, spec).await?;
    Ok(decide(
        &network_name(&spec.project),
        &observed.network,
        &desired(spec, &observed.image_ids),
        &observed.existing,
        &spec.stack.leave_alone,
    ))
}

/// Bring the environment to what `spec` says: create the project network, then (re)create
/// or restart only the containers whose configuration or state differ, in the order of
/// their `depends_on`, each started once what it depends on is healthy (or running,
/// without a health check). Unchanged resources are
/// left alone and reported `up to date`.
pub async fn up(
    docker: &Docker,
    spec: &EnvSpec,
    progress: Progress<'_>,
) -> Result<UpReport, RunError> {
    let started = Instant::now();
    validate(spec)?;
    let observed = observe(docker, spec).await?;
    let network = network_name(&spec.project);
    let wants = desired(spec, &observed.image_ids);
    let actions = decide(
        &network,
        &observed.network,
        &wants,
        &observed.existing,
        &spec.stack.leave_alone,
    );
    let waves = start_waves(&wants, &spec.stack.depends_on)?;
    let plan_time = started.elapsed();

    // Ports first, before anything is changed: a port held by something else would
    // otherwise fail the run halfway, after old containers were already removed.
    check_ports(docker, &observed.existing, &wants, &actions).await?;

    let existing: HashMap<&str, &Existing> = observed
        .existing
        .iter()
        .map(|e| (e.service.as_str(), e))
        .collect();
    if observed.network.is_none() {
        progress(&format!("network {network}: creating"));
        create_network(docker, &spec.project, &network).await?;
    }
    for action in actions.iter().filter(|a| a.change == Change::Remove) {
        if let Some(have) = existing.get(action.name.as_str()) {
            progress(&format!("{}: stopping and removing", action.name));
            // No longer in the spec: it stops within the grace it was created with.
            stop_and_remove(docker, &have.id, None).await?;
        }
    }

    // Wave by wave, each container once what it depends on is ready (compose's
    // `depends_on` with `condition: service_healthy`).
    for wave in waves {
        let mut waits = Vec::new();
        for want in wave.iter().map(|i| &wants[*i]) {
            let Some(action) = action_for(&actions, &want.service) else {
                continue;
            };
            let have = existing.get(want.service.as_str()).copied();
            apply(docker, spec, want, action, have, progress).await?;
            if want.role == Role::Dev && matches!(action.change, Change::Create | Change::Recreate)
            {
                // post_create runs once the container runs, before its health check
                // (which may need what post_create installs) is waited for.
                let name = container_name(&spec.project, DEV_SERVICE);
                wait_ready(docker, DEV_SERVICE, &name, None, DEV_READY_DEADLINE).await?;
                run_post_create(docker, &name, &want.config, progress).await?;
            }
            if !already_ready(want, action, have) {
                waits.push(want);
            }
        }
        wait_all_ready(docker, &spec.project, &waits, progress).await?;
    }

    Ok(UpReport {
        project: spec.project.clone(),
        actions,
        plan_time,
        total_time: started.elapsed(),
    })
}

/// Whether a service `up` leaves alone is ready without waiting: it has no health
/// check, or the engine already reports it healthy.
fn already_ready(want: &Desired, action: &Action, have: Option<&Existing>) -> bool {
    action.change == Change::UpToDate
        && (want.config.healthcheck.is_none()
            || have.and_then(Existing::health) == Some(HealthState::Healthy))
}

/// Wait for every service in `waits` at once, each until healthy (or running, without
/// a health check), reporting each as it gets there.
async fn wait_all_ready(
    docker: &Docker,
    project: &str,
    waits: &[&Desired],
    progress: Progress<'_>,
) -> Result<(), RunError> {
    try_join_all(waits.iter().map(|want| async move {
        let name = container_name(project, &want.service);
        let health = want.config.healthcheck.as_ref();
        if health.is_some() {
            progress(&format!("{}: waiting for its health check", want.service));
        }
        let deadline = health
            .map(HealthSpec::deadline)
            .unwrap_or(DEV_READY_DEADLINE);
        let took = wait_ready(docker, &want.service, &name, health, deadline).await?;
        progress(&format!(
            "{}: {} after {:.1}s",
            want.service,
            if health.is_some() {
                "healthy"
            } else {
                "running"
            },
            took.as_secs_f64()
        ));
        Ok::<_, RunError>(())
    }))
    .await?;
    Ok(())
}
