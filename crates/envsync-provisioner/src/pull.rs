//! Images given by reference (a `[base] image`, a service's `image`), pulled by the
//! engine when it lacks them, with the user's registry credentials (the docker CLI's
//! `config.json`: `auths`, `credHelpers`, `credsStore`), and pinned by repository digest
//! (`repo@sha256:…`), the one name of an image that means the same bytes on every
//! engine. The engine makes the connection to the registry, so the registry's TLS is
//! the engine's: its CA in `/etc/docker/certs.d/HOST:PORT/ca.crt`, or the system bundle.

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use envsync_engine::config::{registry_of, DockerConfig};
use futures_util::StreamExt;

use crate::error::ProvisionError;

/// Why a pull failed, told apart so the message says what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFailure {
    /// The registry answered, but has no such repository, tag or digest.
    NotFound,
    /// The registry refused the credentials (or asked for some and got none).
    LoginRefused,
    /// The pull failed over HTTPS and the engine's fallback to plain HTTP, which it tries
    /// for registries it treats as insecure (127.0.0.0/8 by default), failed too: the
    /// registry is up, but refused the login or is not trusted.
    HttpsRefused,
    /// No registry answered at that address, or its TLS certificate is not trusted.
    Unreachable,
    /// Anything else the engine reported.
    Other,
}

impl PullFailure {
    /// Classify the engine's message, which quotes the registry's answer.
    pub fn of(message: &str) -> PullFailure {
        let m = message.to_ascii_lowercase();
        if m.contains("unauthorized")
            || m.contains("authentication required")
            || m.contains("no basic auth credentials")
            || m.contains("incorrect username or password")
        {
            PullFailure::LoginRefused
        } else if m.contains("http request to an https server") {
            PullFailure::HttpsRefused
        } else if m.contains("manifest unknown")
            || m.contains("not found")
            || m.contains("name unknown")
        {
            PullFailure::NotFound
        } else if m.contains("connection refused")
            || m.contains("no such host")
            || m.contains("dial tcp")
            || m.contains("i/o timeout")
            || m.contains("x509")
            || m.contains("tls")
            || m.contains("server gave http response")
        {
            PullFailure::Unreachable
        } else {
            PullFailure::Other
        }
    }

    /// What the user should do about it.
    pub fn hint(self, registry: &str) -> String {
        match self {
            PullFailure::NotFound => format!("registry `{registry}` has no such image; check the name and tag, or push it there"),
            PullFailure::LoginRefused => format!("registry `{registry}` refused the login; run `docker login {registry}` (envsync uses the docker CLI's credentials)"),
            PullFailure::HttpsRefused => format!("registry `{registry}` answers over HTTPS but refused the login or is not trusted by the engine, and the engine's fallback to plain HTTP failed; run `docker login {registry}` (envsync uses the docker CLI's credentials) and check /etc/docker/certs.d/{registry}/ca.crt on the engine's host"),
            PullFailure::Unreachable => format!("registry `{registry}` cannot be reached, or the engine does not trust its certificate (put its CA in /etc/docker/certs.d/{registry}/ca.crt on the engine's host)"),
            PullFailure::Other => format!("the engine could not pull from registry `{registry}`"),
        }
    }
}

/// The image `reference` names, present in the engine: inspected, or pulled when absent.
/// `progress` receives one line per pull step (`pulling … : Downloading 12MB/30MB`).
pub async fn ensure_image(
    docker: &Docker,
    reference: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<bollard::models::ImageInspect, ProvisionError> {
    match docker.inspect_image(reference).await {
        Ok(image) => return Ok(image),
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(source) => {
            return Err(ProvisionError::Docker {
                action: format!("inspecting image `{reference}`"),
                source,
            })
        }
    }
    pull(docker, reference, progress).await?;
    docker
        .inspect_image(reference)
        .await
        .map_err(|source| ProvisionError::Docker {
            action: format!("inspecting image `{reference}` after pulling it"),
            source,
        })
}

/// Pull `reference` (a tag or a `repo@sha256:…` digest) with the user's credentials for
/// its registry.
pub async fn pull(
    docker: &Docker,
    reference: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), ProvisionError> {
    let registry = registry_of(reference).to_string();
    let credentials = DockerConfig::user()?
        .credentials(&registry)?
        .map(|c| DockerCredentials {
            username: c.username,
            password: c.password,
            identitytoken: c.identity_token,
            serveraddress: Some(c.server),
            ..DockerCredentials::default()
        });
    // `fromImage` takes the whole reference; the engine splits tag and digest itself.
    let options = CreateImageOptionsBuilder::default()
        .from_image(reference)
        .build();
    progress(&format!("pulling `{reference}` from `{registry}`"));
    let mut stream = docker.create_image(Some(options), None, credentials);
    let mut last = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(message) = info.error_detail.and_then(|d| d.message) {
                    return Err(failed(reference, &registry, message));
                }
                let bytes = info
                    .progress_detail
                    .and_then(|d| match (d.current, d.total) {
                        (Some(current), Some(total)) if total > 0 => {
                            Some(format!("{}/{} MB", current / 1_000_000, total / 1_000_000))
                        }
                        _ => None,
                    });
                let line = [info.id, info.status, bytes]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                // Layers report many times a second; a line only when it says something new.
                if !line.is_empty() && line != last {
                    progress(&format!("  {line}"));
                    last = line;
                }
            }
            Err(BollardError::DockerStreamError { error }) => {
                return Err(failed(reference, &registry, error))
            }
            Err(BollardError::DockerResponseServerError { message, .. }) => {
                return Err(failed(reference, &registry, message))
            }
            Err(source) => {
                return Err(ProvisionError::Docker {
                    action: format!("pulling `{reference}` from `{registry}`"),
                    source,
                })
            }
        }
    }
    Ok(())
}

fn failed(reference: &str, registry: &str, message: String) -> ProvisionError {
    let kind = PullFailure::of(&message);
    ProvisionError::Pull {
        reference: reference.to_string(),
        registry: registry.to_string(),
        hint: kind.hint(registry),
        kind,
        message,
    }
}

/// The repository digest (`repo@sha256:…`) of `image` for the repository `reference`
/// names, when the engine knows one (it does for every image pulled from or pushed to a
/// registry; an image built locally has none).
pub fn repo_digest(image: &bollard::models::ImageInspect, reference: &str) -> Option<String> {
    let wanted = repository(reference);
    let digests = image.repo_digests.as_deref().unwrap_or_default();
    digests
        .iter()
        .find(|d| {
            d.split_once('@')
                .is_some_and(|(repo, _)| same_repository(repo, wanted))
        })
        .cloned()
}

/// `reference` without its tag or digest: `127.0.0.1:5000/team/debian`.
pub fn repository(reference: &str) -> &str {
    let without_digest = reference.split_once('@').map_or(reference, |(r, _)| r);
    // A `:` after the last `/` starts a tag; one before it is a registry's port.
    match without_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// Docker Hub repositories are written with or without `docker.io/` and `library/`.
fn same_repository(a: &str, b: &str) -> bool {
    fn normal(repo: &str) -> String {
        let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
        let repo = repo.strip_prefix("library/").unwrap_or(repo);
        repo.to_string()
    }
    normal(a) == normal(b)
}

/// Whether envsync pulls `reference` when the engine lacks it: every reference except
/// the `envsync/` images built from this repository's recipes (`images/`), which no
/// registry serves and which the missing-base error explains how to build.
pub fn is_pullable(reference: &str) -> bool {
    !reference.starts_with("envsync/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_drop_tag_and_digest_but_keep_the_registry_port() {
        for (reference, repo) in [
            (
                "127.0.0.1:5000/team/debian:bookworm",
                "127.0.0.1:5000/team/debian",
            ),
            ("127.0.0.1:5000/team/debian", "127.0.0.1:5000/team/debian"),
            (
                "127.0.0.1:5000/team/debian@sha256:ab",
                "127.0.0.1:5000/team/debian",
            ),
            ("postgres:15.4", "postgres"),
        ] {
            assert_eq!(repository(reference), repo, "{reference}");
        }
    }

    #[test]
    fn the_repo_digest_is_the_one_of_the_named_repository() {
        let image = bollard::models::ImageInspect {
            repo_digests: Some(vec![
                "other/x@sha256:11".into(),
                "postgres@sha256:22".into(),
                "127.0.0.1:5000/team/debian@sha256:33".into(),
            ]),
            ..Default::default()
        };
        assert_eq!(
            repo_digest(&image, "127.0.0.1:5000/team/debian:bookworm").as_deref(),
            Some("127.0.0.1:5000/team/debian@sha256:33")
        );
        assert_eq!(
            repo_digest(&image, "docker.io/library/postgres:15.4").as_deref(),
            Some("postgres@sha256:22")
        );
        assert_eq!(repo_digest(&image, "mysql:8"), None);
    }

    #[test]
    fn registry_answers_are_told_apart() {
        // Messages as dockerd 20.10 words them for the CNCF registry.
        for (message, kind) in [
            ("Head \"https://127.0.0.1:5000/v2/team/x/manifests/1\": no basic auth credentials", PullFailure::LoginRefused),
            ("unauthorized: authentication required", PullFailure::LoginRefused),
            // 127.0.0.0/8 is an insecure registry by default: after HTTPS, dockerd tries HTTP.
            ("error parsing HTTP 400 response body: invalid character 'C' looking for beginning of value: \"Client sent an HTTP request to an HTTPS server.\\n\"", PullFailure::HttpsRefused),
            ("manifest for 127.0.0.1:5000/team/x:1 not found: manifest unknown: manifest unknown", PullFailure::NotFound),
            ("Get \"https://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused", PullFailure::Unreachable),
            ("Get \"https://127.0.0.1:5000/v2/\": x509: certificate signed by unknown authority", PullFailure::Unreachable),
        ] {
            assert_eq!(PullFailure::of(message), kind, "{message}");
        }
    }
}
