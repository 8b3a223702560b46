//! End-to-end test of `envsync fingerprint ssh://...` against a real OpenSSH server in
//! a container (port published on 127.0.0.1 only), reached with the system `ssh` and
//! an ssh config file (`ENVSYNC_SSH_CONFIG`, passed as `-F`) holding the test's key.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

mod util;

use util::{envsync_command, run, sshd};

/// Run envsync with `args`, giving it `ssh_config` as its ssh configuration when set.
fn envsync(args: &[&str], ssh_config: Option<&Path>) -> (i32, String, String) {
    let mut cmd = envsync_command();
    cmd.args(args);
    if let Some(cfg) = ssh_config {
        cmd.env("ENVSYNC_SSH_CONFIG", cfg);
    }
    run(&mut cmd)
}

/// Packages other than environment variables (an ssh session's environment is not the
/// container's configured one), as `(ecosystem, name, version, arch, location)` text.
fn packages(stdout: &str) -> Vec<String> {
    let snap: Value = serde_json::from_str(stdout).expect("snapshot JSON");
    snap["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["ecosystem"] != "env")
        .map(|p| {
            format!(
                "{} {} {} {} {}",
                p["ecosystem"], p["name"], p["version"], p["arch"], p["location"]
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_target_matches_docker_target() {
    let (c, _dir, config) = sshd("fp-ssh", &[]).await;
    let extra = [
        "--file",
        "/etc/app/settings.ini",
        "--format",
        "json",
        "--env",
        "PATH",
    ];
    let mut args = vec!["fingerprint", "ssh://fixture"];
    args.extend_from_slice(&extra);
    let (code, over_ssh, stderr) = envsync(&args, Some(&config));
    assert_eq!(code, 0, "{stderr}");
    let target = format!("docker:{}", c.name());
    let mut args = vec!["fingerprint", target.as_str()];
    args.extend_from_slice(&extra);
    let (code, over_docker, stderr) = envsync(&args, None);
    assert_eq!(code, 0, "{stderr}");
    let ssh_packages = packages(&over_ssh);
    assert!(
        ssh_packages.len() > 300,
        "{} packages over ssh",
        ssh_packages.len()
    );
    assert_eq!(
        ssh_packages,
        packages(&over_docker),
        "ssh:// and docker: differ"
    );
    let snap: Value = serde_json::from_str(&over_ssh).expect("json");
    assert_eq!(snap["target"], "ssh://fixture");
    // Only the named variable of the ssh session's environment is recorded, hashed.
    let env: Vec<&str> = snap["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["ecosystem"] == "env")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(env, ["PATH"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_ssh_port_exits_2_naming_the_target() {
    // A port on loopback that nothing listens on: bind one, note it, close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let target = format!("ssh://root@127.0.0.1:{port}");
    let (code, _, stderr) = envsync(&["fingerprint", &target], None);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&target), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("refused") || stderr.contains("ssh"),
        "{stderr}"
    );
}

/// What was seen: an ssh program that dies after the first lines of output gave exit 0
/// and an empty inventory. A stand-in for ssh (`ENVSYNC_SSH`) runs the real script on
/// this machine and stops early in different ways; each is exit 2 naming the target.
#[test]
fn ssh_that_dies_early_exits_2() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, body) in [
        "sh -s | head -n 3",
        "sh -s | head -c 4000",
        "sh -s; kill -9 $$",
    ]
    .iter()
    .enumerate()
    {
        let fake = dir.path().join(format!("fake-ssh-{i}"));
        std::fs::write(&fake, format!("#!/bin/sh\n{body}\n")).expect("write fake ssh");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let (code, stdout, stderr) = run(envsync_command()
            .args([
                "fingerprint",
                "ssh://deploy@example-host",
                "--format",
                "json",
            ])
            .env("ENVSYNC_SSH", &fake));
        assert_eq!(code, 2, "{body}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{body}: {stdout}");
        assert!(
            stderr.contains("ssh://deploy@example-host") && stderr.contains("did not finish"),
            "{body}: {stderr}"
        );
    }
}

/// A collection over ssh that times out leaves nothing running on the server. What was
/// seen: sshd sends no SIGHUP to a session without a terminal, so the script's `find`
/// kept running after envsync had given up. Here `find` on the server hangs; after
/// envsync exits, the server's process table is polled until none of the run is left.
#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_ssh_collection_leaves_no_process_on_the_server() {
    let (c, _dir, config) = sshd("fp-ssh-cancel", &[]).await;
    c.sh(
        "printf '#!/bin/sh\\nsleep 3600\\n' > /usr/local/bin/find && chmod 755 /usr/local/bin/find",
    )
    .await;
    // The patterns are split with `""` so that this script never matches itself.
    let leftovers = r#"for d in /proc/[0-9]*; do
  c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  case "$c" in *envsync-coll""ect-*|*/usr/local/bin/fi""nd*|*"sleep 3"600*) printf '%s %s\n' "${d#/proc/}" "$c";; esac
done"#;
    let (code, _, stderr) = envsync(
        &[
            "fingerprint",
            "ssh://fixture",
            "--format",
            "json",
            "--timeout",
            "4",
        ],
        Some(&config),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did not finish within 4s"), "{stderr}");
    // Generous: the kill runs over a second ssh connection, which a loaded CI machine
    // (every end-to-end test at once on two cores) can take many seconds to open.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_running = false;
    loop {
        let left = c.sh(leftovers).await;
        seen_running |= !left.is_empty();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running on the server after envsync exited:\n{left}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("leftovers seen before they ended: {seen_running}");
}
