//! Oracle test: the canonical lock is TOML as Python's `tomllib` reads it, with every
//! string (quotes, backslashes, control characters, non-ASCII) coming back unchanged.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use envsync_manifest::{Ecosystem, Lock, LockedBase, LockedComponent};

const TOMLLIB: &str =
    "import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))";

#[test]
fn canonical_lock_reads_back_in_python_tomllib() {
    let names = [
        "openssl",
        "quote\"d",
        "back\\slash",
        "tab\there",
        "new\nline",
        "bell\u{7}",
        "del\u{7f}",
        "c1\u{85}",
        "ünïcödé-名前",
        "@scope/pkg",
        "",
    ];
    let components: Vec<LockedComponent> = names
        .iter()
        .enumerate()
        .map(|(i, name)| LockedComponent {
            ecosystem: Ecosystem::ALL[i % Ecosystem::ALL.len()],
            name: name.to_string(),
            version: format!("1.{i}\u{0}x"),
            arch: (i % 2 == 0).then(|| "amd64".to_string()),
            location: (i % 3 == 0).then(|| format!("/opt/v{i}")),
            checksum: None,
            file: (i % 4 == 0).then(|| format!("pool/{name}.deb")),
            declared: i % 2 == 1,
            line: 0,
        })
        .collect();
    let lock = Lock::new(
        "0f".repeat(32),
        LockedBase {
            image: "debian:bookworm".into(),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
        },
        components,
    );
    let text = lock.to_string_canonical();

    let mut child = Command::new("python3")
        .args(["-c", TOMLLIB])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (3.11 or later, for tomllib) runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("write the lock to python3");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "tomllib rejected the lock:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["schema"], "envsync.lock/v2");
    assert_eq!(json["base"]["image"], "debian:bookworm");
    let read = json["components"].as_array().expect("components");
    assert_eq!(read.len(), lock.components.len());
    for (py, c) in read.iter().zip(&lock.components) {
        assert_eq!(py["ecosystem"], c.ecosystem.as_str());
        assert_eq!(py["name"], c.name.as_str());
        assert_eq!(py["version"], c.version.as_str());
        assert_eq!(py.get("arch").and_then(|a| a.as_str()), c.arch.as_deref());
        assert_eq!(
            py.get("location").and_then(|a| a.as_str()),
            c.location.as_deref()
        );
        assert_eq!(py.get("file").and_then(|a| a.as_str()), c.file.as_deref());
        assert_eq!(
            py.get("declared")
                .and_then(|d| d.as_bool())
                .unwrap_or(false),
            c.declared
        );
    }
    // And envsync reads back what it wrote, byte for byte.
    let again = Lock::parse(&text, Path::new("envsync.lock")).expect("parses");
    assert_eq!(again.to_string_canonical(), text);
}
