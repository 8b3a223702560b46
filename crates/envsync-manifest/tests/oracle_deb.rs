//! Oracle: Debian version ordering against `dpkg --compare-versions`, on pairs drawn from
//! the real package indexes in /var/lib/apt/lists plus known edge cases.
//!
//! Each pair costs one dpkg process: we ask dpkg about the relation our implementation
//! claims (`lt`, `eq` or `gt`), which dpkg confirms with exit status 0 only if it agrees.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use envsync_manifest::version::{compare, deb, parse_version, Ecosystem};

mod common;

use common::Rng;

const LISTS: &str = "/var/lib/apt/lists";
const PAIRS: usize = 10_000;

/// `(package, version)` records of every `*_Packages*` index, decompressed by apt itself.
fn read_indexes() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(LISTS)
        .unwrap_or_else(|e| {
            panic!("cannot read {LISTS}: {e}; run `apt-get update` to download the package indexes")
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("_Packages"))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no package indexes (`*_Packages*`) in {LISTS}; run `apt-get update` to download them"
    );
    let mut records = Vec::new();
    for file in &files {
        let text = cat_file(file);
        let mut package = String::new();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("Package: ") {
                package = p.trim().to_string();
            } else if let Some(v) = line.strip_prefix("Version: ") {
                records.push((package.clone(), v.trim().to_string()));
            }
        }
    }
    assert!(
        records.len() > 1000,
        "only {} versions in {LISTS}; run `apt-get update` to download complete package indexes",
        records.len()
    );
    records
}

fn cat_file(file: &Path) -> String {
    let out = Command::new("/usr/lib/apt/apt-helper")
        .arg("cat-file")
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `/usr/lib/apt/apt-helper cat-file` (apt is needed to read {}): {e}",
                file.display()
            )
        });
    assert!(
        out.status.success(),
        "`apt-helper cat-file {}` failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Versions whose ordering dpkg's algorithm makes subtle.
const EDGE_CASES: &[(&str, &str)] = &[
    ("1.0~rc1", "1.0"),
    ("1:2.17.0", "2.2.9"),
    ("1.0-1", "1.0-1~bpo"),
    ("1.0-1~bpo11+1", "1.0-1"),
    ("1.0~~", "1.0~"),
    ("1.0~~a", "1.0~"),
    ("1.0~", "1.0"),
    ("1.0", "1.0-0"),
    ("1.0", "1.0.0"),
    ("1.0a", "1.0"),
    ("1.0a", "1.0+"),
    ("1.0+", "1.0."),
    ("1.0.", "1.0-0"),
    ("1.0-a", "1.0-+"),
    ("1.0a", "1.0A"),
    ("1.0Z", "1.0a"),
    ("0:1.0", "1.0"),
    ("00:1.0", "0:1.0"),
    ("1.002", "1.2"),
    ("1.02", "1.10"),
    ("2:0", "1:99999999999999999999"),
    ("1.99999999999999999999", "1.99999999999999999998"),
    ("1.0-1", "1.0-01"),
    ("1.0-1.1", "1.0-1+b1"),
    ("1.0+dfsg-1", "1.0-1"),
    ("1.0+dfsg1-1", "1.0+dfsg-1"),
    ("3.0.11-1~deb12u2", "3.0.15-1~deb12u1"),
    ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1.2.3-1ubuntu1", "1.2.3-1"),
    ("1.0~beta1~svn1245", "1.0~beta1"),
    ("1.0~beta1", "1.0~alpha2"),
    ("7.4.2+git20230101", "7.4.2"),
    ("1:1.0", "2:0.1"),
    ("10", "9"),
    ("1.0-1-1", "1.0-1"),
    ("1:1.0:1-1", "1:1.0:1"),
    ("1:1:1", "1:1"),
    ("0.0", "0"),
    ("a", "b"),
    ("1~", "1~0"),
    ("1.0-0.1", "1.0"),
    ("9.2.0~dfsg-1", "9.2~rc1-1"),
];

#[test]
fn deb_versions_order_like_dpkg() {
    let start = Instant::now();
    let dpkg_ok = Command::new("dpkg").arg("--version").output();
    assert!(
        dpkg_ok.as_ref().is_ok_and(|o| o.status.success()),
        "`dpkg` is needed for this oracle test: {dpkg_ok:?}"
    );
    let records = read_indexes();

    // Every real version is one we accept.
    let distinct: BTreeSet<&str> = records.iter().map(|(_, v)| v.as_str()).collect();
    let rejected: Vec<&&str> = distinct
        .iter()
        .filter(|v| parse_version(Ecosystem::Deb, v).is_err())
        .collect();
    assert!(rejected.is_empty(), "real versions rejected: {rejected:?}");

    let mut rng = Rng(0x5eed_deb0);
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    let add = |pairs: &mut BTreeSet<(String, String)>, a: &str, b: &str| {
        a != b && pairs.insert((a.to_string(), b.to_string()))
    };

    // Same package, different versions (the main archive against security and updates).
    let mut by_package: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (p, v) in &records {
        by_package.entry(p.as_str()).or_default().insert(v.as_str());
    }
    let mut same_package = 0;
    for versions in by_package.values().filter(|v| v.len() > 1) {
        let v: Vec<&&str> = versions.iter().collect();
        for i in 0..v.len() {
            for j in i + 1..v.len() {
                if same_package < PAIRS * 3 / 10 && add(&mut pairs, v[i], v[j]) {
                    same_package += 1;
                }
            }
        }
    }

    // Neighbours in text order share a prefix (same upstream, nearby revisions).
    let sorted: Vec<&str> = distinct.iter().copied().collect();
    let mut shared_prefix = 0;
    while shared_prefix < PAIRS * 3 / 10 {
        let i = rng.below(sorted.len() - 1);
        let (a, b) = (
            sorted[i],
            sorted[i + 1 + rng.below(3).min(sorted.len() - 2 - i)],
        );
        if add(&mut pairs, b, a) {
            shared_prefix += 1;
        }
    }

    let mut edge = 0;
    for (a, b) in EDGE_CASES {
        if add(&mut pairs, a, b) {
            edge += 1;
        }
    }

    // The rest: random pairs of real versions.
    let mut random = 0;
    while pairs.len() < PAIRS {
        let (a, b) = (
            sorted[rng.below(sorted.len())],
            sorted[rng.below(sorted.len())],
        );
        if add(&mut pairs, a, b) {
            random += 1;
        }
    }

    let pairs: Vec<(String, String)> = pairs.into_iter().collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let chunk = pairs.len().div_ceil(threads);
    let disagreements: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for (a, b) in part {
                        let ours = compare(Ecosystem::Deb, a, b);
                        let op = match ours {
                            Ordering::Less => "lt",
                            Ordering::Equal => "eq",
                            Ordering::Greater => "gt",
                        };
                        if !dpkg_says(a, op, b) {
                            bad.push(format!(
                                "{a} vs {b}: ours {ours:?}, dpkg disagrees with `{op}`"
                            ));
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("oracle thread"))
            .collect()
    });
    assert!(
        disagreements.is_empty(),
        "{} of {} pairs disagree with dpkg:\n{}",
        disagreements.len(),
        pairs.len(),
        disagreements.join("\n")
    );
    println!(
        "deb oracle: {} pairs agree with dpkg --compare-versions ({same_package} same-package, {shared_prefix} shared-prefix, {edge} edge cases, {random} random; {} real versions validated) in {:.1}s",
        pairs.len(),
        distinct.len(),
        start.elapsed().as_secs_f64()
    );
}

fn dpkg_says(a: &str, op: &str, b: &str) -> bool {
    let status = Command::new("dpkg")
        .args(["--compare-versions", a, op, b])
        // The C locale is built in: dpkg then skips loading locale files, a third of its start-up.
        .env("LC_ALL", "C")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run dpkg: {e}"));
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("dpkg --compare-versions `{a}` {op} `{b}` failed with {other:?}"),
    }
}

#[test]
fn change_sizes_on_real_upgrades() {
    use envsync_manifest::version::{change, ChangeSize, Direction};
    let c = change(Ecosystem::Deb, "3.0.11-1~deb12u2", "3.0.15-1~deb12u1");
    assert_eq!((c.direction, c.size), (Direction::Newer, ChangeSize::Patch));
    assert_eq!(deb::change_size("1:2.0-1", "2:1.0-1"), ChangeSize::Epoch);
}
