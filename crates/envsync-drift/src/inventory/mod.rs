//! Targets from the inventories operations already keep: Ansible inventories (INI and
//! YAML: groups, `children`, `vars`, host ranges like `web[01:03]`, `--limit` patterns
//! like `web:&prod:!web-3`), and plain target lists (one target per line, `#` comments).
//!
//! Parsing is pure: the caller reads the file and hands over its text. The `group_vars/`
//! and `host_vars/` directories beside the file are read by `Inventory::read_vars_dirs`
//! (`vars_dirs.rs`) and merged in Ansible's precedence. What Ansible would do is the
//! oracle (`ansible-inventory --list`, `ansible PATTERN --list-hosts`, in
//! `crates/envsync-drift/tests/inventory_oracle.rs`). A host becomes a target from its
//! `ansible_connection` (ssh by default: `ssh://[ansible_user@]ansible_host[:ansible_port]`;
//! `local`; `docker`), with the ssh destination checked by
//! `envsync_manifest::destination::parse_ssh_destination` like every other.

mod ini;
mod pattern;
mod vars_dirs;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use pattern::select;
pub use vars_dirs::VarsDirs;

/// An inventory error: the file, the line when there is one, what is wrong and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", crate::report::escape(.file), .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct InventoryError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// One group: its own hosts and child groups, in the order the file gives them, and its
/// variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: BTreeMap<String, String>,
}

/// A parsed inventory: every group (`all` and `ungrouped` included, as Ansible has them)
/// and every host with its own variables, hosts in the order they first appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub groups: BTreeMap<String, Group>,
    pub hosts: Vec<String>,
    pub host_vars: BTreeMap<String, BTreeMap<String, String>>,
    /// The line each host was first declared on (INI), for messages.
    pub host_lines: BTreeMap<String, usize>,
    /// What `group_vars/` and `host_vars/` beside the file hold for these groups and hosts.
    pub vars_dirs: VarsDirs,
}

/// One host of an inventory as a target: its inventory name, the target envsync reads,
/// and its variables as Ansible merges them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryHost {
    pub name: String,
    pub target: String,
    pub vars: BTreeMap<String, String>,
}

impl Inventory {
    /// Parse an inventory: YAML when the file says so (`.yml`/`.yaml`, or a first
    /// significant line that is a YAML key), else INI.
    pub fn parse(file: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let name = file.display().to_string();
        let is_yaml = matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) || text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
            .is_some_and(|l| l == "---" || (l.ends_with(':') && !l.starts_with('[')));
        let mut inv = if is_yaml {
            yaml::parse(&name, text)?
        } else {
            ini::parse(&name, text)?
        };
        inv.finish();
        Ok(inv)
    }

    /// Read the `group_vars/` and `host_vars/` directories beside the inventory file
    /// `path` into `vars_dirs`; the warnings are the files skipped (vaulted ones). A file
    /// that is not valid YAML or not a map of variables is an error naming it.
    pub fn read_vars_dirs(&mut self, path: &Path) -> Result<Vec<String>, InventoryError> {
        let (dirs, warnings) = vars_dirs::read(path, self)?;
        self.vars_dirs = dirs;
        Ok(warnings)
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }

    fn add_host(&mut self, group: &str, host: &str, vars: BTreeMap<String, String>) {
        if !self.host_vars.contains_key(host) {
            self.hosts.push(host.to_string());
        }
        self.host_vars
            .entry(host.to_string())
            .or_default()
            .extend(vars);
        let g = self.group_mut(group);
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
        }
    }

    fn add_child(&mut self, parent: &str, child: &str) {
        self.group_mut(child);
        let g = self.group_mut(parent);
        if !g.children.iter().any(|c| c == child) {
            g.children.push(child.to_string());
        }
    }

    /// As Ansible does after reading: every group without a parent is a child of `all`,
    /// and every host in no group but `all` is in `ungrouped`.
    fn finish(&mut self) {
        self.group_mut("all");
        self.group_mut("ungrouped");
        let with_parent: BTreeSet<String> = self
            .groups
            .values()
            .flat_map(|g| g.children.iter().cloned())
            .collect();
        let orphans: Vec<String> = self
            .groups
            .keys()
            .filter(|g| *g != "all" && !with_parent.contains(*g))
            .cloned()
            .collect();
        for g in orphans {
            self.add_child("all", &g);
        }
        let grouped: BTreeSet<String> = self
            .groups
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "all" | "ungrouped"))
            .flat_map(|(_, g)| g.hosts.iter().cloned())
            .collect();
        let loose: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| !grouped.contains(*h))
            .cloned()
            .collect();
        // Hosts declared under `all` itself belong to `ungrouped`, as in Ansible.
        self.group_mut("all").hosts.clear();
        for h in loose {
            let g = self.group_mut("ungrouped");
            if !g.hosts.contains(&h) {
                g.hosts.push(h);
            }
        }
    }

    /// Every host of `group`, its children's included, in inventory order.
    pub fn group_hosts(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if group == "all" {
            out.extend(self.hosts.iter().cloned());
            return out;
        }
        let mut stack = vec![group.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some(group) = self.groups.get(&g) {
                out.extend(group.hosts.iter().cloned());
                stack.extend(group.children.iter().cloned());
            }
        }
        out
    }

    /// Ansible's depth of a group: the longest path from `all`.
    fn depth(&self, group: &str, seen: &mut Vec<String>) -> usize {
        if group == "all" || seen.iter().any(|g| g == group) {
            return 0;
        }
        seen.push(group.to_string());
        let d = self
            .groups
            .iter()
            .filter(|(_, g)| g.children.iter().any(|c| c == group))
            .map(|(parent, _)| self.depth(parent, seen) + 1)
            .max()
            .unwrap_or(1);
        seen.pop();
        d
    }

    /// A host's variables as Ansible merges them (its `VARIABLE_PRECEDENCE`): the
    /// inventory file's group variables, then `group_vars/` files, each from the
    /// shallowest group (`all`) to the deepest (by `ansible_group_priority`, then name, at
    /// equal depth); then the host's own variables in the file, then `host_vars/`. So
    /// `group_vars/all.yml` overrides a `[web:vars]` of the inventory file.
    pub fn host_vars(&self, host: &str) -> BTreeMap<String, String> {
        let mut groups: Vec<(usize, i64, &str)> = self
            .groups
            .keys()
            .filter(|g| *g == "all" || self.group_hosts(g).contains(host))
            .map(|g| {
                let priority = self.groups[g]
                    .vars
                    .get("ansible_group_priority")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                (self.depth(g, &mut Vec::new()), priority, g.as_str())
            })
            .collect();
        groups.sort();
        let mut vars = BTreeMap::new();
        for (_, _, g) in &groups {
            vars.extend(self.groups[*g].vars.clone());
        }
        // In the inventory file it sets the group's priority, not a variable; in
        // `group_vars/` Ansible keeps it as a plain variable.
        vars.remove("ansible_group_priority");
        for (_, _, g) in &groups {
            if let Some(file_vars) = self.vars_dirs.groups.get(*g) {
                vars.extend(file_vars.clone());
            }
        }
        for own in [self.host_vars.get(host), self.vars_dirs.hosts.get(host)]
            .into_iter()
            .flatten()
        {
            vars.extend(own.clone());
        }
        vars
    }

    /// The hosts `limit` selects (every host without one), each as a target, in
    /// inventory order. An empty selection is an error: a fleet of nothing would be
    /// reported as parity.
    pub fn targets(
        &self,
        file: &str,
        limit: Option<&str>,
    ) -> Result<Vec<InventoryHost>, InventoryError> {
        let chosen = match limit {
            Some(p) => select(self, p).map_err(|message| InventoryError {
                file: file.to_string(),
                line: None,
                message,
            })?,
            None => self.hosts.iter().cloned().collect(),
        };
        if chosen.is_empty() {
            return Err(InventoryError {
                file: file.to_string(),
                line: None,
                message: match limit {
                    Some(p) => format!("no host matches `--limit {}`; `ansible-inventory -i FILE --graph` shows the groups", crate::report::escape(p)),
                    None => "the inventory has no hosts".to_string(),
                },
            });
        }
        self.hosts
            .iter()
            .filter(|h| chosen.contains(*h))
            .map(|h| {
                let vars = self.host_vars(h);
                let target = host_target(h, &vars).map_err(|message| InventoryError {
                    file: file.to_string(),
                    line: self.host_lines.get(h).copied(),
                    message: format!("host `{}`: {message}", crate::report::escape(h)),
                })?;
                Ok(InventoryHost {
                    name: h.clone(),
                    target,
                    vars,
                })
            })
            .collect()
    }
}

/// The target a host's merged variables describe.
pub fn host_target(name: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let get = |keys: &[&str]| keys.iter().find_map(|k| vars.get(*k)).map(String::as_str);
    for key in [
        "ansible_host",
        "ansible_port",
        "ansible_user",
        "ansible_connection",
    ] {
        if vars.get(key).is_some_and(|v| v.contains("{{")) {
            return Err(format!(
                "`{key}` is a Jinja template, which envsync does not evaluate; give it a plain value"
            ));
        }
        if vars
            .get(key)
            .is_some_and(|v| v.starts_with("$ANSIBLE_VAULT"))
        {
            return Err(format!(
                "`{key}` is encrypted with Ansible Vault (`!vault`), and envsync has no vault password; give it a plain value"
            ));
        }
    }
    let host = get(&["ansible_host", "ansible_ssh_host"]).unwrap_or(name);
    match get(&["ansible_connection"]).unwrap_or("ssh") {
        "ssh" | "smart" | "paramiko" | "paramiko_ssh" | "ansible.builtin.ssh" => {}
        "local" | "ansible.builtin.local" => return Ok("local".to_string()),
        "docker" | "community.docker.docker" => return Ok(format!("docker:{host}")),
        other => {
            return Err(format!(
                "`ansible_connection={other}` is not one envsync can read; use ssh, local or docker"
            ))
        }
    }
    let user = get(&["ansible_user", "ansible_ssh_user"]);
    let port = get(&["ansible_port", "ansible_ssh_port"]);
    let host_text = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let mut text = String::new();
    if let Some(u) = user {
        text.push_str(&format!("{u}@"));
    }
    text.push_str(&host_text);
    if let Some(p) = port {
        text.push_str(&format!(":{p}"));
    }
    envsync_manifest::destination::parse_ssh_destination(&text)
        .map_err(|e| format!("`ssh://{text}` is not a valid ssh destination: {e}"))?;
    Ok(format!("ssh://{text}"))
}

/// A list of targets, one per line; blank lines and `#` comments are skipped. Each
/// entry is returned with its line number for messages.
pub fn parse_target_list(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = match line
                .find(" #")
                .or_else(|| line.starts_with('#').then_some(0))
            {
                Some(at) => &line[..at],
                None => line,
            };
            let line = line.trim();
            (!line.is_empty()).then(|| (i + 1, line.to_string()))
        })
        .collect()
}

/// Expand Ansible host ranges: `web[01:03]` is `web01 web02 web03`, `db-[a:c]` is
/// `db-a db-b db-c`, `[1:9:4]` steps by 4. Several ranges in one name multiply.
pub fn expand_range(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| format!("`{pattern}` opens a range with `[` and never closes it"))?;
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = inner.split(':').collect();
    let (beg, end, step) = match parts.as_slice() {
        [b, e] => (*b, *e, "1"),
        [b, e, s] => (*b, *e, *s),
        _ => {
            return Err(format!(
                "`[{inner}]` in `{pattern}` is not a range; write `[01:10]`, `[a:f]` or `[1:10:2]`"
            ))
        }
    };
    let step: usize = step
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("the step `{step}` in `{pattern}` is not a positive number"))?;
    let bad = || {
        format!("`[{inner}]` in `{pattern}` is not a range; write `[01:10]`, `[a:f]` or `[1:10:2]`")
    };
    let items: Vec<String> = if let (Ok(b), Ok(e)) = (beg.parse::<u64>(), end.parse::<u64>()) {
        if b > e {
            return Err(format!(
                "the range `[{inner}]` in `{pattern}` ends before it begins"
            ));
        }
        let width = (beg.starts_with('0') && beg.len() > 1).then_some(beg.len());
        (b..=e)
            .step_by(step)
            .map(|i| match width {
                Some(w) => format!("{i:0w$}"),
                None => i.to_string(),
            })
            .collect()
    } else {
        let (begs, ends): (Vec<char>, Vec<char>) = (beg.chars().collect(), end.chars().collect());
        let (b, e) = match (begs.as_slice(), ends.as_slice()) {
            ([b], [e]) if b.is_ascii_alphabetic() && e.is_ascii_alphabetic() => (*b, *e),
            _ => return Err(bad()),
        };
        if b > e {
            return Err(format!(
                "the range `[{inner}]` in `{pattern}` ends before it begins"
            ));
        }
        (b..=e).step_by(step).map(String::from).collect()
    };
    let mut out = Vec::new();
    for item in items {
        for rest in expand_range(tail)? {
            out.push(format!("{head}{item}{rest}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(file: &str, text: &str, limit: Option<&str>, expected: &[&str]) {
        let inv = Inventory::parse(Path::new(file), text).expect("parses");
        let got: Vec<String> = match inv.targets(file, limit) {
            Ok(hosts) => hosts
                .iter()
                .map(|h| format!("{} {}", h.name, h.target))
                .collect(),
            Err(e) => vec![format!("error: {e}")],
        };
        assert_eq!(got, expected);
    }

    const INI: &str = "\
# the fleet
bastion ansible_host=10.0.0.1

[web]
web[01:03].example.com ansible_user=deploy

[db]
db-1 ansible_port=2222 ansible_host=10.0.1.1

[prod:children]
web
db

[prod:vars]
ansible_user=ops
";

    #[test]
    fn ini_hosts_groups_and_patterns() {
        check(
            "hosts.ini",
            INI,
            None,
            &[
                "bastion ssh://10.0.0.1",
                "web01.example.com ssh://deploy@web01.example.com",
                "web02.example.com ssh://deploy@web02.example.com",
                "web03.example.com ssh://deploy@web03.example.com",
                "db-1 ssh://ops@10.0.1.1:2222",
            ],
        );
        check(
            "hosts.ini",
            INI,
            Some("prod:&web:!web02*"),
            &[
                "web01.example.com ssh://deploy@web01.example.com",
                "web03.example.com ssh://deploy@web03.example.com",
            ],
        );
        check(
            "hosts.ini",
            INI,
            Some("nothing"),
            &["error: hosts.ini: no host matches `--limit nothing`; `ansible-inventory -i FILE --graph` shows the groups"],
        );
    }

    #[test]
    fn ranges() {
        let r = |p: &str| expand_range(p).unwrap_or_else(|e| vec![format!("error: {e}")]);
        assert_eq!(r("web[01:03]"), ["web01", "web02", "web03"]);
        assert_eq!(
            r("h[8:10].x"),
            ["h8", "h9", "h10"].map(|h| format!("{h}.x"))
        );
        assert_eq!(r("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(r("n[1:7:3]"), ["n1", "n4", "n7"]);
        assert_eq!(r("r[1:2]-[a:b]"), ["r1-a", "r1-b", "r2-a", "r2-b"]);
        assert!(r("web[3:1]")[0].starts_with("error: the range `[3:1]`"));
        assert!(r("web[01:03")[0].starts_with("error:"));
    }

    #[test]
    fn bad_hosts_name_the_file_and_line() {
        check(
            "inv",
            "[web]\nweb-1\nweb-2 ansible_port=99999\n",
            None,
            &["error: inv:3: host `web-2`: `ssh://web-2:99999` is not a valid ssh destination: `99999` is not a port number (1-65535)"],
        );
        check(
            "hosts.yml",
            "all:\n  hosts:\n    web-1:\n      ansible_user: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162636465\n",
            None,
            &["error: hosts.yml: host `web-1`: `ansible_user` is encrypted with Ansible Vault (`!vault`), and envsync has no vault password; give it a plain value"],
        );
        check(
            "inv",
            "[web]\nweb-1 ansible_connection=winrm\n",
            None,
            &["error: inv:2: host `web-1`: `ansible_connection=winrm` is not one envsync can read; use ssh, local or docker"],
        );
    }

    #[test]
    fn target_lists() {
        assert_eq!(
            parse_target_list("# fleet\nssh://a\n\n  ssh://b:22  # the second\n"),
            [(2, "ssh://a".to_string()), (4, "ssh://b:22".to_string())]
        );
    }
}
