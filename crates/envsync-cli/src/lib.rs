//! The envsync command line: argument parsing, dispatch to the library crates, output and exit codes.
//!
//! Exit codes are the contract of every comparing command: `0` parity, `1` drift,
//! `2` error. Errors are printed once, with their cause chain, on stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// What a command found, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Parity, or a command that does not compare and succeeded.
    Ok,
    /// Drift found (or, for `--check` modes, something would change).
    Drift,
}

impl Outcome {
    fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Drift => 1,
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
    after_help = "Exit codes: 0 parity, 1 drift found, 2 error.\nDocs: README.md, docs/manifest.md"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a Docker engine answers and print its version
    #[command(
        after_help = "Examples:\n  envsync engine\n  DOCKER_HOST=tcp://127.0.0.1:2375 envsync engine"
    )]
    Engine,
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
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    match cli.command {
        Command::Engine => runtime.block_on(engine_info()),
    }
}

async fn engine_info() -> anyhow::Result<Outcome> {
    let docker = envsync_engine::connect().await?;
    let version = docker.version().await?;
    println!(
        "engine {} (API {}) at {}",
        version.version.as_deref().unwrap_or("unknown"),
        version.api_version.as_deref().unwrap_or("unknown"),
        envsync_engine::engine_host()
    );
    Ok(Outcome::Ok)
}
