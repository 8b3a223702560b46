//! The parse context: the file, its line index and the problems found so far, with the
//! readers of keys, tables, strings and constraints every section uses.

use std::ops::Range;

use toml_edit::{Item, Key, TableLike, Value};

use super::names::*;
use super::*;
use crate::diag::{Diagnostic, LineIndex};
use crate::version::Ecosystem;
use crate::version::{Constraint, VersionError};

/// Validation state: the file, its line index and the problems found so far.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) index: LineIndex<'a>,
    pub(super) errors: Vec<Diagnostic>,
    /// Every ignore's `until`, judged by the caller against a date of its choosing.
    pub(super) expiries: Vec<Expiry>,
}

impl Ctx<'_> {
    pub(super) fn pos(&self, span: Option<Range<usize>>) -> (usize, usize) {
        span.map_or((0, 0), |s| self.index.position(s.start))
    }

    pub(super) fn error(&mut self, span: Option<Range<usize>>, message: String, fix: String) {
        let (line, column) = self.pos(span);
        self.errors.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
            fix,
        });
    }

    pub(super) fn syntax_error(&mut self, err: &toml_edit::TomlError) {
        let message = err.message().trim().replace('\n', "; ");
        let (message, fix) =
            if let Some(rest) = message.strip_prefix("invalid table header; duplicate key `") {
                let key = rest.split('`').next().unwrap_or_default();
                (
                    format!("TOML error: `{key}` is declared twice"),
                    format!("merge the two declarations of `{key}` into one"),
                )
            } else if message.contains("duplicate key") {
                (
                    format!("TOML error: {message}"),
                    "remove or rename one of the two keys".to_string(),
                )
            } else {
                (
                    format!("TOML error: {message}"),
                    "fix the TOML syntax at this position".to_string(),
                )
            };
        self.error(err.span(), message, fix);
    }

    /// Report every key of `table` not in `known`, with the closest known key as a hint.
    pub(super) fn check_keys(&mut self, table: &dyn TableLike, section: &str, known: &[&str]) {
        for (key, _) in entries(table) {
            if !known.contains(&key.get()) {
                let fix = match suggest(key.get(), known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("known keys are {}", list(known)),
                };
                self.error(
                    key.span(),
                    format!("unknown key `{}` in [{section}]", key.get()),
                    fix,
                );
            }
        }
    }

    pub(super) fn wrong_type(
        &mut self,
        key: &Key,
        item: &Item,
        section: &str,
        expected: &str,
        example: String,
    ) {
        self.error(
            item.span().or_else(|| key.span()),
            format!(
                "`{}` in [{section}] must be {expected}, found {}",
                key.get(),
                type_name(item)
            ),
            format!("write {example}"),
        );
    }

    pub(super) fn table<'i>(
        &mut self,
        key: &Key,
        item: &'i Item,
        section: &str,
    ) -> Option<&'i dyn TableLike> {
        let table = item.as_table_like();
        if table.is_none() {
            let name = key.get();
            let example = format!("[{}{}]", section_prefix(section), name);
            self.wrong_type(key, item, section, "a table", example);
        }
        table
    }

    pub(super) fn string<'i>(
        &mut self,
        key: &Key,
        item: &'i Item,
        section: &str,
        example: &str,
    ) -> Option<&'i str> {
        let s = item.as_str();
        if s.is_none() {
            let example = match item.as_value() {
                Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                    let text = item.as_value().map(|v| v.to_string()).unwrap_or_default();
                    format!("`{} = \"{}\"` (quoted)", key.get(), text.trim())
                }
                _ => format!("`{} = {example}`", key.get()),
            };
            self.wrong_type(key, item, section, "a string", example);
        }
        s
    }

    pub(super) fn strings(
        &mut self,
        key: &Key,
        item: &Item,
        section: &str,
        example: &str,
    ) -> Vec<String> {
        let Some(array) = item.as_array() else {
            self.wrong_type(
                key,
                item,
                section,
                "an array of strings",
                format!("`{} = {example}`", key.get()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push(s.to_string()),
                None => self.error(
                    v.span(),
                    format!(
                        "`{}` in [{section}] must hold strings, found {}",
                        key.get(),
                        value_type_name(v)
                    ),
                    format!("write `{} = {example}`", key.get()),
                ),
            }
        }
        out
    }

    pub(super) fn constraint(
        &mut self,
        eco: Ecosystem,
        name: &str,
        text: &str,
        span: Option<Range<usize>>,
        section: &str,
    ) {
        if let Err(err) = Constraint::parse(eco, text) {
            let (reason, hint) = match err {
                VersionError::Constraint { reason, hint, .. }
                | VersionError::Version { reason, hint, .. } => (reason, hint),
                VersionError::Empty { .. } => ("it is empty".to_string(), String::new()),
            };
            // The reason may repeat the text (`version `X`: ...`); the message already names it.
            let reason = reason
                .strip_prefix(&format!("version `{}`: ", text.trim()))
                .map(str::to_string)
                .unwrap_or(reason);
            let fix = if hint.is_empty() {
                format!("write {}", constraint_example(eco))
            } else {
                hint
            };
            self.error(
                span,
                format!(
                    "version `{text}` of `{name}` in [{section}] is not a valid {} constraint: {reason}",
                    ecosystem_label(eco)
                ),
                fix,
            );
        }
    }
}

/// The key/item pairs of a table, with the keys' spans.
pub(super) fn entries(t: &dyn TableLike) -> Vec<(&Key, &Item)> {
    t.iter().filter_map(|(k, _)| t.get_key_value(k)).collect()
}

pub(super) fn section_prefix(section: &str) -> String {
    if section.is_empty() {
        String::new()
    } else {
        format!("{section}.")
    }
}

/// The closest candidate to a misspelt `word`, if one is close enough to be a likely typo.
pub(super) fn suggest<'k>(word: &str, candidates: &[&'k str]) -> Option<&'k str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => value_type_name(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

pub(super) fn value_type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::testing::check;

    #[test]
    fn unknown_keys_suggest() {
        check(
            "[python]\npakages = { django = \"==4.2.7\" }\n",
            "unknown key `pakages` in [python] at envsync.toml:6:1; did you mean `packages`?",
        );
        check(
            "[pyhton]\nversion = \"3.11\"\n",
            "unknown section `[pyhton]` at envsync.toml:5:2; did you mean `[python]`?",
        );
        check(
            "[services.pg]\nversion = \"15\"\nprot = 5432\n",
            "unknown key `prot` in [services.pg] at envsync.toml:7:1; did you mean `port`?",
        );
        check(
            "[policy]\nxyzzy = 1\n",
            "unknown key `xyzzy` in [policy] at envsync.toml:6:1; known keys are `fail_on`, `ignore`",
        );
    }

    #[test]
    fn wrong_types() {
        check(
            "[apt]\nopenssl = 3\n",
            "`openssl` in [apt] must be a string, found an integer at envsync.toml:6:11; write `openssl = \"3\"` (quoted)",
        );
        check(
            "[services.pg]\nversion = \"15\"\nport = \"5432\"\n",
            "`port` in [services.pg] must be a port number from 1 to 65535, found a string at envsync.toml:7:8; write `port = 5432` (a number, unquoted)",
        );
        check(
            "[env]\nSECRET = 12345\n",
            "value of `SECRET` in [env] must be a string, found an integer at envsync.toml:6:10; quote it: `SECRET = \"...\"`",
        );
    }
}
