//! The options every command takes, before or after the subcommand (`-m`, `-q`, `-v`,
//! `--color`), and the process-wide terminal settings they set once at start.
//!
//! The manifest path reaches commands through their `ManifestArg` (filled in by
//! [`crate::run`] from the root's value); quietness and colour are properties of the
//! process's terminal, so they are set once here and read where output is written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The global options, defined once on the root command with `global = true`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// The manifest [default: $ENVSYNC_MANIFEST, else envsync.toml in this directory or
    /// the nearest parent directory that has one]
    #[arg(
        short = 'm',
        long = "manifest",
        value_name = "PATH",
        env = "ENVSYNC_MANIFEST",
        hide_env = true,
        global = true
    )]
    pub manifest: Option<PathBuf>,
    /// Print only errors and the requested output: no progress, no notes
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log what envsync does on stderr (`-vv` for more); ENVSYNC_LOG or RUST_LOG set
    /// filters (e.g. `ENVSYNC_LOG=envsync_cli=debug`)
    #[arg(short = 'v', long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// When to colour output: `auto` (on a terminal, unless NO_COLOR is set), `always`
    /// or `never`
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// What the global options decide about the terminal, for the whole process.
#[derive(Debug, Clone, Copy, Default)]
struct Terminal {
    quiet: bool,
    color: ColorChoice,
}

static TERMINAL: OnceLock<Terminal> = OnceLock::new();

/// Apply the global options: remember quietness and colour, and install the log
/// subscriber. Called once, before any command runs; a second call changes nothing.
pub fn init(args: &GlobalArgs) {
    let _ = TERMINAL.set(Terminal {
        quiet: args.quiet,
        color: args.color,
    });
    init_logging(args);
}

/// `eprintln!` for progress and notes, which `-q` silences (errors and warnings are
/// printed with `eprintln!` itself).
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::settings::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use note;

/// Whether `-q` asked for no progress and no notes.
pub fn quiet() -> bool {
    TERMINAL.get().is_some_and(|t| t.quiet)
}

/// Whether to colour what goes to a stream that `is_terminal` says is (or is not) a
/// terminal: `--color always|never`, else only on a terminal and without `NO_COLOR`.
pub fn color(is_terminal: bool) -> bool {
    let choice = TERMINAL.get().map(|t| t.color).unwrap_or_default();
    decide_color(choice, is_terminal, std::env::var_os("NO_COLOR"))
}

fn decide_color(
    choice: ColorChoice,
    is_terminal: bool,
    no_color: Option<std::ffi::OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// The filter for `-v` counts: warnings by default, errors only with `-q`, envsync's
/// own debug events with `-v`, everything's (bollard included) with `-vv`, trace
/// with `-vvv`.
fn default_filter(quiet: bool, verbose: u8) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,envsync=debug,envsync_cli=debug,envsync_drift=debug,envsync_provisioner=debug,envsync_engine=debug,envsync_manifest=debug",
        (false, 2) => "debug",
        (false, _) => "trace",
    }
}

/// A subscriber writing to stderr. `ENVSYNC_LOG`, else `RUST_LOG`, replaces the filter
/// the flags choose (a malformed one is reported and the flags' filter used).
fn init_logging(args: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let from_env = ["ENVSYNC_LOG", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let fallback = default_filter(args.quiet, args.verbose);
    let filter = match from_env.as_deref().map(EnvFilter::try_new) {
        Some(Ok(filter)) => filter,
        Some(Err(err)) => {
            eprintln!("warning: ignoring the log filter in ENVSYNC_LOG/RUST_LOG: {err}");
            EnvFilter::new(fallback)
        }
        None => EnvFilter::new(fallback),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color(std::io::stderr().is_terminal()))
        .with_target(true)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_flag_then_the_terminal_and_no_color() {
        let check = |choice, tty, no_color: Option<&str>, expected| {
            assert_eq!(
                decide_color(choice, tty, no_color.map(Into::into)),
                expected,
                "{choice:?} tty={tty} NO_COLOR={no_color:?}"
            );
        };
        check(ColorChoice::Auto, true, None, true);
        check(ColorChoice::Auto, false, None, false);
        check(ColorChoice::Auto, true, Some("1"), false);
        check(ColorChoice::Auto, true, Some(""), true);
        check(ColorChoice::Always, false, Some("1"), true);
        check(ColorChoice::Never, true, None, false);
    }

    #[test]
    fn filters_by_flags() {
        assert_eq!(default_filter(true, 3), "error");
        assert_eq!(default_filter(false, 0), "warn");
        assert!(default_filter(false, 1).contains("envsync_cli=debug"));
        assert_eq!(default_filter(false, 2), "debug");
    }
}
