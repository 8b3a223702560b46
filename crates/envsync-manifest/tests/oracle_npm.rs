//! Oracle: npm version parsing, ordering and range matching against node's own `semver`
//! package (the copy bundled with npm), run once in one `node` process over a corpus
//! generated here from a fixed seed.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use envsync_manifest::version::npm::{Range, SemVer};
use envsync_manifest::version::{compare, Constraint, Ecosystem};

mod common;

use common::Rng;

fn number(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => "01".into(),
        1 => "9007199254740991".into(),
        2 => "9007199254740992".into(),
        3 => "10".into(),
        _ => format!("{}", rng.below(5)),
    }
}

fn prerelease(rng: &mut Rng) -> String {
    let n = 1 + rng.below(3);
    (0..n)
        .map(|_| {
            rng.pick(&[
                "alpha", "beta", "rc", "0", "1", "2", "10", "x-y", "1a", "-", "01", "B", "alpha1",
            ])
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn build(rng: &mut Rng) -> String {
    let n = 1 + rng.below(2);
    (0..n)
        .map(|_| rng.pick(&["build", "001", "sha-abc", "5", "x"]).to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// A version as people write them in package.json files and lock files, sometimes broken.
fn version(rng: &mut Rng, plain: bool) -> String {
    let mut s = String::new();
    if !plain && rng.chance(8) {
        s.push_str(rng.pick(&["v", "V", "=", " ", "v ", "=v"]));
    }
    let parts = if !plain && rng.chance(8) {
        1 + rng.below(2)
    } else {
        3
    };
    s.push_str(
        &(0..parts)
            .map(|_| number(rng))
            .collect::<Vec<_>>()
            .join("."),
    );
    if rng.chance(30) {
        s.push('-');
        s.push_str(&prerelease(rng));
    }
    if rng.chance(12) {
        s.push('+');
        s.push_str(&build(rng));
    }
    if !plain {
        if rng.chance(5) {
            let junk = rng.pick(&[".", "-", "+", "x", " ", "..", "_"]);
            let at = rng.below(s.len() + 1);
            s.insert_str(at, junk);
        }
        if rng.chance(3) {
            s.push(' ');
        }
    }
    s
}

/// A partial version for a range: `1`, `1.2`, `1.2.3`, with `x`, `X` or `*` holes.
fn partial(rng: &mut Rng) -> String {
    let parts = 1 + rng.below(3);
    let mut s = String::new();
    if rng.chance(8) {
        s.push_str(rng.pick(&["v", "=", "v="]));
    }
    let p: Vec<String> = (0..parts)
        .map(|_| {
            if rng.chance(15) {
                rng.pick(&["x", "X", "*"]).to_string()
            } else {
                number(rng)
            }
        })
        .collect();
    s.push_str(&p.join("."));
    if parts == 3 && rng.chance(30) {
        s.push('-');
        s.push_str(&prerelease(rng));
    }
    if rng.chance(5) {
        s.push('+');
        s.push_str(&build(rng));
    }
    s
}

fn comparator(rng: &mut Rng) -> String {
    let op = rng.pick(&["", "", "=", "<", "<=", ">", ">=", "~", "~>", "^", "^", "~"]);
    let space = if rng.chance(10) { " " } else { "" };
    format!("{op}{space}{}", partial(rng))
}

fn range(rng: &mut Rng) -> String {
    let sets = if rng.chance(25) { 2 } else { 1 };
    let mut out = Vec::new();
    for _ in 0..sets {
        let set = match rng.below(12) {
            0 => format!("{} - {}", partial(rng), partial(rng)),
            1 => rng
                .pick(&[
                    "*", "", "x", ">=0.0.0", "<0.0.0-0", "latest", "1.2.3 -", "|| 1",
                ])
                .to_string(),
            _ => {
                let n = 1 + rng.below(3);
                (0..n)
                    .map(|_| comparator(rng))
                    .collect::<Vec<_>>()
                    .join(rng.pick(&[" ", " ", "  "]))
            }
        };
        out.push(set);
    }
    out.join(rng.pick(&[" || ", "||", " ||"]))
}

/// A version near the numbers a range mentions, to probe its edges.
fn near(rng: &mut Rng, range: &str) -> String {
    let nums: Vec<&str> = range
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty() && s.len() < 6)
        .collect();
    let pick = |rng: &mut Rng| -> String {
        if nums.is_empty() || rng.chance(20) {
            return format!("{}", rng.below(5));
        }
        let n: u64 = nums[rng.below(nums.len())].parse().unwrap_or(0);
        match rng.below(4) {
            0 => n.saturating_sub(1).to_string(),
            1 => (n + 1).to_string(),
            _ => n.to_string(),
        }
    };
    let mut s = format!("{}.{}.{}", pick(rng), pick(rng), pick(rng));
    if rng.chance(30) {
        let _ = write!(s, "-{}", prerelease(rng));
    }
    if rng.chance(5) {
        let _ = write!(s, "+{}", build(rng));
    }
    s
}

const SCRIPT: &str = r#"
const path = require('path'), fs = require('fs');
// npm's bundled copy: beside this node (nodesource, nvm, official tarballs), or where
// Debian's own nodejs/npm packages put it.
const candidates = [
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'semver'),
  '/usr/lib/node_modules/npm/node_modules/semver',
  '/usr/share/nodejs/semver',
  '/usr/lib/nodejs/semver',
];
const dir = candidates.find(d => fs.existsSync(path.join(d, 'package.json')));
if (!dir) { console.error('npm\'s semver package not found in ' + candidates.join(', ') + '; install npm'); process.exit(3); }
const semver = require(dir);
const d = process.argv[process.argv.length - 1];
const lines = n => { const t = fs.readFileSync(d + '/' + n, 'utf8').split('\n'); t.pop(); return t; };
const versions = lines('versions.txt');
const valid = versions.map(v => semver.valid(v));
const uniq = [...new Set(valid.filter(x => x !== null))].sort(semver.compare);
const rank = new Map();
let r = 0;
uniq.forEach((v, i) => { if (i > 0 && semver.compare(uniq[i - 1], v) !== 0) r++; rank.set(v, r); });
fs.writeFileSync(d + '/versions.out', valid.map(v => v === null ? 'I\n' : 'N\t' + v + '\t' + rank.get(v) + '\n').join(''));
const ranges = lines('ranges.txt');
fs.writeFileSync(d + '/ranges.out', ranges.map(x => { try { new semver.Range(x); return 'V\n'; } catch (e) { return 'I\n'; } }).join(''));
const pairs = lines('pairs.txt').map(l => { const i = l.indexOf('\t'); return [ranges[+l.slice(0, i)], l.slice(i + 1)]; });
fs.writeFileSync(d + '/pairs.out', pairs.map(([x, v]) => semver.satisfies(v, x) ? 'T\n' : 'F\n').join(''));
console.log(require(dir + '/package.json').version + ' at ' + dir);
"#;

#[test]
fn npm_matches_node_semver() {
    let start = Instant::now();
    let mut rng = Rng(0x5eed_0a9a);
    let dir = tempfile::tempdir().expect("temp dir");

    let mut versions: Vec<String> = (0..6000).map(|_| version(&mut rng, false)).collect();
    versions.extend(
        [
            "1.2.3",
            "v1.2.3",
            "=1.2.3",
            " 1.2.3 ",
            "1.2",
            "01.2.3",
            "1.2.3-01",
            "1.2.3-0a",
            "1.2.3+build.5",
            "1.2.3-rc.1+build",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3.4",
            "9007199254740991.0.0",
            "9007199254740992.0.0",
            "1.2.3-9007199254740992",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for n in [249, 250, 251, 300] {
        versions.push(format!("1.2.3-{}", "a".repeat(n)));
        versions.push(format!("1.2.3+{}", "b".repeat(n)));
    }
    std::fs::write(dir.path().join("versions.txt"), versions.join("\n") + "\n")
        .expect("write corpus");

    let mut ranges: Vec<String> = (0..4000).map(|_| range(&mut rng)).collect();
    ranges.extend(
        [
            "^4.18.2",
            "~1.2.3",
            "~1.2",
            "~1",
            "^0.2.3",
            "^0.0.3",
            "^0.0",
            "^0",
            "^1.2.3-beta.2",
            "1.2.3 - 2.3.4",
            "1.2 - 2.3.4",
            "1.2.3 - 2.3",
            "1.2.3 - 2",
            ">=1.2.3 <2.0.0",
            "1.x",
            "1.2.X",
            "*",
            "x",
            "X",
            "",
            ">1",
            "<=1.2",
            ">=1.2.3-alpha.1",
            "1.2.3 || >=2.0.0-rc.1 <2.1",
            "~> 1.2",
            "^ 1.2",
            "> = 1.2",
            ">= 1.2.3",
            "v1.2.3",
            "=1.2.3",
            "x || 1.0.0",
            "<0.0.0-0 || 1.0.0",
            "1.2.3+build",
            "1.2.3 - 2.3.4+build",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    // Identifier runs past node-semver's 250-character bound take its bounded expressions.
    for n in [249, 250, 251, 256, 257, 300] {
        let run = "a".repeat(n);
        let digits = format!("1{}", "0".repeat(n - 1));
        ranges.push(format!("1.2.3-{run}"));
        ranges.push(format!("^1.2.3-{run} || 2"));
        ranges.push(format!(">=1.0.0-x.{run} <2"));
        ranges.push(format!("~1.{digits}"));
        ranges.push(format!("1.2.3+{run}"));
        ranges.push(format!("1.2.{digits} - 2"));
    }
    std::fs::write(dir.path().join("ranges.txt"), ranges.join("\n") + "\n").expect("write corpus");
    let ranges_ours: Vec<Option<Range>> = ranges.iter().map(|r| Range::parse(r).ok()).collect();

    let mut pairs = Vec::new();
    for (i, r) in ranges.iter().enumerate() {
        if ranges_ours[i].is_none() {
            continue;
        }
        for _ in 0..8 {
            let v = if rng.chance(10) {
                version(&mut rng, false)
            } else {
                near(&mut rng, r)
            };
            pairs.push((i, v));
        }
    }
    // Pre-releases against every spelling of "any version": node-semver lets none match.
    for any in ["*", "x", "X"] {
        let i = ranges.iter().position(|r| r == any).expect("listed above");
        for v in ["1.2.3-foo", "1.2.3", "0.0.0-0"] {
            pairs.push((i, v.to_string()));
        }
    }
    std::fs::write(
        dir.path().join("pairs.txt"),
        pairs
            .iter()
            .map(|(i, v)| format!("{i}\t{v}\n"))
            .collect::<String>(),
    )
    .expect("write corpus");

    let oracle_start = Instant::now();
    let out = Command::new("node")
        .args(["-e", SCRIPT])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("node (with npm's bundled semver) is needed for this oracle test: {e}")
        });
    let oracle_secs = oracle_start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "node failed to run npm's semver: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let semver_version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(name))
            .expect("oracle output")
            .lines()
            .map(str::to_string)
            .collect()
    };

    let mut bad = Vec::new();

    // 1. Validity and the normalised version.
    let vout = read("versions.out");
    assert_eq!(vout.len(), versions.len());
    let mut ranked: Vec<(&str, usize)> = Vec::new();
    for (v, line) in versions.iter().zip(&vout) {
        let mut fields = line.split('\t');
        match (fields.next(), SemVer::parse(v)) {
            (Some("I"), None) => {}
            (Some("N"), Some(ours)) => {
                let theirs = fields.next().unwrap_or("");
                if ours.as_str() != theirs {
                    bad.push(format!(
                        "normalise `{v}`: ours `{}`, semver `{theirs}`",
                        ours.as_str()
                    ));
                }
                ranked.push((v, fields.next().and_then(|r| r.parse().ok()).expect("rank")));
            }
            (theirs, ours) => bad.push(format!(
                "validity of `{v:?}`: ours {:?}, semver {theirs:?}",
                ours.map(|o| o.as_str().to_string())
            )),
        }
    }
    let valid = ranked.len();

    // 2. Ordering: sorted neighbours decide every pair; random pairs on top.
    ranked.sort_by(|a, b| compare(Ecosystem::Npm, a.0, b.0));
    for w in ranked.windows(2) {
        let ours = compare(Ecosystem::Npm, w[0].0, w[1].0);
        if ours != w[0].1.cmp(&w[1].1) {
            bad.push(format!("order `{}` vs `{}`: ours {ours:?}", w[0].0, w[1].0));
        }
    }
    let mut direct = 0;
    for _ in 0..20_000 {
        let (a, b) = (ranked[rng.below(valid)], ranked[rng.below(valid)]);
        let ours = compare(Ecosystem::Npm, a.0, b.0);
        if ours != a.1.cmp(&b.1) {
            bad.push(format!("order `{}` vs `{}`: ours {ours:?}", a.0, b.0));
        }
        direct += 1;
    }

    // 3. Range validity.
    let rout = read("ranges.out");
    let mut valid_ranges = 0;
    for ((r, line), ours) in ranges.iter().zip(&rout).zip(&ranges_ours) {
        let theirs = line == "V";
        valid_ranges += usize::from(theirs);
        if theirs != ours.is_some() {
            bad.push(format!(
                "range validity `{r}`: ours {}, semver {theirs}",
                ours.is_some()
            ));
        }
    }

    // 4. satisfies.
    let pout = read("pairs.out");
    assert_eq!(pout.len(), pairs.len());
    let mut satisfied = 0;
    let mut constrained = 0;
    for ((i, v), line) in pairs.iter().zip(&pout) {
        let Some(r) = &ranges_ours[*i] else { continue };
        let ours = r.satisfies(v);
        let theirs = line == "T";
        satisfied += usize::from(theirs);
        if ours != theirs {
            bad.push(format!(
                "`{v}` satisfies `{}`: ours {ours}, semver {theirs}",
                ranges[*i]
            ));
        }
        // The same range written in a manifest (`*` included); only the empty range is
        // refused there, where `*` says "any version".
        match Constraint::parse(Ecosystem::Npm, &ranges[*i]) {
            Ok(c) => {
                constrained += 1;
                if c.matches(v) != theirs {
                    bad.push(format!(
                        "`{v}` matches the manifest constraint `{}`: ours {}, semver {theirs}",
                        ranges[*i],
                        c.matches(v)
                    ));
                }
            }
            Err(_) if ranges[*i].trim().is_empty() => {}
            Err(e) => bad.push(format!("manifest constraint `{}`: {e}", ranges[*i])),
        }
    }

    assert!(
        bad.is_empty(),
        "{} disagreements with node semver {semver_version}:\n{}",
        bad.len(),
        bad.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        valid > 3000 && valid_ranges > 1500 && satisfied > 1000,
        "corpus too thin: {valid} versions, {valid_ranges} ranges, {satisfied} satisfied"
    );
    println!(
        "npm oracle (node semver {semver_version}): {} versions ({valid} valid) agree on validity and normalisation; \
         ordering agrees on {} sorted neighbours (all {} pairs) and {direct} random pairs; \
         {} ranges ({valid_ranges} valid) agree on validity; {} (range, version) pairs agree on satisfies ({satisfied} true), \
         {constrained} of them also as manifest constraints, in {:.1}s ({:.1}s of it in node)",
        versions.len(),
        valid.saturating_sub(1),
        valid * (valid - 1) / 2,
        ranges.len(),
        pairs.len(),
        start.elapsed().as_secs_f64(),
        oracle_secs
    );
}
