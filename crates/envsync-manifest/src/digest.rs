//! The manifest's identity as the lock records it: a hash of what determines the
//! environment, not of the file's bytes.
//!
//! Comments, formatting, quoting style, key order, `[policy]`, `[targets]` and the
//! project's description never change it; anything that changes what is installed or
//! how it runs does. Each section is hashed on its own (each service separately), so a
//! stale lock can say which sections changed.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use toml_edit::{Item, Table, TableLike, Value};

/// Top-level sections that never determine the environment: `[policy]` judges drift,
/// `[targets]` names where to look for it, `[dev]` says how the development container
/// runs, not what is installed in it.
const NOT_ENVIRONMENT: &[&str] = &["policy", "targets", "dev"];

/// How many hex digits of each section's hash the lock keeps: enough to tell a change,
/// short enough to keep the lock's header on one readable line.
pub const SECTION_HASH_LEN: usize = 16;

/// The semantic hash of a parsed manifest document: the combined sha256 (lowercase hex)
/// and one short hash per section (`apt`, `python`, `services.redis`, …).
pub(crate) fn digest(doc: &Table) -> (String, BTreeMap<String, String>) {
    let mut sections = BTreeMap::new();
    for (key, item) in doc.iter() {
        if NOT_ENVIRONMENT.contains(&key) {
            continue;
        }
        match (key, item.as_table_like()) {
            ("services", Some(services)) => {
                for (name, service) in services.iter() {
                    // The start order and profiles decide when a service runs, not what.
                    sections.insert(
                        format!("services.{name}"),
                        hash_item(service, &["depends_on", "profiles"]),
                    );
                }
            }
            ("project", _) => {
                sections.insert(key.to_owned(), hash_item(item, &["description"]));
            }
            _ => {
                sections.insert(key.to_owned(), hash_item(item, &[]));
            }
        }
    }
    let mut all = Sha256::new();
    for (name, hash) in &sections {
        all.update(name.as_bytes());
        all.update(b"=");
        all.update(hash.as_bytes());
        all.update(b"\n");
    }
    (hex::encode(all.finalize()), sections)
}

/// The sections whose hashes differ between `locked` and `now`, added or removed ones
/// included, as the manifest spells them (`[apt]`, `[services.redis]`).
pub fn changed_sections(
    locked: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut names: Vec<&String> = locked.keys().chain(now.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| locked.get(*name) != now.get(*name))
        .map(|name| format!("[{name}]"))
        .collect()
}

/// Every value of the sections that determine the environment, one per leaf:
/// `[section] key.path` → the value written canonically (`[apt] curl` → `"7.88.*"`,
/// `[services.redis] version` → `"7.0"`). What an image was built from in the manifest's
/// own terms, so a rebuild can name the lines that changed ([`changed_entries`]).
pub(crate) fn entries(doc: &Table) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, item) in doc.iter() {
        if NOT_ENVIRONMENT.contains(&key) {
            continue;
        }
        match (key, item.as_table_like()) {
            ("services", Some(services)) => {
                for (name, service) in services.iter() {
                    leaves(&format!("services.{name}"), "", service, &mut out);
                }
            }
            _ => leaves(key, "", item, &mut out),
        }
    }
    out.remove("[project] description");
    out
}

fn leaves(section: &str, path: &str, item: &Item, out: &mut BTreeMap<String, String>) {
    let join = |key: &str| {
        let key = if key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            key.to_string()
        } else {
            format!("{key:?}")
        };
        if path.is_empty() {
            key
        } else {
            format!("{path}.{key}")
        }
    };
    if let Some(table) = item.as_table_like() {
        for (key, child) in table.iter() {
            leaves(section, &join(key), child, out);
        }
    } else if let Some(value) = item.as_value() {
        out.insert(format!("[{section}] {path}"), render(value));
    }
}

/// A value as TOML writes it, without comments or layout.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.value()),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Boolean(b) => b.value().to_string(),
        Value::Datetime(d) => d.value().to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
        Value::InlineTable(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{k} = {}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The entries that differ between `old` and `new` (see `Manifest::entries`), one line each:
/// `[apt] curl "7.88.*" → "8.*"`, `[apt] jq = "1.6*" added`, `[apt] jq removed`. An entry
/// whose key ends in ` content` holds a hash and reads `[files] /etc/x content changed`.
pub fn changed_entries(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| match (old.get(key), new.get(key)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(_), Some(_)) if key.ends_with(" content") => Some(format!("{key} changed")),
            (Some(a), Some(b)) => Some(format!("{key} {a} → {b}")),
            (None, Some(_)) if key.ends_with(" content") => None,
            (None, Some(b)) => Some(format!("{key} = {b} added")),
            (Some(_), None) if key.ends_with(" content") => None,
            (Some(_), None) => Some(format!("{key} removed")),
            (None, None) => None,
        })
        .collect()
}

fn hash_item(item: &Item, skip: &[&str]) -> String {
    let mut out = Vec::new();
    encode_item(item, skip, &mut out);
    let mut hex = hex::encode(Sha256::digest(&out));
    hex.truncate(SECTION_HASH_LEN);
    hex
}

/// A canonical, length-prefixed encoding: tables with sorted keys, every value by its
/// meaning (`0x10` and `16` are the same integer, `'a'` and `"a"` the same string).
fn encode_item(item: &Item, skip: &[&str], out: &mut Vec<u8>) {
    match item {
        Item::None => out.push(b'n'),
        Item::Value(v) => encode_value(v, out),
        Item::Table(t) => encode_table(t, skip, out),
        Item::ArrayOfTables(tables) => {
            out.extend_from_slice(format!("a{}:", tables.len()).as_bytes());
            for t in tables.iter() {
                encode_table(t, &[], out);
            }
        }
    }
}

fn encode_table(t: &dyn TableLike, skip: &[&str], out: &mut Vec<u8>) {
    let mut entries: Vec<(&str, &Item)> = t.iter().filter(|(k, _)| !skip.contains(k)).collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.extend_from_slice(format!("t{}:", entries.len()).as_bytes());
    for (key, item) in entries {
        encode_str(key, out);
        encode_item(item, &[], out);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => encode_str(s.value(), out),
        Value::Integer(i) => out.extend_from_slice(format!("i{};", i.value()).as_bytes()),
        // The bit pattern, so that every float (NaN and -0.0 included) has one encoding.
        Value::Float(f) => out.extend_from_slice(format!("f{};", f.value().to_bits()).as_bytes()),
        Value::Boolean(b) => out.extend_from_slice(if *b.value() { b"T" } else { b"F" }),
        Value::Datetime(d) => {
            out.push(b'd');
            encode_str(&d.value().to_string(), out);
        }
        Value::Array(a) => {
            out.extend_from_slice(format!("a{}:", a.len()).as_bytes());
            for v in a.iter() {
                encode_value(v, out);
            }
        }
        Value::InlineTable(t) => encode_table(t, &[], out),
    }
}

fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("s{}:", s.len()).as_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml_edit::ImDocument;

    fn digest_of(text: &str) -> (String, BTreeMap<String, String>) {
        let doc = ImDocument::parse(text).expect("test manifests are valid TOML");
        digest(doc.as_table())
    }

    /// `a` and `b` determine the same environment: same hash.
    fn same(a: &str, b: &str) {
        assert_eq!(digest_of(a), digest_of(b), "\n{a}\n---\n{b}");
    }

    /// `a` and `b` differ in what is installed: different hash, and exactly `changed`
    /// named as the changed sections.
    fn differ(a: &str, b: &str, changed: &[&str]) {
        let (sha_a, sections_a) = digest_of(a);
        let (sha_b, sections_b) = digest_of(b);
        assert_ne!(sha_a, sha_b, "\n{a}\n---\n{b}");
        assert_eq!(changed_sections(&sections_a, &sections_b), changed);
    }

    const BASE: &str = r#"
[project]
name = "api"
description = "the API"

[base]
image = "debian:bookworm"

[apt]
curl = "7.88.*"
openssl = ">=3"

[services.db]
image = "postgres:15"
ports = ["5432:5432"]

[policy]
ignore = []
"#;

    #[test]
    fn changed_entries_name_the_lines() {
        let entries_of = |text: &str| entries(ImDocument::parse(text).unwrap().as_table());
        let old = entries_of(BASE);
        let new = entries_of(
            &BASE
                .replace("curl = \"7.88.*\"", "curl = \"8.*\"\njq = \"1.6*\"")
                .replace("openssl = \">=3\"\n", ""),
        );
        assert_eq!(
            changed_entries(&old, &new),
            [
                "[apt] curl \"7.88.*\" → \"8.*\"",
                "[apt] jq = \"1.6*\" added",
                "[apt] openssl removed",
            ]
        );
        assert_eq!(old["[services.db] ports"], "[\"5432:5432\"]");
        assert!(!old.contains_key("[project] description"));
        assert!(!old.keys().any(|k| k.starts_with("[policy]")));
        let with_content = |hash: &str| {
            BTreeMap::from([("[files] \"/etc/x\" content".to_string(), hash.to_string())])
        };
        assert_eq!(
            changed_entries(&with_content("sha256:1"), &with_content("sha256:2")),
            ["[files] \"/etc/x\" content changed"]
        );
    }

    #[test]
    fn comments_formatting_order_and_quoting_do_not_count() {
        same(
            BASE,
            r#"
# The API's environment.
[base]
image = 'debian:bookworm'   # the base

[project]
description = "the API"
name = "api"

[services.db]
ports = [ "5432:5432", ]
image = "postgres:15"

[apt]
openssl = ">=3"
curl    = "7.88.*"
"#,
        );
        same("[apt]\ncurl = \"1\"\n", "apt = { curl = \"1\" }\n");
        same("[x]\nport = 16\n", "[x]\nport = 0x10\n");
    }

    #[test]
    fn policy_targets_and_description_do_not_count() {
        let changed = BASE
            .replace(
                "description = \"the API\"",
                "description = \"another text\"",
            )
            .replace("ignore = []", "ignore = [{ component = \"deb:curl\" }]")
            + "\n[targets]\nprod = \"ssh://deploy@prod-1\"\n";
        same(BASE, &changed);
    }

    #[test]
    fn what_is_installed_counts_and_is_named() {
        differ(BASE, &BASE.replace("7.88.*", "8.*"), &["[apt]"]);
        differ(
            BASE,
            &BASE.replace("postgres:15", "postgres:16"),
            &["[services.db]"],
        );
        differ(
            BASE,
            &BASE.replace("name = \"api\"", "name = \"web\""),
            &["[project]"],
        );
        differ(
            BASE,
            &format!("{BASE}\n[services.cache]\nimage = \"redis:7\"\n"),
            &["[services.cache]"],
        );
        differ(BASE, &format!("{BASE}\n[env]\nTZ = \"UTC\"\n"), &["[env]"]);
        differ("[x]\nv = \"1\"\n", "[x]\nv = 1\n", &["[x]"]);
        differ("[x]\nv = [1, 2]\n", "[x]\nv = [2, 1]\n", &["[x]"]);
    }
}
