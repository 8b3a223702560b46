//! The history store: where it is ([`Location`]), opening it (migrated to the current
//! schema), recording a collection, reading a target's history, and retention. Every
//! query is written once, against the `Backend` trait, for SQLite and PostgreSQL alike.

use std::io::{Read, Write};
use std::path::PathBuf;

use envsync_drift::compare;
use envsync_drift::snapshot::MAX_SNAPSHOT_BYTES;
use envsync_drift::Snapshot;
use envsync_manifest::{Direction, Ecosystem};

use crate::backend::{Backend, Dialect, Postgres, Sqlite, Value};
use crate::error::HistoryError;
use crate::model::{Audit, Change, ChangeKind, Entry, Failure, History, Pruned, Retention};

/// The longest error text stored for a failed collection.
const MAX_ERROR_BYTES: usize = 4096;

/// Where a history store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (which may hold a password: see [`Location::shown`]).
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({})", self.shown())
    }
}

impl Location {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else a file path.
    pub fn parse(spec: &str) -> Location {
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            Location::Postgres(spec.to_string())
        } else {
            Location::Sqlite(PathBuf::from(spec))
        }
    }

    /// The default store: `history.sqlite` in this user's data directory
    /// (`$XDG_DATA_HOME/envsync`, else `~/.local/share/envsync`).
    pub fn default_sqlite() -> Location {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let dir = match (env("XDG_DATA_HOME"), env("HOME")) {
            (Some(dir), _) => PathBuf::from(dir).join("envsync"),
            (None, Some(home)) => PathBuf::from(home).join(".local/share/envsync"),
            (None, None) => std::env::temp_dir().join("envsync"),
        };
        Location::Sqlite(dir.join("history.sqlite"))
    }

    /// The store as messages and reports show it: a PostgreSQL URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let path = match path.split_once('?') {
        Some((p, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{p}?{}", params.join("&"))
        }
        None => path.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}

/// An open history store, migrated to the current schema.
pub struct Store {
    db: Box<dyn Backend + Send>,
    name: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.name)
    }
}

/// A component the user names: `openssl` (any ecosystem) or `deb:openssl`.
fn component_filter(component: &str) -> (Option<Ecosystem>, &str) {
    if let Some((eco, name)) = component.split_once(':') {
        if let Some(eco) = Ecosystem::parse(eco) {
            return (Some(eco), name);
        }
    }
    (None, component)
}

impl Store {
    /// Open the store at `location` (an SQLite file and its directory are created when
    /// missing) and migrate it; `now` is the time recorded for a migration. PostgreSQL
    /// is reached through a blocking client: call this off async worker threads.
    pub fn open(location: &Location, now: &str) -> Result<Store, HistoryError> {
        let name = location.shown();
        let mut db: Box<dyn Backend + Send> = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                Box::new(Sqlite::open(path)?)
            }
            Location::Postgres(url) => Box::new(Postgres::connect(url, &name)?),
        };
        crate::schema::migrate(db.as_mut(), &name, now)?;
        Ok(Store { db, name })
    }

    /// The store as messages show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn corrupt(&self, message: impl Into<String>) -> HistoryError {
        HistoryError::Corrupt {
            store: self.name.clone(),
            message: message.into(),
        }
    }

    /// Run `work` in one transaction: committed when it returns `Ok`, rolled back
    /// otherwise.
    fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Store) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        self.db.batch(match self.db.dialect() {
            // Take the write lock now: a read lock upgraded later can deadlock two audits.
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        })?;
        match work(self) {
            Ok(value) => {
                self.db.batch("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                // The error that stopped the work is the one to report.
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn target_id(&mut self, target: &str) -> Result<Option<i64>, HistoryError> {
        let rows = self.db.query(
            "SELECT id FROM targets WHERE name = $1",
            &[Value::text(target)],
        )?;
        Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_int))
    }

    /// The target's newest successful collection: its time and snapshot digest.
    fn previous(&mut self, target_id: i64) -> Result<Option<(String, String)>, HistoryError> {
        let rows = self.db.query(
            "SELECT collected_at, digest FROM collections \
             WHERE target_id = $1 AND digest IS NOT NULL ORDER BY id DESC LIMIT 1",
            &[Value::Int(Some(target_id))],
        )?;
        Ok(rows.first().and_then(|r| {
            Some((
                r.first()?.as_text()?.to_string(),
                r.get(1)?.as_text()?.to_string(),
            ))
        }))
    }

    /// The stored snapshot with `digest`.
    fn snapshot(&mut self, digest: &str) -> Result<Snapshot, HistoryError> {
        let rows = self.db.query(
            "SELECT body FROM contents WHERE digest = $1",
            &[Value::text(digest)],
        )?;
        let body = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(Value::into_bytes)
            .ok_or_else(|| self.corrupt(format!("snapshot `{digest}` is missing")))?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(body.as_slice())
            .take(MAX_SNAPSHOT_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| self.corrupt(format!("snapshot `{digest}`: {e}")))?;
        Snapshot::from_json(&text, &format!("{} (snapshot {digest})", self.name))
            .map_err(|e| self.corrupt(e.to_string()))
    }

    /// Store `snapshot` under its digest unless it is there already.
    fn put_snapshot(&mut self, digest: &str, snapshot: &Snapshot) -> Result<(), HistoryError> {
        let exists = self.db.query(
            "SELECT 1 FROM contents WHERE digest = $1",
            &[Value::text(digest)],
        )?;
        if !exists.is_empty() {
            return Ok(());
        }
        // Who and when belong to the collection, not the content shared between them.
        let mut stored = snapshot.clone();
        stored.target = String::new();
        stored.collected_at = None;
        stored.digest = Some(digest.to_string());
        let json = serde_json::to_vec(&stored).map_err(|e| self.corrupt(e.to_string()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let body = gz
            .write_all(&json)
            .and_then(|()| gz.finish())
            .map_err(|e| self.corrupt(e.to_string()))?;
        self.db.execute(
            "INSERT INTO contents (digest, body) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
            &[Value::text(digest), Value::Bytes(Some(body))],
        )?;
        Ok(())
    }

    /// Record one collection of `target` taken at `at` (RFC 3339): the snapshot, or the
    /// error that stopped it. Returns what changed since the target's previous
    /// successful collection; the changes are stored for [`Store::history`].
    pub fn record(
        &mut self,
        target: &str,
        at: &str,
        collected: Result<&Snapshot, &str>,
    ) -> Result<Audit, HistoryError> {
        self.transaction(|store| store.record_in_transaction(target, at, collected))
    }

    fn record_in_transaction(
        &mut self,
        target: &str,
        at: &str,
        collected: Result<&Snapshot, &str>,
    ) -> Result<Audit, HistoryError> {
        self.db.execute(
            "INSERT INTO targets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            &[Value::text(target)],
        )?;
        let target_id = self
            .target_id(target)?
            .ok_or_else(|| self.corrupt(format!("target `{target}` was not stored")))?;
        let snapshot = match collected {
            Ok(snapshot) => snapshot,
            Err(error) => {
                let error = truncate(error, MAX_ERROR_BYTES);
                self.insert_collection(target_id, at, None, None, Some(&error))?;
                return Ok(Audit::Failed { error });
            }
        };
        let digest = snapshot.compute_digest();
        let previous = self.previous(target_id)?;
        self.put_snapshot(&digest, snapshot)?;
        let components = snapshot.packages.len() as i64;
        let id = self.insert_collection(target_id, at, Some(&digest), Some(components), None)?;
        let Some((since, previous_digest)) = previous else {
            return Ok(Audit::Baseline {
                components: snapshot.packages.len(),
            });
        };
        if previous_digest == digest {
            return Ok(Audit::Unchanged { since });
        }
        let mut before = self.snapshot(&previous_digest)?;
        let mut now = snapshot.clone();
        if let Err(e) = envsync_drift::align_hashes(&mut before, &mut now) {
            return Ok(Audit::Incomparable {
                since,
                reason: e.to_string(),
            });
        }
        let changes: Vec<Change> = compare::diff(&before, &now)
            .drift
            .iter()
            .map(Change::from_drift)
            .collect();
        for c in &changes {
            self.db.execute(
                "INSERT INTO changes (collection_id, since_at, ecosystem, name, arch, location, \
                 kind, old_version, new_version, direction) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    Value::Int(Some(id)),
                    Value::text(&since),
                    Value::text(&c.ecosystem.to_string()),
                    Value::text(&c.name),
                    Value::opt_text(c.arch.as_deref()),
                    Value::opt_text(c.location.as_deref()),
                    Value::text(c.kind.as_str()),
                    Value::opt_text(c.old.as_deref()),
                    Value::opt_text(c.new.as_deref()),
                    Value::opt_text(c.direction.map(compare::direction_str)),
                ],
            )?;
        }
        Ok(if changes.is_empty() {
            // Digests differ only in what the comparison treats as equal.
            Audit::Unchanged { since }
        } else {
            Audit::Changed { since, changes }
        })
    }

    fn insert_collection(
        &mut self,
        target_id: i64,
        at: &str,
        digest: Option<&str>,
        components: Option<i64>,
        error: Option<&str>,
    ) -> Result<i64, HistoryError> {
        let rows = self.db.query(
            "INSERT INTO collections (target_id, collected_at, digest, components, error) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                Value::Int(Some(target_id)),
                Value::text(at),
                Value::opt_text(digest),
                Value::Int(components),
                Value::opt_text(error),
            ],
        )?;
        rows.first()
            .and_then(|r| r.first())
            .and_then(Value::as_int)
            .ok_or_else(|| self.corrupt("no id for a new collection"))
    }

    /// The names of every target the store holds, sorted.
    pub fn targets(&mut self) -> Result<Vec<String>, HistoryError> {
        let rows = self
            .db
            .query("SELECT name FROM targets ORDER BY name", &[])?;
        Ok(rows
            .iter()
            .filter_map(|r| r.first()?.as_text().map(str::to_string))
            .collect())
    }

    /// Everything the store knows of `target`, or of `component` on it (`openssl` in
    /// any ecosystem, or `deb:openssl`): every change, oldest first, with its time and
    /// both versions, and every failed collection.
    pub fn history(
        &mut self,
        target: &str,
        component: Option<&str>,
    ) -> Result<History, HistoryError> {
        let Some(target_id) = self.target_id(target)? else {
            let known = self.targets()?;
            let known = if known.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = known.iter().take(20).map(|t| format!("`{t}`")).collect();
                format!(" (targets it has: {})", names.join(", "))
            };
            return Err(HistoryError::UnknownTarget {
                store: self.name.clone(),
                target: target.to_string(),
                known,
            });
        };
        let id = Value::Int(Some(target_id));
        let counts = self.db.query(
            "SELECT COUNT(*), COUNT(error), MIN(collected_at), MAX(collected_at) \
             FROM collections WHERE target_id = $1",
            std::slice::from_ref(&id),
        )?;
        let counts = counts.first().cloned().unwrap_or_default();
        let int = |i: usize| counts.get(i).and_then(Value::as_int).unwrap_or(0) as u64;
        let text = |i: usize| counts.get(i).and_then(Value::as_text).map(str::to_string);
        let (collections, failed, first, last) = (int(0), int(1), text(2), text(3));
        let changes = self.changes(target_id, component)?;
        let failures = self
            .db
            .query(
                "SELECT collected_at, error FROM collections \
                 WHERE target_id = $1 AND error IS NOT NULL ORDER BY id",
                &[id],
            )?
            .iter()
            .map(|r| Failure {
                at: r
                    .first()
                    .and_then(Value::as_text)
                    .unwrap_or_default()
                    .to_string(),
                error: r
                    .get(1)
                    .and_then(Value::as_text)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect();
        let current = match component {
            Some(component) => Some(self.current(target_id, component)?),
            None => None,
        };
        Ok(History {
            target: target.to_string(),
            component: component.map(str::to_string),
            collections,
            failed,
            first,
            last,
            changes,
            failures,
            current,
        })
    }

    /// The stored changes of one target, optionally of one component, oldest first.
    fn changes(
        &mut self,
        target_id: i64,
        component: Option<&str>,
    ) -> Result<Vec<Entry>, HistoryError> {
        let mut sql = "SELECT c.collected_at, ch.since_at, ch.ecosystem, ch.name, ch.arch, \
                       ch.location, ch.kind, ch.old_version, ch.new_version, ch.direction \
                       FROM changes ch JOIN collections c ON c.id = ch.collection_id \
                       WHERE c.target_id = $1"
            .to_string();
        let mut params = vec![Value::Int(Some(target_id))];
        if let Some(component) = component {
            let (eco, name) = component_filter(component);
            sql.push_str(" AND ch.name = $2");
            params.push(Value::text(name));
            if let Some(eco) = eco {
                sql.push_str(" AND ch.ecosystem = $3");
                params.push(Value::text(&eco.to_string()));
            }
        }
        sql.push_str(" ORDER BY c.id, ch.ecosystem, ch.name, ch.arch, ch.location");
        let rows = self.db.query(&sql, &params)?;
        rows.iter().map(|r| self.entry(r)).collect()
    }

    fn entry(&self, row: &[Value]) -> Result<Entry, HistoryError> {
        let text = |i: usize| row.get(i).and_then(Value::as_text).map(str::to_string);
        let ecosystem = text(2)
            .as_deref()
            .and_then(Ecosystem::parse)
            .ok_or_else(|| self.corrupt(format!("unknown ecosystem {:?}", text(2))))?;
        let kind = text(6)
            .as_deref()
            .and_then(ChangeKind::parse)
            .ok_or_else(|| self.corrupt(format!("unknown change kind {:?}", text(6))))?;
        let direction = match text(9).as_deref() {
            Some("newer") => Some(Direction::Newer),
            Some("older") => Some(Direction::Older),
            Some("same") => Some(Direction::Same),
            _ => None,
        };
        Ok(Entry {
            at: text(0).unwrap_or_default(),
            since: text(1).unwrap_or_default(),
            change: Change {
                ecosystem,
                name: text(3).unwrap_or_default(),
                arch: text(4),
                location: text(5),
                kind,
                old: text(7),
                new: text(8),
                direction,
            },
        })
    }

    /// What the target's newest successful collection holds of `component`.
    fn current(
        &mut self,
        target_id: i64,
        component: &str,
    ) -> Result<Vec<envsync_drift::Package>, HistoryError> {
        let Some((_, digest)) = self.previous(target_id)? else {
            return Ok(Vec::new());
        };
        let (eco, name) = component_filter(component);
        Ok(self
            .snapshot(&digest)?
            .packages
            .into_iter()
            .filter(|p| p.name == name && eco.is_none_or(|e| e == p.ecosystem))
            .collect())
    }

    /// Apply `retention` to every target, `now_secs` being the current Unix time. The
    /// newest successful collection of each target is always kept.
    pub fn prune(&mut self, retention: &Retention, now_secs: u64) -> Result<Pruned, HistoryError> {
        if !retention.is_set() {
            return Ok(Pruned::default());
        }
        let cutoff = retention
            .max_age_secs
            .map(|age| envsync_drift::fingerprint::rfc3339(now_secs.saturating_sub(age)));
        self.transaction(|store| {
            let rows = store.db.query(
                "SELECT id, target_id, collected_at, digest FROM collections \
                 ORDER BY target_id, id DESC",
                &[],
            )?;
            let mut doomed = Vec::new();
            let (mut target, mut rank, mut kept_baseline) = (None, 0u64, false);
            for r in &rows {
                let (Some(id), Some(tid)) = (r[0].as_int(), r[1].as_int()) else {
                    continue;
                };
                if target != Some(tid) {
                    (target, rank, kept_baseline) = (Some(tid), 0, false);
                }
                let successful = r[3].as_text().is_some();
                let too_many = retention.keep.is_some_and(|k| rank >= k);
                let too_old = match (&cutoff, r[2].as_text()) {
                    (Some(cutoff), Some(at)) => at < cutoff.as_str(),
                    _ => false,
                };
                let baseline = successful && !kept_baseline;
                kept_baseline |= successful;
                rank += 1;
                if (too_many || too_old) && !baseline {
                    doomed.push(id);
                }
            }
            for chunk in doomed.chunks(500) {
                let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                let params: Vec<Value> = chunk.iter().map(|&id| Value::Int(Some(id))).collect();
                let list = marks.join(", ");
                store.db.execute(
                    &format!("DELETE FROM changes WHERE collection_id IN ({list})"),
                    &params,
                )?;
                store.db.execute(
                    &format!("DELETE FROM collections WHERE id IN ({list})"),
                    &params,
                )?;
            }
            let snapshots = store.db.execute(
                "DELETE FROM contents WHERE digest NOT IN \
                 (SELECT digest FROM collections WHERE digest IS NOT NULL)",
                &[],
            )?;
            Ok(Pruned {
                collections: doomed.len() as u64,
                snapshots,
            })
        })
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, marked when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
