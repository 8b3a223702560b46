//! End-to-end test of `swarm:SERVICE` on a single-node swarm of the test engine: a
//! two-replica service from the base image, one task changed by hand (a local package
//! built with dpkg-deb and installed with dpkg), must be reported as exactly one drifted
//! task (exit 1) and one at parity. The engine is put in swarm mode when it is not
//! already (and left so: a single-node swarm with no services is harmless).

use std::process::Command;
use std::time::{Duration, Instant};

use envsync_testsupport::{base_image, unique_name};
use serde_json::Value;

mod util;

use util::{envsync_command, run};

/// `docker ARGS`: exit status, stdout, stderr.
fn docker(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

fn swarm_state() -> String {
    let (ok, state, err) = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    assert!(ok, "docker info: {err}");
    state
}

/// Make the test engine a swarm manager unless it already is one. Another test process
/// may initialise it at the same moment; then its swarm is used.
fn ensure_swarm() {
    if swarm_state() != "active" {
        let (ok, _, err) = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(
            ok || err.contains("already part of a swarm"),
            "docker swarm init: {err}"
        );
    }
    assert_eq!(swarm_state(), "active");
    let (_, manager, _) = docker(&["info", "--format", "{{.Swarm.ControlAvailable}}"]);
    assert_eq!(manager, "true", "the test engine must be a swarm manager");
}

/// Removes the service (and so its tasks' containers) when dropped.
struct Service(String);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = docker(&["service", "rm", &self.0]);
    }
}

/// `(slot, container ID)` of the service's running tasks once there are `n`.
fn running_tasks(service: &str, n: usize) -> Vec<(String, String)> {
    let label = format!("label=com.docker.swarm.service.name={service}");
    let start = Instant::now();
    loop {
        let (ok, out, err) = docker(&[
            "ps",
            "--filter",
            &label,
            "--format",
            "{{.ID}} {{.Label \"com.docker.swarm.task.name\"}}",
        ]);
        assert!(ok, "docker ps: {err}");
        let mut tasks: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let (id, task) = l.split_once(' ')?;
                // `SERVICE.SLOT.TASK-ID`
                let slot = task
                    .strip_prefix(&format!("{service}."))?
                    .split('.')
                    .next()?;
                Some((slot.to_string(), id.to_string()))
            })
            .collect();
        if tasks.len() == n {
            tasks.sort();
            return tasks;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "service {service} did not start {n} tasks: {out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Build a package `name` 1.0 with dpkg-deb inside `container` and install it.
fn install_local_deb(container: &str, name: &str) {
    let script = format!(
        "set -e; d=$(mktemp -d); mkdir \"$d/DEBIAN\"; \
         printf 'Package: {name}\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: envsync tests <tests@invalid>\\nDescription: a task changed by hand\\n' > \"$d/DEBIAN/control\"; \
         dpkg-deb --build \"$d\" /tmp/{name}.deb >/dev/null; dpkg -i /tmp/{name}.deb >/dev/null; rm -rf \"$d\" /tmp/{name}.deb"
    );
    let (ok, out, err) = docker(&["exec", container, "sh", "-c", &script]);
    assert!(ok, "installing {name} in {container}: {out} {err}");
}

/// What dpkg-query says `container` has installed of `name` (the oracle).
fn dpkg_version(container: &str, name: &str) -> Option<String> {
    let (ok, out, _) = docker(&[
        "exec",
        container,
        "dpkg-query",
        "-W",
        "-f",
        "${Version}",
        name,
    ]);
    ok.then_some(out)
}

#[tokio::test]
async fn one_task_changed_by_hand_is_the_one_drifted_task() {
    let image = base_image().await;
    ensure_swarm();
    let name = unique_name("swarm");
    let (ok, _, err) = docker(&[
        "service",
        "create",
        "--detach",
        "--no-resolve-image",
        "--name",
        &name,
        "--replicas",
        "2",
        &image,
        "sleep",
        "infinity",
    ]);
    assert!(ok, "docker service create: {err}");
    let _service = Service(name.clone());
    let tasks = running_tasks(&name, 2);
    let (changed_slot, changed) = &tasks[1];
    let (same_slot, same) = &tasks[0];
    let probe = "envsync-swarm-probe";
    install_local_deb(changed, probe);
    let version = dpkg_version(changed, probe).expect("dpkg-query sees the probe");
    assert_eq!(
        dpkg_version(same, probe),
        None,
        "the other task is untouched"
    );

    let reference = format!("image:{image}");
    let target = format!("swarm:{name}");
    let (code, stdout, stderr) =
        run(envsync_command().args(["diff", &reference, &target, "--format", "json"]));
    assert_eq!(code, 1, "one drifted task is drift: {stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("fleet JSON");
    assert_eq!(report["reference"], reference.as_str());
    assert_eq!(report["verdict"], "drift");
    let changed_name = format!("swarm:{name}/{name}.{changed_slot}");
    let same_name = format!("swarm:{name}/{name}.{same_slot}");
    let statuses: Vec<(String, String)> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap_or_default().to_string(),
                t["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut expected = vec![
        (changed_name.clone(), "drift".to_string()),
        (same_name, "parity".to_string()),
    ];
    expected.sort();
    assert_eq!(statuses, expected, "{stdout}");
    let drift: Vec<[String; 5]> = report["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .map(|d| {
            ["target", "ecosystem", "name", "kind", "right"]
                .map(|k| d[k].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let expected = [&changed_name, "deb", probe, "extra", &version].map(str::to_string);
    assert_eq!(drift, vec![expected], "{stdout}");

    // The table names the task and the verdict line counts tasks.
    let (code, table, _) = run(envsync_command().args(["diff", &reference, &target]));
    assert_eq!(code, 1);
    assert!(
        table.contains("drift: 1 of 2 targets drift — DRIFT"),
        "{table}"
    );
}

#[test]
fn a_missing_service_and_a_swarm_reference_are_errors() {
    ensure_swarm();
    let missing = unique_name("swarm-missing");
    let target = format!("swarm:{missing}");
    let (code, _, stderr) = run(envsync_command().args(["diff", "image:x", &target]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("swarm service `{missing}` does not exist")),
        "{stderr}"
    );
    let (code, _, stderr) = run(envsync_command().args(["diff", &target, "image:x"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("the reference `{target}` is a swarm service")),
        "{stderr}"
    );
    let (code, _, stderr) = run(envsync_command().args(["fingerprint", &target]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is a fleet of tasks, not one target"),
        "{stderr}"
    );
    let (code, _, stderr) = run(envsync_command().args(["diff", "image:x", "swarm:web/web.1"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not a service name"), "{stderr}");
}

/// A stand-in Docker engine (Python's http.server on 127.0.0.1) answering `/info` with
/// `info` and `/tasks`, `/services/…`, `/nodes/…` with the JSON given, so that the
/// errors a real single-node swarm cannot produce (not a manager, a task on another
/// node) are exercised. Killed when dropped.
struct FakeEngine(std::process::Child, String);

impl FakeEngine {
    fn start(info: &str, tasks: &str, node: &str) -> FakeEngine {
        let script = r#"
import http.server, sys, socketserver
info, tasks, node = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split('?')[0].split('/', 2)[-1] if self.path.startswith('/v1') else self.path.split('?')[0].lstrip('/')
        body = {'_ping': 'OK', 'version': '{"ApiVersion":"1.41","Version":"20.10.0"}', 'info': info, 'tasks': tasks}.get(path)
        if body is None and path.startswith('services/'): body = '{"ID":"s1"}'
        if body is None and path.startswith('nodes/'): body = node
        if body is None:
            self.send_response(404); body = '{"message":"no such object"}'
        else:
            self.send_response(200)
        data = body.encode()
        self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(data))); self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a): pass
s = socketserver.TCPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script, info, tasks, node])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("port");
        FakeEngine(child, format!("tcp://127.0.0.1:{}", line.trim()))
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_engine_that_is_not_a_manager_is_an_error() {
    let engine = FakeEngine::start(
        r#"{"Swarm":{"LocalNodeState":"inactive","ControlAvailable":false}}"#,
        "[]",
        "{}",
    );
    let (code, _, stderr) =
        run(envsync_command()
            .env("DOCKER_HOST", &engine.1)
            .args(["diff", "image:x", "swarm:web"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "this engine is not a swarm manager (`{}` is in swarm state `inactive`)",
            engine.1
        )),
        "{stderr}"
    );
}

#[test]
fn a_task_on_a_node_without_an_engine_is_a_failed_member_naming_the_node() {
    let engine = FakeEngine::start(
        r#"{"Swarm":{"LocalNodeState":"active","ControlAvailable":true,"NodeID":"n1"}}"#,
        r#"[{"ID":"t2","Slot":2,"NodeID":"n2","Status":{"State":"running","ContainerStatus":{"ContainerID":"c2"}},"DesiredState":"running"}]"#,
        r#"{"ID":"n2","Status":{"State":"ready","Addr":"192.0.2.7"},"Description":{"Hostname":"worker-2"}}"#,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = format!("{}/tests/golden/prod.json", env!("CARGO_MANIFEST_DIR"));
    let (code, stdout, stderr) = run(envsync_command()
        .env("DOCKER_HOST", &engine.1)
        .args(["diff", &reference, "swarm:web", "--format", "json"])
        .current_dir(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("fleet JSON");
    let target = &report["targets"][0];
    assert_eq!(target["target"], "swarm:web/web.2", "{stdout}");
    assert_eq!(target["status"], "error", "{stdout}");
    let error = target["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("`swarm:web/web.2` runs on node `n2` (192.0.2.7), and no engine is configured for other nodes"),
        "{error}"
    );

    // With a template, the node's address becomes its engine: here one that refuses.
    let (code, stdout, stderr) = run(envsync_command()
        .env("DOCKER_HOST", &engine.1)
        .args(["diff", &reference, "swarm:web", "--format", "json"])
        .args(["--swarm-node-engine", "tcp://{hostname}.invalid:1"])
        .current_dir(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("fleet JSON");
    let error = report["targets"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("tcp://worker-2.invalid:1"), "{error}");
}
