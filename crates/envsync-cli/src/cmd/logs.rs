//! `envsync logs`: the logs of the project's containers, each line prefixed by its
//! service (coloured on a terminal), merged in time order or followed with `-f`.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use envsync_drift::report::escape;
use envsync_provisioner::logs::{logs, LogLine, LogOptions, LogStream};
use envsync_provisioner::run;

use super::down::ProjectArgs;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Keep streaming new lines as they are written (Ctrl-C stops)
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines written since this long ago (`30s`, `10m`, `2h`, `1h30m`) or since
    /// this Unix time
    #[arg(long, value_name = "DURATION|UNIX-TIME")]
    pub since: Option<String>,
    /// Only the last N lines of each service
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<u64>,
    /// Show each line's timestamp
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// The services to show (all of the project's when none; the development
    /// container is `dev`)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// Colours for service prefixes, in the order services are listed (as compose does).
const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Run `envsync logs`.
pub async fn run(args: &LogsArgs) -> anyhow::Result<Outcome> {
    let project = args.project.project()?;
    let since = args.since.as_deref().map(since).transpose()?;
    let docker = crate::connect_engine().await?;
    let services: Vec<String> = run::status(&docker, &project)
        .await
        .with_context(|| format!("reading the containers of project `{project}`"))?
        .into_iter()
        .map(|s| s.service)
        .collect();
    let width = services
        .iter()
        .filter(|s| args.services.is_empty() || args.services.contains(s))
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    let colour = super::output::stdout_color();
    let options = LogOptions {
        follow: args.follow,
        since,
        tail: args.tail,
        timestamps: args.timestamps,
    };
    let mut stdout = std::io::stdout().lock();
    let mut closed = false;
    let result = logs(&docker, &project, &args.services, &options, |line| {
        if closed {
            return;
        }
        let index = services.iter().position(|s| *s == line.service);
        let text = render(
            &line,
            width,
            colour.then(|| COLOURS[index.unwrap_or(0) % COLOURS.len()]),
        );
        // A closed pipe (`envsync logs | head`) ends the output quietly.
        closed =
            stdout.write_all(text.as_bytes()).is_err() || (args.follow && stdout.flush().is_err());
    })
    .await;
    match result {
        Ok(()) => Ok(Outcome::Ok),
        Err(err) => Err(err).with_context(|| format!("reading the logs of project `{project}`")),
    }
}

/// `service | text`, the service padded to `width` and coloured when asked; text from
/// the container has its control characters written out.
fn render(line: &LogLine, width: usize, colour: Option<&str>) -> String {
    let name = format!("{:width$}", line.service);
    let prefix = match colour {
        Some(code) => format!("\x1b[{code}m{name} |\x1b[0m"),
        None => format!("{name} |"),
    };
    let stamp = line
        .timestamp
        .as_deref()
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    let text = escape(&line.text.replace('\t', "    ")).into_owned();
    let marker = if line.stream == LogStream::Stderr && colour.is_some() {
        format!("\x1b[2m{text}\x1b[0m")
    } else {
        text
    };
    format!("{prefix}{stamp} {marker}\n")
}

/// `--since`: a Unix time, or a duration before now.
fn since(text: &str) -> anyhow::Result<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .with_context(|| format!("`--since {text}` is not a Unix time"));
    }
    let Some(ago) = envsync_manifest::manifest::parse_duration(text) else {
        bail!(
            "`--since {text}` is neither a duration (`30s`, `10m`, `2h`, `1h30m`) nor a Unix time"
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Ok(now.saturating_sub(ago).as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_padded_and_made_safe() {
        let line = LogLine {
            service: "db".into(),
            stream: LogStream::Stdout,
            timestamp: None,
            text: "ready\x1b]0;PWNED\x07\tnow".into(),
        };
        assert_eq!(
            render(&line, 5, None),
            "db    | ready\\u{1b}]0;PWNED\\u{7}    now\n"
        );
        assert_eq!(
            render(&line, 2, Some("36")),
            "\x1b[36mdb |\x1b[0m ready\\u{1b}]0;PWNED\\u{7}    now\n"
        );
    }

    #[test]
    fn since_takes_durations_and_unix_times() {
        assert_eq!(since("1700000000").unwrap(), 1_700_000_000);
        let ten_minutes_ago = since("10m").unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (now - 600 - ten_minutes_ago).abs() <= 2,
            "{ten_minutes_ago} vs {now}"
        );
        assert!(since("yesterday")
            .unwrap_err()
            .to_string()
            .contains("neither a duration"));
    }
}
