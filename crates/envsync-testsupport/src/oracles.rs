//! The Python oracles `scripts/test-tools.sh` installs in a virtualenv of their own
//! (the newest `packaging`, `jsonschema`, `ansible-core`, `prometheus_client`), and what
//! tests ask of them.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `${XDG_CACHE_HOME:-$HOME/.cache}/envsync-oracles`, where `scripts/test-tools.sh` puts
/// the oracles.
pub fn oracle_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    cache.join("envsync-oracles")
}

/// The oracle virtualenv's python; fails the test (never skips it) when it is missing.
pub fn oracle_python() -> PathBuf {
    let python = oracle_dir().join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing; run `just test-tools` (scripts/test-tools.sh)",
        python.display()
    );
    python
}

const VALIDATE_SARIF: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(sys.stdin)
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=str)
for e in errors:
    print("%s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
sys.exit(1 if errors else 0)
"#;

/// Validate `sarif` against the OASIS SARIF 2.1.0 schema (`data/`, source in its README)
/// with Python's `jsonschema`; panics listing every error.
pub fn validate_sarif(sarif: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sarif-schema-2.1.0.json");
    let mut child = Command::new(oracle_python())
        .args(["-c", VALIDATE_SARIF])
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the oracle python");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(sarif.as_bytes())
        .expect("write the SARIF log");
    let out = child.wait_with_output().expect("the validator ends");
    assert!(
        out.status.success(),
        "SARIF does not validate against the OASIS schema:\n{}{}\n{sarif}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A program of the oracle virtualenv (`ansible-inventory`, `ansible`); fails the test
/// (never skips it) when it is missing.
pub fn oracle_tool(name: &str) -> PathBuf {
    let tool = oracle_dir().join("venv/bin").join(name);
    assert!(
        tool.exists(),
        "{} is missing; run `just test-tools` (scripts/test-tools.sh)",
        tool.display()
    );
    tool
}

/// Run an oracle program with `args` (and `stdin`, when given) and return its standard
/// output; panics with its standard error when it fails. Ansible runs with its
/// configuration in a fresh directory, so the user's `ansible.cfg` cannot change it.
pub fn run_oracle(name: &str, args: &[&str], stdin: Option<&str>) -> String {
    let home = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(oracle_tool(name))
        .args(args)
        .env("ANSIBLE_CONFIG", home.path().join("none.cfg"))
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_LOCAL_TEMP", home.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run the oracle {name}: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write the oracle's input");
    drop(input);
    let out = child.wait_with_output().expect("the oracle ends");
    assert!(
        out.status.success(),
        "{name} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
