//! JUnit XML for CI servers (Jenkins, GitLab): one `testcase` per compared component,
//! named by its id (`deb:openssl`), `classname` = ecosystem; drift that fails is a
//! `failure` whose message is the change (`changed: 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1
//! (newer, patch)`). No timestamps or durations, so the same input gives the same bytes.
//!
//! Shape: `testsuites[name,tests,failures,errors] > testsuite[name,tests,disabled,errors,
//! failures,skipped] > testcase[name,classname] > failure[message,type] |
//! error[message,type] | skipped[message] | system-out`.
//!
//! The document is written by `quick-junit`, the model and serializer nextest uses, so
//! escaping and the removal of characters XML cannot carry (ANSI escapes, control
//! characters) are its, not ours.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::check::{Checked, Finding, Mode, Status};
use crate::fleet::Fleet;

use super::Errored;

/// A failure (`failure` with a `type`), with what to do about it as its text when there
/// is anything to say.
fn failure(message: String, kind: &str, body: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(shown(&message)).set_type(kind);
    if !body.is_empty() {
        status.set_description(shown(body));
    }
    status
}

fn case(name: String, classname: &str, status: TestCaseStatus) -> TestCase {
    let mut case = TestCase::new(shown(&name), status);
    case.set_classname(classname);
    case
}

/// Text from a target, its control characters written out visibly before quick-junit
/// sees it (quick-junit would drop them, hiding what the target held).
fn shown(text: &str) -> String {
    super::escape_lines(text).into_owned()
}

fn finding_case(f: &Finding) -> TestCase {
    let d = &f.drift;
    let message = d.describe();
    let mut system_out = None;
    let status = match f.status {
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
            failure(message, d.kind.as_str(), &body.join("\n"))
        }
        Status::Warn => {
            system_out = Some(format!("warning: {message}"));
            TestCaseStatus::success()
        }
        Status::Ignored => {
            let why = f
                .ignored_by
                .as_ref()
                .map(|ig| format!(" — ignored: {} ({})", ig.reason, ig.place()))
                .unwrap_or_default();
            let mut status = TestCaseStatus::skipped();
            status.set_message(shown(&format!("{message}{why}")));
            status
        }
    };
    let mut case = case(d.label(), d.ecosystem.as_str(), status);
    if let Some(text) = system_out {
        case.set_system_out(shown(&text));
    }
    case
}

fn cases(c: &Checked) -> Vec<TestCase> {
    let mut cases: Vec<(&str, String, TestCase)> = c
        .diff
        .same
        .iter()
        .map(|s| {
            let eco = s.ecosystem.as_str();
            (
                eco,
                s.label(),
                case(s.label(), eco, TestCaseStatus::success()),
            )
        })
        .chain(
            c.findings
                .iter()
                .map(|f| (f.drift.ecosystem.as_str(), f.drift.label(), finding_case(f))),
        )
        .collect();
    // One order for all: by ecosystem (classname), then the component label.
    cases.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut cases: Vec<TestCase> = cases.into_iter().map(|(_, _, c)| c).collect();
    for ig in &c.expired {
        cases.push(case(
            format!("ignore {}", ig.component),
            "policy",
            failure(
                format!(
                    "ignore `{}` at {} expired on {}",
                    ig.component,
                    ig.place(),
                    ig.until.as_deref().unwrap_or("?")
                ),
                "expired-ignore",
                &format!(
                    "reason: {}\nfix: remove the ignore or extend `until`",
                    ig.reason
                ),
            ),
        ));
    }
    cases
}

/// A suite of `cases`. quick-junit counts skipped cases as `disabled`; CI servers read
/// `skipped`, so the suite carries that count too.
fn suite(name: String, cases: Vec<TestCase>) -> TestSuite {
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.status, TestCaseStatus::Skipped { .. }))
        .count();
    let mut suite = TestSuite::new(shown(&name));
    suite.add_test_cases(cases);
    suite
        .extra
        .insert("skipped".into(), skipped.to_string().into());
    suite
}

fn write(name: &str, suites: Vec<TestSuite>) -> String {
    let mut report = Report::new(name);
    report.add_test_suites(suites);
    // Serializing into memory has no I/O that could fail, and every string went through
    // quick-junit's `XmlString`, which holds only characters XML can carry. What XML
    // allows but a terminal obeys (DEL, C1 and bidi controls) is then written out
    // visibly, as in every report; the markup itself holds none of them.
    let xml = report.to_string().expect("a JUnit report serializes");
    super::escape_lines(&xml).into_owned()
}

/// JUnit XML for a diff or a check.
pub fn render(c: &Checked) -> String {
    let command = match c.mode {
        Mode::Diff => "diff",
        Mode::Check => "check",
    };
    let name = format!("envsync {command} {} vs {}", c.diff.other, c.diff.reference);
    write(&format!("envsync {command}"), vec![suite(name, cases(c))])
}

/// An `error` case: `target` could not be collected (or an input read), for `reason`.
fn error_case(target: &str, reason: &str) -> TestCase {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status
        .set_message(shown(reason))
        .set_type("collect")
        .set_description(shown(reason));
    case(format!("collect {target}"), "target", status)
}

/// JUnit XML for a comparison that could not be made: one suite with one `error` case
/// naming the side that failed and why, so a CI server shows an errored test rather
/// than no report.
pub fn render_error(e: &Errored) -> String {
    let command = e.command();
    let name = format!("envsync {command} {} vs {}", e.other, e.reference);
    write(
        &format!("envsync {command}"),
        vec![suite(name, vec![error_case(&e.other, &e.reason)])],
    )
}

/// JUnit XML for a fleet: one suite per target; a target that could not be collected is
/// a suite with one `error` case.
pub fn render_fleet(f: &Fleet) -> String {
    let suites: Vec<TestSuite> = f
        .targets
        .iter()
        .map(|t| {
            let name = format!("envsync diff {} vs {}", t.name, f.reference);
            match &t.result {
                Ok(diff) => suite(name, cases(&crate::check::plain(diff.clone()))),
                Err(err) => suite(name, vec![error_case(&t.name, err)]),
            }
        })
        .collect();
    write("envsync diff", suites)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let mut suite = TestSuite::new("s");
        suite.add_test_case(case(
            "c".into(),
            "k",
            failure(input.to_string(), "changed", ""),
        ));
        let xml = write("r", vec![suite]);
        let message = format!("<failure message=\"{expected}\" type=\"changed\"/>");
        assert!(xml.contains(&message), "{message} not in\n{xml}");
    }

    #[test]
    fn escapes() {
        check(
            "a<b & \"c\" 'd'>",
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;",
        );
        // Control characters a target put in a name or version are written out
        // visibly, as in every report: the file shows what the target held and a
        // terminal printing it obeys nothing.
        check("\x1b[31mred\x1b[0m ok\t", "\\u{1b}[31mred\\u{1b}[0m ok\\t");
        check("3.0.15-1~deb12u1 ↑", "3.0.15-1~deb12u1 ↑");
    }
}
