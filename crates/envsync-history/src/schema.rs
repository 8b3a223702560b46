//! The store's schema and its migrations, the same for both databases: a
//! `envsync_migrations` table lists every version applied, and each missing one is
//! applied in order, each in its own transaction. A store newer than this envsync is
//! refused rather than written with an older idea of its tables.
//!
//! Version 1:
//! - `targets`: one row per target name, as the user typed it.
//! - `contents`: each distinct snapshot once, by its digest, as gzip-compressed
//!   `envsync.snapshot/v1` JSON without the target's name or the collection time, so
//!   identical environments (the same host audited twice, twin hosts of a fleet) share
//!   one row. Snapshots hold only versions and keyed hashes, never secrets.
//! - `collections`: every audit of every target: its time and the digest of what was
//!   collected, or the error that stopped the collection.
//! - `changes`: per collection, each component added, removed or changed since the
//!   previous successful collection of the same target, with both versions: what
//!   `envsync history` reads without decompressing a single snapshot.

use crate::backend::{Backend, Dialect, Value};
use crate::error::HistoryError;

/// The newest schema version this envsync writes.
pub const SCHEMA_VERSION: i64 = 1;

fn migration(version: i64, dialect: Dialect) -> Vec<String> {
    let (id, blob) = (dialect.id_column(), dialect.blob());
    match version {
        1 => vec![
            format!("CREATE TABLE targets (id {id}, name TEXT NOT NULL UNIQUE)"),
            format!("CREATE TABLE contents (digest TEXT PRIMARY KEY, body {blob} NOT NULL)"),
            format!(
                "CREATE TABLE collections (id {id}, \
                 target_id BIGINT NOT NULL REFERENCES targets (id), \
                 collected_at TEXT NOT NULL, \
                 digest TEXT REFERENCES contents (digest), \
                 components BIGINT, \
                 error TEXT)"
            ),
            "CREATE INDEX collections_by_target ON collections (target_id, id)".to_string(),
            "CREATE TABLE changes (\
             collection_id BIGINT NOT NULL REFERENCES collections (id), \
             since_at TEXT NOT NULL, \
             ecosystem TEXT NOT NULL, name TEXT NOT NULL, arch TEXT, location TEXT, \
             kind TEXT NOT NULL, old_version TEXT, new_version TEXT, direction TEXT)"
                .to_string(),
            "CREATE INDEX changes_by_collection ON changes (collection_id)".to_string(),
            "CREATE INDEX changes_by_name ON changes (name)".to_string(),
        ],
        _ => Vec::new(),
    }
}

/// The versions applied so far (none in a new database).
fn applied(db: &mut dyn Backend) -> Result<i64, HistoryError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS envsync_migrations \
         (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let rows = db.query("SELECT MAX(version) FROM envsync_migrations", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_int)
        .unwrap_or(0))
}

/// The PostgreSQL advisory lock that lets one envsync at a time migrate a database
/// (an arbitrary constant: "envs" in ASCII).
const MIGRATION_LOCK: i64 = 0x656e_7673;

/// Bring the schema to [`SCHEMA_VERSION`]; `store` names the store in errors. Migrations
/// run one process at a time: PostgreSQL under an advisory lock (its `CREATE TABLE IF
/// NOT EXISTS` is not safe against a concurrent one), SQLite under its write lock.
pub fn migrate(db: &mut dyn Backend, store: &str, now: &str) -> Result<(), HistoryError> {
    if db.dialect() != Dialect::Postgres {
        return migrate_locked(db, store, now);
    }
    db.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
    let result = migrate_locked(db, store, now);
    let unlocked = db.batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    result.and(unlocked)
}

fn migrate_locked(db: &mut dyn Backend, store: &str, now: &str) -> Result<(), HistoryError> {
    let found = applied(db)?;
    if found > SCHEMA_VERSION {
        return Err(HistoryError::SchemaTooNew {
            store: store.to_string(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for version in found + 1..=SCHEMA_VERSION {
        let dialect = db.dialect();
        db.batch(match dialect {
            // Takes the write lock at once, so two first audits do not both create tables.
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        })?;
        let result = (|| {
            if applied(db)? >= version {
                return Ok(());
            }
            for statement in migration(version, dialect) {
                db.batch(&statement)?;
            }
            db.execute(
                "INSERT INTO envsync_migrations (version, applied_at) VALUES ($1, $2)",
                &[Value::Int(Some(version)), Value::text(now)],
            )?;
            Ok(())
        })();
        match result {
            Ok(()) => db.batch("COMMIT")?,
            Err(e) => {
                // The error that stopped the migration is the one to report.
                let _ = db.batch("ROLLBACK");
                return Err(e);
            }
        }
    }
    Ok(())
}
