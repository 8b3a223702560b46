//! envsync's SARIF output validates against the OASIS SARIF 2.1.0 schema (kept in
//! envsync-testsupport's `data/`, source named in its README), checked by Python's `jsonschema` from the
//! oracle virtualenv `scripts/test-tools.sh` prepares; and its results say what the check
//! found, where.

use envsync_drift::check::{evaluate, FailRule, Rules, SourceRef};
use envsync_drift::compare::diff;
use envsync_drift::fleet::{Fleet, FleetTarget};
use envsync_drift::report::{render, render_fleet, Format};
use envsync_drift::snapshot::{Package, Snapshot};
use envsync_manifest::policy::{Date, DriftKind, Ignore};
use envsync_manifest::Ecosystem;
use envsync_testsupport::oracles::validate_sarif;

fn snap(target: &str, packages: &[(&str, &str)]) -> Snapshot {
    let mut s = Snapshot::new(target);
    s.packages = packages
        .iter()
        .map(|(name, version)| Package::new(Ecosystem::Deb, name, version))
        .collect();
    s.packages.sort_by(|a, b| a.key().cmp(&b.key()));
    s
}

/// The lock, and a target where openssl moved, curl is gone, tzdata is ignored, one
/// ignore has expired and a package name carries a terminal escape.
fn checked() -> envsync_drift::check::Checked {
    let reference = snap(
        "envsync.lock",
        &[
            ("openssl", "3.0.15-1~deb12u1"),
            ("curl", "7.88.1-10+deb12u8"),
            ("tzdata", "2024a-0+deb12u1"),
            ("libpq5", "15.10-0+deb12u1"),
        ],
    );
    let target = snap(
        "docker:api dev",
        &[
            ("openssl", "3.0.11-1~deb12u2"),
            ("tzdata", "2025b-0+deb12u1"),
            ("libpq5", "15.12-0+deb12u1"),
            ("\x1b]0;PWNED\x07", "1"),
        ],
    );
    let rules = Rules {
        fail_on: [DriftKind::Missing, DriftKind::Changed]
            .into_iter()
            .map(FailRule::Kind)
            .collect(),
        ignore: vec![
            Ignore {
                component: "deb:tzdata".into(),
                reason: "time zones follow the host".into(),
                until: Date::parse("2999-01-01"),
                line: Some(31),
            },
            Ignore {
                component: "deb:libpq5".into(),
                reason: "waiting for the point release".into(),
                until: Date::parse("2020-01-01"),
                line: Some(35),
            },
        ],
        ignore_file: Some("envsync.toml".into()),
    };
    let locate = |d: &envsync_drift::compare::Drift| {
        (d.name == "openssl").then(|| SourceRef {
            file: "envsync.toml".into(),
            line: 20,
            entry: Some("openssl = \"3.0.*\"".into()),
        })
    };
    evaluate(
        diff(&reference, &target),
        &rules,
        Date::parse("2026-11-29").expect("a valid date"),
        &locate,
    )
}

#[test]
fn check_sarif_validates_and_locates_each_result() {
    let sarif = render(Format::Sarif, &checked(), false);
    validate_sarif(&sarif);
    let log: serde_json::Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("rule id"))
        .collect();
    let results = run["results"].as_array().expect("results");
    let by_message = |needle: &str| {
        results
            .iter()
            .find(|r| r["message"]["text"].as_str().unwrap_or("").contains(needle))
            .unwrap_or_else(|| panic!("no result mentions {needle}:\n{sarif}"))
    };
    for r in results {
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index], r["ruleId"], "ruleIndex points at ruleId");
    }
    let openssl = by_message("openssl");
    assert_eq!(openssl["ruleId"], "changed");
    assert_eq!(openssl["level"], "error");
    let place = &openssl["locations"][0]["physicalLocation"];
    assert_eq!(place["artifactLocation"]["uri"], "envsync.toml");
    assert_eq!(place["region"]["startLine"], 20);
    assert_eq!(by_message("curl")["ruleId"], "missing");
    assert_eq!(by_message("PWNED")["ruleId"], "extra");
    assert_eq!(
        by_message("PWNED")["level"],
        "warning",
        "extra is not a fail rule here"
    );
    let tzdata = by_message("tzdata");
    assert_eq!(tzdata["level"], "note");
    assert_eq!(tzdata["suppressions"][0]["kind"], "external");
    assert!(tzdata["suppressions"][0]["justification"]
        .as_str()
        .unwrap_or("")
        .contains("time zones follow the host"));
    let expired = by_message("expired on 2020-01-01");
    assert_eq!(expired["ruleId"], "expired-ignore");
    assert_eq!(
        expired["locations"][0]["physicalLocation"]["region"]["startLine"],
        35
    );
    assert!(
        !sarif.contains('\x1b') && !sarif.contains('\x07'),
        "raw control characters:\n{sarif}"
    );
}

#[test]
fn fleet_sarif_validates() {
    let reference = snap("prod.json", &[("openssl", "3.0.15-1~deb12u1")]);
    let fleet = Fleet {
        reference: reference.target.clone(),
        targets: vec![
            FleetTarget {
                name: "ssh://web-1".into(),
                result: Ok(diff(
                    &reference,
                    &snap("web-1", &[("openssl", "3.0.11-1~deb12u2")]),
                )),
            },
            FleetTarget {
                name: "ssh://web-2".into(),
                result: Err("ssh: connect to host web-2 port 22: Connection refused".into()),
            },
        ],
    };
    let sarif = render_fleet(Format::Sarif, &fleet, false);
    validate_sarif(&sarif);
    let log: serde_json::Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    let ids: Vec<&str> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["ruleId"].as_str().expect("ruleId"))
        .collect();
    assert_eq!(ids, ["changed", "unreadable-target"]);
}

#[test]
fn github_commands_point_at_manifest_lines() {
    let text = render(Format::Github, &checked(), false);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"::error file=envsync.toml,line=20,title=envsync%3A deb%3Aopenssl changed::changed: 3.0.15-1~deb12u1 -> 3.0.11-1~deb12u2 (older, patch)%0Afix: apt-get install openssl=3.0.15-1~deb12u1"),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "::error file=envsync.toml,line=35,title=envsync%3A ignore deb%3Alibpq5 expired::"
        )),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::notice title=envsync%3A deb%3Atzdata changed::")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("::warning title=")),
        "{text}"
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("drift: ")),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text}");
}
