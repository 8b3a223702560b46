//! `envsync fingerprint TARGET`: collect the exact inventory of one environment (OS
//! packages, runtimes, middleware, Python and npm packages, hashed config files and
//! environment values) and print it as a table or as `envsync.snapshot/v1` JSON.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use envsync_drift::report::escape;
use envsync_drift::{CollectOptions, Snapshot, Target};

use super::output::DocFormat as Format;
use crate::cmd::output::out;
use crate::inputs::{load_manifest, ManifestArg};
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct FingerprintArgs {
    /// What to fingerprint: `local`, `local:/path`, `docker:NAME`, `image:REF`,
    /// `ssh://[user@]host[:port]`, `FILE.json`, or a name from the manifest's `[targets]`
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Output format [default: json when writing to a file or a pipe, table on a terminal]
    #[arg(short = 'f', long, value_enum)]
    pub format: Option<Format>,
    /// Write the output to FILE instead of standard output
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A virtualenv (or Python prefix) whose site-packages to read; repeatable
    #[arg(long = "python-env", value_name = "PATH")]
    pub python_envs: Vec<String>,
    /// An npm project directory whose node_modules to read; repeatable
    #[arg(long = "npm-project", value_name = "PATH")]
    pub npm_projects: Vec<String>,
    /// Also search this directory on live targets for Python and npm packages and
    /// interpreters, like `/opt` (with the manifest's `[collect] roots`); repeatable
    #[arg(long = "root", value_name = "PATH", value_parser = super::absolute_path)]
    pub roots: Vec<String>,
    /// A configuration file or directory to hash (keyed hash, size, mode); repeatable
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<String>,
    /// An environment variable to record, as a keyed hash of its value (see
    /// `ENVSYNC_HASH_KEY`); repeatable. Without it, none is recorded
    #[arg(long = "env", value_name = "NAME", conflicts_with = "no_env")]
    pub env_names: Vec<String>,
    /// Record no environment variables
    #[arg(long)]
    pub no_env: bool,
    /// Time limit for the whole collection, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// The manifest whose `[targets]` names TARGET may be
    #[command(flatten)]
    pub manifest: ManifestArg,
}

/// `--root` directories and the manifest's `[collect] roots`, when there is a manifest.
fn roots(args: &FingerprintArgs) -> anyhow::Result<Vec<String>> {
    let path = args.manifest.path();
    let mut roots = if path.exists() {
        load_manifest(&path)?.collect_roots
    } else {
        Vec::new()
    };
    roots.extend(args.roots.iter().cloned());
    Ok(roots)
}

/// Resolve a `[targets]` name through the manifest, when one exists and names it.
fn resolve(args: &FingerprintArgs) -> anyhow::Result<String> {
    let looks_direct = Target::parse(&args.target).is_ok();
    let path = args.manifest.path();
    if looks_direct || !path.exists() {
        return Ok(args.target.clone());
    }
    let manifest = load_manifest(&path)?;
    match manifest.targets.iter().find(|t| t.name == args.target) {
        Some(t) => Ok(t.target.clone()),
        None => Ok(args.target.clone()),
    }
}

pub async fn run(args: &FingerprintArgs) -> anyhow::Result<Outcome> {
    let spec = resolve(args)?;
    let target = Target::parse(&spec)?;
    let opts = CollectOptions {
        python_envs: args.python_envs.clone(),
        npm_projects: args.npm_projects.clone(),
        roots: roots(args)?,
        files: args.files.clone(),
        env_names: if args.env_names.is_empty() {
            None
        } else {
            Some(args.env_names.clone())
        },
        collect_env: !args.no_env,
        timeout: Duration::from_secs(args.timeout.max(1)),
        ..CollectOptions::default()
    };
    for p in opts
        .python_envs
        .iter()
        .chain(&opts.npm_projects)
        .chain(&opts.files)
    {
        if !p.starts_with('/') {
            bail!("`{p}` is not an absolute path; paths on the target must start with `/`");
        }
    }
    let snapshot = crate::collect(&target, &opts)
        .await
        .with_context(|| format!("cannot fingerprint `{spec}`"))?;
    let format = args.format.unwrap_or(
        if args.output.is_some() || !std::io::stdout().is_terminal() {
            Format::Json
        } else {
            Format::Table
        },
    );
    let text = match format {
        Format::Json => snapshot.to_json_pretty(),
        Format::Table => table(&snapshot),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => out!("{text}")?,
    }
    for w in &snapshot.warnings {
        eprintln!("warning: {}", escape(w));
    }
    Ok(Outcome::Ok)
}

/// Counts per ecosystem, then every component. Everything but the counts came from the
/// target, so every such text is escaped.
pub fn table(snapshot: &Snapshot) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in &snapshot.packages {
        *counts.entry(p.ecosystem.to_string()).or_default() += 1;
    }
    let mut out = String::new();
    let os = snapshot.os.as_ref().map_or("unknown OS".to_string(), |o| {
        o.pretty_name
            .clone()
            .unwrap_or_else(|| format!("{} {}", o.id, o.version_id.as_deref().unwrap_or("")))
    });
    out.push_str(&format!(
        "{}: {}, {} components\n",
        escape(&snapshot.target),
        escape(&os),
        snapshot.packages.len()
    ));
    let mut summary = Table::new();
    summary
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["ecosystem", "count"]);
    for (eco, n) in &counts {
        summary.add_row(vec![eco.clone(), n.to_string()]);
    }
    out.push_str(&summary.to_string());
    out.push('\n');
    let mut list = Table::new();
    list.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "ecosystem",
        "name",
        "version",
        "arch",
        "location",
    ]);
    for p in &snapshot.packages {
        let version = envsync_drift::compare::short_version(&p.version);
        list.add_row(vec![
            p.ecosystem.to_string(),
            escape(&p.name).into_owned(),
            escape(&version).into_owned(),
            escape(p.arch.as_deref().unwrap_or_default()).into_owned(),
            escape(p.location.as_deref().unwrap_or_default()).into_owned(),
        ]);
    }
    out.push_str(&list.to_string());
    out.push('\n');
    out
}
