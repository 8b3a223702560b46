//! `envsync history TARGET [COMPONENT]`: when each component of a target changed and
//! from what, read from the history store `envsync audit` fills. Also home of
//! `--store`, which `audit` shares.

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use envsync_drift::compare::short_version;
use envsync_drift::fleet::arrow;
use envsync_drift::report::{escape, Audits, HistoryChange, HostHistory, StoreHistory};
use envsync_history::{ChangeKind, Entry, History, HistoryError, Location, Store};

use super::output::{out, DocFormat};
use crate::documents;
use crate::Outcome;

/// `--store`: where the history lives.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StoreArg {
    /// The history store: an SQLite file, or `postgres://user[:password]@host[:port]/db`
    /// for a store a team shares [default: $XDG_DATA_HOME/envsync/history.sqlite, else
    /// ~/.local/share/envsync/history.sqlite]
    #[arg(long = "store", value_name = "PATH|URL", env = "ENVSYNC_HISTORY_STORE")]
    pub store: Option<String>,
}

impl StoreArg {
    pub fn location(&self) -> Location {
        match self.store.as_deref().filter(|s| !s.is_empty()) {
            Some(spec) => Location::parse(spec),
            None => Location::default_sqlite(),
        }
    }
}

/// Open the store on a blocking thread (the PostgreSQL client runs a runtime of its
/// own, which may not start on an async worker) and run `work` on it there.
pub(crate) async fn with_store<T: Send + 'static>(
    location: Location,
    work: impl FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(move || {
        let now = envsync_drift::fingerprint::rfc3339_now();
        let mut store = Store::open(&location, &now)?;
        work(&mut store)
    })
    .await
    .context("the history store's thread stopped unexpectedly")?
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The target, as `envsync audit` was given it (`docker:web-1`, `ssh://deploy@web-1`,
    /// a `[targets]` name)
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Only this component: a name in any ecosystem (`openssl`), or `ECOSYSTEM:NAME`
    /// (`deb:openssl`, `pypi:django`)
    #[arg(value_name = "COMPONENT")]
    pub component: Option<String>,
    #[command(flatten)]
    pub store: StoreArg,
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: DocFormat,
}

pub async fn run(args: &HistoryArgs) -> anyhow::Result<Outcome> {
    let location = args.store.location();
    let store_name = location.shown();
    let (target, component) = (args.target.clone(), args.component.clone());
    let history = with_store(location, move |store| {
        Ok(store.history(&target, component.as_deref())?)
    })
    .await?;
    match args.format {
        DocFormat::Json => documents::print(&documents::HistoryDoc {
            schema: documents::HISTORY_SCHEMA,
            store: &store_name,
            history: &history,
        })?,
        DocFormat::Table => out!("{}", table(&history))?,
    }
    Ok(Outcome::Ok)
}

/// How many changes of each host the HTML report lists (newest first); the page names
/// `envsync history TARGET` for the older ones.
pub(crate) const HTML_CHANGES: usize = 20;

/// A host's history as the HTML report shows it: the latest `limit` changes, newest
/// first, and the span of its audits.
pub(crate) fn host_history(history: &History, limit: usize) -> HostHistory {
    let changes: Vec<HistoryChange> = history
        .changes
        .iter()
        .rev()
        .take(limit)
        .map(|e| HistoryChange {
            component: e.change.label(),
            from: e.change.old.clone(),
            to: e.change.new.clone(),
            direction: e.change.direction,
            at: e.at.clone(),
        })
        .collect();
    HostHistory {
        target: history.target.clone(),
        older: history.changes.len() - changes.len(),
        changes,
        audits: Audits {
            count: history.collections,
            failed: history.failed,
            first: history.first.clone(),
            last: history.last.clone(),
        },
    }
}

/// The history of each of `targets` (named as reports name them) for the HTML report; a
/// target the store holds no collection of is left out, and the page says so.
pub(crate) fn store_history(store: &mut Store, targets: &[String]) -> anyhow::Result<StoreHistory> {
    let mut hosts = Vec::new();
    for target in targets {
        match store.history(target, None) {
            Ok(history) => hosts.push(host_history(&history, HTML_CHANGES)),
            Err(HistoryError::UnknownTarget { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(StoreHistory {
        store: store.name().to_string(),
        hosts,
    })
}

/// `old → new` of one change, hashes shortened.
pub(crate) fn transition(entry: &envsync_history::Change) -> String {
    let v = |v: &Option<String>| short_version(v.as_deref().unwrap_or("")).into_owned();
    match entry.kind {
        ChangeKind::Added => format!("added {}", v(&entry.new)),
        ChangeKind::Removed => format!("removed (was {})", v(&entry.old)),
        ChangeKind::Changed => format!(
            "{} → {} {}",
            v(&entry.old),
            v(&entry.new),
            arrow(entry.direction)
        ),
    }
}

/// The changes as a table, oldest first, between a summary line and the failures.
/// Everything that came from a target is escaped.
pub fn table(history: &History) -> String {
    let mut out = String::new();
    let span = match (&history.first, &history.last) {
        (Some(first), Some(last)) => format!(" from {first} to {last}"),
        _ => String::new(),
    };
    out.push_str(&format!(
        "{}: {} collections{}{span}\n",
        escape(&history.target),
        history.collections,
        if history.failed > 0 {
            format!(" ({} failed)", history.failed)
        } else {
            String::new()
        }
    ));
    if history.changes.is_empty() {
        let what = history
            .component
            .as_deref()
            .map_or("nothing".to_string(), |c| format!("`{}`", escape(c)));
        out.push_str(&format!("{what} changed in the collections kept\n"));
    } else {
        out.push_str(&changes_table(&history.changes));
        out.push('\n');
    }
    if let Some(current) = &history.current {
        if current.is_empty() {
            out.push_str("now: not installed\n");
        }
        for p in current {
            out.push_str(&format!(
                "now: {}:{} {}\n",
                p.ecosystem,
                escape(&p.name),
                escape(&short_version(&p.version))
            ));
        }
    }
    for f in &history.failures {
        out.push_str(&format!(
            "{}: collection failed: {}\n",
            f.at,
            escape(&f.error)
        ));
    }
    out
}

fn changes_table(entries: &[Entry]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "changed at",
        "component",
        "change",
        "since",
    ]);
    for e in entries {
        table.add_row(vec![
            e.at.clone(),
            escape(&e.change.label()).into_owned(),
            escape(&transition(&e.change)).into_owned(),
            e.since.clone(),
        ]);
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use envsync_manifest::Ecosystem;

    fn entry(at: &str, name: &str, old: Option<&str>, new: Option<&str>) -> Entry {
        let kind = match (old, new) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        };
        Entry {
            at: at.into(),
            since: "2026-01-01T00:00:00Z".into(),
            change: envsync_history::Change {
                ecosystem: Ecosystem::Deb,
                name: name.into(),
                arch: None,
                location: None,
                kind,
                old: old.map(str::to_string),
                new: new.map(str::to_string),
                direction: None,
            },
        }
    }

    #[test]
    fn the_page_lists_the_latest_changes_newest_first() {
        let history = History {
            target: "web-1".into(),
            component: None,
            collections: 4,
            failed: 0,
            first: Some("2026-01-01T00:00:00Z".into()),
            last: Some("2026-01-04T00:00:00Z".into()),
            // The store answers oldest first.
            changes: vec![
                entry("2026-01-02T00:00:00Z", "a", Some("1"), Some("2")),
                entry("2026-01-03T00:00:00Z", "b", None, Some("1")),
                entry("2026-01-04T00:00:00Z", "c", Some("1"), None),
            ],
            failures: Vec::new(),
            current: None,
        };
        let host = host_history(&history, 2);
        let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = host
            .changes
            .iter()
            .map(|c| {
                (
                    c.at.as_str(),
                    c.component.as_str(),
                    c.from.as_deref(),
                    c.to.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("2026-01-04T00:00:00Z", "deb:c", Some("1"), None),
                ("2026-01-03T00:00:00Z", "deb:b", None, Some("1")),
            ]
        );
        assert_eq!(host.older, 1);
        assert_eq!(host.audits.count, 4);
        assert_eq!(host.audits.first.as_deref(), Some("2026-01-01T00:00:00Z"));
    }
}
