//! `envsync lock`: build the environment from the manifest (frozen to the existing lock
//! when the manifest is unchanged), fingerprint the image and write envsync.lock with
//! every component it holds; `--from TARGET` pins the declared components to what a
//! target runs first; `--check` tells whether the lock is up to date, never writing.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use envsync_drift::check::Checked;
use envsync_drift::pins::pins_from_target;
use envsync_drift::report::escape;
use envsync_drift::verify;
use envsync_drift::Snapshot;
use envsync_manifest::{Ecosystem, Lock, LockProblem, Manifest};
use envsync_provisioner::from_manifest::locks_this;

use super::diff::{load_target, Sources};
use super::output::DocFormat as Format;
use crate::cmd::output::outln;
use crate::documents;
use crate::images::{build_and_lock, print_drift, BuildSettings, LockPlan, LockedEnvironment};
use crate::inputs::{Inputs, Loaded};
use crate::settings::note;
use crate::Outcome;

pub use crate::documents::{LOCK_CHECK_SCHEMA, LOCK_WRITE_SCHEMA};

#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Check that the lock is up to date with the manifest, without writing anything
    /// (exit 0 up to date, 1 out of date or absent, 2 error)
    #[arg(long, conflicts_with_all = ["from", "update", "no_cache"])]
    pub check: bool,
    /// Pin every declared apt, Python and npm package to the version TARGET runs
    /// (`docker:NAME`, `image:REF`, `ssh://...`, a snapshot file or a name from
    /// `[targets]`), then build with those pins and lock the result
    #[arg(long, value_name = "TARGET")]
    pub from: Option<String>,
    /// Take updates on purpose. Without COMPONENTs, resolve the manifest's constraints
    /// afresh instead of keeping the versions the lock records; with them (`openssl`,
    /// `deb:openssl`, `pypi:django`), update only those (and what they require), leaving
    /// every other line of the lock as it is
    #[arg(long, conflicts_with = "from", num_args = 0.., value_name = "COMPONENT")]
    pub update: Option<Vec<String>>,
    /// Run every build step again instead of using the engine's layer cache
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output format: `table` or `json`
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Run `envsync lock`.
pub async fn run(args: &LockArgs) -> anyhow::Result<Outcome> {
    if args.check {
        check_lock(args)
    } else {
        write_lock(args).await
    }
}

/// How the versions of declared components were chosen for the build.
enum Pins {
    /// No lock, or `--update`: the manifest's constraints decide.
    Manifest,
    /// The existing lock of this very manifest: rebuild it exactly and verify.
    Frozen(Lock),
    /// The existing lock of an earlier manifest: its versions the manifest still allows.
    Kept(Lock),
    /// `--from TARGET`: the target's versions of every declared package, and the target
    /// itself, whose versions the rest of the closure takes where it has the package.
    Target(String, Lock, Box<Snapshot>),
    /// `--update COMPONENT…`: this very manifest's lock, the named components taken out.
    Update(Lock, Vec<(Option<Ecosystem>, String)>),
}

/// Build, fingerprint and write the lock.
async fn write_lock(args: &LockArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let _project = crate::project_lock::acquire(&args.inputs.manifest_path())?;
    // A lock named with `--lock` need not exist yet: it is about to be written.
    let Loaded {
        manifest,
        lock_path,
        lock: existing,
    } = args.inputs.load_to_write()?;
    let text = args.format == Format::Table;
    let pins = choose_pins(args, &manifest, &lock_path, existing).await?;
    let pin_lock = match &pins {
        Pins::Manifest => None,
        Pins::Frozen(l) | Pins::Kept(l) | Pins::Target(_, l, _) | Pins::Update(l, _) => Some(l),
    };
    if text {
        announce(&pins, &lock_path);
    }
    let docker = crate::connect_engine().await?;
    let settings = BuildSettings::new(args.no_cache, text);
    let target_snapshot = match &pins {
        Pins::Target(_, _, snapshot) => Some(snapshot.as_ref()),
        _ => None,
    };
    let update: &[(Option<Ecosystem>, String)] = match &pins {
        Pins::Update(_, names) => names,
        _ => &[],
    };
    let plan = LockPlan {
        pins: pin_lock,
        target: target_snapshot,
        update,
    };
    let built = build_and_lock(&docker, &manifest, plan, settings).await?;
    let new_lock = &built.lock;
    if let Pins::Update(old, _) = &pins {
        report_updates(old, new_lock);
    }

    if rebuild_differs(&pins, &lock_path, new_lock, &built.dev_tag)? {
        return Ok(Outcome::Drift);
    }
    let text_out = new_lock.to_string_canonical();
    let unchanged = Lock::read_text(&lock_path).is_ok_and(|old| old == text_out);
    if !unchanged {
        write_atomically(&lock_path, &text_out)?;
    }
    report_written(
        args.format,
        &lock_path,
        !unchanged,
        new_lock,
        &built,
        started,
    )?;
    Ok(Outcome::Ok)
}

/// How the versions are chosen: `--from`, `--update`, the existing lock or the manifest.
async fn choose_pins(
    args: &LockArgs,
    manifest: &Manifest,
    lock_path: &Path,
    existing: Option<Lock>,
) -> anyhow::Result<Pins> {
    Ok(match (&args.from, existing) {
        (Some(target), _) => {
            let (pins, snapshot) = target_pins(manifest, lock_path, target).await?;
            Pins::Target(target.clone(), pins, Box::new(snapshot))
        }
        (None, Some(lock)) if args.update.as_ref().is_some_and(|names| !names.is_empty()) => {
            if !locks_this(&lock, manifest) {
                bail!(
                    "{} is not the lock of {} as it is now (`envsync lock --check` says why): `--update COMPONENT` updates a current lock; run `envsync lock` first, or `envsync lock --update` to resolve everything",
                    lock_path.display(),
                    manifest.file.display()
                );
            }
            let names = args
                .update
                .iter()
                .flatten()
                .map(|n| envsync_provisioner::update::parse_update_name(n))
                .collect::<Result<Vec<_>, _>>()?;
            Pins::Update(lock, names)
        }
        (None, None) if args.update.as_ref().is_some_and(|names| !names.is_empty()) => {
            bail!(
                "{} does not exist: `--update COMPONENT` updates an existing lock; run `envsync lock` first",
                lock_path.display()
            )
        }
        (None, Some(_)) if args.update.is_some() => Pins::Manifest,
        (None, Some(lock)) if lock.made_from(manifest) => Pins::Frozen(lock),
        (None, Some(lock)) => Pins::Kept(lock),
        (None, None) => Pins::Manifest,
    })
}

/// Say on stderr how the versions are chosen.
fn announce(pins: &Pins, lock_path: &Path) {
    match &pins {
        Pins::Manifest => {}
        Pins::Frozen(_) => note!(
            "{} is up to date with the manifest's sha256: rebuilding its exact versions",
            lock_path.display()
        ),
        Pins::Kept(_) => note!(
            "{} was made from an earlier manifest: keeping the locked versions the manifest still allows",
            lock_path.display()
        ),
        Pins::Target(target, l, _) => note!(
            "pinning {} declared packages to the versions `{target}` runs",
            l.components.len()
        ),
        Pins::Update(_, names) => note!(
            "updating {}; every other component stays as {} records it",
            names
                .iter()
                .map(|(e, n)| match e {
                    Some(e) => format!("`{e}:{n}`"),
                    None => format!("`{n}`"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            lock_path.display()
        ),
    }
}

/// Whether a rebuild differs from what it must reproduce (the lock of this very
/// manifest, or the versions `--from TARGET` runs); the drift is printed, and the
/// lock is then not written.
fn rebuild_differs(
    pins: &Pins,
    lock_path: &Path,
    new_lock: &Lock,
    dev_tag: &str,
) -> anyhow::Result<bool> {
    let checked: Vec<(Option<String>, Checked)> = match pins {
        Pins::Frozen(old) => {
            verify::built_against_lock(old, &lock_path.display().to_string(), new_lock)
        }
        Pins::Target(_, _, snapshot) => vec![(
            None,
            verify::built_against_target(snapshot, new_lock, dev_tag),
        )],
        _ => Vec::new(),
    };
    let failed: Vec<&(Option<String>, Checked)> =
        checked.iter().filter(|(_, c)| c.failed()).collect();
    if !failed.is_empty() {
        let against = match pins {
            Pins::Target(target, _, _) => format!("the versions `{target}` runs"),
            _ => lock_path.display().to_string(),
        };
        let mut images = Vec::new();
        for (service, c) in &failed {
            print_drift(c)?;
            images.push(match service {
                None => format!("the development image ({})", c.summary().phrase()),
                Some(name) => format!("the image of service `{name}` ({})", c.summary().phrase()),
            });
        }
        eprintln!(
            "error: {} built, but not as {against} records it; {} was not written. Run `envsync lock --update` to take the new versions on purpose",
            images.join(" and "),
            lock_path.display()
        );
        return Ok(true);
    }
    Ok(false)
}

/// Print what was written (or found up to date).
fn report_written(
    format: Format,
    lock_path: &Path,
    written: bool,
    new_lock: &Lock,
    built: &LockedEnvironment,
    started: Instant,
) -> anyhow::Result<()> {
    let declared = new_lock.components.iter().filter(|c| c.declared).count();
    match format {
        Format::Json => documents::print(&documents::LockWrite {
            schema: LOCK_WRITE_SCHEMA,
            lock: lock_path,
            written,
            image: &built.dev_tag,
            services: built
                .services
                .iter()
                .map(|(name, image)| documents::NamedImage { name, image })
                .collect(),
            components: new_lock.components.len(),
            declared,
            seconds: started.elapsed().as_secs_f64(),
        })?,
        Format::Table => {
            let services: usize = new_lock.services.values().map(|s| s.components.len()).sum();
            let hashed = new_lock
                .components
                .iter()
                .chain(new_lock.services.values().flat_map(|s| &s.components))
                .filter(|c| c.checksum.is_some())
                .count();
            let summary = format!(
                "{} components ({declared} declared) in the development image {}, {services} in {} service {}, {hashed} with checksums",
                new_lock.components.len(),
                built.dev_tag,
                new_lock.services.len(),
                if new_lock.services.len() == 1 { "image" } else { "images" },
            );
            if !written {
                outln!("{} is up to date: {summary}", lock_path.display())?;
            } else {
                outln!(
                    "wrote {}: {summary}, in {:.1}s",
                    lock_path.display(),
                    started.elapsed().as_secs_f64()
                )?;
            }
        }
    }
    Ok(())
}

/// Print every component whose version changed between `old` and `new`, image by image.
fn report_updates(old: &Lock, new: &Lock) {
    for change in new.changes_since(old) {
        let what = match &change.service {
            None => "development image".to_string(),
            Some(name) => format!("service `{name}`"),
        };
        match &change.from {
            Some(from) => note!(
                "{what}: {}:{} {from} -> {}",
                change.ecosystem,
                change.name,
                change.to
            ),
            None => note!(
                "{what}: {}:{} {} (new)",
                change.ecosystem,
                change.name,
                change.to
            ),
        }
    }
}

/// Write through a temporary file beside `path`, so an interrupted run never leaves a
/// half-written lock.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // A unique temporary file, flushed to disk, then renamed over the lock: readers see
    // the old lock or the new one, never a part of either.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in `{}`", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", tmp.path().display()))?;
    tmp.persist(path)
        .map(drop)
        .with_context(|| format!("cannot replace `{}`", path.display()))
}

/// Collect TARGET and pin the manifest's declared packages to what it runs
/// (see `pins_from_target`).
async fn target_pins(
    manifest: &Manifest,
    lock_path: &Path,
    target: &str,
) -> anyhow::Result<(Lock, Snapshot)> {
    let sources = Sources {
        manifest: Some(manifest.clone()),
        manifest_path: manifest.file.clone(),
        lock_path: lock_path.to_path_buf(),
        timeout: None,
        roots: Vec::new(),
    };
    let snapshot = load_target(target, &sources)
        .await
        .with_context(|| format!("cannot fingerprint `{target}` to pin the manifest to it"))?;
    let pins = pins_from_target(manifest, &snapshot, target)?;
    Ok((pins, snapshot))
}

/// Run `envsync lock --check`.
fn check_lock(args: &LockArgs) -> anyhow::Result<Outcome> {
    let manifest = args.inputs.manifest.load()?;
    let lock_path = args.inputs.lock_path();
    if !lock_path.exists() {
        let message = format!(
            "{} does not exist; create it with `envsync lock` and commit it",
            lock_path.display()
        );
        match args.format {
            Format::Json => print_json(&lock_path, false, &[], Some(&message))?,
            Format::Table => outln!("{message}")?,
        }
        return Ok(Outcome::Drift);
    }
    let lock = Lock::load(&lock_path)?;
    let problems = lock.check(&manifest);
    match args.format {
        Format::Json => print_json(&lock_path, problems.is_empty(), &problems, None)?,
        Format::Table => {
            for problem in &problems {
                outln!("{}", escape(&problem.to_string()))?;
            }
            if problems.is_empty() {
                outln!(
                    "{} is up to date with {} ({} components locked, {} declared)",
                    lock_path.display(),
                    manifest.file.display(),
                    lock.components.len(),
                    manifest.declared().len()
                )?;
            } else {
                let n = problems.len();
                outln!(
                    "{} is out of date with {}: {n} {}",
                    lock_path.display(),
                    manifest.file.display(),
                    if n == 1 { "problem" } else { "problems" }
                )?;
            }
        }
    }
    Ok(if problems.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Drift
    })
}

fn print_json(
    lock: &Path,
    up_to_date: bool,
    problems: &[LockProblem],
    absent: Option<&str>,
) -> anyhow::Result<()> {
    let problems = absent
        .map(documents::Problem::absent)
        .into_iter()
        .chain(problems.iter().map(documents::Problem::of))
        .collect();
    documents::print(&documents::LockCheck {
        schema: LOCK_CHECK_SCHEMA,
        lock,
        up_to_date,
        problems,
    })
}
