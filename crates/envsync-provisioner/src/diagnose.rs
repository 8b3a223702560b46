//! Reading a failed build's log for the causes users can fix: a pinned version the
//! sources no longer offer, a package that does not exist, a runtime of the wrong
//! version. Pure functions over log lines, so every pattern is unit-tested.

use crate::dockerfile::{AVAILABLE_MARKER, CLOSURE_MARKER, RUNTIME_MARKER};

/// A cause found in a build log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    VersionNotFound {
        ecosystem: &'static str,
        package: String,
        wanted: String,
        /// Newest first.
        available: Vec<String>,
    },
    PackageNotFound {
        ecosystem: &'static str,
        package: String,
    },
    RuntimeMismatch {
        runtime: String,
        wanted: String,
        found: String,
    },
    /// A downloaded artifact's checksum is not the one the lock records.
    ChecksumMismatch {
        ecosystem: &'static str,
        /// `name==version` as the installer names it.
        package: String,
        expected: String,
        got: String,
    },
    /// A locked build left Debian packages at other versions than the lock's
    /// (`name arch version` as locked).
    ClosureMismatch { packages: Vec<String> },
}

/// The first fixable cause in `log`, if any.
pub fn diagnose(log: &str) -> Option<Diagnosis> {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    if let Some(found) = pip_hash(&lines).or_else(|| closure(&lines)) {
        return Some(found);
    }
    lines.iter().find_map(|line| {
        apt_version(line, &lines)
            .or_else(|| apt_missing(line))
            .or_else(|| pip_version(line))
            .or_else(|| npm_version(line, &lines))
            .or_else(|| npm_missing(line))
            .or_else(|| runtime(line))
    })
}

/// Versions printed by the generated RUN for `package` of `ecosystem`, in the order
/// printed.
fn available(lines: &[&str], ecosystem: &str, package: &str) -> Vec<String> {
    let prefix = format!("{AVAILABLE_MARKER} {ecosystem} {package}:");
    lines
        .iter()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `E: Version '9.9' for 'jq' was not found`; madison lists newest first.
fn apt_version(line: &str, lines: &[&str]) -> Option<Diagnosis> {
    let rest = line.strip_prefix("E: Version '")?;
    let (wanted, rest) = rest.split_once("' for '")?;
    let (package, _) = rest.split_once("' was not found")?;
    let mut versions = available(lines, "apt", package);
    versions.dedup();
    Some(Diagnosis::VersionNotFound {
        ecosystem: "deb",
        package: package.to_string(),
        wanted: wanted.to_string(),
        available: versions,
    })
}

/// `E: Unable to locate package nosuch`
fn apt_missing(line: &str) -> Option<Diagnosis> {
    let package = line.strip_prefix("E: Unable to locate package ")?;
    Some(Diagnosis::PackageNotFound {
        ecosystem: "deb",
        package: package.trim().to_string(),
    })
}

/// `ERROR: Could not find a version that satisfies the requirement six==99 (from versions: 1.0, 1.1)`;
/// pip lists oldest first.
fn pip_version(line: &str) -> Option<Diagnosis> {
    let rest =
        line.strip_prefix("ERROR: Could not find a version that satisfies the requirement ")?;
    let (requirement, versions) = match rest.split_once(" (from versions: ") {
        Some((req, versions)) => (req, versions.trim_end_matches(')')),
        None => (rest, "none"),
    };
    let split = requirement
        .find(['=', '<', '>', '~', '!'])
        .unwrap_or(requirement.len());
    let (package, spec) = requirement.split_at(split);
    let wanted = spec.strip_prefix("==").unwrap_or(spec);
    let mut available: Vec<String> = if versions.trim() == "none" {
        Vec::new()
    } else {
        versions.split(", ").map(|v| v.trim().to_string()).collect()
    };
    available.reverse();
    Some(Diagnosis::VersionNotFound {
        ecosystem: "pypi",
        package: package.to_string(),
        wanted: if wanted.is_empty() { "any" } else { wanted }.to_string(),
        available,
    })
}

/// `npm ERR! notarget No matching version found for is-number@99.0.0.`; `npm view`
/// lists oldest first.
fn npm_version(line: &str, lines: &[&str]) -> Option<Diagnosis> {
    let rest = line.strip_prefix("npm ERR! notarget No matching version found for ")?;
    let spec = rest.trim_end_matches('.');
    // A scoped name starts with `@`; the version follows the last `@`.
    let at = spec.rfind('@').filter(|at| *at > 0)?;
    let (package, wanted) = (&spec[..at], &spec[at + 1..]);
    let mut versions = available(lines, "npm", package);
    versions.reverse();
    Some(Diagnosis::VersionNotFound {
        ecosystem: "npm",
        package: package.to_string(),
        wanted: wanted.to_string(),
        available: versions,
    })
}

/// `npm ERR! 404  'nosuch@1.0.0' is not in this registry.`
fn npm_missing(line: &str) -> Option<Diagnosis> {
    let rest = line.strip_prefix("npm ERR! 404")?.trim_start();
    let quoted = rest.strip_prefix('\'')?;
    let (spec, tail) = quoted.split_once('\'')?;
    if !tail.trim_start().starts_with("is not in this registry") {
        return None;
    }
    let package = match spec.rfind('@').filter(|at| *at > 0) {
        Some(at) => &spec[..at],
        None => spec,
    };
    Some(Diagnosis::PackageNotFound {
        ecosystem: "npm",
        package: package.to_string(),
    })
}

/// pip's `THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE`, then
/// `iniconfig==1.1.1 from https://…:`, `Expected sha256 …`, `Got …`.
fn pip_hash(lines: &[&str]) -> Option<Diagnosis> {
    let start = lines
        .iter()
        .position(|l| l.contains("DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"))?;
    let rest = &lines[start + 1..];
    let package = rest
        .iter()
        .find_map(|l| l.split_once(" from ").map(|(p, _)| p.trim().to_string()))?;
    let expected = rest
        .iter()
        .find_map(|l| l.strip_prefix("Expected sha256"))?
        .trim()
        .to_string();
    let got = rest
        .iter()
        .find_map(|l| l.strip_prefix("Got"))?
        .trim()
        .to_string();
    Some(Diagnosis::ChecksumMismatch {
        ecosystem: "pypi",
        package,
        expected,
        got,
    })
}

/// `envsync-closure-mismatch <name> <arch> <version>` lines.
fn closure(lines: &[&str]) -> Option<Diagnosis> {
    let packages: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(CLOSURE_MARKER))
        .map(|rest| rest.trim().to_string())
        .collect();
    (!packages.is_empty()).then_some(Diagnosis::ClosureMismatch { packages })
}

/// `envsync-runtime-mismatch python wanted 3.12 found 3.11.2`
fn runtime(line: &str) -> Option<Diagnosis> {
    let rest = line.strip_prefix(RUNTIME_MARKER)?;
    let mut words = rest.split_whitespace();
    let runtime = words.next()?;
    (words.next()? == "wanted").then_some(())?;
    let wanted = words.next()?;
    (words.next()? == "found").then_some(())?;
    let found = words.next().unwrap_or("nothing");
    Some(Diagnosis::RuntimeMismatch {
        runtime: runtime.to_string(),
        wanted: wanted.to_string(),
        found: found.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(log: &str, expected: Option<Diagnosis>) {
        assert_eq!(diagnose(log), expected);
    }

    fn versions(list: &[&str]) -> Vec<String> {
        list.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn apt_missing_version_with_madison_output() {
        check(
            "Reading package lists...\n\
             E: Version '9.9' for 'jq' was not found\n\
             envsync-available apt jq: 1.6-2.1+deb12u3 1.6-2.1+deb12u2 \n",
            Some(Diagnosis::VersionNotFound {
                ecosystem: "deb",
                package: "jq".into(),
                wanted: "9.9".into(),
                available: versions(&["1.6-2.1+deb12u3", "1.6-2.1+deb12u2"]),
            }),
        );
    }

    #[test]
    fn pip_hash_mismatch_and_closure_mismatch() {
        check(
            "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package versions, please update the hashes.\n\
             \x20   iniconfig==1.1.1 from https://files.example/iniconfig-1.1.1-py2.py3-none-any.whl#sha256=99b:\n\
             \x20       Expected sha256 6a6\n\
             \x20            Got        99b\n",
            Some(Diagnosis::ChecksumMismatch {
                ecosystem: "pypi",
                package: "iniconfig==1.1.1".into(),
                expected: "6a6".into(),
                got: "99b".into(),
            }),
        );
        check(
            "envsync-closure-mismatch libc6 amd64 2.36-9+deb12u9\nenvsync-closure-mismatch tzdata all 2025b-0+deb12u1\n",
            Some(Diagnosis::ClosureMismatch {
                packages: vec![
                    "libc6 amd64 2.36-9+deb12u9".into(),
                    "tzdata all 2025b-0+deb12u1".into(),
                ],
            }),
        );
    }

    #[test]
    fn apt_unknown_package() {
        check(
            "E: Unable to locate package nosuchpkg\n",
            Some(Diagnosis::PackageNotFound {
                ecosystem: "deb",
                package: "nosuchpkg".into(),
            }),
        );
    }

    #[test]
    fn pip_missing_version_lists_newest_first() {
        check(
            "ERROR: Could not find a version that satisfies the requirement six==99 (from versions: 1.15.0, 1.16.0, 1.17.0)\n\
             ERROR: No matching distribution found for six==99\n",
            Some(Diagnosis::VersionNotFound {
                ecosystem: "pypi",
                package: "six".into(),
                wanted: "99".into(),
                available: versions(&["1.17.0", "1.16.0", "1.15.0"]),
            }),
        );
        check(
            "ERROR: Could not find a version that satisfies the requirement nosuch==1 (from versions: none)\n",
            Some(Diagnosis::VersionNotFound {
                ecosystem: "pypi",
                package: "nosuch".into(),
                wanted: "1".into(),
                available: Vec::new(),
            }),
        );
    }

    #[test]
    fn npm_missing_version_and_package() {
        check(
            "npm ERR! code ETARGET\n\
             npm ERR! notarget No matching version found for @types/node@99.0.0.\n\
             envsync-available npm @types/node: 1.0.0 2.0.0\n",
            Some(Diagnosis::VersionNotFound {
                ecosystem: "npm",
                package: "@types/node".into(),
                wanted: "99.0.0".into(),
                available: versions(&["2.0.0", "1.0.0"]),
            }),
        );
        check(
            "npm ERR! 404  'nosuch-pkg-xyz@1.0.0' is not in this registry.\n",
            Some(Diagnosis::PackageNotFound {
                ecosystem: "npm",
                package: "nosuch-pkg-xyz".into(),
            }),
        );
    }

    #[test]
    fn runtime_mismatch_and_unrelated_logs() {
        check(
            "envsync-runtime-mismatch python wanted 3.12 found 3.11.2\n",
            Some(Diagnosis::RuntimeMismatch {
                runtime: "python".into(),
                wanted: "3.12".into(),
                found: "3.11.2".into(),
            }),
        );
        check(
            "Step 3/4 : RUN false\nThe command returned a non-zero code: 1\n",
            None,
        );
    }
}
