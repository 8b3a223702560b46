//! Version constraints as written in a manifest, per ecosystem: parse once, then ask
//! whether a version matches and whether the constraint pins exactly one version.
//!
//! Syntax per ecosystem:
//! - `deb`: an exact version (`15.10-0+deb12u1`), a wildcard on the upstream version
//!   (`3.0.*` matches an upstream that starts with `3.0` not followed by a digit: `3.0`,
//!   `3.0.11`, `3.0+dfsg`, `3.0~rc1`; an epoch, if written, must be equal), dpkg relations `>= <= >> << =` (`>= 3.0`), comma-separated (all must hold),
//!   or `*` for any version.
//! - `apk`, `rpm`, `runtime`, `service`: an exact version, a wildcard (`3.0.*`), relations
//!   `>= <= > < =`, comma-separated, or `*`.
//! - `pypi`: a PEP 440 specifier set (`>=2.0,<3`, `~=1.4.2`, `==1.*`), or `*`.
//! - `npm`: a node-semver range (`^4.18.2`, `~1.2`, `1.2.3 - 2.0.0`, `>=1 <2 || 3.x`);
//!   `*` is one too, so like `x` it matches no pre-release.
//! - `file`, `env`: the exact value (`sha256:...`).

use std::cmp::Ordering;
use std::fmt;

use super::{apk, compare, deb, npm, parse_version, pypi, rpm, Ecosystem, VersionError};

/// A parsed version constraint of one ecosystem.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    ecosystem: Ecosystem,
    text: String,
    exact: Option<String>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Any,
    /// All relations must hold.
    Relations(Vec<Relation>),
    Pypi(pypi::SpecifierSet),
    Npm(npm::Range),
    /// `file` and `env`: the value itself.
    Value(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    /// `3.0.*`: the release starts with these components.
    Prefix,
}

#[derive(Debug, Clone, PartialEq)]
struct Relation {
    op: Op,
    version: String,
}

impl Constraint {
    /// Parse a version constraint as written in a manifest for this ecosystem.
    pub fn parse(ecosystem: Ecosystem, text: &str) -> Result<Constraint, VersionError> {
        let trimmed = text.trim();
        let bad =
            |reason: String, hint: &str| VersionError::constraint(ecosystem, text, reason, hint);
        if trimmed.is_empty() {
            return Err(bad(
                "the constraint is empty".into(),
                "write an exact version, a range, or `*` for any version",
            ));
        }
        let mut exact = None;
        let kind = match ecosystem {
            Ecosystem::File | Ecosystem::Env => {
                exact = Some(trimmed.to_string());
                Kind::Value(trimmed.to_string())
            }
            // npm's `*` is node-semver's range, like `x`: it leaves out pre-releases.
            _ if trimmed == "*" && ecosystem != Ecosystem::Npm => Kind::Any,
            Ecosystem::Pypi => {
                let set = pypi::SpecifierSet::parse(trimmed).map_err(|reason| {
                    bad(
                        reason,
                        "write PEP 440 specifiers such as `==2.31.0`, `>=2,<3` or `~=1.4`",
                    )
                })?;
                exact = set.exact().map(str::to_string);
                Kind::Pypi(set)
            }
            Ecosystem::Npm => {
                let range = npm::Range::parse(trimmed).map_err(|reason| {
                    bad(
                        reason,
                        "write a semver range such as `4.18.2`, `^4.18.0`, `~1.2` or `>=1.0.0 <2.0.0`",
                    )
                })?;
                exact = range.exact();
                Kind::Npm(range)
            }
            _ => {
                let relations = parse_relations(ecosystem, trimmed)
                    .map_err(|(reason, hint)| bad(reason, &hint))?;
                if let [Relation {
                    op: Op::Eq,
                    version,
                }] = relations.as_slice()
                {
                    exact = Some(version.clone());
                }
                Kind::Relations(relations)
            }
        };
        Ok(Constraint {
            ecosystem,
            text: text.to_string(),
            exact,
            kind,
        })
    }

    /// Whether `version` satisfies the constraint. A version its ecosystem cannot read
    /// matches nothing but `*` (and, for PyPI, an `===` identity specifier); for npm,
    /// `*` is a node-semver range, which takes neither unreadable versions nor
    /// pre-releases.
    pub fn matches(&self, version: &str) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Value(value) => value == version.trim(),
            Kind::Pypi(set) => set.contains(version),
            Kind::Npm(range) => range.satisfies(version),
            Kind::Relations(relations) => {
                parse_version(self.ecosystem, version).is_ok()
                    && relations
                        .iter()
                        .all(|r| relation_holds(self.ecosystem, r, version.trim()))
            }
        }
    }

    /// The exact version this constraint pins, if it pins exactly one (`==2.31.0`,
    /// `4.18.2`, `15.10-0+deb12u1`).
    pub fn exact(&self) -> Option<&str> {
        self.exact.as_deref()
    }

    /// The constraint as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn ecosystem(&self) -> Ecosystem {
        self.ecosystem
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn relation_hint(ecosystem: Ecosystem) -> String {
    let ops = if ecosystem == Ecosystem::Deb {
        "`>=`, `<=`, `>>`, `<<`, `=`"
    } else {
        "`>=`, `<=`, `>`, `<`, `=`"
    };
    format!(
        "write an exact version, a wildcard such as `3.0.*`, relations {ops} joined by `,`, or `*`"
    )
}

/// Comma-separated relations, all of which must hold. Errors are a reason and a hint.
fn parse_relations(ecosystem: Ecosystem, text: &str) -> Result<Vec<Relation>, (String, String)> {
    text.split(',')
        .map(|part| parse_relation(ecosystem, part.trim()))
        .collect()
}

/// One relation: an operator (none means `=`) and a version, or a wildcard `3.0.*`.
fn parse_relation(ecosystem: Ecosystem, part: &str) -> Result<Relation, (String, String)> {
    if part.is_empty() {
        return Err((
            "an empty part between commas".into(),
            relation_hint(ecosystem),
        ));
    }
    let (op, rest) = split_operator(ecosystem, part)?;
    if rest.is_empty() {
        return Err((
            "an operator without a version".into(),
            relation_hint(ecosystem),
        ));
    }
    if let Some(prefix) = rest.strip_suffix(".*") {
        return wildcard(ecosystem, op, rest, prefix);
    }
    if let Err(e) = parse_version(ecosystem, rest) {
        return Err((
            match e {
                VersionError::Version { reason, .. } => format!("version `{rest}`: {reason}"),
                other => other.to_string(),
            },
            relation_hint(ecosystem),
        ));
    }
    Ok(Relation {
        op,
        version: rest.to_string(),
    })
}

/// The operator at the start of `part` and the trimmed rest. dpkg's operators differ
/// from the others' (`>>`, `<<`), and its obsolete `<` and `>` are refused, since they
/// mean `<=` and `>=` there and nearly everyone reads them as strict.
fn split_operator(ecosystem: Ecosystem, part: &str) -> Result<(Op, &str), (String, String)> {
    let ops: &[(&str, Op)] = if ecosystem == Ecosystem::Deb {
        &[
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">>", Op::Gt),
            ("<<", Op::Lt),
            ("=", Op::Eq),
        ]
    } else {
        &[
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
    };
    match ops.iter().find(|(sym, _)| part.starts_with(sym)) {
        Some((sym, op)) => Ok((*op, part[sym.len()..].trim())),
        None if ecosystem == Ecosystem::Deb && (part.starts_with('<') || part.starts_with('>')) => {
            Err((
                format!("`{}` is ambiguous in dpkg (it means `{}=`)", &part[..1], &part[..1]),
                "write `<<` or `>>` for strictly less or greater, `<=` or `>=` to include the version".into(),
            ))
        }
        None => Ok((Op::Eq, part)),
    }
}

/// A wildcard `rest` (`3.0.*`, whose release is `prefix`): only after `=` or no
/// operator, and only on a whole release, so neither a revision nor another `*`.
fn wildcard(
    ecosystem: Ecosystem,
    op: Op,
    rest: &str,
    prefix: &str,
) -> Result<Relation, (String, String)> {
    if op != Op::Eq {
        return Err((
            format!("a wildcard `{rest}` cannot follow a comparison operator"),
            relation_hint(ecosystem),
        ));
    }
    parse_version(ecosystem, prefix).map_err(|e| (e.to_string(), relation_hint(ecosystem)))?;
    if prefix.contains('-') || prefix.contains('*') {
        return Err((
            format!("the wildcard `{rest}` must end a release such as `3.0.*`"),
            relation_hint(ecosystem),
        ));
    }
    Ok(Relation {
        op: Op::Prefix,
        version: prefix.to_string(),
    })
}

/// The epoch (if written) and the release a wildcard applies to.
fn release_of(ecosystem: Ecosystem, version: &str) -> (Option<&str>, &str) {
    match ecosystem {
        Ecosystem::Deb => {
            let p = deb::split(version);
            ((!p.epoch.is_empty()).then_some(p.epoch), p.upstream)
        }
        Ecosystem::Rpm => {
            let p = rpm::split(version);
            (p.epoch, p.version)
        }
        Ecosystem::Apk => (None, apk::split_revision(version).0),
        _ => (None, version),
    }
}

fn relation_holds(ecosystem: Ecosystem, relation: &Relation, version: &str) -> bool {
    if relation.op == Op::Prefix {
        let (want_epoch, prefix) = release_of(ecosystem, &relation.version);
        let (epoch, release) = release_of(ecosystem, version);
        if let Some(want) = want_epoch {
            if super::cmp_digits(want, epoch.unwrap_or("0")) != Ordering::Equal {
                return false;
            }
        }
        // `3.0.*` is the 3.0 series: `3.0`, `3.0.11`, `3.0+dfsg`, `3.0~rc1`, but not `3.01`.
        return release
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()));
    }
    let ord = if ecosystem == Ecosystem::Rpm {
        // rpm's rule for dependency ranges: `>= 1.0` says nothing about the release, so a
        // release is compared only when the constraint names one.
        let want = rpm::split(&relation.version);
        rpm::compare_parts(&rpm::split(version), &want, want.release.is_some())
    } else {
        compare(ecosystem, version, &relation.version)
    };
    match relation.op {
        Op::Eq => ord == Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Prefix => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ecosystem: Ecosystem, constraint: &str, version: &str, expected: bool) {
        let c = Constraint::parse(ecosystem, constraint).expect(constraint);
        assert_eq!(
            c.matches(version),
            expected,
            "{ecosystem} `{constraint}` vs `{version}`"
        );
    }

    #[test]
    fn deb_constraints() {
        check(Ecosystem::Deb, "15.10-0+deb12u1", "15.10-0+deb12u1", true);
        check(Ecosystem::Deb, "15.10-0+deb12u1", "15.10-0+deb12u2", false);
        check(Ecosystem::Deb, "3.0.*", "3.0.11-1~deb12u2", true);
        check(Ecosystem::Deb, "3.0.*", "3.1.0-1", false);
        check(Ecosystem::Deb, "3.0.*", "3.01-1", false);
        check(Ecosystem::Deb, "3.0.*", "3.0+dfsg-1", true);
        check(Ecosystem::Deb, "3.0.*", "3.0-1", true);
        check(Ecosystem::Deb, "3.0.*", "3-1", false);
        check(Ecosystem::Deb, ">= 3.0, << 3.1", "3.0.15-1", true);
        check(Ecosystem::Deb, ">= 3.0, << 3.1", "3.1~rc1-1", true);
        check(Ecosystem::Deb, ">= 3.0, << 3.1", "3.1-1", false);
        check(Ecosystem::Deb, "*", "anything", true);
        check(Ecosystem::Deb, "1:2.*", "1:2.3-1", true);
        check(Ecosystem::Deb, "1:2.*", "2.3-1", false);
        assert_eq!(
            Constraint::parse(Ecosystem::Deb, "15.10-0+deb12u1")
                .unwrap()
                .exact(),
            Some("15.10-0+deb12u1")
        );
        assert_eq!(
            Constraint::parse(Ecosystem::Deb, ">= 1.0").unwrap().exact(),
            None
        );
        assert!(Constraint::parse(Ecosystem::Deb, "< 1.0").is_err());
        assert!(Constraint::parse(Ecosystem::Deb, ">=").is_err());
        assert!(Constraint::parse(Ecosystem::Deb, "").is_err());
        assert!(Constraint::parse(Ecosystem::Deb, "1.0,").is_err());
    }

    #[test]
    fn pypi_constraints() {
        check(Ecosystem::Pypi, "==2.31.0", "2.31.0", true);
        check(Ecosystem::Pypi, "==2.31.0", "2.31", true);
        check(Ecosystem::Pypi, ">=2,<3", "3.0rc1", false);
        check(Ecosystem::Pypi, "~=1.4", "1.9", true);
        check(Ecosystem::Pypi, "*", "0.1", true);
        assert_eq!(
            Constraint::parse(Ecosystem::Pypi, "==2.31.0")
                .unwrap()
                .exact(),
            Some("2.31.0")
        );
        assert_eq!(
            Constraint::parse(Ecosystem::Pypi, "==2.*").unwrap().exact(),
            None
        );
        assert!(Constraint::parse(Ecosystem::Pypi, ">=2.x").is_err());
    }

    #[test]
    fn npm_constraints() {
        check(Ecosystem::Npm, "4.18.2", "4.18.2", true);
        check(Ecosystem::Npm, "^4.18.0", "4.21.1", true);
        check(Ecosystem::Npm, "~1.2 || >=3", "3.0.0-rc.1", false);
        // `*` and `x` are the same node-semver range: no pre-releases.
        check(Ecosystem::Npm, "*", "1.2.3-foo", false);
        check(Ecosystem::Npm, "x", "1.2.3-foo", false);
        check(Ecosystem::Npm, "*", "1.2.3", true);
        check(Ecosystem::Npm, "*", "not-a-version", false);
        assert_eq!(
            Constraint::parse(Ecosystem::Npm, "v4.18.2")
                .unwrap()
                .exact(),
            Some("4.18.2")
        );
        let e = Constraint::parse(Ecosystem::Npm, ">=1.2.3.4")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid npm version constraint `>=1.2.3.4`"),
            "{e}"
        );
    }

    #[test]
    fn apk_and_rpm_constraints() {
        check(Ecosystem::Apk, "3.0.11-r0", "3.0.11-r0", true);
        check(Ecosystem::Apk, ">=3.0.11-r0, <3.1", "3.0.12-r1", true);
        check(Ecosystem::Apk, "3.0.*", "3.0.12-r1", true);
        check(Ecosystem::Apk, ">3.0.11", "3.0.11_rc1-r0", false);
        check(Ecosystem::Rpm, ">= 1.0", "1.0-5.el9", true);
        check(Ecosystem::Rpm, "= 1.0", "1.0-5.el9", true);
        check(Ecosystem::Rpm, "= 1.0-4.el9", "1.0-5.el9", false);
        check(Ecosystem::Rpm, "< 1.0", "1.0~rc1-1", true);
        check(Ecosystem::Rpm, "1:2.*", "1:2.4-1", true);
        check(Ecosystem::Runtime, "3.12.*", "3.12.1", true);
        check(Ecosystem::Runtime, ">=3.11, <3.13", "3.12.1", true);
    }

    #[test]
    fn values() {
        check(Ecosystem::File, "sha256:ab", "sha256:ab", true);
        check(Ecosystem::File, "sha256:ab", "sha256:cd", false);
        assert_eq!(
            Constraint::parse(Ecosystem::Env, "sha256:ab")
                .unwrap()
                .exact(),
            Some("sha256:ab")
        );
    }

    #[test]
    fn errors_name_the_text_and_a_fix() {
        let e = Constraint::parse(Ecosystem::Deb, ">= x1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`>= x1`"), "{e}");
        assert!(e.contains("write"), "{e}");
    }
}
