//! `envsync build`: build the environment's image from the manifest (exact versions
//! from envsync.lock when present), or reuse it when its content address is present;
//! with a lock, fingerprint the image afterwards and fail when it differs from the lock.
//! Also home of the build, fingerprint and verification steps `envsync lock` shares.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use envsync_drift::check::Checked;
use envsync_drift::lockfile::lock_collect_options;
use envsync_drift::report::escape;
use envsync_drift::verify;
use envsync_provisioner::{
    emit_context, plan, resolve_base, spec_from_manifest, BuildSpec, BuiltImage,
};

use envsync_provisioner::cache::ArtifactCache;

use super::output::DocFormat as Format;
use crate::cmd::output::{out, outln};
use crate::documents;
use crate::images::{build_image, fingerprint_image, print_drift, BuildSettings};
use crate::inputs::{Inputs, Loaded};
use crate::Outcome;

pub use crate::documents::BUILD_SCHEMA;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Print the image tag, the Dockerfile and the context files with their sizes; build nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub inputs: Inputs,
    /// Run every step again instead of using the engine's layer cache (and rebuild an
    /// image that exists)
    #[arg(long)]
    pub no_cache: bool,
    /// Build with no network at all: every .deb and wheel of the lock comes from the
    /// artifact cache (`envsync fetch` fills it); fails naming what the cache lacks
    #[arg(long)]
    pub offline: bool,
    /// The artifact cache to use [default: $ENVSYNC_CACHE_DIR, else
    /// $XDG_CACHE_HOME/envsync/artifacts, else ~/.cache/envsync/artifacts]; a directory
    /// `envsync vendor` wrote works too
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Output format: `table` or `json`
    #[arg(long, value_enum, default_value_t = Format::Table)]
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

/// Run `envsync build`.
pub async fn run(args: &BuildArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let Loaded {
        manifest,
        lock_path,
        lock,
    } = args.inputs.load()?;
    let spec = spec_from_manifest(&manifest, lock.as_ref())?;

    if let Some(dir) = &args.emit_context {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating context directory `{}`", dir.display()))?;
        let spec = resolved_if_possible(&spec).await;
        let tag = emit_context(&spec, dir)?;
        outln!("{tag}")?;
        return Ok(Outcome::Ok);
    }
    if args.dry_run {
        let spec = resolved_if_possible(&spec).await;
        out!("{}", plan(&spec)?)?;
        return Ok(Outcome::Ok);
    }
    if let Some(lock) = &lock {
        // A stale lock still pins what the manifest allows; the verification below
        // reports whatever else the build came out with.
        for problem in lock.check(&manifest) {
            eprintln!("warning: {}", escape(&problem.to_string()));
        }
    }

    let _project = crate::project_lock::acquire(&manifest.file)?;
    let docker = crate::connect_engine().await?;
    let mut settings = BuildSettings::new(args.no_cache, args.format == Format::Table);
    settings.offline = args.offline;
    if let Some(dir) = &args.artifacts {
        settings.cache = Some(ArtifactCache::at(dir));
    }
    let (_, built) = build_image(&docker, &manifest, &spec, "dev", &settings).await?;
    let verified = match (&lock, args.no_verify) {
        (Some(lock), false) => {
            let snapshot = fingerprint_image(&built.tag, &lock_collect_options(&manifest)).await?;
            Some(verify::image_against_lock(
                lock,
                &lock_path.display().to_string(),
                &manifest,
                &built.tag,
                &snapshot,
            ))
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

/// The spec with its base pinned to the engine's image ID when an engine answers, so
/// that a dry run prints the tag a build would use; the spec as given otherwise.
async fn resolved_if_possible(spec: &BuildSpec) -> BuildSpec {
    if spec.base_digest.is_some() {
        return spec.clone();
    }
    let connected = tokio::time::timeout(Duration::from_secs(3), crate::connect_engine()).await;
    let problem = match connected {
        Ok(Ok(docker)) => match resolve_base(&docker, spec).await {
            Ok(resolved) => return resolved,
            Err(err) => err.to_string(),
        },
        Ok(Err(err)) => err.to_string(),
        Err(_) => "the Docker engine did not answer within 3s".to_string(),
    };
    crate::settings::note!(
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
        Format::Json => documents::print(&documents::Build::new(
            built,
            elapsed.as_secs_f64(),
            verified,
        ))?,
        Format::Table => {
            if built.reused {
                outln!(
                    "{} is up to date ({}); nothing to build ({} ms)",
                    built.tag,
                    short_id(&built.id),
                    elapsed.as_millis()
                )?;
            } else {
                outln!(
                    "built {} ({}) in {:.1}s",
                    built.tag,
                    short_id(&built.id),
                    elapsed.as_secs_f64()
                )?;
                if let Some(log) = &built.log_path {
                    outln!("build log: {}", log.display())?;
                }
            }
            match verified {
                Some(v) if v.failed() => print_drift(v)?,
                Some(v) => outln!(
                    "verified: the image holds exactly the {} locked components",
                    v.summary().same
                )?,
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
