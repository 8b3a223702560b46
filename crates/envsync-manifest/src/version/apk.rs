//! Alpine package versions (`1.2.3a_rc1_p2~c0ffee-r0`), validated and ordered as
//! apk-tools 3 does: numbers, an optional letter, suffixes (`_alpha _beta _pre _rc` before
//! the bare version, `_cvs _svn _git _hg _p` after it), an optional `~` commit hash, then
//! the `-rN` revision. Checked line by line against apk-tools' own test data by
//! `tests/oracle_apk.rs`.

use std::cmp::Ordering;

use super::{deb::release_numbers, release_size, ChangeSize};

/// Token kinds in the order apk-tools allows them to follow each other; a version that
/// ends while the other goes on compares by these kinds, so the order matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks: the pre-release ones sort below `NONE`, the bare version.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 1),
    ("beta", 2),
    ("pre", 3),
    ("rc", 4),
    ("cvs", 6),
    ("svn", 7),
    ("git", 8),
    ("hg", 9),
    ("p", 10),
];
const SUFFIX_NONE: u8 = 5;

/// One token: its kind, its text, and its number (digits, wrapping as apk-tools' 64-bit
/// parse does) or suffix rank.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a [u8],
    number: u64,
}

/// Walks a version token by token, as apk-tools' `token_first` and `token_next` do.
struct Tokens<'a> {
    rest: &'a [u8],
    token: Token<'a>,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Tokens<'a> {
        let mut t = Tokens {
            rest: text.as_bytes(),
            token: Token {
                kind: Kind::InitialDigit,
                text: b"",
                number: 0,
            },
        };
        t.digits(Kind::InitialDigit);
        t
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.rest.iter().take_while(|&&c| keep(c)).count();
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        taken
    }

    fn digits(&mut self, kind: Kind) {
        let text = self.take_while(|c| c.is_ascii_digit());
        let number = text.iter().fold(0u64, |n, d| {
            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
        let kind = if text.is_empty() { Kind::Invalid } else { kind };
        self.token = Token { kind, text, number };
    }

    fn invalid(&mut self) {
        self.token.kind = Kind::Invalid;
    }

    fn advance(&mut self) {
        let now = self.token.kind;
        let Some(&c) = self.rest.first() else {
            self.token.kind = Kind::End;
            return;
        };
        match c {
            b'a'..=b'z' if now <= Kind::Digit => {
                let (text, rest) = self.rest.split_at(1);
                self.rest = rest;
                self.token = Token {
                    kind: Kind::Letter,
                    text,
                    number: u64::from(c),
                };
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if now > Kind::Digit {
                        return self.invalid();
                    }
                    self.rest = &self.rest[1..];
                }
                match now {
                    Kind::InitialDigit | Kind::Digit => self.digits(Kind::Digit),
                    Kind::Suffix => self.digits(Kind::SuffixNo),
                    _ => self.invalid(),
                }
            }
            b'_' if now <= Kind::SuffixNo => {
                self.rest = &self.rest[1..];
                let text = self.take_while(|c| c.is_ascii_lowercase());
                match SUFFIXES.iter().find(|(s, _)| s.as_bytes() == text) {
                    Some(&(_, rank)) => {
                        self.token = Token {
                            kind: Kind::Suffix,
                            text,
                            number: u64::from(rank),
                        }
                    }
                    None => self.invalid(),
                }
            }
            b'~' if now < Kind::CommitHash => {
                self.rest = &self.rest[1..];
                let text = self.take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                if text.is_empty() {
                    return self.invalid();
                }
                self.token = Token {
                    kind: Kind::CommitHash,
                    text,
                    number: 0,
                };
            }
            b'-' if now < Kind::RevisionNo => match self.rest.strip_prefix(b"-r") {
                Some(rest) => {
                    self.rest = rest;
                    self.digits(Kind::RevisionNo);
                }
                None => self.invalid(),
            },
            _ => self.invalid(),
        }
    }
}

/// apk-tools' `token_cmp`, for two tokens of the same kind.
fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        // A leading zero makes the numbers compare as text, as Gentoo does.
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        Kind::InitialDigit
        | Kind::Digit
        | Kind::SuffixNo
        | Kind::RevisionNo
        | Kind::Letter
        | Kind::Suffix => a.number.cmp(&b.number),
        _ => a.text.cmp(b.text),
    }
}

/// Compare token by token; with `fuzzy`, `right` running out first means equal (apk's
/// `~`: `3.6.9` is `~3.6`).
fn compare_tokens(left: &str, right: &str, fuzzy: bool) -> Ordering {
    let (mut a, mut b) = (Tokens::new(left.trim()), Tokens::new(right.trim()));
    while a.token.kind == b.token.kind && a.token.kind < Kind::End {
        match token_cmp(&a.token, &b.token) {
            Ordering::Equal => {}
            other => return other,
        }
        a.advance();
        b.advance();
    }
    let (at, bt) = (a.token, b.token);
    if at.kind == bt.kind || (fuzzy && bt.kind == Kind::End) {
        return Ordering::Equal;
    }
    // The common part is equal: the version that goes on is newer, unless what follows
    // is a pre-release suffix; an invalid tail sorts lowest.
    if at.kind == Kind::Suffix && at.number < u64::from(SUFFIX_NONE) {
        return Ordering::Less;
    }
    if bt.kind == Kind::Suffix && bt.number < u64::from(SUFFIX_NONE) {
        return Ordering::Greater;
    }
    bt.kind.cmp(&at.kind)
}

/// Order two versions as `apk version -t` does.
pub fn compare(left: &str, right: &str) -> Ordering {
    compare_tokens(left, right, false)
}

/// apk's fuzzy comparison (the `~` in `3.6.9 ~ 3.6`): like [`compare`], but `version`
/// equals `prefix` when it starts with all of `prefix`'s tokens.
pub fn compare_fuzzy(version: &str, prefix: &str) -> Ordering {
    compare_tokens(version, prefix, true)
}

/// Check a version the way `apk version -c` does.
pub fn validate(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the version is empty".into());
    }
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("the version does not start with a digit".into());
    }
    let mut t = Tokens::new(text);
    while t.token.kind < Kind::End {
        t.advance();
    }
    if t.token.kind == Kind::Invalid {
        Err("expected numbers, one lowercase letter, `_alpha`/`_beta`/`_pre`/`_rc`/`_cvs`/`_svn`/`_git`/`_hg`/`_p` suffixes, a `~` commit hash and `-rN`".into())
    } else {
        Ok(())
    }
}

/// Split off the `-rN` revision.
pub fn split_revision(text: &str) -> (&str, Option<&str>) {
    let text = text.trim();
    match text.rsplit_once("-r") {
        Some((v, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => (v, Some(r)),
        _ => (text, None),
    }
}

/// Major/minor/patch from the leading numbers, Revision for suffixes and `-rN`.
pub fn change_size(left: &str, right: &str) -> ChangeSize {
    let (a, _) = split_revision(left);
    let (b, _) = split_revision(right);
    if let Some(size) = release_size(&release_numbers(a), &release_numbers(b)) {
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
    fn orders_like_apk() {
        use Ordering::*;
        check("1.2.3_rc1-r0", "1.2.3-r0", Less);
        check("1.2.3_alpha", "1.2.3_beta", Less);
        check("1.2.3_pre2", "1.2.3_rc1", Less);
        check("1.2.3", "1.2.3_p1", Less);
        check("1.2.3_git20240101", "1.2.3_p1", Less);
        check("1.2.3_cvs", "1.2.3_svn", Less);
        check("1.2.3-r0", "1.2.3-r1", Less);
        check("1.2.3", "1.2.3-r0", Less);
        check("1.2.3a", "1.2.3b", Less);
        check("1.2.3", "1.2.3a", Less);
        check("1.2.10", "1.2.9", Greater);
        check("1.01", "1.1", Less);
        check("1.2", "1.2.0", Less);
        check("2.0_rc1", "1.9", Greater);
        check("3.0.11-r0", "3.0.11-r0", Equal);
    }

    /// apk-tools 3: a pre-release suffix sorts below the bare version (`6.0_pre1 < 6.0`),
    /// and numbers with a leading zero compare as text.
    #[test]
    fn pre_release_suffixes_sort_below_the_release() {
        use Ordering::*;
        check("6.0_pre1", "6.0", Less);
        check("6.1_pre1-r0", "6.1-r0", Less);
        check("6.0_p1", "6.0", Greater);
        check("0.1.0_alpha_pre2", "0.1.0_alpha", Less);
        check("8.2.0", "8.2.001", Less);
        check("8.2.0015", "8.2.002", Less);
        check("1.0~1234-r1", "1.0~2345-r0", Less);
        check("1.0", "1.0bc", Less);
    }

    #[test]
    fn fuzzy() {
        assert_eq!(compare_fuzzy("3.6.9", "3.6"), Ordering::Equal);
        assert_eq!(compare_fuzzy("3.6_pre1", "3.6"), Ordering::Equal);
        assert_eq!(compare_fuzzy("3.8", "3.8.1"), Ordering::Less);
        assert_eq!(compare("3.6.9", "3.6"), Ordering::Greater);
    }

    #[test]
    fn validates() {
        assert!(validate("1.2.3_rc1-r0").is_ok());
        assert!(validate("1.2.3a_p2-r10").is_ok());
        assert!(validate("1.2.3_foo").is_err());
        assert!(validate("1.2.3-x").is_err());
        assert!(validate("v1.2").is_err());
        assert!(validate("1.2.3A").is_err());
        assert!(validate("0.1_pre2~1234abcd").is_ok());
        assert!(validate("0.1_p1_pre2").is_ok());
        assert!(validate("0.1_pre2~1234xbcd").is_err());
        assert!(validate("0.1-r2_pre1").is_err());
        assert!(validate("0.1a1").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(change_size("1.2.3-r0", "1.2.3-r1"), ChangeSize::Revision);
        assert_eq!(change_size("1.2.3-r0", "1.2.4-r0"), ChangeSize::Patch);
        assert_eq!(
            change_size("1.2.3_rc1-r0", "1.2.3-r0"),
            ChangeSize::Revision
        );
    }
}
