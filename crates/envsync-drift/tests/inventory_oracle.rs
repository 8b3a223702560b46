//! Ansible inventories as envsync reads them, against Ansible itself: for several
//! inventories (INI and YAML, nested children, ranges, group and host variables, ports in
//! host names), `ansible-inventory -i FILE --list` (PyPI's ansible-core, in the oracle
//! virtualenv) gives the groups, their hosts and each host's merged variables, and
//! `ansible -i FILE PATTERN --list-hosts` the hosts each `--limit` pattern selects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use envsync_drift::inventory::{select, Inventory};
use envsync_testsupport::oracles::run_oracle;
use serde_json::Value;

const INI: &str = r#"# hosts before any group are ungrouped
bastion ansible_host=203.0.113.9 ansible_user=jump
mail.example.com:2200

[web]
web[01:04].example.com
web-canary ansible_host=10.0.0.99 ansible_port=2222 note="two words"

[db]
db-[a:c] ansible_user=postgres
db-primary ansible_host=10.0.1.1

[eu:children]
web
db

[prod:children]
eu

[prod:vars]
ansible_user=deploy
ansible_port=22
tier=production

[db:vars]
ansible_port=5022
"#;

const YAML: &str = r#"
all:
  vars:
    ansible_user: root
    region: none
  hosts:
    lonely:
      ansible_host: 192.0.2.1
  children:
    frontend:
      vars:
        region: eu-west
      hosts:
        fe[1:3]:
        fe-special:
          ansible_port: 2201
          ansible_user: ops
      children:
        canary:
          hosts:
            fe2:
              ansible_host: 10.9.9.2
          vars:
            region: canary
    backend:
      children:
        cache:
          hosts:
            redis-[a:b]:
              ansible_port: 6022
        store:
          hosts:
            pg01:
            pg02:
          vars:
            ansible_user: postgres
      vars:
        ansible_user: backend
        region: us-east
"#;

/// Groups whose precedence Ansible decides by depth and name at equal depth.
const PRECEDENCE: &str = r#"
[a]
shared

[b]
shared

[a:vars]
ansible_user=from-a
color=red

[b:vars]
ansible_user=from-b

[deep:children]
b

[deep:vars]
color=blue
"#;

/// A value of `--list` JSON as envsync keeps it: text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write the inventory");
    path.display().to_string()
}

/// Groups, their direct hosts and children, and every host's variables agree with
/// `ansible-inventory --list`; every host's target is made from those variables.
fn agrees_with_list(path: &str, text_of: &str) -> Inventory {
    let inv = Inventory::parse(Path::new(path), text_of).expect("envsync parses it");
    let list: Value = serde_json::from_str(&run_oracle(
        "ansible-inventory",
        &["-i", path, "--list"],
        None,
    ))
    .expect("--list is JSON");
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default()
    };
    let oracle_groups: Vec<&String> = list
        .as_object()
        .expect("an object")
        .keys()
        .filter(|k| *k != "_meta")
        .collect();
    for g in &oracle_groups {
        let ours = inv
            .groups
            .get(*g)
            .unwrap_or_else(|| panic!("{path}: no group `{g}`"));
        assert_eq!(
            ours.hosts.iter().cloned().collect::<BTreeSet<_>>(),
            names(&list[g.as_str()]["hosts"]),
            "{path}: hosts of `{g}`"
        );
        assert_eq!(
            ours.children.iter().cloned().collect::<BTreeSet<_>>(),
            names(&list[g.as_str()]["children"]),
            "{path}: children of `{g}`"
        );
    }
    // Every group envsync has with a host or a child, Ansible lists too.
    for (g, group) in &inv.groups {
        if !group.hosts.is_empty() || !group.children.is_empty() {
            assert!(oracle_groups.contains(&g), "{path}: `{g}` is not Ansible's");
        }
    }
    let hostvars = list["_meta"]["hostvars"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let targets: BTreeMap<String, String> = inv
        .targets(path, None)
        .expect("every host is a target")
        .into_iter()
        .map(|h| (h.name, h.target))
        .collect();
    let mut all_hosts = BTreeSet::new();
    for g in &oracle_groups {
        all_hosts.extend(names(&list[g.as_str()]["hosts"]));
    }
    assert_eq!(
        targets.keys().cloned().collect::<BTreeSet<_>>(),
        all_hosts,
        "{path}: hosts"
    );
    for host in &all_hosts {
        let oracle: BTreeMap<String, String> = hostvars
            .get(host)
            .and_then(Value::as_object)
            .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        assert_eq!(inv.host_vars(host), oracle, "{path}: variables of `{host}`");
        let mut expected = "ssh://".to_string();
        if let Some(user) = oracle.get("ansible_user") {
            expected.push_str(&format!("{user}@"));
        }
        expected.push_str(oracle.get("ansible_host").unwrap_or(host));
        if let Some(port) = oracle.get("ansible_port") {
            expected.push_str(&format!(":{port}"));
        }
        assert_eq!(targets[host], expected, "{path}: target of `{host}`");
    }
    inv
}

/// `ansible -i FILE PATTERN --list-hosts`, as a set.
fn ansible_hosts(path: &str, pattern: &str) -> BTreeSet<String> {
    let out = run_oracle("ansible", &["-i", path, pattern, "--list-hosts"], None);
    out.lines()
        .skip_while(|l| !l.trim_start().starts_with("hosts ("))
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn patterns_agree(path: &str, inv: &Inventory, patterns: &[&str]) {
    for pattern in patterns {
        let ours = select(inv, pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert_eq!(ours, ansible_hosts(path, pattern), "{path}: `{pattern}`");
        assert!(
            !ours.is_empty() || pattern.contains('!'),
            "{pattern} selects nothing"
        );
    }
}

#[test]
fn ini_inventory_agrees_with_ansible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "hosts.ini", INI);
    let inv = agrees_with_list(&path, INI);
    assert_eq!(inv.hosts.len(), 11, "{:?}", inv.hosts);
    patterns_agree(
        &path,
        &inv,
        &[
            "all",
            "web",
            "prod",
            "eu:&db",
            "prod:!db",
            "web:db-b",
            "web,db-b",
            "web0*",
            "db-?",
            "prod:&web:!web-canary",
            "ungrouped",
            "!web",
        ],
    );
}

#[test]
fn yaml_inventory_agrees_with_ansible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "hosts.yml", YAML);
    let inv = agrees_with_list(&path, YAML);
    assert_eq!(inv.hosts.len(), 9, "{:?}", inv.hosts);
    patterns_agree(
        &path,
        &inv,
        &[
            "frontend",
            "backend:!cache",
            "frontend:&canary",
            "redis-*",
            "all:!store",
            "fe*",
        ],
    );
}

#[test]
fn group_precedence_agrees_with_ansible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "precedence.ini", PRECEDENCE);
    let inv = agrees_with_list(&path, PRECEDENCE);
    // `b` is deeper than `a` (under `deep`), so its user wins, as Ansible says.
    assert_eq!(inv.host_vars("shared")["ansible_user"], "from-b");
}
