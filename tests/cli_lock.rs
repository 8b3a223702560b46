//! End-to-end tests of `envsync lock` and frozen `envsync build` against a real engine:
//! the lock holds every installed component (checked against dpkg-query in the built
//! image and against `envsync fingerprint`), is byte-identical when rewritten, a
//! tampered lock fails the rebuild naming the package, and `lock --from docker:NAME`
//! pins the versions a running container has.
//!
//! The manifest mirrors `crates/envsync-provisioner/tests/build_e2e.rs` (same apt
//! package, runtimes, pip and npm pins, CA) so the engine's apt layer is shared.

use std::collections::BTreeSet;

use bollard::models::HostConfig;
use envsync_manifest::{Ecosystem, Lock};
use envsync_testsupport::{base_image, TestContainer, HOST_CA_BUNDLE};
use serde_json::Value;

mod util;

use util::{envsync, snapshot_rows, Row};

const APT_PACKAGE: &str = "jq";
const PIP_PACKAGE: (&str, &str) = ("iniconfig", "2.0.0");
/// An older release of the pip package, for the tampered lock and the changed container.
const PIP_OTHER: &str = "1.1.1";
const VENV_PACKAGE: (&str, &str) = ("six", "1.16.0");
const NPM_PACKAGE: (&str, &str) = ("is-number", "7.0.0");
/// A Node project: a build from the lock installs it with `npm ci` from a generated
/// package-lock.json.
const NPM_PROJECT: &str = "/srv/lock-e2e";
/// Outside `/opt`, `/srv` and `/app`, whose container collection currently drops
/// virtualenvs named below them (listed twice, read back as hard links).
const VENV: &str = "/venv";

/// The version bookworm's sources offer now, asked of apt inside the base image.
async fn candidate(base: &str, package: &str) -> String {
    let container = TestContainer::run(base, "lock-candidate", &["sleep", "600"]).await;
    let out = container
        .sh(&format!(
            "apt-get update -qq >/dev/null && apt-cache policy {package} | awk '/Candidate:/ {{print $2}}'"
        ))
        .await;
    let version = out.trim().to_string();
    assert!(
        !version.is_empty() && version != "(none)",
        "no candidate for {package}: {out:?}"
    );
    version
}

fn manifest(apt_version: &str, pip_constraint: &str) -> String {
    format!(
        r#"[project]
name = "envsync-e2e-lock"

[base]
image = "envsync/debian:bookworm"

[apt]
{APT_PACKAGE} = "{apt_version}"

[python]
version = "3"
packages = {{ {} = "{pip_constraint}" }}

[python.venvs."{VENV}".packages]
{} = "=={}"

[node]
packages = {{ "{}" = "{}" }}

[node.projects."{NPM_PROJECT}".packages]
"{}" = "{}"

[build]
ca_certificates = ["{HOST_CA_BUNDLE}"]
"#,
        PIP_PACKAGE.0,
        VENV_PACKAGE.0,
        VENV_PACKAGE.1,
        NPM_PACKAGE.0,
        NPM_PACKAGE.1,
        NPM_PACKAGE.0,
        NPM_PACKAGE.1
    )
}

fn rows_of_lock(lock: &Lock) -> BTreeSet<Row> {
    lock.components
        .iter()
        .map(|c| {
            (
                c.ecosystem.to_string(),
                c.name.clone(),
                c.version.clone(),
                c.arch.clone(),
                c.location.clone(),
            )
        })
        .collect()
}

/// The locked version of `name` in `ecosystem`, and whether it is marked declared.
fn locked(lock: &Lock, ecosystem: Ecosystem, name: &str) -> Vec<(String, bool)> {
    lock.components
        .iter()
        .filter(|c| c.ecosystem == ecosystem && c.name == name)
        .map(|c| (c.version.clone(), c.declared))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_records_the_image_and_frozen_builds_verify_it() {
    let base = base_image().await;
    let apt_version = candidate(&base, APT_PACKAGE).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let manifest_text = manifest(&apt_version, &format!("=={}", PIP_PACKAGE.1));
    std::fs::write(d.join("envsync.toml"), &manifest_text).unwrap();

    // 1. `envsync lock` builds and locks every installed component.
    let (code, stdout, _) = envsync(d, &["lock", "--format", "json"]);
    assert_eq!(code, 0, "envsync lock failed");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["schema"], "envsync.lock-write/v1");
    assert_eq!(result["written"], true);
    let tag = result["image"].as_str().unwrap().to_string();
    let lock_path = d.join("envsync.lock");
    let first = std::fs::read(&lock_path).unwrap();
    let lock = Lock::load(&lock_path).unwrap();
    assert!(lock
        .base
        .digest
        .as_deref()
        .is_some_and(|d| d.starts_with("sha256:")));
    assert_eq!(
        locked(&lock, Ecosystem::Deb, APT_PACKAGE),
        [(apt_version.clone(), true)]
    );
    assert_eq!(
        locked(&lock, Ecosystem::Pypi, PIP_PACKAGE.0),
        [(PIP_PACKAGE.1.to_string(), true)]
    );
    assert!(lock
        .components
        .iter()
        .any(|c| c.ecosystem == Ecosystem::Pypi
            && c.name == VENV_PACKAGE.0
            && c.version == VENV_PACKAGE.1
            && c.declared
            && c.location.as_deref() == Some("/venv/lib/python3.11/site-packages")));
    // Declared twice: globally and in the Node project, each copy locked with its
    // integrity, the project's in its own node_modules.
    assert_eq!(
        locked(&lock, Ecosystem::Npm, NPM_PACKAGE.0),
        [
            (NPM_PACKAGE.1.to_string(), true),
            (NPM_PACKAGE.1.to_string(), true)
        ]
    );
    assert!(lock.components.iter().any(|c| c.ecosystem == Ecosystem::Npm
        && c.location.as_deref() == Some(&format!("{NPM_PROJECT}/node_modules"))
        && c.checksum.is_some()));
    // Transitive: jq's library, and the Python runtime the manifest asks for.
    assert!(locked(&lock, Ecosystem::Deb, "libjq1")
        .iter()
        .all(|(_, declared)| !declared));
    assert_eq!(locked(&lock, Ecosystem::Deb, "libjq1").len(), 1);
    assert!(locked(&lock, Ecosystem::Runtime, "python")
        .iter()
        .any(|(v, declared)| v.starts_with("3.") && *declared));

    // The lock's Debian packages are exactly what dpkg-query lists in the image.
    let container = TestContainer::run(&tag, "lock-dpkg", &["sleep", "600"]).await;
    let dpkg: BTreeSet<(String, String, String)> = container
        .sh("dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\\n' | awk '$1 == \"ii\" {print $2, $3, $4}'")
        .await
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect();
    drop(container);
    let locked_debs: BTreeSet<(String, String, String)> = lock
        .components
        .iter()
        .filter(|c| c.ecosystem == Ecosystem::Deb)
        .map(|c| {
            (
                c.name.clone(),
                c.version.clone(),
                c.arch.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(locked_debs, dpkg);
    assert!(dpkg.len() > 100, "only {} deb packages", dpkg.len());

    // The image's fingerprint equals its lock, component for component.
    let (code, stdout, _) = envsync(
        d,
        &[
            "fingerprint",
            &format!("image:{tag}"),
            "--python-env",
            VENV,
            "--npm-project",
            NPM_PROJECT,
            "--no-env",
            "-f",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let snapshot: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        snapshot_rows(&snapshot)
            .into_iter()
            .collect::<BTreeSet<Row>>(),
        rows_of_lock(&lock)
    );

    // 2. Unchanged inputs: byte-identical lock, and it says so; `--check` agrees.
    let (code, stdout, _) = envsync(d, &["lock"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("envsync.lock is up to date"), "{stdout}");
    assert_eq!(std::fs::read(&lock_path).unwrap(), first);
    let (code, _, _) = envsync(d, &["lock", "--check"]);
    assert_eq!(code, 0);

    // 3. A frozen rebuild verifies the image against the lock.
    let (code, stdout, _) = envsync(d, &["build"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!(
            "verified: the image holds exactly the {} locked components",
            lock.components.len()
        )),
        "{stdout}"
    );

    // The image a build from the lock makes: its closure is installed by the locked
    // list, so its Dockerfile (and tag) differs from the first build's, which resolved.
    let (code, stdout, _) = envsync(d, &["build", "--format", "json", "--no-verify"]);
    assert_eq!(code, 0);
    let built: Value = serde_json::from_str(&stdout).unwrap();
    let tag = built["tag"].as_str().unwrap().to_string();

    // 3b. On an engine without the image, a rebuild from the committed lock with no
    // layer cache reproduces the same inventory: the verification passes again.
    let docker = envsync_testsupport::docker().await;
    docker
        .remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    let (code, stdout, stderr) = envsync(d, &["build", "--no-cache"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "verified: the image holds exactly the {} locked components",
            lock.components.len()
        )),
        "{stdout}"
    );

    // 4. A lock tampered to another released version of the pip package, manifest hash
    // kept: the build installs the locked wheel by hash, so the other release's file
    // does not match the locked sha256 and pip refuses it; the error names the package
    // and both checksums (exit 2), and nothing is tagged.
    let text = String::from_utf8(first.clone()).unwrap();
    let original = format!(
        "name = \"{}\", version = \"{}\"",
        PIP_PACKAGE.0, PIP_PACKAGE.1
    );
    assert_eq!(text.matches(&original).count(), 1);
    let tampered = text.replace(
        &original,
        &format!("name = \"{}\", version = \"{PIP_OTHER}\"", PIP_PACKAGE.0),
    );
    std::fs::write(&lock_path, &tampered).unwrap();
    let (code, _, stderr) = envsync(d, &["build"]);
    assert_eq!(
        code, 2,
        "a wheel whose sha256 differs from the lock must fail the build"
    );
    assert!(
        stderr.contains(&format!("`{}=={PIP_OTHER}`", PIP_PACKAGE.0))
            && stderr.contains("has sha256")
            && stderr.contains("the lock records"),
        "{stderr}"
    );
    std::fs::write(&lock_path, &first).unwrap();

    // 5. `lock --from docker:NAME`: a container of the image with the pip package changed.
    let host_config = HostConfig {
        binds: Some(vec![format!("{HOST_CA_BUNDLE}:/tmp/envsync-ca.pem:ro")]),
        ..Default::default()
    };
    let prod = TestContainer::run_with(&tag, "lock-from", &["sleep", "600"], host_config).await;
    prod.sh(&format!(
        "PIP_CERT=/tmp/envsync-ca.pem python3 -m pip install -q --break-system-packages {}=={PIP_OTHER}",
        PIP_PACKAGE.0
    ))
    .await;
    let from = format!("docker:{}", prod.name());

    // The `==` manifest excludes what the container runs: exit 2 naming it, lock kept.
    let (code, _, stderr) = envsync(d, &["lock", "--from", &from]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("`pypi:{}`", PIP_PACKAGE.0)) && stderr.contains(PIP_OTHER),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&lock_path).unwrap(), first);

    // A manifest whose range allows both: the new lock pins the container's version.
    let dir2 = tempfile::tempdir().unwrap();
    let d2 = dir2.path();
    let ranged = manifest(&apt_version, ">=1.1,<3");
    std::fs::write(d2.join("envsync.toml"), &ranged).unwrap();
    let (code, _, _) = envsync(d2, &["lock", "--from", &from]);
    assert_eq!(code, 0, "lock --from failed");
    let pinned = Lock::load(&d2.join("envsync.lock")).unwrap();
    assert_eq!(
        locked(&pinned, Ecosystem::Pypi, PIP_PACKAGE.0),
        [(PIP_OTHER.to_string(), true)]
    );
    assert_eq!(
        locked(&pinned, Ecosystem::Deb, APT_PACKAGE),
        [(apt_version.clone(), true)]
    );
    assert_eq!(
        std::fs::read_to_string(d2.join("envsync.toml")).unwrap(),
        ranged
    );
    let (code, _, _) = envsync(d2, &["lock", "--check"]);
    assert_eq!(code, 0);
    // The pins hold on a frozen rebuild from that lock.
    let (code, _, _) = envsync(d2, &["build"]);
    assert_eq!(code, 0);

    // A declared package the target lacks: exit 2 naming it.
    prod.sh(&format!("npm uninstall -g --silent {}", NPM_PACKAGE.0))
        .await;
    let (code, _, stderr) = envsync(d2, &["lock", "--from", &from]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "lacks 1 declared package: `npm:{}`",
            NPM_PACKAGE.0
        )),
        "{stderr}"
    );
}
