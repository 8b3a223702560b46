//! What a project's own dependency files pin, for `envsync init` without a target:
//! `requirements.txt` (its `==` lines), `pyproject.toml` with `uv.lock` or
//! `poetry.lock` (the direct dependencies pyproject names, at the versions the lock
//! resolved), and `package.json` with `package-lock.json` (likewise). Each reader takes
//! the files' text and names the file and line of anything it cannot use.

use std::collections::BTreeMap;

use toml_edit::{DocumentMut, Item};

use super::Pin;

/// A dependency file that cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

fn err(file: &str, line: Option<usize>, message: impl Into<String>) -> FileError {
    FileError {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

/// A dependency a file names that is not declared, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub name: String,
    pub reason: String,
}

/// Pins read from dependency files, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePins {
    pub pins: Vec<Pin>,
    pub left_out: Vec<LeftOut>,
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !sep {
                out.push('-');
            }
            sep = true;
        } else {
            out.extend(c.to_lowercase());
            sep = false;
        }
    }
    out
}

/// The name (extras dropped) at the start of a PEP 508 requirement.
fn requirement_name(req: &str) -> &str {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    &req[..end]
}

/// `requirements.txt`: every `NAME[extras]==VERSION` line is pinned (`===` too);
/// markers and `--hash` options are dropped; other lines are left out with the reason.
pub fn requirements_txt(text: &str) -> FilePins {
    let mut out = FilePins::default();
    let mut logical = String::new();
    for raw in text.lines() {
        let line = match raw.find(" #").or_else(|| raw.starts_with('#').then_some(0)) {
            Some(i) => &raw[..i],
            None => raw,
        };
        if let Some(cont) = line.trim_end().strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        if entry.starts_with('-') {
            out.left_out.push(LeftOut {
                name: entry.to_string(),
                reason: "an option line (`-r`, `-e`, `--index-url`, ...), not a package".into(),
            });
            continue;
        }
        let spec = entry.split(';').next().unwrap_or("").trim();
        let spec = spec.split(" --").next().unwrap_or("").trim();
        let name = requirement_name(spec);
        let rest = spec[name.len()..].trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r
                .split_once(']')
                .map_or("", |(_, after)| after)
                .trim_start(),
            None => rest,
        };
        let version = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.contains([',', '*', ' ']));
        match (name.is_empty(), version) {
            (false, Some(v)) => out.pins.push(Pin::new(&pep503(name), &format!("=={v}"))),
            _ => out.left_out.push(LeftOut {
                name: if name.is_empty() {
                    entry.to_string()
                } else {
                    pep503(name)
                },
                reason: "not pinned with `==`; left to the lock".into(),
            }),
        }
    }
    out.pins.sort();
    out.pins.dedup();
    out
}

fn parse_toml(file: &str, text: &str) -> Result<DocumentMut, FileError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        err(file, line, e.message().to_string())
    })
}

/// The direct dependencies `pyproject.toml` names, PEP 503 normalised:
/// `[project] dependencies` and `[project.optional-dependencies]`,
/// `[dependency-groups]`, and Poetry's `[tool.poetry.dependencies]` and
/// `[tool.poetry.group.*.dependencies]` (without `python`).
pub fn pyproject_direct(text: &str) -> Result<Vec<String>, FileError> {
    let doc = parse_toml("pyproject.toml", text)?;
    let mut names = Vec::new();
    let mut from_array = |item: Option<&Item>| {
        if let Some(arr) = item.and_then(Item::as_array) {
            for v in arr.iter().filter_map(|v| v.as_str()) {
                let n = requirement_name(v.trim());
                if !n.is_empty() {
                    names.push(pep503(n));
                }
            }
        }
    };
    from_array(doc.get("project").and_then(|p| p.get("dependencies")));
    for table in ["project", "dependency-groups"] {
        let groups = match table {
            "project" => doc
                .get("project")
                .and_then(|p| p.get("optional-dependencies")),
            _ => doc.get(table),
        };
        if let Some(t) = groups.and_then(Item::as_table_like) {
            for (_, group) in t.iter() {
                from_array(Some(group));
            }
        }
    }
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    let mut tables: Vec<&Item> = poetry
        .and_then(|p| p.get("dependencies"))
        .into_iter()
        .collect();
    if let Some(groups) = poetry
        .and_then(|p| p.get("group"))
        .and_then(Item::as_table_like)
    {
        tables.extend(groups.iter().filter_map(|(_, g)| g.get("dependencies")));
    }
    for t in tables.into_iter().filter_map(Item::as_table_like) {
        names.extend(t.iter().map(|(k, _)| pep503(k)).filter(|n| n != "python"));
    }
    if names.is_empty() && doc.get("project").is_none() && poetry.is_none() {
        return Err(err(
            "pyproject.toml",
            None,
            "it has neither `[project]` nor `[tool.poetry]`",
        ));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// `[[package]]` name and version of a `uv.lock` or `poetry.lock` (both write them so).
pub fn python_lock_versions(file: &str, text: &str) -> Result<BTreeMap<String, String>, FileError> {
    let doc = parse_toml(file, text)?;
    let packages = doc
        .get("package")
        .and_then(Item::as_array_of_tables)
        .ok_or_else(|| err(file, None, "it has no `[[package]]` entries"))?;
    let mut out = BTreeMap::new();
    for p in packages.iter() {
        if let (Some(n), Some(v)) = (
            p.get("name").and_then(Item::as_str),
            p.get("version").and_then(Item::as_str),
        ) {
            out.insert(pep503(n), v.to_string());
        }
    }
    Ok(out)
}

/// The direct dependencies of a pyproject at the versions its lock resolved.
pub fn pyproject_with_lock(
    pyproject: &str,
    lock_file: &str,
    lock: &str,
) -> Result<FilePins, FileError> {
    let direct = pyproject_direct(pyproject)?;
    let versions = python_lock_versions(lock_file, lock)?;
    let mut out = FilePins::default();
    for name in direct {
        match versions.get(&name) {
            Some(v) => out.pins.push(Pin::new(&name, &format!("=={v}"))),
            None => out.left_out.push(LeftOut {
                name,
                reason: format!("`{lock_file}` does not resolve it (run the lock again)"),
            }),
        }
    }
    Ok(out)
}

fn json(file: &str, text: &str) -> Result<serde_json::Value, FileError> {
    serde_json::from_str(text).map_err(|e| err(file, Some(e.line()), e.to_string()))
}

/// The direct dependencies of `package.json` at the versions `package-lock.json`
/// installed (`packages["node_modules/NAME"]`, or v1's `dependencies[NAME]`).
pub fn package_json_with_lock(package_json: &str, lock: &str) -> Result<FilePins, FileError> {
    let pj = json("package.json", package_json)?;
    let lk = json("package-lock.json", lock)?;
    let mut direct = Vec::new();
    for field in ["dependencies", "optionalDependencies", "devDependencies"] {
        match pj.get(field) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(m)) => direct.extend(m.keys().cloned()),
            Some(_) => {
                return Err(err(
                    "package.json",
                    None,
                    format!("`{field}` is not an object"),
                ))
            }
        }
    }
    direct.sort();
    direct.dedup();
    let mut out = FilePins::default();
    for name in direct {
        let v2 = lk
            .get("packages")
            .and_then(|p| p.get(format!("node_modules/{name}")))
            .and_then(|p| p.get("version"));
        let v1 = lk
            .get("dependencies")
            .and_then(|d| d.get(&name))
            .and_then(|p| p.get("version"));
        match v2.or(v1).and_then(|v| v.as_str()) {
            Some(v) => out.pins.push(Pin::new(&name, v)),
            None => out.left_out.push(LeftOut {
                name,
                reason: "`package-lock.json` does not install it (run `npm install` again)".into(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(p: &FilePins) -> Vec<String> {
        p.pins
            .iter()
            .map(|p| format!("{}{}", p.name, p.constraint))
            .collect()
    }

    #[test]
    fn requirements_lines() {
        let got = requirements_txt(
            "# app\nDjango==4.2.16  # web\nrequests[socks] == 2.32.3 ; python_version >= \"3.8\"\n\
             urllib3>=2\n-r other.txt\ncertifi==2024.8.30 \\\n    --hash=sha256:abc\nzope.interface===6.0\n",
        );
        assert_eq!(
            pins(&got),
            [
                "certifi==2024.8.30",
                "django==4.2.16",
                "requests==2.32.3",
                "zope-interface==6.0"
            ]
        );
        let left: Vec<&str> = got.left_out.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(left, ["urllib3", "-r other.txt"]);
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        let e = pyproject_direct("[project\nname = 1\n").unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.line),
            ("pyproject.toml", Some(1)),
            "{e}"
        );
        let e = package_json_with_lock("{}", "{\n  \"packages\": [\n").unwrap_err();
        assert_eq!(e.file, "package-lock.json");
        assert!(e.to_string().starts_with("package-lock.json:"), "{e}");
        let e = python_lock_versions("uv.lock", "version = 1\n").unwrap_err();
        assert!(e.to_string().contains("[[package]]"), "{e}");
    }
}
