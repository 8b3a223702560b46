//! The store's contract, run the same way against SQLite and against a real PostgreSQL
//! (Debian's server, started by the test support): a baseline, an unchanged audit
//! stored once, a change with both versions and its time, a failed collection, the
//! component filter, retention, and a schema newer than envsync refused.

use envsync_drift::{Package, Snapshot};
use envsync_history::{Audit, ChangeKind, HistoryError, Location, Retention, Store};
use envsync_manifest::{Direction, Ecosystem};
use envsync_testsupport::PostgresServer;

fn snap(specs: &[(&str, &str)]) -> Snapshot {
    let mut s = Snapshot::new("ignored");
    s.packages = specs
        .iter()
        .map(|(name, version)| Package::new(Ecosystem::Deb, name, version))
        .collect();
    s.normalize();
    s
}

/// Count rows of `table` through a second connection of the same kind.
fn count(location: &Location, table: &str) -> i64 {
    match location {
        Location::Sqlite(path) => sqlite_count(path, table),
        Location::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
            let row = client
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .expect("count");
            row.get::<_, i64>(0)
        }
    }
}

/// Rows of `table` in the store's file, read through a second connection.
fn sqlite_count(path: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn contract(location: &Location) {
    let mut store = Store::open(location, "2026-01-01T00:00:00Z").expect("open");
    let v1 = snap(&[("libfoo", "1.0-1"), ("bar", "2.0")]);
    let v2 = snap(&[("libfoo", "1.2-1"), ("baz", "0.1")]);

    let first = store
        .record("docker:web-1", "2026-01-01T10:00:00Z", Ok(&v1))
        .expect("record");
    assert_eq!(first, Audit::Baseline { components: 2 });
    let same = store
        .record("docker:web-1", "2026-01-02T10:00:00Z", Ok(&v1))
        .expect("record");
    assert_eq!(
        same,
        Audit::Unchanged {
            since: "2026-01-01T10:00:00Z".into()
        }
    );
    // A twin host with the same inventory shares the stored snapshot.
    store
        .record("docker:web-2", "2026-01-02T10:00:01Z", Ok(&v1))
        .expect("record");
    assert_eq!(count(location, "contents"), 1);

    let failed = store
        .record(
            "docker:web-1",
            "2026-01-02T12:00:00Z",
            Err("unreachable: no such container"),
        )
        .expect("record");
    assert!(matches!(failed, Audit::Failed { .. }), "{failed:?}");

    let changed = store
        .record("docker:web-1", "2026-01-03T10:00:00Z", Ok(&v2))
        .expect("record");
    let Audit::Changed { since, changes } = changed else {
        panic!("expected changes, got {changed:?}");
    };
    // Compared with the last successful collection, not the failed one.
    assert_eq!(since, "2026-01-02T10:00:00Z");
    let got: Vec<(String, ChangeKind, Option<String>, Option<String>)> = changes
        .iter()
        .map(|c| (c.name.clone(), c.kind, c.old.clone(), c.new.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("bar".into(), ChangeKind::Removed, Some("2.0".into()), None),
            ("baz".into(), ChangeKind::Added, None, Some("0.1".into())),
            (
                "libfoo".into(),
                ChangeKind::Changed,
                Some("1.0-1".into()),
                Some("1.2-1".into())
            ),
        ]
    );
    assert_eq!(count(location, "contents"), 2);

    let history = store
        .history("docker:web-1", Some("deb:libfoo"))
        .expect("history");
    assert_eq!((history.collections, history.failed), (4, 1));
    assert_eq!(history.first.as_deref(), Some("2026-01-01T10:00:00Z"));
    assert_eq!(history.last.as_deref(), Some("2026-01-03T10:00:00Z"));
    assert_eq!(history.changes.len(), 1);
    let entry = &history.changes[0];
    assert_eq!(entry.at, "2026-01-03T10:00:00Z");
    assert_eq!(entry.since, "2026-01-02T10:00:00Z");
    assert_eq!(entry.change.old.as_deref(), Some("1.0-1"));
    assert_eq!(entry.change.new.as_deref(), Some("1.2-1"));
    assert_eq!(entry.change.direction, Some(Direction::Newer));
    assert_eq!(history.failures.len(), 1);
    assert!(history.failures[0].error.contains("no such container"));
    let current = history.current.expect("current");
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].version, "1.2-1");
    assert_eq!(
        store
            .history("docker:web-1", None)
            .expect("all")
            .changes
            .len(),
        3
    );
    assert!(store
        .history("docker:web-1", Some("pypi:libfoo"))
        .expect("other ecosystem")
        .changes
        .is_empty());

    let err = store.history("docker:nope", None).expect_err("unknown");
    assert!(matches!(err, HistoryError::UnknownTarget { .. }), "{err}");
    assert!(err.to_string().contains("`docker:web-1`"), "{err}");

    // Keep 1 per target: web-1 keeps only its newest, web-2 its only one; the
    // snapshot only web-1's old collections used is still web-2's, so both stay.
    let pruned = store
        .prune(
            &Retention {
                keep: Some(1),
                max_age_secs: None,
            },
            0,
        )
        .expect("prune");
    assert_eq!(pruned.collections, 3);
    assert_eq!(pruned.snapshots, 0);
    let history = store.history("docker:web-1", None).expect("history");
    assert_eq!((history.collections, history.changes.len()), (1, 3));
    // An age limit never drops a target's newest successful collection; the last
    // reference to v1 goes with nothing, since web-2 still holds it.
    let pruned = store
        .prune(
            &Retention {
                keep: None,
                max_age_secs: Some(86_400),
            },
            4_000_000_000,
        )
        .expect("prune");
    assert_eq!(pruned.collections, 0);
    assert_eq!(count(location, "collections"), 2);
    drop(store);

    // A store written by a newer envsync is refused, not rewritten.
    match location {
        Location::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.execute(
                "INSERT INTO envsync_migrations (version, applied_at) VALUES (99, 'x')",
                [],
            )
            .expect("insert");
        }
        Location::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
            client
                .execute(
                    "INSERT INTO envsync_migrations (version, applied_at) VALUES (99, 'x')",
                    &[],
                )
                .expect("insert");
        }
    }
    let err = Store::open(location, "2026-01-04T00:00:00Z").expect_err("too new");
    assert!(
        matches!(err, HistoryError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn sqlite_store_keeps_history() {
    let dir = tempfile::tempdir().expect("tmp");
    contract(&Location::Sqlite(dir.path().join("sub/history.sqlite")));
}

#[test]
fn postgres_store_keeps_history() {
    let server = PostgresServer::start().expect("start PostgreSQL");
    contract(&Location::parse(&server.url()));
}

#[test]
fn unreachable_postgres_is_an_error_naming_the_store_without_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // Nothing listens there once the listener is dropped.
    let url = format!("postgres://envsync:s3cret@127.0.0.1:{port}/envsync");
    let err = Store::open(&Location::parse(&url), "2026-01-01T00:00:00Z").expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!("postgres://envsync:***@127.0.0.1:{port}/envsync")),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

/// Four auditors at once on a store none of them has seen: all migrate it without
/// tripping over each other, and every collection and change is kept.
fn concurrent(location: &Location) {
    let auditors: Vec<_> = (0..4)
        .map(|i| {
            let location = location.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&location, "2026-01-01T00:00:00Z").expect("open");
                for round in 0..5 {
                    let version = format!("1.{round}");
                    store
                        .record(
                            &format!("docker:host-{i}"),
                            &format!("2026-01-01T00:00:0{round}Z"),
                            Ok(&snap(&[("libfoo", &version), ("shared", "1")])),
                        )
                        .expect("record");
                }
            })
        })
        .collect();
    for auditor in auditors {
        auditor.join().expect("auditor");
    }
    let mut store = Store::open(location, "2026-01-01T00:00:00Z").expect("open");
    for i in 0..4 {
        let history = store
            .history(&format!("docker:host-{i}"), Some("libfoo"))
            .expect("history");
        assert_eq!(history.collections, 5);
        let versions: Vec<(Option<String>, Option<String>)> = history
            .changes
            .iter()
            .map(|e| (e.change.old.clone(), e.change.new.clone()))
            .collect();
        let expected: Vec<(Option<String>, Option<String>)> = (1..5)
            .map(|r| (Some(format!("1.{}", r - 1)), Some(format!("1.{r}"))))
            .collect();
        assert_eq!(versions, expected);
    }
    // Five distinct inventories, shared by the four hosts.
    assert_eq!(count(location, "contents"), 5);
}

#[test]
fn sqlite_store_takes_concurrent_auditors() {
    let dir = tempfile::tempdir().expect("tmp");
    concurrent(&Location::Sqlite(dir.path().join("history.sqlite")));
}

#[test]
fn postgres_store_takes_concurrent_auditors() {
    let server = PostgresServer::start().expect("start PostgreSQL");
    concurrent(&Location::parse(&server.url()));
}

/// A file hashed with one key, then with another: the hashes cannot be compared, so
/// the audit says so (and stores the collection) instead of reporting a false change.
#[test]
fn collections_hashed_with_different_keys_are_incomparable() {
    let dir = tempfile::tempdir().expect("tmp");
    let location = Location::Sqlite(dir.path().join("history.sqlite"));
    let mut store = Store::open(&location, "2026-01-01T00:00:00Z").expect("open");
    let keyed = |key_id: &str, hash: char| {
        let mut s = snap(&[("libfoo", "1.0")]);
        s.packages.push(Package::new(
            Ecosystem::File,
            "/etc/app.conf",
            &format!("hmac-sha256:{}", hash.to_string().repeat(64)),
        ));
        s.hash_key = Some(key_id.to_string());
        s.normalize();
        s
    };
    let first = keyed("k1:0000000000000000", 'a');
    let second = keyed("k1:1111111111111111", 'b');
    store
        .record("ssh://web-1", "2026-01-01T10:00:00Z", Ok(&first))
        .expect("record");
    let audit = store
        .record("ssh://web-1", "2026-01-02T10:00:00Z", Ok(&second))
        .expect("record");
    let Audit::Incomparable { since, reason } = audit else {
        panic!("expected incomparable, got {audit:?}");
    };
    assert_eq!(since, "2026-01-01T10:00:00Z");
    assert!(reason.contains("k1:1111111111111111"), "{reason}");
    let history = store.history("ssh://web-1", None).expect("history");
    assert_eq!((history.collections, history.changes.len()), (2, 0));
}

#[test]
fn postgres_tls_is_refused_before_connecting() {
    let url = "postgres://envsync:s3cret@db.invalid/envsync?sslmode=require";
    let err = Store::open(&Location::parse(url), "2026-01-01T00:00:00Z").expect_err("TLS");
    let text = err.to_string();
    assert!(matches!(err, HistoryError::BadUrl { .. }), "{text}");
    assert!(
        text.contains("sslmode=require") && text.contains("not supported"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}
