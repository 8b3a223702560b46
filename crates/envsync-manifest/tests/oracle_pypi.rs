//! Oracle: PEP 440 parsing, normalisation, ordering and specifier matching against the
//! `packaging` library that pip vendors, run once in one `python3` process over a corpus
//! generated here from a fixed seed.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use envsync_manifest::version::pypi::{normalize, SpecifierSet, Version};
use envsync_manifest::version::{compare, Ecosystem};

mod common;

use common::Rng;

const SEPS: &[&str] = &["", "", ".", "-", "_"];

fn number(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => format!("0{}", rng.below(10)),
        1 => format!("{}", 2000 + rng.below(30)),
        2 => "18446744073709551617".into(),
        _ => format!("{}", rng.below(12)),
    }
}

/// A version in any spelling packaging might meet, sometimes broken on purpose.
fn version(rng: &mut Rng, plain: bool) -> String {
    let mut s = String::new();
    if !plain && rng.chance(3) {
        s.push(' ');
    }
    if rng.chance(5) {
        s.push_str(rng.pick(&["v", "V"]));
    }
    if rng.chance(8) {
        let _ = write!(s, "{}!", rng.below(3));
    }
    let parts = 1 + rng.below(4);
    let release: Vec<String> = (0..parts).map(|_| number(rng)).collect();
    s.push_str(&release.join("."));
    if rng.chance(30) {
        s.push_str(rng.pick(SEPS));
        s.push_str(rng.pick(&[
            "a", "A", "alpha", "b", "beta", "Beta", "c", "rc", "RC", "pre", "preview",
        ]));
        s.push_str(rng.pick(SEPS));
        if rng.chance(80) {
            s.push_str(&number(rng));
        }
    }
    if rng.chance(20) {
        if rng.chance(30) {
            let _ = write!(s, "-{}", rng.below(5));
        } else {
            s.push_str(rng.pick(SEPS));
            s.push_str(rng.pick(&["post", "rev", "r", "POST"]));
            s.push_str(rng.pick(SEPS));
            if rng.chance(70) {
                s.push_str(&number(rng));
            }
        }
    }
    if rng.chance(20) {
        s.push_str(rng.pick(SEPS));
        s.push_str(rng.pick(&["dev", "DEV"]));
        s.push_str(rng.pick(SEPS));
        if rng.chance(70) {
            s.push_str(&number(rng));
        }
    }
    if rng.chance(12) {
        s.push('+');
        let n = 1 + rng.below(3);
        for i in 0..n {
            if i > 0 {
                s.push_str(rng.pick(&[".", "-", "_"]));
            }
            s.push_str(rng.pick(&["ubuntu", "1", "01", "abc", "deb12", "2", "Z9", "0"]));
        }
    }
    if !plain {
        if rng.chance(6) {
            // Break it: a stray character somewhere.
            let junk = rng.pick(&["..", "-", "+", "x", "!", "*", " ", "_", "é", "post-"]);
            let at = rng.below(s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert_str(at, junk);
            }
        }
        if rng.chance(3) {
            s.push_str(rng.pick(&[" ", "\t", "  "]));
        }
    }
    s
}

/// A version near `base`, to probe the edges of a specifier.
fn near(rng: &mut Rng, base: &str) -> String {
    let base = base.trim_end_matches(".*");
    match rng.below(12) {
        0 => base.to_string(),
        1 => format!("{base}.0"),
        2 => format!("{base}a1"),
        3 => format!("{base}.post1"),
        4 => format!("{base}.dev0"),
        5 => format!("{base}+local.1"),
        6 => format!("{base}rc1.dev1"),
        7 => format!("{base}.1"),
        8 => format!("{base}.post0.dev2"),
        9 => format!("{base}+1"),
        _ => version(rng, true),
    }
}

fn specifier_item(rng: &mut Rng) -> (String, String) {
    let op = rng.pick(&["~=", "==", "!=", "<=", ">=", "<", ">", "==="]);
    let mut v = version(rng, true);
    if (op == "==" || op == "!=") && rng.chance(30) {
        if rng.chance(80) {
            // A wildcard after a plain release (sometimes after more, which is invalid).
            v = v
                .split(['+', 'a', 'b', 'c', 'r', 'd', 'p', 'A', 'B', 'R', 'D', 'P'])
                .next()
                .unwrap_or("1")
                .to_string();
            v = v.trim_end_matches(['.', '-', '_']).to_string();
        }
        v.push_str(".*");
    }
    let space = if rng.chance(10) { " " } else { "" };
    (format!("{op}{space}{v}"), v)
}

const SCRIPT: &str = r#"
import sys, warnings
warnings.simplefilter("ignore")
from pip._vendor.packaging.version import Version, InvalidVersion
from pip._vendor.packaging.specifiers import Specifier, SpecifierSet, InvalidSpecifier
d = sys.argv[1]
def lines(name):
    with open(d + "/" + name, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]
versions = lines("versions.txt")
parsed = {}
for v in versions:
    try:
        parsed[v] = Version(v)
    except InvalidVersion:
        pass
rank = {p: i for i, p in enumerate(sorted(set(parsed.values())))}
with open(d + "/versions.out", "w", encoding="utf-8") as f:
    for v in versions:
        p = parsed.get(v)
        f.write("I\n" if p is None else "N\t%s\t%d\n" % (p, rank[p]))
specs = lines("specs.txt")
sets = []
with open(d + "/specs.out", "w") as f:
    for s in specs:
        try:
            for item in [i.strip() for i in s.split(",") if i.strip()]:
                Specifier(item)
            sets.append(SpecifierSet(s))
            f.write("V\n")
        except InvalidSpecifier:
            sets.append(None)
            f.write("I\n")
with open(d + "/pairs.out", "w") as f:
    for line in lines("pairs.txt"):
        i, v = line.split("\t", 1)
        f.write("T\n" if sets[int(i)].contains(v) else "F\n")
"#;

#[test]
fn pypi_matches_packaging() {
    let start = Instant::now();
    let mut rng = Rng(0x5eed_0440);
    let dir = tempfile::tempdir().expect("temp dir");

    let mut versions: Vec<String> = (0..6000).map(|_| version(&mut rng, false)).collect();
    versions.extend(
        [
            "1.0",
            "1.0.0",
            "1.0.0.0",
            "1!1.0",
            "1.0a1",
            "1.0alpha1",
            "1.0-ALPHA-1",
            "1.0.c1",
            "1.0pre",
            "1.0preview2",
            "1.0-1",
            "1.0_post_1",
            "1.0rev",
            "1.0.r.3",
            "1.0.dev",
            "1.0dev1",
            "1.0a..dev",
            "1.0+ubuntu-1",
            "1.0+UBUNTU.01",
            "v1.0",
            " 1.0\t",
            "1.0+",
            "1.0.",
            ".1.0",
            "1..0",
            "1.0-",
            "1.0a1b2",
            "1.0.post1.post2",
            "1.0.dev1.dev2",
            "1.0+a..b",
            "1.0a-1",
            "1.0-r1",
            "1.0-rc1",
            "1.0-dev",
            "1.0.post-1",
            "0001.0002",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    std::fs::write(dir.path().join("versions.txt"), versions.join("\n") + "\n")
        .expect("write corpus");

    let mut specs = Vec::new();
    let mut spec_bases = Vec::new();
    for _ in 0..3000 {
        let n = 1 + rng.below(3);
        let items: Vec<(String, String)> = (0..n).map(|_| specifier_item(&mut rng)).collect();
        let sep = if rng.chance(20) { ", " } else { "," };
        specs.push(
            items
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>()
                .join(sep),
        );
        spec_bases.push(items.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
    }
    std::fs::write(dir.path().join("specs.txt"), specs.join("\n") + "\n").expect("write corpus");

    let mut pairs = Vec::new();
    for (i, bases) in spec_bases.iter().enumerate() {
        for _ in 0..12 {
            let base = &bases[rng.below(bases.len())];
            pairs.push((i, near(&mut rng, base)));
        }
    }

    // Pairs are matched only for specifier sets we accept; validity itself is compared
    // separately, so a set we wrongly reject still fails the test.
    let specs_valid_ours: Vec<bool> = specs
        .iter()
        .map(|s| SpecifierSet::parse(s).is_ok())
        .collect();
    let pairs: Vec<(usize, String)> = pairs
        .into_iter()
        .filter(|(i, _)| specs_valid_ours[*i])
        .collect();
    std::fs::write(
        dir.path().join("pairs.txt"),
        pairs
            .iter()
            .map(|(i, v)| format!("{i}\t{v}\n"))
            .collect::<String>(),
    )
    .expect("write corpus");

    let oracle_start = Instant::now();
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this oracle test: {e}"));
    let oracle_secs = oracle_start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "python3 with pip's vendored packaging failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(name))
            .expect("oracle output")
            .lines()
            .map(str::to_string)
            .collect()
    };

    // 1. Validity and normalisation.
    let vout = read("versions.out");
    assert_eq!(vout.len(), versions.len());
    let mut bad = Vec::new();
    let mut ranked: Vec<(&str, usize)> = Vec::new();
    for (v, line) in versions.iter().zip(&vout) {
        let ours = normalize(v);
        let mut fields = line.split('\t');
        match (fields.next(), ours) {
            (Some("I"), None) => {}
            (Some("N"), Some(ours)) => {
                let theirs = fields.next().unwrap_or("");
                if ours != theirs {
                    bad.push(format!(
                        "normalise `{v}`: ours `{ours}`, packaging `{theirs}`"
                    ));
                }
                ranked.push((v, fields.next().and_then(|r| r.parse().ok()).expect("rank")));
            }
            (theirs, ours) => bad.push(format!(
                "validity of `{v:?}`: ours {ours:?}, packaging {theirs:?}"
            )),
        }
    }
    let valid = ranked.len();

    // 2. Ordering: sort by our order, then every neighbour must agree with packaging's
    // rank; both orders being total, that decides every pair. Random pairs on top.
    // Parse once for the sort; `compare` (the public entry point) checks the neighbours.
    let mut keyed: Vec<(Version, (&str, usize))> = ranked
        .into_iter()
        .map(|r| (Version::parse(r.0).expect("valid"), r))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let ranked: Vec<(&str, usize)> = keyed.into_iter().map(|(_, r)| r).collect();
    for w in ranked.windows(2) {
        let ours = compare(Ecosystem::Pypi, w[0].0, w[1].0);
        let theirs = w[0].1.cmp(&w[1].1);
        if ours != theirs {
            bad.push(format!(
                "order `{}` vs `{}`: ours {ours:?}, packaging {theirs:?}",
                w[0].0, w[1].0
            ));
        }
    }
    let mut direct = 0;
    for _ in 0..20_000 {
        let (a, b) = (ranked[rng.below(valid)], ranked[rng.below(valid)]);
        let ours = compare(Ecosystem::Pypi, a.0, b.0);
        if ours != a.1.cmp(&b.1) {
            bad.push(format!("order `{}` vs `{}`: ours {ours:?}", a.0, b.0));
        }
        direct += 1;
    }

    // 3. Specifier validity.
    let sout = read("specs.out");
    let mut valid_specs = 0;
    for ((s, line), ours) in specs.iter().zip(&sout).zip(&specs_valid_ours) {
        let theirs = line == "V";
        valid_specs += usize::from(theirs);
        if theirs != *ours {
            bad.push(format!(
                "specifier validity `{s}`: ours {ours}, packaging {theirs}"
            ));
        }
    }

    // 4. Matching.
    let pout = read("pairs.out");
    assert_eq!(pout.len(), pairs.len());
    let mut matched = 0;
    for ((i, v), line) in pairs.iter().zip(&pout) {
        let Ok(set) = SpecifierSet::parse(&specs[*i]) else {
            continue;
        };
        let ours = set.contains(v);
        let theirs = line == "T";
        matched += usize::from(theirs);
        if ours != theirs {
            bad.push(format!(
                "`{v}` in `{}`: ours {ours}, packaging {theirs}",
                specs[*i]
            ));
        }
    }

    assert!(
        bad.is_empty(),
        "{} disagreements with packaging:\n{}",
        bad.len(),
        bad.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        valid > 3000 && valid_specs > 1000 && matched > 1000,
        "corpus too thin: {valid} versions, {valid_specs} specifiers, {matched} matches"
    );
    println!(
        "pypi oracle: {} versions ({valid} valid, {} invalid) agree with packaging on validity and normalisation; \
         ordering agrees on {} sorted neighbours (all {} pairs) and {direct} random pairs; \
         {} specifier sets ({valid_specs} valid) agree on validity; {} (specifier, version) pairs agree on contains ({matched} true) in {:.1}s ({:.1}s of it in python3)",
        versions.len(),
        versions.len() - valid,
        valid.saturating_sub(1),
        valid * (valid - 1) / 2,
        specs.len(),
        pairs.len(),
        start.elapsed().as_secs_f64(),
        oracle_secs
    );
}
