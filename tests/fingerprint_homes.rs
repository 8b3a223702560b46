//! Collection where people put environments (issue 13, point 12), against a real
//! container (tests/fixtures/homes): a pyenv-like Python under /root/.pyenv, an
//! nvm-like Node under /home/dev/.nvm, an npm project under /home/dev/app and a
//! virtualenv under /var/www. Every package pip and npm list inside the container is
//! found, every interpreter is a runtime at its prefix with the version the interpreter
//! itself prints, the ones the image's PATH finds first are named in `on_path`, and
//! `docker:`, `image:` and `local:` (the exported filesystem) agree.

use std::collections::BTreeSet;
use std::path::Path;

use envsync_testsupport::{docker, fixture_image, TestContainer};
use futures_util::StreamExt;
use serde_json::Value;

mod util;

use util::{envsync_command, run, snapshot_rows, Row};

const PYENV: &str = "/root/.pyenv/versions/debian-copy";
const NVM: &str = "/home/dev/.nvm/versions/node/debian-copy";

fn fingerprint(target: &str, extra: &[&str]) -> Value {
    let mut args = vec!["fingerprint", target, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(envsync_command().args(&args));
    assert_eq!(code, 0, "envsync fingerprint {target} failed: {stderr}");
    serde_json::from_str(&stdout).expect("snapshot JSON")
}

/// `(name, version)` of one ecosystem at exactly `location`.
fn at(rows: &[Row], eco: &str, location: &str) -> BTreeSet<(String, String)> {
    rows.iter()
        .filter(|r| r.0 == eco && r.4.as_deref() == Some(location))
        .map(|r| (r.1.clone(), r.2.clone()))
        .collect()
}

fn pep503(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// What `pip list --path DIR` (pip is the oracle) says is installed in `dir`.
async fn pip_at(c: &TestContainer, pip: &str, dir: &str) -> BTreeSet<(String, String)> {
    let json = c
        .sh(&format!(
            "{pip} list --path {dir} --format=json 2>/dev/null"
        ))
        .await;
    let list: Value = serde_json::from_str(&json).expect("pip list JSON");
    let set: BTreeSet<(String, String)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|p| {
            (
                pep503(p["name"].as_str().expect("name")),
                p["version"].as_str().expect("version").to_string(),
            )
        })
        .collect();
    assert!(!set.is_empty(), "pip lists nothing in {dir}");
    set
}

fn npm_walk(node: &Value, out: &mut BTreeSet<(String, String)>) {
    if let Some(deps) = node.get("dependencies").and_then(Value::as_object) {
        for (name, dep) in deps {
            if let Some(v) = dep.get("version").and_then(Value::as_str) {
                out.insert((name.clone(), v.to_string()));
            }
            npm_walk(dep, out);
        }
    }
}

/// What `npm ls` (the oracle) says is installed, with `args` (`-g --prefix P`, or a project dir).
async fn npm_ls(c: &TestContainer, args: &str) -> BTreeSet<(String, String)> {
    let json = c
        .sh(&format!("npm ls --all --json {args} 2>/dev/null"))
        .await;
    let tree: Value = serde_json::from_str(&json).expect("npm ls JSON");
    let mut out = BTreeSet::new();
    npm_walk(&tree, &mut out);
    assert!(!out.is_empty(), "npm ls {args} lists nothing");
    out
}

fn runtime(snap: &Value, name: &str, location: &str) -> Option<String> {
    snap["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["ecosystem"] == "runtime" && p["name"] == name && p["location"] == location)
        .and_then(|p| p["version"].as_str().map(str::to_string))
}

async fn export_container(name: &str, dest: &Path) {
    let docker = docker().await;
    let mut stream = docker.export_container(name);
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.expect("export chunk"));
    }
    let mut archive = tar::Archive::new(&data[..]);
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() {
            continue;
        }
        entry.unpack_in(dest).expect("unpack");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn homes_pyenv_nvm_and_var_www_are_collected_with_their_interpreters() {
    let image = fixture_image("homes").await;
    let c = TestContainer::run(&image, "fp-homes", &["sleep", "infinity"]).await;
    let target = format!("docker:{}", c.name());
    let snap = fingerprint(&target, &[]);
    let rows = snapshot_rows(&snap);

    // Python packages, each where pip says they are.
    let site = format!("{PYENV}/lib/python3.11/site-packages");
    assert_eq!(
        at(&rows, "pypi", &site),
        pip_at(&c, "/usr/bin/python3 -m pip", &site).await
    );
    let www = "/var/www/site/venv/lib/python3.11/site-packages";
    assert_eq!(
        at(&rows, "pypi", www),
        pip_at(&c, "/var/www/site/venv/bin/pip", www).await
    );
    // npm: the nvm install's global package and the project in a home directory.
    assert_eq!(
        at(&rows, "npm", &format!("{NVM}/lib/node_modules")),
        npm_ls(&c, &format!("-g --prefix {NVM}")).await
    );
    let project: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|r| {
            r.0 == "npm"
                && r.4
                    .as_deref()
                    .is_some_and(|l| l.starts_with("/home/dev/app/node_modules"))
        })
        .map(|r| (r.1.clone(), r.2.clone()))
        .collect();
    assert_eq!(project, npm_ls(&c, "--prefix /home/dev/app").await);

    // Every interpreter at its prefix, with the version it prints itself.
    let py = c
        .sh(&format!(
            "{PYENV}/bin/python3 -c 'import platform; print(platform.python_version())'"
        ))
        .await;
    assert_eq!(runtime(&snap, "python", PYENV).as_deref(), Some(py.trim()));
    let node = c.sh(&format!("{NVM}/bin/node --version")).await;
    assert_eq!(
        runtime(&snap, "node", NVM).as_deref(),
        Some(node.trim().trim_start_matches('v'))
    );
    // Debian's own python3.11 and nodejs are runtimes too (from dpkg), not on PATH first.
    assert!(rows
        .iter()
        .any(|r| r.0 == "runtime" && r.1 == "python" && r.4.is_none()));
    assert_eq!(snap["on_path"]["python"], PYENV, "{}", snap["on_path"]);
    assert_eq!(snap["on_path"]["node"], NVM, "{}", snap["on_path"]);

    // The image reads the same, PATH included; the exported filesystem the same packages.
    let from_image = fingerprint(&format!("image:{image}"), &[]);
    assert_eq!(
        snapshot_rows(&from_image),
        rows,
        "image: and docker: differ"
    );
    assert_eq!(from_image["on_path"], snap["on_path"]);
    let dir = tempfile::tempdir().expect("tempdir");
    export_container(c.name(), dir.path()).await;
    let from_dir = fingerprint(&format!("local:{}", dir.path().display()), &[]);
    assert_eq!(
        snapshot_rows(&from_dir),
        rows,
        "local:/path and docker: differ"
    );

    // A directory outside the default roots is read only when named.
    let data = "/data/apps/app/node_modules";
    assert!(at(&rows, "npm", data).is_empty(), "{data} read by default");
    for t in [target.as_str(), &format!("image:{image}")] {
        let with_root = fingerprint(t, &["--root", "/data/apps"]);
        assert_eq!(
            at(&snapshot_rows(&with_root), "npm", data),
            at(&rows, "npm", "/home/dev/app/node_modules"),
            "{t} --root /data/apps"
        );
    }
}
