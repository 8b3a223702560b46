//! Ansible host patterns, as `--limit` takes them: terms joined by `:` or `,`; a term
//! is `all`, `*`, a group, a host or a glob (`web*`, `db-?`); `&term` intersects,
//! `!term` excludes. As in Ansible, the plain terms are united first, then each `&`
//! intersects and each `!` removes, whatever their order. Regular expressions (`~…`)
//! and subscripts (`web[0]`) are refused with a clear message.

use std::collections::BTreeSet;

use super::Inventory;

/// A glob with `*` and `?`, matched against the whole name.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// The hosts one term names: a group's (children included) and, when no group matched
/// or the term is a glob, the hosts it matches.
fn term(inv: &Inventory, t: &str) -> Result<BTreeSet<String>, String> {
    if t.starts_with('~') {
        return Err(format!("the regular expression `{t}` in `--limit` is not supported; use a group, a host or a glob like `web*`"));
    }
    if t.contains('[') {
        return Err(format!(
            "the subscript in `{t}` is not supported in `--limit`; name the hosts or a group"
        ));
    }
    if t == "all" || t == "*" {
        return Ok(inv.hosts.iter().cloned().collect());
    }
    let mut out = BTreeSet::new();
    let groups: Vec<&String> = inv.groups.keys().filter(|g| glob(t, g)).collect();
    for g in &groups {
        out.extend(inv.group_hosts(g));
    }
    if groups.is_empty() || t.contains(['*', '?', '.']) {
        out.extend(inv.hosts.iter().filter(|h| glob(t, h)).cloned());
    }
    Ok(out)
}

/// The hosts `pattern` selects.
pub fn select(inv: &Inventory, pattern: &str) -> Result<BTreeSet<String>, String> {
    let terms: Vec<&str> = if pattern.contains(',') {
        pattern.split(',')
    } else {
        pattern.split(':')
    }
    .map(str::trim)
    .filter(|t| !t.is_empty())
    .collect();
    if terms.is_empty() {
        return Err(
            "`--limit` is empty; name a group, a host or a pattern like `web:&prod`".into(),
        );
    }
    let plain: Vec<&str> = terms
        .iter()
        .copied()
        .filter(|t| !t.starts_with(['&', '!']))
        .collect();
    let mut hosts = if plain.is_empty() {
        inv.hosts.iter().cloned().collect()
    } else {
        let mut all = BTreeSet::new();
        for t in plain {
            all.extend(term(inv, t)?);
        }
        all
    };
    for t in &terms {
        if let Some(t) = t.strip_prefix('&') {
            let keep = term(inv, t)?;
            hosts.retain(|h| keep.contains(h));
        }
    }
    for t in &terms {
        if let Some(t) = t.strip_prefix('!') {
            let drop = term(inv, t)?;
            hosts.retain(|h| !drop.contains(h));
        }
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("web*", "web-1"));
        assert!(glob("*", ""));
        assert!(glob("db-?", "db-a"));
        assert!(!glob("db-?", "db-ab"));
        assert!(!glob("web", "web-1"));
    }
}
