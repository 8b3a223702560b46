//! `envsync init`: write a first `envsync.toml` from what exists, a running target
//! (`--from`) or the project's own dependency files, and say what it declared and
//! what it left to the lock.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use envsync_drift::declare::{Count, Summary};
use envsync_drift::{CollectOptions, Target};
use envsync_manifest::draft::{self, files, Draft};
use envsync_manifest::Manifest;

use super::output::DocFormat;
use crate::cmd::output::outln;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Start from this target: `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]`,
    /// `local` or `local:/path`. Without it, from requirements.txt, pyproject.toml with
    /// uv.lock or poetry.lock, and package.json with package-lock.json in the current
    /// directory
    #[arg(long = "from", value_name = "TARGET")]
    pub from: Option<String>,
    /// A configuration file (or directory) on the target to declare in `[files]`; its
    /// content is copied to files/PATH beside the manifest. Repeatable
    #[arg(long = "file", value_name = "PATH", requires = "from")]
    pub files: Vec<String>,
    /// A virtualenv (or Python prefix) outside /opt, /srv and /app to read too; repeatable
    #[arg(long = "python-env", value_name = "PATH", requires = "from")]
    pub python_envs: Vec<String>,
    /// An npm project directory outside /opt, /srv and /app to read too; repeatable
    #[arg(long = "npm-project", value_name = "PATH", requires = "from")]
    pub npm_projects: Vec<String>,
    /// The project name [default: the directory's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The base image [default: envsync/debian:bookworm]
    #[arg(long, value_name = "IMAGE", default_value = "envsync/debian:bookworm")]
    pub base: String,
    /// A CA bundle for pip and npm inside image builds (`[build] ca_certificates`); repeatable
    #[arg(long = "ca-certificates", value_name = "PATH")]
    pub ca_certificates: Vec<String>,
    /// Where to write the manifest
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "envsync.toml"
    )]
    pub output: PathBuf,
    /// Overwrite an existing manifest (and files/ copies)
    #[arg(long)]
    pub force: bool,
    /// Summary format on standard output
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: DocFormat,
    /// Time limit for collecting the target, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
}

pub async fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    if args.output.exists() && !args.force {
        bail!(
            "`{}` already exists; pass --force to overwrite it",
            args.output.display()
        );
    }
    let dir = match args.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut draft = Draft {
        project: project_name(args, &dir)?,
        base_image: args.base.clone(),
        ca_certificates: args.ca_certificates.clone(),
        ..Draft::default()
    };
    let summary = match &args.from {
        Some(spec) => from_target(args, spec, &dir, &mut draft).await?,
        None => from_files(&std::env::current_dir()?, &mut draft)?,
    };
    comment(&mut draft, args.from.as_deref());
    let text = draft::render(&draft);
    Manifest::parse(&text, &args.output).map_err(|e| {
        anyhow::anyhow!(
            "the manifest init would write does not validate, so nothing was written: {e}"
        )
    })?;
    std::fs::write(&args.output, &text)
        .with_context(|| format!("cannot write `{}`", args.output.display()))?;
    report(args, &summary)?;
    Ok(Outcome::Ok)
}

fn project_name(args: &InitArgs, dir: &Path) -> anyhow::Result<String> {
    if let Some(n) = &args.name {
        return Ok(n.clone());
    }
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let raw = abs
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(['-', '_']).to_string();
    if name.is_empty() {
        bail!(
            "cannot take a project name from `{}`; pass --name",
            abs.display()
        );
    }
    Ok(name)
}

async fn from_target(
    args: &InitArgs,
    spec: &str,
    dir: &Path,
    draft: &mut Draft,
) -> anyhow::Result<Summary> {
    let target = Target::parse(spec)?;
    if matches!(target, Target::File(_)) {
        bail!("`{spec}` is a saved snapshot; init needs a live target (docker:NAME, image:REF, ssh://HOST, local)");
    }
    for p in args
        .files
        .iter()
        .chain(&args.python_envs)
        .chain(&args.npm_projects)
    {
        if !p.starts_with('/') {
            bail!("`{p}` is not an absolute path; paths on the target must start with `/`");
        }
    }
    let opts = CollectOptions {
        files: args.files.clone(),
        python_envs: args.python_envs.clone(),
        npm_projects: args.npm_projects.clone(),
        collect_env: false,
        timeout: Duration::from_secs(args.timeout.max(1)),
        ..CollectOptions::default()
    };
    let (snapshot, prov) = envsync_drift::survey(&target, &opts)
        .await
        .with_context(|| format!("cannot read `{spec}`"))?;
    for w in &snapshot.warnings {
        eprintln!("warning: {}", envsync_drift::report::escape(w));
    }
    let mut summary = envsync_drift::declare::declare(&snapshot, &prov, draft);
    for named in &args.files {
        let named = named.trim_end_matches('/');
        let prefix = format!("{named}/");
        if !prov
            .files
            .keys()
            .any(|p| p == named || p.starts_with(&prefix))
        {
            bail!("`{named}` (--file) is not a readable file or directory on `{spec}`");
        }
    }
    for (path, (data, mode)) in &prov.files {
        let source = format!("files{path}");
        let local = dir.join(&source);
        if local.exists() && !args.force {
            bail!(
                "`{}` already exists; pass --force to overwrite it",
                local.display()
            );
        }
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&local, data)
            .with_context(|| format!("cannot write `{}`", local.display()))?;
        // The target's permission bits, so the built image gets the same mode.
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(mode & 0o777))
            .with_context(|| format!("cannot set the mode of `{}`", local.display()))?;
        draft.files.push((path.clone(), source));
    }
    if !draft.files.is_empty() {
        summary.declared.push(Count {
            what: "files".into(),
            count: draft.files.len(),
            why:
                "named with --file; copied into files/ (review them for secrets before committing)"
                    .into(),
        });
    }
    Ok(summary)
}

/// The text of `cwd/name`, or `None` when there is no such file.
fn read_opt(cwd: &Path, name: &str) -> anyhow::Result<Option<String>> {
    let p = cwd.join(name);
    if !p.exists() {
        return Ok(None);
    }
    std::fs::read_to_string(&p)
        .map(Some)
        .with_context(|| format!("cannot read `{}`", p.display()))
}

/// Count what `label` pinned and left out (grouped by reason) into `summary`.
fn tally(summary: &mut Summary, label: &str, pins: files::FilePins) -> Vec<draft::Pin> {
    if !pins.pins.is_empty() {
        summary.declared.push(Count {
            what: label.to_string(),
            count: pins.pins.len(),
            why: "pinned there".into(),
        });
    }
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for l in &pins.left_out {
        match reasons.iter_mut().find(|(r, _)| *r == l.reason) {
            Some((_, names)) => names.push(&l.name),
            None => reasons.push((&l.reason, vec![&l.name])),
        }
    }
    for (reason, names) in reasons {
        summary.left_out.push(Count {
            what: format!("{label}: {}", names.join(", ")),
            count: names.len(),
            why: reason.to_string(),
        });
    }
    pins.pins
}

/// Python pins from `requirements.txt` and `pyproject.toml` with its lock; `None`
/// when neither is there.
fn python_files(cwd: &Path, summary: &mut Summary) -> anyhow::Result<Option<Vec<draft::Pin>>> {
    let mut python = None::<Vec<draft::Pin>>;
    if let Some(text) = read_opt(cwd, "requirements.txt")? {
        let pins = tally(summary, "requirements.txt", files::requirements_txt(&text));
        python.get_or_insert_with(Vec::new).extend(pins);
    }
    if let Some(pyproject) = read_opt(cwd, "pyproject.toml")? {
        let lock = match (read_opt(cwd, "uv.lock")?, read_opt(cwd, "poetry.lock")?) {
            (Some(l), _) => ("uv.lock", l),
            (None, Some(l)) => ("poetry.lock", l),
            (None, None) => bail!("`pyproject.toml` has no `uv.lock` or `poetry.lock` beside it to take exact versions from; run `uv lock` or `poetry lock`"),
        };
        let pins = files::pyproject_with_lock(&pyproject, lock.0, &lock.1)?;
        let pins = tally(summary, &format!("pyproject.toml + {}", lock.0), pins);
        python.get_or_insert_with(Vec::new).extend(pins);
    }
    Ok(python)
}

/// From the dependency files in `cwd`; an error when there are none.
fn from_files(cwd: &Path, draft: &mut Draft) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let python = python_files(cwd, &mut summary)?;
    let mut found = python.is_some();
    if let Some(mut python) = python {
        python.sort();
        python.dedup_by(|a, b| a.name == b.name);
        draft.python_packages = python;
    }
    if let Some(pj) = read_opt(cwd, "package.json")? {
        let Some(lock) = read_opt(cwd, "package-lock.json")? else {
            bail!("`package.json` has no `package-lock.json` beside it to take exact versions from; run `npm install --package-lock-only`");
        };
        found = true;
        let pins = files::package_json_with_lock(&pj, &lock)?;
        let pins = tally(&mut summary, "package.json + package-lock.json", pins);
        if !pins.is_empty() {
            let dir = format!("/srv/{}", draft.project);
            draft.node_projects.insert(dir, pins);
        }
    }
    if !found {
        bail!(
            "no --from target, and none of requirements.txt, pyproject.toml, package.json in `{}`",
            cwd.display()
        );
    }
    Ok(summary)
}

fn comment(draft: &mut Draft, from: Option<&str>) {
    let origin = match from {
        Some(t) => format!("what `{t}` runs"),
        None => "this directory's dependency files".to_string(),
    };
    draft.header = vec![
        format!("Written by `envsync init` from {origin}. See docs/manifest.md."),
        "Everything declared is pinned exactly; everything else (dependencies) is left to".into(),
        "envsync.lock: run `envsync lock`, then `envsync diff lock TARGET` to compare.".into(),
    ];
    let c = &mut draft.comments;
    c.insert(
        "base".into(),
        "The image every environment is built from.".into(),
    );
    c.insert("apt".into(), "OS packages apt marks as installed by hand on the target; their dependencies are left to the lock.".into());
    c.insert(
        "runtimes".into(),
        "Runtimes as the target runs them.".into(),
    );
    c.insert(
        "python".into(),
        "Python packages no other package of the same environment requires.".into(),
    );
    c.insert(
        "node".into(),
        "Global npm packages, and each project's direct dependencies.".into(),
    );
    c.insert(
        "files".into(),
        "Configuration files copied from the target; drift in their content is reported.".into(),
    );
    c.insert(
        "build".into(),
        "CA bundles for pip and npm inside image builds.".into(),
    );
}

fn report(args: &InitArgs, summary: &Summary) -> anyhow::Result<()> {
    let esc = envsync_drift::report::escape;
    match args.format {
        DocFormat::Json => {
            let doc = crate::documents::Init {
                schema: crate::documents::INIT_SCHEMA,
                manifest: args.output.display().to_string(),
                from: args.from.as_deref(),
                declared: &summary.declared,
                left_out: &summary.left_out,
            };
            crate::documents::print(&doc)?;
        }
        DocFormat::Table => {
            outln!("wrote {}", args.output.display())?;
            for c in &summary.declared {
                outln!("declared {} {}: {}", c.count, esc(&c.what), c.why)?;
            }
            for c in &summary.left_out {
                outln!("left to the lock: {} {}: {}", c.count, esc(&c.what), c.why)?;
            }
        }
    }
    Ok(())
}
