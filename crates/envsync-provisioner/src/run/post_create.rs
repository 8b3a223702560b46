//! The development container's `post_create` commands: run once, in order, right after
//! the container is created (they are part of its effective configuration, so changing
//! them recreates the container and runs them again).

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;

use super::{Progress, RunError};
use crate::labels::EffectiveConfig;
use crate::run_error::engine_error;

/// How much of a failed command's output an error quotes.
const TAIL: usize = 2000;

/// Run each of `config.post_create` in container `name` by `sh -c`, as the container's
/// user in its working directory; the first that fails stops `up` with its output.
pub(super) async fn run_post_create(
    docker: &Docker,
    name: &str,
    config: &EffectiveConfig,
    progress: Progress<'_>,
) -> Result<(), RunError> {
    for command in &config.post_create {
        progress(&format!("dev: post_create `{command}`"));
        let created = docker
            .create_exec(
                name,
                CreateExecOptions {
                    cmd: Some(vec!["sh".to_string(), "-c".to_string(), command.clone()]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    user: config.user.clone(),
                    working_dir: config.working_dir.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| engine_error("creating a post_create command in container", name, e))?;
        let started = docker
            .start_exec(&created.id, Some(StartExecOptions::default()))
            .await
            .map_err(|e| engine_error("running a post_create command in container", name, e))?;
        let mut output = Vec::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| {
                    engine_error(
                        "reading a post_create command's output in container",
                        name,
                        e,
                    )
                })?;
                output.extend_from_slice(&chunk.into_bytes());
            }
        }
        let inspect = docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| engine_error("inspecting a post_create command in container", name, e))?;
        let exit_code = inspect.exit_code.unwrap_or(-1);
        if exit_code != 0 {
            let text = String::from_utf8_lossy(&output);
            let start = text.len().saturating_sub(TAIL);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(text.len());
            return Err(RunError::PostCreate {
                container: name.to_string(),
                command: command.clone(),
                exit_code,
                output: text[start..].trim_end().to_string(),
            });
        }
    }
    Ok(())
}
