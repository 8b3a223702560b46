//! `envsync history TARGET [COMPONENT]`: when each component of a target changed and
//! from what, read from the history store `envsync audit` fills. Also home of
//! `--store`, which `audit` shares.

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use envsync_drift::compare::short_version;
use envsync_drift::fleet::arrow;
use envsync_drift::report::escape;
use envsync_history::{ChangeKind, Entry, History, Location, Store};

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
