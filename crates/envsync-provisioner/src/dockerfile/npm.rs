//! The npm steps of the Dockerfile: global packages by declared pins (or from their
//! tarballs), and Node projects with `npm ci` from a lockfile generated from the lock.

use envsync_engine::shell_quote;

use super::{env_slug, pinned_names, sorted_pins, ARTIFACTS_DIR, AVAILABLE_MARKER, CA_DIR};
use crate::spec::{BuildSpec, PackageSet, Pin, Req};

/// The `package.json` and `package-lock.json` a locked build installs Node project
/// `project` from with `npm ci`: the declared packages at their locked versions, and
/// every locked package of the project's tree with its integrity. `None` when the lock
/// lacks the project or one of its declared packages.
pub(super) fn npm_project_files(spec: &BuildSpec, project: &PackageSet) -> Option<NpmProjectFiles> {
    use std::collections::BTreeMap;
    let tarballs: Vec<_> = spec
        .locked
        .as_ref()?
        .tarballs
        .iter()
        .filter(|t| t.project.as_deref() == Some(project.path.as_str()))
        .collect();
    if tarballs.is_empty() {
        return None;
    }
    let mut dependencies = BTreeMap::new();
    for pin in &project.packages {
        let top = format!("node_modules/{}", pin.name);
        let locked = tarballs.iter().find(|t| t.path == top)?;
        dependencies.insert(pin.name.clone(), locked.version.clone());
    }
    let mut packages = BTreeMap::new();
    packages.insert(
        String::new(),
        serde_json::json!({ "name": "envsync-project", "dependencies": dependencies }),
    );
    for t in &tarballs {
        packages.insert(
            t.path.clone(),
            serde_json::json!({ "version": t.version, "integrity": t.integrity }),
        );
    }
    // The same tree for a build that has the tarballs: each resolved to its file in the
    // build's artifacts, so `npm ci --offline` needs no registry.
    let slug = env_slug("npm", Some(&project.path));
    let mut offline = packages.clone();
    for t in &tarballs {
        if let (Some(file), Some(entry)) = (&t.file, offline.get_mut(&t.path)) {
            entry["resolved"] = format!("file:{CA_DIR}/artifacts/{slug}/{file}").into();
        }
    }
    let package = serde_json::json!({ "name": "envsync-project", "dependencies": dependencies });
    let lockfile = |packages| {
        serde_json::json!({
            "name": "envsync-project",
            "lockfileVersion": 3,
            "requires": true,
            "packages": packages,
        })
    };
    let text = |v: &serde_json::Value| {
        let mut t = serde_json::to_string_pretty(v).unwrap_or_default();
        t.push('\n');
        t.into_bytes()
    };
    Some(NpmProjectFiles {
        package: text(&package),
        lockfile: text(&lockfile(packages)),
        offline_lockfile: text(&lockfile(offline)),
    })
}

/// What a locked Node project is installed from.
pub(super) struct NpmProjectFiles {
    pub package: Vec<u8>,
    pub lockfile: Vec<u8>,
    /// The lockfile with every package resolved to its tarball in the build.
    pub offline_lockfile: Vec<u8>,
}

fn npm_spec(pin: &Pin) -> String {
    match &pin.req {
        Req::Any => shell_quote(&pin.name),
        Req::Exact(v) | Req::Range(v) => shell_quote(&format!("{}@{v}", pin.name)),
    }
}

/// `npm install -g` (or `--prefix DIR`, which writes `DIR/package-lock.json`), then the
/// lockfile npm wrote (with each package's `integrity`) is kept in [`ARTIFACTS_DIR`]. On
/// failure, `npm view NAME versions` lists what the registry offers for every pinned
/// package.
pub(super) fn npm_run(spec: &BuildSpec, pins: &[Pin], prefix: Option<&str>) -> String {
    let specs: Vec<String> = sorted_pins(pins).into_iter().map(npm_spec).collect();
    let slug = env_slug("npm", prefix);
    let (install, lockfile) = match prefix {
        None => (
            format!("npm install -g {}", specs.join(" ")),
            "\"$(npm root -g)/.package-lock.json\"".to_string(),
        ),
        Some(dir) => {
            let dir = shell_quote(dir);
            (
                format!(
                    "mkdir -p {dir} && npm install --prefix {dir} --save-exact {}",
                    specs.join(" ")
                ),
                format!("{dir}/package-lock.json"),
            )
        }
    };
    let keep = format!(
        "mkdir -p {ARTIFACTS_DIR} && {{ cp {lockfile} {ARTIFACTS_DIR}/{slug}.json 2>/dev/null || true; }}"
    );
    let pinned = pinned_names(pins);
    let install = if pinned.is_empty() {
        install
    } else {
        format!(
            "{install} \\\n      || {{ rc=$?; for p in {pinned}; do echo \"{AVAILABLE_MARKER} npm $p: $(npm view \"$p\" versions --json 2>/dev/null | tr -d '[]\" \\n' | tr ',' ' ')\"; done; exit $rc; }}"
        )
    };
    let has_tarballs = spec
        .locked
        .as_ref()
        .is_some_and(|l| l.tarballs.iter().any(|t| t.project.as_deref() == prefix));
    if !has_tarballs {
        return format!("RUN set -e; {install}; \\\n    {keep}");
    }
    // A build from the artifact cache has the locked tarballs: installed from them,
    // with no registry; otherwise from the registry as declared.
    let tarballs = format!("{CA_DIR}/artifacts/{slug}");
    let from_tarballs = match prefix {
        None => format!("npm install -g --offline {tarballs}/*.tgz"),
        Some(dir) => {
            let dir = shell_quote(dir);
            format!("mkdir -p {dir} && npm install --prefix {dir} --save-exact --offline {tarballs}/*.tgz")
        }
    };
    format!(
        "RUN set -e; if ls {tarballs}/*.tgz >/dev/null 2>&1; then {from_tarballs}; else {install}; fi; \\\n    {keep}"
    )
}

/// A locked Node project: its generated `package.json` and `package-lock.json` copied
/// in, then `npm ci`, which installs exactly that tree and checks each tarball's
/// integrity. With the locked tarballs in the build (from the artifact cache), the
/// lockfile resolving each package to its tarball is used, and nothing is fetched
/// (`--offline`).
pub(super) fn npm_ci_run(project: &PackageSet) -> String {
    let slug = env_slug("npm", Some(&project.path));
    let dir = shell_quote(&project.path);
    let tarballs = format!("{CA_DIR}/artifacts/{slug}");
    format!(
        "COPY [\"envsync/{slug}/\", \"{}/\"]\n\
         RUN set -e; cd {dir}; \\\n    \
         if ls {tarballs}/*.tgz >/dev/null 2>&1; then cp package-lock.offline.json package-lock.json; npm ci --offline; else npm ci; fi; \\\n    \
         rm -f package-lock.offline.json; \
         mkdir -p {ARTIFACTS_DIR} && cp package-lock.json {ARTIFACTS_DIR}/{slug}.json",
        project.path
    )
}
