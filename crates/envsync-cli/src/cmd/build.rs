//! `envsync build`: build the environment's image from the manifest (exact versions
//! from envsync.lock when present), or reuse it when its content address is present;
//! with a lock, fingerprint the image afterwards and fail when it differs from the lock.
//! Also home of the build, fingerprint and verification steps `envsync lock` shares.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use envsync_drift::check::{self, Checked};
use envsync_drift::compare;
use envsync_drift::fingerprint::fingerprint;
use envsync_drift::report::{escape, escape_lines};
use envsync_drift::{Snapshot, Target};
use envsync_manifest::lock::location_matches;
use envsync_manifest::manifest::normalize_name;
use envsync_manifest::{Ecosystem, Lock, LockedBase, LockedComponent, Manifest};
use envsync_provisioner::{
    build_with_options, emit_context, plan, resolve_base, spec_from_manifest, BuildEvent,
    BuildOptions, BuildSpec, BuiltImage, ProvisionError,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::diff::{collect_options, lock_snapshot};
use super::output::stdout_color;
use crate::Outcome;

/// Schema id of `envsync build --format json`.
pub const BUILD_SCHEMA: &str = "envsync.build/v1";

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Print the image tag, the Dockerfile and the context files with their sizes; build nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The manifest
    #[arg(
        short = 'm',
        long = "manifest",
        value_name = "PATH",
        default_value = "envsync.toml"
    )]
    pub manifest: PathBuf,
    /// The lock whose exact versions are built [default: envsync.lock next to the manifest, when it exists]
    #[arg(long = "lock", value_name = "PATH")]
    pub lock: Option<PathBuf>,
    /// Run every step again instead of using the engine's layer cache
    #[arg(long)]
    pub no_cache: bool,
    /// Output format: `text` or `json`
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Skip comparing the built image with the lock. By default, when a lock exists, the
    /// image is fingerprinted after the build and any component that differs from the
    /// lock fails the build (exit 1) with a drift report
    #[arg(long)]
    pub no_verify: bool,
    /// Write the Dockerfile and build context into DIR (for comparing with `docker build`)
    #[arg(long, value_name = "DIR", hide = true)]
    pub emit_context: Option<PathBuf>,
}

/// How `build` prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Run `envsync build`.
pub async fn run(args: &BuildArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let (manifest, lock_path, lock) = load_inputs(&args.manifest, args.lock.as_deref())?;
    let spec = spec_from_manifest(&manifest, lock.as_ref())?;

    if let Some(dir) = &args.emit_context {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating context directory `{}`", dir.display()))?;
        let spec = resolved_if_possible(&spec).await;
        let tag = emit_context(&spec, dir)?;
        println!("{tag}");
        return Ok(Outcome::Ok);
    }
    if args.dry_run {
        let spec = resolved_if_possible(&spec).await;
        print!("{}", plan(&spec)?);
        return Ok(Outcome::Ok);
    }
    if let Some(lock) = &lock {
        // A stale lock still pins what the manifest allows; the verification below
        // reports whatever else the build came out with.
        for problem in lock.check(&manifest) {
            eprintln!("warning: {}", escape(&problem.to_string()));
        }
    }

    let docker = envsync_engine::connect().await?;
    let (_, built) = build_image(
        &docker,
        &manifest,
        &spec,
        args.no_cache,
        args.format == Format::Text,
    )
    .await?;
    let verified = match (&lock, args.no_verify) {
        (Some(lock), false) => {
            let built_lock = fingerprint_built(&manifest, &built.tag, None).await?;
            Some(verify(lock, &lock_path, &built.tag, &built_lock))
        }
        _ => None,
    };
    report(args.format, &built, verified.as_ref(), started.elapsed())?;
    match verified {
        Some(v) if v.failed() => {
            eprintln!(
                "error: {} built, but not as {} records it ({}, reported above); a rebuild from a lock must reproduce it exactly. Regenerate the lock with `envsync lock --update` if the new versions are intended",
                built.tag,
                lock_path.display(),
                v.summary().phrase()
            );
            Ok(Outcome::Drift)
        }
        _ => Ok(Outcome::Ok),
    }
}

/// Read the manifest and the lock: the one `lock` names (it must exist), else
/// envsync.lock next to the manifest when it exists. Returns the lock's path either way.
pub(crate) fn load_inputs(
    manifest_path: &Path,
    lock: Option<&Path>,
) -> anyhow::Result<(Manifest, PathBuf, Option<Lock>)> {
    let manifest = match Manifest::load(manifest_path) {
        Ok(m) => m,
        Err(errors) => {
            for error in &errors.errors {
                eprintln!("error: {}", escape_lines(&error.to_string()));
            }
            return Err(anyhow!(
                "{} is not valid; fix it before building (`envsync validate` lists the problems)",
                manifest_path.display()
            ));
        }
    };
    let dir = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let lock_path = lock
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("envsync.lock"));
    let lock = if lock.is_some() || lock_path.exists() {
        Some(Lock::load(&lock_path)?)
    } else {
        None
    };
    Ok((manifest, lock_path, lock))
}

/// Read the manifest (and the lock, when there is one) and map them onto a build spec.
pub fn load_spec(
    manifest_path: &Path,
    lock: Option<&Path>,
) -> anyhow::Result<(Manifest, BuildSpec)> {
    let (manifest, _, lock) = load_inputs(manifest_path, lock)?;
    let spec = spec_from_manifest(&manifest, lock.as_ref())?;
    Ok((manifest, spec))
}

/// Build `spec` (or reuse its image) with progress on stderr when `show_progress`, and
/// logs in `.envsync/logs` next to the manifest. Returns the spec with its base resolved
/// to an image ID, and the image. Ctrl-C abandons the build without tagging anything.
pub(crate) async fn build_image(
    docker: &envsync_engine::bollard::Docker,
    manifest: &Manifest,
    spec: &BuildSpec,
    no_cache: bool,
    show_progress: bool,
) -> anyhow::Result<(BuildSpec, BuiltImage)> {
    let project_dir = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let resolved = resolve_base(docker, spec)
        .await
        .map_err(|err| with_manifest_line(manifest, err))?;
    let options = BuildOptions {
        log_dir: project_dir.join(".envsync").join("logs"),
        no_cache,
    };
    let progress = Progress::new(show_progress);
    let on_event = |event| progress.event(event);
    let build = build_with_options(docker, &resolved, &options, &on_event);
    let built = tokio::select! {
        built = build => built,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            // Dropping the build closes the request: the engine stops the step, removes
            // its container (forcerm) and never applies the tag.
            return Err(anyhow!(
                "build interrupted; no image was tagged and the layers already built stay cached for the next run"
            ));
        }
    };
    progress.finish();
    let built = built.map_err(|err| with_manifest_line(manifest, err))?;
    Ok((resolved, built))
}

/// Fingerprint the image `tag` (read without running it) with the manifest's collect
/// options, as a lock of every component it holds. `base` is the base to record
/// (`None`: the manifest's image without a digest).
pub(crate) async fn fingerprint_built(
    manifest: &Manifest,
    tag: &str,
    base: Option<LockedBase>,
) -> anyhow::Result<Lock> {
    let target = Target::Image(tag.to_string());
    let snapshot = fingerprint(&target, &collect_options(Some(manifest)))
        .await
        .with_context(|| format!("fingerprinting the built image `{tag}`"))?;
    for warning in &snapshot.warnings {
        eprintln!("warning: image:{tag}: {}", escape(warning));
    }
    let base = base.unwrap_or_else(|| LockedBase {
        image: manifest.base.image.clone(),
        digest: manifest.base.digest.clone(),
    });
    Ok(lock_of_snapshot(manifest, base, &snapshot))
}

/// A lock of every component `snapshot` holds, each marked declared when the manifest
/// declares it (same ecosystem, normalised name and location as `Lock::check` matches).
pub(crate) fn lock_of_snapshot(manifest: &Manifest, base: LockedBase, snapshot: &Snapshot) -> Lock {
    let declared = manifest.declared();
    let components = snapshot
        .packages
        .iter()
        .map(|p| {
            let name = normalize_name(p.ecosystem, &p.name);
            LockedComponent {
                ecosystem: p.ecosystem,
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
                location: p.location.clone(),
                declared: declared.iter().any(|d| {
                    d.ecosystem == p.ecosystem
                        && normalize_name(d.ecosystem, &d.name) == name
                        && location_matches(d.location.as_deref(), p.location.as_deref())
                }),
                line: 0,
            }
        })
        .collect();
    Lock::new(manifest.sha256.clone(), base, components)
}

/// Compare what was built with what the lock records: every difference is drift.
pub(crate) fn verify(lock: &Lock, lock_path: &Path, tag: &str, built: &Lock) -> Checked {
    let reference = lock_snapshot(lock, &lock_path.display().to_string());
    let other = lock_snapshot(built, &format!("image:{tag}"));
    check::plain(compare::diff(&reference, &other))
}

/// Print a verification's drift as the usual table on standard output.
pub(crate) fn print_drift(checked: &Checked) {
    print!(
        "{}",
        envsync_drift::report::render(
            envsync_drift::report::Format::Table,
            checked,
            stdout_color()
        )
    );
}

/// Point a package error at the manifest line that declares the package.
fn with_manifest_line(manifest: &Manifest, err: ProvisionError) -> anyhow::Error {
    let located = match &err {
        ProvisionError::VersionNotFound {
            ecosystem, package, ..
        }
        | ProvisionError::PackageNotFound {
            ecosystem, package, ..
        } => Ecosystem::parse(ecosystem)
            .and_then(|e| manifest.locate(e, package))
            .map(|at| format!("{at}: `{package}`")),
        _ => None,
    };
    match located {
        Some(context) => anyhow::Error::new(err).context(context),
        None => err.into(),
    }
}

/// The spec with its base pinned to the engine's image ID when an engine answers, so
/// that a dry run prints the tag a build would use; the spec as given otherwise.
async fn resolved_if_possible(spec: &BuildSpec) -> BuildSpec {
    if spec.base_digest.is_some() {
        return spec.clone();
    }
    let connected = tokio::time::timeout(Duration::from_secs(3), envsync_engine::connect()).await;
    let problem = match connected {
        Ok(Ok(docker)) => match resolve_base(&docker, spec).await {
            Ok(resolved) => return resolved,
            Err(err) => err.to_string(),
        },
        Ok(Err(err)) => err.to_string(),
        Err(_) => "the Docker engine did not answer within 3s".to_string(),
    };
    eprintln!(
        "note: base image `{}` not pinned to an image ID, so the tag shown differs from a build's: {problem}",
        spec.base_image
    );
    spec.clone()
}

fn report(
    format: Format,
    built: &BuiltImage,
    verified: Option<&Checked>,
    elapsed: Duration,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let verify = match verified {
                Some(v) => {
                    let diff: serde_json::Value =
                        serde_json::from_str(&envsync_drift::report::render(
                            envsync_drift::report::Format::Json,
                            v,
                            false,
                        ))?;
                    serde_json::json!({ "passed": !v.failed(), "report": diff })
                }
                None => serde_json::Value::Null,
            };
            let value = serde_json::json!({
                "schema": BUILD_SCHEMA,
                "tag": built.tag,
                "id": built.id,
                "spec_sha256": built.spec_sha256,
                "reused": built.reused,
                "log": built.log_path,
                "seconds": elapsed.as_secs_f64(),
                "verify": verify,
            });
            println!("{}", envsync_drift::report::json_pretty(&value)?);
        }
        Format::Text => {
            if built.reused {
                println!(
                    "{} is up to date ({}); nothing to build ({} ms)",
                    built.tag,
                    short_id(&built.id),
                    elapsed.as_millis()
                );
            } else {
                println!(
                    "built {} ({}) in {:.1}s",
                    built.tag,
                    short_id(&built.id),
                    elapsed.as_secs_f64()
                );
                if let Some(log) = &built.log_path {
                    println!("build log: {}", log.display());
                }
            }
            match verified {
                Some(v) if v.failed() => print_drift(v),
                Some(v) => println!(
                    "verified: the image holds exactly the {} locked components",
                    v.summary().same
                ),
                None => {}
            }
        }
    }
    Ok(())
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Build progress on stderr: a bar on a terminal, one line per step otherwise.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    /// The current step's instruction, shortened, for the bar's message.
    step: std::sync::Mutex<String>,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            let style =
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            enabled,
            step: std::sync::Mutex::new(String::new()),
        }
    }

    fn event(&self, event: BuildEvent) {
        if !self.enabled {
            return;
        }
        match (&self.bar, event) {
            (
                Some(bar),
                BuildEvent::Step {
                    index,
                    total,
                    instruction,
                },
            ) => {
                bar.set_length(total as u64);
                bar.set_position(index.saturating_sub(1) as u64);
                let step = truncate(&instruction, 60);
                bar.set_message(step.clone());
                if let Ok(mut current) = self.step.lock() {
                    *current = step;
                }
            }
            (Some(bar), BuildEvent::Output(line)) if !line.trim().is_empty() => {
                let step = self.step.lock().map(|s| s.clone()).unwrap_or_default();
                bar.set_message(format!("{step} | {}", escape(&truncate(line.trim(), 60))));
            }
            (
                None,
                BuildEvent::Step {
                    index,
                    total,
                    instruction,
                },
            ) => eprintln!("[{index}/{total}] {}", escape(&truncate(&instruction, 160))),
            _ => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envsync_drift::Package;

    fn package(ecosystem: Ecosystem, name: &str, location: Option<&str>) -> Package {
        Package {
            ecosystem,
            name: name.into(),
            version: "1.0".into(),
            arch: None,
            location: location.map(str::to_string),
            size: None,
            mode: None,
        }
    }

    /// Lock `packages` against `manifest_text` and compare the declared ones as
    /// `ecosystem:name@location` words.
    fn check(manifest_text: &str, packages: Vec<Package>, expected_declared: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envsync.toml");
        std::fs::write(&path, manifest_text).unwrap();
        let manifest = Manifest::load(&path).unwrap();
        let mut snapshot = Snapshot::new("image:x");
        snapshot.packages = packages;
        let base = LockedBase {
            image: "envsync/debian:bookworm".into(),
            digest: None,
        };
        let lock = lock_of_snapshot(&manifest, base, &snapshot);
        assert_eq!(lock.manifest_sha256, manifest.sha256);
        let declared: Vec<String> = lock
            .components
            .iter()
            .filter(|c| c.declared)
            .map(|c| {
                format!(
                    "{}:{}@{}",
                    c.ecosystem,
                    c.name,
                    c.location.as_deref().unwrap_or("-")
                )
            })
            .collect();
        assert_eq!(declared, expected_declared);
        // What `envsync lock` writes passes `envsync lock --check`.
        assert_eq!(lock.check(&manifest), []);
    }

    #[test]
    fn marks_declared_components_where_they_are_declared() {
        check(
            "[project]\nname = \"p\"\n[base]\nimage = \"envsync/debian:bookworm\"\n\
             [apt]\njq = \"*\"\n\
             [python]\npackages = { Django = \"*\" }\n\
             [python.venvs.\"/opt/venv\".packages]\nsix = \"*\"\n",
            vec![
                package(Ecosystem::Deb, "jq", None),
                package(Ecosystem::Deb, "libjq1", None),
                package(
                    Ecosystem::Pypi,
                    "django",
                    Some("/usr/local/lib/python3.11/dist-packages"),
                ),
                // The same name in the venv is not the global declaration's.
                package(
                    Ecosystem::Pypi,
                    "django",
                    Some("/opt/venv/lib/python3.11/site-packages"),
                ),
                package(
                    Ecosystem::Pypi,
                    "six",
                    Some("/opt/venv/lib/python3.11/site-packages"),
                ),
                package(
                    Ecosystem::Pypi,
                    "six",
                    Some("/usr/lib/python3/dist-packages"),
                ),
            ],
            &[
                "deb:jq@-",
                "pypi:django@/usr/local/lib/python3.11/dist-packages",
                "pypi:six@/opt/venv/lib/python3.11/site-packages",
            ],
        );
    }
}
