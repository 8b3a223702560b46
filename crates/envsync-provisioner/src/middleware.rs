//! Middleware service images built from the Debian base with Debian's own packages
//! (no image registry is involved): PostgreSQL, Redis and nginx, each with the command
//! that runs it in the foreground and a health check that needs nothing but the image.
//!
//! The image holds only the packages (and, for PostgreSQL, an entrypoint script); the
//! command and health check live in the container configuration, so changing them
//! recreates the container without rebuilding the image.

use std::time::Duration;

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
}
