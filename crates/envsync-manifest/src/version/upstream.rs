//! Debian versions read as upstream releases, for middleware declared by release
//! (`[services.redis] version = "7.0"`): the upstream part of a Debian version and
//! whether a declared release is a dotted prefix of it.

/// The upstream version inside a Debian version: no epoch, no Debian revision
/// (`5:7.0.15-1~deb12u10` is `7.0.15`).
pub fn upstream_version(debian: &str) -> &str {
    let without_epoch = debian.split_once(':').map_or(debian, |(_, rest)| rest);
    without_epoch
        .rsplit_once('-')
        .map_or(without_epoch, |(upstream, _)| upstream)
}

/// Whether `wanted` (`7.0`) is a dotted prefix of `upstream` (`7.0.15`, not `7.01`).
pub fn version_prefix_matches(wanted: &str, upstream: &str) -> bool {
    wanted.is_empty()
        || upstream == wanted
        || upstream.strip_prefix(wanted).is_some_and(|rest| {
            rest.starts_with('.') || rest.starts_with('~') || rest.starts_with('+')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_versions() {
        fn check(debian: &str, expected: &str) {
            assert_eq!(upstream_version(debian), expected);
        }
        check("5:7.0.15-1~deb12u10", "7.0.15");
        check("15.10-0+deb12u1", "15.10");
        check("1.22.1-9+deb12u3", "1.22.1");
        check("2.36.1", "2.36.1");
        check("1:2.0-1-2", "2.0-1");
    }

    #[test]
    fn version_prefixes() {
        fn check(wanted: &str, upstream: &str, expected: bool) {
            assert_eq!(
                version_prefix_matches(wanted, upstream),
                expected,
                "{wanted} {upstream}"
            );
        }
        check("7.0", "7.0.15", true);
        check("7", "7.0.15", true);
        check("7.0", "7.01", false);
        check("15", "15.10", true);
        check("15", "150", false);
        check("", "1", true);
    }
}
