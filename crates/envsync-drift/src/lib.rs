//! Snapshots of environments: collecting them from targets, comparing them, and reporting drift.
//!
//! Comparison and reporting are pure functions of [`Snapshot`]s, so every drift rule
//! is testable without Docker.

pub mod check;
pub mod collect;
pub mod compare;
pub mod declare;
pub mod docker;
pub mod error;
pub mod fingerprint;
pub mod fleet;
pub mod hashkey;
pub mod inventory;
pub mod lockfile;
pub mod pins;
pub mod probe;
pub mod report;
pub mod snapshot;
pub mod ssh;
pub mod swarm;
pub mod target;
pub mod verify;

pub use collect::CollectOptions;
pub use error::DriftError;
pub use fingerprint::{fingerprint, survey};
pub use hashkey::{align_hashes, HashKey};
pub use snapshot::{OsInfo, Package, Snapshot, SNAPSHOT_SCHEMA};
pub use target::Target;
