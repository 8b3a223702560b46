//! The machine-readable report, `envsync.diff/v1`: `schema`, `drift[]` with
//! `ecosystem`, `name`, `kind`, `left`, `right`, `direction`, plus the extras documented
//! in docs (summary, verdict, policy findings, fleet targets).

use serde::Serialize;

use crate::check::{Checked, Finding, IgnoreRef, Mode, SourceRef, Status};
use crate::compare::{Diff, Drift, Summary};
use crate::fleet::{Fleet, FleetTarget};

use super::{Errored, DIFF_SCHEMA};

/// The `envsync.diff/v1` document of one comparison, for embedding in other documents
/// (`envsync.build/v1`, `envsync.up/v1`) without rendering it to text first.
#[derive(Debug, Serialize)]
pub struct DiffReport<'a> {
    schema: &'static str,
    /// `diff` or `check`.
    command: &'static str,
    reference: &'a str,
    other: &'a str,
    /// `parity`, `drift`, `pass` or `fail` (`error` is [`ErrorReport`]'s).
    verdict: String,
    summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_on: Option<Vec<String>>,
    /// Drift that counts (everything but ignored drift), sorted by component.
    drift: Vec<Entry<'a>>,
    /// Drift accepted by a live ignore (`check` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    ignored: Option<Vec<Entry<'a>>>,
    /// Ignores whose date has passed; each fails the check (`check` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    expired_ignores: Option<Vec<&'a IgnoreRef>>,
}

#[derive(Debug, Serialize)]
struct Entry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(flatten)]
    drift: &'a Drift,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    violates: Option<&'a SourceRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ignored_by: Option<&'a IgnoreRef>,
}

fn plain_entry<'a>(target: Option<&'a str>, drift: &'a Drift) -> Entry<'a> {
    Entry {
        target,
        drift,
        status: None,
        violates: None,
        fix: None,
        ignored_by: None,
    }
}

fn to_text(value: &impl Serialize) -> String {
    // Serialising these plain structs (strings, numbers, enums with unit variants) to a
    // String cannot fail: serde_json only errors on non-string map keys or IO.
    let mut text = super::json_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn finding_entry(f: &Finding, check: bool) -> Entry<'_> {
    if check {
        Entry {
            target: None,
            drift: &f.drift,
            status: Some(f.status),
            violates: f.violates.as_ref(),
            fix: f.fix.as_deref(),
            ignored_by: f.ignored_by.as_ref(),
        }
    } else {
        plain_entry(None, &f.drift)
    }
}

/// `envsync.diff/v1` for a diff or a check.
pub fn render(c: &Checked) -> String {
    to_text(&document(c))
}

/// The `envsync.diff/v1` document of a diff or a check.
pub fn document(c: &Checked) -> DiffReport<'_> {
    let check = c.mode == Mode::Check;
    let to_entry = |f| finding_entry(f, check);
    DiffReport {
        schema: DIFF_SCHEMA,
        command: if check { "check" } else { "diff" },
        reference: &c.diff.reference,
        other: &c.diff.other,
        verdict: c.verdict_word().to_lowercase(),
        summary: c.summary(),
        fail_on: check.then(|| c.fail_on.iter().map(|r| r.to_string()).collect()),
        drift: c
            .findings
            .iter()
            .filter(|f| f.status != Status::Ignored)
            .map(to_entry)
            .collect(),
        ignored: check.then(|| {
            c.findings
                .iter()
                .filter(|f| f.status == Status::Ignored)
                .map(to_entry)
                .collect()
        }),
        expired_ignores: check.then(|| c.expired.iter().collect()),
    }
}

/// The `envsync.diff/v1` document of a comparison that could not be made: verdict
/// `error`, the reason, and no drift. `summary` is absent: nothing was compared.
#[derive(Debug, Serialize)]
pub struct ErrorReport<'a> {
    schema: &'static str,
    command: &'static str,
    reference: &'a str,
    other: &'a str,
    /// Always `error`.
    verdict: &'static str,
    /// What failed, with its causes.
    error: &'a str,
    /// Always empty, so readers that walk `drift[]` need no special case.
    drift: [(); 0],
}

/// The `envsync.diff/v1` document of a comparison that could not be made.
pub fn error_document(e: &Errored) -> ErrorReport<'_> {
    ErrorReport {
        schema: DIFF_SCHEMA,
        command: e.command(),
        reference: &e.reference,
        other: &e.other,
        verdict: "error",
        error: &e.reason,
        drift: [],
    }
}

/// `envsync.diff/v1` for a comparison that could not be made.
pub fn render_error(e: &Errored) -> String {
    to_text(&error_document(e))
}

#[derive(Serialize)]
struct FleetReport<'a> {
    schema: &'static str,
    command: &'static str,
    reference: &'a str,
    /// `parity`, `drift` or `error`.
    verdict: &'static str,
    targets: Vec<TargetEntry<'a>>,
    /// Every drift on every target; each entry names its `target`.
    drift: Vec<Entry<'a>>,
    /// Hosts with the same drift, largest group first; hosts that could not be
    /// collected last, as one group with status `error`.
    groups: Vec<GroupEntry<'a>>,
}

#[derive(Serialize)]
struct GroupEntry<'a> {
    /// `parity`, `drift` or `error`.
    status: &'static str,
    /// `37 hosts: deb:openssl 3.0.20 ↓ patch`.
    phrase: String,
    hosts: Vec<&'a str>,
    /// The drift every host of the group has (empty for `parity` and `error`).
    drift: &'a [Drift],
}

#[derive(Serialize)]
struct TargetEntry<'a> {
    target: &'a str,
    /// `parity`, `drift` or `error`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
}

fn entry(t: &FleetTarget) -> TargetEntry<'_> {
    match &t.result {
        Ok(diff) => target_entry(&t.name, diff),
        Err(err) => error_entry(&t.name, err),
    }
}

fn target_entry<'a>(name: &'a str, diff: &Diff) -> TargetEntry<'a> {
    let summary = diff.summary();
    TargetEntry {
        target: name,
        status: if summary.has_drift() {
            "drift"
        } else {
            "parity"
        },
        error: None,
        summary: Some(summary),
    }
}

fn error_entry<'a>(name: &'a str, err: &'a str) -> TargetEntry<'a> {
    TargetEntry {
        target: name,
        status: "error",
        error: Some(err),
        summary: None,
    }
}

/// `envsync.diff/v1` for many targets against one reference.
pub fn render_fleet(fleet: &Fleet) -> String {
    let verdict = fleet.status();
    let targets = fleet.targets.iter().map(entry).collect();
    let drift = fleet
        .targets
        .iter()
        .filter_map(|t| t.result.as_ref().ok().map(|d| (t.name.as_str(), d)))
        .flat_map(|(name, d)| d.drift.iter().map(move |x| plain_entry(Some(name), x)))
        .collect();
    let groups = fleet
        .groups()
        .iter()
        .map(|g| {
            let drift = fleet.group_drift(g);
            GroupEntry {
                status: if g.failed {
                    "error"
                } else if drift.is_empty() {
                    "parity"
                } else {
                    "drift"
                },
                phrase: fleet.group_phrase(g),
                hosts: g
                    .members
                    .iter()
                    .map(|&i| fleet.targets[i].name.as_str())
                    .collect(),
                drift,
            }
        })
        .collect();
    to_text(&FleetReport {
        schema: DIFF_SCHEMA,
        command: "diff",
        reference: &fleet.reference,
        verdict,
        targets,
        drift,
        groups,
    })
}

/// Schema of `envsync diff --stream`'s lines.
pub const STREAM_SCHEMA: &str = "envsync.diff-stream/v1";

#[derive(Serialize)]
struct StreamLine<'a> {
    schema: &'static str,
    reference: &'a str,
    #[serde(flatten)]
    target: TargetEntry<'a>,
    /// This target's drift (empty for `parity` and `error`).
    drift: Vec<Entry<'a>>,
}

/// One line of `envsync diff --stream`: target `name` compared with `reference` (its
/// diff, or why it could not be compared), as compact JSON without a line break.
pub fn render_stream_target(reference: &str, name: &str, result: &Result<Diff, String>) -> String {
    let (target, drift) = match result {
        Ok(diff) => (
            target_entry(name, diff),
            diff.drift
                .iter()
                .map(|d| plain_entry(Some(name), d))
                .collect(),
        ),
        Err(err) => (error_entry(name, err), Vec::new()),
    };
    serde_json::to_string(&StreamLine {
        schema: STREAM_SCHEMA,
        reference,
        target,
        drift,
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct StreamEnd<'a> {
    schema: &'static str,
    reference: &'a str,
    /// Always `true`: the last line.
    done: bool,
    /// `parity`, `drift` or `error`, as the fleet report's.
    verdict: &'static str,
    targets: usize,
    parity: usize,
    drift: usize,
    error: usize,
}

/// The last line of `envsync diff --stream`: the fleet's verdict and counts.
pub fn render_stream_end(fleet: &Fleet) -> String {
    let count = |status: &str| {
        fleet
            .targets
            .iter()
            .filter(|t| entry(t).status == status)
            .count()
    };
    serde_json::to_string(&StreamEnd {
        schema: STREAM_SCHEMA,
        reference: &fleet.reference,
        done: true,
        verdict: fleet.status(),
        targets: fleet.targets.len(),
        parity: count("parity"),
        drift: count("drift"),
        error: count("error"),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::check::plain;
    use crate::compare::diff;
    use crate::snapshot::{Package, Snapshot};
    use envsync_manifest::Ecosystem;

    fn snap(version: &str) -> Snapshot {
        Snapshot {
            schema: crate::SNAPSHOT_SCHEMA.into(),
            target: format!("t{version}"),
            collected_at: None,
            digest: None,
            complete: true,
            hash_key: None,
            on_path: Default::default(),
            os: None,
            packages: vec![Package {
                ecosystem: Ecosystem::Deb,
                name: "openssl".into(),
                version: version.into(),
                arch: None,
                location: None,
                size: None,
                mode: None,
            }],
            warnings: Vec::new(),
        }
    }

    /// The minimal stable part of `envsync.diff/v1`, exactly as DESIGN.md shows it.
    #[test]
    fn contract_fields() {
        let text = super::render(&plain(diff(
            &snap("3.0.11-1~deb12u2"),
            &snap("3.0.15-1~deb12u1"),
        )));
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["schema"], "envsync.diff/v1");
        assert_eq!(
            v["drift"][0],
            serde_json::json!({
                "ecosystem": "deb", "name": "openssl", "kind": "changed",
                "left": "3.0.11-1~deb12u2", "right": "3.0.15-1~deb12u1",
                "direction": "newer", "size": "patch"
            })
        );
        assert_eq!(v["verdict"], "drift");
    }
}
