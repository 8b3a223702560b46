//! npm versions and ranges with node-semver's semantics (strict mode, no
//! `includePrerelease`), checked against npm's bundled `semver` by `tests/oracle_npm.rs`.
//!
//! Ranges are parsed the way node-semver parses them: its regular expressions are built
//! from the same tokens (including its length-limited "safe" forms) and applied by the same
//! sequence of replacements, so quirks such as `>=v1.2.3` or `1.2 - 2` behave identically.

mod re;

use std::cmp::Ordering;

use regex::Captures;

use super::{cmp_digits, release_size, ChangeSize};
use re::{res, Res};

const MAX_LENGTH: usize = 256;
const MAX_SAFE_INTEGER: &str = "9007199254740991";

/// JavaScript's `String.prototype.trim` (close enough: Unicode white space and BOM).
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// JavaScript's `s.split(/\s+/)`: empty strings at the ends are kept.
fn split_ws(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_ws = false;
    for (i, c) in s.char_indices() {
        let ws = c.is_whitespace() || c == '\u{feff}';
        if ws && !in_ws {
            out.push(&s[start..i]);
            in_ws = true;
        } else if !ws && in_ws {
            start = i;
            in_ws = false;
        }
    }
    out.push(if in_ws { "" } else { &s[start..] });
    out
}

/// A parsed version. The build metadata is dropped: it takes no part in ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    major: String,
    minor: String,
    patch: String,
    prerelease: Vec<String>,
    /// `major.minor.patch[-prerelease]`, as node-semver's `version` property.
    version: String,
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// node-semver's `compareIdentifiers`: numbers numerically and before text.
fn compare_identifiers(a: &str, b: &str) -> Ordering {
    match (is_numeric(a), is_numeric(b)) {
        (true, true) => cmp_digits(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl SemVer {
    /// Parse strictly, as `new SemVer(text)` does; `None` where it throws.
    pub fn parse(text: &str) -> Option<SemVer> {
        if text.encode_utf16().count() > MAX_LENGTH {
            return None;
        }
        if let Some(t) = plain_triple(text) {
            return Some(plain_semver(t, false));
        }
        let caps = res(text).full.captures(js_trim(text))?;
        let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let (major, minor, patch) = (part(1), part(2), part(3));
        if [major, minor, patch]
            .iter()
            .any(|n| cmp_digits(n, MAX_SAFE_INTEGER) == Ordering::Greater)
        {
            return None;
        }
        let prerelease: Vec<String> = match caps.get(4) {
            Some(m) if !m.as_str().is_empty() => {
                m.as_str().split('.').map(str::to_string).collect()
            }
            _ => Vec::new(),
        };
        let mut version = format!("{major}.{minor}.{patch}");
        if !prerelease.is_empty() {
            version.push('-');
            version.push_str(&prerelease.join("."));
        }
        Some(SemVer {
            major: major.to_string(),
            minor: minor.to_string(),
            patch: patch.to_string(),
            prerelease,
            version,
        })
    }

    /// The normalised version (`v1.2.3+build` → `1.2.3`).
    pub fn as_str(&self) -> &str {
        &self.version
    }

    fn compare_main(&self, other: &SemVer) -> Ordering {
        cmp_digits(&self.major, &other.major)
            .then_with(|| cmp_digits(&self.minor, &other.minor))
            .then_with(|| cmp_digits(&self.patch, &other.patch))
    }

    fn compare_pre(&self, other: &SemVer) -> Ordering {
        match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            (true, true) => return Ordering::Equal,
            (false, false) => {}
        }
        for i in 0.. {
            match (self.prerelease.get(i), other.prerelease.get(i)) {
                (None, None) => return Ordering::Equal,
                (Some(_), None) => return Ordering::Greater,
                (None, Some(_)) => return Ordering::Less,
                (Some(a), Some(b)) if a == b => continue,
                (Some(a), Some(b)) => return compare_identifiers(a, b),
            }
        }
        Ordering::Equal
    }

    fn same_main(&self, other: &SemVer) -> bool {
        self.compare_main(other) == Ordering::Equal
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &SemVer) -> Ordering {
        if self.version == other.version {
            return Ordering::Equal;
        }
        self.compare_main(other)
            .then_with(|| self.compare_pre(other))
    }
}
impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &SemVer) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One comparator; `semver: None` is node-semver's `ANY` (the empty comparator).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    semver: Option<SemVer>,
    value: String,
}

impl Comparator {
    fn parse(r: &Res, comp: &str) -> Result<Comparator, String> {
        let comp = split_ws(js_trim(comp)).join(" ");
        let Some(caps) = r.comparator.captures(&comp) else {
            return Err(format!("`{comp}` is not a valid comparator"));
        };
        let op_text = caps.get(1).map_or("", |m| m.as_str());
        let op = match op_text {
            "" | "=" => Op::Eq,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            _ => Op::Ge,
        };
        let Some(v) = caps.get(2).filter(|m| !m.as_str().is_empty()) else {
            return Ok(Comparator {
                op: Op::Eq,
                semver: None,
                value: String::new(),
            });
        };
        let semver = SemVer::parse(v.as_str())
            .ok_or_else(|| format!("`{}` has a number above 2^53-1", v.as_str()))?;
        let op_str = if op_text == "=" { "" } else { op_text };
        let value = format!("{op_str}{}", semver.version);
        Ok(Comparator {
            op,
            semver: Some(semver),
            value,
        })
    }

    fn test(&self, v: &SemVer) -> bool {
        let Some(s) = &self.semver else { return true };
        let o = v.cmp(s);
        match self.op {
            Op::Eq => o == Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
        }
    }

    fn is_null_set(&self) -> bool {
        self.value == "<0.0.0-0"
    }
}

/// A node-semver range: sets joined by `||`, each a list of comparators that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    set: Vec<Vec<Comparator>>,
}

fn is_x(id: Option<&str>) -> bool {
    match id {
        None | Some("") => true,
        Some(s) => s.eq_ignore_ascii_case("x") || s == "*",
    }
}

/// `+n + 1` on a digit string; a result above 2^53-1 is later rejected as node-semver does.
fn inc(n: &str) -> String {
    match n.parse::<u128>() {
        Ok(v) => (v + 1).to_string(),
        Err(_) => "9".repeat(40),
    }
}

fn cap<'h>(c: &Captures<'h>, i: usize) -> Option<&'h str> {
    c.get(i).map(|m| m.as_str())
}

fn replace_caret(r: &Res, comp: &str) -> String {
    r.caret
        .replacen(comp, 1, |c: &Captures<'_>| {
            let (mj, mn, pa, pr) = (
                cap(c, 1),
                cap(c, 2),
                cap(c, 3),
                cap(c, 4).filter(|s| !s.is_empty()),
            );
            let (a, b, p) = (mj.unwrap_or(""), mn.unwrap_or(""), pa.unwrap_or(""));
            if is_x(mj) {
                String::new()
            } else if is_x(mn) {
                format!(">={a}.0.0 <{}.0.0-0", inc(a))
            } else if is_x(pa) {
                if a == "0" {
                    format!(">={a}.{b}.0 <{a}.{}.0-0", inc(b))
                } else {
                    format!(">={a}.{b}.0 <{}.0.0-0", inc(a))
                }
            } else {
                let low = match pr {
                    Some(pr) => format!(">={a}.{b}.{p}-{pr}"),
                    None => format!(">={a}.{b}.{p}"),
                };
                if a == "0" {
                    if b == "0" {
                        format!("{low} <{a}.{b}.{}-0", inc(p))
                    } else {
                        format!("{low} <{a}.{}.0-0", inc(b))
                    }
                } else {
                    format!("{low} <{}.0.0-0", inc(a))
                }
            }
        })
        .into_owned()
}

fn replace_tilde(r: &Res, comp: &str) -> String {
    r.tilde
        .replacen(comp, 1, |c: &Captures<'_>| {
            let (mj, mn, pa, pr) = (
                cap(c, 1),
                cap(c, 2),
                cap(c, 3),
                cap(c, 4).filter(|s| !s.is_empty()),
            );
            let (a, b, p) = (mj.unwrap_or(""), mn.unwrap_or(""), pa.unwrap_or(""));
            if is_x(mj) {
                String::new()
            } else if is_x(mn) {
                format!(">={a}.0.0 <{}.0.0-0", inc(a))
            } else if is_x(pa) {
                format!(">={a}.{b}.0 <{a}.{}.0-0", inc(b))
            } else if let Some(pr) = pr {
                format!(">={a}.{b}.{p}-{pr} <{a}.{}.0-0", inc(b))
            } else {
                format!(">={a}.{b}.{p} <{a}.{}.0-0", inc(b))
            }
        })
        .into_owned()
}

fn replace_xrange(r: &Res, comp: &str) -> String {
    let comp = js_trim(comp);
    r.xrange
        .replacen(comp, 1, |c: &Captures<'_>| {
            let whole = c.get(0).map_or("", |m| m.as_str()).to_string();
            let mut gtlt = cap(c, 1).unwrap_or("").to_string();
            let (mj, mn, pa) = (cap(c, 2), cap(c, 3), cap(c, 4));
            if (is_x(mj) && !is_x(mn))
                || (is_x(mn) && pa.is_some_and(|p| !p.is_empty()) && !is_x(pa))
            {
                return comp.to_string();
            }
            let xmj = is_x(mj);
            let xmn = xmj || is_x(mn);
            let xpa = xmn || is_x(pa);
            let any_x = xpa;
            if gtlt == "=" && any_x {
                gtlt.clear();
            }
            let mut pr = "";
            let (mut a, mut b) = (mj.unwrap_or("").to_string(), mn.unwrap_or("").to_string());
            if xmj {
                if gtlt == ">" || gtlt == "<" {
                    "<0.0.0-0".to_string()
                } else {
                    "*".to_string()
                }
            } else if !gtlt.is_empty() && any_x {
                if xmn {
                    b = "0".into();
                }
                let p = "0";
                if gtlt == ">" {
                    gtlt = ">=".into();
                    if xmn {
                        a = inc(&a);
                        b = "0".into();
                    } else {
                        b = inc(&b);
                    }
                } else if gtlt == "<=" {
                    gtlt = "<".into();
                    if xmn {
                        a = inc(&a);
                    } else {
                        b = inc(&b);
                    }
                }
                if gtlt == "<" {
                    pr = "-0";
                }
                format!("{gtlt}{a}.{b}.{p}{pr}")
            } else if xmn {
                format!(">={a}.0.0 <{}.0.0-0", inc(&a))
            } else if xpa {
                format!(">={a}.{b}.0 <{a}.{}.0-0", inc(&b))
            } else {
                whole
            }
        })
        .into_owned()
}

fn hyphen_replace(c: &Captures<'_>) -> String {
    let from = cap(c, 1).unwrap_or("");
    let (fmj, fmn, fpa, fpr) = (cap(c, 2), cap(c, 3), cap(c, 4), cap(c, 5));
    let to = cap(c, 7).unwrap_or("");
    let (tmj, tmn, tpa, tpr) = (cap(c, 8), cap(c, 9), cap(c, 10), cap(c, 11));
    let from = if is_x(fmj) {
        String::new()
    } else if is_x(fmn) {
        format!(">={}.0.0", fmj.unwrap_or(""))
    } else if is_x(fpa) {
        format!(">={}.{}.0", fmj.unwrap_or(""), fmn.unwrap_or(""))
    } else {
        // With or without a pre-release, the lower bound is the version as written.
        let _ = fpr;
        format!(">={from}")
    };
    let to = if is_x(tmj) {
        String::new()
    } else if is_x(tmn) {
        format!("<{}.0.0-0", inc(tmj.unwrap_or("")))
    } else if is_x(tpa) {
        format!("<{}.{}.0-0", tmj.unwrap_or(""), inc(tmn.unwrap_or("")))
    } else if let Some(tpr) = tpr.filter(|s| !s.is_empty()) {
        format!(
            "<={}.{}.{}-{tpr}",
            tmj.unwrap_or(""),
            tmn.unwrap_or(""),
            tpa.unwrap_or("")
        )
    } else {
        format!("<={to}")
    };
    js_trim(&format!("{from} {to}")).to_string()
}

fn parse_comparator(r: &Res, comp: &str) -> String {
    let comp = r.build.replacen(comp, 1, "").into_owned();
    let comp = split_ws(js_trim(&comp))
        .into_iter()
        .map(|c| replace_caret(r, c))
        .collect::<Vec<_>>()
        .join(" ");
    let comp = split_ws(js_trim(&comp))
        .into_iter()
        .map(|c| replace_tilde(r, c))
        .collect::<Vec<_>>()
        .join(" ");
    let comp = split_ws(&comp)
        .into_iter()
        .map(|c| replace_xrange(r, c))
        .collect::<Vec<_>>()
        .join(" ");
    r.star.replacen(js_trim(&comp), 1, "").into_owned()
}

fn parse_range(r: &Res, range: &str) -> Result<Vec<Comparator>, String> {
    let range = r.build_strip.replace_all(range, "");
    let range = r.hyphen.replacen(&range, 1, hyphen_replace);
    let range = r.comparator_trim.replace_all(&range, "${1}${2}${3}");
    let range = r.tilde_trim.replace_all(&range, "${1}~");
    let range = r.caret_trim.replace_all(&range, "${1}^");
    let joined = range
        .split(' ')
        .map(|c| parse_comparator(r, c))
        .collect::<Vec<_>>()
        .join(" ");
    // Every comparator is built (and must be valid) before a null set short-cuts the list.
    let comparators = split_ws(&joined)
        .into_iter()
        .map(|comp| Comparator::parse(r, &r.gte0.replacen(js_trim(comp), 1, "")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(dedupe(comparators))
}

/// The end of node-semver's `parseRange`: a null set replaces the list, repeats collapse
/// into their first position, and `ANY` goes when anything else is left.
fn dedupe(comparators: Vec<Comparator>) -> Vec<Comparator> {
    let mut out: Vec<Comparator> = Vec::new();
    for c in comparators {
        if c.is_null_set() {
            return vec![c];
        }
        // A Map keyed by value: a repeated comparator keeps its first position.
        if let Some(existing) = out.iter_mut().find(|e| e.value == c.value) {
            *existing = c;
        } else {
            out.push(c);
        }
    }
    if out.len() > 1 {
        out.retain(|c| !c.value.is_empty());
    }
    out
}

/// `M.m.p` with node-semver's numeric identifiers: no leading zeros, at most 2^53-1.
fn plain_triple(s: &str) -> Option<[&str; 3]> {
    let mut it = s.split('.');
    let t = [it.next()?, it.next()?, it.next()?];
    let numeric = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
            && cmp_digits(n, MAX_SAFE_INTEGER) != Ordering::Greater
    };
    (it.next().is_none() && t.iter().all(numeric)).then_some(t)
}

fn plain_semver(t: [&str; 3], pre: bool) -> SemVer {
    let prerelease = if pre {
        vec!["0".to_string()]
    } else {
        Vec::new()
    };
    let mut version = format!("{}.{}.{}", t[0], t[1], t[2]);
    if pre {
        version.push_str("-0");
    }
    SemVer {
        major: t[0].to_string(),
        minor: t[1].to_string(),
        patch: t[2].to_string(),
        prerelease,
        version,
    }
}

/// The comparators of one plain token (`^1.2.3`, `~1.2.3`, `>=1.2.3`, `1.2.3`), built the
/// way the regular-expression pipeline builds them; `None` for anything else, which then
/// takes the full pipeline. `tests::fast_path_equals_the_pipeline` holds the two together.
fn fast_token(token: &str, out: &mut Vec<Comparator>) -> Option<()> {
    let ops = [
        (">=", Some(Op::Ge)),
        ("<=", Some(Op::Le)),
        (">", Some(Op::Gt)),
        ("<", Some(Op::Lt)),
        ("=", Some(Op::Eq)),
        ("^", None),
        ("~", None),
    ];
    let (sym, op, rest) = match ops.iter().find(|(sym, _)| token.starts_with(sym)) {
        Some((sym, op)) => (*sym, *op, &token[sym.len()..]),
        None => ("", Some(Op::Eq), token),
    };
    let t = plain_triple(rest)?;
    let safe = |n: String| (cmp_digits(&n, MAX_SAFE_INTEGER) != Ordering::Greater).then_some(n);
    let comp = |op: Op, sym: &str, s: SemVer| Comparator {
        op,
        value: format!("{sym}{}", s.version),
        semver: Some(s),
    };
    match (sym, op) {
        (">=", _) if t == ["0", "0", "0"] => out.push(Comparator {
            op: Op::Eq,
            semver: None,
            value: String::new(),
        }),
        (_, Some(op)) => {
            let shown = if sym == "=" { "" } else { sym };
            out.push(comp(op, shown, plain_semver(t, false)));
        }
        (_, None) => {
            let upper = if sym == "~" || t[0] == "0" && t[1] != "0" {
                let minor = safe(inc(t[1]))?;
                plain_semver([t[0], &minor, "0"], true)
            } else if t[0] == "0" {
                let patch = safe(inc(t[2]))?;
                plain_semver([t[0], t[1], &patch], true)
            } else {
                let major = safe(inc(t[0]))?;
                plain_semver([&major, "0", "0"], true)
            };
            if t == ["0", "0", "0"] {
                out.push(Comparator {
                    op: Op::Eq,
                    semver: None,
                    value: String::new(),
                });
            } else {
                out.push(comp(Op::Ge, ">=", plain_semver(t, false)));
            }
            out.push(comp(Op::Lt, "<", upper));
        }
    }
    Some(())
}

/// Parse ranges made only of plain tokens without the regular expressions.
fn fast_range(raw: &str) -> Option<Range> {
    let mut set = Vec::new();
    for part in raw.split("||") {
        let part = js_trim(part);
        if part.is_empty() {
            return None;
        }
        let mut comps = Vec::new();
        for token in part.split(' ') {
            fast_token(token, &mut comps)?;
        }
        set.push(dedupe(comps));
    }
    Some(finish(set))
}

/// The end of node-semver's `Range` constructor: drop null sets when others remain, and
/// let a lone `ANY` set stand for the whole range.
fn finish(mut set: Vec<Vec<Comparator>>) -> Range {
    if set.len() > 1 {
        let first = set[0].clone();
        set.retain(|c: &Vec<Comparator>| !c.first().is_some_and(Comparator::is_null_set));
        if set.is_empty() {
            set = vec![first];
        } else if set.len() > 1 {
            if let Some(any) = set.iter().find(|c| c.len() == 1 && c[0].value.is_empty()) {
                set = vec![any.clone()];
            }
        }
    }
    Range { set }
}

impl Range {
    /// Parse as `new Range(text)` does; an error where it throws.
    pub fn parse(text: &str) -> Result<Range, String> {
        let raw = split_ws(js_trim(text)).join(" ");
        if let Some(range) = fast_range(&raw) {
            return Ok(range);
        }
        Range::parse_with_expressions(&raw)
    }

    /// The full node-semver pipeline, on whitespace-normalised text.
    fn parse_with_expressions(raw: &str) -> Result<Range, String> {
        let r = res(raw);
        let mut set = Vec::new();
        for part in raw.split("||") {
            let comps = parse_range(r, js_trim(part))?;
            if !comps.is_empty() {
                set.push(comps);
            }
        }
        if set.is_empty() {
            return Err(format!("`{raw}` is not a semver range"));
        }
        Ok(finish(set))
    }

    /// `semver.satisfies(version, range)`: a pre-release satisfies a comparator set only if
    /// some comparator in it names a pre-release of the same `major.minor.patch`.
    pub fn satisfies(&self, version: &str) -> bool {
        if version.is_empty() {
            return false;
        }
        let Some(v) = SemVer::parse(version) else {
            return false;
        };
        self.set.iter().any(|set| test_set(set, &v))
    }

    /// The single version an `=1.2.3`-style range pins.
    pub fn exact(&self) -> Option<String> {
        match self.set.as_slice() {
            [set] => match set.as_slice() {
                [Comparator {
                    op: Op::Eq,
                    semver: Some(s),
                    ..
                }] => Some(s.version.clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn test_set(set: &[Comparator], v: &SemVer) -> bool {
    if !set.iter().all(|c| c.test(v)) {
        return false;
    }
    if v.prerelease.is_empty() {
        return true;
    }
    set.iter().any(|c| {
        c.semver
            .as_ref()
            .is_some_and(|s| !s.prerelease.is_empty() && s.same_main(v))
    })
}

/// Order two versions as `semver.compare` does. Text that is not semver sorts before
/// every valid version, and among itself by the generic ordering.
pub fn compare(left: &str, right: &str) -> Ordering {
    match (SemVer::parse(left), SemVer::parse(right)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => super::generic::compare(left, right),
    }
}

/// Check a version, returning what is wrong.
pub fn validate(text: &str) -> Result<(), String> {
    match SemVer::parse(text) {
        Some(_) => Ok(()),
        None => Err("it is not a semver version (`MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, numbers without leading zeros)".into()),
    }
}

/// Major, minor, patch, then the pre-release tag as Revision; build metadata only: Other.
pub fn change_size(left: &str, right: &str) -> ChangeSize {
    let (Some(a), Some(b)) = (SemVer::parse(left), SemVer::parse(right)) else {
        return super::generic::change_size(left, right);
    };
    let an = [a.major.as_str(), a.minor.as_str(), a.patch.as_str()];
    let bn = [b.major.as_str(), b.minor.as_str(), b.patch.as_str()];
    if let Some(size) = release_size(&an, &bn) {
        return size;
    }
    if a != b {
        ChangeSize::Revision
    } else {
        ChangeSize::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(range: &str, version: &str, expected: bool) {
        let r = Range::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
        assert_eq!(r.satisfies(version), expected, "`{version}` in `{range}`");
    }

    #[test]
    fn fast_path_equals_the_pipeline() {
        let nums = ["0", "1", "2", "10", "9007199254740990", "9007199254740991"];
        let ops = ["", "=", "^", "~", ">=", "<=", ">", "<"];
        let mut checked = 0;
        for op in ops {
            for a in nums {
                for b in nums {
                    for c in ["0", "1", "9007199254740991"] {
                        let token = format!("{op}{a}.{b}.{c}");
                        for text in [
                            token.clone(),
                            format!("{token} >=0.0.0"),
                            format!("{token} || ^0.0.0 {token}"),
                        ] {
                            let slow = Range::parse_with_expressions(&text);
                            match fast_range(&text) {
                                Some(fast) => assert_eq!(Ok(fast), slow, "`{text}`"),
                                None => assert!(
                                    slow.is_err() || text.contains("9007199254740991"),
                                    "`{text}` left the fast path"
                                ),
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 2000);
    }

    #[test]
    fn long_identifiers_use_the_bounded_expressions() {
        // node-semver bounds an identifier run to 250 characters in ranges.
        let long = format!("1.2.3-{}", "a".repeat(251));
        assert!(Range::parse(&long).is_err());
        let ok = format!("1.2.3-{}", "a".repeat(250));
        assert!(Range::parse(&ok).is_ok());
    }

    #[test]
    fn ranges() {
        check("^4.18.0", "4.19.2", true);
        check("^4.18.0", "5.0.0", false);
        check("^0.2.3", "0.3.0", false);
        check("~1.2", "1.2.9", true);
        check("~1.2", "1.3.0", false);
        check("1.2.3 - 2.3.4", "2.3.4", true);
        check("1.2 - 2", "2.9.9", true);
        check("1.x || >=3.0.0 <3.1.0", "3.0.5", true);
        check("*", "1.0.0-rc.1", false);
        check(">=1.0.0-rc.1", "1.0.0-rc.2", true);
        check(">=1.0.0-rc.1", "1.0.1-rc.1", false);
        check("4.18.2", "v4.18.2", true);
        check(">= 1.2.3", "1.2.4", true);
        assert!(Range::parse("not a range").is_err());
        assert_eq!(
            Range::parse("=4.18.2").unwrap().exact().as_deref(),
            Some("4.18.2")
        );
        assert_eq!(Range::parse("^4.18.2").unwrap().exact(), None);
    }

    #[test]
    fn orders() {
        assert_eq!(compare("1.0.0-alpha", "1.0.0-alpha.1"), Ordering::Less);
        assert_eq!(compare("1.0.0-alpha.beta", "1.0.0-beta"), Ordering::Less);
        assert_eq!(compare("1.0.0-2", "1.0.0-11"), Ordering::Less);
        assert_eq!(compare("1.0.0-rc.1", "1.0.0"), Ordering::Less);
        assert_eq!(compare("1.0.0+a", "1.0.0+b"), Ordering::Equal);
        assert_eq!(change_size("1.0.0+a", "1.0.0+b"), ChangeSize::Other);
        assert_eq!(change_size("1.0.0-rc.1", "1.0.0"), ChangeSize::Revision);
    }
}
