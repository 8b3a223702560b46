//! The envsync manifest and lock model, their validation, and version ordering per ecosystem.
//!
//! This crate performs no IO beyond reading the files it is handed.

pub mod bounded;
pub mod destination;
pub mod diag;
pub mod digest;
pub mod dotenv;
pub mod draft;
pub mod error;
pub mod lock;
pub mod manifest;
pub mod middleware;
pub mod policy;
pub mod version;

pub use diag::{Diagnostic, ManifestErrors, SourceLocation};
pub use error::LockError;
pub use lock::{Lock, LockProblem, LockedBase, LockedComponent, LOCK_SCHEMA};
pub use manifest::{Declared, Manifest};
pub use version::{Change, ChangeSize, Constraint, Direction, Ecosystem, VersionError};
