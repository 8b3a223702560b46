//! Builds envsync environments as Docker images through bollard: Dockerfile generation,
//! an in-memory build context, content-addressed tags and cached, explained builds.
//!
//! Entry points: [`BuildSpec`] (the input, independent of the manifest format),
//! [`render_dockerfile`], [`build_context`], [`image_tag`], [`plan()`], and the async
//! [`build()`] / [`build_with_options`]. [`spec_from_manifest`] maps a manifest onto a
//! spec. This crate is the only one that creates or removes images and containers.

pub mod artifacts;
pub mod build;
pub mod cache;
pub mod context;
pub mod diagnose;
pub mod dockerfile;
pub mod error;
pub mod fetch;
pub mod from_manifest;
pub mod plan;
pub mod pull;
pub mod spec;
pub mod update;

// The runtime half: `up`, `plan`, `down`, `status`, `exec` (see `run`).
pub mod env;
pub mod health;
pub mod labels;
pub mod logs;
pub mod middleware;
pub mod rebuild;
pub mod run;
mod run_error;
pub mod runtime;

pub use artifacts::read_artifacts;
pub use build::{
    build, build_with_options, image_labels, resolve_base, resolve_base_with, BuildEvent,
    BuildOptions, BuiltImage, LABEL_PROJECT, LABEL_SPEC_SHA256,
};
pub use context::{build_context, image_tag, prepare, Prepared};
pub use dockerfile::render_dockerfile;
pub use error::ProvisionError;
pub use from_manifest::spec_from_manifest;
pub use plan::{emit_context, plan};
pub use spec::{
    BuildSpec, FileSource, FileSpec, LockedDeb, LockedSet, LockedWheel, NodeSpec, PackageSet, Pin,
    PythonSpec, Req, SourceSpec,
};
