//! `envsync exec -- CMD...` and `envsync shell`: run a command, or an interactive
//! shell, in the project's development container, as its user, in the mounted project.
//!
//! `exec` goes through the engine API and passes the command's exit code through;
//! standard input is forwarded when it is not a terminal (`envsync exec -- psql < dump.sql`).
//! `shell` needs a terminal for line editing and job control: when standard input is
//! one, it hands over to the Docker CLI (`docker exec -it`), which handles raw mode and
//! window resizing; otherwise it runs the shell through the API like `exec`.

use std::io::IsTerminal;

use anyhow::{bail, Context};
use envsync_provisioner::run;

use super::down::ProjectArgs;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The command and its arguments
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The shell to run
    #[arg(long, default_value = "bash", value_name = "PROGRAM")]
    pub shell: String,
}

/// The process exit code for a command's exit code: itself when it fits, else 2.
fn exit_code(code: i64) -> Outcome {
    match u8::try_from(code) {
        Ok(0) => Outcome::Ok,
        Ok(code) => Outcome::Exit(code),
        Err(_) => Outcome::Exit(crate::EXIT_ERROR),
    }
}

/// Run `envsync exec`.
pub async fn run_exec(args: &ExecArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let docker = envsync_engine::connect().await?;
    let forward_stdin = !std::io::stdin().is_terminal();
    let code = run::exec(&docker, &project, &args.command, forward_stdin)
        .await
        .with_context(|| {
            format!(
                "running `{}` in project `{project}`",
                args.command.join(" ")
            )
        })?;
    Ok(exit_code(code))
}

/// Run `envsync shell`.
pub async fn run_shell(args: &ShellArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let docker = envsync_engine::connect().await?;
    let container = run::dev_container(&docker, &project).await?;
    if std::io::stdin().is_terminal() {
        // The Docker CLI talks to the same engine: it reads DOCKER_HOST from the
        // environment this process passes on.
        let status = tokio::process::Command::new("docker")
            .args(["exec", "-it", &container, &args.shell])
            .status()
            .await;
        return match status {
            Ok(status) => Ok(exit_code(status.code().map_or(-1, i64::from))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => bail!(
                "an interactive shell needs the `docker` command (for terminal handling); install the Docker CLI, or run commands with `envsync exec -- CMD`"
            ),
            Err(err) => Err(err).context("running `docker exec -it`"),
        };
    }
    let code = run::exec(&docker, &project, std::slice::from_ref(&args.shell), true)
        .await
        .with_context(|| format!("running `{}` in project `{project}`", args.shell))?;
    Ok(exit_code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_pass_through() {
        fn check(code: i64, expected: Outcome) {
            assert_eq!(exit_code(code), expected);
        }
        check(0, Outcome::Ok);
        check(1, Outcome::Exit(1));
        check(7, Outcome::Exit(7));
        check(255, Outcome::Exit(255));
        check(-1, Outcome::Exit(2));
        check(256, Outcome::Exit(2));
    }
}
