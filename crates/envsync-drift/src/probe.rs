//! The version a running middleware server reports from inside its container: one
//! `exec` of a short shell script per service (`SELECT version()` for PostgreSQL,
//! `INFO server` for Redis, `nginx -v`, …) and a parser of what it prints. `envsync up`
//! compares it with the version the service's image tag and `version` declare
//! ([`crate::verify::check_image_service`]). The parsers are pure and unit-tested; the
//! script runs through [`crate::docker::run_script`].

use std::time::Duration;

use envsync_manifest::middleware::ServiceKind;

use crate::error::DriftError;

/// How long a version command may take before its answer counts as unreadable.
const PROBE_TIME_LIMIT: Duration = Duration::from_secs(30);

/// What a server said its version is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// The version it reported (`15.14`, `7.0.15`).
    Version(String),
    /// No version could be read: what the command printed (or why it did not run).
    Unreadable(String),
}

/// The shell script that prints the running server's version in the container of a
/// `kind` service: the server itself asked where that needs no password, else its own
/// program's `--version`. Programs are looked up where the official images and
/// Debian's packages put them.
pub fn version_script(kind: ServiceKind) -> &'static str {
    match kind {
        // The server over its Unix socket (the official image trusts local connections),
        // else the server program; Debian keeps both off PATH.
        ServiceKind::Postgres => {
            "for d in /usr/lib/postgresql/*/bin; do PATH=\"$PATH:$d\"; done; \
             psql -X -w -A -t -U \"${POSTGRES_USER:-postgres}\" -d postgres -c 'SELECT version()' 2>/dev/null \
             || postgres --version"
        }
        ServiceKind::Redis => {
            "redis-cli -h 127.0.0.1 INFO server 2>/dev/null | grep '^redis_version:' || redis-server --version"
        }
        ServiceKind::Nginx => "nginx -v 2>&1",
        // Asking the server needs the root password; its program is the same binary.
        ServiceKind::Mysql => "mysqld --version",
        ServiceKind::Mariadb => "mariadbd --version 2>/dev/null || mysqld --version",
        ServiceKind::Mongo => "mongod --version",
        ServiceKind::Rabbitmq => {
            "rabbitmq-diagnostics -q server_version 2>/dev/null || rabbitmqctl -q version"
        }
    }
}

/// The text after which each kind's output names its version; a kind with none (the
/// version is all RabbitMQ prints) takes the first version in the output.
fn markers(kind: ServiceKind) -> &'static [&'static str] {
    match kind {
        // `PostgreSQL 15.14 (Debian …) on x86_64…` and `postgres (PostgreSQL) 15.14 (…)`.
        ServiceKind::Postgres => &["PostgreSQL"],
        // `redis_version:7.0.15` and `Redis server v=7.0.15 sha=…`.
        ServiceKind::Redis => &["redis_version:", "v="],
        // `nginx version: nginx/1.22.1`.
        ServiceKind::Nginx => &["nginx/"],
        // `/usr/sbin/mysqld  Ver 8.0.35 for Linux…`, `mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 …`.
        ServiceKind::Mysql | ServiceKind::Mariadb => &["Ver "],
        // `db version v7.0.2`.
        ServiceKind::Mongo => &["db version v"],
        ServiceKind::Rabbitmq => &[],
    }
}

/// The version in `output` of a `kind` server's version command: the dotted number
/// right after the kind's marker (`10.11.6` of `Ver 10.11.6-MariaDB-0+deb12u1`).
pub fn parse_version(kind: ServiceKind, output: &str) -> Option<String> {
    let markers = markers(kind);
    if markers.is_empty() {
        return output.split_whitespace().find_map(leading_version);
    }
    markers.iter().find_map(|marker| {
        let (_, after) = output.split_once(marker)?;
        // `(PostgreSQL) 15.14`: what separates marker and number is not part of either.
        let start = after.find(|c: char| c.is_ascii_digit())?;
        after[..start]
            .chars()
            .all(|c| c == ' ' || c == ')')
            .then(|| leading_version(&after[start..]))
            .flatten()
    })
}

/// The dotted number `text` starts with (`15.14` of `15.14 (Debian`), if any.
fn leading_version(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let version = text[..end].trim_end_matches('.');
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_string())
}

/// Ask the `kind` server running in container `name` for its version. A command that
/// fails, prints no version or outlasts its time limit is [`Reported::Unreadable`]; only
/// a container or engine that cannot be reached is an error.
pub async fn reported_version(name: &str, kind: ServiceKind) -> Result<Reported, DriftError> {
    let run = crate::docker::run_script(name, version_script(kind));
    let Ok(ran) = tokio::time::timeout(PROBE_TIME_LIMIT, run).await else {
        return Ok(Reported::Unreadable(format!(
            "`{}` gave no answer within {} s",
            version_script(kind),
            PROBE_TIME_LIMIT.as_secs()
        )));
    };
    let (code, output) = ran?;
    Ok(match (code, parse_version(kind, &output)) {
        (Some(0), Some(version)) => Reported::Version(version),
        _ => Reported::Unreadable(format!(
            "`{}` exited {} printing `{}`",
            version_script(kind),
            code.map_or_else(|| "without a code".to_string(), |c| c.to_string()),
            output.trim().lines().next().unwrap_or_default()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceKind::*;

    fn check(kind: ServiceKind, output: &str, expected: Option<&str>) {
        assert_eq!(
            parse_version(kind, output).as_deref(),
            expected,
            "{kind}: {output}"
        );
    }

    #[test]
    fn versions_as_each_server_prints_them() {
        check(
            Postgres,
            "PostgreSQL 15.14 (Debian 15.14-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc",
            Some("15.14"),
        );
        check(
            Postgres,
            "postgres (PostgreSQL) 16.1 (Debian 16.1-1.pgdg120+1)",
            Some("16.1"),
        );
        check(Postgres, "psql: error: connection refused", None);
        check(Redis, "redis_version:7.0.15\r\n", Some("7.0.15"));
        check(
            Redis,
            "Redis server v=7.2.4 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1",
            Some("7.2.4"),
        );
        check(Nginx, "nginx version: nginx/1.22.1\n", Some("1.22.1"));
        check(
            Mysql,
            "/usr/sbin/mysqld  Ver 8.0.35 for Linux on x86_64 (MySQL Community Server - GPL)",
            Some("8.0.35"),
        );
        check(
            Mariadb,
            "mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)",
            Some("10.11.6"),
        );
        check(
            Mongo,
            "db version v7.0.2\nBuild Info: {\n    \"version\": \"7.0.2\"",
            Some("7.0.2"),
        );
        check(Rabbitmq, "3.12.6\n", Some("3.12.6"));
        check(
            Rabbitmq,
            "Error: unable to perform an operation on node",
            None,
        );
        check(Nginx, "sh: 1: nginx: not found", None);
    }

    #[test]
    fn odd_output_gives_no_version_rather_than_a_wrong_one() {
        // Text between the marker and the number is not skipped: a different field.
        check(Postgres, "PostgreSQL client é 15.4", None);
        check(Nginx, "nginx/é1.22", None);
        check(Nginx, "nginx/1.22é", Some("1.22"));
        check(Redis, "redis_version:", None);
        check(Mongo, "db version v", None);
        check(Mysql, "", None);
        check(Rabbitmq, "..", None);
    }

    #[test]
    fn every_script_parses_in_sh() {
        for kind in ServiceKind::ALL {
            let parsed = std::process::Command::new("sh")
                .args(["-n", "-c", version_script(kind)])
                .status()
                .expect("sh runs");
            assert!(parsed.success(), "{kind}: {}", version_script(kind));
        }
    }
}
