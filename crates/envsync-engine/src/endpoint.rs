//! Which engine to talk to and how, decided as the docker CLI decides it:
//! `DOCKER_HOST` (with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` for `tcp://`), else the
//! context `DOCKER_CONTEXT` or `currentContext` in `config.json` names, else the
//! platform's default socket.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::DockerConfig;
use crate::EngineError;

/// The engine address used when nothing else names one.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How envsync reaches an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A local socket: `unix:///var/run/docker.sock`.
    Unix(PathBuf),
    /// `tcp://host:port`, in clear text or with TLS (client certificate and CA).
    Tcp { addr: String, tls: Option<TlsFiles> },
    /// `ssh://[user@]host[:port]`: `docker system dial-stdio` run over the user's ssh.
    Ssh(SshDestination),
}

/// The three files of a TLS client, as the docker CLI names them in a cert directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// An `ssh://` engine address taken apart; the port is a port, not part of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDestination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshDestination {
    /// The arguments that make `ssh` reach this destination. Only user, port and host:
    /// the user's own ssh configuration and known hosts decide everything else.
    pub fn ssh_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        // `--` so that a host name can never be read as an option.
        args.extend(["--".to_string(), self.host.clone()]);
        args
    }
}

/// Where the endpoint came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    DockerHost,
    Context(String),
    Default,
}

/// The engine to use: its endpoint, the address as the user wrote it, and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub endpoint: Endpoint,
    pub host: String,
    pub origin: Origin,
}

/// What endpoint resolution reads from the environment, passed in so that tests can
/// give their own.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub docker_host: Option<String>,
    pub tls_verify: Option<String>,
    pub cert_path: Option<PathBuf>,
    pub context: Option<String>,
    /// The docker CLI's configuration directory (`DOCKER_CONFIG`, or `~/.docker`).
    pub config_dir: Option<PathBuf>,
}

impl Environment {
    /// The client certificate files for a `tcp://` address, when `DOCKER_TLS_VERIFY` is
    /// set: in `DOCKER_CERT_PATH`, else the docker CLI's configuration directory.
    pub fn tls_files(&self) -> Option<TlsFiles> {
        self.tls_verify.as_ref().map(|_| {
            let dir = self
                .cert_path
                .clone()
                .or_else(|| self.config_dir.clone())
                .unwrap_or_else(|| PathBuf::from(".docker"));
            TlsFiles::in_dir(&dir)
        })
    }

    /// The process environment, read the way the docker CLI reads it.
    pub fn from_process() -> Environment {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        Environment {
            docker_host: var("DOCKER_HOST"),
            tls_verify: var("DOCKER_TLS_VERIFY"),
            cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            context: var("DOCKER_CONTEXT"),
            config_dir: crate::config::config_dir(),
        }
    }
}

/// Decide the engine from `env`. A context named but not found, or an address envsync
/// cannot use, is an error naming it.
pub fn resolve(env: &Environment) -> Result<Resolved, EngineError> {
    if let Some(host) = &env.docker_host {
        return Ok(Resolved {
            endpoint: parse_host(host, env.tls_files())?,
            host: host.clone(),
            origin: Origin::DockerHost,
        });
    }
    let context = match &env.context {
        Some(name) => Some(name.clone()),
        None => match &env.config_dir {
            Some(dir) => DockerConfig::load(dir)?.current_context,
            None => None,
        },
    };
    match (context, &env.config_dir) {
        (Some(name), Some(dir)) if name != "default" => from_context(dir, &name),
        _ => Ok(Resolved {
            endpoint: parse_host(DEFAULT_HOST, None)?,
            host: DEFAULT_HOST.to_string(),
            origin: Origin::Default,
        }),
    }
}

/// Parse an engine address: `unix://PATH`, `tcp://HOST:PORT` (TLS when `tls` is given),
/// or `ssh://[USER@]HOST[:PORT]`.
pub fn parse_host(host: &str, tls: Option<TlsFiles>) -> Result<Endpoint, EngineError> {
    let unsupported = |reason: &str| EngineError::BadHost {
        host: host.to_string(),
        reason: reason.to_string(),
    };
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(unsupported("the socket path is empty"));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("https://"))
    {
        let addr = rest.trim_end_matches('/');
        if addr.is_empty() || addr.contains('/') {
            return Err(unsupported("expected `tcp://HOST:PORT`"));
        }
        return Ok(Endpoint::Tcp {
            addr: addr.to_string(),
            tls,
        });
    }
    if let Some(rest) = host.strip_prefix("ssh://") {
        return parse_ssh(rest.trim_end_matches('/'))
            .map(Endpoint::Ssh)
            .map_err(&unsupported);
    }
    Err(unsupported(
        "envsync speaks to `unix://`, `tcp://` and `ssh://` engines",
    ))
}

fn parse_ssh(rest: &str) -> Result<SshDestination, &'static str> {
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((user, hostport)) if !user.is_empty() => (Some(user.to_string()), hostport),
        Some(_) => return Err("the user before `@` is empty"),
        None => (None, rest),
    };
    if hostport.contains('/') {
        return Err("a path after the host is not supported for ssh:// engines");
    }
    // `[::1]:22`, `host:22` or `host`.
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("unclosed `[` in the host")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err("unexpected text after `]`"),
        }
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.starts_with('-') {
        return Err("the host is empty or starts with `-`");
    }
    let port = match port {
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| "the port is not a number from 1 to 65535")?,
        ),
        None => None,
    };
    if port == Some(0) {
        return Err("the port is not a number from 1 to 65535");
    }
    Ok(SshDestination {
        user,
        host: host.to_string(),
        port,
    })
}

/// The endpoint of context `name`, from `contexts/meta/<sha256(name)>/meta.json` in the
/// docker configuration directory, with its TLS files from `contexts/tls/<sha256>/docker`.
fn from_context(config_dir: &Path, name: &str) -> Result<Resolved, EngineError> {
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta_file = config_dir
        .join("contexts")
        .join("meta")
        .join(&id)
        .join("meta.json");
    let bad = |reason: String| EngineError::BadContext {
        name: name.to_string(),
        file: meta_file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&meta_file).map_err(|err| {
        bad(if err.kind() == std::io::ErrorKind::NotFound {
            "no such context; `docker context ls` lists them".to_string()
        } else {
            err.to_string()
        })
    })?;
    let meta: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| bad(format!("not JSON: {err}")))?;
    let docker = &meta["Endpoints"]["docker"];
    let host = docker["Host"]
        .as_str()
        .ok_or_else(|| bad("no `Endpoints.docker.Host`".to_string()))?
        .to_string();
    let tls_dir = config_dir
        .join("contexts")
        .join("tls")
        .join(&id)
        .join("docker");
    let tls = tls_dir
        .join("ca.pem")
        .exists()
        .then(|| TlsFiles::in_dir(&tls_dir));
    if docker["SkipTLSVerify"].as_bool() == Some(true) {
        return Err(bad(
            "`SkipTLSVerify` is set; envsync always verifies the engine's certificate".to_string(),
        ));
    }
    Ok(Resolved {
        endpoint: parse_host(&host, tls)?,
        host,
        origin: Origin::Context(name.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(user: Option<&str>, host: &str, port: Option<u16>) -> Endpoint {
        Endpoint::Ssh(SshDestination {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        })
    }

    fn check(host: &str, expected: Result<Endpoint, &str>) {
        match (parse_host(host, None), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{host}"),
            (Err(err), Err(want)) => assert!(err.to_string().contains(want), "{host}: {err}"),
            (got, want) => panic!("{host}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn hosts_are_taken_apart_as_the_docker_cli_does() {
        check(
            "unix:///var/run/docker.sock",
            Ok(Endpoint::Unix("/var/run/docker.sock".into())),
        );
        check(
            "tcp://127.0.0.1:2376",
            Ok(Endpoint::Tcp {
                addr: "127.0.0.1:2376".into(),
                tls: None,
            }),
        );
        check(
            "ssh://deploy@prod:2222",
            Ok(ssh(Some("deploy"), "prod", Some(2222))),
        );
        check("ssh://prod", Ok(ssh(None, "prod", None)));
        check("ssh://a@b@[::1]:22", Ok(ssh(Some("a@b"), "::1", Some(22))));
        check("ssh://prod:x", Err("the port is not a number"));
        check("ssh://prod:0", Err("the port is not a number"));
        check("ssh://-oProxyCommand=x", Err("starts with `-`"));
        check(
            "npipe:////./pipe/docker",
            Err("`unix://`, `tcp://` and `ssh://`"),
        );
        check("tcp://", Err("expected `tcp://HOST:PORT`"));
    }

    #[test]
    fn ssh_arguments_leave_policy_to_the_users_configuration() {
        let Endpoint::Ssh(dest) = parse_host("ssh://deploy@prod:2222", None).unwrap() else {
            panic!("not ssh")
        };
        assert_eq!(
            dest.ssh_args(),
            ["-l", "deploy", "-p", "2222", "--", "prod"]
        );
    }

    #[test]
    fn docker_host_wins_and_tls_verify_takes_the_cert_path() {
        let env = Environment {
            docker_host: Some("tcp://10.0.0.1:2376".into()),
            tls_verify: Some("1".into()),
            cert_path: Some("/certs".into()),
            context: Some("other".into()),
            config_dir: None,
        };
        let resolved = resolve(&env).unwrap();
        assert_eq!(resolved.origin, Origin::DockerHost);
        assert_eq!(
            resolved.endpoint,
            Endpoint::Tcp {
                addr: "10.0.0.1:2376".into(),
                tls: Some(TlsFiles::in_dir(Path::new("/certs"))),
            }
        );
    }

    /// A context written the way `docker context create` writes it (the layout is the
    /// docker CLI's): the current one in config.json, its endpoint in meta.json.
    #[test]
    fn the_current_context_is_read_from_the_docker_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let id = hex::encode(Sha256::digest(b"remote"));
        let meta = dir.path().join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://ops@build:2200","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{},"currentContext":"remote"}"#,
        )
        .unwrap();
        let mut env = Environment {
            config_dir: Some(dir.path().to_path_buf()),
            ..Environment::default()
        };
        let resolved = resolve(&env).unwrap();
        assert_eq!(resolved.origin, Origin::Context("remote".into()));
        assert_eq!(resolved.endpoint, ssh(Some("ops"), "build", Some(2200)));

        // DOCKER_CONTEXT overrides config.json; `default` is the default socket.
        env.context = Some("default".into());
        assert_eq!(resolve(&env).unwrap().host, DEFAULT_HOST);
        env.context = Some("missing".into());
        let err = resolve(&env).unwrap_err().to_string();
        assert!(
            err.contains("context `missing`") && err.contains("no such context"),
            "{err}"
        );
    }
}
