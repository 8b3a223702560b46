//! The labels envsync puts on what it runs, and the effective configuration each
//! container is created from: its canonical form, its sha256 and the field-by-field
//! diff that tells a user why `up` recreates a container.
//!
//! State lives only in these labels (no local state file), so any `up` can finish what
//! an interrupted one started, and `down` removes exactly this project's resources.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use envsync_manifest::manifest::MountKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::env::{
    network_name, volume_source, DevSpec, EnvSpec, HealthSpec, PortMap, RestartPolicy, ServiceSpec,
    DEV_SERVICE,
};

pub use envsync_engine::LABEL_MANAGED;
/// The project a resource belongs to.
pub const LABEL_PROJECT: &str = "io.envsync.project";
/// The service a container runs (`dev` for the development container).
pub const LABEL_SERVICE: &str = "io.envsync.service";
/// `service` or `dev`.
pub const LABEL_ROLE: &str = "io.envsync.role";
/// sha256 of [`LABEL_CONFIG`]'s value: equal hashes mean nothing to do.
pub const LABEL_CONFIG_SHA256: &str = "io.envsync.config-sha256";
/// The effective configuration, as canonical JSON, kept to explain what changed.
pub const LABEL_CONFIG: &str = "io.envsync.config";
/// The services this container waited for when it started, comma-separated: `down`
/// stops it before them. Not part of the configuration (a changed order alone does not
/// recreate a container).
pub const LABEL_DEPENDS_ON: &str = "io.envsync.depends-on";

/// Bumped when [`EffectiveConfig`]'s meaning changes, so old containers are recreated
/// with a reason saying so rather than diffed field by field.
pub const CONFIG_FORMAT: u32 = 2;

/// Whether a container is a middleware service or the development container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Service,
    Dev,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Dev => "dev",
        }
    }
}

/// A mount as the engine sees it: a project-scoped named volume or an absolute host path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mount {
    pub kind: MountKind,
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// Everything a container is created from. Two containers with equal configurations
/// are interchangeable; any difference is a reason to recreate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveConfig {
    pub format: u32,
    /// The image reference asked for.
    pub image: String,
    /// The image ID the reference resolved to when the container was created.
    pub image_id: String,
    /// Variable name → sha256 of its value: values may be secrets and labels are
    /// readable by anyone with engine access.
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortMap>,
    pub mounts: Vec<Mount>,
    pub command: Option<Vec<String>>,
    pub healthcheck: Option<HealthSpec>,
    pub network: String,
    pub aliases: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub init: bool,
    /// A container stored without this field was created without a policy, which the
    /// engine treats as `no`: so it reads as `no`, and `up` recreates it saying so.
    /// The stop grace period is deliberately not here: it changes nothing about the
    /// running container, only how long `down` waits for it, so a changed grace must
    /// not cost a restart of a database (see `Desired::stop_grace`).
    #[serde(default = "created_without_policy")]
    pub restart: RestartPolicy,
    /// The development container's `post_create` commands, run after it is created: a
    /// change recreates it so they run again. Left out of the JSON when empty, so
    /// containers created before the field existed keep their hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_create: Vec<String>,
    /// The name of the development container's user (not root), written with its home
    /// into the container's `/etc/passwd` when it is created. Left out when `None`, so a
    /// root container keeps its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Supplementary groups of the container's processes ([`LANGUAGE_GROUP`] for a user
    /// other than root).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The group that owns, group-writable, the virtualenvs and Node projects envsync
/// builds, and that a development container's user other than root belongs to: Debian's
/// `staff` (GID 50), the group its policy gives to `/usr/local` for the same purpose
/// (installing software without root). A group rather than an owner, so the shared image
/// names no developer's UID.
pub const LANGUAGE_GROUP: &str = "staff";

fn created_without_policy() -> RestartPolicy {
    RestartPolicy::No
}

impl EffectiveConfig {
    /// The canonical JSON stored in [`LABEL_CONFIG`] (field order fixed by the struct,
    /// maps and lists sorted).
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and sorted maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// sha256 over [`EffectiveConfig::to_json`], lower-case hex.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.to_json().as_bytes()))
    }

    /// The labels a container created from this configuration carries.
    pub fn labels(&self, project: &str, service: &str, role: Role) -> HashMap<String, String> {
        let json = self.to_json();
        HashMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_PROJECT.to_string(), project.to_string()),
            (LABEL_SERVICE.to_string(), service.to_string()),
            (LABEL_ROLE.to_string(), role.as_str().to_string()),
            (
                LABEL_CONFIG_SHA256.to_string(),
                hex::encode(Sha256::digest(json.as_bytes())),
            ),
            (LABEL_CONFIG.to_string(), json),
        ])
    }
}

/// The labels of a project-level resource (network, named volume).
pub fn project_labels(project: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_PROJECT.to_string(), project.to_string()),
    ])
}

/// The engine's `label` filter values that select this project's networks and volumes.
pub fn project_filter(project: &str) -> Vec<String> {
    vec![
        format!("{LABEL_MANAGED}=true"),
        format!("{LABEL_PROJECT}={project}"),
    ]
}

/// The `label` filter values that select the containers `up` created for this project.
/// Project images carry the project label too, and a container anyone starts from such
/// an image inherits it; only `up` sets the role label, so only its containers match.
pub fn project_container_filter(project: &str) -> Vec<String> {
    let mut filter = project_filter(project);
    filter.push(LABEL_ROLE.to_string());
    filter
}

fn hash_value(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort();
    v
}

/// The effective configuration of a service container, given the ID its image resolves to.
pub fn service_config(spec: &EnvSpec, service: &ServiceSpec, image_id: &str) -> EffectiveConfig {
    EffectiveConfig {
        format: CONFIG_FORMAT,
        image: service.image.clone(),
        image_id: image_id.to_string(),
        env: service
            .env
            .iter()
            .map(|(k, v)| (k.clone(), hash_value(v)))
            .collect(),
        ports: sorted(&service.ports),
        mounts: sorted(
            &service
                .volumes
                .iter()
                .map(|v| Mount {
                    kind: v.kind(),
                    source: volume_source(&spec.project, &spec.project_dir, v),
                    target: v.container_path.clone(),
                    read_only: v.read_only,
                })
                .collect::<Vec<_>>(),
        ),
        command: service.command.clone(),
        healthcheck: service.healthcheck.clone(),
        network: network_name(&spec.project),
        aliases: vec![service.name.clone()],
        user: None,
        working_dir: None,
        init: false,
        restart: service.restart,
        post_create: Vec::new(),
        user_name: None,
        groups: Vec::new(),
    }
}

/// The command that keeps a development container running when none is given.
pub fn default_dev_command() -> Vec<String> {
    vec!["sleep".to_string(), "infinity".to_string()]
}

/// The effective configuration of the development container.
pub fn dev_config(spec: &EnvSpec, dev: &DevSpec, image_id: &str) -> EffectiveConfig {
    let non_root = dev.user.as_ref().filter(|u| u.uid != 0);
    EffectiveConfig {
        format: CONFIG_FORMAT,
        image: dev.image.clone(),
        image_id: image_id.to_string(),
        env: dev
            .env
            .iter()
            .map(|(k, v)| (k.clone(), hash_value(v)))
            .collect(),
        ports: sorted(&dev.ports),
        mounts: vec![Mount {
            kind: MountKind::Bind,
            source: spec.project_dir.to_string_lossy().into_owned(),
            target: dev.mount_project_at.clone(),
            read_only: false,
        }],
        command: Some(dev.command.clone().unwrap_or_else(default_dev_command)),
        healthcheck: dev.healthcheck.clone(),
        network: network_name(&spec.project),
        aliases: std::iter::once(DEV_SERVICE.to_string())
            .chain(dev.aliases.iter().cloned())
            .collect(),
        user: dev.user.as_ref().map(|u| format!("{}:{}", u.uid, u.gid)),
        working_dir: Some(
            dev.workdir
                .clone()
                .unwrap_or_else(|| dev.mount_project_at.clone()),
        ),
        // An init process forwards signals and reaps the zombies that shells and test
        // runners leave behind in a long-lived container.
        init: true,
        restart: dev.restart,
        post_create: dev.post_create.clone(),
        user_name: non_root.map(|u| u.name.clone()),
        groups: non_root
            .map(|_| vec![LANGUAGE_GROUP.to_string()])
            .unwrap_or_default(),
    }
}

/// Why a container created from `old` must be recreated to match `new`: one reason per
/// differing field, in a stable order, worded for a person (`env REDIS_URL changed`).
/// Empty when they are equal.
pub fn diff_reasons(old: &EffectiveConfig, new: &EffectiveConfig) -> Vec<String> {
    let mut reasons = Vec::new();
    if old.format != new.format {
        reasons.push(format!(
            "configuration format {} replaced by {}",
            old.format, new.format
        ));
        return reasons;
    }
    if old.image != new.image {
        reasons.push(format!("image `{}` replaced by `{}`", old.image, new.image));
    } else if old.image_id != new.image_id {
        reasons.push("image changed".to_string());
    }
    keyed_reasons(
        "env",
        &old.env.iter().map(|(k, v)| (k.clone(), v)).collect(),
        &new.env.iter().map(|(k, v)| (k.clone(), v)).collect(),
        &mut reasons,
    );
    keyed_reasons(
        "port",
        &old.ports
            .iter()
            .map(|p| (p.container.to_string(), p))
            .collect(),
        &new.ports
            .iter()
            .map(|p| (p.container.to_string(), p))
            .collect(),
        &mut reasons,
    );
    keyed_reasons(
        "volume",
        &old.mounts.iter().map(|m| (m.target.clone(), m)).collect(),
        &new.mounts.iter().map(|m| (m.target.clone(), m)).collect(),
        &mut reasons,
    );
    let mut field = |name: &str, differs: bool| {
        if differs {
            reasons.push(format!("{name} changed"));
        }
    };
    field("command", old.command != new.command);
    field("healthcheck", old.healthcheck != new.healthcheck);
    field("network", old.network != new.network);
    field("network aliases", old.aliases != new.aliases);
    field(
        "user",
        old.user != new.user || old.user_name != new.user_name,
    );
    field("supplementary groups", old.groups != new.groups);
    field("working directory", old.working_dir != new.working_dir);
    field("init", old.init != new.init);
    field("post_create commands", old.post_create != new.post_create);
    if old.restart != new.restart {
        reasons.push(format!(
            "restart policy `{}` replaced by `{}`",
            old.restart, new.restart
        ));
    }
    reasons
}

/// `{what} KEY added/removed/changed` for every key whose value differs.
fn keyed_reasons<V: PartialEq>(
    what: &str,
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (Some(a), Some(b)) if a != b => out.push(format!("{what} {key} changed")),
            (None, Some(_)) => out.push(format!("{what} {key} added")),
            (Some(_), None) => out.push(format!("{what} {key} removed")),
            _ => {}
        }
    }
}

/// The stored configuration of a container, from its labels; `None` when the labels
/// are missing or unreadable (the container is then recreated).
pub fn stored_config(labels: &HashMap<String, String>) -> Option<EffectiveConfig> {
    serde_json::from_str(labels.get(LABEL_CONFIG)?).ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::env::VolumeMap;

    fn spec() -> EnvSpec {
        EnvSpec {
            stack: Default::default(),
            project: "shop".to_string(),
            project_dir: PathBuf::from("/src/shop"),
            services: vec![redis()],
            dev: None,
        }
    }

    fn redis() -> ServiceSpec {
        ServiceSpec {
            name: "redis".to_string(),
            image: "envsync/redis:7.0".to_string(),
            env: BTreeMap::from([("REDIS_URL".to_string(), "redis://redis".to_string())]),
            ports: vec![PortMap {
                host: 6379,
                container: 6379,
                host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
            }],
            healthcheck: Some(HealthSpec::shell("redis-cli ping")),
            volumes: vec![VolumeMap {
                source: "data".to_string(),
                container_path: "/data".to_string(),
                read_only: false,
            }],
            command: None,
            stop_grace: crate::env::DEFAULT_STOP_GRACE,
            restart: RestartPolicy::default(),
        }
    }

    fn check(change: impl FnOnce(&mut ServiceSpec), image_id: &str, expected: &[&str]) {
        let spec = spec();
        let old = service_config(&spec, &redis(), "sha256:a");
        let mut changed = redis();
        change(&mut changed);
        let new = service_config(&spec, &changed, image_id);
        assert_eq!(diff_reasons(&old, &new), expected);
        assert_eq!(old.sha256() == new.sha256(), expected.is_empty());
    }

    #[test]
    fn unchanged_has_no_reason_and_equal_hash() {
        check(|_| {}, "sha256:a", &[]);
    }

    #[test]
    fn each_field_gives_its_reason() {
        check(|_| {}, "sha256:b", &["image changed"]);
        check(
            |s| s.image = "envsync/redis:7.2".to_string(),
            "sha256:b",
            &["image `envsync/redis:7.0` replaced by `envsync/redis:7.2`"],
        );
        check(
            |s| {
                s.env.insert("REDIS_URL".into(), "redis://other".into());
            },
            "sha256:a",
            &["env REDIS_URL changed"],
        );
        check(
            |s| {
                s.env.insert("A".into(), "1".into());
                s.env.remove("REDIS_URL");
            },
            "sha256:a",
            &["env A added", "env REDIS_URL removed"],
        );
        check(
            |s| s.ports[0].host = 16379,
            "sha256:a",
            &["port 6379 changed"],
        );
        check(
            |s| s.ports[0].host_ip = [127, 0, 0, 2].into(),
            "sha256:a",
            &["port 6379 changed"],
        );
        check(
            |s| s.volumes[0].source = "./data".into(),
            "sha256:a",
            &["volume /data changed"],
        );
        check(
            |s| s.volumes[0].read_only = true,
            "sha256:a",
            &["volume /data changed"],
        );
        check(
            |s| s.command = Some(vec!["redis-server".into()]),
            "sha256:a",
            &["command changed"],
        );
        check(
            |s| {
                if let Some(h) = s.healthcheck.as_mut() {
                    h.interval = Duration::from_secs(2);
                }
            },
            "sha256:a",
            &["healthcheck changed"],
        );
        check(
            |s| s.restart = RestartPolicy::Always,
            "sha256:a",
            &["restart policy `unless-stopped` replaced by `always`"],
        );
    }

    /// The grace period only matters when the container is stopped: changing it must
    /// not recreate (and so restart) a running service.
    #[test]
    fn stop_grace_is_not_a_reason_to_recreate() {
        check(|s| s.stop_grace = Duration::from_secs(60), "sha256:a", &[]);
    }

    /// A container created before restart policies were set has none (`no` to the
    /// engine): its stored configuration reads so, and `up` recreates it saying why.
    #[test]
    fn configuration_stored_without_a_policy_reads_as_no() {
        let new = service_config(&spec(), &redis(), "sha256:a");
        let mut json: serde_json::Value = serde_json::from_str(&new.to_json()).unwrap();
        json.as_object_mut().unwrap().remove("restart");
        let labels = HashMap::from([(LABEL_CONFIG.to_string(), json.to_string())]);
        let old = stored_config(&labels).expect("an old configuration still reads");
        assert_eq!(old.restart, RestartPolicy::No);
        assert_eq!(
            diff_reasons(&old, &new),
            ["restart policy `no` replaced by `unless-stopped`"]
        );
        assert!(new
            .to_json()
            .ends_with(r#""init":false,"restart":"unless-stopped"}"#));
    }

    #[test]
    fn several_changes_are_all_named() {
        check(
            |s| {
                s.env.insert("REDIS_URL".into(), "x".into());
                s.ports.clear();
            },
            "sha256:b",
            &[
                "image changed",
                "env REDIS_URL changed",
                "port 6379 removed",
            ],
        );
    }

    #[test]
    fn env_values_are_not_stored() {
        let config = service_config(&spec(), &redis(), "sha256:a");
        assert!(!config.to_json().contains("redis://redis"));
    }

    #[test]
    fn hash_is_stable_and_order_independent() {
        let mut a = redis();
        a.ports.push(PortMap {
            host: 1,
            container: 2,
            host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
        });
        let mut b = a.clone();
        b.ports.reverse();
        let spec = spec();
        assert_eq!(
            service_config(&spec, &a, "i").sha256(),
            service_config(&spec, &b, "i").sha256()
        );
        // The hash is sha256 over the stored JSON, so anyone can recompute it.
        let config = service_config(&spec, &a, "i");
        let labels = config.labels("shop", "redis", Role::Service);
        assert_eq!(
            labels[LABEL_CONFIG_SHA256],
            hex::encode(Sha256::digest(labels[LABEL_CONFIG].as_bytes()))
        );
        assert_eq!(stored_config(&labels), Some(config));
    }

    /// Mount kinds are stored in the configuration label by name, and sort as their
    /// names do, so the stored configuration (format 2) and its hash are stable.
    #[test]
    fn mount_kinds_store_by_name() {
        let config = service_config(&spec(), &redis(), "i");
        assert!(
            config.to_json().contains(
                r#""mounts":[{"kind":"volume","source":"envsync-shop-data","target":"/data","read_only":false}]"#
            ),
            "{}",
            config.to_json()
        );
        assert!(MountKind::Bind < MountKind::Volume);
    }
}
