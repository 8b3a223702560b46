//! `[services.NAME]`: version, image, ports, environment, health check, volumes,
//! packages and command of each middleware service.

use std::net::IpAddr;
use std::ops::Range;

use toml_edit::{Item, Key, TableLike};

use super::ctx::*;
use super::names::*;
use super::ports::parse_port;
use super::*;
use crate::middleware::ServiceKind;
use crate::version::Ecosystem;

/// ((host ip, host port), section, line, column) of every port published so far.
pub(super) type Published = Vec<((IpAddr, u16), String, usize, usize)>;

impl Ctx<'_> {
    pub(super) fn services(
        &mut self,
        t: &dyn TableLike,
        os: Ecosystem,
        published: &mut Published,
    ) -> Vec<Service> {
        let mut out: Vec<Service> = Vec::new();
        let mut seen: Vec<(String, String, usize)> = Vec::new();
        for (key, item) in entries(t) {
            let (line, column) = self.pos(key.span());
            self.service_name(key, &mut seen, line);
            let Some(st) = self.table(key, item, "services") else {
                continue;
            };
            out.push(self.service(key, st, os, published, (line, column)));
        }
        out
    }

    /// A service name is a host name, distinct from the others' without case and with
    /// `_` as `-`.
    fn service_name(&mut self, key: &Key, seen: &mut Vec<(String, String, usize)>, line: usize) {
        let name = key.get();
        if !is_simple_name(name) {
            self.error(
                key.span(),
                format!("service name `{name}` is not a valid name"),
                "use lowercase letters, digits, `-` and `_` (it becomes a host name on the project network)".into(),
            );
        }
        let normalized = name.to_ascii_lowercase().replace('_', "-");
        if let Some((first, _, first_line)) = seen.iter().find(|(_, n, _)| *n == normalized) {
            self.error(
                key.span(),
                format!("service `{name}` duplicates service `{first}` declared at line {first_line} (service names are host names, compared without case and with `_` as `-`)"),
                "remove one of them, or give them distinct names".into(),
            );
        }
        seen.push((name.to_string(), normalized, line));
    }

    /// One `[services.NAME]` table.
    fn service(
        &mut self,
        key: &Key,
        st: &dyn TableLike,
        os: Ecosystem,
        published: &mut Published,
        (line, column): (usize, usize),
    ) -> Service {
        const KEYS: &[&str] = &[
            "version",
            "image",
            "kind",
            "port",
            "ports",
            "env",
            "healthcheck",
            "volumes",
            "packages",
            "command",
            "stop_grace",
            "restart",
            "files",
            "depends_on",
            "profiles",
        ];
        let name = key.get();
        let section = format!("services.{name}");
        self.check_keys(st, &section, KEYS);
        let mut service = Service {
            name: name.to_string(),
            version: String::new(),
            image: None,
            kind: None,
            ports: Vec::new(),
            env: Vec::new(),
            healthcheck: None,
            volumes: Vec::new(),
            packages: Vec::new(),
            command: Vec::new(),
            stop_grace: None,
            restart: None,
            files: Vec::new(),
            depends_on: Vec::new(),
            profiles: Vec::new(),
            line,
            column,
        };
        self.service_release(key, st, &section, &mut service);
        self.service_ports(st, &section, &mut service, published);
        self.service_run(st, &section, &mut service);
        (service.stop_grace, service.restart) = self.lifecycle(st, &section);
        self.service_stack(st, &section, &mut service);
        if let Some((k, v)) = st.get_key_value("packages") {
            if let Some(pt) = self.table(k, v, &section) {
                service.packages = self.requirements(pt, &format!("{section}.packages"), os);
            }
            if service.image.is_some() {
                self.error(
                    k.span(),
                    format!("[{section}] has both `image` and `packages`"),
                    "run a pinned `image`, or build the service from the base with `packages`, not both".into(),
                );
            }
        }
        service
    }

    /// How a service's container runs: `env`, `healthcheck`, `volumes` and `command`.
    fn service_run(&mut self, st: &dyn TableLike, section: &str, service: &mut Service) {
        if let Some((k, v)) = st.get_key_value("env") {
            if let Some(et) = self.table(k, v, section) {
                service.env = self.env(et, &format!("{section}.env"));
            }
        }
        if let Some((k, v)) = st.get_key_value("healthcheck") {
            if let Some(ht) = self.table(k, v, section) {
                service.healthcheck = self.healthcheck(ht, k, &format!("{section}.healthcheck"));
            }
        }
        if let Some((k, v)) = st.get_key_value("volumes") {
            service.volumes = self.volumes(k, v, section);
        }
        if let Some((k, v)) = st.get_key_value("command") {
            service.command = self.command(
                k,
                v,
                section,
                "[\"redis-server\", \"--appendonly\", \"yes\"]",
            );
        }
    }

    /// `port` or `ports`, each mapping checked against those published before it.
    fn service_ports(
        &mut self,
        st: &dyn TableLike,
        section: &str,
        service: &mut Service,
        published: &mut Published,
    ) {
        let port = st.get_key_value("port");
        let ports = st.get_key_value("ports");
        if let (Some(_), Some((k, _))) = (port, ports) {
            self.error(
                k.span(),
                format!("[{section}] has both `port` and `ports`"),
                "keep `port = 5432` for one port published as itself, or list every mapping in `ports`".into(),
            );
        }
        if let Some((k, v)) = port {
            match v
                .as_integer()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
            {
                Some(p) => service.ports.push(PortMapping {
                    host_ip: None,
                    host: p,
                    container: p,
                }),
                None if v.as_integer().is_some() => self.error(
                    v.span(),
                    format!(
                        "`port` in [{section}] is `{}`, outside the port range 1 to 65535",
                        v.to_string().trim()
                    ),
                    "write a port number from 1 to 65535, e.g. `port = 5432`".into(),
                ),
                None => {
                    let example = match v.as_str().and_then(|t| t.trim().parse::<u16>().ok()) {
                        Some(p) if p > 0 => format!("`port = {p}` (a number, unquoted)"),
                        _ => "`port = 5432`".into(),
                    };
                    self.wrong_type(k, v, section, "a port number from 1 to 65535", example)
                }
            }
        }
        if let Some((k, v)) = ports {
            let list = self.port_list(k, v, section);
            service.ports.extend(list);
        }
        if !service.ports.is_empty() {
            let span = port.or(ports).and_then(|(_, v)| v.span());
            self.publish(section, &service.ports, span, published);
        }
    }

    /// A `ports` array, each mapping parsed or reported at its own position.
    pub(super) fn port_list(&mut self, k: &Key, v: &Item, section: &str) -> Vec<PortMapping> {
        let mut out = Vec::new();
        match v.as_array() {
            Some(array) => {
                for p in array.iter() {
                    match parse_port(p) {
                        Some(mapping) => out.push(mapping),
                        None if out_of_range(p) => self.error(
                            p.span(),
                            format!("port `{}` in [{section}] is outside the port range 1 to 65535", p.to_string().trim()),
                            "write ports from 1 to 65535: a number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`)".into(),
                        ),
                        None => self.error(
                            p.span(),
                            format!("port `{}` in [{section}] is not a port mapping", p.to_string().trim()),
                            "write a port number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`, `\"127.0.0.1:15432:5432\"`)".into(),
                        ),
                    }
                }
            }
            None => self.wrong_type(
                k,
                v,
                section,
                "an array",
                "`ports = [\"15432:5432\"]`".into(),
            ),
        }
        out
    }

    /// Check the ports of `[section]` against those published before them (and each
    /// other), then add them to `published`.
    pub(super) fn publish(
        &mut self,
        section: &str,
        ports: &[PortMapping],
        span: Option<Range<usize>>,
        published: &mut Published,
    ) {
        let (pline, pcol) = self.pos(span.clone());
        for (i, mapping) in ports.iter().enumerate() {
            let address = (mapping.effective_host_ip(), mapping.host);
            let clash = published
                .iter()
                .find(|(other, ..)| host_ports_clash(*other, address));
            if let Some(((_, host), other, oline, ocol)) = clash {
                let message = if other == section {
                    format!("host port {host} is published twice by [{other}]")
                } else {
                    format!(
                        "host port {host} of [{section}] is already published by [{other}] (line {oline}, column {ocol})"
                    )
                };
                self.error(
                    span.clone(),
                    message,
                    format!(
                        "publish another host port, e.g. `ports = [\"{}:{}\"]`",
                        host.saturating_add(1),
                        mapping.container
                    ),
                );
            }
            // The engine publishes a container port once: a second mapping of it
            // would be dropped.
            if ports[..i].iter().any(|m| m.container == mapping.container) {
                self.error(
                    span.clone(),
                    format!(
                        "container port {} of [{section}] is published twice",
                        mapping.container
                    ),
                    "publish each container port once".into(),
                );
            }
            published.push((address, section.to_string(), pline, pcol));
        }
    }

    /// `version` (required) and `image` (pinned, and agreeing with `version`).
    fn service_release(
        &mut self,
        key: &Key,
        st: &dyn TableLike,
        section: &str,
        service: &mut Service,
    ) {
        match st.get_key_value("version") {
            Some((k, v)) => {
                if let Some(version) = self.string(k, v, section, "\"15\"") {
                    self.constraint(Ecosystem::Service, key.get(), version, v.span(), section);
                    service.version = version.to_string();
                }
            }
            None => self.error(
                key.span(),
                format!("[{section}] has no `version`"),
                "add the version it must run, e.g. `version = \"15.10\"`".into(),
            ),
        }
        if let Some((k, v)) = st.get_key_value("image") {
            if let Some(image) = self.string(k, v, section, "\"postgres:15.10\"") {
                self.service_image(image, &service.version, v.span(), section);
                service.image = Some(image.to_string());
            }
        }
        if let Some((k, v)) = st.get_key_value("kind") {
            if let Some(text) = self.string(k, v, section, "\"postgres\"") {
                match ServiceKind::parse(text) {
                    None => self.error(
                        v.span(),
                        format!("`kind` in [{section}] is `{text}`, not a middleware envsync knows"),
                        format!("write one of {}", ServiceKind::names()),
                    ),
                    Some(_) if service.image.is_none() => self.error(
                        k.span(),
                        format!("[{section}] has `kind` but no `image`"),
                        "`kind` names what a pinned `image` runs; a service built from packages is named after its kind (`[services.postgres]`)".into(),
                    ),
                    kind => service.kind = kind,
                }
            }
        }
    }

    /// A service's `volumes`, each parsed into a [`VolumeMount`] or reported at its own
    /// position.
    pub(super) fn volumes(&mut self, key: &Key, item: &Item, section: &str) -> Vec<VolumeMount> {
        let example = "[\"pgdata:/var/lib/postgresql/data\"]";
        // Type errors are reported here; the strings are parsed below with their spans.
        self.strings(key, item, section, example);
        let mut out = Vec::new();
        for v in item.as_array().into_iter().flat_map(|a| a.iter()) {
            let Some(text) = v.as_str() else { continue };
            match VolumeMount::parse(text) {
                Ok(mount) => out.push(mount),
                Err(problem) => self.error(
                    v.span(),
                    format!("volume `{text}` in [{section}] {problem}"),
                    format!("write `SOURCE:/container/path[:ro]`, e.g. `{example}`"),
                ),
            }
        }
        out
    }

    pub(super) fn service_image(
        &mut self,
        image: &str,
        version: &str,
        span: Option<Range<usize>>,
        section: &str,
    ) {
        if !is_image_ref(image) {
            self.error(
                span,
                format!("image `{image}` in [{section}] is not an image reference"),
                "write REPOSITORY:TAG or REPOSITORY@sha256:DIGEST, e.g. `image = \"postgres:15.10\"`".into(),
            );
            return;
        }
        let (repo, tag) = split_image(image);
        let pinned_by_digest = image.contains("@sha256:");
        if !pinned_by_digest && matches!(tag, None | Some("latest")) {
            self.error(
                span,
                format!("image `{image}` in [{section}] is not pinned"),
                format!(
                    "name an exact tag or digest, e.g. `image = \"{repo}:{}\"`",
                    if version.is_empty() { "15.10" } else { version }
                ),
            );
            return;
        }
        // A tag that starts with a version (`16.1-bookworm`) must agree with `version`
        // on the major number, or the image runs something else than what is declared.
        if let Some(tag) = tag {
            let tag_major = tag.split(['.', '-']).next().unwrap_or_default();
            let version_major = version
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split(['.', '-', ' ', ','])
                .next()
                .unwrap_or_default();
            if tag_major.chars().all(|c| c.is_ascii_digit())
                && !tag_major.is_empty()
                && !version_major.is_empty()
                && version_major.chars().all(|c| c.is_ascii_digit())
                && tag_major.trim_start_matches('0') != version_major.trim_start_matches('0')
            {
                self.error(
                    span,
                    format!(
                        "image `{image}` in [{section}] does not match `version = \"{version}\"`"
                    ),
                    "make the image tag and `version` name the same release".into(),
                );
            }
        }
    }

    pub(super) fn healthcheck(
        &mut self,
        t: &dyn TableLike,
        header: &Key,
        section: &str,
    ) -> Option<Healthcheck> {
        self.check_keys(
            t,
            section,
            &["test", "interval", "timeout", "start_period", "retries"],
        );
        let mut hc = Healthcheck {
            test: Vec::new(),
            interval: None,
            timeout: None,
            start_period: None,
            retries: None,
        };
        match t.get_key_value("test") {
            Some((k, v)) => {
                hc.test = match v.as_str() {
                    Some(s) => vec!["CMD-SHELL".into(), s.to_string()],
                    None => self.strings(
                        k,
                        v,
                        section,
                        "[\"CMD\", \"pg_isready\", \"-U\", \"postgres\"]",
                    ),
                };
                if hc.test.iter().all(|s| s.trim().is_empty())
                    || hc.test.last().is_some_and(|s| s.trim().is_empty())
                {
                    self.error(
                        v.span(),
                        format!("`test` in [{section}] is empty"),
                        "write the readiness command, e.g. `test = \"pg_isready -U postgres\"`"
                            .into(),
                    );
                }
            }
            None => self.error(
                header.span(),
                format!("[{section}] has no `test`"),
                "add the readiness command, e.g. `test = \"pg_isready -U postgres\"`".into(),
            ),
        }
        for (name, slot) in [
            ("interval", &mut hc.interval),
            ("timeout", &mut hc.timeout),
            ("start_period", &mut hc.start_period),
        ] {
            if let Some((k, v)) = t.get_key_value(name) {
                if let Some(text) = self.string(k, v, section, "\"5s\"") {
                    match parse_duration(text) {
                        Some(d) => *slot = Some(d),
                        None => self.error(
                            v.span(),
                            format!("`{name}` in [{section}] is not a duration: `{text}`"),
                            format!("write a duration such as `{name} = \"5s\"`, `\"500ms\"` or `\"1m30s\"`"),
                        ),
                    }
                }
            }
        }
        if let Some((k, v)) = t.get_key_value("retries") {
            match v.as_integer().and_then(|r| u32::try_from(r).ok()) {
                Some(r) => hc.retries = Some(r),
                None => self.wrong_type(
                    k,
                    v,
                    section,
                    "a whole number of at least 0",
                    "`retries = 5`".into(),
                ),
            }
        }
        Some(hc)
    }
}

/// Whether a port entry is made of numbers, one of them outside 1 to 65535 (`70000`,
/// `"8080:70000"`), so its error can say the range rather than "not a port mapping".
fn out_of_range(value: &toml_edit::Value) -> bool {
    let outside = |n: i64| !(1..=65535).contains(&n);
    if let Some(n) = value.as_integer() {
        return outside(n);
    }
    let Some(text) = value.as_str() else {
        return false;
    };
    let parts: Vec<&str> = text.split(':').collect();
    let ports = &parts[parts.len().saturating_sub(2)..];
    ports.iter().any(|p| p.parse::<i64>().is_ok_and(outside))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::{check, parse, HEAD};
    use std::time::Duration;

    #[test]
    fn services() {
        check(
            "[services.pg]\nversion = \"15\"\nport = 5432\n[services.replica]\nversion = \"15\"\nports = [\"5432:5432\"]\n",
            "host port 5432 of [services.replica] is already published by [services.pg] (line 7, column 8) at envsync.toml:10:9; publish another host port, e.g. `ports = [\"5433:5432\"]`",
        );
        check(
            "[services.Pg]\nversion = \"15\"\n[services.pg]\nversion = \"15\"\n",
            "service name `Pg` is not a valid name at envsync.toml:5:11; use lowercase letters, digits, `-` and `_` (it becomes a host name on the project network)\n\
             service `pg` duplicates service `Pg` declared at line 5 (service names are host names, compared without case and with `_` as `-`) at envsync.toml:7:11; remove one of them, or give them distinct names",
        );
        check(
            "[services.pg]\nversion = \"15\"\n[services.pg]\nport = 1\n",
            "TOML error: `pg` is declared twice at envsync.toml:7:1; merge the two declarations of `pg` into one",
        );
        check(
            "[services.pg]\nimage = \"postgres:latest\"\n",
            "[services.pg] has no `version` at envsync.toml:5:11; add the version it must run, e.g. `version = \"15.10\"`\n\
             image `postgres:latest` in [services.pg] is not pinned at envsync.toml:6:9; name an exact tag or digest, e.g. `image = \"postgres:15.10\"`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nimage = \"postgres:16.1-bookworm\"\n",
            "image `postgres:16.1-bookworm` in [services.pg] does not match `version = \"15\"` at envsync.toml:7:9; make the image tag and `version` name the same release",
        );
        let m = parse(&format!(
            "{HEAD}[services.pg]\nversion = \"15\"\nports = [5432, \"127.0.0.1:16379:6379\"]\n\
             healthcheck = {{ test = \"pg_isready\", interval = \"1m30s\", retries = 3 }}\npackages = {{ postgresql-15 = \"15.20-0+deb12u1\" }}\n"
        ))
        .unwrap();
        let pg = &m.services[0];
        assert_eq!(
            pg.ports[1],
            PortMapping {
                host_ip: Some(DEFAULT_HOST_IP),
                host: 16379,
                container: 6379
            }
        );
        let hc = pg.healthcheck.as_ref().unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "pg_isready"]);
        assert_eq!(hc.interval, Some(Duration::from_secs(90)));
        assert_eq!(
            m.locate(Ecosystem::Deb, "postgresql-15")
                .map(|l| l.to_string())
                .as_deref(),
            Some("envsync.toml:9:14")
        );
        assert_eq!(m.declared()[1].location.as_deref(), Some("service:pg"));
    }

    #[test]
    fn a_kind_names_what_an_image_runs() {
        check(
            "[services.db]\nversion = \"15\"\nimage = \"team/db:15.4\"\nkind = \"oracle\"\n",
            "`kind` in [services.db] is `oracle`, not a middleware envsync knows at envsync.toml:8:8; write one of `postgres`, `redis`, `nginx`, `mysql`, `mariadb`, `mongo`, `rabbitmq`",
        );
        check(
            "[services.db]\nversion = \"15\"\nkind = \"postgres\"\n",
            "[services.db] has `kind` but no `image` at envsync.toml:7:1; `kind` names what a pinned `image` runs; a service built from packages is named after its kind (`[services.postgres]`)",
        );
        let kind_of = |service: &str| {
            let m = parse(&format!("{HEAD}[services.db]\nversion = \"15\"\n{service}")).unwrap();
            m.services[0].kind()
        };
        use crate::middleware::ServiceKind::*;
        assert_eq!(
            kind_of("image = \"team/db:15.4\"\nkind = \"postgresql\"\n"),
            Some(Postgres)
        );
        assert_eq!(
            kind_of("image = \"localhost:5000/postgres:15.4\"\n"),
            Some(Postgres)
        );
        assert_eq!(kind_of("image = \"team/db:15.4\"\n"), None);
        // Built from packages: the recipe named after the service applies, not a kind.
        assert_eq!(kind_of(""), None);
    }

    #[test]
    fn ports_outside_the_range_say_the_range() {
        check(
            "[services.pg]\nversion = \"15\"\nport = 70000\n",
            "`port` in [services.pg] is `70000`, outside the port range 1 to 65535 at envsync.toml:7:8; write a port number from 1 to 65535, e.g. `port = 5432`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nport = 0\n",
            "`port` in [services.pg] is `0`, outside the port range 1 to 65535 at envsync.toml:7:8; write a port number from 1 to 65535, e.g. `port = 5432`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nports = [70000, \"8080:99999\"]\n",
            "port `70000` in [services.pg] is outside the port range 1 to 65535 at envsync.toml:7:10; write ports from 1 to 65535: a number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`)\n\
             port `\"8080:99999\"` in [services.pg] is outside the port range 1 to 65535 at envsync.toml:7:17; write ports from 1 to 65535: a number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`)",
        );
    }
}
