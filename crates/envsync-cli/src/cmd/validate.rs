//! `envsync validate`: check a manifest and report every problem at once, each with its
//! file, line, column and a fix.

use std::path::Path;

use anyhow::anyhow;
use envsync_drift::report::escape_lines;
use envsync_manifest::{Diagnostic, Manifest};

use super::output::DocFormat as Format;
use crate::cmd::output::outln;
use crate::documents;
use crate::inputs::ManifestArg;
use crate::Outcome;

pub use crate::documents::VALIDATE_SCHEMA;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The manifest to check
    #[command(flatten)]
    pub manifest: ManifestArg,
    /// Judge ignore expiry dates as of this day (YYYY-MM-DD) instead of today
    #[arg(long, value_name = "DATE", value_parser = super::parse_date)]
    pub as_of: Option<envsync_manifest::policy::Date>,
    /// Output format: `table` (problems on stderr) or `json` (on stdout)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Run `envsync validate`: `Ok` when the manifest is valid, an error (exit 2) otherwise.
pub fn run(args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let today = args
        .as_of
        .unwrap_or_else(envsync_manifest::policy::Date::today);
    // A manifest that cannot be read is an error of its own, not "1 problem".
    let path = args.manifest.readable_path()?;
    // Unlike every other command, validate judges ignore expiry and lists each problem
    // as a diagnostic rather than failing on the first load error.
    let (manifest, errors) = match Manifest::load_on(&path, today) {
        Ok(manifest) => {
            let errors = missing_local_files(&manifest);
            (Some(manifest), errors)
        }
        Err(errors) => (None, errors.errors),
    };
    match args.format {
        Format::Json => documents::print(&documents::Validate {
            schema: VALIDATE_SCHEMA,
            errors: &errors,
        })?,
        Format::Table => {
            for error in &errors {
                eprintln!("error: {}", escape_lines(&error.to_string()));
            }
            if let (Some(m), true) = (&manifest, errors.is_empty()) {
                outln!(
                    "{} is valid: {} components declared, {} services, {} targets",
                    path.display(),
                    m.declared().len(),
                    m.services.len(),
                    m.targets.len()
                )?;
            }
        }
    }
    if errors.is_empty() {
        Ok(Outcome::Ok)
    } else {
        let n = errors.len();
        Err(anyhow!(
            "{} is not valid: {n} {}",
            path.display(),
            if n == 1 { "problem" } else { "problems" }
        ))
    }
}

/// Files the manifest copies in (`[files]`, a service's `files`) and CA bundles it adds to builds
/// (`[build] ca_certificates`) that do not exist. The manifest crate reads no files
/// beyond the manifest, so this check lives here.
fn missing_local_files(manifest: &Manifest) -> Vec<Diagnostic> {
    let dir = manifest.file.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    let service_files = manifest.services.iter().flat_map(|s| {
        let section = format!("services.{}.files", s.name);
        s.files.iter().map(move |f| (f, section.clone()))
    });
    let files = manifest.files.iter().map(|f| (f, "files".to_string()));
    for (f, section) in files.chain(service_files) {
        let local = dir.join(&f.local_path);
        if !local.is_file() {
            out.push(Diagnostic {
                file: manifest.file.clone(),
                line: f.line,
                column: f.column,
                message: format!(
                    "local file `{}` for `{}` in [{section}] does not exist (looked for `{}`)",
                    f.local_path,
                    f.container_path,
                    local.display()
                ),
                fix: "create it, or correct the path (relative to the manifest)".into(),
            });
        }
    }
    for ca in &manifest.build.ca_certificates {
        let path = dir.join(ca);
        if !path.is_file() {
            out.push(Diagnostic {
                file: manifest.file.clone(),
                line: 0,
                column: 0,
                message: format!("CA bundle `{ca}` in [build] `ca_certificates` does not exist"),
                fix: "name an existing certificate file on this machine, or remove it".into(),
            });
        }
    }
    out
}
