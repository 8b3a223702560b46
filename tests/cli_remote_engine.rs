//! End-to-end tests of envsync against engines that are not the local socket: a second
//! dockerd on 127.0.0.1 that only talks TLS with a client certificate its CA signed
//! (`DOCKER_HOST=tcp://…`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), reached directly
//! and through a `docker context`; `up`, `status` and `down` run on it, and a client
//! certificate from another CA is a TLS error, exit 2.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use envsync_testsupport::remote::{Pki, TlsEngine};
use envsync_testsupport::{base_image, unique_name};

mod util;

use util::run;

/// envsync with the environment pointing at `engine` through `cert_dir`, and a docker
/// configuration directory of its own so the user's is never read.
fn envsync_tls(
    dir: &Path,
    engine: &TlsEngine,
    cert_dir: &Path,
    args: &[&str],
) -> (i32, String, String) {
    run(util::envsync_command()
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", &engine.host)
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", cert_dir)
        .env("DOCKER_CONFIG", dir.join(".docker")))
}

fn containers(engine: &TlsEngine, project: &str) -> String {
    util::stdout_of(
        engine
            .docker()
            .args(["ps", "--format", "{{.Names}} {{.Status}}"])
            .args(["--filter", &format!("name=envsync-{project}-")]),
    )
}

#[tokio::test]
async fn up_status_and_down_run_on_a_tls_engine() {
    let base = base_image().await;
    let pki = Pki::generate().expect("generate certificates");
    let engine = TlsEngine::start(&pki).expect("start the TLS engine");
    engine.load_from_main(&base).expect("load the base image");

    let project = unique_name("tlsengine");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n\n\
             [services.ticker]\nimage = \"{base}\"\nversion = \"1\"\n\
             command = [\"sleep\", \"infinity\"]\n"
        ),
    )
    .unwrap();
    let client = pki.client_dir();

    let (code, stdout, stderr) = envsync_tls(
        dir.path(),
        &engine,
        &client,
        &["engine", "--format", "json"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["host"], engine.host.as_str());

    let (code, stdout, stderr) = envsync_tls(dir.path(), &engine, &client, &["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The oracle is the docker CLI on that engine: both containers run there, not on
    // the main engine.
    let running = containers(&engine, &project);
    assert!(
        running.contains(&format!("envsync-{project}-dev Up")),
        "{running}"
    );
    assert!(
        running.contains(&format!("envsync-{project}-ticker Up")),
        "{running}"
    );
    let main = Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("name=envsync-{project}-")])
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert!(main.stdout.is_empty(), "nothing runs on the main engine");

    let (code, stdout, stderr) = envsync_tls(dir.path(), &engine, &client, &["status"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ticker") && stdout.contains("running"),
        "{stdout}"
    );

    // A client certificate from another CA: the engine refuses the handshake.
    let (code, stdout, stderr) =
        envsync_tls(dir.path(), &engine, &pki.wrong_client_dir(), &["status"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "TLS failure talking to the Docker engine at `{}`",
            engine.host
        )),
        "{stderr}"
    );

    // The same engine through a docker context, as `docker context create` makes it.
    let config = dir.path().join(".docker");
    let made = Command::new("docker")
        .env("DOCKER_CONFIG", &config)
        .env_remove("DOCKER_HOST")
        .args(["context", "create", "tls-test", "--docker"])
        .arg(format!(
            "host={},ca={},cert={},key={}",
            engine.host,
            client.join("ca.pem").display(),
            client.join("cert.pem").display(),
            client.join("key.pem").display()
        ))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (code, stdout, stderr) = run(util::envsync_command()
        .args(["status"])
        .current_dir(dir.path())
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", &config)
        .env("DOCKER_CONTEXT", "tls-test"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ticker") && stdout.contains("running"),
        "{stdout}"
    );

    let (code, stdout, stderr) = envsync_tls(dir.path(), &engine, &client, &["down"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(containers(&engine, &project), "");
}

#[tokio::test]
async fn no_engine_and_a_bad_address_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no.sock");
    for (host, expected) in [
        (
            format!("unix://{}", missing.display()),
            format!(
                "no Docker engine at `unix://{}` (from DOCKER_HOST)",
                missing.display()
            ),
        ),
        (
            "ssh://deploy@127.0.0.1:notaport".to_string(),
            "cannot use engine address `ssh://deploy@127.0.0.1:notaport`: the port is not a number"
                .to_string(),
        ),
    ] {
        let (code, stdout, stderr) = run(util::envsync_command()
            .args(["engine"])
            .current_dir(dir.path())
            .env("DOCKER_HOST", &host));
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(stderr.contains(&expected), "{stderr}");
    }
}

/// An `ssh://user@host:port` engine: an sshd container with the main engine's socket and
/// the host's docker CLI mounted, reached with the test's ssh configuration
/// (`ENVSYNC_SSH_CONFIG`), which names the key but not the port: the port comes from
/// DOCKER_HOST. envsync runs `docker system dial-stdio` over it, as the docker CLI does.
#[tokio::test(flavor = "multi_thread")]
async fn up_status_and_down_run_on_an_ssh_engine() {
    let base = base_image().await;
    let binds = [
        "/var/run/docker.sock:/var/run/docker.sock".to_string(),
        "/usr/bin/docker:/usr/local/bin/docker:ro".to_string(),
    ];
    let (sshd, keys, _) = util::sshd("ssh-engine", &binds).await;
    let port = util::published_port(sshd.name()).await;
    let config = keys.path().join("engine_ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host 127.0.0.1\n  IdentityFile {}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            keys.path().join("id_ed25519").display()
        ),
    )
    .unwrap();
    let host = format!("ssh://root@127.0.0.1:{port}");
    let project = unique_name("sshengine");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n\n\
             [services.ticker]\nimage = \"{base}\"\nversion = \"1\"\n\
             command = [\"sleep\", \"infinity\"]\nstop_grace = \"1s\"\n\n\
             [dev]\nstop_grace = \"1s\"\n"
        ),
    )
    .unwrap();
    // A short grace: `sleep` as PID 1 ignores SIGTERM, so each stop waits it out, and
    // once a stop request that waited its full 10 s over ssh got no answer until the
    // 120 s request timeout in CI (cause not found yet).
    // ssh through a wrapper that counts the connections each command opens.
    let connections = dir.path().join("connections");
    let counting_ssh = dir.path().join("counting-ssh");
    std::fs::write(
        &counting_ssh,
        format!(
            "#!/bin/sh\necho >> '{}'\nexec ssh \"$@\"\n",
            connections.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&counting_ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let opened = || {
        let count = std::fs::read_to_string(&connections)
            .map(|text| text.lines().count())
            .unwrap_or(0);
        let _ = std::fs::remove_file(&connections);
        count
    };
    let ssh_envsync = |args: &[&str]| {
        run(util::envsync_command()
            .args(args)
            .current_dir(dir.path())
            .env("DOCKER_HOST", &host)
            .env("ENVSYNC_SSH", &counting_ssh)
            .env("ENVSYNC_SSH_CONFIG", &config)
            .env("DOCKER_CONFIG", dir.path().join(".docker")))
    };
    let _down = util::Down(dir.path().to_path_buf(), project.clone());

    let (code, stdout, stderr) = ssh_envsync(&["engine", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["host"], host.as_str());

    let (code, stdout, stderr) = ssh_envsync(&["up", "--no-verify"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let running = Command::new("docker")
        .args(["ps", "--format", "{{.Names}}", "--filter"])
        .arg(format!("name=envsync-{project}-"))
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    let running = String::from_utf8_lossy(&running.stdout);
    assert!(
        running.contains(&format!("envsync-{project}-ticker")),
        "{running}"
    );
    // Connections are reused: without reuse, one per request (23, 4 and 8 here).
    let up_connections = opened();
    assert!(
        up_connections <= 10,
        "up opened {up_connections} ssh connections"
    );
    let (code, stdout, stderr) = ssh_envsync(&["status"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ticker") && stdout.contains("running"),
        "{stdout}"
    );
    let status_connections = opened();
    assert!(
        status_connections <= 2,
        "status opened {status_connections} ssh connections"
    );
    // An exec's attached stream takes its connection over; the requests after it (the
    // exit code) still get an answer.
    let (code, stdout, stderr) =
        ssh_envsync(&["exec", "-T", "--", "sh", "-c", "echo over-ssh; exit 3"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "over-ssh", "{stderr}");
    // Its input reaches the command, and the input's end ends `cat`.
    let mut cmd = util::envsync_command();
    cmd.args(["exec", "-T", "--", "sh", "-c", "cat; exit 4"])
        .current_dir(dir.path())
        .env("DOCKER_HOST", &host)
        .env("ENVSYNC_SSH", &counting_ssh)
        .env("ENVSYNC_SSH_CONFIG", &config)
        .env("DOCKER_CONFIG", dir.path().join(".docker"));
    let (code, stdout, stderr) = util::run_with_stdin(&mut cmd, b"typed over ssh\n");
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert_eq!(stdout, "typed over ssh\n", "{stderr}");
    opened();
    let (code, stdout, stderr) = ssh_envsync(&["down"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let down_connections = opened();
    assert!(
        down_connections <= 3,
        "down opened {down_connections} ssh connections"
    );

    // Nothing listens on port 1: ssh's own words name the failure, exit 2.
    let (code, stdout, stderr) = run(util::envsync_command()
        .args(["engine"])
        .env("DOCKER_HOST", "ssh://root@127.0.0.1:1")
        .env("ENVSYNC_SSH_CONFIG", &config));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("`ssh://root@127.0.0.1:1`")
            && stderr.contains("port 1: Connection refused"),
        "{stderr}"
    );
}
