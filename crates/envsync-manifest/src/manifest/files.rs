//! `[files]`, `[env]` (also a service's `env`) and `[targets]`.

use toml_edit::{Item, TableLike, Value};

use super::ctx::*;
use super::names::*;
use super::*;

impl Ctx<'_> {
    /// `[files]`, or a service's `files` (`section` is `services.NAME.files`).
    pub(super) fn files(&mut self, t: &dyn TableLike, section: &str) -> Vec<FileEntry> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let container_path = key.get();
            let (line, column) = self.pos(key.span());
            if !container_path.starts_with('/') {
                self.error(
                    key.span(),
                    format!(
                        "`{container_path}` in [{section}] is not an absolute path in the environment"
                    ),
                    format!(
                        "write the destination as an absolute path, e.g. `\"/etc/app/{}\"`",
                        container_path.rsplit('/').next().unwrap_or("settings.ini")
                    ),
                );
            }
            let Some(local) = self.string(key, item, section, "\"config/settings.ini\"") else {
                continue;
            };
            if local.is_empty() || local.starts_with('/') {
                self.error(
                    item.span(),
                    format!("local file `{local}` of `{container_path}` in [{section}] is not a path relative to the manifest"),
                    "keep the file next to the manifest and write its relative path, e.g. `\"config/settings.ini\"`".into(),
                );
            }
            out.push(FileEntry {
                container_path: container_path.to_string(),
                local_path: local.to_string(),
                line,
                column,
            });
        }
        out
    }

    pub(super) fn env(&mut self, t: &dyn TableLike, section: &str) -> Vec<EnvVar> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            if !is_env_name(name) {
                self.error(
                    key.span(),
                    format!("`{name}` in [{section}] is not an environment variable name"),
                    "use letters, digits and `_`, not starting with a digit".into(),
                );
            }
            let (line, _) = self.pos(key.span());
            // Values may be secrets: messages never repeat them.
            let value = match item.as_value() {
                Some(Value::String(s)) => s.value().clone(),
                Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
                    self.error(
                        item.span(),
                        format!(
                            "value of `{name}` in [{section}] must be a string, found {}",
                            type_name(item)
                        ),
                        format!("quote it: `{name} = \"...\"`"),
                    );
                    continue;
                }
                _ => {
                    self.wrong_type(
                        key,
                        item,
                        section,
                        "a string",
                        format!("`{name} = \"...\"`"),
                    );
                    continue;
                }
            };
            out.push(EnvVar {
                name: name.to_string(),
                value,
                line,
            });
        }
        out
    }

    pub(super) fn targets(&mut self, t: &dyn TableLike) -> Vec<NamedTarget> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            let (line, _) = self.pos(key.span());
            if matches!(name, "lock" | "local") {
                self.error(
                    key.span(),
                    format!("target name `{name}` is reserved"),
                    format!(
                        "choose another name; `{name}` already means {}",
                        if name == "lock" {
                            "the lock"
                        } else {
                            "this machine"
                        }
                    ),
                );
            } else if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || name.is_empty()
            {
                self.error(
                    key.span(),
                    format!("target name `{name}` is not a valid name"),
                    "use letters, digits, `-` and `_`".into(),
                );
            }
            if item.is_array() {
                let group =
                    self.strings(key, item, "targets", "[\"ssh://web-1\", \"ssh://web-2\"]");
                if group.is_empty() && item.as_array().is_some_and(|a| a.is_empty()) {
                    self.error(
                        item.span(),
                        format!("the group `{name}` in [targets] is empty"),
                        "list its targets: `web = [\"ssh://web-1\", \"ssh://web-2\"]`".into(),
                    );
                }
                for member in &group {
                    self.check_target(name, member, item);
                }
                out.push(NamedTarget {
                    name: name.to_string(),
                    target: String::new(),
                    line,
                    group,
                });
                continue;
            }
            let Some(target) = self.string(key, item, "targets", "\"ssh://deploy@prod-api-1\"")
            else {
                continue;
            };
            self.check_target(name, target, item);
            out.push(NamedTarget {
                name: name.to_string(),
                target: target.to_string(),
                line,
                group: Vec::new(),
            });
        }
        out
    }

    /// A target of `[targets]` (alone or in a group) must be one envsync can read.
    fn check_target(&mut self, name: &str, target: &str, item: &Item) {
        if let Some(Err(e)) = target
            .strip_prefix("ssh://")
            .map(crate::destination::parse_ssh_destination)
        {
            self.error(
                item.span(),
                format!("target `{target}` of `{name}` in [targets] is not a valid ssh destination: {e}"),
                "write `ssh://[user@]host[:port]` with a host name, an IPv4 address or an IPv6 address in brackets".into(),
            );
        } else if !is_target(target) {
            self.error(
                item.span(),
                format!("target `{target}` of `{name}` in [targets] is not a target envsync can read"),
                "write `local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]` or a snapshot file `NAME.json`".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn targets_and_files() {
        check(
            "[targets]\nprod = \"ssh:/deploy@prod\"\nlock = \"local\"\n[files]\n\"etc/a.ini\" = \"/abs/a.ini\"\n",
            "target `ssh:/deploy@prod` of `prod` in [targets] is not a target envsync can read at envsync.toml:6:8; write `local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]` or a snapshot file `NAME.json`\n\
             target name `lock` is reserved at envsync.toml:7:1; choose another name; `lock` already means the lock\n\
             `etc/a.ini` in [files] is not an absolute path in the environment at envsync.toml:9:1; write the destination as an absolute path, e.g. `\"/etc/app/a.ini\"`\n\
             local file `/abs/a.ini` of `etc/a.ini` in [files] is not a path relative to the manifest at envsync.toml:9:15; keep the file next to the manifest and write its relative path, e.g. `\"config/settings.ini\"`",
        );
    }

    #[test]
    fn ssh_targets_are_host_names() {
        const HINT: &str = "write `ssh://[user@]host[:port]` with a host name, an IPv4 address or an IPv6 address in brackets";
        check(
            "[targets]\nprod = \"ssh://a$(touch x)\"\nopt = \"ssh://-oProxyCommand=x\"\nport = \"ssh://deploy@host:99999\"\nuser = \"ssh://-l@host\"\n",
            &format!(
                "target `ssh://a$(touch x)` of `prod` in [targets] is not a valid ssh destination: the host `a$(touch x)` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123) at envsync.toml:6:8; {HINT}\n\
                 target `ssh://-oProxyCommand=x` of `opt` in [targets] is not a valid ssh destination: the host `-oProxyCommand=x` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123) at envsync.toml:7:7; {HINT}\n\
                 target `ssh://deploy@host:99999` of `port` in [targets] is not a valid ssh destination: `99999` is not a port number (1-65535) at envsync.toml:8:8; {HINT}\n\
                 target `ssh://-l@host` of `user` in [targets] is not a valid ssh destination: the user `-l` is not a user name: use ASCII letters, digits, `.`, `_` and `-`, not starting with `-` at envsync.toml:9:8; {HINT}"
            ),
        );
        let m = parse(&format!(
            "{HEAD}[targets]\nprod = \"ssh://deploy@prod-api-1\"\nv4 = \"ssh://10.0.0.7:2222\"\nv6 = \"ssh://root@[::1]:22\"\n"
        ))
        .unwrap();
        assert_eq!(m.targets.len(), 3);
    }

    #[test]
    fn target_groups() {
        let m = parse(&format!(
            "{HEAD}[targets]\nweb = [\"ssh://web-1\", \"ssh://deploy@web-2:2222\"]\nprod = \"ssh://prod\"\n"
        ))
        .unwrap();
        assert_eq!(
            m.targets[0].group,
            ["ssh://web-1", "ssh://deploy@web-2:2222"]
        );
        assert_eq!(m.targets[0].target, "");
        assert!(m.targets[1].group.is_empty());
        check(
            "[targets]\nweb = [\"ssh://web-1\", \"ssh://-x\", 3]\nnone = []\n",
            "target `ssh://-x` of `web` in [targets] is not a valid ssh destination: the host `-x` is not a host name: a label starts or ends with `-` at envsync.toml:6:7; write `ssh://[user@]host[:port]` with a host name, an IPv4 address or an IPv6 address in brackets\n\
             `web` in [targets] must hold strings, found an integer at envsync.toml:6:35; write `web = [\"ssh://web-1\", \"ssh://web-2\"]`\n\
             the group `none` in [targets] is empty at envsync.toml:7:8; list its targets: `web = [\"ssh://web-1\", \"ssh://web-2\"]`",
        );
    }
}
