//! End-to-end tests of `envsync init`: from a project's dependency files (checked
//! against the lock files as npm and Python's `tomllib` read them), and the round trip
//! from a production-like container (tests/fixtures/init-prod): what init declares is
//! checked against `apt-mark showmanual`, `pip list --not-required` and `npm ls`
//! inside it, the manifest validates, `envsync lock` builds it, and
//! `envsync diff lock docker:NAME` shows no drift for any declared component.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use envsync_manifest::Manifest;
use envsync_testsupport::{fixture_image, TestContainer, HOST_CA_BUNDLE};
use serde_json::Value;

mod util;

use util::{envsync, run};

/// Copy `tests/fixtures/init-files/<name>` into a fresh directory.
fn project(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/init-files")
        .join(name);
    for entry in std::fs::read_dir(&src).expect("fixture dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

/// `(ecosystem, name, constraint, location)` of every declared component.
fn declared(dir: &Path) -> BTreeSet<(String, String, String, Option<String>)> {
    let m = Manifest::load(&dir.join("envsync.toml")).unwrap_or_else(|e| panic!("{e}"));
    m.declared()
        .iter()
        .map(|d| {
            (
                d.ecosystem.to_string(),
                d.name.clone(),
                d.constraint.clone(),
                d.location.clone(),
            )
        })
        .collect()
}

/// Python's `tomllib` reading `[[package]]` names and versions of a uv or Poetry lock.
fn python_lock_oracle(path: &Path) -> BTreeMap<String, String> {
    let (code, out, _) = run(Command::new("python3").args([
        "-c",
        "import sys, tomllib, json, re; d = tomllib.load(open(sys.argv[1], 'rb')); \
         print(json.dumps({re.sub(r'[-_.]+', '-', p['name']).lower(): p['version'] for p in d['package']}))",
        &path.display().to_string(),
    ]));
    assert_eq!(code, 0);
    serde_json::from_str(&out).expect("oracle JSON")
}

fn init_validates(dir: &Path) {
    let (code, _, _) = envsync(dir, &["validate"]);
    assert_eq!(code, 0, "envsync validate refused what init wrote");
}

#[test]
fn from_requirements_txt_pins_its_exact_lines() {
    let dir = project("requirements");
    let (code, stdout, _) = envsync(dir.path(), &["init", "--name", "req", "--format", "json"]);
    assert_eq!(code, 0);
    let summary: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(summary["schema"], "envsync.init/v1");
    let left: Vec<String> = summary["left_out"]
        .as_array()
        .expect("left_out")
        .iter()
        .map(|c| format!("{} {}", c["count"], c["what"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        left,
        [
            "1 requirements.txt: urllib3",
            "1 requirements.txt: -c constraints.txt"
        ],
        "{summary}"
    );
    init_validates(dir.path());
    let got = declared(dir.path());
    let want: BTreeSet<_> = [
        ("django", "==4.2.16"),
        ("requests", "==2.32.3"),
        ("gunicorn", "==22.0.0"),
        ("zope-interface", "==6.4"),
    ]
    .iter()
    .map(|(n, v)| ("pypi".to_string(), n.to_string(), v.to_string(), None))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn from_pyproject_and_uv_lock_or_poetry_lock() {
    for (name, lock, direct) in [
        ("uv", "uv.lock", &["pysocks", "pyyaml", "requests"][..]),
        ("poetry", "poetry.lock", &["django", "iniconfig"][..]),
    ] {
        let dir = project(name);
        let (code, _, _) = envsync(dir.path(), &["init", "--name", name]);
        assert_eq!(code, 0);
        init_validates(dir.path());
        let versions = python_lock_oracle(&dir.path().join(lock));
        let want: BTreeSet<_> = direct
            .iter()
            .map(|n| {
                (
                    "pypi".to_string(),
                    n.to_string(),
                    format!("=={}", versions[*n]),
                    None,
                )
            })
            .collect();
        assert_eq!(declared(dir.path()), want, "{name}");
    }
}

#[test]
fn from_package_json_and_its_lock() {
    let dir = project("npm");
    let (code, stdout, _) = envsync(dir.path(), &["init", "--name", "web"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("declared 3 package.json + package-lock.json"),
        "{stdout}"
    );
    init_validates(dir.path());
    // npm's own reading of the lock: the direct dependencies and their versions.
    let (code, out, _) = run(Command::new("npm")
        .args(["ls", "--package-lock-only", "--depth=0", "--json"])
        .current_dir(dir.path()));
    assert_eq!(code, 0);
    let tree: Value = serde_json::from_str(&out).expect("npm ls JSON");
    let want: BTreeSet<_> = tree["dependencies"]
        .as_object()
        .expect("dependencies")
        .iter()
        .map(|(n, v)| {
            let version = v["version"].as_str().expect("version").to_string();
            (
                "npm".to_string(),
                n.clone(),
                version,
                Some("/srv/web".to_string()),
            )
        })
        .collect();
    assert_eq!(want.len(), 3);
    assert_eq!(declared(dir.path()), want);
}

#[test]
fn never_overwrites_without_force_and_explains_missing_inputs() {
    let dir = project("requirements");
    std::fs::write(dir.path().join("envsync.toml"), "# mine\n").expect("write");
    let (code, _, stderr) = envsync(dir.path(), &["init"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("envsync.toml` already exists; pass --force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("envsync.toml")).expect("read"),
        "# mine\n"
    );
    let (code, _, _) = envsync(dir.path(), &["init", "--force", "--name", "req"]);
    assert_eq!(code, 0);
    init_validates(dir.path());

    let empty = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = envsync(empty.path(), &["init"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("none of requirements.txt, pyproject.toml, package.json"),
        "{stderr}"
    );
    std::fs::write(empty.path().join("package.json"), "{}").expect("write");
    let (code, _, stderr) = envsync(empty.path(), &["init"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no `package-lock.json`"), "{stderr}");
    std::fs::write(
        empty.path().join("package-lock.json"),
        "{\n  \"packages\": [\n",
    )
    .expect("write");
    let (code, _, stderr) = envsync(empty.path(), &["init"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("package-lock.json:3"), "{stderr}");
    assert!(!empty.path().join("envsync.toml").exists());
}

/// The declared components of one ecosystem (and location) as `name -> constraint`.
fn pins(
    all: &BTreeSet<(String, String, String, Option<String>)>,
    eco: &str,
    location: Option<&str>,
) -> BTreeMap<String, String> {
    all.iter()
        .filter(|d| d.0 == eco && d.3.as_deref() == location)
        .map(|d| (d.1.clone(), d.2.clone()))
        .collect()
}

fn pep503(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut out = String::new();
    for c in lower.chars() {
        let c = if matches!(c, '_' | '.') { '-' } else { c };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// `npm ls --depth=0 --json` run by `sh` in the container, as `name -> version`.
async fn npm_direct(c: &TestContainer, script: &str) -> BTreeMap<String, String> {
    let tree: Value = serde_json::from_str(&c.sh(script).await).expect("npm ls JSON");
    tree["dependencies"]
        .as_object()
        .map(|deps| {
            deps.iter()
                .map(|(n, v)| (n.clone(), v["version"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn init_from_a_production_container_locks_to_parity() {
    let image = fixture_image("init-prod").await;
    let c = TestContainer::run(&image, "init-prod", &["sleep", "infinity"]).await;
    let target = format!("docker:{}", c.name());
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (code, stdout, _) = envsync(
        d,
        &[
            "init",
            "--from",
            &target,
            "--python-env",
            "/venv",
            "--file",
            "/etc/app/settings.ini",
            "--ca-certificates",
            HOST_CA_BUNDLE,
            "--name",
            "envsync-e2e-init",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "envsync init failed");
    let summary: Value = serde_json::from_str(&stdout).expect("summary JSON");
    assert!(
        summary["left_out"]
            .as_array()
            .expect("left_out")
            .iter()
            .any(|c| c["what"] == "OS packages"
                && c["why"] == "installed as dependencies"
                && c["count"].as_u64().unwrap_or(0) > 50),
        "{summary}"
    );
    init_validates(d);
    let all = declared(d);

    // OS packages: exactly what apt marks manual, at dpkg's versions.
    let manual: BTreeSet<String> = c
        .sh("apt-mark showmanual")
        .await
        .lines()
        .map(str::to_string)
        .collect();
    let debs = pins(&all, "deb", None);
    assert_eq!(debs.keys().cloned().collect::<BTreeSet<_>>(), manual);
    for name in ["curl", "python3-venv", "python3-yaml", "nodejs", "npm"] {
        assert!(debs.contains_key(name), "{name} not declared");
    }
    let dpkg: BTreeMap<String, String> = c
        .sh("dpkg-query -W -f '${binary:Package} ${Version}\\n'")
        .await
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, v)| (n.split(':').next().unwrap_or(n).to_string(), v.to_string()))
        .collect();
    for (name, version) in &debs {
        assert_eq!(dpkg.get(name), Some(version), "{name}");
    }
    // The virtualenv: exactly what pip lists as required by no other package.
    let not_required: Value = serde_json::from_str(
        &c.sh("/venv/bin/pip list --not-required --format=json 2>/dev/null")
            .await,
    )
    .expect("pip list JSON");
    let oracle: BTreeMap<String, String> = not_required
        .as_array()
        .expect("pip list array")
        .iter()
        .map(|p| {
            (
                pep503(p["name"].as_str().unwrap_or("")),
                format!("=={}", p["version"].as_str().unwrap_or("")),
            )
        })
        .collect();
    let venv = pins(&all, "pypi", Some("/venv"));
    assert_eq!(venv, oracle);
    assert!(
        venv.contains_key("requests") && !venv.contains_key("urllib3"),
        "{venv:?}"
    );
    // Debian's python3-yaml is left to its Debian package, not declared for pip.
    assert!(pins(&all, "pypi", None).is_empty());
    // npm: the project's direct dependencies and the global packages.
    let project = npm_direct(&c, "cd /srv/web && npm ls --depth=0 --json 2>/dev/null").await;
    assert_eq!(pins(&all, "npm", Some("/srv/web")), project);
    assert!(project.contains_key("debug") && !project.contains_key("ms"));
    let global = npm_direct(&c, "npm ls -g --depth=0 --json 2>/dev/null").await;
    assert_eq!(pins(&all, "npm", None), global);
    // Runtimes as the interpreters report themselves.
    let python = c
        .sh("python3 -c 'import platform; print(platform.python_version())'")
        .await;
    let node = c.sh("node -p process.versions.node").await;
    let runtimes = pins(&all, "runtime", None);
    assert_eq!(
        runtimes.get("python").map(String::as_str),
        Some(python.trim())
    );
    assert_eq!(runtimes.get("node").map(String::as_str), Some(node.trim()));
    // The configuration file, copied beside the manifest.
    assert_eq!(
        std::fs::read_to_string(d.join("files/etc/app/settings.ini")).expect("copied file"),
        c.sh("cat /etc/app/settings.ini").await
    );
    assert!(all
        .iter()
        .any(|x| x.0 == "file" && x.1 == "/etc/app/settings.ini"));

    // The image, read without running it, declares the same (only the header's target differs).
    let from_image = tempfile::tempdir().expect("tempdir");
    let image_target = format!("image:{image}");
    let (code, _, _) = envsync(
        from_image.path(),
        &[
            "init",
            "--from",
            &image_target,
            "--python-env",
            "/venv",
            "--file",
            "/etc/app/settings.ini",
            "--ca-certificates",
            HOST_CA_BUNDLE,
            "--name",
            "envsync-e2e-init",
        ],
    );
    assert_eq!(code, 0);
    let body = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("envsync.toml")).expect("manifest");
        text.split_once('\n')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default()
    };
    assert_eq!(body(from_image.path()), body(d));

    // A second init refuses to overwrite.
    let (code, _, stderr) = envsync(d, &["init", "--from", &target]);
    assert_eq!(code, 2);
    assert!(stderr.contains("already exists; pass --force"), "{stderr}");

    // A --file the target lacks is an error naming it, and nothing is written.
    let (code, _, stderr) = envsync(
        d,
        &[
            "init",
            "--from",
            &target,
            "--file",
            "/etc/app/nope.ini",
            "-o",
            "other.toml",
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("`/etc/app/nope.ini` (--file)"), "{stderr}");
    assert!(!d.join("other.toml").exists());

    // Lock it, then compare the lock with the container.
    let (code, _, _) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "envsync lock failed");
    // Every declared package is in the lock, marked declared, at the version init pinned.
    let lock = envsync_manifest::Lock::load(&d.join("envsync.lock")).expect("lock");
    let mut checked = 0;
    for (eco, name, constraint, _) in all
        .iter()
        .filter(|x| ["deb", "pypi", "npm"].contains(&x.0.as_str()))
    {
        let version = constraint.trim_start_matches("==");
        assert!(
            lock.components
                .iter()
                .any(|c| c.ecosystem.to_string() == *eco
                    && c.name == *name
                    && c.version == version
                    && c.declared),
            "{eco}:{name} {version} is not locked as declared"
        );
        checked += 1;
    }
    assert!(checked > 90, "only {checked} declared packages");
    let (code, stdout, _) = envsync(d, &["diff", "lock", &target, "--format", "json"]);
    assert!(code == 0 || code == 1, "diff exit {code}");
    let report: Value = serde_json::from_str(&stdout).expect("diff JSON");
    let mut declared_drift = Vec::new();
    for entry in report["drift"].as_array().expect("drift") {
        let eco = entry["ecosystem"].as_str().unwrap_or("");
        let name = entry["name"].as_str().unwrap_or("");
        let location = entry["location"].as_str().unwrap_or("");
        let hit = all.iter().any(|x| {
            x.0 == eco
                && x.1 == name
                && match (eco, x.3.as_deref()) {
                    ("pypi", Some(venv)) | ("npm", Some(venv)) => {
                        location.starts_with(&format!("{venv}/"))
                    }
                    ("npm", None) => location == "/usr/local/lib/node_modules",
                    _ => true,
                }
        });
        if hit {
            declared_drift.push(entry.clone());
        }
    }
    assert!(
        declared_drift.is_empty(),
        "drift on declared components: {declared_drift:#?}"
    );
}
