//! Oracle: apk ordering, fuzzy matching and validity against test data in apk-tools' own
//! format (`test/unit/version.data` of the apk-tools repository, read the way its
//! `test/unit/version_test.c` reads it). apk-tools itself is not packaged where the tests
//! run, so its data stands in for it:
//!
//! - `tests/data/apk-versions.data`, cases written for envsync, always;
//! - apk-tools' own file, when there is one: the path in `ENVSYNC_APK_VERSION_DATA`, else
//!   `shared/data/apk-tools/version.data` beside the repository. Code and data fetched
//!   from other repositories are not committed here, so that file is provided from
//!   outside; when it is missing the test says so and runs envsync's cases only.

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

fn upstream_data() -> PathBuf {
    match std::env::var_os("ENVSYNC_APK_VERSION_DATA") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/apk-tools/version.data"),
    }
}

#[test]
fn apk_matches_apk_tools_version_data() {
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apk-versions.data");
    let (cases, mut bad) = run(&ours);
    assert!(cases > 80, "only {cases} cases in `{}`", ours.display());
    let upstream = upstream_data();
    let upstream_report = if upstream.exists() {
        let (n, more) = run(&upstream);
        assert!(n > 500, "only {n} cases in `{}`", upstream.display());
        bad.extend(more);
        format!("{n} lines of apk-tools' `{}` agree", upstream.display())
    } else {
        assert!(
            std::env::var_os("ENVSYNC_APK_VERSION_DATA").is_none(),
            "ENVSYNC_APK_VERSION_DATA names `{}`, which does not exist",
            upstream.display()
        );
        format!(
            "apk-tools' own version.data not run: no file at `{}` (set ENVSYNC_APK_VERSION_DATA)",
            upstream.display()
        )
    };
    assert!(
        bad.is_empty(),
        "{} lines where envsync's apk ordering disagrees:\n{}",
        bad.len(),
        bad.join("\n")
    );
    println!("apk oracle: {cases} cases of envsync's apk-versions.data agree; {upstream_report}");
}
