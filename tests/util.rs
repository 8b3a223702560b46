//! What every end-to-end test of the `envsync` binary needs: the built binary run as a
//! user runs it, its output as text, and a snapshot's packages as comparable rows.
//! Each test file says `mod util;` (ripgrep's shape); a helper a second file needs
//! belongs here, not in a copy.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
/// (`envsync/<.1>`) however the test ends.
pub struct Down(pub PathBuf, pub String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = envsync(&self.0, &["down", "--volumes"]);
        let images = Command::new("docker")
            .args(["images", "-q", &format!("envsync/{}", self.1)])
            .output();
        if let Ok(out) = images {
            let ids = String::from_utf8_lossy(&out.stdout);
            for id in ids.split_whitespace() {
                let _ = Command::new("docker").args(["rmi", "-f", id]).output();
            }
        }
    }
}
