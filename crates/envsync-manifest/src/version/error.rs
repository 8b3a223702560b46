//! The error for a version or a version constraint that an ecosystem cannot read.

use super::Ecosystem;

/// A version or constraint that its ecosystem does not accept. Each variant carries the
/// text as written, what is wrong with it, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("empty {ecosystem} version; write a version such as `{example}`")]
    Empty {
        ecosystem: Ecosystem,
        example: &'static str,
    },
    #[error("invalid {ecosystem} version `{text}`: {reason}; {hint}")]
    Version {
        ecosystem: Ecosystem,
        text: String,
        reason: String,
        hint: String,
    },
    #[error("invalid {ecosystem} version constraint `{text}`: {reason}; {hint}")]
    Constraint {
        ecosystem: Ecosystem,
        text: String,
        reason: String,
        hint: String,
    },
}

impl VersionError {
    pub(crate) fn version(
        ecosystem: Ecosystem,
        text: &str,
        reason: impl Into<String>,
        hint: impl Into<String>,
    ) -> VersionError {
        VersionError::Version {
            ecosystem,
            text: text.to_string(),
            reason: reason.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn constraint(
        ecosystem: Ecosystem,
        text: &str,
        reason: impl Into<String>,
        hint: impl Into<String>,
    ) -> VersionError {
        VersionError::Constraint {
            ecosystem,
            text: text.to_string(),
            reason: reason.into(),
            hint: hint.into(),
        }
    }
}
