//! RPM versions (`[epoch:]version[-release]`), ordered by rpm's `rpmvercmp`: alphanumeric
//! segments, numbers above letters, `~` below everything, `^` above the end of the string.

use std::cmp::Ordering;

use super::{cmp_digits, deb::release_numbers, release_size, ChangeSize};

/// The parts of an EVR string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub epoch: Option<&'a str>,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

/// Split `[epoch:]version[-release]`; the release starts after the last `-`.
pub fn split(text: &str) -> Parts<'_> {
    let text = text.trim();
    let (epoch, rest) = match text.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(e), rest)
        }
        _ => (None, text),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((v, r)) => (v, Some(r)),
        None => (rest, None),
    };
    Parts {
        epoch,
        version,
        release,
    }
}

/// Check that a version is one rpm accepts in a package header.
pub fn validate(text: &str) -> Result<(), String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the version is empty".into());
    }
    if let Some((e, _)) = t.split_once(':') {
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("the epoch `{e}` is not a number"));
        }
    }
    let p = split(t);
    if p.version.is_empty() {
        return Err("the version part is empty".into());
    }
    if p.release == Some("") {
        return Err("the release after the last `-` is empty".into());
    }
    for part in [Some(p.version), p.release].into_iter().flatten() {
        if let Some(c) = part
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !"._+~^".contains(*c))
        {
            return Err(format!("`{c}` is not allowed in an rpm version"));
        }
    }
    Ok(())
}

/// rpm's `rpmvercmp` on one part (version or release).
// Long because it is a line-for-line port of `rpmvercmp` in rpm's `rpmvercmp.c`:
// one loop over two cursors, where the `~` rule, the `^` rule and the segment compare
// each advance both cursors or decide. Kept whole so that it can be read side by side
// with rpm's source, which `tests/oracle_rpm.rs` holds it to.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else { break };
        let isnum = ca.is_ascii_digit();
        let class = |c: &u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let ea = i + a[i..].iter().take_while(|c| class(c)).count();
        let eb = j + b[j..].iter().take_while(|c| class(c)).count();
        if eb == j {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[i..ea], &b[j..eb]);
        let ord = if isnum {
            cmp_digits(
                std::str::from_utf8(sa).unwrap_or(""),
                std::str::from_utf8(sb).unwrap_or(""),
            )
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Order two EVR strings: epoch (absent is 0), version, then release (absent sorts first).
pub fn compare(left: &str, right: &str) -> Ordering {
    let (a, b) = (split(left), split(right));
    compare_parts(&a, &b, true)
}

/// Compare, optionally ignoring the release when one side has none (rpm's rule for
/// dependency ranges such as `>= 1.0`).
pub fn compare_parts(a: &Parts<'_>, b: &Parts<'_>, with_release: bool) -> Ordering {
    cmp_digits(a.epoch.unwrap_or("0"), b.epoch.unwrap_or("0"))
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| {
            if with_release {
                rpmvercmp(a.release.unwrap_or(""), b.release.unwrap_or(""))
            } else {
                Ordering::Equal
            }
        })
}

/// Epoch, then the leading numbers of the version, then anything else.
pub fn change_size(left: &str, right: &str) -> ChangeSize {
    let (a, b) = (split(left), split(right));
    if cmp_digits(a.epoch.unwrap_or("0"), b.epoch.unwrap_or("0")) != Ordering::Equal {
        return ChangeSize::Epoch;
    }
    if let Some(size) = release_size(&release_numbers(a.version), &release_numbers(b.version)) {
        return size;
    }
    if compare(left, right) != Ordering::Equal {
        ChangeSize::Revision
    } else {
        ChangeSize::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(left: &str, right: &str, expected: Ordering) {
        assert_eq!(rpmvercmp(left, right), expected, "{left} vs {right}");
        assert_eq!(
            rpmvercmp(right, left),
            expected.reverse(),
            "{right} vs {left}"
        );
    }

    /// Cases from rpm's own test suite (tests/rpmvercmp.at).
    #[test]
    fn rpm_test_suite() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1a", Equal),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p1", Equal),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10", Equal),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("xyz.4", "2", Less),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "6.5p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0aa", "1.0a", Greater),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a+", Equal),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("+_", "_+", Equal),
            ("1.0~rc1", "1.0~rc1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0^", Equal),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ] {
            check(a, b, o);
        }
    }

    #[test]
    fn evr() {
        assert_eq!(compare("1:1.0-1", "2.0-1"), Ordering::Greater);
        assert_eq!(compare("1.0-1.el9", "1.0-2.el9"), Ordering::Less);
        assert_eq!(change_size("1.0-1.el9", "1.0-2.el9"), ChangeSize::Revision);
    }
}
