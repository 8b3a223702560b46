//! SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps): one rule per drift
//! kind, one result per drifted component, located at the manifest or lock line the
//! component violates. Ignored drift is a result with an external suppression, so the
//! scanner shows it as dismissed with the ignore's reason.
//!
//! The document validates against the OASIS schema (`tests/data/sarif-schema-2.1.0.json`,
//! checked by the drift crate's tests with Python's `jsonschema`). No timestamps, so the
//! same input gives the same bytes.

use serde::Serialize;

use crate::check::{Checked, Finding, Status};
use crate::compare::Drift;
use crate::fleet::Fleet;

use super::Errored;

/// The schema's canonical location, as SARIF files name it in `$schema`.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rules, in `ruleIndex` order: each drift kind, an expired ignore, a target that
/// could not be read.
const RULES: &[(&str, &str, &str, &str)] = &[
    (
        "changed",
        "ComponentChanged",
        "A component is at another version or content than the reference",
        "Install the reference's version, or take the new one on purpose with `envsync lock --update NAME`.",
    ),
    (
        "missing",
        "ComponentMissing",
        "A component of the reference is not installed",
        "Install it at the reference's version, or remove it from the manifest and lock.",
    ),
    (
        "extra",
        "ComponentExtra",
        "A component is installed that the reference does not have",
        "Remove it, or declare it in the manifest and run `envsync lock`.",
    ),
    (
        "expired-ignore",
        "IgnoreExpired",
        "An ignore in [policy] is past its date",
        "Renew the ignore with a new date and reason, or remove it and fix the drift.",
    ),
    (
        "unreadable-target",
        "TargetUnreadable",
        "A target could not be read",
        "Make the target reachable (engine, ssh, path) and run again.",
    ),
];

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
struct Run<'a> {
    tool: Tool,
    /// Present only when the run failed: `executionSuccessful` false and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    invocations: Vec<Invocation>,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    help: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location<'a>>,
    partial_fingerprints: Fingerprints,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: PhysicalLocation<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region<'a>>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region<'a> {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Snippet<'a>>,
}

#[derive(Serialize)]
struct Snippet<'a> {
    text: &'a str,
}

/// What identifies a result across runs, so a scanner tracks it: the component (and
/// target, for fleets) and the drift kind.
#[derive(Serialize)]
struct Fingerprints {
    #[serde(rename = "envsyncComponent/v1")]
    component: String,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

fn rule_index(id: &str) -> usize {
    RULES
        .iter()
        .position(|r| r.0 == id)
        .expect("every rule id used here is in RULES")
}

fn rules() -> Vec<Rule> {
    RULES
        .iter()
        .map(|&(id, name, short, help)| Rule {
            id,
            name,
            short_description: Text { text: short.into() },
            help: Text { text: help.into() },
            default_configuration: Configuration {
                level: if id == "extra" { "warning" } else { "error" },
            },
        })
        .collect()
}

/// A file path as a URI reference: relative paths stay relative; the characters a URI
/// cannot hold as they are are percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn drift_result<'a>(d: &Drift, level: &'static str, message: String) -> SarifResult<'a> {
    let rule_id = d.kind.as_str();
    SarifResult {
        rule_id,
        rule_index: rule_index(rule_id),
        level,
        message: Text { text: message },
        locations: Vec::new(),
        partial_fingerprints: Fingerprints {
            component: format!("{} {rule_id}", d.id()),
        },
        suppressions: Vec::new(),
    }
}

fn finding(f: &Finding) -> SarifResult<'_> {
    let level = match f.status {
        Status::Fail => "error",
        Status::Warn => "warning",
        Status::Ignored => "note",
    };
    let mut message = f.drift.describe();
    if let Some(fix) = &f.fix {
        message.push_str(&format!("; fix: {fix}"));
    }
    let mut result = drift_result(&f.drift, level, message);
    if let Some(v) = &f.violates {
        result.locations.push(Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri(&v.file) },
                region: (v.line > 0).then(|| Region {
                    start_line: v.line,
                    snippet: v.entry.as_deref().map(|text| Snippet { text }),
                }),
            },
        });
    }
    if let Some(ig) = f.ignored_by.as_ref().filter(|ig| !ig.expired) {
        result.suppressions.push(Suppression {
            kind: "external",
            justification: format!("{} ({})", ig.reason, ig.place()),
        });
    }
    result
}

fn document(results: Vec<SarifResult<'_>>) -> String {
    document_of(results, Vec::new())
}

fn document_of(results: Vec<SarifResult<'_>>, invocations: Vec<Invocation>) -> String {
    let log = Log {
        schema: SARIF_SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "envsync",
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules: rules(),
                },
            },
            invocations,
            results,
        }],
    };
    let mut text = super::json_pretty(&log).expect("a SARIF log of strings and numbers serializes");
    text.push('\n');
    text
}

/// The SARIF log of a comparison that could not be made: the invocation failed (with
/// the reason as its notification), and one `unreadable-target` result says which side.
pub fn render_error(e: &Errored) -> String {
    let id = "unreadable-target";
    let text = format!("{} could not be compared: {}", e.other, e.reason);
    let result = SarifResult {
        rule_id: id,
        rule_index: rule_index(id),
        level: "error",
        message: Text { text: text.clone() },
        locations: Vec::new(),
        partial_fingerprints: Fingerprints {
            component: format!("{} {id}", e.other),
        },
        suppressions: Vec::new(),
    };
    let invocation = Invocation {
        execution_successful: false,
        tool_execution_notifications: vec![Notification {
            level: "error",
            message: Text { text },
        }],
    };
    document_of(vec![result], vec![invocation])
}

/// The SARIF log of a check or diff.
pub fn render(c: &Checked) -> String {
    let mut results: Vec<SarifResult<'_>> = c.findings.iter().map(finding).collect();
    for ig in &c.expired {
        let id = "expired-ignore";
        results.push(SarifResult {
            rule_id: id,
            rule_index: rule_index(id),
            level: "error",
            message: Text {
                text: format!(
                    "ignore `{}` at {} expired on {}",
                    ig.component,
                    ig.place(),
                    ig.until.as_deref().unwrap_or("?")
                ),
            },
            locations: ig
                .file
                .iter()
                .map(|file| Location {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri(file) },
                        region: ig.line.filter(|l| *l > 0).map(|start_line| Region {
                            start_line,
                            snippet: None,
                        }),
                    },
                })
                .collect(),
            partial_fingerprints: Fingerprints {
                component: format!("{} {id}", ig.component),
            },
            suppressions: Vec::new(),
        });
    }
    document(results)
}

/// The SARIF log of a fleet: one result per drifted component and target, and one per
/// target that could not be read.
pub fn render_fleet(fleet: &Fleet) -> String {
    let mut results = Vec::new();
    for t in &fleet.targets {
        match &t.result {
            Ok(diff) => {
                for d in &diff.drift {
                    let mut r = drift_result(d, "error", format!("{}: {}", t.name, d.describe()));
                    r.partial_fingerprints.component =
                        format!("{} {} {}", t.name, d.id(), d.kind.as_str());
                    results.push(r);
                }
            }
            Err(reason) => {
                let id = "unreadable-target";
                results.push(SarifResult {
                    rule_id: id,
                    rule_index: rule_index(id),
                    level: "error",
                    message: Text {
                        text: format!("{} could not be read: {reason}", t.name),
                    },
                    locations: Vec::new(),
                    partial_fingerprints: Fingerprints {
                        component: format!("{} {id}", t.name),
                    },
                    suppressions: Vec::new(),
                });
            }
        }
    }
    document(results)
}
