//! End-to-end tests of `envsync audit` and `envsync history` against a real engine, with
//! an SQLite store and with a real PostgreSQL (Debian's server, started by the test
//! support): an audit, a package upgraded inside the container, a second audit, and the
//! history names both versions (as dpkg-query reads them inside the container) and the
//! time. The package is a local .deb the test builds, so no mirror decides its versions.
//! The HTML pages of `audit --format html` and `diff --store` are opened in headless
//! Chromium, and each host's History section is read from the DOM it built.

use std::path::Path;
use std::process::Command;

use envsync_testsupport::{base_image, unique_name, PostgresServer, TestContainer};
use serde_json::Value;

mod util;

use util::{chromium_dom, envsync_command, run, screenshot};

/// Build `envsync-probe` at `version` inside the container and install it with dpkg;
/// returns the version dpkg-query then reports (the oracle).
async fn install_probe(container: &TestContainer, version: &str) -> String {
    let script = format!(
        "set -e; d=/tmp/probe-{version}; mkdir -p $d/DEBIAN; \
         printf 'Package: envsync-probe\\nVersion: {version}\\nArchitecture: all\\nMaintainer: envsync tests <tests@example.invalid>\\nDescription: a package whose version the history test controls\\n' > $d/DEBIAN/control; \
         dpkg-deb --build $d /tmp/probe-{version}.deb >/dev/null; dpkg -i /tmp/probe-{version}.deb >/dev/null; \
         dpkg-query -W -f '${{Version}}' envsync-probe"
    );
    container.sh(&script).await
}

/// The time now as envsync writes it, read from `date` (the oracle for timestamps).
fn now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run envsync with the store given by `store_args` (and `env`); returns code, stdout, stderr.
fn envsync(store: &Store, args: &[&str]) -> (i32, String, String) {
    let mut cmd = envsync_command();
    cmd.args(args).env_remove("ENVSYNC_HISTORY_STORE");
    match store {
        Store::Flag(spec) => {
            cmd.args(["--store", spec]);
        }
        Store::DataHome(dir) => {
            cmd.env("XDG_DATA_HOME", dir);
        }
    }
    run(&mut cmd)
}

enum Store {
    /// `--store SPEC`.
    Flag(String),
    /// No `--store`: the default file under this `XDG_DATA_HOME`.
    DataHome(std::path::PathBuf),
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{stdout}"))
}

/// The whole story against one store.
async fn audit_change_audit(store: Store) {
    let image = base_image().await;
    let container = TestContainer::run(&image, "audit", &["sleep", "infinity"]).await;
    let target = format!("docker:{}", container.name());
    let old = install_probe(&container, "1.0-1").await;

    let (code, stdout, _) = envsync(&store, &["audit", &target, "--format", "json"]);
    assert_eq!(code, 0, "a first audit is a baseline");
    let doc = json(&stdout);
    assert_eq!(doc["schema"], "envsync.audit/v1");
    assert_eq!(doc["targets"][0]["status"], "baseline");
    assert!(
        doc["targets"][0]["components"].as_u64().unwrap_or(0) > 10,
        "{doc}"
    );

    let (code, stdout, _) = envsync(&store, &["audit", &target, "--format", "json"]);
    assert_eq!(code, 0, "nothing changed");
    let doc = json(&stdout);
    assert_eq!(doc["targets"][0]["status"], "unchanged");
    let second_audit = doc["targets"][0]["at"].as_str().expect("at").to_string();

    let new = install_probe(&container, "1.2-1").await;
    assert_ne!(old, new);
    let before = now();
    let (code, stdout, _) = envsync(&store, &["audit", &target]);
    let after = now();
    assert_eq!(code, 1, "a change since the last audit exits 1");
    assert!(
        stdout.contains(&format!("{target}: 1 change since {second_audit}")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{old} → {new} ↑")), "{stdout}");

    let (code, stdout, _) = envsync(
        &store,
        &["history", &target, "envsync-probe", "--format", "json"],
    );
    assert_eq!(code, 0);
    let doc = json(&stdout);
    assert_eq!(doc["schema"], "envsync.history/v1");
    assert_eq!(doc["collections"], 3);
    let changes = doc["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{doc}");
    let change = &changes[0];
    assert_eq!(
        (&change["ecosystem"], &change["name"], &change["kind"]),
        (&"deb".into(), &"envsync-probe".into(), &"changed".into())
    );
    assert_eq!(change["old"], old.as_str());
    assert_eq!(change["new"], new.as_str());
    assert_eq!(change["direction"], "newer");
    let at = change["at"].as_str().expect("at");
    assert!(
        before.as_str() <= at && at <= after.as_str(),
        "{before} <= {at} <= {after}"
    );
    assert_eq!(change["since"], second_audit.as_str());
    assert_eq!(doc["current"][0]["version"], new.as_str());

    // Every change of the target: exactly the probe's (nothing else moved).
    let (code, stdout, _) = envsync(&store, &["history", &target]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("{target}: 3 collections")),
        "{stdout}"
    );
    assert!(stdout.contains("deb:envsync-probe"), "{stdout}");
    assert!(stdout.contains(&format!("{old} → {new} ↑")), "{stdout}");

    // An unreachable target is reported and stored as a failed collection; the
    // reachable one is still stored, and the exit code is 2.
    let missing = format!("docker:{}", unique_name("audit-missing"));
    let (code, stdout, stderr) = envsync(&store, &["audit", &target, &missing, "--keep", "3"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stdout.contains(&format!("{target}: unchanged since")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{missing}: collection failed")),
        "{stdout}"
    );
    assert!(
        stdout.contains("retention: removed 1 collections"),
        "{stdout}"
    );
    assert!(stderr.contains(&missing), "{stderr}");
    let (code, stdout, _) = envsync(&store, &["history", &missing, "--format", "json"]);
    assert_eq!(code, 0);
    let doc = json(&stdout);
    assert_eq!(
        (&doc["collections"], &doc["failed"]),
        (&1.into(), &1.into())
    );
    // Retention kept 3 collections of the container, and with them the change.
    let (_, stdout, _) = envsync(&store, &["history", &target, "--format", "json"]);
    let doc = json(&stdout);
    assert_eq!(doc["collections"], 3);
    assert_eq!(doc["changes"].as_array().map(Vec::len), Some(1));

    let (code, _, stderr) = envsync(&store, &["history", "docker:never-audited"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("envsync audit docker:never-audited"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sqlite_history_of_a_changed_container() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    audit_change_audit(Store::DataHome(data.clone())).await;
    assert!(
        Path::new(&data).join("envsync/history.sqlite").is_file(),
        "the default store is in the user's data directory"
    );
}

#[tokio::test]
async fn postgres_history_of_a_changed_container() {
    let server = PostgresServer::start().expect("start PostgreSQL");
    audit_change_audit(Store::Flag(server.url())).await;
}

#[test]
fn bad_retention_and_bad_store_exit_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::Flag(dir.path().join("h.sqlite").display().to_string());
    let (code, _, stderr) = envsync(&store, &["audit", "local", "--retain", "90 days"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`90 days` is not a retention period"),
        "{stderr}"
    );
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    let store = Store::Flag(blocker.join("h.sqlite").display().to_string());
    let (code, _, stderr) = envsync(&store, &["history", "local"]);
    assert_eq!(code, 2);
    assert!(stderr.contains(&blocker.display().to_string()), "{stderr}");
}

/// The host sections of a page (as Chromium serialised it), in order.
fn host_sections(dom: &str) -> Vec<&str> {
    dom.split("<section class=\"host\"").skip(1).collect()
}

/// Two containers audited into a temporary SQLite store; a package upgraded in one;
/// audited again with `--format html`. The page, as headless Chromium builds it, lists
/// the upgrade in that host's history with both versions dpkg-query reported and the
/// times the store gives, and says the other host has no changes. `diff --store` shows
/// the same history, and says when the store has no audit of a host.
#[tokio::test]
async fn html_reports_show_each_hosts_history() {
    let image = base_image().await;
    let changed = TestContainer::run(&image, "audit-html", &["sleep", "infinity"]).await;
    let steady = TestContainer::run(&image, "audit-html", &["sleep", "infinity"]).await;
    let (a, b) = (
        format!("docker:{}", changed.name()),
        format!("docker:{}", steady.name()),
    );
    let old = install_probe(&changed, "1.0-1").await;
    install_probe(&steady, "1.0-1").await;
    let tmp = tempfile::tempdir().expect("tmp");
    let store_path = tmp.path().join("history.sqlite").display().to_string();
    let store = Store::Flag(store_path.clone());

    let (code, _, stderr) = envsync(&store, &["audit", &a, &b]);
    assert_eq!(code, 0, "{stderr}");
    let new = install_probe(&changed, "1.2-1").await;
    assert_ne!(old, new);
    let (code, page, stderr) = envsync(&store, &["audit", &a, &b, "--format", "html"]);
    assert_eq!(code, 1, "a change since the last audit exits 1: {stderr}");
    let file = tmp.path().join("audit.html");
    std::fs::write(&file, &page).expect("write the page");
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains(" src="),
        "self-contained"
    );

    // The store's own account (the JSON of `envsync history`) is what the page must show.
    let (_, stdout, _) = envsync(&store, &["history", &a, "--format", "json"]);
    let history = json(&stdout);
    let change = &history["changes"][0];
    let (first, last, at) = (
        history["first"].as_str().expect("first"),
        history["last"].as_str().expect("last"),
        change["at"].as_str().expect("at"),
    );

    let url = format!("file://{}", file.display());
    let dom = chromium_dom(&url, &tmp.path().join("profile"));
    assert!(
        dom.contains("<p id=\"verdict\" class=\"verdict drift\">audit: 1 of 2 targets changed, 0 failed — CHANGED"),
        "{dom}"
    );
    let hosts = host_sections(&dom);
    assert_eq!(hosts.len(), 2, "{dom}");
    let (a_section, b_section) = (hosts[0], hosts[1]);
    assert!(
        a_section.contains(&format!("<span class=\"name\">{a}</span>")),
        "{a_section}"
    );
    assert!(a_section.contains("data-status=\"changed\""), "{a_section}");
    assert!(
        a_section.contains("<section class=\"history\" data-changes=\"1\">"),
        "exactly the probe changed: {a_section}"
    );
    assert!(
        a_section.contains(&format!(
            "<tr><td class=\"at\"><time>{at}</time></td><td class=\"component\">deb:envsync-probe</td><td class=\"from\">{old}</td><td class=\"to\">{new} ↑</td></tr>"
        )),
        "{a_section}"
    );
    assert!(
        a_section.contains(&format!("<p class=\"audits\">2 audits, first <time class=\"first\">{first}</time>, last <time class=\"last\">{last}</time></p>")),
        "{a_section}"
    );
    assert!(
        b_section.contains(&format!("<span class=\"name\">{b}</span>")),
        "{b_section}"
    );
    assert!(
        b_section.contains("data-status=\"unchanged\""),
        "{b_section}"
    );
    assert!(
        b_section.contains("<p class=\"no-changes\">no changes in the audits stored</p>"),
        "{b_section}"
    );
    assert!(!b_section.contains("envsync-probe"), "{b_section}");
    screenshot(&url, "audit-report.png", &tmp.path().join("profile"));

    // `diff --store`: the fleet page with the same history for the audited host, and a
    // saved snapshot the store has never audited.
    let (code, snapshot, _) = run(envsync_command().args(["fingerprint", &b, "--format", "json"]));
    assert_eq!(code, 0);
    let saved = tmp.path().join("steady.json");
    std::fs::write(&saved, snapshot).expect("write");
    let saved = saved.display().to_string();
    let diff_page = tmp.path().join("diff.html");
    let (code, _, stderr) = run(envsync_command().args([
        "diff",
        &b,
        &a,
        &saved,
        "--format",
        &format!("html={}", diff_page.display()),
        "--store",
        &store_path,
    ]));
    assert_eq!(code, 1, "{stderr}");
    let dom = chromium_dom(
        &format!("file://{}", diff_page.display()),
        &tmp.path().join("profile"),
    );
    let hosts = host_sections(&dom);
    assert_eq!(hosts.len(), 2, "{dom}");
    assert!(
        hosts[0].contains(&format!("<td class=\"component\">deb:envsync-probe</td><td class=\"from\">{old}</td><td class=\"to\">{new} ↑</td>")),
        "{}",
        hosts[0]
    );
    assert!(
        hosts[1].contains("<p class=\"no-history\">no audit of this host is stored in"),
        "{}",
        hosts[1]
    );
    // A pair is a fleet of one host: the same History section.
    let pair_page = tmp.path().join("pair.html");
    let (code, _, stderr) = run(envsync_command().args([
        "diff",
        &b,
        &a,
        "--format",
        &format!("html={}", pair_page.display()),
        "--store",
        &store_path,
    ]));
    assert_eq!(code, 1, "{stderr}");
    let html = std::fs::read_to_string(&pair_page).expect("page");
    let hosts = host_sections(&html);
    assert_eq!(hosts.len(), 1, "{html}");
    assert!(
        hosts[0].contains(&format!("<td class=\"component\">deb:envsync-probe</td><td class=\"from\">{old}</td><td class=\"to\">{new} ↑</td>")),
        "{html}"
    );
    // Without --store, no History section, as before.
    let (code, _, _) = run(envsync_command().args([
        "diff",
        &b,
        &a,
        "--format",
        &format!("html={}", diff_page.display()),
    ]));
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(&diff_page).expect("page");
    assert!(!html.contains("<section class=\"history\""), "{html}");

    // `--store` without an HTML report, or naming no store, is refused before any
    // target is collected.
    let (code, _, stderr) = run(envsync_command().args(["diff", &b, &a, "--store", &store_path]));
    assert_eq!(code, 2);
    assert!(stderr.contains("no HTML report is written"), "{stderr}");
    let missing = tmp.path().join("nope.sqlite");
    let (code, _, stderr) = run(envsync_command().args([
        "diff",
        &b,
        &a,
        "--format",
        &format!("html={}", tmp.path().join("x.html").display()),
        "--store",
        &missing.display().to_string(),
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!(
            "history store `{}` does not exist",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(!missing.exists(), "a mistyped store is not created");
}
