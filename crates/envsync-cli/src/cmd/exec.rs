//! `envsync exec -- CMD...` and `envsync shell`: run a command, or an interactive
//! shell, in the project's development container, as its user, starting in the
//! container directory that matches the current directory when that is inside the
//! mounted project.
//!
//! Standard input is always forwarded, as `docker compose exec` does. When standard
//! input and output are both terminals (and `exec -T` does not say otherwise), the
//! command gets a pseudo-terminal and this terminal is put in raw mode, so Ctrl-C
//! reaches the terminal inside; without one, SIGINT and SIGTERM are forwarded to the
//! command. The command's exit code is passed through.

use std::io::IsTerminal;

use anyhow::Context;
use envsync_provisioner::run::{self, ExecOptions};

use super::down::ProjectArgs;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Do not allocate a pseudo-terminal, even when run from a terminal
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
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

/// Whether the command gets a pseudo-terminal: only when this process's standard
/// input and output are both terminals (a pipe on either side wants plain bytes), and
/// `-T` was not given.
fn wants_tty(no_tty: bool, stdin_is_terminal: bool, stdout_is_terminal: bool) -> bool {
    !no_tty && stdin_is_terminal && stdout_is_terminal
}

/// The terminal's size, as the engine sizes the command's pseudo-terminal.
fn terminal_size() -> Option<(u16, u16)> {
    crossterm::terminal::size().ok()
}

/// This terminal in raw mode until dropped: keystrokes (Ctrl-C included) go to the
/// terminal inside the container, which echoes and interprets them.
struct RawMode;

impl RawMode {
    fn enable() -> anyhow::Result<RawMode> {
        crossterm::terminal::enable_raw_mode().context("putting the terminal in raw mode")?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Nothing is left to do when the terminal cannot be restored (it is gone).
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Run `cmd` in `project`'s development container, from the current directory, with
/// a pseudo-terminal when `tty`.
async fn exec_in_dev(project: &str, cmd: &[String], tty: bool) -> anyhow::Result<Outcome> {
    let docker = envsync_engine::connect().await?;
    let cwd = std::env::current_dir().ok();
    let options = ExecOptions {
        stdin: true,
        tty: tty.then_some(terminal_size as run::TerminalSize),
        host_dir: cwd.as_deref(),
    };
    let raw = if tty { Some(RawMode::enable()?) } else { None };
    let code = run::exec(&docker, project, cmd, options).await;
    drop(raw);
    let code =
        code.with_context(|| format!("running `{}` in project `{project}`", cmd.join(" ")))?;
    Ok(exit_code(code))
}

/// Run `envsync exec`.
pub async fn run_exec(args: &ExecArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let tty = wants_tty(
        args.no_tty,
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    exec_in_dev(&project, &args.command, tty).await
}

/// Run `envsync shell`: `exec` of the shell, with a terminal when there is one.
pub async fn run_shell(args: &ShellArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let tty = wants_tty(
        false,
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    exec_in_dev(&project, std::slice::from_ref(&args.shell), tty).await
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

    #[test]
    fn a_terminal_only_when_both_ends_are_one_and_not_refused() {
        fn check(no_tty: bool, stdin: bool, stdout: bool, expected: bool) {
            assert_eq!(wants_tty(no_tty, stdin, stdout), expected);
        }
        check(false, true, true, true);
        check(true, true, true, false);
        check(false, false, true, false);
        check(false, true, false, false);
        check(false, false, false, false);
    }
}
