//! What `envsync init --from TARGET` declares, decided from a snapshot and its
//! [`Provenance`]: a pure function to a [`Draft`] of the manifest and a [`Summary`] of
//! what was declared and what was left to the lock, with the reason for each.
//!
//! It lives in drift (not the manifest crate) because the decision reads snapshots and
//! the target's records (apt marks, `Requires-Dist`, `package.json`); the manifest
//! crate only knows the neutral [`Draft`] and how to write it.
//!
//! - Debian packages: those apt marks manual (as `apt-mark showmanual`); middleware
//!   found by its package (`postgresql-NN`, `redis-server`, `nginx`) becomes a service.
//! - Python: per environment, the distributions no other distribution of the same
//!   environment requires (as `pip list --not-required`: `Requires-Dist` whose markers
//!   hold for this interpreter, extras not requested); a virtualenv's in
//!   `[python.venvs]`, `/usr/local`'s in `[python] packages`; Debian's own
//!   (`/usr/lib/python3/dist-packages`) are left to their Debian packages.
//! - npm: global packages (the top level of `/usr/local/lib/node_modules`) and each
//!   project's direct dependencies from its `package.json`.
//! - Runtimes as the snapshot reports them; everything pinned exactly.

mod markers;

use std::collections::{BTreeMap, BTreeSet};

use envsync_manifest::draft::{Draft, Pin, ServiceDraft};
use envsync_manifest::Ecosystem;
use serde::Serialize;

use crate::collect::parse::{pep503, upstream_version};
use crate::collect::provenance::Provenance;
use crate::snapshot::{Package, Snapshot};

/// How many components of one kind were declared or left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    /// What was counted (`OS packages`, `Python packages in /opt/app/venv`).
    pub what: String,
    pub count: usize,
    pub why: String,
}

/// What was declared and what was left to the lock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub declared: Vec<Count>,
    pub left_out: Vec<Count>,
}

impl Summary {
    fn declared(&mut self, what: impl Into<String>, count: usize, why: &str) {
        if count > 0 {
            self.declared.push(Count {
                what: what.into(),
                count,
                why: why.to_string(),
            });
        }
    }

    fn left(&mut self, what: impl Into<String>, count: usize, why: &str) {
        if count > 0 {
            self.left_out.push(Count {
                what: what.into(),
                count,
                why: why.to_string(),
            });
        }
    }
}

/// Declare what `snapshot` runs into `draft` (whose project, base, files and build
/// settings the caller fills), and say what was declared and left out.
pub fn declare(snapshot: &Snapshot, prov: &Provenance, draft: &mut Draft) -> Summary {
    let mut summary = Summary::default();
    declare_os(snapshot, prov, draft, &mut summary);
    for p in snapshot
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Runtime)
    {
        if envsync_manifest::manifest::names::RUNTIME_NAMES.contains(&p.name.as_str())
            && !draft.runtimes.iter().any(|r| r.name == p.name)
        {
            draft.runtimes.push(Pin::new(&p.name, &p.version));
        }
    }
    summary.declared(
        "runtimes",
        draft.runtimes.len(),
        "the versions the target runs",
    );
    declare_python(snapshot, prov, draft, &mut summary);
    declare_npm(snapshot, prov, draft, &mut summary);
    summary
}

/// A service envsync builds from Debian packages, known by its main package.
fn service_of(name: &str) -> Option<&'static str> {
    match name {
        "redis-server" => Some("redis"),
        "nginx" | "nginx-core" | "nginx-light" | "nginx-full" | "nginx-extras" => Some("nginx"),
        n if n
            .strip_prefix("postgresql-")
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit())) =>
        {
            Some("postgres")
        }
        _ => None,
    }
}

/// Packages that only pull a service's main package in (`postgresql` for `postgresql-15`).
fn service_companion(name: &str) -> Option<&'static str> {
    match name {
        "postgresql" => Some("postgres"),
        "redis" => Some("redis"),
        _ => None,
    }
}

fn declare_os(snapshot: &Snapshot, prov: &Provenance, draft: &mut Draft, summary: &mut Summary) {
    let debs: Vec<&Package> = snapshot
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Deb)
        .collect();
    let native = native_arch(&debs);
    // apt records `Architecture: all` packages under the native architecture, so an
    // `all` package matches its name under any architecture.
    let is_auto = |p: &Package| {
        prov.apt_auto.as_ref().is_some_and(|auto| {
            auto.iter().any(|(name, arch)| {
                *name == p.name
                    && (arch.is_none()
                        || *arch == p.arch
                        || matches!(p.arch.as_deref(), None | Some("all")))
            })
        })
    };
    let services = find_services(&debs, &is_auto);
    let (mut manual, mut auto, mut as_service) = (0, 0, 0);
    for p in &debs {
        if service_of(&p.name).is_some()
            || service_companion(&p.name).is_some_and(|s| services.contains_key(s))
        {
            as_service += 1;
            continue;
        }
        if is_auto(p) {
            auto += 1;
            continue;
        }
        manual += 1;
        let name = match p.arch.as_deref() {
            Some(a) if a != "all" && Some(a) != native.as_deref() => format!("{}:{a}", p.name),
            _ => p.name.clone(),
        };
        draft.apt.push(Pin::new(&name, &p.version));
    }
    draft.apt.sort();
    summary.declared("OS packages", manual, "apt marks them as installed by hand");
    summary.left("OS packages", auto, "installed as dependencies");
    summary.declared(
        "services",
        services.len(),
        "middleware found by its Debian package",
    );
    summary.left(
        "OS packages",
        as_service,
        "belong to a service, which runs in its own container",
    );
    draft.services = services.into_values().collect();
    let others = snapshot
        .packages
        .iter()
        .filter(|p| matches!(p.ecosystem, Ecosystem::Apk | Ecosystem::Rpm))
        .count();
    summary.left(
        "Alpine or RPM packages",
        others,
        "envsync init reads apt's marks only",
    );
}

/// The middleware among `debs`, one service each, pinned to its main package (the one
/// apt marks manual when there are several).
fn find_services(
    debs: &[&Package],
    is_auto: &dyn Fn(&Package) -> bool,
) -> BTreeMap<&'static str, ServiceDraft> {
    let mut services: BTreeMap<&str, ServiceDraft> = BTreeMap::new();
    for p in debs {
        let Some(service) = service_of(&p.name) else {
            continue;
        };
        let entry = services.entry(service).or_insert_with(|| ServiceDraft {
            name: service.to_string(),
            version: upstream_version(&p.version),
            packages: Vec::new(),
            env: if service == "postgres" {
                vec![("POSTGRES_PASSWORD".into(), "${POSTGRES_PASSWORD}".into())]
            } else {
                Vec::new()
            },
            comment: String::new(),
        });
        if entry.packages.is_empty() || !is_auto(p) {
            entry.packages = vec![Pin::new(&p.name, &p.version)];
            entry.comment = format!(
                "Found on the target as the Debian package `{}` {}; it runs as its own container here.",
                p.name, p.version
            );
            if service == "postgres" {
                entry.comment.push_str(
                    "\nenvsync's PostgreSQL needs a password: set POSTGRES_PASSWORD in `.env` beside this file.",
                );
            }
        }
    }
    services
}

/// The architecture most packages have (`all` aside): dpkg's native one.
fn native_arch(debs: &[&Package]) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in debs.iter().filter_map(|p| p.arch.as_deref()) {
        if a != "all" {
            *counts.entry(a).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(a, _)| a.to_string())
}

/// Where a Python environment's packages go: `None` for Debian's own directory,
/// `Some(None)` for the system interpreter below `/usr/local`, `Some(Some(prefix))` for
/// a virtualenv (or any other prefix).
fn python_home(location: &str) -> Option<Option<String>> {
    if location.starts_with("/usr/lib/python3") {
        return None;
    }
    if location.starts_with("/usr/local/lib/python3") {
        return Some(None);
    }
    let prefix = location
        .rsplit_once("/lib/python3")
        .map_or(location, |(p, _)| p);
    Some(Some(prefix.to_string()))
}

fn declare_python(
    snapshot: &Snapshot,
    prov: &Provenance,
    draft: &mut Draft,
    summary: &mut Summary,
) {
    let mut by_location: BTreeMap<&str, Vec<&Package>> = BTreeMap::new();
    for p in snapshot
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Pypi)
    {
        by_location
            .entry(p.location.as_deref().unwrap_or(""))
            .or_default()
            .push(p);
    }
    let full_version = snapshot
        .packages
        .iter()
        .find(|p| p.ecosystem == Ecosystem::Runtime && p.name == "python")
        .map(|p| p.version.clone());
    let machine = snapshot
        .packages
        .iter()
        .find(|p| p.ecosystem == Ecosystem::Deb && p.arch.as_deref().is_some_and(|a| a != "all"))
        .and_then(|p| p.arch.clone());
    for (location, packages) in by_location {
        let Some(home) = python_home(location) else {
            summary.left(
                format!("Python packages in {location}"),
                packages.len(),
                "came with Debian packages",
            );
            continue;
        };
        let env = markers::Env::new(location, full_version.as_deref(), machine.as_deref());
        let required: BTreeSet<String> = packages
            .iter()
            .filter_map(|p| {
                prov.python_requires
                    .get(&(location.to_string(), p.name.clone()))
            })
            .flatten()
            .filter_map(|req| markers::required_name(req, &env))
            .collect();
        let mut pins: Vec<Pin> = packages
            .iter()
            .filter(|p| !required.contains(&pep503(&p.name)))
            .map(|p| Pin::new(&p.name, &format!("=={}", p.version)))
            .collect();
        pins.sort();
        let declared = pins.len();
        let where_ = match &home {
            Some(prefix) => format!("Python packages in {prefix}"),
            None => format!("Python packages in {location}"),
        };
        summary.declared(&where_, declared, "no other package there requires them");
        summary.left(
            &where_,
            packages.len() - declared,
            "installed as dependencies",
        );
        match home {
            Some(prefix) => draft.venvs.entry(prefix).or_default().extend(pins),
            None => draft.python_packages.extend(pins),
        }
    }
}

fn declare_npm(snapshot: &Snapshot, prov: &Provenance, draft: &mut Draft, summary: &mut Summary) {
    let mut nested = 0;
    let mut unknown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut deps: BTreeMap<&str, usize> = BTreeMap::new();
    for p in snapshot
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
    {
        let location = p.location.as_deref().unwrap_or("");
        let Some(dir) = location.strip_suffix("/node_modules") else {
            nested += 1;
            continue;
        };
        if dir.contains("/node_modules/") || dir.ends_with("/node_modules") {
            nested += 1;
            continue;
        }
        if matches!(dir, "/usr/local/lib" | "/usr/lib") {
            draft.node_packages.push(Pin::new(&p.name, &p.version));
            continue;
        }
        match prov.npm_projects.get(dir) {
            Some(project) if project.dependencies.contains(&p.name) => draft
                .node_projects
                .entry(dir.to_string())
                .or_default()
                .push(Pin::new(&p.name, &p.version)),
            Some(_) => *deps.entry(dir).or_default() += 1,
            None => *unknown.entry(dir).or_default() += 1,
        }
    }
    draft.node_packages.sort();
    summary.declared(
        "global npm packages",
        draft.node_packages.len(),
        "installed with `npm install -g`",
    );
    for (dir, pins) in &mut draft.node_projects {
        pins.sort();
        summary.declared(
            format!("npm packages in {dir}"),
            pins.len(),
            "direct dependencies in its package.json",
        );
    }
    for (dir, n) in deps {
        summary.left(
            format!("npm packages in {dir}"),
            n,
            "installed as dependencies",
        );
    }
    for (dir, n) in unknown {
        summary.left(
            format!("npm packages in {dir}"),
            n,
            "no package.json beside node_modules says which are direct",
        );
    }
    summary.left(
        "npm packages",
        nested,
        "nested dependencies of other packages",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::provenance::NpmProject;

    fn pkg(
        eco: Ecosystem,
        name: &str,
        version: &str,
        arch: Option<&str>,
        loc: Option<&str>,
    ) -> Package {
        let mut p = Package::new(eco, name, version);
        p.arch = arch.map(str::to_string);
        p.location = loc.map(str::to_string);
        p
    }

    #[test]
    fn declares_what_was_asked_for_and_counts_the_rest() {
        let venv = "/opt/app/venv/lib/python3.11/site-packages";
        let mut snap = Snapshot::new("docker:x");
        snap.packages = vec![
            pkg(
                Ecosystem::Deb,
                "curl",
                "7.88.1-10+deb12u8",
                Some("amd64"),
                None,
            ),
            pkg(
                Ecosystem::Deb,
                "libcurl4",
                "7.88.1-10+deb12u8",
                Some("amd64"),
                None,
            ),
            pkg(Ecosystem::Deb, "libc6", "2.36-9", Some("i386"), None),
            pkg(
                Ecosystem::Deb,
                "tzdata",
                "2024a-0+deb12u1",
                Some("all"),
                None,
            ),
            pkg(
                Ecosystem::Deb,
                "python3-pip-whl",
                "23.0.1+dfsg-1",
                Some("all"),
                None,
            ),
            pkg(Ecosystem::Deb, "postgresql", "15+248", Some("all"), None),
            pkg(
                Ecosystem::Deb,
                "postgresql-15",
                "15.10-0+deb12u1",
                Some("amd64"),
                None,
            ),
            pkg(Ecosystem::Pypi, "requests", "2.32.3", None, Some(venv)),
            pkg(Ecosystem::Pypi, "urllib3", "2.2.3", None, Some(venv)),
            pkg(Ecosystem::Pypi, "pysocks", "1.7.1", None, Some(venv)),
            pkg(
                Ecosystem::Pypi,
                "pyyaml",
                "6.0",
                None,
                Some("/usr/lib/python3/dist-packages"),
            ),
            pkg(
                Ecosystem::Npm,
                "is-number",
                "7.0.0",
                None,
                Some("/usr/local/lib/node_modules"),
            ),
            pkg(
                Ecosystem::Npm,
                "ms",
                "2.1.3",
                None,
                Some("/usr/local/lib/node_modules/x/node_modules"),
            ),
            pkg(
                Ecosystem::Npm,
                "express",
                "4.21.1",
                None,
                Some("/srv/web/node_modules"),
            ),
            pkg(
                Ecosystem::Npm,
                "send",
                "0.19.0",
                None,
                Some("/srv/web/node_modules"),
            ),
            pkg(
                Ecosystem::Npm,
                "left-pad",
                "1.3.0",
                None,
                Some("/srv/other/node_modules"),
            ),
            pkg(Ecosystem::Runtime, "python", "3.11.2", None, None),
        ];
        let mut prov = Provenance {
            apt_auto: Some(
                [
                    ("libcurl4".to_string(), Some("amd64".to_string())),
                    ("libc6".to_string(), Some("amd64".to_string())),
                    ("python3-pip-whl".to_string(), Some("amd64".to_string())),
                ]
                .into_iter()
                .collect(),
            ),
            ..Provenance::default()
        };
        prov.python_requires.insert(
            (venv.into(), "requests".into()),
            vec![
                "urllib3<3,>=1.21.1".into(),
                "PySocks!=1.5.7; extra == \"socks\"".into(),
            ],
        );
        prov.npm_projects.insert(
            "/srv/web".into(),
            NpmProject {
                dependencies: ["express".to_string()].into_iter().collect(),
            },
        );
        let mut draft = Draft::default();
        let summary = declare(&snap, &prov, &mut draft);
        let show = |pins: &[Pin]| -> Vec<String> {
            pins.iter()
                .map(|p| format!("{}={}", p.name, p.constraint))
                .collect()
        };
        assert_eq!(
            show(&draft.apt),
            [
                "curl=7.88.1-10+deb12u8",
                "libc6:i386=2.36-9",
                "tzdata=2024a-0+deb12u1"
            ]
        );
        assert_eq!(draft.services.len(), 1);
        assert_eq!(draft.services[0].name, "postgres");
        assert_eq!(draft.services[0].version, "15.10");
        assert_eq!(
            show(&draft.services[0].packages),
            ["postgresql-15=15.10-0+deb12u1"]
        );
        assert_eq!(
            show(&draft.venvs["/opt/app/venv"]),
            ["pysocks===1.7.1", "requests===2.32.3"]
        );
        assert!(draft.python_packages.is_empty());
        assert_eq!(show(&draft.node_packages), ["is-number=7.0.0"]);
        assert_eq!(show(&draft.node_projects["/srv/web"]), ["express=4.21.1"]);
        assert_eq!(show(&draft.runtimes), ["python=3.11.2"]);
        let left: Vec<String> = summary
            .left_out
            .iter()
            .map(|c| format!("{} {}: {}", c.count, c.what, c.why))
            .collect();
        assert_eq!(
            left,
            [
                "2 OS packages: installed as dependencies",
                "2 OS packages: belong to a service, which runs in its own container",
                "1 Python packages in /opt/app/venv: installed as dependencies",
                "1 Python packages in /usr/lib/python3/dist-packages: came with Debian packages",
                "1 npm packages in /srv/web: installed as dependencies",
                "1 npm packages in /srv/other: no package.json beside node_modules says which are direct",
                "1 npm packages: nested dependencies of other packages",
            ]
        );
    }
}
