//! PEP 508 environment markers, evaluated as pip evaluates a distribution's
//! `Requires-Dist` when no extra is requested: enough to tell which requirements of an
//! installed distribution apply in its environment. A marker this evaluator does not
//! understand counts as holding (the requirement counts as required).

use std::cmp::Ordering;

use envsync_manifest::version::pypi;

use crate::collect::parse::pep503;

/// The marker variables of one Python environment.
#[derive(Debug, Clone)]
pub struct Env {
    python_version: String,
    python_full_version: String,
    platform_machine: String,
}

impl Env {
    /// From a site-packages directory (`…/lib/python3.11/site-packages`), the
    /// interpreter's full version when known, and the Debian architecture.
    pub fn new(location: &str, full: Option<&str>, deb_arch: Option<&str>) -> Env {
        let python_version = location
            .split('/')
            .find_map(|s| s.strip_prefix("python"))
            .filter(|v| v.contains('.'))
            .unwrap_or("3")
            .to_string();
        let python_full_version = full
            .filter(|f| f.starts_with(&format!("{python_version}.")))
            .map_or_else(|| format!("{python_version}.0"), str::to_string);
        let platform_machine = match deb_arch.unwrap_or("amd64") {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "i386" => "i686",
            "armhf" => "armv7l",
            other => other,
        }
        .to_string();
        Env {
            python_version,
            python_full_version,
            platform_machine,
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        Some(match name {
            "python_version" => &self.python_version,
            "python_full_version" | "implementation_version" => &self.python_full_version,
            "platform_machine" => &self.platform_machine,
            "sys_platform" => "linux",
            "os_name" => "posix",
            "platform_system" => "Linux",
            "implementation_name" => "cpython",
            "platform_python_implementation" => "CPython",
            "extra" => "",
            _ => return None,
        })
    }
}

/// The PEP 503 name a `Requires-Dist` value requires in `env`, or `None` when its
/// marker does not hold there (an extra, another platform, another Python).
pub fn required_name(requirement: &str, env: &Env) -> Option<String> {
    let (spec, marker) = match requirement.split_once(';') {
        Some((s, m)) => (s, Some(m)),
        None => (requirement, None),
    };
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..end];
    if name.is_empty() {
        return None;
    }
    match marker {
        Some(m) => evaluate(m, env).unwrap_or(true).then(|| pep503(name)),
        None => Some(pep503(name)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Str(String),
    Op(String),
}

fn tokens(text: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' | '"' => {
                let close = chars[i + 1..].iter().position(|d| *d == c)? + i + 1;
                out.push(Tok::Str(chars[i + 1..close].iter().collect()));
                i = close + 1;
            }
            '<' | '>' | '=' | '!' | '~' => {
                let mut j = i;
                while j < chars.len() && matches!(chars[j], '<' | '>' | '=' | '!' | '~') {
                    j += 1;
                }
                out.push(Tok::Op(chars[i..j].iter().collect()));
                i = j;
            }
            _ => {
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '.')
                {
                    j += 1;
                }
                if j == i {
                    return None;
                }
                out.push(Tok::Word(chars[i..j].iter().collect()));
                i = j;
            }
        }
    }
    Some(out)
}

/// The marker's truth in `env`; `None` when it cannot be read.
fn evaluate(marker: &str, env: &Env) -> Option<bool> {
    let toks = tokens(marker)?;
    let mut pos = 0;
    let value = or_expr(&toks, &mut pos, env)?;
    (pos == toks.len()).then_some(value)
}

fn or_expr(t: &[Tok], pos: &mut usize, env: &Env) -> Option<bool> {
    let mut v = and_expr(t, pos, env)?;
    while t.get(*pos) == Some(&Tok::Word("or".into())) {
        *pos += 1;
        let r = and_expr(t, pos, env)?;
        v = v || r;
    }
    Some(v)
}

fn and_expr(t: &[Tok], pos: &mut usize, env: &Env) -> Option<bool> {
    let mut v = atom(t, pos, env)?;
    while t.get(*pos) == Some(&Tok::Word("and".into())) {
        *pos += 1;
        let r = atom(t, pos, env)?;
        v = v && r;
    }
    Some(v)
}

fn atom(t: &[Tok], pos: &mut usize, env: &Env) -> Option<bool> {
    if t.get(*pos) == Some(&Tok::Open) {
        *pos += 1;
        let v = or_expr(t, pos, env)?;
        if t.get(*pos) != Some(&Tok::Close) {
            return None;
        }
        *pos += 1;
        return Some(v);
    }
    let (left, lvar) = operand(t.get(*pos)?, env)?;
    *pos += 1;
    let op = match t.get(*pos)? {
        Tok::Op(o) => o.clone(),
        Tok::Word(w) if w == "in" => "in".to_string(),
        Tok::Word(w) if w == "not" && t.get(*pos + 1) == Some(&Tok::Word("in".into())) => {
            *pos += 1;
            "not in".to_string()
        }
        _ => return None,
    };
    *pos += 1;
    let (right, rvar) = operand(t.get(*pos)?, env)?;
    *pos += 1;
    compare(&left, &op, &right, lvar.or(rvar))
}

/// A literal or a variable's value, with the variable's name.
fn operand(tok: &Tok, env: &Env) -> Option<(String, Option<String>)> {
    match tok {
        Tok::Str(s) => Some((s.clone(), None)),
        Tok::Word(w) => Some((env.var(w)?.to_string(), Some(w.clone()))),
        _ => None,
    }
}

fn compare(left: &str, op: &str, right: &str, var: Option<String>) -> Option<bool> {
    match op {
        "in" => return Some(right.contains(left)),
        "not in" => return Some(!right.contains(left)),
        _ => {}
    }
    let versioned = var.as_deref().is_some_and(|v| v.ends_with("_version"));
    if var.as_deref() == Some("extra") {
        let (l, r) = (pep503(left), pep503(right));
        return match op {
            "==" => Some(l == r),
            "!=" => Some(l != r),
            _ => None,
        };
    }
    if !versioned {
        return match op {
            "==" | "===" => Some(left == right),
            "!=" => Some(left != right),
            _ => None,
        };
    }
    let ord = pypi::compare(left, right);
    Some(match op {
        "==" | "===" => ord == Ordering::Equal,
        "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" | "~=" => ord != Ordering::Less,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(req: &str, expected: Option<&str>) {
        let env = Env::new(
            "/opt/v/lib/python3.11/site-packages",
            Some("3.11.2"),
            Some("amd64"),
        );
        assert_eq!(required_name(req, &env).as_deref(), expected, "{req}");
    }

    #[test]
    fn markers_as_pip_reads_them_without_extras() {
        check("urllib3<3,>=1.21.1", Some("urllib3"));
        check("charset_normalizer<4,>=2", Some("charset-normalizer"));
        check("PySocks!=1.5.7,>=1.5.6; extra == \"socks\"", None);
        check("chardet<6,>=3.0.2; extra == \"use-chardet-on-py3\"", None);
        check("tomli>=1.1.0; python_version < \"3.11\"", None);
        check("exceptiongroup; python_version<'3.11'", None);
        check(
            "typing-extensions>=4; python_version >= '3.8'",
            Some("typing-extensions"),
        );
        check("colorama; sys_platform == \"win32\"", None);
        check(
            "uvloop; sys_platform != 'win32' and implementation_name == 'cpython'",
            Some("uvloop"),
        );
        check(
            "pywin32; platform_system == 'Windows' or os_name == 'nt'",
            None,
        );
        check(
            "x; (python_version >= '3.12' or platform_machine == 'x86_64') and extra != 'a'",
            Some("x"),
        );
        check("y; python_full_version >= '3.11.3'", None);
        check("z; 'linux' in sys_platform", Some("z"));
        check("w; weird_variable == '1'", Some("w"));
    }
}
