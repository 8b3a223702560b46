//! `.env` files and `${VAR}` interpolation, by compose's rules: pure functions of the
//! text they are handed, so the caller decides where variables come from.

use std::collections::BTreeMap;

/// A line of a `.env` file that is not `KEY=value`, a comment or blank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct DotenvError {
    pub line: usize,
    pub problem: String,
}

/// The variables of a `.env` file: `KEY=value` lines (an `export ` prefix allowed),
/// `#` comment lines and blank lines; values unquoted (trimmed, ` #` starts a comment),
/// in single quotes (literal) or double quotes (`\n`, `\"` and `\\` escapes).
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, DotenvError> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |problem: String| DotenvError {
            line: i + 1,
            problem,
        };
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(format!("`{}` is not `KEY=value`", key_only(line))));
        };
        let key = key.trim();
        let valid = key.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(error(format!("`{key}` is not a variable name")));
        }
        out.insert(key.to_string(), dotenv_value(value.trim()).map_err(error)?);
    }
    Ok(out)
}

/// What a line shows in a message: its key part only, as its value may be a secret.
fn key_only(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

fn dotenv_value(value: &str) -> Result<String, String> {
    if let Some(rest) = value.strip_prefix('\'') {
        return match rest.split_once('\'') {
            Some((inner, _)) => Ok(inner.to_string()),
            None => Err("a single-quoted value is not closed".into()),
        };
    }
    if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(out),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("a double-quoted value is not closed".into());
    }
    let value = match value.find(" #") {
        Some(at) => &value[..at],
        None => value,
    };
    Ok(value.trim().to_string())
}

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    #[error("`${{{0}}}` is not set")]
    Unset(String),
    #[error("`${{{name}}}` is not set: {message}")]
    Required { name: String, message: String },
    #[error("`{0}` is not a valid substitution; write `${{VAR}}`, `${{VAR:-default}}` or `$$` for a `$`")]
    Syntax(String),
}

/// `value` with `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}` (the default
/// when unset, or with `:` also when empty) and `${VAR:?message}` / `${VAR?message}`
/// replaced from `lookup`; `$$` is a `$`. An unset variable without a default is an
/// error, not an empty string: a missing password must not start a database without one.
pub fn interpolate(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner_start) = after.strip_prefix('{') {
            let Some(end) = inner_start.find('}') else {
                return Err(InterpolateError::Syntax(format!("${after}")));
            };
            out.push_str(&braced(&inner_start[..end], lookup)?);
            rest = &inner_start[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                return Err(InterpolateError::Syntax(format!("${after}")));
            }
            let name = &after[..len];
            out.push_str(&lookup(name).ok_or_else(|| InterpolateError::Unset(name.into()))?);
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn braced(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_len);
    if name.is_empty() {
        return Err(InterpolateError::Syntax(format!("${{{inner}}}")));
    }
    let got = lookup(name);
    let (empty_counts, op) = match op.strip_prefix(':') {
        Some(op) => (true, op),
        None => (false, op),
    };
    let missing = got.is_none() || (empty_counts && got.as_deref() == Some(""));
    match op.chars().next() {
        None if !empty_counts => got.ok_or_else(|| InterpolateError::Unset(name.into())),
        Some('-') => Ok(if missing {
            op[1..].to_string()
        } else {
            got.unwrap_or_default()
        }),
        Some('?') if missing => Err(InterpolateError::Required {
            name: name.into(),
            message: op[1..].to_string(),
        }),
        Some('?') => Ok(got.unwrap_or_default()),
        _ => Err(InterpolateError::Syntax(format!("${{{inner}}}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines() {
        let vars = parse_dotenv(
            "# comment\n\nA=1\nexport B = two words # note\nC='lit $X # x'\nD=\"q\\\"\\n\"\nE=\n",
        )
        .unwrap();
        let get = |k: &str| vars[k].as_str();
        assert_eq!(
            (get("A"), get("B"), get("C"), get("D"), get("E")),
            ("1", "two words", "lit $X # x", "q\"\n", "")
        );
        let err = parse_dotenv("A=1\nsecret value\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: `secret` is not `KEY=value`");
        assert_eq!(
            parse_dotenv("1A=x\n").unwrap_err().to_string(),
            "line 1: `1A` is not a variable name"
        );
        assert!(parse_dotenv("A='open\n").is_err());
    }

    #[test]
    fn interpolation() {
        fn check(value: &str, expected: Result<&str, &str>) {
            let lookup = |name: &str| match name {
                "USER" => Some("ann".to_string()),
                "EMPTY" => Some(String::new()),
                _ => None,
            };
            let got = interpolate(value, &lookup).map_err(|e| e.to_string());
            assert_eq!(got.as_deref().map_err(String::as_str), expected, "{value}");
        }
        check("plain", Ok("plain"));
        check("${USER}@$USER.x", Ok("ann@ann.x"));
        check("$$USER", Ok("$USER"));
        check("${NOPE:-d}|${EMPTY:-d}|${EMPTY-d}", Ok("d|d|"));
        check("${NOPE}", Err("`${NOPE}` is not set"));
        check("${NOPE:?set it}", Err("`${NOPE}` is not set: set it"));
        check("${USER?x}", Ok("ann"));
        check(
            "${USER",
            Err("`${USER` is not a valid substitution; write `${VAR}`, `${VAR:-default}` or `$$` for a `$`"),
        );
        check("a $ b", Err("`$ b` is not a valid substitution; write `${VAR}`, `${VAR:-default}` or `$$` for a `$`"));
    }
}
