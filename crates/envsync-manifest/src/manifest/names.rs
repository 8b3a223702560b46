//! Name, image, target and duration helpers: what a valid name is in each ecosystem,
//! how PyPI names compare, and the examples messages suggest.

use std::time::Duration;

use crate::version::Ecosystem;

/// The name under which two spellings of one package are the same package: PEP 503
/// normalisation for PyPI, the name itself elsewhere.
pub fn normalize_name(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::Pypi => {
            let mut out = String::with_capacity(name.len());
            let mut last_sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !last_sep {
                        out.push('-');
                    }
                    last_sep = true;
                } else {
                    out.push(c.to_ascii_lowercase());
                    last_sep = false;
                }
            }
            out
        }
        _ => name.to_string(),
    }
}

pub(super) fn is_alpine_image(image: &str) -> bool {
    let (repo, tag) = split_image(image);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    last.contains("alpine") || tag.is_some_and(|t| t.contains("alpine"))
}

/// Split `repo[:tag][@digest]` into the repository and the tag (a `:` inside a registry
/// host's port is not a tag separator).
pub(super) fn split_image(image: &str) -> (&str, Option<&str>) {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].find(':') {
        Some(i) => (
            &without_digest[..last_slash + i],
            Some(&without_digest[last_slash + i + 1..]),
        ),
        None => (without_digest, None),
    }
}

pub(super) fn ecosystem_label(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Deb => "Debian",
        Ecosystem::Apk => "Alpine",
        Ecosystem::Rpm => "RPM",
        Ecosystem::Pypi => "PyPI",
        Ecosystem::Npm => "npm",
        Ecosystem::Runtime => "runtime",
        Ecosystem::Service => "service",
        Ecosystem::File => "file",
        Ecosystem::Env => "environment",
    }
}

pub(super) fn constraint_example(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Deb => {
            "an exact Debian version such as `3.0.15-1~deb12u1`, or a prefix such as `3.0.*`"
        }
        Ecosystem::Apk => "an exact Alpine version such as `3.1.4-r5`, or a prefix such as `3.1.*`",
        Ecosystem::Rpm => "an exact RPM version such as `3.0.7-27.el9`",
        Ecosystem::Pypi => "a PEP 440 specifier such as `==4.2.7` or `~=4.2`",
        Ecosystem::Npm => "an npm version or range such as `4.18.2` or `^4.18`",
        _ => "a version such as `3.11` or `15.10`",
    }
}

pub(super) fn constraint_example_literal(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Deb => "\"3.0.15-1~deb12u1\"",
        Ecosystem::Apk => "\"3.1.4-r5\"",
        Ecosystem::Pypi => "\"==4.2.7\"",
        Ecosystem::Npm => "\"4.18.2\"",
        _ => "\"3.11\"",
    }
}

/// Why `name` is not a valid package name in `eco`, if it is not.
/// The runtime names snapshots use (`runtime:NAME`), exactly those the collector in
/// `envsync-drift` reports; `[runtimes]` accepts only these, since any other name would
/// be reported missing forever.
pub const RUNTIME_NAMES: &[&str] = &["go", "java", "node", "python", "ruby"];

/// The runtime name meant by a name users write for it (`nodejs` is `node`), when
/// `name` is not one of [`RUNTIME_NAMES`]. Compared without case.
pub fn runtime_meant(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let lower = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let meant = match lower {
        "node" | "nodejs" | "node.js" | "js" => "node",
        "python" | "python3" | "py" | "cpython" => "python",
        "go" | "golang" => "go",
        "java" | "openjdk" | "jdk" | "jre" | "openjdk-jre" | "openjdk-jdk" => "java",
        "ruby" | "rb" => "ruby",
        _ => return super::ctx::suggest(name, RUNTIME_NAMES),
    };
    (meant != name).then_some(meant)
}

pub(super) fn name_problem(eco: Ecosystem, name: &str) -> Option<&'static str> {
    let ok = match eco {
        Ecosystem::Deb => {
            let (pkg, arch) = match name.split_once(':') {
                Some((p, a)) => (p, Some(a)),
                None => (name, None),
            };
            pkg.len() >= 2
                && pkg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && pkg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
                && arch.is_none_or(|a| {
                    !a.is_empty()
                        && a.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                })
        }
        Ecosystem::Apk => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
        }
        Ecosystem::Pypi => {
            let base = name.split('[').next().unwrap_or(name);
            let extras_ok = match name.find('[') {
                Some(i) => {
                    name.ends_with(']')
                        && name[i + 1..name.len() - 1]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || ",-_. ".contains(c))
                }
                None => true,
            };
            !base.is_empty()
                && base.starts_with(|c: char| c.is_ascii_alphanumeric())
                && base.ends_with(|c: char| c.is_ascii_alphanumeric())
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && extras_ok
        }
        Ecosystem::Npm => {
            let bare = name
                .strip_prefix('@')
                .and_then(|s| s.split_once('/'))
                .map_or(name, |(_, n)| n);
            !bare.is_empty()
                && name.len() <= 214
                && !name.starts_with(['.', '_'])
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~@/".contains(c))
        }
        _ => {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }
    };
    if ok {
        return None;
    }
    Some(match eco {
        Ecosystem::Deb => "Debian package names are lowercase letters, digits, `+`, `-` and `.`, optionally followed by `:ARCH`",
        Ecosystem::Apk => "Alpine package names are letters, digits, `+`, `-`, `.` and `_`",
        Ecosystem::Pypi => "PyPI names are letters, digits, `-`, `_` and `.`, optionally with `[extras]`",
        Ecosystem::Npm => "npm names are lowercase letters, digits, `-`, `.`, `_` and `~`, optionally scoped as `@scope/name`",
        _ => "names are letters, digits, `-`, `_` and `.`",
    })
}

pub(super) fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub(super) fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

pub(super) fn is_image_ref(image: &str) -> bool {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let (repo, tag) = split_image(name);
    !repo.is_empty()
        && !repo.starts_with(['/', '-', '.', ':'])
        && !repo.ends_with('/')
        && repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        && tag.is_none_or(|t| {
            !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
        && digest.is_none_or(is_digest)
}

pub(super) fn is_target(target: &str) -> bool {
    if target == "local" {
        return true;
    }
    if let Some(path) = target.strip_prefix("local:") {
        return path.starts_with('/');
    }
    if let Some(name) = target.strip_prefix("docker:") {
        return !name.is_empty() && !name.contains(char::is_whitespace);
    }
    if let Some(image) = target.strip_prefix("image:") {
        return is_image_ref(image);
    }
    if let Some(rest) = target.strip_prefix("ssh://") {
        return crate::destination::parse_ssh_destination(rest).is_ok();
    }
    target.ends_with(".json") && target.len() > 5
}

/// Parse `500ms`, `5s`, `1m30s`, `2h` (the manifest's durations; `envsync logs --since`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(unit)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn pypi_names_normalize() {
        assert_eq!(
            normalize_name(Ecosystem::Pypi, "Django_REST..framework"),
            "django-rest-framework"
        );
        assert_eq!(normalize_name(Ecosystem::Npm, "Express"), "Express");
    }
}
