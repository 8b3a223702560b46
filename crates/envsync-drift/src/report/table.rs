//! The report for people: a table of drift, notes on where each drift comes from and how
//! to fix it, and a one-line verdict. Colour only when the caller says the output is a
//! terminal that wants it. Every piece of text that came from a target (names,
//! versions, target names, error messages) goes through [`escape()`], so what a target
//! holds can never move the cursor, retitle the terminal or reorder a row.

use comfy_table::{presets, Attribute, Cell, Color, ContentArrangement, Table};
use envsync_manifest::policy::DriftKind;

use crate::check::{Checked, Finding, Mode, Status};
use crate::compare::{short_version, size_str, Drift};
use crate::fleet::{self, arrow, Fleet};

use super::{escape, Errored};

/// A cell holding text that may have come from a target.
fn text_cell(text: &str) -> Cell {
    Cell::new(escape(text))
}

fn new_table(header: Vec<String>, color: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    if color {
        table.enforce_styling();
        // Wrap to the terminal only when its width is known and usable; a pseudo-terminal
        // reporting width 0 would otherwise squash every column to nothing.
        let usable = table.width().is_some_and(|w| w >= 40);
        table.set_content_arrangement(if usable {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        });
    } else {
        // Not a terminal: no width guess and no styling, so the text is the same everywhere.
        table.force_no_tty();
        table.set_content_arrangement(ContentArrangement::Disabled);
    }
    table.set_header(
        header
            .into_iter()
            .map(|h| paint(text_cell(&h), color, None, true)),
    );
    table
}

fn paint(cell: Cell, color: bool, fg: Option<Color>, bold: bool) -> Cell {
    if !color {
        return cell;
    }
    let cell = match fg {
        Some(fg) => cell.fg(fg),
        None => cell,
    };
    if bold {
        cell.add_attribute(Attribute::Bold)
    } else {
        cell
    }
}

/// `↑ patch`, `↓ major`, `≠ contents`, or empty for missing/extra.
pub fn change_text(d: &Drift) -> String {
    match (d.kind, d.size) {
        (DriftKind::Changed, Some(size)) if d.direction.is_some() => {
            format!("{} {}", arrow(d.direction), size_str(size))
        }
        (DriftKind::Changed, _) => format!("{} contents", arrow(None)),
        _ => String::new(),
    }
}

fn status_color(status: Status) -> Color {
    match status {
        Status::Fail => Color::Red,
        Status::Warn => Color::Yellow,
        Status::Ignored => Color::DarkGrey,
    }
}

fn verdict_line(text: String, failed: bool, color: bool) -> String {
    if color {
        let code = if failed { "1;31" } else { "1;32" };
        format!("\x1b[{code}m{text}\x1b[0m\n")
    } else {
        format!("{text}\n")
    }
}

fn dash(v: Option<&str>) -> String {
    v.map_or_else(
        || "-".to_string(),
        |v| escape(&short_version(v)).into_owned(),
    )
}

/// The text of a comparison that could not be made: what was compared, `ERROR`, and
/// the reason, each line [escaped](escape()).
pub fn render_error(e: &Errored, color: bool) -> String {
    let mut out = format!(
        "envsync {} {} vs {}\n",
        e.command(),
        escape(&e.other),
        escape(&e.reference)
    );
    for line in e.reason.lines() {
        out.push_str(&format!("  {}\n", escape(line)));
    }
    out.push_str(&verdict_line("ERROR".to_string(), true, color));
    out
}

/// The table of a diff or a check: what was compared, the drift table, for a check the
/// failing, ignored and expired lines, then the verdict.
pub fn render(c: &Checked, color: bool) -> String {
    let check = c.mode == Mode::Check;
    let mut out = if check {
        format!(
            "checked:  {}\nexpected: {}\n",
            escape(&c.diff.other),
            escape(&c.diff.reference)
        )
    } else {
        format!(
            "reference: {}\nother:     {}\n",
            escape(&c.diff.reference),
            escape(&c.diff.other)
        )
    };
    let shown: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.status != Status::Ignored)
        .collect();
    if !shown.is_empty() {
        out.push_str(&drift_table(&shown, check, color));
        out.push('\n');
    }
    if check {
        let failing: Vec<String> = shown
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| failing_line(f))
            .collect();
        section(&mut out, "failing:", &failing);
        let ignored: Vec<String> = c
            .findings
            .iter()
            .filter(|f| f.status == Status::Ignored)
            .map(ignored_line)
            .collect();
        section(&mut out, "ignored:", &ignored);
        let expired: Vec<String> = c
            .expired
            .iter()
            .map(|ig| {
                escape(&format!(
                    "  `{}` at {} expired on {} — {}",
                    ig.component,
                    ig.place(),
                    ig.until.as_deref().unwrap_or("?"),
                    ig.reason
                ))
                .into_owned()
            })
            .collect();
        section(
            &mut out,
            "expired ignores (remove them or extend `until`):",
            &expired,
        );
    }
    out.push_str(&verdict_line(c.verdict(), c.failed(), color));
    out
}

/// `title` and one line each, when there are any lines.
fn section(out: &mut String, title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    out.push_str(title);
    out.push('\n');
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
}

/// One row per shown drift; a check adds a status column first.
fn drift_table(shown: &[&Finding], check: bool, color: bool) -> String {
    let header = if check {
        vec!["status", "component", "kind", "expected", "found", "change"]
    } else {
        vec!["component", "kind", "reference", "other", "change"]
    };
    let mut table = new_table(header.into_iter().map(String::from).collect(), color);
    for f in shown {
        let d = &f.drift;
        let mut row = Vec::new();
        if check {
            let status = format!("{:?}", f.status).to_lowercase();
            row.push(paint(
                Cell::new(status),
                color,
                Some(status_color(f.status)),
                false,
            ));
        }
        row.push(text_cell(&d.label()));
        let kind_color = if check { None } else { Some(Color::Red) };
        row.push(paint(Cell::new(d.kind.as_str()), color, kind_color, false));
        row.push(Cell::new(dash(d.left.as_deref())));
        row.push(Cell::new(dash(d.right.as_deref())));
        row.push(Cell::new(change_text(d)));
        table.add_row(row);
    }
    table.to_string()
}

/// `  deb:openssl violates envsync.toml:20 (openssl = "3.0.*"); fix: …`, escaped.
fn failing_line(f: &Finding) -> String {
    let mut line = format!("  {}", f.drift.label());
    if let Some(v) = &f.violates {
        line.push_str(&format!(" violates {v}"));
        if let Some(entry) = &v.entry {
            line.push_str(&format!(" ({entry})"));
        }
    }
    if let Some(ig) = f.ignored_by.as_ref().filter(|i| i.expired) {
        line.push_str(&format!(
            "; its ignore at {} expired on {}",
            ig.place(),
            ig.until.as_deref().unwrap_or("?")
        ));
    }
    if let Some(fix) = &f.fix {
        line.push_str(&format!("; fix: {fix}"));
    }
    escape(&line).into_owned()
}

/// `  deb:tzdata changed: … — the reason (envsync.toml:31, until 2027-03-01)`, escaped.
fn ignored_line(f: &Finding) -> String {
    let mut line = format!("  {} {}", f.drift.label(), f.drift.describe());
    if let Some(ig) = &f.ignored_by {
        line.push_str(&format!(" — {} ({}", ig.reason, ig.place()));
        if let Some(until) = &ig.until {
            line.push_str(&format!(", until {until}"));
        }
        line.push(')');
    }
    escape(&line).into_owned()
}

/// The fleet matrix: component × group of hosts with the same drift (a group of one
/// is headed by its host), a summary row, then every group with its hosts (hosts that
/// could not be collected each with their error), then the verdict.
pub fn render_fleet(f: &Fleet, color: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("reference: {}\n", escape(&f.reference)));
    let groups = f.groups();
    let mut header = vec!["component".to_string(), f.reference.clone()];
    header.extend(groups.iter().map(|g| f.group_label(g)));
    let mut table = new_table(header, color);
    for row in f.rows() {
        let mut cells = vec![
            text_cell(&row.id()),
            Cell::new(dash(row.reference.as_deref())),
        ];
        for group in &groups {
            let cell = &row.cells[group.members[0]];
            let fg = match cell {
                fleet::Cell::Same | fleet::Cell::Absent => None,
                fleet::Cell::Error => Some(Color::Magenta),
                _ => Some(Color::Red),
            };
            cells.push(paint(text_cell(&cell.text()), color, fg, false));
        }
        table.add_row(cells);
    }
    let summaries = f.summaries();
    let mut summary = vec![
        paint(Cell::new("summary"), color, None, true),
        Cell::new(""),
    ];
    for group in &groups {
        let first = group.members[0];
        let text = match (&summaries[first], &f.targets[first].result) {
            (Some(s), _) => s.phrase(),
            (None, Err(e)) if group.members.len() == 1 => format!("error: {e}"),
            (None, _) => "error".to_string(),
        };
        summary.push(text_cell(&text));
    }
    table.add_row(summary);
    out.push_str(&table.to_string());
    out.push('\n');
    out.push_str(&group_lines(f, &groups));
    out.push_str(&verdict_line(
        f.verdict(),
        f.failed_targets() > 0 || f.has_drift(),
        color,
    ));
    out
}

/// Every group on a line (`37 hosts: deb:openssl 3.0.20 ↓ patch`) with its hosts on the
/// next; hosts that could not be collected each on a line with their error. Escaped.
fn group_lines(f: &Fleet, groups: &[fleet::HostGroup]) -> String {
    let mut out = String::new();
    for g in groups {
        out.push_str(&escape(&f.group_phrase(g)));
        out.push('\n');
        if g.failed {
            for &i in &g.members {
                let t = &f.targets[i];
                let error = t.result.as_ref().err().map_or("", String::as_str);
                out.push_str(&format!("  {}: {}\n", escape(&t.name), escape(error)));
            }
        } else {
            let names: Vec<&str> = g
                .members
                .iter()
                .map(|&i| f.targets[i].name.as_str())
                .collect();
            out.push_str(&format!("  {}\n", escape(&names.join(", "))));
        }
    }
    out
}
