//! Versions ordered as each ecosystem orders them, and the direction and size of a change.
//!
//! Entry points: [`compare`] orders two versions of one ecosystem, [`change`] says
//! whether the right side is newer or older and how big the step is.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a component comes from. Package ecosystems order versions their own way;
/// the others (`runtime`, `service`, `file`, `env`) describe what is not a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Deb,
    Apk,
    Rpm,
    Pypi,
    Npm,
    Runtime,
    Service,
    File,
    Env,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 9] = [
        Ecosystem::Deb,
        Ecosystem::Apk,
        Ecosystem::Rpm,
        Ecosystem::Pypi,
        Ecosystem::Npm,
        Ecosystem::Runtime,
        Ecosystem::Service,
        Ecosystem::File,
        Ecosystem::Env,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::Pypi => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Runtime => "runtime",
            Ecosystem::Service => "service",
            Ecosystem::File => "file",
            Ecosystem::Env => "env",
        }
    }

    /// Parse an ecosystem name as written in manifests, snapshots and `deb:openssl`-style ids.
    pub fn parse(name: &str) -> Option<Ecosystem> {
        Ecosystem::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a changed version moved, seen from the reference (left) to the other side (right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Newer,
    Older,
    /// Different strings that the ecosystem orders as equal (e.g. `1.0` and `1.0.0` in PEP 440),
    /// or contents whose hashes differ (files, environment values) and so have no order.
    Same,
}

/// The most significant part of a version that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeSize {
    Epoch,
    Major,
    Minor,
    Patch,
    /// Debian/RPM revision, apk `-rN`, PEP 440 post/dev/local, or a pre-release tag.
    Revision,
    /// Only the spelling differs, or the values are unordered (hashes).
    Other,
}

/// Direction and size of a version change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub direction: Direction,
    pub size: ChangeSize,
}

/// Order two versions of `ecosystem` the way that ecosystem's own tools order them.
///
/// Total on any input: text an ecosystem cannot read still gets a consistent place
/// (see each module), and nothing panics. `file` and `env` values are content hashes with
/// no order: equal strings are `Equal`, different ones are ordered as text only so that
/// sorting is stable; [`change`] reports them as `Same`.
pub fn compare(ecosystem: Ecosystem, left: &str, right: &str) -> Ordering {
    match ecosystem {
        Ecosystem::Deb => deb::compare(left, right),
        Ecosystem::Apk => apk::compare(left, right),
        Ecosystem::Rpm => rpm::compare(left, right),
        Ecosystem::Pypi => pypi::compare(left, right),
        Ecosystem::Npm => npm::compare(left, right),
        Ecosystem::Runtime | Ecosystem::Service => generic::compare(left, right),
        Ecosystem::File | Ecosystem::Env => left.cmp(right),
    }
}

/// The direction and size of the change from `left` (the reference) to `right`.
pub fn change(ecosystem: Ecosystem, left: &str, right: &str) -> Change {
    if matches!(ecosystem, Ecosystem::File | Ecosystem::Env) {
        return Change {
            direction: Direction::Same,
            size: ChangeSize::Other,
        };
    }
    let direction = match compare(ecosystem, left, right) {
        Ordering::Less => Direction::Newer,
        Ordering::Greater => Direction::Older,
        Ordering::Equal => Direction::Same,
    };
    let size = match ecosystem {
        Ecosystem::Deb => deb::change_size(left, right),
        Ecosystem::Apk => apk::change_size(left, right),
        Ecosystem::Rpm => rpm::change_size(left, right),
        Ecosystem::Pypi => pypi::change_size(left, right),
        Ecosystem::Npm => npm::change_size(left, right),
        _ => generic::change_size(left, right),
    };
    // Versions that order as equal differ at most in spelling.
    let size = if direction == Direction::Same {
        ChangeSize::Other
    } else {
        size
    };
    Change { direction, size }
}

/// Validate one version string of an ecosystem.
pub fn parse_version(ecosystem: Ecosystem, text: &str) -> Result<(), VersionError> {
    let example = match ecosystem {
        Ecosystem::Deb => "15.10-0+deb12u1",
        Ecosystem::Apk => "1.2.3_rc1-r0",
        Ecosystem::Rpm => "1:2.3.4-5.el9",
        Ecosystem::Pypi => "2.31.0",
        Ecosystem::Npm => "4.18.2",
        Ecosystem::Runtime | Ecosystem::Service => "3.12.1",
        Ecosystem::File | Ecosystem::Env => "sha256:<64 hex digits>",
    };
    if text.trim().is_empty() {
        return Err(VersionError::Empty { ecosystem, example });
    }
    let result = match ecosystem {
        Ecosystem::Deb => deb::validate(text),
        Ecosystem::Apk => apk::validate(text),
        Ecosystem::Rpm => rpm::validate(text),
        Ecosystem::Pypi => pypi::validate(text),
        Ecosystem::Npm => npm::validate(text),
        Ecosystem::Runtime | Ecosystem::Service => generic_validate(text),
        Ecosystem::File | Ecosystem::Env => digest_validate(text),
    };
    result.map_err(|reason| {
        VersionError::version(
            ecosystem,
            text,
            reason,
            format!("write a version such as `{example}`"),
        )
    })
}

fn generic_validate(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.contains(char::is_whitespace) {
        return Err("a version cannot contain whitespace".into());
    }
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return Err("a version needs at least one digit".into());
    }
    Ok(())
}

fn digest_validate(text: &str) -> Result<(), String> {
    let t = text.trim();
    match t.split_once(':') {
        Some((algo, hex))
            if !algo.is_empty()
                && algo.bytes().all(|b| b.is_ascii_alphanumeric())
                && !hex.is_empty()
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(())
        }
        _ => Err("expected a content digest `algorithm:hex`".into()),
    }
}

/// Compare two runs of ASCII digits as numbers of any size (leading zeros ignored).
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Which of major, minor, patch (or a later release number, counted as patch) first
/// differs between two release number lists, missing numbers counting as 0.
pub(crate) fn release_size(a: &[&str], b: &[&str]) -> Option<ChangeSize> {
    let len = a.len().max(b.len());
    (0..len)
        .find(|&i| {
            cmp_digits(
                a.get(i).copied().unwrap_or("0"),
                b.get(i).copied().unwrap_or("0"),
            ) != Ordering::Equal
        })
        .map(|i| match i {
            0 => ChangeSize::Major,
            1 => ChangeSize::Minor,
            _ => ChangeSize::Patch,
        })
}

pub mod apk;
pub mod constraint;
pub mod deb;
mod error;
pub mod generic;
pub mod npm;
pub mod pypi;
pub mod rpm;
pub mod upstream;

pub use constraint::Constraint;
pub use error::VersionError;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        ecosystem: Ecosystem,
        left: &str,
        right: &str,
        direction: Direction,
        size: ChangeSize,
    ) {
        assert_eq!(
            change(ecosystem, left, right),
            Change { direction, size },
            "{ecosystem} {left} -> {right}"
        );
    }

    #[test]
    fn changes_dispatch_to_the_ecosystem() {
        use ChangeSize::*;
        use Direction::*;
        check(Ecosystem::Deb, "1:2.0-1", "2:1.0-1", Newer, Epoch);
        check(
            Ecosystem::Deb,
            "3.0.11-1~deb12u2",
            "3.0.15-1~deb12u1",
            Newer,
            Patch,
        );
        check(
            Ecosystem::Deb,
            "3.0.11-1~deb12u2",
            "3.0.11-1~deb12u1",
            Older,
            Revision,
        );
        check(Ecosystem::Pypi, "1.0", "1.0.0", Same, Other);
        check(Ecosystem::Pypi, "2.31.0", "2.32.0", Newer, Minor);
        check(Ecosystem::Pypi, "1.0", "1.0.post1", Newer, Revision);
        check(Ecosystem::Npm, "4.18.2", "5.0.0", Newer, Major);
        check(Ecosystem::Npm, "1.0.0-rc.1", "1.0.0", Newer, Revision);
        check(Ecosystem::Apk, "1.2.3-r0", "1.2.3-r1", Newer, Revision);
        check(Ecosystem::Apk, "1.2.3_rc1-r0", "1.2.3-r0", Newer, Revision);
        check(Ecosystem::Rpm, "1:1.0-1", "1.0-1", Older, Epoch);
        check(Ecosystem::Runtime, "3.11.7", "3.12.1", Newer, Minor);
        check(Ecosystem::File, "sha256:aa", "sha256:bb", Same, Other);
        check(Ecosystem::Env, "sha256:aa", "sha256:aa", Same, Other);
    }

    #[test]
    fn parse_version_names_the_text_and_a_fix() {
        let e = parse_version(Ecosystem::Deb, "x1.0")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid deb version `x1.0`: the upstream version does not start with a digit; write a version such as `15.10-0+deb12u1`"
        );
        assert!(parse_version(Ecosystem::Pypi, "1.0.post1").is_ok());
        assert!(parse_version(Ecosystem::Npm, "1.0").is_err());
        assert!(parse_version(Ecosystem::File, "sha256:0a1b").is_ok());
        assert!(matches!(
            parse_version(Ecosystem::Rpm, " "),
            Err(VersionError::Empty { .. })
        ));
    }
}
