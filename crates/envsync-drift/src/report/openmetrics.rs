//! Drift as metrics, for the monitoring operations already watch: the OpenMetrics text
//! format, which is also valid Prometheus text exposition (the `# EOF` line is a comment
//! there), so the node_exporter textfile collector reads the same file Prometheus scrapes.
//!
//! Per target: `envsync_target_up` (1 collected, 0 not) and, for collected targets,
//! `envsync_drift_components{kind}` (missing, extra, changed) and
//! `envsync_compared_components`; for the whole run `envsync_targets{status}`. Gauges
//! only, no timestamps: a file rewritten by a timer says what the last run saw.

use std::fmt::Write as _;

use crate::compare::Summary;
use crate::fleet::Fleet;

use super::escape;

/// A label value: terminal-safe text, then OpenMetrics' escapes (`\\`, `\"`, `\n`).
fn label(text: &str) -> String {
    escape(text)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// One gauge family with samples for each collected target: `samples` gives each one's
/// extra labels (after `target`) and value.
fn per_target(
    out: &mut String,
    f: &Fleet,
    name: &str,
    help: &str,
    samples: &dyn Fn(&Summary) -> Vec<(String, usize)>,
) {
    family(out, name, help);
    let reference = label(&f.reference);
    for (t, s) in f.targets.iter().zip(f.summaries()) {
        let Some(s) = s else { continue };
        for (extra, n) in samples(&s) {
            let _ = writeln!(
                out,
                "{name}{{reference=\"{reference}\",target=\"{}\"{extra}}} {n}",
                label(&t.name)
            );
        }
    }
}

/// The metrics of a fleet (a pair is a fleet of one target).
pub fn render_fleet(f: &Fleet) -> String {
    let mut out = String::new();
    let reference = label(&f.reference);
    family(
        &mut out,
        "envsync_target_up",
        "Whether envsync could collect the target (1) or not (0).",
    );
    for t in &f.targets {
        let _ = writeln!(
            out,
            "envsync_target_up{{reference=\"{reference}\",target=\"{}\"}} {}",
            label(&t.name),
            u8::from(t.result.is_ok())
        );
    }
    per_target(
        &mut out,
        f,
        "envsync_drift_components",
        "Components of the target that drift from the reference, by kind (missing, extra, changed).",
        &|s| {
            [("missing", s.missing), ("extra", s.extra), ("changed", s.changed)]
                .into_iter()
                .map(|(kind, n)| (format!(",kind=\"{kind}\""), n))
                .collect()
        },
    );
    per_target(
        &mut out,
        f,
        "envsync_drift_major_changes",
        "Changed components whose epoch or major version moved.",
        &|s| vec![(String::new(), s.major)],
    );
    per_target(
        &mut out,
        f,
        "envsync_compared_components",
        "Components compared between the reference and the target.",
        &|s| vec![(String::new(), s.compared)],
    );
    family(
        &mut out,
        "envsync_targets",
        "Targets of this run by status (parity, drift, error).",
    );
    let drifting = f
        .summaries()
        .iter()
        .flatten()
        .filter(|s| s.has_drift())
        .count();
    let failed = f.failed_targets();
    for (status, n) in [
        ("parity", f.targets.len() - drifting - failed),
        ("drift", drifting),
        ("error", failed),
    ] {
        let _ = writeln!(
            out,
            "envsync_targets{{reference=\"{reference}\",status=\"{status}\"}} {n}"
        );
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::FleetTarget;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(label("x\u{1b}y"), "x\\\\u{1b}y");
        let f = Fleet {
            reference: "ref".into(),
            targets: vec![FleetTarget {
                name: "ssh://h\"1".into(),
                result: Err("refused".into()),
            }],
        };
        let text = render_fleet(&f);
        assert!(
            text.contains("envsync_target_up{reference=\"ref\",target=\"ssh://h\\\"1\"} 0\n"),
            "{text}"
        );
        assert!(
            text.ends_with("envsync_targets{reference=\"ref\",status=\"error\"} 1\n# EOF\n"),
            "{text}"
        );
    }
}
