//! Fleets as operations run them: targets from an Ansible inventory (`--inventory`,
//! `--limit`, its `group_vars/` and `host_vars/`), from a list (`--targets-from`, `-` for standard input) and from
//! `[targets]` groups; hosts with the same drift grouped; a per-host `--timeout`; and
//! the reports where operations look: OpenMetrics read by `prometheus_client`'s parsers
//! (the Prometheus text and the strict OpenMetrics one) and the HTML page rendered by
//! headless Chromium, its DOM asserted and its screenshot kept under target/.
//!
//! Live hosts are reached through a stand-in for ssh (`ENVSYNC_SSH`) that records its
//! arguments and runs the collection script on this machine, so the test sees exactly
//! which destination, user and port envsync asked ssh for.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use envsync_testsupport::oracles::{oracle_python, run_oracle};
use serde_json::Value;

mod util;

use util::{chromium_dom, envsync_command, run, screenshot};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// prod.json with openssl at `version` (and without curl when `drop_curl`).
fn variant(version: &str, drop_curl: bool) -> String {
    let prod = std::fs::read_to_string(golden_dir().join("prod.json")).expect("prod");
    let mut text = prod.replace(
        "\"3.0.11-1~deb12u2\", \"arch\": \"amd64\" },\n    { \"ecosystem\": \"deb\", \"name\": \"tzdata\"",
        &format!("\"{version}\", \"arch\": \"amd64\" }},\n    {{ \"ecosystem\": \"deb\", \"name\": \"tzdata\""),
    );
    if drop_curl {
        text = text.replace("    { \"ecosystem\": \"deb\", \"name\": \"curl\", \"version\": \"7.88.1-10+deb12u8\", \"arch\": \"amd64\" },\n", "");
    }
    text
}

/// A fleet of snapshot files in `dir`: prod.json (the reference), web-1..3 with openssl
/// 3.0.13 (the same drift), web-4 identical, db-1 with openssl older and curl missing.
fn snapshots(dir: &Path) {
    let prod = std::fs::read_to_string(golden_dir().join("prod.json")).expect("prod");
    std::fs::write(dir.join("prod.json"), &prod).expect("write");
    for i in 1..=3 {
        std::fs::write(
            dir.join(format!("web-{i}.json")),
            variant("3.0.13-1~deb12u1", false),
        )
        .expect("write");
    }
    std::fs::write(dir.join("web-4.json"), &prod).expect("write");
    std::fs::write(dir.join("db-1.json"), variant("3.0.9-1~deb12u1", true)).expect("write");
}

/// A stand-in for ssh: records its arguments in `log`, then runs what follows the
/// destination (`sh -s TOKEN`) here, after `delay` seconds.
fn fake_ssh(dir: &Path, log: &Path, delay: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-ssh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nsleep {delay}\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift 2\nexec \"$@\"\n",
            log.display()
        ),
    )
    .expect("write fake ssh");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// The ssh calls the fake ssh logged, sorted: `-p PORT ` when one was given, then the
/// destination and the command.
fn ssh_calls(log: &Path) -> Vec<String> {
    let mut calls: Vec<String> = std::fs::read_to_string(log)
        .expect("ssh log")
        .lines()
        .map(|l| {
            // The options before `--` (BatchMode, ConnectTimeout) are the same for all.
            let (_, tail) = l.split_once("-- ").expect("`--` before the destination");
            let port = l
                .split_once("-p ")
                .map(|(_, p)| format!("-p {} ", &p[..4]))
                .unwrap_or_default();
            format!("{port}{}", tail.rsplit_once(' ').expect("a token").0)
        })
        .collect();
    calls.sort();
    calls
}

#[test]
fn inventory_hosts_are_reached_as_ansible_describes_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("ssh.log");
    let ssh = fake_ssh(tmp.path(), &log, 0);
    std::fs::write(
        tmp.path().join("hosts.ini"),
        "[web]\nweb[01:02] ansible_host=127.0.0.1\nweb-canary ansible_port=2222\n\n[db]\ndb-1 ansible_user=postgres\n\n[web:vars]\nansible_user=deploy\n",
    )
    .expect("inventory");
    let (code, stdout, stderr) = run(envsync_command()
        .current_dir(tmp.path())
        .env("ENVSYNC_SSH", &ssh)
        .args([
            "diff",
            "ssh://reference-host",
            "--inventory",
            "hosts.ini",
            "--limit",
            "web:!web02",
            "--format",
            "json",
        ]));
    assert_eq!(code, 0, "the same machine everywhere is parity: {stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    let targets: Vec<(&str, &str)> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| (t["target"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(targets, [("web01", "parity"), ("web-canary", "parity")]);
    assert_eq!(
        report["groups"][0]["hosts"],
        serde_json::json!(["web01", "web-canary"])
    );
    assert_eq!(
        ssh_calls(&log),
        [
            "-p 2222 deploy@web-canary sh -s",
            "deploy@127.0.0.1 sh -s",
            "reference-host sh -s",
        ]
    );

    // A pattern that selects nothing, and a bad inventory line, are errors naming them.
    let (code, _, stderr) = run(envsync_command().current_dir(tmp.path()).args([
        "diff",
        "ssh://r",
        "--inventory",
        "hosts.ini",
        "--limit",
        "mail",
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("hosts.ini: no host matches `--limit mail`"),
        "{stderr}"
    );
    std::fs::write(
        tmp.path().join("bad.ini"),
        "[web]\nweb-1 ansible_port=http\n",
    )
    .expect("write");
    let (code, _, stderr) = run(envsync_command()
        .current_dir(tmp.path())
        .args(["diff", "ssh://r", "-i", "bad.ini", "--json", "bad.json"]));
    assert_eq!(code, 2);
    assert!(
        stderr
            .contains("bad.ini:2: host `web-1`: `ssh://web-1:http` is not a valid ssh destination"),
        "{stderr}"
    );
    // The report asked for is still written, saying error and why.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("bad.json")).unwrap())
            .expect("json");
    assert_eq!(report["verdict"], "error");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .starts_with("bad.ini:2: host `web-1`"),
        "{report}"
    );
}

#[test]
fn group_vars_and_host_vars_reach_ssh() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("ssh.log");
    let ssh = fake_ssh(tmp.path(), &log, 0);
    for (name, body) in [
        (
            "hosts.ini",
            "[web]\nweb-1 ansible_host=127.0.0.1\nweb-2 ansible_host=127.0.0.1\n",
        ),
        ("group_vars/all.yml", "ansible_user: deploy\n"),
        ("group_vars/web/main.yml", "ansible_port: 2201\n"),
        ("group_vars/web/vault.yml", "db_password: s3cret\n"),
        ("host_vars/web-2.yml", "ansible_port: 2222\n"),
        ("vault-password", "correct horse battery staple\n"),
    ] {
        let path = tmp.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, body).expect("write");
    }
    let password = tmp.path().join("vault-password").display().to_string();
    let vault = tmp.path().join("group_vars/web/vault.yml");
    run_oracle(
        "ansible-vault",
        &[
            "encrypt",
            "--vault-password-file",
            &password,
            &vault.display().to_string(),
        ],
        None,
    );
    let (code, _, stderr) = run(envsync_command()
        .current_dir(tmp.path())
        .env("ENVSYNC_SSH", &ssh)
        .args(["diff", "ssh://reference-host", "-i", "hosts.ini"]));
    assert_eq!(code, 0, "the same machine everywhere is parity: {stderr}");
    assert!(
        stderr.contains("warning: `group_vars/web/vault.yml` is encrypted with Ansible Vault; envsync has no vault password and skips it"),
        "{stderr}"
    );
    assert_eq!(
        ssh_calls(&log),
        [
            "-p 2201 deploy@127.0.0.1 sh -s",
            "-p 2222 deploy@127.0.0.1 sh -s",
            "reference-host sh -s",
        ]
    );

    // A malformed file is an error naming it and its line, before any host is reached.
    std::fs::remove_file(&log).expect("clear the log");
    std::fs::write(
        tmp.path().join("group_vars/all.yml"),
        "ansible_user: deploy\nansible_port: [2201\n",
    )
    .expect("write");
    let (code, _, stderr) = run(envsync_command()
        .current_dir(tmp.path())
        .env("ENVSYNC_SSH", &ssh)
        .args(["diff", "ssh://reference-host", "-i", "hosts.ini"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("group_vars/all.yml:3: not valid YAML"),
        "{stderr}"
    );
    assert!(!log.exists(), "no host is reached");
}

#[test]
fn groups_lists_and_grouped_reports() {
    let tmp = tempfile::tempdir().expect("tempdir");
    snapshots(tmp.path());
    std::fs::write(
        tmp.path().join("envsync.toml"),
        "[project]\nname = \"fleet\"\n\n[base]\nimage = \"debian:bookworm\"\n\n[targets]\nweb = [\"web-1.json\", \"web-2.json\", \"web-3.json\", \"web-4.json\"]\n",
    )
    .expect("manifest");
    // `[targets]` group on the command line, the rest from standard input.
    let mut cmd = envsync_command();
    cmd.current_dir(tmp.path())
        .args([
            "diff",
            "prod.json",
            "web",
            "--targets-from",
            "-",
            "--format",
            "json=fleet.json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("envsync");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"# the databases\ndb-1.json\n\nweb-2.json  # twice: compared once\n")
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("envsync ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "drift: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "3 hosts: deb:openssl 3.0.13-1~deb12u1 ↑ patch\n  web-1.json, web-2.json, web-3.json\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 host: parity\n  web-4.json\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "1 host: deb:curl missing, deb:openssl 3.0.9-1~deb12u1 ↓ patch\n  db-1.json\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("same drift (3 hosts)"),
        "the matrix has a column per group: {stdout}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("fleet.json")).unwrap())
            .expect("json");
    let hosts: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        [
            "web-1.json",
            "web-2.json",
            "web-3.json",
            "web-4.json",
            "db-1.json"
        ]
    );
    assert_eq!(report["groups"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(report["groups"][0]["drift"][0]["name"], "openssl");

    // A group is not a reference, and a group is not one `check --stage`.
    let (code, _, stderr) =
        run(envsync_command()
            .current_dir(tmp.path())
            .args(["diff", "web", "prod.json"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the reference `web` is a group"),
        "{stderr}"
    );
}

#[test]
fn a_host_past_its_timeout_is_reported_and_the_others_compared() {
    let tmp = tempfile::tempdir().expect("tempdir");
    snapshots(tmp.path());
    let log = tmp.path().join("ssh.log");
    let ssh = fake_ssh(tmp.path(), &log, 30);
    let started = Instant::now();
    let (code, stdout, stderr) = run(envsync_command()
        .current_dir(tmp.path())
        .env("ENVSYNC_SSH", &ssh)
        .args([
            "diff",
            "prod.json",
            "web-1.json",
            "ssh://slow-host",
            "--timeout",
            "2s",
        ]));
    assert_eq!(code, 2, "an unreachable host is an error");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stdout.contains("1 host could not be collected\n  ssh://slow-host: "),
        "{stdout}"
    );
    assert!(
        stderr.contains("ssh://slow-host") && stderr.contains("2s"),
        "{stderr}"
    );
    // ssh itself gives up connecting within the host's time limit.
    let ssh_args = std::fs::read_to_string(&log).expect("the stand-in ssh ran");
    assert!(ssh_args.contains("ConnectTimeout=2 "), "{ssh_args}");
    let (code, _, stderr) =
        run(envsync_command().args(["diff", "a.json", "b.json", "c.json", "--timeout", "soon"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("`soon` is not a duration"), "{stderr}");
}

const PARSE_METRICS: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families as prometheus
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
text = open(sys.argv[1]).read()
list(prometheus(text))
for family in openmetrics(text):
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s %s{%s} %g" % (family.type, s.name, labels, s.value))
"#;

#[test]
fn openmetrics_parse_with_prometheus_client() {
    let tmp = tempfile::tempdir().expect("tempdir");
    snapshots(tmp.path());
    let (code, _, stderr) = run(envsync_command().current_dir(tmp.path()).args([
        "diff",
        "prod.json",
        "web-1.json",
        "web-4.json",
        "db-1.json",
        "gone.json",
        "--format",
        "openmetrics=fleet.prom",
    ]));
    assert_eq!(code, 2, "{stderr}");
    let out = Command::new(oracle_python())
        .args(["-c", PARSE_METRICS])
        .arg(tmp.path().join("fleet.prom"))
        .output()
        .expect("python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<&str> = text.lines().collect();
    for expected in [
        "gauge envsync_target_up{reference=prod.json,target=gone.json} 0",
        "gauge envsync_target_up{reference=prod.json,target=web-1.json} 1",
        "gauge envsync_drift_components{kind=changed,reference=prod.json,target=web-1.json} 1",
        "gauge envsync_drift_components{kind=missing,reference=prod.json,target=db-1.json} 1",
        "gauge envsync_drift_components{kind=changed,reference=prod.json,target=web-4.json} 0",
        "gauge envsync_targets{reference=prod.json,status=error} 1",
        "gauge envsync_targets{reference=prod.json,status=drift} 2",
        "gauge envsync_targets{reference=prod.json,status=parity} 1",
    ] {
        assert!(samples.contains(&expected), "{expected} not in:\n{text}");
    }
    assert!(
        !samples
            .iter()
            .any(|s| s.contains("envsync_drift_components") && s.contains("gone.json")),
        "no drift gauge for a target that was not collected:\n{text}"
    );
}

#[test]
fn html_report_renders_in_chromium() {
    let tmp = tempfile::tempdir().expect("tempdir");
    snapshots(tmp.path());
    let (code, _, stderr) = run(envsync_command().current_dir(tmp.path()).args([
        "diff",
        "prod.json",
        "web-1.json",
        "web-2.json",
        "web-4.json",
        "db-1.json",
        "gone.json",
        "--format",
        "html=fleet.html",
    ]));
    assert_eq!(code, 2, "{stderr}");
    let page = tmp.path().join("fleet.html");
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains(" src="),
        "self-contained"
    );
    let url = format!("file://{}", page.display());
    let dom = chromium_dom(&url, &tmp.path().join("profile"));
    // The DOM Chromium built: the verdict, one group per distinct drift (web-1 and web-2
    // together), the matrix with a column per group, and a section per host.
    assert!(dom.contains("<p id=\"verdict\" class=\"verdict error\">drift: 3 of 5 targets drift, 1 could not be collected — ERROR</p>"), "{dom}");
    assert_eq!(dom.matches("<li class=\"group ").count(), 4, "{dom}");
    assert!(dom.contains("<span class=\"phrase\">2 hosts: deb:openssl 3.0.13-1~deb12u1 ↑ patch</span>: <a href=\"#host-0\">web-1.json</a> <a href=\"#host-1\">web-2.json</a>"), "{dom}");
    assert_eq!(dom.matches("<section class=\"host\"").count(), 5, "{dom}");
    assert!(dom.contains("id=\"host-4\" data-status=\"error\""), "{dom}");
    let header = dom
        .split("<thead>")
        .nth(1)
        .and_then(|t| t.split("</thead>").next())
        .expect("matrix header");
    assert_eq!(
        header.matches("<th").count(),
        2 + 4,
        "component, reference, 4 groups: {header}"
    );

    screenshot(&url, "fleet-report.png", &tmp.path().join("profile"));
}

/// On a terminal, standard error shows each target as it finishes and a progress line;
/// anywhere else it stays quiet. The terminal is util-linux's `script` (a pseudo-terminal).
#[test]
fn progress_on_a_terminal_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    snapshots(tmp.path());
    let bin = env!("CARGO_BIN_EXE_envsync");
    let line = format!("{bin} diff prod.json web-1.json db-1.json gone.json -o report.txt");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(tmp.path())
        .env("ENVSYNC_HASH_KEY", util::TEST_HASH_KEY)
        .output()
        .expect("script (util-linux)");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("collected web-1.json ("), "{tty}");
    assert!(
        tty.contains("could not collect gone.json: cannot read snapshot"),
        "{tty}"
    );
    assert!(tty.contains("[4/4] 1 failed"), "{tty}");
    let (code, stdout, stderr) = run(envsync_command().current_dir(tmp.path()).args([
        "diff",
        "prod.json",
        "web-1.json",
        "db-1.json",
        "gone.json",
        "-o",
        "report.txt",
    ]));
    assert_eq!(code, 2);
    assert!(
        stdout.is_empty() && !stderr.contains("collected web-1") && !stderr.contains("[4/4]"),
        "{stderr}"
    );
}

#[test]
fn stream_prints_each_target_as_it_is_compared() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    snapshots(tmp.path());
    let log = tmp.path().join("ssh.log");
    let ssh = fake_ssh(tmp.path(), &log, 30);
    let mut child = envsync_command()
        .current_dir(tmp.path())
        .env("ENVSYNC_SSH", &ssh)
        .args(["diff", "prod.json", "web-1.json", "db-1.json", "web-4.json"])
        .args(["ssh://slow-host", "--timeout", "3s", "--stream"])
        .args(["--format", "json=fleet.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run envsync");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut line = || -> Value {
        let text = lines.next().expect("a line").expect("read a line");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    // The three snapshot files are compared while the slow host is still collected.
    let first: Vec<Value> = (0..3).map(|_| line()).collect();
    assert!(
        child.try_wait().expect("poll envsync").is_none(),
        "envsync ended before the slow host timed out"
    );
    let slow = line();
    let end = line();
    let status = child.wait().expect("wait for envsync");
    assert_eq!(status.code(), Some(2), "a host that timed out is an error");

    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("fleet.json")).expect("fleet.json"),
    )
    .expect("fleet.json is JSON");
    let mut streamed = first.clone();
    streamed.push(slow.clone());
    for target in report["targets"].as_array().expect("targets") {
        let name = target["target"].as_str().expect("a target name");
        let line = streamed
            .iter()
            .find(|l| l["target"] == name)
            .unwrap_or_else(|| panic!("no line for {name}: {streamed:?}"));
        assert_eq!(line["schema"], "envsync.diff-stream/v1");
        assert_eq!(line["reference"], "prod.json");
        assert_eq!(line["status"], target["status"], "{name}");
        assert_eq!(line["summary"], target["summary"], "{name}");
        let drift: Vec<&Value> = report["drift"]
            .as_array()
            .expect("drift")
            .iter()
            .filter(|d| d["target"] == name)
            .collect();
        let line_drift: Vec<&Value> = line["drift"].as_array().expect("drift").iter().collect();
        assert_eq!(line_drift, drift, "{name}");
    }
    assert_eq!(slow["target"], "ssh://slow-host");
    assert_eq!(slow["status"], "error");
    assert!(
        slow["error"].as_str().unwrap_or("").contains("3s"),
        "{slow}"
    );
    assert_eq!(end["done"], true);
    assert_eq!(end["verdict"], report["verdict"]);
    assert_eq!(
        (end["targets"].as_u64(), end["parity"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(
        (end["drift"].as_u64(), end["error"].as_u64()),
        (Some(2), Some(1))
    );

    // A report on standard output would mix with the lines.
    let (code, _, stderr) = run(envsync_command().current_dir(tmp.path()).args([
        "diff",
        "prod.json",
        "web-1.json",
        "--stream",
        "--format",
        "json",
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`--stream` writes its JSON lines to standard output"),
        "{stderr}"
    );
}
