//! What a history store knows of the hosts of a report, as plain data for the HTML page:
//! each host's latest changes (newest first) and the span of its audits. The CLI fills
//! it from the store `envsync audit` writes; this crate never reads a store (the
//! history crate depends on drift, not the other way round).
//!
//! Also the outcome of one `envsync audit` run per host, for the page `audit --format
//! html` writes.

use envsync_manifest::version::Direction;

/// The history of every host a report names, read from one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreHistory {
    /// The store as reports show it (a PostgreSQL URL without its password).
    pub store: String,
    /// One entry per host the store has collections of; a host of the report missing
    /// here has no stored history.
    pub hosts: Vec<HostHistory>,
}

impl StoreHistory {
    /// The history of the host a report names `target`, if the store has one.
    pub fn host(&self, target: &str) -> Option<&HostHistory> {
        self.hosts.iter().find(|h| h.target == target)
    }
}

/// One host's history: its latest changes and its audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHistory {
    /// The target as `envsync audit` was given it (and as the report names it).
    pub target: String,
    /// The latest changes, newest first.
    pub changes: Vec<HistoryChange>,
    /// How many older changes the store holds beyond `changes`.
    pub older: usize,
    pub audits: Audits,
}

/// The collections stored of one host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audits {
    /// Collections stored, failed ones included.
    pub count: u64,
    pub failed: u64,
    /// The oldest and newest collection kept (RFC 3339, UTC).
    pub first: Option<String>,
    pub last: Option<String>,
}

/// One component that moved between two audits of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryChange {
    /// `deb:openssl`, with ` @ location` when there is one.
    pub component: String,
    /// The version before; `None` when the component was added.
    pub from: Option<String>,
    /// The version after; `None` when the component was removed.
    pub to: Option<String>,
    /// `newer` or `older` for package versions; `None` for content hashes.
    pub direction: Option<Direction>,
    /// The audit that first saw the change (RFC 3339, UTC).
    pub at: String,
}

/// What one audit found on one host, against its previous collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditStatus {
    /// The host's first successful collection.
    Baseline,
    Unchanged,
    Changed,
    /// Collected, but not comparable with the previous collection (other hash keys).
    Incomparable,
    /// Not collected.
    Failed,
}

impl AuditStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Baseline => "baseline",
            AuditStatus::Unchanged => "unchanged",
            AuditStatus::Changed => "changed",
            AuditStatus::Incomparable => "incomparable",
            AuditStatus::Failed => "failed",
        }
    }
}

/// One host of an audit run: its outcome and the sentence that says it
/// (`1 change since 2026-03-01T10:00:00Z`, `collection failed: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedHost {
    pub target: String,
    pub status: AuditStatus,
    pub detail: String,
}

/// An audit run: its verdict line and each host, in the order the user named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRun {
    pub verdict: String,
    pub hosts: Vec<AuditedHost>,
}
