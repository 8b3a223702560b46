//! End-to-end test that a service's volume and port settings reach the engine, seen from
//! where they take effect: a `:ro` volume refuses a write made inside the container (and
//! becomes writable, by recreating the container, when `:ro` is dropped), and a port
//! published as `127.0.0.2:PORT:CONTAINER` is bound on 127.0.0.2, both in the container's
//! port bindings and for a client connecting there.
//!
//! The service runs the Debian base image itself with a small Perl server, so nothing is
//! built but the development image's labels.

use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use envsync_testsupport::{base_image, unique_name};

mod util;

use util::{envsync, Down};

/// What the service's server sends to every client.
const GREETING: &str = "envsync-port-ok";

/// The address the test publishes on: loopback, but not the default one.
const HOST_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn manifest(project: &str, base: &str, port: u16, data_volume: &str) -> String {
    // The server listens on the container's own address (the engine forwards there),
    // and greets each client.
    format!(
        r#"[project]
name = "{project}"

[base]
image = "{base}"

[services.web]
version = "12"
image = "{base}"
ports = ["{HOST_IP}:{port}:8080"]
volumes = ["{data_volume}", "scratch:/scratch"]
command = '''exec perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!"; while ($c = $s->accept) {{ print $c "{GREETING}\n"; close $c }}' "$(hostname -i)"'''
"#
    )
}

/// `sh -c script` as root in `container`: (success, stderr).
fn docker_exec(container: &str, script: &str) -> (bool, String) {
    let out = Command::new("docker")
        .args(["exec", "-u", "0", container, "sh", "-c", script])
        .output()
        .expect("run docker exec");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn inspect(container: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["inspect", container])
        .output()
        .expect("run docker inspect");
    assert!(out.status.success(), "docker inspect {container} failed");
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    all[0].clone()
}

/// Whether the mount at `target` is writable, as the engine reports it.
fn mount_rw(container: &str, target: &str) -> bool {
    let info = inspect(container);
    let mounts = info["Mounts"].as_array().expect("Mounts");
    let mount = mounts
        .iter()
        .find(|m| m["Destination"] == target)
        .unwrap_or_else(|| panic!("no mount at {target} in {mounts:?}"));
    mount["RW"].as_bool().expect("RW")
}

/// A port nothing listens on at `HOST_IP` right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind((HOST_IP, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Connect to `HOST_IP:port` until the server greets, or fail after the deadline.
fn greeting(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&(HOST_IP, port).into(), Duration::from_secs(2)) {
            Ok(mut stream) => {
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("set a read timeout");
                let mut text = String::new();
                match stream.read_to_string(&mut text) {
                    // The engine's proxy accepts before the server listens and then
                    // closes without a byte: try again.
                    Ok(_) if text.trim() == GREETING => return text.trim().to_string(),
                    Ok(_) => last = format!("read `{text}`"),
                    Err(err) => last = format!("read failed: {err}"),
                }
            }
            Err(err) => last = format!("connect failed: {err}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no greeting from {HOST_IP}:{port} within 30s; last: {last}");
}

fn up(dir: &Path) {
    let (code, stdout, stderr) = envsync(dir, &["up", "--no-verify"]);
    assert_eq!(code, 0, "envsync up failed:\n{stdout}\n{stderr}");
}

#[tokio::test]
async fn volume_and_port_settings_reach_the_engine() {
    let base = base_image().await;
    let project = unique_name("upsettings");
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = dir.path().join("envsync.toml");
    let port = free_port();
    std::fs::write(
        &manifest_path,
        manifest(&project, &base, port, "data:/data:ro"),
    )
    .unwrap();
    let _down = Down(dir.path().to_path_buf(), project.clone());
    let web = format!("envsync-{project}-web");

    let (code, stdout, stderr) = envsync(dir.path(), &["validate"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    up(dir.path());

    // `:ro` is read-only inside the container; the other volume is writable.
    let (ok, stderr) = docker_exec(&web, "touch /data/written");
    assert!(!ok, "a write to the `:ro` volume succeeded");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!mount_rw(&web, "/data"));
    let (ok, stderr) = docker_exec(&web, "touch /scratch/written");
    assert!(ok, "a write to the read-write volume failed: {stderr}");
    assert!(mount_rw(&web, "/scratch"));

    // The port is bound where the manifest says, and a client reaches the server there.
    let bindings = &inspect(&web)["HostConfig"]["PortBindings"]["8080/tcp"];
    assert_eq!(
        bindings,
        &serde_json::json!([{ "HostIp": HOST_IP.to_string(), "HostPort": port.to_string() }])
    );
    assert_eq!(greeting(port), GREETING);
    let (code, stdout, _) = envsync(dir.path(), &["status"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("{HOST_IP}:{port}->8080")),
        "{stdout}"
    );

    // Dropping `:ro` changes the container's configuration: `up` recreates it, and the
    // volume is writable.
    std::fs::write(
        &manifest_path,
        manifest(&project, &base, port, "data:/data"),
    )
    .unwrap();
    let (code, stdout, stderr) = envsync(dir.path(), &["up", "--check"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("volume /data changed"), "{stdout}");
    up(dir.path());
    let (ok, stderr) = docker_exec(&web, "touch /data/written");
    assert!(ok, "a write to the volume without `:ro` failed: {stderr}");
}
