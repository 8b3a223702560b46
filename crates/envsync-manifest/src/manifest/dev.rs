//! `[dev]`: the development container's ports, command, working directory, network
//! aliases, environment, post-create commands, connection variables and lifecycle; and
//! the lifecycle keys (`stop_grace`, `restart`) services share with it.

use std::time::Duration;

use toml_edit::{Item, Key, TableLike};

use super::ctx::*;
use super::names::*;
use super::services::Published;
use super::*;

impl Ctx<'_> {
    /// `[dev]`, its ports checked against those the services publish, its aliases
    /// against the service names.
    pub(super) fn dev(
        &mut self,
        header: &Key,
        t: &dyn TableLike,
        services: &[Service],
        published: &mut Published,
    ) -> Dev {
        const KEYS: &[&str] = &[
            "ports",
            "command",
            "workdir",
            "aliases",
            "env",
            "post_create",
            "connections",
            "stop_grace",
            "restart",
            "depends_on",
            "healthcheck",
            "user",
        ];
        self.check_keys(t, "dev", KEYS);
        let mut dev = Dev {
            line: self.pos(header.span()).0,
            ..Dev::default()
        };
        if let Some((k, v)) = t.get_key_value("ports") {
            dev.ports = self.port_list(k, v, "dev");
            let span = v.span();
            self.publish("dev", &dev.ports, span, published);
        }
        if let Some((k, v)) = t.get_key_value("command") {
            dev.command = self.command(k, v, "dev", "[\"gunicorn\", \"app:app\"]");
        }
        if let Some((k, v)) = t.get_key_value("workdir") {
            if let Some(dir) = self.string(k, v, "dev", "\"/workspace/src\"") {
                if !dir.starts_with('/') {
                    self.error(
                        v.span(),
                        format!("`workdir` `{dir}` in [dev] is not an absolute path"),
                        "write the directory inside the container, e.g. `workdir = \"/workspace\"`"
                            .into(),
                    );
                }
                dev.workdir = Some(dir.to_string());
            }
        }
        if let Some((k, v)) = t.get_key_value("aliases") {
            dev.aliases = self.aliases(k, v, services);
        }
        if let Some((k, v)) = t.get_key_value("env") {
            if let Some(et) = self.table(k, v, "dev") {
                dev.env = self.env(et, "dev.env");
            }
        }
        if let Some((k, v)) = t.get_key_value("post_create") {
            dev.post_create = match v.as_str() {
                Some(s) => vec![s.to_string()],
                None => self.strings(k, v, "dev", "[\"pip install -e .\"]"),
            };
        }
        if let Some((k, v)) = t.get_key_value("connections") {
            if let Some(ct) = self.table(k, v, "dev") {
                dev.connections = self.connections(ct, services);
            }
        }
        (dev.stop_grace, dev.restart) = self.lifecycle(t, "dev");
        if let Some((k, v)) = t.get_key_value("depends_on") {
            dev.depends_on = self.depends_on(k, v, "dev");
        }
        if let Some((k, v)) = t.get_key_value("healthcheck") {
            if let Some(ht) = self.table(k, v, "dev") {
                dev.healthcheck = self.healthcheck(ht, k, "dev.healthcheck");
            }
        }
        dev.user = self.dev_user(t);
        dev
    }

    /// `user` of `[dev]`: `auto` (also when absent), `root` or a user name.
    fn dev_user(&mut self, t: &dyn TableLike) -> DevUser {
        let Some((k, v)) = t.get_key_value("user") else {
            return DevUser::Auto;
        };
        let Some(name) = self.string(k, v, "dev", "\"auto\"") else {
            return DevUser::Auto;
        };
        match name {
            "auto" => DevUser::Auto,
            "root" => DevUser::Root,
            _ if is_user_name(name) => DevUser::Named(name.to_string()),
            _ => {
                self.error(
                    v.span(),
                    format!("`user` `{name}` in [dev] is not a user name"),
                    "write `\"auto\"` (the user running envsync), `\"root\"`, or a name of lowercase letters, digits, `_` and `-` starting with a letter or `_` (at most 32 characters)".into(),
                );
                DevUser::Auto
            }
        }
    }

    /// A `command`: a string run by the shell, or an argument vector.
    pub(super) fn command(
        &mut self,
        key: &Key,
        item: &Item,
        section: &str,
        example: &str,
    ) -> Vec<String> {
        match item.as_str() {
            Some(s) => vec!["sh".into(), "-c".into(), s.to_string()],
            None => self.strings(key, item, section, example),
        }
    }

    /// `aliases`: host names, none of them a service's.
    fn aliases(&mut self, key: &Key, item: &Item, services: &[Service]) -> Vec<String> {
        self.strings(key, item, "dev", "[\"app\"]");
        let mut out = Vec::new();
        for v in item.as_array().into_iter().flat_map(|a| a.iter()) {
            let Some(alias) = v.as_str() else { continue };
            let normalized = alias.to_ascii_lowercase().replace('_', "-");
            if !is_simple_name(alias) {
                self.error(
                    v.span(),
                    format!("alias `{alias}` in [dev] is not a valid name"),
                    "use lowercase letters, digits, `-` and `_` (it becomes a host name on the project network)".into(),
                );
            } else if let Some(s) = services
                .iter()
                .find(|s| s.name.to_ascii_lowercase().replace('_', "-") == normalized)
            {
                self.error(
                    v.span(),
                    format!(
                        "alias `{alias}` in [dev] is the name of [services.{}] (line {})",
                        s.name, s.line
                    ),
                    "choose a name no service has, e.g. `aliases = [\"app\"]`".into(),
                );
            }
            out.push(alias.to_string());
        }
        out
    }

    /// `[dev.connections]`: `SERVICE = "VARIABLE"` or `SERVICE = false`.
    fn connections(
        &mut self,
        t: &dyn TableLike,
        services: &[Service],
    ) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let service = key.get();
            if !services.iter().any(|s| s.name == service) {
                self.error(
                    key.span(),
                    format!("[dev.connections] names `{service}`, which is not a service"),
                    "name a service declared in [services]".into(),
                );
            }
            let name = match item.as_value() {
                Some(toml_edit::Value::Boolean(b)) if !*b.value() => None,
                _ => {
                    let Some(name) = self.string(key, item, "dev.connections", "\"DATABASE_URL\"")
                    else {
                        continue;
                    };
                    if !is_env_name(name) {
                        self.error(
                            item.span(),
                            format!("`{name}` in [dev.connections] is not an environment variable name"),
                            "use letters, digits and `_`, not starting with a digit; or `false` for none".into(),
                        );
                    }
                    Some(name.to_string())
                }
            };
            out.push((service.to_string(), name));
        }
        out
    }

    /// `stop_grace` (a duration) and `restart` (a policy) of `[section]`.
    pub(super) fn lifecycle(
        &mut self,
        t: &dyn TableLike,
        section: &str,
    ) -> (Option<Duration>, Option<Restart>) {
        let mut grace = None;
        if let Some((k, v)) = t.get_key_value("stop_grace") {
            if let Some(text) = self.string(k, v, section, "\"30s\"") {
                grace = parse_duration(text);
                if grace.is_none() {
                    self.error(
                        v.span(),
                        format!("`stop_grace` in [{section}] is not a duration: `{text}`"),
                        "write a duration such as `stop_grace = \"30s\"` or `\"1m30s\"`".into(),
                    );
                }
            }
        }
        let mut restart = None;
        if let Some((k, v)) = t.get_key_value("restart") {
            if let Some(text) = self.string(k, v, section, "\"unless-stopped\"") {
                restart = Restart::ALL
                    .iter()
                    .find(|(name, _)| *name == text)
                    .map(|(_, r)| *r);
                if restart.is_none() {
                    let names: Vec<&str> = Restart::ALL.iter().map(|(n, _)| *n).collect();
                    self.error(
                        v.span(),
                        format!("`restart` in [{section}] is not a restart policy: `{text}`"),
                        format!("write one of {}", list(&names)),
                    );
                }
            }
        }
        (grace, restart)
    }
}

/// A user name as Debian's `adduser` accepts it by default (`NAME_REGEX`), and short
/// enough for `useradd`: the name goes into the container's `/etc/passwd`.
fn is_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        && name.len() <= 32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn dev_section() {
        let m = parse(&format!(
            "{HEAD}[services.postgres]\nversion = \"15\"\nport = 5432\nrestart = \"always\"\nstop_grace = \"30s\"\n\
             [dev]\nports = [\"8000:8000\"]\ncommand = \"gunicorn app:app\"\nworkdir = \"/workspace/src\"\n\
             aliases = [\"app\"]\npost_create = [\"pip install -e .\"]\nrestart = \"no\"\nuser = \"dev\"\n\
             [dev.env]\nDEBUG = \"1\"\n[dev.connections]\npostgres = \"PG_URL\"\n"
        ))
        .unwrap();
        let dev = m.dev.as_ref().unwrap();
        assert_eq!(dev.ports[0].host, 8000);
        assert_eq!(dev.command, ["sh", "-c", "gunicorn app:app"]);
        assert_eq!(dev.workdir.as_deref(), Some("/workspace/src"));
        assert_eq!(dev.aliases, ["app"]);
        assert_eq!(dev.post_create, ["pip install -e ."]);
        assert_eq!(dev.env[0].name, "DEBUG");
        assert_eq!(
            dev.connections,
            [("postgres".to_string(), Some("PG_URL".to_string()))]
        );
        assert_eq!(dev.restart, Some(Restart::No));
        assert_eq!(dev.user, DevUser::Named("dev".into()));
        assert_eq!(m.services[0].restart, Some(Restart::Always));
        assert_eq!(m.services[0].stop_grace, Some(Duration::from_secs(30)));
    }

    #[test]
    fn dev_errors() {
        check(
            "[services.redis]\nversion = \"7\"\nport = 6379\n[dev]\nports = [6379, \"x\"]\nworkdir = \"src\"\naliases = [\"redis\", \"A B\"]\nrestart = \"sometimes\"\nuser = \"Dev User\"\n[dev.connections]\npg = \"DATABASE_URL\"\nredis = \"1X\"\n",
            "host port 6379 of [dev] is already published by [services.redis] (line 7, column 8) at envsync.toml:9:9; publish another host port, e.g. `ports = [\"6380:6379\"]`\n\
             port `\"x\"` in [dev] is not a port mapping at envsync.toml:9:16; write a port number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`, `\"127.0.0.1:15432:5432\"`)\n\
             `workdir` `src` in [dev] is not an absolute path at envsync.toml:10:11; write the directory inside the container, e.g. `workdir = \"/workspace\"`\n\
             alias `redis` in [dev] is the name of [services.redis] (line 5) at envsync.toml:11:12; choose a name no service has, e.g. `aliases = [\"app\"]`\n\
             alias `A B` in [dev] is not a valid name at envsync.toml:11:21; use lowercase letters, digits, `-` and `_` (it becomes a host name on the project network)\n\
             `restart` in [dev] is not a restart policy: `sometimes` at envsync.toml:12:11; write one of `no`, `always`, `on-failure`, `unless-stopped`\n\
             `user` `Dev User` in [dev] is not a user name at envsync.toml:13:8; write `\"auto\"` (the user running envsync), `\"root\"`, or a name of lowercase letters, digits, `_` and `-` starting with a letter or `_` (at most 32 characters)\n\
             [dev.connections] names `pg`, which is not a service at envsync.toml:15:1; name a service declared in [services]\n\
             `1X` in [dev.connections] is not an environment variable name at envsync.toml:16:9; use letters, digits and `_`, not starting with a digit; or `false` for none",
        );
    }
}
