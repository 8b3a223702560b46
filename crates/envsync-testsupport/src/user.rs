//! A real user other than root for end-to-end tests of `envsync up` as a developer runs
//! it: created with `useradd` when absent (the tests run as root in CI), with a home
//! directory and membership of the group that owns the engine's socket, so it reaches
//! the engine as a member of the `docker` group does.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// The name of the test user.
pub const TEST_USER: &str = "envsync-dev";

/// A user of this machine other than root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonRootUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// [`TEST_USER`], created when absent and added to the group of the engine's socket.
/// Creating it needs root: run as anyone else, the user must exist already.
pub fn non_root_user() -> Result<NonRootUser> {
    // Tests of one binary run in threads: one `useradd` at a time.
    static ONCE: Mutex<()> = Mutex::new(());
    let _guard = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    let group = socket_group()?;
    if id(&["-u", TEST_USER]).is_err() {
        require_root("create the test user")?;
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", "--user-group"])
            .args(["--groups", &group, TEST_USER])
            .output()
            .context("running useradd (package `passwd`)")?;
        // Another test process may have created it in between.
        if !out.status.success() && id(&["-u", TEST_USER]).is_err() {
            bail!(
                "useradd {TEST_USER} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let groups = id(&["-nG", TEST_USER])?;
    if !groups.split_whitespace().any(|g| g == group) {
        require_root("add the test user to the engine's group")?;
        let status = Command::new("usermod")
            .args(["-aG", &group, TEST_USER])
            .status()
            .context("running usermod")?;
        if !status.success() {
            bail!("usermod -aG {group} {TEST_USER} failed");
        }
    }
    Ok(NonRootUser {
        name: TEST_USER.to_string(),
        uid: id(&["-u", TEST_USER])?.parse().context("uid")?,
        gid: id(&["-g", TEST_USER])?.parse().context("gid")?,
    })
}

fn id(args: &[&str]) -> Result<String> {
    let out = Command::new("id")
        .args(args)
        .output()
        .context("running id")?;
    if !out.status.success() {
        bail!(
            "id {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn require_root(what: &str) -> Result<()> {
    if id(&["-u"])? != "0" {
        bail!("run the tests as root, or as root once, to {what} `{TEST_USER}`");
    }
    Ok(())
}

/// The group that owns the engine's socket (`DOCKER_HOST`'s `unix://` path, or
/// `/var/run/docker.sock`).
fn socket_group() -> Result<String> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let socket = match host.strip_prefix("unix://") {
        Some(path) => path.to_string(),
        None if host.is_empty() => "/var/run/docker.sock".to_string(),
        None => bail!(
            "DOCKER_HOST `{host}` is not a unix socket: the test user cannot be given access to it"
        ),
    };
    let out = Command::new("stat")
        .args(["-c", "%G"])
        .arg(Path::new(&socket))
        .output()
        .context("running stat")?;
    if !out.status.success() {
        bail!(
            "reading the group of `{socket}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
