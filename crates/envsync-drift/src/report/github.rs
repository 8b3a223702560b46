//! GitHub Actions workflow commands: one `::error` (or `::warning`, `::notice`) line per
//! drift, pointing at the manifest or lock line the component violates, so the runner
//! annotates that line of the pull request; then the verdict as plain text.
//!
//! Shape: `::error file=envsync.toml,line=20,title=envsync: deb:openssl changed::changed:
//! 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1 (newer, patch)`. Property values escape `%`, CR,
//! LF, `:` and `,`; messages escape `%`, CR and LF, as the runner's own toolkit does.
//! Control characters from a target are written out visibly first ([`super::escape()`]),
//! so a package name cannot start a workflow command of its own.

use crate::check::{Checked, Finding, Status};
use crate::fleet::Fleet;

/// The workflow commands for a check or diff, then the verdict line.
pub fn render(c: &Checked) -> String {
    let mut out = String::new();
    for f in &c.findings {
        out.push_str(&finding(f));
    }
    for ig in &c.expired {
        let (file, line) = (ig.file.as_deref(), ig.line);
        out.push_str(&command(
            "error",
            file,
            line,
            &format!("envsync: ignore {} expired", ig.component),
            &format!(
                "ignore `{}` expired on {}; renew it with a reason or remove it",
                ig.component,
                ig.until.as_deref().unwrap_or("?")
            ),
        ));
    }
    out.push_str(&super::escape(&c.verdict()));
    out.push('\n');
    out
}

/// One line per drifted component and target (targets that could not be read are
/// errors), then how many targets drifted.
pub fn render_fleet(fleet: &Fleet) -> String {
    let mut out = String::new();
    let mut drifted = 0;
    for t in &fleet.targets {
        match &t.result {
            Ok(diff) => {
                if !diff.drift.is_empty() {
                    drifted += 1;
                }
                for d in &diff.drift {
                    out.push_str(&command(
                        "error",
                        None,
                        None,
                        &format!("envsync: {} {} on {}", d.id(), d.kind.as_str(), t.name),
                        &d.describe(),
                    ));
                }
            }
            Err(reason) => {
                drifted += 1;
                out.push_str(&command(
                    "error",
                    None,
                    None,
                    &format!("envsync: {} could not be read", t.name),
                    reason,
                ));
            }
        }
    }
    out.push_str(&format!(
        "{drifted} of {} targets differ from {}\n",
        fleet.targets.len(),
        super::escape(&fleet.reference)
    ));
    out
}

fn finding(f: &Finding) -> String {
    let d = &f.drift;
    let level = match f.status {
        Status::Fail => "error",
        Status::Warn => "warning",
        Status::Ignored => "notice",
    };
    let mut message = d.describe();
    if let Some(ig) = &f.ignored_by {
        let state = if ig.expired {
            "the ignore expired"
        } else {
            "ignored"
        };
        message.push_str(&format!(" ({state}: {})", ig.reason));
    }
    if let Some(fix) = &f.fix {
        message.push_str(&format!("\nfix: {fix}"));
    }
    let place = f.violates.as_ref();
    command(
        level,
        place.map(|p| p.file.as_str()),
        place.map(|p| p.line),
        &format!("envsync: {} {}", d.id(), d.kind.as_str()),
        &message,
    )
}

fn command(
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(file) = file {
        props.push(format!("file={}", property(file)));
        if let Some(line) = line.filter(|l| *l > 0) {
            props.push(format!("line={line}"));
        }
    }
    props.push(format!("title={}", property(title)));
    format!("::{level} {}::{}\n", props.join(","), data(message))
}

/// A message: `%`, CR and LF escaped, after the target's control characters are made
/// visible (a line break stays a line break, as `%0A`).
fn data(text: &str) -> String {
    super::escape_lines(text)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: as [`data`], and `:` and `,` too.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(
            data("50%\nnext\r"),
            "50%25%0Anext\\r",
            "a bare CR is written out"
        );
        assert_eq!(property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(
            command("error", Some("envsync.toml"), Some(20), "t: x", "m"),
            "::error file=envsync.toml,line=20,title=t%3A x::m\n"
        );
        assert_eq!(
            command("warning", None, Some(3), "t", "m"),
            "::warning title=t::m\n",
            "a line without a file is left out"
        );
        // A target cannot open a workflow command of its own: its line break is
        // escaped, so `::` never starts a line.
        let hostile = data("x\n::error::owned");
        assert!(!hostile.contains('\n'), "{hostile}");
    }
}
