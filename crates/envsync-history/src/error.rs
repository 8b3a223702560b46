//! The history store's one error type: every variant names the store (as the user can
//! show it: a path, or a PostgreSQL URL without its password) and what failed.

use std::path::PathBuf;

/// What went wrong opening, reading or writing a history store.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot create the directory `{}` of the history store: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("history store `{store}`: {source}")]
    Sqlite {
        store: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("history store `{store}`: {source}")]
    Postgres {
        store: String,
        #[source]
        source: postgres::Error,
    },
    #[error("`{spec}` is not a PostgreSQL URL envsync can use: {message}")]
    BadUrl { spec: String, message: String },
    #[error(
        "history store `{store}` has schema version {found}, newer than this envsync knows ({known}); use a newer envsync"
    )]
    SchemaTooNew {
        store: String,
        found: i64,
        known: i64,
    },
    #[error("history store `{store}` holds data envsync cannot read: {message}")]
    Corrupt { store: String, message: String },
    #[error(
        "history store `{store}` has no collection of target `{target}`; run `envsync audit {target}` first{known}"
    )]
    UnknownTarget {
        store: String,
        target: String,
        /// `` (targets it has: `a`, `b`)`` or empty.
        known: String,
    },
    #[error("`{text}` is not a retention period; write a number and a unit: `90d`, `2w`, `12h`")]
    BadPeriod { text: String },
}
