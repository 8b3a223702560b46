//! Ansible's INI inventory: `[group]` host lines with inline `key=value` variables,
//! `[group:vars]` and `[group:children]`, hosts before any header in `ungrouped`.
//! Inline values are read as Ansible reads them (shell-like quoting, Python literals
//! kept as their text); `:vars` values are kept verbatim, as Ansible keeps them.

use std::collections::BTreeMap;

use super::{expand_range, Inventory, InventoryError};

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

/// Split a line as Python's `shlex.split(line, comments=True)` does for the simple
/// quoting inventories use; `None` when a quote is not closed.
fn split(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => cur.extend(chars.next()),
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, '\\') => cur.extend(chars.next()),
            (None, '#') if cur.is_empty() && !any => break,
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Some(out)
}

/// Python's `ast.literal_eval` for what inventories hold, as JSON would show the value:
/// numbers and `True`/`False`/`None` as their text, quoted strings unquoted.
fn literal(v: &str) -> String {
    match v {
        "True" => "true".to_string(),
        "False" => "false".to_string(),
        "None" => String::new(),
        _ => v.to_string(),
    }
}

fn error(file: &str, line: usize, message: String) -> InventoryError {
    InventoryError {
        file: file.to_string(),
        line: Some(line),
        message,
    }
}

/// `[group]`, `[group:vars]` or `[group:children]` (`header` is what follows `[`).
fn section(file: &str, n: usize, line: &str, header: &str) -> Result<Section, InventoryError> {
    let header = header
        .split_once(']')
        .filter(|(_, rest)| rest.trim().is_empty() || rest.trim().starts_with('#'))
        .map(|(h, _)| h)
        .ok_or_else(|| error(file, n, format!("`{line}` is not a section header; write `[group]`, `[group:vars]` or `[group:children]`")))?;
    let (name, kind) = header.split_once(':').unwrap_or((header, "hosts"));
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(error(file, n, format!("`{name}` is not a group name")));
    }
    Ok(match kind {
        "hosts" => Section::Hosts(name.to_string()),
        "vars" => Section::Vars(name.to_string()),
        "children" => Section::Children(name.to_string()),
        other => {
            return Err(error(
                file,
                n,
                format!(
                    "`[{header}]`: `{other}` is not a section kind; use `:vars` or `:children`"
                ),
            ))
        }
    })
}

/// A host line: a host (or a range of them, or `host:port`) and its inline variables.
fn host_line(
    inv: &mut Inventory,
    file: &str,
    n: usize,
    group: &str,
    line: &str,
) -> Result<(), InventoryError> {
    let tokens = split(line)
        .ok_or_else(|| error(file, n, format!("`{line}` has a quote that is not closed")))?;
    let Some((pattern, rest)) = tokens.split_first() else {
        return Ok(());
    };
    let mut vars = BTreeMap::new();
    for t in rest {
        let (k, v) = t.split_once('=').ok_or_else(|| {
            error(
                file,
                n,
                format!("`{t}` after host `{pattern}` is not `key=value`"),
            )
        })?;
        vars.insert(k.to_string(), literal(v));
    }
    // `host:2222` names the port, as in Ansible.
    let (pattern, port) = match pattern.rsplit_once(':') {
        Some((h, p))
            if !h.contains(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (h, Some(p))
        }
        _ => (pattern.as_str(), None),
    };
    if let Some(p) = port {
        vars.entry("ansible_port".to_string())
            .or_insert_with(|| p.to_string());
    }
    for host in expand_range(pattern).map_err(|e| error(file, n, e))? {
        inv.host_lines.entry(host.clone()).or_insert(n);
        inv.add_host(group, &host, vars.clone());
    }
    Ok(())
}

pub(super) fn parse(file: &str, text: &str) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::default();
    let mut current = Section::Hosts("ungrouped".to_string());
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            current = section(file, n, line, header)?;
            let (Section::Hosts(name) | Section::Vars(name) | Section::Children(name)) = &current;
            inv.group_mut(name);
            continue;
        }
        match &current {
            Section::Vars(group) => {
                let (k, v) = line.split_once('=').ok_or_else(|| {
                    error(
                        file,
                        n,
                        format!("`{line}` in `[{group}:vars]` is not `key=value`"),
                    )
                })?;
                inv.group_mut(group)
                    .vars
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
            Section::Children(group) => {
                let child = split(line)
                    .and_then(|t| t.into_iter().next())
                    .ok_or_else(|| error(file, n, format!("`{line}` is not a group name")))?;
                inv.add_child(group, &child);
            }
            Section::Hosts(group) => host_line(&mut inv, file, n, group, line)?,
        }
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split(r#"h a="x y" b='z' c=\# # comment"#),
            Some(vec!["h".into(), "a=x y".into(), "b=z".into(), "c=#".into()])
        );
        assert_eq!(split("h a='x"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("inv", "[web]\nw1\n[web:kids]\n").expect_err("bad section");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("`kids` is not a section kind"), "{e}");
        let e = parse("inv", "[web:vars]\nnovalue\n").expect_err("bad var");
        assert_eq!(
            e.to_string(),
            "inv:2: `novalue` in `[web:vars]` is not `key=value`"
        );
    }
}
