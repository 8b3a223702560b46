//! Comparison of two snapshots, component by component: what is missing, extra or
//! changed, and for a change its direction and size under the ecosystem's own ordering.
//!
//! [`diff`] is a pure function. Matching rule, in order:
//!
//! 1. Components with equal [`Package::key`] (ecosystem, name, arch, location) match.
//! 2. What is left is grouped by ecosystem and name. Inside a group two leftovers are
//!    compatible when their arches are equal or one side does not record one (a lock or
//!    an older snapshot may lack the optional fields); locations may differ.
//!    a. Compatible leftovers at the same version match first: the same component
//!    installed in another place (a virtualenv, another `node_modules`) is parity.
//!    b. Then, if exactly one leftover remains on each side and they are compatible, they
//!    match as one component at two versions.
//! 3. Everything still unmatched is `missing` (reference only) or `extra` (other only).
//!
//! Versions that differ as text but are equal under the ecosystem's ordering (PEP 440
//! `1.0` and `1.0.0`, dpkg `0:1.0` and `1.0`) are parity. Files and environment
//! variables carry `sha256:` hashes, which have no order: a different hash is `changed`
//! with no direction.
//!
//! Cost: one sort of each side's indices (O(n log n)) and linear merges.

use std::cmp::Ordering;

use envsync_manifest::policy::DriftKind;
use envsync_manifest::version::{self, ChangeSize, Direction};
use envsync_manifest::Ecosystem;
use serde::Serialize;

use crate::snapshot::{Package, Snapshot};

/// The result of comparing a reference snapshot (A, left) with another (B, right).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diff {
    /// The reference target as the user named it.
    pub reference: String,
    /// The other target as the user named it.
    pub other: String,
    /// Every difference, sorted by ecosystem, name, arch and location.
    pub drift: Vec<Drift>,
    /// Components present on both sides in parity, sorted like `drift`.
    pub same: Vec<Component>,
}

/// A component that both sides hold in parity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Component {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Component {
    /// `ecosystem:name`, the form ignores and fix hints use.
    pub fn id(&self) -> String {
        component_id(self.ecosystem, &self.name)
    }

    /// The id plus the location when there is one, for test names and table rows.
    pub fn label(&self) -> String {
        component_label(self.ecosystem, &self.name, self.location.as_deref())
    }
}

/// One difference between the two sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub kind: DriftKind,
    /// The reference's version; `None` when the component is `extra`.
    pub left: Option<String>,
    /// The other side's version; `None` when the component is `missing`.
    pub right: Option<String>,
    /// For `changed` package versions: whether the right side is newer or older. `None`
    /// for hashed contents (files, environment values), which have no order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// For `changed`: the most significant part of the version that moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<ChangeSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Where the reference holds it (or the other side, for `extra`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Where the other side holds it, when that differs from `location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_location: Option<String>,
}

impl Drift {
    /// `ecosystem:name`, the form ignores and fix hints use.
    pub fn id(&self) -> String {
        component_id(self.ecosystem, &self.name)
    }

    /// The id plus the location when there is one, for test names and table rows.
    pub fn label(&self) -> String {
        component_label(self.ecosystem, &self.name, self.location.as_deref())
    }

    /// A one-line description: `changed: 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1 (newer, patch)`.
    /// Content hashes are shortened (see [`short_version`]).
    pub fn describe(&self) -> String {
        let left = short_version(self.left.as_deref().unwrap_or(""));
        let right = short_version(self.right.as_deref().unwrap_or(""));
        match self.kind {
            DriftKind::Missing => format!("missing: {left} is not installed"),
            DriftKind::Extra => format!("extra: {right} is not in the reference"),
            DriftKind::Changed => {
                let how = match (self.direction, self.size) {
                    (Some(d), Some(s)) => format!(" ({}, {})", direction_str(d), size_str(s)),
                    (None, _) => " (contents differ)".to_string(),
                    (Some(d), None) => format!(" ({})", direction_str(d)),
                };
                format!("changed: {left} -> {right}{how}")
            }
        }
    }
}

/// A version for people: content hashes (`sha256:<64 hex>`, `hmac-sha256:<64 hex>`)
/// cut to their first 12 hex digits and `…`, which is enough to tell two contents
/// apart; versions unchanged. Machine formats (JSON) keep the whole value.
pub fn short_version(version: &str) -> std::borrow::Cow<'_, str> {
    for prefix in [crate::hashkey::KEYED_PREFIX, crate::hashkey::PLAIN_PREFIX] {
        if let Some(hex) = version.strip_prefix(prefix) {
            if hex.len() > 12 {
                let head = hex.get(..12).unwrap_or(hex);
                return std::borrow::Cow::Owned(format!("{prefix}{head}…"));
            }
        }
    }
    std::borrow::Cow::Borrowed(version)
}

/// `ecosystem:name`.
pub fn component_id(ecosystem: Ecosystem, name: &str) -> String {
    format!("{ecosystem}:{name}")
}

fn component_label(ecosystem: Ecosystem, name: &str, location: Option<&str>) -> String {
    match location {
        Some(loc) => format!("{ecosystem}:{name} @ {loc}"),
        None => component_id(ecosystem, name),
    }
}

/// `newer`, `older` or `same`, as the JSON contract spells them.
pub fn direction_str(direction: Direction) -> &'static str {
    match direction {
        Direction::Newer => "newer",
        Direction::Older => "older",
        Direction::Same => "same",
    }
}

/// `epoch`, `major`, `minor`, `patch`, `revision` or `other`.
pub fn size_str(size: ChangeSize) -> &'static str {
    match size {
        ChangeSize::Epoch => "epoch",
        ChangeSize::Major => "major",
        ChangeSize::Minor => "minor",
        ChangeSize::Patch => "patch",
        ChangeSize::Revision => "revision",
        ChangeSize::Other => "other",
    }
}

/// Counts of drift by kind, and of changes by size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub compared: usize,
    pub same: usize,
    pub missing: usize,
    pub extra: usize,
    pub changed: usize,
    /// Changes whose size is `epoch` or `major`.
    pub major: usize,
    pub newer: usize,
    pub older: usize,
}

impl Summary {
    /// Count what `drift` holds; `same` is the number of components in parity.
    pub fn of<'a>(drift: impl IntoIterator<Item = &'a Drift>, same: usize) -> Summary {
        let mut s = Summary {
            same,
            ..Summary::default()
        };
        for d in drift {
            match d.kind {
                DriftKind::Missing => s.missing += 1,
                DriftKind::Extra => s.extra += 1,
                DriftKind::Changed => {
                    s.changed += 1;
                    if matches!(d.size, Some(ChangeSize::Epoch | ChangeSize::Major)) {
                        s.major += 1;
                    }
                    match d.direction {
                        Some(Direction::Newer) => s.newer += 1,
                        Some(Direction::Older) => s.older += 1,
                        _ => {}
                    }
                }
            }
        }
        s.compared = s.same + s.missing + s.extra + s.changed;
        s
    }

    /// Any drift at all.
    pub fn has_drift(&self) -> bool {
        self.missing + self.extra + self.changed > 0
    }

    /// `3 changed (1 major), 1 missing, 2 extra`, or `none` in parity.
    pub fn phrase(&self) -> String {
        let mut parts = Vec::new();
        if self.changed > 0 {
            if self.major > 0 {
                parts.push(format!("{} changed ({} major)", self.changed, self.major));
            } else {
                parts.push(format!("{} changed", self.changed));
            }
        }
        if self.missing > 0 {
            parts.push(format!("{} missing", self.missing));
        }
        if self.extra > 0 {
            parts.push(format!("{} extra", self.extra));
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

impl Diff {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.drift, self.same.len())
    }

    /// Keep only components of the given ecosystems.
    pub fn retain_ecosystems(&mut self, ecosystems: &[Ecosystem]) {
        self.drift.retain(|d| ecosystems.contains(&d.ecosystem));
        self.same.retain(|c| ecosystems.contains(&c.ecosystem));
    }

    /// Drop `extra` components (`--ignore-extra`).
    pub fn drop_extra(&mut self) {
        self.drift.retain(|d| d.kind != DriftKind::Extra);
    }

    /// Remove the components only the reference has, for comparisons where only what
    /// both sides have matters.
    pub fn drop_missing(&mut self) {
        self.drift.retain(|d| d.kind != DriftKind::Missing);
    }
}

/// Whether an ecosystem's `version` field holds a content hash rather than a version.
fn hashed(ecosystem: Ecosystem) -> bool {
    matches!(ecosystem, Ecosystem::File | Ecosystem::Env)
}

fn group_order(a: &Package, b: &Package) -> Ordering {
    (a.ecosystem, a.name.as_str()).cmp(&(b.ecosystem, b.name.as_str()))
}

fn arch_compatible(a: &Package, b: &Package) -> bool {
    match (&a.arch, &b.arch) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// Compare `other` against `reference`. See the module docs for the matching rule.
pub fn diff(reference: &Snapshot, other: &Snapshot) -> Diff {
    let left = sorted(&reference.packages);
    let right = sorted(&other.packages);

    let mut out = Diff {
        reference: reference.target.clone(),
        other: other.target.clone(),
        drift: Vec::new(),
        same: Vec::new(),
    };

    // Pass 1: exact keys, as a merge of two sorted lists.
    let (mut i, mut j) = (0, 0);
    let mut left_rest: Vec<&Package> = Vec::new();
    let mut right_rest: Vec<&Package> = Vec::new();
    while i < left.len() && j < right.len() {
        match left[i].key().cmp(&right[j].key()) {
            Ordering::Less => {
                left_rest.push(left[i]);
                i += 1;
            }
            Ordering::Greater => {
                right_rest.push(right[j]);
                j += 1;
            }
            Ordering::Equal => {
                pair(&mut out, left[i], right[j]);
                i += 1;
                j += 1;
            }
        }
    }
    left_rest.extend_from_slice(&left[i..]);
    right_rest.extend_from_slice(&right[j..]);

    // Pass 2: leftovers grouped by (ecosystem, name). Both lists are sorted by key, whose
    // prefix is (ecosystem, name), so groups are contiguous and come in the same order.
    let (mut i, mut j) = (0, 0);
    while i < left_rest.len() || j < right_rest.len() {
        let order = match (left_rest.get(i), right_rest.get(j)) {
            (Some(a), Some(b)) => group_order(a, b),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let li = i;
        let lj = j;
        if order != Ordering::Greater {
            i = group_end(&left_rest, i);
        }
        if order != Ordering::Less {
            j = group_end(&right_rest, j);
        }
        match_group(&mut out, &left_rest[li..i], &right_rest[lj..j]);
    }

    let key = |d: &Drift| {
        (
            d.ecosystem,
            d.name.clone(),
            d.arch.clone(),
            d.location.clone(),
        )
    };
    out.drift.sort_by_cached_key(key);
    out.same.sort();
    out
}

fn sorted(packages: &[Package]) -> Vec<&Package> {
    let mut v: Vec<&Package> = packages.iter().collect();
    // Snapshots are written sorted; checking first keeps the common case linear.
    if !v.windows(2).all(|w| w[0].key() <= w[1].key()) {
        v.sort_by(|a, b| a.key().cmp(&b.key()));
    }
    v
}

fn group_end(list: &[&Package], start: usize) -> usize {
    let mut end = start + 1;
    while end < list.len() && group_order(list[start], list[end]) == Ordering::Equal {
        end += 1;
    }
    end
}

/// Match the leftovers of one (ecosystem, name) group: same versions first, then a lone
/// pair; the rest is missing or extra.
fn match_group(out: &mut Diff, left: &[&Package], right: &[&Package]) {
    let mut left_used = vec![false; left.len()];
    let mut right_used = vec![false; right.len()];
    if !left.is_empty() && !right.is_empty() {
        for (a, a_used) in left.iter().zip(left_used.iter_mut()) {
            if let Some(k) = (0..right.len()).find(|&k| {
                !right_used[k] && arch_compatible(a, right[k]) && a.version == right[k].version
            }) {
                right_used[k] = true;
                *a_used = true;
                pair(out, a, right[k]);
            }
        }
        let lone_left: Vec<usize> = (0..left.len()).filter(|&k| !left_used[k]).collect();
        let lone_right: Vec<usize> = (0..right.len()).filter(|&k| !right_used[k]).collect();
        if let ([a], [b]) = (lone_left.as_slice(), lone_right.as_slice()) {
            if arch_compatible(left[*a], right[*b]) {
                left_used[*a] = true;
                right_used[*b] = true;
                pair(out, left[*a], right[*b]);
            }
        }
    }
    for (p, _) in left.iter().zip(&left_used).filter(|(_, used)| !**used) {
        out.drift.push(one_sided(p, DriftKind::Missing));
    }
    for (p, _) in right.iter().zip(&right_used).filter(|(_, used)| !**used) {
        out.drift.push(one_sided(p, DriftKind::Extra));
    }
}

fn one_sided(p: &Package, kind: DriftKind) -> Drift {
    let version = Some(p.version.clone());
    let (left, right) = match kind {
        DriftKind::Missing => (version, None),
        _ => (None, version),
    };
    Drift {
        ecosystem: p.ecosystem,
        name: p.name.clone(),
        kind,
        left,
        right,
        direction: None,
        size: None,
        arch: p.arch.clone(),
        location: p.location.clone(),
        right_location: None,
    }
}

/// Record a matched pair as parity or as a change.
fn pair(out: &mut Diff, a: &Package, b: &Package) {
    let arch = a.arch.clone().or_else(|| b.arch.clone());
    let location = a.location.clone().or_else(|| b.location.clone());
    let (direction, size) = if a.version == b.version {
        (None, None)
    } else if hashed(a.ecosystem) {
        (None, Some(ChangeSize::Other))
    } else {
        let change = version::change(a.ecosystem, &a.version, &b.version);
        if change.direction == Direction::Same {
            // Equal under the ecosystem's ordering: only the spelling differs.
            (None, None)
        } else {
            (Some(change.direction), Some(change.size))
        }
    };
    if size.is_none() {
        out.same.push(Component {
            ecosystem: a.ecosystem,
            name: a.name.clone(),
            version: a.version.clone(),
            arch,
            location,
        });
        return;
    }
    let right_location = match (&a.location, &b.location) {
        (Some(x), Some(y)) if x != y => Some(y.clone()),
        _ => None,
    };
    out.drift.push(Drift {
        ecosystem: a.ecosystem,
        name: a.name.clone(),
        kind: DriftKind::Changed,
        left: Some(a.version.clone()),
        right: Some(b.version.clone()),
        direction,
        size,
        arch,
        location,
        right_location,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a package from `eco:name=version[/arch][@location]`.
    pub(crate) fn pkg(spec: &str) -> Package {
        let (eco, rest) = spec.split_once(':').expect("eco:");
        let (rest, location) = match rest.split_once('@') {
            Some((r, l)) => (r, Some(l.to_string())),
            None => (rest, None),
        };
        let (name, version) = rest.split_once('=').expect("name=version");
        let (version, arch) = match version.split_once('/') {
            Some((v, a)) => (v, Some(a.to_string())),
            None => (version, None),
        };
        Package {
            ecosystem: Ecosystem::parse(eco).expect("ecosystem"),
            name: name.into(),
            version: version.into(),
            arch,
            location,
            size: None,
            mode: None,
        }
    }

    pub(crate) fn snap(target: &str, specs: &[&str]) -> Snapshot {
        Snapshot {
            schema: crate::SNAPSHOT_SCHEMA.into(),
            target: target.into(),
            collected_at: None,
            digest: None,
            complete: true,
            hash_key: None,
            on_path: Default::default(),
            os: None,
            packages: specs.iter().map(|s| pkg(s)).collect(),
            warnings: Vec::new(),
        }
    }

    /// Diff `left` against `right` and compare the drift lines (`describe` prefixed by
    /// the label) with `expected`.
    fn check(left: &[&str], right: &[&str], expected: &[&str]) {
        let d = diff(&snap("a", left), &snap("b", right));
        let got: Vec<String> = d
            .drift
            .iter()
            .map(|x| format!("{} {}", x.label(), x.describe()))
            .collect();
        assert_eq!(got, expected, "left={left:?} right={right:?}");
        // Every component is accounted for exactly once on each side.
        let s = d.summary();
        assert_eq!(s.same + s.changed + s.missing, left.len());
        assert_eq!(s.same + s.changed + s.extra, right.len());
    }

    #[test]
    fn parity() {
        check(
            &["deb:openssl=3.0.15-1/amd64"],
            &["deb:openssl=3.0.15-1/amd64"],
            &[],
        );
        check(&[], &[], &[]);
    }

    #[test]
    fn kinds() {
        check(
            &["deb:openssl=3.0.11-1~deb12u2/amd64", "deb:curl=7.88.1-10"],
            &["deb:openssl=3.0.15-1~deb12u1/amd64", "npm:express=4.18.2"],
            &[
                "deb:curl missing: 7.88.1-10 is not installed",
                "deb:openssl changed: 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1 (newer, patch)",
                "npm:express extra: 4.18.2 is not in the reference",
            ],
        );
    }

    #[test]
    fn direction_uses_ordering_not_text() {
        // As text "4.10.0" < "4.9.0"; as a version it is newer.
        check(
            &["pypi:django=4.9.0"],
            &["pypi:django=4.10.0"],
            &["pypi:django changed: 4.9.0 -> 4.10.0 (newer, minor)"],
        );
        check(
            &["npm:express=5.0.0"],
            &["npm:express=4.18.2"],
            &["npm:express changed: 5.0.0 -> 4.18.2 (older, major)"],
        );
    }

    #[test]
    fn hashed_contents_have_no_direction() {
        check(
            &["file:/etc/app/settings.ini=sha256:aa"],
            &["file:/etc/app/settings.ini=sha256:bb"],
            &["file:/etc/app/settings.ini changed: sha256:aa -> sha256:bb (contents differ)"],
        );
        check(
            &["env:TZ=sha256:0123456789abcdef0123"],
            &["env:TZ=sha256:fedcba9876543210fedc"],
            &["env:TZ changed: sha256:0123456789ab… -> sha256:fedcba987654… (contents differ)"],
        );
    }

    #[test]
    fn location_on_one_side_only_still_matches() {
        check(
            &["pypi:django=4.2.7"],
            &["pypi:django=4.2.8@/venv/lib/python3.11/site-packages"],
            &["pypi:django @ /venv/lib/python3.11/site-packages changed: 4.2.7 -> 4.2.8 (newer, patch)"],
        );
        check(&["pypi:django=4.2.7@/a"], &["pypi:django=4.2.7@/b"], &[]);
    }

    #[test]
    fn several_copies_match_by_version_then_report_the_rest() {
        check(
            &["pypi:six=1.16.0"],
            &["pypi:six=1.15.0@/usr/lib", "pypi:six=1.16.0@/venv"],
            &["pypi:six @ /usr/lib extra: 1.15.0 is not in the reference"],
        );
        // Two unmatched copies on one side: no guess, both reported.
        check(
            &["pypi:six=1.14.0"],
            &["pypi:six=1.15.0@/usr/lib", "pypi:six=1.16.0@/venv"],
            &[
                "pypi:six missing: 1.14.0 is not installed",
                "pypi:six @ /usr/lib extra: 1.15.0 is not in the reference",
                "pypi:six @ /venv extra: 1.16.0 is not in the reference",
            ],
        );
    }

    #[test]
    fn arch_must_agree_when_both_sides_know_it() {
        check(
            &["deb:libc6=2.36-9/amd64"],
            &["deb:libc6=2.36-9/arm64"],
            &[
                "deb:libc6 missing: 2.36-9 is not installed",
                "deb:libc6 extra: 2.36-9 is not in the reference",
            ],
        );
        check(&["deb:libc6=2.36-9"], &["deb:libc6=2.36-9/arm64"], &[]);
    }

    #[test]
    fn unsorted_input_is_handled() {
        check(
            &["deb:zlib1g=1.2.13", "deb:adduser=3.134"],
            &["deb:adduser=3.134", "deb:zlib1g=1.3"],
            &["deb:zlib1g changed: 1.2.13 -> 1.3 (newer, minor)"],
        );
    }

    #[test]
    fn summary_phrase() {
        let d = diff(
            &snap("a", &["deb:a=1.0", "deb:b=1.0", "deb:c=1.0"]),
            &snap("b", &["deb:a=2.0", "deb:b=1.1", "deb:d=1"]),
        );
        let s = d.summary();
        assert_eq!(s.phrase(), "2 changed (1 major), 1 missing, 1 extra");
        assert_eq!((s.newer, s.older, s.compared), (2, 0, 4));
        assert_eq!(Summary::default().phrase(), "none");
    }
}
