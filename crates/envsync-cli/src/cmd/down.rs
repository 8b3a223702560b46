//! `envsync down`: remove the project's containers and network (and, with `--volumes`,
//! its named volumes). Only resources labelled with the project are touched.

use anyhow::Context;
use envsync_provisioner::run;

use super::output::{write_stdout, DocFormat};
use crate::documents;
use crate::inputs::ManifestArg;
use crate::Outcome;

/// Which project a runtime command acts on: the manifest's `[project] name`, or
/// `--project` (which needs no manifest, e.g. after the manifest was deleted).
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// The manifest naming the project
    #[command(flatten)]
    pub manifest: ManifestArg,
    /// The project name, instead of reading it from the manifest
    #[arg(short = 'p', long = "project", value_name = "NAME")]
    pub project: Option<String>,
}

impl ProjectArgs {
    /// The project name: `--project`, else the manifest's `[project] name`.
    pub fn project(&self) -> anyhow::Result<String> {
        if let Some(project) = &self.project {
            return Ok(project.clone());
        }
        let manifest = self.manifest.load().map_err(|err| {
            anyhow::anyhow!("{err:#}\n(or name the project with `--project NAME`)")
        })?;
        Ok(manifest.project.name)
    }
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Also remove the project's named volumes (database data and the like)
    #[arg(long)]
    pub volumes: bool,
    /// Output format: `table` or `json` (`envsync.down/v1`)
    #[arg(long, value_enum, default_value_t = DocFormat::Table)]
    pub format: DocFormat,
}

/// Run `envsync down`.
pub async fn run(args: &DownArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let docker = crate::connect_engine().await?;
    let report = run::down(&docker, &project, args.volumes)
        .await
        .with_context(|| format!("removing project `{project}`"))?;
    if args.format == DocFormat::Json {
        documents::print(&documents::Down {
            schema: documents::DOWN_SCHEMA,
            project: &project,
            containers: &report.containers,
            networks: &report.networks,
            volumes: &report.volumes,
        })?;
        return Ok(Outcome::Ok);
    }
    let mut text = String::new();
    for (kind, names) in [
        ("container", &report.containers),
        ("network", &report.networks),
        ("volume", &report.volumes),
    ] {
        for name in names {
            text.push_str(&format!("removed {kind} {name}\n"));
        }
    }
    if text.is_empty() {
        text = format!("project `{project}`: nothing to remove\n");
    }
    write_stdout(text.as_bytes())?;
    Ok(Outcome::Ok)
}
