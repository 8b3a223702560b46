//! The audit history: every collection of every target `envsync audit` makes, kept in
//! an SQLite file (the default, in the user's data directory) or a PostgreSQL database
//! a team shares, with what changed between consecutive collections, so that
//! `envsync history` can say when a component changed and from what.
//!
//! Only what snapshots hold is stored: versions, and keyed hashes of file contents and
//! environment values, never the values. Identical snapshots are stored once.

mod backend;
pub mod error;
pub mod model;
mod schema;
pub mod store;

pub use error::HistoryError;
pub use model::{
    parse_period, Audit, Change, ChangeKind, Entry, Failure, History, Pruned, Retention,
};
pub use schema::SCHEMA_VERSION;
pub use store::{Location, Store};
