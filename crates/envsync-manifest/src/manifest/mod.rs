//! The manifest (`envsync.toml`): its model, and a parser that validates everything at
//! once and reports every problem with its file, line, column and a fix.
//!
//! The format is documented in `docs/manifest.md`. Parsing keeps byte spans (through
//! `toml_edit::ImDocument`) so that every declared component remembers its line, and a
//! drift report can point at the manifest line a running environment violates.

//! The code is cut by section: `model` holds the data types, `ctx` the parse context
//! every section reads through, `sections` the document and `[project]`/`[base]`, then
//! one file per group of sections (`packages`, `services`, `sources`, `files`,
//! `policy`); `ports`, `volumes` and `names` are the value parsers and helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use toml_edit::ImDocument;

use crate::bounded::{read_capped, show_size, CappedReadError, MAX_MANIFEST_BYTES};
use crate::diag::{Diagnostic, LineIndex, ManifestErrors, SourceLocation};
use crate::policy::{Date, Policy};
use crate::version::Ecosystem;

mod ctx;
mod dev;
mod files;
mod model;
pub mod names;
mod packages;
mod policy;
mod ports;
mod sections;
mod services;
mod sources;
mod stack;
#[cfg(test)]
mod testing;
mod volumes;

use ctx::Ctx;
pub use model::{
    deb_line_url, Base, Build, Dependency, Dev, DevUser, EnvVar, FileEntry, Healthcheck,
    NamedTarget, Node, PackageSet, Project, Python, Requirement, Restart, Service, Sources,
};
use names::is_alpine_image;
pub use names::{normalize_name, parse_duration, runtime_meant, RUNTIME_NAMES};
pub use ports::{host_ports_clash, PortMapping, DEFAULT_HOST_IP};
pub use stack::{SelectError, DEV_NAME};
pub use volumes::{MountKind, VolumeMount};

/// A parsed, valid manifest. Every list keeps the order of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The path it was read from, as given (messages print it as given).
    pub file: PathBuf,
    /// The semantic sha256 (lowercase hex) of what determines the environment (see
    /// [`crate::digest`]); the lock records it to detect staleness.
    pub sha256: String,
    /// A short hash per section (`apt`, `services.redis`, …), so a stale lock can say
    /// which sections changed.
    pub sections: BTreeMap<String, String>,
    /// Every value of those sections, one per line (`[apt] curl` → `"7.88.*"`; see
    /// [`crate::digest::changed_entries`]), so a rebuild can name what changed.
    pub entries: BTreeMap<String, String>,
    /// sha256 of the file's bytes, as locks written before the semantic hash record it.
    pub file_sha256: String,
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
    /// How the development container runs (`[dev]`).
    pub dev: Option<Dev>,
    /// Files copied into the environment and hashed (`[files]`).
    pub files: Vec<FileEntry>,
    /// Environment variables (`[env]`); snapshots hold their hashes, never the values.
    pub env: Vec<EnvVar>,
    pub build: Build,
    /// Package sources besides the base image's own (`[sources]`).
    pub sources: Sources,
    /// Named targets (`[targets]`), usable wherever a target is.
    pub targets: Vec<NamedTarget>,
    /// More directories `fingerprint`, `diff` and `check` search for Python and npm
    /// packages and interpreters on a target (`[collect] roots`), absolute paths.
    pub collect_roots: Vec<String>,
    pub policy: Policy,
    /// Every declared component, in file order. See [`Manifest::declared`].
    declared: Vec<Declared>,
    /// The `until` of every ignore, where it is written. See [`Manifest::expired_ignores`].
    expiries: Vec<Expiry>,
}

/// An ignore's expiry date and the position of its `until` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Expiry {
    component: String,
    date: Date,
    line: usize,
    column: usize,
}

/// A component the manifest declares, flattened across sections: what a lock and a
/// snapshot are checked against.
///
/// `constraint` is the version constraint in the ecosystem's syntax; for `file` it is the
/// local path (relative to the manifest) whose content the file must have (`[env]` is
/// run-time configuration, not declared). `location` is the virtualenv or Node project directory,
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

    /// The manifest's text, read once and at most [`MAX_MANIFEST_BYTES`] of it; a larger
    /// file is an error naming the cap, and not being UTF-8 is an error at the first bad
    /// byte.
    fn read(path: &Path) -> Result<String, ManifestErrors> {
        let bytes = read_capped(path, MAX_MANIFEST_BYTES).map_err(|err| {
            let err = match err {
                CappedReadError::Io(err) => err,
                CappedReadError::TooLarge => {
                    return ManifestErrors::whole_file(
                        path,
                        format!(
                            "the manifest is larger than {}, the most envsync reads",
                            show_size(MAX_MANIFEST_BYTES)
                        ),
                        "check that the path names the manifest (a real one is a few KiB)".into(),
                    )
                }
            };
            let (message, fix) = match err.kind() {
                std::io::ErrorKind::NotFound => (
                    "manifest does not exist".to_string(),
                    "create it, or pass its path with `--manifest PATH`",
                ),
                std::io::ErrorKind::PermissionDenied => (
                    "cannot read manifest: permission denied".to_string(),
                    "make it readable by this user (`chmod a+r`), or run envsync as a user who may read it",
                ),
                _ => (
                    format!("cannot read manifest: {err}"),
                    "check that the path names a readable file",
                ),
            };
            ManifestErrors::whole_file(path, message, fix.into())
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
        (manifest.sha256, manifest.sections) = crate::digest::digest(doc.as_table());
        manifest.entries = crate::digest::entries(doc.as_table());
        manifest.file_sha256 = hex::encode(Sha256::digest(text.as_bytes()));
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
    // A service's files are declared in that service's image.
    let service_files = m.services.iter().flat_map(|s| {
        let location = format!("service:{}", s.name);
        s.files.iter().map(move |f| (f, Some(location.clone())))
    });
    for (f, location) in m.files.iter().map(|f| (f, None)).chain(service_files) {
        out.push(Declared {
            ecosystem: Ecosystem::File,
            name: f.container_path.clone(),
            constraint: f.local_path.clone(),
            location,
            line: f.line,
            column: f.column,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn valid_minimal() {
        check("", "");
        let m = parse(HEAD).unwrap();
        assert_eq!(m.project.name, "app");
        assert_eq!(m.base.image, "debian:bookworm");
        assert_eq!(m.policy, Policy::default());
        assert_eq!(m.file_sha256, hex::encode(Sha256::digest(HEAD.as_bytes())));
        assert_eq!(m.sha256.len(), 64);
        assert_eq!(
            m.sections.keys().collect::<Vec<_>>(),
            ["base", "project"],
            "one hash per section"
        );
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
        // `[env]` is run-time configuration, not a component of the image.
        assert_eq!(
            got,
            [
                "runtime:node 18 None 6:1".to_string(),
                "runtime:python 3.11 None 8:1".to_string(),
                "pypi:Django_Rest ==3.15.2 Some(\"/opt/app/venv\") 10:1".to_string(),
                "npm:express ^4.18.2 None 12:1".to_string(),
                "file:/etc/a.ini a.ini None 14:1".to_string(),
            ]
        );
        assert_eq!(m.locate(Ecosystem::Pypi, "django-rest").unwrap().line, 10);
        assert!(m.locate_at(Ecosystem::Pypi, "django-rest", None).is_none());
        assert!(m.locate(Ecosystem::Deb, "django-rest").is_none());
    }
}
