//! The docker CLI's own configuration (`~/.docker/config.json`, or `$DOCKER_CONFIG`),
//! read as the docker CLI reads it: the current context, and registry credentials from
//! `auths`, `credHelpers` and `credsStore` (a `docker-credential-NAME` helper).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use crate::EngineError;

/// The registry an image reference without a registry host comes from.
pub const DOCKER_HUB: &str = "docker.io";

/// The key `docker login` gives Docker Hub's credentials.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The docker CLI's configuration directory: `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))
}

/// The parts of `config.json` envsync uses; everything else in it is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerConfig {
    #[serde(default)]
    pub current_context: Option<String>,
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(skip)]
    file: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Credentials for one registry, as the engine takes them with a pull.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    pub identity_token: Option<String>,
    pub server: String,
}

// By hand, so that a password never reaches a log or an error message.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl DockerConfig {
    /// `config.json` in `dir`; an absent file is an empty configuration.
    pub fn load(dir: &Path) -> Result<DockerConfig, EngineError> {
        let file = dir.join("config.json");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig {
                    file,
                    ..DockerConfig::default()
                })
            }
            Err(err) => {
                return Err(EngineError::Config {
                    file,
                    reason: err.to_string(),
                })
            }
        };
        let mut config: DockerConfig =
            serde_json::from_str(&text).map_err(|err| EngineError::Config {
                file: file.clone(),
                reason: err.to_string(),
            })?;
        config.file = file;
        Ok(config)
    }

    /// The user's configuration, or an empty one when there is no home directory.
    pub fn user() -> Result<DockerConfig, EngineError> {
        match config_dir() {
            Some(dir) => DockerConfig::load(&dir),
            None => Ok(DockerConfig::default()),
        }
    }

    /// The credentials for `registry` (a host such as `127.0.0.1:5000`, or
    /// [`DOCKER_HUB`]): its `credHelpers` helper, else the `credsStore` helper, else
    /// `auths`. `None` when the user has none for it (an anonymous pull).
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, EngineError> {
        let server = if registry == DOCKER_HUB {
            DOCKER_HUB_AUTH_KEY
        } else {
            registry
        };
        if let Some(helper) = self.cred_helpers.get(registry) {
            return helper_get(helper, server);
        }
        if let Some(store) = &self.creds_store {
            if let Some(found) = helper_get(store, server)? {
                return Ok(Some(found));
            }
        }
        let entry = self.auths.get(server).or_else(|| {
            // `docker login https://host` stores the key with its scheme.
            self.auths.iter().find_map(|(key, entry)| {
                let bare = key
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/');
                (bare == server).then_some(entry)
            })
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        let mut credentials = Credentials {
            username: None,
            password: None,
            identity_token: entry.identitytoken.clone(),
            server: server.to_string(),
        };
        if let Some(auth) = &entry.auth {
            let bad = || EngineError::Config {
                file: self.file.clone(),
                reason: format!("`auths.{server}.auth` is not base64 of `user:password`"),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad())?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
            let (user, password) = decoded.split_once(':').ok_or_else(bad)?;
            credentials.username = Some(user.to_string());
            credentials.password = Some(password.to_string());
        }
        Ok(Some(credentials))
    }
}

/// Ask `docker-credential-NAME get` for `server`'s credentials, as the docker CLI does:
/// the server on stdin, JSON on stdout. "Not found" is `None`.
fn helper_get(name: &str, server: &str) -> Result<Option<Credentials>, EngineError> {
    let program = format!("docker-credential-{name}");
    let failed = |reason: String| EngineError::CredentialHelper {
        helper: program.clone(),
        server: server.to_string(),
        reason,
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| failed(format!("cannot run it: {err}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|err| failed(err.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|err| failed(err.to_string()))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        if said.contains("credentials not found") {
            return Ok(None);
        }
        return Err(failed(format!("{}: {}", output.status, said.trim())));
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct HelperAnswer {
        username: String,
        secret: String,
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout)
        .map_err(|err| failed(format!("its answer is not the expected JSON: {err}")))?;
    // A username of `<token>` marks an identity token, as in the docker CLI.
    Ok(Some(if answer.username == "<token>" {
        Credentials {
            username: None,
            password: None,
            identity_token: Some(answer.secret),
            server: server.to_string(),
        }
    } else {
        Credentials {
            username: Some(answer.username),
            password: Some(answer.secret),
            identity_token: None,
            server: server.to_string(),
        }
    }))
}

/// The registry host an image reference is pulled from, by the docker CLI's rule: the
/// first path component when it has a `.` or `:` or is `localhost`, else Docker Hub.
pub fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => DOCKER_HUB,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_named_as_the_docker_cli_names_them() {
        for (reference, registry) in [
            ("127.0.0.1:5000/team/debian:bookworm", "127.0.0.1:5000"),
            ("registry.example.com/app@sha256:ab", "registry.example.com"),
            ("localhost/app", "localhost"),
            ("team/app:1", DOCKER_HUB),
            ("postgres:15.4", DOCKER_HUB),
        ] {
            assert_eq!(registry_of(reference), registry, "{reference}");
        }
    }

    fn config(dir: &Path, json: &str) -> DockerConfig {
        std::fs::write(dir.join("config.json"), json).unwrap();
        DockerConfig::load(dir).unwrap()
    }

    #[test]
    fn auths_hold_base64_user_and_password() {
        let dir = tempfile::tempdir().unwrap();
        // `docker login` writes base64 of `user:password`; the password may hold `:`.
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:pa:ss");
        let c = config(
            dir.path(),
            &format!(r#"{{"auths":{{"https://127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#),
        );
        let found = c.credentials("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(found.username.as_deref(), Some("ci"));
        assert_eq!(found.password.as_deref(), Some("pa:ss"));
        assert!(!format!("{found:?}").contains("pa:ss"));
        assert_eq!(c.credentials("other:5000").unwrap(), None);
        let bad = config(dir.path(), r#"{"auths":{"r:1":{"auth":"!!"}}}"#);
        let err = bad.credentials("r:1").unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("auths.r:1.auth"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_helper_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(
            dir.path(),
            r#"{"credHelpers":{"r.example:443":"envsync-test-absent"}}"#,
        );
        let err = c.credentials("r.example:443").unwrap_err().to_string();
        assert!(
            err.contains("docker-credential-envsync-test-absent") && err.contains("r.example:443"),
            "{err}"
        );
    }
}
