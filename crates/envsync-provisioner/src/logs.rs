//! The logs of a project's containers, one line at a time with the service it came
//! from: the whole history merged in time order, or followed as it is written.
//!
//! The engine is always asked for timestamps: they order the lines of several
//! containers, and are stripped again unless the caller wants them shown.

use std::collections::HashMap;
use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use futures_util::stream::{select_all, Stream, StreamExt};

use crate::run::{list_project_containers, RunError};
use crate::run_error::engine_error;

/// What to show of the logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming new lines until the containers stop (or the caller stops).
    pub follow: bool,
    /// Only lines written at or after this Unix time.
    pub since: Option<i64>,
    /// Only the last N lines of each container.
    pub tail: Option<u64>,
    /// Show each line's engine timestamp (RFC 3339, nanoseconds).
    pub timestamps: bool,
}

/// Which stream a line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
    /// A container with a TTY has one stream.
    Console,
}

/// One line of one service's log, without its line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub service: String,
    pub stream: LogStream,
    /// The engine's timestamp, when [`LogOptions::timestamps`] asks for it.
    pub timestamp: Option<String>,
    pub text: String,
}

/// Why logs could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("project `{project}` has no containers; start it with `envsync up`")]
    NoContainers { project: String },
    #[error("project `{project}` has no service `{service}`; its services are {}", known.join(", "))]
    UnknownService {
        project: String,
        service: String,
        known: Vec<String>,
    },
    #[error(transparent)]
    Run(#[from] RunError),
}

type Chunks =
    Pin<Box<dyn Stream<Item = (usize, Result<LogOutput, bollard::errors::Error>)> + Send>>;

/// Call `each` with every log line of the project's containers (of `services` only,
/// when any are named). Without `follow`, the lines of all containers come in time
/// order; with it, each line as soon as the engine sends it.
pub async fn logs(
    docker: &Docker,
    project: &str,
    services: &[String],
    options: &LogOptions,
    mut each: impl FnMut(LogLine),
) -> Result<(), LogsError> {
    let mut containers = list_project_containers(docker, project).await?;
    if containers.is_empty() {
        return Err(LogsError::NoContainers {
            project: project.to_string(),
        });
    }
    containers.sort_by(|a, b| a.service.cmp(&b.service));
    if let Some(unknown) = services
        .iter()
        .find(|s| !containers.iter().any(|c| &c.service == *s))
    {
        return Err(LogsError::UnknownService {
            project: project.to_string(),
            service: unknown.clone(),
            known: containers.iter().map(|c| c.service.clone()).collect(),
        });
    }
    containers.retain(|c| services.is_empty() || services.contains(&c.service));

    let mut engine_options = LogsOptionsBuilder::new()
        .follow(options.follow)
        .stdout(true)
        .stderr(true)
        .timestamps(true);
    if let Some(since) = options.since {
        engine_options = engine_options.since(i32::try_from(since).unwrap_or(i32::MAX));
    }
    if let Some(tail) = options.tail {
        engine_options = engine_options.tail(&tail.to_string());
    }
    let engine_options = engine_options.build();
    let streams: Vec<Chunks> = containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let stream = docker.logs(&c.id, Some(engine_options.clone()));
            Box::pin(stream.map(move |chunk| (i, chunk))) as Chunks
        })
        .collect();

    let mut splitter = Splitter::default();
    let mut history = Vec::new();
    let mut merged = select_all(streams);
    while let Some((i, chunk)) = merged.next().await {
        let service = &containers[i].service;
        let chunk = chunk.map_err(|e| engine_error("reading the logs of", service, e))?;
        for line in splitter.push(service, chunk) {
            if options.follow {
                each(shown(line, options.timestamps));
            } else {
                history.push(line);
            }
        }
    }
    let rest = splitter.finish();
    if options.follow {
        rest.into_iter()
            .for_each(|line| each(shown(line, options.timestamps)));
        return Ok(());
    }
    history.extend(rest);
    // RFC 3339 timestamps in UTC with fixed-width nanoseconds sort as text; the sort is
    // stable, so one container's lines keep their order.
    history.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    history
        .into_iter()
        .for_each(|line| each(shown(line, options.timestamps)));
    Ok(())
}

fn shown(mut line: LogLine, timestamps: bool) -> LogLine {
    if !timestamps {
        line.timestamp = None;
    }
    line
}

/// Assembles whole lines from the engine's chunks, per service and stream: a long line
/// arrives in several chunks, and one chunk may hold several lines.
#[derive(Default)]
struct Splitter {
    partial: HashMap<(String, LogStream), Vec<u8>>,
}

impl Splitter {
    fn push(&mut self, service: &str, chunk: LogOutput) -> Vec<LogLine> {
        let (stream, bytes) = match chunk {
            LogOutput::StdOut { message } => (LogStream::Stdout, message),
            LogOutput::StdErr { message } => (LogStream::Stderr, message),
            LogOutput::Console { message } => (LogStream::Console, message),
            // Logs never carry stdin.
            LogOutput::StdIn { .. } => return Vec::new(),
        };
        let buffer = self
            .partial
            .entry((service.to_string(), stream))
            .or_default();
        buffer.extend_from_slice(&bytes);
        let mut lines = Vec::new();
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = buffer.drain(..=end).collect();
            lines.push(line(service, stream, &raw[..end]));
        }
        lines
    }

    /// What is left when the streams end: a last line without a line break.
    fn finish(self) -> Vec<LogLine> {
        let mut rest: Vec<LogLine> = self
            .partial
            .into_iter()
            .filter(|(_, bytes)| !bytes.is_empty())
            .map(|((service, stream), bytes)| line(&service, stream, &bytes))
            .collect();
        rest.sort_by(|a, b| (&a.service, &a.timestamp).cmp(&(&b.service, &b.timestamp)));
        rest
    }
}

/// A line as the engine writes it with timestamps: `2026-11-29T12:00:00.123456789Z text`.
fn line(service: &str, stream: LogStream, raw: &[u8]) -> LogLine {
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let (timestamp, text) = match text.split_once(' ') {
        Some((ts, rest)) if looks_like_timestamp(ts) => (Some(ts.to_string()), rest),
        _ => (None, text),
    };
    LogLine {
        service: service.to_string(),
        stream,
        timestamp,
        text: text.to_string(),
    }
}

fn looks_like_timestamp(text: &str) -> bool {
    text.len() >= 20
        && text.ends_with('Z')
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[10] == b'T'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(text: &str) -> LogOutput {
        LogOutput::StdOut {
            message: text.as_bytes().to_vec().into(),
        }
    }

    #[test]
    fn lines_are_assembled_across_chunks_and_split_within_them() {
        let mut s = Splitter::default();
        assert_eq!(s.push("db", out("2026-11-29T12:00:00.000000001Z hel")), []);
        let lines = s.push(
            "db",
            out("lo\n2026-11-29T12:00:00.000000002Z two\n2026-11-29T12:00:00.000000003Z par"),
        );
        let texts: Vec<(&str, Option<&str>)> = lines
            .iter()
            .map(|l| (l.text.as_str(), l.timestamp.as_deref()))
            .collect();
        assert_eq!(
            texts,
            [
                ("hello", Some("2026-11-29T12:00:00.000000001Z")),
                ("two", Some("2026-11-29T12:00:00.000000002Z"))
            ]
        );
        let err = s.push(
            "db",
            LogOutput::StdErr {
                message: b"2026-11-29T12:00:00.000000004Z oops\r\n".to_vec().into(),
            },
        );
        assert_eq!(err[0].stream, LogStream::Stderr);
        assert_eq!(err[0].text, "oops", "a CR before the line break goes");
        let rest = s.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text, "par");
    }

    #[test]
    fn a_line_without_a_timestamp_is_kept_whole() {
        let l = line("app", LogStream::Console, b"GET / 200 12ms");
        assert_eq!(l.timestamp, None);
        assert_eq!(l.text, "GET / 200 12ms");
    }
}
