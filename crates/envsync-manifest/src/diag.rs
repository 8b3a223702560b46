//! Diagnostics: one problem in an input file with its position and a fix, the list of
//! them that manifest validation returns, and byte-offset to line/column translation.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A position in a file, 1-based, as editors and compilers print it (`envsync.toml:12:1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem in a file: where it is, what is wrong, and how to fix it.
///
/// `line` and `column` are 1-based; both are 0 when the problem concerns the whole file
/// (it cannot be read, or a required section is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// What is wrong, naming the key or value in backticks.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{} in {}", self.message, self.file.display())?;
        } else {
            write!(
                f,
                "{} at {}:{}:{}",
                self.message,
                self.file.display(),
                self.line,
                self.column
            )?;
        }
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

/// Every problem found in one manifest, in file order. Validation never stops at the
/// first problem: a user fixes them all in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors {
    pub errors: Vec<Diagnostic>,
}

impl ManifestErrors {
    /// Sort into file order (problems about the whole file first). The sort is stable, so
    /// two problems at one position keep the order in which they were found.
    pub fn new(mut errors: Vec<Diagnostic>) -> ManifestErrors {
        errors.sort_by_key(|d| (d.line, d.column));
        ManifestErrors { errors }
    }

    /// One problem about the whole file.
    pub fn whole_file(file: &Path, message: String, fix: String) -> ManifestErrors {
        ManifestErrors::new(vec![Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message,
            fix,
        }])
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}

/// Translates byte offsets of one text into 1-based line and column (columns count
/// characters, not bytes, so they match what an editor shows).
#[derive(Debug, Clone)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// Line and column of `offset`; offsets past the end clamp to the end of the text.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1, // starts[0] == 0 <= offset, so i >= 1 here.
        };
        let start = self.starts[line];
        let column = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            // An offset inside a multi-byte character: count bytes instead of failing.
            .unwrap_or(offset - start);
        (line + 1, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, offset: usize, expected: (usize, usize)) {
        assert_eq!(
            LineIndex::new(text).position(offset),
            expected,
            "{text:?} @ {offset}"
        );
    }

    #[test]
    fn positions() {
        check("", 0, (1, 1));
        check("ab\ncd", 0, (1, 1));
        check("ab\ncd", 2, (1, 3));
        check("ab\ncd", 3, (2, 1));
        check("ab\ncd", 4, (2, 2));
        check("ab\ncd", 99, (2, 3));
        check("é = 1\nx", 2, (1, 2));
        check("é = 1\nx", 3, (1, 3));
        check("\n\n\nx", 3, (4, 1));
    }

    #[test]
    fn display_in_file_order() {
        let d = |line, column, message: &str| Diagnostic {
            file: "envsync.toml".into(),
            line,
            column,
            message: message.into(),
            fix: "fix it".into(),
        };
        let errors = ManifestErrors::new(vec![d(12, 1, "b"), d(3, 5, "a"), d(0, 0, "w")]);
        assert_eq!(
            errors.to_string(),
            "w in envsync.toml; fix it\na at envsync.toml:3:5; fix it\nb at envsync.toml:12:1; fix it"
        );
    }
}
