//! Alpine package versions (`1.2.3a_rc1_p2-r0`), ordered as apk-tools orders them:
//! numbers, an optional letter, suffixes (`_alpha _beta _pre _rc` before the bare version,
//! `_cvs _svn _git _hg _p` after it), then the `-rN` revision.

use std::cmp::Ordering;

use super::{deb::release_numbers, release_size, ChangeSize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid = -1,
    DigitOrZero = 0,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// apk-tools' `next_token`: the kind of the token that starts at `s[*pos]`.
fn next_token(ty: Token, s: &[u8], pos: &mut usize) -> Token {
    let mut n = Token::Invalid;
    match s.get(*pos) {
        None | Some(0) => n = Token::End,
        Some(c) if matches!(ty, Token::Digit | Token::DigitOrZero) && c.is_ascii_lowercase() => {
            n = Token::Letter
        }
        Some(c) if ty == Token::Letter && c.is_ascii_digit() => n = Token::Digit,
        Some(c) if ty == Token::Suffix && c.is_ascii_digit() => n = Token::SuffixNo,
        Some(c) => {
            match c {
                b'.' => n = Token::DigitOrZero,
                b'_' => n = Token::Suffix,
                b'-' if s.get(*pos + 1) == Some(&b'r') => {
                    n = Token::RevisionNo;
                    *pos += 1;
                }
                _ => {}
            }
            *pos += 1;
        }
    }
    if n < ty
        && !((n == Token::DigitOrZero && ty == Token::Digit)
            || (n == Token::Suffix && ty == Token::SuffixNo)
            || (n == Token::Digit && ty == Token::Letter))
    {
        n = Token::Invalid;
    }
    n
}

/// apk-tools' `get_token`: the value of the token of kind `*ty` at `s[*pos]`, advancing
/// `*ty` to the kind of the next token.
fn get_token(ty: &mut Token, s: &[u8], pos: &mut usize) -> i128 {
    if *pos >= s.len() {
        *ty = Token::End;
        return 0;
    }
    let rest = &s[*pos..];
    let mut i = 0;
    let mut v: i128 = 0;
    let mut nt = Token::Invalid;
    let digits = |i: &mut usize, v: &mut i128| {
        while *i < rest.len() && rest[*i].is_ascii_digit() {
            *v = v
                .saturating_mul(10)
                .saturating_add(i128::from(rest[*i] - b'0'));
            *i += 1;
        }
    };
    match *ty {
        Token::DigitOrZero if rest[0] == b'0' => {
            // Leading zeros get special treatment: `1.01` sorts before `1.1`.
            while i < rest.len() && rest[i] == b'0' {
                i += 1;
            }
            nt = Token::Digit;
            v = -(i as i128);
        }
        Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
            digits(&mut i, &mut v)
        }
        Token::Letter => {
            v = i128::from(rest[0]);
            i = 1;
        }
        Token::Suffix => {
            if let Some(k) = PRE_SUFFIXES
                .iter()
                .position(|p| rest.starts_with(p.as_bytes()))
            {
                i = PRE_SUFFIXES[k].len();
                v = k as i128 - PRE_SUFFIXES.len() as i128;
            } else if let Some(k) = POST_SUFFIXES
                .iter()
                .position(|p| rest.starts_with(p.as_bytes()))
            {
                i = POST_SUFFIXES[k].len();
                v = k as i128;
            } else {
                *ty = Token::Invalid;
                return -1;
            }
        }
        _ => {
            *ty = Token::Invalid;
            return -1;
        }
    }
    *pos += i;
    if *pos >= s.len() {
        *ty = Token::End;
    } else if nt != Token::Invalid {
        *ty = nt;
    } else {
        *ty = next_token(*ty, s, pos);
    }
    v
}

/// Order two versions as `apk version -t` does.
pub fn compare(left: &str, right: &str) -> Ordering {
    let (a, b) = (left.trim().as_bytes(), right.trim().as_bytes());
    let (mut at, mut bt) = (Token::Digit, Token::Digit);
    let (mut ap, mut bp) = (0, 0);
    let (mut av, mut bv) = (0, 0);
    while at == bt && at != Token::End && at != Token::Invalid && av == bv {
        av = get_token(&mut at, a, &mut ap);
        bv = get_token(&mut bt, b, &mut bp);
    }
    if av != bv {
        return av.cmp(&bv);
    }
    if at == bt {
        return Ordering::Equal;
    }
    // The common part is equal: the longer version is newer unless what follows is a
    // pre-release suffix.
    let mut tt = at;
    let mut p = ap;
    if at == Token::Suffix && get_token(&mut tt, a, &mut p) < 0 {
        return Ordering::Less;
    }
    let mut tt = bt;
    let mut p = bp;
    if bt == Token::Suffix && get_token(&mut tt, b, &mut p) < 0 {
        return Ordering::Greater;
    }
    bt.cmp(&at)
}

/// Check a version the way `apk version -c` does.
pub fn validate(text: &str) -> Result<(), String> {
    let s = text.trim().as_bytes();
    if s.is_empty() {
        return Err("the version is empty".into());
    }
    if !s[0].is_ascii_digit() {
        return Err("the version does not start with a digit".into());
    }
    let mut ty = Token::Digit;
    let mut pos = 0;
    while ty != Token::End && ty != Token::Invalid {
        get_token(&mut ty, s, &mut pos);
    }
    if ty == Token::Invalid {
        Err("expected numbers, one lowercase letter, `_alpha`/`_beta`/`_pre`/`_rc`/`_cvs`/`_svn`/`_git`/`_hg`/`_p` suffixes and `-rN`".into())
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

    #[test]
    fn validates() {
        assert!(validate("1.2.3_rc1-r0").is_ok());
        assert!(validate("1.2.3a_p2-r10").is_ok());
        assert!(validate("1.2.3_foo").is_err());
        assert!(validate("1.2.3-x").is_err());
        assert!(validate("v1.2").is_err());
        assert!(validate("1.2.3A").is_err());
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
