//! `exec`: a command in the project's running development container, its output
//! copied to this process's stdout and stderr, its exit code passed through.
//!
//! Like `docker compose exec`: standard input is forwarded, a pseudo-terminal is
//! allocated when asked (the caller puts its own terminal in raw mode, so Ctrl-C reaches
//! the terminal inside as a keystroke), and the command starts in the container
//! directory that matches the host directory it was started from. The engine has no
//! API to signal an exec'd process, so SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to this
//! process are forwarded by a second exec that signals the process groups carrying this
//! run's marker variable.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::RunError;
use crate::env::{container_name, DEV_SERVICE};
use crate::labels::LABEL_SERVICE;
use crate::run_error::{engine_error, status_code};

/// The terminal's size as `(columns, rows)`, asked when the command starts and each
/// time the window changes.
pub type TerminalSize = fn() -> Option<(u16, u16)>;

/// How [`exec`] runs a command.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecOptions<'a> {
    /// Copy this process's standard input to the command until it ends.
    pub stdin: bool,
    /// Run the command on a pseudo-terminal of this size.
    pub tty: Option<TerminalSize>,
    /// The host directory the command is run from: inside a bind mount of the
    /// container, the command starts in the matching container directory; elsewhere
    /// in the container's working directory.
    pub host_dir: Option<&'a Path>,
}

/// The running development container of `project` and its bind mounts as
/// `(host path, container path)`, or [`RunError::NoDevContainer`].
async fn inspect_dev(
    docker: &Docker,
    project: &str,
) -> Result<(String, Vec<(PathBuf, String)>), RunError> {
    let name = container_name(project, DEV_SERVICE);
    let missing = || RunError::NoDevContainer {
        project: project.to_string(),
        container: name.clone(),
    };
    match docker.inspect_container(&name, None).await {
        Ok(inspect) => {
            let running = inspect.state.and_then(|s| s.running).unwrap_or(false);
            let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
            let ours = labels.get(LABEL_SERVICE).map(String::as_str) == Some(DEV_SERVICE);
            if !(running && ours) {
                return Err(missing());
            }
            let binds = inspect
                .mounts
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.typ.as_deref() == Some("bind"))
                .filter_map(|m| Some((PathBuf::from(m.source?), m.destination?)))
                .collect();
            Ok((name, binds))
        }
        Err(err) if status_code(&err) == Some(404) => Err(missing()),
        Err(err) => Err(engine_error("inspecting container", &name, err)),
    }
}

/// The running development container of `project`, or [`RunError::NoDevContainer`].
pub async fn dev_container(docker: &Docker, project: &str) -> Result<String, RunError> {
    Ok(inspect_dev(docker, project).await?.0)
}

/// The container directory matching `host_dir` through the bind mounts `binds`
/// (`(host path, container path)`): the deepest mount holding it wins. `None` when no
/// mount holds it (the engine may run on another machine, or the directory is outside
/// the project).
pub fn container_dir(host_dir: &Path, binds: &[(PathBuf, String)]) -> Option<String> {
    binds
        .iter()
        .filter_map(|(host, target)| Some((host, target, host_dir.strip_prefix(host).ok()?)))
        .max_by_key(|(host, _, _)| host.components().count())
        .map(|(_, target, rest)| {
            let mut dir = target.trim_end_matches('/').to_string();
            for part in rest.components() {
                dir.push('/');
                dir.push_str(&part.as_os_str().to_string_lossy());
            }
            if dir.is_empty() {
                "/".to_string()
            } else {
                dir
            }
        })
}

/// Run `cmd` in the project's development container as its user, copying its output
/// to this process's stdout and stderr, as `options` say. Returns the command's exit
/// code.
pub async fn exec(
    docker: &Docker,
    project: &str,
    cmd: &[String],
    options: ExecOptions<'_>,
) -> Result<i64, RunError> {
    let (name, binds) = inspect_dev(docker, project).await?;
    let working_dir = options.host_dir.and_then(|dir| container_dir(dir, &binds));
    let marker = run_marker();
    let mut env = vec![marker.clone()];
    if options.tty.is_some() {
        if let Ok(term) = std::env::var("TERM") {
            env.push(format!("TERM={term}"));
        }
    }
    let created = docker
        .create_exec(
            &name,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdin: Some(options.stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(options.tty.is_some()),
                env: Some(env),
                working_dir,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| engine_error("creating a command in container", &name, e))?;
    let start = StartExecOptions {
        tty: options.tty.is_some(),
        ..Default::default()
    };
    let started = docker
        .start_exec(&created.id, Some(start))
        .await
        .map_err(|e| engine_error("running a command in container", &name, e))?;
    // Signals are forwarded until the command's output ends.
    let signals = tokio::spawn(forward_signals(
        docker.clone(),
        name.clone(),
        created.id.clone(),
        marker,
        options.tty,
    ));
    if let Some(size) = options.tty {
        resize(docker, &created.id, size()).await;
    }
    let copied = match started {
        StartExecResults::Attached { output, input } => {
            if options.stdin {
                forward_stdin_to(input);
            }
            let copy = copy_output(output, &name);
            tokio::pin!(copy);
            tokio::select! {
                copied = &mut copy => copied,
                () = exec_ended(docker, &created.id) => {
                    // The command ended, but an engine may hold the stream open while it
                    // waits on our stdin (a TTY command after Ctrl-C or `exit`): take
                    // what output is still in flight, briefly, and stop.
                    tokio::time::timeout(OUTPUT_GRACE, &mut copy)
                        .await
                        .unwrap_or(Ok(()))
                }
            }
        }
        StartExecResults::Detached => Ok(()),
    };
    signals.abort();
    copied?;
    let inspect = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| engine_error("inspecting a command in container", &name, e))?;
    Ok(inspect.exit_code.unwrap_or(-1))
}

/// How often [`exec_ended`] asks the engine whether the command still runs.
const EXEC_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// How long output still in flight is copied once the command has ended.
const OUTPUT_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Resolves once the engine reports exec `exec_id` as ended. An engine that
/// cannot be asked leaves it pending: the output stream's end decides then.
async fn exec_ended(docker: &Docker, exec_id: &str) {
    loop {
        tokio::time::sleep(EXEC_POLL).await;
        if let Ok(inspect) = docker.inspect_exec(exec_id).await {
            // Not running *and* an exit code: an exec that has not started yet is not
            // running either, but has none.
            if inspect.running == Some(false) && inspect.exit_code.is_some() {
                return;
            }
        }
    }
}

/// `ENVSYNC_EXEC=<unique>`: set on the command, inherited by what it starts, and how
/// [`send_signal`] finds them.
fn run_marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("ENVSYNC_EXEC={}-{nanos}", std::process::id())
}

/// Resize the command's terminal to `size`; a failure only leaves the size as it was.
async fn resize(docker: &Docker, exec_id: &str, size: Option<(u16, u16)>) {
    if let Some((w, h)) = size {
        let options = ResizeExecOptions {
            h: i32::from(h),
            w: i32::from(w),
        };
        let _ = docker.resize_exec(exec_id, options).await;
    }
}

/// Forward SIGINT, SIGTERM, SIGHUP and SIGQUIT received by this process to the command
/// in `container` (the processes carrying `marker`), and, on a terminal (`size` is
/// `Some`), window-size changes, until aborted. Installing the handlers is what keeps
/// Ctrl-C from ending this process instead of the command.
async fn forward_signals(
    docker: Docker,
    container: String,
    exec_id: String,
    marker: String,
    size: Option<TerminalSize>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "INT"),
        (SignalKind::terminate(), "TERM"),
        (SignalKind::hangup(), "HUP"),
        (SignalKind::quit(), "QUIT"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        if let Ok(stream) = signal(kind) {
            streams.push((stream, name));
        }
    }
    let mut winch = signal(SignalKind::window_change())
        .ok()
        .filter(|_| size.is_some());
    if streams.is_empty() {
        // No handler could be installed: signals keep their default effect.
        return;
    }
    loop {
        let received =
            futures_util::future::select_all(streams.iter_mut().map(|(stream, name)| {
                Box::pin(async move { stream.recv().await.map(|()| *name) })
            }));
        let window = async {
            match winch.as_mut() {
                Some(w) => w.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            (name, _, _) = received => {
                if let Some(name) = name {
                    send_signal(&docker, &container, &marker, name).await;
                }
            }
            Some(()) = window => {
                resize(&docker, &exec_id, size.and_then(|size| size())).await;
            }
        }
    }
}
/// Find the process groups of the processes carrying `$2` in their environment and send
/// each the signal `$1`, as the terminal does on Ctrl-C: the command and what it runs in
/// the foreground get it, so `sh -c 'trap ... INT; sleep 30'` runs its trap at once.
const SIGNAL_SCRIPT: &str = r#"sig=$1 marker=$2
for d in /proc/[0-9]*; do
  if tr '\0' '\n' < "$d/environ" 2>/dev/null | grep -qxF "$marker"; then
    set -- $(sed 's/^.*) //' "$d/stat" 2>/dev/null)
    [ -n "$3" ] && [ "$3" != 1 ] && echo "$3"
  fi
done | sort -u | while read -r group; do kill -s "$sig" -- "-$group" 2>/dev/null; done
"#;

/// Send signal `name` (`INT`) to the command carrying `marker` in `container`, through
/// an exec run as root (the command may run as another user). Not waited for; a failure
/// leaves the command running, as it would be without forwarding.
async fn send_signal(docker: &Docker, container: &str, marker: &str, name: &str) {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(vec![
                    "sh".to_string(),
                    "-c".to_string(),
                    SIGNAL_SCRIPT.to_string(),
                    "envsync-signal".to_string(),
                    name.to_string(),
                    marker.to_string(),
                ]),
                user: Some("0".to_string()),
                ..Default::default()
            },
        )
        .await;
    if let Ok(created) = created {
        let detached = StartExecOptions {
            detach: true,
            ..Default::default()
        };
        let _ = docker.start_exec(&created.id, Some(detached)).await;
    }
}

/// Copy this process's stdin to `input` until stdin ends, in the background.
fn forward_stdin_to(mut input: Pin<Box<dyn AsyncWrite + Send>>) {
    // A plain thread, not a runtime task: a blocking read of a stdin that never
    // ends must not keep the runtime (and so the process) from finishing.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if input.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = input.shutdown().await;
    });
}

/// Copy the command's output in container `name` to this process's stdout and stderr
/// until it ends.
async fn copy_output(
    mut output: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
    name: &str,
) -> Result<(), RunError> {
    use std::io::Write;
    let io = |source| RunError::Io {
        doing: format!("copying the output of the command in `{name}`"),
        source,
    };
    // Output is copied chunk by chunk as it arrives; a blocking write of one chunk
    // to this process's own stdout is as short as the chunk.
    while let Some(chunk) = output.next().await {
        match chunk.map_err(|e| engine_error("reading the output of container", name, e))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                let mut out = std::io::stdout().lock();
                out.write_all(&message)
                    .and_then(|()| out.flush())
                    .map_err(io)?;
            }
            LogOutput::StdErr { message } => {
                let mut err = std::io::stderr().lock();
                err.write_all(&message)
                    .and_then(|()| err.flush())
                    .map_err(io)?;
            }
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_directory_maps_through_the_deepest_bind_mount() {
        fn check(host_dir: &str, expected: Option<&str>) {
            let binds = [
                (PathBuf::from("/home/ann/shop"), "/workspace".to_string()),
                (
                    PathBuf::from("/home/ann/shop/vendor"),
                    "/opt/vendor/".to_string(),
                ),
                (PathBuf::from("/srv/data"), "/".to_string()),
            ];
            assert_eq!(
                container_dir(Path::new(host_dir), &binds).as_deref(),
                expected,
                "{host_dir}"
            );
        }
        check("/home/ann/shop", Some("/workspace"));
        check("/home/ann/shop/src/api", Some("/workspace/src/api"));
        check("/home/ann/shop/vendor/lib", Some("/opt/vendor/lib"));
        check("/home/ann/shopping", None);
        check("/home/ann", None);
        check("/srv/data", Some("/"));
        check("/srv/data/x", Some("/x"));
    }
}
