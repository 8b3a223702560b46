//! `envsync diff A B [C ...]`: compare environments package by package. Two targets give
//! a per-component table; more give a fleet matrix against the first. Also home of target
//! resolution shared with `envsync check`: saved snapshots, the word `lock`, names from
//! the manifest's `[targets]`, and live targets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use envsync_drift::check;
use envsync_drift::compare::{self, Diff};
use envsync_drift::fleet::{Fleet, FleetTarget};
use envsync_drift::lockfile::{collect_options, lock_snapshot};
use envsync_drift::swarm::{service_tasks, SwarmTask};
use envsync_drift::target::Target;
use envsync_drift::Snapshot;
use envsync_manifest::{Ecosystem, Lock, Manifest};

use envsync_drift::report::Errored;

use super::output::{or_error_reports, OutputArgs, Plan, Subject};
use crate::inputs::{load_lock_of, load_manifest, Inputs};
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Targets to compare; the first is the reference. Each is a snapshot file
    /// (`FILE.json`), `lock`, a name from the manifest's `[targets]`, or a live target
    /// (`local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]`).
    /// `swarm:SERVICE` (not as the reference) stands for every running task of a Docker
    /// Swarm service, each reported as `swarm:SERVICE/SERVICE.SLOT`
    #[arg(value_name = "TARGET", num_args = 2.., required = true)]
    pub targets: Vec<String>,
    /// How to reach the engine of another swarm node, for `swarm:` tasks that run there:
    /// an engine address where `{addr}` is the node's address and `{hostname}` its host
    /// name, e.g. `ssh://deploy@{addr}` or `tcp://{addr}:2376`. Without it, tasks on other
    /// nodes are reported as failed; tasks on the manager's node are read through
    /// DOCKER_HOST
    #[arg(long, value_name = "TEMPLATE", env = "ENVSYNC_SWARM_NODE_ENGINE")]
    pub swarm_node_engine: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Only compare these ecosystems (comma-separated: deb,apk,rpm,pypi,npm,runtime,service,file,env)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub ecosystem: Vec<String>,
    /// Do not report components that only the other side has
    #[arg(long)]
    pub ignore_extra: bool,
    /// How many targets to collect at once
    #[arg(short = 'j', long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// The manifest whose `[targets]` names the targets may be, and the lock that the
    /// target `lock` means
    #[command(flatten)]
    pub inputs: Inputs,
    /// Compare snapshots that say they are incomplete (files the collecting user could
    /// not read) instead of failing with exit 2
    #[arg(long)]
    pub allow_incomplete: bool,
}

/// What target names can refer to: the manifest (when there is one) and the lock.
#[derive(Debug)]
pub(crate) struct Sources {
    pub manifest: Option<Manifest>,
    pub manifest_path: PathBuf,
    pub lock_path: PathBuf,
}

impl Sources {
    /// Load the manifest if it exists (it must then be valid). A manifest the user
    /// named must exist.
    pub fn load(inputs: &Inputs) -> anyhow::Result<Sources> {
        let path = inputs.manifest_path();
        let manifest = if path.exists() {
            Some(load_manifest(&path)?)
        } else if inputs.manifest.explicit() {
            bail!(
                "manifest `{}` does not exist; pass its path with `--manifest PATH`",
                path.display()
            );
        } else {
            None
        };
        Ok(Sources {
            manifest,
            lock_path: inputs.lock_path(),
            manifest_path: path,
        })
    }

    fn stage(&self, name: &str) -> Option<&str> {
        self.manifest
            .as_ref()?
            .targets
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.target.as_str())
    }
}

/// Read a lock and, when a manifest is loaded, refuse a lock made from another manifest.
pub(crate) fn load_lock(path: &Path, manifest: Option<&Manifest>) -> anyhow::Result<Lock> {
    match manifest {
        Some(m) => load_lock_of(path, m),
        None => Ok(Lock::load(path)?),
    }
}

/// Turn what the user typed into a snapshot: `lock`, a `[targets]` name, a lock or
/// snapshot file, or a live target.
pub(crate) async fn load_target(spec: &str, sources: &Sources) -> anyhow::Result<Snapshot> {
    if spec == "lock" {
        let lock = load_lock(&sources.lock_path, sources.manifest.as_ref())?;
        return Ok(lock_snapshot(&lock.components, "lock"));
    }
    if let Some(target) = sources.stage(spec) {
        let mut snapshot = load_direct(target, sources).await.with_context(|| {
            format!(
                "target `{spec}` (`{target}` in `{}`)",
                sources.manifest_path.display()
            )
        })?;
        snapshot.target = spec.to_string();
        return Ok(snapshot);
    }
    load_direct(spec, sources).await
}

async fn load_direct(spec: &str, sources: &Sources) -> anyhow::Result<Snapshot> {
    if spec == "lock" {
        let lock = load_lock(&sources.lock_path, sources.manifest.as_ref())?;
        return Ok(lock_snapshot(&lock.components, "lock"));
    }
    let path = Path::new(spec);
    if spec.ends_with(".lock") {
        let lock = load_lock(path, sources.manifest.as_ref())?;
        return Ok(lock_snapshot(&lock.components, spec));
    }
    if spec.ends_with(".json") || path.is_file() {
        let mut snapshot = Snapshot::read(path)?;
        // Reports name targets as the user typed them.
        snapshot.target = spec.to_string();
        return Ok(snapshot);
    }
    let target = envsync_drift::target::Target::parse(spec)?;
    collect_live(spec, &target, sources.manifest.as_ref()).await
}

async fn collect_live(
    spec: &str,
    target: &envsync_drift::target::Target,
    manifest: Option<&Manifest>,
) -> anyhow::Result<Snapshot> {
    let mut snapshot =
        envsync_drift::fingerprint::fingerprint(target, &collect_options(manifest)).await?;
    snapshot.target = spec.to_string();
    Ok(snapshot)
}

/// Parse `--ecosystem` names.
pub(crate) fn ecosystems(names: &[String]) -> anyhow::Result<Option<Vec<Ecosystem>>> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|n| {
            Ecosystem::parse(n.trim()).with_context(|| {
                format!("unknown ecosystem `{n}` in `--ecosystem`; use deb, apk, rpm, pypi, npm, runtime, service, file or env")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

/// Apply `--ecosystem` and `--ignore-extra` to a diff.
pub(crate) fn filter(diff: &mut Diff, only: Option<&[Ecosystem]>, ignore_extra: bool) {
    if let Some(only) = only {
        diff.retain_ecosystems(only);
    }
    if ignore_extra {
        diff.drop_extra();
    }
}

/// One fleet column: a target as the user typed it, or one task of a `swarm:` service.
#[derive(Debug, Clone)]
enum Member {
    Spec(String),
    Task(Box<SwarmTask>),
}

impl Member {
    fn name(&self) -> &str {
        match self {
            Member::Spec(spec) => spec,
            Member::Task(task) => &task.name,
        }
    }

    async fn load(&self, sources: &Sources) -> anyhow::Result<Snapshot> {
        match self {
            Member::Spec(spec) => load_target(spec, sources).await,
            Member::Task(task) => {
                let target = Target::SwarmTask(task.clone());
                collect_live(&task.name, &target, sources.manifest.as_ref()).await
            }
        }
    }
}

/// Does the user name a `swarm:` service? Then the diff is a fleet, however many
/// targets were typed. (The manifest's `[targets]` do not hold `swarm:` services.)
fn names_swarm(specs: &[String]) -> bool {
    specs.iter().any(|s| s.starts_with("swarm:"))
}

/// Replace each `swarm:SERVICE` by the service's running tasks, listed through the
/// manager engine; every other target stays as typed.
async fn expand(specs: &[String], template: Option<&str>) -> anyhow::Result<Vec<Member>> {
    let mut members = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if !spec.starts_with("swarm:") {
            members.push(Member::Spec(spec.clone()));
            continue;
        }
        let Target::Swarm(service) = Target::parse(spec)? else {
            bail!("`{spec}` is not a swarm service target");
        };
        if i == 0 {
            bail!("the reference `{spec}` is a swarm service, a fleet of tasks; use one target as the reference (an image, a snapshot of one task, `lock`)");
        }
        let tasks = service_tasks(&service, template)
            .await
            .with_context(|| format!("cannot list the tasks of `{spec}`"))?;
        if tasks.is_empty() {
            bail!(
                "swarm service `{service}` has no running tasks; see `docker service ps {service}`"
            );
        }
        members.extend(tasks.into_iter().map(|t| Member::Task(Box::new(t))));
    }
    Ok(members)
}

/// Load every target with at most `jobs` in flight, keeping the order given.
async fn load_all(
    specs: &[Member],
    sources: Arc<Sources>,
    jobs: usize,
) -> Vec<anyhow::Result<Snapshot>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut rows = HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        let (spec, sources, permits) = (spec.clone(), sources.clone(), permits.clone());
        let task = set.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await;
            (i, spec.load(&sources).await)
        });
        rows.insert(task.id(), i);
    }
    let mut results: HashMap<usize, anyhow::Result<Snapshot>> = HashMap::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => {
                results.insert(i, r);
            }
            Err(e) => {
                // A collector task that panicked: its row says so, with the panic's
                // message, rather than the error being lost.
                if let Some(&i) = rows.get(&e.id()) {
                    results.insert(
                        i,
                        Err(anyhow!(
                            "collecting `{}` stopped unexpectedly: {e}",
                            specs[i].name()
                        )),
                    );
                }
            }
        }
    }
    (0..specs.len())
        .map(|i| {
            results.remove(&i).unwrap_or_else(|| {
                Err(anyhow!(
                    "collecting `{}` stopped unexpectedly",
                    specs[i].name()
                ))
            })
        })
        .collect()
}

/// Run `envsync diff`.
pub async fn run(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let plan = args.output.plan()?;
    if let ([reference, other], false) = (args.targets.as_slice(), names_swarm(&args.targets)) {
        let what = || Errored {
            mode: check::Mode::Diff,
            reference: reference.clone(),
            other: other.clone(),
            reason: String::new(),
        };
        let checked = or_error_reports(&plan, what, pair(args)).await?;
        plan.write(Subject::Pair(&checked))?;
        return Ok(if checked.failed() {
            Outcome::Drift
        } else {
            Outcome::Ok
        });
    }
    fleet(args, &plan).await
}

/// The reference, and every other target as loaded or as the error that stopped it.
type Loaded = (Snapshot, Vec<(String, anyhow::Result<Snapshot>)>);

/// Load the manifest and every target; an error when the reference cannot be loaded.
async fn load(args: &DiffArgs) -> anyhow::Result<Loaded> {
    let sources = Arc::new(Sources::load(&args.inputs)?);
    let template = args.swarm_node_engine.as_deref();
    let members = expand(&args.targets, template).await?;
    let allow = args.allow_incomplete;
    let mut results = load_all(&members, sources, args.jobs)
        .await
        .into_iter()
        .map(|r| r.and_then(|s| s.require_complete(allow).map(|()| s).map_err(Into::into)));
    let reference = match results.next() {
        Some(r) => r.with_context(|| format!("cannot load the reference `{}`", args.targets[0]))?,
        None => bail!("give at least two targets"),
    };
    let names = members[1..].iter().map(|m| m.name().to_string());
    let rest = names.zip(results).collect();
    Ok((reference, rest))
}

/// Two targets: the diff of the second against the first.
async fn pair(args: &DiffArgs) -> anyhow::Result<check::Checked> {
    let only = ecosystems(&args.ecosystem)?;
    let (mut reference, mut rest) = load(args).await?;
    let Some((name, other)) = rest.pop() else {
        bail!("give at least two targets");
    };
    let mut other = other.with_context(|| format!("cannot load `{name}`"))?;
    envsync_drift::align_hashes(&mut reference, &mut other)?;
    let mut diff = compare::diff(&reference, &other);
    filter(&mut diff, only.as_deref(), args.ignore_extra);
    Ok(check::plain(diff))
}

/// The fleet of every target against the first, or the error that stopped them all.
async fn load_fleet(args: &DiffArgs) -> anyhow::Result<Fleet> {
    let only = ecosystems(&args.ecosystem)?;
    let (reference, rest) = load(args).await?;
    Ok(Fleet {
        reference: reference.target.clone(),
        targets: rest
            .into_iter()
            .map(|(name, r)| FleetTarget {
                result: r
                    .and_then(|mut other| {
                        let mut reference = reference.clone();
                        envsync_drift::align_hashes(&mut reference, &mut other)?;
                        Ok(other).map(|other| (reference, other))
                    })
                    .map(|(reference, other)| {
                        let mut diff = compare::diff(&reference, &other);
                        filter(&mut diff, only.as_deref(), args.ignore_extra);
                        diff
                    })
                    .map_err(|e| format!("{e:#}")),
                name,
            })
            .collect(),
    })
}

/// More than two targets: a fleet matrix. When nothing can be compared (a broken input,
/// an unreachable reference), every report still lists each target, as an error.
async fn fleet(args: &DiffArgs, plan: &Plan) -> anyhow::Result<Outcome> {
    let fleet = match load_fleet(args).await {
        Ok(fleet) => fleet,
        Err(err) => {
            let reason = format!("{err:#}");
            let fleet = Fleet {
                reference: args.targets[0].clone(),
                targets: args.targets[1..]
                    .iter()
                    .map(|name| FleetTarget {
                        name: name.clone(),
                        result: Err(reason.clone()),
                    })
                    .collect(),
            };
            return match plan.write(Subject::Fleet(&fleet)) {
                Ok(()) => Err(err),
                Err(write) => Err(err.context(format!("{write:#}"))),
            };
        }
    };
    plan.write(Subject::Fleet(&fleet))?;
    let failed: Vec<String> = fleet
        .targets
        .iter()
        .filter_map(|t| {
            t.result
                .as_ref()
                .err()
                .map(|e| format!("  {}: {e}", t.name))
        })
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} targets could not be collected (the others are reported above):\n{}",
            failed.len(),
            fleet.targets.len(),
            failed.join("\n")
        );
    }
    Ok(if fleet.has_drift() {
        Outcome::Drift
    } else {
        Outcome::Ok
    })
}
