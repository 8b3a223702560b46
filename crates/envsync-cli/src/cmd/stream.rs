//! `envsync diff --stream`: each target's comparison as one JSON line on standard
//! output the moment it and the reference are collected (`envsync.diff-stream/v1`),
//! so a pipeline or a dashboard follows a fleet of hundreds while it runs; the last
//! line carries the verdict. The reports named with `--format FORMAT=FILE` are still
//! written when every target has finished.

use anyhow::anyhow;
use envsync_drift::compare::{self, Diff};
use envsync_drift::report::json::{render_stream_end, render_stream_target};
use envsync_drift::{fleet::Fleet, Snapshot};
use envsync_manifest::Ecosystem;

use super::diff::filter;
use super::output::outln;

/// What a target's comparison needs besides the two snapshots.
#[derive(Debug, Clone)]
pub(crate) struct Compare {
    pub only: Option<Vec<Ecosystem>>,
    pub ignore_extra: bool,
    pub allow_incomplete: bool,
}

impl Compare {
    /// `other` compared with `reference`, as the fleet report compares them.
    pub fn diff(&self, reference: &Snapshot, other: Snapshot) -> anyhow::Result<Diff> {
        other.require_complete(self.allow_incomplete)?;
        let (mut reference, mut other) = (reference.clone(), other);
        envsync_drift::align_hashes(&mut reference, &mut other)?;
        let mut diff = compare::diff(&reference, &other);
        filter(&mut diff, self.only.as_deref(), self.ignore_extra);
        Ok(diff)
    }
}

/// Prints each target's line once both it and the reference (index 0) are collected;
/// targets that finish first wait for the reference.
pub(crate) struct Streamer {
    names: Vec<String>,
    compare: Compare,
    reference: Option<Result<Snapshot, String>>,
    waiting: Vec<(usize, Result<Snapshot, String>)>,
}

impl Streamer {
    pub fn new(names: Vec<String>, compare: Compare) -> Streamer {
        Streamer {
            names,
            compare,
            reference: None,
            waiting: Vec::new(),
        }
    }

    /// Target `index` finished collecting with `result`.
    pub fn finished(&mut self, index: usize, result: &anyhow::Result<Snapshot>) {
        let result = match result {
            Ok(snapshot) => Ok(snapshot.clone()),
            Err(err) => Err(format!("{err:#}")),
        };
        if index > 0 {
            self.waiting.push((index, result));
        } else {
            let reference = result.and_then(|r| {
                r.require_complete(self.compare.allow_incomplete)
                    .map(|()| r)
                    .map_err(|e| format!("{:#}", anyhow!(e)))
            });
            self.reference = Some(
                reference
                    .map_err(|e| format!("cannot load the reference `{}`: {e}", self.names[0])),
            );
        }
        self.print_ready();
    }

    fn print_ready(&mut self) {
        let Some(reference) = &self.reference else {
            return;
        };
        for (index, result) in std::mem::take(&mut self.waiting) {
            let name = &self.names[index];
            let compared = match (reference, result) {
                (Ok(reference), Ok(other)) => self
                    .compare
                    .diff(reference, other)
                    .map_err(|e| format!("{e:#}")),
                (Err(err), _) => Err(err.clone()),
                (_, Err(err)) => Err(err),
            };
            // A closed standard output ends the lines, not the run: the reports to
            // files and the exit code still follow.
            let _ = outln!("{}", render_stream_target(&self.names[0], name, &compared));
        }
    }

    /// The last line, once the fleet has been compared.
    pub fn end(&self, fleet: &Fleet) {
        let _ = outln!("{}", render_stream_end(fleet));
    }
}
