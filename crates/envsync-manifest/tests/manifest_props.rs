//! Property tests: no input text, however broken, panics the manifest or lock parser,
//! and the canonical lock form is stable under a parse/write round trip.

use std::path::Path;

use envsync_manifest::{Ecosystem, Lock, LockedBase, LockedComponent, Manifest};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../manifests/benefits-api/envsync.toml");

/// Fragments that steer random text toward the interesting corners of the grammar.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'",
    "=",
    "\n",
    "{",
    "}",
    ",",
    ".",
    "#",
    "\\",
    "\"\"\"",
    "[services.x]",
    "port = 70000",
    "ports = [\"1:2:3:4\"]",
    "until = 2020-01-01",
    "é",
    "\u{0}",
    "version = ",
    "= \"*\"",
    "packages = {",
    "ignore = [{",
    "[policy]",
    "[python.venvs.\"/v\".packages]",
    "0x10",
    "1e400",
    "-",
];

fn fragment_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(FRAGMENTS).prop_map(str::to_string),
            "[a-z_]{1,8}",
            any::<char>().prop_map(|c| c.to_string()),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), fragment_text()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

/// Apply mutations on characters (not bytes), so the result stays valid UTF-8.
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let n = chars.len().max(1);
        match m {
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Mutation::Insert { at, text } => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, text.chars());
            }
            Mutation::DuplicateLine { line } | Mutation::SwapLines { a: line, .. } => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    continue;
                }
                let i = line % lines.len();
                if let Mutation::SwapLines { b, .. } = m {
                    let j = b % lines.len();
                    lines.swap(i, j);
                } else {
                    lines.insert(i, lines[i]);
                }
                chars = lines.join("\n").chars().collect();
            }
            Mutation::Truncate { at } => chars.truncate(at % n),
        }
    }
    chars.into_iter().collect()
}

fn parse_everything(text: &str) {
    let file = Path::new("envsync.toml");
    match Manifest::parse(text, file) {
        Ok(m) => {
            // Every declared component can be located again.
            for d in m.declared() {
                assert!(m
                    .locate_at(d.ecosystem, &d.name, d.location.as_deref())
                    .is_some());
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors.errors {
                assert!(!e.message.is_empty() && !e.fix.is_empty(), "{e:?}");
                assert!(e.line <= text.lines().count() + 1, "{e:?}");
            }
            let lines: Vec<(usize, usize)> =
                errors.errors.iter().map(|e| (e.line, e.column)).collect();
            let mut sorted = lines.clone();
            sorted.sort();
            assert_eq!(lines, sorted, "errors are in file order");
        }
    }
    let _ = Lock::parse(text, Path::new("envsync.lock"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        parse_everything(&text);
    }

    #[test]
    fn toml_like_text_never_panics(text in fragment_text()) {
        parse_everything(&text);
        parse_everything(&format!("schema = \"envsync.lock/v1\"\n{text}"));
    }

    #[test]
    fn mutated_example_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        parse_everything(&mutate(EXAMPLE, &mutations));
    }

    #[test]
    fn mutated_lock_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        let lock = sample_lock(&[("deb".into(), "openssl".into(), "3.0.15-1~deb12u1".into())]);
        let text = lock.to_string_canonical();
        let _ = Lock::parse(&mutate(&text, &mutations), Path::new("envsync.lock"));
    }

    #[test]
    fn lock_round_trip_is_stable(
        entries in prop::collection::vec(
            (prop::sample::select(&["deb", "pypi", "npm", "runtime", "env"][..]).prop_map(str::to_string), "\\PC{1,12}", "\\PC{1,12}"),
            0..30,
        )
    ) {
        let lock = sample_lock(&entries);
        let text = lock.to_string_canonical();
        let parsed = Lock::parse(&text, Path::new("envsync.lock")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.to_string_canonical(), text);
        prop_assert_eq!(parsed.components.len(), lock.components.len());
    }
}

fn sample_lock(entries: &[(String, String, String)]) -> Lock {
    let components = entries
        .iter()
        .map(|(eco, name, version)| LockedComponent {
            ecosystem: Ecosystem::parse(eco).unwrap_or(Ecosystem::Deb),
            name: name.clone(),
            version: version.clone(),
            arch: (eco == "deb").then(|| "amd64".to_string()),
            location: None,
            checksum: (name.len() % 3 == 0)
                .then(|| envsync_manifest::lock::Checksum::Sha256("0f".repeat(32))),
            file: None,
            declared: name.len() % 2 == 0,
            line: 0,
        })
        .collect();
    Lock::new(
        "ab".repeat(32),
        LockedBase {
            image: "debian:bookworm".into(),
            digest: None,
        },
        components,
    )
}
