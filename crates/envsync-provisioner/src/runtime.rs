//! The manifest's run-time configuration: what containers get when they are created,
//! never baked into an image. Environment values are interpolated (`${VAR}`) from the
//! process environment over a `.env` file beside the manifest; the development container
//! gets `[dev]`, the connection variables of the services and the language environments
//! on its `PATH`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use envsync_manifest::dotenv::{interpolate, parse_dotenv};
use envsync_manifest::manifest::{DevUser as ManifestDevUser, EnvVar, Healthcheck, Service};
use envsync_manifest::Manifest;

use crate::env::{
    DevSpec, DevUser, HealthSpec, PortMap, ServiceSpec, Stack, VolumeMap, DEFAULT_STOP_GRACE,
    DEV_SERVICE,
};
use crate::error::ProvisionError;

/// The `PATH` of the Debian images envsync builds, after the language environments.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `${VAR}` finds its values: the process environment, then the `.env` file.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    process: BTreeMap<String, String>,
    dotenv: BTreeMap<String, String>,
    /// The `.env` file's path, named in messages.
    dotenv_path: PathBuf,
}

impl Variables {
    /// The process environment and the `.env` beside `manifest` (none is fine).
    pub fn load(manifest: &Manifest) -> Result<Variables, ProvisionError> {
        let dotenv_path = manifest
            .file
            .parent()
            .map(|d| d.join(".env"))
            .unwrap_or_else(|| PathBuf::from(".env"));
        let dotenv = match std::fs::read_to_string(&dotenv_path) {
            Ok(text) => parse_dotenv(&text).map_err(|source| ProvisionError::Dotenv {
                path: dotenv_path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(ProvisionError::ReadInput {
                    path: dotenv_path,
                    what: "the variables of `${VAR}`".into(),
                    source,
                })
            }
        };
        Ok(Variables {
            process: std::env::vars().collect(),
            dotenv,
            dotenv_path,
        })
    }

    /// Variables from these maps only (tests).
    pub fn from_maps(
        process: BTreeMap<String, String>,
        dotenv: BTreeMap<String, String>,
    ) -> Variables {
        Variables {
            process,
            dotenv,
            dotenv_path: PathBuf::from(".env"),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.process
            .get(name)
            .or_else(|| self.dotenv.get(name))
            .cloned()
    }

    /// `vars` (of `[section]` in `manifest`) with their values interpolated.
    pub fn env(
        &self,
        manifest: &Manifest,
        vars: &[EnvVar],
        section: &str,
    ) -> Result<BTreeMap<String, String>, ProvisionError> {
        let mut out = BTreeMap::new();
        for var in vars {
            let value = interpolate(&var.value, &|name| self.get(name)).map_err(|source| {
                ProvisionError::Interpolation {
                    what: format!(
                        "{}:{}: value of `{}` in [{section}]",
                        manifest.file.display(),
                        var.line,
                        var.name
                    ),
                    dotenv: self.dotenv_path.clone(),
                    source: Box::new(source),
                }
            })?;
            out.insert(var.name.clone(), value);
        }
        Ok(out)
    }
}

/// The environment of the service `service`, interpolated.
pub fn service_env(
    manifest: &Manifest,
    vars: &Variables,
    service: &Service,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    vars.env(
        manifest,
        &service.env,
        &format!("services.{}.env", service.name),
    )
}

/// The development container of `manifest`, running `image` with the project mounted at
/// `mount_project_at` as `user`: `[dev]`'s settings, and an environment of (weakest
/// first) the services' connection variables, the language environments' `PATH`,
/// `[env]` and `[dev.env]`.
pub fn dev_spec(
    manifest: &Manifest,
    vars: &Variables,
    image: &str,
    mount_project_at: &str,
    user: Option<DevUser>,
) -> Result<DevSpec, ProvisionError> {
    let dev = manifest.dev.clone().unwrap_or_default();
    let mut env = connection_env(manifest, vars, &dev.connections)?;
    if let Some(path) = language_path(manifest) {
        env.insert("PATH".into(), path);
    }
    env.extend(vars.env(manifest, &manifest.env, "env")?);
    env.extend(vars.env(manifest, &dev.env, "dev.env")?);
    Ok(DevSpec {
        image: image.to_string(),
        mount_project_at: mount_project_at.to_string(),
        user,
        env,
        ports: dev.ports.iter().map(PortMap::from).collect(),
        command: (!dev.command.is_empty()).then(|| dev.command.clone()),
        stop_grace: dev.stop_grace.unwrap_or(DEFAULT_STOP_GRACE),
        restart: dev.restart.map(Into::into).unwrap_or_default(),
        workdir: dev.workdir.clone(),
        aliases: dev.aliases.clone(),
        post_create: dev.post_create.clone(),
        healthcheck: dev
            .healthcheck
            .as_ref()
            .map(|h| health_spec(h, &HealthSpec::shell(""))),
    })
}

/// The user the development container runs as, for `[dev] user` (`setting`) and the
/// user running envsync (`invoking`: UID, GID and its name on this machine, if it has
/// one): `auto` is that user under its own name (root stays root), a name is that user
/// renamed (UID and GID 1000 when envsync runs as root, the first user Debian's
/// `adduser` creates, as dev container images have it).
pub fn dev_user(setting: &ManifestDevUser, invoking: (u32, u32, Option<&str>)) -> DevUser {
    let (uid, gid, name) = invoking;
    match setting {
        ManifestDevUser::Root => DevUser::root(),
        ManifestDevUser::Auto if uid == 0 => DevUser::root(),
        ManifestDevUser::Auto => DevUser {
            // A name `/etc/passwd` can hold; one from a directory service might not.
            name: name
                .filter(|n| !n.is_empty() && !n.contains([':', '\n', '/']))
                .map_or_else(|| format!("user{uid}"), str::to_string),
            uid,
            gid,
        },
        ManifestDevUser::Named(name) if uid == 0 => DevUser {
            name: name.clone(),
            uid: 1000,
            gid: 1000,
        },
        ManifestDevUser::Named(name) => DevUser {
            name: name.clone(),
            uid,
            gid,
        },
    }
}

/// The name of user `uid` in the text of an `/etc/passwd`.
pub fn passwd_name(passwd: &str, uid: u32) -> Option<&str> {
    let uid = uid.to_string();
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then_some(name)
    })
}

/// `PATH` with every virtualenv's `bin` and every Node project's `node_modules/.bin`
/// first, in manifest order; `None` when the manifest declares none.
pub fn language_path(manifest: &Manifest) -> Option<String> {
    let venvs = manifest
        .python
        .iter()
        .flat_map(|p| p.venvs.iter().map(|v| format!("{}/bin", v.path)));
    let projects = manifest.node.iter().flat_map(|n| {
        n.projects
            .iter()
            .map(|p| format!("{}/node_modules/.bin", p.path))
    });
    let dirs: Vec<String> = venvs.chain(projects).collect();
    (!dirs.is_empty()).then(|| format!("{}:{SYSTEM_PATH}", dirs.join(":")))
}

/// What a service is, for its connection URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    Redis,
}

fn kind(service: &Service) -> Option<Kind> {
    let image = service.image.as_deref().unwrap_or_default();
    let repo = image
        .split(['@', ':'])
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    match (service.name.as_str(), repo) {
        ("postgres" | "postgresql", _) | (_, "postgres" | "postgresql") => Some(Kind::Postgres),
        ("redis", _) | (_, "redis") => Some(Kind::Redis),
        _ => None,
    }
}

/// `DATABASE_URL` for a PostgreSQL service and `REDIS_URL` for Redis (the first of each),
/// or the names `[dev.connections]` gives (`false`: none), built from the services'
/// interpolated environments.
fn connection_env(
    manifest: &Manifest,
    vars: &Variables,
    chosen: &[(String, Option<String>)],
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let mut out = BTreeMap::new();
    for service in &manifest.services {
        let Some(kind) = kind(service) else { continue };
        let name = match chosen.iter().find(|(s, _)| *s == service.name) {
            Some((_, name)) => name.clone(),
            None => Some(match kind {
                Kind::Postgres => "DATABASE_URL".to_string(),
                Kind::Redis => "REDIS_URL".to_string(),
            }),
        };
        let Some(name) = name else { continue };
        if out.contains_key(&name) {
            continue;
        }
        let env = service_env(manifest, vars, service)?;
        let host = &service.name;
        let url = match kind {
            Kind::Postgres => {
                let user = env.get("POSTGRES_USER").map_or("postgres", String::as_str);
                let db = env.get("POSTGRES_DB").map_or(user, String::as_str);
                let password = env
                    .get("POSTGRES_PASSWORD")
                    .map(|p| format!(":{}", encode(p)))
                    .unwrap_or_default();
                format!(
                    "postgresql://{}{password}@{host}:5432/{}",
                    encode(user),
                    encode(db)
                )
            }
            Kind::Redis => format!("redis://{host}:6379/0"),
        };
        out.insert(name, url);
    }
    Ok(out)
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A manifest service as the provisioner runs it: the manifest's settings over the
/// recipe's defaults (command, health check, data volume), or, for a service given by
/// `image`, over the default health check of the middleware it runs (`Service::kind`).
pub fn service_spec(
    service: &Service,
    image: &str,
    recipe: Option<&crate::middleware::ServiceRecipe>,
) -> ServiceSpec {
    let mut spec = match recipe {
        Some(recipe) => recipe.service_spec(&service.name, image),
        None => ServiceSpec {
            name: service.name.clone(),
            image: image.to_string(),
            env: BTreeMap::new(),
            ports: vec![],
            // An image of a middleware envsync knows gets that middleware's check.
            healthcheck: service.kind().map(crate::middleware::image_healthcheck),
            volumes: vec![],
            command: None,
            stop_grace: DEFAULT_STOP_GRACE,
            restart: Default::default(),
        },
    };
    spec.env = service
        .env
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    spec.ports = service.ports.iter().map(PortMap::from).collect();
    if !service.volumes.is_empty() {
        spec.volumes = service.volumes.iter().map(VolumeMap::from).collect();
    }
    if !service.command.is_empty() {
        spec.command = Some(service.command.clone());
    }
    if let Some(grace) = service.stop_grace {
        spec.stop_grace = grace;
    }
    if let Some(restart) = service.restart {
        spec.restart = restart.into();
    }
    if let Some(h) = &service.healthcheck {
        let defaults = spec
            .healthcheck
            .clone()
            .unwrap_or_else(|| HealthSpec::shell(""));
        spec.healthcheck = Some(health_spec(h, &defaults));
    }
    spec
}

/// A manifest health check over `defaults` (the recipe's, or envsync's own).
fn health_spec(h: &Healthcheck, defaults: &HealthSpec) -> HealthSpec {
    let test = match h.test.first().map(String::as_str) {
        Some("CMD" | "CMD-SHELL" | "NONE") => h.test.clone(),
        _ => std::iter::once("CMD".to_string())
            .chain(h.test.iter().cloned())
            .collect(),
    };
    HealthSpec {
        test,
        interval: h.interval.unwrap_or(defaults.interval),
        timeout: h.timeout.unwrap_or(defaults.timeout),
        retries: h.retries.unwrap_or(defaults.retries),
        start_period: h.start_period.unwrap_or(defaults.start_period),
    }
}

/// The start order of `manifest` (every `depends_on`), running only `selected` (service
/// names and [`DEV_SERVICE`]): the manifest's other services are left alone.
pub fn stack(manifest: &Manifest, selected: &[String]) -> Stack {
    let mut depends_on: BTreeMap<String, Vec<String>> = manifest
        .services
        .iter()
        .map(|s| {
            let names = s.depends_on.iter().map(|d| d.name.clone()).collect();
            (s.name.clone(), names)
        })
        .collect();
    // Without a `depends_on` of its own, the development container starts after every
    // service that does not wait for it (see `run::start_waves`).
    let dev: Vec<String> = manifest
        .dev
        .iter()
        .flat_map(|d| &d.depends_on)
        .map(|d| d.name.clone())
        .collect();
    if !dev.is_empty() {
        depends_on.insert(DEV_SERVICE.into(), dev);
    }
    let leave_alone = manifest
        .services
        .iter()
        .map(|s| s.name.clone())
        .chain([DEV_SERVICE.to_string()])
        .filter(|name| !selected.contains(name))
        .collect();
    Stack {
        depends_on,
        leave_alone,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const MANIFEST: &str = r#"[project]
name = "app"
[base]
image = "debian:bookworm"
[python.venvs."/opt/venv".packages]
django = "*"
[services.postgres]
version = "15"
env = { POSTGRES_USER = "app", POSTGRES_DB = "benefits", POSTGRES_PASSWORD = "${PGPASS}" }
[services.redis]
version = "7.0"
[env]
GREETING = "hi ${WHO:-you}"
[dev]
ports = ["8000:8000"]
command = ["gunicorn", "app:app"]
aliases = ["app"]
post_create = ["pip install -e ."]
restart = "no"
[dev.env]
GREETING = "dev"
[dev.connections]
redis = "CACHE_URL"
"#;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Variables::from_maps(BTreeMap::new(), map)
    }

    #[test]
    fn dev_container_from_the_manifest() {
        let m = Manifest::parse(MANIFEST, Path::new("envsync.toml")).unwrap();
        let spec = dev_spec(
            &m,
            &vars(&[("PGPASS", "p@ss word")]),
            "img",
            "/workspace",
            None,
        )
        .unwrap();
        assert_eq!(
            spec.env["DATABASE_URL"],
            "postgresql://app:p%40ss%20word@postgres:5432/benefits"
        );
        assert_eq!(spec.env["CACHE_URL"], "redis://redis:6379/0");
        assert!(!spec.env.contains_key("REDIS_URL"));
        assert_eq!(spec.env["GREETING"], "dev");
        assert!(spec.env["PATH"].starts_with("/opt/venv/bin:/usr/local/sbin:"));
        assert_eq!(spec.ports[0].host, 8000);
        assert_eq!(
            spec.command.as_deref(),
            Some(&["gunicorn".to_string(), "app:app".into()][..])
        );
        assert_eq!(spec.aliases, ["app"]);
        assert_eq!(spec.post_create, ["pip install -e ."]);
        assert_eq!(spec.restart, crate::env::RestartPolicy::No);

        let err = dev_spec(&m, &vars(&[]), "img", "/workspace", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "envsync.toml:9: value of `POSTGRES_PASSWORD` in [services.postgres.env] cannot be interpolated; set the variable in the environment or in `.env`"
        );
    }

    #[test]
    fn dev_user_from_setting_and_invoking_user() {
        fn check(
            setting: ManifestDevUser,
            invoking: (u32, u32, Option<&str>),
            expected: (&str, u32, u32),
        ) {
            let u = dev_user(&setting, invoking);
            assert_eq!((u.name.as_str(), u.uid, u.gid), expected);
        }
        use ManifestDevUser::{Auto, Named, Root};
        check(Auto, (1001, 100, Some("ana")), ("ana", 1001, 100));
        check(Auto, (1001, 100, None), ("user1001", 1001, 100));
        check(Auto, (1001, 100, Some("a:b")), ("user1001", 1001, 100));
        check(Auto, (0, 0, Some("root")), ("root", 0, 0));
        check(Root, (1001, 100, Some("ana")), ("root", 0, 0));
        check(
            Named("dev".into()),
            (1001, 100, Some("ana")),
            ("dev", 1001, 100),
        );
        check(
            Named("dev".into()),
            (0, 0, Some("root")),
            ("dev", 1000, 1000),
        );

        let passwd = "root:x:0:0:root:/root:/bin/bash\nana:x:1001:100::/home/ana:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 1001), Some("ana"));
        assert_eq!(passwd_name(passwd, 0), Some("root"));
        assert_eq!(passwd_name(passwd, 7), None);
    }

    #[test]
    fn process_environment_wins_over_dotenv() {
        let v = Variables::from_maps(
            BTreeMap::from([("WHO".to_string(), "proc".to_string())]),
            BTreeMap::from([("WHO".to_string(), "file".to_string())]),
        );
        let m = Manifest::parse(MANIFEST, Path::new("envsync.toml")).unwrap();
        assert_eq!(v.env(&m, &m.env, "env").unwrap()["GREETING"], "hi proc");
    }
}

#[cfg(test)]
mod service_spec_tests {
    use std::time::Duration;

    use envsync_manifest::manifest::{EnvVar, PortMapping};

    use super::*;

    fn service() -> Service {
        Service {
            name: "redis".into(),
            version: "7.0".into(),
            image: None,
            kind: None,
            ports: vec![PortMapping {
                host_ip: None,
                host: 16379,
                container: 6379,
            }],
            env: vec![EnvVar {
                name: "A".into(),
                value: "1".into(),
                line: 3,
            }],
            healthcheck: None,
            volumes: vec![],
            packages: vec![],
            command: vec![],
            stop_grace: None,
            restart: None,
            files: vec![],
            depends_on: vec![],
            profiles: vec![],
            line: 1,
            column: 1,
        }
    }

    #[test]
    fn recipe_defaults_under_manifest_settings() {
        let recipe = crate::middleware::service_build_spec("redis", "7.0", &[]).unwrap();
        let spec = service_spec(&service(), "envsync/redis:x", Some(&recipe));
        assert_eq!(spec.command, Some(recipe.command.clone()));
        assert_eq!(spec.healthcheck, Some(recipe.healthcheck.clone()));
        assert_eq!(
            spec.ports,
            [PortMap {
                host: 16379,
                container: 6379,
                host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
            }]
        );
        assert_eq!(spec.env["A"], "1");
        assert_eq!(spec.volumes[0].source, "redis-data");

        let mut s = service();
        s.command = vec!["redis-server".into(), "--appendonly".into(), "yes".into()];
        s.volumes = vec![
            envsync_manifest::manifest::VolumeMount::parse("cache:/var/lib/redis:ro")
                .expect("a valid volume"),
        ];
        s.healthcheck = Some(Healthcheck {
            test: vec!["redis-cli".into(), "ping".into()],
            interval: Some(Duration::from_secs(2)),
            timeout: None,
            start_period: None,
            retries: Some(3),
        });
        let spec = service_spec(&s, "envsync/redis:x", Some(&recipe));
        assert_eq!(spec.command, Some(s.command.clone()));
        assert_eq!(
            spec.volumes,
            [VolumeMap {
                source: "cache".into(),
                container_path: "/var/lib/redis".into(),
                read_only: true,
            }]
        );
        let h = spec.healthcheck.unwrap();
        assert_eq!(h.test, ["CMD", "redis-cli", "ping"]);
        assert_eq!(
            (h.interval, h.retries, h.timeout),
            (Duration::from_secs(2), 3, recipe.healthcheck.timeout)
        );
    }

    #[test]
    fn an_image_of_known_middleware_gets_its_health_check_unless_the_manifest_gives_one() {
        use envsync_manifest::middleware::ServiceKind;
        let mut s = service();
        s.image = Some("localhost/team/redis:7.0".into());
        let spec = service_spec(&s, "localhost/team/redis:7.0", None);
        assert_eq!(
            spec.healthcheck,
            Some(crate::middleware::image_healthcheck(ServiceKind::Redis))
        );
        // A repository named otherwise: the manifest's `kind` says what it runs.
        s.image = Some("team/cache:7.0".into());
        assert_eq!(service_spec(&s, "team/cache:7.0", None).healthcheck, None);
        s.kind = Some(ServiceKind::Postgres);
        let h = service_spec(&s, "team/cache:7.0", None)
            .healthcheck
            .unwrap();
        assert!(h.test[1].contains("pg_isready"), "{:?}", h.test);
        s.healthcheck = Some(Healthcheck {
            test: vec!["true".into()],
            interval: None,
            timeout: None,
            start_period: None,
            retries: None,
        });
        let h = service_spec(&s, "team/cache:7.0", None)
            .healthcheck
            .unwrap();
        assert_eq!(h.test, ["CMD", "true"]);
    }
}
