//! Running an environment: `up` (network, middleware services waited on until healthy,
//! then the development container), `plan` (what `up` would do, changing nothing),
//! `down`, `status` and `exec`.
//!
//! Everything is derived from the engine: containers, networks and volumes carry the
//! project's labels and each container its effective configuration (see
//! [`crate::labels`]). `up` on an unchanged environment costs one container listing,
//! one network inspection and one image inspection per distinct image.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum, EndpointSettings,
    HealthConfig, HostConfig, Mount as EngineMount, MountType, NetworkCreateRequest,
    NetworkingConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use futures_util::future::try_join_all;
use serde::Serialize;

use crate::env::{container_name, network_name, valid_name, EnvSpec, HealthSpec, DEV_SERVICE};
use crate::health::wait_ready;
use crate::labels::{
    dev_config, diff_reasons, project_container_filter, project_filter, project_labels,
    service_config, stored_config, EffectiveConfig, Role, LABEL_CONFIG_SHA256, LABEL_ROLE,
    LABEL_SERVICE,
};
use envsync_manifest::manifest::{host_ports_clash, MountKind};

/// How long the development container (which has no health check) may take to run.
const DEV_READY_DEADLINE: Duration = Duration::from_secs(60);

/// Errors running an environment. Each names the service, container, port or network
/// concerned and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid environment: {field}: {problem}")]
    InvalidSpec { field: String, problem: String },
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

fn status_code(err: &bollard::errors::Error) -> Option<u16> {
    match err {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Receives one line per step of `up` (`redis: healthy after 0.8s`).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// What kind of resource an [`Action`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Network,
    Service,
    Dev,
}

/// What `up` does (or would do) to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    UpToDate,
    Create,
    Recreate,
    Start,
    Restart,
    Remove,
}

/// One resource's decision, with the reasons for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub resource: Resource,
    /// The service name, `dev`, or the network name.
    pub name: String,
    pub change: Change,
    pub reasons: Vec<String>,
}

impl Action {
    fn new(resource: Resource, name: &str, change: Change, reasons: Vec<String>) -> Action {
        Action {
            resource,
            name: name.to_string(),
            change,
            reasons,
        }
    }

    /// Whether `up` changes anything for this resource.
    pub fn is_change(&self) -> bool {
        self.change != Change::UpToDate
    }

    /// One line for a person: what was done (`done`) or what would be done, and why.
    pub fn describe(&self, done: bool) -> String {
        let why = self.reasons.join("; ");
        let name = match self.resource {
            Resource::Network => format!("network {}", self.name),
            _ => self.name.clone(),
        };
        match (self.change, done) {
            (Change::UpToDate, _) => format!("{name}: up to date"),
            (Change::Create, true) => format!("{name}: {why}, created"),
            (Change::Create, false) => format!("{name}: {why}, would be created"),
            (Change::Recreate, true) => format!("{name}: recreated: {why}"),
            (Change::Recreate, false) => format!("{name}: would be recreated: {why}"),
            (Change::Start | Change::Restart, true) => format!("{name}: {why} restarted"),
            (Change::Start | Change::Restart, false) => {
                format!("{name}: {why}, would be restarted")
            }
            (Change::Remove, true) => format!("{name}: {why}, removed"),
            (Change::Remove, false) => format!("{name}: {why}, would be removed"),
        }
    }
}

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

/// A container as listed by the engine, reduced to what decisions need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Existing {
    pub id: String,
    pub service: String,
    /// `created`, `running`, `exited`, `paused`, `restarting`, `dead`, `removing`.
    pub state: String,
    /// The engine's human status: `Up 3 minutes (healthy)`, `Exited (137) 2 seconds ago`.
    pub status: String,
    pub config_sha256: Option<String>,
    pub config: Option<EffectiveConfig>,
    /// Network name → network ID the container is attached to.
    pub networks: BTreeMap<String, String>,
    /// Host ports it publishes.
    pub host_ports: Vec<u16>,
    pub image: String,
    pub ports: Vec<crate::env::PortMap>,
}

impl Existing {
    fn from_summary(c: &ContainerSummary) -> Option<Existing> {
        let labels = c.labels.clone().unwrap_or_default();
        let service = labels.get(LABEL_SERVICE)?.clone();
        let ports: Vec<crate::env::PortMap> = c
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                p.public_port.map(|host| crate::env::PortMap {
                    host,
                    container: p.private_port,
                    host_ip: p
                        .ip
                        .as_deref()
                        .and_then(|ip| ip.parse().ok())
                        .unwrap_or(envsync_manifest::manifest::DEFAULT_HOST_IP),
                })
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Some(Existing {
            id: c.id.clone().unwrap_or_default(),
            service,
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            status: c.status.clone().unwrap_or_default(),
            config_sha256: labels.get(LABEL_CONFIG_SHA256).cloned(),
            config: stored_config(&labels),
            networks: c
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .map(|n| {
                    n.iter()
                        .map(|(name, e)| (name.clone(), e.network_id.clone().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default(),
            host_ports: ports.iter().map(|p| p.host).collect(),
            image: c.image.clone().unwrap_or_default(),
            ports,
        })
        .filter(|_| c.state != Some(ContainerSummaryStateEnum::REMOVING))
    }

    /// The health the engine reports in the status text (API 1.41 has no field for it).
    pub fn health(&self) -> Option<&'static str> {
        health_from_status(&self.status)
    }
}

/// `healthy`, `unhealthy` or `starting` from a status text such as `Up 2 minutes (healthy)`.
pub fn health_from_status(status: &str) -> Option<&'static str> {
    if status.contains("(healthy)") {
        Some("healthy")
    } else if status.contains("(unhealthy)") {
        Some("unhealthy")
    } else if status.contains("(health: starting)") {
        Some("starting")
    } else {
        None
    }
}

/// The exit code in a status text such as `Exited (137) 5 seconds ago`.
fn exit_code_from_status(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split(')').next()?.parse().ok()
}

/// A container `up` wants, with its effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub service: String,
    pub role: Role,
    pub config: EffectiveConfig,
}

/// The project network as found: `None` when missing, else its ID.
pub type NetworkState = Option<String>;

/// Decide what to do with each resource: pure, so every reason is unit-testable.
/// `network` is the current network ID (`None`: missing); `existing` are this
/// project's containers.
pub fn decide(
    network_name: &str,
    network: &NetworkState,
    desired: &[Desired],
    existing: &[Existing],
) -> Vec<Action> {
    let mut actions = Vec::new();
    actions.push(match network {
        Some(_) => Action::new(Resource::Network, network_name, Change::UpToDate, vec![]),
        None => Action::new(
            Resource::Network,
            network_name,
            Change::Create,
            vec!["missing".into()],
        ),
    });
    let by_service: HashMap<&str, &Existing> =
        existing.iter().map(|e| (e.service.as_str(), e)).collect();
    for want in desired {
        let resource = match want.role {
            Role::Service => Resource::Service,
            Role::Dev => Resource::Dev,
        };
        let (change, reasons) = match by_service.get(want.service.as_str()) {
            None => (Change::Create, vec!["missing".to_string()]),
            Some(have) => decide_one(network_name, network, want, have),
        };
        actions.push(Action::new(resource, &want.service, change, reasons));
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.service.as_str()).collect();
    let mut stale: Vec<&Existing> = existing
        .iter()
        .filter(|e| !wanted.contains(e.service.as_str()))
        .collect();
    stale.sort_by(|a, b| a.service.cmp(&b.service));
    for e in stale {
        let resource = if e.service == DEV_SERVICE {
            Resource::Dev
        } else {
            Resource::Service
        };
        actions.push(Action::new(
            resource,
            &e.service,
            Change::Remove,
            vec!["no longer in the manifest".into()],
        ));
    }
    actions
}

fn decide_one(
    network_name: &str,
    network: &NetworkState,
    want: &Desired,
    have: &Existing,
) -> (Change, Vec<String>) {
    if have.config_sha256.as_deref() != Some(want.config.sha256().as_str()) {
        let reasons = match &have.config {
            Some(old) => diff_reasons(old, &want.config),
            None => vec![],
        };
        let reasons = if reasons.is_empty() {
            vec!["stored configuration missing or unreadable".to_string()]
        } else {
            reasons
        };
        return (Change::Recreate, reasons);
    }
    match network {
        None => return (Change::Recreate, vec!["network missing".into()]),
        Some(id) => {
            if have.networks.get(network_name) != Some(id) {
                return (Change::Recreate, vec!["network recreated".into()]);
            }
        }
    }
    match have.state.as_str() {
        "running" | "restarting" => {
            if have.health() == Some("unhealthy") {
                (Change::Restart, vec!["unhealthy container".into()])
            } else {
                (Change::UpToDate, vec![])
            }
        }
        "exited" => match exit_code_from_status(&have.status) {
            Some(137) => (Change::Start, vec!["killed container".into()]),
            Some(code) => (
                Change::Start,
                vec![format!("stopped container (exit code {code})")],
            ),
            None => (Change::Start, vec!["stopped container".into()]),
        },
        "created" => (Change::Start, vec!["never-started container".into()]),
        other => (Change::Recreate, vec![format!("{other} container")]),
    }
}

/// Check the spec for problems that would only surface halfway through `up`.
pub fn validate(spec: &EnvSpec) -> Result<(), RunError> {
    let invalid = |field: String, problem: String| Err(RunError::InvalidSpec { field, problem });
    if !valid_name(&spec.project) {
        return invalid(
            "project".into(),
            format!(
                "`{}` cannot name Docker resources; use letters, digits, `_`, `.` and `-`",
                spec.project
            ),
        );
    }
    let mut names = BTreeSet::new();
    let mut published: Vec<(&crate::env::PortMap, &str)> = Vec::new();
    let dev_ports = spec.dev.iter().flat_map(|d| d.ports.iter());
    let all_ports = spec
        .services
        .iter()
        .flat_map(|s| s.ports.iter().map(move |p| (s.name.as_str(), p)))
        .chain(dev_ports.map(|p| (DEV_SERVICE, p)));
    for s in &spec.services {
        let field = format!("services.{}", s.name);
        if !valid_name(&s.name) {
            return invalid(
                field,
                "a service name may hold letters, digits, `_`, `.` and `-`".into(),
            );
        }
        if s.name == DEV_SERVICE {
            return invalid(
                field,
                "`dev` is the development container's name; rename the service".into(),
            );
        }
        if !names.insert(s.name.as_str()) {
            return invalid(field, "declared twice".into());
        }
    }
    for (service, port) in all_ports {
        let address = |p: &crate::env::PortMap| (p.host_ip, p.host);
        let clash = published
            .iter()
            .find(|(p, _)| host_ports_clash(address(p), address(port)));
        if let Some((_, other)) = clash {
            return invalid(
                format!("services.{service}.port"),
                format!("host port {} is also wanted by `{other}`", port.host),
            );
        }
        published.push((port, service));
    }
    Ok(())
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

fn desired(spec: &EnvSpec, image_ids: &HashMap<String, String>) -> Vec<Desired> {
    let id = |image: &str| image_ids.get(image).cloned().unwrap_or_default();
    let mut out: Vec<Desired> = spec
        .services
        .iter()
        .map(|s| Desired {
            service: s.name.clone(),
            role: Role::Service,
            config: service_config(spec, s, &id(&s.image)),
        })
        .collect();
    if let Some(dev) = &spec.dev {
        out.push(Desired {
            service: DEV_SERVICE.to_string(),
            role: Role::Dev,
            config: dev_config(spec, dev, &id(&dev.image)),
        });
    }
    out
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
    ))
}

/// Bring the environment to what `spec` says: create the project network, (re)create or
/// restart only the services whose configuration or state differ, wait until each is
/// healthy, then do the same for the development container. Unchanged resources are
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
    let actions = decide(&network, &observed.network, &wants, &observed.existing);
    let plan_time = started.elapsed();

    let existing: HashMap<&str, &Existing> = observed
        .existing
        .iter()
        .map(|e| (e.service.as_str(), e))
        .collect();
    let action_for = |service: &str| {
        actions
            .iter()
            .find(|a| a.name == service && a.resource != Resource::Network)
    };

    // Ports first, before anything is changed: a port held by something else would
    // otherwise fail the run halfway, after old containers were already removed.
    if is_local_engine() {
        let ours: BTreeSet<u16> = observed
            .existing
            .iter()
            .flat_map(|e| e.host_ports.iter().copied())
            .collect();
        for want in &wants {
            if action_for(&want.service).is_some_and(Action::is_change) {
                for port in &want.config.ports {
                    if !ours.contains(&port.host) {
                        check_port_free(docker, &want.service, port.host_ip, port.host).await?;
                    }
                }
            }
        }
    }

    if observed.network.is_none() {
        progress(&format!("network {network}: creating"));
        create_network(docker, &spec.project, &network).await?;
    }
    for action in actions.iter().filter(|a| a.change == Change::Remove) {
        if let Some(have) = existing.get(action.name.as_str()) {
            progress(&format!("{}: removing", action.name));
            remove_container(docker, &have.id).await?;
        }
    }

    let services: Vec<&Desired> = wants.iter().filter(|d| d.role == Role::Service).collect();
    let mut waits = Vec::new();
    for want in &services {
        let Some(action) = action_for(&want.service) else {
            continue;
        };
        apply(
            docker,
            spec,
            want,
            action,
            existing.get(want.service.as_str()).copied(),
            progress,
        )
        .await?;
        let already_healthy = action.change == Change::UpToDate
            && (want.config.healthcheck.is_none()
                || existing.get(want.service.as_str()).and_then(|e| e.health()) == Some("healthy"));
        if !already_healthy {
            waits.push(*want);
        }
    }
    try_join_all(waits.iter().map(|want| async move {
        let name = container_name(&spec.project, &want.service);
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

    if let Some(want) = wants.iter().find(|d| d.role == Role::Dev) {
        if let Some(action) = action_for(&want.service) {
            apply(
                docker,
                spec,
                want,
                action,
                existing.get(want.service.as_str()).copied(),
                progress,
            )
            .await?;
            if action.is_change() {
                let name = container_name(&spec.project, DEV_SERVICE);
                wait_ready(docker, DEV_SERVICE, &name, None, DEV_READY_DEADLINE).await?;
            }
        }
    }

    Ok(UpReport {
        project: spec.project.clone(),
        actions,
        plan_time,
        total_time: started.elapsed(),
    })
}

/// Carry out one container's action.
async fn apply(
    docker: &Docker,
    spec: &EnvSpec,
    want: &Desired,
    action: &Action,
    have: Option<&Existing>,
    progress: Progress<'_>,
) -> Result<(), RunError> {
    let name = container_name(&spec.project, &want.service);
    match action.change {
        Change::UpToDate | Change::Remove => Ok(()),
        Change::Create | Change::Recreate => {
            progress(&format!(
                "{}: {}",
                want.service,
                if action.change == Change::Create {
                    "creating"
                } else {
                    "recreating"
                }
            ));
            if let Some(have) = have {
                remove_container(docker, &have.id).await?;
            }
            ensure_volumes(docker, &spec.project, &want.config).await?;
            create_container(docker, spec, want, &name).await?;
            start_container(docker, &want.service, &name, &want.config).await
        }
        Change::Start => {
            progress(&format!("{}: starting", want.service));
            start_container(docker, &want.service, &name, &want.config).await
        }
        Change::Restart => {
            progress(&format!("{}: restarting", want.service));
            docker
                .restart_container(&name, None)
                .await
                .map_err(|e| engine_error("restarting container", &name, e))
        }
    }
}

async fn create_network(docker: &Docker, project: &str, network: &str) -> Result<(), RunError> {
    let request = NetworkCreateRequest {
        name: network.to_string(),
        driver: Some("bridge".to_string()),
        labels: Some(project_labels(project)),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        Err(err) => Err(engine_error("creating network", network, err)),
    }
}

/// Create the named volumes a configuration mounts, labelled so `down --volumes` finds them.
async fn ensure_volumes(
    docker: &Docker,
    project: &str,
    config: &EffectiveConfig,
) -> Result<(), RunError> {
    for mount in config.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        match docker.inspect_volume(&mount.source).await {
            Ok(_) => continue,
            Err(err) if status_code(&err) == Some(404) => {}
            Err(err) => return Err(engine_error("inspecting volume", &mount.source, err)),
        }
        let request = VolumeCreateRequest {
            name: Some(mount.source.clone()),
            labels: Some(project_labels(project)),
            ..Default::default()
        };
        docker
            .create_volume(request)
            .await
            .map_err(|e| engine_error("creating volume", &mount.source, e))?;
    }
    Ok(())
}

/// The engine's container configuration for an effective configuration. The engine's
/// container must match `config` exactly: everything here comes from it.
fn container_body(spec: &EnvSpec, want: &Desired) -> ContainerCreateBody {
    let config = &want.config;
    // The real values; the configuration holds only their hashes.
    let env_values: &BTreeMap<String, String> = match want.role {
        Role::Service => spec
            .services
            .iter()
            .find(|s| s.name == want.service)
            .map(|s| &s.env),
        Role::Dev => spec.dev.as_ref().map(|d| &d.env),
    }
    .unwrap_or(&EMPTY_ENV);
    let env: Vec<String> = config
        .env
        .keys()
        .filter_map(|k| env_values.get(k).map(|v| format!("{k}={v}")))
        .collect();
    let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = config
        .ports
        .iter()
        .map(|p| {
            (
                format!("{}/tcp", p.container),
                Some(vec![PortBinding {
                    // The manifest's address, loopback unless it names another.
                    host_ip: Some(p.host_ip.to_string()),
                    host_port: Some(p.host.to_string()),
                }]),
            )
        })
        .collect();
    let mounts: Vec<EngineMount> = config
        .mounts
        .iter()
        .map(|m| EngineMount {
            target: Some(m.target.clone()),
            source: Some(m.source.clone()),
            typ: Some(match m.kind {
                MountKind::Bind => MountType::BIND,
                MountKind::Volume => MountType::VOLUME,
            }),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let healthcheck = config.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(h.test.clone()),
        interval: Some(nanos(h.interval)),
        timeout: Some(nanos(h.timeout)),
        retries: Some(i64::from(h.retries)),
        start_period: Some(nanos(h.start_period)),
        start_interval: None,
    });
    let endpoint = EndpointSettings {
        aliases: Some(config.aliases.clone()),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(config.image_id.clone()),
        env: Some(env),
        cmd: config.command.clone(),
        healthcheck,
        user: config.user.clone(),
        working_dir: config.working_dir.clone(),
        exposed_ports: Some(
            config
                .ports
                .iter()
                .map(|p| format!("{}/tcp", p.container))
                .collect(),
        ),
        labels: Some(config.labels(&spec.project, &want.service, want.role)),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            mounts: Some(mounts),
            network_mode: Some(config.network.clone()),
            init: config.init.then_some(true),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(config.network.clone(), endpoint)])),
        }),
        ..Default::default()
    }
}

static EMPTY_ENV: BTreeMap<String, String> = BTreeMap::new();

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

async fn create_container(
    docker: &Docker,
    spec: &EnvSpec,
    want: &Desired,
    name: &str,
) -> Result<(), RunError> {
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    match docker
        .create_container(Some(options), container_body(spec, want))
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if status_code(&err) == Some(409) => Err(RunError::NameTaken {
            container: name.to_string(),
        }),
        Err(err) => Err(engine_error("creating container", name, err)),
    }
}

async fn start_container(
    docker: &Docker,
    service: &str,
    name: &str,
    config: &EffectiveConfig,
) -> Result<(), RunError> {
    match docker
        .start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(err) => {
            let text = err.to_string();
            if let Some(port) = taken_port(&text, config) {
                let holder = port_holder(docker, port).await;
                return Err(RunError::PortTaken {
                    service: service.to_string(),
                    port,
                    holder,
                });
            }
            Err(engine_error("starting container", name, err))
        }
    }
}

/// The host port an engine error says is taken (`Bind for 127.0.0.1:6379 failed: port
/// is already allocated`, `listen tcp4 0.0.0.0:6379: bind: address already in use`).
fn taken_port(message: &str, config: &EffectiveConfig) -> Option<u16> {
    if !(message.contains("port is already allocated")
        || message.contains("address already in use"))
    {
        return None;
    }
    config
        .ports
        .iter()
        .map(|p| p.host)
        .find(|port| {
            message.contains(&format!(":{port} ")) || message.contains(&format!(":{port}:"))
        })
        .or_else(|| config.ports.first().map(|p| p.host))
}

async fn remove_container(docker: &Docker, id: &str) -> Result<(), RunError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(err) if status_code(&err) == Some(404) => Ok(()),
        Err(err) => Err(engine_error("removing container", id, err)),
    }
}

/// Whether the engine runs on this machine, so that binding a port here tells whether
/// the engine can publish it.
fn is_local_engine() -> bool {
    envsync_engine::engine_host().starts_with("unix://")
}

/// Fail with [`RunError::PortTaken`] when something on this machine listens on `port`.
async fn check_port_free(
    docker: &Docker,
    service: &str,
    ip: std::net::IpAddr,
    port: u16,
) -> Result<(), RunError> {
    // Binding the very address the engine will bind fails both when something holds it
    // and when something holds the port on the wildcard address.
    let taken = TcpListener::bind((ip, port)).is_err();
    if taken {
        return Err(RunError::PortTaken {
            service: service.to_string(),
            port,
            holder: port_holder(docker, port).await,
        });
    }
    Ok(())
}

/// The container publishing `port`, if one does (asked only when reporting a conflict).
async fn port_holder(docker: &Docker, port: u16) -> Option<String> {
    let filters = HashMap::from([("publish".to_string(), vec![port.to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let list = docker.list_containers(Some(options)).await.ok()?;
    let name = list
        .first()?
        .names
        .as_ref()?
        .first()?
        .trim_start_matches('/')
        .to_string();
    Some(format!("container `{name}`"))
}

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

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DownReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// Remove the project's containers and network, and its named volumes when
/// `remove_volumes`; only resources labelled with this project are touched.
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
    try_join_all(
        containers
            .iter()
            .filter_map(|c| c.id.as_deref())
            .map(|id| remove_container(docker, id)),
    )
    .await?;
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

/// The running development container of `project`, or [`RunError::NoDevContainer`].
pub async fn dev_container(docker: &Docker, project: &str) -> Result<String, RunError> {
    let name = container_name(project, DEV_SERVICE);
    let missing = || RunError::NoDevContainer {
        project: project.to_string(),
        container: name.clone(),
    };
    match docker.inspect_container(&name, None).await {
        Ok(inspect) => {
            let running = inspect.state.and_then(|s| s.running).unwrap_or(false);
            let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
            let ours = labels.get(LABEL_SERVICE).map(String::as_str) == Some(DEV_SERVICE);
            if running && ours {
                Ok(name)
            } else {
                Err(missing())
            }
        }
        Err(err) if status_code(&err) == Some(404) => Err(missing()),
        Err(err) => Err(engine_error("inspecting container", &name, err)),
    }
}

/// Run `cmd` in the project's development container as its user, in its working
/// directory, copying its output to this process's stdout and stderr. With
/// `forward_stdin`, this process's stdin is copied to the command until it ends.
/// Returns the command's exit code.
pub async fn exec(
    docker: &Docker,
    project: &str,
    cmd: &[String],
    forward_stdin: bool,
) -> Result<i64, RunError> {
    use bollard::container::LogOutput;
    use bollard::exec::{CreateExecOptions, StartExecResults};
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    let name = dev_container(docker, project).await?;
    let created = docker
        .create_exec(
            &name,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdin: Some(forward_stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| engine_error("creating a command in container", &name, e))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| engine_error("running a command in container", &name, e))?;
    let io = |source| RunError::Io {
        doing: format!("copying the output of the command in `{name}`"),
        source,
    };
    if let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    {
        if forward_stdin {
            // A plain thread, not a runtime task: a blocking read of a stdin that never
            // ends must not keep the runtime (and so the process) from finishing.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
            std::thread::spawn(move || {
                use std::io::Read;
                let mut stdin = std::io::stdin();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.blocking_send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            tokio::spawn(async move {
                while let Some(chunk) = rx.recv().await {
                    if input.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                let _ = input.shutdown().await;
            });
        }
        // Output is copied chunk by chunk as it arrives; a blocking write of one chunk
        // to this process's own stdout is as short as the chunk.
        use std::io::Write;
        while let Some(chunk) = output.next().await {
            match chunk.map_err(|e| engine_error("reading the output of container", &name, e))? {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&message)
                        .and_then(|()| out.flush())
                        .map_err(io)?;
                }
                LogOutput::StdErr { message } => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(&message)
                        .and_then(|()| err.flush())
                        .map_err(io)?;
                }
                LogOutput::StdIn { .. } => {}
            }
        }
    }
    let inspect = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| engine_error("inspecting a command in container", &name, e))?;
    Ok(inspect.exit_code.unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::env::{PortMap, ServiceSpec};

    const NET: &str = "envsync-shop";

    fn spec() -> EnvSpec {
        EnvSpec {
            project: "shop".into(),
            project_dir: PathBuf::from("/src/shop"),
            services: vec![ServiceSpec {
                name: "redis".into(),
                image: "envsync/redis:7.0".into(),
                env: BTreeMap::from([("REDIS_URL".into(), "redis://redis".into())]),
                ports: vec![PortMap {
                    host: 6379,
                    container: 6379,
                    host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
                }],
                healthcheck: Some(HealthSpec::shell("redis-cli ping")),
                volumes: vec![],
                command: None,
            }],
            dev: None,
        }
    }

    fn ids() -> HashMap<String, String> {
        HashMap::from([("envsync/redis:7.0".to_string(), "sha256:r1".to_string())])
    }

    /// A container as `up` would have created it from `spec`, in `state` with `status`.
    fn existing(spec: &EnvSpec, state: &str, status: &str) -> Existing {
        let want = &desired(spec, &ids())[0];
        Existing {
            id: "c1".into(),
            service: want.service.clone(),
            state: state.into(),
            status: status.into(),
            config_sha256: Some(want.config.sha256()),
            config: Some(want.config.clone()),
            networks: BTreeMap::from([(NET.to_string(), "n1".to_string())]),
            ..Default::default()
        }
    }

    fn check(spec: &EnvSpec, network: NetworkState, existing: &[Existing], expected: &[&str]) {
        let actions = decide(NET, &network, &desired(spec, &ids()), existing);
        let lines: Vec<String> = actions.iter().map(|a| a.describe(true)).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn nothing_exists() {
        check(
            &spec(),
            None,
            &[],
            &[
                "network envsync-shop: missing, created",
                "redis: missing, created",
            ],
        );
    }

    #[test]
    fn all_up_to_date() {
        let s = spec();
        check(
            &s,
            Some("n1".into()),
            &[existing(&s, "running", "Up 2 minutes (healthy)")],
            &["network envsync-shop: up to date", "redis: up to date"],
        );
    }

    #[test]
    fn changed_env_recreates_with_reason() {
        let old = spec();
        let mut new = spec();
        new.services[0]
            .env
            .insert("REDIS_URL".into(), "redis://other".into());
        check(
            &new,
            Some("n1".into()),
            &[existing(&old, "running", "Up 2 minutes (healthy)")],
            &[
                "network envsync-shop: up to date",
                "redis: recreated: env REDIS_URL changed",
            ],
        );
    }

    #[test]
    fn changed_port_recreates_with_reason() {
        let old = spec();
        let mut new = spec();
        new.services[0].ports[0].host = 16379;
        check(
            &new,
            Some("n1".into()),
            &[existing(&old, "running", "Up 2 minutes (healthy)")],
            &[
                "network envsync-shop: up to date",
                "redis: recreated: port 6379 changed",
            ],
        );
    }

    #[test]
    fn stopped_killed_and_unhealthy_are_restarted() {
        let s = spec();
        let cases = [
            (
                "exited",
                "Exited (137) 3 seconds ago",
                "redis: killed container restarted",
            ),
            (
                "exited",
                "Exited (0) 3 seconds ago",
                "redis: stopped container (exit code 0) restarted",
            ),
            (
                "created",
                "Created",
                "redis: never-started container restarted",
            ),
            (
                "running",
                "Up 1 minute (unhealthy)",
                "redis: unhealthy container restarted",
            ),
            ("dead", "Dead", "redis: recreated: dead container"),
        ];
        for (state, status, line) in cases {
            check(
                &s,
                Some("n1".into()),
                &[existing(&s, state, status)],
                &["network envsync-shop: up to date", line],
            );
        }
    }

    #[test]
    fn network_loss_recreates_containers() {
        let s = spec();
        check(
            &s,
            None,
            &[existing(&s, "exited", "Exited (0) 1 second ago")],
            &[
                "network envsync-shop: missing, created",
                "redis: recreated: network missing",
            ],
        );
        check(
            &s,
            Some("n2".into()),
            &[existing(&s, "exited", "Exited (0) 1 second ago")],
            &[
                "network envsync-shop: up to date",
                "redis: recreated: network recreated",
            ],
        );
    }

    #[test]
    fn removed_service_is_removed_and_plan_wording() {
        let s = spec();
        let mut extra = existing(&s, "running", "Up");
        extra.service = "memcached".into();
        let actions = decide(
            NET,
            &Some("n1".into()),
            &desired(&s, &ids()),
            &[existing(&s, "running", "Up (healthy)"), extra],
        );
        let lines: Vec<String> = actions.iter().map(|a| a.describe(false)).collect();
        assert_eq!(
            lines,
            [
                "network envsync-shop: up to date",
                "redis: up to date",
                "memcached: no longer in the manifest, would be removed"
            ]
        );
    }

    #[test]
    fn unlabelled_config_is_recreated() {
        let s = spec();
        let mut e = existing(&s, "running", "Up");
        e.config = None;
        e.config_sha256 = None;
        check(
            &s,
            Some("n1".into()),
            &[e],
            &[
                "network envsync-shop: up to date",
                "redis: recreated: stored configuration missing or unreadable",
            ],
        );
    }

    #[test]
    fn validation() {
        let mut s = spec();
        s.services.push(s.services[0].clone());
        assert!(
            matches!(validate(&s), Err(RunError::InvalidSpec { problem, .. }) if problem == "declared twice")
        );
        let mut s = spec();
        s.services[0].name = "dev".into();
        assert!(validate(&s).is_err());
        let mut s = spec();
        let mut other = s.services[0].clone();
        other.name = "cache".into();
        s.services.push(other);
        let err = validate(&s).map(|_| ()).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid environment: services.cache.port: host port 6379 is also wanted by `redis`"
        );
        assert!(validate(&spec()).is_ok());
    }

    #[test]
    fn status_text_parsing() {
        assert_eq!(
            health_from_status("Up 2 minutes (healthy)"),
            Some("healthy")
        );
        assert_eq!(
            health_from_status("Up 2 seconds (health: starting)"),
            Some("starting")
        );
        assert_eq!(health_from_status("Up 2 minutes"), None);
        assert_eq!(
            exit_code_from_status("Exited (137) 2 seconds ago"),
            Some(137)
        );
        assert_eq!(exit_code_from_status("Up"), None);
    }

    #[test]
    fn taken_port_from_engine_messages() {
        let s = spec();
        let config = &desired(&s, &ids())[0].config;
        let msg = "driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:6379 failed: port is already allocated";
        assert_eq!(taken_port(msg, config), Some(6379));
        assert_eq!(taken_port("no such image", config), None);
    }
}
