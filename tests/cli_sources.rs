//! End-to-end tests of locks against package sources the test controls: a local apt
//! repository on 127.0.0.1 (`envsync_testsupport::AptRepo`) named in `[sources]`, so
//! that no expectation depends on what Debian's mirror serves today.
//!
//! The repository serves two point releases of one source package, `envsync-demo`, whose
//! `envsync-demo-server` depends on `envsync-demo-tools (= same version)`: pinning the
//! older server must bring the older tools with it, although apt's candidate for the
//! tools is the newer one.

mod util;

use envsync_manifest::{Ecosystem, Lock};
use envsync_testsupport::{base_image, AptRepo, FakeDeb};
use util::envsync;

const SERVER: &str = "envsync-demo-server";
const TOOLS: &str = "envsync-demo-tools";

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
