//! A collection that is cancelled leaves nothing running in the target. What was seen:
//! after `envsync fingerprint docker:…` hit its time limit (or Ctrl-C), the collection's
//! `sh`, `find` and `tar` kept reading the container for ~30 s after envsync exited.
//! Here `find` inside the container is made to hang, the collection times out, and the
//! container's process table is polled until none of the collection's processes is left.

use std::process::Stdio;
use std::time::{Duration, Instant};

use envsync_testsupport::{base_image, TestContainer};

mod util;

use util::envsync_command;

/// Lists the container's live processes that belong to a collection: its `sh` (whose
/// `$0` is an `envsync-collect-…` token), the stand-in `find` and the `sleep` it runs.
/// The patterns are split with `""` so that this script's own command line never
/// matches them; zombies (state Z, empty command line) are not processes that run.
const LEFTOVERS: &str = r#"for d in /proc/[0-9]*; do
  c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  case "$c" in *envsync-coll""ect-*|*/usr/local/bin/fi""nd*|*"sleep 3"600*) printf '%s %s\n' "${d#/proc/}" "$c";; esac
done"#;

async fn leftovers(c: &TestContainer) -> String {
    c.sh(LEFTOVERS).await
}

/// Poll `leftovers` until `done` holds for its output or `limit` passes.
async fn poll(c: &TestContainer, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let now = leftovers(c).await;
        if done(&now) || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_collection_leaves_no_process_in_the_container() {
    let image = base_image().await;
    let c = TestContainer::run(&image, "fp-cancel", &["sleep", "infinity"]).await;
    // A `find` that hangs, earlier on PATH than the real one.
    c.sh(
        "printf '#!/bin/sh\\nsleep 3600\\n' > /usr/local/bin/find && chmod 755 /usr/local/bin/find",
    )
    .await;

    let target = format!("docker:{}", c.name());
    let child = envsync_command()
        .args(["fingerprint", &target, "--format", "json", "--timeout", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start envsync");

    // While it runs, the collection's processes are there to be seen: the poll can fail.
    let running = poll(&c, Duration::from_secs(20), |out| {
        out.contains("sleep 3600")
    })
    .await;
    assert!(
        running.contains("envsync-collect-"),
        "collection not seen running:\n{running}"
    );

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("envsync ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did not finish within 3s"), "{stderr}");

    let left = poll(&c, Duration::from_secs(15), str::is_empty).await;
    assert!(
        left.is_empty(),
        "still running in the container after envsync exited:\n{left}"
    );
}

/// Ctrl-C drops the collection as the time limit does: exit 130, nothing left behind.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_collection_leaves_no_process_in_the_container() {
    let image = base_image().await;
    let c = TestContainer::run(&image, "fp-sigint", &["sleep", "infinity"]).await;
    c.sh(
        "printf '#!/bin/sh\\nsleep 3600\\n' > /usr/local/bin/find && chmod 755 /usr/local/bin/find",
    )
    .await;

    let target = format!("docker:{}", c.name());
    let child = envsync_command()
        .args(["fingerprint", &target, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start envsync");
    let running = poll(&c, Duration::from_secs(20), |out| {
        out.contains("sleep 3600")
    })
    .await;
    assert!(
        running.contains("envsync-collect-"),
        "collection not seen running:\n{running}"
    );
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("envsync ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");

    let left = poll(&c, Duration::from_secs(15), str::is_empty).await;
    assert!(
        left.is_empty(),
        "still running in the container after envsync exited:\n{left}"
    );
}
