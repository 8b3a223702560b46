//! End-to-end tests of `envsync diff` and `envsync check` over saved snapshots: golden
//! files for every report format (tests/golden/expected; regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test cli_diff` and review the diff), JUnit read back
//! with a real JUnit parser (`quick-junit`), the fleet matrix with a failing target, and
//! bad input.

use std::path::{Path, PathBuf};

mod util;

use util::{code, envsync_output, text};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compare `actual` with tests/golden/expected/`name`, or write it when UPDATE_GOLDEN is set.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join("expected").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; if the change is intended, run with UPDATE_GOLDEN=1 and review",
        path.display()
    );
}

/// Check a JUnit document with a real parser and the structure Jenkins and GitLab read:
/// testsuites > testsuite[name, tests, failures, errors] > testcase[name, classname] >
/// failure[message]; counts must agree with the cases. Returns (tests, failures, errors).
fn check_junit(xml: &str) -> (usize, usize, usize) {
    let report = quick_junit::Report::deserialize_from_str(xml).expect("JUnit parses");
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    for suite in &report.test_suites {
        assert!(!suite.name.is_empty(), "testsuite has a name");
        let mut f = 0;
        let mut e = 0;
        for case in &suite.test_cases {
            assert!(!case.name.is_empty(), "testcase has a name");
            assert!(
                case.classname.as_ref().is_some_and(|c| !c.is_empty()),
                "testcase `{}` has a classname",
                case.name.as_str()
            );
            match &case.status {
                quick_junit::TestCaseStatus::NonSuccess { kind, message, .. } => {
                    assert!(
                        message.as_ref().is_some_and(|m| !m.is_empty()),
                        "failure of `{}` has a message",
                        case.name.as_str()
                    );
                    match kind {
                        quick_junit::NonSuccessKind::Failure => f += 1,
                        quick_junit::NonSuccessKind::Error => e += 1,
                    }
                }
                quick_junit::TestCaseStatus::Success { .. }
                | quick_junit::TestCaseStatus::Skipped { .. } => {}
            }
        }
        assert_eq!(
            suite.tests,
            suite.test_cases.len(),
            "tests count of `{}`",
            suite.name.as_str()
        );
        assert_eq!(
            suite.failures,
            f,
            "failures count of `{}`",
            suite.name.as_str()
        );
        assert_eq!(suite.errors, e, "errors count of `{}`", suite.name.as_str());
        tests += suite.tests;
        failures += f;
        errors += e;
    }
    assert_eq!(
        (report.tests, report.failures, report.errors),
        (tests, failures, errors),
        "testsuites totals"
    );
    (tests, failures, errors)
}

#[test]
fn diff_writes_every_format_in_one_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = |n: &str| tmp.path().join(n).display().to_string();
    let (json, junit, md) = (file("d.json"), file("d.xml"), file("d.md"));
    let out = envsync_output(
        &golden_dir(),
        &[
            "diff",
            "prod.json",
            "dev.json",
            "--json",
            &json,
            "--junit",
            &junit,
            "--format",
            &format!("markdown={md}"),
        ],
    );
    assert_eq!(
        code(&out),
        1,
        "drift exits 1; stderr: {}",
        text(&out.stderr)
    );
    golden("diff.txt", &text(&out.stdout));
    let json_text = std::fs::read_to_string(&json).expect("json written");
    golden("diff.json", &json_text);
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    golden("diff.xml", &xml);
    golden(
        "diff.md",
        &std::fs::read_to_string(&md).expect("markdown written"),
    );

    // The JSON contract: schema, drift[] with ecosystem, name, kind, left, right, direction.
    let v: serde_json::Value = serde_json::from_str(&json_text).expect("json parses");
    assert_eq!(v["schema"], "envsync.diff/v1");
    let openssl = v["drift"]
        .as_array()
        .expect("drift array")
        .iter()
        .find(|d| d["name"] == "openssl")
        .expect("openssl drifts");
    assert_eq!(openssl["ecosystem"], "deb");
    assert_eq!(openssl["kind"], "changed");
    assert_eq!(openssl["left"], "3.0.11-1~deb12u2");
    assert_eq!(openssl["right"], "3.0.15-1~deb12u1");
    assert_eq!(openssl["direction"], "newer");

    // One testcase per compared component: 10 in prod, 10 in dev, 9 shared names.
    let (tests, failures, errors) = check_junit(&xml);
    assert_eq!((tests, failures, errors), (11, 7, 0));
    assert!(
        xml.contains("message=\"changed: 3.0.11-1~deb12u2 -&gt; 3.0.15-1~deb12u1 (newer, patch)\"")
    );
    assert!(xml.contains("settings&amp;local.ini"), "names are escaped");
}

#[test]
fn diff_format_json_to_stdout_matches_the_file_report() {
    let out = envsync_output(
        &golden_dir(),
        &["diff", "prod.json", "dev.json", "--format", "json"],
    );
    assert_eq!(code(&out), 1);
    golden("diff.json", &text(&out.stdout));
}

#[test]
fn diff_of_identical_snapshots_is_parity() {
    let out = envsync_output(&golden_dir(), &["diff", "prod.json", "prod.json"]);
    assert_eq!(code(&out), 0, "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.ends_with("drift: none (10 components compared) — PARITY\n"),
        "{stdout}"
    );
}

#[test]
fn diff_filters_ecosystems_and_extra() {
    let out = envsync_output(
        &golden_dir(),
        &[
            "diff",
            "prod.json",
            "dev.json",
            "--ecosystem",
            "pypi,npm",
            "--ignore-extra",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = v["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["django"]);

    let out = envsync_output(
        &golden_dir(),
        &["diff", "prod.json", "dev.json", "--ecosystem", "debian"],
    );
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("unknown ecosystem `debian`"));
}

#[test]
fn diff_reads_the_lock_and_manifest_stages() {
    // The lock pins what prod.json holds, and `prod` is prod.json in [targets].
    let by_file = envsync_output(
        &golden_dir(),
        &["diff", "prod.json", "dev.json", "--format", "json"],
    );
    for reference in ["lock", "prod"] {
        let out = envsync_output(
            &golden_dir(),
            &["diff", reference, "dev.json", "--format", "json"],
        );
        assert_eq!(code(&out), 1, "{reference}: {}", text(&out.stderr));
        let a: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let b: serde_json::Value = serde_json::from_slice(&by_file.stdout).expect("json");
        assert_eq!(a["drift"], b["drift"], "diff against `{reference}`");
        assert_eq!(a["reference"], reference);
    }
}

#[test]
fn check_judges_drift_by_policy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = |n: &str| tmp.path().join(n).display().to_string();
    let (json, junit, md) = (file("c.json"), file("c.xml"), file("c.md"));
    let out = envsync_output(
        &golden_dir(),
        &[
            "check",
            "--target",
            "dev.json",
            "--as-of",
            "2026-06-01",
            "--json",
            &json,
            "--junit",
            &junit,
            "--markdown",
            &md,
        ],
    );
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    let table = text(&out.stdout);
    golden("check.txt", &table);
    let json_text = std::fs::read_to_string(&json).expect("json");
    golden("check.json", &json_text);
    let xml = std::fs::read_to_string(&junit).expect("junit");
    golden("check.xml", &xml);
    golden("check.md", &std::fs::read_to_string(&md).expect("markdown"));
    check_junit(&xml);

    let v: serde_json::Value = serde_json::from_str(&json_text).expect("json");
    assert_eq!(v["verdict"], "fail");
    let find = |name: &str| {
        v["drift"]
            .as_array()
            .expect("drift")
            .iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("{name} in drift"))
            .clone()
    };
    // A declared package points at its manifest line, with a fix.
    let openssl = find("openssl");
    assert_eq!(openssl["status"], "fail");
    assert_eq!(openssl["violates"]["file"], "envsync.toml");
    assert_eq!(openssl["violates"]["line"], 12);
    assert_eq!(openssl["fix"], "apt-get install openssl=3.0.11-1~deb12u2");
    assert_eq!(find("django")["fix"], "pip install django==4.2.7");
    // A transitive package points at its lock line.
    let libssl = find("libssl3");
    assert_eq!(libssl["kind"], "missing");
    assert_eq!(libssl["violates"]["file"], "envsync.lock");
    assert_eq!(libssl["violates"]["line"], 10);
    // Extra warns by default.
    assert_eq!(find("left-pad")["status"], "warn");
    // The live ignore hides tzdata, with its reason.
    let ignored = v["ignored"].as_array().expect("ignored");
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0]["name"], "tzdata");
    assert_eq!(
        ignored[0]["ignored_by"]["reason"],
        "time zone data follows the host"
    );
    // The expired ignore fails, naming its line and date.
    let expired = v["expired_ignores"].as_array().expect("expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["component"], "deb:libpq5");
    assert_eq!(expired[0]["line"], 32);
    assert_eq!(expired[0]["until"], "2026-03-01");
    assert!(
        table.contains("`deb:libpq5` at envsync.toml:32 expired on 2026-03-01"),
        "{table}"
    );
}

#[test]
fn check_fail_on_flag_overrides_the_policy() {
    // Only major changes fail: django 4 -> 5. The expired ignore still fails the check,
    // so look at the statuses rather than the exit code.
    let out = envsync_output(
        &golden_dir(),
        &[
            "check",
            "--target",
            "dev.json",
            "--fail-on",
            "major",
            "--as-of",
            "2026-01-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 1, "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let failing: Vec<&str> = v["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .filter(|d| d["status"] == "fail")
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    assert_eq!(failing, ["django"]);

    // Against itself with no drift the check passes.
    let out = envsync_output(
        &golden_dir(),
        &["check", "--target", "prod.json", "--as-of", "2026-01-01"],
    );
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).ends_with("— PASS\n"));

    let out = envsync_output(
        &golden_dir(),
        &["check", "--target", "dev.json", "--fail-on", "missing,huge"],
    );
    assert_eq!(code(&out), 2);
    assert!(text(&out.stderr).contains("unknown word `huge` in `--fail-on`"));
}

#[test]
fn fleet_reports_every_target_and_exits_2_when_one_fails() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gdir = golden_dir();
    let prod = std::fs::read_to_string(gdir.join("prod.json")).expect("prod");
    // web-1: identical; web-2: openssl newer; web-3: openssl older and curl missing;
    // web-4: dev.json; web-5: does not exist.
    std::fs::write(tmp.path().join("web-1.json"), &prod).expect("write");
    std::fs::write(
        tmp.path().join("web-2.json"),
        prod.replace("\"3.0.11-1~deb12u2\", \"arch\": \"amd64\" },\n    { \"ecosystem\": \"deb\", \"name\": \"tzdata\"", "\"3.0.13-1~deb12u1\", \"arch\": \"amd64\" },\n    { \"ecosystem\": \"deb\", \"name\": \"tzdata\""),
    )
    .expect("write");
    std::fs::write(
        tmp.path().join("web-3.json"),
        prod.replace("\"3.0.11-1~deb12u2\", \"arch\": \"amd64\" },\n    { \"ecosystem\": \"deb\", \"name\": \"tzdata\"", "\"3.0.9-1~deb12u1\", \"arch\": \"amd64\" },\n    { \"ecosystem\": \"deb\", \"name\": \"tzdata\"")
            .replace("    { \"ecosystem\": \"deb\", \"name\": \"curl\", \"version\": \"7.88.1-10+deb12u8\", \"arch\": \"amd64\" },\n", ""),
    )
    .expect("write");
    std::fs::copy(gdir.join("prod.json"), tmp.path().join("prod.json")).expect("copy");
    std::fs::copy(gdir.join("dev.json"), tmp.path().join("web-4.json")).expect("copy");

    let json = tmp.path().join("fleet.json").display().to_string();
    let junit = tmp.path().join("fleet.xml").display().to_string();
    let out = envsync_output(
        tmp.path(),
        &[
            "diff",
            "prod.json",
            "web-1.json",
            "web-2.json",
            "web-3.json",
            "web-4.json",
            "web-5.json",
            "--jobs",
            "2",
            "--json",
            &json,
            "--junit",
            &junit,
        ],
    );
    assert_eq!(code(&out), 2, "a failed target exits 2");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1 of 5 targets could not be collected") && stderr.contains("web-5.json"),
        "{stderr}"
    );
    golden("fleet.txt", &text(&out.stdout));

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    let statuses: Vec<(&str, &str)> = v["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["target"].as_str().expect("target"),
                t["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("web-1.json", "parity"),
            ("web-2.json", "drift"),
            ("web-3.json", "drift"),
            ("web-4.json", "drift"),
            ("web-5.json", "error")
        ]
    );
    let openssl: Vec<(&str, &str, &str)> = v["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .filter(|d| d["name"] == "openssl")
        .map(|d| {
            (
                d["target"].as_str().expect("target"),
                d["right"].as_str().expect("right"),
                d["direction"].as_str().expect("direction"),
            )
        })
        .collect();
    assert_eq!(
        openssl,
        [
            ("web-2.json", "3.0.13-1~deb12u1", "newer"),
            ("web-3.json", "3.0.9-1~deb12u1", "older"),
            ("web-4.json", "3.0.15-1~deb12u1", "newer")
        ]
    );
    let (_, _, errors) = check_junit(&std::fs::read_to_string(&junit).expect("junit"));
    assert_eq!(errors, 1, "the missing target is one JUnit error");
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let prod = std::fs::read_to_string(golden_dir().join("prod.json")).expect("prod");
    std::fs::write(dir.join("prod.json"), &prod).expect("write");
    std::fs::write(
        dir.join("future.json"),
        prod.replace("envsync.snapshot/v1", "envsync.snapshot/v2"),
    )
    .expect("write");
    std::fs::write(dir.join("truncated.json"), &prod[..prod.len() / 2]).expect("write");
    std::fs::write(dir.join("other.json"), "{\"name\": \"not a snapshot\"}\n").expect("write");

    let cases: [(&str, &[&str]); 4] = [
        ("future.json", &["future.json", "envsync.snapshot/v2"]),
        ("truncated.json", &["truncated.json", "line "]),
        ("other.json", &["other.json", "schema"]),
        ("missing.json", &["missing.json"]),
    ];
    for (file, needles) in cases {
        let out = envsync_output(dir, &["diff", "prod.json", file]);
        assert_eq!(code(&out), 2, "{file}");
        let stderr = text(&out.stderr);
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{file}: `{needle}` not in {stderr}"
            );
        }
        assert!(out.stdout.is_empty(), "{file}: nothing on stdout");
    }

    // A lock made from another manifest.
    for f in ["envsync.toml", "dev.json"] {
        std::fs::copy(golden_dir().join(f), dir.join(f)).expect("copy");
    }
    let lock = std::fs::read_to_string(golden_dir().join("envsync.lock")).expect("lock");
    let start = lock.find("manifest_sha256 = \"").expect("sha line") + "manifest_sha256 = \"".len();
    let mut stale = lock.clone();
    stale.replace_range(start..start + 64, &"0".repeat(64));
    std::fs::write(dir.join("envsync.lock"), stale).expect("write");
    for args in [
        &["diff", "lock", "dev.json"][..],
        &["check", "--target", "dev.json"][..],
    ] {
        let out = envsync_output(dir, args);
        assert_eq!(code(&out), 2, "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("envsync.lock") && stderr.contains("another manifest"),
            "{stderr}"
        );
    }
}

/// An incomplete snapshot (files the collecting user could not read) is an error for
/// `diff` and `check` (exit 2, naming the snapshot and the unread path) unless
/// `--allow-incomplete` is given; a snapshot without the field is complete.
#[test]
fn incomplete_snapshots_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("inc.json"),
        r#"{"schema": "envsync.snapshot/v1", "target": "docker:x", "complete": false,
            "warnings": ["unreadable, so not in this snapshot: /var/lib/dpkg/status: Permission denied"]}"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("ok.json"),
        r#"{"schema": "envsync.snapshot/v1", "target": "docker:y"}"#,
    )
    .expect("write");
    for args in [
        &["diff", "ok.json", "inc.json"][..],
        &["diff", "inc.json", "ok.json"],
        &["check", "-t", "inc.json", "--against", "ok.json"],
    ] {
        let out = envsync_output(dir.path(), args);
        let stderr = text(&out.stderr);
        assert_eq!(code(&out), 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("inc.json")
                && stderr.contains("/var/lib/dpkg/status")
                && stderr.contains("--allow-incomplete"),
            "{args:?}: {stderr}"
        );
        let mut allowed = args.to_vec();
        allowed.push("--allow-incomplete");
        let out = envsync_output(dir.path(), &allowed);
        assert_eq!(code(&out), 0, "{allowed:?}: {}", text(&out.stderr));
    }
    let out = envsync_output(dir.path(), &["diff", "ok.json", "ok.json"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
}
