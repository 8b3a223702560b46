//! What the store answers, as plain data: the outcome of recording one audit, a
//! component change between two collections, and a target's history.

use envsync_drift::compare::Drift;
use envsync_drift::Package;
use envsync_manifest::policy::DriftKind;
use envsync_manifest::{Direction, Ecosystem};
use serde::Serialize;

/// How a component moved between two collections of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Not in the previous collection.
    Added,
    /// In the previous collection, gone now.
    Removed,
    /// Another version (or, for files and environment values, another content hash).
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }

    pub fn parse(text: &str) -> Option<ChangeKind> {
        match text {
            "added" => Some(ChangeKind::Added),
            "removed" => Some(ChangeKind::Removed),
            "changed" => Some(ChangeKind::Changed),
            _ => None,
        }
    }
}

/// One component that moved between two collections of the same target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub ecosystem: Ecosystem,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub kind: ChangeKind,
    /// The version before; `None` when the component was added.
    pub old: Option<String>,
    /// The version after; `None` when the component was removed.
    pub new: Option<String>,
    /// For package versions that changed: `newer` or `older` under the ecosystem's
    /// ordering. None for content hashes, which have no order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

impl Change {
    /// A difference between the previous collection (the reference, left) and this one.
    pub fn from_drift(d: &Drift) -> Change {
        Change {
            ecosystem: d.ecosystem,
            name: d.name.clone(),
            arch: d.arch.clone(),
            location: d.location.clone(),
            kind: match d.kind {
                DriftKind::Missing => ChangeKind::Removed,
                DriftKind::Extra => ChangeKind::Added,
                DriftKind::Changed => ChangeKind::Changed,
            },
            old: d.left.clone(),
            new: d.right.clone(),
            direction: d.direction,
        }
    }

    /// `deb:openssl`, with ` @ location` when there is one.
    pub fn label(&self) -> String {
        match &self.location {
            Some(loc) => format!("{}:{} @ {loc}", self.ecosystem, self.name),
            None => format!("{}:{}", self.ecosystem, self.name),
        }
    }
}

/// What recording one collection found, against the target's previous successful one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Audit {
    /// The target's first successful collection: nothing to compare with yet.
    Baseline { components: usize },
    /// The same snapshot as the previous collection (taken at `since`).
    Unchanged { since: String },
    /// What changed since the previous collection (taken at `since`).
    Changed { since: String, changes: Vec<Change> },
    /// The two collections were hashed with different keys, so their file and
    /// environment hashes cannot be compared; the new one is stored all the same.
    Incomparable { since: String, reason: String },
    /// The collection failed; stored as a failed collection.
    Failed { error: String },
}

/// One change as the history lists it: when it was seen, and when the version before
/// it was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The collection that first saw the change (RFC 3339, UTC).
    pub at: String,
    /// The previous successful collection, which still had the old version.
    pub since: String,
    #[serde(flatten)]
    pub change: Change,
}

/// A collection that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub at: String,
    pub error: String,
}

/// Everything the store knows of one target, or of one component on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub target: String,
    /// The component asked for (`openssl`, `deb:openssl`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Collections stored (failed ones included), and the failed ones.
    pub collections: u64,
    pub failed: u64,
    /// The oldest and newest collection kept.
    pub first: Option<String>,
    pub last: Option<String>,
    /// Every change, oldest first.
    pub changes: Vec<Entry>,
    /// Every failed collection, oldest first.
    pub failures: Vec<Failure>,
    /// With a component: what the newest successful collection holds of it (empty when
    /// it is not there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Vec<Package>>,
}

/// How long collections are kept. The newest successful collection of each target is
/// always kept: it is what the next audit compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Keep at most this many collections per target.
    pub keep: Option<u64>,
    /// Drop collections older than this many seconds.
    pub max_age_secs: Option<u64>,
}

impl Retention {
    pub fn is_set(&self) -> bool {
        self.keep.is_some() || self.max_age_secs.is_some()
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pruned {
    pub collections: u64,
    /// Distinct snapshots no kept collection refers to any more.
    pub snapshots: u64,
}

/// Parse a retention period: a number and `h`, `d` or `w` (`90d`, `2w`, `36h`).
pub fn parse_period(text: &str) -> Result<u64, crate::HistoryError> {
    let bad = || crate::HistoryError::BadPeriod {
        text: text.to_string(),
    };
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit = match unit {
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).filter(|&s| s > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let check = |text: &str, expected: Option<u64>| {
            assert_eq!(parse_period(text).ok(), expected, "{text}");
        };
        check("90d", Some(90 * 86_400));
        check("2w", Some(14 * 86_400));
        check("36h", Some(36 * 3600));
        check("0d", None);
        check("d", None);
        check("10", None);
        check("10m", None);
        check("-1d", None);
    }
}
