//! Where reports go: one run can write several formats at once, e.g. the table on the
//! terminal plus `--junit report.xml --json drift.json`.
//!
//! Rules: `--format FMT` (repeatable) sends FMT to standard output, `--format FMT=FILE`
//! to a file; `-o FILE` sends the one bare `--format` (or, without one, the format the
//! file's extension names: `.json`, `.xml`, `.md`, else the table) to FILE instead of
//! standard output; `--json FILE`, `--junit FILE`, `--markdown FILE` are shorthands for
//! `--format FMT=FILE`. Standard output gets the table when nothing else claims it and
//! `-o` is not used. `-` as FILE means standard output; at most one report goes there.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use envsync_drift::check::Checked;
use envsync_drift::fleet::Fleet;
use envsync_drift::report::{self, Errored, Format, StoreHistory};

/// The output flags shared by `diff` and `check`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Report format: `table`, `json`, `junit`, `markdown`, `github` (workflow
    /// commands that annotate manifest lines), `sarif` (code scanning), `openmetrics`
    /// (Prometheus text, for the node_exporter textfile collector) or `html` (one
    /// self-contained page); `FORMAT=FILE` writes it to FILE. Repeat to write several
    #[arg(short = 'f', long = "format", value_name = "FORMAT[=FILE]")]
    pub format: Vec<String>,
    /// Write the report to FILE instead of standard output (format from `--format`, or
    /// from the extension: .json, .xml, .md, .sarif, .prom, .html)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the JSON report (`envsync.diff/v1`) to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write a JUnit XML report to FILE
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write a Markdown report to FILE (for PR comments and CI step summaries)
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

/// Where one report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Stdout,
    File(PathBuf),
}

/// Every report one run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub outputs: Vec<(Format, Dest)>,
}

fn parse_format(text: &str) -> anyhow::Result<Format> {
    Format::parse(text).with_context(|| {
        format!(
            "unknown format `{text}` in `--format`; use one of {}",
            Format::NAMES
        )
    })
}

fn dest(path: &Path) -> Dest {
    if path == Path::new("-") {
        Dest::Stdout
    } else {
        Dest::File(path.to_path_buf())
    }
}

fn format_of_extension(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        Some("xml") => Format::Junit,
        Some("md" | "markdown") => Format::Markdown,
        Some("sarif") => Format::Sarif,
        Some("prom" | "om") => Format::Openmetrics,
        Some("html" | "htm") => Format::Html,
        _ => Format::Table,
    }
}

impl OutputArgs {
    /// The reports when standard output carries something else (`diff --stream`'s
    /// lines): only those written to files; a report asked for on standard output is
    /// an error.
    pub fn plan_to_files(&self, stdout_use: &str) -> anyhow::Result<Plan> {
        let mut plan = self.plan()?;
        let is_stdout = |path: &Option<PathBuf>| path.as_deref() == Some(Path::new("-"));
        // A bare `--format X` or a `-` names standard output; without them, a table on
        // it is only the default.
        let asked = self
            .format
            .iter()
            .any(|spec| !spec.contains('=') || spec.ends_with("=-"))
            || [&self.output, &self.json, &self.junit, &self.markdown]
                .into_iter()
                .any(is_stdout);
        if asked {
            bail!("{stdout_use} standard output; write the reports to files with `--format FORMAT=FILE`");
        }
        plan.outputs.retain(|(_, d)| *d != Dest::Stdout);
        Ok(plan)
    }

    /// Decide where each report goes, or say why the flags contradict each other.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        let mut outputs = Vec::new();
        let mut bare = Vec::new();
        for spec in &self.format {
            match spec.split_once('=') {
                Some((fmt, file)) if !file.is_empty() => {
                    outputs.push((parse_format(fmt)?, dest(Path::new(file))));
                }
                Some((fmt, _)) => bail!("`--format {spec}` names no file; write `--format {fmt}=FILE` or `--format {fmt}`"),
                None => bare.push(parse_format(spec)?),
            }
        }
        for (path, format) in [
            (&self.json, Format::Json),
            (&self.junit, Format::Junit),
            (&self.markdown, Format::Markdown),
        ] {
            if let Some(path) = path {
                outputs.push((format, dest(path)));
            }
        }
        match (&self.output, bare.as_slice()) {
            (Some(path), []) => outputs.push((format_of_extension(path), dest(path))),
            (Some(path), [format]) => outputs.push((*format, dest(path))),
            (Some(_), _) => bail!("`-o` takes one report but {} bare `--format`s were given; write the others as `--format FORMAT=FILE`", bare.len()),
            (None, []) => {
                if !outputs.iter().any(|(_, d)| *d == Dest::Stdout) {
                    outputs.insert(0, (Format::Table, Dest::Stdout));
                }
            }
            (None, formats) => {
                for f in formats {
                    outputs.insert(0, (*f, Dest::Stdout));
                }
            }
        }
        let to_stdout = outputs.iter().filter(|(_, d)| *d == Dest::Stdout).count();
        if to_stdout > 1 {
            bail!("{to_stdout} reports would go to standard output; send all but one to files with `--format FORMAT=FILE`");
        }
        Ok(Plan { outputs })
    }
}

/// Write `bytes` to standard output. A reader that went away (`envsync … | head`) is
/// not an error: the output simply ends, as it does for other Unix tools.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

/// `print!` through [`write_stdout`]: a `Result`, and a closed pipe ends output quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cmd::output::write_stdout(format!($($arg)*).as_bytes())
    };
}
pub(crate) use out;

/// `println!` through [`write_stdout`]: a `Result`, and a closed pipe ends output quietly.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cmd::output::write_stdout(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
pub(crate) use outln;

/// Colour for the table on standard output: as `--color` says, else only on a terminal
/// and never when `NO_COLOR` is set to anything non-empty.
pub fn stdout_color() -> bool {
    crate::settings::color(std::io::stdout().is_terminal())
}

/// `--format` of every command that prints one document: `table` for people (tables
/// and lines), `json` for programs. The names are those `diff` and `check` use; the
/// older `text` is a hidden alias of `table`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormat {
    #[value(alias = "text")]
    Table,
    Json,
}

/// What is being reported.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Pair(&'a Checked),
    Fleet(&'a Fleet),
    /// A comparison that could not be made: every report says `error` and why.
    Error(&'a Errored),
}

impl Plan {
    /// Render every report and write it where it goes. Files are written whole; an
    /// error names the file.
    pub fn write(&self, subject: Subject<'_>) -> anyhow::Result<()> {
        self.write_with_history(subject, None)
    }

    /// Whether one of the reports is the HTML page (the only one that shows history).
    pub fn has_html(&self) -> bool {
        self.outputs.iter().any(|(f, _)| *f == Format::Html)
    }

    /// [`Plan::write`], the HTML page with each host's history when `history` is given.
    pub fn write_with_history(
        &self,
        subject: Subject<'_>,
        history: Option<&StoreHistory>,
    ) -> anyhow::Result<()> {
        for (format, dest) in &self.outputs {
            let color = *dest == Dest::Stdout && stdout_color();
            let text = match (subject, history) {
                (Subject::Pair(c), Some(h)) if *format == Format::Html => {
                    report::render_html_with_history(c, h)
                }
                (Subject::Fleet(f), Some(h)) if *format == Format::Html => {
                    report::html::render_fleet_with_history(f, Some(h))
                }
                (Subject::Pair(c), _) => report::render(*format, c, color),
                (Subject::Fleet(f), _) => report::render_fleet(*format, f, color),
                // The error itself goes to standard error; the table would only repeat it.
                (Subject::Error(_), _) if *format == Format::Table && *dest == Dest::Stdout => {
                    continue
                }
                (Subject::Error(e), _) => report::render_error(*format, e, color),
            };
            match dest {
                Dest::Stdout => write_stdout(text.as_bytes())?,
                Dest::File(path) => std::fs::write(path, text).with_context(|| {
                    format!("cannot write the {format} report to `{}`", path.display())
                })?,
            }
        }
        Ok(())
    }
}

/// Run `work`; when it fails, still write every report, each saying `error` and why,
/// then return the error (exit 2). A report that cannot be written then is named
/// beside the original error, which stays the one returned.
pub async fn or_error_reports<T>(
    plan: &Plan,
    what: impl FnOnce() -> Errored,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match work.await {
        Ok(value) => Ok(value),
        Err(err) => {
            let mut errored = what();
            errored.reason = format!("{err:#}");
            match plan.write(Subject::Error(&errored)) {
                Ok(()) => Err(err),
                Err(write) => Err(err.context(format!("{write:#}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(format: &[&str], output: Option<&str>, junit: Option<&str>) -> OutputArgs {
        OutputArgs {
            format: format.iter().map(|s| s.to_string()).collect(),
            output: output.map(PathBuf::from),
            junit: junit.map(PathBuf::from),
            ..OutputArgs::default()
        }
    }

    /// Compare the plan as `format>dest` words, or the error's start.
    fn check(a: OutputArgs, expected: &str) {
        let got = match a.plan() {
            Ok(plan) => plan
                .outputs
                .iter()
                .map(|(f, d)| match d {
                    Dest::Stdout => format!("{f}>-"),
                    Dest::File(p) => format!("{f}>{}", p.display()),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.starts_with(expected),
            "got `{got}`, expected `{expected}`"
        );
    }

    #[test]
    fn plans() {
        check(args(&[], None, None), "table>-");
        check(args(&["json"], None, None), "json>-");
        check(args(&[], None, Some("r.xml")), "table>- junit>r.xml");
        check(
            args(&["markdown=s.md"], None, Some("r.xml")),
            "table>- markdown>s.md junit>r.xml",
        );
        check(args(&["json"], Some("d.json"), None), "json>d.json");
        check(args(&[], Some("d.xml"), None), "junit>d.xml");
        check(args(&["json=-"], None, None), "json>-");
        check(
            args(&["json", "table"], None, None),
            "error: 2 reports would go",
        );
        check(args(&["yaml"], None, None), "error: unknown format `yaml`");
        check(
            args(&["json", "junit"], Some("x"), None),
            "error: `-o` takes one report",
        );
        check(
            args(&["json="], None, None),
            "error: `--format json=` names no file",
        );
    }
}
