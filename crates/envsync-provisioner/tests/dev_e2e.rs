//! The development container as `[dev]` configures it, against the real engine: a
//! published port on 127.0.0.1 answered by its command, an alias a service resolves, an
//! `[env]` value from `.env` in the container's environment and not in the image's
//! history, and `post_create` run once per creation and again when it changes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use envsync_manifest::Manifest;
use envsync_provisioner::env::{EnvSpec, RestartPolicy, ServiceSpec, DEFAULT_STOP_GRACE};
use envsync_provisioner::run::{self, UpReport};
use envsync_provisioner::runtime::{dev_spec, Variables};
use envsync_testsupport::{base_image, docker, unique_name};
use futures_util::StreamExt;

/// Removes the project (containers, network, volumes) when dropped, panicking or not.
struct ProjectGuard(String);

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        let project = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(docker) = envsync_engine::connect().await {
                    let _ = run::down(&docker, &project, true).await;
                }
            });
        })
        .join();
    }
}

fn quiet(_: &str) {}

/// Run `cmd` in `container`; returns (exit code, stdout + stderr).
async fn exec_in(docker: &Docker, container: &str, cmd: &[&str]) -> (i64, String) {
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("exec {cmd:?} in `{container}`: {e}"));
    let mut out = Vec::new();
    if let Ok(StartExecResults::Attached { mut output, .. }) =
        docker.start_exec(&exec.id, None).await
    {
        while let Some(Ok(chunk)) = output.next().await {
            if let LogOutput::StdOut { message } | LogOutput::StdErr { message } = chunk {
                out.extend_from_slice(&message);
            }
        }
    }
    let code = docker
        .inspect_exec(&exec.id)
        .await
        .expect("inspecting the exec")
        .exit_code
        .unwrap_or(-1);
    (code, String::from_utf8_lossy(&out).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free port")
        .port()
}

/// What 127.0.0.1:`port` sends on connection, polled until `deadline`.
fn read_port(port: u16, deadline: Duration) -> String {
    let started = Instant::now();
    loop {
        let mut text = String::new();
        let got = std::net::TcpStream::connect(("127.0.0.1", port))
            .and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.read_to_string(&mut text)
            })
            .map(|_| text);
        match got {
            Ok(text) if !text.is_empty() => return text,
            _ if started.elapsed() > deadline => panic!("nothing answered on 127.0.0.1:{port}"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The manifest of the test project: the dev container serves one line on port 8000
/// (Perl from Debian's perl-base), is reachable as `app`, and appends `post_create` to
/// a file in the project.
fn manifest_text(project: &str, port: u16, post_create: &str) -> String {
    format!(
        r#"[project]
name = "{project}"
[base]
image = "debian:bookworm"
[env]
APP_SECRET = "${{APP_SECRET}}"
[dev]
ports = ["127.0.0.1:{port}:8000"]
command = ["perl", "-MIO::Socket::INET", "-e", "my $s = IO::Socket::INET->new(LocalPort => 8000, Listen => 5, ReuseAddr => 1) or die; while (my $c = $s->accept) {{ print $c qq(hello from dev\n); close $c }}"]
aliases = ["app"]
post_create = ["echo {post_create} >> /workspace/post_create.log"]
restart = "no"
"#
    )
}

fn env_spec(dir: &Path, project: &str, port: u16, post_create: &str, image: &str) -> EnvSpec {
    let path = dir.join("envsync.toml");
    std::fs::write(&path, manifest_text(project, port, post_create)).expect("writing the manifest");
    let manifest = Manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let vars = Variables::load(&manifest).expect("reading .env");
    let dev = dev_spec(&manifest, &vars, image, "/workspace", None).expect("the dev spec");
    // A service that only needs to resolve the development container's alias.
    let peer = ServiceSpec {
        name: "peer".into(),
        image: image.to_string(),
        env: BTreeMap::new(),
        ports: vec![],
        healthcheck: None,
        volumes: vec![],
        command: Some(vec!["sleep".into(), "infinity".into()]),
        stop_grace: DEFAULT_STOP_GRACE,
        restart: RestartPolicy::No,
    };
    EnvSpec {
        stack: Default::default(),
        project: project.to_string(),
        project_dir: dir.to_path_buf(),
        services: vec![peer],
        dev: Some(dev),
    }
}

fn log_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("post_create.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn dev_line(report: &UpReport) -> String {
    report
        .actions
        .iter()
        .find(|a| a.name == "dev")
        .map(|a| a.describe(true))
        .unwrap_or_default()
}

#[tokio::test]
async fn dev_section_ports_command_alias_env_and_post_create() {
    let docker = docker().await;
    let image = base_image().await;
    let project = unique_name("devsec");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let secret = format!("s3cret-{project}");
    std::fs::write(
        dir.path().join(".env"),
        format!("# test secret\nAPP_SECRET='{secret}'\n"),
    )
    .unwrap();
    let port = free_port();

    let spec = env_spec(dir.path(), &project, port, "first", &image);
    run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(read_port(port, Duration::from_secs(30)), "hello from dev\n");
    let (code, out) = exec_in(
        &docker,
        &format!("envsync-{project}-peer"),
        &["getent", "hosts", "app"],
    )
    .await;
    assert_eq!(code, 0, "`getent hosts app` in the service: {out}");

    // The value from .env is in the container's environment, not in the image.
    let dev = format!("envsync-{project}-dev");
    let inspect = docker.inspect_container(&dev, None).await.unwrap();
    let env = inspect.config.and_then(|c| c.env).unwrap_or_default();
    assert!(env.contains(&format!("APP_SECRET={secret}")), "{env:?}");
    let history = Command::new("docker")
        .args(["history", "--no-trunc", &image])
        .output()
        .expect("running docker history");
    assert!(history.status.success());
    assert!(!String::from_utf8_lossy(&history.stdout).contains(&secret));

    // post_create ran once, and a second `up` leaves the container (and the file) alone.
    assert_eq!(log_lines(dir.path()), ["first"]);
    let again = run::up(&docker, &spec, &quiet).await.unwrap();
    assert!(!again.changed(), "{again:?}");
    assert_eq!(log_lines(dir.path()), ["first"]);

    // A changed post_create recreates the container, saying why, and runs again.
    let changed = env_spec(dir.path(), &project, port, "second", &image);
    let report = run::up(&docker, &changed, &quiet).await.unwrap();
    assert!(
        dev_line(&report).contains("post_create commands changed"),
        "{report:?}"
    );
    assert_eq!(log_lines(dir.path()), ["first", "second"]);
}
