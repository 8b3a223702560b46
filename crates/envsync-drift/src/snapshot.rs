//! The snapshot: the exact inventory of one environment, and its stable JSON form
//! (`envsync.snapshot/v1`, see ARCHITECTURE.md).

use std::path::Path;

use envsync_manifest::Ecosystem;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::DriftError;

/// How [`crate::collect::inventory`] words the warning for each unreadable path; the
/// rest of the warning names it.
pub const UNREADABLE_PREFIX: &str = "unreadable, so not in this snapshot: ";

/// The schema id written into, and required of, every snapshot.
pub const SNAPSHOT_SCHEMA: &str = "envsync.snapshot/v1";

/// The inventory of one environment. Packages are kept sorted by [`Package::key`]; the
/// same environment always serialises to the same bytes apart from `collected_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema: String,
    /// The target as the user named it (`docker:billing-dev`, `ssh://deploy@prod-api-1`).
    pub target: String,
    /// When it was collected (RFC 3339, UTC). Volatile: excluded from `digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,
    /// sha256 over the stable content (everything but `target`, `collected_at` and `digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Things the collector could not read or did not trust, kept rather than dropped silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// `false` when something the inventory needs could not be read (the warnings name
    /// each path); written only then. Snapshots without the field are complete.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub complete: bool,
    /// The id of the key that hashed file and environment values (`k1:<16 hex>`, see
    /// [`crate::hashkey`]); written only when the snapshot holds such hashes. Without
    /// it, those hashes are plain `sha256:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_key: Option<String>,
    /// For each interpreter (`python`, `node`), the `location` of the runtime the
    /// target's `PATH` finds first (`/usr` for the package manager's); written only when
    /// known. Every interpreter found is a `runtime` package with its `location`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub on_path: std::collections::BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

// serde's `skip_serializing_if` passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

/// The largest snapshot file envsync reads: far above any real inventory (a few MiB),
/// far below what would exhaust memory.
pub const MAX_SNAPSHOT_BYTES: u64 = 64 * 1024 * 1024;

/// OS identity from `/etc/os-release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

/// One component of an environment: a package, a runtime, a service, a file or an
/// environment variable. For files and environment variables `version` holds
/// `sha256:<hex>` of the content, never the content itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Where it is installed, when one environment can hold several copies (a Python
    /// distribution's site-packages directory, an npm package's `node_modules` path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// File size in bytes (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Unix mode as octal text, e.g. `0644` (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// What identifies a component across two snapshots: the same key on both sides is
/// the same component, possibly at another version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageKey<'a> {
    pub ecosystem: Ecosystem,
    pub name: &'a str,
    pub arch: Option<&'a str>,
    pub location: Option<&'a str>,
}

impl Package {
    /// A package known by ecosystem, name and version only (no arch, location, size or
    /// mode).
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str) -> Package {
        Package {
            ecosystem,
            name: name.to_string(),
            version: version.to_string(),
            arch: None,
            location: None,
            size: None,
            mode: None,
        }
    }

    pub fn key(&self) -> PackageKey<'_> {
        PackageKey {
            ecosystem: self.ecosystem,
            name: &self.name,
            arch: self.arch.as_deref(),
            location: self.location.as_deref(),
        }
    }
}

/// The part of a snapshot the digest covers, in its canonical field order.
#[derive(Serialize)]
struct StablePart<'a> {
    schema: &'a str,
    os: &'a Option<OsInfo>,
    packages: &'a [Package],
    warnings: &'a [String],
    #[serde(skip_serializing_if = "is_true")]
    complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash_key: &'a Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    on_path: &'a std::collections::BTreeMap<String, String>,
}

impl Snapshot {
    /// An empty snapshot of `target`.
    pub fn new(target: &str) -> Snapshot {
        Snapshot {
            schema: SNAPSHOT_SCHEMA.to_string(),
            target: target.to_string(),
            collected_at: None,
            digest: None,
            os: None,
            packages: Vec::new(),
            warnings: Vec::new(),
            complete: true,
            hash_key: None,
            on_path: std::collections::BTreeMap::new(),
        }
    }

    /// An error when the snapshot is incomplete and `allow_incomplete` is not set: a
    /// comparison of an inventory that was not fully read would report parity or drift
    /// it never saw.
    pub fn require_complete(&self, allow_incomplete: bool) -> Result<(), DriftError> {
        if self.complete || allow_incomplete {
            return Ok(());
        }
        let unread: Vec<String> = self
            .warnings
            .iter()
            .filter_map(|w| w.strip_prefix(UNREADABLE_PREFIX))
            .map(str::to_string)
            .collect();
        Err(DriftError::SnapshotIncomplete {
            target: self.target.clone(),
            unread,
        })
    }

    /// Parse a snapshot from JSON text; `source` names where it came from in errors.
    /// The `schema` field is required and must be `envsync.snapshot/v1`; every other
    /// optional field may be missing.
    pub fn from_json(text: &str, source: &str) -> Result<Snapshot, DriftError> {
        let parse_err = |e: serde_json::Error| DriftError::SnapshotParse {
            source_name: source.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        // Only the schema is looked at first; the rest is skipped, not built as a second
        // copy of the document.
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            schema: Option<serde_json::Value>,
        }
        let schema = match serde_json::from_str::<Head>(text) {
            Ok(Head {
                schema: Some(serde_json::Value::String(s)),
            }) => s,
            Ok(Head {
                schema: Some(other),
            }) => other.to_string(),
            Ok(Head { schema: None }) => "(none)".to_string(),
            // Valid JSON that is not an object with a schema (`[1, 2]`) has none; invalid
            // JSON is reported where it breaks.
            Err(_) => {
                serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(parse_err)?;
                "(none)".to_string()
            }
        };
        if schema != SNAPSHOT_SCHEMA {
            return Err(DriftError::SnapshotSchema {
                source_name: source.to_string(),
                found: schema,
                expected: SNAPSHOT_SCHEMA,
            });
        }
        // Deserialise from the text (not the value) so errors carry line and column.
        let mut snapshot: Snapshot = serde_json::from_str(text).map_err(parse_err)?;
        snapshot.sort();
        Ok(snapshot)
    }

    /// Read a snapshot file of at most [`MAX_SNAPSHOT_BYTES`].
    pub fn read(path: &Path) -> Result<Snapshot, DriftError> {
        Snapshot::read_capped(path, MAX_SNAPSHOT_BYTES)
    }

    /// Read a snapshot file of at most `limit` bytes; a larger one is an error before
    /// more than `limit` bytes are read (the file may be a pipe or still growing).
    pub fn read_capped(path: &Path, limit: u64) -> Result<Snapshot, DriftError> {
        use std::io::Read;
        let read_err = |source| DriftError::SnapshotRead {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut text = String::new();
        file.take(limit + 1)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        if text.len() as u64 > limit {
            return Err(DriftError::SnapshotTooLarge {
                path: path.to_path_buf(),
                limit,
            });
        }
        Snapshot::from_json(&text, &path.display().to_string())
    }

    /// The snapshot as pretty JSON with a trailing newline. Deterministic: the same
    /// normalised snapshot always gives the same bytes.
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        // Escaped as reports are: a snapshot is printed to terminals too.
        let mut text = crate::report::json_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// `sha256:<hex>` over the canonical compact JSON of the stable part: schema, os,
    /// packages and warnings (not `target`, `collected_at` or `digest`).
    pub fn compute_digest(&self) -> String {
        let stable = StablePart {
            schema: &self.schema,
            os: &self.os,
            packages: &self.packages,
            warnings: &self.warnings,
            complete: self.complete,
            hash_key: &self.hash_key,
            on_path: &self.on_path,
        };
        let text = serde_json::to_vec(&stable).unwrap_or_default();
        format!("sha256:{}", hex::encode(Sha256::digest(&text)))
    }

    /// Sort packages by key (then version) and warnings, and drop exact duplicates.
    fn sort(&mut self) {
        self.packages.sort_by(|a, b| {
            a.key()
                .cmp(&b.key())
                .then_with(|| a.version.cmp(&b.version))
                .then_with(|| a.size.cmp(&b.size))
                .then_with(|| a.mode.cmp(&b.mode))
        });
        self.packages.dedup();
        self.warnings.sort();
        self.warnings.dedup();
    }

    /// Sort, deduplicate and set `digest`: the canonical form every writer produces.
    pub fn normalize(&mut self) {
        self.sort();
        self.digest = Some(self.compute_digest());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(eco: Ecosystem, name: &str, version: &str) -> Package {
        Package {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            arch: None,
            location: None,
            size: None,
            mode: None,
        }
    }

    #[test]
    fn round_trip_is_byte_identical_and_sorted() {
        let mut s = Snapshot::new("docker:x");
        s.packages = vec![
            pkg(Ecosystem::Npm, "express", "4.18.2"),
            pkg(Ecosystem::Deb, "zlib1g", "1:1.2.13"),
            pkg(Ecosystem::Deb, "adduser", "3.134"),
            pkg(Ecosystem::Deb, "adduser", "3.134"),
        ];
        s.normalize();
        let names: Vec<&str> = s.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["adduser", "zlib1g", "express"]);
        let text = s.to_json_pretty();
        let back = Snapshot::from_json(&text, "t.json").expect("parse");
        assert_eq!(back.to_json_pretty(), text);
        assert_eq!(back.compute_digest(), s.digest.clone().expect("digest"));
        // The target and collection time do not change the digest.
        let mut other = back.clone();
        other.target = "image:y".into();
        other.collected_at = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(other.compute_digest(), back.compute_digest());
        other.packages[0].version = "3.135".into();
        assert_ne!(other.compute_digest(), back.compute_digest());
    }

    fn check_err(text: &str, expected: &str) {
        let err = Snapshot::from_json(text, "s.json")
            .expect_err(text)
            .to_string();
        assert!(err.contains(expected), "{err}");
    }

    #[test]
    fn bad_snapshots_name_the_problem() {
        check_err(r#"{"target": "x"}"#, "schema `(none)`");
        check_err(
            r#"{"schema": "envsync.snapshot/v9", "target": "x"}"#,
            "schema `envsync.snapshot/v9`",
        );
        check_err("{\n\"schema\": \"envsync.snapshot/v1\",\n", "line 3");
        check_err(
            r#"{"schema": "envsync.snapshot/v1", "target": "x", "packages": [{"ecosystem": "snap", "name": "a", "version": "1"}]}"#,
            "unknown variant `snap`",
        );
        check_err("[1, 2]", "schema `(none)`");
    }

    /// `complete` is written only when false, read as true when absent, covered by the
    /// digest only when false (complete snapshots keep the digests they always had).
    #[test]
    fn completeness_round_trips() {
        let mut s = Snapshot::new("docker:x");
        s.normalize();
        let complete = s.to_json_pretty();
        assert!(!complete.contains("complete"), "{complete}");
        let before = s.digest.clone();
        s.complete = false;
        s.warnings = vec![format!(
            "{UNREADABLE_PREFIX}/var/lib/dpkg/status: Permission denied"
        )];
        s.normalize();
        assert_ne!(s.digest, before);
        let text = s.to_json_pretty();
        assert!(text.contains("\"complete\": false"), "{text}");
        let back = Snapshot::from_json(&text, "s.json").expect("parse");
        assert!(!back.complete);
        assert!(back.require_complete(true).is_ok());
        let err = back
            .require_complete(false)
            .expect_err("incomplete")
            .to_string();
        assert!(
            err.contains("docker:x")
                && err.contains("/var/lib/dpkg/status")
                && err.contains("--allow-incomplete"),
            "{err}"
        );
        let old = Snapshot::from_json(
            r#"{"schema": "envsync.snapshot/v1", "target": "x"}"#,
            "s.json",
        )
        .expect("old snapshot");
        assert!(old.complete && old.require_complete(false).is_ok());
    }

    #[test]
    fn oversized_snapshot_files_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("big.json");
        let text = Snapshot::new("x").to_json_pretty();
        std::fs::write(&path, &text).expect("write");
        assert!(Snapshot::read_capped(&path, text.len() as u64).is_ok());
        let err = Snapshot::read_capped(&path, text.len() as u64 - 1).expect_err("too large");
        assert!(matches!(err, DriftError::SnapshotTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("big.json"), "{err}");
    }

    #[test]
    fn minimal_snapshot_reads() {
        let s = Snapshot::from_json(
            r#"{"schema": "envsync.snapshot/v1", "target": "x"}"#,
            "s.json",
        )
        .expect("minimal");
        assert!(s.packages.is_empty() && s.os.is_none());
    }
}
