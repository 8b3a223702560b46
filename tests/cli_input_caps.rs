//! Size caps on the files envsync reads as input (issue 13, point 4): a manifest, lock
//! or snapshot over its cap is an error naming the file and the cap (exit 2), found
//! after reading at most the cap, so a file of many GiB costs neither time nor memory.

mod util;

use std::path::{Path, PathBuf};

use util::{envsync_command, run};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// A sparse file of `gib` GiB at `path`, its first bytes `head`: huge to read, free to make.
fn sparse(path: &Path, head: &[u8], gib: u64) {
    std::fs::write(path, head).expect("write");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    file.set_len(gib << 30).expect("set_len");
}

/// Run envsync in `dir` with its address space limited to 1 GiB (`ulimit -v`, in KiB),
/// so reading any of the multi-GiB inputs whole would fail with an allocation abort
/// (exit 134), not exit 2.
fn envsync_in_1gib(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = envsync_command();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(bin.get_program())
        .args(args)
        .current_dir(dir);
    for (k, v) in bin.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    run(&mut cmd)
}

#[test]
fn a_manifest_over_the_cap_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    sparse(&dir.join("huge.toml"), b"[project]\nname = \"x\"\n", 8);
    let (code, stdout, stderr) = envsync_in_1gib(dir, &["validate", "--manifest", "huge.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("huge.toml") && stderr.contains("larger than 4 MiB"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");

    // Just under the cap is read (and judged on its content: this one is valid TOML
    // padded with a comment).
    let mut text = b"[project]\nname = \"x\"\n\n[base]\nimage = \"debian:bookworm\"\n#".to_vec();
    text.resize(4 * 1024 * 1024, b'x');
    std::fs::write(dir.join("envsync.toml"), &text).expect("write");
    let (code, _, stderr) = envsync_in_1gib(dir, &["validate"]);
    assert_eq!(code, 0, "{stderr}");
    text.push(b'\n');
    std::fs::write(dir.join("envsync.toml"), &text).expect("write");
    let (code, _, stderr) = envsync_in_1gib(dir, &["validate"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("envsync.toml"), "{stderr}");
}

#[test]
fn a_lock_over_the_cap_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    for f in ["envsync.toml", "dev.json"] {
        std::fs::copy(golden(f), dir.join(f)).expect("copy");
    }
    let lock = std::fs::read(golden("envsync.lock")).expect("lock");
    sparse(&dir.join("envsync.lock"), &lock, 8);
    for args in [
        &["diff", "lock", "dev.json"][..],
        &["check", "--target", "dev.json"][..],
    ] {
        let (code, _, stderr) = envsync_in_1gib(dir, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("envsync.lock") && stderr.contains("larger than 32 MiB"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_snapshot_over_the_cap_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::copy(golden("prod.json"), dir.join("prod.json")).expect("copy");
    sparse(&dir.join("huge.json"), b"{\"schema\": ", 8);
    let (code, _, stderr) = envsync_in_1gib(dir, &["diff", "prod.json", "huge.json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("huge.json"), "{stderr}");
}
