//! What counts as a mismatch between what was built or started and what the lock and
//! manifest say: built images against the lock (`build`, `lock`), the running
//! development container against the lock and each service container against its locked
//! packages or declared version (`up`, `status --verify`). Pure functions of snapshots
//! and locks, so each rule is unit-tested without Docker.

use serde::Serialize;

use envsync_manifest::manifest::{normalize_name, Service};
use envsync_manifest::version::upstream::{upstream_version, version_prefix_matches};
use envsync_manifest::{Ecosystem, Lock, Manifest};

use crate::check::{self, Checked};
use crate::compare;
use crate::lockfile::{dev_components, lock_snapshot};
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
        return check_declared_version(manifest, service, snapshot);
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
    if wrong.is_empty() {
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
    }
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
        let manifest = Manifest::parse_on(
            text,
            std::path::Path::new("envsync.toml"),
            envsync_manifest::policy::Date::from_unix_days(0),
        )
        .unwrap();
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
}
