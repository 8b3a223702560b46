//! `envsync audit TARGET…`: collect each target's snapshot, store it in the history
//! store, and report what is new since the target's previous collection. A target that
//! cannot be collected is reported and stored as a failed collection. `--format html`
//! writes one page with each target's outcome and its history from the store.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use envsync_drift::report::{escape, html, AuditRun, AuditStatus, AuditedHost, StoreHistory};
use envsync_history::{Audit, Pruned, Retention};

use super::diff::{load_all, Planned, Sources};
use super::history::{store_history, transition, with_store, StoreArg};
use super::output::{out, outln};
use crate::documents::{self, AuditedTarget};
use crate::inputs::Inputs;
use crate::Outcome;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Targets to audit: `docker:NAME`, `ssh://[user@]host[:port]`, `image:REF`, `local`,
    /// `local:/path`, a name from the manifest's `[targets]`, or a saved `FILE.json`
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub store: StoreArg,
    /// Keep at most N collections per target (the newest successful one is always kept)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep: Option<u64>,
    /// Drop collections older than PERIOD (`90d`, `2w`, `36h`); the newest successful
    /// one of each target is always kept
    #[arg(long, value_name = "PERIOD")]
    pub retain: Option<String>,
    /// Output format: `table`, `json`, or `html` (one self-contained page with each
    /// target's outcome and its latest changes from the store, e.g. `--format html >
    /// audit.html`)
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: AuditFormat,
    /// How many targets to collect at once
    #[arg(short = 'j', long, value_name = "N", default_value_t = 8)]
    pub jobs: usize,
    /// The manifest whose `[targets]` names the targets may be, and what to collect
    /// (its `[files]` and `[env]`)
    #[command(flatten)]
    pub inputs: Inputs,
}

/// `--format` of `audit`: the names every command uses, and the HTML page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    #[value(alias = "text")]
    Table,
    Json,
    Html,
}

pub async fn run(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let retention = Retention {
        keep: args.keep,
        max_age_secs: args
            .retain
            .as_deref()
            .map(envsync_history::parse_period)
            .transpose()?,
    };
    let location = args.store.location();
    let store_name = location.shown();
    let sources = Arc::new(Sources::load(&args.inputs)?);
    // A store that cannot be opened fails the audit before any target is collected.
    with_store(location.clone(), |_| Ok(())).await?;
    let planned: Vec<Planned> = args.targets.iter().map(|t| Planned::same(t)).collect();
    let results = load_all(&planned, sources, args.jobs).await;
    let collected: Collected = args
        .targets
        .iter()
        .zip(results)
        .map(|(target, result)| {
            let at = result
                .as_ref()
                .ok()
                .and_then(|s| s.collected_at.clone())
                .unwrap_or_else(envsync_drift::fingerprint::rfc3339_now);
            (target.clone(), at, result.map_err(|e| format!("{e:#}")))
        })
        .collect();
    let html = args.format == AuditFormat::Html;
    let (audited, pruned, history) = record_all(location, collected, retention, html).await?;
    match (args.format, history) {
        (AuditFormat::Json, _) => documents::print(&documents::AuditDoc {
            schema: documents::AUDIT_SCHEMA,
            store: &store_name,
            targets: &audited,
            pruned,
        })?,
        (AuditFormat::Html, Some(history)) => out!(
            "{}",
            html::render_audit(&audit_run(&audited, &store_name), &history)
        )?,
        _ => outln!("{}", report(&audited, pruned.as_ref(), &store_name))?,
    }
    let failed: Vec<String> = audited
        .iter()
        .filter_map(|a| match &a.audit {
            Audit::Failed { error } => Some(format!("  {}: {error}", a.target)),
            Audit::Incomparable { reason, .. } => Some(format!("  {}: {reason}", a.target)),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} targets could not be audited (stored as failed collections; the others are reported above):\n{}",
            failed.len(),
            audited.len(),
            failed.join("\n")
        );
    }
    let changed = audited
        .iter()
        .any(|a| matches!(a.audit, Audit::Changed { .. }));
    Ok(if changed { Outcome::Drift } else { Outcome::Ok })
}

/// Each target's collection (or failure), as collected.
type Collected = Vec<(String, String, Result<envsync_drift::Snapshot, String>)>;

/// Store every collection, apply the retention, and, for the HTML page, read each
/// target's history back (after recording and pruning, so the page holds this audit).
async fn record_all(
    location: envsync_history::Location,
    collected: Collected,
    retention: Retention,
    html: bool,
) -> anyhow::Result<(Vec<AuditedTarget>, Option<Pruned>, Option<StoreHistory>)> {
    with_store(location, move |store| {
        let mut audited = Vec::new();
        for (target, at, result) in collected {
            let audit = store.record(&target, &at, result.as_ref().map_err(String::as_str))?;
            audited.push(AuditedTarget { target, at, audit });
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let pruned = retention
            .is_set()
            .then(|| store.prune(&retention, now))
            .transpose()?;
        let history = if html {
            let targets: Vec<String> = audited.iter().map(|a| a.target.clone()).collect();
            Some(store_history(store, &targets)?)
        } else {
            None
        };
        Ok((audited, pruned, history))
    })
    .await
}

/// The sentence that says what one audit found on one target (not escaped).
fn detail(audit: &Audit) -> String {
    match audit {
        Audit::Baseline { components } => {
            format!("first collection, {components} components recorded as the baseline")
        }
        Audit::Unchanged { since } => format!("unchanged since {since}"),
        Audit::Changed { since, changes } => {
            let n = changes.len();
            let noun = if n == 1 { "change" } else { "changes" };
            format!("{n} {noun} since {since}")
        }
        Audit::Incomparable { since, reason } => {
            format!("cannot compare with the collection of {since}: {reason}")
        }
        Audit::Failed { error } => format!("collection failed (stored): {error}"),
    }
}

/// `audit: 1 of 2 targets changed, 0 failed — CHANGED; stored in STORE` (not escaped).
fn verdict(audited: &[AuditedTarget], store: &str) -> String {
    let changed = audited
        .iter()
        .filter(|a| matches!(a.audit, Audit::Changed { .. }))
        .count();
    let failed = audited
        .iter()
        .filter(|a| matches!(a.audit, Audit::Failed { .. } | Audit::Incomparable { .. }))
        .count();
    let verdict = if failed > 0 {
        "ERROR"
    } else if changed > 0 {
        "CHANGED"
    } else {
        "NO CHANGE"
    };
    format!(
        "audit: {changed} of {} targets changed, {failed} failed — {verdict}; stored in {store}",
        audited.len(),
    )
}

/// The run as the HTML page shows it.
fn audit_run(audited: &[AuditedTarget], store: &str) -> AuditRun {
    AuditRun {
        verdict: verdict(audited, store),
        hosts: audited
            .iter()
            .map(|a| AuditedHost {
                target: a.target.clone(),
                status: match a.audit {
                    Audit::Baseline { .. } => AuditStatus::Baseline,
                    Audit::Unchanged { .. } => AuditStatus::Unchanged,
                    Audit::Changed { .. } => AuditStatus::Changed,
                    Audit::Incomparable { .. } => AuditStatus::Incomparable,
                    Audit::Failed { .. } => AuditStatus::Failed,
                },
                detail: detail(&a.audit),
            })
            .collect(),
    }
}

/// One block per target (its changes as a table), then the verdict and the store.
/// Everything that came from a target is escaped.
pub fn report(audited: &[AuditedTarget], pruned: Option<&Pruned>, store: &str) -> String {
    let mut out = String::new();
    for a in audited {
        out.push_str(&format!(
            "{}: {}\n",
            escape(&a.target),
            escape(&detail(&a.audit))
        ));
        if let Audit::Changed { changes, .. } = &a.audit {
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_header(vec!["component", "change"]);
            for c in changes {
                table.add_row(vec![
                    escape(&c.label()).into_owned(),
                    escape(&transition(c)).into_owned(),
                ]);
            }
            out.push_str(&table.to_string());
            out.push('\n');
        }
    }
    out.push_str(&escape(&verdict(audited, store)));
    if let Some(p) = pruned {
        out.push_str(&format!(
            "\nretention: removed {} collections and {} snapshots",
            p.collections, p.snapshots
        ));
    }
    out
}
