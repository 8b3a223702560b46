//! `envsync fetch` and `envsync vendor DIR`: every `.deb` and wheel the lock names, by
//! sha256, into the user's artifact cache (shared by all projects), or into a directory
//! a team shares or commits; builds take from them what the package sources no longer
//! serve, and `envsync build --offline` takes everything from them.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use envsync_manifest::Manifest;
use envsync_provisioner::cache::{integrity_key, ArtifactCache};
use envsync_provisioner::fetch::{fetch_artifacts, FetchReport};
use envsync_provisioner::from_manifest::{locks_this, service_recipe};
use envsync_provisioner::{spec_from_manifest, BuildSpec};

use super::output::DocFormat as Format;
use crate::cmd::output::outln;
use crate::documents;
use crate::images::{build_image, BuildSettings};
use crate::inputs::{Inputs, Loaded};
use crate::Outcome;

pub use crate::documents::FETCH_SCHEMA;

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// The manifest, and the lock whose artifacts to fetch
    #[command(flatten)]
    pub inputs: Inputs,
    /// The artifact cache [default: $ENVSYNC_CACHE_DIR, else
    /// $XDG_CACHE_HOME/envsync/artifacts, else ~/.cache/envsync/artifacts]
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Output format: `table` or `json`
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct VendorArgs {
    /// Directory to write the artifacts into (`sha256/<hex>` files and `SHA256SUMS`);
    /// build from it with `envsync build --offline --artifacts DIR`
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Run `envsync fetch`.
pub async fn run(args: &FetchArgs) -> anyhow::Result<Outcome> {
    let cache = match &args.artifacts {
        Some(dir) => ArtifactCache::at(dir),
        None => ArtifactCache::user_default()?,
    };
    fetch_into(args, &cache).await
}

/// Run `envsync vendor DIR`: fetch into DIR itself, and list the files in
/// `DIR/SHA256SUMS`.
pub async fn vendor(args: &VendorArgs) -> anyhow::Result<Outcome> {
    let cache = ArtifactCache::at(&args.dir);
    // What the user's cache already holds is copied, not downloaded again.
    if let Ok(user) = ArtifactCache::user_default() {
        if user.root() != args.dir {
            copy_cached(&args.fetch, &user, &cache)?;
        }
    }
    let outcome = fetch_into(&args.fetch, &cache).await?;
    write_sums(&args.dir)?;
    Ok(outcome)
}

async fn fetch_into(args: &FetchArgs, cache: &ArtifactCache) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let text = args.format == Format::Table;
    let _project = crate::project_lock::acquire(&args.inputs.manifest_path())?;
    let (manifest, images) = locked_images(args)?;
    let docker = crate::connect_engine().await?;
    let settings = BuildSettings::new(false, text);
    let ca = envsync_provisioner::context::ca_bundle(&images[0].1)?;
    let mut report = FetchReport::default();
    for (what, spec) in &images {
        let Some(locked) = &spec.locked else { continue };
        // The image built from the lock has the package managers and sources to ask.
        let (_, built) = build_image(&docker, &manifest, spec, what, &settings).await?;
        if text {
            crate::settings::note!(
                "{what}: fetching {} artifacts in {}",
                locked.debs.iter().filter(|d| d.sha256.is_some()).count()
                    + locked.wheels.len()
                    + locked.tarballs.len(),
                built.tag
            );
        }
        let got = fetch_artifacts(
            &docker,
            &built.tag,
            locked,
            &spec.sources,
            ca.as_deref(),
            cache,
        )
        .await
        .with_context(|| format!("fetching the artifacts of `{what}`"))?;
        report.add(got);
    }
    match args.format {
        Format::Json => documents::print(&documents::Fetch {
            schema: FETCH_SCHEMA,
            cache: cache.root(),
            fetched: report.fetched,
            bytes: report.bytes,
            reused: report.reused,
            missing: &report.missing,
            seconds: started.elapsed().as_secs_f64(),
        })?,
        Format::Table => outln!(
            "{} artifacts fetched ({:.1} MB), {} already cached, in {} ({:.1}s)",
            report.fetched,
            report.bytes as f64 / 1e6,
            report.reused,
            cache.root().display(),
            started.elapsed().as_secs_f64()
        )?,
    }
    if !report.missing.is_empty() {
        bail!(
            "{} locked {} no package source serves with the locked checksum: {}; they cannot be fetched from here: add a [sources] `apt_snapshot` or mirror that keeps them, copy a cache that holds them (`envsync vendor`), or take newer versions on purpose with `envsync lock --update`",
            report.missing.len(),
            if report.missing.len() == 1 { "artifact" } else { "artifacts" },
            report.missing.join(", ")
        );
    }
    Ok(Outcome::Ok)
}

/// The manifest and every image its lock records: the development image, then each
/// service, as build specs holding the locked closure.
fn locked_images(args: &FetchArgs) -> anyhow::Result<(Manifest, Vec<(String, BuildSpec)>)> {
    let Loaded {
        manifest,
        lock_path,
        lock,
    } = args.inputs.load()?;
    let Some(lock) = lock else {
        bail!(
            "{} does not exist; `envsync lock` writes it, then `envsync fetch` fetches what it names",
            lock_path.display()
        );
    };
    if !locks_this(&lock, &manifest) {
        bail!(
            "{} is not the lock of {} as it is now (`envsync lock --check` says why); run `envsync lock` first",
            lock_path.display(),
            manifest.file.display()
        );
    }
    let mut images = vec![(
        "dev".to_string(),
        spec_from_manifest(&manifest, Some(&lock))?,
    )];
    for service in manifest.services.iter().filter(|s| s.image.is_none()) {
        let recipe = service_recipe(&manifest, service, Some(&lock))?;
        images.push((service.name.clone(), recipe.build));
    }
    Ok((manifest, images))
}

/// Copy the lock's artifacts `from` holds into `to`.
fn copy_cached(args: &FetchArgs, from: &ArtifactCache, to: &ArtifactCache) -> anyhow::Result<()> {
    let (_, images) = locked_images(args)?;
    for (_, spec) in &images {
        let Some(locked) = &spec.locked else { continue };
        let keys: Vec<String> = locked
            .debs
            .iter()
            .filter_map(|d| d.sha256.clone())
            .chain(locked.wheels.iter().map(|w| w.sha256.clone()))
            .chain(
                locked
                    .tarballs
                    .iter()
                    .filter_map(|t| integrity_key(&t.integrity)),
            )
            .collect();
        for key in &keys {
            if !to.contains(key) {
                if let Some(bytes) = from.read(key) {
                    to.insert(key, &bytes)?;
                }
            }
        }
    }
    Ok(())
}

/// `DIR/SHA256SUMS`: one `<sha256>  sha256/<sha256>` line per file, as `sha256sum -c`
/// checks it.
fn write_sums(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut names: Vec<String> = match std::fs::read_dir(dir.join("sha256")) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.len() == 64)
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    // npm tarballs are kept by their sha512: `sha512sum -c SHA512SUMS` checks them.
    let mut npm: Vec<String> = match std::fs::read_dir(dir.join("sha512")) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.len() == 128)
            .collect(),
        Err(_) => Vec::new(),
    };
    npm.sort();
    if !npm.is_empty() {
        let sums: String = npm.iter().map(|n| format!("{n}  sha512/{n}\n")).collect();
        let path = dir.join("SHA512SUMS");
        std::fs::write(&path, sums).with_context(|| format!("writing `{}`", path.display()))?;
    }
    let text: String = names.iter().map(|n| format!("{n}  sha256/{n}\n")).collect();
    let path = dir.join("SHA256SUMS");
    std::fs::write(&path, text).with_context(|| format!("writing `{}`", path.display()))
}
