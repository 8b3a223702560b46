//! `envsync diff A B [C ...]`: compare environments package by package. Two targets give
//! a per-component table; more give a fleet matrix against the first. Also home of target
//! resolution shared with `envsync check`: saved snapshots, the word `lock`, names from
//! the manifest's `[targets]`, and live targets.
//!
//! A fleet's targets also come from an Ansible inventory (`--inventory`, `--limit`), a
//! list (`--targets-from`) and `[targets]` groups; they are collected at most `--jobs`
//! at once, each within `--timeout`, and a terminal sees each finish on standard error.
//!
//! With `--store`, the HTML report shows each host's history from the store `envsync
//! audit` fills.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use envsync_drift::check;
use envsync_drift::compare::{self, Diff};
use envsync_drift::fleet::{Fleet, FleetTarget};
use envsync_drift::inventory::{parse_target_list, Inventory};
use envsync_drift::lockfile::{collect_options, lock_snapshot};
use envsync_drift::report::{escape, Errored, StoreHistory};
use envsync_drift::swarm::{service_tasks, SwarmTask};
use envsync_drift::target::Target;
use envsync_drift::Snapshot;
use envsync_history::Location;
use envsync_manifest::{Ecosystem, Lock, LockedComponent, Manifest};

use super::history::{store_history, with_store};
use super::output::{or_error_reports, OutputArgs, Plan, Subject};
use super::stream::{Compare, Streamer};
use crate::inputs::{load_lock_of, load_manifest, Inputs};
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Targets to compare; the first is the reference. Each is a snapshot file
    /// (`FILE.json`), `lock` (or `lock:SERVICE`, the lock's image of that service), a
    /// name from the manifest's `[targets]` (a group stands for
    /// its members), or a live target (`local`, `local:/path`, `docker:NAME`,
    /// `image:REF`, `ssh://[user@]host[:port]`). `swarm:SERVICE` (not as the reference)
    /// stands for every running task of a Docker Swarm service, each reported as
    /// `swarm:SERVICE/SERVICE.SLOT`
    #[arg(value_name = "TARGET", num_args = 1.., required = true)]
    pub targets: Vec<String>,
    /// Also compare every host of this Ansible inventory (INI or YAML, with the
    /// `group_vars/` and `host_vars/` beside it; vaulted files are skipped):
    /// `ansible_host`, `ansible_port` and `ansible_user` make `ssh://user@host:port`
    #[arg(short = 'i', long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Only the inventory's hosts this Ansible pattern selects (`web`, `web:&prod`,
    /// `all:!db-1`, `web*`)
    #[arg(short = 'l', long, value_name = "PATTERN", requires = "inventory")]
    pub limit: Option<String>,
    /// Also compare the targets listed in FILE, one per line (`#` starts a comment);
    /// `-` reads them from standard input
    #[arg(long, value_name = "FILE")]
    pub targets_from: Option<PathBuf>,
    /// Give up on a target after this long (`30s`, `2m`); it is reported as an error
    /// and the others still are compared
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// How to reach the engine of another swarm node, for `swarm:` tasks that run there:
    /// an engine address where `{addr}` is the node's address and `{hostname}` its host
    /// name, e.g. `ssh://deploy@{addr}` or `tcp://{addr}:2376`. Without it, tasks on other
    /// nodes are reported as failed; tasks on the manager's node are read through
    /// DOCKER_HOST
    #[arg(long, value_name = "TEMPLATE", env = "ENVSYNC_SWARM_NODE_ENGINE")]
    pub swarm_node_engine: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Show each host's history in the HTML report (`--format html`): its latest changes
    /// (component, old → new, when) and the time of its first and last audit, read from
    /// this history store as `envsync audit --store` fills it: an SQLite file (the
    /// default store of `audit` is $XDG_DATA_HOME/envsync/history.sqlite, else
    /// ~/.local/share/envsync/history.sqlite) or `postgres://user[:password]@host[:port]/db`.
    /// Hosts are looked up by the names the report gives them. Example: `envsync diff
    /// prod web-1 web-2 --format html=fleet.html --store ~/.local/share/envsync/history.sqlite`
    #[arg(long = "store", value_name = "PATH|URL")]
    pub store: Option<String>,
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
    /// Also search this directory on live targets for Python and npm packages and
    /// interpreters, like `/opt` (adds to the manifest's `[collect] roots`); repeatable
    #[arg(long = "root", value_name = "PATH", value_parser = super::absolute_path)]
    pub roots: Vec<String>,
    /// Print each target's result on standard output as one JSON line
    /// (`envsync.diff-stream/v1`) as soon as it is compared, then a last line with the
    /// verdict; reports go to files only (`--format json=fleet.json`). Example:
    /// `envsync diff prod -i hosts.ini --stream | jq -c 'select(.status != "parity")'`
    #[arg(long)]
    pub stream: bool,
}

/// What target names can refer to: the manifest (when there is one) and the lock.
#[derive(Debug)]
pub(crate) struct Sources {
    pub manifest: Option<Manifest>,
    pub manifest_path: PathBuf,
    pub lock_path: PathBuf,
    /// `--timeout`: how long one live target may take to collect.
    pub timeout: Option<Duration>,
    /// `--root` directories, searched on live targets besides `[collect] roots`.
    pub roots: Vec<String>,
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
            timeout: None,
            roots: Vec::new(),
        })
    }

    fn named(&self, name: &str) -> Option<&envsync_manifest::manifest::NamedTarget> {
        self.manifest
            .as_ref()?
            .targets
            .iter()
            .find(|t| t.name == name)
    }

    /// A single target of `[targets]` (not a group).
    fn stage(&self, name: &str) -> Option<&str> {
        self.named(name)
            .filter(|t| t.group.is_empty())
            .map(|t| t.target.as_str())
    }

    /// The members of a group of `[targets]`.
    fn group(&self, name: &str) -> Option<&[String]> {
        self.named(name)
            .filter(|t| !t.group.is_empty())
            .map(|t| t.group.as_slice())
    }
}

/// `--timeout`: a duration as the manifest writes them (`500ms`, `30s`, `2m`).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    envsync_manifest::manifest::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a duration; write e.g. `30s`, `2m` or `1m30s`"))
}

/// Read a lock and, when a manifest is loaded, refuse a lock made from another manifest.
pub(crate) fn load_lock(path: &Path, manifest: Option<&Manifest>) -> anyhow::Result<Lock> {
    match manifest {
        Some(m) => load_lock_of(path, m),
        None => Ok(Lock::load(path)?),
    }
}

/// Whether `spec` names the lock: `lock` (the development image) or `lock:SERVICE`.
pub(crate) fn is_lock(spec: &str) -> bool {
    spec == "lock" || spec.starts_with("lock:")
}

/// The components of one image of the lock as a snapshot: the development image's for
/// `lock`, service SERVICE's image's for `lock:SERVICE` (built from packages or given by
/// `image`), so that a running service container is compared like the development one.
pub(crate) fn locked_components(lock: &Lock, spec: &str) -> anyhow::Result<Vec<LockedComponent>> {
    let Some(service) = spec.strip_prefix("lock:") else {
        return Ok(lock.components.clone());
    };
    match lock.services.get(service) {
        Some(image) => Ok(image.components.clone()),
        None => bail!(
            "`{}` has no image of service `{service}`; it locks {}",
            lock.file.display(),
            if lock.services.is_empty() {
                "no service (use `lock`, the development image)".to_string()
            } else {
                lock.services
                    .keys()
                    .map(|name| format!("`lock:{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    }
}

fn locked_image(spec: &str, sources: &Sources) -> anyhow::Result<Snapshot> {
    let lock = load_lock(&sources.lock_path, sources.manifest.as_ref())?;
    Ok(lock_snapshot(&locked_components(&lock, spec)?, spec))
}

/// Turn what the user typed into a snapshot: `lock`, a `[targets]` name, a lock or
/// snapshot file, or a live target.
pub(crate) async fn load_target(spec: &str, sources: &Sources) -> anyhow::Result<Snapshot> {
    if is_lock(spec) {
        return locked_image(spec, sources);
    }
    if let Some(group) = sources.group(spec) {
        bail!(
            "`{spec}` in [targets] of `{}` is a group of {} targets; compare it with `envsync diff REFERENCE {spec}`, or name one of its targets",
            sources.manifest_path.display(),
            group.len()
        );
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
    if is_lock(spec) {
        return locked_image(spec, sources);
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
    collect_live(spec, &target, sources).await
}

async fn collect_live(
    spec: &str,
    target: &envsync_drift::target::Target,
    sources: &Sources,
) -> anyhow::Result<Snapshot> {
    let mut opts = collect_options(sources.manifest.as_ref());
    if let Some(timeout) = sources.timeout {
        opts.timeout = timeout;
    }
    opts.roots.extend(sources.roots.iter().cloned());
    let mut snapshot = envsync_drift::fingerprint::fingerprint(target, &opts).await?;
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

/// One target of a run: the name reports give it, and what is loaded for it (the same
/// text, except for inventory hosts: `web-1` is `ssh://deploy@10.0.0.7:2222`, and for the
/// tasks a `swarm:SERVICE` stands for, each read through its node's engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub name: String,
    pub spec: String,
    pub task: Option<Box<SwarmTask>>,
}

impl Planned {
    pub(crate) fn same(text: &str) -> Planned {
        Planned {
            name: text.to_string(),
            spec: text.to_string(),
            task: None,
        }
    }

    async fn load(&self, sources: &Sources) -> anyhow::Result<Snapshot> {
        let mut loaded = match &self.task {
            None => load_target(&self.spec, sources).await,
            Some(task) => {
                let target = Target::SwarmTask(task.clone());
                collect_live(&task.name, &target, sources).await
            }
        };
        if let Ok(snapshot) = &mut loaded {
            snapshot.target = self.name.clone();
        }
        loaded
    }
}

/// Standard error shows each target as it finishes and a progress line, only when it is
/// a terminal (a log or a pipe gets the final reports alone).
struct Progress {
    tty: bool,
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            total,
            done: 0,
            failed: 0,
            started: Instant::now(),
        }
    }

    fn finished(&mut self, name: &str, result: &anyhow::Result<Snapshot>) {
        self.done += 1;
        if result.is_err() {
            self.failed += 1;
        }
        if !self.tty {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let line = match result {
            Ok(s) => format!(
                "collected {} ({} components)",
                escape(name),
                s.packages.len()
            ),
            Err(e) => format!(
                "could not collect {}: {}",
                escape(name),
                escape(&format!("{e:#}"))
            ),
        };
        eprint!(
            "\r\x1b[2K{line}\n[{}/{}] {} failed, {secs:.1} s",
            self.done, self.total, self.failed
        );
        if self.done == self.total {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Does the user name a `swarm:` service? Then the diff is a fleet, however many
/// targets were typed. (The manifest's `[targets]` do not hold `swarm:` services.)
fn names_swarm(targets: &[Planned]) -> bool {
    targets.iter().any(|t| t.spec.starts_with("swarm:"))
}

/// Replace each `swarm:SERVICE` by the service's running tasks, listed through the
/// manager engine; every other target stays as planned.
async fn expand(targets: Vec<Planned>, template: Option<&str>) -> anyhow::Result<Vec<Planned>> {
    let mut members = Vec::new();
    for (i, planned) in targets.into_iter().enumerate() {
        if !planned.spec.starts_with("swarm:") {
            members.push(planned);
            continue;
        }
        let spec = &planned.spec;
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
        members.extend(tasks.into_iter().map(|task| Planned {
            name: task.name.clone(),
            spec: task.name.clone(),
            task: Some(Box::new(task)),
        }));
    }
    Ok(members)
}

/// Load every target with at most `jobs` in flight, keeping the order given.
pub(crate) async fn load_all(
    specs: &[Planned],
    sources: Arc<Sources>,
    jobs: usize,
) -> Vec<anyhow::Result<Snapshot>> {
    load_all_with(specs, sources, jobs, |_, _| {}).await
}

/// [`load_all`], calling `finished` with each target's index and result as it finishes.
async fn load_all_with(
    specs: &[Planned],
    sources: Arc<Sources>,
    jobs: usize,
    mut finished: impl FnMut(usize, &anyhow::Result<Snapshot>),
) -> Vec<anyhow::Result<Snapshot>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut rows = HashMap::new();
    for (i, planned) in specs.iter().enumerate() {
        let (planned, sources, permits) = (planned.clone(), sources.clone(), permits.clone());
        let task = set.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await;
            (i, planned.load(&sources).await)
        });
        rows.insert(task.id(), i);
    }
    let mut progress = Progress::new(specs.len());
    let mut results: HashMap<usize, anyhow::Result<Snapshot>> = HashMap::new();
    while let Some(joined) = set.join_next().await {
        let (i, result) = match joined {
            Ok((i, r)) => (i, r),
            Err(e) => {
                // A collector task that panicked: its row says so, with the panic's
                // message, rather than the error being lost.
                let Some(&i) = rows.get(&e.id()) else {
                    continue;
                };
                let name = &specs[i].name;
                (
                    i,
                    Err(anyhow!("collecting `{name}` stopped unexpectedly: {e}")),
                )
            }
        };
        progress.finished(&specs[i].name, &result);
        finished(i, &result);
        results.insert(i, result);
    }
    (0..specs.len())
        .map(|i| {
            results.remove(&i).unwrap_or_else(|| {
                Err(anyhow!(
                    "collecting `{}` stopped unexpectedly",
                    specs[i].name
                ))
            })
        })
        .collect()
}

/// Read `--targets-from FILE` (`-`: standard input).
fn read_target_list(path: &Path) -> anyhow::Result<Vec<(usize, String)>> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading targets from standard input")?
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the target list `{}`", path.display()))?
    };
    Ok(parse_target_list(&text))
}

/// Every target to compare against the reference: the others named, `[targets]` groups
/// expanded, then `--targets-from`, then the `--inventory` hosts `--limit` selects; each
/// once, in that order. `true` when the run is a fleet (more than one target or any of
/// these sources), not a pair.
fn plan_targets(args: &DiffArgs, sources: &Sources) -> anyhow::Result<(Vec<Planned>, bool)> {
    let reference = &args.targets[0];
    if sources.group(reference).is_some() {
        bail!("the reference `{reference}` is a group of [targets]; the reference is one target, e.g. `lock` or one host");
    }
    let mut fleet = args.targets.len() > 2;
    // What a group, the list or the inventory adds is compared once; a target typed
    // twice on the command line stays twice, as typed.
    let mut plan = TargetPlan::default();
    for text in &args.targets[1..] {
        fleet |= plan.named(text, sources, true);
    }
    if let Some(path) = &args.targets_from {
        fleet = true;
        let list = read_target_list(path)?;
        if list.is_empty() {
            bail!(
                "the target list `{}` names no target; write one per line",
                path.display()
            );
        }
        for (_, text) in list {
            plan.named(&text, sources, false);
        }
    }
    if let Some(path) = &args.inventory {
        fleet = true;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the inventory `{}`", path.display()))?;
        let mut inventory = Inventory::parse(path, &text)?;
        for warning in inventory.read_vars_dirs(path)? {
            eprintln!("warning: {}", escape(&warning));
        }
        let file = path.display().to_string();
        for host in inventory.targets(&file, args.limit.as_deref())? {
            plan.add(
                Planned {
                    name: host.name,
                    spec: host.target,
                    task: None,
                },
                false,
            );
        }
    }
    if plan.targets.is_empty() {
        bail!("give a target to compare with the reference `{reference}`: another TARGET, `--inventory FILE` or `--targets-from FILE`");
    }
    let mut all = vec![Planned::same(reference)];
    all.extend(plan.targets);
    Ok((all, fleet))
}

/// The targets of a run as they are gathered, each name once unless typed again.
#[derive(Default)]
struct TargetPlan {
    targets: Vec<Planned>,
    seen: std::collections::HashSet<String>,
}

impl TargetPlan {
    fn add(&mut self, planned: Planned, typed: bool) {
        if self.seen.insert(planned.name.clone()) || typed {
            self.targets.push(planned);
        }
    }

    /// A target, or a `[targets]` group's members; `true` for a group.
    fn named(&mut self, text: &str, sources: &Sources, typed: bool) -> bool {
        match sources.group(text) {
            Some(members) => {
                for m in members {
                    self.add(Planned::same(m), false);
                }
                true
            }
            None => {
                self.add(Planned::same(text), typed);
                false
            }
        }
    }
}

/// Run `envsync diff`.
pub async fn run(args: &DiffArgs) -> anyhow::Result<Outcome> {
    let plan = if args.stream {
        args.output
            .plan_to_files("`--stream` writes its JSON lines to")?
    } else {
        args.output.plan()?
    };
    let prepared = Sources::load(&args.inputs).and_then(|mut sources| {
        sources.timeout = args.timeout;
        sources.roots = args.roots.clone();
        let (targets, is_fleet) = plan_targets(args, &sources)?;
        Ok((sources, targets, is_fleet))
    });
    let (sources, targets, is_fleet) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return Err(setup_error_reports(args, &plan, err)),
    };
    // A stream reports targets one by one, as a fleet does (a pair is a fleet of one).
    let is_fleet = is_fleet || names_swarm(&targets) || args.stream;
    let targets = match expand(targets, args.swarm_node_engine.as_deref()).await {
        Ok(targets) => targets,
        Err(err) => return Err(setup_error_reports(args, &plan, err)),
    };
    let store = match history_store(args.store.as_deref(), &plan).await {
        Ok(store) => store,
        Err(err) => return Err(setup_error_reports(args, &plan, err)),
    };
    let sources = Arc::new(sources);
    if !is_fleet {
        let what = || Errored {
            mode: check::Mode::Diff,
            reference: targets[0].name.clone(),
            other: targets[1].name.clone(),
            reason: String::new(),
        };
        let checked = or_error_reports(&plan, what, pair(args, &targets, sources)).await?;
        let history = read_history(store, vec![targets[1].name.clone()]).await?;
        plan.write_with_history(Subject::Pair(&checked), history.as_ref())?;
        return Ok(if checked.failed() {
            Outcome::Drift
        } else {
            Outcome::Ok
        });
    }
    fleet(args, &targets, sources, &plan, store).await
}

/// `--store`: the store to read history from, checked before any target is collected. It
/// only adds to the HTML report, so without one `--store` is a mistake; and it must
/// exist already (a mistyped path would otherwise create an empty store).
async fn history_store(spec: Option<&str>, plan: &Plan) -> anyhow::Result<Option<Location>> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    if !plan.has_html() {
        bail!("`--store` adds each host's history to the HTML report, and no HTML report is written; add `--format html=FILE` (or `--format html`), or leave out `--store`");
    }
    let location = Location::parse(spec);
    if let Location::Sqlite(path) = &location {
        if !path.is_file() {
            bail!(
                "history store `{}` does not exist; `envsync audit TARGET… --store {}` creates and fills it",
                path.display(),
                path.display()
            );
        }
    }
    with_store(location.clone(), |_| Ok(())).await?;
    Ok(Some(location))
}

/// The history of `targets` from the store, when there is one.
async fn read_history(
    store: Option<Location>,
    targets: Vec<String>,
) -> anyhow::Result<Option<StoreHistory>> {
    let Some(location) = store else {
        return Ok(None);
    };
    let shown = location.shown();
    let history = with_store(location, move |store| store_history(store, &targets))
        .await
        .with_context(|| {
            format!("cannot read the hosts' history from `{shown}` for the HTML report")
        })?;
    Ok(Some(history))
}

/// The manifest or a target source could not be read: every report still says `error`
/// and why, in the shape the run would have had (a pair, or a fleet of the targets
/// named on the command line).
fn setup_error_reports(args: &DiffArgs, plan: &Plan, err: anyhow::Error) -> anyhow::Error {
    let reason = format!("{err:#}");
    let source = args
        .inventory
        .as_ref()
        .or(args.targets_from.as_ref())
        .map(|p| p.display().to_string());
    let written = match args.targets.as_slice() {
        [reference, other] if source.is_none() => plan.write(Subject::Error(&Errored {
            mode: check::Mode::Diff,
            reference: reference.clone(),
            other: other.clone(),
            reason,
        })),
        [reference, rest @ ..] if !rest.is_empty() => plan.write(Subject::Fleet(&Fleet {
            reference: reference.clone(),
            targets: rest
                .iter()
                .map(|name| FleetTarget {
                    name: name.clone(),
                    result: Err(reason.clone()),
                })
                .collect(),
        })),
        // Only a reference on the command line: a fleet of nothing would read as
        // parity, so the report is an error naming where the targets were to come from.
        [reference, ..] => plan.write(Subject::Error(&Errored {
            mode: check::Mode::Diff,
            reference: reference.clone(),
            other: source.unwrap_or_default(),
            reason,
        })),
        [] => Ok(()),
    };
    match written {
        Ok(()) => err,
        Err(write) => err.context(format!("{write:#}")),
    }
}

/// The reference, and every other target as loaded or as the error that stopped it.
type Loaded = (Snapshot, Vec<(String, anyhow::Result<Snapshot>)>);

/// Load every target; an error when the reference cannot be loaded.
async fn load(
    args: &DiffArgs,
    targets: &[Planned],
    sources: Arc<Sources>,
    mut streamer: Option<&mut Streamer>,
) -> anyhow::Result<Loaded> {
    let allow = args.allow_incomplete;
    let finished = |i: usize, result: &anyhow::Result<Snapshot>| {
        if let Some(streamer) = streamer.as_deref_mut() {
            streamer.finished(i, result);
        }
    };
    let mut results = load_all_with(targets, sources, args.jobs, finished)
        .await
        .into_iter()
        .map(|r| r.and_then(|s| s.require_complete(allow).map(|()| s).map_err(Into::into)));
    let reference = match results.next() {
        Some(r) => r.with_context(|| format!("cannot load the reference `{}`", targets[0].name))?,
        None => bail!("give at least two targets"),
    };
    let rest = targets[1..]
        .iter()
        .map(|p| p.name.clone())
        .zip(results)
        .collect();
    Ok((reference, rest))
}

/// Two targets: the diff of the second against the first.
async fn pair(
    args: &DiffArgs,
    targets: &[Planned],
    sources: Arc<Sources>,
) -> anyhow::Result<check::Checked> {
    let only = ecosystems(&args.ecosystem)?;
    let (mut reference, mut rest) = load(args, targets, sources, None).await?;
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
async fn load_fleet(
    args: &DiffArgs,
    targets: &[Planned],
    sources: Arc<Sources>,
    streamer: Option<&mut Streamer>,
) -> anyhow::Result<Fleet> {
    let compare = compare_options(args)?;
    let (reference, rest) = load(args, targets, sources, streamer).await?;
    Ok(Fleet {
        reference: reference.target.clone(),
        targets: rest
            .into_iter()
            .map(|(name, r)| FleetTarget {
                result: r
                    .and_then(|other| compare.diff(&reference, other))
                    .map_err(|e| format!("{e:#}")),
                name,
            })
            .collect(),
    })
}

/// How `args` says targets are compared with the reference.
fn compare_options(args: &DiffArgs) -> anyhow::Result<Compare> {
    Ok(Compare {
        only: ecosystems(&args.ecosystem)?,
        ignore_extra: args.ignore_extra,
        allow_incomplete: args.allow_incomplete,
    })
}

/// More than two targets: a fleet matrix. When nothing can be compared (a broken input,
/// an unreachable reference), every report still lists each target, as an error.
async fn fleet(
    args: &DiffArgs,
    targets: &[Planned],
    sources: Arc<Sources>,
    plan: &Plan,
    store: Option<Location>,
) -> anyhow::Result<Outcome> {
    let mut streamer = match args.stream {
        true => Some(Streamer::new(
            targets.iter().map(|t| t.name.clone()).collect(),
            compare_options(args)?,
        )),
        false => None,
    };
    let fleet = match load_fleet(args, targets, sources, streamer.as_mut()).await {
        Ok(fleet) => fleet,
        Err(err) => {
            let reason = format!("{err:#}");
            let fleet = Fleet {
                reference: targets[0].name.clone(),
                targets: targets[1..]
                    .iter()
                    .map(|p| FleetTarget {
                        name: p.name.clone(),
                        result: Err(reason.clone()),
                    })
                    .collect(),
            };
            if let Some(streamer) = &streamer {
                streamer.end(&fleet);
            }
            return match plan.write(Subject::Fleet(&fleet)) {
                Ok(()) => Err(err),
                Err(write) => Err(err.context(format!("{write:#}"))),
            };
        }
    };
    if let Some(streamer) = &streamer {
        streamer.end(&fleet);
    }
    let names = fleet.targets.iter().map(|t| t.name.clone()).collect();
    let history = read_history(store, names).await?;
    plan.write_with_history(Subject::Fleet(&fleet), history.as_ref())?;
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
