//! JUnit XML for CI servers (Jenkins, GitLab): one `testcase` per compared component,
//! named by its id (`deb:openssl`), `classname` = ecosystem; drift that fails is a
//! `failure` whose message is the change (`changed: 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1
//! (newer, patch)`). No timestamps or durations, so the same input gives the same bytes.
//!
//! Shape: `testsuites[name,tests,failures,errors,skipped] > testsuite[name,tests,
//! failures,errors,skipped] > testcase[name,classname] > failure[message,type] |
//! error[message,type] | skipped[message] | system-out`.

use std::fmt::Write as _;

use crate::check::{Checked, Finding, Mode, Status};
use crate::fleet::Fleet;

/// Escape text for an XML attribute or element. Control and bidi characters are first
/// written out visibly, as in every report (see [`super::escape`]); line breaks stay.
/// What XML 1.0 forbids besides them (the noncharacters U+FFFE and U+FFFF) is written
/// out the same way, so the file always parses and shows what the target held.
pub fn escape(text: &str) -> String {
    let text = super::escape_lines(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{FFFE}' => out.push_str("\\u{fffe}"),
            '\u{FFFF}' => out.push_str("\\u{ffff}"),
            c => out.push(c),
        }
    }
    out
}

enum Outcome {
    Pass,
    Failure {
        message: String,
        kind: String,
        body: String,
    },
    Error {
        message: String,
    },
    Skipped {
        message: String,
    },
    Warning {
        text: String,
    },
}

struct Case {
    name: String,
    classname: String,
    outcome: Outcome,
}

struct Suite {
    name: String,
    cases: Vec<Case>,
}

impl Suite {
    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| pred(&c.outcome)).count()
    }
}

fn failures(o: &Outcome) -> bool {
    matches!(o, Outcome::Failure { .. })
}
fn errors(o: &Outcome) -> bool {
    matches!(o, Outcome::Error { .. })
}
fn skipped(o: &Outcome) -> bool {
    matches!(o, Outcome::Skipped { .. })
}

fn write_suites(name: &str, suites: &[Suite]) -> String {
    let total = |pred: &dyn Fn(&Suite) -> usize| suites.iter().map(pred).sum::<usize>();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Writing into a String cannot fail; the fmt::Result is ignored on purpose.
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        escape(name),
        total(&|s| s.cases.len()),
        total(&|s| s.count(failures)),
        total(&|s| s.count(errors)),
        total(&|s| s.count(skipped)),
    );
    for s in suites {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            escape(&s.name),
            s.cases.len(),
            s.count(failures),
            s.count(errors),
            s.count(skipped),
        );
        for c in &s.cases {
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}\"",
                escape(&c.name),
                escape(&c.classname)
            );
            match &c.outcome {
                Outcome::Pass => {
                    let _ = writeln!(x, "{open}/>");
                }
                Outcome::Failure {
                    message,
                    kind,
                    body,
                } => {
                    let _ = writeln!(
                        x,
                        "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        escape(message),
                        escape(kind),
                        escape(body)
                    );
                }
                Outcome::Error { message } => {
                    let _ = writeln!(
                        x,
                        "{open}>\n      <error message=\"{}\" type=\"collect\">{}</error>\n    </testcase>",
                        escape(message),
                        escape(message)
                    );
                }
                Outcome::Skipped { message } => {
                    let _ = writeln!(
                        x,
                        "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(message)
                    );
                }
                Outcome::Warning { text } => {
                    let _ = writeln!(
                        x,
                        "{open}>\n      <system-out>{}</system-out>\n    </testcase>",
                        escape(text)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn finding_case(f: &Finding) -> Case {
    let d = &f.drift;
    let message = d.describe();
    let outcome = match f.status {
        Status::Fail => {
            let mut body = Vec::new();
            if let Some(v) = &f.violates {
                match &v.entry {
                    Some(entry) => body.push(format!("violates {v} ({entry})")),
                    None => body.push(format!("violates {v}")),
                }
            }
            if let Some(ig) = f.ignored_by.as_ref().filter(|i| i.expired) {
                body.push(format!(
                    "ignore at {} expired on {}",
                    ig.place(),
                    ig.until.as_deref().unwrap_or("?")
                ));
            }
            if let Some(fix) = &f.fix {
                body.push(format!("fix: {fix}"));
            }
            Outcome::Failure {
                message,
                kind: d.kind.as_str().to_string(),
                body: body.join("\n"),
            }
        }
        Status::Warn => Outcome::Warning {
            text: format!("warning: {message}"),
        },
        Status::Ignored => {
            let why = f
                .ignored_by
                .as_ref()
                .map(|ig| format!(" — ignored: {} ({})", ig.reason, ig.place()))
                .unwrap_or_default();
            Outcome::Skipped {
                message: format!("{message}{why}"),
            }
        }
    };
    Case {
        name: d.label(),
        classname: d.ecosystem.as_str().to_string(),
        outcome,
    }
}

fn cases(c: &Checked) -> Vec<Case> {
    let mut cases: Vec<(String, Case)> = c
        .diff
        .same
        .iter()
        .map(|s| {
            (
                s.label(),
                Case {
                    name: s.label(),
                    classname: s.ecosystem.as_str().to_string(),
                    outcome: Outcome::Pass,
                },
            )
        })
        .chain(
            c.findings
                .iter()
                .map(|f| (f.drift.label(), finding_case(f))),
        )
        .collect();
    // One order for all: by ecosystem (classname), then the component label.
    cases.sort_by(|a, b| (&a.1.classname, &a.0).cmp(&(&b.1.classname, &b.0)));
    let mut cases: Vec<Case> = cases.into_iter().map(|(_, c)| c).collect();
    for ig in &c.expired {
        cases.push(Case {
            name: format!("ignore {}", ig.component),
            classname: "policy".to_string(),
            outcome: Outcome::Failure {
                message: format!(
                    "ignore `{}` at {} expired on {}",
                    ig.component,
                    ig.place(),
                    ig.until.as_deref().unwrap_or("?")
                ),
                kind: "expired-ignore".to_string(),
                body: format!(
                    "reason: {}\nfix: remove the ignore or extend `until`",
                    ig.reason
                ),
            },
        });
    }
    cases
}

/// JUnit XML for a diff or a check.
pub fn render(c: &Checked) -> String {
    let command = match c.mode {
        Mode::Diff => "diff",
        Mode::Check => "check",
    };
    let suite = Suite {
        name: format!("envsync {command} {} vs {}", c.diff.other, c.diff.reference),
        cases: cases(c),
    };
    write_suites(&format!("envsync {command}"), &[suite])
}

/// JUnit XML for a fleet: one suite per target; a target that could not be collected is
/// a suite with one `error` case.
pub fn render_fleet(f: &Fleet) -> String {
    let suites: Vec<Suite> = f
        .targets
        .iter()
        .map(|t| {
            let name = format!("envsync diff {} vs {}", t.name, f.reference);
            match &t.result {
                Ok(diff) => Suite {
                    name,
                    cases: cases(&crate::check::plain(diff.clone())),
                },
                Err(err) => Suite {
                    name,
                    cases: vec![Case {
                        name: format!("collect {}", t.name),
                        classname: "target".to_string(),
                        outcome: Outcome::Error {
                            message: err.clone(),
                        },
                    }],
                },
            }
        })
        .collect();
    write_suites("envsync diff", &suites)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(escape(input), expected);
    }

    #[test]
    fn escapes() {
        check(
            "a<b & \"c\" 'd'>",
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;",
        );
        check(
            "\x1b[31mred\x1b[0m\tok\n",
            "\\u{1b}[31mred\\u{1b}[0m\\tok\n",
        );
        check("\x1b]0;PWNED\x07\u{FFFE}", "\\u{1b}]0;PWNED\\u{7}\\u{fffe}");
        check("3.0.15-1~deb12u1 ↑", "3.0.15-1~deb12u1 ↑");
    }
}
