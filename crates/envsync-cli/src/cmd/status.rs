//! `envsync status`: the project's containers with their image, state, health and
//! published ports, as a table or as JSON (`envsync.status/v1`).

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use envsync_provisioner::run::{self, ServiceStatus};

use super::down::ProjectArgs;
use crate::Outcome;

/// Schema id of `envsync status --format json`.
pub const STATUS_SCHEMA: &str = "envsync.status/v1";

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Output format: `table` or `json`
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

/// Run `envsync status`.
pub async fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let docker = envsync_engine::connect().await?;
    let services = run::status(&docker, &project)
        .await
        .with_context(|| format!("reading the status of project `{project}`"))?;
    match args.format {
        StatusFormat::Json => {
            let json = serde_json::json!({
                "schema": STATUS_SCHEMA,
                "project": project,
                "services": services,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        StatusFormat::Table if services.is_empty() => {
            println!("project `{project}`: nothing running; start it with `envsync up`");
        }
        StatusFormat::Table => println!("{}", table(&services)),
    }
    Ok(Outcome::Ok)
}

fn table(services: &[ServiceStatus]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["SERVICE", "IMAGE", "STATE", "HEALTH", "PORTS"]);
    for s in services {
        let ports = s
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{}->{}", p.host, p.container))
            .collect::<Vec<_>>()
            .join(", ");
        table.add_row([
            s.service.as_str(),
            s.image.as_str(),
            s.state.as_str(),
            s.health.as_deref().unwrap_or("-"),
            ports.as_str(),
        ]);
    }
    table
}
