//! `envsync check` against a real container that drifted: one Debian, one PyPI and one
//! npm package moved to other versions make it fail naming exactly those three, with
//! their direction; putting them back makes it pass.

use std::collections::BTreeSet;

use envsync_testsupport::{fixture_image, TestContainer};
use serde_json::Value;

mod util;

use util::envsync;

/// The failing drift of a `check --format json` report as (id, kind, direction).
fn failing(report: &str) -> BTreeSet<(String, String, String)> {
    let v: Value = serde_json::from_str(report).expect("check JSON");
    assert_eq!(v["schema"], "envsync.diff/v1");
    v["drift"]
        .as_array()
        .expect("drift list")
        .iter()
        .filter(|d| d["status"] == "fail")
        .map(|d| {
            (
                format!(
                    "{}:{}",
                    d["ecosystem"].as_str().expect("ecosystem"),
                    d["name"].as_str().expect("name")
                ),
                d["kind"].as_str().expect("kind").to_string(),
                d["direction"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn check_names_exactly_the_three_drifted_packages_and_passes_once_restored() {
    let image = fixture_image("inventory").await;
    let c = TestContainer::run(&image, "check-drift", &["sleep", "infinity"]).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = format!("docker:{}", c.name());
    let check = || {
        envsync(
            d,
            &[
                "check",
                "--target",
                &target,
                "--against",
                "ref.json",
                "--format",
                "json",
            ],
        )
    };

    let (code, _, stderr) = envsync(
        d,
        &["fingerprint", &target, "--format", "json", "-o", "ref.json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = check();
    assert_eq!(
        code, 0,
        "an untouched container is in parity: {stdout}{stderr}"
    );

    // A Debian package that apt can move to another available version on its own,
    // without touching any other package (found inside the container, so the test
    // follows Debian's updates instead of naming versions).
    let pick = c
        .sh(r#"apt-get update -qq >/dev/null 2>&1
for p in $(dpkg-query -W -f '${Package}\n'); do
  cur=$(dpkg-query -W -f '${Version}' "$p")
  for v in $(apt-cache madison "$p" 2>/dev/null | awk '{print $3}' | grep -vxF "$cur"); do
    if [ "$(apt-get install -s --allow-downgrades "$p=$v" 2>/dev/null | grep -c '^Inst')" = 1 ]; then
      echo "$p $cur $v"; exit 0
    fi
  done
done
exit 1"#)
        .await;
    let fields: Vec<&str> = pick.split_whitespace().collect();
    let (deb, deb_now, deb_other) = (fields[0], fields[1], fields[2]);
    // One shell command moves all three packages to the given versions.
    let move_to = |deb_version: &str, attrs: &str, is_number: &str| {
        format!(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades {deb}={deb_version} >/dev/null 2>&1 \
             && pip install -q --break-system-packages --disable-pip-version-check attrs=={attrs} 2>/dev/null \
             && npm install -g --silent --no-audit --no-fund is-number@{is_number} >/dev/null"
        )
    };
    c.sh(&move_to(deb_other, "23.1.0", "6.0.0")).await;

    let (code, stdout, stderr) = check();
    assert_eq!(code, 1, "{stderr}");
    let deb_direction =
        if envsync_manifest::version::compare(envsync_manifest::Ecosystem::Deb, deb_other, deb_now)
            == std::cmp::Ordering::Greater
        {
            "newer"
        } else {
            "older"
        };
    let expected: BTreeSet<(String, String, String)> = [
        (
            format!("deb:{deb}"),
            "changed".to_string(),
            deb_direction.to_string(),
        ),
        (
            "pypi:attrs".to_string(),
            "changed".to_string(),
            "older".to_string(),
        ),
        (
            "npm:is-number".to_string(),
            "changed".to_string(),
            "older".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(failing(&stdout), expected, "{stdout}");

    // The same drift for CI: GitHub workflow commands on stdout, SARIF in a file that
    // validates against the OASIS schema, one error result per failing component.
    let (code, stdout, stderr) = envsync(
        d,
        &[
            "check",
            "--target",
            &target,
            "--against",
            "ref.json",
            "--format",
            "github",
            "--format",
            "sarif=envsync.sarif",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let errors: BTreeSet<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::error title=envsync%3A "))
        .filter_map(|l| l.split_once(" changed::").map(|(id, _)| id))
        .collect();
    let ids: BTreeSet<String> = expected
        .iter()
        .map(|(id, _, _)| id.replace(':', "%3A"))
        .collect();
    assert_eq!(errors, ids.iter().map(String::as_str).collect(), "{stdout}");
    let sarif = std::fs::read_to_string(d.join("envsync.sarif")).expect("the SARIF file");
    envsync_testsupport::oracles::validate_sarif(&sarif);
    let log: Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
    let failing_results = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["level"] == "error")
        .count();
    assert_eq!(failing_results, 3, "{sarif}");

    // Put them back: parity again.
    c.sh(&move_to(deb_now, "23.2.0", "7.0.0")).await;
    let (code, stdout, stderr) = check();
    assert_eq!(code, 0, "{stdout}{stderr}");
}
