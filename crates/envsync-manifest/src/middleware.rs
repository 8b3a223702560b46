//! The kinds of middleware envsync recognises in a service given by `image`: from the
//! repository's last path component (`postgres:15.4`, `registry.example/team/redis:7.0`)
//! or an explicit `kind = "postgres"` for a renamed repository, and the version an
//! image's tag names (`15.4-bookworm` names `15.4`). Pure: the health check, the
//! command that reads the running server's version and its parser live where they run
//! (envsync-provisioner and envsync-drift).

use std::fmt;

/// A middleware envsync knows how to check from inside its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKind {
    Postgres,
    Redis,
    Nginx,
    Mysql,
    Mariadb,
    Mongo,
    Rabbitmq,
}

impl ServiceKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [ServiceKind; 7] = [
        ServiceKind::Postgres,
        ServiceKind::Redis,
        ServiceKind::Nginx,
        ServiceKind::Mysql,
        ServiceKind::Mariadb,
        ServiceKind::Mongo,
        ServiceKind::Rabbitmq,
    ];

    /// The name a manifest's `kind` and the official images' repositories use.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Postgres => "postgres",
            ServiceKind::Redis => "redis",
            ServiceKind::Nginx => "nginx",
            ServiceKind::Mysql => "mysql",
            ServiceKind::Mariadb => "mariadb",
            ServiceKind::Mongo => "mongo",
            ServiceKind::Rabbitmq => "rabbitmq",
        }
    }

    /// The kind named `name` (`postgresql` and `mongodb` are accepted too).
    pub fn parse(name: &str) -> Option<ServiceKind> {
        match name {
            "postgresql" => Some(ServiceKind::Postgres),
            "mongodb" => Some(ServiceKind::Mongo),
            other => ServiceKind::ALL.into_iter().find(|k| k.as_str() == other),
        }
    }

    /// The kind of the image `reference` names, from its repository's last path
    /// component: `postgres:15.4`, `library/redis:7.0`, `localhost:5000/team/nginx:1.22`,
    /// `mysql@sha256:…`. `None` for any other repository (`team/billing-db:3`).
    pub fn of_image(reference: &str) -> Option<ServiceKind> {
        let (repository, _) = split_reference(reference);
        let last = repository.rsplit('/').next().unwrap_or(repository);
        ServiceKind::parse(last)
    }

    /// Every kind's name in backticks, comma-separated, for messages.
    pub fn names() -> String {
        ServiceKind::ALL
            .iter()
            .map(|k| format!("`{}`", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An image reference's repository and tag: `("postgres", Some("15.4"))` for
/// `postgres:15.4`, `("localhost:5000/redis", None)` for `localhost:5000/redis@sha256:…`.
/// A registry's port is not a tag: only a `:` after the last `/` starts one.
pub fn split_reference(reference: &str) -> (&str, Option<&str>) {
    let name = reference.split('@').next().unwrap_or(reference);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].find(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    }
}

/// The version a tag names: its leading dotted number (`15.4-bookworm` → `15.4`,
/// `7` → `7`, `1.22.1-alpine` → `1.22.1`), or `None` when it names none (`latest`,
/// `alpine`, `bookworm`).
pub fn tag_version(tag: &str) -> Option<&str> {
    let end = tag
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(tag.len());
    let version = tag[..end].trim_end_matches('.');
    (!version.is_empty() && version.starts_with(|c: char| c.is_ascii_digit())).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_image_references() {
        fn check(reference: &str, expected: Option<ServiceKind>) {
            assert_eq!(ServiceKind::of_image(reference), expected, "{reference}");
        }
        use ServiceKind::*;
        check("postgres:15.4", Some(Postgres));
        check("docker.io/library/postgres:15.4-bookworm", Some(Postgres));
        check("localhost:5000/team/redis:7.0", Some(Redis));
        check("localhost/envsync-test-1/nginx:1.22", Some(Nginx));
        check("mysql", Some(Mysql));
        check("mariadb:10.11@sha256:0123", Some(Mariadb));
        check("mongo:7.0", Some(Mongo));
        check("bitnami/mongodb:7.0", Some(Mongo));
        check("rabbitmq:3.12-management", Some(Rabbitmq));
        // A registry host named like a kind is not the repository.
        check("postgres:5000/team/billing-db:3", None);
        check("team/postgres-exporter:0.15", None);
        check("redis-stack:7.2", None);
        for kind in ServiceKind::ALL {
            assert_eq!(ServiceKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ServiceKind::parse("postgresql"), Some(Postgres));
        assert_eq!(ServiceKind::parse("memcached"), None);
    }

    #[test]
    fn versions_from_tags() {
        fn check(reference: &str, expected: Option<&str>) {
            let (_, tag) = split_reference(reference);
            assert_eq!(tag.and_then(tag_version), expected, "{reference}");
        }
        check("postgres:15.4", Some("15.4"));
        check("postgres:15.4-bookworm", Some("15.4"));
        check("redis:7", Some("7"));
        check("nginx:1.22.1-alpine", Some("1.22.1"));
        check("localhost:5000/mysql:8.0.35", Some("8.0.35"));
        check("postgres:latest@sha256:0123", None);
        check("redis:alpine", None);
        check("mongo@sha256:0123", None);
        check("rabbitmq:3.12.", Some("3.12"));
    }
}
