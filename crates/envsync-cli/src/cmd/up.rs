//! `envsync up`: build (or reuse) the images the manifest describes, then bring the
//! project's network, middleware services and development container to match it,
//! changing only what differs and saying why. `up --check` changes nothing and exits 1
//! when `up` would change something. After a real `up`, the running development container
//! is fingerprinted and compared with envsync.lock, and each service with the version the
//! lock or manifest gives it (a service's own image of known middleware: the version its
//! server reports from inside, against its tag): drift exits 1 (`--no-verify` skips this).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use envsync_drift::check::Checked;
use envsync_drift::probe::Reported;
use envsync_drift::report::escape;
use envsync_drift::verify::{self, Parity};
use envsync_drift::{CollectOptions, Snapshot, Target};
use envsync_engine::bollard::Docker;
use envsync_manifest::manifest::Service;
use envsync_manifest::middleware::ServiceKind;
use envsync_manifest::{Lock, Manifest};
use envsync_provisioner::env::{container_name, DEV_SERVICE};
use envsync_provisioner::env::{DevUser, EnvSpec, ServiceSpec};
use envsync_provisioner::rebuild::{image_entries, rebuild_reason};
use envsync_provisioner::run::{self, Action, Change};
use envsync_provisioner::runtime::{
    dev_spec, dev_user, passwd_name, service_env, stack, Variables,
};
use envsync_provisioner::spec::BuildSpec;
use envsync_provisioner::{image_tag, resolve_base, spec_from_manifest};

use envsync_drift::lockfile::{lock_collect_options, service_collect_options};
use envsync_provisioner::from_manifest::service_recipe;

use super::output::DocFormat as Format;
use crate::cmd::output::outln;
use crate::documents::{self, ServiceCheck};
use crate::images::{build_image, print_drift, BuildSettings};
use crate::inputs::{Inputs, Loaded};
use crate::Outcome;

pub use crate::documents::UP_SCHEMA;

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Start only these services (`dev` is the development container) and what they
    /// depend on; other running containers of the project are left alone
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Also start the services of this profile (`profiles = ["debug"]`); repeatable
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// The manifest to bring up, and the lock giving exact versions
    #[command(flatten)]
    pub inputs: Inputs,
    /// Change nothing: list what `up` would do and exit 1 when it would change anything
    #[arg(long)]
    pub check: bool,
    /// Where the project directory is mounted in the development container (also its
    /// working directory)
    #[arg(long, value_name = "PATH", default_value = "/workspace")]
    pub workdir: String,
    /// Output format: `table` or `json` (`envsync.up/v1`, on stdout)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Do not fingerprint the started containers and compare them with the lock (and each
    /// service with its declared version) afterwards
    #[arg(long)]
    pub no_verify: bool,
}

/// An image the environment needs: present (its tag) or still to be built.
#[derive(Debug)]
enum Image {
    Ready(String),
    WouldBuild(String),
}

impl Image {
    fn tag(&self) -> &str {
        match self {
            Image::Ready(tag) | Image::WouldBuild(tag) => tag,
        }
    }
}

/// Run `envsync up`.
pub async fn run(args: &UpArgs) -> anyhow::Result<Outcome> {
    // The time `up` reports includes building its images.
    let started = std::time::Instant::now();
    let Loaded {
        manifest,
        lock_path,
        lock,
    } = args.inputs.load()?;
    let project_dir = project_dir(&manifest)?;
    // `up --check` changes nothing, so it does not wait for a running `up`.
    let _project = if args.check {
        None
    } else {
        Some(crate::project_lock::acquire(&manifest.file)?)
    };
    let (selected, chosen, with_dev) = choose(&manifest, args)?;
    let lock_stale = warn_lock_problems(lock.as_ref(), &manifest);
    let docker = crate::connect_engine().await?;

    let (service_images, dev_image) = images(
        &docker,
        &manifest,
        (&chosen, with_dev),
        lock.as_ref(),
        args.check,
    )
    .await?;
    let rebuilt = rebuild_reasons(
        &docker,
        &manifest,
        (&chosen, &service_images),
        dev_image.as_ref(),
        lock_stale,
    )
    .await?;
    let spec = env_spec(
        &manifest,
        &selected,
        (&chosen, &service_images),
        dev_image.as_ref(),
        &project_dir,
        &args.workdir,
    )?;

    if args.check {
        return check_only(
            &docker,
            args.format,
            &spec,
            &chosen,
            &service_images,
            dev_image.as_ref(),
            &rebuilt,
        )
        .await;
    }

    // Progress quotes container names and health check output.
    let progress = |line: &str| crate::settings::note!("{}", escape(line));
    let mut report = run::up(&docker, &spec, &progress)
        .await
        .with_context(|| format!("bringing up project `{}`", spec.project))?;
    explain_recreations(&mut report.actions, &rebuilt);
    let verification = if args.no_verify {
        None
    } else {
        let lock = lock.as_ref().map(|l| (l, lock_path.as_path()));
        Some(verify_running(&manifest, lock, &chosen, with_dev).await?)
    };
    report.total_time = started.elapsed();
    print_report(args.format, &report, verification.as_ref())?;
    Ok(match &verification {
        Some(v) if v.failed() => Outcome::Drift,
        _ => Outcome::Ok,
    })
}

/// What runs: the services asked for (all without a profile, by default) and what they
/// depend on, and whether the development container is among them. A bad name is an
/// error before the engine is asked anything.
fn choose<'m>(
    manifest: &'m Manifest,
    args: &UpArgs,
) -> anyhow::Result<(Vec<String>, Vec<&'m Service>, bool)> {
    let selected = manifest.select(&args.services, &args.profiles)?;
    let chosen = manifest
        .services
        .iter()
        .filter(|s| selected.contains(&s.name))
        .collect();
    let with_dev = selected.iter().any(|s| s == DEV_SERVICE);
    Ok((selected, chosen, with_dev))
}

/// The directory holding the manifest, resolved: the project's root on the host.
fn project_dir(manifest: &Manifest) -> anyhow::Result<PathBuf> {
    Ok(manifest
        .file
        .canonicalize()
        .with_context(|| format!("resolving `{}`", manifest.file.display()))?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/")))
}

/// What `up` runs: the chosen services on their images, the development container on
/// `dev_image` (when it runs) with the project at `workdir`, and their start order.
fn env_spec(
    manifest: &Manifest,
    selected: &[String],
    (chosen, service_images): (&[&Service], &[ServiceImage]),
    dev_image: Option<&Image>,
    project_dir: &Path,
    workdir: &str,
) -> anyhow::Result<EnvSpec> {
    // `${VAR}` in environment values: the process environment over `.env`.
    let vars = Variables::load(manifest)?;
    let mut services: Vec<ServiceSpec> = Vec::new();
    for (service, (image, recipe)) in chosen.iter().zip(service_images) {
        let mut spec =
            envsync_provisioner::runtime::service_spec(service, image.tag(), recipe.as_ref());
        spec.env = service_env(manifest, &vars, service)?;
        services.push(spec);
    }
    let user = Some(invoking_user(manifest, project_dir)?);
    let dev = match dev_image {
        Some(image) => Some(dev_spec(manifest, &vars, image.tag(), workdir, user)?),
        None => None,
    };
    Ok(EnvSpec {
        project: manifest.project.name.clone(),
        project_dir: project_dir.to_path_buf(),
        stack: stack(manifest, selected),
        services,
        dev,
    })
}

/// Print what `up` did, and its verification.
fn print_report(
    format: Format,
    report: &run::UpReport,
    verification: Option<&Verification>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => documents::print(&documents::Up {
            schema: UP_SCHEMA,
            project: &report.project,
            check: false,
            changed: report.changed(),
            actions: &report.actions,
            lines: report.actions.iter().map(|a| a.describe(true)).collect(),
            plan_ms: Some(report.plan_time.as_secs_f64() * 1000.0),
            total_ms: Some(report.total_time.as_secs_f64() * 1000.0),
            verify: verification.map(Verification::document),
        })?,
        Format::Table => {
            for action in &report.actions {
                outln!("{}", action.describe(true))?;
            }
            let changed = report.actions.iter().filter(|a| a.is_change()).count();
            outln!(
                "project `{}`: {} changed, {} up to date ({:.1} ms)",
                report.project,
                changed,
                report.actions.len() - changed,
                report.total_time.as_secs_f64() * 1000.0
            )?;
            if let Some(v) = verification {
                v.print()?;
            }
        }
    }
    Ok(())
}

/// A service image with the recipe it is built from (`None` for a service's own `image`).
type ServiceImage = (
    Image,
    Option<envsync_provisioner::middleware::ServiceRecipe>,
);

/// Every image the environment needs, services first, then the development image
/// (`None` when `up` does not run it): built (or reused), or with `check` only looked up.
/// Each is content-addressed, so an unchanged one costs a lookup.
async fn images(
    docker: &Docker,
    manifest: &Manifest,
    (services, with_dev): (&[&Service], bool),
    lock: Option<&Lock>,
    check: bool,
) -> anyhow::Result<(Vec<ServiceImage>, Option<Image>)> {
    let mut service_images = Vec::new();
    for service in services {
        let image = match &service.image {
            Some(image) if check => (Image::Ready(image.clone()), None),
            Some(image) => {
                let wanted =
                    crate::images::service_image(docker, manifest, service, image, lock).await?;
                (Image::Ready(wanted), None)
            }
            None => {
                let recipe = service_recipe(manifest, service, lock)
                        .with_context(|| {
                            format!(
                                "{}:{}: [services.{}] has no `image`; envsync builds middleware from the base only for `postgres`, `redis` and `nginx`",
                                manifest.file.display(),
                                service.line,
                                service.name
                            )
                        })?;
                let image =
                    image_for(docker, manifest, &recipe.build, check, &service.name).await?;
                (image, Some(recipe))
            }
        };
        service_images.push(image);
    }
    if !with_dev {
        return Ok((service_images, None));
    }
    let dev_build = spec_from_manifest(manifest, lock)?;
    let dev_image = image_for(docker, manifest, &dev_build, check, "dev").await?;
    Ok((service_images, Some(dev_image)))
}

/// `up --check`: list what `up` would do, changing nothing; drift when anything would change.
async fn check_only(
    docker: &Docker,
    format: Format,
    spec: &EnvSpec,
    services: &[&Service],
    service_images: &[ServiceImage],
    dev_image: Option<&Image>,
    rebuilt: &BTreeMap<String, String>,
) -> anyhow::Result<Outcome> {
    let to_build: Vec<String> = services
        .iter()
        .zip(service_images)
        .map(|(s, (image, _))| (s.name.as_str(), image))
        .chain(dev_image.map(|image| ("dev", image)))
        .filter_map(|(name, image)| match image {
            Image::WouldBuild(tag) => Some(match rebuilt.get(name) {
                Some(why) => format!(
                    "{name}: image `{tag}` would be built, and its container recreated: {}",
                    why.replacen("image rebuilt", "image changed", 1)
                ),
                None => format!("{name}: image `{tag}` would be built, and its container created"),
            }),
            Image::Ready(_) => None,
        })
        .collect();
    if !to_build.is_empty() {
        print_lines(format, &spec.project, true, &to_build, None)?;
        return Ok(Outcome::Drift);
    }
    let actions = run::plan(docker, spec).await?;
    let lines: Vec<String> = actions.iter().map(|a| a.describe(false)).collect();
    let changed = actions.iter().any(Action::is_change);
    print_lines(format, &spec.project, changed, &lines, Some(&actions))?;
    Ok(if changed { Outcome::Drift } else { Outcome::Ok })
}

/// What `up` found when it compared the running containers with the lock and manifest.
pub(crate) struct Verification {
    /// The development container's name.
    dev: String,
    /// The lock file's path, when there is a lock.
    lock_file: Option<String>,
    /// The development container against the lock (`None` without a lock, or when it
    /// was not checked).
    dev_checked: Option<Checked>,
    /// Whether the development container was checked (`up SERVICE…` may leave it out).
    with_dev: bool,
    /// One per service: whether it runs what the lock or manifest says.
    services: Vec<ServiceCheck>,
}

impl Verification {
    pub(crate) fn failed(&self) -> bool {
        self.dev_checked.as_ref().is_some_and(Checked::failed)
            || self
                .services
                .iter()
                .any(|s| s.verdict.result == Parity::Drift)
    }

    /// The parity of the container of `service` (`dev` for the development container):
    /// `match`, `drift`, `no lock` or `unknown`.
    pub(crate) fn parity(&self, service: &str) -> &'static str {
        if service == DEV_SERVICE {
            return match &self.dev_checked {
                Some(c) if c.failed() => "drift",
                Some(_) => "match",
                None => "no lock",
            };
        }
        self.services
            .iter()
            .find(|s| s.service == service)
            .map_or("unknown", |s| s.verdict.result.as_str())
    }

    pub(crate) fn print(&self) -> anyhow::Result<()> {
        match (&self.dev_checked, &self.lock_file) {
            (Some(checked), Some(file)) if checked.failed() => {
                outln!("drift: {} differs from {file}:", self.dev)?;
                print_drift(checked)?;
            }
            (Some(checked), Some(file)) => outln!(
                "verified: {} matches {file} ({} components)",
                self.dev,
                checked.summary().same
            )?,
            _ if !self.with_dev => {}
            _ => outln!("not verified: no envsync.lock (run envsync lock)")?,
        }
        for s in &self.services {
            let word = match s.verdict.result {
                Parity::Match => "verified",
                Parity::Drift => "drift",
                Parity::Unknown => "not verified",
            };
            outln!(
                "{word}: service {} ({}): {}",
                s.service,
                s.container,
                escape(&s.verdict.detail)
            )?;
        }
        Ok(())
    }

    /// The `verify` part of `envsync.up/v1` and `envsync.status/v1`.
    pub(crate) fn document(&self) -> documents::Verify<'_> {
        documents::Verify {
            passed: !self.failed(),
            lock: self.lock_file.as_deref(),
            dev: self.dev_checked.as_ref().map(documents::Verified::of),
            services: &self.services,
        }
    }
}

/// Fingerprint the development container (with the manifest's collect options) and
/// compare it with the lock; check each service container's packages and files against
/// the lock's image of that service, or its middleware version against the manifest's
/// `version`; and ask each service given by an image of known middleware for the version
/// its server runs, which its tag and `version` must name. Only `services` are checked,
/// and the development container when `with_dev`: what `up` ran.
pub(crate) async fn verify_running(
    manifest: &Manifest,
    lock: Option<(&Lock, &Path)>,
    services: &[&Service],
    with_dev: bool,
) -> anyhow::Result<Verification> {
    let project = &manifest.project.name;
    let dev = container_name(project, DEV_SERVICE);
    // One exec per container, all at once: the engine runs them in parallel.
    let mut jobs = tokio::task::JoinSet::new();
    if lock.is_some() && with_dev {
        let (name, options) = (dev.clone(), lock_collect_options(manifest));
        jobs.spawn(async move { (None, fingerprint_container(&name, &options).await) });
    }
    for (i, service) in services.iter().enumerate() {
        let name = container_name(project, &service.name);
        let options = service_collect_options(service);
        let kind = service.kind();
        jobs.spawn(async move {
            let snapshot = fingerprint_container(&name, &options).await;
            (Some((i, reported_version(&name, kind).await)), snapshot)
        });
    }
    let mut dev_snapshot = None;
    let mut service_snapshots = BTreeMap::new();
    while let Some(joined) = jobs.join_next().await {
        let (which, snapshot) = joined.context("verifying: a fingerprint task stopped")?;
        match which {
            None => dev_snapshot = Some(snapshot?),
            Some((i, reported)) => {
                service_snapshots.insert(i, (snapshot?, reported?));
            }
        }
    }
    let dev_checked = match (lock, dev_snapshot) {
        (Some((lock, path)), Some(snapshot)) => Some(verify::container_against_lock(
            lock,
            &path.display().to_string(),
            &snapshot,
        )),
        _ => None,
    };
    let mut checks = Vec::new();
    for (service, (snapshot, reported)) in services.iter().zip(service_snapshots.into_values()) {
        let lock = lock.map(|(l, _)| l);
        let verdict = match reported {
            Some(probe) => {
                verify::check_image_service(manifest, service, lock, &snapshot, (probe.0, &probe.1))
            }
            None => verify::check_service(manifest, service, lock, &snapshot),
        };
        checks.push(ServiceCheck {
            service: service.name.clone(),
            container: container_name(project, &service.name),
            verdict,
        });
    }
    Ok(Verification {
        dev,
        lock_file: lock.map(|(_, p)| p.display().to_string()),
        dev_checked,
        with_dev,
        services: checks,
    })
}

/// The version the `kind` server in container `name` reports from inside, for a
/// service given by an image of known middleware (`None` for any other service).
async fn reported_version(
    name: &str,
    kind: Option<ServiceKind>,
) -> anyhow::Result<Option<(ServiceKind, Reported)>> {
    let Some(kind) = kind else {
        return Ok(None);
    };
    let reported = envsync_drift::probe::reported_version(name, kind)
        .await
        .with_context(|| format!("verifying: asking container `{name}` for its {kind} version"))?;
    Ok(Some((kind, reported)))
}

async fn fingerprint_container(name: &str, options: &CollectOptions) -> anyhow::Result<Snapshot> {
    let snapshot = envsync_drift::fingerprint(&Target::Docker(name.to_string()), options)
        .await
        .with_context(|| format!("verifying: fingerprinting container `{name}`"))?;
    for warning in &snapshot.warnings {
        eprintln!("warning: docker:{name}: {}", escape(warning));
    }
    Ok(snapshot)
}

fn print_lines(
    format: Format,
    project: &str,
    changed: bool,
    lines: &[String],
    actions: Option<&[Action]>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => documents::print(&documents::Up {
            schema: UP_SCHEMA,
            project,
            check: true,
            changed,
            actions: actions.unwrap_or_default(),
            lines: lines.to_vec(),
            plan_ms: None,
            total_ms: None,
            verify: None,
        })?,
        Format::Table => {
            for line in lines {
                outln!("{line}")?;
            }
        }
    }
    Ok(())
}

/// Build `spec` (or reuse its image); with `check`, only find out whether it would be built.
async fn image_for(
    docker: &Docker,
    manifest: &Manifest,
    spec: &BuildSpec,
    check: bool,
    what: &str,
) -> anyhow::Result<Image> {
    if check {
        let tag = image_tag(&resolve_base(docker, spec).await?)?;
        return Ok(match docker.inspect_image(&tag).await {
            Ok(_) => Image::Ready(tag),
            Err(_) => Image::WouldBuild(tag),
        });
    }
    // Built as `envsync build` builds: progress, logs beside the manifest, and the
    // artifact cache for locked versions the sources no longer serve.
    let (_, built) = build_image(
        docker,
        manifest,
        spec,
        what,
        &BuildSettings::new(false, true),
    )
    .await?;
    Ok(Image::Ready(built.tag))
}

/// The user the development container runs as: `[dev] user` applied to the user and
/// group this process runs as and that user's name in this machine's `/etc/passwd`, so
/// that files the development container writes into the project stay the developer's.
fn invoking_user(manifest: &Manifest, project_dir: &Path) -> anyhow::Result<DevUser> {
    // `/proc/self` is owned by the process's effective user and group.
    let (uid, gid) = match std::fs::metadata("/proc/self") {
        Ok(meta) => (meta.uid(), meta.gid()),
        Err(_) => {
            let meta = std::fs::metadata(project_dir)
                .with_context(|| format!("reading the owner of `{}`", project_dir.display()))?;
            if meta.uid() == u32::MAX {
                bail!("cannot tell which user runs envsync");
            }
            (meta.uid(), meta.gid())
        }
    };
    // A user known only to a directory service has no line here: it gets `user<UID>`.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let setting = manifest
        .dev
        .as_ref()
        .map(|d| d.user.clone())
        .unwrap_or_default();
    Ok(dev_user(&setting, (uid, gid, passwd_name(&passwd, uid))))
}

/// Print what is wrong with the lock for this manifest, with the fix: a manifest edited
/// after the lock is said up front, so that the drift the verification may then find
/// is not a surprise. Whether there was anything to say.
fn warn_lock_problems(lock: Option<&Lock>, manifest: &Manifest) -> bool {
    let problems: Vec<_> = lock.iter().flat_map(|l| l.check(manifest)).collect();
    for problem in &problems {
        eprintln!(
            "warning: {}; {}",
            escape(&problem.to_string()),
            problem.fix()
        );
    }
    !problems.is_empty()
}

/// For each service (and `dev`) whose container runs an image other than the one `up`
/// now wants: why, in manifest lines, read from the labels of the image it runs.
async fn rebuild_reasons(
    docker: &Docker,
    manifest: &Manifest,
    (chosen, service_images): (&[&Service], &[ServiceImage]),
    dev_image: Option<&Image>,
    lock_stale: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let existing = run::list_project_containers(docker, &manifest.project.name).await?;
    let wanted = chosen
        .iter()
        .zip(service_images)
        // A service's own `image` is not built from the manifest: nothing to explain.
        .filter(|(_, (_, recipe))| recipe.is_some())
        .map(|(s, (image, _))| (s.name.as_str(), image.tag()))
        .chain(dev_image.map(|image| (DEV_SERVICE, image.tag())));
    let mut reasons = BTreeMap::new();
    for (service, tag) in wanted {
        let Some(old) = existing
            .iter()
            .find(|e| e.service == service)
            .and_then(|e| e.config.as_ref())
        else {
            continue;
        };
        if old.image == tag {
            continue;
        }
        let labels = match docker.inspect_image(&old.image_id).await {
            Ok(inspect) => Some(inspect.config.and_then(|c| c.labels).unwrap_or_default()),
            Err(_) => None,
        };
        let why = rebuild_reason(
            labels.as_ref(),
            &image_entries(manifest, service),
            lock_stale,
        );
        reasons.insert(service.to_string(), why);
    }
    Ok(reasons)
}

/// Say why each container was recreated in the manifest's terms: an image replaced by a
/// rebuilt one names the manifest lines that changed it; a recreation with no image
/// change says that only the configuration changed and nothing was rebuilt.
fn explain_recreations(actions: &mut [Action], rebuilt: &BTreeMap<String, String>) {
    for action in actions.iter_mut().filter(|a| a.change == Change::Recreate) {
        let is_image = |r: &String| r.starts_with("image `") || r == "image changed";
        match rebuilt.get(&action.name) {
            Some(why) if action.reasons.iter().any(is_image) => {
                for reason in action.reasons.iter_mut().filter(|r| is_image(r)) {
                    reason.clone_from(why);
                }
            }
            _ if !action.reasons.iter().any(is_image) => action
                .reasons
                .push("configuration only, no image rebuilt".to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use envsync_provisioner::run::Resource;

    use super::*;

    fn action(name: &str, change: Change, reasons: &[&str]) -> Action {
        Action {
            resource: Resource::Service,
            name: name.into(),
            change,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn recreations_are_explained_in_manifest_terms() {
        let rebuilt = BTreeMap::from([(
            "dev".to_string(),
            "image rebuilt: [apt] curl \"7.88.*\" → \"8.*\"".to_string(),
        )]);
        let mut actions = [
            action(
                "dev",
                Change::Recreate,
                &["image `a` replaced by `b`", "env X changed"],
            ),
            action("redis", Change::Recreate, &["port 6379 changed"]),
            action("pg", Change::UpToDate, &[]),
        ];
        explain_recreations(&mut actions, &rebuilt);
        assert_eq!(
            actions[0].describe(true),
            "dev: recreated: image rebuilt: [apt] curl \"7.88.*\" → \"8.*\"; env X changed"
        );
        assert_eq!(
            actions[1].describe(true),
            "redis: recreated: port 6379 changed; configuration only, no image rebuilt"
        );
        assert_eq!(actions[2].describe(true), "pg: up to date");
    }
}
