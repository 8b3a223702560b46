//! The environment's images, built and read back: where the provisioner (which builds)
//! and drift (which fingerprints) meet. `envsync lock` builds every image of the
//! manifest here and assembles the lock from what they hold; `envsync build` and
//! `envsync up` build from it and verify against it.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use envsync_drift::check::Checked;
use envsync_drift::lockfile::{
    dev_components, image_service_components, lock_collect_options, pinned_to_target,
    service_collect_options, service_components,
};
use envsync_drift::report::escape;
use envsync_drift::{Snapshot, Target};
use envsync_engine::bollard::Docker;
use envsync_manifest::lock::{attach_artifacts, carry_over_checksums, LockedComponent};
use envsync_manifest::{Ecosystem, Lock, LockedBase, Manifest};
use envsync_provisioner::cache::{context_artifacts, ArtifactCache};
use envsync_provisioner::from_manifest::{pin_to_components, service_recipe, take_out_of_lock};
use envsync_provisioner::rebuild::{entries_label, image_entries};
use envsync_provisioner::{
    build_with_options, read_artifacts, resolve_base_with, spec_from_manifest, BuildEvent,
    BuildOptions, BuildSpec, BuiltImage, ProvisionError,
};
use indicatif::{ProgressBar, ProgressStyle};

/// How images are built: the engine's layer cache, progress on stderr, and the
/// artifact cache a locked build falls back to (or, `offline`, takes everything from).
#[derive(Debug, Clone)]
pub(crate) struct BuildSettings {
    pub no_cache: bool,
    pub show_progress: bool,
    pub offline: bool,
    pub cache: Option<ArtifactCache>,
}

impl BuildSettings {
    /// Online builds with the user's artifact cache as the fallback.
    pub fn new(no_cache: bool, show_progress: bool) -> BuildSettings {
        BuildSettings {
            no_cache,
            show_progress: show_progress && !crate::settings::quiet(),
            offline: false,
            cache: ArtifactCache::user_default().ok(),
        }
    }
}

/// Build `spec` (or reuse its image) with progress on stderr, and logs in
/// `.envsync/logs` next to the manifest. `what` names the image in messages (`dev`, a
/// service name). Returns the spec with its base resolved to an image ID, and the
/// image. Ctrl-C abandons the build without tagging anything.
pub(crate) async fn build_image(
    docker: &Docker,
    manifest: &Manifest,
    spec: &BuildSpec,
    what: &str,
    settings: &BuildSettings,
) -> anyhow::Result<(BuildSpec, BuiltImage)> {
    let project_dir = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let resolved = resolve_base_with(docker, spec, &pull_progress(settings.show_progress))
        .await
        .map_err(|err| with_manifest_line(manifest, err))?;
    if let (Some(wanted), Some(got)) = (&spec.base_digest, &resolved.base_digest) {
        if wanted != got && settings.show_progress {
            eprintln!(
                "note: {what}: base image `{}` is now `{got}`, not the locked `{wanted}`; its packages are brought to the locked versions",
                spec.base_image
            );
        }
    }
    let mut options = BuildOptions {
        log_dir: project_dir.join(".envsync").join("logs"),
        no_cache: settings.no_cache,
        // What the image is built from in the manifest's terms, so a later rebuild can
        // name the lines that changed.
        labels: vec![entries_label(&image_entries(manifest, what))],
        ..BuildOptions::default()
    };
    if settings.offline {
        options.offline = true;
        options.artifacts = offline_artifacts(&resolved, settings.cache.as_ref(), what)?;
    }
    let mut built = build_once(docker, &resolved, &options, settings, what).await;
    // A locked version the sources no longer serve: build again with what the artifact
    // cache holds of the lock.
    if let (Err(err), Some(locked), Some(cache), false) =
        (&built, &resolved.locked, &settings.cache, settings.offline)
    {
        if matches!(
            err,
            ProvisionError::VersionNotFound { .. } | ProvisionError::ClosureMismatch { .. }
        ) {
            let (artifacts, _) = context_artifacts(cache, locked);
            if !artifacts.is_empty() {
                if settings.show_progress {
                    eprintln!(
                        "note: {what}: the package sources no longer serve every locked version; building again with the {} locked artifacts in {}",
                        artifacts.len(),
                        cache.root().display()
                    );
                }
                options.artifacts = artifacts;
                built = build_once(docker, &resolved, &options, settings, what).await;
            }
        }
    }
    let built = built
        .map_err(|err| explain(manifest, &resolved, err))
        .with_context(|| format!("building the image of `{what}`"))?;
    Ok((resolved, built))
}

/// One build, with progress. Ctrl-C drops it (see `crate::interruptible`): the engine
/// stops the step, removes its container (forcerm) and never applies the tag.
async fn build_once(
    docker: &Docker,
    spec: &BuildSpec,
    options: &BuildOptions,
    settings: &BuildSettings,
    what: &str,
) -> Result<BuiltImage, ProvisionError> {
    let progress = Progress::new(settings.show_progress, what);
    let on_event = |event| progress.event(event);
    let started = std::time::Instant::now();
    tracing::debug!(image = what, base = %spec.base_image, offline = options.offline, "build starts");
    let build = build_with_options(docker, spec, options, &on_event);
    let built = build.await;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    match &built {
        Ok(image) => tracing::debug!(image = what, tag = %image.tag, seconds, "build ends"),
        Err(err) => tracing::debug!(image = what, error = %err, seconds, "build failed"),
    }
    built
}

/// Every artifact an offline build of `spec` needs, from `cache`; an error naming each
/// one the cache lacks, and the ways to get it.
fn offline_artifacts(
    spec: &BuildSpec,
    cache: Option<&ArtifactCache>,
    what: &str,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let Some(locked) = &spec.locked else {
        bail!("{what}: an offline build needs a lock made from this manifest (its exact artifacts); run `envsync lock` first");
    };
    let cache = cache.ok_or_else(|| anyhow!("no artifact cache: set ENVSYNC_CACHE_DIR"))?;
    let (artifacts, missing) = context_artifacts(cache, locked);
    if !missing.is_empty() {
        bail!(
            "{what}: the artifact cache {} lacks {} locked {}: {}; run `envsync fetch` where the package sources (or a cache holding them) are reachable, or point `--artifacts` at a directory `envsync vendor` wrote",
            cache.root().display(),
            missing.len(),
            if missing.len() == 1 { "artifact" } else { "artifacts" },
            missing.join(", ")
        );
    }
    Ok(artifacts)
}

/// What a lock is built from: the versions to pin (see `spec_from_manifest`), a target
/// whose versions the closure takes (`lock --from`), and components taken out of the
/// lock to be resolved again (`lock --update NAME…`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LockPlan<'a> {
    pub pins: Option<&'a Lock>,
    pub target: Option<&'a Snapshot>,
    pub update: &'a [(Option<Ecosystem>, String)],
}

/// Every image of an environment, built, with the lock of what they hold.
#[derive(Debug)]
pub(crate) struct LockedEnvironment {
    pub lock: Lock,
    /// The development image's tag.
    pub dev_tag: String,
    /// Each service built from packages: name and image tag.
    pub services: Vec<(String, String)>,
}

/// Build the development image and every service image of `manifest`, with the versions
/// `pins` gives (see `spec_from_manifest`), fingerprint each, and lock every component
/// with the checksum of the artifact the build installed it from.
///
/// With `target` (`lock --from TARGET`), the development image is then built again with
/// the target's version of every Debian and Python package both have, so the lock
/// differs from the target only in what one of them lacks.
///
/// Longer than 80 lines on purpose: it is the one sequence of builds and fingerprints
/// that joins provisioner and drift (the CLI's job); each decision in it (the pins,
/// the components, the checksums) is a library call.
pub(crate) async fn build_and_lock(
    docker: &Docker,
    manifest: &Manifest,
    plan: LockPlan<'_>,
    settings: BuildSettings,
) -> anyhow::Result<LockedEnvironment> {
    let LockPlan {
        pins,
        target,
        update,
    } = plan;
    let mut matched = Vec::new();
    let mut spec = spec_from_manifest(manifest, pins)?;
    if !update.is_empty() {
        let unlocked = spec_from_manifest(manifest, None)?;
        matched.extend(take_out_of_lock(&mut spec, &unlocked, update));
    }
    let options = lock_collect_options(manifest);
    let (mut resolved, mut built) = build_image(docker, manifest, &spec, "dev", &settings).await?;
    let mut snapshot = fingerprint_image(&built.tag, &options).await?;
    if let Some(target) = target {
        let (pinned, changed) = pinned_to_target(&dev_components(manifest, &snapshot), target);
        if changed > 0 {
            if settings.show_progress {
                eprintln!(
                    "dev: {changed} more {} run at other versions in `{}`; building again with those",
                    if changed == 1 { "package" } else { "packages" },
                    target.target
                );
            }
            let mut again = spec.clone();
            pin_to_components(&mut again, &pinned);
            (resolved, built) = build_image(docker, manifest, &again, "dev", &settings).await?;
            snapshot = fingerprint_image(&built.tag, &options).await?;
        }
    }
    let mut components = dev_components(manifest, &snapshot);
    let earlier = pins.map(|l| l.components.as_slice());
    attach(docker, &built.tag, &mut components, earlier).await?;
    let mut lock = Lock::new(
        manifest.sha256.clone(),
        LockedBase {
            image: manifest.base.image.clone(),
            digest: resolved.base_digest,
        },
        components,
    )
    .with_manifest_sections(manifest.sections.clone());
    let mut services = Vec::new();
    for service in manifest.services.iter().filter(|s| s.image.is_none()) {
        let at = || {
            format!(
                "{}:{}: [services.{}]",
                manifest.file.display(),
                service.line,
                service.name
            )
        };
        let mut recipe = service_recipe(manifest, service, pins).with_context(at)?;
        if !update.is_empty() {
            let unlocked = service_recipe(manifest, service, None).with_context(at)?;
            matched.extend(take_out_of_lock(&mut recipe.build, &unlocked.build, update));
        }
        let (resolved, built) =
            build_image(docker, manifest, &recipe.build, &service.name, &settings).await?;
        let snapshot = fingerprint_image(&built.tag, &service_collect_options(service)).await?;
        let mut components = service_components(service, &snapshot);
        let earlier = pins
            .and_then(|l| l.services.get(&service.name))
            .map(|i| i.components.as_slice());
        attach(docker, &built.tag, &mut components, earlier).await?;
        lock = lock.with_service(
            &service.name,
            LockedBase {
                image: recipe.build.base_image.clone(),
                digest: resolved.base_digest,
            },
            components,
        );
        services.push((service.name.clone(), built.tag));
    }
    let lock = lock_service_images(docker, manifest, lock, &settings).await?;
    let unmatched: Vec<String> = update
        .iter()
        .filter(|(eco, name)| {
            !matched.iter().any(|m| {
                let (e, n) = m.split_once(':').unwrap_or_default();
                n == name && eco.is_none_or(|eco| eco.as_str() == e)
            })
        })
        .map(|(eco, name)| match eco {
            Some(e) => format!("`{e}:{name}`"),
            None => format!("`{name}`"),
        })
        .collect();
    if !unmatched.is_empty() {
        bail!(
            "`--update`: the lock has no Debian or Python package {}; name packages as the lock lists them",
            unmatched.join(", ")
        );
    }
    Ok(LockedEnvironment {
        lock,
        dev_tag: built.tag,
        services,
    })
}

/// Pin every service given by `image` to its repository digest (`repo@sha256:…`), pulling
/// it when the engine lacks it, and lock what the image holds (its package database read
/// without running it, as `fingerprint image:REF` reads it), so that `up` checks the
/// running container against that inventory. An image no registry knows (built
/// locally) is pinned by its image ID. No checksums: envsync installed nothing in it.
async fn lock_service_images(
    docker: &Docker,
    manifest: &Manifest,
    mut lock: Lock,
    settings: &BuildSettings,
) -> anyhow::Result<Lock> {
    let progress = pull_progress(settings.show_progress);
    for service in &manifest.services {
        let Some(reference) = &service.image else {
            continue;
        };
        let image = envsync_provisioner::pull::ensure_image(docker, reference, &progress)
            .await
            .with_context(|| image_entry(manifest, service))?;
        let digest = envsync_provisioner::pull::repo_digest(&image, reference).or(image.id);
        let snapshot = fingerprint_image(reference, &service_collect_options(service))
            .await
            .with_context(|| image_entry(manifest, service))?;
        lock = lock.with_service(
            &service.name,
            LockedBase {
                image: reference.clone(),
                digest,
            },
            image_service_components(&snapshot),
        );
    }
    Ok(lock)
}

/// Where a service's `image` is written: `FILE:LINE: [services.NAME] image`.
fn image_entry(manifest: &Manifest, service: &envsync_manifest::manifest::Service) -> String {
    format!(
        "{}:{}: [services.{}] image",
        manifest.file.display(),
        service.line,
        service.name
    )
}

/// The reference `up` runs service `service` from: the locked digest when the lock pins
/// the very image the manifest names, else the manifest's reference. Pulled when absent.
pub(crate) async fn service_image(
    docker: &Docker,
    manifest: &Manifest,
    service: &envsync_manifest::manifest::Service,
    reference: &str,
    lock: Option<&Lock>,
) -> anyhow::Result<String> {
    let pinned = lock
        .and_then(|l| l.services.get(&service.name))
        .filter(|locked| locked.base.image == reference)
        .and_then(|locked| locked.base.digest.clone())
        .filter(|digest| digest.contains('@'));
    let wanted = pinned.unwrap_or_else(|| reference.to_string());
    let show = !crate::settings::quiet();
    envsync_provisioner::pull::ensure_image(docker, &wanted, &pull_progress(show))
        .await
        .with_context(|| image_entry(manifest, service))?;
    Ok(wanted)
}

/// Pull progress on stderr, one line per step, when progress is shown.
fn pull_progress(show: bool) -> impl Fn(&str) + Send + Sync {
    move |line: &str| {
        if show {
            eprintln!("{}", escape(line));
        }
    }
}

/// Fingerprint the image `tag` (built, or a service's pulled `image`), read without running it.
pub(crate) async fn fingerprint_image(
    tag: &str,
    options: &envsync_drift::CollectOptions,
) -> anyhow::Result<envsync_drift::Snapshot> {
    let snapshot = crate::collect(&Target::Image(tag.to_string()), options)
        .await
        .with_context(|| format!("fingerprinting image `{tag}`"))?;
    for warning in &snapshot.warnings {
        eprintln!("warning: image:{tag}: {}", escape(warning));
    }
    Ok(snapshot)
}

/// Attach the checksums the build of `tag` recorded (and, for what it could not record,
/// those `earlier` holds for the same versions); warn about the Debian packages left
/// without one.
async fn attach(
    docker: &Docker,
    tag: &str,
    components: &mut [LockedComponent],
    earlier: Option<&[LockedComponent]>,
) -> anyhow::Result<()> {
    let artifacts = read_artifacts(docker, tag).await?;
    attach_artifacts(components, &artifacts);
    // An image built offline recorded no index checksums; the lock it was built from
    // holds them for the very same versions.
    if let Some(earlier) = earlier {
        carry_over_checksums(components, earlier);
    }
    let unhashed: Vec<String> = components
        .iter()
        .filter(|c| c.checksum.is_none() && c.ecosystem == Ecosystem::Deb)
        .map(|c| format!("{}={}", c.name, c.version))
        .collect();
    if !unhashed.is_empty() {
        eprintln!(
            "warning: image {tag}: {} Debian {} no package index offers any more, so the lock records no checksum for {}: {}",
            unhashed.len(),
            if unhashed.len() == 1 { "package is at a version" } else { "packages are at versions" },
            if unhashed.len() == 1 { "it" } else { "them" },
            unhashed.join(", ")
        );
    }
    Ok(())
}

/// Print a verification's drift as the usual table on standard output.
pub(crate) fn print_drift(checked: &Checked) -> anyhow::Result<()> {
    crate::cmd::output::out!(
        "{}",
        envsync_drift::report::render(
            envsync_drift::report::Format::Table,
            checked,
            crate::cmd::output::stdout_color()
        )
    )
}

/// A build error, with what the lock or manifest says about its package: a locked
/// version the sources no longer offer names the lock, where apt looked, and the ways
/// out; otherwise the manifest line that declares the package.
fn explain(manifest: &Manifest, spec: &BuildSpec, err: ProvisionError) -> anyhow::Error {
    if let (
        Some(_),
        ProvisionError::VersionNotFound {
            ecosystem,
            package,
            wanted,
            ..
        },
    ) = (&spec.locked, &err)
    {
        let mut looked = vec![format!(
            "the apt sources of base image `{}`",
            spec.base_image
        )];
        looked.extend(spec.sources.apt.iter().map(|l| format!("`{l}`")));
        looked.extend(
            spec.sources
                .apt_snapshot
                .iter()
                .map(|s| format!("snapshot `{s}`")),
        );
        let context = format!(
            "{ecosystem} package `{package}` is locked at `{wanted}`, which no package source offers any more (looked in {}); run `envsync fetch` where it is still cached or served, or add a [sources] `apt_snapshot` or mirror that keeps it, or take the newer version on purpose with `envsync lock --update`",
            looked.join(", ")
        );
        return anyhow::Error::new(err).context(context);
    }
    with_manifest_line(manifest, err)
}

/// Point a package error at the manifest line that declares the package.
pub(crate) fn with_manifest_line(manifest: &Manifest, err: ProvisionError) -> anyhow::Error {
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

/// Build progress on stderr: a bar on a terminal, one line per step otherwise.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    /// Which image: `dev` or a service name.
    what: String,
    /// The current step's instruction, shortened, for the bar's message.
    step: std::sync::Mutex<String>,
}

impl Progress {
    fn new(enabled: bool, what: &str) -> Progress {
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
            what: what.to_string(),
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
                let step = format!("{}: {}", self.what, truncate(&instruction, 60));
                bar.set_message(step.clone());
                if let Ok(mut current) = self.step.lock() {
                    *current = step;
                }
            }
            (Some(bar), BuildEvent::Output(line)) if !line.trim().is_empty() => {
                let step = self.step.lock().map(|s| s.clone()).unwrap_or_default();
                bar.set_message(format!("{step} | {}", truncate(line.trim(), 60)));
            }
            (
                None,
                BuildEvent::Step {
                    index,
                    total,
                    instruction,
                },
            ) => eprintln!(
                "{}: [{index}/{total}] {}",
                self.what,
                truncate(&instruction, 160)
            ),
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
