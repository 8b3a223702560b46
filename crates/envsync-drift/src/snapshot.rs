//! The snapshot: the exact inventory of one environment, and its stable JSON form
//! (`envsync.snapshot/v1`, see ARCHITECTURE.md).

use envsync_manifest::Ecosystem;
use serde::{Deserialize, Serialize};

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
}

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
    pub fn key(&self) -> PackageKey<'_> {
        PackageKey {
            ecosystem: self.ecosystem,
            name: &self.name,
            arch: self.arch.as_deref(),
            location: self.location.as_deref(),
        }
    }
}
