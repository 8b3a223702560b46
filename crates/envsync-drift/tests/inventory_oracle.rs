//! Ansible inventories as envsync reads them, against Ansible itself: for several
//! inventories (INI and YAML, nested children, ranges, group and host variables, ports in
//! host names), `ansible-inventory -i FILE --list` (PyPI's ansible-core, in the oracle
//! virtualenv) gives the groups, their hosts and each host's merged variables, and
//! `ansible -i FILE PATTERN --list-hosts` the hosts each `--limit` pattern selects; with
//! `group_vars/` and `host_vars/` beside the file in every form Ansible reads, each
//! host's merged variables and target too. A malformed variables file is refused by both,
//! and a vaulted one is skipped by envsync with a warning (Ansible, given the password,
//! agrees on every other variable).

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
    let mut inv = Inventory::parse(Path::new(path), text_of).expect("envsync parses it");
    let warnings = inv
        .read_vars_dirs(Path::new(path))
        .expect("envsync reads group_vars/ and host_vars/");
    assert_eq!(warnings, Vec::<String>::new(), "{path}");
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

/// Write `files` (paths relative to `dir`, parents created).
fn tree(dir: &Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, body).expect("write");
    }
}

/// An INI and a YAML inventory sharing one `group_vars/` and `host_vars/`.
const VARS_INI: &str = r#"bastion ansible_host=203.0.113.9

[web]
web-[1:3]
web-canary ansible_user=canary-inline

[db]
db-1
db-2 ansible_port=5433

[pinned]
web-1

[pinned:vars]
ansible_group_priority=10

[eu:children]
web
db
pinned

[prod:children]
eu

[web:vars]
ansible_user=from-ini-web
ansible_port=2000
"#;

const VARS_YAML: &str = r#"all:
  hosts:
    lonely:
  children:
    app:
      hosts:
        app-[a:c]:
        app-x:
          ansible_port: 3000
      children:
        app_canary:
          hosts:
            app-b:
      vars:
        ansible_user: yaml-app
    db:
      hosts:
        db-9:
"#;

/// `group_vars/` and `host_vars/` in every form Ansible reads: a file with `.yml`,
/// `.yaml`, `.json` or no extension; a directory of files (sorted, recursing into
/// subdirectories without an extension, skipping hidden files, `~` backups and other
/// extensions) that wins over a file of the same group; `all`, `ungrouped`, nested
/// groups and `ansible_group_priority`; a file for a group no inventory has (malformed,
/// and never read).
const VARS_FILES: &[(&str, &str)] = &[
    (
        "group_vars/all.yml",
        "ansible_user: deploy\nntp: pool.example.org\n",
    ),
    ("group_vars/ungrouped.yml", "ansible_port: 2022\n"),
    (
        "group_vars/prod.yaml",
        "ansible_user: prod-user\ntier: production\n",
    ),
    ("group_vars/eu.yml", "ansible_port: 2201\n"),
    (
        "group_vars/web/main.yml",
        "---\nansible_port: 2202\nrole: web\n",
    ),
    ("group_vars/web/sub/extra", "ansible_port: 2203\n"),
    ("group_vars/web/zz-user.yml", "ansible_user: web-ops\n"),
    ("group_vars/web/.hidden.yml", "ansible_user: hidden\n"),
    ("group_vars/web/old.yml~", "ansible_user: backup\n"),
    ("group_vars/web/notes.txt", "ansible_user: notes\n"),
    ("group_vars/web/skip.d/x.yml", "ansible_user: skipped\n"),
    ("group_vars/web.yml", "ansible_port: 9999\n"),
    ("group_vars/pinned.yml", "ansible_port: 2300\n"),
    (
        "group_vars/db.json",
        r#"{"ansible_user": "postgres", "ansible_port": 5432}"#,
    ),
    ("group_vars/app.yml", "ansible_port: 2400\n"),
    ("group_vars/app_canary", "ansible_user: canary\n"),
    ("group_vars/retired.yml", "ansible_user: [unclosed\n"),
    ("host_vars/web-2.yml", "ansible_port: 2222\n"),
    ("host_vars/web-3.json", r#"{"ansible_user": "json-user"}"#),
    (
        "host_vars/web-canary",
        "ansible_host: 10.0.0.99\nansible_user: canary-file\n",
    ),
    ("host_vars/db-2/conn.yaml", "ansible_user: dba\n"),
    ("host_vars/app-c.yaml", "ansible_host: 192.0.2.30\n"),
    ("host_vars/lonely.yml", ""),
];

#[test]
fn group_vars_and_host_vars_agree_with_ansible() {
    let dir = tempfile::tempdir().expect("tempdir");
    tree(dir.path(), VARS_FILES);
    let ini = write(dir.path(), "hosts.ini", VARS_INI);
    let yaml = write(dir.path(), "hosts.yml", VARS_YAML);
    let target = |inv: &Inventory, path: &str, host: &str| -> String {
        inv.targets(path, Some(host)).expect("a target")[0]
            .target
            .clone()
    };
    let inv = agrees_with_list(&ini, VARS_INI);
    // What the oracle agreed with is what the files say, not the inventory file alone.
    for (host, expected) in [
        // group_vars/all.yml beats `[web:vars]`; web/sub/extra beats main.yml and eu;
        // pinned (priority 10, as deep as web) beats web.
        ("web-1", "ssh://web-ops@web-1:2300"),
        ("web-2", "ssh://web-ops@web-2:2222"),
        ("web-3", "ssh://json-user@web-3:2203"),
        // host_vars/ beats the inline user.
        ("web-canary", "ssh://canary-file@10.0.0.99:2203"),
        ("db-1", "ssh://postgres@db-1:5432"),
        // The inline port beats every group_vars/ file; host_vars/ the group's user.
        ("db-2", "ssh://dba@db-2:5433"),
        ("bastion", "ssh://deploy@203.0.113.9:2022"),
    ] {
        assert_eq!(target(&inv, &ini, host), expected, "{host}");
    }
    let inv = agrees_with_list(&yaml, VARS_YAML);
    for (host, expected) in [
        ("app-a", "ssh://deploy@app-a:2400"),
        ("app-b", "ssh://canary@app-b:2400"),
        ("app-c", "ssh://deploy@192.0.2.30:2400"),
        ("app-x", "ssh://deploy@app-x:3000"),
        ("db-9", "ssh://postgres@db-9:5432"),
        ("lonely", "ssh://deploy@lonely:2022"),
    ] {
        assert_eq!(target(&inv, &yaml, host), expected, "{host}");
    }
}

/// `ansible-inventory ARGS`, which must fail (set up as `run_oracle` sets it up).
fn ansible_inventory_fails(args: &[&str]) {
    let home = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(envsync_testsupport::oracles::oracle_tool(
        "ansible-inventory",
    ))
    .args(args)
    .env("ANSIBLE_CONFIG", home.path().join("none.cfg"))
    .env("ANSIBLE_HOME", home.path())
    .env("ANSIBLE_LOCAL_TEMP", home.path())
    .env("ANSIBLE_NOCOLOR", "1")
    .output()
    .expect("run ansible-inventory");
    assert!(
        !out.status.success(),
        "ansible-inventory {args:?} accepted it:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_malformed_vars_file_is_an_error_naming_it_as_in_ansible() {
    for (name, body, message) in [
        (
            "group_vars/web.yml",
            "ansible_user: deploy\nports: [1, 2\n",
            "not valid YAML",
        ),
        (
            "group_vars/all/main.yml",
            "- a list\n- not a map\n",
            "must be a map of variables",
        ),
        (
            "host_vars/web-1",
            "ansible_port: 22\n---\nansible_port: 23\n",
            "2 YAML documents",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        tree(dir.path(), &[(name, body)]);
        let path = write(dir.path(), "hosts.ini", "[web]\nweb-1\n");
        let mut inv = Inventory::parse(Path::new(&path), "[web]\nweb-1\n").expect("parses");
        let err = inv
            .read_vars_dirs(Path::new(&path))
            .expect_err("a malformed file");
        let file = dir.path().join(name).display().to_string();
        assert_eq!(err.file, file);
        assert!(err.message.contains(message), "{err}");
        assert!(err.to_string().starts_with(&file), "{err}");
        // Ansible refuses it too.
        ansible_inventory_fails(&["-i", &path, "--list"]);
    }
    // A YAML error gives its line.
    let dir = tempfile::tempdir().expect("tempdir");
    tree(
        dir.path(),
        &[(
            "group_vars/web.yml",
            "ansible_user: deploy\n\nports: [1, 2\n",
        )],
    );
    let path = write(dir.path(), "hosts.ini", "[web]\nweb-1\n");
    let mut inv = Inventory::parse(Path::new(&path), "[web]\nweb-1\n").expect("parses");
    let err = inv.read_vars_dirs(Path::new(&path)).expect_err("bad YAML");
    assert_eq!(err.line, Some(4), "{err}");
}

#[test]
fn a_vaulted_vars_file_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    tree(
        dir.path(),
        &[
            ("group_vars/all/main.yml", "ansible_user: deploy\n"),
            ("group_vars/all/vault.yml", "db_password: s3cret\n"),
            ("host_vars/web-2.yml", "ansible_port: 2222\n"),
            ("vault-password", "correct horse battery staple\n"),
        ],
    );
    let vault = dir.path().join("group_vars/all/vault.yml");
    let password = dir.path().join("vault-password").display().to_string();
    run_oracle(
        "ansible-vault",
        &[
            "encrypt",
            "--vault-password-file",
            &password,
            &vault.display().to_string(),
        ],
        None,
    );
    let encrypted = std::fs::read_to_string(&vault).expect("read the vault");
    assert!(encrypted.starts_with("$ANSIBLE_VAULT;"), "{encrypted}");
    let body = "[web]\nweb-1\nweb-2\n";
    let path = write(dir.path(), "hosts.ini", body);
    let mut inv = Inventory::parse(Path::new(&path), body).expect("parses");
    let warnings = inv
        .read_vars_dirs(Path::new(&path))
        .expect("a vault is no error");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!(
            "`{}` is encrypted with Ansible Vault",
            vault.display()
        )),
        "{warnings:?}"
    );
    // Ansible, given the password, sees the same hosts, users and ports; only the
    // vaulted variable is missing from envsync's.
    let list: Value = serde_json::from_str(&run_oracle(
        "ansible-inventory",
        &["-i", &path, "--list", "--vault-password-file", &password],
        None,
    ))
    .expect("--list is JSON");
    for host in ["web-1", "web-2"] {
        let mut oracle: BTreeMap<String, String> = list["_meta"]["hostvars"][host]
            .as_object()
            .expect("the host's variables")
            .iter()
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        assert_eq!(oracle.remove("db_password").as_deref(), Some("s3cret"));
        assert_eq!(inv.host_vars(host), oracle, "{host}");
    }
    let targets: Vec<String> = inv
        .targets(&path, None)
        .expect("targets")
        .into_iter()
        .map(|h| h.target)
        .collect();
    assert_eq!(targets, ["ssh://deploy@web-1", "ssh://deploy@web-2:2222"]);
}
