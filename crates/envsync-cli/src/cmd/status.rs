//! `envsync status`: the project's containers with their image, state (and exit code,
//! once ended), restart count, health and published ports, as a table or as JSON
//! (`envsync.status/v1`); exit 1 when a container is not running. `--verify` also
//! fingerprints the running containers and shows each one's parity with envsync.lock
//! (the same check `envsync up` ends with).

use anyhow::{anyhow, bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use envsync_drift::report::escape;
use envsync_provisioner::run::{self, ContainerState, HealthState, ServiceStatus};

use super::down::ProjectArgs;
use super::output::DocFormat as Format;
use super::up::{verify_running, Verification};
use crate::cmd::output::outln;
use crate::documents;
use crate::inputs::{Inputs, Loaded};
use crate::Outcome;
use envsync_provisioner::env::DEV_SERVICE;

pub use crate::documents::STATUS_SCHEMA;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format: `table` or `json`
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also fingerprint the running containers and show their parity with envsync.lock
    /// (a PARITY column; exit 1 on drift). Needs the manifest
    #[arg(long)]
    pub verify: bool,
}

/// Run `envsync status`.
pub async fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let docker = crate::connect_engine().await?;
    let services = run::status(&docker, &project)
        .await
        .with_context(|| format!("reading the status of project `{project}`"))?;
    let verification = if args.verify && !services.is_empty() {
        let stopped: Vec<&str> = services
            .iter()
            .filter(|s| s.state != ContainerState::Running)
            .map(|s| s.service.as_str())
            .collect();
        if !stopped.is_empty() {
            bail!(
                "cannot verify project `{project}`: {} not running; start it with `envsync up`",
                stopped.join(", ")
            );
        }
        let inputs = Inputs {
            manifest: args.project.manifest.clone(),
            lock: None,
        };
        let Loaded {
            manifest,
            lock_path,
            lock,
        } = inputs.load().map_err(|err| {
            anyhow!(
                "{err:#}\n(`status --verify` needs the manifest; pass it with `--manifest PATH`)"
            )
        })?;
        {
            // What runs: `up SERVICE…` and profiles may have left services out.
            let running = |name: &str| services.iter().any(|s| s.service == name);
            let chosen: Vec<_> = manifest
                .services
                .iter()
                .filter(|s| running(&s.name))
                .collect();
            let lock = lock.as_ref().map(|l| (l, lock_path.as_path()));
            Some(verify_running(&manifest, lock, &chosen, running(DEV_SERVICE)).await?)
        }
    } else {
        None
    };
    match args.format {
        Format::Json => documents::print(&documents::Status {
            schema: STATUS_SCHEMA,
            project: &project,
            services: &services,
            verify: verification.as_ref().map(Verification::document),
        })?,
        Format::Table if services.is_empty() => {
            outln!("project `{project}`: nothing running; start it with `envsync up`")?;
        }
        Format::Table => {
            outln!("{}", table(&services, verification.as_ref()))?;
            if let Some(v) = &verification {
                v.print()?;
            }
        }
    }
    let down: Vec<&ServiceStatus> = services.iter().filter(|s| s.is_down()).collect();
    if !down.is_empty() {
        let names: Vec<String> = down
            .iter()
            .map(|s| escape(&s.service).into_owned())
            .collect();
        eprintln!(
            "not running: {}; see why with `envsync logs {}`, start again with `envsync up`",
            names.join(", "),
            names.join(" ")
        );
    }
    Ok(match &verification {
        Some(v) if v.failed() => Outcome::Drift,
        _ if !down.is_empty() => Outcome::Drift,
        _ => Outcome::Ok,
    })
}

/// The STATE cell: the engine's state, and the exit code of a container that ended
/// (`exited (137)`).
fn state_cell(s: &ServiceStatus) -> String {
    match s.exit_code {
        Some(code) => format!("{} ({code})", s.state),
        None => s.state.to_string(),
    }
}

fn table(services: &[ServiceStatus], verification: Option<&Verification>) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["SERVICE", "IMAGE", "STATE", "RESTARTS", "HEALTH", "PORTS"];
    if verification.is_some() {
        header.push("PARITY");
    }
    table.set_header(header);
    for s in services {
        let ports = s
            .ports
            .iter()
            .map(|p| format!("{}:{}->{}", p.host_ip, p.host, p.container))
            .collect::<Vec<_>>()
            .join(", ");
        // Image, state and health are what the engine reports: escaped like target text.
        let mut row = vec![
            escape(&s.service),
            escape(&s.image),
            escape(&state_cell(s)).into_owned().into(),
            s.restarts.to_string().into(),
            escape(s.health.map_or("-", HealthState::as_str)),
            escape(&ports),
        ];
        if let Some(v) = verification {
            row.push(escape(v.parity(&s.service)));
        }
        table.add_row(row);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_cell_shows_the_exit_code_of_an_ended_container() {
        fn check(state: ContainerState, exit_code: Option<i64>, expected: &str) {
            let s = ServiceStatus {
                service: "redis".into(),
                role: envsync_provisioner::labels::Role::Service,
                container: "envsync-shop-redis".into(),
                image: "envsync/redis:7.0".into(),
                state,
                health: None,
                ports: vec![],
                exit_code,
                restarts: 0,
            };
            assert_eq!(state_cell(&s), expected);
            assert_eq!(s.is_down(), state != ContainerState::Running);
        }
        check(ContainerState::Running, None, "running");
        check(ContainerState::Exited, Some(137), "exited (137)");
        check(ContainerState::Restarting, Some(1), "restarting (1)");
    }
}
