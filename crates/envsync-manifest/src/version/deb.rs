//! Debian package versions, ordered exactly as dpkg orders them (`[epoch:]upstream[-revision]`).
//!
//! The comparison is dpkg's `verrevcmp`: non-digit runs compare character by character with
//! `~` before everything (even the end of the string) and letters before other characters;
//! digit runs compare as numbers.

use std::cmp::Ordering;

use super::{cmp_digits, release_size, ChangeSize};

/// A version split into its three parts. Splitting is lenient so that ordering is total on
/// any input; [`validate`] says whether dpkg would accept the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// Digits only, possibly empty (epoch 0).
    pub epoch: &'a str,
    pub upstream: &'a str,
    /// Empty when the version has no `-`.
    pub revision: &'a str,
}

/// Split a version as dpkg's `parseversion` does: the epoch ends at the first `:`, the
/// revision starts after the last `-`.
pub fn split(text: &str) -> Parts<'_> {
    let text = text.trim();
    let (epoch, rest) = match text.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e, rest),
        _ => ("", text),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    Parts {
        epoch,
        upstream,
        revision,
    }
}

/// Check a version the way dpkg does, returning what is wrong.
pub fn validate(text: &str) -> Result<(), String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the version is empty".into());
    }
    if trimmed.contains(char::is_whitespace) {
        return Err("a version cannot contain whitespace".into());
    }
    let rest = match trimmed.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() {
                return Err("the epoch before `:` is empty".into());
            }
            if !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("the epoch `{epoch}` is not a number"));
            }
            if epoch.trim_start_matches('0').len() > 10
                || epoch.parse::<u64>().map_or(true, |e| e > i32::MAX as u64)
            {
                return Err(format!("the epoch `{epoch}` is too big"));
            }
            if rest.is_empty() {
                return Err("nothing follows the `:` of the epoch".into());
            }
            rest
        }
        None => trimmed,
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => {
            if r.is_empty() {
                return Err("the revision after the last `-` is empty".into());
            }
            (u, Some(r))
        }
        None => (rest, None),
    };
    if upstream.is_empty() {
        return Err("the upstream version is empty".into());
    }
    if !upstream.as_bytes()[0].is_ascii_digit() {
        return Err("the upstream version does not start with a digit".into());
    }
    if let Some(c) = upstream
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !".-+~:".contains(*c))
    {
        return Err(format!("`{c}` is not allowed in the upstream version"));
    }
    if let Some(r) = revision {
        if let Some(c) = r
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !".+~".contains(*c))
        {
            return Err(format!("`{c}` is not allowed in the revision"));
        }
    }
    Ok(())
}

/// dpkg's character weight: digits 0 (they never reach this), `~` below the end of the
/// string, letters by code, everything else above the letters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        // dpkg reads bytes as signed `char`: bytes >= 0x80 become negative and then
        // `c + 256` brings them back to their unsigned value.
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision).
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        let si = i;
        while digit(a, i) {
            i += 1;
        }
        let sj = j;
        while digit(b, j) {
            j += 1;
        }
        let an = std::str::from_utf8(&a[si..i]).unwrap_or("");
        let bn = std::str::from_utf8(&b[sj..j]).unwrap_or("");
        match cmp_digits(an, bn) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// Order two versions as `dpkg --compare-versions` does.
pub fn compare(left: &str, right: &str) -> Ordering {
    let (a, b) = (split(left), split(right));
    cmp_digits(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// The leading `1.2.3` of an upstream version, as numbers.
pub(crate) fn release_numbers(upstream: &str) -> Vec<&str> {
    let end = upstream
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(upstream.len());
    upstream[..end]
        .split('.')
        .filter(|s| !s.is_empty())
        .collect()
}

/// The most significant part that differs: epoch, then the numbers of the upstream
/// release, then anything else (upstream suffixes such as `~rc1`, and the revision).
pub fn change_size(left: &str, right: &str) -> ChangeSize {
    let (a, b) = (split(left), split(right));
    if cmp_digits(a.epoch, b.epoch) != Ordering::Equal {
        return ChangeSize::Epoch;
    }
    if let Some(size) = release_size(&release_numbers(a.upstream), &release_numbers(b.upstream)) {
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
        assert_eq!(compare(left, right), expected, "{left} vs {right}");
        assert_eq!(
            compare(right, left),
            expected.reverse(),
            "{right} vs {left}"
        );
    }

    #[test]
    fn orders_like_dpkg() {
        check("1.0~rc1", "1.0", Ordering::Less);
        check("1:2.17.0", "2.2.9", Ordering::Greater);
        check("1.0-1~bpo", "1.0-1", Ordering::Less);
        check("1.0~~", "1.0~", Ordering::Less);
        check("1.0", "1.0-0", Ordering::Equal);
        check("1.0a", "1.0+", Ordering::Less);
        check("0:1.0", "1.0", Ordering::Equal);
        check("1.002", "1.2", Ordering::Equal);
    }

    #[test]
    fn validates() {
        assert!(validate("15.10-0+deb12u1").is_ok());
        assert!(validate("1:2.0").is_ok());
        assert!(validate("a1.0").is_err());
        assert!(validate("1.0-").is_err());
        assert!(validate(":1.0").is_err());
        assert!(validate("x:1.0").is_err());
        assert!(validate("1.0 1").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(change_size("1:2.0-1", "2:1.0-1"), ChangeSize::Epoch);
        assert_eq!(
            change_size("3.0.11-1~deb12u2", "3.0.15-1~deb12u1"),
            ChangeSize::Patch
        );
        assert_eq!(change_size("3.0.11-1", "3.0.11-2"), ChangeSize::Revision);
        assert_eq!(change_size("1.0", "1.0-0"), ChangeSize::Other);
        assert_eq!(change_size("2.36-9", "2.40-1"), ChangeSize::Minor);
    }
}
