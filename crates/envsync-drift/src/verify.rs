//! What counts as a mismatch between what was built or started and what the lock and
//! manifest say: built images against the lock (`build`, `lock`), the running
//! development container against the lock and each service container against its locked
//! packages or declared version (`up`, `status --verify`). Pure functions of snapshots
//! and locks, so each rule is unit-tested without Docker.

use serde::Serialize;

use envsync_manifest::manifest::{normalize_name, Service};
use envsync_manifest::middleware::{split_reference, tag_version, ServiceKind};
use envsync_manifest::policy::DriftKind;
use envsync_manifest::version::upstream::{upstream_version, version_prefix_matches};
use envsync_manifest::{Constraint, Ecosystem, Lock, Manifest};

use crate::check::{self, Checked};
use crate::compare::{self, Drift};
use crate::lockfile::{dev_components, lock_snapshot};
use crate::probe::Reported;
use crate::Snapshot;

/// Whether a container runs what the lock or manifest says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    /// It does.
    Match,
    /// It does not.
    Drift,
    /// Nothing to compare it with (no locked package, no middleware package found).
    Unknown,
}

impl Parity {
    /// The word reports use: `match`, `drift`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Parity::Match => "match",
            Parity::Drift => "drift",
            Parity::Unknown => "unknown",
        }
    }
}

/// A service container's check: its parity and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceVerdict {
    pub result: Parity,
    pub detail: String,
}

/// Whether `snapshot` (a service container) runs the Debian packages the lock's image of
/// the service records or, without one, the version the manifest's `version` says.
pub fn check_service(
    manifest: &Manifest,
    service: &Service,
    lock: Option<&Lock>,
    snapshot: &Snapshot,
) -> ServiceVerdict {
    check_locked(service, lock, snapshot)
        .unwrap_or_else(|| check_declared_version(manifest, service, snapshot))
}

/// A service given by an `image` of middleware `kind`: its packages against the lock's
/// inventory of the image (when the lock has one), and the version its server
/// `reported` from inside against what the image's tag and the manifest's `version`
/// declare. Drift when either differs.
pub fn check_image_service(
    manifest: &Manifest,
    service: &Service,
    lock: Option<&Lock>,
    snapshot: &Snapshot,
    (kind, reported): (ServiceKind, &Reported),
) -> ServiceVerdict {
    let version = check_reported_version(manifest, service, kind, reported);
    match check_locked(service, lock, snapshot) {
        None => version,
        Some(packages) => ServiceVerdict {
            result: match (version.result, packages.result) {
                (Parity::Drift, _) | (_, Parity::Drift) => Parity::Drift,
                (Parity::Unknown, Parity::Unknown) => Parity::Unknown,
                _ => Parity::Match,
            },
            detail: format!("{}; {}", version.detail, packages.detail),
        },
    }
}

/// The version a `kind` server reported from inside its container against the version
/// its image's tag names (`postgres:15.4` names `15.4`, a dotted prefix of what it must
/// report) and the manifest's `version`.
pub fn check_reported_version(
    manifest: &Manifest,
    service: &Service,
    kind: ServiceKind,
    reported: &Reported,
) -> ServiceVerdict {
    let at = format!("{}:{}", manifest.file.display(), service.line);
    let image = service.image.as_deref().unwrap_or_default();
    let found = match reported {
        Reported::Version(found) => found,
        Reported::Unreadable(why) => {
            return verdict(
                Parity::Unknown,
                format!("could not read the {kind} version from inside: {why}"),
            )
        }
    };
    let tag = split_reference(image).1;
    let tag_version = tag.and_then(tag_version);
    let mut wrong = Vec::new();
    if let Some(declared) = tag_version.filter(|t| !version_prefix_matches(t, found)) {
        wrong.push(format!("image `{image}` declares {kind} {declared}"));
    }
    if !declared_version_matches(&service.version, found) {
        wrong.push(format!(
            "`version = \"{}\"` declares {kind} {}",
            service.version, service.version
        ));
    }
    if !wrong.is_empty() {
        return verdict(
            Parity::Drift,
            format!(
                "{} ({at}), but the server reports {kind} {found} from inside; run the image that names the release, or fix the tag and `version`",
                wrong.join(" and ")
            ),
        );
    }
    let tag_said = match (tag, tag_version) {
        (_, Some(t)) => format!("image tag `{t}` and "),
        (Some(t), None) => format!("(tag `{t}` names no version, so it verifies nothing) "),
        (None, None) => "(pinned by digest, no tag version to verify) ".to_string(),
    };
    verdict(
        Parity::Match,
        format!(
            "{kind} {found} reported from inside matches {tag_said}`version = \"{}\"` ({at})",
            service.version
        ),
    )
}

/// For `check --against lock:SERVICE`: a `kind` server that `reported` another release
/// than its image's tag declares (or, with no release in the tag, than `version`
/// allows), as drift of the `service` component `kind` from the declared release to the
/// found one. `None` when it matches or could not be read (`up` says why).
pub fn reported_version_drift(
    service: &Service,
    kind: ServiceKind,
    reported: &Reported,
) -> Option<Drift> {
    let Reported::Version(found) = reported else {
        return None;
    };
    let image = service.image.as_deref()?;
    let declared = match split_reference(image).1.and_then(tag_version) {
        Some(tag) => (!version_prefix_matches(tag, found)).then(|| tag.to_string()),
        None => {
            (!declared_version_matches(&service.version, found)).then(|| service.version.clone())
        }
    }?;
    let change = envsync_manifest::version::change(Ecosystem::Service, &declared, found);
    Some(Drift {
        ecosystem: Ecosystem::Service,
        name: kind.as_str().to_string(),
        kind: DriftKind::Changed,
        left: Some(declared),
        right: Some(found.clone()),
        direction: Some(change.direction),
        size: Some(change.size),
        arch: None,
        location: None,
        right_location: None,
    })
}

/// Whether a server at `found` satisfies the manifest's `version`: a plain release
/// (`15`, `7.0`) as a dotted prefix, else as a constraint (`>=15, <17`).
fn declared_version_matches(declared: &str, found: &str) -> bool {
    if declared.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return version_prefix_matches(declared, found);
    }
    Constraint::parse(Ecosystem::Service, declared).is_ok_and(|c| c.matches(found))
}

/// The service's locked Debian packages and files against `snapshot`; `None` when the
/// lock records none for it.
fn check_locked(
    service: &Service,
    lock: Option<&Lock>,
    snapshot: &Snapshot,
) -> Option<ServiceVerdict> {
    let locked: Vec<_> = lock
        .and_then(|l| l.services.get(&service.name))
        .map(|image| {
            image
                .components
                .iter()
                .filter(|c| {
                    c.ecosystem == Ecosystem::Deb
                        || (c.ecosystem == Ecosystem::File
                            && service.files.iter().any(|f| f.container_path == c.name))
                })
                .collect()
        })
        .unwrap_or_default();
    if locked.is_empty() {
        return None;
    }
    let mut wrong = Vec::new();
    for c in &locked {
        let name = normalize_name(c.ecosystem, &c.name);
        let running = snapshot
            .packages
            .iter()
            .find(|p| p.ecosystem == c.ecosystem && normalize_name(c.ecosystem, &p.name) == name);
        match running {
            Some(p) if p.version == c.version => {}
            // A file's content is named by its hash: say which file changed, not the hash.
            Some(_) if c.ecosystem == Ecosystem::File => {
                wrong.push(format!("file `{}` changed since the lock", c.name))
            }
            Some(p) => wrong.push(format!("`{}` {} (lock {})", c.name, p.version, c.version)),
            None => wrong.push(format!("`{}` missing (lock {})", c.name, c.version)),
        }
    }
    Some(if wrong.is_empty() {
        verdict(
            Parity::Match,
            match locked
                .iter()
                .filter(|c| c.ecosystem == Ecosystem::File)
                .count()
            {
                0 => format!("{} locked packages as in the lock", locked.len()),
                files => format!(
                    "{} locked packages and {files} {} as in the lock",
                    locked.len() - files,
                    if files == 1 { "file" } else { "files" }
                ),
            },
        )
    } else {
        verdict(
            Parity::Drift,
            format!(
                "{}; rebuild with `envsync up` after `envsync lock`",
                wrong.join(", ")
            ),
        )
    })
}

/// A service without locked packages: its middleware package's upstream version against
/// the manifest's `version`.
fn check_declared_version(
    manifest: &Manifest,
    service: &Service,
    snapshot: &Snapshot,
) -> ServiceVerdict {
    let at = format!("{}:{}", manifest.file.display(), service.line);
    let kind = match service.name.as_str() {
        "postgresql" => "postgres",
        other => other,
    };
    let services: Vec<_> = snapshot
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Service)
        .collect();
    let found = services
        .iter()
        .find(|p| p.name == kind)
        .or(match services.as_slice() {
            [only] => Some(only),
            _ => None,
        });
    let Some(p) = found else {
        return verdict(
            Parity::Unknown,
            format!(
                "no middleware package found to compare with `version = \"{}\"` ({at})",
                service.version
            ),
        );
    };
    let upstream = upstream_version(&p.version);
    if version_prefix_matches(&service.version, upstream) {
        verdict(
            Parity::Match,
            format!(
                "{} {} satisfies `version = \"{}\"` ({at})",
                p.name, upstream, service.version
            ),
        )
    } else {
        verdict(
            Parity::Drift,
            format!(
                "runs {} {}, but {at} says `version = \"{}\"`; fix the version or the image",
                p.name, upstream, service.version
            ),
        )
    }
}

fn verdict(result: Parity, detail: String) -> ServiceVerdict {
    ServiceVerdict { result, detail }
}

/// A snapshot of a running container (the development container) against the lock's
/// development image; `reference` names the lock in reports.
pub fn container_against_lock(lock: &Lock, reference: &str, running: &Snapshot) -> Checked {
    check::plain(compare::diff(
        &lock_snapshot(&lock.components, reference),
        running,
    ))
}

/// A freshly built development image (`image` fingerprinted as `snapshot`) against the
/// lock: a rebuild from a lock must reproduce it exactly.
pub fn image_against_lock(
    lock: &Lock,
    reference: &str,
    manifest: &Manifest,
    image: &str,
    snapshot: &Snapshot,
) -> Checked {
    check::plain(compare::diff(
        &lock_snapshot(&lock.components, reference),
        &lock_snapshot(
            &dev_components(manifest, snapshot),
            &format!("image:{image}"),
        ),
    ))
}

/// Each image of `built` (a lock assembled from fresh builds) against what `lock`
/// records: every difference is drift. One result per image `lock` records, the
/// development image first (`None`), then each service by name.
pub fn built_against_lock(
    lock: &Lock,
    reference: &str,
    built: &Lock,
) -> Vec<(Option<String>, Checked)> {
    let mut results = vec![(
        None,
        check::plain(compare::diff(
            &lock_snapshot(&lock.components, reference),
            &lock_snapshot(&built.components, "built image"),
        )),
    )];
    for (name, image) in &lock.services {
        let got = built
            .services
            .get(name)
            .map(|i| i.components.as_slice())
            .unwrap_or_default();
        results.push((
            Some(name.clone()),
            check::plain(compare::diff(
                &lock_snapshot(&image.components, &format!("{reference} [services.{name}]")),
                &lock_snapshot(got, &format!("image of service `{name}`")),
            )),
        ));
    }
    results
}

/// The development image built for `lock --from TARGET` against the target: everything
/// both have must be at the target's version; what only one of them has is not drift.
pub fn built_against_target(target: &Snapshot, built: &Lock, image: &str) -> Checked {
    let mut diff = compare::diff(
        target,
        &lock_snapshot(&built.components, &format!("image:{image}")),
    );
    diff.drop_extra();
    diff.drop_missing();
    check::plain(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as the manifest `envsync.toml`, dated the first day of 1970.
    fn parse(text: &str) -> Manifest {
        Manifest::parse_on(
            text,
            std::path::Path::new("envsync.toml"),
            envsync_manifest::policy::Date::from_unix_days(0),
        )
        .unwrap()
    }

    /// Check service `redis` of a manifest declaring `version` against a container
    /// running the Debian packages `running` (name, version), with `locked` in the
    /// lock's image of `redis`.
    fn check_redis(version: &str, locked: &[(&str, &str)], running: &[(&str, &str)]) -> Parity {
        let text = format!("[project]\nname = \"p\"\n[base]\nimage = \"envsync/debian:bookworm\"\n[services.redis]\nversion = \"{version}\"\n");
        let manifest = Manifest::parse_on(
            &text,
            std::path::Path::new("envsync.toml"),
            envsync_manifest::policy::Date::from_unix_days(0),
        )
        .unwrap();
        let base = envsync_manifest::LockedBase {
            image: "envsync/debian:bookworm".into(),
            digest: None,
        };
        let mut lock = Lock::new(manifest.sha256.clone(), base.clone(), vec![]);
        if !locked.is_empty() {
            let components = locked
                .iter()
                .map(|(name, version)| {
                    envsync_manifest::LockedComponent::new(Ecosystem::Deb, name, version)
                })
                .collect();
            lock = lock.with_service("redis", base, components);
        }
        let mut snapshot = Snapshot::new("docker:envsync-p-redis");
        for (name, version) in running {
            let package = |ecosystem, name: &str| crate::Package::new(ecosystem, name, version);
            snapshot.packages.push(package(Ecosystem::Deb, name));
            if *name == "redis-server" {
                snapshot.packages.push(package(Ecosystem::Service, "redis"));
            }
        }
        check_service(&manifest, &manifest.services[0], Some(&lock), &snapshot).result
    }

    #[test]
    fn a_service_file_is_checked_against_the_lock() {
        let text = "[project]\nname = \"p\"\n[base]\nimage = \"envsync/debian:bookworm\"\n[services.nginx]\nversion = \"1.22\"\nfiles = { \"/etc/nginx/sites-enabled/default\" = \"nginx.conf\" }\n";
        let manifest = parse(text);
        let base = envsync_manifest::LockedBase {
            image: "envsync/debian:bookworm".into(),
            digest: None,
        };
        fn file(hash: &str) -> (Ecosystem, &'static str, &str) {
            (Ecosystem::File, "/etc/nginx/sites-enabled/default", hash)
        }
        let deb = (Ecosystem::Deb, "nginx", "1.22.1-9");
        let components = [deb, file("sha256:aa")]
            .iter()
            .map(|(e, n, v)| envsync_manifest::LockedComponent::new(*e, n, v))
            .collect();
        let lock = Lock::new(manifest.sha256.clone(), base.clone(), vec![])
            .with_service("nginx", base, components);
        let verdict = |hash: &str| {
            let mut snapshot = Snapshot::new("docker:envsync-p-nginx");
            for (e, n, v) in [deb, file(hash)] {
                snapshot.packages.push(crate::Package::new(e, n, v));
            }
            check_service(&manifest, &manifest.services[0], Some(&lock), &snapshot)
        };
        let same = verdict("sha256:aa");
        assert_eq!(same.result, Parity::Match);
        assert_eq!(same.detail, "1 locked packages and 1 file as in the lock");
        let changed = verdict("sha256:bb");
        assert_eq!(changed.result, Parity::Drift);
        assert!(
            changed
                .detail
                .starts_with("file `/etc/nginx/sites-enabled/default` changed since the lock"),
            "{}",
            changed.detail
        );
    }

    #[test]
    fn services_are_checked_against_the_lock_else_the_declared_version() {
        use Parity::*;
        let running = [("redis-server", "5:7.0.15-1~deb12u10")];
        assert_eq!(check_redis("7.0", &[], &running), Match);
        assert_eq!(check_redis("7", &[], &running), Match);
        assert_eq!(check_redis("7.2", &[], &running), Drift);
        // `7.01` is not a dotted prefix of `7.0.15`.
        assert_eq!(check_redis("7.01", &[], &running), Drift);
        assert_eq!(check_redis("7.0", &[], &[("bash", "5.2.15-2+b7")]), Unknown);
        let locked = [("redis-server", "5:7.0.15-1~deb12u10")];
        assert_eq!(check_redis("7.0", &locked, &running), Match);
        assert_eq!(
            check_redis("7.0", &locked, &[("redis-server", "5:7.0.15-1~deb12u7")]),
            Drift
        );
        assert_eq!(
            check_redis("7.0", &locked, &[("bash", "5.2.15-2+b7")]),
            Drift
        );
    }

    #[test]
    fn a_rebuild_differing_from_the_lock_is_drift_image_by_image() {
        let base = envsync_manifest::LockedBase {
            image: "debian".into(),
            digest: None,
        };
        let c = |v: &str| envsync_manifest::LockedComponent::new(Ecosystem::Deb, "jq", v);
        let lock = Lock::new("x".into(), base.clone(), vec![c("1.6-1")]).with_service(
            "redis",
            base.clone(),
            vec![c("1.6-1")],
        );
        let same = built_against_lock(&lock, "envsync.lock", &lock);
        assert!(same.iter().all(|(_, checked)| !checked.failed()));
        let other = Lock::new("x".into(), base.clone(), vec![c("1.6-1")]).with_service(
            "redis",
            base,
            vec![c("1.6-2")],
        );
        let failed: Vec<Option<String>> = built_against_lock(&lock, "envsync.lock", &other)
            .into_iter()
            .filter(|(_, checked)| checked.failed())
            .map(|(which, _)| which)
            .collect();
        assert_eq!(failed, [Some("redis".to_string())]);
    }

    /// The verdict on a `kind` service running `image` with `version = "{version}"` whose
    /// server reported `reported`.
    fn reported(image: &str, version: &str, reported: Reported) -> ServiceVerdict {
        let text = format!("[project]\nname = \"p\"\n[base]\nimage = \"envsync/debian:bookworm\"\n[services.db]\nimage = \"{image}\"\nversion = \"{version}\"\n");
        let manifest = Manifest::parse_on(
            &text,
            std::path::Path::new("envsync.toml"),
            envsync_manifest::policy::Date::from_unix_days(0),
        )
        .unwrap();
        let service = &manifest.services[0];
        let kind = service.kind().expect("a known kind");
        check_reported_version(&manifest, service, kind, &reported)
    }

    #[test]
    fn a_reported_version_must_match_the_tag_and_the_declared_version() {
        use Parity::*;
        let found = |v: &str| Reported::Version(v.to_string());
        let ok = reported("postgres:15.4", "15", found("15.4"));
        assert_eq!(ok.result, Match);
        assert_eq!(
            ok.detail,
            "postgres 15.4 reported from inside matches image tag `15.4` and `version = \"15\"` (envsync.toml:5)"
        );
        assert_eq!(
            reported("redis:7.0-alpine", "7", found("7.0.15")).result,
            Match
        );
        assert_eq!(
            reported("nginx:1.22", ">=1.22, <1.23", found("1.22.1")).result,
            Match
        );
        let wrong = reported("postgres:14.0", "14", found("15.20"));
        assert_eq!(wrong.result, Drift);
        assert_eq!(
            wrong.detail,
            "image `postgres:14.0` declares postgres 14.0 and `version = \"14\"` declares postgres 14 (envsync.toml:5), but the server reports postgres 15.20 from inside; run the image that names the release, or fix the tag and `version`"
        );
        // `15.4` is not a dotted prefix of `15.14`.
        assert_eq!(
            reported("postgres:15.4", "15", found("15.14")).result,
            Drift
        );
        // A tag naming no release verifies nothing, and says so; `version` still counts.
        let alpine = reported("redis:alpine", "7.0", found("7.0.15"));
        assert_eq!(alpine.result, Match);
        assert!(
            alpine
                .detail
                .contains("(tag `alpine` names no version, so it verifies nothing)"),
            "{}",
            alpine.detail
        );
        assert_eq!(
            reported("redis:alpine", "7.2", found("7.0.15")).result,
            Drift
        );
        let unreadable = reported(
            "mongo:7.0",
            "7",
            Reported::Unreadable("`mongod --version` exited 127".into()),
        );
        assert_eq!(unreadable.result, Unknown);
        assert_eq!(
            unreadable.detail,
            "could not read the mongo version from inside: `mongod --version` exited 127"
        );
    }

    #[test]
    fn check_sees_a_tag_naming_another_release_as_a_changed_service() {
        let text = "[project]\nname = \"p\"\n[base]\nimage = \"envsync/debian:bookworm\"\n[services.db]\nimage = \"postgres:14.0\"\nversion = \"14\"\n";
        let manifest = parse(text);
        let service = &manifest.services[0];
        let found = |v: &str| Reported::Version(v.to_string());
        let drift =
            reported_version_drift(service, ServiceKind::Postgres, &found("15.20")).expect("drift");
        assert_eq!(
            (drift.ecosystem, drift.name.as_str(), drift.kind),
            (Ecosystem::Service, "postgres", DriftKind::Changed)
        );
        assert_eq!(
            (drift.left.as_deref(), drift.right.as_deref()),
            (Some("14.0"), Some("15.20"))
        );
        assert_eq!(drift.direction, Some(envsync_manifest::Direction::Newer));
        assert_eq!(
            reported_version_drift(service, ServiceKind::Postgres, &found("14.0.3")),
            None
        );
        let unreadable = Reported::Unreadable("no psql".into());
        assert_eq!(
            reported_version_drift(service, ServiceKind::Postgres, &unreadable),
            None
        );
    }
}
