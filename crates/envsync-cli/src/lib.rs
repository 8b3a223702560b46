//! The envsync command line: argument parsing, dispatch to the library crates, output and exit codes.
//!
//! Exit codes are the contract of every comparing command: `0` parity, `1` drift,
//! `2` error. Errors are printed once, with their cause chain, on stderr, with any
//! control character in them written out visibly (they often quote a target).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod cmd;
pub mod documents;
mod images;
pub mod inputs;
mod project_lock;
pub mod settings;

/// What a command found, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Parity, or a command that does not compare and succeeded.
    Ok,
    /// Drift found (or, for `--check` modes, something would change).
    Drift,
    /// A code passed through from a command run elsewhere (`envsync exec`).
    Exit(u8),
}

impl Outcome {
    fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Drift => 1,
            Outcome::Exit(code) => code,
        }
    }
}

/// Exit code for every error: bad input, unreachable target, engine failure.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "envsync",
    version,
    about = "One definition of an environment for dev, CI and production: built, locked, and checked for drift",
    long_about = None,
    after_help = "Exit codes: 0 parity, 1 drift found, 2 error."
)]
pub struct Cli {
    #[command(flatten)]
    global: settings::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a Docker engine answers and print its version
    #[command(
        after_help = "Examples:\n  envsync engine\n  envsync engine --format json\n  DOCKER_HOST=tcp://127.0.0.1:2375 envsync engine"
    )]
    Engine(cmd::engine::EngineArgs),
    /// Build the environment's image from the manifest (exact versions from envsync.lock), or reuse it when unchanged
    #[command(
        after_help = "The image is tagged envsync/<project>:<hash of every build input>; with unchanged inputs nothing is built. The full build log is written to .envsync/logs/ next to the manifest.\n\nWith a lock, the image is fingerprinted after the build and compared with it: any component that differs fails the build (exit 1) with a drift report naming it; --no-verify skips that.\n\nExit codes: 0 built or up to date (and matching the lock), 1 built but different from the lock, 2 error (a failing step, a pinned version the package sources lack, a missing base image, no engine).\n\nExamples:\n  envsync build\n  envsync build --dry-run -m ../other-project/envsync.toml\n  envsync build --format json\n  envsync build --no-cache\n  envsync build --no-verify\n  envsync fetch && envsync build --offline --no-cache"
    )]
    Build(cmd::build::BuildArgs),
    /// Write a first envsync.toml from what exists: a running target, or the project's dependency files
    #[command(
        after_help = "With --from TARGET: declares the OS packages apt marks as installed by hand, each Python environment's packages no other package there requires, global npm packages and each npm project's direct dependencies (its package.json), the runtimes, middleware found by its Debian package (PostgreSQL, Redis, nginx) as services, and the files named with --file (copied into files/); all pinned exactly. Everything else is left to `envsync lock`. Without --from: requirements.txt (its == lines), pyproject.toml with uv.lock or poetry.lock, package.json with package-lock.json, from the current directory. The result is validated before it is written; an existing manifest is never overwritten without --force.\n\nExit codes: 0 written, 2 error (an existing manifest, an unreadable target or file).\n\nExamples:\n  envsync init --from docker:billing-prod\n  envsync init --from ssh://deploy@prod-api-1 --file /etc/benefits/settings.ini\n  envsync init --from image:registry.internal/api:2.3 --name api --format json\n  envsync init --from local --python-env /home/app/venv --ca-certificates /etc/ssl/certs/ca-certificates.crt\n  envsync init                          # from requirements.txt, pyproject.toml + uv.lock, package.json + package-lock.json\n  envsync init --force -o ci/envsync.toml"
    )]
    Init(cmd::init::InitArgs),
    /// Check a manifest and list every problem, each with its line and a fix
    #[command(
        after_help = "Exit codes: 0 valid, 2 invalid (every problem is listed on stderr).\n\nExamples:\n  envsync validate\n  envsync validate -m ../other-project/envsync.toml\n  envsync validate --format json"
    )]
    Validate(cmd::validate::ValidateArgs),
    /// Build the environment, fingerprint it and write envsync.lock with every component's exact version; or check the lock
    #[command(
        after_help = "Without --check: builds the image (reusing it when unchanged), fingerprints it and writes envsync.lock with every installed component (declared and transitive) and the base image ID. When the lock was made from this very manifest, its exact versions are rebuilt and the image must match it (else exit 1 with a drift report, nothing written); --update resolves the manifest afresh. --from TARGET pins each declared apt, Python and npm package to the version TARGET runs first (the manifest stays unchanged). The same inputs always give byte-identical output.\n\nExit codes: 0 written or up to date, 1 out of date (--check) or the build differs from the lock or the target, 2 error (including a declared package TARGET lacks).\n\nExamples:\n  envsync lock\n  envsync lock --from docker:billing-prod\n  envsync lock --from prod\n  envsync lock --update\n  envsync lock --check\n  envsync lock --check -m ../other-project/envsync.toml\n  envsync lock --check --lock ci/envsync.lock --format json"
    )]
    Lock(cmd::lock::LockArgs),
    /// Download every .deb and wheel the lock names, by sha256, into the artifact cache
    #[command(
        after_help = "Inside a container of each image built from the lock, apt and pip download exactly the locked files through the image's sources and [sources]; each file is kept only when its sha256 is the locked one. The cache ($ENVSYNC_CACHE_DIR, else $XDG_CACHE_HOME/envsync/artifacts, else ~/.cache/envsync/artifacts) is shared by every project. Builds from the lock take from it what the package sources no longer serve; `envsync build --offline` takes everything from it.

Exit codes: 0 every artifact cached, 2 error (an artifact no source serves with the locked checksum, named).

Examples:
  envsync fetch
  envsync fetch -m ../other-project/envsync.toml
  envsync fetch --artifacts /srv/envsync-cache --format json"
    )]
    Fetch(cmd::fetch::FetchArgs),
    /// Write every artifact the lock names into a directory a team can share or commit
    #[command(
        after_help = "DIR gets the artifact cache's layout (sha256/<hex>) and a SHA256SUMS file (`cd DIR && sha256sum -c SHA256SUMS` checks it). Artifacts already in the user's cache are copied; the rest are fetched. On an air-gapped machine: `envsync build --offline --artifacts DIR`.

Exit codes: 0 written, 2 error.

Examples:
  envsync vendor vendor/artifacts
  envsync vendor /mnt/usb/benefits-api -m ../other-project/envsync.toml"
    )]
    Vendor(cmd::fetch::VendorArgs),
    /// Compare environments package by package: two give a table, more a fleet matrix
    #[command(
        after_help = "Targets: FILE.json (a saved snapshot), `lock` (envsync.lock; `lock:SERVICE` its image of one service), a name from the manifest's [targets] (a group stands for its members), or a live target (local, local:/path, docker:NAME, image:REF, ssh://[user@]host[:port]), or swarm:SERVICE for every running task of a Docker Swarm service (tasks on other nodes need --swarm-node-engine). The first target is the reference. A fleet's targets may also come from an Ansible inventory (--inventory, --limit) and a list (--targets-from); hosts with the same drift are grouped. With --store (the history store `envsync audit` fills), the HTML report also shows each host's latest changes and its first and last audit.\n\nExit codes: 0 parity, 1 drift found, 2 error (any target that could not be collected; the others are still reported).\n\nExamples:\n  envsync diff lock prod.json\n  envsync diff base.json web-1.json web-2.json web-3.json --jobs 4\n  envsync diff lock --inventory hosts.ini --limit 'web:&prod' --timeout 30s\n  envsync diff lock web                       # a [targets] group\n  grep -v '^#' hosts.txt | envsync diff lock --targets-from -\n  envsync diff lock -i hosts.yml --format openmetrics=/var/lib/node_exporter/textfile/envsync.prom\n  envsync diff lock -i hosts.yml --format html=fleet.html\n  envsync diff lock web-1 web-2 --format html=fleet.html --store /srv/envsync/history.sqlite\n  envsync diff image:registry/web:1.4 swarm:web --swarm-node-engine 'ssh://deploy@{addr}'\n  envsync diff a.json b.json --format json\n  envsync diff a.json b.json --junit drift.xml --markdown summary.md\n  envsync diff a.json b.json --ecosystem deb,pypi --ignore-extra"
    )]
    Diff(cmd::diff::DiffArgs),
    /// Collect each target's snapshot into the history store and report what changed since its last audit
    #[command(
        after_help = "Each target is collected (as `envsync diff` collects it) and stored with its time in the history store: an SQLite file in your data directory by default, any file with --store PATH, or a PostgreSQL database a team shares with --store postgres://user@host/db (or $ENVSYNC_HISTORY_STORE). Snapshots hold versions and keyed hashes of files and environment values, never the values; identical snapshots are stored once. Then each target is compared with its previous successful collection: components added, removed or changed, with both versions. A target's first audit is its baseline. A target that cannot be collected is reported and stored as a failed collection. --keep and --retain drop old collections of every target in the store (never a target's newest successful one). --format html writes one self-contained page: each target's outcome and its latest changes (component, old → new, when) with the times of its first and last audit, read from the store after this audit.\n\nExit codes: 0 nothing changed (or first audits), 1 a target changed since its previous audit, 2 error (a target could not be collected, or the store cannot be used; the other targets are still stored and reported).\n\nExamples:\n  envsync audit docker:web-1 docker:web-2\n  envsync audit ssh://deploy@prod-api-1 ssh://deploy@prod-api-2 --jobs 16\n  envsync audit prod --store /srv/envsync/history.sqlite --keep 500\n  envsync audit docker:web-1 --store postgres://envsync@db.internal/envsync --retain 90d\n  envsync audit docker:web-1 --format json\n  envsync audit docker:web-1 docker:web-2 --format html > audit.html"
    )]
    Audit(cmd::audit::AuditArgs),
    /// When each component of an audited target changed, and from what
    #[command(
        after_help = "Reads the history store `envsync audit` fills (same --store). Lists every change kept, oldest first: when it was first seen, the component, old → new version (↑ newer, ↓ older, ≠ contents differ), and the previous collection that still had the old version. With COMPONENT (a name, or ECOSYSTEM:NAME), only its changes, and what the newest collection holds of it. Failed collections are listed too.\n\nExit codes: 0 shown, 2 error (no such target in the store, or the store cannot be used).\n\nExamples:\n  envsync history docker:web-1\n  envsync history ssh://deploy@prod-api-1 openssl\n  envsync history prod deb:libssl3 --format json\n  envsync history docker:web-1 --store postgres://envsync@db.internal/envsync"
    )]
    History(cmd::history::HistoryArgs),
    /// Check this environment (or --target) against the lock and the manifest's policy
    #[command(
        after_help = "Without --target or --stage, check runs on this machine only inside an image envsync built for this project (its /etc/envsync/environment.json marker names the project); anywhere else it exits 2 and says which target to name. Every requested report file is written even when the check cannot run (verdict error). Each failing drift names the manifest or lock line it violates and a fix. Ignores in [policy] hide drift until their `until` date; an expired ignore fails the check.\n\nExit codes: 0 pass, 1 fail, 2 error.\n\nExamples:\n  envsync check                      # inside the project's image, e.g. a CI job's container\n  envsync check --target docker:api-dev --format sarif=envsync.sarif --format github\n  envsync check --stage prod --junit envsync.xml\n  envsync check --target snapshot.json\n  envsync check --target ci-env.json --junit envsync.xml --markdown \"$GITHUB_STEP_SUMMARY\"\n  envsync check --target staging.json --against prod.json --fail-on missing,major\n  envsync check --target ci-env.json --as-of 2027-01-01"
    )]
    Check(cmd::check::CheckArgs),
    /// Collect the exact inventory of one environment: OS packages, runtimes, services, Python and npm packages, hashed files and environment
    #[command(
        after_help = "Collects with a constant number of round trips: one `exec` for a container, one export for an image (never run), one `ssh` call for a server. Environment values and file contents are hashed, never copied.\n\nExit codes: 0 collected, 2 error (unknown or unreachable target).\n\nExamples:\n  envsync fingerprint docker:billing-dev\n  envsync fingerprint image:envsync/debian:bookworm --format table\n  envsync fingerprint ssh://deploy@prod-api-1 -o prod.json\n  envsync fingerprint local:/mnt/rootfs --python-env /opt/app/venv --npm-project /srv/app\n  envsync fingerprint docker:web --file /etc/nginx/nginx.conf --env APP_MODE"
    )]
    Fingerprint(cmd::fingerprint::FingerprintArgs),
    /// Bring up the project's services and development container; only what changed is rebuilt or recreated, each with its reason
    #[command(
        after_help = "Images are built from the manifest (middleware from the Debian base with Debian's packages) and reused when unchanged; containers start in `depends_on` order, each once what it depends on passes its health check. `up SERVICE…` starts those and what they depend on, leaving the project's other containers alone; a service with `profiles` starts only with `--profile NAME` (or when named or depended on). A second `up` with nothing changed does nothing and says so.\n\nThen the running development container is fingerprinted and compared with envsync.lock (`verified: ... matches envsync.lock (N components)`, or the drift table), and each service with the lock's `service:NAME` packages or the manifest's `version`; --no-verify skips this. Without a lock, up says so and exits 0.\n\nExit codes: 0 up (and verified, or no lock), 1 drift after up, or with --check: something would change, 2 error.\n\nExamples:\n  envsync up\n  envsync up --no-verify\n  envsync up -m ../other-project/envsync.toml\n  envsync up --check\n  envsync up --format json\n  envsync up postgres              (PostgreSQL and what it depends on, nothing else)\n  envsync up --profile debug       (also the services of the `debug` profile)"
    )]
    Up(cmd::up::UpArgs),
    /// Show the project's containers: image, state (with the exit code once ended), restarts, health and published ports
    #[command(
        after_help = "Exit codes: 0 every container runs (also when the project has none), 1 a container is not running (exited, restarting, dead), or with --verify: a container differs from the lock or its declared version, 2 error.\n\nExamples:\n  envsync status\n  envsync status --verify\n  envsync status -m ../other-project/envsync.toml\n  envsync status --project benefits-api --format json"
    )]
    Status(cmd::status::StatusArgs),
    /// Remove the project's containers and network (named volumes too with --volumes)
    #[command(
        after_help = "Only resources labelled with this project are removed; images stay.\n\nExit codes: 0 removed (or nothing to remove), 2 error.\n\nExamples:\n  envsync down\n  envsync down --volumes\n  envsync down --project benefits-api"
    )]
    Down(cmd::down::DownArgs),
    /// Show the logs of the project's containers, each line prefixed by its service
    #[command(
        after_help = "Each line is prefixed by its service; without --follow the lines of every container come in time order. Text from containers has its control characters written out.\n\nExit codes: 0 shown, 2 error (no such project or service, no engine).\n\nExamples:\n  envsync logs\n  envsync logs -f postgres\n  envsync logs --since 10m --timestamps\n  envsync logs -n 50 redis dev"
    )]
    Logs(cmd::logs::LogsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples:\n  envsync completions bash > ~/.local/share/bash-completion/completions/envsync\n  envsync completions zsh > \"${fpath[1]}/_envsync\"\n  envsync completions fish > ~/.config/fish/completions/envsync.fish\n  envsync completions powershell >> $PROFILE"
    )]
    Completions(cmd::completions::CompletionsArgs),
    /// Write man pages for envsync and each of its commands into a directory
    #[command(
        after_help = "Examples:\n  envsync man /usr/local/share/man/man1\n  envsync man target/man && man target/man/envsync-up.1"
    )]
    Man(cmd::completions::ManArgs),
    /// Run a command in the development container (exit code passed through)
    #[command(
        after_help = "The command runs as the container's user, in the container directory matching the current directory when that is inside the mounted project. Standard input is forwarded; from a terminal the command gets one (-T: not), so Ctrl-C reaches it; SIGINT and SIGTERM are forwarded otherwise.\n\nExit codes: the command's own; 2 when it could not be run.\n\nExamples:\n  envsync exec -- pytest -q\n  envsync exec -- sh -c 'psql -h postgres -U postgres < schema.sql'\n  envsync exec --project benefits-api -- python3 --version"
    )]
    Exec(cmd::exec::ExecArgs),
    /// Open an interactive shell in the development container
    #[command(
        after_help = "On a terminal the shell gets one (raw mode, window size); otherwise it reads standard input.\n\nExit codes: the shell's own; 2 when it could not be started.\n\nExamples:\n  envsync shell\n  envsync shell --shell sh\n  echo 'id -u' | envsync shell"
    )]
    Shell(cmd::exec::ShellArgs),
}

impl Command {
    /// The manifest argument of a command that reads a manifest, for the global
    /// `-m/--manifest` to fill in.
    fn manifest_mut(&mut self) -> Option<&mut inputs::ManifestArg> {
        match self {
            Command::Build(a) => Some(&mut a.inputs.manifest),
            Command::Validate(a) => Some(&mut a.manifest),
            Command::Lock(a) => Some(&mut a.inputs.manifest),
            Command::Fetch(a) => Some(&mut a.inputs.manifest),
            Command::Vendor(a) => Some(&mut a.fetch.inputs.manifest),
            Command::Diff(a) => Some(&mut a.inputs.manifest),
            Command::Check(a) => Some(&mut a.inputs.manifest),
            Command::Audit(a) => Some(&mut a.inputs.manifest),
            Command::Fingerprint(a) => Some(&mut a.manifest),
            Command::Up(a) => Some(&mut a.inputs.manifest),
            Command::Status(a) => Some(&mut a.project.manifest),
            Command::Down(a) => Some(&mut a.project.manifest),
            Command::Logs(a) => Some(&mut a.project.manifest),
            Command::Exec(a) => Some(&mut a.project.manifest),
            Command::Shell(a) => Some(&mut a.project.manifest),
            Command::Engine(_) | Command::Init(_) | Command::Completions(_) | Command::Man(_) => {
                None
            }
            Command::History(_) => None,
        }
    }
}

/// Parse the process arguments, run the command, print any error chain once, and
/// return the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { EXIT_ERROR } else { 0 };
            // Printing can only fail when stdout/stderr are closed; nothing is left to tell then.
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            eprintln!(
                "error: {}",
                envsync_drift::report::escape_lines(&format!("{err:#}"))
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The exit code of a command ended by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let Cli {
        global,
        mut command,
    } = cli;
    settings::init(&global);
    if let Some(manifest) = command.manifest_mut() {
        manifest.manifest = global.manifest;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    let rt = &runtime;
    let outcome = match command {
        Command::Engine(args) => interruptible(rt, cmd::engine::run(&args)),
        Command::Build(args) => interruptible(rt, cmd::build::run(&args)),
        Command::Validate(args) => cmd::validate::run(&args),
        Command::Init(args) => interruptible(rt, cmd::init::run(&args)),
        Command::Lock(args) => interruptible(rt, cmd::lock::run(&args)),
        Command::Fetch(args) => interruptible(rt, cmd::fetch::run(&args)),
        Command::Vendor(args) => interruptible(rt, cmd::fetch::vendor(&args)),
        Command::Diff(args) => interruptible(rt, cmd::diff::run(&args)),
        Command::Check(args) => interruptible(rt, cmd::check::run(&args)),
        Command::Audit(args) => interruptible(rt, cmd::audit::run(&args)),
        Command::History(args) => interruptible(rt, cmd::history::run(&args)),
        Command::Fingerprint(args) => interruptible(rt, cmd::fingerprint::run(&args)),
        Command::Up(args) => interruptible(rt, cmd::up::run(&args)),
        Command::Status(args) => interruptible(rt, cmd::status::run(&args)),
        Command::Down(args) => interruptible(rt, cmd::down::run(&args)),
        Command::Logs(args) => interruptible(rt, cmd::logs::run(&args)),
        Command::Completions(args) => cmd::completions::completions(&args),
        Command::Man(args) => cmd::completions::man(&args),
        // Ctrl-C belongs to the process inside the container.
        Command::Exec(args) => runtime.block_on(cmd::exec::run_exec(&args)),
        Command::Shell(args) => runtime.block_on(cmd::exec::run_shell(&args)),
    };
    // Work still running on the runtime (an abandoned engine request, a child process
    // being waited on) must not hold the exit up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    outcome
}

/// Run `work` until it ends or Ctrl-C is pressed. On Ctrl-C the work is dropped (its
/// engine requests close, so a build in progress is abandoned and never tagged; files
/// are only ever replaced whole, so none is left half-written) and the command ends
/// with [`EXIT_INTERRUPTED`] at once.
fn interruptible(
    runtime: &tokio::runtime::Runtime,
    work: impl std::future::Future<Output = anyhow::Result<Outcome>>,
) -> anyhow::Result<Outcome> {
    runtime.block_on(async {
        tokio::select! {
            outcome = work => outcome,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted; nothing was left half-written (layers already built stay cached)");
                Ok(Outcome::Exit(EXIT_INTERRUPTED))
            }
        }
    })
}

/// Connect to the engine the one way the CLI does, logging where and what answered.
pub(crate) async fn connect_engine() -> anyhow::Result<envsync_engine::bollard::Docker> {
    let host = envsync_engine::engine_host();
    tracing::debug!(%host, "connecting to the engine");
    let docker = envsync_engine::connect().await?;
    tracing::debug!(%host, api = ?docker.client_version(), "engine answered");
    Ok(docker)
}

/// Collect a snapshot of `target`, logging the collection's start, end and duration.
pub(crate) async fn collect(
    target: &envsync_drift::Target,
    options: &envsync_drift::CollectOptions,
) -> Result<envsync_drift::Snapshot, envsync_drift::DriftError> {
    let started = std::time::Instant::now();
    tracing::debug!(%target, "collecting");
    let result = envsync_drift::fingerprint(target, options).await;
    match &result {
        Ok(snapshot) => tracing::debug!(
            %target,
            packages = snapshot.packages.len(),
            seconds = started.elapsed().as_secs_f64(),
            "collected"
        ),
        Err(err) => tracing::debug!(%target, error = %err, "collection failed"),
    }
    result
}
