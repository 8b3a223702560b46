//! The manifest (`envsync.toml`): its model, and a parser that validates everything at
//! once and reports every problem with its file, line, column and a fix.
//!
//! The format is documented in `docs/manifest.md`. Parsing keeps byte spans (through
//! `toml_edit::ImDocument`) so that every declared component remembers its line, and a
//! drift report can point at the manifest line a running environment violates.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use toml_edit::{ImDocument, Item, Key, TableLike, Value};

use crate::diag::{Diagnostic, LineIndex, ManifestErrors, SourceLocation};
use crate::policy::{Date, DriftKind, Ignore, Policy};
use crate::version::{Constraint, Ecosystem, VersionError};

/// A parsed, valid manifest. Every list keeps the order of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The path it was read from, as given (messages print it as given).
    pub file: PathBuf,
    /// sha256 (lowercase hex) of the file's bytes; the lock records it to detect staleness.
    pub sha256: String,
    pub project: Project,
    pub base: Base,
    /// Debian packages (`[apt]`), for Debian and Ubuntu bases.
    pub apt: Vec<Requirement>,
    /// Alpine packages (`[apk]`), for Alpine bases.
    pub apk: Vec<Requirement>,
    /// Language runtimes (`[runtimes]`): `python = "3.11"`, `node = "18"`.
    pub runtimes: Vec<Requirement>,
    pub python: Option<Python>,
    pub node: Option<Node>,
    pub services: Vec<Service>,
    /// Files copied into the environment and hashed (`[files]`).
    pub files: Vec<FileEntry>,
    /// Environment variables (`[env]`); snapshots hold their hashes, never the values.
    pub env: Vec<EnvVar>,
    pub build: Build,
    /// Package sources besides the base image's own (`[sources]`).
    pub sources: Sources,
    /// Named targets (`[targets]`), usable wherever a target is.
    pub targets: Vec<NamedTarget>,
    pub policy: Policy,
    /// Every declared component, in file order. See [`Manifest::declared`].
    declared: Vec<Declared>,
    /// The `until` of every ignore, where it is written. See [`Manifest::expired_ignores`].
    expiries: Vec<Expiry>,
}

/// An ignore's expiry date and the position of its `until` value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expiry {
    component: String,
    date: Date,
    line: usize,
    column: usize,
}

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
    pub ports: Vec<PortMapping>,
    pub env: Vec<EnvVar>,
    pub healthcheck: Option<Healthcheck>,
    pub volumes: Vec<VolumeMount>,
    /// OS packages of a service built from the base (`[apt]` syntax, or `[apk]` on Alpine).
    pub packages: Vec<Requirement>,
    /// The command it runs, as an argument vector.
    pub command: Vec<String>,
    pub line: usize,
    pub column: usize,
}

/// A published port: `host` on the machine running the environment, `container` inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// The host address to bind (`IP:HOST:CONTAINER`); [`DEFAULT_HOST_IP`] when `None`.
    pub host_ip: Option<IpAddr>,
    pub host: u16,
    pub container: u16,
}

/// The host address a port is published on when the manifest names none: loopback, as
/// middleware in a development environment runs with development credentials and must
/// not be reachable from the network.
pub const DEFAULT_HOST_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl PortMapping {
    /// The host address this port is bound on: the one given, or [`DEFAULT_HOST_IP`].
    pub fn effective_host_ip(&self) -> IpAddr {
        self.host_ip.unwrap_or(DEFAULT_HOST_IP)
    }
}

/// Whether two published host addresses cannot both be bound: the same port on the same
/// address, or on any address when either is the wildcard (`0.0.0.0`, `::`). The one
/// rule that both manifest validation and the provisioner apply.
pub fn host_ports_clash(a: (IpAddr, u16), b: (IpAddr, u16)) -> bool {
    a.1 == b.1 && (a.0 == b.0 || a.0.is_unspecified() || b.0.is_unspecified())
}

/// What a volume's source names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A named volume, created for the project.
    Volume,
    /// A host path (starting with `/` or `.`, relative paths against the manifest's directory).
    Bind,
}

impl MountKind {
    /// `volume` or `bind`, as the engine names them.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
        }
    }
}

/// One entry of a service's `volumes`: `SOURCE:TARGET[:ro|:rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// A named volume or a host path (see [`VolumeMount::kind`]).
    pub source: String,
    /// The absolute path inside the container.
    pub target: String,
    /// Mounted read-only (`:ro`).
    pub read_only: bool,
}

impl VolumeMount {
    /// Whether `source` is a host path or a named volume.
    pub fn kind(&self) -> MountKind {
        if self.source.starts_with('/') || self.source.starts_with('.') {
            MountKind::Bind
        } else {
            MountKind::Volume
        }
    }

    /// Parse `SOURCE:TARGET[:OPTIONS]`; the error says what is wrong, for a message that
    /// names the volume. `ro` and `rw` are the only options: nothing else would reach
    /// the engine.
    pub fn parse(text: &str) -> Result<VolumeMount, String> {
        let mut parts = text.splitn(3, ':');
        let source = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let read_only = match parts.next() {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(options) => {
                return Err(format!(
                    "has the option `{options}`, which envsync does not apply"
                ))
            }
        };
        if !target.starts_with('/') {
            return Err("has no absolute container path".into());
        }
        if source.is_empty() {
            return Err("has no source".into());
        }
        let mount = VolumeMount {
            source: source.to_string(),
            target: target.to_string(),
            read_only,
        };
        if mount.kind() == MountKind::Volume
            && !source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!(
                "names the volume `{source}`, which is neither a volume name (letters, digits, `_`, `.`, `-`) nor a path starting with `/` or `.`"
            ));
        }
        Ok(mount)
    }
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

/// One entry of `[targets]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTarget {
    pub name: String,
    pub target: String,
    pub line: usize,
}

/// A component the manifest declares, flattened across sections: what a lock and a
/// snapshot are checked against.
///
/// `constraint` is the version constraint in the ecosystem's syntax; for `file` it is the
/// local path (relative to the manifest) whose content the file must have, for `env` it
/// is `sha256:<hex>` of the value. `location` is the virtualenv or Node project directory,
/// or `service:NAME` for the packages of a service built from the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub constraint: String,
    pub location: Option<String>,
    pub line: usize,
    pub column: usize,
}

impl Manifest {
    /// Read and validate the manifest at `path`. Ignore expiries are not judged: an
    /// expired ignore stops `validate` and fails `check`, not the commands that build
    /// and run (see [`Manifest::expired_ignores`]).
    pub fn load(path: &Path) -> Result<Manifest, ManifestErrors> {
        let text = Manifest::read(path)?;
        Manifest::parse(&text, path)
    }

    /// [`Manifest::load`], and an ignore that expired before `today` is an error too.
    pub fn load_on(path: &Path, today: Date) -> Result<Manifest, ManifestErrors> {
        let text = Manifest::read(path)?;
        Manifest::parse_on(&text, path, today)
    }

    /// The manifest's text; not being UTF-8 is an error at the first bad byte.
    fn read(path: &Path) -> Result<String, ManifestErrors> {
        let bytes = std::fs::read(path).map_err(|err| {
            ManifestErrors::whole_file(
                path,
                format!("cannot read manifest: {err}"),
                "create it, or pass its path with `--manifest PATH`".into(),
            )
        })?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(err) => {
                let bytes = err.as_bytes();
                let valid = &bytes[..err.utf8_error().valid_up_to()];
                // The prefix up to `valid_up_to` is valid UTF-8 by definition.
                let prefix = std::str::from_utf8(valid).unwrap_or_default();
                let (line, column) = LineIndex::new(prefix).position(prefix.len());
                Err(ManifestErrors::new(vec![Diagnostic {
                    file: path.to_path_buf(),
                    line,
                    column,
                    message: "the manifest is not UTF-8 text".into(),
                    fix: "save it as UTF-8".into(),
                }]))
            }
        }
    }

    /// Parse and validate manifest text; `file` is used in messages. Ignore expiries are
    /// not judged (see [`Manifest::load`]).
    pub fn parse(text: &str, file: &Path) -> Result<Manifest, ManifestErrors> {
        Manifest::parse_with(text, file, None)
    }

    /// [`Manifest::parse`], and an ignore that expired before `today` is an error too,
    /// among the others in file order.
    pub fn parse_on(text: &str, file: &Path, today: Date) -> Result<Manifest, ManifestErrors> {
        Manifest::parse_with(text, file, Some(today))
    }

    fn parse_with(
        text: &str,
        file: &Path,
        today: Option<Date>,
    ) -> Result<Manifest, ManifestErrors> {
        let mut ctx = Ctx {
            file,
            index: LineIndex::new(text),
            errors: Vec::new(),
            expiries: Vec::new(),
        };
        let doc = match ImDocument::parse(text) {
            Ok(doc) => doc,
            Err(err) => {
                ctx.syntax_error(&err);
                return Err(ManifestErrors::new(ctx.errors));
            }
        };
        let mut manifest = ctx.manifest(doc.as_table());
        if let Some(today) = today {
            for expired in expired(&ctx.expiries, file, today) {
                // Before the first error written after it, so errors keep file order.
                let at = ctx
                    .errors
                    .iter()
                    .position(|e| (e.line, e.column) > (expired.line, expired.column))
                    .unwrap_or(ctx.errors.len());
                ctx.errors.insert(at, expired);
            }
        }
        if !ctx.errors.is_empty() {
            return Err(ManifestErrors::new(ctx.errors));
        }
        manifest.expiries = ctx.expiries;
        manifest.file = file.to_path_buf();
        manifest.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        manifest.declared = collect_declared(&manifest);
        Ok(manifest)
    }

    /// The ignores of `[policy]` that expired before `today`, each as an error at its
    /// `until`. `check` and `validate` judge them; parsing keeps the dates only.
    pub fn expired_ignores(&self, today: Date) -> Vec<Diagnostic> {
        expired(&self.expiries, &self.file, today)
    }

    /// Every declared component, in file order: runtimes, OS packages, Python and Node
    /// packages (with their virtualenv or project directory), services and their
    /// packages, files, and environment variables.
    pub fn declared(&self) -> &[Declared] {
        &self.declared
    }

    /// Where the manifest declares `ecosystem:name` (any location), for reports that
    /// point at the line a drift violates. PyPI names match as pip matches them
    /// (case-insensitive, `-`, `_` and `.` alike).
    pub fn locate(&self, ecosystem: Ecosystem, name: &str) -> Option<SourceLocation> {
        let wanted = normalize_name(ecosystem, name);
        self.declared
            .iter()
            .find(|d| d.ecosystem == ecosystem && normalize_name(ecosystem, &d.name) == wanted)
            .map(|d| self.location_of(d))
    }

    /// Like [`Manifest::locate`], for the component declared at `location` (a virtualenv
    /// or Node project directory, `service:NAME`, or `None` for the global one).
    pub fn locate_at(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        location: Option<&str>,
    ) -> Option<SourceLocation> {
        let wanted = normalize_name(ecosystem, name);
        self.declared
            .iter()
            .find(|d| {
                d.ecosystem == ecosystem
                    && d.location.as_deref() == location
                    && normalize_name(ecosystem, &d.name) == wanted
            })
            .map(|d| self.location_of(d))
    }

    /// Whether the base image is Alpine (packages come from `[apk]`).
    pub fn is_alpine(&self) -> bool {
        is_alpine_image(&self.base.image)
    }

    /// The OS package ecosystem of the base: `apk` on Alpine, `deb` otherwise.
    pub fn os_ecosystem(&self) -> Ecosystem {
        if self.is_alpine() {
            Ecosystem::Apk
        } else {
            Ecosystem::Deb
        }
    }

    fn location_of(&self, d: &Declared) -> SourceLocation {
        SourceLocation {
            file: self.file.clone(),
            line: d.line,
            column: d.column,
        }
    }
}

/// The name under which two spellings of one package are the same package: PEP 503
/// normalisation for PyPI, the name itself elsewhere.
pub fn normalize_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => {
            let mut out = String::with_capacity(name.len());
            let mut last_sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !last_sep {
                        out.push('-');
                    }
                    last_sep = true;
                } else {
                    out.push(c.to_ascii_lowercase());
                    last_sep = false;
                }
            }
            out
        }
        _ => name.to_string(),
    }
}

fn collect_declared(m: &Manifest) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut push = |eco: Ecosystem, r: &Requirement, location: Option<&str>| {
        out.push(Declared {
            ecosystem: eco,
            name: r.name.clone(),
            constraint: r.constraint.clone(),
            location: location.map(str::to_string),
            line: r.line,
            column: r.column,
        })
    };
    for r in &m.runtimes {
        push(Ecosystem::Runtime, r, None);
    }
    for r in &m.apt {
        push(Ecosystem::Deb, r, None);
    }
    for r in &m.apk {
        push(Ecosystem::Apk, r, None);
    }
    if let Some(py) = &m.python {
        if let Some(v) = &py.version {
            push(Ecosystem::Runtime, v, None);
        }
        for r in &py.packages {
            push(Ecosystem::Pypi, r, None);
        }
        for set in &py.venvs {
            for r in &set.packages {
                push(Ecosystem::Pypi, r, Some(&set.path));
            }
        }
    }
    if let Some(node) = &m.node {
        if let Some(v) = &node.version {
            push(Ecosystem::Runtime, v, None);
        }
        for r in &node.packages {
            push(Ecosystem::Npm, r, None);
        }
        for set in &node.projects {
            for r in &set.packages {
                push(Ecosystem::Npm, r, Some(&set.path));
            }
        }
    }
    let os = m.os_ecosystem();
    for s in &m.services {
        let r = Requirement {
            name: s.name.clone(),
            constraint: s.version.clone(),
            line: s.line,
            column: s.column,
        };
        push(Ecosystem::Service, &r, None);
        let location = format!("service:{}", s.name);
        for r in &s.packages {
            push(os, r, Some(&location));
        }
    }
    for f in &m.files {
        out.push(Declared {
            ecosystem: Ecosystem::File,
            name: f.container_path.clone(),
            constraint: f.local_path.clone(),
            location: None,
            line: f.line,
            column: f.column,
        });
    }
    for e in &m.env {
        out.push(Declared {
            ecosystem: Ecosystem::Env,
            name: e.name.clone(),
            constraint: format!("sha256:{}", hex::encode(Sha256::digest(e.value.as_bytes()))),
            location: None,
            line: e.line,
            column: 1,
        });
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

fn expired(expiries: &[Expiry], file: &Path, today: Date) -> Vec<Diagnostic> {
    expiries
        .iter()
        .filter(|e| e.date < today)
        .map(|e| Diagnostic {
            file: file.to_path_buf(),
            line: e.line,
            column: e.column,
            message: format!(
                "ignore of `{}` expired on {} (today is {today})",
                e.component, e.date
            ),
            fix: "fix the drift and remove the ignore, or set a later `until` with a fresh reason"
                .into(),
        })
        .collect()
}

fn is_alpine_image(image: &str) -> bool {
    let (repo, tag) = split_image(image);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    last.contains("alpine") || tag.is_some_and(|t| t.contains("alpine"))
}

/// Split `repo[:tag][@digest]` into the repository and the tag (a `:` inside a registry
/// host's port is not a tag separator).
fn split_image(image: &str) -> (&str, Option<&str>) {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].find(':') {
        Some(i) => (
            &without_digest[..last_slash + i],
            Some(&without_digest[last_slash + i + 1..]),
        ),
        None => (without_digest, None),
    }
}

const SECTIONS: &[&str] = &[
    "project", "base", "apt", "apk", "runtimes", "python", "node", "services", "files", "env",
    "build", "sources", "targets", "policy",
];

/// Validation state: the file, its line index and the problems found so far.
struct Ctx<'a> {
    file: &'a Path,
    index: LineIndex<'a>,
    errors: Vec<Diagnostic>,
    /// Every ignore's `until`, judged by the caller against a date of its choosing.
    expiries: Vec<Expiry>,
}

impl Ctx<'_> {
    fn pos(&self, span: Option<Range<usize>>) -> (usize, usize) {
        span.map_or((0, 0), |s| self.index.position(s.start))
    }

    fn error(&mut self, span: Option<Range<usize>>, message: String, fix: String) {
        let (line, column) = self.pos(span);
        self.errors.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
            fix,
        });
    }

    fn syntax_error(&mut self, err: &toml_edit::TomlError) {
        let message = err.message().trim().replace('\n', "; ");
        let (message, fix) =
            if let Some(rest) = message.strip_prefix("invalid table header; duplicate key `") {
                let key = rest.split('`').next().unwrap_or_default();
                (
                    format!("TOML error: `{key}` is declared twice"),
                    format!("merge the two declarations of `{key}` into one"),
                )
            } else if message.contains("duplicate key") {
                (
                    format!("TOML error: {message}"),
                    "remove or rename one of the two keys".to_string(),
                )
            } else {
                (
                    format!("TOML error: {message}"),
                    "fix the TOML syntax at this position".to_string(),
                )
            };
        self.error(err.span(), message, fix);
    }

    /// Report every key of `table` not in `known`, with the closest known key as a hint.
    fn check_keys(&mut self, table: &dyn TableLike, section: &str, known: &[&str]) {
        for (key, _) in entries(table) {
            if !known.contains(&key.get()) {
                let fix = match suggest(key.get(), known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known keys are {}", list(known)),
                };
                self.error(
                    key.span(),
                    format!("unknown key `{}` in [{section}]", key.get()),
                    fix,
                );
            }
        }
    }

    fn wrong_type(
        &mut self,
        key: &Key,
        item: &Item,
        section: &str,
        expected: &str,
        example: String,
    ) {
        self.error(
            item.span().or_else(|| key.span()),
            format!(
                "`{}` in [{section}] must be {expected}, found {}",
                key.get(),
                type_name(item)
            ),
            format!("write {example}"),
        );
    }

    fn table<'i>(&mut self, key: &Key, item: &'i Item, section: &str) -> Option<&'i dyn TableLike> {
        let table = item.as_table_like();
        if table.is_none() {
            let name = key.get();
            let example = format!("[{}{}]", section_prefix(section), name);
            self.wrong_type(key, item, section, "a table", example);
        }
        table
    }

    fn string<'i>(
        &mut self,
        key: &Key,
        item: &'i Item,
        section: &str,
        example: &str,
    ) -> Option<&'i str> {
        let s = item.as_str();
        if s.is_none() {
            let example = match item.as_value() {
                Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                    let text = item.as_value().map(|v| v.to_string()).unwrap_or_default();
                    format!("`{} = \"{}\"` (quoted)", key.get(), text.trim())
                }
                _ => format!("`{} = {example}`", key.get()),
            };
            self.wrong_type(key, item, section, "a string", example);
        }
        s
    }

    /// `[sources]`: apt lines, key files and index URLs, each checked for its form.
    fn sources(&mut self, t: &dyn TableLike) -> Sources {
        const KEYS: &[&str] = &[
            "apt",
            "apt_keys",
            "apt_snapshot",
            "pypi_index",
            "npm_registry",
        ];
        self.check_keys(t, "sources", KEYS);
        let mut sources = Sources::default();
        for (key, item) in entries(t) {
            let span = item.span().or_else(|| key.span());
            match key.get() {
                "apt" => {
                    sources.apt = self.strings(
                        key,
                        item,
                        "sources",
                        "[\"deb [trusted=yes] http://127.0.0.1:8080/ ./\"]",
                    );
                    for line in &sources.apt {
                        match deb_line_url(line) {
                            Some(url) => self.check_url(span.clone(), "apt", url),
                            None => self.error(
                                span.clone(),
                                format!("`{line}` in [sources] `apt` is not a one-line `deb` entry"),
                                "write `deb [options] URL suite [components]`, e.g. `deb http://mirror.internal/debian bookworm main`".into(),
                            ),
                        }
                    }
                }
                "apt_keys" => {
                    sources.apt_keys = self.strings(key, item, "sources", "[\"keys/mirror.asc\"]");
                }
                name @ ("apt_snapshot" | "pypi_index" | "npm_registry") => {
                    let example = match name {
                        "apt_snapshot" => {
                            "\"https://snapshot.debian.org/archive/debian/20250101T000000Z/\""
                        }
                        "pypi_index" => "\"https://pypi.internal/simple/\"",
                        _ => "\"https://npm.internal/\"",
                    };
                    let Some(url) = self.string(key, item, "sources", example) else {
                        continue;
                    };
                    self.check_url(span, name, url);
                    let url = Some(url.to_string());
                    match name {
                        "apt_snapshot" => sources.apt_snapshot = url,
                        "pypi_index" => sources.pypi_index = url,
                        _ => sources.npm_registry = url,
                    }
                }
                _ => {}
            }
        }
        sources
    }

    /// A source URL is `http://`, `https://` or `file:` and names no credentials: those
    /// would be written into the lock and build logs.
    fn check_url(&mut self, span: Option<Range<usize>>, key: &str, url: &str) {
        let rest = ["http://", "https://", "file:"]
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme));
        match rest {
            None => self.error(
                span,
                format!("`{url}` in [sources] `{key}` is not an http, https or file URL"),
                "write a URL such as `https://mirror.internal/debian`".into(),
            ),
            Some(rest) if rest.split('/').next().is_some_and(|host| host.contains('@')) => self.error(
                span,
                format!("`{key}` in [sources] names credentials in its URL"),
                "remove the user and password from the URL; give them to apt, pip or npm through their own configuration (auth.conf, netrc, .npmrc)".into(),
            ),
            Some(_) => {}
        }
    }

    fn strings(&mut self, key: &Key, item: &Item, section: &str, example: &str) -> Vec<String> {
        let Some(array) = item.as_array() else {
            self.wrong_type(
                key,
                item,
                section,
                "an array of strings",
                format!("`{} = {example}`", key.get()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push(s.to_string()),
                None => self.error(
                    v.span(),
                    format!(
                        "`{}` in [{section}] must hold strings, found {}",
                        key.get(),
                        value_type_name(v)
                    ),
                    format!("write `{} = {example}`", key.get()),
                ),
            }
        }
        out
    }

    fn constraint(
        &mut self,
        eco: Ecosystem,
        name: &str,
        text: &str,
        span: Option<Range<usize>>,
        section: &str,
    ) {
        if let Err(err) = Constraint::parse(eco, text) {
            let (reason, hint) = match err {
                VersionError::Constraint { reason, hint, .. }
                | VersionError::Version { reason, hint, .. } => (reason, hint),
                VersionError::Empty { .. } => ("it is empty".to_string(), String::new()),
            };
            // The reason may repeat the text (`version `X`: ...`); the message already names it.
            let reason = reason
                .strip_prefix(&format!("version `{}`: ", text.trim()))
                .map(str::to_string)
                .unwrap_or(reason);
            let fix = if hint.is_empty() {
                format!("write {}", constraint_example(eco))
            } else {
                hint
            };
            self.error(
                span,
                format!(
                    "version `{text}` of `{name}` in [{section}] is not a valid {} constraint: {reason}",
                    ecosystem_label(eco)
                ),
                fix,
            );
        }
    }

    fn manifest(&mut self, root: &toml_edit::Table) -> Manifest {
        let mut m = Manifest {
            file: PathBuf::new(),
            sha256: String::new(),
            project: Project::default(),
            base: Base::default(),
            apt: Vec::new(),
            apk: Vec::new(),
            runtimes: Vec::new(),
            python: None,
            node: None,
            services: Vec::new(),
            files: Vec::new(),
            env: Vec::new(),
            build: Build::default(),
            sources: Sources::default(),
            targets: Vec::new(),
            policy: Policy::default(),
            declared: Vec::new(),
            expiries: Vec::new(),
        };
        for (key, _) in entries(root) {
            if !SECTIONS.contains(&key.get()) {
                let fix = match suggest(key.get(), SECTIONS) {
                    Some(s) => format!("did you mean `[{s}]`?"),
                    None => format!(
                        "known sections are {}",
                        SECTIONS
                            .iter()
                            .map(|s| format!("[{s}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.error(
                    key.span(),
                    format!("unknown section `[{}]`", key.get()),
                    fix,
                );
            }
        }
        let section = |name: &str| root.get_key_value(name);

        match section("project") {
            Some((key, item)) => {
                if let Some(t) = self.table(key, item, "") {
                    m.project = self.project(t, key);
                }
            }
            None => self.error(
                None,
                "missing [project]".into(),
                "add `[project]` with `name = \"my-app\"`".into(),
            ),
        }
        // The base decides which OS package section is allowed, so read it first.
        match section("base") {
            Some((key, item)) => {
                if let Some(t) = self.table(key, item, "") {
                    m.base = self.base(t, key);
                }
            }
            None => self.error(
                None,
                "missing [base]".into(),
                "add `[base]` with `image = \"debian:bookworm\"`".into(),
            ),
        }
        let alpine = is_alpine_image(&m.base.image);
        let os = if alpine {
            Ecosystem::Apk
        } else {
            Ecosystem::Deb
        };
        if let Some((key, item)) = section("apt") {
            if let Some(t) = self.table(key, item, "") {
                m.apt = self.requirements(t, "apt", Ecosystem::Deb);
            }
            if alpine {
                self.error(
                    key.span(),
                    format!(
                        "[apt] packages declared on the Alpine base `{}`",
                        m.base.image
                    ),
                    "declare them in [apk], the package manager of Alpine".into(),
                );
            }
        }
        if let Some((key, item)) = section("apk") {
            if let Some(t) = self.table(key, item, "") {
                m.apk = self.requirements(t, "apk", Ecosystem::Apk);
            }
            if section("apt").is_some() {
                self.error(
                    key.span(),
                    "both [apt] and [apk] are declared".into(),
                    "keep the one matching the base image: [apk] for Alpine, [apt] otherwise"
                        .into(),
                );
            } else if !alpine && !m.base.image.is_empty() {
                self.error(
                    key.span(),
                    format!(
                        "[apk] packages declared on the non-Alpine base `{}`",
                        m.base.image
                    ),
                    "declare them in [apt], or use an Alpine base image".into(),
                );
            }
        }
        if let Some((key, item)) = section("runtimes") {
            if let Some(t) = self.table(key, item, "") {
                m.runtimes = self.requirements(t, "runtimes", Ecosystem::Runtime);
            }
        }
        if let Some((key, item)) = section("python") {
            if let Some(t) = self.table(key, item, "") {
                let (version, packages, venvs) =
                    self.language(t, "python", Ecosystem::Pypi, "venvs", &m.runtimes);
                m.python = Some(Python {
                    version,
                    packages,
                    venvs,
                });
            }
        }
        if let Some((key, item)) = section("node") {
            if let Some(t) = self.table(key, item, "") {
                let (version, packages, projects) =
                    self.language(t, "node", Ecosystem::Npm, "projects", &m.runtimes);
                m.node = Some(Node {
                    version,
                    packages,
                    projects,
                });
            }
        }
        if let Some((key, item)) = section("services") {
            if let Some(t) = self.table(key, item, "") {
                m.services = self.services(t, os);
            }
        }
        if let Some((key, item)) = section("files") {
            if let Some(t) = self.table(key, item, "") {
                m.files = self.files(t);
            }
        }
        if let Some((key, item)) = section("env") {
            if let Some(t) = self.table(key, item, "") {
                m.env = self.env(t, "env");
            }
        }
        if let Some((key, item)) = section("build") {
            if let Some(t) = self.table(key, item, "") {
                self.check_keys(t, "build", &["ca_certificates"]);
                if let Some((k, v)) = t.get_key_value("ca_certificates") {
                    m.build.ca_certificates =
                        self.strings(k, v, "build", "[\"/etc/ssl/certs/ca-certificates.crt\"]");
                }
            }
        }
        if let Some((key, item)) = section("sources") {
            if let Some(t) = self.table(key, item, "") {
                m.sources = self.sources(t);
            }
        }
        if let Some((key, item)) = section("targets") {
            if let Some(t) = self.table(key, item, "") {
                m.targets = self.targets(t);
            }
        }
        if let Some((key, item)) = section("policy") {
            if let Some(t) = self.table(key, item, "") {
                m.policy = self.policy(t);
            }
        }
        m
    }

    fn project(&mut self, t: &dyn TableLike, header: &Key) -> Project {
        self.check_keys(t, "project", &["name", "description"]);
        let mut project = Project::default();
        match t.get_key_value("name") {
            Some((k, v)) => {
                if let Some(name) = self.string(k, v, "project", "\"my-app\"") {
                    if !is_simple_name(name) {
                        self.error(
                            v.span(),
                            format!("project name `{name}` is not a valid name"),
                            "use lowercase letters, digits, `-` and `_`, starting with a letter or digit (it names containers and networks)".into(),
                        );
                    }
                    project.name = name.to_string();
                }
            }
            None => self.error(
                header.span(),
                "[project] has no `name`".into(),
                "add `name = \"my-app\"`".into(),
            ),
        }
        if let Some((k, v)) = t.get_key_value("description") {
            project.description = self
                .string(k, v, "project", "\"what it is\"")
                .map(str::to_string);
        }
        project
    }

    fn base(&mut self, t: &dyn TableLike, header: &Key) -> Base {
        self.check_keys(t, "base", &["image", "digest"]);
        let mut base = Base::default();
        match t.get_key_value("image") {
            Some((k, v)) => {
                if let Some(image) = self.string(k, v, "base", "\"debian:bookworm\"") {
                    if !is_image_ref(image) {
                        self.error(
                            v.span(),
                            format!("base image `{image}` is not an image reference"),
                            "write `image = \"debian:bookworm\"` (REPOSITORY[:TAG][@sha256:DIGEST])".into(),
                        );
                    }
                    base.image = image.to_string();
                }
            }
            None => self.error(
                header.span(),
                "[base] has no `image`".into(),
                "add `image = \"debian:bookworm\"`".into(),
            ),
        }
        if let Some((k, v)) = t.get_key_value("digest") {
            if let Some(digest) = self.string(k, v, "base", "\"sha256:<64 hex digits>\"") {
                if !is_digest(digest) {
                    self.error(
                        v.span(),
                        format!("base digest `{digest}` is not a sha256 digest"),
                        "write `digest = \"sha256:<64 lowercase hex digits>\"`, as `docker image inspect` prints it".into(),
                    );
                }
                base.digest = Some(digest.to_string());
            }
        }
        base
    }

    /// A table of `name = "constraint"` in ecosystem `eco`.
    fn requirements(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        eco: Ecosystem,
    ) -> Vec<Requirement> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            let (line, column) = self.pos(key.span());
            if let Some(problem) = name_problem(eco, name) {
                self.error(
                    key.span(),
                    format!(
                        "`{name}` in [{section}] is not a valid {} name",
                        ecosystem_label(eco)
                    ),
                    problem.to_string(),
                );
            }
            let Some(constraint) = self.string(key, item, section, constraint_example_literal(eco))
            else {
                continue;
            };
            self.constraint(eco, name, constraint, item.span(), section);
            out.push(Requirement {
                name: name.to_string(),
                constraint: constraint.to_string(),
                line,
                column,
            });
        }
        out
    }

    /// `[python]` or `[node]`: version, global packages, and packages per directory
    /// (`venvs` or `projects`).
    fn language(
        &mut self,
        t: &dyn TableLike,
        lang: &str,
        eco: Ecosystem,
        sets_key: &str,
        runtimes: &[Requirement],
    ) -> (Option<Requirement>, Vec<Requirement>, Vec<PackageSet>) {
        self.check_keys(t, lang, &["version", "packages", sets_key]);
        let mut version = None;
        if let Some((k, v)) = t.get_key_value("version") {
            if let Some(text) = self.string(k, v, lang, "\"3.11\"") {
                self.constraint(Ecosystem::Runtime, lang, text, v.span(), lang);
                if let Some(other) = runtimes.iter().find(|r| r.name == lang) {
                    self.error(
                        k.span(),
                        format!(
                            "the {lang} version is declared twice: here and in [runtimes] at line {}",
                            other.line
                        ),
                        format!("keep one of `[runtimes] {lang}` and `[{lang}] version`"),
                    );
                }
                let (line, column) = self.pos(k.span());
                version = Some(Requirement {
                    name: lang.to_string(),
                    constraint: text.to_string(),
                    line,
                    column,
                });
            }
        }
        let mut packages = Vec::new();
        let packages_section = format!("{lang}.packages");
        if let Some((k, v)) = t.get_key_value("packages") {
            if let Some(pt) = self.table(k, v, lang) {
                packages = self.requirements(pt, &packages_section, eco);
            }
        }
        let mut sets = Vec::new();
        if let Some((k, v)) = t.get_key_value(sets_key) {
            let sets_section = format!("{lang}.{sets_key}");
            if let Some(st) = self.table(k, v, lang) {
                for (path_key, item) in entries(st) {
                    let path = path_key.get();
                    let section = format!("{sets_section}.\"{path}\"");
                    if !path.starts_with('/') {
                        self.error(
                            path_key.span(),
                            format!("`{path}` in [{sets_section}] is not an absolute path"),
                            format!(
                                "write the directory inside the environment, e.g. `\"/{}\"`",
                                path.trim_start_matches("./")
                            ),
                        );
                    }
                    let Some(set) = self.table(path_key, item, &sets_section) else {
                        continue;
                    };
                    self.check_keys(set, &section, &["packages"]);
                    let mut set_packages = Vec::new();
                    match set.get_key_value("packages") {
                        Some((pk, pv)) => {
                            if let Some(pt) = self.table(pk, pv, &section) {
                                set_packages =
                                    self.requirements(pt, &format!("{section}.packages"), eco);
                            }
                        }
                        None => self.error(
                            path_key.span(),
                            format!("[{section}] has no `packages`"),
                            "add `packages = { name = \"version\" }`".into(),
                        ),
                    }
                    let (line, _) = self.pos(path_key.span());
                    sets.push(PackageSet {
                        path: path.to_string(),
                        packages: set_packages,
                        line,
                    });
                }
            }
        }
        (version, packages, sets)
    }

    fn services(&mut self, t: &dyn TableLike, os: Ecosystem) -> Vec<Service> {
        const KEYS: &[&str] = &[
            "version",
            "image",
            "port",
            "ports",
            "env",
            "healthcheck",
            "volumes",
            "packages",
            "command",
        ];
        let mut out: Vec<Service> = Vec::new();
        // ((host ip, host port), service, line, column) of every published port so far.
        let mut published: Vec<((IpAddr, u16), String, usize, usize)> = Vec::new();
        let mut seen: Vec<(String, String, usize)> = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            let section = format!("services.{name}");
            let (line, column) = self.pos(key.span());
            if !is_simple_name(name) {
                self.error(
                    key.span(),
                    format!("service name `{name}` is not a valid name"),
                    "use lowercase letters, digits, `-` and `_` (it becomes a host name on the project network)".into(),
                );
            }
            let normalized = name.to_ascii_lowercase().replace('_', "-");
            if let Some((first, _, first_line)) = seen.iter().find(|(_, n, _)| *n == normalized) {
                self.error(
                    key.span(),
                    format!("service `{name}` duplicates service `{first}` declared at line {first_line} (service names are host names, compared without case and with `_` as `-`)"),
                    "remove one of them, or give them distinct names".into(),
                );
            }
            seen.push((name.to_string(), normalized, line));
            let Some(st) = self.table(key, item, "services") else {
                continue;
            };
            self.check_keys(st, &section, KEYS);
            let mut service = Service {
                name: name.to_string(),
                version: String::new(),
                image: None,
                ports: Vec::new(),
                env: Vec::new(),
                healthcheck: None,
                volumes: Vec::new(),
                packages: Vec::new(),
                command: Vec::new(),
                line,
                column,
            };
            match st.get_key_value("version") {
                Some((k, v)) => {
                    if let Some(version) = self.string(k, v, &section, "\"15\"") {
                        self.constraint(Ecosystem::Service, name, version, v.span(), &section);
                        service.version = version.to_string();
                    }
                }
                None => self.error(
                    key.span(),
                    format!("[{section}] has no `version`"),
                    "add the version it must run, e.g. `version = \"15.10\"`".into(),
                ),
            }
            if let Some((k, v)) = st.get_key_value("image") {
                if let Some(image) = self.string(k, v, &section, "\"postgres:15.10\"") {
                    self.service_image(image, &service.version, v.span(), &section);
                    service.image = Some(image.to_string());
                }
            }
            let port = st.get_key_value("port");
            let ports = st.get_key_value("ports");
            if let (Some(_), Some((k, _))) = (port, ports) {
                self.error(
                    k.span(),
                    format!("[{section}] has both `port` and `ports`"),
                    "keep `port = 5432` for one port published as itself, or list every mapping in `ports`".into(),
                );
            }
            if let Some((k, v)) = port {
                match v
                    .as_integer()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                {
                    Some(p) => service.ports.push(PortMapping {
                        host_ip: None,
                        host: p,
                        container: p,
                    }),
                    None => {
                        let example = match v.as_str().and_then(|t| t.trim().parse::<u16>().ok()) {
                            Some(p) if p > 0 => format!("`port = {p}` (a number, unquoted)"),
                            _ => "`port = 5432`".into(),
                        };
                        self.wrong_type(k, v, &section, "a port number from 1 to 65535", example)
                    }
                }
            }
            if let Some((k, v)) = ports {
                match v.as_array() {
                    Some(array) => {
                        for p in array.iter() {
                            match parse_port(p) {
                                Some(mapping) => service.ports.push(mapping),
                                None => self.error(
                                    p.span(),
                                    format!("port `{}` in [{section}] is not a port mapping", p.to_string().trim()),
                                    "write a port number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`, `\"127.0.0.1:15432:5432\"`)".into(),
                                ),
                            }
                        }
                    }
                    None => self.wrong_type(
                        k,
                        v,
                        &section,
                        "an array",
                        "`ports = [\"15432:5432\"]`".into(),
                    ),
                }
            }
            if !service.ports.is_empty() {
                let span = port.or(ports).and_then(|(_, v)| v.span());
                let (pline, pcol) = self.pos(span.clone());
                for (i, mapping) in service.ports.iter().enumerate() {
                    let address = (mapping.effective_host_ip(), mapping.host);
                    let clash = published
                        .iter()
                        .find(|(other, ..)| host_ports_clash(*other, address));
                    if let Some(((_, host), other, oline, ocol)) = clash {
                        let message = if *other == service.name {
                            format!("host port {host} is published twice by [services.{other}]")
                        } else {
                            format!(
                                "host port {host} of [services.{}] is already published by [services.{other}] (line {oline}, column {ocol})",
                                service.name
                            )
                        };
                        self.error(
                            span.clone(),
                            message,
                            format!(
                                "publish another host port, e.g. `ports = [\"{}:{}\"]`",
                                host.saturating_add(1),
                                mapping.container
                            ),
                        );
                    }
                    // The engine publishes a container port once: a second mapping of it
                    // would be dropped.
                    if service.ports[..i]
                        .iter()
                        .any(|m| m.container == mapping.container)
                    {
                        self.error(
                            span.clone(),
                            format!(
                                "container port {} of [services.{}] is published twice",
                                mapping.container, service.name
                            ),
                            "publish each container port once".into(),
                        );
                    }
                    published.push((address, service.name.clone(), pline, pcol));
                }
            }
            if let Some((k, v)) = st.get_key_value("env") {
                if let Some(et) = self.table(k, v, &section) {
                    service.env = self.env(et, &format!("{section}.env"));
                }
            }
            if let Some((k, v)) = st.get_key_value("healthcheck") {
                if let Some(ht) = self.table(k, v, &section) {
                    service.healthcheck =
                        self.healthcheck(ht, k, &format!("{section}.healthcheck"));
                }
            }
            if let Some((k, v)) = st.get_key_value("volumes") {
                service.volumes = self.volumes(k, v, &section);
            }
            if let Some((k, v)) = st.get_key_value("command") {
                service.command = match v.as_str() {
                    Some(s) => vec!["sh".into(), "-c".into(), s.to_string()],
                    None => self.strings(
                        k,
                        v,
                        &section,
                        "[\"redis-server\", \"--appendonly\", \"yes\"]",
                    ),
                };
            }
            if let Some((k, v)) = st.get_key_value("packages") {
                if let Some(pt) = self.table(k, v, &section) {
                    service.packages = self.requirements(pt, &format!("{section}.packages"), os);
                }
                if service.image.is_some() {
                    self.error(
                        k.span(),
                        format!("[{section}] has both `image` and `packages`"),
                        "run a pinned `image`, or build the service from the base with `packages`, not both".into(),
                    );
                }
            }
            out.push(service);
        }
        out
    }

    /// A service's `volumes`, each parsed into a [`VolumeMount`] or reported at its own
    /// position.
    fn volumes(&mut self, key: &Key, item: &Item, section: &str) -> Vec<VolumeMount> {
        let example = "[\"pgdata:/var/lib/postgresql/data\"]";
        // Type errors are reported here; the strings are parsed below with their spans.
        self.strings(key, item, section, example);
        let mut out = Vec::new();
        for v in item.as_array().into_iter().flat_map(|a| a.iter()) {
            let Some(text) = v.as_str() else { continue };
            match VolumeMount::parse(text) {
                Ok(mount) => out.push(mount),
                Err(problem) => self.error(
                    v.span(),
                    format!("volume `{text}` in [{section}] {problem}"),
                    format!("write `SOURCE:/container/path[:ro]`, e.g. `{example}`"),
                ),
            }
        }
        out
    }

    fn service_image(
        &mut self,
        image: &str,
        version: &str,
        span: Option<Range<usize>>,
        section: &str,
    ) {
        if !is_image_ref(image) {
            self.error(
                span,
                format!("image `{image}` in [{section}] is not an image reference"),
                "write REPOSITORY:TAG or REPOSITORY@sha256:DIGEST, e.g. `image = \"postgres:15.10\"`".into(),
            );
            return;
        }
        let (repo, tag) = split_image(image);
        let pinned_by_digest = image.contains("@sha256:");
        if !pinned_by_digest && matches!(tag, None | Some("latest")) {
            self.error(
                span,
                format!("image `{image}` in [{section}] is not pinned"),
                format!(
                    "name an exact tag or digest, e.g. `image = \"{repo}:{}\"`",
                    if version.is_empty() { "15.10" } else { version }
                ),
            );
            return;
        }
        // A tag that starts with a version (`16.1-bookworm`) must agree with `version`
        // on the major number, or the image runs something else than what is declared.
        if let Some(tag) = tag {
            let tag_major = tag.split(['.', '-']).next().unwrap_or_default();
            let version_major = version
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split(['.', '-', ' ', ','])
                .next()
                .unwrap_or_default();
            if tag_major.chars().all(|c| c.is_ascii_digit())
                && !tag_major.is_empty()
                && !version_major.is_empty()
                && version_major.chars().all(|c| c.is_ascii_digit())
                && tag_major.trim_start_matches('0') != version_major.trim_start_matches('0')
            {
                self.error(
                    span,
                    format!(
                        "image `{image}` in [{section}] does not match `version = \"{version}\"`"
                    ),
                    "make the image tag and `version` name the same release".into(),
                );
            }
        }
    }

    fn healthcheck(
        &mut self,
        t: &dyn TableLike,
        header: &Key,
        section: &str,
    ) -> Option<Healthcheck> {
        self.check_keys(
            t,
            section,
            &["test", "interval", "timeout", "start_period", "retries"],
        );
        let mut hc = Healthcheck {
            test: Vec::new(),
            interval: None,
            timeout: None,
            start_period: None,
            retries: None,
        };
        match t.get_key_value("test") {
            Some((k, v)) => {
                hc.test = match v.as_str() {
                    Some(s) => vec!["CMD-SHELL".into(), s.to_string()],
                    None => self.strings(
                        k,
                        v,
                        section,
                        "[\"CMD\", \"pg_isready\", \"-U\", \"postgres\"]",
                    ),
                };
                if hc.test.iter().all(|s| s.trim().is_empty())
                    || hc.test.last().is_some_and(|s| s.trim().is_empty())
                {
                    self.error(
                        v.span(),
                        format!("`test` in [{section}] is empty"),
                        "write the readiness command, e.g. `test = \"pg_isready -U postgres\"`"
                            .into(),
                    );
                }
            }
            None => self.error(
                header.span(),
                format!("[{section}] has no `test`"),
                "add the readiness command, e.g. `test = \"pg_isready -U postgres\"`".into(),
            ),
        }
        for (name, slot) in [
            ("interval", &mut hc.interval),
            ("timeout", &mut hc.timeout),
            ("start_period", &mut hc.start_period),
        ] {
            if let Some((k, v)) = t.get_key_value(name) {
                if let Some(text) = self.string(k, v, section, "\"5s\"") {
                    match parse_duration(text) {
                        Some(d) => *slot = Some(d),
                        None => self.error(
                            v.span(),
                            format!("`{name}` in [{section}] is not a duration: `{text}`"),
                            format!("write a duration such as `{name} = \"5s\"`, `\"500ms\"` or `\"1m30s\"`"),
                        ),
                    }
                }
            }
        }
        if let Some((k, v)) = t.get_key_value("retries") {
            match v.as_integer().and_then(|r| u32::try_from(r).ok()) {
                Some(r) => hc.retries = Some(r),
                None => self.wrong_type(
                    k,
                    v,
                    section,
                    "a whole number of at least 0",
                    "`retries = 5`".into(),
                ),
            }
        }
        Some(hc)
    }

    fn files(&mut self, t: &dyn TableLike) -> Vec<FileEntry> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let container_path = key.get();
            let (line, column) = self.pos(key.span());
            if !container_path.starts_with('/') {
                self.error(
                    key.span(),
                    format!(
                        "`{container_path}` in [files] is not an absolute path in the environment"
                    ),
                    format!(
                        "write the destination as an absolute path, e.g. `\"/etc/app/{}\"`",
                        container_path.rsplit('/').next().unwrap_or("settings.ini")
                    ),
                );
            }
            let Some(local) = self.string(key, item, "files", "\"config/settings.ini\"") else {
                continue;
            };
            if local.is_empty() || local.starts_with('/') {
                self.error(
                    item.span(),
                    format!("local file `{local}` of `{container_path}` in [files] is not a path relative to the manifest"),
                    "keep the file next to the manifest and write its relative path, e.g. `\"config/settings.ini\"`".into(),
                );
            }
            out.push(FileEntry {
                container_path: container_path.to_string(),
                local_path: local.to_string(),
                line,
                column,
            });
        }
        out
    }

    fn env(&mut self, t: &dyn TableLike, section: &str) -> Vec<EnvVar> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            if !is_env_name(name) {
                self.error(
                    key.span(),
                    format!("`{name}` in [{section}] is not an environment variable name"),
                    "use letters, digits and `_`, not starting with a digit".into(),
                );
            }
            let (line, _) = self.pos(key.span());
            // Values may be secrets: messages never repeat them.
            let value = match item.as_value() {
                Some(Value::String(s)) => s.value().clone(),
                Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                    self.error(
                        item.span(),
                        format!(
                            "value of `{name}` in [{section}] must be a string, found {}",
                            type_name(item)
                        ),
                        format!("quote it: `{name} = \"...\"`"),
                    );
                    continue;
                }
                _ => {
                    self.wrong_type(
                        key,
                        item,
                        section,
                        "a string",
                        format!("`{name} = \"...\"`"),
                    );
                    continue;
                }
            };
            out.push(EnvVar {
                name: name.to_string(),
                value,
                line,
            });
        }
        out
    }

    fn targets(&mut self, t: &dyn TableLike) -> Vec<NamedTarget> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            let (line, _) = self.pos(key.span());
            if matches!(name, "lock" | "local") {
                self.error(
                    key.span(),
                    format!("target name `{name}` is reserved"),
                    format!(
                        "choose another name; `{name}` already means {}",
                        if name == "lock" {
                            "the lock"
                        } else {
                            "this machine"
                        }
                    ),
                );
            } else if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || name.is_empty()
            {
                self.error(
                    key.span(),
                    format!("target name `{name}` is not a valid name"),
                    "use letters, digits, `-` and `_`".into(),
                );
            }
            let Some(target) = self.string(key, item, "targets", "\"ssh://deploy@prod-api-1\"")
            else {
                continue;
            };
            if let Some(Err(e)) = target
                .strip_prefix("ssh://")
                .map(crate::destination::parse_ssh_destination)
            {
                self.error(
                    item.span(),
                    format!("target `{target}` of `{name}` in [targets] is not a valid ssh destination: {e}"),
                    "write `ssh://[user@]host[:port]` with a host name, an IPv4 address or an IPv6 address in brackets".into(),
                );
            } else if !is_target(target) {
                self.error(
                    item.span(),
                    format!("target `{target}` of `{name}` in [targets] is not a target envsync can read"),
                    "write `local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]` or a snapshot file `NAME.json`".into(),
                );
            }
            out.push(NamedTarget {
                name: name.to_string(),
                target: target.to_string(),
                line,
            });
        }
        out
    }

    fn policy(&mut self, t: &dyn TableLike) -> Policy {
        self.check_keys(t, "policy", &["fail_on", "ignore"]);
        let mut policy = Policy::default();
        const KINDS: &[&str] = &["missing", "extra", "changed"];
        if let Some((k, v)) = t.get_key_value("fail_on") {
            let kinds = self.strings(k, v, "policy", "[\"missing\", \"changed\"]");
            policy.fail_on.clear();
            for kind in kinds {
                match kind.as_str() {
                    "missing" => policy.fail_on.push(DriftKind::Missing),
                    "extra" => policy.fail_on.push(DriftKind::Extra),
                    "changed" => policy.fail_on.push(DriftKind::Changed),
                    other => {
                        let fix = match suggest(other, KINDS) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("use {}", list(KINDS)),
                        };
                        self.error(
                            v.span(),
                            format!("unknown drift kind `{other}` in `fail_on` of [policy]"),
                            fix,
                        );
                    }
                }
            }
            policy.fail_on.sort();
            policy.fail_on.dedup();
        }
        if let Some((k, v)) = t.get_key_value("ignore") {
            let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
            if let Some(array) = v.as_array() {
                for entry in array.iter() {
                    match entry.as_inline_table() {
                        Some(it) => tables.push((it as &dyn TableLike, entry.span())),
                        None => self.error(
                            entry.span(),
                            format!("entry of `ignore` in [policy] must be a table, found {}", value_type_name(entry)),
                            "write `{ component = \"deb:tzdata\", reason = \"why\", until = \"2027-03-01\" }`".into(),
                        ),
                    }
                }
            } else if let Some(array) = v.as_array_of_tables() {
                for entry in array.iter() {
                    tables.push((entry as &dyn TableLike, entry.span()));
                }
            } else {
                self.wrong_type(
                    k,
                    v,
                    "policy",
                    "an array of tables",
                    "`ignore = [{ component = \"deb:tzdata\", reason = \"why\", until = \"2027-03-01\" }]`".into(),
                );
            }
            for (entry, span) in tables {
                if let Some(ignore) = self.ignore(entry, span) {
                    policy.ignore.push(ignore);
                }
            }
        }
        policy
    }

    fn ignore(&mut self, t: &dyn TableLike, span: Option<Range<usize>>) -> Option<Ignore> {
        let section = "policy.ignore";
        self.check_keys(t, section, &["component", "reason", "until"]);
        let (line, _) = self.pos(span.clone());
        let component = match t.get_key_value("component") {
            Some((k, v)) => self
                .string(k, v, section, "\"deb:tzdata\"")
                .map(str::to_string),
            None => {
                self.error(
                    span.clone(),
                    "ignore without a `component`".into(),
                    "add `component = \"ECOSYSTEM:NAME\"`, e.g. `\"deb:tzdata\"` or `\"pypi:*\"`"
                        .into(),
                );
                None
            }
        };
        let id = component.clone().unwrap_or_default();
        if let (Some(c), Some((_, v))) = (&component, t.get_key_value("component")) {
            match c.split_once(':') {
                Some((eco, name)) if Ecosystem::parse(eco).is_some() && !name.is_empty() => {}
                Some((eco, name)) if !name.is_empty() => {
                    let names: Vec<&str> = Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
                    let fix = match suggest(eco, &names) {
                        Some(s) => format!("did you mean `{s}:{name}`?"),
                        None => format!("ecosystems are {}", list(&names)),
                    };
                    self.error(
                        v.span(),
                        format!("unknown ecosystem `{eco}` in ignored component `{c}`"),
                        fix,
                    );
                }
                _ => self.error(
                    v.span(),
                    format!("ignored component `{c}` is not `ECOSYSTEM:NAME`"),
                    "write e.g. `component = \"deb:tzdata\"`, or `\"deb:*\"` for a whole ecosystem"
                        .into(),
                ),
            }
        }
        let reason = match t.get_key_value("reason") {
            Some((k, v)) => {
                let reason = self
                    .string(k, v, section, "\"why this drift is accepted\"")
                    .unwrap_or_default();
                if v.as_str().is_some() && reason.trim().is_empty() {
                    self.error(
                        v.span(),
                        format!("ignore of `{id}` has an empty `reason`"),
                        "say why this drift is accepted, so the next reader can judge it".into(),
                    );
                }
                reason.to_string()
            }
            None => {
                self.error(
                    span.clone(),
                    format!("ignore of `{id}` has no `reason`"),
                    "add `reason = \"...\"` saying why this drift is accepted".into(),
                );
                String::new()
            }
        };
        let until = match t.get_key_value("until") {
            Some((k, v)) => {
                let text = match (v.as_str(), v.as_datetime()) {
                    (Some(s), _) => Some(s.to_string()),
                    (None, Some(dt)) => Some(dt.to_string()),
                    _ => {
                        self.wrong_type(k, v, section, "a date", "`until = \"2027-03-01\"`".into());
                        None
                    }
                };
                match text.as_deref().map(|t| (t, Date::parse(t))) {
                    Some((_, Some(date))) => {
                        let (line, column) = self.pos(v.span());
                        self.expiries.push(Expiry {
                            component: id.clone(),
                            date,
                            line,
                            column,
                        });
                        Some(date)
                    }
                    Some((text, None)) => {
                        self.error(
                            v.span(),
                            format!("`until` of ignore `{id}` is not a date: `{text}`"),
                            "write a calendar date as `until = \"YYYY-MM-DD\"`".into(),
                        );
                        None
                    }
                    None => None,
                }
            }
            None => {
                self.error(
                    span,
                    format!("ignore of `{id}` has no `until` date"),
                    "add `until = \"YYYY-MM-DD\"`: accepted drift is reviewed when it expires"
                        .into(),
                );
                None
            }
        };
        component.map(|component| Ignore {
            component,
            reason,
            until,
            line: Some(line),
        })
    }
}

/// The key/item pairs of a table, with the keys' spans.
fn entries(t: &dyn TableLike) -> Vec<(&Key, &Item)> {
    t.iter().filter_map(|(k, _)| t.get_key_value(k)).collect()
}

fn section_prefix(section: &str) -> String {
    if section.is_empty() {
        String::new()
    } else {
        format!("{section}.")
    }
}

/// The closest candidate to a misspelt `word`, if one is close enough to be a likely typo.
fn suggest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => value_type_name(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn value_type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

fn ecosystem_label(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Deb => "Debian",
        Ecosystem::Apk => "Alpine",
        Ecosystem::Rpm => "RPM",
        Ecosystem::Pypi => "PyPI",
        Ecosystem::Npm => "npm",
        Ecosystem::Runtime => "runtime",
        Ecosystem::Service => "service",
        Ecosystem::File => "file",
        Ecosystem::Env => "environment",
    }
}

fn constraint_example(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Deb => {
            "an exact Debian version such as `3.0.15-1~deb12u1`, or a prefix such as `3.0.*`"
        }
        Ecosystem::Apk => "an exact Alpine version such as `3.1.4-r5`, or a prefix such as `3.1.*`",
        Ecosystem::Rpm => "an exact RPM version such as `3.0.7-27.el9`",
        Ecosystem::Pypi => "a PEP 440 specifier such as `==4.2.7` or `~=4.2`",
        Ecosystem::Npm => "an npm version or range such as `4.18.2` or `^4.18`",
        _ => "a version such as `3.11` or `15.10`",
    }
}

fn constraint_example_literal(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Deb => "\"3.0.15-1~deb12u1\"",
        Ecosystem::Apk => "\"3.1.4-r5\"",
        Ecosystem::Pypi => "\"==4.2.7\"",
        Ecosystem::Npm => "\"4.18.2\"",
        _ => "\"3.11\"",
    }
}

/// Why `name` is not a valid package name in `eco`, if it is not.
fn name_problem(eco: Ecosystem, name: &str) -> Option<&'static str> {
    let ok = match eco {
        Ecosystem::Deb => {
            let (pkg, arch) = match name.split_once(':') {
                Some((p, a)) => (p, Some(a)),
                None => (name, None),
            };
            pkg.len() >= 2
                && pkg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && pkg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
                && arch.is_none_or(|a| {
                    !a.is_empty()
                        && a.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                })
        }
        Ecosystem::Apk => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
        }
        Ecosystem::Pypi => {
            let base = name.split('[').next().unwrap_or(name);
            let extras_ok = match name.find('[') {
                Some(i) => {
                    name.ends_with(']')
                        && name[i + 1..name.len() - 1]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || ",-_. ".contains(c))
                }
                None => true,
            };
            !base.is_empty()
                && base.starts_with(|c: char| c.is_ascii_alphanumeric())
                && base.ends_with(|c: char| c.is_ascii_alphanumeric())
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && extras_ok
        }
        Ecosystem::Npm => {
            let bare = name
                .strip_prefix('@')
                .and_then(|s| s.split_once('/'))
                .map_or(name, |(_, n)| n);
            !bare.is_empty()
                && name.len() <= 214
                && !name.starts_with(['.', '_'])
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~@/".contains(c))
        }
        _ => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }
    };
    if ok {
        return None;
    }
    Some(match eco {
        Ecosystem::Deb => "Debian package names are lowercase letters, digits, `+`, `-` and `.`, optionally followed by `:ARCH`",
        Ecosystem::Apk => "Alpine package names are letters, digits, `+`, `-`, `.` and `_`",
        Ecosystem::Pypi => "PyPI names are letters, digits, `-`, `_` and `.`, optionally with `[extras]`",
        Ecosystem::Npm => "npm names are lowercase letters, digits, `-`, `.`, `_` and `~`, optionally scoped as `@scope/name`",
        _ => "names are letters, digits, `-`, `_` and `.`",
    })
}

fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn is_image_ref(image: &str) -> bool {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (repo, tag) = split_image(name);
    !repo.is_empty()
        && !repo.starts_with(['/', '-', '.', ':'])
        && !repo.ends_with('/')
        && repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        && tag.is_none_or(|t| {
            !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
        && digest.is_none_or(is_digest)
}

fn is_target(target: &str) -> bool {
    if target == "local" {
        return true;
    }
    if let Some(path) = target.strip_prefix("local:") {
        return path.starts_with('/');
    }
    if let Some(name) = target.strip_prefix("docker:") {
        return !name.is_empty() && !name.contains(char::is_whitespace);
    }
    if let Some(image) = target.strip_prefix("image:") {
        return is_image_ref(image);
    }
    if let Some(rest) = target.strip_prefix("ssh://") {
        return crate::destination::parse_ssh_destination(rest).is_ok();
    }
    target.ends_with(".json") && target.len() > 5
}

fn parse_port(v: &Value) -> Option<PortMapping> {
    if let Some(p) = v.as_integer() {
        let p = u16::try_from(p).ok().filter(|p| *p > 0)?;
        return Some(PortMapping {
            host_ip: None,
            host: p,
            container: p,
        });
    }
    let text = v.as_str()?;
    let parts: Vec<&str> = text.split(':').collect();
    let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0);
    match parts.as_slice() {
        [c] => port(c).map(|p| PortMapping {
            host_ip: None,
            host: p,
            container: p,
        }),
        [h, c] => Some(PortMapping {
            host_ip: None,
            host: port(h)?,
            container: port(c)?,
        }),
        [ip, h, c] => Some(PortMapping {
            host_ip: Some(ip.parse::<IpAddr>().ok()?),
            host: port(h)?,
            container: port(c)?,
        }),
        _ => None,
    }
}

/// Parse `500ms`, `5s`, `1m30s`, `2h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(unit)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date {
        year: 2026,
        month: 11,
        day: 26,
    };

    const HEAD: &str = "[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\n";

    fn parse(text: &str) -> Result<Manifest, ManifestErrors> {
        Manifest::parse_on(text, Path::new("envsync.toml"), TODAY)
    }

    /// Parse `HEAD + body` and compare the errors (one per line), or "" for a valid manifest.
    fn check(body: &str, expected: &str) {
        let text = format!("{HEAD}{body}");
        let got = match parse(&text) {
            Ok(_) => String::new(),
            Err(errors) => errors.to_string(),
        };
        assert_eq!(got, expected.trim(), "manifest:\n{text}");
    }

    #[test]
    fn valid_minimal() {
        check("", "");
        let m = parse(HEAD).unwrap();
        assert_eq!(m.project.name, "app");
        assert_eq!(m.base.image, "debian:bookworm");
        assert_eq!(m.policy, Policy::default());
        assert_eq!(m.sha256, hex::encode(Sha256::digest(HEAD.as_bytes())));
    }

    #[test]
    fn unknown_keys_suggest() {
        check(
            "[python]\npakages = { django = \"==4.2.7\" }\n",
            "unknown key `pakages` in [python] at envsync.toml:6:1; did you mean `packages`?",
        );
        check(
            "[pyhton]\nversion = \"3.11\"\n",
            "unknown section `[pyhton]` at envsync.toml:5:2; did you mean `[python]`?",
        );
        check(
            "[services.pg]\nversion = \"15\"\nprot = 5432\n",
            "unknown key `prot` in [services.pg] at envsync.toml:7:1; did you mean `port`?",
        );
        check(
            "[policy]\nxyzzy = 1\n",
            "unknown key `xyzzy` in [policy] at envsync.toml:6:1; known keys are `fail_on`, `ignore`",
        );
    }

    #[test]
    fn wrong_types() {
        check(
            "[apt]\nopenssl = 3\n",
            "`openssl` in [apt] must be a string, found an integer at envsync.toml:6:11; write `openssl = \"3\"` (quoted)",
        );
        check(
            "[services.pg]\nversion = \"15\"\nport = \"5432\"\n",
            "`port` in [services.pg] must be a port number from 1 to 65535, found a string at envsync.toml:7:8; write `port = 5432` (a number, unquoted)",
        );
        check(
            "[env]\nSECRET = 12345\n",
            "value of `SECRET` in [env] must be a string, found an integer at envsync.toml:6:10; quote it: `SECRET = \"...\"`",
        );
    }

    #[test]
    fn constraints_checked_per_ecosystem() {
        let text =
            format!("{HEAD}[python.packages]\ndjango = \"~=4.2.x\"\n[apt]\nopenssl = \"3.0.*\"\n");
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors}");
        let e = &errors.errors[0];
        assert_eq!((e.line, e.column), (6, 10));
        assert!(
            e.message.starts_with(
                "version `~=4.2.x` of `django` in [python.packages] is not a valid PyPI constraint"
            ),
            "{e}"
        );
        assert!(!e.fix.is_empty());
    }

    #[test]
    fn services() {
        check(
            "[services.pg]\nversion = \"15\"\nport = 5432\n[services.replica]\nversion = \"15\"\nports = [\"5432:5432\"]\n",
            "host port 5432 of [services.replica] is already published by [services.pg] (line 7, column 8) at envsync.toml:10:9; publish another host port, e.g. `ports = [\"5433:5432\"]`",
        );
        check(
            "[services.Pg]\nversion = \"15\"\n[services.pg]\nversion = \"15\"\n",
            "service name `Pg` is not a valid name at envsync.toml:5:11; use lowercase letters, digits, `-` and `_` (it becomes a host name on the project network)\n\
             service `pg` duplicates service `Pg` declared at line 5 (service names are host names, compared without case and with `_` as `-`) at envsync.toml:7:11; remove one of them, or give them distinct names",
        );
        check(
            "[services.pg]\nversion = \"15\"\n[services.pg]\nport = 1\n",
            "TOML error: `pg` is declared twice at envsync.toml:7:1; merge the two declarations of `pg` into one",
        );
        check(
            "[services.pg]\nimage = \"postgres:latest\"\n",
            "[services.pg] has no `version` at envsync.toml:5:11; add the version it must run, e.g. `version = \"15.10\"`\n\
             image `postgres:latest` in [services.pg] is not pinned at envsync.toml:6:9; name an exact tag or digest, e.g. `image = \"postgres:15.10\"`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nimage = \"postgres:16.1-bookworm\"\n",
            "image `postgres:16.1-bookworm` in [services.pg] does not match `version = \"15\"` at envsync.toml:7:9; make the image tag and `version` name the same release",
        );
        let m = parse(&format!(
            "{HEAD}[services.pg]\nversion = \"15\"\nports = [5432, \"127.0.0.1:16379:6379\"]\n\
             healthcheck = {{ test = \"pg_isready\", interval = \"1m30s\", retries = 3 }}\npackages = {{ postgresql-15 = \"15.20-0+deb12u1\" }}\n"
        ))
        .unwrap();
        let pg = &m.services[0];
        assert_eq!(
            pg.ports[1],
            PortMapping {
                host_ip: Some(DEFAULT_HOST_IP),
                host: 16379,
                container: 6379
            }
        );
        let hc = pg.healthcheck.as_ref().unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "pg_isready"]);
        assert_eq!(hc.interval, Some(Duration::from_secs(90)));
        assert_eq!(
            m.locate(Ecosystem::Deb, "postgresql-15")
                .map(|l| l.to_string())
                .as_deref(),
            Some("envsync.toml:9:14")
        );
        assert_eq!(m.declared()[1].location.as_deref(), Some("service:pg"));
    }

    #[test]
    fn volumes_parse_into_mounts() {
        let m = parse(&format!(
            "{HEAD}[services.pg]\nversion = \"15\"\nvolumes = [\"pgdata:/data\", \"./conf:/etc/pg:ro\", \"/srv/x:/x:rw\"]\n"
        ))
        .unwrap();
        let mount = |source: &str, target: &str, read_only| VolumeMount {
            source: source.into(),
            target: target.into(),
            read_only,
        };
        assert_eq!(
            m.services[0].volumes,
            [
                mount("pgdata", "/data", false),
                mount("./conf", "/etc/pg", true),
                mount("/srv/x", "/x", false)
            ]
        );
        let kinds: Vec<MountKind> = m.services[0]
            .volumes
            .iter()
            .map(VolumeMount::kind)
            .collect();
        assert_eq!(kinds, [MountKind::Volume, MountKind::Bind, MountKind::Bind]);
        check(
            "[services.pg]\nversion = \"15\"\nvolumes = [\"pgdata:/data\", \"pgdata:/data:ro,z\"]\n",
            "volume `pgdata:/data:ro,z` in [services.pg] has the option `ro,z`, which envsync does not apply at envsync.toml:7:28; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nvolumes = [\"pgdata:data\"]\n",
            "volume `pgdata:data` in [services.pg] has no absolute container path at envsync.toml:7:12; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nvolumes = [\":/data\", \"my data:/data\"]\n",
            "volume `:/data` in [services.pg] has no source at envsync.toml:7:12; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`\n\
             volume `my data:/data` in [services.pg] names the volume `my data`, which is neither a volume name (letters, digits, `_`, `.`, `-`) nor a path starting with `/` or `.` at envsync.toml:7:22; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`",
        );
    }

    #[test]
    fn port_host_addresses() {
        let m = parse(&format!(
            "{HEAD}[services.a]\nversion = \"1\"\nports = [\"127.0.0.2:8080:80\", \"8080:81\"]\n[services.b]\nversion = \"1\"\nports = [\"127.0.0.3:8080:80\"]\n"
        ))
        .unwrap();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(m.services[0].ports[0].host_ip, Some(ip("127.0.0.2")));
        assert_eq!(m.services[0].ports[1].host_ip, None);
        assert_eq!(m.services[0].ports[1].effective_host_ip(), ip("127.0.0.1"));
        check(
            "[services.a]\nversion = \"1\"\nports = [\"0.0.0.0:8080:80\"]\n[services.b]\nversion = \"1\"\nport = 8080\n",
            "host port 8080 of [services.b] is already published by [services.a] (line 7, column 9) at envsync.toml:10:8; publish another host port, e.g. `ports = [\"8081:8080\"]`",
        );
        check(
            "[services.a]\nversion = \"1\"\nports = [\"8080:80\", \"8081:80\"]\n",
            "container port 80 of [services.a] is published twice at envsync.toml:7:9; publish each container port once",
        );
        check(
            "[services.a]\nversion = \"1\"\nports = [\"localhost:8080:80\"]\n",
            "port `\"localhost:8080:80\"` in [services.a] is not a port mapping at envsync.toml:7:10; write a port number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`, `\"127.0.0.1:15432:5432\"`)",
        );
    }

    #[test]
    fn clash_rule() {
        let at = |ip: &str, port: u16| (ip.parse::<IpAddr>().unwrap(), port);
        for (a, b, clash) in [
            (at("127.0.0.1", 80), at("127.0.0.1", 80), true),
            (at("127.0.0.1", 80), at("127.0.0.1", 81), false),
            (at("127.0.0.1", 80), at("127.0.0.2", 80), false),
            (at("0.0.0.0", 80), at("127.0.0.2", 80), true),
            (at("127.0.0.2", 80), at("0.0.0.0", 80), true),
            (at("::", 80), at("127.0.0.1", 80), true),
            (at("::1", 80), at("127.0.0.1", 80), false),
        ] {
            assert_eq!(host_ports_clash(a, b), clash, "{a:?} {b:?}");
        }
    }

    #[test]
    fn policy_ignores() {
        check(
            "[policy]\nignore = [{ component = \"deb:tzdata\", until = \"2027-03-01\" }]\n",
            "ignore of `deb:tzdata` has no `reason` at envsync.toml:6:11; add `reason = \"...\"` saying why this drift is accepted",
        );
        check(
            "[policy]\nignore = [{ component = \"deb:tzdata\", reason = \"host\", until = \"2020-01-01\" }]\n",
            "ignore of `deb:tzdata` expired on 2020-01-01 (today is 2026-11-26) at envsync.toml:6:64; fix the drift and remove the ignore, or set a later `until` with a fresh reason",
        );
        check(
            "[policy]\nignore = [{ component = \"deb:tzdata\", reason = \"host\", until = \"2027-02-30\" }]\n",
            "`until` of ignore `deb:tzdata` is not a date: `2027-02-30` at envsync.toml:6:64; write a calendar date as `until = \"YYYY-MM-DD\"`",
        );
        check(
            "[policy]\nfail_on = [\"misssing\"]\n[[policy.ignore]]\ncomponent = \"dep:tzdata\"\nreason = \"r\"\nuntil = 2027-03-01\n",
            "unknown drift kind `misssing` in `fail_on` of [policy] at envsync.toml:6:11; did you mean `missing`?\n\
             unknown ecosystem `dep` in ignored component `dep:tzdata` at envsync.toml:8:13; did you mean `deb:tzdata`?",
        );
        let m = parse(&format!(
            "{HEAD}[policy]\nfail_on = [\"extra\"]\nignore = [{{ component = \"pypi:*\", reason = \"vendored\", until = 2027-03-01 }}]\n"
        ))
        .unwrap();
        assert_eq!(m.policy.fail_on, [DriftKind::Extra]);
        assert_eq!(m.policy.ignore[0].until, Date::parse("2027-03-01"));
        assert_eq!(m.policy.ignore[0].line, Some(7));
    }

    #[test]
    fn expiry_is_judged_apart_from_parsing() {
        let text = format!(
            "{HEAD}[policy]\nignore = [\n  {{ component = \"deb:a\", reason = \"r\", until = \"2026-11-25\" }},\n  {{ component = \"deb:b\", reason = \"r\", until = \"2026-11-26\" }},\n]\n"
        );
        let m = Manifest::parse(&text, Path::new("envsync.toml")).unwrap();
        assert_eq!(m.policy.ignore.len(), 2);
        let expired: Vec<String> = m
            .expired_ignores(TODAY)
            .iter()
            .map(Diagnostic::to_string)
            .collect();
        assert_eq!(
            expired,
            ["ignore of `deb:a` expired on 2026-11-25 (today is 2026-11-26) at envsync.toml:7:48; fix the drift and remove the ignore, or set a later `until` with a fresh reason"]
        );
        let later = Date::parse("2026-11-27").unwrap();
        assert_eq!(m.expired_ignores(later).len(), 2);
        let earlier = Date::parse("2026-11-25").unwrap();
        assert!(m.expired_ignores(earlier).is_empty());
        // parse_on judges as validate does: the expiry is one error among the others.
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors.to_string(), expired[0]);
    }

    #[test]
    fn os_package_sections() {
        check(
            "[apk]\nmusl = \"1.2.4-r2\"\n",
            "[apk] packages declared on the non-Alpine base `debian:bookworm` at envsync.toml:5:2; declare them in [apt], or use an Alpine base image",
        );
        let alpine = "[project]\nname = \"a\"\n[base]\nimage = \"python:3.11-alpine3.19\"\n[apk]\nmusl = \"1.2.4-r2\"\n";
        let m = parse(alpine).unwrap();
        assert_eq!(m.os_ecosystem(), Ecosystem::Apk);
        assert_eq!(m.declared()[0].ecosystem, Ecosystem::Apk);
    }

    #[test]
    fn missing_sections_and_syntax() {
        let errors = parse("[apt]\nopenssl = \"3.0.*\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            errors,
            "missing [project] in envsync.toml; add `[project]` with `name = \"my-app\"`\n\
             missing [base] in envsync.toml; add `[base]` with `image = \"debian:bookworm\"`"
        );
        let errors = parse("[project\nname = 1\n").unwrap_err();
        assert_eq!((errors.errors[0].line, errors.errors[0].column), (1, 9));
        assert!(errors.errors[0].message.starts_with("TOML error"));
    }

    #[test]
    fn declared_and_locate() {
        let m = parse(&format!(
            "{HEAD}[runtimes]\nnode = \"18\"\n[python]\nversion = \"3.11\"\n[python.venvs.\"/opt/app/venv\".packages]\nDjango_Rest = \"==3.15.2\"\n\
             [node.packages]\nexpress = \"^4.18.2\"\n[files]\n\"/etc/a.ini\" = \"a.ini\"\n[env]\nTZ = \"UTC\"\n"
        ))
        .unwrap();
        let got: Vec<String> = m
            .declared()
            .iter()
            .map(|d| {
                format!(
                    "{}:{} {} {:?} {}:{}",
                    d.ecosystem, d.name, d.constraint, d.location, d.line, d.column
                )
            })
            .collect();
        let tz = hex::encode(Sha256::digest(b"UTC"));
        assert_eq!(
            got,
            [
                "runtime:node 18 None 6:1".to_string(),
                "runtime:python 3.11 None 8:1".to_string(),
                "pypi:Django_Rest ==3.15.2 Some(\"/opt/app/venv\") 10:1".to_string(),
                "npm:express ^4.18.2 None 12:1".to_string(),
                "file:/etc/a.ini a.ini None 14:1".to_string(),
                format!("env:TZ sha256:{tz} None 16:1"),
            ]
        );
        assert_eq!(m.locate(Ecosystem::Pypi, "django-rest").unwrap().line, 10);
        assert!(m.locate_at(Ecosystem::Pypi, "django-rest", None).is_none());
        assert!(m.locate(Ecosystem::Deb, "django-rest").is_none());
    }

    #[test]
    fn targets_and_files() {
        check(
            "[targets]\nprod = \"ssh:/deploy@prod\"\nlock = \"local\"\n[files]\n\"etc/a.ini\" = \"/abs/a.ini\"\n",
            "target `ssh:/deploy@prod` of `prod` in [targets] is not a target envsync can read at envsync.toml:6:8; write `local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]` or a snapshot file `NAME.json`\n\
             target name `lock` is reserved at envsync.toml:7:1; choose another name; `lock` already means the lock\n\
             `etc/a.ini` in [files] is not an absolute path in the environment at envsync.toml:9:1; write the destination as an absolute path, e.g. `\"/etc/app/a.ini\"`\n\
             local file `/abs/a.ini` of `etc/a.ini` in [files] is not a path relative to the manifest at envsync.toml:9:15; keep the file next to the manifest and write its relative path, e.g. `\"config/settings.ini\"`",
        );
    }

    #[test]
    fn ssh_targets_are_host_names() {
        const HINT: &str = "write `ssh://[user@]host[:port]` with a host name, an IPv4 address or an IPv6 address in brackets";
        check(
            "[targets]\nprod = \"ssh://a$(touch x)\"\nopt = \"ssh://-oProxyCommand=x\"\nport = \"ssh://deploy@host:99999\"\nuser = \"ssh://-l@host\"\n",
            &format!(
                "target `ssh://a$(touch x)` of `prod` in [targets] is not a valid ssh destination: the host `a$(touch x)` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123) at envsync.toml:6:8; {HINT}\n\
                 target `ssh://-oProxyCommand=x` of `opt` in [targets] is not a valid ssh destination: the host `-oProxyCommand=x` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123) at envsync.toml:7:7; {HINT}\n\
                 target `ssh://deploy@host:99999` of `port` in [targets] is not a valid ssh destination: `99999` is not a port number (1-65535) at envsync.toml:8:8; {HINT}\n\
                 target `ssh://-l@host` of `user` in [targets] is not a valid ssh destination: the user `-l` is not a user name: use ASCII letters, digits, `.`, `_` and `-`, not starting with `-` at envsync.toml:9:8; {HINT}"
            ),
        );
        let m = parse(&format!(
            "{HEAD}[targets]\nprod = \"ssh://deploy@prod-api-1\"\nv4 = \"ssh://10.0.0.7:2222\"\nv6 = \"ssh://root@[::1]:22\"\n"
        ))
        .unwrap();
        assert_eq!(m.targets.len(), 3);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn pypi_names_normalize() {
        assert_eq!(
            normalize_name(Ecosystem::Pypi, "Django_REST..framework"),
            "django-rest-framework"
        );
        assert_eq!(normalize_name(Ecosystem::Npm, "Express"), "Express");
    }
}
