//! What `up` does to each resource, decided as pure functions of what the engine holds
//! ([`Existing`], the network) and what the spec wants ([`Desired`]): every reason is
//! unit-testable without an engine. Also the checks of a spec that `up` runs first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use bollard::models::{ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum};
use serde::Serialize;

use super::RunError;
use crate::env::{valid_name, EnvSpec, DEV_SERVICE};
use crate::labels::{
    dev_config, diff_reasons, service_config, stored_config, EffectiveConfig, Role,
    LABEL_CONFIG_SHA256, LABEL_SERVICE,
};
use envsync_manifest::manifest::host_ports_clash;

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

/// A container's state as the engine lists it; serialized as the engine names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Stopping,
    /// The engine named no state: shown (and serialized) as an empty string, as the
    /// engine's own listing does.
    #[default]
    #[serde(rename = "")]
    Unknown,
}

impl ContainerState {
    /// The engine's name for the state (`running`, `exited`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Stopping => "stopping",
            ContainerState::Unknown => "",
        }
    }

    fn from_engine(state: Option<ContainerSummaryStateEnum>) -> ContainerState {
        use ContainerSummaryStateEnum as E;
        match state {
            Some(E::CREATED) => ContainerState::Created,
            Some(E::RUNNING) => ContainerState::Running,
            Some(E::PAUSED) => ContainerState::Paused,
            Some(E::RESTARTING) => ContainerState::Restarting,
            Some(E::REMOVING) => ContainerState::Removing,
            Some(E::EXITED) => ContainerState::Exited,
            Some(E::DEAD) => ContainerState::Dead,
            Some(E::STOPPING) => ContainerState::Stopping,
            Some(E::EMPTY) | None => ContainerState::Unknown,
        }
    }
}

impl ContainerState {
    /// The state as a container's inspection names it (the same names as the listing).
    pub(super) fn from_inspect(state: Option<ContainerStateStatusEnum>) -> ContainerState {
        use ContainerStateStatusEnum as E;
        match state {
            Some(E::CREATED) => ContainerState::Created,
            Some(E::RUNNING) => ContainerState::Running,
            Some(E::PAUSED) => ContainerState::Paused,
            Some(E::RESTARTING) => ContainerState::Restarting,
            Some(E::REMOVING) => ContainerState::Removing,
            Some(E::EXITED) => ContainerState::Exited,
            Some(E::DEAD) => ContainerState::Dead,
            Some(E::STOPPING) => ContainerState::Stopping,
            Some(E::EMPTY) | None => ContainerState::Unknown,
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a container's health check last said; serialized as the engine names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Healthy,
    Unhealthy,
    Starting,
}

impl HealthState {
    /// The engine's name for the health (`healthy`, `unhealthy`, `starting`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
            HealthState::Starting => "starting",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container as listed by the engine, reduced to what decisions need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Existing {
    pub id: String,
    pub service: String,
    pub state: ContainerState,
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
    pub(super) fn from_summary(c: &ContainerSummary) -> Option<Existing> {
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
            state: ContainerState::from_engine(c.state),
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
    pub fn health(&self) -> Option<HealthState> {
        health_from_status(&self.status)
    }
}

/// `healthy`, `unhealthy` or `starting` from a status text such as `Up 2 minutes (healthy)`.
pub fn health_from_status(status: &str) -> Option<HealthState> {
    if status.contains("(healthy)") {
        Some(HealthState::Healthy)
    } else if status.contains("(unhealthy)") {
        Some(HealthState::Unhealthy)
    } else if status.contains("(health: starting)") {
        Some(HealthState::Starting)
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
    /// How long the container may take to stop. Not part of `config` (and so of its
    /// hash): it changes nothing about the running container, so changing it must not
    /// recreate one. It reaches the engine as the container's stop timeout, which `down`
    /// (needing no manifest) relies on.
    pub stop_grace: Duration,
}

/// The project network as found: `None` when missing, else its ID.
pub type NetworkState = Option<String>;

/// Decide what to do with each resource: pure, so every reason is unit-testable.
/// `network` is the current network ID (`None`: missing); `existing` are this
/// project's containers, of which those in `leave_alone` (services this `up` does not
/// run) are neither changed nor removed.
pub fn decide(
    network_name: &str,
    network: &NetworkState,
    desired: &[Desired],
    existing: &[Existing],
    leave_alone: &BTreeSet<String>,
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
        .filter(|e| !wanted.contains(e.service.as_str()) && !leave_alone.contains(&e.service))
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
    match have.state {
        ContainerState::Running | ContainerState::Restarting => {
            if have.health() == Some(HealthState::Unhealthy) {
                (Change::Restart, vec!["unhealthy container".into()])
            } else {
                (Change::UpToDate, vec![])
            }
        }
        ContainerState::Exited => match exit_code_from_status(&have.status) {
            Some(137) => (Change::Start, vec!["killed container".into()]),
            Some(code) => (
                Change::Start,
                vec![format!("stopped container (exit code {code})")],
            ),
            None => (Change::Start, vec!["stopped container".into()]),
        },
        ContainerState::Created => (Change::Start, vec!["never-started container".into()]),
        other => (Change::Recreate, vec![format!("{other} container")]),
    }
}

/// The decision about container `service` (not the network, which may share its name).
pub(super) fn action_for<'a>(actions: &'a [Action], service: &str) -> Option<&'a Action> {
    actions
        .iter()
        .find(|a| a.name == service && a.resource != Resource::Network)
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

/// The order `up` starts `desired` in: waves of indices into it, each wave's containers
/// depending only on those of earlier waves (`depends_on` maps a name to what it waits
/// for; names `up` does not run are not waited for). The development container, when
/// `depends_on` names nothing for it, waits for every service that does not itself
/// depend on it, directly or not (as `up` did before `depends_on` existed). A cycle is an
/// error naming it.
pub fn start_waves(
    desired: &[Desired],
    depends_on: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Vec<usize>>, RunError> {
    let index = |name: &str| desired.iter().position(|d| d.service == name);
    let stack: Vec<(&str, Role)> = desired
        .iter()
        .map(|d| (d.service.as_str(), d.role))
        .collect();
    let deps: Vec<Vec<usize>> = desired
        .iter()
        .map(|d| {
            waits_for(&d.service, d.role, &stack, depends_on)
                .iter()
                .filter_map(|n| index(n))
                .collect()
        })
        .collect();
    let mut started = vec![false; desired.len()];
    let mut waves = Vec::new();
    while started.iter().any(|s| !s) {
        let wave: Vec<usize> = (0..desired.len())
            .filter(|i| !started[*i] && deps[*i].iter().all(|d| started[*d]))
            .collect();
        if wave.is_empty() {
            let stuck: Vec<&str> = (0..desired.len())
                .filter(|i| !started[*i])
                .map(|i| desired[i].service.as_str())
                .collect();
            return Err(RunError::InvalidSpec {
                field: "depends_on".into(),
                problem: format!(
                    "{} depend on each other in a cycle; none could start first",
                    stuck.join(", ")
                ),
            });
        }
        for i in &wave {
            started[*i] = true;
        }
        waves.push(wave);
    }
    Ok(waves)
}

/// The names among `stack` (every container as `(service, role)`) that `service` waits
/// for before it starts: what `depends_on` names for it, or, for the development
/// container when it names nothing, every service that does not itself depend on the
/// development container, directly or not.
pub fn waits_for(
    service: &str,
    role: Role,
    stack: &[(&str, Role)],
    depends_on: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    match depends_on.get(service) {
        Some(names) => names.clone(),
        None if role == Role::Dev => stack
            .iter()
            .filter(|(name, role)| {
                *role == Role::Service && !reaches(name, DEV_SERVICE, depends_on)
            })
            .map(|(name, _)| name.to_string())
            .collect(),
        None => Vec::new(),
    }
}

/// Whether following `depends_on` from `from` comes to `to`.
fn reaches(from: &str, to: &str, depends_on: &BTreeMap<String, Vec<String>>) -> bool {
    let mut seen: Vec<&str> = vec![from];
    let mut at = 0;
    while at < seen.len() {
        for next in depends_on.get(seen[at]).into_iter().flatten() {
            if next == to {
                return true;
            }
            if !seen.contains(&next.as_str()) {
                seen.push(next);
            }
        }
        at += 1;
    }
    false
}

pub(super) fn desired(spec: &EnvSpec, image_ids: &HashMap<String, String>) -> Vec<Desired> {
    let id = |image: &str| image_ids.get(image).cloned().unwrap_or_default();
    let mut out: Vec<Desired> = spec
        .services
        .iter()
        .map(|s| Desired {
            service: s.name.clone(),
            role: Role::Service,
            config: service_config(spec, s, &id(&s.image)),
            stop_grace: s.stop_grace,
        })
        .collect();
    if let Some(dev) = &spec.dev {
        out.push(Desired {
            service: DEV_SERVICE.to_string(),
            role: Role::Dev,
            config: dev_config(spec, dev, &id(&dev.image)),
            stop_grace: dev.stop_grace,
        });
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::env::{HealthSpec, PortMap, ServiceSpec};

    const NET: &str = "envsync-shop";

    pub(crate) fn spec() -> EnvSpec {
        EnvSpec {
            stack: Default::default(),
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
                stop_grace: crate::env::DEFAULT_STOP_GRACE,
                restart: crate::env::RestartPolicy::default(),
            }],
            dev: None,
        }
    }

    pub(crate) fn ids() -> HashMap<String, String> {
        HashMap::from([("envsync/redis:7.0".to_string(), "sha256:r1".to_string())])
    }

    /// A container as `up` would have created it from `spec`, in `state` with `status`.
    fn existing(spec: &EnvSpec, state: ContainerState, status: &str) -> Existing {
        let want = &desired(spec, &ids())[0];
        Existing {
            id: "c1".into(),
            service: want.service.clone(),
            state,
            status: status.into(),
            config_sha256: Some(want.config.sha256()),
            config: Some(want.config.clone()),
            networks: BTreeMap::from([(NET.to_string(), "n1".to_string())]),
            ..Default::default()
        }
    }

    fn check(spec: &EnvSpec, network: NetworkState, existing: &[Existing], expected: &[&str]) {
        let actions = decide(
            NET,
            &network,
            &desired(spec, &ids()),
            existing,
            &BTreeSet::new(),
        );
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
            &[existing(
                &s,
                ContainerState::Running,
                "Up 2 minutes (healthy)",
            )],
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
            &[existing(
                &old,
                ContainerState::Running,
                "Up 2 minutes (healthy)",
            )],
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
            &[existing(
                &old,
                ContainerState::Running,
                "Up 2 minutes (healthy)",
            )],
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
                ContainerState::Exited,
                "Exited (137) 3 seconds ago",
                "redis: killed container restarted",
            ),
            (
                ContainerState::Exited,
                "Exited (0) 3 seconds ago",
                "redis: stopped container (exit code 0) restarted",
            ),
            (
                ContainerState::Created,
                "Created",
                "redis: never-started container restarted",
            ),
            (
                ContainerState::Running,
                "Up 1 minute (unhealthy)",
                "redis: unhealthy container restarted",
            ),
            (
                ContainerState::Dead,
                "Dead",
                "redis: recreated: dead container",
            ),
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
            &[existing(
                &s,
                ContainerState::Exited,
                "Exited (0) 1 second ago",
            )],
            &[
                "network envsync-shop: missing, created",
                "redis: recreated: network missing",
            ],
        );
        check(
            &s,
            Some("n2".into()),
            &[existing(
                &s,
                ContainerState::Exited,
                "Exited (0) 1 second ago",
            )],
            &[
                "network envsync-shop: up to date",
                "redis: recreated: network recreated",
            ],
        );
    }

    #[test]
    fn removed_service_is_removed_and_plan_wording() {
        let s = spec();
        let mut extra = existing(&s, ContainerState::Running, "Up");
        extra.service = "memcached".into();
        let actions = decide(
            NET,
            &Some("n1".into()),
            &desired(&s, &ids()),
            &[
                existing(&s, ContainerState::Running, "Up (healthy)"),
                extra.clone(),
            ],
            &BTreeSet::new(),
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
        // A service `up` was not asked to run (`up SERVICE…`, profiles) stays as it is.
        let actions = decide(
            NET,
            &Some("n1".into()),
            &desired(&s, &ids()),
            &[existing(&s, ContainerState::Running, "Up (healthy)"), extra],
            &BTreeSet::from(["memcached".to_string()]),
        );
        assert!(actions.iter().all(|a| a.name != "memcached"), "{actions:?}");
    }

    #[test]
    fn start_waves_follow_depends_on() {
        let want = |name: &str| Desired {
            service: name.into(),
            role: Role::Service,
            config: desired(&spec(), &ids())[0].config.clone(),
            stop_grace: Duration::from_secs(1),
        };
        let wants: Vec<Desired> = ["nginx", "dev", "postgres", "redis"]
            .iter()
            .map(|n| want(n))
            .collect();
        let deps = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect()
        };
        let waves = start_waves(
            &wants,
            &deps(&[
                ("nginx", &["dev"]),
                ("dev", &["postgres", "redis", "not-started"]),
            ]),
        )
        .unwrap();
        assert_eq!(waves, [vec![2, 3], vec![1], vec![0]]);
        // Without a `depends_on` of its own, the development container waits for every
        // service but those that wait for it.
        let mut with_dev = wants.clone();
        with_dev[1].role = Role::Dev;
        let waves = start_waves(&with_dev, &deps(&[("nginx", &["dev"])])).unwrap();
        assert_eq!(waves, [vec![2, 3], vec![1], vec![0]]);
        let waves = start_waves(&with_dev, &deps(&[])).unwrap();
        assert_eq!(waves, [vec![0, 2, 3], vec![1]]);
        let err = start_waves(&wants, &deps(&[("nginx", &["dev"]), ("dev", &["nginx"])]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nginx, dev depend on each other in a cycle"),
            "{err}"
        );
    }

    #[test]
    fn unlabelled_config_is_recreated() {
        let s = spec();
        let mut e = existing(&s, ContainerState::Running, "Up");
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
            Some(HealthState::Healthy)
        );
        assert_eq!(
            health_from_status("Up 2 seconds (health: starting)"),
            Some(HealthState::Starting)
        );
        assert_eq!(health_from_status("Up 2 minutes"), None);
        assert_eq!(
            exit_code_from_status("Exited (137) 2 seconds ago"),
            Some(137)
        );
        assert_eq!(exit_code_from_status("Up"), None);
    }

    /// The JSON of `status` names states as the engine does; typed states keep it so.
    #[test]
    fn states_serialize_as_the_engine_names_them() {
        use ContainerState as S;
        for state in [
            S::Created,
            S::Running,
            S::Paused,
            S::Restarting,
            S::Removing,
            S::Exited,
            S::Dead,
            S::Stopping,
            S::Unknown,
        ] {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
            let engine: ContainerSummaryStateEnum = serde_json::from_str(&json).unwrap();
            assert_eq!(ContainerState::from_engine(Some(engine)), state);
        }
        for health in [
            HealthState::Healthy,
            HealthState::Unhealthy,
            HealthState::Starting,
        ] {
            let json = serde_json::to_string(&health).unwrap();
            assert_eq!(json, format!("\"{health}\""));
        }
    }
}
