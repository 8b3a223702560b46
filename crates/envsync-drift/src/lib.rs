//! Snapshots of environments: collecting them from targets, comparing them, and reporting drift.
//!
//! Comparison and reporting are pure functions of [`Snapshot`]s, so every drift rule
//! is testable without Docker.

pub mod snapshot;

pub use snapshot::{OsInfo, Package, Snapshot, SNAPSHOT_SCHEMA};
