//! Reports of a diff, a check or a fleet in the formats people and CI servers read:
//! a table for terminals, JSON (`envsync.diff/v1`), JUnit XML, Markdown, GitHub workflow
//! commands, SARIF 2.1.0, OpenMetrics (Prometheus text) and a self-contained HTML page.
//!
//! Every renderer is a pure function returning the whole text, so several formats can
//! be written from one run and golden files stay byte-stable (no timestamps). Text from
//! a target reaches the table and Markdown only through [`escape()`]; JSON and JUnit
//! escape it with their own syntax.
//!
//! A comparison that could not be made ([`Errored`]: a target that could not be
//! collected, an input that could not be read) still has a report in every format, with
//! verdict `error` and the reason, so CI always finds the files it was told to publish.

pub mod escape;
pub mod github;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod openmetrics;
pub mod sarif;
pub mod table;

use std::fmt;

use crate::check::{Checked, Mode};
use crate::fleet::{Fleet, FleetTarget};

pub use escape::{escape, escape_lines, json_pretty};
pub use history::{
    AuditRun, AuditStatus, AuditedHost, Audits, HistoryChange, HostHistory, StoreHistory,
};

/// The schema id of diff and check reports.
pub const DIFF_SCHEMA: &str = "envsync.diff/v1";

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// OpenMetrics text (also Prometheus text exposition), for the node_exporter
    /// textfile collector or a scrape.
    Openmetrics,
    /// One self-contained HTML page.
    Html,
}

impl Format {
    pub const NAMES: &'static str =
        "table, json, junit, markdown, github, sarif, openmetrics, html";

    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "table" => Format::Table,
            "json" => Format::Json,
            "junit" => Format::Junit,
            "markdown" | "md" => Format::Markdown,
            "github" => Format::Github,
            "sarif" => Format::Sarif,
            "openmetrics" | "prometheus" => Format::Openmetrics,
            "html" => Format::Html,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Github => "github",
            Format::Sarif => "sarif",
            Format::Openmetrics => "openmetrics",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Render a two-sided result. `color` only affects the table.
pub fn render(format: Format, checked: &Checked, color: bool) -> String {
    match format {
        Format::Table => table::render(checked, color),
        Format::Json => json::render(checked),
        Format::Junit => junit::render(checked),
        Format::Markdown => markdown::render(checked),
        Format::Github => github::render(checked),
        Format::Sarif => sarif::render(checked),
        Format::Openmetrics => openmetrics::render_fleet(&one_target(checked)),
        Format::Html => html::render_fleet(&one_target(checked)),
    }
}

/// The HTML page of a two-sided result with the other side's history from a store.
pub fn render_html_with_history(checked: &Checked, history: &StoreHistory) -> String {
    html::render_fleet_with_history(&one_target(checked), Some(history))
}

/// A two-sided result as a fleet of one target, for the formats that only have a fleet
/// form (metrics and the HTML page). Drift a live ignore accepted is left out, as the
/// other reports leave it out of the verdict.
fn one_target(checked: &Checked) -> Fleet {
    let mut diff = checked.diff.clone();
    let ignored: Vec<&crate::compare::Drift> = checked
        .findings
        .iter()
        .filter(|f| f.status == crate::check::Status::Ignored)
        .map(|f| &f.drift)
        .collect();
    diff.drift.retain(|d| !ignored.contains(&d));
    Fleet {
        reference: checked.diff.reference.clone(),
        targets: vec![FleetTarget {
            name: checked.diff.other.clone(),
            result: Ok(diff),
        }],
    }
}

/// A comparison that could not be made: what was asked, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errored {
    pub mode: Mode,
    /// The reference (A) as the user named it.
    pub reference: String,
    /// The other side (B) as the user named it.
    pub other: String,
    /// The error with its causes, as one text (it may quote a target).
    pub reason: String,
}

impl Errored {
    /// `diff` or `check`.
    pub fn command(&self) -> &'static str {
        match self.mode {
            Mode::Diff => "diff",
            Mode::Check => "check",
        }
    }
}

/// Render the report of a comparison that could not be made. `color` only affects the
/// table.
pub fn render_error(format: Format, e: &Errored, color: bool) -> String {
    match format {
        Format::Table => table::render_error(e, color),
        Format::Json => json::render_error(e),
        Format::Junit => junit::render_error(e),
        Format::Markdown => markdown::render_error(e),
        Format::Github => github::render_error(e),
        Format::Sarif => sarif::render_error(e),
        Format::Openmetrics | Format::Html => {
            let fleet = Fleet {
                reference: e.reference.clone(),
                targets: vec![FleetTarget {
                    name: e.other.clone(),
                    result: Err(e.reason.clone()),
                }],
            };
            render_fleet(format, &fleet, color)
        }
    }
}

/// Render a fleet matrix. `color` only affects the table.
pub fn render_fleet(format: Format, fleet: &Fleet, color: bool) -> String {
    match format {
        Format::Table => table::render_fleet(fleet, color),
        Format::Json => json::render_fleet(fleet),
        Format::Junit => junit::render_fleet(fleet),
        Format::Markdown => markdown::render_fleet(fleet),
        Format::Github => github::render_fleet(fleet),
        Format::Sarif => sarif::render_fleet(fleet),
        Format::Openmetrics => openmetrics::render_fleet(fleet),
        Format::Html => html::render_fleet(fleet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{evaluate, plain, FailRule, Rules};
    use crate::compare::diff;
    use crate::fleet::FleetTarget;
    use crate::snapshot::{Package, Snapshot};
    use envsync_manifest::policy::{Date, DriftKind};
    use envsync_manifest::Ecosystem;

    /// The title-setting and screen-clearing sequences of the issue, as a package name
    /// and a version, plus a C1 control, DEL and a right-to-left override.
    const TITLE: &str = "\x1b]0;PWNED\x07";
    const CLEAR: &str = "\x1b[2J";

    fn snap(target: &str, packages: &[(&str, &str)]) -> Snapshot {
        let mut s = Snapshot::new(target);
        s.packages = packages
            .iter()
            .map(|(name, version)| Package::new(Ecosystem::Deb, name, version))
            .collect();
        s.packages.sort_by(|a, b| a.key().cmp(&b.key()));
        s
    }

    fn hostile() -> (Snapshot, Snapshot) {
        let reference = snap(
            &format!("ref{CLEAR}.json"),
            &[(TITLE, "1.0"), ("openssl", CLEAR), ("gone\u{202E}txt", "1")],
        );
        let other = snap(
            "\u{202E}other.json",
            &[
                (TITLE, "2.0\u{9b}"),
                ("openssl", "3.0\x7f"),
                ("new\r\n", CLEAR),
            ],
        );
        (reference, other)
    }

    /// No byte of `text` may be a control or bidi character other than a line break,
    /// and the hostile name must still be there, written out.
    fn assert_safe(what: &str, text: &str) {
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| c != '\n' && escape::is_unsafe(c))
            .collect();
        assert!(bad.is_empty(), "{what} holds raw {bad:?}:\n{text}");
        assert!(text.contains("\\u{1b}]0;PWNED\\u{7}"), "{what}:\n{text}");
    }

    #[test]
    fn pair_reports_hold_no_raw_control_characters() {
        let (reference, other) = hostile();
        let plain = plain(diff(&reference, &other));
        let all = [DriftKind::Missing, DriftKind::Extra, DriftKind::Changed];
        let rules = Rules {
            fail_on: all.into_iter().map(FailRule::Kind).collect(),
            ignore: Vec::new(),
            ignore_file: None,
        };
        let checked = evaluate(
            diff(&reference, &other),
            &rules,
            Date::from_unix_days(0),
            &|_| None,
        );
        for c in [&plain, &checked] {
            assert_safe("table", &table::render(c, false));
            assert_safe("markdown", &markdown::render(c));
            assert_safe("junit", &junit::render(c));
            let colored = table::render(c, true);
            for raw in [TITLE, CLEAR, "\u{9b}", "\x7f", "\u{202E}", "\r"] {
                assert!(!colored.contains(raw), "coloured table holds {raw:?}");
            }
        }
    }

    #[test]
    fn error_reports_say_error_in_every_format() {
        let e = Errored {
            mode: Mode::Check,
            reference: "lock".into(),
            other: "docker:gone".into(),
            reason: format!("no such container {TITLE}"),
        };
        for format in [
            Format::Table,
            Format::Json,
            Format::Junit,
            Format::Markdown,
            Format::Github,
            Format::Sarif,
            Format::Openmetrics,
            Format::Html,
        ] {
            let text = render_error(format, &e, false);
            if matches!(
                format,
                Format::Json | Format::Sarif | Format::Openmetrics | Format::Html
            ) {
                // JSON escapes with its own syntax (`\u001b`).
                assert!(!text.chars().any(|c| c != '\n' && escape::is_unsafe(c)));
            } else {
                assert_safe(&format!("{format} error"), &text);
            }
            assert!(text.contains("docker:gone"), "{format}:\n{text}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&render_error(Format::Json, &e, false)).expect("json");
        assert_eq!(json["schema"], DIFF_SCHEMA);
        assert_eq!(json["verdict"], "error");
        assert_eq!(json["command"], "check");
        assert_eq!(json["drift"], serde_json::json!([]));
        assert!(json["error"]
            .as_str()
            .unwrap()
            .starts_with("no such container"));
        let junit = render_error(Format::Junit, &e, false);
        assert!(junit.contains("errors=\"1\""), "{junit}");
        assert!(
            junit.contains("<error message=\"no such container"),
            "{junit}"
        );
        let sarif: serde_json::Value =
            serde_json::from_str(&render_error(Format::Sarif, &e, false)).expect("sarif");
        let run = &sarif["runs"][0];
        assert_eq!(run["invocations"][0]["executionSuccessful"], false);
        assert_eq!(run["results"][0]["ruleId"], "unreadable-target");
        let github = render_error(Format::Github, &e, false);
        assert!(
            github.starts_with("::error title=envsync check"),
            "{github}"
        );
    }

    #[test]
    fn fleet_reports_hold_no_raw_control_characters() {
        let (reference, other) = hostile();
        let fleet = Fleet {
            reference: reference.target.clone(),
            targets: vec![
                FleetTarget {
                    name: other.target.clone(),
                    result: Ok(diff(&reference, &other)),
                },
                FleetTarget {
                    name: format!("ssh://h{CLEAR}"),
                    result: Err(format!("ssh said {TITLE}\r\nbye")),
                },
            ],
        };
        assert_safe("fleet table", &table::render_fleet(&fleet, false));
        assert_safe("fleet markdown", &markdown::render_fleet(&fleet));
        assert_safe("fleet junit", &junit::render_fleet(&fleet));
    }
}
