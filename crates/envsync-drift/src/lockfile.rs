//! Between snapshots and the lock: what to collect from an image of a manifest, a lock's
//! image as a snapshot (so the lock compares like any target), and a fingerprinted
//! image as the lock's components. Pure functions of their inputs.

use envsync_manifest::lock::{location_matches, LockedComponent};
use envsync_manifest::manifest::{normalize_name, Service};
use envsync_manifest::{Declared, Ecosystem, Manifest};

use crate::collect::CollectOptions;
use crate::snapshot::{Package, Snapshot};

/// What to collect from an environment of `manifest` (`None`: the defaults): its
/// virtualenvs, Node projects and files. Not its environment variables: `[env]` is
/// given to containers at run time (interpolated from each developer's `.env`), never
/// built into an image, so neither a lock nor a comparison with one holds them.
pub fn collect_options(manifest: Option<&Manifest>) -> CollectOptions {
    let mut opts = CollectOptions::default();
    if let Some(m) = manifest {
        if let Some(py) = &m.python {
            opts.python_envs = py.venvs.iter().map(|v| v.path.clone()).collect();
        }
        if let Some(node) = &m.node {
            opts.npm_projects = node.projects.iter().map(|p| p.path.clone()).collect();
        }
        opts.files = m.files.iter().map(|f| f.container_path.clone()).collect();
        opts.roots = m.collect_roots.clone();
        opts.collect_env = false;
    }
    opts
}

/// What to collect from an image built from `manifest` whose inventory becomes the
/// lock: as [`collect_options`], with plain `sha256:` hashes. The lock's environment
/// values and files are the repository's own (no secret a hash could give away), and a
/// lock must verify for every user, whatever their key; comparisons bring it to the
/// other side's key with [`crate::hashkey::align_hashes`].
pub fn lock_collect_options(manifest: &Manifest) -> CollectOptions {
    CollectOptions {
        hashing: crate::collect::Hashing::Plain,
        ..collect_options(Some(manifest))
    }
}

/// What to collect from the image (or container) of a middleware service: its packages
/// and its configuration `files` (plain `sha256:` hashes, as the lock holds them: they
/// are the repository's own), not the image's environment.
pub fn service_collect_options(service: &Service) -> CollectOptions {
    CollectOptions {
        collect_env: false,
        files: service
            .files
            .iter()
            .map(|f| f.container_path.clone())
            .collect(),
        hashing: crate::collect::Hashing::Plain,
        ..CollectOptions::default()
    }
}

/// One image of a lock as a snapshot named `target`.
pub fn lock_snapshot(components: &[LockedComponent], target: &str) -> Snapshot {
    let mut s = Snapshot::new(target);
    s.packages = components
        .iter()
        .map(|c| Package {
            ecosystem: c.ecosystem,
            name: c.name.clone(),
            version: c.version.clone(),
            arch: c.arch.clone(),
            location: c.location.clone(),
            size: None,
            mode: None,
        })
        .collect();
    s.packages.sort_by(|a, b| a.key().cmp(&b.key()));
    s
}

/// Every component of the development image `snapshot`, each marked declared when the
/// manifest declares it (same ecosystem, normalised name and location as
/// [`envsync_manifest::Lock::check`] matches).
pub fn dev_components(manifest: &Manifest, snapshot: &Snapshot) -> Vec<LockedComponent> {
    let declared: Vec<&Declared> = manifest
        .declared()
        .iter()
        .filter(|d| {
            !d.location
                .as_deref()
                .is_some_and(|l| l.starts_with("service:"))
        })
        .collect();
    components(snapshot, |p| {
        let name = normalize_name(p.ecosystem, &p.name);
        declared.iter().any(|d| {
            d.ecosystem == p.ecosystem
                && normalize_name(d.ecosystem, &d.name) == name
                && location_matches(d.location.as_deref(), p.location.as_deref())
        })
    })
}

/// Every component of the image of `service`, its declared Debian packages and files
/// marked.
pub fn service_components(service: &Service, snapshot: &Snapshot) -> Vec<LockedComponent> {
    components(snapshot, |p| match p.ecosystem {
        Ecosystem::Deb => service.packages.iter().any(|r| {
            normalize_name(Ecosystem::Deb, &r.name) == normalize_name(Ecosystem::Deb, &p.name)
        }),
        Ecosystem::File => service.files.iter().any(|f| f.container_path == p.name),
        _ => false,
    })
}

/// Every component of the image of a service given by `image` (pulled, not built from
/// the manifest, so nothing in it is declared): its OS packages as the image's package
/// database lists them, so that `up` can check the running container against them.
pub fn image_service_components(snapshot: &Snapshot) -> Vec<LockedComponent> {
    components(snapshot, |_| false)
}

/// `components` (of an image built from a manifest) with the versions `target` runs of
/// every Debian and Python package both have (same ecosystem, name, and architecture or
/// location): what `envsync lock --from TARGET` builds again, so that the lock and the
/// target differ only in what the target has and the manifest does not declare. Returns
/// the components and how many took the target's version.
pub fn pinned_to_target(
    components: &[LockedComponent],
    target: &Snapshot,
) -> (Vec<LockedComponent>, usize) {
    let mut changed = 0;
    let pinned = components
        .iter()
        .map(|c| {
            let theirs = target.packages.iter().find(|p| {
                p.ecosystem == c.ecosystem
                    && matches!(c.ecosystem, Ecosystem::Deb | Ecosystem::Pypi)
                    && normalize_name(p.ecosystem, &p.name) == normalize_name(c.ecosystem, &c.name)
                    && match c.ecosystem {
                        Ecosystem::Deb => p.arch == c.arch,
                        _ => p.location == c.location,
                    }
            });
            match theirs {
                Some(p) if p.version != c.version => {
                    changed += 1;
                    LockedComponent {
                        version: p.version.clone(),
                        // The artifact of another version is another file.
                        checksum: None,
                        file: None,
                        ..c.clone()
                    }
                }
                _ => c.clone(),
            }
        })
        .collect();
    (pinned, changed)
}

fn components(snapshot: &Snapshot, declared: impl Fn(&Package) -> bool) -> Vec<LockedComponent> {
    snapshot
        .packages
        .iter()
        .map(|p| LockedComponent {
            arch: p.arch.clone(),
            location: p.location.clone(),
            declared: declared(p),
            ..LockedComponent::new(p.ecosystem, &p.name, &p.version)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn package(eco: Ecosystem, name: &str, version: &str, location: Option<&str>) -> Package {
        Package {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            arch: None,
            location: location.map(str::to_string),
            size: None,
            mode: None,
        }
    }

    #[test]
    fn marks_what_the_manifest_declares() {
        let manifest = Manifest::parse(
            "[project]\nname = \"p\"\n[base]\nimage = \"debian:bookworm\"\n[apt]\ncurl = \"*\"\n\
             [python.venvs.\"/opt/venv\".packages]\nDjango = \"*\"\n\
             [services.redis]\nversion = \"7.0\"\npackages = { redis-server = \"*\" }\n",
            Path::new("envsync.toml"),
        )
        .unwrap();
        let mut snapshot = Snapshot::new("image:x");
        snapshot.packages = vec![
            package(Ecosystem::Deb, "curl", "7.88", None),
            package(Ecosystem::Deb, "libc6", "2.36", None),
            package(Ecosystem::Deb, "redis-server", "7.0", None),
            package(
                Ecosystem::Pypi,
                "django",
                "4.2",
                Some("/opt/venv/lib/python3.11/site-packages"),
            ),
            package(
                Ecosystem::Pypi,
                "django",
                "4.2",
                Some("/usr/local/lib/python3.11/dist-packages"),
            ),
        ];
        let declared: Vec<bool> = dev_components(&manifest, &snapshot)
            .iter()
            .map(|c| c.declared)
            .collect();
        assert_eq!(declared, [true, false, false, true, false]);
        let declared: Vec<bool> = service_components(&manifest.services[0], &snapshot)
            .iter()
            .map(|c| c.declared)
            .collect();
        assert_eq!(declared, [false, false, true, false, false]);
        let back = lock_snapshot(&dev_components(&manifest, &snapshot), "lock");
        assert_eq!(back.packages, snapshot.packages);
    }

    #[test]
    fn takes_the_targets_versions_of_what_both_have() {
        let site = "/opt/venv/lib/python3.11/site-packages";
        let mut ours = vec![
            LockedComponent::new(Ecosystem::Deb, "perl-base", "5.36.0-7+deb12u3"),
            LockedComponent::new(Ecosystem::Deb, "curl", "7.88"),
            LockedComponent::new(Ecosystem::Pypi, "six", "1.16.0"),
            LockedComponent::new(Ecosystem::Npm, "dayjs", "1.11.13"),
        ];
        ours[0].arch = Some("amd64".into());
        ours[1].arch = Some("amd64".into());
        ours[2].location = Some(site.into());
        ours[0].checksum = Some(envsync_manifest::lock::Checksum::Sha256("ab".repeat(32)));
        let mut target = Snapshot::new("docker:prod");
        let mut perl = package(Ecosystem::Deb, "perl-base", "5.36.0-7+deb12u4", None);
        perl.arch = Some("amd64".into());
        target.packages = vec![
            perl,
            package(Ecosystem::Pypi, "six", "1.15.0", Some(site)),
            package(Ecosystem::Npm, "dayjs", "1.11.10", None),
            package(Ecosystem::Deb, "only-there", "1", None),
        ];
        let (pinned, changed) = pinned_to_target(&ours, &target);
        let got: Vec<String> = pinned
            .iter()
            .map(|c| format!("{}={} {}", c.name, c.version, c.checksum.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                "perl-base=5.36.0-7+deb12u4 false",
                "curl=7.88 false",
                "six=1.15.0 false",
                "dayjs=1.11.13 false"
            ]
        );
        assert_eq!(changed, 2);
    }
}
