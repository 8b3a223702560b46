//! PEP 440 versions and specifiers, with the exact parsing, normalisation, ordering and
//! matching rules of the current `packaging` release (checked against it, and against
//! the older copy that pip vendors, by `tests/oracle_pypi.rs`).

use std::cmp::Ordering;
use std::fmt;

use super::{cmp_digits, release_size, ChangeSize};

/// A non-negative integer of any size, kept as its digits without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Num(String);

impl Num {
    fn new(digits: &str) -> Num {
        let t = digits.trim_start_matches('0');
        Num(if t.is_empty() { "0".into() } else { t.into() })
    }
    fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        cmp_digits(&self.0, &other.0)
    }
}
impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Pre-release kinds in their normalised spelling; `a < b < rc` as in packaging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Pre {
    A,
    B,
    Rc,
}

impl Pre {
    fn as_str(self) -> &'static str {
        match self {
            Pre::A => "a",
            Pre::B => "b",
            Pre::Rc => "rc",
        }
    }
}

/// One dot-separated part of a local version: text sorts before numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum LocalPart {
    Text(String),
    Int(Num),
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalPart::Text(s) => f.write_str(s),
            LocalPart::Int(n) => n.fmt(f),
        }
    }
}

/// A parsed PEP 440 version.
#[derive(Debug, Clone)]
pub struct Version {
    epoch: Num,
    release: Vec<Num>,
    pre: Option<(Pre, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Option<Vec<LocalPart>>,
}

/// Pre-release labels in the order packaging's regex tries them.
const PRE_LABELS: [(&str, Pre); 8] = [
    ("a", Pre::A),
    ("b", Pre::B),
    ("c", Pre::Rc),
    ("rc", Pre::Rc),
    ("alpha", Pre::A),
    ("beta", Pre::B),
    ("pre", Pre::Rc),
    ("preview", Pre::Rc),
];
const POST_LABELS: [&str; 3] = ["post", "rev", "r"];

fn is_sep(c: Option<&u8>) -> bool {
    matches!(c, Some(b'-' | b'_' | b'.'))
}

fn digits_at(s: &[u8], pos: usize) -> usize {
    s.get(pos..)
        .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
}

fn num(s: &[u8], from: usize, to: usize) -> Num {
    Num::new(std::str::from_utf8(&s[from..to]).unwrap_or("0"))
}

/// The ways an optional `[-_.]?LABEL[-_.]?[0-9]*` group can match at `pos`, in the
/// preference order of a backtracking regex: each entry is (end, label index, number).
fn labelled(s: &[u8], pos: usize, labels: &[&str]) -> Vec<(usize, usize, Option<Num>)> {
    let mut out = Vec::new();
    let seps: &[usize] = if is_sep(s.get(pos)) { &[1, 0] } else { &[0] };
    for &sep in seps {
        let p1 = pos + sep;
        for (k, label) in labels.iter().enumerate() {
            if !s[p1.min(s.len())..].starts_with(label.as_bytes()) {
                continue;
            }
            let p2 = p1 + label.len();
            let seps2: &[usize] = if is_sep(s.get(p2)) { &[1, 0] } else { &[0] };
            for &sep2 in seps2 {
                let p3 = p2 + sep2;
                let n = digits_at(s, p3);
                if n > 0 {
                    out.push((p3 + n, k, Some(num(s, p3, p3 + n))));
                }
                out.push((p3, k, None));
            }
        }
    }
    out
}

/// The optional `v`, the epoch (`N!`) and the release (`N(.N)*`) at the start of `s`:
/// where they end, the epoch (0 when absent) and the release numbers.
fn epoch_and_release(s: &[u8]) -> Option<(usize, Num, Vec<Num>)> {
    let mut pos = 0;
    if s.first() == Some(&b'v') {
        pos = 1;
    }
    let mut epoch = Num::new("0");
    let n = digits_at(s, pos);
    if n > 0 && s.get(pos + n) == Some(&b'!') {
        epoch = num(s, pos, pos + n);
        pos += n + 1;
    }
    let mut release = Vec::new();
    let n = digits_at(s, pos);
    if n == 0 {
        return None;
    }
    release.push(num(s, pos, pos + n));
    pos += n;
    while s.get(pos) == Some(&b'.') && digits_at(s, pos + 1) > 0 {
        let n = digits_at(s, pos + 1);
        release.push(num(s, pos + 1, pos + 1 + n));
        pos += 1 + n;
    }
    Some((pos, epoch, release))
}

/// The ways the optional pre-release part can match at `pos`, in the regex's order,
/// ending with no pre-release at all. A label without a number is number 0.
fn pre_matches(s: &[u8], pos: usize) -> Vec<(usize, Option<(Pre, Num)>)> {
    let labels: Vec<&str> = PRE_LABELS.iter().map(|(l, _)| *l).collect();
    let mut pres: Vec<(usize, Option<(Pre, Num)>)> = labelled(s, pos, &labels)
        .into_iter()
        .map(|(end, k, n)| {
            (
                end,
                Some((PRE_LABELS[k].1, n.unwrap_or_else(|| Num::new("0")))),
            )
        })
        .collect();
    pres.push((pos, None));
    pres
}

/// The ways the optional post-release part can match at `pos`: the implicit `-N`
/// first, then the labelled forms, then none.
fn post_matches(s: &[u8], pos: usize) -> Vec<(usize, Option<Num>)> {
    let mut posts: Vec<(usize, Option<Num>)> = Vec::new();
    if s.get(pos) == Some(&b'-') {
        let n = digits_at(s, pos + 1);
        if n > 0 {
            posts.push((pos + 1 + n, Some(num(s, pos + 1, pos + 1 + n))));
        }
    }
    posts.extend(
        labelled(s, pos, &POST_LABELS)
            .into_iter()
            .map(|(end, _, n)| (end, Some(n.unwrap_or_else(|| Num::new("0"))))),
    );
    posts.push((pos, None));
    posts
}

/// The ways the optional dev part can match at `pos`, then none.
fn dev_matches(s: &[u8], pos: usize) -> Vec<(usize, Option<Num>)> {
    let mut devs: Vec<(usize, Option<Num>)> = labelled(s, pos, &["dev"])
        .into_iter()
        .map(|(end, _, n)| (end, Some(n.unwrap_or_else(|| Num::new("0")))))
        .collect();
    devs.push((pos, None));
    devs
}

/// What may follow the dev part at `pos`: the end (`Some(None)`) or `+` and a valid
/// local part; `None` when neither, so the caller backtracks.
fn local_at(lower: &str, pos: usize) -> Option<Option<Vec<LocalPart>>> {
    if pos == lower.len() {
        Some(None)
    } else if lower.as_bytes()[pos] == b'+' {
        parse_local(&lower[pos + 1..]).map(Some)
    } else {
        None
    }
}

impl Version {
    /// Parse as `packaging.version.Version` does; `None` where it raises `InvalidVersion`.
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.trim_matches(|c: char| c.is_whitespace());
        if !t.is_ascii() {
            return None;
        }
        let lower = t.to_ascii_lowercase();
        let s = lower.as_bytes();
        let (pos, epoch, release) = epoch_and_release(s)?;
        // The suffixes are tried as packaging's backtracking regex tries them: each way
        // the pre-release part can match, within it each post-release, within that each
        // dev part, and the first combination followed by the end or a valid local part
        // wins.
        for (p_end, pre) in pre_matches(s, pos) {
            for (q_end, post) in post_matches(s, p_end) {
                for (d_end, dev) in dev_matches(s, q_end) {
                    let Some(local) = local_at(&lower, d_end) else {
                        continue;
                    };
                    return Some(Version {
                        epoch,
                        release,
                        pre,
                        post,
                        dev,
                        local,
                    });
                }
            }
        }
        None
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// The version without its local part.
    pub fn public(&self) -> Version {
        Version {
            local: None,
            ..self.clone()
        }
    }

    /// Epoch and release only.
    pub fn base(&self) -> Version {
        Version {
            epoch: self.epoch.clone(),
            release: self.release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: None,
        }
    }

    fn release_key(&self) -> &[Num] {
        let keep = self
            .release
            .iter()
            .rposition(|n| !n.is_zero())
            .map_or(0, |i| i + 1);
        &self.release[..keep]
    }
}

fn parse_local(text: &str) -> Option<Vec<LocalPart>> {
    let mut parts = Vec::new();
    for part in text.split(['-', '_', '.']) {
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return None;
        }
        parts.push(if part.bytes().all(|b| b.is_ascii_digit()) {
            LocalPart::Int(Num::new(part))
        } else {
            LocalPart::Text(part.to_string())
        });
    }
    Some(parts)
}

impl fmt::Display for Version {
    /// The normalised form, as `str(packaging.version.Version(...))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.epoch.is_zero() {
            write!(f, "{}!", self.epoch)?;
        }
        for (i, n) in self.release.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            n.fmt(f)?;
        }
        if let Some((p, n)) = &self.pre {
            write!(f, "{}{}", p.as_str(), n)?;
        }
        if let Some(n) = &self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = &self.dev {
            write!(f, ".dev{n}")?;
        }
        if let Some(local) = &self.local {
            f.write_str("+")?;
            for (i, p) in local.iter().enumerate() {
                if i > 0 {
                    f.write_str(".")?;
                }
                p.fmt(f)?;
            }
        }
        Ok(())
    }
}

/// packaging's `_cmpkey` pieces: `-inf` and `+inf` around real values.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    NegInf,
    Val(T),
    Inf,
}

/// packaging's `_cmpkey`: epoch, release without trailing zeros, pre, post, dev, local.
type CmpKey<'a> = (
    &'a Num,
    &'a [Num],
    Bound<&'a (Pre, Num)>,
    Bound<&'a Num>,
    Bound<&'a Num>,
    Bound<&'a [LocalPart]>,
);

impl Version {
    fn cmp_key(&self) -> CmpKey<'_> {
        let pre = match (&self.pre, &self.post, &self.dev) {
            (None, None, Some(_)) => Bound::NegInf,
            (None, _, _) => Bound::Inf,
            (Some(p), _, _) => Bound::Val(p),
        };
        let post = self.post.as_ref().map_or(Bound::NegInf, Bound::Val);
        let dev = self.dev.as_ref().map_or(Bound::Inf, Bound::Val);
        let local = self.local.as_deref().map_or(Bound::NegInf, Bound::Val);
        (&self.epoch, self.release_key(), pre, post, dev, local)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.cmp_key().cmp(&other.cmp_key())
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The normalised spelling of a version, or `None` when it is not PEP 440.
pub fn normalize(text: &str) -> Option<String> {
    Version::parse(text).map(|v| v.to_string())
}

/// Order two versions as packaging does. Text that is not PEP 440 sorts before every
/// valid version, and among itself by the generic ordering, so the order stays total.
pub fn compare(left: &str, right: &str) -> Ordering {
    match (Version::parse(left), Version::parse(right)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => super::generic::compare(left, right),
    }
}

/// Epoch, then the release numbers (`1.0` and `1.0.0` are the same release), then
/// pre/post/dev/local as Revision.
pub fn change_size(left: &str, right: &str) -> ChangeSize {
    let (Some(a), Some(b)) = (Version::parse(left), Version::parse(right)) else {
        return super::generic::change_size(left, right);
    };
    if a.epoch != b.epoch {
        return ChangeSize::Epoch;
    }
    let ar: Vec<&str> = a.release.iter().map(|n| n.0.as_str()).collect();
    let br: Vec<&str> = b.release.iter().map(|n| n.0.as_str()).collect();
    if let Some(size) = release_size(&ar, &br) {
        return size;
    }
    if a != b {
        ChangeSize::Revision
    } else {
        ChangeSize::Other
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compatible,
    Equal,
    NotEqual,
    LessEqual,
    GreaterEqual,
    Less,
    Greater,
    Arbitrary,
}

/// One specifier such as `>=2.0` or `==1.4.*`.
#[derive(Debug, Clone, PartialEq)]
pub struct Specifier {
    op: Op,
    /// The version as written (after the operator, stripped), `.*` included.
    raw: String,
    /// The parsed version without its `.*`; `None` only for `===`, which compares text.
    version: Option<Version>,
    /// `==V.*` or `!=V.*`: a prefix match on the release numbers.
    wildcard: bool,
}

const OPERATORS: [(&str, Op); 8] = [
    ("===", Op::Arbitrary),
    ("~=", Op::Compatible),
    ("==", Op::Equal),
    ("!=", Op::NotEqual),
    ("<=", Op::LessEqual),
    (">=", Op::GreaterEqual),
    ("<", Op::Less),
    (">", Op::Greater),
];

/// `v?(N!)?N(.N)*`: the only thing a `.*` wildcard may follow.
fn is_plain_release(text: &str) -> bool {
    let s = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let s = match s.split_once('!') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        Some(_) => return false,
        None => s,
    };
    s.split('.')
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A decimal number plus one.
fn succ(n: &Num) -> Num {
    let mut digits = n.0.clone().into_bytes();
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return Num(String::from_utf8_lossy(&digits).into_owned());
        }
    }
    Num(format!("1{}", String::from_utf8_lossy(&digits)))
}

impl Version {
    /// `epoch!release.dev0`: the lowest version of a release, below its pre-releases.
    fn dev0(epoch: &Num, release: Vec<Num>) -> Version {
        Version {
            epoch: epoch.clone(),
            release,
            pre: None,
            post: None,
            dev: Some(Num::new("0")),
            local: None,
        }
    }

    /// The lowest version above every version whose release starts with `prefix`:
    /// `1.2` gives `1.3.dev0`.
    fn after_prefix(epoch: &Num, prefix: &[Num]) -> Version {
        let mut release = prefix.to_vec();
        if let Some(last) = release.last_mut() {
            *last = succ(last);
        }
        Version::dev0(epoch, release)
    }

    /// Same epoch, release (trailing zeros aside) and pre-release: `1.0a1`, `1.0a1.post2`
    /// and `1.0a1+local` are one family, which `>1.0a1` leaves out.
    fn same_family(&self, other: &Version) -> bool {
        self.epoch == other.epoch
            && self.release_key() == other.release_key()
            && self.pre == other.pre
    }
}

impl Specifier {
    /// Parse one specifier as `packaging.specifiers.Specifier` does.
    pub fn parse(text: &str) -> Result<Specifier, String> {
        let t = text.trim();
        let Some((sym, op)) = OPERATORS.iter().find(|(sym, _)| t.starts_with(sym)) else {
            return Err(format!(
                "`{t}` does not start with an operator (`==`, `!=`, `>=`, `<=`, `>`, `<`, `~=`, `===`)"
            ));
        };
        let op = *op;
        let raw = t[sym.len()..].trim().to_string();
        let bad = |why: &str| Err(format!("`{t}`: {why}"));
        if raw.is_empty() {
            return bad("a version must follow the operator");
        }
        if raw.contains(char::is_whitespace) {
            return Err(format!("`{t}` has whitespace inside its version"));
        }
        if op == Op::Arbitrary {
            if raw.contains([';', ')']) {
                return bad("`===` takes any text but `;` and `)`");
            }
            return Ok(Specifier {
                op,
                raw,
                version: None,
                wildcard: false,
            });
        }
        let (text, wildcard) = match raw.strip_suffix(".*") {
            Some(prefix) => (prefix, true),
            None => (raw.as_str(), false),
        };
        if wildcard && !matches!(op, Op::Equal | Op::NotEqual) {
            return bad("only `==` and `!=` take a `.*` wildcard");
        }
        if wildcard && !is_plain_release(text) {
            return bad("a `.*` wildcard may only follow release numbers, as in `==1.4.*`");
        }
        let Some(v) = Version::parse(text) else {
            return bad("the version is not PEP 440");
        };
        match op {
            Op::Equal | Op::NotEqual => {}
            _ if v.local.is_some() => {
                return bad("only `==` and `!=` take a local version (`+...`)")
            }
            Op::Compatible if v.release.len() < 2 => {
                return bad("`~=` needs at least two release numbers, as in `~=1.4`")
            }
            _ => {}
        }
        Ok(Specifier {
            op,
            raw,
            version: Some(v),
            wildcard,
        })
    }

    /// Whether `item` (the text as installed, and its parse when it is PEP 440) lies in
    /// the range this specifier stands for, as packaging 26 draws the ranges. Pre-releases
    /// are not set apart here: see [`SpecifierSet::contains`].
    fn contains(&self, text: &str, item: Option<&Version>) -> bool {
        let (Some(spec), Some(item)) = (&self.version, item) else {
            // `===` compares the text as written; every other operator needs PEP 440.
            return self.op == Op::Arbitrary && text.to_lowercase() == self.raw.to_lowercase();
        };
        match self.op {
            Op::Equal | Op::NotEqual if self.wildcard => {
                let low = Version::dev0(&spec.epoch, spec.release.clone());
                let high = Version::after_prefix(&spec.epoch, &spec.release);
                let inside = *item >= low && *item < high;
                inside == (self.op == Op::Equal)
            }
            Op::Equal | Op::NotEqual => {
                // `==1.4` takes every local version of 1.4; `==1.4+abc` only that one.
                let equal = if spec.local.is_some() {
                    item == spec
                } else {
                    item.public() == *spec
                };
                equal == (self.op == Op::Equal)
            }
            Op::Compatible => {
                let prefix = &spec.release[..spec.release.len() - 1];
                *item >= *spec && *item < Version::after_prefix(&spec.epoch, prefix)
            }
            Op::GreaterEqual => item >= spec,
            Op::LessEqual => item.public() <= *spec,
            Op::Less => {
                // `<V` for a final V stops below V's first pre-release, V.dev0.
                if spec.is_prerelease() {
                    item < spec
                } else {
                    *item
                        < Version {
                            dev: Some(Num::new("0")),
                            ..spec.clone()
                        }
                }
            }
            Op::Greater => match (&spec.dev, &spec.post) {
                (Some(dev), _) => {
                    *item
                        >= Version {
                            dev: Some(succ(dev)),
                            ..spec.clone()
                        }
                }
                (None, Some(post)) => {
                    *item
                        >= Version {
                            post: Some(succ(post)),
                            dev: Some(Num::new("0")),
                            ..spec.clone()
                        }
                }
                // `>V` leaves out V's post-releases and local versions.
                (None, None) => item > spec && !item.same_family(spec),
            },
            Op::Arbitrary => text.to_lowercase() == self.raw.to_lowercase(),
        }
    }
}

/// A comma-separated set of specifiers; all must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecifierSet {
    specs: Vec<Specifier>,
}

impl SpecifierSet {
    /// Parse as `packaging.specifiers.SpecifierSet` does, but reject an empty set.
    pub fn parse(text: &str) -> Result<SpecifierSet, String> {
        let specs = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Specifier::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if specs.is_empty() {
            return Err("no specifier between the commas".into());
        }
        Ok(SpecifierSet { specs })
    }

    /// Whether an installed `version` satisfies every specifier, as
    /// `SpecifierSet.contains(version, installed=True)` answers in packaging 26.
    ///
    /// Pre-releases are judged like any other version: `2.0rc1` satisfies `>=1.0` and
    /// fails `<2.0`. The pre-release exclusion of PEP 440 is a rule for choosing among
    /// candidates to install; pip checks what is already installed with
    /// `prereleases=True`, and packaging 26 lets a lone pre-release match as well.
    /// Text that is not PEP 440 satisfies only `===` specifiers that spell it exactly.
    pub fn contains(&self, version: &str) -> bool {
        let item = Version::parse(version);
        self.specs
            .iter()
            .all(|s| s.contains(version, item.as_ref()))
    }

    /// The one version an `==V` or `===V` set pins.
    pub fn exact(&self) -> Option<&str> {
        match self.specs.as_slice() {
            [s] if (s.op == Op::Equal && !s.wildcard) || s.op == Op::Arbitrary => {
                Some(s.raw.as_str())
            }
            _ => None,
        }
    }
}

/// Check a version, returning what is wrong.
pub fn validate(text: &str) -> Result<(), String> {
    match Version::parse(text) {
        Some(_) => Ok(()),
        None => Err("it is not a PEP 440 version".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, normal: Option<&str>) {
        assert_eq!(normalize(text).as_deref(), normal, "{text}");
    }

    #[test]
    fn normalises() {
        check("1.0", Some("1.0"));
        check("V1.0-1", Some("1.0.post1"));
        check("1.0.ALPHA.2", Some("1.0a2"));
        check("1.0c1", Some("1.0rc1"));
        check("1.0-preview_3", Some("1.0rc3"));
        check("1.0.r", Some("1.0.post0"));
        check("1!01.002-dev3+Ubuntu-01", Some("1!1.2.dev3+ubuntu.1"));
        check(" 1.0 ", Some("1.0"));
        check("1.0a..dev", Some("1.0a0.dev0"));
        check("1.0+", None);
        check("a1", None);
        check("1.0.x", None);
    }

    #[test]
    fn orders() {
        let ordered = [
            "1.0.dev0",
            "1.0a0.dev0",
            "1.0a0",
            "1.0a1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc",
            "1.0+1",
            "1.0.post0.dev0",
            "1.0.post0",
            "1.1",
            "1!0.1",
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("1.0", "1.0.0"), Ordering::Equal);
    }

    #[test]
    fn specifiers() {
        let m = |s: &str, v: &str| SpecifierSet::parse(s).map(|s| s.contains(v)).unwrap();
        assert!(m(">=2,<3", "2.31.0"));
        assert!(!m(">=2,<3", "3.0rc1"));
        assert!(!m("<3", "3.0.dev1"));
        // An installed pre-release is judged by its place in the order alone.
        assert!(m("<3", "2.9.dev1"));
        assert!(m(">=1.0", "2.0rc1"));
        assert!(!m(">1.0", "1.0.post1"));
        assert!(m(">1.0.post0", "1.0.post1"));
        assert!(!m(">1.0", "1.0+local"));
        assert!(m("~=1.4.2", "1.4.9"));
        assert!(!m("~=1.4.2", "1.5.0"));
        assert!(m("==1.4.*", "1.4"));
        assert!(m("!=1.4.*", "1.5"));
        assert!(m("==1.0", "1.0+local"));
        assert!(!m("==1.0+a", "1.0+b"));
        assert!(m("===1.0", "1.0"));
        assert!(!m("===1.0", "1.0.0"));
        assert!(SpecifierSet::parse(">=1.0.*").is_err());
        assert!(SpecifierSet::parse("~=1").is_err());
        assert!(SpecifierSet::parse(">=1.0+local").is_err());
        assert_eq!(
            SpecifierSet::parse("==2.31.0").unwrap().exact(),
            Some("2.31.0")
        );
    }

    /// Prefix and compatible-release matches compare release numbers, not the text as
    /// written (packaging 21.3 compared text).
    #[test]
    fn prefixes_compare_numbers() {
        let m = |s: &str, v: &str| SpecifierSet::parse(s).map(|s| s.contains(v)).unwrap();
        assert!(m("~=2022.01.01", "2022.01.01"));
        assert!(m("~=2022.01.01", "2022.1.5"));
        assert!(!m("~=2022.01.01", "2022.2"));
        assert!(m("==2024.01.*", "2024.1.5"));
        assert!(m("==0!2.*", "2"));
        assert!(m("==1.0.*", "1"));
        assert!(m("==1.*", "1.0a1"));
        assert!(!m("==1.*", "2.dev0"));
        assert!(!m("!=2024.01.*", "2024.1"));
        assert!(m("==1.9.*", "1.9.0+local"));
        assert!(m("==9.*", "9.5") && !m("==9.*", "10.0"));
        assert!(m("==99.*", "99.1") && !m("==99.*", "100"));
    }

    /// `<V` and `>V` follow packaging 26's ranges: `<2.0a2` takes `2.0a1`, `<V` for a
    /// final V stops below `V.dev0`, `>V` skips V's post-releases and local versions.
    #[test]
    fn exclusive_comparisons() {
        let m = |s: &str, v: &str| SpecifierSet::parse(s).map(|s| s.contains(v)).unwrap();
        assert!(m("<2.0a2", "2.0a1"));
        assert!(m("<2.0a2", "2.0a1.post1"));
        assert!(!m("<2.0a2", "2.0a2"));
        assert!(!m("<2.0", "2.0a1"));
        assert!(m("<2.0.post1", "2.0a1"));
        assert!(m("<2.0.post1", "2.0"));
        assert!(!m("<2.0.post1", "2.0.post1.dev0"));
        assert!(m(">2.0a1", "2.0a2.dev0"));
        assert!(!m(">2.0a1", "2.0a1.post1"));
        assert!(m(">2.0", "2.0.1.dev0"));
        assert!(!m(">2.0", "2.0.post3"));
        assert!(m(">2.0.post1", "2.0.post2.dev0"));
        assert!(!m(">2.0.post1", "2.0.post1+local"));
        assert!(m(">2.0.dev1", "2.0.dev2"));
        assert!(!m(">2.0.dev1", "2.0.dev1+local"));
        assert!(m("<=2.0", "2.0+local") && !m("<=2.0", "2.0.post0"));
    }

    /// A `.*` wildcard may only follow release numbers.
    #[test]
    fn wildcards_follow_release_numbers() {
        for bad in [
            "==2.0a1.*",
            "==1.0.post1.*",
            "==1.0.dev1.*",
            "!=1.0+local.*",
            "==1.*.*",
        ] {
            assert!(SpecifierSet::parse(bad).is_err(), "{bad}");
        }
        for good in ["==v1.0.*", "==1!2.*", "!= 1.0.*"] {
            assert!(SpecifierSet::parse(good).is_ok(), "{good}");
        }
        assert!(SpecifierSet::parse("===").is_err());
        assert!(SpecifierSet::parse("===1.0)").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(change_size("1.0", "1.0.0"), ChangeSize::Other);
        assert_eq!(change_size("1.0", "1!1.0"), ChangeSize::Epoch);
        assert_eq!(change_size("1.0", "1.0.post1"), ChangeSize::Revision);
        assert_eq!(change_size("1.2", "1.3"), ChangeSize::Minor);
    }
}
