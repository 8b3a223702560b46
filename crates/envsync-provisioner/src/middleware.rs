//! Middleware service images built from the Debian base with Debian's own packages
//! (no image registry is involved): PostgreSQL, Redis and nginx, each with the command
//! that runs it in the foreground and a health check that needs nothing but the image.
//!
//! The image holds only the packages (and, for PostgreSQL, an entrypoint script); the
//! command and health check live in the container configuration, so changing them
//! recreates the container without rebuilding the image.

use std::time::Duration;

use envsync_manifest::middleware::ServiceKind;

use crate::env::{HealthSpec, ServiceSpec, VolumeMap};
use crate::run_error::RunError;
use crate::spec::{BuildSpec, FileSource, FileSpec, Pin, Req};

/// The base every service image is built from.
pub const SERVICE_BASE_IMAGE: &str = "envsync/debian:bookworm";

/// The kinds of middleware envsync knows how to build and run.
pub const KNOWN_SERVICES: &[&str] = &["postgres", "redis", "nginx"];

const POSTGRES_ENTRYPOINT: &str = include_str!("../../../images/services/postgres/entrypoint.sh");
const POSTGRES_ENTRYPOINT_PATH: &str = "/usr/local/bin/envsync-postgres-entrypoint";

/// How to build and run one middleware service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecipe {
    /// The image build (packages pinned as given).
    pub build: BuildSpec,
    /// The command that runs the service in the foreground.
    pub command: Vec<String>,
    pub healthcheck: HealthSpec,
    /// The port the service listens on inside the container.
    pub port: u16,
    /// Where the service keeps its data (mount a named volume here to keep it).
    pub data_dir: Option<String>,
}

impl ServiceRecipe {
    /// A [`ServiceSpec`] running this recipe's image `image` (the built tag or ID), named
    /// `name`, with the recipe's command and health check. Callers add env, ports and
    /// volumes from the manifest.
    pub fn service_spec(&self, name: &str, image: &str) -> ServiceSpec {
        ServiceSpec {
            name: name.to_string(),
            image: image.to_string(),
            env: Default::default(),
            ports: Vec::new(),
            healthcheck: Some(self.healthcheck.clone()),
            volumes: self
                .data_dir
                .iter()
                .map(|dir| VolumeMap {
                    source: format!("{name}-data"),
                    container_path: dir.clone(),
                    read_only: false,
                })
                .collect(),
            command: Some(self.command.clone()),
            stop_grace: crate::env::DEFAULT_STOP_GRACE,
            restart: crate::env::RestartPolicy::default(),
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The build spec, command and health check of middleware `service_name` (`postgres`,
/// `redis` or `nginx`) at `version` (`15`, `7.0`, `1.22`).
///
/// `packages` are the Debian packages to install, exactly pinned as the lock records
/// them (`redis-server` = `5:7.0.15-1~deb12u10`); when empty, the service's main
/// package is installed at the version Debian offers now. An exact pin whose upstream
/// version does not start with `version` is refused, naming both.
// Over 80 lines on purpose: one match arm per middleware holds that service's whole
// recipe (packages, configuration, command, health check), side by side.
pub fn service_build_spec(
    service_name: &str,
    version: &str,
    packages: &[Pin],
) -> Result<ServiceRecipe, RunError> {
    let invalid = |problem: String| RunError::InvalidSpec {
        field: format!("services.{service_name}"),
        problem,
    };
    let (main_package, recipe_tail) = match service_name {
        "postgres" | "postgresql" => {
            let major = version.split('.').next().unwrap_or_default();
            if major.is_empty() || !major.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(format!(
                    "version `{version}` is not a PostgreSQL major version; write e.g. `15`"
                )));
            }
            let bin = format!("/usr/lib/postgresql/{major}/bin");
            (
                format!("postgresql-{major}"),
                Tail {
                    command: vec![POSTGRES_ENTRYPOINT_PATH.to_string()],
                    health: HealthSpec {
                        test: strings(&[
                            "CMD",
                            &format!("{bin}/pg_isready"),
                            "-h",
                            "127.0.0.1",
                            "-p",
                            "5432",
                            "-q",
                        ]),
                        ..HealthSpec::shell("")
                    },
                    port: 5432,
                    data_dir: Some(format!("/var/lib/postgresql/{major}/main")),
                    files: vec![FileSpec {
                        path: POSTGRES_ENTRYPOINT_PATH.to_string(),
                        source: FileSource::Bytes(
                            POSTGRES_ENTRYPOINT
                                .replace("@PG_MAJOR@", major)
                                .into_bytes(),
                        ),
                        mode: 0o755,
                    }],
                },
            )
        }
        "redis" => (
            "redis-server".to_string(),
            Tail {
                command: strings(&[
                    "redis-server",
                    "--protected-mode",
                    "no",
                    "--bind",
                    "0.0.0.0",
                    "--dir",
                    "/var/lib/redis",
                ]),
                // `redis-cli ping` exits 0 on an error reply (`LOADING`) too; only PONG is ready.
                health: HealthSpec::shell("redis-cli -h 127.0.0.1 ping | grep -qx PONG"),
                port: 6379,
                data_dir: Some("/var/lib/redis".to_string()),
                files: vec![],
            },
        ),
        "nginx" => (
            "nginx".to_string(),
            Tail {
                command: strings(&["nginx", "-g", "daemon off;"]),
                // No curl in the image: the configuration must parse and port 80 must
                // accept a connection (bash's /dev/tcp).
                health: HealthSpec::shell("nginx -t -q && bash -c 'exec 3<>/dev/tcp/127.0.0.1/80'"),
                port: 80,
                data_dir: None,
                files: vec![],
            },
        ),
        other => {
            return Err(invalid(format!(
                "unknown service `{other}`; envsync builds {}",
                KNOWN_SERVICES
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };

    let mut apt: Vec<Pin> = packages.to_vec();
    match apt.iter().find(|p| p.name == main_package) {
        None => apt.push(Pin::any(&main_package)),
        Some(pin) => {
            if let Req::Exact(exact) = &pin.req {
                let upstream = upstream_version(exact);
                if !version_prefix_matches(version, upstream) {
                    return Err(invalid(format!(
                        "version `{version}` does not match the pinned `{main_package}` `{exact}`; update the lock or the version"
                    )));
                }
            }
        }
    }
    let mut build = BuildSpec::new(service_name, SERVICE_BASE_IMAGE);
    build.apt = apt;
    build.files = recipe_tail.files;
    Ok(ServiceRecipe {
        build,
        command: recipe_tail.command,
        healthcheck: HealthSpec {
            interval: Duration::from_millis(500),
            ..recipe_tail.health
        },
        port: recipe_tail.port,
        data_dir: recipe_tail.data_dir,
    })
}

/// The health check `up` gives a service whose `image` runs middleware `kind` (an
/// official image, or one built like it) when the manifest gives none. Each asks the
/// server over TCP on 127.0.0.1 where it can, because the official images' first-start
/// initialisation runs a temporary server on the Unix socket only; and each uses only
/// what such an image has (no curl in most of them).
pub fn image_healthcheck(kind: ServiceKind) -> HealthSpec {
    let script = match kind {
        // Debian's packages keep the PostgreSQL programs off PATH; the official image
        // puts them on it. pg_isready answers without a login.
        ServiceKind::Postgres => {
            "for d in /usr/lib/postgresql/*/bin; do PATH=\"$PATH:$d\"; done; pg_isready -q -h 127.0.0.1"
        }
        // An error reply (`LOADING`) is not ready; `NOAUTH` is a server that answers.
        ServiceKind::Redis => {
            "case \"$(redis-cli -h 127.0.0.1 ping 2>&1)\" in PONG|NOAUTH*) exit 0;; *) exit 1;; esac"
        }
        // Any HTTP answer when the image has curl; else a socket listening on port 80
        // (state 0A in the kernel's table), which needs nothing but grep.
        ServiceKind::Nginx => {
            "if command -v curl >/dev/null 2>&1; then curl -s -o /dev/null http://127.0.0.1/; \
             else grep -qE ': [0-9A-F]+:0050 [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6; fi"
        }
        // mysqladmin's ping succeeds on any answer, `Access denied` included.
        ServiceKind::Mysql => "mysqladmin ping -h 127.0.0.1 --silent",
        // The official image's own script when it has one; MariaDB 11 has no mysqladmin.
        ServiceKind::Mariadb => {
            "if command -v healthcheck.sh >/dev/null 2>&1; then healthcheck.sh --connect --innodb_initialized; \
             elif command -v mariadb-admin >/dev/null 2>&1; then mariadb-admin ping -h 127.0.0.1 --silent; \
             else mysqladmin ping -h 127.0.0.1 --silent; fi"
        }
        // mongosh since MongoDB 6, the legacy shell before; ping needs no login.
        ServiceKind::Mongo => {
            "if command -v mongosh >/dev/null 2>&1; then c=mongosh; else c=mongo; fi; \
             \"$c\" --quiet --host 127.0.0.1 --eval 'quit(db.adminCommand({ ping: 1 }).ok ? 0 : 1)'"
        }
        ServiceKind::Rabbitmq => "rabbitmq-diagnostics -q ping",
    };
    let slow = matches!(
        kind,
        ServiceKind::Mysql | ServiceKind::Mariadb | ServiceKind::Mongo | ServiceKind::Rabbitmq
    );
    HealthSpec {
        // A first start that initialises a database takes its time; the check's own
        // program (`rabbitmq-diagnostics` starts an Erlang node) is not instant.
        interval: Duration::from_millis(if slow { 1000 } else { 500 }),
        start_period: Duration::from_secs(if slow { 120 } else { 60 }),
        ..HealthSpec::shell(script)
    }
}

struct Tail {
    command: Vec<String>,
    health: HealthSpec,
    port: u16,
    data_dir: Option<String>,
    files: Vec<FileSpec>,
}

// Service versions are judged by the manifest's version rules, where `envsync up`'s
// verification (in drift) judges them too.
pub use envsync_manifest::version::upstream::{upstream_version, version_prefix_matches};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_recipe() {
        let r = service_build_spec(
            "redis",
            "7.0",
            &[Pin::exact("redis-server", "5:7.0.15-1~deb12u10")],
        )
        .unwrap();
        assert_eq!(r.build.base_image, SERVICE_BASE_IMAGE);
        assert_eq!(
            r.build.apt,
            vec![Pin::exact("redis-server", "5:7.0.15-1~deb12u10")]
        );
        assert_eq!(r.port, 6379);
        assert!(r.command.contains(&"--protected-mode".to_string()));
        r.build.validate().unwrap();
    }

    #[test]
    fn postgres_recipe_pins_the_major() {
        let r = service_build_spec("postgres", "15", &[]).unwrap();
        assert_eq!(r.build.apt, vec![Pin::any("postgresql-15")]);
        assert_eq!(
            r.healthcheck.test[1],
            "/usr/lib/postgresql/15/bin/pg_isready"
        );
        let FileSource::Bytes(script) = &r.build.files[0].source else {
            panic!("entrypoint is bytes");
        };
        let script = String::from_utf8_lossy(script);
        assert!(script.contains("PGBIN=/usr/lib/postgresql/15/bin"));
        assert!(!script.contains("@PG_MAJOR@"));
        r.build.validate().unwrap();
        assert!(service_build_spec("postgres", "fifteen", &[]).is_err());
    }

    #[test]
    fn mismatched_pin_and_unknown_service_are_refused() {
        let err = service_build_spec(
            "redis",
            "7.2",
            &[Pin::exact("redis-server", "5:7.0.15-1~deb12u10")],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "invalid environment: services.redis: version `7.2` does not match the pinned `redis-server` `5:7.0.15-1~deb12u10`; update the lock or the version"
        );
        assert!(service_build_spec("mysql", "8", &[])
            .unwrap_err()
            .to_string()
            .contains("unknown service `mysql`"));
        service_build_spec("nginx", "1.22", &[])
            .unwrap()
            .build
            .validate()
            .unwrap();
    }

    #[test]
    fn image_health_checks_use_each_kinds_own_probe_and_parse() {
        let programs = [
            (ServiceKind::Postgres, "pg_isready"),
            (ServiceKind::Redis, "redis-cli"),
            (ServiceKind::Nginx, "/proc/net/tcp"),
            (ServiceKind::Mysql, "mysqladmin ping"),
            (ServiceKind::Mariadb, "healthcheck.sh --connect"),
            (ServiceKind::Mongo, "ping: 1"),
            (ServiceKind::Rabbitmq, "rabbitmq-diagnostics -q ping"),
        ];
        for (kind, program) in programs {
            let h = image_healthcheck(kind);
            assert_eq!(h.test[0], "CMD-SHELL");
            assert!(h.test[1].contains(program), "{kind}: {}", h.test[1]);
            // The engine runs it with `/bin/sh -c`: it must parse there.
            let parsed = std::process::Command::new("sh")
                .args(["-n", "-c", &h.test[1]])
                .status()
                .expect("sh runs");
            assert!(parsed.success(), "{kind}: {}", h.test[1]);
        }
    }

    /// The Redis check run by `sh` against a `redis-cli` that answers `reply`.
    fn redis_check_with_reply(reply: &str) -> bool {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let fake = dir.path().join("redis-cli");
        std::fs::write(&fake, format!("#!/bin/sh\necho '{reply}'\n")).expect("write");
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let path = format!("{}:/usr/bin:/bin", dir.path().display());
        std::process::Command::new("sh")
            .args(["-c", &image_healthcheck(ServiceKind::Redis).test[1]])
            .env("PATH", path)
            .status()
            .expect("sh runs")
            .success()
    }

    #[test]
    fn redis_is_ready_when_it_answers_pong_or_asks_for_a_password() {
        assert!(redis_check_with_reply("PONG"));
        assert!(redis_check_with_reply("NOAUTH Authentication required."));
        assert!(!redis_check_with_reply(
            "LOADING Redis is loading the dataset in memory"
        ));
        assert!(!redis_check_with_reply(
            "Could not connect to Redis at 127.0.0.1:6379: Connection refused"
        ));
    }
}
