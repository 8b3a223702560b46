//! Oracle: apk ordering, fuzzy matching and validity against test data in apk-tools' own
//! format (`test/unit/version.data` of the apk-tools repository, read the way its
//! `test/unit/version_test.c` reads it). apk-tools itself is not packaged where the tests
//! run, so its data stands in for it, and every run checks:
//!
//! - `tests/data/apk-versions.data`, cases written for envsync;
//! - `tests/data/apk-tools-version.data`, apk-tools' own `test/unit/version.data`, kept
//!   unchanged below a header naming its repository, commit and license (GPL-2.0-only;
//!   test data only);
//! - in addition, when `ENVSYNC_APK_VERSION_DATA` names a file (another apk-tools
//!   revision, say), that file too.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use envsync_manifest::version::apk;

/// apk-tools' `apk_version_result_mask_blob`: `<`, `>`, `=` and `~` (fuzzy, with equal)
/// as bits; any other character makes the mask empty.
const LESS: u8 = 1;
const EQUAL: u8 = 2;
const GREATER: u8 = 4;
const FUZZY: u8 = 8;

fn mask(op: &str) -> u8 {
    let mut m = 0;
    for c in op.chars() {
        m |= match c {
            '<' => LESS,
            '>' => GREATER,
            '=' => EQUAL,
            '~' => FUZZY | EQUAL,
            _ => return 0,
        };
    }
    m
}

/// apk-tools' `apk_version_match`.
fn matches(left: &str, mask: u8, right: &str) -> bool {
    if mask & (LESS | EQUAL | GREATER) == LESS | EQUAL | GREATER {
        return true;
    }
    let ord = if mask & FUZZY != 0 {
        apk::compare_fuzzy(left, right)
    } else {
        apk::compare(left, right)
    };
    let bit = match ord {
        Ordering::Less => LESS,
        Ordering::Equal => EQUAL,
        Ordering::Greater => GREATER,
    };
    bit & mask != 0
}

/// One line, as `version_test_one` reads it: `None` for a blank or comment line, else
/// whether envsync agrees.
fn check_line(line: &str) -> Option<bool> {
    let arg = line.split('#').next().unwrap_or("").trim();
    if arg.is_empty() {
        return None;
    }
    let split = arg
        .split_once(' ')
        .and_then(|(v1, rest)| rest.split_once(' ').map(|(op, v2)| (v1, op, v2)));
    let ok = match split {
        Some((v1, op, v2)) => {
            let (invert, op) = match op.strip_prefix('!') {
                Some(op) => (true, op),
                None => (false, op),
            };
            matches(v1, mask(op), v2) != invert
        }
        None => {
            let (invert, v) = match arg.strip_prefix('!') {
                Some(v) => (true, v),
                None => (false, arg),
            };
            apk::validate(v).is_ok() != invert
        }
    };
    Some(ok)
}

/// Runs every line of `path`; returns (cases, disagreements).
fn run(path: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
    let mut cases = 0;
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match check_line(line) {
            None => {}
            Some(true) => cases += 1,
            Some(false) => {
                cases += 1;
                bad.push(format!("{}:{}: `{line}`", path.display(), n + 1));
            }
        }
    }
    (cases, bad)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn apk_matches_apk_tools_version_data() {
    let ours = data("apk-versions.data");
    let (cases, mut bad) = run(&ours);
    assert!(cases > 80, "only {cases} cases in `{}`", ours.display());
    let upstream = data("apk-tools-version.data");
    let (upstream_cases, more) = run(&upstream);
    assert!(
        upstream_cases > 500,
        "only {upstream_cases} cases in `{}`",
        upstream.display()
    );
    bad.extend(more);
    let mut report = format!(
        "apk oracle: {cases} cases of envsync's apk-versions.data and {upstream_cases} of \
         apk-tools' test/unit/version.data ({}) checked",
        upstream.display()
    );
    if let Some(extra) = std::env::var_os("ENVSYNC_APK_VERSION_DATA") {
        let extra = PathBuf::from(extra);
        assert!(
            extra.exists(),
            "ENVSYNC_APK_VERSION_DATA names `{}`, which does not exist",
            extra.display()
        );
        let (n, more) = run(&extra);
        assert!(n > 500, "only {n} cases in `{}`", extra.display());
        bad.extend(more);
        report.push_str(&format!(
            "; {n} of `{}` (ENVSYNC_APK_VERSION_DATA)",
            extra.display()
        ));
    }
    assert!(
        bad.is_empty(),
        "{} lines where envsync's apk ordering disagrees:\n{}",
        bad.len(),
        bad.join("\n")
    );
    println!("{report}; all agree");
}
