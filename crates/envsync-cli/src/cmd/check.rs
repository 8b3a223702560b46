//! `envsync check`: collect the environment this runs in (or `--target`, or a
//! `--stage`), compare it with the lock (or a stage or snapshot), and judge the drift by
//! the manifest's policy. Each failing drift names the manifest or lock entry it
//! violates and a fix.
//!
//! Without `--target` or `--stage`, `check` checks `local` only inside an environment of
//! this project: an image envsync built, whose marker names the manifest's project. On
//! any other machine (a CI runner, a laptop) it refuses with exit 2 and the choices,
//! rather than reporting the bystander's hundreds of packages as drift.
//!
//! Whatever fails, every report file asked for is still written, saying `error` and why.

use std::collections::HashMap;

use anyhow::{bail, Context};
use envsync_drift::check::{self, parse_fail_on, FailRule, Rules, SourceRef};
use envsync_drift::compare::{self, short_version, Drift};
use envsync_manifest::policy::{Date, Policy};
use envsync_manifest::Ecosystem;

use envsync_drift::report::Errored;
use envsync_provisioner::dockerfile::marker::{EnvironmentMarker, MARKER_PATH};

use super::diff::{
    ecosystems, filter, is_lock, load_lock, load_target, locked_components, Sources,
};
use super::output::{or_error_reports, OutputArgs, Subject};
use crate::inputs::Inputs;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The manifest whose policy judges the drift, and its lock
    #[command(flatten)]
    pub inputs: Inputs,
    /// The environment to check: `local`, `docker:NAME`, `image:REF`, `ssh://HOST`, a
    /// snapshot file, or any other target [default: `local`, only inside an image of
    /// this project that envsync built]
    #[arg(short = 't', long, value_name = "TARGET", conflicts_with = "stage")]
    pub target: Option<String>,
    /// Check this stage: a name from the manifest's `[targets]`
    #[arg(short = 's', long, value_name = "NAME")]
    pub stage: Option<String>,
    /// What it must match: `lock` (or `lock:SERVICE`, the lock's image of that service), a
    /// name from `[targets]`, or a snapshot file
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
    /// Also search this directory on live targets for Python and npm packages and
    /// interpreters, like `/opt` (adds to the manifest's `[collect] roots`); repeatable
    #[arg(long = "root", value_name = "PATH", value_parser = super::absolute_path)]
    pub roots: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where each component is written down: the manifest declaration first, else the lock line.
struct Locator {
    manifest: Option<envsync_manifest::Manifest>,
    lock_file: Option<String>,
    lock_lines: LockLines,
}

/// The lock's line and version of each component, by ecosystem and name.
type LockLines = HashMap<(Ecosystem, String), (usize, String)>;

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

/// The lock's path and, by ecosystem and name, the line and version of each component
/// of the image `against` names (the development image unless it is `lock:SERVICE`):
/// the lock gives line numbers for components the manifest does not declare. Nothing
/// without a lock.
fn lock_lines(against: &str, sources: &Sources) -> anyhow::Result<(Option<String>, LockLines)> {
    let mut lines = HashMap::new();
    if !sources.lock_path.exists() {
        return Ok((None, lines));
    }
    let lock = load_lock(&sources.lock_path, sources.manifest.as_ref())?;
    let components = if is_lock(against) {
        locked_components(&lock, against)?
    } else {
        lock.components.clone()
    };
    for c in &components {
        lines
            .entry((c.ecosystem, c.name.clone()))
            .or_insert((c.line, c.version.clone()));
    }
    Ok((Some(sources.lock_path.display().to_string()), lines))
}

/// `check --target docker:NAME --against lock:SERVICE` where SERVICE is given by an image
/// of known middleware: its server is asked for its version from inside, as `up` asks,
/// and a release other than the one its tag declares is drift of the `service`
/// component (`service:postgres` 14.0 → 15.20). `None` for any other check.
async fn service_version_drift(
    against: &str,
    target: &str,
    manifest: Option<&envsync_manifest::Manifest>,
) -> anyhow::Result<Option<Drift>> {
    let (Some(name), Some(container), Some(manifest)) = (
        against.strip_prefix("lock:"),
        target.strip_prefix("docker:"),
        manifest,
    ) else {
        return Ok(None);
    };
    let Some(service) = manifest.services.iter().find(|s| s.name == name) else {
        return Ok(None);
    };
    let Some(kind) = service.kind() else {
        return Ok(None);
    };
    let reported = envsync_drift::probe::reported_version(container, kind)
        .await
        .with_context(|| format!("asking container `{container}` for its {kind} version"))?;
    Ok(envsync_drift::verify::reported_version_drift(
        service, kind, &reported,
    ))
}

/// Run `envsync check`.
pub async fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let plan = args.output.plan()?;
    let what = || Errored {
        mode: check::Mode::Check,
        reference: args.against.clone(),
        other: shown_target(args).to_string(),
        reason: String::new(),
    };
    let checked = or_error_reports(&plan, what, evaluate(args)).await?;
    plan.write(Subject::Pair(&checked))?;
    Ok(if checked.failed() {
        Outcome::Drift
    } else {
        Outcome::Ok
    })
}

/// The checked target as reports name it.
fn shown_target(args: &CheckArgs) -> &str {
    args.target
        .as_deref()
        .or(args.stage.as_deref())
        .unwrap_or("local")
}

/// What to check: `--target`, `--stage` (a `[targets]` name), or `local` inside an
/// environment of this project; anything else is an error that lists the choices.
fn target_to_check(args: &CheckArgs, sources: &Sources) -> anyhow::Result<String> {
    if let Some(target) = &args.target {
        return Ok(target.clone());
    }
    let manifest = sources.manifest.as_ref();
    if let Some(stage) = &args.stage {
        let names: Vec<&str> = manifest
            .map(|m| m.targets.iter().map(|t| t.name.as_str()).collect())
            .unwrap_or_default();
        if !names.contains(&stage.as_str()) {
            let known = if names.is_empty() {
                "it has no `[targets]`".to_string()
            } else {
                format!("it has `{}`", names.join("`, `"))
            };
            bail!(
                "no stage `{stage}` in `[targets]` of `{}`; {known}",
                sources.manifest_path.display()
            );
        }
        return Ok(stage.clone());
    }
    let marker = std::fs::read(MARKER_PATH)
        .ok()
        .and_then(|bytes| EnvironmentMarker::parse(&bytes));
    let project = manifest.map(|m| m.project.name.as_str());
    match (&marker, project) {
        (Some(marker), Some(project)) if marker.project == project => Ok("local".to_string()),
        _ => bail!("{}", not_an_environment(marker.as_ref(), project)),
    }
}

/// Why `check` without a target refuses here, and what to run instead.
fn not_an_environment(marker: Option<&EnvironmentMarker>, project: Option<&str>) -> String {
    let here = match (marker, project) {
        (_, None) => "`check` needs the manifest to know which project's environment to check, and none was found".to_string(),
        (None, Some(project)) => format!(
            "this machine is not an environment of `{project}` (no `{MARKER_PATH}`, which every image envsync builds carries), so checking it would only report what this machine happens to have"
        ),
        (Some(marker), Some(project)) => format!(
            "this is an environment of project `{}` (`{MARKER_PATH}`), not of `{project}`",
            envsync_drift::report::escape(&marker.project)
        ),
    };
    format!(
        "{here}; choose what to check:\n  \
         --target docker:NAME     a running container of the environment\n  \
         --target image:REF       an image, without running it\n  \
         --target ssh://HOST      a server\n  \
         --stage NAME             a name from the manifest's [targets]\n  \
         or run `envsync check` inside the image `envsync build` makes (e.g. as the CI job's container)"
    )
}

/// Load both sides, compare them and judge the drift: everything `check` does before
/// it writes reports.
async fn evaluate(args: &CheckArgs) -> anyhow::Result<check::Checked> {
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
    let mut sources = Sources::load(&args.inputs)?;
    sources.roots = args.roots.clone();
    if sources.manifest.is_none() && args.against == "lock" && !sources.lock_path.exists() {
        bail!(
            "neither `{}` nor `{}` exists; run `envsync check` where the manifest is, or pass `--manifest PATH`",
            sources.manifest_path.display(),
            sources.lock_path.display()
        );
    }

    let target = target_to_check(args, &sources)?;
    let mut reference = load_target(&args.against, &sources)
        .await
        .with_context(|| format!("cannot load the reference `{}`", args.against))?;
    let mut other = load_target(&target, &sources)
        .await
        .with_context(|| format!("cannot collect `{target}`"))?;
    reference.require_complete(args.allow_incomplete)?;
    other.require_complete(args.allow_incomplete)?;
    envsync_drift::align_hashes(&mut reference, &mut other)?;
    envsync_drift::align_hashes(&mut reference, &mut other)?;

    let (lock_file, lock_lines) = lock_lines(&args.against, &sources)?;

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
    let version_drift =
        service_version_drift(&args.against, &target, sources.manifest.as_ref()).await?;
    let locator = Locator {
        manifest: sources.manifest,
        lock_file,
        lock_lines,
    };

    let mut diff = compare::diff(&reference, &other);
    if let Some(drift) = version_drift {
        // Kept in the diff's order (ecosystem, name, arch, location).
        let at = diff
            .drift
            .partition_point(|d| (d.ecosystem, &d.name) <= (drift.ecosystem, &drift.name));
        diff.drift.insert(at, drift);
    }
    filter(&mut diff, only.as_deref(), args.ignore_extra);
    Ok(check::evaluate(diff, &rules, today, &|d| locator.locate(d)))
}
