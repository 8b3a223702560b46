//! The envsync manifest and lock model, their validation, and version ordering per ecosystem.
//!
//! This crate performs no IO beyond reading the files it is handed.

pub mod policy;
pub mod version;

pub use version::{Change, ChangeSize, Direction, Ecosystem};
