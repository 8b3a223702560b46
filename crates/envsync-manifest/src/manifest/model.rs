//! The manifest's sections as data: what a parsed, valid manifest holds.

use std::time::Duration;

use super::{PortMapping, VolumeMount};
use crate::middleware::ServiceKind;

/// `[project]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Project {
    pub name: String,
    pub description: Option<String>,
}

/// `[base]`: the image the environment is built on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Base {
    pub image: String,
    /// `sha256:<64 hex>`, when the manifest pins the image content itself.
    pub digest: Option<String>,
}

/// One declared package or runtime: a name and a version constraint in its ecosystem's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub constraint: String,
    pub line: usize,
    pub column: usize,
}

/// `[python]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Python {
    /// The interpreter version constraint (same as `[runtimes] python`).
    pub version: Option<Requirement>,
    /// Packages installed for the system interpreter.
    pub packages: Vec<Requirement>,
    /// Virtual environments, by directory inside the environment.
    pub venvs: Vec<PackageSet>,
}

/// `[node]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub version: Option<Requirement>,
    /// Globally installed packages.
    pub packages: Vec<Requirement>,
    /// Project directories with their own `node_modules`.
    pub projects: Vec<PackageSet>,
}

/// Packages installed at one place: a virtualenv or a Node project directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSet {
    /// Absolute directory inside the environment.
    pub path: String,
    pub packages: Vec<Requirement>,
    pub line: usize,
}

/// `[services.NAME]`: a middleware container on the project network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// Version constraint of the service itself (`15`, `7.2.4`).
    pub version: String,
    /// A pinned image reference (tag other than `latest`, or a digest). Without one, the
    /// service is built from the base with `packages`.
    pub image: Option<String>,
    /// `kind = "postgres"`: the middleware an `image` runs, for a repository not named
    /// after it; without it, the kind is read from the repository's name (see
    /// [`Service::kind`]).
    pub kind: Option<ServiceKind>,
    pub ports: Vec<PortMapping>,
    pub env: Vec<EnvVar>,
    pub healthcheck: Option<Healthcheck>,
    pub volumes: Vec<VolumeMount>,
    /// OS packages of a service built from the base (`[apt]` syntax, or `[apk]` on Alpine).
    pub packages: Vec<Requirement>,
    /// The command it runs, as an argument vector.
    pub command: Vec<String>,
    /// How long it may take to stop after SIGTERM (`stop_grace = "30s"`); the
    /// provisioner's default when `None`.
    pub stop_grace: Option<Duration>,
    /// What the engine does when its process ends; the provisioner's default when `None`.
    pub restart: Option<Restart>,
    /// Configuration files copied into this service's image (`files`), hashed and locked
    /// with it.
    pub files: Vec<FileEntry>,
    /// Services (or `dev`) that must be healthy before this one starts.
    pub depends_on: Vec<Dependency>,
    /// The profiles it belongs to: with any, it starts only when one is asked for.
    pub profiles: Vec<String>,
    pub line: usize,
    pub column: usize,
}

impl Service {
    /// The middleware a service given by `image` runs: its `kind`, else the one its
    /// repository is named after (`postgres:15.4`). `None` for a service built from
    /// packages (its name says what it is) and for an image of no known kind.
    pub fn kind(&self) -> Option<ServiceKind> {
        let image = self.image.as_deref()?;
        self.kind.or_else(|| ServiceKind::of_image(image))
    }
}

/// One name in a `depends_on` list, where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// A service name, or `dev` for the development container.
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// A container's restart policy, in compose's (and the engine's) words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// `no`
    No,
    /// `always`
    Always,
    /// `on-failure`
    OnFailure,
    /// `unless-stopped`
    UnlessStopped,
}

impl Restart {
    /// Every policy with its manifest spelling.
    pub const ALL: [(&'static str, Restart); 4] = [
        ("no", Restart::No),
        ("always", Restart::Always),
        ("on-failure", Restart::OnFailure),
        ("unless-stopped", Restart::UnlessStopped),
    ];
}

/// `[dev]`: how the development container runs (its image is the rest of the manifest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dev {
    /// Ports published from the development container, as services publish theirs.
    pub ports: Vec<PortMapping>,
    /// The command it runs, as an argument vector; empty keeps the idle default.
    pub command: Vec<String>,
    /// The working directory inside the container (absolute); the project mount when `None`.
    pub workdir: Option<String>,
    /// More names the services reach it by on the project network (`app`).
    pub aliases: Vec<String>,
    /// Variables of the development container only, over `[env]`.
    pub env: Vec<EnvVar>,
    /// Shell commands run once, in order, after each creation of the container.
    pub post_create: Vec<String>,
    /// Connection variables built from the services (`DATABASE_URL`, `REDIS_URL`):
    /// service name → variable name, `None` when switched off.
    pub connections: Vec<(String, Option<String>)>,
    pub stop_grace: Option<Duration>,
    pub restart: Option<Restart>,
    /// Services that must be healthy before the development container starts.
    pub depends_on: Vec<Dependency>,
    /// How the development container reports readiness (services that depend on it
    /// wait for it); without one it is ready once running.
    pub healthcheck: Option<Healthcheck>,
    /// Who the container runs as; [`DevUser::Auto`] when absent.
    pub user: DevUser,
    pub line: usize,
}

/// `[dev] user`: who the development container runs as (the dev containers spec's
/// `remoteUser` with `updateRemoteUserUID`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DevUser {
    /// `"auto"` (the default): the user who runs `envsync up`, with its name, UID and GID.
    #[default]
    Auto,
    /// `"root"`: root, whoever runs `envsync up`.
    Root,
    /// Any other name: a user of that name with the UID and GID of the user who runs
    /// `envsync up` (1000 when that is root).
    Named(String),
}

/// How a service reports readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// The command, as an argument vector; a string in the manifest is run by the shell
    /// (`["CMD-SHELL", "..."]`).
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u32>,
}

/// `[files]`: a file copied in at `container_path` from `local_path` (relative to the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub container_path: String,
    pub local_path: String,
    pub line: usize,
    pub column: usize,
}

/// An environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// `[build]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Build {
    /// Host paths of CA certificate bundles copied into builds (for TLS-intercepting proxies).
    pub ca_certificates: Vec<String>,
}

/// `[sources]`: where builds find packages besides the base image's own sources, for
/// teams behind a mirror (Artifactory, Nexus, aptly) and for locks that must still build
/// after upstream moved on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sources {
    /// Extra apt repositories, as one-line `deb` entries
    /// (`deb [trusted=yes] http://mirror.internal/debian ./`).
    pub apt: Vec<String>,
    /// Signing keys of those repositories: files relative to the manifest, trusted by apt
    /// while the image builds.
    pub apt_keys: Vec<String>,
    /// An archive of dated snapshots in snapshot.debian.org's layout
    /// (`…/archive/debian/<timestamp>/`), added as a source of the base's suite.
    pub apt_snapshot: Option<String>,
    /// A PyPI "simple" index for pip (`--index-url`).
    pub pypi_index: Option<String>,
    /// An npm registry (`npm_config_registry`).
    pub npm_registry: Option<String>,
}

impl Sources {
    /// Every URL these sources name.
    pub fn urls(&self) -> Vec<&str> {
        let apt = self.apt.iter().filter_map(|line| deb_line_url(line));
        apt.chain(self.apt_snapshot.as_deref())
            .chain(self.pypi_index.as_deref())
            .chain(self.npm_registry.as_deref())
            .collect()
    }
}

/// The repository URL of a one-line `deb` entry (`deb [options] URL suite [components]`).
pub fn deb_line_url(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("deb ")?.trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(options) => options.split_once(']')?.1.trim_start(),
        None => rest,
    };
    rest.split_whitespace().next()
}

/// One entry of `[targets]`: a target (`prod = "ssh://deploy@prod-api-1"`), or a group
/// of targets (`web = ["ssh://web-1", "ssh://web-2"]`, then `target` is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTarget {
    pub name: String,
    pub target: String,
    pub line: usize,
    /// The members of a group, in the order written; empty for a single target.
    pub group: Vec<String>,
}
