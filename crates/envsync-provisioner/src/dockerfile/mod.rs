//! Dockerfile generation: a pure, deterministic function of a [`BuildSpec`].
//!
//! Layers are ordered from least to most often changed: base, build-only settings,
//! the one apt layer (runtimes included), pip, virtualenvs, npm, npm projects, then
//! files and environment. A changed config file therefore never reinstalls packages.
//!
//! Extra CA bundles (for a TLS-intercepting proxy) reach apt, pip and npm through
//! `ARG`s (`SSL_CERT_FILE`, `PIP_CERT`, `REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`) and
//! `Acquire::https::CAInfo`, so the final image's environment never names them. The
//! bundle file is deleted before files and environment are added, but it stays in the
//! lower layer that copied it in: the legacy builder has no build secrets. A CA bundle
//! holds public certificates only, so this leaks nothing secret.
//!
//! Failing installs print the versions the source offers on a line starting with
//! [`AVAILABLE_MARKER`], which [`crate::diagnose`] reads back from the build log; no
//! extra container is needed to explain a missing version.

use std::fmt::Write as _;

use envsync_engine::shell_quote;

use crate::cache::ARTIFACTS_CONTEXT_DIR;
use crate::labels::LANGUAGE_GROUP;
use crate::spec::{BuildSpec, FileSpec, PackageSet, Pin, Req};

mod apt;
pub mod marker;
mod npm;

use apt::apt_run;
use marker::{marker, marker_bytes, MARKER_CONTEXT_PATH, MARKER_LABEL, MARKER_PATH};
use npm::{npm_ci_run, npm_project_files, npm_run};

/// Where the CA bundle lives inside the image while it builds; removed before files
/// and environment are added.
pub const CA_DIR: &str = "/usr/local/share/envsync-build";

/// Context path of the concatenated CA bundle.
pub const CA_CONTEXT_PATH: &str = "envsync/ca.pem";

/// Prefix of the lines a failing install prints with the versions on offer:
/// `envsync-available <ecosystem> <name>: <v1> <v2> ...`.
pub const AVAILABLE_MARKER: &str = "envsync-available";

/// Prefix of the lines a locked build prints for each Debian package it could not bring
/// to its locked version: `envsync-closure-mismatch <name> <arch> <version>`.
pub const CLOSURE_MARKER: &str = "envsync-closure-mismatch";

/// Where every image envsync builds records the artifacts its steps installed: Debian
/// packages with the sha256 of their `.deb` (`debs.tsv`), pip's install reports
/// (`pip-*.json`) and npm's lockfiles (`npm-*.json`). `envsync lock` reads them back.
pub const ARTIFACTS_DIR: &str = "/var/lib/envsync";

/// The shell command that hands the language environment at `path` to
/// [`LANGUAGE_GROUP`]: group-owned and group-writable, directories setgid so what is
/// added later stays the group's. Run in the step that fills the directory, so no layer
/// holds a second copy of it. A development container's user belongs to the group, so
/// `pip install` and `npm install` work without root, and the image names no developer.
fn group_writable(path: &str) -> String {
    let dir = shell_quote(path);
    format!(
        "chgrp -R {LANGUAGE_GROUP} {dir} && chmod -R g+w {dir} && find {dir} -type d -exec chmod g+s {{}} +"
    )
}

/// Where Debian keeps the wheels `python3 -m venv` installs pip and setuptools from.
pub const BUNDLED_WHEELS: &str = "/usr/share/python-wheels";

/// Context path of the locked Debian package list (`name arch version` lines).
pub const APT_CLOSURE_CONTEXT: &str = "envsync/apt-closure";

/// Context path of the locked `.deb` checksums (`name arch version sha256` lines).
pub const APT_HASHES_CONTEXT: &str = "envsync/apt-hashes";

/// Prefix of the line a runtime version check prints when Debian's runtime is not
/// the one wanted: `envsync-runtime-mismatch <runtime> wanted <w> found <f>`.
pub const RUNTIME_MARKER: &str = "envsync-runtime-mismatch";

/// The context path of the `index`-th file (in container-path order). Files are
/// named by position, not by their container path, so that no character of a path can
/// be read as a COPY wildcard.
pub fn file_context_path(index: usize) -> String {
    format!("files/{index:04}")
}

/// Files in the order they are copied: sorted by container path.
pub fn sorted_files(spec: &BuildSpec) -> Vec<&FileSpec> {
    let mut files: Vec<&FileSpec> = spec.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The inputs envsync generates into the build context besides the Dockerfile, the CA
/// bundle and `[files]`: the locked Debian package list and the hashed Python
/// requirements of a locked build, then the image's marker (when the spec names its
/// identity), as (context path, bytes).
pub fn generated_inputs(spec: &BuildSpec) -> Vec<(String, Vec<u8>)> {
    let mut inputs = locked_inputs(spec);
    if let Some(marker) = marker(spec, &inputs) {
        inputs.push((MARKER_CONTEXT_PATH.to_string(), marker_bytes(&marker)));
    }
    inputs
}

/// What a locked build takes from its lock, as (context path, bytes); empty without one.
fn locked_inputs(spec: &BuildSpec) -> Vec<(String, Vec<u8>)> {
    let Some(locked) = &spec.locked else {
        return Vec::new();
    };
    let mut inputs = Vec::new();
    if !locked.debs.is_empty() {
        let mut lines: Vec<String> = locked
            .debs
            .iter()
            .map(|d| format!("{} {} {}\n", d.name, d.arch, d.version))
            .collect();
        // `comm` in the build compares byte-wise sorted lists.
        lines.sort();
        lines.dedup();
        inputs.push((APT_CLOSURE_CONTEXT.to_string(), lines.concat().into_bytes()));
        let mut hashes: Vec<String> = locked
            .debs
            .iter()
            .filter_map(|d| {
                let sha = d.sha256.as_deref()?;
                Some(format!("{} {} {} {sha}\n", d.name, d.arch, d.version))
            })
            .collect();
        hashes.sort();
        hashes.dedup();
        // Never empty: the build's awk tells this file from its standard input by
        // `NR == FNR`, which an empty first file would break.
        hashes.insert(0, "# name arch version sha256\n".to_string());
        inputs.push((APT_HASHES_CONTEXT.to_string(), hashes.concat().into_bytes()));
    }
    if let Some(node) = &spec.node {
        for project in sorted_sets(&node.projects) {
            if let Some(files) = npm_project_files(spec, project) {
                let dir = env_slug("npm", Some(&project.path));
                inputs.push((format!("envsync/{dir}/package-lock.json"), files.lockfile));
                inputs.push((
                    format!("envsync/{dir}/package-lock.offline.json"),
                    files.offline_lockfile,
                ));
                inputs.push((format!("envsync/{dir}/package.json"), files.package));
            }
        }
    }
    // The directory a build from the artifact cache fills; present (with this note) in
    // every locked build, so the Dockerfile and the tag do not depend on the cache.
    inputs.push((
        format!("{ARTIFACTS_CONTEXT_DIR}/README"),
        b"Artifacts from envsync's cache, for builds the package sources can no longer serve.\n"
            .to_vec(),
    ));
    for env in python_envs(spec) {
        let mut lines: Vec<String> = locked
            .wheels
            .iter()
            .filter(|w| w.env.as_deref() == env)
            .map(|w| format!("{}=={} --hash=sha256:{}\n", w.name, w.version, w.sha256))
            .collect();
        if lines.is_empty() {
            continue;
        }
        lines.sort();
        inputs.push((
            format!("envsync/{}.txt", env_slug("pip", env)),
            lines.concat().into_bytes(),
        ));
    }
    inputs
}

/// The Python environments of `spec`: the system one (`None`) and each virtualenv.
fn python_envs(spec: &BuildSpec) -> Vec<Option<&str>> {
    match &spec.python {
        None => Vec::new(),
        Some(python) => std::iter::once(None)
            .chain(
                sorted_sets(&python.venvs)
                    .into_iter()
                    .map(|v| Some(v.path.as_str())),
            )
            .collect(),
    }
}

/// A file-name-safe name for the environment at `path` (`None`: the system or global
/// one): `pip-system`, `pip-env-<hex of the path>`. [`env_of_slug`] reverses it.
pub fn env_slug(tool: &str, path: Option<&str>) -> String {
    match path {
        None => format!("{tool}-system"),
        Some(path) => format!("{tool}-env-{}", hex::encode(path.as_bytes())),
    }
}

/// The environment path an [`env_slug`] names (`Some(None)`: the system one).
pub fn env_of_slug(tool: &str, slug: &str) -> Option<Option<String>> {
    let rest = slug.strip_prefix(tool)?.strip_prefix('-')?;
    if rest == "system" {
        return Some(None);
    }
    let bytes = hex::decode(rest.strip_prefix("env-")?).ok()?;
    String::from_utf8(bytes).ok().map(Some)
}

/// Context path of the `index`-th apt signing key.
pub fn apt_key_context_path(index: usize) -> String {
    format!("envsync/apt-keys/{index:02}.asc")
}

/// The image reference the Dockerfile builds `FROM`: the pinned digest when known,
/// otherwise the base image as written.
pub fn from_reference(spec: &BuildSpec) -> &str {
    match &spec.base_digest {
        Some(digest) => digest,
        None => &spec.base_image,
    }
}

/// Render the Dockerfile for `spec`. Deterministic: the same spec always gives the
/// same bytes, whatever the order of its lists. Call [`BuildSpec::validate`] first;
/// every value is shell-quoted, but only validated values are guaranteed to build.
// Over 80 lines on purpose: it writes the Dockerfile line by line in layer order (the
// order is the build cache's contract), so the function reads like its output.
pub fn render_dockerfile(spec: &BuildSpec) -> String {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line(&format!(
        "# Generated by envsync for project `{}`; edit the manifest, not this file.",
        spec.project
    ));
    if spec.base_digest.is_some() {
        line(&format!("# base: {}", spec.base_image));
    }
    line(&format!("FROM {}", from_reference(spec)));

    // Build-time settings as ARGs: RUN steps see them, the final image's environment
    // does not carry them.
    line("ARG DEBIAN_FRONTEND=noninteractive");
    let has_ca = !spec.ca_certificates.is_empty();
    if has_ca {
        let ca = format!("{CA_DIR}/ca.pem");
        for var in [
            "SSL_CERT_FILE",
            "PIP_CERT",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ] {
            line(&format!("ARG {var}={ca}"));
        }
    }
    if let (Some(_), Some(index)) = (&spec.python, &spec.sources.pypi_index) {
        line(&format!("ARG PIP_INDEX_URL={index}"));
    }
    if let (Some(_), Some(registry)) = (&spec.node, &spec.sources.npm_registry) {
        line(&format!("ARG npm_config_registry={registry}"));
    }
    if spec.python.is_some() && spec.locked.is_some() {
        // Set (to 1) by an offline build: wheels come from the build's artifacts only.
        line("ARG PIP_NO_INDEX");
    }
    if spec.python.is_some() {
        line("ARG PIP_NO_CACHE_DIR=1");
        line("ARG PIP_DISABLE_PIP_VERSION_CHECK=1");
        line("ARG PIP_ROOT_USER_ACTION=ignore");
    }
    if spec.node.is_some() {
        line("ARG npm_config_fund=false");
        line("ARG npm_config_audit=false");
        line("ARG npm_config_update_notifier=false");
    }
    if has_ca {
        line(&format!(
            "COPY [\"{CA_CONTEXT_PATH}\", \"{CA_DIR}/ca.pem\"]"
        ));
    }

    let generated = generated_inputs(spec);
    let copy_generated = |out: &mut Vec<String>, path: &str| {
        if generated.iter().any(|(p, _)| p == path) {
            let name = path.trim_start_matches("envsync/");
            out.push(format!("COPY [\"{path}\", \"{CA_DIR}/{name}\"]"));
        }
    };
    let mut steps = Vec::new();
    for index in 0..spec.sources.apt_keys.len() {
        steps.push(format!(
            "COPY [\"{}\", \"/etc/apt/trusted.gpg.d/envsync-{index}.asc\"]",
            apt_key_context_path(index)
        ));
    }
    if spec.locked.is_some() {
        steps.push(format!(
            "COPY [\"{ARTIFACTS_CONTEXT_DIR}\", \"{CA_DIR}/artifacts\"]"
        ));
    }
    copy_generated(&mut steps, APT_CLOSURE_CONTEXT);
    copy_generated(&mut steps, APT_HASHES_CONTEXT);
    if let Some(run) = apt_run(spec) {
        steps.push(run);
    }
    if let Some(python) = &spec.python {
        let system = env_slug("pip", None);
        copy_generated(&mut steps, &format!("envsync/{system}.txt"));
        if let Some(run) = pip_run(spec, &python.packages, None) {
            steps.push(run);
        }
        for venv in sorted_sets(&python.venvs) {
            let slug = env_slug("pip", Some(&venv.path));
            copy_generated(&mut steps, &format!("envsync/{slug}.txt"));
            // A new virtualenv gets pip and setuptools from the wheels Debian bundles;
            // their sha256 is recorded like any installed wheel's.
            let create = format!(
                "python3 -m venv {} \\\n && mkdir -p {ARTIFACTS_DIR} && for w in {BUNDLED_WHEELS}/*.whl; do [ -f \"$w\" ] || continue; f=\"${{w##*/}}\"; printf 'pypi\\t%s\\t%s\\t%s\\t%s\\n' \"${{f%%-*}}\" \"$(echo \"$f\" | cut -d- -f2)\" \"$(sha256sum \"$w\" | cut -d' ' -f1)\" \"$f\"; done > {ARTIFACTS_DIR}/{}.tsv",
                shell_quote(&venv.path),
                env_slug("wheels", Some(&venv.path))
            );
            let run = match pip_run(spec, &venv.packages, Some(&venv.path)) {
                Some(install) => format!("RUN {create} \\\n && {}", &install[4..]),
                None => format!("RUN {create}"),
            };
            steps.push(format!("{run} \\\n && {}", group_writable(&venv.path)));
        }
    }
    if let Some(node) = &spec.node {
        if !node.packages.is_empty() {
            steps.push(npm_run(spec, &node.packages, None));
        }
        for project in sorted_sets(&node.projects) {
            let run = if npm_project_files(spec, project).is_some() {
                npm_ci_run(project)
            } else {
                npm_run(spec, &project.packages, Some(&project.path))
            };
            // Both run under `set -e`.
            steps.push(format!("{run}; \\\n    {}", group_writable(&project.path)));
        }
    }
    for step in &steps {
        line(step);
    }
    if has_ca || generated.iter().any(|(p, _)| p != MARKER_CONTEXT_PATH) {
        line(&format!("RUN rm -rf {CA_DIR}"));
    }

    for (index, file) in sorted_files(spec).into_iter().enumerate() {
        line(&format!(
            "COPY [\"{}\", \"{}\"]",
            file_context_path(index),
            file.path
        ));
    }
    // No `ENV`: the manifest's environment reaches containers when they are created
    // (`runtime`), so no value, secret or not, is ever in an image layer.
    // Last, so the marker never invalidates a layer above it.
    if let Some((_, bytes)) = generated.iter().find(|(p, _)| p == MARKER_CONTEXT_PATH) {
        line(&format!(
            "COPY [\"{MARKER_CONTEXT_PATH}\", \"{MARKER_PATH}\"]"
        ));
        let text = String::from_utf8_lossy(bytes);
        line(&format!(
            "LABEL {MARKER_LABEL}=\"{}\"",
            dockerfile_escape(text.trim_end())
        ));
    }
    out
}

fn sorted_sets(sets: &[PackageSet]) -> Vec<&PackageSet> {
    let mut sorted: Vec<&PackageSet> = sets.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    sorted
}

fn sorted_pins(pins: &[Pin]) -> Vec<&Pin> {
    let mut sorted: Vec<&Pin> = pins.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted
}

fn pinned_names(pins: &[Pin]) -> String {
    sorted_pins(pins)
        .into_iter()
        .filter(|pin| pin.exact_version().is_some())
        .map(|pin| shell_quote(&pin.name))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pip_requirement(pin: &Pin) -> String {
    match &pin.req {
        Req::Any => shell_quote(&pin.name),
        Req::Exact(v) => shell_quote(&format!("{}=={v}", pin.name)),
        Req::Range(r) => shell_quote(&format!("{}{}", pin.name, r.replace(' ', ""))),
    }
}

/// `pip install` into the system Python (`env` `None`) or the virtualenv at `env`, with
/// pip's install report (which names each wheel and its sha256) kept in
/// [`ARTIFACTS_DIR`]. A locked build installs the locked wheels by hash, without
/// resolving dependencies; otherwise the declared requirements are resolved. pip lists
/// the versions on offer in its own error, so no extra lookup is needed.
fn pip_run(spec: &BuildSpec, pins: &[Pin], env: Option<&str>) -> Option<String> {
    let slug = env_slug("pip", env);
    let hashed = spec
        .locked
        .as_ref()
        .is_some_and(|l| l.wheels.iter().any(|w| w.env.as_deref() == env));
    let updating = spec
        .locked
        .as_ref()
        .is_some_and(|l| l.update_wheels.iter().any(|(e, _)| e.as_deref() == env));
    if pins.is_empty() && !hashed && !updating {
        return None;
    }
    let (python, extra) = match env {
        None => ("python3".to_string(), " --break-system-packages"),
        Some(path) => (format!("{}/bin/python", shell_quote(path)), ""),
    };
    let install = if hashed {
        format!(
            "{python} -m pip install{extra} --report {ARTIFACTS_DIR}/{slug}.json --no-deps --require-hashes --find-links {CA_DIR}/artifacts --find-links {BUNDLED_WHEELS} -r {CA_DIR}/{slug}.txt"
        )
    } else if spec.locked.is_some() && pins.is_empty() {
        // Locked, and every wheel of this environment is being updated.
        "true".to_string()
    } else {
        let reqs: Vec<String> = sorted_pins(pins).into_iter().map(pip_requirement).collect();
        format!(
            "{python} -m pip install{extra} --report {ARTIFACTS_DIR}/{slug}.json {}",
            reqs.join(" ")
        )
    };
    let mut run = format!("RUN mkdir -p {ARTIFACTS_DIR} && {install}");
    let updates: Vec<String> = spec
        .locked
        .iter()
        .flat_map(|l| l.update_wheels.iter())
        .filter(|(e, _)| e.as_deref() == env)
        .map(|(_, pin)| pip_requirement(pin))
        .collect();
    if !updates.is_empty() {
        // Taken out of the lock on purpose: upgraded with what they require; the report
        // keeps their checksums.
        let _ = write!(
            run,
            " \\\n && {python} -m pip install{extra} --upgrade --report {ARTIFACTS_DIR}/{slug}.update.json {}",
            updates.join(" ")
        );
    }
    Some(run)
}

/// Escape a value for a double-quoted Dockerfile `LABEL` value: backslash, quote and
/// `$` (which the Dockerfile parser would otherwise expand).
fn dockerfile_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::spec::{FileSource, NodeSpec, PythonSpec};

    fn check(spec: &BuildSpec, expected: &str) {
        let got = render_dockerfile(spec);
        assert_eq!(got, expected, "rendered:\n{got}");
    }

    fn full_spec() -> BuildSpec {
        let mut spec = BuildSpec::new("demo", "envsync/debian:bookworm");
        spec.base_digest = Some(format!("sha256:{}", "ab".repeat(32)));
        spec.apt = vec![Pin::exact("jq", "1.6-2.1+deb12u3"), Pin::any("curl")];
        spec.python = Some(PythonSpec {
            version: Some("3.11".into()),
            packages: vec![
                Pin::exact("iniconfig", "2.0.0"),
                Pin::range("django", "~=4.2.7"),
            ],
            venvs: vec![PackageSet {
                path: "/opt/venv".into(),
                packages: vec![Pin::exact("six", "1.16.0")],
            }],
        });
        spec.node = Some(NodeSpec {
            version: Some("18".into()),
            packages: vec![Pin::exact("is-number", "7.0.0")],
            projects: vec![PackageSet {
                path: "/srv/app".into(),
                packages: vec![Pin::range("express", "^4.18.0")],
            }],
        });
        spec.files = vec![
            FileSpec {
                path: "/etc/app/z.ini".into(),
                source: FileSource::Bytes(b"z".to_vec()),
                mode: 0o600,
            },
            FileSpec {
                path: "/etc/app/a b.ini".into(),
                source: FileSource::Bytes(b"a".to_vec()),
                mode: 0o644,
            },
        ];
        spec.ca_certificates = vec![PathBuf::from("/etc/ssl/certs/ca-certificates.crt")];
        spec.identity = Some(marker::ImageIdentity {
            project: "demo".into(),
            image: marker::DEV_IMAGE.into(),
        });
        spec.sources = crate::spec::SourceSpec {
            apt: vec!["deb [trusted=yes] http://127.0.0.1:8080/ ./".into()],
            apt_keys: vec![PathBuf::from("keys/mirror.asc")],
            apt_snapshot: Some("https://snapshot.example/archive/debian/20250101T000000Z/".into()),
            pypi_index: Some("https://pypi.example/simple/".into()),
            npm_registry: Some("https://npm.example/".into()),
        };
        spec
    }

    #[test]
    fn minimal_spec_is_just_from() {
        check(
            &BuildSpec::new("demo", "envsync/debian:bookworm"),
            "# Generated by envsync for project `demo`; edit the manifest, not this file.\n\
             FROM envsync/debian:bookworm\n\
             ARG DEBIAN_FRONTEND=noninteractive\n",
        );
    }

    #[test]
    fn full_spec_renders_every_layer() {
        insta::assert_snapshot!(render_dockerfile(&full_spec()));
    }

    /// A locked build installs the locked Debian list in one transaction and the
    /// locked wheels by hash, each from a generated input copied in right before its step.
    #[test]
    fn locked_spec_installs_the_closure() {
        use crate::spec::{LockedDeb, LockedSet, LockedWheel};
        let mut spec = full_spec();
        let deb = |name: &str, arch: &str, version: &str| LockedDeb {
            name: name.into(),
            arch: arch.into(),
            version: version.into(),
            sha256: (name != "tzdata").then(|| name.repeat(64).chars().take(64).collect()),
        };
        spec.locked = Some(LockedSet {
            debs: vec![
                deb("libc6", "amd64", "2.36-9+deb12u9"),
                deb("jq", "amd64", "1.6-2.1+deb12u3"),
                deb("tzdata", "all", "2025b-0+deb12u1"),
            ],
            wheels: vec![LockedWheel {
                env: Some("/opt/venv".into()),
                name: "six".into(),
                version: "1.16.0".into(),
                sha256: "cd".repeat(32),
                file: Some("six-1.16.0-py2.py3-none-any.whl".into()),
            }],
            tarballs: vec![crate::spec::LockedTarball {
                project: Some("/srv/app".into()),
                name: "express".into(),
                version: "4.18.2".into(),
                integrity: "sha512-AAAA".into(),
                file: Some("express-4.18.2.tgz".into()),
                path: "node_modules/express".into(),
            }],
            update_debs: vec![Pin::any("curl")],
            update_wheels: vec![(Some("/opt/venv".into()), Pin::any("six"))],
        });
        insta::assert_snapshot!(render_dockerfile(&spec));
        let inputs = generated_inputs(&spec);
        let names: Vec<&str> = inputs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "envsync/apt-closure",
                "envsync/apt-hashes",
                "envsync/npm-env-2f7372762f617070/package-lock.json",
                "envsync/npm-env-2f7372762f617070/package-lock.offline.json",
                "envsync/npm-env-2f7372762f617070/package.json",
                "envsync/artifacts/README",
                "envsync/pip-env-2f6f70742f76656e76.txt",
                "envsync/environment.json"
            ]
        );
        let marker = marker::EnvironmentMarker::parse(&inputs[7].1).expect("a marker");
        assert_eq!(
            (marker.project.as_str(), marker.image.as_str()),
            ("demo", "dev")
        );
        assert!(marker.lock.is_some_and(|l| l.digest.starts_with("sha256:")));
        // The Node project's tree as npm ci reads it: the declared package at its locked
        // version, every locked package with its integrity.
        let lockfile: serde_json::Value = serde_json::from_slice(&inputs[2].1).unwrap();
        assert_eq!(lockfile["lockfileVersion"], 3);
        assert_eq!(
            lockfile["packages"][""]["dependencies"]["express"],
            "4.18.2"
        );
        assert_eq!(
            lockfile["packages"]["node_modules/express"]["integrity"],
            "sha512-AAAA"
        );
        let offline: serde_json::Value = serde_json::from_slice(&inputs[3].1).unwrap();
        assert_eq!(
            offline["packages"]["node_modules/express"]["resolved"],
            "file:/usr/local/share/envsync-build/artifacts/npm-env-2f7372762f617070/express-4.18.2.tgz"
        );
        // Packages without a locked checksum have no line in the hashes list.
        assert_eq!(
            String::from_utf8_lossy(&inputs[1].1),
            format!(
                "# name arch version sha256\njq amd64 1.6-2.1+deb12u3 {}\nlibc6 amd64 2.36-9+deb12u9 {}\n",
                "jq".repeat(32),
                "libc6".repeat(13).get(..64).unwrap_or_default()
            )
        );
        assert_eq!(
            String::from_utf8_lossy(&inputs[0].1),
            "jq amd64 1.6-2.1+deb12u3\nlibc6 amd64 2.36-9+deb12u9\ntzdata all 2025b-0+deb12u1\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&inputs[6].1),
            format!("six==1.16.0 --hash=sha256:{}\n", "cd".repeat(32))
        );
    }

    /// The marker's lock digest follows what the image takes from the lock and nothing
    /// else; without a lock the marker says so.
    #[test]
    fn marker_digest_follows_the_locked_inputs_only() {
        use crate::spec::{LockedDeb, LockedSet};
        let digest = |spec: &BuildSpec| {
            let inputs = generated_inputs(spec);
            let (_, bytes) = inputs.last().expect("a marker");
            marker::EnvironmentMarker::parse(bytes)
                .expect("a marker")
                .lock
                .map(|l| l.digest)
        };
        let mut spec = full_spec();
        assert_eq!(digest(&spec), None);
        let set = |version: &str| LockedSet {
            debs: vec![LockedDeb {
                name: "jq".into(),
                arch: "amd64".into(),
                version: version.into(),
                sha256: None,
            }],
            ..LockedSet::default()
        };
        spec.locked = Some(set("1.6-2.1+deb12u3"));
        let first = digest(&spec);
        let mut other_files = spec.clone();
        other_files.apt.push(crate::spec::Pin::any("curl"));
        assert_eq!(
            digest(&other_files),
            first,
            "the manifest's unlocked pins are not a lock input"
        );
        spec.locked = Some(set("1.6-2.1+deb12u4"));
        assert_ne!(digest(&spec), first);
        let dockerfile = render_dockerfile(&spec);
        let last: Vec<&str> = dockerfile.lines().rev().take(2).collect();
        assert_eq!(
            last[1],
            format!("COPY [\"{MARKER_CONTEXT_PATH}\", \"{MARKER_PATH}\"]")
        );
        assert!(
            last[0].starts_with(
                r#"LABEL io.envsync.environment="{\"schema\":\"envsync.environment/v1\","#
            ),
            "{}",
            last[0]
        );
        assert!(last[0].contains(&digest(&spec).unwrap_or_default()));
    }

    #[test]
    fn env_slugs_round_trip() {
        for env in [None, Some("/opt/venv"), Some("/srv/my app/ü")] {
            let slug = env_slug("pip", env);
            assert_eq!(env_of_slug("pip", &slug), Some(env.map(str::to_string)));
            assert_eq!(env_of_slug("npm", &slug), None);
        }
    }

    #[test]
    fn list_order_does_not_change_the_dockerfile() {
        let spec = full_spec();
        let mut reordered = spec.clone();
        reordered.apt.reverse();
        reordered.files.reverse();
        assert_eq!(render_dockerfile(&spec), render_dockerfile(&reordered));
    }
}
