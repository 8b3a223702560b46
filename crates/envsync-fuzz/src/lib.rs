//! The fuzz targets: one function per parser that reads bytes a target, a repository or
//! a user hands envsync, each taking arbitrary bytes and driving them through the same
//! entry point the program uses (a metadata file goes through [`inventory`], the way a
//! collection reads it). A target passes an input when it returns: errors are expected,
//! panics are bugs.
//!
//! `just fuzz` (scripts/fuzz.sh) drives these with libFuzzer from `fuzz/`; the test
//! `tests/regressions.rs` replays every input under `fuzz/regressions/<target>/` and
//! `fuzz/seeds/<target>/` on each `cargo test`, so a crash once found stays fixed.

use std::path::Path;

use envsync_drift::collect::script::{parse_output, Run, HEADER};
use envsync_drift::collect::tarball::{read_tar, Budget};
use envsync_drift::collect::{inventory, CollectOptions, FileSet, Hashing, Selector};
use envsync_drift::probe::parse_version;
use envsync_drift::snapshot::Snapshot;
use envsync_manifest::middleware::ServiceKind;
use envsync_manifest::policy::Date;
use envsync_manifest::{Lock, Manifest};

/// A fuzz target: arbitrary bytes in, nothing out; it must not panic or hang.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz/fuzz_targets/*.rs` and of the corpus dirs).
pub const TARGETS: &[(&str, Target)] = &[
    ("manifest", manifest),
    ("lock", lock),
    ("snapshot", snapshot),
    ("dpkg_status", dpkg_status),
    ("python_metadata", python_metadata),
    ("package_json", package_json),
    ("tar_stream", tar_stream),
    ("os_release", os_release),
    ("server_version", server_version),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn options() -> CollectOptions {
    CollectOptions {
        hashing: Hashing::Plain,
        ..CollectOptions::default()
    }
}

/// The inventory of a file set holding `data` at one of `paths` (chosen by the input's
/// length, so each input costs one inventory and every path gets its share), rendered
/// as the snapshot JSON a user would read.
fn inventory_at(paths: &[&str], data: &[u8]) {
    inventory_of(paths[data.len() % paths.len()], data);
}

/// The inventory of a file set holding `data` at `path`, rendered as the snapshot JSON
/// a user would read.
fn inventory_of(path: &str, data: &[u8]) {
    let mut files = FileSet::default();
    files.add_file(path.to_string(), data.to_vec(), 0o644);
    let snap = inventory("fuzz", &files, &options(), None);
    let _ = snap.to_json_pretty();
}

/// `envsync.toml`: the loader refuses non-UTF-8 before parsing, as here.
pub fn manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = Manifest::parse(text, Path::new("envsync.toml")) {
            let _ = m.expired_ignores(Date::from_unix_days(20_000));
            let _ = m.declared().len();
        }
    }
}

/// `envsync.lock`: parsed, and a lock that parses is written and parsed again.
pub fn lock(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(lock) = Lock::parse(text, Path::new("envsync.lock")) {
            let again = lock.to_string_canonical();
            let _ = Lock::parse(&again, Path::new("envsync.lock"));
        }
    }
}

/// A saved snapshot (`envsync.snapshot/v1` JSON), read back and written again.
pub fn snapshot(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(snap) = Snapshot::from_json(text, "fuzz.json") {
            let _ = snap.to_json_pretty();
            let _ = snap.compute_digest();
        }
    }
}

/// `/var/lib/dpkg/status`, and the same bytes as a distroless `status.d` file and as
/// Alpine's `/lib/apk/db/installed`.
pub fn dpkg_status(data: &[u8]) {
    inventory_at(
        &[
            "/var/lib/dpkg/status",
            "/var/lib/dpkg/status.d/fuzz",
            "/lib/apk/db/installed",
        ],
        data,
    );
}

/// A wheel's `METADATA` and an egg's `PKG-INFO`.
pub fn python_metadata(data: &[u8]) {
    inventory_at(
        &[
            "/usr/local/lib/python3.11/site-packages/fuzz-1.0.dist-info/METADATA",
            "/usr/lib/python3/dist-packages/fuzz.egg-info/PKG-INFO",
        ],
        data,
    );
}

/// A `package.json` under `node_modules`, plain and scoped.
pub fn package_json(data: &[u8]) {
    inventory_at(
        &[
            "/usr/local/lib/node_modules/fuzz/package.json",
            "/srv/app/node_modules/@scope/fuzz/package.json",
        ],
        data,
    );
}

/// `/etc/os-release`, and the runtime marker files read the same way.
pub fn os_release(data: &[u8]) {
    inventory_at(
        &[
            "/etc/os-release",
            "/usr/local/include/python3.12/patchlevel.h",
            "/root/.nvm/versions/node/v20.11.0/include/node/node_version.h",
        ],
        data,
    );
}

/// What a middleware server's version command prints inside its container, read as the
/// kind the input's length picks (so every kind gets its share), as `up` reads it.
pub fn server_version(data: &[u8]) {
    let kinds = ServiceKind::ALL;
    let text = String::from_utf8_lossy(data);
    let _ = parse_version(kinds[data.len() % kinds.len()], &text);
}

/// The collection script's output as a target sends it (header, environment, the tar
/// stream, the end line), or (inputs of odd length) the same bytes as an image layer's
/// tar stream.
pub fn tar_stream(data: &[u8]) {
    let opts = options();
    let selector = Selector::new(&opts);
    if data.len() % 2 == 1 {
        let mut budget = Budget::new("fuzz", 1 << 24);
        let _ = read_tar(data, &selector, &mut budget, true);
        return;
    }
    let mut stdout = format!("{HEADER}\nenv0 413d3100\npresent\ntar\n").into_bytes();
    stdout.extend_from_slice(data);
    let run = Run {
        code: Some(0),
        stdout: &stdout,
        stderr: b"",
    };
    if let Ok(Some(files)) = parse_output("fuzz", run, &selector, 1 << 24) {
        let _ = inventory("fuzz", &files, &opts, None).to_json_pretty();
    }
}
