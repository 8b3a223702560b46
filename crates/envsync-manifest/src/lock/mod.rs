//! The lock (`envsync.lock`): the exact versions of everything every image built from a
//! manifest contains (the development image and each middleware service), with the
//! checksum of each artifact, in a canonical, sorted, one-component-per-line TOML form;
//! and the check that it is still up to date with its manifest.
//!
//! The same lock always serialises to the same bytes (see `docs/manifest.md`, "The lock").
//! Reading is in `lock/parse.rs`, writing in `lock/write.rs`.

mod artifact;
mod changes;
mod parse;
pub use changes::VersionChange;
mod write;

pub use artifact::{attach_artifacts, carry_over_checksums, Artifact};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bounded::{read_capped, CappedReadError, MAX_LOCK_BYTES};
use crate::diag::SourceLocation;
use crate::error::LockError;
use crate::manifest::{normalize_name, Declared, Manifest};
use crate::version::Ecosystem;

/// The schema id written into every lock.
pub const LOCK_SCHEMA: &str = "envsync.lock/v2";

/// The first schema: the development image only, without checksums. Still read, so that
/// `lock --check` can say what to do about it.
pub const LOCK_SCHEMA_V1: &str = "envsync.lock/v1";

/// A parsed lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Where it was read from (empty for a lock built in memory).
    pub file: PathBuf,
    /// The schema it was read as ([`LOCK_SCHEMA`] for a lock built in memory).
    pub schema: &'static str,
    /// The semantic sha256 of the manifest the lock was made from (see
    /// [`crate::digest`]); locks written before it record the file's sha256.
    pub manifest_sha256: String,
    /// The manifest's short hash per section when the lock was made (empty in older
    /// locks), so a stale lock can name the sections that changed.
    pub manifest_sections: BTreeMap<String, String>,
    /// The base of the development image.
    pub base: LockedBase,
    /// Every component of the development image, sorted by ecosystem, name, location,
    /// arch and version.
    pub components: Vec<LockedComponent>,
    /// Each middleware service envsync builds, by service name.
    pub services: BTreeMap<String, LockedImage>,
}

/// One image other than the development image: its base and every component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedImage {
    pub base: LockedBase,
    pub components: Vec<LockedComponent>,
}

/// The base image, with the digest it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedBase {
    pub image: String,
    pub digest: Option<String>,
}

/// How an artifact is identified: a Debian `.deb` or a Python wheel by the sha256 of
/// its file, an npm tarball by its Subresource Integrity string (`sha512-<base64>`), as
/// `package-lock.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checksum {
    Sha256(String),
    Integrity(String),
}

impl Checksum {
    /// The sha256 hex digest, when this is one.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            Checksum::Sha256(hex) => Some(hex),
            Checksum::Integrity(_) => None,
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checksum::Sha256(hex) => write!(f, "sha256:{hex}"),
            Checksum::Integrity(sri) => f.write_str(sri),
        }
    }
}

/// One component at its exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedComponent {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// The virtualenv or Node project directory where the copy lives, as snapshots record it.
    pub location: Option<String>,
    /// The checksum of the artifact it was installed from, when envsync knows it.
    pub checksum: Option<Checksum>,
    /// The artifact's file name as its source names it: a Debian pool path
    /// (`pool/main/o/openssl/openssl_3.0.15-1~deb12u1_amd64.deb`), a wheel file name, an
    /// npm tarball URL. Used to fetch it again.
    pub file: Option<String>,
    /// Whether the manifest declares it (the others are dependencies).
    pub declared: bool,
    /// 1-based line in the lock file; 0 for a component built in memory.
    #[serde(skip)]
    pub line: usize,
}

impl LockedComponent {
    /// A component at `version` with nothing else known.
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str) -> LockedComponent {
        LockedComponent {
            ecosystem,
            name: name.to_string(),
            version: version.to_string(),
            arch: None,
            location: None,
            checksum: None,
            file: None,
            declared: false,
            line: 0,
        }
    }

    fn sort_key(&self) -> (Ecosystem, &str, Option<&str>, Option<&str>, &str) {
        (
            self.ecosystem,
            &self.name,
            self.location.as_deref(),
            self.arch.as_deref(),
            &self.version,
        )
    }
}

/// Sort components into the lock's order and drop exact duplicates.
fn canonical_order(components: &mut Vec<LockedComponent>) {
    components.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    components.dedup_by(|a, b| a.sort_key() == b.sort_key());
}

/// Why a lock does not match its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LockProblem {
    /// The manifest changed since the lock was written.
    Stale {
        lock_file: PathBuf,
        locked_sha256: String,
        manifest_sha256: String,
        /// The sections that changed (`[apt]`, `[services.redis]`); empty when the lock
        /// predates per-section hashes.
        changed: Vec<String>,
    },
    /// The base image (or its pinned digest) differs from the manifest's.
    BaseChanged {
        field: &'static str,
        locked: String,
        declared: String,
        manifest: SourceLocation,
    },
    /// A component the manifest declares is not in the lock.
    Missing {
        ecosystem: Ecosystem,
        name: String,
        location: Option<String>,
        constraint: String,
        manifest: SourceLocation,
    },
    /// The lock was written in an earlier schema, which records neither the services'
    /// images nor checksums.
    OldSchema {
        lock_file: PathBuf,
        schema: &'static str,
    },
    /// A service envsync builds is not in the lock.
    ServiceNotLocked {
        service: String,
        manifest: SourceLocation,
    },
    /// The lock records a service the manifest no longer has.
    ServiceRemoved { service: String },
    /// The locked version no longer satisfies the manifest's constraint.
    Unsatisfied {
        ecosystem: Ecosystem,
        name: String,
        location: Option<String>,
        constraint: String,
        locked: String,
        lock: SourceLocation,
        manifest: SourceLocation,
    },
}

impl LockProblem {
    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            LockProblem::Stale { .. } => {
                "regenerate the lock with `envsync lock` and commit both files together"
            }
            LockProblem::BaseChanged { .. } => "regenerate the lock with `envsync lock`",
            LockProblem::Missing { .. } | LockProblem::ServiceNotLocked { .. } => {
                "regenerate the lock with `envsync lock` to pin it"
            }
            LockProblem::OldSchema { .. } | LockProblem::ServiceRemoved { .. } => {
                "regenerate the lock with `envsync lock` and commit it"
            }
            LockProblem::Unsatisfied { .. } => {
                "regenerate the lock with `envsync lock`, or relax the constraint in the manifest"
            }
        }
    }
}

fn component_id(ecosystem: Ecosystem, name: &str, location: &Option<String>) -> String {
    match location {
        Some(l) => format!("{ecosystem}:{name} ({l})"),
        None => format!("{ecosystem}:{name}"),
    }
}

impl fmt::Display for LockProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockProblem::Stale {
                lock_file, changed, ..
            } if !changed.is_empty() => write!(
                f,
                "{} is stale: {} of the manifest changed since it was locked",
                lock_file.display(),
                changed.join(", ")
            )?,
            LockProblem::Stale {
                lock_file,
                locked_sha256,
                manifest_sha256,
                ..
            } => write!(
                f,
                "{} is stale: it was made from a manifest with sha256 `{}`, the manifest now has `{}`",
                lock_file.display(),
                short(locked_sha256),
                short(manifest_sha256)
            )?,
            LockProblem::BaseChanged {
                field,
                locked,
                declared,
                manifest,
            } => write!(
                f,
                "base {field} `{declared}` in {} differs from the locked `{locked}`",
                manifest.file.display()
            )?,
            LockProblem::Missing {
                ecosystem,
                name,
                location,
                constraint,
                manifest,
            } => write!(
                f,
                "`{}` = `{constraint}` declared at {manifest} is not in the lock",
                component_id(*ecosystem, name, location)
            )?,
            LockProblem::OldSchema { lock_file, schema } => write!(
                f,
                "{} has schema `{schema}`, which records neither the services' images nor checksums (this envsync writes `{LOCK_SCHEMA}`)",
                lock_file.display()
            )?,
            LockProblem::ServiceNotLocked { service, manifest } => write!(
                f,
                "[services.{service}] declared at {manifest} is not in the lock"
            )?,
            LockProblem::ServiceRemoved { service } => write!(
                f,
                "the lock records service `{service}`, which the manifest no longer declares"
            )?,
            LockProblem::Unsatisfied {
                ecosystem,
                name,
                location,
                constraint,
                locked,
                lock,
                manifest,
            } => {
                let at = if lock.line > 0 {
                    format!(" ({lock})")
                } else {
                    String::new()
                };
                write!(
                    f,
                    "`{}` is locked at `{locked}`{at}, which does not satisfy `{constraint}` declared at {manifest}",
                    component_id(*ecosystem, name, location)
                )?
            }
        }
        write!(f, "; {}", self.fix())
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

impl Lock {
    /// A lock built in memory, of the development image only; components are sorted and
    /// exact duplicates dropped.
    pub fn new(
        manifest_sha256: String,
        base: LockedBase,
        mut components: Vec<LockedComponent>,
    ) -> Lock {
        canonical_order(&mut components);
        Lock {
            file: PathBuf::new(),
            schema: LOCK_SCHEMA,
            manifest_sha256,
            manifest_sections: BTreeMap::new(),
            base,
            components,
            services: BTreeMap::new(),
        }
    }

    /// Record the manifest's per-section hashes, so that when the lock goes stale
    /// `lock --check` can name the sections that changed.
    pub fn with_manifest_sections(mut self, sections: BTreeMap<String, String>) -> Lock {
        self.manifest_sections = sections;
        self
    }

    /// Was this lock made from `manifest` as it is now? Compares the semantic hash, and
    /// also the file's sha256 that locks written before the semantic hash record, so
    /// such a lock is not stale for a manifest that did not change.
    pub fn made_from(&self, manifest: &Manifest) -> bool {
        self.manifest_sha256 == manifest.sha256 || self.manifest_sha256 == manifest.file_sha256
    }

    /// Add (or replace) the image of service `name`.
    pub fn with_service(
        mut self,
        name: &str,
        base: LockedBase,
        mut components: Vec<LockedComponent>,
    ) -> Lock {
        canonical_order(&mut components);
        self.services
            .insert(name.to_string(), LockedImage { base, components });
        self
    }

    /// Read and parse the lock at `path`.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text = Lock::read_text(path)?;
        Lock::parse(&text, path)
    }

    /// The text of the lock at `path`, read once and at most [`MAX_LOCK_BYTES`] of it:
    /// a larger file is [`LockError::TooLarge`].
    pub fn read_text(path: &Path) -> Result<String, LockError> {
        let read_err = |source| LockError::Read {
            file: path.to_path_buf(),
            source,
        };
        let bytes = read_capped(path, MAX_LOCK_BYTES).map_err(|err| match err {
            CappedReadError::Io(source) => read_err(source),
            CappedReadError::TooLarge => LockError::TooLarge {
                file: path.to_path_buf(),
                limit: MAX_LOCK_BYTES,
            },
        })?;
        // Converting in place keeps one copy of the bytes.
        String::from_utf8(bytes).map_err(|err| {
            read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                err.utf8_error(),
            ))
        })
    }

    /// Parse lock text; `file` is used in messages.
    pub fn parse(text: &str, file: &Path) -> Result<Lock, LockError> {
        parse::parse(text, file)
    }

    /// The canonical text: fixed key order, components sorted, one per line. Writing,
    /// parsing and writing again gives the same bytes.
    pub fn to_string_canonical(&self) -> String {
        write::canonical(self)
    }

    /// The components of the image of `service` (`None`: the development image).
    pub fn image_components(&self, service: Option<&str>) -> Option<&[LockedComponent]> {
        match service {
            None => Some(&self.components),
            Some(name) => self.services.get(name).map(|s| s.components.as_slice()),
        }
    }

    /// Everything that makes this lock out of date with `manifest`: an earlier schema, a
    /// different manifest hash, a changed base, services missing or removed, declared
    /// components missing from the lock, and locked versions that no longer satisfy
    /// their declared constraint. Empty when up to date.
    pub fn check(&self, manifest: &Manifest) -> Vec<LockProblem> {
        let mut problems = Vec::new();
        if self.schema != LOCK_SCHEMA {
            problems.push(LockProblem::OldSchema {
                lock_file: self.file.clone(),
                schema: self.schema,
            });
        }
        problems.extend(self.staleness(manifest));
        problems.extend(self.base_change(manifest));
        // Locks of the earlier schema record no service images, so there is nothing to
        // compare the manifest's services with.
        if self.schema == LOCK_SCHEMA {
            problems.extend(self.service_problems(manifest));
        }
        let by_name = self.components_by_name();
        for declared in manifest.declared() {
            problems.extend(self.declared_problems(manifest, declared, &by_name));
        }
        problems
    }

    /// `Stale` when the lock was not made from the manifest as it is now.
    fn staleness(&self, manifest: &Manifest) -> Option<LockProblem> {
        if self.made_from(manifest) {
            return None;
        }
        Some(LockProblem::Stale {
            lock_file: self.file.clone(),
            locked_sha256: self.manifest_sha256.clone(),
            manifest_sha256: manifest.sha256.clone(),
            changed: if self.manifest_sections.is_empty() {
                Vec::new()
            } else {
                crate::digest::changed_sections(&self.manifest_sections, &manifest.sections)
            },
        })
    }

    /// A different base image, or, when the manifest pins one, a different digest.
    fn base_change(&self, manifest: &Manifest) -> Option<LockProblem> {
        let base_at = SourceLocation {
            file: manifest.file.clone(),
            line: 0,
            column: 0,
        };
        if self.base.image != manifest.base.image {
            return Some(LockProblem::BaseChanged {
                field: "image",
                locked: self.base.image.clone(),
                declared: manifest.base.image.clone(),
                manifest: base_at,
            });
        }
        let digest = manifest.base.digest.as_ref()?;
        (self.base.digest.as_ref() != Some(digest)).then(|| LockProblem::BaseChanged {
            field: "digest",
            locked: self.base.digest.clone().unwrap_or_else(|| "none".into()),
            declared: digest.clone(),
            manifest: base_at,
        })
    }

    /// Services built from packages have an image of their own in the lock; services
    /// given by image reference run that image as it is. So each of the first must be
    /// locked, and every locked service must still be one of them.
    fn service_problems(&self, manifest: &Manifest) -> Vec<LockProblem> {
        let built = || manifest.services.iter().filter(|s| s.image.is_none());
        let not_locked = built()
            .filter(|service| !self.services.contains_key(&service.name))
            .map(|service| LockProblem::ServiceNotLocked {
                service: service.name.clone(),
                manifest: SourceLocation {
                    file: manifest.file.clone(),
                    line: service.line,
                    column: service.column,
                },
            });
        // A service given by `image` is locked by its digest alone; it is no longer in the
        // manifest only when no service of that name is.
        let removed = self
            .services
            .keys()
            .filter(|name| !manifest.services.iter().any(|s| &s.name == *name))
            .map(|name| LockProblem::ServiceRemoved {
                service: name.clone(),
            });
        not_locked.chain(removed).collect()
    }

    /// Every image's components by image, ecosystem and normalised name, built in one
    /// pass so that checking is linear in the size of both files.
    fn components_by_name(&self) -> ComponentIndex<'_> {
        let mut by_name = ComponentIndex::new();
        let images = std::iter::once((None, &self.components)).chain(
            self.services
                .iter()
                .map(|(name, image)| (Some(name.as_str()), &image.components)),
        );
        for (service, components) in images {
            for c in components {
                by_name
                    .entry((service, c.ecosystem, normalize_name(c.ecosystem, &c.name)))
                    .or_default()
                    .push(c);
            }
        }
        by_name
    }

    /// What is wrong with one declared component: `Missing` from its image, or locked
    /// at versions that do not satisfy its constraint.
    fn declared_problems(
        &self,
        manifest: &Manifest,
        d: &Declared,
        by_name: &ComponentIndex<'_>,
    ) -> Vec<LockProblem> {
        let service = d
            .location
            .as_deref()
            .and_then(|l| l.strip_prefix("service:"));
        // A service's own version is checked by `envsync up` from inside the running
        // container; its packages are checked here, in the service's image.
        if d.ecosystem == Ecosystem::Service || (service.is_some() && self.schema != LOCK_SCHEMA) {
            return Vec::new();
        }
        if service.is_some_and(|s| !self.services.contains_key(s)) {
            // Reported once, as ServiceNotLocked (or the service runs an image).
            return Vec::new();
        }
        let location = if service.is_some() {
            None
        } else {
            d.location.as_deref()
        };
        let manifest_at = SourceLocation {
            file: manifest.file.clone(),
            line: d.line,
            column: d.column,
        };
        let key = (service, d.ecosystem, normalize_name(d.ecosystem, &d.name));
        let locked: Vec<&LockedComponent> = by_name
            .get(&key)
            .map(|cs| {
                cs.iter()
                    .copied()
                    .filter(|c| {
                        service.is_some() || location_matches(location, c.location.as_deref())
                    })
                    .collect()
            })
            .unwrap_or_default();
        if locked.is_empty() {
            return vec![LockProblem::Missing {
                ecosystem: d.ecosystem,
                name: d.name.clone(),
                location: d.location.clone(),
                constraint: d.constraint.clone(),
                manifest: manifest_at,
            }];
        }
        // A file's content is checked against the local file by a build, not here:
        // this crate reads no files beyond the ones it is handed.
        if d.ecosystem == Ecosystem::File {
            return Vec::new();
        }
        locked
            .into_iter()
            .filter(|c| !d.satisfied_by(&c.version))
            .map(|c| LockProblem::Unsatisfied {
                ecosystem: d.ecosystem,
                name: d.name.clone(),
                location: d.location.clone(),
                constraint: d.constraint.clone(),
                locked: c.version.clone(),
                lock: SourceLocation {
                    file: self.file.clone(),
                    line: c.line,
                    column: 1,
                },
                manifest: manifest_at.clone(),
            })
            .collect()
    }
}

/// Locked components by image (`None`: the development image), ecosystem and
/// normalised name.
type ComponentIndex<'a> = HashMap<(Option<&'a str>, Ecosystem, String), Vec<&'a LockedComponent>>;

/// A declared location (`/opt/app/venv`) covers the same directory and anything below it.
/// A global declaration (no location) covers copies without a location and the system
/// directories global installs go to, all below `/usr` (`/usr/local/lib/python3.11/dist-packages`,
/// `/usr/local/lib/node_modules`), as snapshots record them.
pub fn location_matches(declared: Option<&str>, locked: Option<&str>) -> bool {
    match (declared, locked) {
        (None, None) => true,
        (None, Some(l)) => l.starts_with("/usr/"),
        (Some(d), Some(l)) => {
            let d = d.trim_end_matches('/');
            l == d || l.strip_prefix(d).is_some_and(|rest| rest.starts_with('/'))
        }
        _ => false,
    }
}

impl Declared {
    /// Whether `version` satisfies this declaration. For runtimes and services a bare
    /// version names a release series: `python = "3.11"` is satisfied by `3.11.2`, and
    /// `version = "15"` of a service by `15.10`.
    pub fn satisfied_by(&self, version: &str) -> bool {
        let Ok(constraint) = crate::version::Constraint::parse(self.ecosystem, &self.constraint)
        else {
            // Validation rejects such a manifest; an unreadable constraint matches nothing.
            return false;
        };
        if constraint.matches(version) {
            return true;
        }
        matches!(self.ecosystem, Ecosystem::Runtime | Ecosystem::Service)
            && constraint.exact().is_some_and(|exact| {
                let exact = exact.trim_start_matches('=').trim();
                version
                    .trim()
                    .strip_prefix(exact)
                    .is_some_and(|rest| rest.starts_with(['.', '-', '+']))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn component(eco: Ecosystem, name: &str, version: &str) -> LockedComponent {
        LockedComponent::new(eco, name, version)
    }

    fn parse(text: &str) -> Result<Lock, LockError> {
        Lock::parse(text, Path::new("envsync.lock"))
    }

    /// Parse `text` and compare the error message with `expected`.
    fn check_error(text: &str, expected: &str) {
        match parse(text) {
            Ok(lock) => panic!("parsed {lock:?}, expected error {expected}"),
            Err(err) => assert_eq!(err.to_string(), expected),
        }
    }

    #[test]
    fn canonical_and_round_trip() {
        let mut openssl = component(Ecosystem::Deb, "openssl", "3.0.15-1~deb12u1");
        openssl.arch = Some("amd64".into());
        openssl.declared = true;
        openssl.checksum = Some(Checksum::Sha256("ab".repeat(32)));
        openssl.file = Some("pool/main/o/openssl/openssl_3.0.15-1~deb12u1_amd64.deb".into());
        let mut django = component(Ecosystem::Pypi, "django", "4.2.7");
        django.location = Some("/opt/app/venv".into());
        django.declared = true;
        let odd = component(Ecosystem::Env, "A\"B\\C\n", "sha256:00");
        let lock = Lock::new(
            SHA.into(),
            LockedBase {
                image: "debian:bookworm".into(),
                digest: Some("sha256:ab".into()),
            },
            vec![django.clone(), openssl.clone(), odd, openssl],
        );
        let mut redis = component(Ecosystem::Deb, "redis-server", "5:7.0.15-1~deb12u1");
        redis.declared = true;
        let mut express = component(Ecosystem::Npm, "express", "4.18.2");
        express.checksum = Some(Checksum::Integrity("sha512-AAAA".into()));
        let lock = lock
            .with_service(
                "redis",
                LockedBase {
                    image: "envsync/debian:bookworm".into(),
                    digest: None,
                },
                vec![redis],
            )
            .with_service(
                "my cache",
                LockedBase {
                    image: "envsync/debian:bookworm".into(),
                    digest: None,
                },
                vec![express],
            );
        let text = lock.to_string_canonical();
        assert_eq!(
            text,
            format!(
                "# envsync.lock: exact versions and checksums of every image built from envsync.toml.\n\
                 # Written by `envsync lock`; check it with `envsync lock --check`. Do not edit by hand.\n\
                 schema = \"envsync.lock/v2\"\n\
                 manifest_sha256 = \"{SHA}\"\n\
                 base = {{ image = \"debian:bookworm\", digest = \"sha256:ab\" }}\n\
                 components = [\n\
                 \x20 {{ ecosystem = \"deb\", name = \"openssl\", version = \"3.0.15-1~deb12u1\", arch = \"amd64\", sha256 = \"{AB}\", file = \"pool/main/o/openssl/openssl_3.0.15-1~deb12u1_amd64.deb\", declared = true }},\n\
                 \x20 {{ ecosystem = \"pypi\", name = \"django\", version = \"4.2.7\", location = \"/opt/app/venv\", declared = true }},\n\
                 \x20 {{ ecosystem = \"env\", name = \"A\\\"B\\\\C\\n\", version = \"sha256:00\" }},\n\
                 ]\n\
                 \n\
                 [services.\"my cache\"]\n\
                 base = {{ image = \"envsync/debian:bookworm\" }}\n\
                 components = [\n\
                 \x20 {{ ecosystem = \"npm\", name = \"express\", version = \"4.18.2\", integrity = \"sha512-AAAA\" }},\n\
                 ]\n\
                 \n\
                 [services.redis]\n\
                 base = {{ image = \"envsync/debian:bookworm\" }}\n\
                 components = [\n\
                 \x20 {{ ecosystem = \"deb\", name = \"redis-server\", version = \"5:7.0.15-1~deb12u1\", declared = true }},\n\
                 ]\n",
                AB = "ab".repeat(32)
            )
        );
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.to_string_canonical(), text);
        assert_eq!(parsed.components[2].name, "A\"B\\C\n");
        assert_eq!(parsed.components[1].line, 8);
        assert_eq!(parsed.services["redis"].components[0].line, 21);
        assert_eq!(
            parsed.services["my cache"].components[0].checksum,
            Some(Checksum::Integrity("sha512-AAAA".into()))
        );
        // Any order of input lines gives the same bytes.
        let shuffled = text.replacen(
            "components = [\n",
            "components = [\n  { ecosystem = \"env\", name = \"A\\\"B\\\\C\\n\", version = \"sha256:00\" },\n",
            1,
        );
        assert_eq!(parse(&shuffled).unwrap().to_string_canonical(), text);
    }

    #[test]
    fn bad_locks() {
        let head = format!("schema = \"envsync.lock/v2\"\nmanifest_sha256 = \"{SHA}\"\n");
        check_error(
            "schema = \"envsync.lock/v3\"\nwhatever = 1\n",
            "envsync.lock:1: lock schema `envsync.lock/v3` was written by a newer envsync (this one reads `envsync.lock/v2`); upgrade envsync",
        );
        check_error(
            "\nschema = \"envsync.snapshot/v1\"\n",
            "envsync.lock:2: schema `envsync.snapshot/v1` is not a lock schema this envsync reads; expected `envsync.lock/v2`",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\ncomponents = [\n  {{ ecosystem = \"deb\", name = \"a\", ver"),
            "envsync.lock:5:39: TOML error: expected `.`, `=`; the lock is written by `envsync lock`, regenerate it rather than editing it by hand",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\n"),
            "envsync.lock:1:1: missing field `components`; regenerate the lock with `envsync lock`",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\ncomponents = [{{ ecosystem = \"cargo\", name = \"a\", version = \"1\" }}]\n"),
            "envsync.lock:4:29: unknown ecosystem `cargo`; regenerate the lock with `envsync lock`",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\ncomponents = [{{ ecosystem = \"deb\", name = \"a\" }}]\n"),
            "envsync.lock:4:15: missing field `version`; regenerate the lock with `envsync lock`",
        );
        check_error("", "envsync.lock:1:1: missing `schema`; this is not an envsync lock; regenerate the lock with `envsync lock`");
    }

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text, Path::new("envsync.toml")).unwrap()
    }

    #[test]
    fn check_against_manifest() {
        let m = manifest(
            "[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\n[runtimes]\npython = \"3.11\"\n\
             [apt]\nopenssl = \"3.0.*\"\nlibpq5 = \"15.20-0+deb12u1\"\n\
             [python.venvs.\"/opt/app/venv\".packages]\nDjango = \"~=4.2\"\n[services.pg]\nversion = \"15\"\n",
        );
        let mut venv_django = component(Ecosystem::Pypi, "django", "4.2.16");
        venv_django.location = Some("/opt/app/venv/lib/python3.11/site-packages".into());
        let base = LockedBase {
            image: "debian:bookworm".into(),
            digest: None,
        };
        let good = Lock::new(
            m.sha256.clone(),
            base.clone(),
            vec![
                component(Ecosystem::Runtime, "python", "3.11.2"),
                component(Ecosystem::Deb, "openssl", "3.0.22-1~deb12u2"),
                component(Ecosystem::Deb, "libpq5", "15.20-0+deb12u1"),
                component(Ecosystem::Service, "pg", "15.20"),
                venv_django.clone(),
            ],
        )
        .with_service("pg", base.clone(), vec![]);
        assert_eq!(good.check(&m), []);

        let mut bad = Lock::new(
            "f".repeat(64),
            base,
            vec![
                component(Ecosystem::Runtime, "python", "3.12.1"),
                component(Ecosystem::Deb, "openssl", "3.1.0-1"),
                component(Ecosystem::Service, "pg", "15.20"),
                component(Ecosystem::Pypi, "django", "4.2.16"),
            ],
        );
        bad.file = "envsync.lock".into();
        let problems: Vec<String> = bad.check(&m).iter().map(|p| p.to_string()).collect();
        assert_eq!(
            problems,
            [
                "envsync.lock is stale: it was made from a manifest with sha256 `ffffffffffff`, the manifest now has `".to_string()
                    + short(&m.sha256)
                    + "`; regenerate the lock with `envsync lock` and commit both files together",
                "[services.pg] declared at envsync.toml:12:11 is not in the lock; regenerate the lock with `envsync lock` to pin it".into(),
                "`runtime:python` is locked at `3.12.1`, which does not satisfy `3.11` declared at envsync.toml:6:1; regenerate the lock with `envsync lock`, or relax the constraint in the manifest".into(),
                "`deb:openssl` is locked at `3.1.0-1`, which does not satisfy `3.0.*` declared at envsync.toml:8:1; regenerate the lock with `envsync lock`, or relax the constraint in the manifest".into(),
                "`deb:libpq5` = `15.20-0+deb12u1` declared at envsync.toml:9:1 is not in the lock; regenerate the lock with `envsync lock` to pin it".into(),
                "`pypi:Django (/opt/app/venv)` = `~=4.2` declared at envsync.toml:11:1 is not in the lock; regenerate the lock with `envsync lock` to pin it".into(),
            ]
        );
    }

    #[test]
    fn base_changes() {
        let m = manifest("[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\ndigest = \"sha256:{}\"\n".replace("{}", &"a".repeat(64)).as_str());
        let base = |image: &str, digest: Option<String>| LockedBase {
            image: image.into(),
            digest,
        };
        let lock = Lock::new(m.sha256.clone(), base("debian:trixie", None), vec![]);
        let problems: Vec<String> = lock.check(&m).iter().map(|p| p.to_string()).collect();
        assert_eq!(problems, ["base image `debian:bookworm` in envsync.toml differs from the locked `debian:trixie`; regenerate the lock with `envsync lock`"]);
        let lock = Lock::new(
            m.sha256.clone(),
            base(
                "debian:bookworm",
                Some(format!("sha256:{}", "b".repeat(64))),
            ),
            vec![],
        );
        assert_eq!(lock.check(&m).len(), 1);
        let lock = Lock::new(
            m.sha256.clone(),
            base("debian:bookworm", m.base.digest.clone()),
            vec![],
        );
        assert_eq!(lock.check(&m), []);
    }

    #[test]
    fn staleness_is_semantic_and_names_the_sections() {
        let text = "[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\n\
                    [apt]\ncurl = \"7.88.*\"\n[services.db]\nversion = \"15\"\n";
        let m = manifest(text);
        let base = LockedBase {
            image: "debian:bookworm".into(),
            digest: None,
        };
        let curl = || {
            vec![
                component(Ecosystem::Deb, "curl", "7.88.1-10+deb12u8"),
                component(Ecosystem::Service, "db", "15.10"),
            ]
        };
        let mut lock = Lock::new(m.sha256.clone(), base.clone(), curl())
            .with_service("db", base.clone(), vec![])
            .with_manifest_sections(m.sections.clone());
        lock.file = "envsync.lock".into();
        let read = Lock::parse(&lock.to_string_canonical(), Path::new("envsync.lock")).unwrap();
        assert_eq!(
            read.manifest_sections, m.sections,
            "the section hashes round-trip"
        );

        // A comment, reordered keys and a policy do not make it stale.
        let cosmetic = manifest(
            "# comment\n[base]\nimage = 'debian:bookworm'\n[project]\nname = \"app\"\n\
             [services.db]\nversion = \"15\"\n[apt]\ncurl = \"7.88.*\"  # the client\n\
             [policy]\nignore = [{ component = \"deb:tzdata\", reason = \"r\", until = \"2999-01-01\" }]\n",
        );
        assert_ne!(cosmetic.file_sha256, m.file_sha256);
        assert_eq!(read.check(&cosmetic), []);

        let changed = manifest(&text.replace("7.88.*", "8.*").replace("\"15\"", "\"16\""));
        let problems: Vec<String> = read.check(&changed).iter().map(|p| p.to_string()).collect();
        assert_eq!(
            problems[0],
            "envsync.lock is stale: [apt], [services.db] of the manifest changed since it was locked; \
             regenerate the lock with `envsync lock` and commit both files together"
        );

        // A lock written before the semantic hash recorded the file's bytes: not stale
        // while the file is unchanged.
        let older =
            Lock::new(m.file_sha256.clone(), base.clone(), curl()).with_service("db", base, vec![]);
        assert_eq!(older.check(&m), []);
    }

    #[test]
    fn series_versions() {
        let d = |eco, constraint: &str| Declared {
            ecosystem: eco,
            name: "x".into(),
            constraint: constraint.into(),
            location: None,
            line: 1,
            column: 1,
        };
        assert!(d(Ecosystem::Runtime, "3.11").satisfied_by("3.11.2"));
        assert!(d(Ecosystem::Runtime, "3.11").satisfied_by("3.11"));
        assert!(!d(Ecosystem::Runtime, "3.11").satisfied_by("3.111"));
        assert!(!d(Ecosystem::Runtime, "3.11").satisfied_by("3.12.0"));
        assert!(d(Ecosystem::Service, "15").satisfied_by("15.20"));
        assert!(!d(Ecosystem::Deb, "3.0").satisfied_by("3.0.1"));
        assert!(location_matches(Some("/opt/venv/"), Some("/opt/venv/lib")));
        assert!(!location_matches(Some("/opt/venv"), Some("/opt/venv2")));
        assert!(!location_matches(None, Some("/opt/venv")));
        assert!(location_matches(
            None,
            Some("/usr/local/lib/python3.11/dist-packages")
        ));
    }
}
