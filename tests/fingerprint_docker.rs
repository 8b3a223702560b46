//! End-to-end tests of `envsync fingerprint` against a real engine: the inventory of a
//! container must equal, package for package, what dpkg-query, pip and npm report
//! inside the same container; `image:` and `local:/path` of the same filesystem must
//! agree with `docker:`; errors exit 2 naming the target.

use std::collections::BTreeSet;
use std::path::Path;

use envsync_testsupport::{docker, fixture_image, TestContainer};
use futures_util::StreamExt;
use serde_json::Value;

mod util;

use util::{envsync_command, keyed_hash, run, snapshot_rows, Row};

/// Fingerprint `target` as JSON and return the snapshot.
fn fingerprint(target: &str, extra: &[&str]) -> Value {
    let mut args = vec!["fingerprint", target, "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(envsync_command().args(&args));
    assert_eq!(code, 0, "envsync fingerprint {target} failed: {stderr}");
    let snap: Value = serde_json::from_str(&stdout).expect("snapshot JSON");
    assert_eq!(snap["schema"], "envsync.snapshot/v1");
    assert_eq!(snap["target"], target);
    snap
}

/// `(name, version)` pairs of one ecosystem whose location satisfies `at`.
fn pairs(rows: &[Row], eco: &str, at: impl Fn(Option<&str>) -> bool) -> BTreeSet<(String, String)> {
    rows.iter()
        .filter(|r| r.0 == eco && at(r.4.as_deref()))
        .map(|r| (r.1.clone(), r.2.clone()))
        .collect()
}

fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !sep {
                out.push('-');
            }
            sep = true;
        } else {
            out.extend(c.to_lowercase());
            sep = false;
        }
    }
    out
}

fn pip_oracle(json: &str) -> BTreeSet<(String, String)> {
    let list: Value = serde_json::from_str(json).expect("pip list JSON");
    list.as_array()
        .expect("pip list array")
        .iter()
        .map(|p| {
            (
                pep503(p["name"].as_str().expect("name")),
                p["version"].as_str().expect("version").to_string(),
            )
        })
        .collect()
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

fn npm_oracle(json: &str) -> BTreeSet<(String, String)> {
    let tree: Value = serde_json::from_str(json).expect("npm ls JSON");
    let mut out = BTreeSet::new();
    npm_walk(&tree, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn container_inventory_matches_the_native_tools_inside_it() {
    let image = fixture_image("inventory").await;
    let c = TestContainer::run(&image, "fp-oracle", &["sleep", "infinity"]).await;
    let snap = fingerprint(
        &format!("docker:{}", c.name()),
        &["--file", "/etc/app/settings.ini", "--env", "APP_SECRET"],
    );
    let rows = snapshot_rows(&snap);
    assert_eq!(snap["os"]["id"], "debian");
    assert_eq!(snap["os"]["version_id"], "12");

    // deb: dpkg-query, installed packages only.
    let dpkg = c
        .sh("dpkg-query -W -f '${db:Status-Status}\\t${binary:Package}\\t${Package}\\t${Architecture}\\t${Version}\\n'")
        .await;
    let mut oracle = BTreeSet::new();
    for line in dpkg.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "{line}");
        if f[0] != "installed" {
            continue;
        }
        // binary:Package is `name` or `name:arch`; envsync keeps the arch in its own field.
        assert!(
            f[1] == f[2] || f[1] == format!("{}:{}", f[2], f[3]),
            "{line}"
        );
        oracle.insert((f[2].to_string(), f[4].to_string(), Some(f[3].to_string())));
    }
    let ours: BTreeSet<(String, String, Option<String>)> = rows
        .iter()
        .filter(|r| r.0 == "deb")
        .map(|r| (r.1.clone(), r.2.clone(), r.3.clone()))
        .collect();
    assert!(oracle.len() > 300, "fixture has {} packages", oracle.len());
    assert_eq!(ours, oracle, "deb inventory differs from dpkg-query");
    assert_eq!(
        rows.iter().filter(|r| r.0 == "deb").count(),
        oracle.len(),
        "no duplicate deb rows"
    );

    // pypi: system pip and the virtualenv's own pip.
    let system = pip_oracle(&c.sh("python3 -m pip list --format=json 2>/dev/null").await);
    let ours_system = pairs(&rows, "pypi", |l| {
        l.is_some_and(|l| !l.starts_with("/opt/app/venv/"))
    });
    assert_eq!(
        ours_system, system,
        "system Python packages differ from pip list"
    );
    let venv = pip_oracle(
        &c.sh("/opt/app/venv/bin/pip list --format=json 2>/dev/null")
            .await,
    );
    let ours_venv = pairs(&rows, "pypi", |l| {
        l == Some("/opt/app/venv/lib/python3.11/site-packages")
    });
    assert_eq!(
        ours_venv, venv,
        "virtualenv packages differ from its pip list"
    );
    assert!(
        ours_venv.contains(&("six".into(), "1.15.0".into()))
            && system.contains(&("pyyaml".into(), "6.0.1".into()))
    );

    // npm: global and the project, nested and scoped.
    let global = npm_oracle(&c.sh("npm ls -g --all --json 2>/dev/null || true").await);
    let ours_global = pairs(&rows, "npm", |l| {
        l.is_some_and(|l| l.starts_with("/usr/local/lib/node_modules"))
    });
    assert_eq!(
        ours_global, global,
        "global npm packages differ from npm ls -g"
    );
    let project = npm_oracle(
        &c.sh("cd /srv/app && npm ls --all --json 2>/dev/null || true")
            .await,
    );
    let ours_project = pairs(&rows, "npm", |l| {
        l.is_some_and(|l| l.starts_with("/srv/app/node_modules"))
    });
    assert_eq!(
        ours_project, project,
        "project npm packages differ from npm ls"
    );
    assert!(ours_project.contains(&("@types/node".into(), "20.11.5".into())));
    assert!(
        rows.iter().any(|r| r.0 == "npm"
            && r.4.as_deref().is_some_and(|l| l.contains("/node_modules/")
                && l.ends_with("/node_modules")
                && l != "/srv/app/node_modules")),
        "a nested node_modules package is reported with its own location"
    );

    // Runtimes and middleware derived from the packages.
    let python = c
        .sh("python3 -c 'import platform; print(platform.python_version())'")
        .await;
    let node = c.sh("node -p process.versions.node").await;
    let redis = c
        .sh("redis-server --version | sed 's/.* v=\\([^ ]*\\).*/\\1/'")
        .await;
    for (eco, name, version) in [
        ("runtime", "python", python),
        ("runtime", "node", node),
        ("service", "redis", redis),
    ] {
        assert!(
            rows.iter()
                .any(|r| r.0 == eco && r.1 == name && r.2 == version.trim()),
            "{eco}:{name} {} not in the snapshot",
            version.trim()
        );
    }

    // Files are hashed with mode and size; environment values are hashed, never copied.
    let sha = c
        .sh("sha256sum /etc/app/settings.ini | cut -d' ' -f1")
        .await;
    assert!(rows.contains(&(
        "file".into(),
        "/etc/app/settings.ini".into(),
        keyed_hash(&sha),
        None,
        None
    )));
    let text = serde_json::to_string(&snap).expect("json");
    assert!(
        !text.contains("not-in-the-snapshot"),
        "an environment value leaked into the snapshot"
    );
    let secret_sha = c
        .sh("printf %s \"$APP_SECRET\" | sha256sum | cut -d' ' -f1")
        .await;
    assert!(
        !text.contains(secret_sha.trim()),
        "the plain sha256 of an environment value is in the snapshot"
    );
    let env: Vec<&Row> = rows.iter().filter(|r| r.0 == "env").collect();
    assert_eq!(env.len(), 1, "only the named variable: {env:?}");
    assert_eq!(
        (env[0].1.as_str(), env[0].2.clone()),
        ("APP_SECRET", keyed_hash(&secret_sha))
    );

    // Determinism: a second collection gives the same bytes apart from collected_at.
    let again = fingerprint(
        &format!("docker:{}", c.name()),
        &["--file", "/etc/app/settings.ini", "--env", "APP_SECRET"],
    );
    assert_eq!(again["digest"], snap["digest"]);
    assert_eq!(again["packages"], snap["packages"]);
}

/// Everything but environment variables, which an image, a directory and a running
/// container legitimately see differently.
fn without_env(rows: Vec<Row>) -> Vec<Row> {
    rows.into_iter().filter(|r| r.0 != "env").collect()
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
        // Device nodes cannot be created here and are not needed.
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() {
            continue;
        }
        entry.unpack_in(dest).expect("unpack");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn image_container_and_exported_directory_agree() {
    let image = fixture_image("inventory").await;
    let c = TestContainer::run(&image, "fp-agree", &["sleep", "infinity"]).await;
    let extra = ["--file", "/etc/app/settings.ini"];
    let from_container = fingerprint(&format!("docker:{}", c.name()), &extra);
    let from_image = fingerprint(&format!("image:{image}"), &extra);
    assert_eq!(
        without_env(snapshot_rows(&from_image)),
        without_env(snapshot_rows(&from_container)),
        "image: and docker: differ"
    );
    assert_eq!(from_image["os"], from_container["os"]);
    // The image's configured environment is the container's.
    let env = |s: &Value| {
        snapshot_rows(s)
            .into_iter()
            .filter(|r| r.0 == "env")
            .collect::<Vec<_>>()
    };
    assert_eq!(env(&from_image), env(&from_container));

    let dir = tempfile::tempdir().expect("tempdir");
    export_container(c.name(), dir.path()).await;
    let from_dir = fingerprint(&format!("local:{}", dir.path().display()), &extra);
    assert_eq!(
        without_env(snapshot_rows(&from_dir)),
        without_env(snapshot_rows(&from_container)),
        "local:/path and docker: differ"
    );
    assert!(from_dir["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .all(|p| p["ecosystem"] != "env"));

    // A saved snapshot reads back as itself.
    let saved = dir.path().join("saved.json");
    let saved_s = saved.display().to_string();
    let (code, _, stderr) = run(envsync_command().args([
        "fingerprint",
        &format!("docker:{}", c.name()),
        "-o",
        &saved_s,
    ]));
    assert_eq!(code, 0, "{stderr}");
    let (code, reread, stderr) =
        run(envsync_command().args(["fingerprint", &saved_s, "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        reread,
        std::fs::read_to_string(&saved).expect("read"),
        "a saved snapshot reads back byte for byte"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_targets_exit_2_naming_them() {
    docker().await;
    let (code, _, stderr) =
        run(envsync_command().args(["fingerprint", "docker:envsync-test-no-such-container"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("envsync-test-no-such-container"),
        "{stderr}"
    );
    let (code, _, stderr) =
        run(envsync_command().args(["fingerprint", "image:envsync-test/no-such-image:1"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("envsync-test/no-such-image:1"), "{stderr}");
    let (code, _, stderr) = run(envsync_command().args(["fingerprint", "bogus-target"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bogus-target"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopped_container_is_an_error() {
    let image = fixture_image("inventory").await;
    let c = TestContainer::run(&image, "fp-stopped", &["true"]).await;
    let docker = docker().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let state = docker
            .inspect_container(c.name(), None)
            .await
            .expect("inspect")
            .state;
        if !state.and_then(|s| s.running).unwrap_or(true) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "container did not exit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (code, _, stderr) =
        run(envsync_command().args(["fingerprint", &format!("docker:{}", c.name())]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(c.name()) && stderr.contains("not running"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn container_without_a_shell_is_read_through_the_archive_api() {
    let image = fixture_image("noshell").await;
    let c = TestContainer::run(&image, "fp-noshell", &[]).await;
    let from_container = fingerprint(&format!("docker:{}", c.name()), &[]);
    let from_image = fingerprint(&format!("image:{image}"), &[]);
    let debs = |s: &Value| {
        snapshot_rows(s)
            .into_iter()
            .filter(|r| r.0 == "deb")
            .collect::<Vec<_>>()
    };
    assert!(debs(&from_container).len() > 50, "{from_container}");
    assert_eq!(debs(&from_container), debs(&from_image));
    assert_eq!(from_container["os"], from_image["os"]);
    let warnings = from_container["warnings"].to_string();
    assert!(warnings.contains("archive API"), "{warnings}");
}

/// Poll `done` every 100 ms until it holds, failing the test after `secs` seconds.
async fn wait_for<F, Fut>(what: &str, secs: u64, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen within {secs}s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// What was seen: a container stopped during `fingerprint docker:` gave exit 0 and no
/// packages. The fixture's `tar` stalls mid-archive; the test stops the container then.
#[tokio::test(flavor = "multi_thread")]
async fn container_stopped_during_collection_is_an_error() {
    let image = fixture_image("collect-cut").await;
    let c = TestContainer::run(&image, "fp-cut", &["sleep", "infinity"]).await;
    let child = envsync_command()
        .args(["fingerprint", &format!("docker:{}", c.name())])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start envsync");
    wait_for("the collection reaching `tar`", 60, || async {
        c.exec(&["test", "-e", "/tmp/envsync-collecting"])
            .await
            .exit_code
            == 0
    })
    .await;
    docker()
        .await
        .kill_container(
            c.name(),
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .expect("stop the container");
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("envsync ends once the container is stopped")
    .expect("join")
    .expect("envsync output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "no inventory is printed: {stdout}");
    assert!(
        stderr.contains(c.name()) && stderr.contains("did not finish"),
        "{stderr}"
    );
}

/// What was seen: files the collecting user cannot read were left out silently. Each
/// is a warning naming it, the snapshot says it is incomplete, and `diff` refuses it
/// unless told otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn unreadable_files_make_an_incomplete_snapshot() {
    let image = fixture_image("collect-perms").await;
    let c = TestContainer::run(&image, "fp-perms", &["sleep", "infinity"]).await;
    let site = "/opt/venv/lib/python3.11/site-packages";
    let unreadable = [
        "/var/lib/dpkg/status".to_string(),
        "/srv/app/node_modules/closed/package.json".to_string(),
        format!("{site}/hidden-1.0.dist-info"),
    ];
    // The oracle: the container's own user cannot read them either.
    for path in &unreadable {
        let read = c
            .exec(&[
                "sh",
                "-c",
                &format!("if [ -d {path} ]; then ls {path}; else cat {path}; fi"),
            ])
            .await;
        assert_ne!(read.exit_code, 0, "`{path}` is readable in the container");
    }
    let target = format!("docker:{}", c.name());
    let snap = fingerprint(&target, &[]);
    assert_eq!(snap["complete"], false, "{snap}");
    let warnings: Vec<&str> = snap["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for path in &unreadable {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("unreadable") && w.contains(path.as_str())),
            "no warning names `{path}`: {warnings:?}"
        );
    }
    let rows = snapshot_rows(&snap);
    assert!(rows.iter().all(|r| r.0 != "deb"), "{rows:?}");
    assert_eq!(
        pairs(&rows, "npm", |_| true),
        BTreeSet::from([("open".to_string(), "1.0.0".to_string())])
    );
    assert_eq!(
        pairs(&rows, "pypi", |_| true),
        BTreeSet::from([("shown".to_string(), "1.0".to_string())])
    );

    let (code, _, stderr) = run(envsync_command().args(["diff", &target, &target]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("incomplete")
            && stderr.contains("/var/lib/dpkg/status")
            && stderr.contains("--allow-incomplete"),
        "{stderr}"
    );
    let (code, _, stderr) =
        run(envsync_command().args(["diff", &target, &target, "--allow-incomplete"]));
    assert_eq!(code, 0, "{stderr}");

    // The image holds the same files, all of them readable to an export.
    let from_image = fingerprint(&format!("image:{image}"), &[]);
    assert!(from_image.get("complete").is_none(), "{from_image}");
    let image_rows = snapshot_rows(&from_image);
    assert!(image_rows.iter().filter(|r| r.0 == "deb").count() > 50);
    assert!(pairs(&image_rows, "npm", |_| true).contains(&("closed".into(), "2.0.0".into())));
}

/// What was seen: a hard-linked `package.json` was dropped and a symlinked `--file`
/// was hashed by `docker:` and dropped by `image:`. All three ways of reading the same
/// filesystem give the same inventory, holding what the files inside the container say.
#[tokio::test(flavor = "multi_thread")]
async fn links_resolve_to_content_in_every_transport() {
    let image = fixture_image("collect-links").await;
    let c = TestContainer::run(&image, "fp-links", &["sleep", "infinity"]).await;
    // The oracle: the container's own view of the files, and that the first package
    // really is a hard link (two names for one inode).
    let links = c
        .sh("stat -c %h /srv/app/node_modules/linked/package.json")
        .await;
    assert_eq!(links.trim(), "2");
    let mut expected = BTreeSet::new();
    for path in [
        "/srv/app/node_modules/linked/package.json",
        "/srv/app/node_modules/sym/package.json",
    ] {
        let json: Value = serde_json::from_str(&c.sh(&format!("cat {path}")).await).expect("json");
        expected.insert((
            json["name"].as_str().expect("name").to_string(),
            json["version"].as_str().expect("version").to_string(),
        ));
    }
    let sha = c
        .sh("sha256sum /etc/app/settings.ini | cut -d' ' -f1")
        .await;
    let extra = ["--file", "/etc/app/settings.ini"];

    let from_container = fingerprint(&format!("docker:{}", c.name()), &extra);
    let from_image = fingerprint(&format!("image:{image}"), &extra);
    let dir = tempfile::tempdir().expect("tempdir");
    export_container(c.name(), dir.path()).await;
    let from_dir = fingerprint(&format!("local:{}", dir.path().display()), &extra);
    for snap in [&from_container, &from_image, &from_dir] {
        let rows = snapshot_rows(snap);
        assert_eq!(
            pairs(&rows, "npm", |_| true),
            expected,
            "{}",
            snap["target"]
        );
        assert!(
            rows.iter().any(|r| r.0 == "file"
                && r.1 == "/etc/app/settings.ini"
                && r.2 == keyed_hash(&sha)),
            "{}: {rows:?}",
            snap["target"]
        );
    }
    assert_eq!(
        without_env(snapshot_rows(&from_image)),
        without_env(snapshot_rows(&from_container)),
        "image: and docker: differ"
    );
    assert_eq!(
        without_env(snapshot_rows(&from_dir)),
        without_env(snapshot_rows(&from_container)),
        "local:/path and docker: differ"
    );
}
