//! Every JSON document the CLI prints, one `Serialize` struct each with its `schema`
//! first; docs/contracts.md describes them and the snapshot tests below pin their shape.
//! (`envsync.snapshot/v1` and `envsync.diff/v1` are drift's.)

use std::path::Path;

use envsync_drift::check::Checked;
use envsync_drift::report::json::DiffReport;
use envsync_drift::verify::ServiceVerdict;
use envsync_manifest::{Diagnostic, LockProblem};
use envsync_provisioner::run::{Action, ServiceStatus};
use envsync_provisioner::BuiltImage;
use serde::Serialize;

/// Schema id of `envsync up --format json`.
pub const UP_SCHEMA: &str = "envsync.up/v1";
/// Schema id of `envsync status --format json`.
pub const STATUS_SCHEMA: &str = "envsync.status/v1";
/// Schema id of `envsync build --format json`.
pub const BUILD_SCHEMA: &str = "envsync.build/v1";
/// Schema id of `envsync lock --check --format json`.
pub const LOCK_CHECK_SCHEMA: &str = "envsync.lock-check/v1";
/// Schema id of `envsync lock --format json` (writing).
pub const LOCK_WRITE_SCHEMA: &str = "envsync.lock-write/v1";
/// Schema id of `envsync fetch --format json` and `envsync vendor --format json`.
pub const FETCH_SCHEMA: &str = "envsync.fetch/v1";
/// Schema id of `envsync validate --format json`.
pub const VALIDATE_SCHEMA: &str = "envsync.validate/v1";
/// Schema id of `envsync engine --format json`.
pub const ENGINE_SCHEMA: &str = "envsync.engine/v1";
/// Schema id of `envsync down --format json`.
pub const DOWN_SCHEMA: &str = "envsync.down/v1";
/// Schema id of `envsync init --format json`.
pub const INIT_SCHEMA: &str = "envsync.init/v1";

/// Schema id of `envsync audit --format json`.
pub const AUDIT_SCHEMA: &str = "envsync.audit/v1";
/// Schema id of `envsync history --format json`.
pub const HISTORY_SCHEMA: &str = "envsync.history/v1";

/// Print a document on standard output (a closed pipe ends it quietly).
pub fn print(document: &impl Serialize) -> anyhow::Result<()> {
    let mut text = envsync_drift::report::json_pretty(document)?;
    text.push('\n');
    crate::cmd::output::write_stdout(text.as_bytes())
}

/// `envsync.up/v1`: one shape for `up` and `up --check`.
#[derive(Debug, Serialize)]
pub struct Up<'a> {
    pub schema: &'static str,
    pub project: &'a str,
    /// Whether this was `up --check` (nothing changed).
    pub check: bool,
    /// Whether anything changed (or, with `check`, would change).
    pub changed: bool,
    /// Each resource's decision; empty when `--check` stops at an image to build.
    pub actions: &'a [Action],
    /// What the text output prints, one line per action or image to build.
    pub lines: Vec<String>,
    /// Time spent reading the engine's state and deciding; `null` with `check`.
    pub plan_ms: Option<f64>,
    /// Total time of `up`; `null` with `check`.
    pub total_ms: Option<f64>,
    /// The verification after `up`; `null` with `check` or `--no-verify`.
    pub verify: Option<Verify<'a>>,
}

/// The running containers against the lock and manifest (`up`, `status --verify`).
#[derive(Debug, Serialize)]
pub struct Verify<'a> {
    pub passed: bool,
    /// The lock's path; `null` without a lock.
    pub lock: Option<&'a str>,
    /// The development container against the lock; `null` without a lock.
    pub dev: Option<Verified<'a>>,
    pub services: &'a [ServiceCheck],
}

/// One comparison with the lock and its `envsync.diff/v1` report.
#[derive(Debug, Serialize)]
pub struct Verified<'a> {
    pub passed: bool,
    pub report: DiffReport<'a>,
}

impl<'a> Verified<'a> {
    pub fn of(checked: &'a Checked) -> Verified<'a> {
        Verified {
            passed: !checked.failed(),
            report: envsync_drift::report::json::document(checked),
        }
    }
}

/// A service container's check, by container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCheck {
    pub service: String,
    pub container: String,
    /// `result` (`match`, `drift`, `unknown`) and `detail`.
    #[serde(flatten)]
    pub verdict: ServiceVerdict,
}

/// `envsync.status/v1`.
#[derive(Debug, Serialize)]
pub struct Status<'a> {
    pub schema: &'static str,
    pub project: &'a str,
    pub services: &'a [ServiceStatus],
    /// With `--verify`; `null` otherwise.
    pub verify: Option<Verify<'a>>,
}

/// `envsync.build/v1`.
#[derive(Debug, Serialize)]
pub struct Build<'a> {
    pub schema: &'static str,
    pub tag: &'a str,
    pub id: &'a str,
    pub spec_sha256: &'a str,
    pub reused: bool,
    pub log: Option<&'a Path>,
    pub seconds: f64,
    /// The image against the lock; `null` without a lock or with `--no-verify`.
    pub verify: Option<Verified<'a>>,
}

impl<'a> Build<'a> {
    pub fn new(built: &'a BuiltImage, seconds: f64, verify: Option<&'a Checked>) -> Build<'a> {
        Build {
            schema: BUILD_SCHEMA,
            tag: &built.tag,
            id: &built.id,
            spec_sha256: &built.spec_sha256,
            reused: built.reused,
            log: built.log_path.as_deref(),
            seconds,
            verify: verify.map(Verified::of),
        }
    }
}

/// `envsync.lock-write/v1`.
#[derive(Debug, Serialize)]
pub struct LockWrite<'a> {
    pub schema: &'static str,
    pub lock: &'a Path,
    pub written: bool,
    /// The development image's tag.
    pub image: &'a str,
    pub services: Vec<NamedImage<'a>>,
    /// Components of the development image.
    pub components: usize,
    pub declared: usize,
    pub seconds: f64,
}

/// A service's image.
#[derive(Debug, Serialize)]
pub struct NamedImage<'a> {
    pub name: &'a str,
    pub image: &'a str,
}

/// `envsync.lock-check/v1`.
#[derive(Debug, Serialize)]
pub struct LockCheck<'a> {
    pub schema: &'static str,
    pub lock: &'a Path,
    pub up_to_date: bool,
    pub problems: Vec<Problem<'a>>,
}

/// A lock problem: its `kind` and data, a sentence and a fix.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    #[serde(flatten)]
    pub problem: ProblemKind<'a>,
    pub message: String,
    pub fix: String,
}

/// What a [`Problem`] is: the lock is absent, or one of the lock's own problems.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ProblemKind<'a> {
    Absent { kind: &'static str },
    Lock(&'a LockProblem),
}

impl<'a> Problem<'a> {
    pub fn absent(message: &str) -> Problem<'a> {
        Problem {
            problem: ProblemKind::Absent { kind: "absent" },
            message: message.to_string(),
            fix: "create it with `envsync lock` and commit it".to_string(),
        }
    }

    pub fn of(problem: &'a LockProblem) -> Problem<'a> {
        Problem {
            problem: ProblemKind::Lock(problem),
            message: problem.to_string(),
            fix: problem.fix().to_string(),
        }
    }
}

/// `envsync.fetch/v1`.
#[derive(Debug, Serialize)]
pub struct Fetch<'a> {
    pub schema: &'static str,
    pub cache: &'a Path,
    pub fetched: usize,
    pub bytes: u64,
    pub reused: usize,
    pub missing: &'a [String],
    pub seconds: f64,
}

/// `envsync.validate/v1`.
#[derive(Debug, Serialize)]
pub struct Validate<'a> {
    pub schema: &'static str,
    pub errors: &'a [Diagnostic],
}

/// `envsync.engine/v1`: the engine that answered.
#[derive(Debug, Serialize)]
pub struct Engine<'a> {
    pub schema: &'static str,
    /// The engine's address (`DOCKER_HOST`, or the default socket).
    pub host: &'a str,
    pub version: Option<&'a str>,
    pub api_version: Option<&'a str>,
}

/// `envsync.down/v1`: what `down` removed (empty lists when nothing was there).
#[derive(Debug, Serialize)]
pub struct Down<'a> {
    pub schema: &'static str,
    pub project: &'a str,
    pub containers: &'a [String],
    pub networks: &'a [String],
    pub volumes: &'a [String],
}

/// `envsync.audit/v1`: each target's collection and what changed since its previous one.
#[derive(Debug, Serialize)]
pub struct AuditDoc<'a> {
    pub schema: &'static str,
    /// The store, as `--store` named it (a PostgreSQL URL without its password).
    pub store: &'a str,
    pub targets: &'a [AuditedTarget],
    /// What `--keep`/`--retain` removed; absent without them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<envsync_history::Pruned>,
}

/// One audited target: when it was collected, and the outcome (`status` is `baseline`,
/// `unchanged`, `changed`, `incomparable` or `failed`).
#[derive(Debug, Serialize)]
pub struct AuditedTarget {
    pub target: String,
    pub at: String,
    #[serde(flatten)]
    pub audit: envsync_history::Audit,
}

/// `envsync.history/v1`: a target's changes (of one component, when named) over the
/// collections kept.
#[derive(Debug, Serialize)]
pub struct HistoryDoc<'a> {
    pub schema: &'static str,
    pub store: &'a str,
    #[serde(flatten)]
    pub history: &'a envsync_history::History,
}

/// `envsync.init/v1`: the manifest `init` wrote, from what, and what it declared and
/// left to the lock (each count with its reason).
#[derive(Debug, Serialize)]
pub struct Init<'a> {
    pub schema: &'static str,
    pub manifest: String,
    /// The target (`docker:NAME`), or `null` for the current directory's files.
    pub from: Option<&'a str>,
    pub declared: &'a [envsync_drift::declare::Count],
    pub left_out: &'a [envsync_drift::declare::Count],
}

#[cfg(test)]
mod tests {
    use envsync_drift::verify::Parity;
    use envsync_provisioner::run::{Change, Resource};

    use super::*;

    fn json(document: &impl Serialize) -> String {
        envsync_drift::report::json_pretty(document).unwrap()
    }

    fn drift() -> Checked {
        let mut a = envsync_drift::Snapshot::new("envsync.lock");
        let mut b = envsync_drift::Snapshot::new("docker:envsync-p-dev");
        let package = |version: &str| envsync_drift::Package {
            ecosystem: envsync_manifest::Ecosystem::Deb,
            name: "jq".into(),
            version: version.into(),
            arch: None,
            location: None,
            size: None,
            mode: None,
        };
        a.packages.push(package("1.6-2.1"));
        b.packages.push(package("1.6-2.2"));
        envsync_drift::check::plain(envsync_drift::compare::diff(&a, &b))
    }

    fn services() -> Vec<ServiceCheck> {
        vec![ServiceCheck {
            service: "redis".into(),
            container: "envsync-p-redis".into(),
            verdict: ServiceVerdict {
                result: Parity::Match,
                detail: "redis 7.0.15 satisfies `version = \"7.0\"` (envsync.toml:5)".into(),
            },
        }]
    }

    #[test]
    fn up_has_one_shape_checked_or_done() {
        let actions = [Action {
            resource: Resource::Service,
            name: "redis".into(),
            change: Change::Create,
            reasons: vec!["not running".into()],
        }];
        let check = Up {
            schema: UP_SCHEMA,
            project: "p",
            check: true,
            changed: true,
            actions: &actions,
            lines: vec![actions[0].describe(false)],
            plan_ms: None,
            total_ms: None,
            verify: None,
        };
        insta::assert_snapshot!("up_check", json(&check));
        let (checked, services) = (drift(), services());
        let done = Up {
            check: false,
            lines: vec![actions[0].describe(true)],
            plan_ms: Some(1.5),
            total_ms: Some(800.0),
            verify: Some(Verify {
                passed: false,
                lock: Some("envsync.lock"),
                dev: Some(Verified::of(&checked)),
                services: &services,
            }),
            ..check
        };
        insta::assert_snapshot!("up_done", json(&done));
    }

    #[test]
    fn status_build_and_lock_documents() {
        let services = services();
        let status = Status {
            schema: STATUS_SCHEMA,
            project: "p",
            services: &[],
            verify: Some(Verify {
                passed: true,
                lock: None,
                dev: None,
                services: &services,
            }),
        };
        insta::assert_snapshot!("status", json(&status));
        let built = BuiltImage {
            tag: "envsync/p:abc".into(),
            id: "sha256:0123".into(),
            spec_sha256: "abc".into(),
            reused: false,
            log_path: Some(".envsync/logs/build.log".into()),
        };
        let checked = drift();
        insta::assert_snapshot!("build", json(&Build::new(&built, 2.0, Some(&checked))));
        let write = LockWrite {
            schema: LOCK_WRITE_SCHEMA,
            lock: Path::new("envsync.lock"),
            written: true,
            image: "envsync/p:abc",
            services: vec![NamedImage {
                name: "redis",
                image: "envsync/redis:def",
            }],
            components: 120,
            declared: 3,
            seconds: 4.5,
        };
        insta::assert_snapshot!("lock_write", json(&write));
        let stale = LockProblem::Stale {
            lock_file: "envsync.lock".into(),
            locked_sha256: "a".repeat(64),
            manifest_sha256: "b".repeat(64),
            changed: vec!["[apt]".into()],
        };
        let check = LockCheck {
            schema: LOCK_CHECK_SCHEMA,
            lock: Path::new("envsync.lock"),
            up_to_date: false,
            problems: vec![
                Problem::absent("envsync.lock does not exist"),
                Problem::of(&stale),
            ],
        };
        insta::assert_snapshot!("lock_check", json(&check));
    }

    #[test]
    fn engine_and_down_documents() {
        let engine = Engine {
            schema: ENGINE_SCHEMA,
            host: "unix:///var/run/docker.sock",
            version: Some("20.10.24"),
            api_version: Some("1.41"),
        };
        insta::assert_snapshot!("engine", json(&engine));
        let down = Down {
            schema: DOWN_SCHEMA,
            project: "p",
            containers: &["envsync-p-dev".into()],
            networks: &["envsync-p".into()],
            volumes: &[],
        };
        insta::assert_snapshot!("down", json(&down));
    }
    fn change() -> envsync_history::Change {
        envsync_history::Change {
            ecosystem: envsync_manifest::Ecosystem::Deb,
            name: "libssl3".into(),
            arch: Some("amd64".into()),
            location: None,
            kind: envsync_history::ChangeKind::Changed,
            old: Some("3.0.15-1~deb12u1".into()),
            new: Some("3.0.17-1~deb12u2".into()),
            direction: Some(envsync_manifest::Direction::Newer),
        }
    }

    #[test]
    fn audit() {
        use envsync_history::Audit;
        let at = |t: &str| format!("2026-11-29T{t}Z");
        let targets = [
            AuditedTarget {
                target: "ssh://deploy@web-1".into(),
                at: at("10:00:00"),
                audit: Audit::Changed {
                    since: at("09:00:00"),
                    changes: vec![change()],
                },
            },
            AuditedTarget {
                target: "ssh://deploy@web-2".into(),
                at: at("10:00:01"),
                audit: Audit::Unchanged {
                    since: at("09:00:01"),
                },
            },
            AuditedTarget {
                target: "docker:new".into(),
                at: at("10:00:02"),
                audit: Audit::Baseline { components: 88 },
            },
            AuditedTarget {
                target: "ssh://deploy@web-3".into(),
                at: at("10:00:03"),
                audit: Audit::Failed {
                    error: "ssh: connect to host web-3 port 22: Connection refused".into(),
                },
            },
        ];
        let doc = AuditDoc {
            schema: AUDIT_SCHEMA,
            store: "postgres://envsync:***@db/envsync",
            targets: &targets,
            pruned: Some(envsync_history::Pruned {
                collections: 2,
                snapshots: 1,
            }),
        };
        insta::assert_snapshot!("audit", json(&doc));
    }

    #[test]
    fn history() {
        let history = envsync_history::History {
            target: "ssh://deploy@web-1".into(),
            component: Some("libssl3".into()),
            collections: 3,
            failed: 1,
            first: Some("2026-11-28T09:00:00Z".into()),
            last: Some("2026-11-29T10:00:00Z".into()),
            changes: vec![envsync_history::Entry {
                at: "2026-11-29T10:00:00Z".into(),
                since: "2026-11-28T09:00:00Z".into(),
                change: change(),
            }],
            failures: vec![envsync_history::Failure {
                at: "2026-11-29T09:00:00Z".into(),
                error: "ssh: connect to host web-1 port 22: Connection refused".into(),
            }],
            current: Some(vec![envsync_drift::Package::new(
                envsync_manifest::Ecosystem::Deb,
                "libssl3",
                "3.0.17-1~deb12u2",
            )]),
        };
        let doc = HistoryDoc {
            schema: HISTORY_SCHEMA,
            store: "/home/ops/.local/share/envsync/history.sqlite",
            history: &history,
        };
        insta::assert_snapshot!("history", json(&doc));
    }

    #[test]
    fn init_document() {
        use envsync_drift::declare::Count;
        let count = |what: &str, count, why: &str| Count {
            what: what.into(),
            count,
            why: why.into(),
        };
        let init = Init {
            schema: INIT_SCHEMA,
            manifest: "envsync.toml".into(),
            from: Some("docker:prod"),
            declared: &[count(
                "OS packages",
                12,
                "apt marks them as installed by hand",
            )],
            left_out: &[count("OS packages", 312, "installed as dependencies")],
        };
        insta::assert_snapshot!("init", json(&init));
    }
}
