//! One module per command.

pub mod audit;
pub mod build;
pub mod check;
pub mod completions;
pub mod diff;
pub mod down;
pub mod engine;
pub mod exec;
pub mod fetch;
pub mod fingerprint;
pub mod history;
pub mod init;
pub mod lock;
pub mod logs;
pub mod output;
pub mod status;
pub mod stream;
pub mod up;
pub mod validate;

/// Parse a `--as-of` style date argument (`YYYY-MM-DD`).
/// A path on a target: it must be absolute (`--root`).
pub(crate) fn absolute_path(text: &str) -> Result<String, String> {
    if text.starts_with('/') {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not an absolute path; paths on the target start with `/`"
        ))
    }
}

pub(crate) fn parse_date(text: &str) -> Result<envsync_manifest::policy::Date, String> {
    envsync_manifest::policy::Date::parse(text)
        .ok_or_else(|| format!("`{text}` is not a date; write YYYY-MM-DD"))
}
