//! `envsync completions SHELL` and `envsync man DIR`: shell completions and man pages,
//! generated from the same clap definitions as `--help`, so they never fall behind it.

use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory as _;

use crate::{Cli, Outcome};

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The directory to write `envsync.1` and one page per command (`envsync-up.1`, …)
    /// into; created when missing
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Print the completion script for `args.shell` on standard output.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "envsync", &mut out);
    super::output::write_stdout(&out)?;
    Ok(Outcome::Ok)
}

/// Write the man pages into `args.dir`.
pub fn man(args: &ManArgs) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating `{}`", args.dir.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.dir)
        .with_context(|| format!("writing the man pages into `{}`", args.dir.display()))?;
    crate::settings::note!("wrote the man pages into {}", args.dir.display());
    Ok(Outcome::Ok)
}
