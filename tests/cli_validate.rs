//! End-to-end tests of `envsync validate` and `envsync lock --check`: the built binary run
//! on manifests and locks in a temporary directory, as a user runs it.

use std::path::Path;

use envsync_manifest::{Ecosystem, Lock, LockedBase, LockedComponent, Manifest};

mod util;

use util::{envsync_output, text};

/// A manifest with five distinct mistakes, on lines 7, 11, 19, 23 and 26.
const FIVE_MISTAKES: &str = r#"[project]
name = "billing"

[base]
image = "debian:bookworm"

[pyhton]
version = "3.11"

[apt]
openssl = "3.0.15-1~deb12u1 or newer"

[services.postgres]
version = "15"
port = 5432

[services.redis]
version = "7"
port = "6379"

[services.replica]
version = "15"
ports = ["5432:5432"]

[policy]
ignore = [{ component = "deb:tzdata", until = "2099-03-01" }]
"#;

#[test]
fn five_mistakes_are_all_reported_with_lines_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("envsync.toml"), FIVE_MISTAKES).unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    insta::assert_snapshot!("five_mistakes_stderr", text(&out.stderr));

    let out = envsync_output(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "envsync.validate/v1");
    let errors = json["errors"].as_array().unwrap();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [7, 11, 19, 23, 26]);
    for e in errors {
        assert_eq!(e["file"], "envsync.toml");
        assert!(e["column"].as_u64().unwrap() >= 1);
        assert!(!e["message"].as_str().unwrap().is_empty());
        assert!(!e["fix"].as_str().unwrap().is_empty());
    }
}

#[test]
fn example_manifest_validates_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = envsync_output(
        root,
        // A fixed day: the example's ignore expires like real ones do.
        &[
            "validate",
            "-m",
            "manifests/benefits-api/envsync.toml",
            "--as-of",
            "2026-11-26",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        "manifests/benefits-api/envsync.toml is valid: 25 components declared, 3 services, 4 targets\n"
    );
    let out = envsync_output(
        root,
        &[
            "validate",
            "--manifest",
            "manifests/benefits-api/envsync.toml",
            "--as-of",
            "2026-11-26",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "{\n  \"schema\": \"envsync.validate/v1\",\n  \"errors\": []\n}\n"
    );
}

#[test]
fn validate_reports_syntax_errors_missing_files_and_absent_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .starts_with("error: no `envsync.toml` in this directory or any directory above it"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        dir.path().join("envsync.toml"),
        "[project]\nname = \"a\"\n[base\n",
    )
    .unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: TOML error: "), "{stderr}");
    assert!(
        stderr.contains(" at envsync.toml:3:6; fix the TOML syntax at this position\n"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("envsync.toml"),
        "[project]\nname = \"a\"\n[base]\nimage = \"debian:bookworm\"\n[files]\n\"/etc/a.ini\" = \"config/a.ini\"\n",
    )
    .unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: local file `config/a.ini` for `/etc/a.ini` in [files] does not exist (looked for `config/a.ini`) at envsync.toml:6:1; create it, or correct the path (relative to the manifest)\n\
         error: envsync.toml is not valid: 1 problem\n"
    );
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/a.ini"), "x=1\n").unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A service's configuration file is checked the same way, at its own line; and a
    // start order that cannot be followed is refused where it is written.
    std::fs::write(
        dir.path().join("envsync.toml"),
        "[project]\nname = \"a\"\n[base]\nimage = \"debian:bookworm\"\n\
         [services.nginx]\nversion = \"1.22\"\ndepends_on = [\"dev\"]\n\
         files = { \"/etc/nginx/conf.d/app.conf\" = \"config/nginx.conf\" }\n\
         [dev]\ndepends_on = [\"nginx\"]\n",
    )
    .unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: `depends_on` of [services.nginx] forms a cycle: nginx → dev → nginx at envsync.toml:7:15; remove one of these dependencies; nothing in a cycle could start first\n\
         error: envsync.toml is not valid: 1 problem\n"
    );
    std::fs::write(
        dir.path().join("envsync.toml"),
        "[project]\nname = \"a\"\n[base]\nimage = \"debian:bookworm\"\n\
         [services.nginx]\nversion = \"1.22\"\ndepends_on = [\"dev\"]\n\
         files = { \"/etc/nginx/conf.d/app.conf\" = \"config/nginx.conf\" }\n",
    )
    .unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: local file `config/nginx.conf` for `/etc/nginx/conf.d/app.conf` in [services.nginx.files] does not exist (looked for `config/nginx.conf`) at envsync.toml:8:11; create it, or correct the path (relative to the manifest)\n\
         error: envsync.toml is not valid: 1 problem\n"
    );
    std::fs::write(dir.path().join("config/nginx.conf"), "server {}\n").unwrap();
    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

const SMALL: &str = "[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\n[apt]\nopenssl = \"3.0.*\"\n[python.packages]\ndjango = \"~=4.2\"\n";

/// Write `manifest` and a lock that pins `versions` for its declared components.
fn write_project(dir: &Path, manifest: &str, versions: &[(&str, &str)]) {
    std::fs::write(dir.join("envsync.toml"), manifest).expect("write the manifest");
    let m = Manifest::load(&dir.join("envsync.toml")).expect("the manifest is valid");
    let components = m
        .declared()
        .iter()
        .filter_map(|d| {
            let version = versions.iter().find(|(n, _)| *n == d.name)?.1;
            Some(LockedComponent {
                arch: (d.ecosystem == Ecosystem::Deb).then(|| "amd64".to_string()),
                location: d.location.clone(),
                declared: true,
                ..LockedComponent::new(d.ecosystem, &d.name, version)
            })
        })
        .collect();
    let base = LockedBase {
        image: m.base.image.clone(),
        digest: None,
    };
    let lock = Lock::new(m.sha256.clone(), base, components).with_manifest_sections(m.sections);
    std::fs::write(dir.join("envsync.lock"), lock.to_string_canonical()).expect("write the lock");
}

#[test]
fn lock_check_is_semantic_and_names_the_changed_sections() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_project(
        d,
        SMALL,
        &[("openssl", "3.0.22-1~deb12u2"), ("django", "4.2.16")],
    );
    // Comments, reordered sections, another quoting style and a [policy] change nothing
    // that is installed: the lock stays up to date.
    let cosmetic = format!(
        "# The app's environment; see docs/manifest.md\n{}\n[policy]\nignore = [{{ component = \"deb:tzdata\", reason = \"time zones follow the host\", until = \"2999-01-01\" }}]\n",
        SMALL
            .replace("[apt]\nopenssl = \"3.0.*\"\n", "")
            .replace("image = \"debian:bookworm\"", "image = 'debian:bookworm'  # as in production")
            + "[apt]\nopenssl = \"3.0.*\"\n"
    );
    std::fs::write(d.join("envsync.toml"), &cosmetic).unwrap();
    let out = envsync_output(d, &["lock", "--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // A changed constraint makes it stale, and the message names the section.
    std::fs::write(d.join("envsync.toml"), cosmetic.replace("3.0.*", "3.*")).unwrap();
    let out = envsync_output(d, &["lock", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some("envsync.lock is stale: [apt] of the manifest changed since it was locked; regenerate the lock with `envsync lock` and commit both files together")
    );
}

#[test]
fn lock_check_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_project(
        d,
        SMALL,
        &[("openssl", "3.0.22-1~deb12u2"), ("django", "4.2.16")],
    );
    let before = std::fs::read(d.join("envsync.lock")).unwrap();

    let out = envsync_output(d, &["lock", "--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "envsync.lock is up to date with envsync.toml (2 components locked, 2 declared)\n"
    );

    // The manifest changes: a new package, and a constraint the locked version misses.
    std::fs::write(
        d.join("envsync.toml"),
        SMALL.replace("~=4.2", "~=5.0") + "requests = \"==2.31.0\"\n",
    )
    .unwrap();
    let out = envsync_output(d, &["lock", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("envsync.lock is stale: "), "{stdout}");
    assert_eq!(lines[1], "`pypi:django` is locked at `4.2.16` (envsync.lock:9:1), which does not satisfy `~=5.0` declared at envsync.toml:8:1; regenerate the lock with `envsync lock`, or relax the constraint in the manifest");
    assert_eq!(lines[2], "`pypi:requests` = `==2.31.0` declared at envsync.toml:9:1 is not in the lock; regenerate the lock with `envsync lock` to pin it");
    assert_eq!(
        lines[3],
        "envsync.lock is out of date with envsync.toml: 3 problems"
    );

    let out = envsync_output(d, &["lock", "--check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema"], "envsync.lock-check/v1");
    assert_eq!(json["up_to_date"], false);
    let kinds: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["stale", "unsatisfied", "missing"]);

    // `--check` never writes.
    assert_eq!(std::fs::read(d.join("envsync.lock")).unwrap(), before);

    // No lock at all: out of date (1).
    let out = envsync_output(d, &["lock", "--check", "--lock", "other.lock"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "other.lock does not exist; create it with `envsync lock` and commit it\n"
    );

    // A lock from a newer envsync: error (2), naming the file and line.
    std::fs::write(
        d.join("new.lock"),
        "# header\nschema = \"envsync.lock/v3\"\n",
    )
    .unwrap();
    let out = envsync_output(d, &["lock", "--check", "--lock", "new.lock"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: new.lock:2: lock schema `envsync.lock/v3` was written by a newer envsync (this one reads `envsync.lock/v2`); upgrade envsync\n"
    );

    // A truncated lock: error (2) with its line and column.
    let truncated = &before[..before.len() - 20];
    std::fs::write(d.join("cut.lock"), truncated).unwrap();
    let out = envsync_output(d, &["lock", "--check", "--lock", "cut.lock"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cut.lock:"),
        "{}",
        text(&out.stderr)
    );

    // An invalid manifest: error (2), its problems listed.
    std::fs::write(d.join("envsync.toml"), "[project]\nnme = \"x\"\n").unwrap();
    let out = envsync_output(d, &["lock", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("unknown key `nme` in [project] at envsync.toml:2:1; did you mean `name`?"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn lock_without_a_manifest_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = envsync_output(dir.path(), &["lock"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("envsync.toml"),
        "{}",
        text(&out.stderr)
    );
    let help = envsync_output(dir.path(), &["lock", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("envsync lock --check"));
}

#[test]
fn example_manifest_fails_once_its_ignore_expires() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = envsync_output(
        root,
        &[
            "validate",
            "-m",
            "manifests/benefits-api/envsync.toml",
            "--as-of",
            "2027-03-02",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ignore of `deb:tzdata` expired on 2027-03-01"),
        "{stderr}"
    );
}

/// An expired ignore is judged by `validate` (and `check`), not while the manifest is
/// read: `down` (like `up`, `build` and `lock`) still works on the manifest.
#[test]
fn an_expired_ignore_stops_validate_but_not_down() {
    let dir = tempfile::tempdir().unwrap();
    let project = envsync_testsupport::unique_name("expired");
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n[base]\nimage = \"debian:bookworm\"\n[policy]\n\
             ignore = [{{ component = \"deb:tzdata\", reason = \"host\", until = \"2020-01-01\" }}]\n"
        ),
    )
    .unwrap();

    let out = envsync_output(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ignore of `deb:tzdata` expired on 2020-01-01 (today is ")
            && stderr.contains("envsync.toml:6:64"),
        "{stderr}"
    );
    let out = envsync_output(dir.path(), &["validate", "--as-of", "2019-12-31"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = envsync_output(dir.path(), &["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("expired"));
}
