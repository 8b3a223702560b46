//! Carrying out decisions on the engine: the project network, named volumes,
//! creating, starting and removing containers, and the host-port checks that run
//! before anything is changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount as EngineMount,
    MountType, NetworkCreateRequest, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;

use super::decide::{action_for, waits_for, Action, Change, Desired, Existing};
use super::user::add_user;
use super::{Progress, RunError};
use crate::env::{container_name, EnvSpec, RestartPolicy as Restart, DEV_SERVICE};
use crate::labels::{project_labels, EffectiveConfig, Role, LABEL_DEPENDS_ON};
use crate::run_error::{engine_error, status_code};
use envsync_manifest::manifest::MountKind;

/// Carry out one container's action.
pub(super) async fn apply(
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
                // The new spec's grace: the user's current intent for stopping it.
                stop_and_remove(docker, &have.id, Some(want.stop_grace)).await?;
            }
            ensure_volumes(docker, &spec.project, &want.config).await?;
            create_container(docker, spec, want, &name).await?;
            if let (Some(user), Some(ids)) = (&want.config.user_name, &want.config.user) {
                // Before it starts, so its first process already has a name and a home.
                add_user(docker, &name, user, ids).await?;
            }
            start_container(docker, &want.service, &name, &want.config).await
        }
        Change::Start => {
            progress(&format!("{}: starting", want.service));
            start_container(docker, &want.service, &name, &want.config).await
        }
        Change::Restart => {
            progress(&format!("{}: restarting", want.service));
            let options = RestartContainerOptionsBuilder::default()
                .t(grace_secs(want.stop_grace))
                .build();
            docker
                .restart_container(&name, Some(options))
                .await
                .map_err(|e| engine_error("restarting container", &name, e))
        }
    }
}

pub(super) async fn create_network(
    docker: &Docker,
    project: &str,
    network: &str,
) -> Result<(), RunError> {
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

/// The labels of `want`'s container: its configuration's, and what it waits for in the
/// whole stack (so `down` can stop it first).
fn labels(spec: &EnvSpec, want: &Desired) -> HashMap<String, String> {
    let mut labels = want.config.labels(&spec.project, &want.service, want.role);
    let mut stack: Vec<(&str, Role)> = spec
        .services
        .iter()
        .map(|s| (s.name.as_str(), Role::Service))
        .collect();
    if spec.dev.is_some() {
        stack.push((DEV_SERVICE, Role::Dev));
    }
    let waits = waits_for(&want.service, want.role, &stack, &spec.stack.depends_on);
    labels.insert(LABEL_DEPENDS_ON.to_string(), waits.join(","));
    labels
}

/// The engine's container configuration for an effective configuration. The engine's
/// container must match `config` exactly: everything here comes from it.
// Over 80 lines on purpose: one field of `config` after another, each mapped to the
// engine's field in one place, so a reviewer checks the mapping top to bottom.
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
        labels: Some(labels(spec, want)),
        stop_timeout: Some(i64::from(grace_secs(want.stop_grace))),
        host_config: Some(HostConfig {
            restart_policy: Some(RestartPolicy {
                name: Some(restart_name(config.restart)),
                maximum_retry_count: None,
            }),
            port_bindings: Some(port_bindings),
            mounts: Some(mounts),
            network_mode: Some(config.network.clone()),
            init: config.init.then_some(true),
            group_add: (!config.groups.is_empty()).then(|| config.groups.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(config.network.clone(), endpoint)])),
        }),
        ..Default::default()
    }
}

static EMPTY_ENV: BTreeMap<String, String> = BTreeMap::new();

fn restart_name(policy: Restart) -> RestartPolicyNameEnum {
    match policy {
        Restart::No => RestartPolicyNameEnum::NO,
        Restart::Always => RestartPolicyNameEnum::ALWAYS,
        Restart::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
        Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
    }
}

/// A grace period in the engine's whole seconds, rounded up so that a grace of 1.5 s
/// waits at least that long.
fn grace_secs(grace: Duration) -> i32 {
    let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

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

/// Stop container `id` as `docker stop` does (SIGTERM, then SIGKILL once `grace` has
/// passed; `None` is the grace the container was created with), then remove it with its
/// anonymous volumes. Stopping first is what lets PostgreSQL shut down cleanly and Redis
/// save its dataset; a container already stopped or gone is fine.
pub(super) async fn stop_and_remove(
    docker: &Docker,
    id: &str,
    grace: Option<Duration>,
) -> Result<(), RunError> {
    let mut options = StopContainerOptionsBuilder::default();
    if let Some(grace) = grace {
        options = options.t(grace_secs(grace));
    }
    match docker.stop_container(id, Some(options.build())).await {
        Ok(()) => {}
        // 304: not running; 404: gone already.
        Err(err) if matches!(status_code(&err), Some(304 | 404)) => {}
        Err(err) => return Err(engine_error("stopping container", id, err)),
    }
    // Forced only in case something started it again in between: it is stopped now.
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

/// Fail with [`RunError::PortTaken`] when a host port that a container `up` changes
/// wants is held by something other than this project's own containers. Only asked of
/// an engine on this machine, where binding a port here tells whether it can publish it.
pub(super) async fn check_ports(
    docker: &Docker,
    existing: &[Existing],
    wants: &[Desired],
    actions: &[Action],
) -> Result<(), RunError> {
    if !is_local_engine() {
        return Ok(());
    }
    let ours: BTreeSet<u16> = existing
        .iter()
        .flat_map(|e| e.host_ports.iter().copied())
        .collect();
    for want in wants {
        if action_for(actions, &want.service).is_some_and(Action::is_change) {
            for port in &want.config.ports {
                if !ours.contains(&port.host) {
                    check_port_free(docker, &want.service, port.host_ip, port.host).await?;
                }
            }
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::decide::desired;
    use crate::run::decide::tests::{ids, spec};

    #[test]
    fn taken_port_from_engine_messages() {
        let s = spec();
        let config = &desired(&s, &ids())[0].config;
        let msg = "driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:6379 failed: port is already allocated";
        assert_eq!(taken_port(msg, config), Some(6379));
        assert_eq!(taken_port("no such image", config), None);
    }

    #[test]
    fn grace_rounds_up_to_whole_seconds() {
        fn check(millis: u64, expected: i32) {
            assert_eq!(grace_secs(Duration::from_millis(millis)), expected);
        }
        check(0, 0);
        check(10_000, 10);
        check(1_500, 2);
        check(1, 1);
    }

    /// The grace and the restart policy reach the engine's container configuration.
    #[test]
    fn body_carries_stop_timeout_and_restart_policy() {
        let mut s = spec();
        s.services[0].stop_grace = Duration::from_secs(25);
        s.services[0].restart = Restart::OnFailure;
        let body = container_body(&s, &desired(&s, &ids())[0]);
        assert_eq!(body.stop_timeout, Some(25));
        let policy = body.host_config.and_then(|h| h.restart_policy);
        assert_eq!(
            policy.and_then(|p| p.name),
            Some(RestartPolicyNameEnum::ON_FAILURE)
        );
    }
}
