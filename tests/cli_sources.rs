//! End-to-end tests of locks against package sources the test controls: a local apt
//! repository on 127.0.0.1 (`envsync_testsupport::AptRepo`) named in `[sources]`, so
//! that no expectation depends on what Debian's mirror serves today.
//!
//! The repository serves two point releases of one source package, `envsync-demo`, whose
//! `envsync-demo-server` depends on `envsync-demo-tools (= same version)`: pinning the
//! older server must bring the older tools with it, although apt's candidate for the
//! tools is the newer one.

mod util;

use bollard::models::HostConfig;
use envsync_manifest::{Ecosystem, Lock};
use envsync_testsupport::{base_image, AptRepo, FakeDeb, TestContainer};
use util::envsync;

const SERVER: &str = "envsync-demo-server";
const TOOLS: &str = "envsync-demo-tools";
/// A library of another source package, which the server needs at any version.
const LIB: &str = "envsync-demo-lib";

/// Both binary packages of source `envsync-demo` at `version`.
fn release(version: &str) -> Vec<FakeDeb> {
    vec![
        FakeDeb::new(SERVER, version)
            .source("envsync-demo")
            .depends(&format!("{TOOLS} (= {version})")),
        FakeDeb::new(TOOLS, version).source("envsync-demo"),
    ]
}

fn manifest(project: &str, repo: &AptRepo, server: &str) -> String {
    format!(
        r#"[project]
name = "{project}"

[base]
image = "envsync/debian:bookworm"

[apt]
{SERVER} = "{server}"

[sources]
apt = ["{}"]
"#,
        repo.deb_line()
    )
}

/// `debs` with the server also depending on the library (any version).
fn server_needs_lib(debs: Vec<FakeDeb>) -> Vec<FakeDeb> {
    debs.into_iter()
        .map(|d| match d.name.as_str() {
            SERVER => {
                let depends = format!(
                    "{}, {LIB} (>= 1.0-1)",
                    d.depends.clone().unwrap_or_default()
                );
                d.depends(&depends)
            }
            _ => d,
        })
        .collect()
}

/// Every build log of the project in `dir`, for a failing test's message.
fn build_logs(dir: &std::path::Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir.join(".envsync/logs")) {
        for entry in entries.flatten() {
            let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            text.push_str(&format!("\n--- {}\n", entry.path().display()));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// The locked version and sha256 of Debian package `name` in the development image.
fn locked(lock: &Lock, name: &str) -> (String, Option<String>) {
    let c = lock
        .components
        .iter()
        .find(|c| c.ecosystem == Ecosystem::Deb && c.name == name)
        .unwrap_or_else(|| panic!("`{name}` is not in the lock"));
    (
        c.version.clone(),
        c.checksum
            .as_ref()
            .and_then(|s| s.sha256())
            .map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_point_release_with_exact_sibling_dependencies_locks_and_rebuilds() {
    base_image().await;
    let mut repo = AptRepo::start(&[release("1.0-1"), release("1.0-2")].concat())
        .expect("start the apt repository");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("envsync.toml"),
        manifest("envsync-e2e-sources", &repo, "1.0-1"),
    )
    .unwrap();

    // The older server is locked with the older tools it requires, each with the sha256
    // of the .deb the repository serves.
    let (code, stdout, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lock = Lock::load(&d.join("envsync.lock")).unwrap();
    for name in [SERVER, TOOLS] {
        let sha = repo.sha256_of(name, "1.0-1").unwrap();
        assert_eq!(
            locked(&lock, name),
            ("1.0-1".to_string(), Some(sha)),
            "{name}"
        );
    }
    let declared: Vec<&str> = lock
        .components
        .iter()
        .filter(|c| c.declared)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(declared, [SERVER]);

    // A rebuild without the engine's cache installs exactly the locked closure.
    let (code, stdout, stderr) = envsync(d, &["build", "--no-cache"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("verified: the image holds exactly"),
        "{stdout}"
    );

    // Every artifact the lock names goes into an artifact cache of the test's own.
    let cache = d.join("cache");
    let cache_arg = cache.display().to_string();
    let (code, stdout, stderr) = envsync(d, &["fetch", "--artifacts", &cache_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for name in [SERVER, TOOLS] {
        let sha = repo.sha256_of(name, "1.0-1").unwrap();
        assert!(
            cache.join("sha256").join(&sha).is_file(),
            "{name} is cached"
        );
    }
    let (code, stdout, _) = envsync(d, &["fetch", "--artifacts", &cache_arg]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("0 artifacts fetched"), "{stdout}");

    // The repository moves on: 1.0-1 is gone, 1.0-2 replaces it.
    repo.replace(&release("1.0-2")).unwrap();

    // With the cache, a rebuild from the lock still installs 1.0-1, online and offline.
    let (code, stdout, stderr) = envsync(d, &["build", "--no-cache", "--artifacts", &cache_arg]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("building again with the"), "{stderr}");
    assert!(
        stdout.contains("verified: the image holds exactly"),
        "{stdout}"
    );
    let (code, stdout, stderr) = envsync(
        d,
        &[
            "build",
            "--offline",
            "--no-cache",
            "--artifacts",
            &cache_arg,
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("verified: the image holds exactly"),
        "{stdout}"
    );

    // Without it, the rebuild cannot install 1.0-1 and says so, naming the package, its
    // locked version, where apt looked and the ways out.
    let empty = d.join("empty-cache").display().to_string();
    let (code, stdout, stderr) = envsync(d, &["build", "--no-cache", "--artifacts", &empty]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("`{SERVER}` is locked at `1.0-1`")),
        "{stderr}"
    );
    assert!(stderr.contains(&repo.deb_line()), "{stderr}");
    assert!(stderr.contains("envsync fetch"), "{stderr}");
    let (code, _, stderr) = envsync(d, &["build", "--offline", "--artifacts", &empty]);
    assert_eq!(code, 2);
    assert!(stderr.contains(&format!("deb {SERVER}=1.0-1")), "{stderr}");
}

/// `lock --from docker:NAME` pins the whole closure, not only what the manifest
/// declares: a dependency the manifest never names (`envsync-demo-lib`, from another
/// source package) takes the version production runs, so `diff lock docker:NAME` shows
/// no `changed` line.
#[tokio::test(flavor = "multi_thread")]
async fn lock_from_a_production_container_pins_its_dependencies_too() {
    let base = base_image().await;
    let lib = |version: &str| FakeDeb::new(LIB, version).source("envsync-demo-lib");
    let served = [
        server_needs_lib(release("1.0-1")),
        server_needs_lib(release("1.0-2")),
        vec![lib("1.0-1"), lib("1.0-2")],
    ]
    .concat();
    let repo = AptRepo::start(&served).expect("start the apt repository");

    // "Production": the base image with the older release and the older library.
    let host = HostConfig {
        network_mode: Some("host".to_string()),
        ..Default::default()
    };
    let prod = TestContainer::run_with(&base, "sources-prod", &["sleep", "600"], host).await;
    let installed = prod
        .sh(&format!(
            "echo '{}' > /etc/apt/sources.list.d/test.list && apt-get update -qq >/dev/null 2>&1 \
             && apt-get install -y -qq --no-install-recommends {SERVER}=1.0-1 {TOOLS}=1.0-1 {LIB}=1.0-1 >/dev/null 2>&1 \
             && rm /etc/apt/sources.list.d/test.list && dpkg-query -W -f='${{Version}}' {LIB}",
            repo.deb_line()
        ))
        .await;
    assert_eq!(installed.trim(), "1.0-1");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("envsync.toml"),
        manifest("envsync-e2e-sources-from", &repo, "*"),
    )
    .unwrap();
    let target = format!("docker:{}", prod.name());
    let (code, stdout, stderr) = envsync(d, &["lock", "--from", &target]);
    assert_eq!(code, 0, "{stdout}{stderr}{}", build_logs(d));
    let lock = Lock::load(&d.join("envsync.lock")).unwrap();
    for name in [SERVER, TOOLS, LIB] {
        assert_eq!(locked(&lock, name).0, "1.0-1", "{name}");
    }
    let (code, stdout, stderr) = envsync(d, &["diff", "lock", &target, "--format", "json"]);
    assert!(code == 0 || code == 1, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("diff JSON");
    let changed: Vec<&serde_json::Value> = report["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .filter(|d| d["kind"] == "changed")
        .collect();
    assert!(
        changed.is_empty(),
        "changed lines after lock --from: {changed:?}"
    );
}

/// `lock --update NAME` takes only NAME (and what it requires) out of the lock: after
/// the repository publishes new releases of everything, the named server moves, its
/// exact-version sibling and its library follow, and every other line of the lock is
/// byte-identical.
#[tokio::test(flavor = "multi_thread")]
async fn lock_update_moves_only_the_named_component_and_what_it_requires() {
    base_image().await;
    const EXTRA: &str = "envsync-demo-extra";
    let lib = |version: &str| FakeDeb::new(LIB, version).source("envsync-demo-lib");
    let extra = |version: &str| FakeDeb::new(EXTRA, version).source("envsync-demo-extra");
    let mut repo = AptRepo::start(
        &[
            server_needs_lib(release("1.0-1")),
            vec![lib("1.0-1"), extra("1.0-1")],
        ]
        .concat(),
    )
    .expect("start the apt repository");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = manifest("envsync-e2e-sources-update", &repo, "*")
        .replace("[sources]", &format!("{EXTRA} = \"*\"\n\n[sources]"));
    std::fs::write(d.join("envsync.toml"), text).unwrap();
    let (code, stdout, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}{}", build_logs(d));
    let before = std::fs::read_to_string(d.join("envsync.lock")).unwrap();

    repo.replace(
        &[
            server_needs_lib(release("1.0-1")),
            server_needs_lib(release("1.0-2")),
            vec![lib("1.0-1"), lib("1.0-2"), extra("1.0-1"), extra("1.0-2")],
        ]
        .concat(),
    )
    .unwrap();
    let (code, stdout, stderr) = envsync(d, &["lock", "--update", SERVER]);
    assert_eq!(code, 0, "{stdout}{stderr}{}", build_logs(d));
    let after = std::fs::read_to_string(d.join("envsync.lock")).unwrap();
    let lock = Lock::parse(&after, std::path::Path::new("envsync.lock")).unwrap();
    for (name, version) in [
        (SERVER, "1.0-2"),
        (TOOLS, "1.0-2"),
        (LIB, "1.0-2"),
        (EXTRA, "1.0-1"),
    ] {
        assert_eq!(locked(&lock, name).0, version, "{name}");
    }
    // Every line that does not name a moved package is as it was.
    let moved = [SERVER, TOOLS, LIB];
    let unchanged = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !moved.iter().any(|m| l.contains(&format!("name = \"{m}\""))))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(unchanged(&before), unchanged(&after));
    assert!(
        stderr.contains(&format!("deb:{SERVER} 1.0-1 -> 1.0-2")),
        "{stderr}"
    );

    // A name the lock does not hold is an error naming it.
    let (code, _, stderr) = envsync(d, &["lock", "--update", "no-such-package"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`no-such-package`"), "{stderr}");
}

/// A middleware service pinned to an older point release whose exact-version sibling
/// has a newer candidate locks, builds and comes up healthy, verified against its
/// section of the lock, with the older version inside.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_with_an_older_point_release_comes_up_from_the_lock() {
    base_image().await;
    let repo = AptRepo::start(&[release("1.0-1"), release("1.0-2")].concat())
        .expect("start the apt repository");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = format!("envsync-e2e-sources-svc-{}", std::process::id());
    std::fs::write(
        d.join("envsync.toml"),
        format!(
            r#"[project]
name = "{project}"

[base]
image = "envsync/debian:bookworm"

[services.redis]
version = "7"
packages = {{ {SERVER} = "1.0-1" }}

[sources]
apt = ["{}"]
"#,
            repo.deb_line()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}{}", build_logs(d));
    let lock = Lock::load(&d.join("envsync.lock")).unwrap();
    let redis = &lock.services["redis"];
    let version = |name: &str| {
        redis
            .components
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.version.clone())
    };
    assert_eq!(version(SERVER).as_deref(), Some("1.0-1"));
    assert_eq!(version(TOOLS).as_deref(), Some("1.0-1"));
    assert!(
        version("redis-server").is_some(),
        "the service's own package is locked"
    );

    let (code, stdout, stderr) = envsync(d, &["up"]);
    let (down, _, _) = envsync(d, &["down"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(down, 0);
    assert!(
        stdout.contains("locked packages as in the lock"),
        "{stdout}"
    );
    assert!(stderr.contains("redis: healthy"), "{stderr}");
}

/// Two `envsync lock` runs at once in one project: the second waits for the first (the
/// project lock), both succeed, and the lock on disk is whole: it parses and a third run
/// finds it up to date. No temporary file is left beside it.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_locks_leave_a_whole_lock() {
    base_image().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("envsync.toml"),
        "[project]\nname = \"envsync-e2e-concurrent\"\n\n[base]\nimage = \"envsync/debian:bookworm\"\n",
    )
    .unwrap();
    let spawn = || {
        util::envsync_command()
            .arg("lock")
            .current_dir(d)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start envsync lock")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().expect("envsync lock finishes");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Lock::load(&d.join("envsync.lock")).expect("the lock is whole");
    let (code, stdout, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("envsync.lock is up to date"), "{stdout}");
    let leftovers: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp") || n.ends_with(".tmp"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}
