//! `envsync check` as CI runs it: it refuses a bystander without a target (listing the
//! choices), writes every report even when it cannot compare, and passes inside the
//! image `envsync build` makes, running the very commands `docs/ci.md` documents.

use std::path::Path;

use bollard::models::HostConfig;
use envsync_testsupport::{base_image, workspace_root, TestContainer};
use serde_json::Value;

mod util;

use util::envsync;

const PROJECT: &str = "envsync-e2e-ci";

/// A manifest of nothing but the base, so the image builds from local images only, and
/// a `[targets]` stage that is a saved snapshot.
fn manifest(project: &str) -> String {
    format!(
        "[project]\nname = \"{project}\"\n\n[base]\nimage = \"envsync/debian:bookworm\"\n\n[targets]\nsaved = \"saved.json\"\n"
    )
}

/// A snapshot with one package, as `envsync fingerprint` would save it.
const SNAPSHOT: &str = r#"{"schema":"envsync.snapshot/v1","target":"saved","packages":[{"ecosystem":"deb","name":"jq","version":"1.6-2.1"}]}"#;

fn project(dir: &Path) {
    std::fs::write(dir.join("envsync.toml"), manifest(PROJECT)).expect("write the manifest");
    std::fs::write(dir.join("saved.json"), SNAPSHOT).expect("write the snapshot");
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("`{file}`: {e}"))
}

/// The JSON report says `error`, with a reason containing `needle`; the JUnit report
/// has one errored test case and no failure.
fn assert_error_reports(dir: &Path, json: &str, junit: &str, needle: &str) {
    let doc: Value = serde_json::from_str(&read(dir, json)).expect("JSON report");
    assert_eq!(doc["schema"], "envsync.diff/v1", "{doc}");
    assert_eq!(doc["verdict"], "error", "{doc}");
    assert_eq!(doc["drift"], serde_json::json!([]), "{doc}");
    let reason = doc["error"].as_str().expect("error");
    assert!(reason.contains(needle), "{reason}");
    let xml = read(dir, junit);
    assert!(
        xml.contains(r#"errors="1""#) && xml.contains("<error message=") && xml.contains(needle),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="0""#), "{xml}");
}

#[test]
fn without_a_target_a_bystander_is_refused_with_the_choices_and_reports_say_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let (code, stdout, stderr) = envsync(
        d,
        &[
            "check",
            "--against",
            "saved.json",
            "--junit",
            "r.xml",
            "--json",
            "r.json",
        ],
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    for choice in [
        "not an environment of `envsync-e2e-ci`",
        "--target docker:NAME",
        "--target ssh://HOST",
        "--stage NAME",
        "inside the image",
    ] {
        assert!(stderr.contains(choice), "`{choice}` not in:\n{stderr}");
    }
    assert!(
        stdout.is_empty(),
        "the table does not repeat the error: {stdout}"
    );
    assert_error_reports(d, "r.json", "r.xml", "--stage NAME");

    // `--stage` takes a `[targets]` name, and only one.
    let (code, stdout, stderr) =
        envsync(d, &["check", "--stage", "saved", "--against", "saved.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("checked:  saved"), "{stdout}");
    let (code, _, stderr) = envsync(d, &["check", "--stage", "prod", "--against", "saved.json"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no stage `prod` in `[targets]`") && stderr.contains("`saved`"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_target_still_writes_every_report() {
    // The engine must answer, so the error is the container's, not the engine's.
    base_image().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let gone = "docker:envsync-e2e-no-such-container";
    let (code, _, stderr) = envsync(
        d,
        &[
            "check",
            "--target",
            gone,
            "--against",
            "saved.json",
            "--junit",
            "check.xml",
            "--json",
            "check.json",
            "--markdown",
            "check.md",
            "--format",
            "sarif=check.sarif",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(gone), "{stderr}");
    assert_error_reports(d, "check.json", "check.xml", gone);
    assert!(read(d, "check.md").contains("ERROR"));
    let sarif = read(d, "check.sarif");
    envsync_testsupport::oracles::validate_sarif(&sarif);
    let log: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );

    // Two targets: the same for `diff`.
    let (code, _, stderr) = envsync(
        d,
        &[
            "diff",
            "saved.json",
            gone,
            "--junit",
            "diff.xml",
            "--json",
            "diff.json",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_error_reports(d, "diff.json", "diff.xml", gone);

    // A fleet whose reference is unreachable: every target is reported as an error.
    let (code, _, stderr) = envsync(
        d,
        &[
            "diff",
            gone,
            "saved.json",
            "saved.json",
            "--json",
            "fleet.json",
            "--junit",
            "fleet.xml",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    let fleet: Value = serde_json::from_str(&read(d, "fleet.json")).unwrap();
    assert_eq!(fleet["verdict"], "error", "{fleet}");
    let statuses: Vec<&str> = fleet["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["error", "error"], "{fleet}");
    assert!(read(d, "fleet.xml").contains(r#"errors="2""#));
}

/// Every `envsync check` line of docs/ci.md's CI examples.
fn documented_checks() -> Vec<String> {
    let doc = std::fs::read_to_string(workspace_root().join("docs/ci.md")).expect("docs/ci.md");
    doc.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("envsync check --junit"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_the_built_image_check_passes_as_docs_ci_runs_it() {
    base_image().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let (code, _, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = envsync(d, &["build", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let build: Value = serde_json::from_str(&stdout).expect("build JSON");
    let image = build["tag"].as_str().expect("tag");

    // The CI job's container: the checkout mounted as the working directory and the
    // envsync binary mounted in, as docs/ci.md does.
    let host_config = HostConfig {
        binds: Some(vec![
            format!("{}:/src", d.display()),
            format!(
                "{}:/usr/local/bin/envsync:ro",
                env!("CARGO_BIN_EXE_envsync")
            ),
        ]),
        ..HostConfig::default()
    };
    let c = TestContainer::run_with(image, "check-ci", &["sleep", "600"], host_config).await;
    let marker: Value =
        serde_json::from_str(&c.sh("cat /etc/envsync/environment.json").await).expect("marker");
    assert_eq!(marker["schema"], "envsync.environment/v1");
    assert_eq!(
        (marker["project"].as_str(), marker["image"].as_str()),
        (Some(PROJECT), Some("dev"))
    );
    assert!(
        marker["lock"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "built from the lock: {marker}"
    );

    let lines = documented_checks();
    assert!(
        lines.len() >= 3,
        "GitHub, GitLab and Jenkins each run check: {lines:?}"
    );
    for line in &lines {
        c.sh("rm -f /src/envsync.xml /src/envsync.sarif /src/envsync.md")
            .await;
        let out = c.exec(&["sh", "-c", &format!("cd /src && {line}")]).await;
        assert_eq!(out.exit_code, 0, "`{line}`:\n{}{}", out.stdout, out.stderr);
        let junit = read(d, "envsync.xml");
        assert!(
            junit.contains(r#"failures="0""#) && junit.contains(r#"errors="0""#),
            "{junit}"
        );
        envsync_testsupport::oracles::validate_sarif(&read(d, "envsync.sarif"));
        assert!(read(d, "envsync.md").contains("PASS"));
    }

    let out = c
        .exec(&["sh", "-c", "cd /src && envsync check --format json"])
        .await;
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert_eq!(
        (report["verdict"].as_str(), report["other"].as_str()),
        (Some("pass"), Some("local"))
    );
    assert!(
        report["summary"]["compared"].as_u64() > Some(10),
        "{report}"
    );

    // Inside another project's environment, `check` refuses to treat it as this one's.
    c.sh(&format!(
        "mkdir -p /tmp/other && printf '%s' '{}' > /tmp/other/envsync.toml",
        manifest("someone-else")
    ))
    .await;
    let out = c
        .exec(&["envsync", "check", "-m", "/tmp/other/envsync.toml"])
        .await;
    assert_eq!(out.exit_code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("an environment of project `{PROJECT}`"))
            && out.stderr.contains("not of `someone-else`"),
        "{}",
        out.stderr
    );
}
