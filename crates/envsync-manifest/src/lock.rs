//! The lock (`envsync.lock`): the exact versions of everything an environment built from
//! a manifest contains, in a canonical, sorted, one-component-per-line TOML form, and the
//! check that it is still up to date with its manifest.
//!
//! The same lock always serialises to the same bytes (see `docs/manifest.md`, "The lock").

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::diag::{LineIndex, SourceLocation};
use crate::error::LockError;
use crate::manifest::{normalize_name, Declared, Manifest};
use crate::version::Ecosystem;

/// The schema id written into, and required of, every lock.
pub const LOCK_SCHEMA: &str = "envsync.lock/v1";

/// A parsed lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Where it was read from (empty for a lock built in memory).
    pub file: PathBuf,
    /// sha256 of the manifest the lock was made from.
    pub manifest_sha256: String,
    pub base: LockedBase,
    /// Sorted by ecosystem, name, location, arch and version.
    pub components: Vec<LockedComponent>,
}

/// The base image, with the digest it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedBase {
    pub image: String,
    pub digest: Option<String>,
}

/// One component at its exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedComponent {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    /// The virtualenv or Node project directory, or `service:NAME`, as the manifest names it.
    pub location: Option<String>,
    /// Whether the manifest declares it (the others are dependencies).
    pub declared: bool,
    /// 1-based line in the lock file; 0 for a component built in memory.
    #[serde(skip)]
    pub line: usize,
}

impl LockedComponent {
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

/// Why a lock does not match its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LockProblem {
    /// The manifest changed since the lock was written.
    Stale {
        lock_file: PathBuf,
        locked_sha256: String,
        manifest_sha256: String,
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
            LockProblem::Missing { .. } => "regenerate the lock with `envsync lock` to pin it",
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
                lock_file,
                locked_sha256,
                manifest_sha256,
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
    /// A lock built in memory; components are sorted and exact duplicates dropped.
    pub fn new(
        manifest_sha256: String,
        base: LockedBase,
        mut components: Vec<LockedComponent>,
    ) -> Lock {
        components.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        components.dedup_by(|a, b| a.sort_key() == b.sort_key());
        Lock {
            file: PathBuf::new(),
            manifest_sha256,
            base,
            components,
        }
    }

    /// Read and parse the lock at `path`.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text = std::fs::read_to_string(path).map_err(|source| LockError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Lock::parse(&text, path)
    }

    /// Parse lock text; `file` is used in messages.
    pub fn parse(text: &str, file: &Path) -> Result<Lock, LockError> {
        let index = LineIndex::new(text);
        let pos =
            |span: Option<std::ops::Range<usize>>| span.map_or((1, 1), |s| index.position(s.start));
        let field = |span: Option<std::ops::Range<usize>>, message: String| {
            let (line, column) = pos(span);
            LockError::Field {
                file: file.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let doc = ImDocument::parse(text).map_err(|err| {
            let (line, column) = pos(err.span());
            LockError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                message: format!("TOML error: {}", err.message().trim().replace('\n', "; ")),
            }
        })?;
        let root = doc.as_table();

        // The schema comes first: a lock of another schema may have any other shape.
        let Some((key, item)) = root.get_key_value("schema") else {
            return Err(field(
                None,
                "missing `schema`; this is not an envsync lock".into(),
            ));
        };
        let Some(schema) = item.as_str() else {
            return Err(field(
                item.span(),
                format!("`schema` must be a string, found {}", kind(item)),
            ));
        };
        if schema != LOCK_SCHEMA {
            let (line, _) = pos(key.span());
            let newer = schema
                .strip_prefix("envsync.lock/v")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n > 1);
            return Err(if newer {
                LockError::FutureSchema {
                    file: file.to_path_buf(),
                    line,
                    found: schema.to_string(),
                    expected: LOCK_SCHEMA,
                }
            } else {
                LockError::Schema {
                    file: file.to_path_buf(),
                    line,
                    found: schema.to_string(),
                    expected: LOCK_SCHEMA,
                }
            });
        }

        let manifest_sha256 = match root.get("manifest_sha256") {
            Some(item) => match item.as_str() {
                Some(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
                    s.to_string()
                }
                _ => {
                    return Err(field(
                        item.span(),
                        "`manifest_sha256` must be 64 hex digits".into(),
                    ))
                }
            },
            None => return Err(field(None, "missing `manifest_sha256`".into())),
        };

        let base = match root.get("base") {
            Some(item) => {
                let Some(t) = item.as_table_like() else {
                    return Err(field(
                        item.span(),
                        format!("`base` must be a table, found {}", kind(item)),
                    ));
                };
                let image = match t.get("image").map(|i| (i.as_str(), i)) {
                    Some((Some(s), _)) => s.to_string(),
                    Some((None, i)) => {
                        return Err(field(i.span(), "`image` of `base` must be a string".into()))
                    }
                    None => return Err(field(item.span(), "`base` has no `image`".into())),
                };
                let digest = match t.get("digest").map(|i| (i.as_str(), i)) {
                    Some((Some(s), _)) => Some(s.to_string()),
                    Some((None, i)) => {
                        return Err(field(
                            i.span(),
                            "`digest` of `base` must be a string".into(),
                        ))
                    }
                    None => None,
                };
                LockedBase { image, digest }
            }
            None => return Err(field(None, "missing `base`".into())),
        };

        let mut entries: Vec<(&dyn TableLike, Option<std::ops::Range<usize>>)> = Vec::new();
        match root.get("components") {
            Some(Item::Value(Value::Array(array))) => {
                for v in array.iter() {
                    match v.as_inline_table() {
                        Some(t) => entries.push((t, v.span())),
                        None => {
                            return Err(field(
                                v.span(),
                                format!(
                                    "each entry of `components` must be a table, found {}",
                                    value_kind(v)
                                ),
                            ))
                        }
                    }
                }
            }
            Some(Item::ArrayOfTables(array)) => {
                for t in array.iter() {
                    entries.push((t, t.span()));
                }
            }
            Some(item) => {
                return Err(field(
                    item.span(),
                    format!(
                        "`components` must be an array of tables, found {}",
                        kind(item)
                    ),
                ))
            }
            None => return Err(field(None, "missing `components`".into())),
        }

        let mut components = Vec::with_capacity(entries.len());
        for (t, span) in entries {
            let (line, _) = pos(span.clone());
            let text_field = |name: &str, required: bool| -> Result<Option<String>, LockError> {
                match t.get(name) {
                    Some(item) => match item.as_str() {
                        Some(s) => Ok(Some(s.to_string())),
                        None => Err(field(
                            item.span(),
                            format!(
                                "`{name}` of a component must be a string, found {}",
                                kind(item)
                            ),
                        )),
                    },
                    None if required => {
                        Err(field(span.clone(), format!("component has no `{name}`")))
                    }
                    None => Ok(None),
                }
            };
            let eco_text = text_field("ecosystem", true)?.unwrap_or_default();
            let Some(ecosystem) = Ecosystem::parse(&eco_text) else {
                let at = t.get("ecosystem").and_then(|i| i.span());
                return Err(field(at, format!("unknown ecosystem `{eco_text}`")));
            };
            let name = text_field("name", true)?.unwrap_or_default();
            let version = text_field("version", true)?.unwrap_or_default();
            let arch = text_field("arch", false)?;
            let location = text_field("location", false)?;
            let declared = match t.get("declared") {
                Some(item) => match item.as_bool() {
                    Some(b) => b,
                    None => {
                        return Err(field(
                            item.span(),
                            format!(
                                "`declared` of a component must be `true` or `false`, found {}",
                                kind(item)
                            ),
                        ))
                    }
                },
                None => false,
            };
            components.push(LockedComponent {
                ecosystem,
                name,
                version,
                arch,
                location,
                declared,
                line,
            });
        }
        let mut lock = Lock::new(manifest_sha256, base, components);
        lock.file = file.to_path_buf();
        Ok(lock)
    }

    /// The canonical text: fixed key order, components sorted, one per line. Writing,
    /// parsing and writing again gives the same bytes.
    pub fn to_string_canonical(&self) -> String {
        let mut components: Vec<&LockedComponent> = self.components.iter().collect();
        components.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        components.dedup_by(|a, b| a.sort_key() == b.sort_key());
        let mut out = String::with_capacity(128 + components.len() * 96);
        out.push_str(
            "# envsync.lock: exact versions of the environment built from envsync.toml.\n",
        );
        out.push_str("# Written by `envsync lock`; check it with `envsync lock --check`. Do not edit by hand.\n");
        let _ = writeln!(out, "schema = {}", quote(LOCK_SCHEMA));
        let _ = writeln!(out, "manifest_sha256 = {}", quote(&self.manifest_sha256));
        let _ = write!(out, "base = {{ image = {}", quote(&self.base.image));
        if let Some(d) = &self.base.digest {
            let _ = write!(out, ", digest = {}", quote(d));
        }
        out.push_str(" }\n\n");
        if components.is_empty() {
            out.push_str("components = []\n");
            return out;
        }
        out.push_str("components = [\n");
        for c in components {
            let _ = write!(
                out,
                "  {{ ecosystem = {}, name = {}, version = {}",
                quote(c.ecosystem.as_str()),
                quote(&c.name),
                quote(&c.version)
            );
            if let Some(a) = &c.arch {
                let _ = write!(out, ", arch = {}", quote(a));
            }
            if let Some(l) = &c.location {
                let _ = write!(out, ", location = {}", quote(l));
            }
            if c.declared {
                out.push_str(", declared = true");
            }
            out.push_str(" },\n");
        }
        out.push_str("]\n");
        out
    }

    /// Everything that makes this lock out of date with `manifest`: a different manifest
    /// hash, a changed base, declared components missing from the lock, and locked
    /// versions that no longer satisfy their declared constraint. Empty when up to date.
    pub fn check(&self, manifest: &Manifest) -> Vec<LockProblem> {
        let mut problems = Vec::new();
        if self.manifest_sha256 != manifest.sha256 {
            problems.push(LockProblem::Stale {
                lock_file: self.file.clone(),
                locked_sha256: self.manifest_sha256.clone(),
                manifest_sha256: manifest.sha256.clone(),
            });
        }
        let base_at = SourceLocation {
            file: manifest.file.clone(),
            line: 0,
            column: 0,
        };
        if self.base.image != manifest.base.image {
            problems.push(LockProblem::BaseChanged {
                field: "image",
                locked: self.base.image.clone(),
                declared: manifest.base.image.clone(),
                manifest: base_at.clone(),
            });
        } else if let Some(digest) = &manifest.base.digest {
            if self.base.digest.as_ref() != Some(digest) {
                problems.push(LockProblem::BaseChanged {
                    field: "digest",
                    locked: self.base.digest.clone().unwrap_or_else(|| "none".into()),
                    declared: digest.clone(),
                    manifest: base_at,
                });
            }
        }
        // One pass over the lock, so checking is linear in the size of both files.
        let mut by_name: HashMap<(Ecosystem, String), Vec<&LockedComponent>> = HashMap::new();
        for c in &self.components {
            by_name
                .entry((c.ecosystem, normalize_name(c.ecosystem, &c.name)))
                .or_default()
                .push(c);
        }
        for d in manifest.declared() {
            // Middleware services run from images of their own: the lock records the
            // application image, and `envsync up` verifies each running service against
            // its declared version instead.
            if d.ecosystem == Ecosystem::Service
                || d.location
                    .as_deref()
                    .is_some_and(|l| l.starts_with("service:"))
            {
                continue;
            }
            let manifest_at = SourceLocation {
                file: manifest.file.clone(),
                line: d.line,
                column: d.column,
            };
            let key = (d.ecosystem, normalize_name(d.ecosystem, &d.name));
            let locked: Vec<&LockedComponent> = by_name
                .get(&key)
                .map(|cs| {
                    cs.iter()
                        .copied()
                        .filter(|c| location_matches(d.location.as_deref(), c.location.as_deref()))
                        .collect()
                })
                .unwrap_or_default();
            if locked.is_empty() {
                problems.push(LockProblem::Missing {
                    ecosystem: d.ecosystem,
                    name: d.name.clone(),
                    location: d.location.clone(),
                    constraint: d.constraint.clone(),
                    manifest: manifest_at,
                });
                continue;
            }
            // A file's content is checked against the local file by a build, not here:
            // this crate reads no files beyond the ones it is handed.
            if d.ecosystem == Ecosystem::File {
                continue;
            }
            for c in locked {
                if !d.satisfied_by(&c.version) {
                    problems.push(LockProblem::Unsatisfied {
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
                    });
                }
            }
        }
        problems
    }
}

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

fn kind(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => value_kind(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn value_kind(v: &Value) -> &'static str {
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

/// A TOML basic string: `"` and `\` escaped, control characters as escapes.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn component(eco: Ecosystem, name: &str, version: &str) -> LockedComponent {
        LockedComponent {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            arch: None,
            location: None,
            declared: false,
            line: 0,
        }
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
        let text = lock.to_string_canonical();
        assert_eq!(
            text,
            format!(
                "# envsync.lock: exact versions of the environment built from envsync.toml.\n\
                 # Written by `envsync lock`; check it with `envsync lock --check`. Do not edit by hand.\n\
                 schema = \"envsync.lock/v1\"\n\
                 manifest_sha256 = \"{SHA}\"\n\
                 base = {{ image = \"debian:bookworm\", digest = \"sha256:ab\" }}\n\
                 \n\
                 components = [\n\
                 \x20 {{ ecosystem = \"deb\", name = \"openssl\", version = \"3.0.15-1~deb12u1\", arch = \"amd64\", declared = true }},\n\
                 \x20 {{ ecosystem = \"pypi\", name = \"django\", version = \"4.2.7\", location = \"/opt/app/venv\", declared = true }},\n\
                 \x20 {{ ecosystem = \"env\", name = \"A\\\"B\\\\C\\n\", version = \"sha256:00\" }},\n\
                 ]\n"
            )
        );
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.to_string_canonical(), text);
        assert_eq!(parsed.components[2].name, "A\"B\\C\n");
        assert_eq!(parsed.components[1].line, 9);
        // Any order of input lines gives the same bytes.
        let shuffled = text.replace(
            "components = [\n",
            "components = [\n  { ecosystem = \"env\", name = \"A\\\"B\\\\C\\n\", version = \"sha256:00\" },\n",
        );
        assert_eq!(parse(&shuffled).unwrap().to_string_canonical(), text);
    }

    #[test]
    fn bad_locks() {
        let head = format!("schema = \"envsync.lock/v1\"\nmanifest_sha256 = \"{SHA}\"\n");
        check_error(
            "schema = \"envsync.lock/v2\"\nwhatever = 1\n",
            "envsync.lock:1: lock schema `envsync.lock/v2` was written by a newer envsync (this one reads `envsync.lock/v1`); upgrade envsync",
        );
        check_error(
            "\nschema = \"envsync.snapshot/v1\"\n",
            "envsync.lock:2: schema `envsync.snapshot/v1` is not a lock schema this envsync reads; expected `envsync.lock/v1`",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\ncomponents = [\n  {{ ecosystem = \"deb\", name = \"a\", ver"),
            "envsync.lock:5:39: TOML error: expected `.`, `=`; the lock is written by `envsync lock`, regenerate it rather than editing it by hand",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\n"),
            "envsync.lock:1:1: missing `components`; regenerate the lock with `envsync lock`",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\ncomponents = [{{ ecosystem = \"cargo\", name = \"a\", version = \"1\" }}]\n"),
            "envsync.lock:4:29: unknown ecosystem `cargo`; regenerate the lock with `envsync lock`",
        );
        check_error(
            &format!("{head}base = {{ image = \"debian:bookworm\" }}\ncomponents = [{{ ecosystem = \"deb\", name = \"a\" }}]\n"),
            "envsync.lock:4:15: component has no `version`; regenerate the lock with `envsync lock`",
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
        );
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
