//! Reports of a diff, a check or a fleet in the formats people and CI servers read:
//! a table for terminals, JSON (`envsync.diff/v1`), JUnit XML and Markdown.
//!
//! Every renderer is a pure function returning the whole text, so several formats can
//! be written from one run and golden files stay byte-stable (no timestamps).

pub mod json;
pub mod junit;
pub mod markdown;
pub mod table;

use std::fmt;

use crate::check::Checked;
use crate::fleet::Fleet;

/// The schema id of diff and check reports.
pub const DIFF_SCHEMA: &str = "envsync.diff/v1";

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
}

impl Format {
    pub const NAMES: &'static str = "table, json, junit, markdown";

    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "table" => Format::Table,
            "json" => Format::Json,
            "junit" => Format::Junit,
            "markdown" | "md" => Format::Markdown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Render a two-sided result. `color` only affects the table.
pub fn render(format: Format, checked: &Checked, color: bool) -> String {
    match format {
        Format::Table => table::render(checked, color),
        Format::Json => json::render(checked),
        Format::Junit => junit::render(checked),
        Format::Markdown => markdown::render(checked),
    }
}

/// Render a fleet matrix. `color` only affects the table.
pub fn render_fleet(format: Format, fleet: &Fleet, color: bool) -> String {
    match format {
        Format::Table => table::render_fleet(fleet, color),
        Format::Json => json::render_fleet(fleet),
        Format::Junit => junit::render_fleet(fleet),
        Format::Markdown => markdown::render_fleet(fleet),
    }
}
