//! Oracle: PEP 440 parsing, normalisation, ordering and specifier matching against two
//! copies of the `packaging` library, each run once in one `python3` process over a
//! corpus generated here from a fixed seed:
//!
//! - the newest release from PyPI, installed by `scripts/test-tools.sh` into a virtualenv
//!   under `${XDG_CACHE_HOME:-$HOME/.cache}/envsync-oracles`: every rule, plus the strings
//!   of packaging's own `tests/test_specifiers.py` and `tests/test_version.py`, read from
//!   the sdist of that same release which the script downloads beside it;
//! - the old copy that pip vendors (21.3 in pip 23): versions and their order only, since
//!   its specifier rules are the ones envsync left behind (text prefix matches, the
//!   pre-release exclusion, wildcards after pre-releases).
//!
//! A missing oracle fails the test: `just test-tools` installs both.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use envsync_manifest::version::pypi::{normalize, SpecifierSet, Version};
use envsync_manifest::version::{compare, Ecosystem};
use envsync_testsupport::oracles::{oracle_dir, oracle_python};

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

/// Runs one `packaging` (`argv[1]` is the module: `packaging` or `pip._vendor.packaging`)
/// over the corpus in `argv[2]`; `argv[3]` is `versions` or `all`. Prints the release.
const SCRIPT: &str = r#"
import importlib, sys, warnings
warnings.simplefilter("ignore")
mod, d, what = sys.argv[1], sys.argv[2], sys.argv[3]
print(importlib.import_module(mod).__version__)
vm = importlib.import_module(mod + ".version")
Version, InvalidVersion = vm.Version, vm.InvalidVersion
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
if what == "all":
    sm = importlib.import_module(mod + ".specifiers")
    sets = []
    with open(d + "/specs.out", "w") as f:
        for s in lines("specs.txt"):
            try:
                sets.append(sm.SpecifierSet(s))
                f.write("V\n")
            except sm.InvalidSpecifier:
                sets.append(None)
                f.write("I\n")
    with open(d + "/pairs.out", "w") as f:
        for line in lines("pairs.txt"):
            i, v = line.split("\t", 1)
            s = sets[int(i)]
            # A set packaging rejects is already a disagreement on validity.
            f.write("X\n" if s is None else "T\n" if s.contains(v, installed=True) else "F\n")
"#;

/// Prints every string of packaging's own version and specifier tests, from the sdist of
/// the installed release in `argv[1]`: `S\tTEXT` for each, and `P\tSPEC\tVERSION` for a
/// specifier and a version written in one tuple (one test case).
const HARVEST: &str = r#"
import ast, os, sys, tarfile
import packaging
root = "packaging-" + packaging.__version__
sdist = os.path.join(sys.argv[1], root + ".tar.gz")
if not os.path.exists(sdist):
    sys.exit("no %s: run scripts/test-tools.sh" % sdist)
def usable(s):
    return 0 < len(s) <= 80 and not any(c in s for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")
def is_spec(s):
    return s.strip()[:1] in ("<", ">", "=", "!", "~")
with tarfile.open(sdist) as t:
    for name in ("tests/test_specifiers.py", "tests/test_version.py"):
        tree = ast.parse(t.extractfile(root + "/" + name).read().decode("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and usable(node.value):
                print("S\t" + node.value)
            if isinstance(node, ast.Tuple):
                strs = [e.value for e in node.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str) and usable(e.value)]
                for s in filter(is_spec, strs):
                    for v in strs:
                        if not is_spec(v):
                            print("P\t%s\t%s" % (s, v))
"#;

struct Corpus {
    versions: Vec<String>,
    specs: Vec<String>,
    /// (index into `specs`, version), only for sets we accept.
    pairs: Vec<(usize, String)>,
    /// How many of `pairs` came from packaging's own tests.
    upstream_pairs: usize,
}

fn corpus(rng: &mut Rng, harvested: &[String], harvested_pairs: &[(String, String)]) -> Corpus {
    let mut versions: Vec<String> = (0..6000).map(|_| version(rng, false)).collect();
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
    versions.extend(harvested.iter().cloned());

    let mut specs = Vec::new();
    let mut spec_bases = Vec::new();
    for _ in 0..3000 {
        let n = 1 + rng.below(3);
        let items: Vec<(String, String)> = (0..n).map(|_| specifier_item(rng)).collect();
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
    // The cases the issue named, then packaging's own.
    let named = [
        ("~=2022.01.01", "2022.01.01"),
        ("==2024.01.*", "2024.1.5"),
        ("==0!2.*", "2"),
        ("<2.0a2", "2.0a1"),
        ("==2.0a1.*", "2.0a1"),
    ];
    let mut pairs = Vec::new();
    for (i, bases) in spec_bases.iter().enumerate() {
        for _ in 0..12 {
            let base = &bases[rng.below(bases.len())];
            pairs.push((i, near(rng, base)));
        }
    }
    let generated = pairs.len();
    for (spec, v) in named
        .iter()
        .map(|(s, v)| (s.to_string(), v.to_string()))
        .chain(harvested_pairs.iter().cloned())
    {
        pairs.push((specs.len(), v));
        specs.push(spec);
    }
    specs.extend(harvested.iter().filter(|s| is_spec_like(s)).cloned());

    // Pairs are matched only for specifier sets we accept; validity itself is compared
    // separately, so a set we wrongly reject still fails the test.
    let before = pairs.len();
    let pairs: Vec<(usize, String)> = pairs
        .into_iter()
        .filter(|(i, _)| SpecifierSet::parse(&specs[*i]).is_ok())
        .collect();
    let dropped_generated = before - pairs.len();
    let upstream_pairs = pairs.len() + dropped_generated - generated - named.len();
    Corpus {
        versions,
        specs,
        pairs,
        upstream_pairs,
    }
}

fn is_spec_like(s: &str) -> bool {
    s.trim_start().starts_with(['<', '>', '=', '!', '~'])
}

/// Packaging's own test strings, from the sdist `scripts/test-tools.sh` downloaded.
fn harvest(python: &Path) -> (Vec<String>, Vec<(String, String)>) {
    let out = Command::new(python)
        .args(["-c", HARVEST])
        .arg(oracle_dir().join("sdist"))
        .output()
        .unwrap_or_else(|e| panic!("`{}` does not run: {e}", python.display()));
    assert!(
        out.status.success(),
        "reading packaging's own tests failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 from python");
    let mut strings = Vec::new();
    let mut pairs = Vec::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("S"), Some(s), None) => strings.push(s.to_string()),
            (Some("P"), Some(s), Some(v)) => pairs.push((s.to_string(), v.to_string())),
            _ => panic!("unexpected line from the harvest: {line:?}"),
        }
    }
    strings.sort();
    strings.dedup();
    pairs.sort();
    pairs.dedup();
    (strings, pairs)
}

/// Runs the oracle over `corpus` in `dir`; returns the `packaging` release it used and
/// the seconds it took.
fn run_oracle(
    python: &Path,
    module: &str,
    what: &str,
    dir: &Path,
    corpus: &Corpus,
) -> (String, f64) {
    std::fs::write(dir.join("versions.txt"), corpus.versions.join("\n") + "\n")
        .expect("write corpus");
    std::fs::write(dir.join("specs.txt"), corpus.specs.join("\n") + "\n").expect("write corpus");
    std::fs::write(
        dir.join("pairs.txt"),
        corpus
            .pairs
            .iter()
            .map(|(i, v)| format!("{i}\t{v}\n"))
            .collect::<String>(),
    )
    .expect("write corpus");
    let start = Instant::now();
    let out = Command::new(python)
        .args(["-c", SCRIPT, module, &dir.to_string_lossy(), what])
        .output()
        .unwrap_or_else(|e| panic!("`{}` is needed for this oracle test: {e}", python.display()));
    assert!(
        out.status.success(),
        "`{}` with `{module}` failed: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let release = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (release, start.elapsed().as_secs_f64())
}

fn read(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(name))
        .expect("oracle output")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Validity, normalisation and order of `corpus.versions`; returns the disagreements and
/// a summary.
fn check_versions(rng: &mut Rng, dir: &Path, corpus: &Corpus, bad: &mut Vec<String>) -> String {
    let versions = &corpus.versions;
    let vout = read(dir, "versions.out");
    assert_eq!(vout.len(), versions.len());
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

    // Ordering: sort by our order, then every neighbour must agree with packaging's
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
    assert!(valid > 3000, "corpus too thin: {valid} valid versions");
    format!(
        "{} versions ({valid} valid, {} invalid) agree on validity and normalisation; \
         ordering agrees on {} sorted neighbours (all {} pairs) and {direct} random pairs",
        versions.len(),
        versions.len() - valid,
        valid.saturating_sub(1),
        valid * (valid - 1) / 2,
    )
}

fn report(bad: &[String]) {
    assert!(
        bad.is_empty(),
        "{} disagreements with packaging:\n{}",
        bad.len(),
        bad.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// The version rules have not moved since 21.3, so pip's own copy checks them too.
#[test]
fn pypi_versions_match_pips_vendored_packaging() {
    let start = Instant::now();
    let mut rng = Rng(0x5eed_0440);
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = corpus(&mut rng, &[], &[]);
    let (release, oracle_secs) = run_oracle(
        Path::new("python3"),
        "pip._vendor.packaging",
        "versions",
        dir.path(),
        &corpus,
    );
    let mut bad = Vec::new();
    let summary = check_versions(&mut rng, dir.path(), &corpus, &mut bad);
    report(&bad);
    println!(
        "pypi oracle (pip's vendored packaging {release}): {summary} in {:.1}s ({oracle_secs:.1}s of it in python3)",
        start.elapsed().as_secs_f64(),
    );
}

#[test]
fn pypi_matches_current_packaging() {
    let start = Instant::now();
    let python = oracle_python();
    let (harvested, harvested_pairs) = harvest(&python);
    let mut rng = Rng(0x5eed_0440);
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = corpus(&mut rng, &harvested, &harvested_pairs);
    let (release, oracle_secs) = run_oracle(&python, "packaging", "all", dir.path(), &corpus);
    let mut bad = Vec::new();
    let summary = check_versions(&mut rng, dir.path(), &corpus, &mut bad);

    // Specifier validity.
    let sout = read(dir.path(), "specs.out");
    assert_eq!(sout.len(), corpus.specs.len());
    let mut valid_specs = 0;
    for (s, line) in corpus.specs.iter().zip(&sout) {
        let ours = SpecifierSet::parse(s).is_ok();
        let theirs = line == "V";
        valid_specs += usize::from(theirs);
        // packaging takes an empty set (no specifier at all); envsync asks for `*`.
        let empty = s.split(',').all(|i| i.trim().is_empty());
        if theirs != ours && !empty {
            bad.push(format!(
                "specifier validity `{s}`: ours {ours}, packaging {theirs}"
            ));
        }
    }

    // Matching an installed version.
    let pout = read(dir.path(), "pairs.out");
    assert_eq!(pout.len(), corpus.pairs.len());
    let mut matched = 0;
    for ((i, v), line) in corpus.pairs.iter().zip(&pout) {
        let set = SpecifierSet::parse(&corpus.specs[*i]).expect("only accepted sets");
        let ours = set.contains(v);
        let theirs = line == "T";
        matched += usize::from(theirs);
        if ours != theirs && line != "X" {
            bad.push(format!(
                "`{v}` in `{}`: ours {ours}, packaging {theirs}",
                corpus.specs[*i]
            ));
        }
    }
    report(&bad);
    assert!(
        valid_specs > 1000 && matched > 1000 && corpus.upstream_pairs > 100,
        "corpus too thin: {valid_specs} specifiers, {matched} matches, {} upstream cases",
        corpus.upstream_pairs
    );
    println!(
        "pypi oracle (packaging {release}, the current release): {summary}; \
         {} specifier sets ({valid_specs} valid) agree on validity; \
         {} (specifier, version) pairs agree on contains(installed=True) ({matched} true), \
         {} of them from packaging's own tests ({} strings harvested) in {:.1}s ({oracle_secs:.1}s of it in python3)",
        corpus.specs.len(),
        corpus.pairs.len(),
        corpus.upstream_pairs,
        harvested.len(),
        start.elapsed().as_secs_f64(),
    );
}
