//! One self-contained HTML page for people who look at a browser: the verdict, the
//! groups of hosts with the same drift, the fleet matrix (component × group) and each
//! host's detail. No script, no external resource (a Content-Security-Policy of
//! `default-src 'none'` says so to the browser); styles are inline. Text from targets
//! is made terminal-safe by [`escape()`] and then HTML-escaped.

use std::fmt::Write as _;

use envsync_manifest::policy::DriftKind;

use crate::compare::{direction_str, short_version, size_str};
use crate::fleet::{self, Fleet};

use super::escape;

/// HTML text: terminal-safe, then `& < > " '` as entities.
fn h(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in escape(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
thead th{background:#eee}.verdict{font-size:1.3em;font-weight:bold}.parity{color:#176f2c}.drift{color:#a11}.error{color:#80a}\
td.changed,td.missing,td.extra{background:#fde8e8}td.error{background:#f3e5f7}code{font-size:.95em}\
section.host{border-top:1px solid #ddd;margin-top:1em}";

fn status_class(f: &Fleet, i: usize) -> &'static str {
    match &f.targets[i].result {
        Err(_) => "error",
        Ok(d) if d.drift.is_empty() => "parity",
        Ok(_) => "drift",
    }
}

fn cell_class(c: &fleet::Cell) -> &'static str {
    match c {
        fleet::Cell::Same | fleet::Cell::Absent => "same",
        fleet::Cell::Changed { .. } => "changed",
        fleet::Cell::Missing => "missing",
        fleet::Cell::Extra { .. } => "extra",
        fleet::Cell::Error => "error",
    }
}

/// The page of a fleet (a pair is a fleet of one target).
pub fn render_fleet(f: &Fleet) -> String {
    let verdict = f.verdict();
    let class = if f.failed_targets() > 0 {
        "error"
    } else if f.has_drift() {
        "drift"
    } else {
        "parity"
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<title>envsync: {} against {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<h1>envsync fleet report</h1>\n<p id=\"verdict\" class=\"verdict {class}\">{}</p>\n\
<p>reference <code id=\"reference\">{}</code>, {} targets</p>\n",
        h(&verdict),
        h(&f.reference),
        h(&verdict),
        h(&f.reference),
        f.targets.len()
    );
    groups(&mut out, f);
    matrix(&mut out, f);
    hosts(&mut out, f);
    out.push_str("</body>\n</html>\n");
    out
}

fn groups(out: &mut String, f: &Fleet) {
    out.push_str("<h2>Groups</h2>\n<ul id=\"groups\">\n");
    for g in f.groups() {
        let status = if g.failed {
            "error"
        } else {
            status_class(f, g.members[0])
        };
        let _ = write!(
            out,
            "<li class=\"group {status}\" data-hosts=\"{}\"><span class=\"phrase\">{}</span>:",
            g.members.len(),
            h(&f.group_phrase(&g))
        );
        for &i in &g.members {
            let _ = write!(out, " <a href=\"#host-{i}\">{}</a>", h(&f.targets[i].name));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul>\n");
}

fn matrix(out: &mut String, f: &Fleet) {
    let groups = f.groups();
    let _ = write!(
        out,
        "<h2>Fleet matrix</h2>\n<table id=\"matrix\">\n<thead><tr><th>component</th><th>{}</th>",
        h(&f.reference)
    );
    for g in &groups {
        let _ = write!(
            out,
            "<th class=\"group\" data-hosts=\"{}\">{}</th>",
            g.members.len(),
            h(&f.group_label(g))
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in f.rows() {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td>",
            h(&row.id()),
            h(&row
                .reference
                .as_deref()
                .map(short_version)
                .unwrap_or("-".into()))
        );
        for g in &groups {
            let cell = &row.cells[g.members[0]];
            let _ = write!(
                out,
                "<td class=\"{}\">{}</td>",
                cell_class(cell),
                h(&cell.text())
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn hosts(out: &mut String, f: &Fleet) {
    out.push_str("<h2>Hosts</h2>\n");
    for (i, t) in f.targets.iter().enumerate() {
        let status = status_class(f, i);
        let _ = write!(
            out,
            "<section class=\"host\" id=\"host-{i}\" data-status=\"{status}\">\n<h3><span class=\"name\">{}</span> <span class=\"{status}\">{status}</span></h3>\n",
            h(&t.name)
        );
        match &t.result {
            Err(e) => {
                let _ = writeln!(out, "<p class=\"error\">{}</p>", h(e));
            }
            Ok(d) if d.drift.is_empty() => {
                let _ = writeln!(
                    out,
                    "<p>{} components, all as the reference</p>",
                    d.same.len()
                );
            }
            Ok(d) => {
                out.push_str("<table class=\"detail\"><thead><tr><th>component</th><th>kind</th><th>reference</th><th>this host</th><th>change</th></tr></thead><tbody>\n");
                for x in &d.drift {
                    let kind = match x.kind {
                        DriftKind::Missing => "missing",
                        DriftKind::Extra => "extra",
                        DriftKind::Changed => "changed",
                    };
                    let change = match (x.direction, x.size) {
                        (Some(d), Some(s)) => format!("{}, {}", direction_str(d), size_str(s)),
                        (Some(d), None) => direction_str(d).to_string(),
                        _ => String::new(),
                    };
                    let _ = writeln!(
                        out,
                        "<tr class=\"{kind}\"><td>{}</td><td>{kind}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        h(&x.label()),
                        h(&short_version(x.left.as_deref().unwrap_or("-"))),
                        h(&short_version(x.right.as_deref().unwrap_or("-"))),
                        h(&change)
                    );
                }
                out.push_str("</tbody></table>\n");
            }
        }
        out.push_str("</section>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::FleetTarget;

    #[test]
    fn target_text_is_escaped() {
        let f = Fleet {
            reference: "<ref>".into(),
            targets: vec![FleetTarget {
                name: "h&\u{1b}[2J".into(),
                result: Err("<script>alert(1)</script>".into()),
            }],
        };
        let page = render_fleet(&f);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains('\u{1b}'), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("h&amp;\\u{1b}[2J"), "{page}");
    }
}
