//! End-to-end test of `envsync fingerprint local:/path` run by a user who cannot read
//! everything in the tree: each unreadable file and directory is a warning naming it,
//! and the snapshot says it is incomplete.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod util;

use util::{run, snapshot_rows};

fn write(root: &Path, path: &str, data: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The binary as an unprivileged user: `nobody` through `setpriv` when the test runs as
/// root (who reads everything whatever the mode), else the test's own user.
fn unprivileged_envsync() -> Command {
    let uid = Command::new("id").arg("-u").output().expect("id runs");
    let mut cmd = if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_envsync"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_envsync"))
    };
    cmd.env("NO_COLOR", "1");
    cmd
}

#[test]
fn unreadable_files_in_a_root_are_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    chmod(root, 0o755);
    write(root, "etc/os-release", "ID=debian\n");
    write(
        root,
        "var/lib/dpkg/status",
        "Package: x\nStatus: install ok installed\nVersion: 1\n",
    );
    write(
        root,
        "srv/app/node_modules/a/package.json",
        r#"{"name":"a","version":"1.0.0"}"#,
    );
    write(
        root,
        "srv/app/node_modules/b/package.json",
        r#"{"name":"b","version":"2.0.0"}"#,
    );
    write(
        root,
        "srv/app/node_modules/c/package.json",
        r#"{"name":"c","version":"3.0.0"}"#,
    );
    for dir in [
        "etc",
        "var",
        "var/lib",
        "var/lib/dpkg",
        "srv",
        "srv/app",
        "srv/app/node_modules",
    ] {
        chmod(&root.join(dir), 0o755);
    }
    chmod(&root.join("var/lib/dpkg/status"), 0o600);
    chmod(&root.join("srv/app/node_modules/b"), 0o700);
    chmod(&root.join("srv/app/node_modules/c/package.json"), 0o600);
    let target = format!("local:{}", root.display());
    let (code, stdout, stderr) =
        run(unprivileged_envsync().args(["fingerprint", &target, "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let snap: Value = serde_json::from_str(&stdout).expect("snapshot JSON");
    assert_eq!(snap["complete"], false, "{snap}");
    let warnings = snap["warnings"].to_string();
    for path in [
        "/var/lib/dpkg/status",
        "/srv/app/node_modules/b",
        "/srv/app/node_modules/c/package.json",
    ] {
        assert!(
            warnings.contains(path),
            "no warning names `{path}`: {warnings}"
        );
    }
    let rows = snapshot_rows(&snap);
    let npm: Vec<&str> = rows
        .iter()
        .filter(|r| r.0 == "npm")
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(npm, ["a"]);
    assert!(rows.iter().all(|r| r.0 != "deb"), "{rows:?}");
}
