//! Ansible's YAML inventory: top-level groups, each with `hosts` (a map of host name,
//! possibly a range, to its variables), `vars` and `children` (a map of group name to
//! the same shape).

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

use super::{expand_range, Inventory, InventoryError};

/// A scalar as JSON would show it (the oracle's `--list` is JSON); maps and lists as
/// their compact YAML-ish text, never used as a connection setting.
fn scalar(v: &Yaml) -> String {
    match v {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => format!("{other:?}"),
    }
}

fn key_text(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Reader<'a> {
    file: &'a str,
    inv: Inventory,
}

impl Reader<'_> {
    fn err(&self, message: String) -> InventoryError {
        InventoryError {
            file: self.file.to_string(),
            line: None,
            message,
        }
    }

    fn vars(&self, where_: &str, v: &Yaml) -> Result<BTreeMap<String, String>, InventoryError> {
        match v {
            Yaml::Null => Ok(BTreeMap::new()),
            Yaml::Hash(h) => h
                .iter()
                .map(|(k, v)| {
                    key_text(k)
                        .map(|k| (k, scalar(v)))
                        .ok_or_else(|| self.err(format!("a variable name in {where_} is not text")))
                })
                .collect(),
            _ => Err(self.err(format!("{where_} must be a map of variables"))),
        }
    }

    fn group(&mut self, name: &str, body: &Yaml, depth: usize) -> Result<(), InventoryError> {
        if depth > 64 {
            return Err(self.err(format!("group `{name}` nests more than 64 levels deep")));
        }
        self.inv.group_mut(name);
        let body = match body {
            Yaml::Null => return Ok(()),
            Yaml::Hash(h) => h,
            _ => {
                return Err(self.err(format!(
                    "group `{name}` must be a map with `hosts`, `vars` or `children`"
                )))
            }
        };
        for (k, v) in body {
            match key_text(k).as_deref() {
                Some("hosts") => match v {
                    Yaml::Null => {}
                    Yaml::Hash(hosts) => {
                        for (host, vars) in hosts {
                            let host = key_text(host).ok_or_else(|| {
                                self.err(format!("a host name under `{name}.hosts` is not text"))
                            })?;
                            let vars = self.vars(&format!("host `{host}`"), vars)?;
                            for h in expand_range(&host).map_err(|e| self.err(e))? {
                                self.inv.add_host(name, &h, vars.clone());
                            }
                        }
                    }
                    _ => return Err(self.err(format!("`{name}.hosts` must be a map of host names (a list is not Ansible's format)"))),
                },
                Some("vars") => {
                    let vars = self.vars(&format!("`{name}.vars`"), v)?;
                    self.inv.group_mut(name).vars.extend(vars);
                }
                Some("children") => match v {
                    Yaml::Null => {}
                    Yaml::Hash(children) => {
                        for (child, body) in children {
                            let child = key_text(child).ok_or_else(|| {
                                self.err(format!("a group name under `{name}.children` is not text"))
                            })?;
                            self.inv.add_child(name, &child);
                            self.group(&child, body, depth + 1)?;
                        }
                    }
                    _ => return Err(self.err(format!("`{name}.children` must be a map of group names"))),
                },
                other => {
                    return Err(self.err(format!(
                        "group `{name}` has the key `{}`; a group holds only `hosts`, `vars` and `children`",
                        other.unwrap_or("?")
                    )))
                }
            }
        }
        Ok(())
    }
}

pub(super) fn parse(file: &str, text: &str) -> Result<Inventory, InventoryError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| InventoryError {
        file: file.to_string(),
        line: Some(e.marker().line()),
        message: format!("not valid YAML: {}", e.info()),
    })?;
    let mut reader = Reader {
        file,
        inv: Inventory::default(),
    };
    match docs.first() {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Hash(groups)) => {
            for (name, body) in groups {
                let name = key_text(name)
                    .ok_or_else(|| reader.err("a top-level group name is not text".to_string()))?;
                reader.group(&name, body, 0)?;
            }
        }
        Some(_) => {
            return Err(reader.err(
                "the top level must be a map of groups (`all:` with `hosts`, `vars`, `children`)"
                    .to_string(),
            ))
        }
    }
    Ok(reader.inv)
}

/// One file of `group_vars/` or `host_vars/`: a map of variables, or nothing when the
/// file is empty, as Ansible's loader reads it (JSON is YAML too).
pub(super) fn parse_vars(
    file: &str,
    text: &str,
) -> Result<BTreeMap<String, String>, InventoryError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| InventoryError {
        file: file.to_string(),
        line: Some(e.marker().line()),
        message: format!("not valid YAML: {}", e.info()),
    })?;
    let reader = Reader {
        file,
        inv: Inventory::default(),
    };
    match docs.as_slice() {
        [] => Ok(BTreeMap::new()),
        [doc] => match doc {
            Yaml::Hash(_) | Yaml::Null => reader.vars("the file", doc),
            _ => Err(reader
                .err("a variables file must be a map of variables (`name: value`)".to_string())),
        },
        _ => Err(reader.err(format!(
            "the file holds {} YAML documents; Ansible reads a variables file as one",
            docs.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_groups_and_vars() {
        let inv = parse(
            "hosts.yml",
            "all:\n  vars:\n    ansible_user: root\n  children:\n    web:\n      hosts:\n        web[1:2]:\n          ansible_port: 2201\n      vars:\n        tier: front\n",
        )
        .expect("parses");
        assert_eq!(inv.hosts, ["web1", "web2"]);
        assert_eq!(inv.groups["web"].vars["tier"], "front");
        assert_eq!(inv.host_vars["web2"]["ansible_port"], "2201");
        let e = parse("hosts.yml", "all:\n  hosts: [a, b]\n").expect_err("a list");
        assert!(e.message.contains("must be a map of host names"), "{e}");
        let e = parse("hosts.yml", "all:\n  hosts:\n   a: [\n").expect_err("bad yaml");
        assert!(e.to_string().starts_with("hosts.yml:"), "{e}");
    }
}
