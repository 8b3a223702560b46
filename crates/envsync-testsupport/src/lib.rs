//! Test-only support for tests that need a real Docker engine.
//!
//! - [`docker`] gives a test the engine client, and fails the test (never skips it) when
//!   no engine answers.
//! - [`base_image`] and [`fixture_image`] build images once and reuse them: the base from
//!   `images/debian-bookworm/build.sh`, fixtures from `tests/fixtures/<name>/` tagged by
//!   the sha256 of their content, so an unchanged fixture is never rebuilt.
//! - [`TestContainer`] runs a uniquely named, labelled container and removes it when
//!   dropped, including when the test panics. Containers left by a killed test run are
//!   swept the next time a test asks for the engine.
//! - [`AptRepo`] and [`PypiIndex`] (in [`repo`]) serve fake Debian packages and wheels the
//!   test builds itself on 127.0.0.1, so a test never depends on what a mirror serves today.
//! - [`non_root_user`] is a real user other than root who may use the engine.
//! - [`remote`] starts a TLS registry with htpasswd auth (Debian's `docker-registry`) and
//!   a second dockerd with TLS client verification, with certificates made by the test.
//! - [`oracles`] finds the Python oracles (`packaging`, `jsonschema`) and validates SARIF.
//!
//! Everything here is created with the label [`LABEL_TEST`] so it can be told apart
//! from what envsync itself creates.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

pub mod oracles;
pub mod postgres;
pub mod remote;
pub mod repo;
pub use postgres::PostgresServer;
mod user;
pub use repo::{AptRepo, FakeDeb, FakeWheel, PypiIndex};
pub use user::{non_root_user, NonRootUser, TEST_USER};

/// Label on every container and image the test support creates.
pub const LABEL_TEST: &str = "io.envsync.test";
/// Label holding the pid of the test process that created a container, for sweeping.
pub const LABEL_TEST_PID: &str = "io.envsync.test.pid";
/// The base image `images/debian-bookworm/build.sh` creates.
pub const BASE_IMAGE: &str = "envsync/debian:bookworm";
/// The host's CA bundle. TLS to PyPI and npm may pass through an intercepting proxy
/// whose CA is only in this bundle; fixtures receive it as `host-ca.crt`.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The workspace root (where `images/` and `tests/fixtures/` live).
pub fn workspace_root() -> PathBuf {
    // This crate lives in `<root>/crates/envsync-testsupport`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Connect to the engine, or fail the test saying how to start one. Never skips: a test
/// that needs Docker and finds none is a failure, in CI and locally alike.
pub async fn docker() -> Docker {
    match envsync_engine::connect().await {
        Ok(docker) => {
            sweep_stale(&docker).await;
            docker
        }
        Err(err) => panic!(
            "this test needs a Docker engine and none answers: {err}\n\
             start one with `just engine` (installs Debian's docker.io and starts dockerd as root)"
        ),
    }
}

/// Remove test containers whose creating process is gone (a test run killed before
/// its `Drop`s ran).
async fn sweep_stale(docker: &Docker) {
    // Only containers a test started carry the pid label. Fixture images carry
    // LABEL_TEST, and the intermediate containers of a build FROM one inherit it: a sweep
    // by LABEL_TEST alone removed a fixture build running in another test process.
    let filters = HashMap::from([("label".to_string(), vec![LABEL_TEST_PID.to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(containers) = docker.list_containers(Some(options)).await else {
        return;
    };
    for c in containers {
        let pid = c
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_TEST_PID))
            .and_then(|p| p.parse::<u32>().ok());
        let stale = pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
        if stale {
            if let Some(id) = c.id {
                let rm = RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build();
                let _ = docker.remove_container(&id, Some(rm)).await;
            }
        }
    }
}

/// Serialise image builds across test processes (cargo runs test binaries in
/// parallel): an exclusive lock on a file in the system temp directory.
fn build_lock() -> Result<File> {
    let path = std::env::temp_dir().join("envsync-testsupport-build.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening lock file `{}`", path.display()))?;
    file.lock()
        .with_context(|| format!("locking `{}`", path.display()))?;
    Ok(file)
}

/// Make sure the Debian base image exists, building it from Debian's packages with
/// `images/debian-bookworm/build.sh` when it does not. Returns its tag.
pub async fn base_image() -> String {
    let docker = docker().await;
    if docker.inspect_image(BASE_IMAGE).await.is_ok() {
        return BASE_IMAGE.to_string();
    }
    let _lock = build_lock().expect("build lock");
    let script = workspace_root().join("images/debian-bookworm/build.sh");
    let status = tokio::task::spawn_blocking(move || Command::new("bash").arg(&script).status())
        .await
        .expect("build task")
        .expect("running images/debian-bookworm/build.sh");
    assert!(
        status.success(),
        "images/debian-bookworm/build.sh failed: {status}"
    );
    BASE_IMAGE.to_string()
}

/// sha256 over every file below `dir` (relative path, mode and bytes, in path order)
/// plus the host CA bundle that is added to the build context.
fn content_hash(dir: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir)?;
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(entry.path())?);
        hasher.update([0]);
    }
    if let Ok(ca) = std::fs::read(HOST_CA_BUNDLE) {
        hasher.update(b"host-ca.crt\0");
        hasher.update(ca);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The build context of a fixture: its directory as a tar, plus `host-ca.crt`.
fn fixture_context(dir: &Path) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    let ca = std::fs::read(HOST_CA_BUNDLE).unwrap_or_default();
    let mut header = tar::Header::new_gnu();
    header.set_size(ca.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "host-ca.crt", ca.as_slice())?;
    Ok(builder.into_inner()?)
}

/// Build `tests/fixtures/<name>/Dockerfile` (FROM the base image, which is built first
/// if missing) unless an image with the same content hash exists. Returns the tag,
/// `envsync-fixture/<name>:<hash>`.
pub async fn fixture_image(name: &str) -> String {
    fixture_image_with_args(name, &[]).await
}

/// Like [`fixture_image`], with build arguments (e.g. `("BASE", tag_of_another_fixture)`
/// for a fixture layered on another one). The arguments are part of the content hash.
pub async fn fixture_image_with_args(name: &str, build_args: &[(&str, &str)]) -> String {
    base_image().await;
    let dir = workspace_root().join("tests/fixtures").join(name);
    build_image_from_dir(&dir, name, build_args)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "building fixture `{name}` from `{}`: {err:#}",
                dir.display()
            )
        })
}

async fn build_image_from_dir(
    dir: &Path,
    name: &str,
    build_args: &[(&str, &str)],
) -> Result<String> {
    let docker = docker().await;
    let mut hash = content_hash(dir)?;
    if !build_args.is_empty() {
        let mut hasher = Sha256::new();
        hasher.update(hash.as_bytes());
        for (k, v) in build_args {
            hasher.update(format!("\0{k}={v}").as_bytes());
        }
        hash = hex::encode(hasher.finalize());
    }
    let args: HashMap<String, String> = build_args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let tag = format!("envsync-fixture/{name}:{}", &hash[..16]);
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    let _lock = build_lock()?;
    // Another test process may have built it while this one waited for the lock.
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    let context = fixture_context(dir)?;
    let labels = HashMap::from([(LABEL_TEST.to_string(), name.to_string())]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .buildargs(&args)
        .build();
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(bytes::Bytes::from(context))),
    );
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        let info =
            item.with_context(|| format!("building `{tag}`; log so far:\n{}", tail(&log)))?;
        if let Some(line) = info.stream {
            log.push_str(&line);
        }
        if let Some(detail) = info.error_detail {
            bail!(
                "building `{tag}` failed: {}\n{}",
                detail.message.unwrap_or_default(),
                tail(&log)
            );
        }
    }
    docker.inspect_image(&tag).await.with_context(|| {
        format!(
            "build of `{tag}` ended without the image; log:\n{}",
            tail(&log)
        )
    })?;
    Ok(tag)
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A name no other test (in this or another process) uses: `envsync-test-<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "envsync-test-{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The result of a command run inside a container.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// A running container that is removed (with its anonymous volumes) when dropped.
#[derive(Debug)]
pub struct TestContainer {
    name: String,
    id: String,
}

impl TestContainer {
    /// Create and start a container from `image` running `cmd` (the image's command when
    /// empty), named uniquely after `prefix` and labelled for cleanup.
    pub async fn run(image: &str, prefix: &str, cmd: &[&str]) -> TestContainer {
        Self::run_with(image, prefix, cmd, HostConfig::default()).await
    }

    /// Like [`TestContainer::run`], with a host configuration (published ports, mounts).
    pub async fn run_with(
        image: &str,
        prefix: &str,
        cmd: &[&str],
        host_config: HostConfig,
    ) -> TestContainer {
        let docker = docker().await;
        let name = unique_name(prefix);
        let labels = HashMap::from([
            (LABEL_TEST.to_string(), prefix.to_string()),
            (LABEL_TEST_PID.to_string(), std::process::id().to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: (!cmd.is_empty()).then(|| cmd.iter().map(|s| s.to_string()).collect()),
            labels: Some(labels),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = docker
            .create_container(Some(options), body)
            .await
            .unwrap_or_else(|err| panic!("creating container `{name}` from `{image}`: {err}"));
        let container = TestContainer {
            name,
            id: created.id,
        };
        docker
            .start_container(
                &container.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .unwrap_or_else(|err| panic!("starting container `{}`: {err}", container.name));
        container
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Run `cmd` in the container and collect its exit code and output.
    pub async fn exec(&self, cmd: &[&str]) -> ExecOutput {
        let docker = docker().await;
        let exec = docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|err| panic!("exec {cmd:?} in `{}`: {err}", self.name));
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        match docker.start_exec(&exec.id, None).await {
            Ok(StartExecResults::Attached { mut output, .. }) => {
                while let Some(chunk) = output.next().await {
                    match chunk.unwrap_or_else(|err| panic!("reading exec output: {err}")) {
                        LogOutput::StdOut { message } => stdout.extend_from_slice(&message),
                        LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                        _ => {}
                    }
                }
            }
            Ok(StartExecResults::Detached) => panic!("exec {cmd:?} detached unexpectedly"),
            Err(err) => panic!("starting exec {cmd:?} in `{}`: {err}", self.name),
        }
        let inspect = docker
            .inspect_exec(&exec.id)
            .await
            .unwrap_or_else(|err| panic!("inspecting exec {cmd:?}: {err}"));
        ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Run a shell command and return its stdout, failing the test when it exits non-zero.
    pub async fn sh(&self, script: &str) -> String {
        let out = self.exec(&["sh", "-c", script]).await;
        assert_eq!(
            out.exit_code, 0,
            "`{script}` in `{}` exited {}; stderr:\n{}",
            self.name, out.exit_code, out.stderr
        );
        out.stdout
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        // Drop may run inside a runtime (or while unwinding from a panic in one), where
        // blocking on async code is not allowed; remove on a thread of its own.
        let id = self.id.clone();
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(docker) = envsync_engine::connect().await {
                    let rm = RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(30),
                        docker.remove_container(&id, Some(rm)),
                    )
                    .await;
                }
            });
        });
        let _ = handle.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("a"), unique_name("a"));
        assert!(unique_name("x").starts_with("envsync-test-x-"));
    }

    #[test]
    fn content_hash_changes_with_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let a = content_hash(dir.path()).unwrap();
        assert_eq!(a, content_hash(dir.path()).unwrap());
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch \n").unwrap();
        assert_ne!(a, content_hash(dir.path()).unwrap());
    }

    #[tokio::test]
    async fn container_runs_and_is_removed_on_drop() {
        let image = base_image().await;
        let container = TestContainer::run(&image, "support", &["sleep", "300"]).await;
        let name = container.name().to_string();
        assert_eq!(container.sh("echo hi").await, "hi\n");
        let out = container.exec(&["sh", "-c", "echo err >&2; exit 3"]).await;
        assert_eq!((out.exit_code, out.stderr.as_str()), (3, "err\n"));
        drop(container);
        let docker = docker().await;
        assert!(
            docker.inspect_container(&name, None).await.is_err(),
            "container `{name}` still exists"
        );
    }
}
