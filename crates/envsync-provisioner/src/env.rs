//! What `envsync up` is asked to run: the project's services and its development
//! container, as plain data, plus the names every resource gets on the engine.
//!
//! These types are the provisioner's own input. The CLI maps the manifest onto them,
//! so the runtime does not depend on the manifest's exact shape; a port and a volume
//! are mapped by their `From` impls here, the one place where the manifest's typed
//! values (host address, read-only) become the engine's.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use envsync_manifest::manifest::MountKind;
use serde::{Deserialize, Serialize};

/// The service name reserved for the development container.
pub const DEV_SERVICE: &str = "dev";

/// One project's environment: middleware services on a project network and an
/// optional development container with the project directory mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSpec {
    /// The project name; every resource name and label derives from it.
    pub project: String,
    /// The directory mounted into the development container (and against which
    /// relative bind-mount sources are resolved).
    pub project_dir: PathBuf,
    pub services: Vec<ServiceSpec>,
    pub dev: Option<DevSpec>,
    /// The order containers start in, and the project's containers this `up` leaves alone.
    pub stack: Stack,
}

/// How the containers of an [`EnvSpec`] form a stack (compose's `depends_on` with
/// `condition: service_healthy`, and `up SERVICE…`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stack {
    /// Service name (or [`DEV_SERVICE`]) → the containers that must be ready (healthy,
    /// or running without a health check) before it is started.
    pub depends_on: BTreeMap<String, Vec<String>>,
    /// Containers of the project this `up` neither starts nor removes: services of the
    /// manifest left out by `up SERVICE…` or by their profiles.
    pub leave_alone: BTreeSet<String>,
}

/// A middleware service container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The service name: network alias, `io.envsync.service` label, container name suffix.
    pub name: String,
    /// An image already present in the engine (built from the Debian base).
    pub image: String,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortMap>,
    pub healthcheck: Option<HealthSpec>,
    pub volumes: Vec<VolumeMap>,
    /// Overrides the image's command when set.
    pub command: Option<Vec<String>>,
    /// How long the service may take to stop after SIGTERM before it is killed.
    pub stop_grace: Duration,
    /// What the engine does when the service's process ends.
    pub restart: RestartPolicy,
}

/// The development container: the project directory mounted, running as the
/// invoking user so that files it writes stay owned by the developer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevSpec {
    pub image: String,
    /// Where the project directory appears inside the container (also the working directory).
    pub mount_project_at: String,
    /// The user to run as; `None` keeps the image's user.
    pub user: Option<DevUser>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortMap>,
    /// The command that keeps the container alive; `sleep infinity` when `None`.
    pub command: Option<Vec<String>>,
    /// How long the container may take to stop after SIGTERM before it is killed.
    pub stop_grace: Duration,
    /// What the engine does when the container's command ends.
    pub restart: RestartPolicy,
    /// The working directory; `mount_project_at` when `None`.
    pub workdir: Option<String>,
    /// Names the container has on the project network besides `dev`.
    pub aliases: Vec<String>,
    /// Shell commands run once, in order, after each creation of the container.
    pub post_create: Vec<String>,
    /// How the container reports readiness to the services that depend on it; without
    /// one it is ready once running.
    pub healthcheck: Option<HealthSpec>,
}

/// The user the development container runs as: the developer's name, UID and GID, so
/// that files it writes into the project stay the developer's. A user other than root is
/// written into the container's `/etc/passwd` and `/etc/group`, with a home directory,
/// when the container is created (never into the image, which developers share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl DevUser {
    /// Root: nothing to add to the container.
    pub fn root() -> DevUser {
        DevUser {
            name: "root".into(),
            uid: 0,
            gid: 0,
        }
    }
}

/// How long a container may take to stop after SIGTERM before the engine kills it, unless
/// its spec says otherwise: compose's default, long enough for PostgreSQL to checkpoint and
/// Redis to save its dataset.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

/// What the engine does when a container's main process ends, in compose's terms.
/// `down` stops containers through the engine, so none of these restarts a container
/// that `down` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restarted.
    No,
    /// Restarted whenever it ends, and when the engine starts.
    Always,
    /// Restarted when it ends with a non-zero exit code.
    OnFailure,
    /// Restarted whenever it ends, and when the engine starts unless it had been
    /// stopped by hand: a middleware service survives its own crash and a reboot.
    #[default]
    UnlessStopped,
}

impl RestartPolicy {
    /// The engine's (and compose's) name: `no`, `always`, `on-failure`, `unless-stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::UnlessStopped => "unless-stopped",
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host port published to a container port (TCP), on `host_ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortMap {
    pub host: u16,
    pub container: u16,
    /// The host address the port is bound on (the manifest's default is loopback).
    pub host_ip: IpAddr,
}

/// A container health check, in Docker's terms: `test` starts with `CMD` (exec form)
/// or `CMD-SHELL` (run by `/bin/sh -c`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSpec {
    pub test: Vec<String>,
    #[serde(with = "millis")]
    pub interval: Duration,
    #[serde(with = "millis")]
    pub timeout: Duration,
    pub retries: u32,
    #[serde(with = "millis")]
    pub start_period: Duration,
}

impl HealthSpec {
    /// A check run by the shell, probing every `interval` (Docker's first probe runs one
    /// interval after start, so a short interval is what makes `up` fast), giving up after
    /// `retries` consecutive failures once `start_period` has passed.
    pub fn shell(script: &str) -> HealthSpec {
        HealthSpec {
            test: vec!["CMD-SHELL".to_string(), script.to_string()],
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
            retries: 20,
            start_period: Duration::from_secs(30),
        }
    }

    /// The longest a healthy-to-be container can take before Docker itself declares it
    /// unhealthy: the start period plus every retry at its worst, with some slack.
    pub fn deadline(&self) -> Duration {
        let per_probe = self.interval + self.timeout;
        self.start_period + per_probe * (self.retries + 1) + Duration::from_secs(10)
    }
}

/// A volume: `source` is a named volume (created per project, labelled) or, when it
/// starts with `/` or `.`, a host path (relative paths resolve against the project directory).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VolumeMap {
    pub source: String,
    pub container_path: String,
    /// Mounted read-only.
    pub read_only: bool,
}

impl VolumeMap {
    /// Whether `source` names a host path rather than a named volume.
    pub fn is_bind(&self) -> bool {
        self.kind() == MountKind::Bind
    }

    /// A host path (bind mount) or a named volume.
    pub fn kind(&self) -> MountKind {
        if self.source.starts_with('/') || self.source.starts_with('.') {
            MountKind::Bind
        } else {
            MountKind::Volume
        }
    }
}

impl From<&envsync_manifest::manifest::PortMapping> for PortMap {
    /// The manifest's port as the engine publishes it: on the address it names, or on
    /// the manifest's default (loopback).
    fn from(p: &envsync_manifest::manifest::PortMapping) -> PortMap {
        PortMap {
            host: p.host,
            container: p.container,
            host_ip: p.effective_host_ip(),
        }
    }
}

impl From<envsync_manifest::manifest::Restart> for RestartPolicy {
    fn from(r: envsync_manifest::manifest::Restart) -> RestartPolicy {
        use envsync_manifest::manifest::Restart;
        match r {
            Restart::No => RestartPolicy::No,
            Restart::Always => RestartPolicy::Always,
            Restart::OnFailure => RestartPolicy::OnFailure,
            Restart::UnlessStopped => RestartPolicy::UnlessStopped,
        }
    }
}

impl From<&envsync_manifest::manifest::VolumeMount> for VolumeMap {
    fn from(v: &envsync_manifest::manifest::VolumeMount) -> VolumeMap {
        VolumeMap {
            source: v.source.clone(),
            container_path: v.target.clone(),
            read_only: v.read_only,
        }
    }
}

/// The project network: `envsync-<project>`.
pub fn network_name(project: &str) -> String {
    format!("envsync-{project}")
}

/// A service's (or, for [`DEV_SERVICE`], the development container's) container name:
/// `envsync-<project>-<service>`.
pub fn container_name(project: &str, service: &str) -> String {
    format!("envsync-{project}-{service}")
}

/// A named volume's engine name: `envsync-<project>-<volume>`, so projects never share data.
pub fn volume_name(project: &str, volume: &str) -> String {
    format!("envsync-{project}-{volume}")
}

/// The engine-side source of a volume: the project-scoped volume name, or the host
/// path made absolute against `project_dir`.
pub fn volume_source(project: &str, project_dir: &Path, volume: &VolumeMap) -> String {
    if volume.is_bind() {
        let path = Path::new(&volume.source);
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            project_dir.join(path)
        };
        normalize(&joined)
    } else {
        volume_name(project, &volume.source)
    }
}

/// `a/./b/../c` → `a/c`, lexically (the path need not exist yet).
fn normalize(path: &Path) -> String {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Whether `name` can be used inside container, network and volume names
/// (Docker allows `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The serde form of durations in stored configuration: whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_project_scoped() {
        assert_eq!(network_name("shop"), "envsync-shop");
        assert_eq!(container_name("shop", "redis"), "envsync-shop-redis");
        assert_eq!(volume_name("shop", "pgdata"), "envsync-shop-pgdata");
    }

    #[test]
    fn volume_sources() {
        fn check(source: &str, expected: &str) {
            let v = VolumeMap {
                source: source.to_string(),
                container_path: "/data".to_string(),
                read_only: false,
            };
            assert_eq!(volume_source("shop", Path::new("/src/shop"), &v), expected);
        }
        check("pgdata", "envsync-shop-pgdata");
        check("./config", "/src/shop/config");
        check("../shared/x", "/src/shared/x");
        check("/var/lib/x", "/var/lib/x");
    }

    #[test]
    fn name_validity() {
        fn check(name: &str, expected: bool) {
            assert_eq!(valid_name(name), expected, "{name}");
        }
        check("redis", true);
        check("benefits-api_2.x", true);
        check("", false);
        check("-x", false);
        check("a b", false);
        check("a/b", false);
    }

    #[test]
    fn deadline_covers_every_retry() {
        let h = HealthSpec {
            test: vec!["CMD".into(), "true".into()],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            retries: 3,
            start_period: Duration::from_secs(5),
        };
        assert_eq!(h.deadline(), Duration::from_secs(5 + 3 * 4 + 10));
    }
}
