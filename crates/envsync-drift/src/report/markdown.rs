//! Markdown for pull-request comments and CI step summaries: a verdict line, a table of
//! the drift that counts, and ignored drift and expired ignores listed apart. All text
//! from a target passes through `cell`, which also [escapes](escape()) control and bidi
//! characters: the report is often read raw, on a terminal or in a CI log.

use crate::check::{Checked, Finding, Mode, Status};
use crate::compare::short_version;
use crate::fleet::Fleet;

use super::table::change_text;
use super::{escape, Errored};

/// One line with no control character: line breaks become spaces (a row is one line),
/// everything else unsafe is [escaped](escape) for whoever reads the Markdown raw.
fn one_line(text: &str) -> String {
    escape(&text.replace(['\n', '\r'], " ")).into_owned()
}

/// Make text safe inside a table cell: no pipes or newlines break the row.
fn cell(text: &str) -> String {
    one_line(text).replace('\\', "\\\\").replace('|', "\\|")
}

/// Inline code that survives backticks in the text. Backslashes are literal inside code
/// spans, so only pipes are escaped (GFM reads `\|` in a table cell as `|` even there).
fn code(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let inner = one_line(text).replace('|', "\\|");
    if text.contains('`') {
        format!("`` {inner} ``")
    } else {
        format!("`{inner}`")
    }
}

fn or_dash(v: Option<&str>) -> String {
    v.map(|v| code(&short_version(v)))
        .unwrap_or_else(|| "—".to_string())
}

/// Markdown for a comparison that could not be made: the verdict `error` and the reason.
pub fn render_error(e: &Errored) -> String {
    format!(
        "### ❌ envsync {}: ERROR\n\nreference {}, other {}\n\n**could not be compared:** {}\n",
        e.command(),
        code(&e.reference),
        code(&e.other),
        one_line(&e.reason)
    )
}

/// One table row: the drift, and for a check its status, the entry it violates and a
/// fix.
fn drift_row(f: &Finding, check: bool) -> String {
    let d = &f.drift;
    let common = format!(
        "{} | {} | {} | {} | {}",
        code(&d.label()),
        d.kind.as_str(),
        or_dash(d.left.as_deref()),
        or_dash(d.right.as_deref()),
        cell(&change_text(d))
    );
    if !check {
        return format!("| {common} |\n");
    }
    let status = match f.status {
        Status::Fail => "❌ fail",
        Status::Warn => "⚠️ warn",
        Status::Ignored => "ignored",
    };
    let mut violates = f
        .violates
        .as_ref()
        .map(|v| cell(&v.to_string()))
        .unwrap_or_default();
    if let Some(ig) = f.ignored_by.as_ref().filter(|i| i.expired) {
        violates.push_str(&cell(&format!(
            " (ignore at {} expired {})",
            ig.place(),
            ig.until.as_deref().unwrap_or("?")
        )));
    }
    format!(
        "| {status} | {common} | {} | {} |\n",
        violates.trim(),
        f.fix.as_deref().map(code).unwrap_or_default()
    )
}

/// Markdown for a diff or a check.
pub fn render(c: &Checked) -> String {
    let check = c.mode == Mode::Check;
    let mark = if c.failed() { "❌" } else { "✅" };
    let command = if check { "check" } else { "diff" };
    let mut out = format!(
        "### {mark} envsync {command}: {}\n\n**{}**\n\nreference {}, other {}\n",
        c.verdict_word(),
        cell(&c.verdict()),
        code(&c.diff.reference),
        code(&c.diff.other)
    );
    let shown: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.status != Status::Ignored)
        .collect();
    if !shown.is_empty() {
        out.push('\n');
        if check {
            out.push_str(
                "| status | component | kind | expected | found | change | violates | fix |\n",
            );
            out.push_str("|---|---|---|---|---|---|---|---|\n");
        } else {
            out.push_str("| component | kind | reference | other | change |\n");
            out.push_str("|---|---|---|---|---|\n");
        }
        for f in shown {
            out.push_str(&drift_row(f, check));
        }
    }
    let ignored: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.status == Status::Ignored)
        .collect();
    if !ignored.is_empty() {
        out.push_str("\n**Ignored**\n\n");
        for f in ignored {
            out.push_str(&format!(
                "- {} {}",
                code(&f.drift.label()),
                cell(&f.drift.describe())
            ));
            if let Some(ig) = &f.ignored_by {
                out.push_str(&format!(" — {} ({}", cell(&ig.reason), cell(&ig.place())));
                if let Some(until) = &ig.until {
                    out.push_str(&format!(", until {}", cell(until)));
                }
                out.push(')');
            }
            out.push('\n');
        }
    }
    if !c.expired.is_empty() {
        out.push_str(
            "\n**Expired ignores** (each fails the check; remove it or extend `until`)\n\n",
        );
        for ig in &c.expired {
            out.push_str(&format!(
                "- {} at {} expired on {} — {}\n",
                code(&ig.component),
                cell(&ig.place()),
                cell(ig.until.as_deref().unwrap_or("?")),
                cell(&ig.reason)
            ));
        }
    }
    out
}

/// Markdown for a fleet: the matrix with a summary row.
pub fn render_fleet(f: &Fleet) -> String {
    let failed = f.failed_targets() > 0 || f.has_drift();
    let mark = if failed { "❌" } else { "✅" };
    let mut out = format!(
        "### {mark} envsync diff: {} targets against {}\n\n**{}**\n\n",
        f.targets.len(),
        code(&f.reference),
        cell(&f.verdict())
    );
    out.push_str(&format!("| component | {} |", code(&f.reference)));
    for t in &f.targets {
        out.push_str(&format!(" {} |", code(&t.name)));
    }
    out.push('\n');
    out.push_str(&"|---".repeat(f.targets.len() + 2));
    out.push_str("|\n");
    for row in f.rows() {
        out.push_str(&format!(
            "| {} | {} |",
            code(&row.id()),
            or_dash(row.reference.as_deref())
        ));
        for c in &row.cells {
            out.push_str(&format!(" {} |", cell(&c.text())));
        }
        out.push('\n');
    }
    out.push_str("| **summary** | |");
    for (t, s) in f.targets.iter().zip(f.summaries()) {
        let text = match (s, &t.result) {
            (Some(s), _) => s.phrase(),
            (None, Err(e)) => format!("error: {e}"),
            (None, Ok(_)) => String::new(),
        };
        out.push_str(&format!(" {} |", cell(&text)));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(code(input), expected);
    }

    #[test]
    fn cells_cannot_break_the_table() {
        check("deb:openssl", "`deb:openssl`");
        check("a|b\nc", "`a\\|b c`");
        check("x`y", "`` x`y ``");
        check("", "");
        check("C:\\temp", "`C:\\temp`");
        check("\x1b]0;PWNED\x07", "`\\u{1b}]0;PWNED\\u{7}`");
        check("a\u{202E}b", "`a\\u{202e}b`");
    }
}
