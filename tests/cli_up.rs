//! End-to-end test of the verification `envsync up` ends with, against a real engine:
//! without a lock `up` says it did not verify and exits 0; after `envsync lock` it
//! reports parity with the lock's component count; a development container changed by
//! hand (a Debian package removed with dpkg) makes `up` and `status --verify` exit 1
//! naming the package, and `up --no-verify` exits 0.
//!
//! The manifest declares nothing beyond the base image, so the image build is only
//! labels on the base: the test costs seconds, not an apt install.

use std::process::Command;

use envsync_testsupport::{base_image, unique_name};

mod util;

use util::{envsync, Down};

fn docker_exec(container: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", "-u", "0", container, "sh", "-c", script])
        .output()
        .expect("run docker exec");
    assert!(
        out.status.success(),
        "`{script}` in {container} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn up_verifies_the_dev_container_against_the_lock() {
    let base = base_image().await;
    let project = unique_name("upverify");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!("[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n"),
    )
    .unwrap();
    let _down = Down(dir.path().to_path_buf(), project.clone());
    let dev = format!("envsync-{project}-dev");

    let (code, stdout, _) = envsync(dir.path(), &["up"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("not verified: no envsync.lock (run envsync lock)"),
        "{stdout}"
    );

    let (code, _, _) = envsync(dir.path(), &["lock"]);
    assert_eq!(code, 0);
    let lock = envsync_manifest::Lock::load(&dir.path().join("envsync.lock")).unwrap();
    // The oracle: dpkg in the running container lists as many packages as the lock holds
    // Debian components (nothing else is declared).
    let installed = docker_exec(&dev, "dpkg-query -W -f '${Package}\\n'");
    let debs = lock
        .components
        .iter()
        .filter(|c| c.ecosystem == envsync_manifest::Ecosystem::Deb)
        .count();
    assert_eq!(installed.lines().count(), debs);

    let (code, stdout, _) = envsync(dir.path(), &["up"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!(
            "verified: {dev} matches envsync.lock ({} components)",
            lock.components.len()
        )),
        "{stdout}"
    );

    // A package removed by hand: the running container no longer matches the lock.
    docker_exec(
        &dev,
        "dpkg --remove --force-depends debian-archive-keyring >/dev/null 2>&1",
    );
    let (code, stdout, _) = envsync(dir.path(), &["up"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("drift: {dev} differs from")),
        "{stdout}"
    );
    assert!(stdout.contains("deb:debian-archive-keyring"), "{stdout}");
    assert!(stdout.contains("missing"), "{stdout}");

    let (code, stdout, _) = envsync(dir.path(), &["status", "--verify"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("PARITY"), "{stdout}");
    assert!(stdout.contains("drift"), "{stdout}");

    let (code, stdout, _) = envsync(dir.path(), &["up", "--no-verify"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("verified"), "{stdout}");
}
