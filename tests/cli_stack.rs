//! End-to-end test of the shipped example (`manifests/benefits-api`) as a developer's
//! stack, against a real engine: `envsync up` starts PostgreSQL and Redis, then the
//! development container running the app under gunicorn once they are healthy, then
//! nginx (its site file copied into its own image) once the app answers. A request from
//! the host to nginx's published port reaches the app, which writes a row to PostgreSQL
//! and a key to Redis; both are read back with the services' own clients (psql,
//! redis-cli) as the oracle. PostgreSQL refuses a wrong password and no password.
//! `logs -f postgres` streams a line PostgreSQL writes after it started. After
//! `down` and `up` the row and the key are still there. `up postgres` starts PostgreSQL
//! alone, and a service of a profile starts only with `--profile`.
//!
//! The example is copied to a temporary directory with a unique project name and free
//! host ports, so the test runs beside any other.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use envsync_testsupport::{base_image, unique_name};
use serde_json::Value;

mod util;

use util::{envsync, Down};

/// The password `.env` gives PostgreSQL (the manifest reads `${POSTGRES_PASSWORD}`).
const PASSWORD: &str = "s3cret-from-dotenv";

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("its address").port()
}

/// Copy the example into `dir` as project `project`, publishing `ports` (PostgreSQL,
/// Redis, nginx) instead of its own, with a service of the `debug` profile added.
fn copy_example(dir: &Path, project: &str, ports: [u16; 3], base: &str) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/benefits-api");
    for sub in ["config", "app"] {
        std::fs::create_dir_all(dir.join(sub)).expect("create a directory");
        for entry in std::fs::read_dir(example.join(sub)).expect("list the example") {
            let entry = entry.expect("read the example");
            if entry.file_type().expect("a file type").is_file() {
                std::fs::copy(entry.path(), dir.join(sub).join(entry.file_name()))
                    .expect("copy the example");
            }
        }
    }
    let text = std::fs::read_to_string(example.join("envsync.toml")).expect("read the example");
    let mut text = text.replacen(
        "name = \"benefits-api\"",
        &format!("name = \"{project}\""),
        1,
    );
    for (from, to) in [15432, 16379, 18080].iter().zip(ports) {
        let from = format!("\"{from}:");
        assert!(text.contains(&from), "the example publishes {from}");
        text = text.replace(&from, &format!("\"{to}:"));
    }
    text.push_str(&format!(
        "\n[services.debugshell]\nversion = \"1\"\nimage = \"{base}\"\ncommand = [\"sleep\", \"infinity\"]\nprofiles = [\"debug\"]\n"
    ));
    std::fs::write(dir.join("envsync.toml"), text).expect("write the manifest");
    std::fs::write(dir.join(".env"), format!("POSTGRES_PASSWORD={PASSWORD}\n"))
        .expect("write .env");
}

/// `GET path` on 127.0.0.1:`port`: (status code, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// `GET /visits` through nginx, as JSON.
fn visit(port: u16) -> Value {
    let (status, body) = http_get(port, "/visits");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `sh -c script` in `container`: (exit code, stdout, stderr).
fn docker_exec(container: &str, script: &str) -> (i32, String, String) {
    let out = Command::new("docker")
        .args(["exec", container, "sh", "-c", script])
        .output()
        .expect("run docker exec");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The oracle: the rows of `visits` as psql counts them, inside the PostgreSQL container.
fn rows_in_postgres(project: &str) -> i64 {
    let (code, out, err) = docker_exec(
        &format!("envsync-{project}-postgres"),
        "psql -U benefits -d benefits -tAc 'SELECT count(*) FROM visits'",
    );
    assert_eq!(code, 0, "{err}");
    out.parse().unwrap_or_else(|_| panic!("not a count: {out}"))
}

/// The oracle: the key's value as redis-cli reads it, inside the Redis container.
fn key_in_redis(project: &str, key: &str) -> i64 {
    let (code, out, err) = docker_exec(
        &format!("envsync-{project}-redis"),
        &format!("redis-cli GET {key}"),
    );
    assert_eq!(code, 0, "{err}");
    out.parse()
        .unwrap_or_else(|_| panic!("not a number: {out}"))
}

/// Connect to PostgreSQL over the project network from the development container with
/// `url`: (exit code, stderr).
fn connect_from_dev(project: &str, url: &str) -> (i32, String) {
    let (code, _, err) = docker_exec(
        &format!("envsync-{project}-dev"),
        &format!("python3 -c 'import psycopg2; psycopg2.connect(\"{url}\").close()'"),
    );
    (code, err)
}

/// The names of the project's running containers' services.
/// The engine's clock now, as `docker events --since` takes it.
fn engine_time() -> String {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.SystemTime}}"])
        .output()
        .expect("run docker info");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The services of `project` whose containers ended since `since`, in the order the
/// engine reports their `die` events.
fn died_since(project: &str, since: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["events", "--since", since, "--until", &engine_time()])
        .args(["--filter", "type=container", "--filter", "event=die"])
        .args(["--filter", &format!("label=io.envsync.project={project}")])
        .args([
            "--format",
            "{{index .Actor.Attributes \"io.envsync.service\"}}",
        ])
        .output()
        .expect("run docker events");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn running(project: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=io.envsync.project={project}"),
            "--filter",
            "label=io.envsync.role",
            "--format",
            "{{.Label \"io.envsync.service\"}}",
        ])
        .output()
        .expect("run docker ps");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_example_stack_serves_a_request_through_nginx_and_keeps_its_data() {
    let base = base_image().await;
    let project = unique_name("stack");
    let dir = tempfile::tempdir().unwrap();
    let nginx_port = free_port();
    copy_example(
        dir.path(),
        &project,
        [free_port(), free_port(), nginx_port],
        &base,
    );
    let _down = Down(dir.path().to_path_buf(), project.clone());

    // `up SERVICE`: PostgreSQL alone (it depends on nothing).
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify", "postgres"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(running(&project), ["postgres"]);

    // Everything without a profile, in dependency order: nginx is started last, after
    // the app answered its health check.
    let (code, stdout, stderr) = envsync(dir.path(), &["up"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(running(&project), ["dev", "nginx", "postgres", "redis"]);
    let dev_healthy = stderr.find("dev: healthy").expect("dev waited for");
    let nginx_created = stderr.find("nginx: creating").expect("nginx created");
    assert!(dev_healthy < nginx_created, "{stderr}");

    // A request from the host, through nginx's published port, to the app.
    let first = visit(nginx_port);
    assert_eq!(first["app"], "benefits-api", "{first}");
    let key = first["redis_key"].as_str().expect("redis_key").to_string();
    assert_eq!(first["rows"], 1, "{first}");
    assert_eq!(first["redis_value"], 1, "{first}");
    assert_eq!(rows_in_postgres(&project), 1);
    assert_eq!(key_in_redis(&project, &key), 1);

    // `logs -f postgres` streams: a line PostgreSQL writes after the follower started
    // (a refused login) reaches it.
    let mut follow = util::envsync_command()
        .current_dir(dir.path())
        .args(["logs", "--follow", "--tail", "0", "postgres"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start envsync logs --follow");
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(follow.stdout.take().expect("stdout is piped"));
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    // PostgreSQL requires the password: a wrong one and none are refused.
    let (code, err) = connect_from_dev(
        &project,
        "postgresql://benefits:wrong-password@postgres:5432/benefits",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("password authentication failed for user \"benefits\""),
        "{err}"
    );
    let (code, err) = connect_from_dev(&project, "postgresql://benefits@postgres:5432/benefits");
    assert_ne!(code, 0);
    assert!(err.contains("no password supplied"), "{err}");
    let (code, err) = connect_from_dev(
        &project,
        &format!("postgresql://benefits:{PASSWORD}@postgres:5432/benefits"),
    );
    assert_eq!(code, 0, "{err}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| {
        l.starts_with("postgres | ") && l.contains("password authentication failed")
    }) {
        assert!(Instant::now() < deadline, "not streamed: {seen:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) {
            seen.push(line);
        }
    }
    assert!(
        follow.try_wait().expect("poll the follower").is_none(),
        "--follow keeps running"
    );
    follow.kill().expect("stop the follower");
    follow.wait().expect("reap the follower");

    // A service of a profile starts only with it, and a later `up` leaves it alone.
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify", "--profile", "debug"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(running(&project).contains(&"debugshell".to_string()));
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("debugshell"), "{stdout}");
    assert!(running(&project).contains(&"debugshell".to_string()));

    // Down and up: the row and the key survive on their volumes.
    let before_down = engine_time();
    let (code, stdout, stderr) = envsync(dir.path(), &["down"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(running(&project).is_empty());
    // The reverse of the start order, as the engine saw the containers end: nginx
    // (which waits for the app), then the app, then what the app waits for.
    let died = died_since(&project, &before_down);
    let at = |service: &str| {
        died.iter()
            .position(|s| s == service)
            .unwrap_or_else(|| panic!("no `die` of {service} among {died:?}"))
    };
    assert!(at("nginx") < at("dev"), "{died:?}");
    assert!(
        at("dev") < at("postgres") && at("dev") < at("redis"),
        "{died:?}"
    );
    let (code, stdout, stderr) = envsync(dir.path(), &["up"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(rows_in_postgres(&project), 1);
    assert_eq!(key_in_redis(&project, &key), 1);
    let second = visit(nginx_port);
    assert_eq!(second["rows"], 2, "{second}");
    assert_eq!(second["redis_value"], 2, "{second}");
    assert_eq!(rows_in_postgres(&project), 2);
    assert_eq!(key_in_redis(&project, &key), 2);
}
