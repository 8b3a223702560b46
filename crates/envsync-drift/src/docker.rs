//! Read-only access to a Docker engine for collection: inspect a container or image,
//! run the collection script with ONE `exec`, fall back to the archive API for a
//! container without a shell, stream an image export (`docker save` format), and run
//! a middleware's version command (`run_script`).
//! Nothing here creates, starts, stops or removes anything.

use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bollard::Docker;
use bytes_free::ChannelReader;
use futures_util::StreamExt;

use crate::collect::script::{
    collection_script, parse_output, run_token, Run, HEADER, KILL_SCRIPT,
};
use crate::collect::tarball::{read_tar_under, Budget};
use crate::collect::{
    layers, parse_env, path_of, CollectOptions, FileSet, Selector, FIXED_DIRS, FIXED_FILES,
};
use crate::error::DriftError;

fn docker_err(target: &str, e: BollardError) -> DriftError {
    DriftError::Docker {
        target: target.to_string(),
        message: e.to_string(),
    }
}

fn status_of(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

async fn connect(target: &str) -> Result<Docker, DriftError> {
    connect_engine(None, target).await
}

/// Connect to `engine` (an engine address such as `ssh://user@node`), or to the engine
/// `DOCKER_HOST` names when `None`.
pub(crate) async fn connect_engine(
    engine: Option<&str>,
    target: &str,
) -> Result<Docker, DriftError> {
    let connected = match engine {
        Some(host) => envsync_engine::connect_host(host).await,
        None => envsync_engine::connect().await,
    };
    connected.map_err(|source| DriftError::Engine {
        target: target.to_string(),
        source,
    })
}

fn env_of(list: Option<Vec<String>>) -> Vec<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    for kv in list.unwrap_or_default() {
        raw.extend_from_slice(kv.as_bytes());
        raw.push(0);
    }
    parse_env(&raw, 0)
}

/// Collect from the running container `name`.
pub async fn collect_container(name: &str, opts: &CollectOptions) -> Result<FileSet, DriftError> {
    collect_container_on(None, name, &format!("docker:{name}"), opts).await
}

/// Run the shell script `script` in the running container `name` (with the container's
/// environment) and return its exit code and what it printed, standard output then
/// standard error, each bounded at 64 KiB: a middleware's version, a few lines.
pub async fn run_script(name: &str, script: &str) -> Result<(Option<i64>, String), DriftError> {
    const LIMIT: u64 = 64 * 1024;
    let target = format!("docker:{name}");
    let docker = connect(&target).await?;
    let (code, mut stdout, stderr) =
        exec(&docker, name, &target, &["sh", "-c", script], LIMIT).await?;
    stdout.extend_from_slice(&stderr);
    Ok((code, String::from_utf8_lossy(&stdout).into_owned()))
}

/// Collect from the running container `name` on `engine` (the engine `DOCKER_HOST`
/// names when `None`), naming it `target` in errors: a task of a swarm service, which
/// may run on another node's engine.
pub async fn collect_container_on(
    engine: Option<&str>,
    name: &str,
    target: &str,
    opts: &CollectOptions,
) -> Result<FileSet, DriftError> {
    let target = target.to_string();
    let docker = connect_engine(engine, &target).await?;
    let env = running_container_env(&docker, name, &target).await?;
    let selector = Selector::new(opts);
    let script = collection_script(&selector, false);
    // Whatever ends this future early (the time limit, Ctrl-C, a too-large output),
    // the guard ends the script's processes inside the container too.
    let mut guard = KillOnDrop::new(engine, name);
    let (exit, stdout, stderr) = exec(
        &docker,
        name,
        &target,
        &["sh", "-c", &script, &guard.token],
        opts.max_total_bytes,
    )
    .await?;
    guard.disarm();
    let run = Run {
        code: exit,
        stdout: &stdout,
        stderr: &stderr,
    };
    let mut files = files_of_run(&docker, name, &target, &selector, opts, run).await?;
    let env = env_of(env);
    files.path_var = path_of(&env).or(files.path_var.take());
    if opts.wants_env() {
        files.env = Some(env);
    }
    Ok(files)
}

/// The configured environment (`NAME=value`) of the container `name`, which must exist
/// and be running.
async fn running_container_env(
    docker: &Docker,
    name: &str,
    target: &str,
) -> Result<Option<Vec<String>>, DriftError> {
    let info = docker
        .inspect_container(name, None)
        .await
        .map_err(|e| match status_of(&e) {
            Some(404) => DriftError::ContainerNotFound {
                name: name.to_string(),
            },
            _ => docker_err(target, e),
        })?;
    let state = info.state.as_ref();
    if !state.and_then(|s| s.running).unwrap_or(false) {
        let status = state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "not running".to_string());
        return Err(DriftError::ContainerNotRunning {
            name: name.to_string(),
            state: status,
        });
    }
    Ok(info.config.and_then(|c| c.env))
}

/// The files the collection script's run printed, or, when the container has no
/// `sh`, `tar` or `find`, the fixed files read through the archive API.
async fn files_of_run(
    docker: &Docker,
    name: &str,
    target: &str,
    selector: &Selector,
    opts: &CollectOptions,
    run: Run<'_>,
) -> Result<FileSet, DriftError> {
    if run.stdout.starts_with(HEADER.as_bytes()) {
        return match parse_output(target, run, selector, opts.max_total_bytes)? {
            Some(files) => Ok(files),
            None => {
                let why = "has no `tar` or `find`";
                archive_fallback(docker, name, target, selector, opts, why).await
            }
        };
    }
    if matches!(run.code, Some(126 | 127) | None) || run.stdout.is_empty() {
        // A container that stopped meanwhile also ends an exec without output; reading
        // its files through the archive API would then report whatever the stopped
        // container holds as if the collection had worked.
        require_running(docker, name, target).await?;
        let why = format!(
            "could not run `sh` (exit {}: {})",
            run.code.map_or("none".to_string(), |c| c.to_string()),
            String::from_utf8_lossy(run.stderr).trim()
        );
        return archive_fallback(docker, name, target, selector, opts, &why).await;
    }
    Err(DriftError::Malformed {
        target: target.to_string(),
        message: format!(
            "the collection script printed no `{HEADER}` header (exit {:?}): {}",
            run.code,
            String::from_utf8_lossy(run.stderr).trim()
        ),
    })
}

/// An error unless the container `name` is still running: one that stopped during the
/// collection was not read to the end.
async fn require_running(docker: &Docker, name: &str, target: &str) -> Result<(), DriftError> {
    let info = docker
        .inspect_container(name, None)
        .await
        .map_err(|e| docker_err(target, e))?;
    let state = info.state.as_ref();
    if state.and_then(|s| s.running).unwrap_or(false) {
        return Ok(());
    }
    let status = state
        .and_then(|s| s.status)
        .map_or_else(|| "not running".to_string(), |s| s.to_string());
    Err(DriftError::Incomplete {
        target: target.to_string(),
        what: format!("container `{name}` stopped during the collection (now {status})"),
    })
}

/// Ends one collection's processes inside a container when dropped armed: the
/// collection's `sh` carries a unique token as its `$0`, and one more exec (the
/// `KILL_SCRIPT`) stops that `sh` and every descendant (`find`, `sort`, `tar`), then
/// kills them. Dropping an exec's output stream does not end the process inside, so
/// without this a cancelled collection kept reading the container for ~30 s.
///
/// The kill runs on the runtime's blocking pool with a runtime of its own, because the
/// runtime that dropped the collection may be shutting down (Ctrl-C ends the CLI with
/// `shutdown_timeout`, which waits for blocking tasks but runs no more async ones).
#[derive(Debug)]
struct KillOnDrop {
    engine: Option<String>,
    container: String,
    token: String,
    armed: bool,
}

impl KillOnDrop {
    fn new(engine: Option<&str>, container: &str) -> KillOnDrop {
        KillOnDrop {
            engine: engine.map(str::to_string),
            container: container.to_string(),
            token: run_token(),
            armed: true,
        }
    }

    /// The collection finished: nothing to end.
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (container, token) = (self.container.clone(), self.token.clone());
        let engine = self.engine.clone();
        let kill = move || kill_run(engine.as_deref(), &container, &token);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(kill);
            }
            Err(_) => kill(),
        }
    }
}

/// Run `KILL_SCRIPT` for `token` in `container`, within 10 s; failures are ignored
/// (the container may have stopped, which ends the processes anyway).
fn kill_run(engine: Option<&str>, container: &str, token: &str) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let work = async {
            let target = format!("docker:{container}");
            let docker = connect_engine(engine, &target).await?;
            let env = [format!("ENVSYNC_RUN={token}")];
            exec_with_env(
                &docker,
                container,
                &target,
                &["sh", "-c", KILL_SCRIPT],
                &env,
                1 << 16,
            )
            .await
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), work).await;
    });
}

/// Run `cmd` in the container: exit code, stdout (bounded), stderr (64 KiB).
async fn exec(
    docker: &Docker,
    name: &str,
    target: &str,
    cmd: &[&str],
    limit: u64,
) -> Result<(Option<i64>, Vec<u8>, Vec<u8>), DriftError> {
    exec_with_env(docker, name, target, cmd, &[], limit).await
}

/// [`exec`] with `env` (`NAME=value`) added to the process's environment.
async fn exec_with_env(
    docker: &Docker,
    name: &str,
    target: &str,
    cmd: &[&str],
    env: &[String],
    limit: u64,
) -> Result<(Option<i64>, Vec<u8>, Vec<u8>), DriftError> {
    let created = docker
        .create_exec(
            name,
            CreateExecOptions::<String> {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.iter().map(|c| (*c).to_string()).collect()),
                env: (!env.is_empty()).then(|| env.to_vec()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| docker_err(target, e))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: Some(1 << 20),
            }),
        )
        .await
        .map_err(|e| docker_err(target, e))?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let StartExecResults::Attached { mut output, .. } = started {
        while let Some(item) = output.next().await {
            match item.map_err(|e| docker_err(target, e))? {
                bollard::container::LogOutput::StdOut { message } => {
                    stdout.extend_from_slice(&message);
                    if stdout.len() as u64 > limit {
                        return Err(DriftError::TooLarge {
                            target: target.to_string(),
                            limit,
                        });
                    }
                }
                bollard::container::LogOutput::StdErr { message } if stderr.len() < 64 * 1024 => {
                    stderr.extend_from_slice(&message);
                }
                _ => {}
            }
        }
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| docker_err(target, e))?;
    Ok((inspected.exit_code, stdout, stderr))
}

/// For a container without a shell: fetch the fixed files and the named files through
/// the archive API (a few requests, one per path). Python and npm packages are not
/// searched for then, and a warning says so.
async fn archive_fallback(
    docker: &Docker,
    name: &str,
    target: &str,
    selector: &Selector,
    opts: &CollectOptions,
    why: &str,
) -> Result<FileSet, DriftError> {
    let mut files = FileSet::default();
    files.warnings.push(format!(
        "container `{name}` {why}; read fixed files through the archive API; Python and npm packages were not searched"
    ));
    let mut budget = Budget::new(target, opts.max_total_bytes);
    let wanted: Vec<String> = FIXED_FILES
        .iter()
        .chain(FIXED_DIRS)
        .chain(crate::collect::RPM_DATABASES)
        .map(|s| s.to_string())
        .chain(selector.files().iter().cloned())
        .collect();
    let keep_all = selector.with_extra_fixed(crate::collect::RPM_DATABASES);
    for path in wanted {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(&path)
            .build();
        let mut stream = docker.download_from_container(name, Some(options));
        let mut data = Vec::new();
        let mut missing = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    data.extend_from_slice(&bytes);
                    budget.spend(bytes.len() as u64)?;
                }
                Err(e) if status_of(&e) == Some(404) => {
                    missing = true;
                    break;
                }
                Err(e) => return Err(docker_err(target, e)),
            }
        }
        if missing {
            continue;
        }
        if crate::collect::RPM_DATABASES.contains(&path.as_str()) {
            files.rpm_databases.push(path);
            continue;
        }
        // The archive's member names are relative to the requested path's parent.
        let parent = path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        let mut inner = Budget::new(target, opts.max_total_bytes);
        let contents = read_tar_under(&data[..], &parent, &keep_all, &mut inner, false)?;
        for (p, entry) in contents.entries {
            files.entries.insert(p, entry);
        }
    }
    Ok(files)
}

/// Collect from the image `reference` without running it.
pub async fn collect_image(reference: &str, opts: &CollectOptions) -> Result<FileSet, DriftError> {
    let target = format!("image:{reference}");
    let docker = connect(&target).await?;
    let info = docker
        .inspect_image(reference)
        .await
        .map_err(|e| match status_of(&e) {
            Some(404) => DriftError::ImageNotFound {
                reference: reference.to_string(),
            },
            _ => docker_err(&target, e),
        })?;
    let env = info.config.and_then(|c| c.env);
    // Export by id so a tag moved meanwhile cannot mix two images.
    let id = info.id.unwrap_or_else(|| reference.to_string());
    let selector = Selector::new(opts);
    let mut reading = selector.clone();
    let mut files = export_and_read(&docker, &id, &reading, &target, opts.max_total_bytes).await?;
    // Links to files the first read skipped as unselected (a hard-linked `package.json`
    // whose other name sorts first in its layer, a `[files]` entry that is a symlink
    // out of its directory): read again keeping their targets, so `image:` reads the
    // content `docker:` and `local:` read. At most two more exports, for link chains.
    // A link whose target the image lacks altogether is dangling there too: only
    // targets not asked for before are worth another export.
    let mut asked: Vec<String> = Vec::new();
    for _ in 0..2 {
        let missing = files.missing_link_targets(&selector);
        let wanted: Vec<&str> = missing
            .iter()
            .filter(|p| !asked.contains(p))
            .map(String::as_str)
            .collect();
        if wanted.is_empty() {
            break;
        }
        asked.extend(wanted.iter().map(|p| p.to_string()));
        reading = reading.with_extra_fixed(&wanted);
        files = export_and_read(&docker, &id, &reading, &target, opts.max_total_bytes).await?;
    }
    let env = env_of(env);
    files.path_var = path_of(&env);
    if opts.wants_env() {
        files.env = Some(env);
    }
    Ok(files)
}

/// One export of the image `id`, read as it streams by.
async fn export_and_read(
    docker: &Docker,
    id: &str,
    selector: &Selector,
    target: &str,
    limit: u64,
) -> Result<FileSet, DriftError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes_free::Chunk, std::io::Error>>(16);
    let mut stream = docker.export_image(id);
    let pump_target = target.to_string();
    let pump = tokio::spawn(async move {
        while let Some(chunk) = stream.next().await {
            let item = chunk.map(|b| b.to_vec()).map_err(|e| {
                std::io::Error::other(format!("export of `{pump_target}` failed: {e}"))
            });
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    let (selector, read_target) = (selector.clone(), target.to_string());
    let result = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader::new(rx);
        layers::read_saved_image(reader, &selector, &read_target, limit)
    })
    .await
    .map_err(|e| DriftError::Malformed {
        target: target.to_string(),
        message: format!("reader task failed: {e}"),
    })?;
    pump.abort();
    result
}

/// Small channel-backed reader used to feed a blocking tar parser from an async stream.
mod bytes_free {
    use std::io::Read;

    pub type Chunk = Vec<u8>;

    #[derive(Debug)]
    pub struct ChannelReader {
        rx: tokio::sync::mpsc::Receiver<Result<Chunk, std::io::Error>>,
        current: Chunk,
        pos: usize,
    }

    impl ChannelReader {
        pub fn new(rx: tokio::sync::mpsc::Receiver<Result<Chunk, std::io::Error>>) -> Self {
            ChannelReader {
                rx,
                current: Vec::new(),
                pos: 0,
            }
        }
    }

    impl Read for ChannelReader {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            while self.pos >= self.current.len() {
                match self.rx.blocking_recv() {
                    Some(Ok(chunk)) => {
                        self.current = chunk;
                        self.pos = 0;
                    }
                    Some(Err(e)) => return Err(e),
                    None => return Ok(0),
                }
            }
            let n = buf.len().min(self.current.len() - self.pos);
            buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
}
