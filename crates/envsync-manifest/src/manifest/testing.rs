//! What the manifest's unit tests share: a fixed day, the smallest valid head, and
//! `check(body, expected)`.

use std::path::Path;

use super::Manifest;
use crate::diag::ManifestErrors;
use crate::policy::Date;

pub(super) const TODAY: Date = Date {
    year: 2026,
    month: 11,
    day: 26,
};

pub(super) const HEAD: &str = "[project]\nname = \"app\"\n[base]\nimage = \"debian:bookworm\"\n";

pub(super) fn parse(text: &str) -> Result<Manifest, ManifestErrors> {
    Manifest::parse_on(text, Path::new("envsync.toml"), TODAY)
}

/// Parse `HEAD + body` and compare the errors (one per line), or "" for a valid manifest.
pub(super) fn check(body: &str, expected: &str) {
    let text = format!("{HEAD}{body}");
    let got = match parse(&text) {
        Ok(_) => String::new(),
        Err(errors) => errors.to_string(),
    };
    assert_eq!(got, expected.trim(), "manifest:\n{text}");
}
