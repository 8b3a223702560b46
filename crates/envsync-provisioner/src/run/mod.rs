//! Running an environment: `up` (network, then the middleware services and the
//! development container in the order of their `depends_on`, each waited on until healthy), `plan` (what `up` would do, changing nothing),
//! `down`, `status` and `exec`.
//!
//! Everything is derived from the engine: containers, networks and volumes carry the
//! project's labels and each container its effective configuration (see
//! [`crate::labels`]). `up` on an unchanged environment costs one container listing,
//! one network inspection and one image inspection per distinct image.
//!
//! The rooms: `decide` is pure (what each resource needs, and why), `apply` talks to
//! the engine, `up` joins them; `status`, `down` and `exec` stand alone. Their error type,
//! [`RunError`], lives in a module of its own that `health` shares.

mod apply;
mod decide;
mod down;
mod exec;
mod post_create;
mod status;
mod up;
mod user;

pub use crate::run_error::RunError;
pub use decide::{
    decide, health_from_status, start_waves, validate, Action, Change, ContainerState, Desired,
    Existing, HealthState, NetworkState, Resource,
};
pub use down::{down, DownReport};
pub use exec::{container_dir, dev_container, exec, ExecOptions, TerminalSize};
pub use status::{status, ServiceStatus};
pub use up::{list_project_containers, plan, up, UpReport};

/// Receives one line per step of `up` (`redis: healthy after 0.8s`).
pub type Progress<'a> = &'a (dyn Fn(&str) + Send + Sync);
