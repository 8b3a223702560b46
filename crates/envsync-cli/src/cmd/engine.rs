//! `envsync engine`: check that a Docker engine answers and print its version, as a
//! line or as `envsync.engine/v1` JSON.

use super::output::{write_stdout, DocFormat};
use crate::documents;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Output format: `table` or `json`
    #[arg(long, value_enum, default_value_t = DocFormat::Table)]
    pub format: DocFormat,
}

/// Run `envsync engine`.
pub async fn run(args: &EngineArgs) -> anyhow::Result<Outcome> {
    let docker = crate::connect_engine().await?;
    let version = docker.version().await?;
    let host = envsync_engine::engine_host();
    let document = documents::Engine {
        schema: documents::ENGINE_SCHEMA,
        host: &host,
        version: version.version.as_deref(),
        api_version: version.api_version.as_deref(),
    };
    match args.format {
        DocFormat::Json => documents::print(&document)?,
        DocFormat::Table => write_stdout(
            format!(
                "engine {} (API {}) at {}\n",
                document.version.unwrap_or("unknown"),
                document.api_version.unwrap_or("unknown"),
                document.host
            )
            .as_bytes(),
        )?,
    }
    Ok(Outcome::Ok)
}
