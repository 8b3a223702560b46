//! One self-contained HTML page for people who look at a browser: the verdict, the
//! groups of hosts with the same drift, the fleet matrix (component × group) and each
//! host's detail; with a history store, each host's latest changes and audits. Also the
//! page of an `envsync audit` run: each host's outcome and its history. No script, no
//! external resource (a Content-Security-Policy of `default-src 'none'` says so to the
//! browser); styles are inline. Text from targets and stores is made terminal-safe by
//! [`escape()`] and then HTML-escaped.

use std::fmt::Write as _;

use envsync_manifest::policy::DriftKind;

use crate::compare::{direction_str, short_version, size_str};
use crate::fleet::{self, Fleet};

use super::escape;
use super::history::{AuditRun, AuditStatus, HostHistory, StoreHistory};

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
section.host{border-top:1px solid #ddd;margin-top:1em}section.history h4{margin:.8em 0 .2em}\
section.history p{color:#555}h3 .changed{color:#a11}h3 .failed,h3 .incomparable{color:#80a}\
h3 .baseline,h3 .unchanged{color:#176f2c}";

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
    render_fleet_with_history(f, None)
}

/// The page of a fleet, with a History section in each host's detail when `history`
/// (read from a store) is given.
pub fn render_fleet_with_history(f: &Fleet, history: Option<&StoreHistory>) -> String {
    let verdict = f.verdict();
    let class = f.status();
    let mut out = String::new();
    head(
        &mut out,
        &format!("{verdict} against {}", f.reference),
        "envsync fleet report",
        &verdict,
        class,
    );
    let _ = writeln!(
        out,
        "<p>reference <code id=\"reference\">{}</code>, {} targets</p>",
        h(&f.reference),
        f.targets.len()
    );
    if let Some(history) = history {
        let _ = writeln!(
            out,
            "<p>history from <code id=\"store\">{}</code></p>",
            h(&history.store)
        );
    }
    groups(&mut out, f);
    matrix(&mut out, f);
    hosts(&mut out, f, history);
    out.push_str("</body>\n</html>\n");
    out
}

/// The page of an `envsync audit` run: the verdict, then each host's outcome and its
/// history from the store the audit wrote.
pub fn render_audit(run: &AuditRun, history: &StoreHistory) -> String {
    let class = if run
        .hosts
        .iter()
        .any(|x| matches!(x.status, AuditStatus::Failed | AuditStatus::Incomparable))
    {
        "error"
    } else if run.hosts.iter().any(|x| x.status == AuditStatus::Changed) {
        "drift"
    } else {
        "parity"
    };
    let mut out = String::new();
    head(
        &mut out,
        &run.verdict,
        "envsync audit report",
        &run.verdict,
        class,
    );
    let _ = writeln!(
        out,
        "<p>{} targets, history from <code id=\"store\">{}</code></p>\n<h2>Hosts</h2>",
        run.hosts.len(),
        h(&history.store)
    );
    for (i, x) in run.hosts.iter().enumerate() {
        let status = x.status.as_str();
        let _ = write!(
            out,
            "<section class=\"host\" id=\"host-{i}\" data-status=\"{status}\">\n<h3><span class=\"name\">{}</span> <span class=\"{status}\">{status}</span></h3>\n<p class=\"outcome\">{}</p>\n",
            h(&x.target),
            h(&x.detail)
        );
        history_section(&mut out, &x.target, history);
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The document's start, up to and including the verdict paragraph.
fn head(out: &mut String, title: &str, heading: &str, verdict: &str, class: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<title>envsync: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
<h1>{heading}</h1>\n<p id=\"verdict\" class=\"verdict {class}\">{}</p>\n",
        h(title),
        h(verdict),
    );
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

fn hosts(out: &mut String, f: &Fleet, history: Option<&StoreHistory>) {
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
        if let Some(history) = history {
            history_section(out, &t.name, history);
        }
        out.push_str("</section>\n");
    }
}

/// A host's History section: its latest changes, newest first, with the span of its
/// audits; or that the store holds no audit of it, or no change.
fn history_section(out: &mut String, target: &str, history: &StoreHistory) {
    let Some(host) = history.host(target).filter(|x| x.audits.count > 0) else {
        let _ = writeln!(
            out,
            "<section class=\"history\" data-changes=\"0\">\n<h4>History</h4>\n<p class=\"no-history\">no audit of this host is stored in <code>{}</code></p>\n</section>",
            h(&history.store)
        );
        return;
    };
    let _ = writeln!(
        out,
        "<section class=\"history\" data-changes=\"{}\">\n<h4>History</h4>",
        host.changes.len() + host.older
    );
    audits(out, host);
    if host.changes.is_empty() {
        out.push_str("<p class=\"no-changes\">no changes in the audits stored</p>\n</section>\n");
        return;
    }
    out.push_str("<table class=\"changes\"><thead><tr><th>changed at</th><th>component</th><th>from</th><th>to</th></tr></thead><tbody>\n");
    for c in &host.changes {
        let version = |v: &Option<String>| match v {
            Some(v) => h(&short_version(v)),
            None => "-".to_string(),
        };
        let to = match (&c.from, &c.to) {
            (Some(_), Some(_)) => format!("{} {}", version(&c.to), fleet::arrow(c.direction)),
            (None, Some(_)) => format!("{} (added)", version(&c.to)),
            _ => "removed".to_string(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"at\"><time>{}</time></td><td class=\"component\">{}</td><td class=\"from\">{}</td><td class=\"to\">{to}</td></tr>",
            h(&c.at),
            h(&c.component),
            version(&c.from),
        );
    }
    out.push_str("</tbody></table>\n");
    if host.older > 0 {
        let _ = writeln!(
            out,
            "<p class=\"older\">and {} older changes: <code>envsync history {}</code></p>",
            host.older,
            h(&host.target)
        );
    }
    out.push_str("</section>\n");
}

/// `3 audits from <time>…</time> to <time>…</time> (1 failed)`.
fn audits(out: &mut String, host: &HostHistory) {
    let a = &host.audits;
    let noun = if a.count == 1 { "audit" } else { "audits" };
    let _ = write!(out, "<p class=\"audits\">{} {noun}", a.count);
    if let (Some(first), Some(last)) = (&a.first, &a.last) {
        let _ = write!(
            out,
            ", first <time class=\"first\">{}</time>, last <time class=\"last\">{}</time>",
            h(first),
            h(last)
        );
    }
    if a.failed > 0 {
        let _ = write!(out, " ({} failed)", a.failed);
    }
    out.push_str("</p>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::FleetTarget;
    use crate::report::escape;
    use crate::report::history::{AuditedHost, Audits, HistoryChange};

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

    fn hostile_history() -> StoreHistory {
        StoreHistory {
            store: "/tmp/h<1>.sqlite".into(),
            hosts: vec![HostHistory {
                target: "web-1".into(),
                changes: vec![HistoryChange {
                    component: "deb:<script>alert(1)</script>\u{1b}]0;PWNED\u{7}".into(),
                    from: Some("1.0<b>\"'&".into()),
                    to: Some("2.0\u{202E}".into()),
                    direction: Some(envsync_manifest::version::Direction::Newer),
                    at: "2026-03-01T10:00:00Z".into(),
                }],
                older: 2,
                audits: Audits {
                    count: 3,
                    failed: 1,
                    first: Some("2026-02-01T10:00:00Z".into()),
                    last: Some("2026-03-01T10:00:00Z".into()),
                },
            }],
        }
    }

    fn assert_escaped(page: &str) {
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(
            !page.chars().any(|c| c != '\n' && escape::is_unsafe(c)),
            "{page}"
        );
        assert!(
            page.contains("<td class=\"component\">deb:&lt;script&gt;alert(1)&lt;/script&gt;\\u{1b}]0;PWNED\\u{7}</td>"),
            "{page}"
        );
        assert!(
            page.contains("<td class=\"from\">1.0&lt;b&gt;&quot;&#39;&amp;</td><td class=\"to\">2.0\\u{202e} ↑</td>"),
            "{page}"
        );
        assert!(
            page.contains("<code>/tmp/h&lt;1&gt;.sqlite</code>"),
            "{page}"
        );
    }

    #[test]
    fn history_is_escaped_and_says_when_a_host_has_none() {
        let empty = |name: &str| FleetTarget {
            name: name.into(),
            result: Ok(crate::compare::Diff {
                reference: "ref".into(),
                other: name.into(),
                drift: Vec::new(),
                same: Vec::new(),
            }),
        };
        let f = Fleet {
            reference: "ref".into(),
            targets: vec![empty("web-1"), empty("web-2")],
        };
        let history = hostile_history();
        let page = render_fleet_with_history(&f, Some(&history));
        assert_escaped(&page);
        assert_eq!(page.matches("<section class=\"history\"").count(), 2);
        assert!(page.contains("<p class=\"audits\">3 audits, first <time class=\"first\">2026-02-01T10:00:00Z</time>, last <time class=\"last\">2026-03-01T10:00:00Z</time> (1 failed)</p>"), "{page}");
        assert!(
            page.contains("and 2 older changes: <code>envsync history web-1</code>"),
            "{page}"
        );
        let web2 = page.split("id=\"host-1\"").nth(1).expect("web-2's section");
        assert!(
            web2.contains("<p class=\"no-history\">no audit of this host is stored"),
            "{web2}"
        );
        // Without a store, no History section, as before.
        assert!(!render_fleet(&f).contains("History"));

        let run = AuditRun {
            verdict: "audit: 1 of 2 targets changed".into(),
            hosts: vec![
                AuditedHost {
                    target: "web-1".into(),
                    status: AuditStatus::Changed,
                    detail: "1 change since <then>".into(),
                },
                AuditedHost {
                    target: "<web-2>".into(),
                    status: AuditStatus::Failed,
                    detail: "collection failed: \u{1b}[2J".into(),
                },
            ],
        };
        let page = render_audit(&run, &history);
        assert_escaped(&page);
        assert!(page.contains("1 change since &lt;then&gt;"), "{page}");
        assert!(
            page.contains("<span class=\"name\">&lt;web-2&gt;</span>"),
            "{page}"
        );
        assert!(page.contains("class=\"verdict error\""), "{page}");
    }
}
