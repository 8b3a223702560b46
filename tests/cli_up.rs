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

#[tokio::test]
async fn logs_show_each_service_prefixed_in_time_order() {
    let base = base_image().await;
    let project = unique_name("logs");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n\n\
             [services.ticker]\nimage = \"{base}\"\nversion = \"1\"\n\
             command = [\"sh\", \"-c\", \"echo first; sleep 1; echo 'to stderr' >&2; sleep 1; echo \\\"ctl $(printf '\\\\033')[2J\\\"; exec sleep infinity\"]\n"
        ),
    )
    .unwrap();
    let _down = Down(dir.path().to_path_buf(), project.clone());
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Poll until the third line is written (the service writes it after two seconds).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let stdout = loop {
        let (code, stdout, stderr) = envsync(dir.path(), &["logs", "ticker"]);
        assert_eq!(code, 0, "{stderr}");
        if stdout.lines().count() >= 3 || std::time::Instant::now() > deadline {
            break stdout;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        stdout, "ticker | first\nticker | to stderr\nticker | ctl \\u{1b}[2J\n",
        "in time order across stdout and stderr, the escape written out"
    );

    let (code, stdout, _) = envsync(
        dir.path(),
        &["logs", "--tail", "1", "--timestamps", "ticker"],
    );
    assert_eq!(code, 0);
    let line = stdout.trim_end();
    assert!(line.starts_with("ticker | 20"), "{stdout}");
    assert!(line.ends_with(" ctl \\u{1b}[2J"), "{stdout}");

    // --follow streams what the service writes after it started.
    let mut follow = util::envsync_command()
        .current_dir(dir.path())
        .args(["logs", "--follow", "--tail", "0", "ticker"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start envsync logs --follow");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::io::BufReader::new(follow.stdout.take().expect("stdout is piped"));
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let container = format!("envsync-{project}-ticker");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = Vec::new();
    // The follower may attach after a first write: write again until it shows one.
    while !seen.iter().any(|l: &String| l == "ticker | streamed") {
        assert!(
            std::time::Instant::now() < deadline,
            "not streamed: {seen:?}"
        );
        docker_exec(&container, "echo streamed > /proc/1/fd/1");
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(1)) {
            seen.push(line);
        }
    }
    assert!(
        follow.try_wait().expect("poll the follower").is_none(),
        "--follow keeps running"
    );
    // Ctrl-C ends it at once, with the shell's code for SIGINT.
    let interrupt = std::process::Command::new("kill")
        .args(["-INT", &follow.id().to_string()])
        .status()
        .expect("run kill");
    assert!(interrupt.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(status) = follow.try_wait().expect("poll the follower") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = follow.kill();
            panic!("envsync logs --follow ignored SIGINT for 5 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));

    let (code, _, stderr) = envsync(dir.path(), &["logs", "nosuch"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("has no service `nosuch`; its services are dev, ticker"),
        "{stderr}"
    );
}

/// `up` names what changed in the manifest's terms: a `[files]` file whose content
/// changed rebuilds the image and says so (and `up --check` says it would); an `[env]`
/// value recreates the container without a rebuild and says that too; and a manifest
/// edited after `envsync lock` gets a warning naming the section and the fix.
#[tokio::test]
async fn up_names_what_changed_and_what_did_not_rebuild() {
    let base = base_image().await;
    let project = unique_name("upchanges");
    let dir = tempfile::tempdir().unwrap();
    let manifest = |greeting: &str| {
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n\n\
             [files]\n\"/etc/demo.ini\" = \"demo.ini\"\n\n[env]\nGREETING = \"{greeting}\"\n"
        )
    };
    std::fs::write(dir.path().join("envsync.toml"), manifest("hi")).unwrap();
    std::fs::write(dir.path().join("demo.ini"), "a = 1\n").unwrap();
    let _down = Down(dir.path().to_path_buf(), project.clone());
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The file's content: a new image, named by the manifest line it comes from.
    std::fs::write(dir.path().join("demo.ini"), "a = 2\n").unwrap();
    let (code, stdout, _) = envsync(dir.path(), &["up", "--check"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "its container recreated: image changed: [files] \"/etc/demo.ini\" content changed"
        ),
        "{stdout}"
    );
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout
            .contains("dev: recreated: image rebuilt: [files] \"/etc/demo.ini\" content changed\n"),
        "{stdout}"
    );

    // A run-time value: recreated, not rebuilt.
    std::fs::write(dir.path().join("envsync.toml"), manifest("hello")).unwrap();
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "dev: recreated: env GREETING changed; configuration only, no image rebuilt\n"
        ),
        "{stdout}"
    );

    // Edited after `envsync lock`: the lock is stale, and `up` says so with the fix.
    let (code, _, stderr) = envsync(dir.path(), &["lock"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(dir.path().join("envsync.toml"), manifest("bye")).unwrap();
    let (_, _, stderr) = envsync(dir.path(), &["up", "--check"]);
    assert!(
        stderr.contains(
            "warning: envsync.lock is stale: [env] of the manifest changed since it was locked; \
             regenerate the lock with `envsync lock`"
        ),
        "{stderr}"
    );
}
