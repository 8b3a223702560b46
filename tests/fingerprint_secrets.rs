//! End-to-end tests of how `envsync fingerprint` keeps secrets: environment values and
//! file contents appear only as keyed hashes (never the plain sha256 that reverses
//! offline), only named variables are recorded, the default key file is private, and
//! snapshots hashed with different keys are refused, not reported as drift.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

mod util;

use serde_json::Value;
use util::{envsync_command, run};

const SECRET: &str = "hunter2secret";
const FILE_SECRET: &str = "password=hunter2secret\n";

/// The plain sha256 of `data` as `sha256sum` (the oracle) prints it.
fn plain_sha256(data: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha256sum", "sh", data])
        .output()
        .expect("run sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum prints a digest")
        .to_string()
}

/// envsync with a clean key setup: the key from `key` (or the default file under
/// `config`), and `SECRET_TOKEN` in its environment.
fn envsync_with(config: &Path, key: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = envsync_command();
    cmd.env_remove("ENVSYNC_HASH_KEY")
        .env_remove("ENVSYNC_HASH_KEY_FILE")
        .env("XDG_CONFIG_HOME", config)
        .env("SECRET_TOKEN", SECRET)
        .args(args);
    if let Some(k) = key {
        cmd.env("ENVSYNC_HASH_KEY", k);
    }
    run(&mut cmd)
}

#[test]
fn no_output_holds_the_plain_sha256_of_a_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_file = dir.path().join("settings.ini");
    std::fs::write(&secret_file, FILE_SECRET).expect("write");
    let file_arg = secret_file.display().to_string();
    let config = dir.path().join("config");
    let forbidden = [plain_sha256(SECRET), plain_sha256(FILE_SECRET)];
    let mut outputs = Vec::new();
    for format in ["json", "table"] {
        let args = [
            "fingerprint",
            "local",
            "--env",
            "SECRET_TOKEN",
            "--file",
            &file_arg,
            "--format",
            format,
        ];
        let (code, stdout, stderr) = envsync_with(&config, None, &args);
        assert_eq!(code, 0, "{stderr}");
        outputs.push(stdout + &stderr);
    }
    for out in &outputs {
        for hex in &forbidden {
            // Any 12 hex digits would identify a guessed secret.
            assert!(!out.contains(&hex[..12]), "plain hash {hex} in:\n{out}");
        }
        assert!(!out.contains(SECRET), "the value itself in:\n{out}");
    }
    let snapshot: Value = serde_json::from_str(&outputs[0]).expect("json");
    let env: Vec<&Value> = snapshot["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["ecosystem"] == "env")
        .collect();
    assert_eq!(env.len(), 1, "only the named variable: {env:?}");
    assert_eq!(env[0]["name"], "SECRET_TOKEN");
    assert!(env[0]["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("hmac-sha256:")));
    let key_id = snapshot["hash_key"].as_str().expect("hash_key recorded");
    assert!(key_id.starts_with("k1:"), "{key_id}");

    // The per-user default key was created private, and its id is the one recorded.
    let key_file = config.join("envsync/hash.key");
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let key_text = std::fs::read_to_string(&key_file).expect("read key");
    assert!(
        !outputs[0].contains(key_text.trim()),
        "the key itself is in the output"
    );
}

#[test]
fn snapshots_with_different_keys_are_refused_and_one_key_compares() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .expect("write");
    std::fs::write(root.join("etc/app.ini"), FILE_SECRET).expect("write");
    let target = format!("local:{}", root.display());
    let collect = |key: &str, out: &str| {
        let out = dir.path().join(out).display().to_string();
        let args = ["fingerprint", &target, "--file", "/etc/app.ini", "-o", &out];
        let (code, _, stderr) = envsync_with(&config, Some(key), &args);
        assert_eq!(code, 0, "{stderr}");
        out
    };
    let a1 = collect("team-key-one-0123456789", "a1.json");
    let a2 = collect("team-key-one-0123456789", "a2.json");
    let b = collect("team-key-two-0123456789", "b.json");

    let (code, stdout, stderr) = envsync_with(&config, None, &["diff", &a1, &b]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("hashed with key"), "{stderr}");
    assert!(
        !stdout.contains("changed"),
        "no drift is reported: {stdout}"
    );

    let (code, stdout, stderr) = envsync_with(&config, None, &["diff", &a1, &a2]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// What was seen: `diff local local:/` reported 30 environment variables "missing",
/// because `local` recorded every variable of the process.
#[test]
fn local_records_no_unnamed_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, stdout, stderr) = envsync_with(
        &dir.path().join("config"),
        None,
        &["fingerprint", "local", "--format", "json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let snapshot: Value = serde_json::from_str(&stdout).expect("json");
    let env: Vec<&Value> = snapshot["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["ecosystem"] == "env")
        .collect();
    assert!(env.is_empty(), "{env:?}");
}
