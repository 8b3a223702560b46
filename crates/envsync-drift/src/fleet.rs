//! Many targets against one reference: a matrix of component × target holding only the
//! components that drift somewhere, plus a per-target summary. A target that could not
//! be collected keeps its column, marked with its error; the others are still reported.
//! Hosts whose drift is the same are grouped ([`Fleet::groups`]), so a fleet of hundreds
//! reads as a few lines ("37 hosts: deb:openssl 3.0.20 ↓ patch").

use std::collections::BTreeMap;

use envsync_manifest::policy::DriftKind;
use envsync_manifest::version::Direction;
use envsync_manifest::Ecosystem;

use crate::compare::{component_id, short_version, size_str, Diff, Drift, Summary};

/// One compared target: its diff against the reference, or why it could not be collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetTarget {
    pub name: String,
    pub result: Result<Diff, String>,
}

/// The reference and every other target, in the order the user named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    pub reference: String,
    pub targets: Vec<FleetTarget>,
}

/// What one target holds for one row's component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The reference's version.
    Same,
    Changed {
        version: String,
        direction: Option<Direction>,
    },
    /// In the reference, not on this target.
    Missing,
    /// On this target, not in the reference.
    Extra { version: String },
    /// Neither the reference nor this target has it (another target's extra).
    Absent,
    /// The target could not be collected.
    Error,
}

impl Cell {
    /// The text a table cell shows: `3.0.15 ↑`, `missing`, `extra 1.2`, `=`, `error`.
    pub fn text(&self) -> String {
        match self {
            Cell::Same => "=".to_string(),
            Cell::Changed { version, direction } => {
                format!("{} {}", short_version(version), arrow(*direction))
            }
            Cell::Missing => "missing".to_string(),
            Cell::Extra { version } => format!("extra {}", short_version(version)),
            Cell::Absent => "-".to_string(),
            Cell::Error => "error".to_string(),
        }
    }
}

/// `↑` newer, `↓` older, `≠` different contents with no order.
pub fn arrow(direction: Option<Direction>) -> &'static str {
    match direction {
        Some(Direction::Newer) => "↑",
        Some(Direction::Older) => "↓",
        _ => "≠",
    }
}

/// Hosts with the same drift against the reference (the same components, kinds and
/// versions), or every host that could not be collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGroup {
    /// Indexes into `Fleet::targets`, in the order the user named them.
    pub members: Vec<usize>,
    /// The members could not be collected (each keeps its own error).
    pub failed: bool,
}

/// `deb:openssl 3.0.20 ↓ patch`, `deb:curl missing`, `npm:left-pad extra 1.3.0`.
pub fn drift_phrase(d: &Drift) -> String {
    let right = short_version(d.right.as_deref().unwrap_or(""));
    match d.kind {
        DriftKind::Missing => format!("{} missing", d.label()),
        DriftKind::Extra => format!("{} extra {right}", d.label()),
        DriftKind::Changed => {
            let mut text = format!("{} {right} {}", d.label(), arrow(d.direction));
            if let Some(size) = d.size {
                text.push(' ');
                text.push_str(size_str(size));
            }
            text
        }
    }
}

/// How many drift entries a group's phrase names before `and N more`.
const PHRASE_ITEMS: usize = 4;

/// One component that drifts on at least one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub arch: Option<String>,
    pub location: Option<String>,
    /// The reference's version, `None` when only targets have it.
    pub reference: Option<String>,
    /// One cell per target, in `Fleet::targets` order.
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn id(&self) -> String {
        match &self.location {
            Some(loc) => format!("{} @ {loc}", component_id(self.ecosystem, &self.name)),
            None => component_id(self.ecosystem, &self.name),
        }
    }
}

type RowKey = (Ecosystem, String, Option<String>, Option<String>);

impl Fleet {
    /// The matrix rows, sorted by component.
    pub fn rows(&self) -> Vec<Row> {
        let n = self.targets.len();
        let mut rows: BTreeMap<RowKey, Row> = BTreeMap::new();
        for (col, target) in self.targets.iter().enumerate() {
            let Ok(diff) = &target.result else { continue };
            for d in &diff.drift {
                let key = (
                    d.ecosystem,
                    d.name.clone(),
                    d.arch.clone(),
                    d.location.clone(),
                );
                let row = rows.entry(key).or_insert_with(|| Row {
                    ecosystem: d.ecosystem,
                    name: d.name.clone(),
                    arch: d.arch.clone(),
                    location: d.location.clone(),
                    reference: None,
                    cells: vec![Cell::Same; n],
                });
                if row.reference.is_none() {
                    row.reference = d.left.clone();
                }
                row.cells[col] = match d.kind {
                    DriftKind::Missing => Cell::Missing,
                    DriftKind::Extra => Cell::Extra {
                        version: d.right.clone().unwrap_or_default(),
                    },
                    DriftKind::Changed => Cell::Changed {
                        version: d.right.clone().unwrap_or_default(),
                        direction: d.direction,
                    },
                };
            }
        }
        let mut rows: Vec<Row> = rows.into_values().collect();
        for row in &mut rows {
            for (col, target) in self.targets.iter().enumerate() {
                if target.result.is_err() {
                    row.cells[col] = Cell::Error;
                } else if row.reference.is_none() && row.cells[col] == Cell::Same {
                    // Only targets have it and this one does not: absent, not "same".
                    row.cells[col] = Cell::Absent;
                }
            }
        }
        rows
    }

    /// Per-target summaries; `None` for a target that failed.
    pub fn summaries(&self) -> Vec<Option<Summary>> {
        self.targets
            .iter()
            .map(|t| t.result.as_ref().ok().map(Diff::summary))
            .collect()
    }

    pub fn failed_targets(&self) -> usize {
        self.targets.iter().filter(|t| t.result.is_err()).count()
    }

    pub fn has_drift(&self) -> bool {
        self.summaries().iter().flatten().any(Summary::has_drift)
    }

    /// The fleet's status as reports name it: `error` when a target could not be
    /// compared, else `drift` or `parity`.
    pub fn status(&self) -> &'static str {
        if self.failed_targets() > 0 {
            "error"
        } else if self.has_drift() {
            "drift"
        } else {
            "parity"
        }
    }

    /// Hosts grouped by identical drift: the largest group first (ties in the order the
    /// first member was named), hosts that could not be collected last, as one group.
    pub fn groups(&self) -> Vec<HostGroup> {
        let mut groups: Vec<(&[Drift], HostGroup)> = Vec::new();
        let mut failed = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let Ok(diff) = &t.result else {
                failed.push(i);
                continue;
            };
            match groups.iter_mut().find(|(d, _)| *d == diff.drift.as_slice()) {
                Some((_, g)) => g.members.push(i),
                None => groups.push((
                    &diff.drift,
                    HostGroup {
                        members: vec![i],
                        failed: false,
                    },
                )),
            }
        }
        let mut groups: Vec<HostGroup> = groups.into_iter().map(|(_, g)| g).collect();
        groups.sort_by_key(|g| (std::cmp::Reverse(g.members.len()), g.members[0]));
        if !failed.is_empty() {
            groups.push(HostGroup {
                members: failed,
                failed: true,
            });
        }
        groups
    }

    /// The drift every member of `group` has (none for a failed group).
    pub fn group_drift(&self, group: &HostGroup) -> &[Drift] {
        match group.members.first().map(|&i| &self.targets[i].result) {
            Some(Ok(diff)) => &diff.drift,
            _ => &[],
        }
    }

    /// A group's column header in a matrix: its host when alone, else `same drift (M
    /// hosts)`, `parity (M hosts)` or `failed (M hosts)`. Not escaped.
    pub fn group_label(&self, group: &HostGroup) -> String {
        match group.members.as_slice() {
            [only] => self.targets[*only].name.clone(),
            members => format!(
                "{} ({} hosts)",
                if group.failed {
                    "failed"
                } else if self.group_drift(group).is_empty() {
                    "parity"
                } else {
                    "same drift"
                },
                members.len()
            ),
        }
    }

    /// `37 hosts: deb:openssl 3.0.20 ↓ patch`, `2 hosts: parity`, `1 host could not be
    /// collected`. Not escaped: callers pass it through their format's escaping.
    pub fn group_phrase(&self, group: &HostGroup) -> String {
        let n = group.members.len();
        let hosts = if n == 1 {
            "1 host".to_string()
        } else {
            format!("{n} hosts")
        };
        if group.failed {
            return format!("{hosts} could not be collected");
        }
        let drift = self.group_drift(group);
        if drift.is_empty() {
            return format!("{hosts}: parity");
        }
        let mut items: Vec<String> = drift.iter().take(PHRASE_ITEMS).map(drift_phrase).collect();
        if drift.len() > PHRASE_ITEMS {
            items.push(format!("and {} more", drift.len() - PHRASE_ITEMS));
        }
        format!("{hosts}: {}", items.join(", "))
    }

    /// `4 of 5 targets drift, 1 failed — ERROR`, the closing line of every fleet report.
    pub fn verdict(&self) -> String {
        let drifting = self
            .summaries()
            .iter()
            .flatten()
            .filter(|s| s.has_drift())
            .count();
        let failed = self.failed_targets();
        let total = self.targets.len();
        let mut line = format!("drift: {drifting} of {total} targets drift");
        if failed > 0 {
            line.push_str(&format!(", {failed} could not be collected — ERROR"));
        } else if drifting > 0 {
            line.push_str(" — DRIFT");
        } else {
            line.push_str(" — PARITY");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::diff;
    use crate::snapshot::{Package, Snapshot};

    fn snap(target: &str, specs: &[&str]) -> Snapshot {
        Snapshot {
            schema: crate::SNAPSHOT_SCHEMA.into(),
            target: target.into(),
            collected_at: None,
            digest: None,
            complete: true,
            hash_key: None,
            on_path: Default::default(),
            os: None,
            packages: specs
                .iter()
                .map(|s| {
                    let (name, version) = s.split_once('=').expect("name=version");
                    Package {
                        ecosystem: Ecosystem::Deb,
                        name: name.into(),
                        version: version.into(),
                        arch: None,
                        location: None,
                        size: None,
                        mode: None,
                    }
                })
                .collect(),
            warnings: Vec::new(),
        }
    }

    /// Build a fleet from a reference and targets (`None` = failed) and compare the
    /// rendered rows `id ref | cell | cell`.
    fn check(reference: &[&str], targets: &[Option<&[&str]>], expected: &[&str]) {
        let r = snap("ref", reference);
        let fleet = Fleet {
            reference: "ref".into(),
            targets: targets
                .iter()
                .enumerate()
                .map(|(i, t)| FleetTarget {
                    name: format!("t{i}"),
                    result: t
                        .map(|specs| diff(&r, &snap(&format!("t{i}"), specs)))
                        .ok_or_else(|| "unreachable".to_string()),
                })
                .collect(),
        };
        let got: Vec<String> = fleet
            .rows()
            .iter()
            .map(|row| {
                let cells: Vec<String> = row.cells.iter().map(Cell::text).collect();
                format!(
                    "{} {} | {}",
                    row.id(),
                    row.reference.as_deref().unwrap_or("-"),
                    cells.join(" | ")
                )
            })
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn only_drifting_rows() {
        check(
            &["a=1", "b=1", "c=1"],
            &[
                Some(&["a=1", "b=2", "c=1"]),
                Some(&["a=1", "b=0.9", "d=4"]),
                None,
            ],
            &[
                "deb:b 1 | 2 ↑ | 0.9 ↓ | error",
                "deb:c 1 | = | missing | error",
                "deb:d - | - | extra 4 | error",
            ],
        );
        check(&["a=1"], &[Some(&["a=1"]), Some(&["a=1"])], &[]);
    }

    #[test]
    fn hosts_with_the_same_drift_are_one_group() {
        let r = snap("ref", &["openssl=3.0.20", "curl=7"]);
        let fleet = Fleet {
            reference: "ref".into(),
            targets: [
                Some(&["openssl=3.0.19", "curl=7"][..]),
                Some(&["openssl=3.0.20", "curl=7"]),
                Some(&["openssl=3.0.19", "curl=7"]),
                None,
                Some(&["openssl=3.0.19", "curl=7"]),
                Some(&["openssl=3.0.20"]),
            ]
            .iter()
            .enumerate()
            .map(|(i, t)| FleetTarget {
                name: format!("h{i}"),
                result: t
                    .map(|specs| diff(&r, &snap(&format!("h{i}"), specs)))
                    .ok_or_else(|| "unreachable".to_string()),
            })
            .collect(),
        };
        let got: Vec<(String, Vec<usize>)> = fleet
            .groups()
            .iter()
            .map(|g| (fleet.group_phrase(g), g.members.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "3 hosts: deb:openssl 3.0.19 ↓ patch".to_string(),
                    vec![0, 2, 4]
                ),
                ("1 host: parity".to_string(), vec![1]),
                ("1 host: deb:curl missing".to_string(), vec![5]),
                ("1 host could not be collected".to_string(), vec![3]),
            ]
        );
    }

    #[test]
    fn verdicts() {
        let r = snap("ref", &["a=1"]);
        let mut fleet = Fleet {
            reference: "ref".into(),
            targets: vec![FleetTarget {
                name: "t".into(),
                result: Ok(diff(&r, &snap("t", &["a=1"]))),
            }],
        };
        assert_eq!(fleet.verdict(), "drift: 0 of 1 targets drift — PARITY");
        fleet.targets.push(FleetTarget {
            name: "u".into(),
            result: Ok(diff(&r, &snap("u", &["a=2"]))),
        });
        assert_eq!(fleet.verdict(), "drift: 1 of 2 targets drift — DRIFT");
        fleet.targets.push(FleetTarget {
            name: "v".into(),
            result: Err("no".into()),
        });
        assert_eq!(
            fleet.verdict(),
            "drift: 1 of 3 targets drift, 1 could not be collected — ERROR"
        );
    }
}
