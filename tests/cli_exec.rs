//! `envsync exec` and `envsync status` as a user runs them, against a development
//! container brought up through the provisioner on the real engine: the command starts
//! in the container directory matching the current directory, a SIGINT sent to envsync
//! reaches the command inside, an interactive `exec` on a terminal (tmux) reads what is
//! typed and Ctrl-C ends the process inside, and `status` exits 1 when a container
//! stopped running.

mod util;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use envsync_provisioner::env::{DevSpec, EnvSpec, RestartPolicy, ServiceSpec, DEFAULT_STOP_GRACE};
use envsync_provisioner::run;
use envsync_testsupport::{base_image, docker, unique_name};
use util::{docker_out, envsync, envsync_command, Tmux, TEST_HASH_KEY};

/// Removes the project when dropped, panicking or not.
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
                let _ = run::down(&docker().await, &project, true).await;
            });
        })
        .join();
    }
}

/// Bring up `project` with a development container mounting `dir` at `/workspace` and
/// the given services.
async fn up(project: &str, dir: &Path, services: Vec<ServiceSpec>) {
    let docker = docker().await;
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.to_string(),
        project_dir: dir.to_path_buf(),
        services,
        dev: Some(DevSpec {
            healthcheck: None,
            image: base_image().await,
            mount_project_at: "/workspace".to_string(),
            user: None,
            env: BTreeMap::new(),
            ports: vec![],
            command: None,
            stop_grace: DEFAULT_STOP_GRACE,
            restart: RestartPolicy::default(),
            workdir: None,
            aliases: vec![],
            post_create: vec![],
        }),
    };
    run::up(&docker, &spec, &|_| {}).await.expect("up");
}

#[tokio::test]
async fn exec_starts_in_the_matching_directory_and_forwards_sigint() {
    let project = unique_name("cli-exec");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(dir_path.join("src/api")).unwrap();
    up(&project, &dir_path, vec![]).await;

    // From a subdirectory of the project, the command runs in the matching directory;
    // from outside it, in the container's working directory.
    let (code, stdout, _) = envsync(
        &dir_path.join("src/api"),
        &["exec", "-T", "--project", &project, "--", "pwd"],
    );
    assert_eq!((code, stdout.as_str()), (0, "/workspace/src/api\n"));
    let (code, stdout, _) = envsync(
        Path::new("/"),
        &["exec", "--project", &project, "--", "pwd"],
    );
    assert_eq!((code, stdout.as_str()), (0, "/workspace\n"));

    // SIGINT to envsync reaches the command's process group: the shell's trap runs at
    // once (not after `sleep 30`), and its exit code is envsync's.
    let started = Instant::now();
    let mut child = envsync_command()
        .args(["exec", "--project", &project, "--", "sh", "-c"])
        .arg("trap 'echo got INT; exit 7' INT; echo ready; sleep 30")
        .current_dir(&dir_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run envsync exec");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert_eq!(lines.next().unwrap().unwrap(), "got INT");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "envsync exec still runs");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(7));
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the trap ran only after sleep ended"
    );
}

/// The command lines of the processes running in `container`, read from `/proc`.
fn processes(container: &str) -> String {
    docker_out(&[
        "exec",
        container,
        "sh",
        "-c",
        "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done",
    ])
}

#[tokio::test]
async fn interactive_exec_on_a_terminal_reads_input_and_ctrl_c_stops_the_process() {
    let project = unique_name("cli-tty");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    up(&project, dir.path(), vec![]).await;
    let container = format!("envsync-{project}-dev");

    // A person at a terminal: envsync on a tmux pane, keys typed into it.
    let script =
        "printf 'name? '; read name; echo \"hello, $name\"; sleep 4242; echo not interrupted";
    let tmux = Tmux::start(
        &project,
        dir.path(),
        &[("NO_COLOR", "1"), ("ENVSYNC_HASH_KEY", TEST_HASH_KEY)],
        &[
            env!("CARGO_BIN_EXE_envsync"),
            "exec",
            "--project",
            &project,
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    tmux.wait_for("the prompt", |s| s.contains("name? "));
    tmux.send_keys(&["-l", "ana"]);
    tmux.send_keys(&["Enter"]);
    // The terminal inside echoes what was typed; the command read it.
    tmux.wait_for("the answer", |s| {
        s.contains("name? ana") && s.contains("hello, ana")
    });
    assert!(
        processes(&container).contains("sleep 4242"),
        "the command's sleep is not running"
    );

    tmux.send_keys(&["C-c"]);
    // Generous for a loaded CI machine (image builds beside it).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = tmux.exit_status() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "envsync exec still runs 60 s after Ctrl-C; the screen:\n{}\nprocesses in the container:\n{}",
            tmux.screen(),
            processes(&container)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // sh ended by SIGINT: 128 + 2, passed through.
    assert_eq!(status, 130, "{}", tmux.screen());
    assert!(!tmux.screen().contains("not interrupted"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes(&container).contains("sleep 4242") {
        assert!(
            Instant::now() < deadline,
            "`sleep 4242` still runs in the container after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn status_exits_1_naming_a_container_that_stopped() {
    let project = unique_name("cli-status");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let oneshot = ServiceSpec {
        name: "oneshot".to_string(),
        image: base_image().await,
        env: BTreeMap::new(),
        ports: vec![],
        healthcheck: None,
        volumes: vec![],
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            "while [ ! -e /tmp/end ]; do sleep 0.1; done; exit 3".into(),
        ]),
        stop_grace: DEFAULT_STOP_GRACE,
        restart: RestartPolicy::No,
    };
    up(&project, dir.path(), vec![oneshot]).await;
    let (code, _, _) = envsync(dir.path(), &["status", "--project", &project]);
    assert_eq!(code, 0);

    let container = format!("envsync-{project}-oneshot");
    let out = Command::new("docker")
        .args(["exec", &container, "touch", "/tmp/end"])
        .output()
        .expect("run docker exec");
    assert!(out.status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let (stdout, stderr) = loop {
        let (code, stdout, stderr) = envsync(dir.path(), &["status", "--project", &project]);
        if code == 1 {
            break (stdout, stderr);
        }
        assert!(Instant::now() < deadline, "status never saw the exit");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(stdout.contains("exited (3)"), "{stdout}");
    assert!(stderr.starts_with("not running: oneshot;"), "{stderr}");
    let (code, json, _) = envsync(
        dir.path(),
        &["status", "--project", &project, "--format", "json"],
    );
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let oneshot = &json["services"][0];
    assert_eq!(
        (
            &oneshot["service"],
            &oneshot["exit_code"],
            &oneshot["restarts"]
        ),
        (&"oneshot".into(), &3.into(), &0.into())
    );
}
