//! Versions ordered as each ecosystem orders them, and the direction and size of a change.
//!
//! Entry points: [`compare`] orders two versions of one ecosystem, [`change`] says
//! whether the right side is newer or older and how big the step is.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a component comes from. Package ecosystems order versions their own way;
/// the others (`runtime`, `service`, `file`, `env`) describe what is not a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Deb,
    Apk,
    Rpm,
    Pypi,
    Npm,
    Runtime,
    Service,
    File,
    Env,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 9] = [
        Ecosystem::Deb,
        Ecosystem::Apk,
        Ecosystem::Rpm,
        Ecosystem::Pypi,
        Ecosystem::Npm,
        Ecosystem::Runtime,
        Ecosystem::Service,
        Ecosystem::File,
        Ecosystem::Env,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Runtime => "runtime",
            Ecosystem::Service => "service",
            Ecosystem::File => "file",
            Ecosystem::Env => "env",
        }
    }

    /// Parse an ecosystem name as written in manifests, snapshots and `deb:openssl`-style ids.
    pub fn parse(name: &str) -> Option<Ecosystem> {
        Ecosystem::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a changed version moved, seen from the reference (left) to the other side (right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Newer,
    Older,
    /// Different strings that the ecosystem orders as equal (e.g. `1.0` and `1.0.0` in PEP 440),
    /// or contents whose hashes differ (files, environment values) and so have no order.
    Same,
}

/// The most significant part of a version that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeSize {
    Epoch,
    Major,
    Minor,
    Patch,
    /// Debian/RPM revision, apk `-rN`, PEP 440 post/dev/local, or a pre-release tag.
    Revision,
    /// Only the spelling differs, or the values are unordered (hashes).
    Other,
}

/// Direction and size of a version change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub direction: Direction,
    pub size: ChangeSize,
}

/// Order two versions of `ecosystem` the way that ecosystem's own tools order them.
pub fn compare(ecosystem: Ecosystem, left: &str, right: &str) -> Ordering {
    match ecosystem {
        _ => generic::compare(left, right),
    }
}

/// The direction and size of the change from `left` (the reference) to `right`.
pub fn change(ecosystem: Ecosystem, left: &str, right: &str) -> Change {
    let direction = match compare(ecosystem, left, right) {
        Ordering::Less => Direction::Newer,
        Ordering::Greater => Direction::Older,
        Ordering::Equal => Direction::Same,
    };
    Change {
        direction,
        size: generic::change_size(left, right),
    }
}

pub mod generic;
