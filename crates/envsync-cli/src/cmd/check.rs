//! `envsync check`: collect the environment this runs in (or `--target`), compare it
//! with the lock (or a stage or snapshot), and judge the drift by the manifest's policy.
//! Each failing drift names the manifest or lock entry it violates and a fix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use envsync_drift::check::{self, parse_fail_on, FailRule, Rules, SourceRef};
use envsync_drift::compare::{self, short_version, Drift};
use envsync_manifest::policy::{Date, Policy};
use envsync_manifest::Ecosystem;

use super::diff::{ecosystems, filter, load_lock, load_target, Sources};
use super::output::{OutputArgs, Subject};
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The manifest whose policy judges the drift
    #[arg(
        short = 'm',
        long = "manifest",
        value_name = "PATH",
        default_value = "envsync.toml"
    )]
    pub manifest: PathBuf,
    /// The lock [default: envsync.lock next to the manifest]
    #[arg(long = "lock", value_name = "PATH")]
    pub lock: Option<PathBuf>,
    /// The environment to check: `local`, a snapshot file, or any other target
    #[arg(short = 't', long, value_name = "TARGET", default_value = "local")]
    pub target: String,
    /// What it must match: `lock`, a name from `[targets]`, or a snapshot file
    #[arg(
        short = 'a',
        long,
        value_name = "lock|STAGE|FILE",
        default_value = "lock"
    )]
    pub against: String,
    /// Drift that fails the check, overriding the manifest's `fail_on` (comma-separated:
    /// missing, extra, changed, epoch, major, minor, patch, revision, newer, older)
    #[arg(long, value_name = "LIST")]
    pub fail_on: Option<String>,
    /// Only check these ecosystems (comma-separated)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub ecosystem: Vec<String>,
    /// Do not report components that only the checked environment has
    #[arg(long)]
    pub ignore_extra: bool,
    /// Judge ignore expiry dates as of this day (YYYY-MM-DD) instead of today, e.g. to
    /// see what will fail next month
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    pub as_of: Option<Date>,
    /// Check snapshots that say they are incomplete (files the collecting user could not
    /// read) instead of failing with exit 2
    #[arg(long)]
    pub allow_incomplete: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where each component is written down: the manifest declaration first, else the lock line.
struct Locator {
    manifest: Option<envsync_manifest::Manifest>,
    lock_file: Option<String>,
    lock_lines: HashMap<(Ecosystem, String), (usize, String)>,
}

impl Locator {
    fn locate(&self, d: &Drift) -> Option<SourceRef> {
        if let Some(m) = &self.manifest {
            if let Some(at) = m.locate(d.ecosystem, &d.name) {
                let entry = m
                    .declared()
                    .iter()
                    .find(|x| x.ecosystem == d.ecosystem && x.line == at.line)
                    .map(|x| format!("{} = \"{}\"", x.name, x.constraint));
                return Some(SourceRef {
                    file: at.file.display().to_string(),
                    line: at.line,
                    entry,
                });
            }
        }
        let file = self.lock_file.as_ref()?;
        let (line, version) = self.lock_lines.get(&(d.ecosystem, d.name.clone()))?;
        Some(SourceRef {
            file: file.clone(),
            line: *line,
            entry: Some(format!(
                "{}:{} {}",
                d.ecosystem,
                d.name,
                short_version(version)
            )),
        })
    }
}

/// Run `envsync check`.
pub async fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let plan = args.output.plan()?;
    let only = ecosystems(&args.ecosystem)?;
    let fail_on: Option<Vec<FailRule>> = match &args.fail_on {
        Some(list) => Some(parse_fail_on(list).map_err(|word| {
            anyhow::anyhow!(
                "unknown word `{word}` in `--fail-on`; use {}",
                FailRule::WORDS
            )
        })?),
        None => None,
    };
    let today = args.as_of.unwrap_or_else(Date::today);
    let explicit = args.manifest != Path::new("envsync.toml");
    let sources = Sources::load(&args.manifest, args.lock.as_deref(), explicit)?;
    if sources.manifest.is_none() && args.against == "lock" && !sources.lock_path.exists() {
        bail!(
            "neither `{}` nor `{}` exists; run `envsync check` where the manifest is, or pass `--manifest PATH`",
            sources.manifest_path.display(),
            sources.lock_path.display()
        );
    }

    let mut reference = load_target(&args.against, &sources)
        .await
        .with_context(|| format!("cannot load the reference `{}`", args.against))?;
    let mut other = load_target(&args.target, &sources)
        .await
        .with_context(|| format!("cannot collect `{}`", args.target))?;
    reference.require_complete(args.allow_incomplete)?;
    other.require_complete(args.allow_incomplete)?;
    envsync_drift::align_hashes(&mut reference, &mut other)?;

    let mut lock_lines = HashMap::new();
    let mut lock_file = None;
    if sources.lock_path.exists() {
        // The lock gives line numbers for components the manifest does not declare.
        let lock = load_lock(&sources.lock_path, sources.manifest.as_ref())?;
        for c in &lock.components {
            lock_lines
                .entry((c.ecosystem, c.name.clone()))
                .or_insert((c.line, c.version.clone()));
        }
        lock_file = Some(sources.lock_path.display().to_string());
    }

    let policy = sources
        .manifest
        .as_ref()
        .map_or_else(Policy::default, |m| m.policy.clone());
    let rules = Rules::from_policy(
        &policy,
        fail_on,
        sources
            .manifest
            .as_ref()
            .map(|_| sources.manifest_path.display().to_string()),
    );
    let locator = Locator {
        manifest: sources.manifest,
        lock_file,
        lock_lines,
    };

    let mut diff = compare::diff(&reference, &other);
    filter(&mut diff, only.as_deref(), args.ignore_extra);
    let checked = check::evaluate(diff, &rules, today, &|d| locator.locate(d));
    plan.write(Subject::Pair(&checked))?;
    Ok(if checked.failed() {
        Outcome::Drift
    } else {
        Outcome::Ok
    })
}
