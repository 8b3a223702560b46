//! Policy evaluation for `envsync check`: which drift fails, which warns, which is
//! ignored (with its reason), which ignores have expired, and how to fix each finding.
//!
//! Pure: the caller passes today's date and a function that finds the manifest or lock
//! entry a component comes from.

use std::fmt;

use envsync_manifest::policy::{Date, DriftKind, Ignore, Policy};
use envsync_manifest::version::{ChangeSize, Direction};
use envsync_manifest::Ecosystem;
use serde::Serialize;

use crate::compare::{Diff, Drift, Summary};

/// One condition that makes a drift fail the check. A drift fails when any rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailRule {
    /// Every drift of this kind.
    Kind(DriftKind),
    /// A change at least this big (`major` also matches `epoch`; `patch` matches
    /// `minor`, `major` and `epoch`). `revision` and `other` match every change of that
    /// size or bigger, which is every ordered change.
    AtLeast(ChangeSize),
    /// A change in this direction (`older` catches downgrades).
    Toward(Direction),
}

impl FailRule {
    /// Parse one `--fail-on` word.
    pub fn parse(word: &str) -> Option<FailRule> {
        Some(match word {
            "missing" => FailRule::Kind(DriftKind::Missing),
            "extra" => FailRule::Kind(DriftKind::Extra),
            "changed" => FailRule::Kind(DriftKind::Changed),
            "epoch" => FailRule::AtLeast(ChangeSize::Epoch),
            "major" => FailRule::AtLeast(ChangeSize::Major),
            "minor" => FailRule::AtLeast(ChangeSize::Minor),
            "patch" => FailRule::AtLeast(ChangeSize::Patch),
            "revision" => FailRule::AtLeast(ChangeSize::Revision),
            "newer" => FailRule::Toward(Direction::Newer),
            "older" => FailRule::Toward(Direction::Older),
            _ => return None,
        })
    }

    /// The words [`FailRule::parse`] accepts, for error messages and help.
    pub const WORDS: &'static str =
        "missing, extra, changed, epoch, major, minor, patch, revision, newer, older";

    fn matches(self, drift: &Drift) -> bool {
        match self {
            FailRule::Kind(kind) => drift.kind == kind,
            FailRule::AtLeast(size) => {
                // Sizes order from the most significant (`epoch`) down.
                drift.kind == DriftKind::Changed && drift.size.is_some_and(|s| s <= size)
            }
            FailRule::Toward(direction) => drift.direction == Some(direction),
        }
    }
}

impl fmt::Display for FailRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailRule::Kind(kind) => f.write_str(kind.as_str()),
            FailRule::AtLeast(size) => f.write_str(crate::compare::size_str(*size)),
            FailRule::Toward(direction) => f.write_str(crate::compare::direction_str(*direction)),
        }
    }
}

/// Parse a comma-separated `--fail-on` list; on error returns the unknown word.
pub fn parse_fail_on(list: &str) -> Result<Vec<FailRule>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| FailRule::parse(w).ok_or_else(|| w.to_string()))
        .collect()
}

/// What decides the verdict: the failing rules and the accepted drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub fail_on: Vec<FailRule>,
    pub ignore: Vec<Ignore>,
    /// The file the ignores were written in, for messages (`envsync.toml`).
    pub ignore_file: Option<String>,
}

impl Rules {
    /// The manifest's `[policy]`, with `fail_on` replaced when the user passed `--fail-on`.
    pub fn from_policy(
        policy: &Policy,
        fail_on: Option<Vec<FailRule>>,
        file: Option<String>,
    ) -> Rules {
        Rules {
            fail_on: fail_on
                .unwrap_or_else(|| policy.fail_on.iter().map(|k| FailRule::Kind(*k)).collect()),
            ignore: policy.ignore.clone(),
            ignore_file: file,
        }
    }
}

/// A place in a manifest or lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRef {
    pub file: String,
    pub line: usize,
    /// What is written there, e.g. `openssl = "3.0.*"` or `deb:openssl 3.0.15-1~deb12u1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// How one drift counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Matches a fail rule and no live ignore.
    Fail,
    /// Drift that no fail rule matches.
    Warn,
    /// Accepted by an ignore that has not expired.
    Ignored,
}

/// An ignore as reported next to the drift it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoreRef {
    pub component: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub expired: bool,
}

impl IgnoreRef {
    fn new(ig: &Ignore, file: Option<&str>, today: Date) -> IgnoreRef {
        IgnoreRef {
            component: ig.component.clone(),
            reason: ig.reason.clone(),
            until: ig.until.map(|d| d.to_string()),
            file: file.map(str::to_string),
            line: ig.line,
            expired: ig.expired(today),
        }
    }

    /// `envsync.toml:31`, or the component when the line is unknown.
    pub fn place(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}"),
            (None, Some(l)) => format!("line {l}"),
            _ => format!("ignore `{}`", self.component),
        }
    }
}

/// A drift with its verdict, the entry it violates and a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub drift: Drift,
    pub status: Status,
    pub violates: Option<SourceRef>,
    /// A command that repairs it (`envsync check` only).
    pub fix: Option<String>,
    /// The ignore that covers it: live (status `ignored`) or expired (status `fail`).
    pub ignored_by: Option<IgnoreRef>,
}

/// Which command produced a result: it decides the verdict words (`DRIFT`/`PARITY`
/// for `envsync diff`, `FAIL`/`PASS` for `envsync check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Diff,
    Check,
}

/// The outcome of a check, or of a plain diff seen as one where every drift fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub mode: Mode,
    pub diff: Diff,
    pub findings: Vec<Finding>,
    /// Ignores whose date has passed; each one fails the check.
    pub expired: Vec<IgnoreRef>,
    pub fail_on: Vec<FailRule>,
}

impl Checked {
    pub fn failed(&self) -> bool {
        !self.expired.is_empty() || self.findings.iter().any(|f| f.status == Status::Fail)
    }

    /// Counts over drift that is not ignored.
    pub fn summary(&self) -> Summary {
        Summary::of(
            self.findings
                .iter()
                .filter(|f| f.status != Status::Ignored)
                .map(|f| &f.drift),
            self.diff.same.len(),
        )
    }

    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// `PARITY`, `DRIFT`, `PASS` or `FAIL`.
    pub fn verdict_word(&self) -> &'static str {
        match (self.mode, self.failed()) {
            (Mode::Diff, true) => "DRIFT",
            (Mode::Diff, false) => "PARITY",
            (Mode::Check, true) => "FAIL",
            (Mode::Check, false) => "PASS",
        }
    }

    /// The closing line of every report:
    /// `drift: 3 changed (1 major), 1 missing, 2 extra — FAIL`.
    pub fn verdict(&self) -> String {
        let s = self.summary();
        let mut line = format!("drift: {}", s.phrase());
        if !s.has_drift() {
            line.push_str(&format!(" ({} components compared)", s.compared));
        }
        let ignored = self.count(Status::Ignored);
        if ignored > 0 {
            line.push_str(&format!(", {ignored} ignored"));
        }
        match self.expired.len() {
            0 => {}
            1 => line.push_str(", 1 expired ignore"),
            n => line.push_str(&format!(", {n} expired ignores")),
        }
        format!("{line} — {}", self.verdict_word())
    }
}

/// Evaluate `diff` (reference = what the environment must be, other = what it is)
/// against `rules` on `today`. `locate` finds the manifest or lock entry of a drift.
pub fn evaluate(
    diff: Diff,
    rules: &Rules,
    today: Date,
    locate: &dyn Fn(&Drift) -> Option<SourceRef>,
) -> Checked {
    let file = rules.ignore_file.as_deref();
    let findings = diff
        .drift
        .iter()
        .map(|d| {
            let eco = d.ecosystem.as_str();
            let cover = rules.ignore.iter().find(|ig| ig.covers(eco, &d.name));
            let failing = rules.fail_on.iter().any(|r| r.matches(d));
            let status = match cover {
                Some(ig) if !ig.expired(today) => Status::Ignored,
                // An expired ignore hides nothing: the drift counts, and fails.
                Some(_) => Status::Fail,
                None if failing => Status::Fail,
                None => Status::Warn,
            };
            let violates = locate(d);
            Finding {
                drift: d.clone(),
                status,
                fix: Some(fix_for(d, violates.as_ref())),
                violates,
                ignored_by: cover.map(|ig| IgnoreRef::new(ig, file, today)),
            }
        })
        .collect();
    let expired = rules
        .ignore
        .iter()
        .filter(|ig| ig.expired(today))
        .map(|ig| IgnoreRef::new(ig, file, today))
        .collect();
    Checked {
        mode: Mode::Check,
        diff,
        findings,
        expired,
        fail_on: rules.fail_on.clone(),
    }
}

/// A plain `envsync diff`: every difference is drift, nothing is ignored.
pub fn plain(diff: Diff) -> Checked {
    let findings = diff
        .drift
        .iter()
        .map(|d| Finding {
            drift: d.clone(),
            status: Status::Fail,
            violates: None,
            fix: None,
            ignored_by: None,
        })
        .collect();
    Checked {
        mode: Mode::Diff,
        diff,
        findings,
        expired: Vec::new(),
        fail_on: vec![
            FailRule::Kind(DriftKind::Missing),
            FailRule::Kind(DriftKind::Extra),
            FailRule::Kind(DriftKind::Changed),
        ],
    }
}

/// The fix for a drift found by a check: [`fix_hint`], unless the component is written
/// down (`declared`, in the manifest or the lock) and only the checked side has it;
/// removing it would then contradict what declares it, so the fix is to relock.
fn fix_for(d: &Drift, declared: Option<&SourceRef>) -> String {
    match (d.kind, declared) {
        (DriftKind::Extra, Some(at)) => format!(
            "`{}:{}` is declared at {at} but the reference lacks it: run `envsync lock` so the lock records it, or remove it from {}",
            d.ecosystem, d.name, at.file
        ),
        _ => fix_hint(d),
    }
}

/// The pip that manages the packages in `site_packages` (a drift's location): the
/// virtualenv's own `bin/pip`, or plain `pip` for the system's.
fn pip_for(site_packages: Option<&str>) -> String {
    let root = site_packages.and_then(|l| l.find("/lib/python").map(|i| &l[..i]));
    match root {
        Some(root) if !matches!(root, "" | "/usr" | "/usr/local") => format!("{root}/bin/pip"),
        _ => "pip".to_string(),
    }
}

/// The npm invocation for packages in `node_modules` (a drift's location): `-g` for
/// the global tree, `--prefix DIR` for a project's.
fn npm_for(node_modules: Option<&str>) -> String {
    match node_modules.and_then(|l| l.strip_suffix("/node_modules")) {
        Some("/usr/local/lib" | "/usr/lib") => "npm -g".to_string(),
        Some(dir) if !dir.contains("/node_modules/") => format!("npm --prefix {dir}"),
        _ => "npm".to_string(),
    }
}

/// A command that brings the checked environment back to the reference for this drift.
pub fn fix_hint(d: &Drift) -> String {
    let name = &d.name;
    let at = d.location.as_deref();
    match (d.kind, d.ecosystem, d.left.as_deref()) {
        (DriftKind::Extra, Ecosystem::Deb, _) => format!("apt-get remove {name}"),
        (DriftKind::Extra, Ecosystem::Pypi, _) => format!("{} uninstall {name}", pip_for(at)),
        (DriftKind::Extra, Ecosystem::Npm, _) => format!("{} uninstall {name}", npm_for(at)),
        (DriftKind::Extra, Ecosystem::Apk, _) => format!("apk del {name}"),
        (DriftKind::Extra, Ecosystem::Rpm, _) => format!("dnf remove {name}"),
        (_, Ecosystem::Deb, Some(v)) => format!("apt-get install {name}={v}"),
        (_, Ecosystem::Pypi, Some(v)) => format!("{} install {name}=={v}", pip_for(at)),
        (_, Ecosystem::Npm, Some(v)) => format!("{} install {name}@{v}", npm_for(at)),
        (_, Ecosystem::Apk, Some(v)) => format!("apk add {name}={v}"),
        (_, Ecosystem::Rpm, Some(v)) => format!("dnf install {name}-{v}"),
        _ => "envsync up".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::diff;
    use crate::snapshot::{Package, Snapshot};

    fn snap(specs: &[&str]) -> Snapshot {
        Snapshot {
            schema: crate::SNAPSHOT_SCHEMA.into(),
            target: "t".into(),
            collected_at: None,
            digest: None,
            complete: true,
            hash_key: None,
            on_path: Default::default(),
            os: None,
            packages: specs
                .iter()
                .map(|s| {
                    let (id, version) = s.split_once('=').expect("id=version");
                    let (eco, name) = id.split_once(':').expect("eco:name");
                    Package {
                        ecosystem: Ecosystem::parse(eco).expect("ecosystem"),
                        name: name.into(),
                        version: version.into(),
                        arch: None,
                        location: None,
                        size: None,
                        mode: None,
                    }
                })
                .collect(),
            warnings: Vec::new(),
        }
    }

    fn ignore(component: &str, until: Option<&str>, line: usize) -> Ignore {
        Ignore {
            component: component.into(),
            reason: "known".into(),
            until: until.and_then(Date::parse),
            line: Some(line),
        }
    }

    /// Evaluate and compare `id status` lines plus the overall verdict.
    fn check(
        left: &[&str],
        right: &[&str],
        fail_on: &str,
        ignores: Vec<Ignore>,
        expected: &[&str],
        expect_fail: bool,
    ) {
        let rules = Rules {
            fail_on: parse_fail_on(fail_on).expect("rules"),
            ignore: ignores,
            ignore_file: Some("envsync.toml".into()),
        };
        let today = Date::parse("2026-06-01").expect("date");
        let c = evaluate(diff(&snap(left), &snap(right)), &rules, today, &|_| None);
        let got: Vec<String> = c
            .findings
            .iter()
            .map(|f| format!("{} {:?}", f.drift.id(), f.status).to_lowercase())
            .collect();
        assert_eq!(got, expected);
        assert_eq!(c.failed(), expect_fail);
    }

    #[test]
    fn default_policy_warns_on_extra() {
        let rules = Rules::from_policy(&Policy::default(), None, None);
        assert_eq!(
            rules.fail_on,
            vec![
                FailRule::Kind(DriftKind::Missing),
                FailRule::Kind(DriftKind::Changed)
            ]
        );
        check(
            &["deb:a=1"],
            &["deb:a=1", "deb:b=1"],
            "missing,changed",
            vec![],
            &["deb:b warn"],
            false,
        );
    }

    #[test]
    fn kinds_fail() {
        check(
            &["deb:a=1", "deb:b=1"],
            &["deb:a=2", "deb:c=1"],
            "missing,changed",
            vec![],
            &["deb:a fail", "deb:b fail", "deb:c warn"],
            true,
        );
        check(
            &["deb:a=1"],
            &["deb:a=1", "deb:b=1"],
            "extra",
            vec![],
            &["deb:b fail"],
            true,
        );
    }

    #[test]
    fn sizes_and_directions() {
        // `major` fails major changes only, not a patch bump.
        check(
            &["pypi:a=1.0.0", "pypi:b=1.0.0"],
            &["pypi:a=2.0.0", "pypi:b=1.0.1"],
            "major",
            vec![],
            &["pypi:a fail", "pypi:b warn"],
            true,
        );
        check(
            &["pypi:b=1.0.0"],
            &["pypi:b=1.0.1"],
            "minor",
            vec![],
            &["pypi:b warn"],
            false,
        );
        check(
            &["pypi:b=1.1.0"],
            &["pypi:b=1.0.1"],
            "patch",
            vec![],
            &["pypi:b fail"],
            true,
        );
        check(
            &["npm:x=2.0.0"],
            &["npm:x=1.9.0"],
            "older",
            vec![],
            &["npm:x fail"],
            true,
        );
        check(
            &["npm:x=1.0.0"],
            &["npm:x=1.9.0"],
            "older",
            vec![],
            &["npm:x warn"],
            false,
        );
    }

    #[test]
    fn ignores_hide_until_they_expire() {
        check(
            &["deb:tzdata=2024a"],
            &["deb:tzdata=2025b"],
            "changed",
            vec![ignore("deb:tzdata", Some("2027-03-01"), 30)],
            &["deb:tzdata ignored"],
            false,
        );
        check(
            &["deb:tzdata=2024a", "deb:x=1"],
            &["deb:tzdata=2025b", "deb:x=2"],
            "changed",
            vec![ignore("deb:*", None, 30)],
            &["deb:tzdata ignored", "deb:x ignored"],
            false,
        );
        // Expired: the drift fails even though `extra` is not a fail rule...
        check(
            &["deb:a=1"],
            &["deb:a=1", "deb:tzdata=1"],
            "missing",
            vec![ignore("deb:tzdata", Some("2026-03-01"), 31)],
            &["deb:tzdata fail"],
            true,
        );
        // ...and an expired ignore fails the check even with no drift under it.
        check(
            &["deb:a=1"],
            &["deb:a=1"],
            "changed",
            vec![ignore("deb:gone", Some("2026-05-31"), 32)],
            &[],
            true,
        );
        // The last day of an ignore still counts.
        check(
            &["deb:a=1"],
            &["deb:a=2"],
            "changed",
            vec![ignore("deb:a", Some("2026-06-01"), 32)],
            &["deb:a ignored"],
            false,
        );
    }

    #[test]
    fn expired_ignore_names_line_and_date() {
        let rules = Rules {
            fail_on: vec![FailRule::Kind(DriftKind::Changed)],
            ignore: vec![ignore("deb:tzdata", Some("2026-03-01"), 31)],
            ignore_file: Some("envsync.toml".into()),
        };
        let c = evaluate(
            diff(&snap(&["deb:tzdata=1"]), &snap(&["deb:tzdata=2"])),
            &rules,
            Date::parse("2026-06-01").expect("date"),
            &|_| None,
        );
        assert_eq!(c.expired.len(), 1);
        assert_eq!(c.expired[0].place(), "envsync.toml:31");
        assert_eq!(c.expired[0].until.as_deref(), Some("2026-03-01"));
        assert!(c.findings[0].ignored_by.as_ref().is_some_and(|i| i.expired));
    }

    #[test]
    fn fail_on_words() {
        assert_eq!(parse_fail_on("missing, major").map(|v| v.len()), Ok(2));
        assert_eq!(parse_fail_on("missing,huge"), Err("huge".to_string()));
        for w in FailRule::WORDS.split(", ") {
            let rule = FailRule::parse(w).expect("listed word parses");
            assert_eq!(rule.to_string(), w);
        }
    }

    #[test]
    fn fix_hints() {
        let fixes = |left: &[&str], right: &[&str]| -> Vec<String> {
            diff(&snap(left), &snap(right))
                .drift
                .iter()
                .map(fix_hint)
                .collect()
        };
        assert_eq!(
            fixes(
                &[
                    "deb:openssl=3.0.15-1~deb12u1",
                    "pypi:django=4.2.7",
                    "npm:express=4.18.2",
                    "file:/etc/x=sha256:a"
                ],
                &[
                    "deb:openssl=3.0.11-1~deb12u2",
                    "pypi:django=4.2.8",
                    "file:/etc/x=sha256:b",
                    "npm:left-pad=1.3.0"
                ],
            ),
            vec![
                "apt-get install openssl=3.0.15-1~deb12u1",
                "pip install django==4.2.7",
                "npm install express@4.18.2",
                "npm uninstall left-pad",
                "envsync up",
            ]
        );
    }

    #[test]
    fn fixes_use_the_environment_s_own_pip_and_npm_and_never_undo_a_declaration() {
        let drift = |kind, ecosystem, left: Option<&str>, location: Option<&str>| Drift {
            ecosystem,
            name: "x".into(),
            kind,
            left: left.map(Into::into),
            right: None,
            direction: None,
            size: None,
            arch: None,
            location: location.map(Into::into),
            right_location: None,
        };
        let check = |d: Drift, declared: Option<SourceRef>, expected: &str| {
            assert_eq!(fix_for(&d, declared.as_ref()), expected);
        };
        let venv = Some("/opt/app/venv/lib/python3.11/site-packages");
        check(
            drift(DriftKind::Extra, Ecosystem::Pypi, None, venv),
            None,
            "/opt/app/venv/bin/pip uninstall x",
        );
        check(
            drift(DriftKind::Changed, Ecosystem::Pypi, Some("1.0"), venv),
            None,
            "/opt/app/venv/bin/pip install x==1.0",
        );
        check(
            drift(
                DriftKind::Extra,
                Ecosystem::Pypi,
                None,
                Some("/usr/local/lib/python3.11/dist-packages"),
            ),
            None,
            "pip uninstall x",
        );
        check(
            drift(
                DriftKind::Extra,
                Ecosystem::Npm,
                None,
                Some("/srv/app/node_modules"),
            ),
            None,
            "npm --prefix /srv/app uninstall x",
        );
        check(
            drift(
                DriftKind::Missing,
                Ecosystem::Npm,
                Some("1.0.0"),
                Some("/usr/local/lib/node_modules"),
            ),
            None,
            "npm -g install x@1.0.0",
        );
        let declared = SourceRef {
            file: "envsync.toml".into(),
            line: 12,
            entry: None,
        };
        check(
            drift(DriftKind::Extra, Ecosystem::Deb, None, None),
            Some(declared),
            "`deb:x` is declared at envsync.toml:12 but the reference lacks it: run `envsync lock` so the lock records it, or remove it from envsync.toml",
        );
    }
}
