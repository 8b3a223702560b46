//! `exec`: a command in the project's running development container, its output
//! copied to this process's stdout and stderr.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::RunError;
use crate::env::{container_name, DEV_SERVICE};
use crate::labels::LABEL_SERVICE;
use crate::run_error::{engine_error, status_code};

/// The running development container of `project`, or [`RunError::NoDevContainer`].
pub async fn dev_container(docker: &Docker, project: &str) -> Result<String, RunError> {
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
            if running && ours {
                Ok(name)
            } else {
                Err(missing())
            }
        }
        Err(err) if status_code(&err) == Some(404) => Err(missing()),
        Err(err) => Err(engine_error("inspecting container", &name, err)),
    }
}

/// Run `cmd` in the project's development container as its user, in its working
/// directory, copying its output to this process's stdout and stderr. With
/// `forward_stdin`, this process's stdin is copied to the command until it ends.
/// Returns the command's exit code.
pub async fn exec(
    docker: &Docker,
    project: &str,
    cmd: &[String],
    forward_stdin: bool,
) -> Result<i64, RunError> {
    let name = dev_container(docker, project).await?;
    let created = docker
        .create_exec(
            &name,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdin: Some(forward_stdin),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| engine_error("creating a command in container", &name, e))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| engine_error("running a command in container", &name, e))?;
    if let StartExecResults::Attached { output, input } = started {
        if forward_stdin {
            forward_stdin_to(input);
        }
        copy_output(output, &name).await?;
    }
    let inspect = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| engine_error("inspecting a command in container", &name, e))?;
    Ok(inspect.exit_code.unwrap_or(-1))
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
