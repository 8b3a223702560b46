//! End-to-end tests that what a target holds cannot drive the terminal, and that `ssh://`
//! targets are host names: the built binary run on hostile saved snapshots, targets and
//! manifests in a temporary directory, its raw output bytes checked.

mod util;

use std::path::Path;
use std::process::Output;

use serde_json::json;

/// Sets the terminal title to `PWNED`.
const TITLE: &str = "\x1b]0;PWNED\x07";
/// Clears the screen.
const CLEAR: &str = "\x1b[2J";

fn envsync(dir: &Path, args: &[&str]) -> Output {
    util::envsync_command()
        .args(args)
        .current_dir(dir)
        // Should a destination ever get through, nothing is contacted.
        .env("ENVSYNC_SSH", "false")
        .output()
        .expect("the envsync binary runs")
}

/// No byte below 0x20 but `\n` and `\t`, no DEL, and no C1 or bidi control character.
fn assert_clean(what: &str, bytes: &[u8]) {
    let raw: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
        .collect();
    let text = String::from_utf8_lossy(bytes);
    assert!(raw.is_empty(), "{what} holds raw bytes {raw:x?}:\n{text}");
    let unsafe_chars: Vec<char> = text
        .chars()
        .filter(|&c| {
            ('\u{80}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect();
    assert!(
        unsafe_chars.is_empty(),
        "{what} holds raw {unsafe_chars:?}:\n{text}"
    );
}

fn package(name: &str, version: &str) -> serde_json::Value {
    json!({ "ecosystem": "deb", "name": name, "version": version })
}

fn write_snapshot(dir: &Path, file: &str, os_name: &str, packages: &[serde_json::Value]) {
    let snapshot = json!({
        "schema": "envsync.snapshot/v1",
        "target": file,
        "os": { "id": "debian", "version_id": "12", "pretty_name": os_name },
        "packages": packages,
    });
    std::fs::write(dir.join(file), snapshot.to_string()).expect("write snapshot");
}

/// a.json and b.json: a package named with the title sequence, a version with the clear
/// sequence, a C1 CSI, DEL and a right-to-left override on either side.
fn hostile_pair(dir: &Path) {
    write_snapshot(
        dir,
        "a.json",
        &format!("Debian{CLEAR}"),
        &[
            package(TITLE, "1.0"),
            package("gone\u{202e}txt", "1"),
            package("openssl", CLEAR),
        ],
    );
    write_snapshot(
        dir,
        "b.json",
        "Debian",
        &[
            package(TITLE, "2.0\u{9b}31m"),
            package("new\r\n", "\x7f"),
            package("openssl", "3.0.15"),
        ],
    );
}

#[test]
fn diff_of_hostile_snapshots_prints_no_control_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    hostile_pair(dir.path());
    for format in ["table", "markdown", "junit", "json"] {
        let out = envsync(
            dir.path(),
            &["diff", "a.json", "b.json", "--format", format],
        );
        assert_eq!(out.status.code(), Some(1), "{format}: drift");
        assert_clean(&format!("{format} stdout"), &out.stdout);
        assert_clean(&format!("{format} stderr"), &out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // What the target held is still shown, written out.
        let shown = if format == "json" {
            "\\u001b]0;PWNED\\u0007"
        } else {
            "\\u{1b}]0;PWNED\\u{7}"
        };
        assert!(stdout.contains(shown), "{format}:\n{stdout}");
        if format == "junit" {
            quick_junit::Report::deserialize_from_str(&stdout).expect("the JUnit XML parses");
        }
    }
    let out = envsync(dir.path(), &["diff", "a.json", "b.json", "a.json"]);
    assert_eq!(out.status.code(), Some(1), "fleet: drift");
    assert_clean("fleet stdout", &out.stdout);
    assert_clean("fleet stderr", &out.stderr);
}

#[test]
fn errors_quoting_a_hostile_snapshot_print_no_control_characters() {
    let dir = tempfile::tempdir().expect("temp dir");
    hostile_pair(dir.path());
    let bad = json!({ "schema": TITLE, "target": "c", "packages": [] });
    std::fs::write(dir.path().join("c.json"), bad.to_string()).expect("write snapshot");

    let out = envsync(dir.path(), &["diff", "a.json", "c.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_clean("pair stderr", &out.stderr);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has schema `\\u{1b}]0;PWNED\\u{7}`"),
        "{stderr}"
    );

    let out = envsync(dir.path(), &["diff", "a.json", "b.json", "c.json"]);
    assert_eq!(out.status.code(), Some(2), "a fleet with a failed target");
    assert_clean("fleet stdout", &out.stdout);
    assert_clean("fleet stderr", &out.stderr);

    let out = envsync(dir.path(), &["fingerprint", "b.json", "--format", "table"]);
    assert_eq!(out.status.code(), Some(0));
    assert_clean("fingerprint stdout", &out.stdout);
    assert_clean("fingerprint stderr", &out.stderr);
}

#[test]
fn ssh_targets_must_be_host_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    hostile_pair(dir.path());
    for (target, why) in [
        (
            "ssh://a$(touch x)",
            "the host `a$(touch x)` is not a host name",
        ),
        (
            "ssh://-oProxyCommand=x",
            "the host `-oProxyCommand=x` is not a host name",
        ),
        ("ssh://host:99999", "`99999` is not a port number (1-65535)"),
        ("ssh://-l@host", "the user `-l` is not a user name"),
    ] {
        for args in [
            &["fingerprint", target][..],
            &["diff", "a.json", target][..],
        ] {
            let out = envsync(dir.path(), args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("cannot understand target `{target}`: {why}")),
                "{args:?}: {stderr}"
            );
        }
    }
    assert!(!dir.path().join("x").exists(), "no shell ran the host");
}

#[test]
fn validate_refuses_targets_that_are_not_host_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = "[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\n\
                    [targets]\nprod = \"ssh://a$(touch x)\"\nstaging = \"ssh://deploy@host:99999\"\n\
                    ok = \"ssh://deploy@[::1]:2222\"\n";
    std::fs::write(dir.path().join("envsync.toml"), manifest).expect("write manifest");
    let out = envsync(dir.path(), &["validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("target `ssh://a$(touch x)` of `prod` in [targets] is not a valid ssh destination: the host `a$(touch x)` is not a host name"),
        "{stderr}"
    );
    assert!(stderr.contains("at envsync.toml:6:8;"), "{stderr}");
    assert!(
        stderr.contains("`99999` is not a port number (1-65535) at envsync.toml:7:11;"),
        "{stderr}"
    );
    assert!(!stderr.contains("`ok`"), "{stderr}");
}
