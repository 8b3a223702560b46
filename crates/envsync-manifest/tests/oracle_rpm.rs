//! Oracle: RPM version ordering against rpm's own comparison (`rpm.vercmp` in rpm's Lua,
//! which parses `epoch:version-release` and applies `rpmvercmp`), run once in one `rpm`
//! process over pairs generated here from a fixed seed.

use std::cmp::Ordering;
use std::process::Command;
use std::time::Instant;

use envsync_manifest::version::{compare, Ecosystem};

mod common;

use common::Rng;

/// One part (version or release) in the shapes Fedora, RHEL and SUSE use.
fn part(rng: &mut Rng) -> String {
    let mut s = rng
        .pick(&["1", "2", "0", "10", "01", "2023", "a", "rc"])
        .to_string();
    for _ in 0..rng.below(5) {
        s.push_str(rng.pick(&[".", ".", ".", "_", "+", "~", "^", ""]));
        s.push_str(rng.pick(&[
            "0", "1", "2", "9", "10", "001", "a", "b", "rc1", "git", "el9", "fc39", "p1", "beta",
        ]));
    }
    s
}

fn evr(rng: &mut Rng) -> String {
    let mut s = String::new();
    if rng.below(8) == 0 {
        s.push_str(rng.pick(&["0:", "1:", "2:", "10:"]));
    }
    s.push_str(&part(rng));
    if rng.below(4) != 0 {
        s.push('-');
        s.push_str(&part(rng));
    }
    s
}

/// rpm's own test cases (tests/rpmvercmp.at) and EVR edges.
const EDGE_CASES: &[(&str, &str)] = &[
    ("1.0", "1.0"),
    ("1.0", "2.0"),
    ("2.0.1", "2.0.1"),
    ("2.0", "2.0.1"),
    ("2.0.1a", "2.0.1"),
    ("5.5p1", "5.5p2"),
    ("5.5p10", "5.5p1"),
    ("10xyz", "10.1xyz"),
    ("xyz10", "xyz10.1"),
    ("xyz.4", "8"),
    ("5.5p2", "5.6p1"),
    ("6.0.rc1", "6.0"),
    ("10b2", "10a1"),
    ("1.0aa", "1.0a"),
    ("10.0001", "10.1"),
    ("10.0001", "10.0039"),
    ("4.999.9", "5.0"),
    ("20101121", "20101122"),
    ("2_0", "2_0"),
    ("2.0", "2_0"),
    ("a+", "a_"),
    ("+a", "_a"),
    ("+_", "_+"),
    ("1.0~rc1", "1.0"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~rc1~git123", "1.0~rc1"),
    ("1.0^", "1.0"),
    ("1.0^git1", "1.0"),
    ("1.0^git1", "1.0^git2"),
    ("1.0^git1", "1.01"),
    ("1.0^20160101", "1.0.1"),
    ("1.0^20160101^git1", "1.0^20160101"),
    ("1.0~rc1^git1", "1.0~rc1"),
    ("1.0^git1~pre", "1.0^git1"),
    ("1:1.0-1", "2.0-1"),
    ("0:1.0-1", "1.0-1"),
    ("1.0", "1.0-1"),
    ("1.0-1.el9", "1.0-1.el9_2"),
    ("3.0.7-24.el9", "3.0.7-25.el9"),
    ("1.0-1", "1.0-1~bootstrap"),
];

const SCRIPT: &str = r#"%{lua:
local out = io.open(DIR .. "/pairs.out", "w")
for line in io.lines(DIR .. "/pairs.txt") do
  local a, b = line:match("^(.-)\t(.*)$")
  out:write(rpm.vercmp(a, b), "\n")
end
out:close()
}"#;

#[test]
fn rpm_versions_order_like_rpm() {
    let start = Instant::now();
    let mut rng = Rng(0x5eed_0499);
    let mut pairs: Vec<(String, String)> = EDGE_CASES
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    while pairs.len() < 20_000 {
        let a = evr(&mut rng);
        // Half the pairs share a prefix, where the comparison goes deepest.
        let b = if rng.below(2) == 0 {
            let cut = rng.below(a.len() + 1);
            let mut b = a[..cut].to_string();
            b.push_str(&part(&mut rng));
            b
        } else {
            evr(&mut rng)
        };
        pairs.push((a, b));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("pairs.txt"),
        pairs
            .iter()
            .map(|(a, b)| format!("{a}\t{b}\n"))
            .collect::<String>(),
    )
    .expect("write corpus");
    let script = SCRIPT.replace("DIR", &format!("{:?}", dir.path().display().to_string()));
    let out = Command::new("rpm")
        .args(["--eval", &script])
        .output()
        .unwrap_or_else(|e| {
            panic!("`rpm` is needed for this oracle test (`apt-get install rpm`): {e}")
        });
    assert!(
        out.status.success(),
        "rpm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = std::fs::read_to_string(dir.path().join("pairs.out")).expect("rpm output");
    let results: Vec<&str> = results.lines().collect();
    assert_eq!(
        results.len(),
        pairs.len(),
        "rpm answered {} of {} pairs",
        results.len(),
        pairs.len()
    );

    let mut bad = Vec::new();
    let mut counts = [0usize; 3];
    for ((a, b), theirs) in pairs.iter().zip(&results) {
        let theirs = match *theirs {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            other => panic!("rpm.vercmp(`{a}`, `{b}`) answered `{other}`"),
        };
        counts[(theirs as i8 + 1) as usize] += 1;
        let ours = compare(Ecosystem::Rpm, a, b);
        if ours != theirs {
            bad.push(format!("{a} vs {b}: ours {ours:?}, rpm {theirs:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} pairs disagree with rpm:\n{}",
        bad.len(),
        pairs.len(),
        bad.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
    println!(
        "rpm oracle: {} pairs agree with rpm.vercmp ({} less, {} equal, {} greater; {} from rpm's own test suite) in {:.1}s",
        pairs.len(),
        counts[0],
        counts[1],
        counts[2],
        EDGE_CASES.len(),
        start.elapsed().as_secs_f64()
    );
}
