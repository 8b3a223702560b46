//! `[files]`, `[env]` (also a service's `env`) and `[targets]`.

use toml_edit::{TableLike, Value};

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
            let Some(target) = self.string(key, item, "targets", "\"ssh://deploy@prod-api-1\"")
            else {
                continue;
            };
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
            out.push(NamedTarget {
                name: name.to_string(),
                target: target.to_string(),
                line,
            });
        }
        out
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
}
