//! What every end-to-end test of the `envsync` binary needs: the built binary run as a
//! user runs it, its output as text, and a snapshot's packages as comparable rows.
//! Each test file says `mod util;` (ripgrep's shape); a helper a second file needs
//! belongs here, not in a copy.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bollard::models::{HostConfig, PortBinding};
use envsync_testsupport::{docker, fixture_image, fixture_image_with_args, TestContainer};

use serde_json::Value;

/// `(ecosystem, name, version, arch, location)` of one snapshot or lock entry.
pub type Row = (String, String, String, Option<String>, Option<String>);

/// The hash key every test run of envsync uses (`ENVSYNC_HASH_KEY`), so that no test
/// creates a key file in the user's configuration directory.
pub const TEST_HASH_KEY: &str = "envsync-test-hash-key-0123456789";

/// The built binary as a command. NO_COLOR keeps tables plain even on a terminal.
pub fn envsync_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_envsync"));
    cmd.env("NO_COLOR", "1")
        .env("ENVSYNC_HASH_KEY", TEST_HASH_KEY);
    cmd
}

/// The keyed hash envsync records for content whose plain sha256 is `sha256_hex`,
/// computed by Python's `hmac` (the oracle): `hmac-sha256:` HMAC-SHA256 keyed with
/// [`TEST_HASH_KEY`] over the 32-byte digest.
pub fn keyed_hash(sha256_hex: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), bytes.fromhex(sys.argv[2]), hashlib.sha256).hexdigest())",
            TEST_HASH_KEY,
            sha256_hex.trim(),
        ])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "hmac-sha256:{}",
        String::from_utf8_lossy(&out.stdout).trim()
    )
}

/// Run envsync in `dir` with `args` and return everything it wrote and its status.
pub fn envsync_output(dir: &Path, args: &[&str]) -> Output {
    envsync_command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run envsync")
}

/// Run envsync in `dir` with `args`: see [`run`].
pub fn envsync(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(envsync_command().args(args).current_dir(dir))
}

/// Run `cmd` and return its exit code (-1 when a signal ended it), standard output and
/// standard error. Both are echoed to the test's own standard error, so a failing test
/// shows the whole session.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run envsync");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!("$ envsync {}\n{stdout}{stderr}", args.join(" "));
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// `cmd`'s standard output, failing the test (with its stderr) when it fails.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker` with `args`; its standard output, failing the test when it fails.
pub fn docker_out(args: &[&str]) -> String {
    stdout_of(Command::new("docker").args(args))
}

/// Like [`run`], with `input` as the command's standard input.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run envsync");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input).expect("write the input");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for envsync");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    eprintln!("$ envsync (input {} bytes)\n{stdout}{stderr}", input.len());
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Output bytes as text; envsync writes UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

/// The exit code of a run that was not ended by a signal.
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// The packages of a snapshot (`envsync fingerprint --format json`) as rows, in order.
pub fn snapshot_rows(snapshot: &Value) -> Vec<Row> {
    let field = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    snapshot["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                field(p, "ecosystem").expect("ecosystem"),
                field(p, "name").expect("name"),
                field(p, "version").expect("version"),
                field(p, "arch"),
                field(p, "location"),
            )
        })
        .collect()
}

/// Takes the project in directory `.0` down (volumes too) and removes its images
/// (`envsync/<.1>`, and every image labelled as built for project `.1`, its services'
/// included) however the test ends.
pub struct Down(pub PathBuf, pub String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = envsync(&self.0, &["down", "--volumes"]);
        for ids in [project_images(&self.1), repository_images(&self.1)] {
            for id in ids {
                let _ = Command::new("docker").args(["rmi", "-f", &id]).output();
            }
        }
    }
}

/// The IDs of the images envsync built for `project` (its `io.envsync.project` label).
pub fn project_images(project: &str) -> Vec<String> {
    docker_ids(&[
        "images",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=io.envsync.project={project}"),
    ])
}

fn repository_images(project: &str) -> Vec<String> {
    docker_ids(&["images", "-q", &format!("envsync/{project}")])
}

fn docker_ids(args: &[&str]) -> Vec<String> {
    match Command::new("docker").args(args).output() {
        Ok(out) => {
            let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            ids.dedup();
            ids
        }
        Err(_) => Vec::new(),
    }
}

/// A detached tmux session on a server of its own (`tmux -L NAME`), running one command
/// on a terminal as a person would: keys are typed into its pane and the screen is read
/// back. The server is killed when dropped.
pub struct Tmux {
    socket: String,
    /// Where the wrapper writes the command's exit status when it ends.
    status: tempfile::TempPath,
}

impl Tmux {
    /// Start `argv` in directory `dir` with the variables `env` added to the
    /// environment, in a new 200×50 session on a server named after `name`.
    ///
    /// A `sh` between the pane and the command only writes the command's exit status
    /// to a file when it ends (the command stays in the terminal's foreground process
    /// group): tmux's own `pane_dead_status` needs tmux to reap its child, and under
    /// load tmux 3.3 was seen leaving it a zombie for over 30 s, its pane dead but
    /// with no status.
    pub fn start(name: &str, dir: &Path, env: &[(&str, &str)], argv: &[&str]) -> Tmux {
        let status = tempfile::NamedTempFile::new()
            .expect("create the status file")
            .into_temp_path();
        let tmux = Tmux {
            socket: format!("envsync-test-{name}"),
            status,
        };
        let mut cmd = tmux.command();
        // The pane stays after its command ends, so its last screen and exit status can
        // be read: set before the session (and its command) starts.
        cmd.args([
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
        ])
        .args([
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "200",
            "-y",
            "50",
            "-c",
        ])
        .arg(dir);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        let status = cmd
            .args([
                "sh",
                "-c",
                r#"f=$1; shift; "$@"; s=$?; echo "$s" > "$f.new"; mv "$f.new" "$f""#,
            ])
            .arg("tmux-status")
            .arg(&*tmux.status)
            .args(argv)
            .status()
            .expect("run tmux (scripts/test-tools.sh installs it)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }

    /// Type `keys` (tmux key names, such as `C-c` or `Enter`, or literal text with `-l`).
    pub fn send_keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .args(["send-keys", "-t", "main"])
            .args(keys)
            .status()
            .expect("run tmux send-keys");
        assert!(status.success(), "tmux send-keys {keys:?} failed");
    }

    /// The pane's screen and scrollback as text.
    pub fn screen(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-J", "-S", "-200", "-t", "main"])
            .output()
            .expect("run tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen satisfies `found`, or fail the test showing it.
    pub fn wait_for(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if found(&screen) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited 60 s for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The exit status of the pane's command once it has ended, `None` while it runs.
    pub fn exit_status(&self) -> Option<i32> {
        std::fs::read_to_string(&self.status)
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// The host port Docker published for port 22 of container `name`.
pub async fn published_port(name: &str) -> u16 {
    let docker = docker().await;
    let info = docker.inspect_container(name, None).await.expect("inspect");
    let ports = info.network_settings.and_then(|n| n.ports).expect("ports");
    let binding = ports
        .get("22/tcp")
        .cloned()
        .flatten()
        .expect("22/tcp published");
    binding[0]
        .host_port
        .as_deref()
        .expect("host port")
        .parse()
        .expect("port number")
}

/// A container of the `inventory-ssh` fixture running sshd (port published on
/// 127.0.0.1) with `binds` mounted, the temp dir holding the test's key, and an ssh
/// config naming it `fixture`; returned once a real login works.
pub async fn sshd(
    prefix: &str,
    binds: &[String],
) -> (TestContainer, tempfile::TempDir, std::path::PathBuf) {
    let base = fixture_image("inventory").await;
    let image = fixture_image_with_args("inventory-ssh", &[("BASE", &base)]).await;
    let host_config = HostConfig {
        port_bindings: Some(HashMap::from([(
            "22/tcp".to_string(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some("0".into()),
            }]),
        )])),
        binds: (!binds.is_empty()).then(|| binds.to_vec()),
        ..Default::default()
    };
    let c = TestContainer::run_with(&image, prefix, &[], host_config).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("id_ed25519");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let public = std::fs::read_to_string(dir.path().join("id_ed25519.pub")).expect("pub key");
    c.sh(&format!(
        "printf '%s\\n' '{}' > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
        public.trim()
    ))
    .await;
    let port = published_port(c.name()).await;
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host fixture\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            key.display()
        ),
    )
    .expect("ssh config");

    // Readiness: poll the server with a real login until it answers, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new("ssh")
            .args(["-F"])
            .arg(&config)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=5",
                "fixture",
                "true",
            ])
            .output()
            .expect("ssh")
            .status
            .success();
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sshd in `{}` did not accept the key in time",
            c.name()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    (c, dir, config)
}

/// Headless Chromium with a deadline: `timeout` ends it if it hangs.
pub fn chromium(args: &[&str], profile: &Path) -> Output {
    Command::new("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("run chromium (scripts/test-tools.sh installs it)")
}

/// Open `url` in headless Chromium, check the DOM it built is a whole page, and return
/// that DOM (as `--dump-dom` serialises it).
pub fn chromium_dom(url: &str, profile: &Path) -> String {
    let out = chromium(&["--dump-dom", url], profile);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

/// A screenshot of `url` by headless Chromium, kept as `name` under the test target
/// directory for a person to look at; checked to be a PNG of some substance.
pub fn screenshot(url: &str, name: &str, profile: &Path) {
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
            url,
        ],
        profile,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
