//! Reading back, from a built image, the artifacts its build installed: the records the
//! generated Dockerfile keeps in [`ARTIFACTS_DIR`] (`debs.tsv` from apt's index, pip's
//! install reports, npm's lockfiles), as [`Artifact`]s with their checksums.
//!
//! The image is read through a container that is created and removed, never started.

use std::io::Read as _;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use envsync_manifest::lock::{Artifact, Checksum};
use envsync_manifest::Ecosystem;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::dockerfile::{env_of_slug, ARTIFACTS_DIR};
use crate::error::ProvisionError;

/// The most bytes of artifact records read from one image.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The artifacts recorded in `image` (a tag or ID); empty when it has no records (an
/// image envsync did not build).
pub async fn read_artifacts(docker: &Docker, image: &str) -> Result<Vec<Artifact>, ProvisionError> {
    let engine = |action: String| move |source| ProvisionError::Docker { action, source };
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["/nonexistent".to_string()]),
        entrypoint: Some(vec![]),
        network_disabled: Some(true),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::default().build()), body)
        .await
        .map_err(engine(format!("creating a container to read `{image}`")))?;
    let options = DownloadFromContainerOptionsBuilder::new()
        .path(ARTIFACTS_DIR)
        .build();
    let mut stream = docker.download_from_container(&created.id, Some(options));
    let mut data = Vec::new();
    let mut result = Ok(());
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) if data.len() + bytes.len() <= MAX_BYTES => data.extend_from_slice(&bytes),
            Ok(_) => {
                result = Err(ProvisionError::InvalidSpec {
                    field: format!("{ARTIFACTS_DIR} of image `{image}`"),
                    value: format!("more than {MAX_BYTES} bytes"),
                    reason: "artifact records this large were not written by envsync".into(),
                });
                break;
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                data.clear();
                break;
            }
            Err(source) => {
                result = Err(ProvisionError::Docker {
                    action: format!("reading {ARTIFACTS_DIR} of image `{image}`"),
                    source,
                });
                break;
            }
        }
    }
    drop(stream);
    let removed = docker
        .remove_container(
            &created.id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .map_err(engine(format!(
            "removing the container that read `{image}`"
        )));
    result?;
    removed?;
    parse_records(&data).map_err(|reason| ProvisionError::InvalidSpec {
        field: format!("{ARTIFACTS_DIR} of image `{image}`"),
        value: String::new(),
        reason,
    })
}

/// The artifacts in a tar of [`ARTIFACTS_DIR`] (members named `envsync/...`).
pub fn parse_records(tar_bytes: &[u8]) -> Result<Vec<Artifact>, String> {
    let mut artifacts = Vec::new();
    if tar_bytes.is_empty() {
        return Ok(artifacts);
    }
    let mut archive = tar::Archive::new(tar_bytes);
    let entries = archive.entries().map_err(|e| e.to_string())?;
    for entry in entries {
        let mut entry = entry.map_err(|e| e.to_string())?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("`{name}`: {e}"))?;
        if name == "debs.tsv" {
            artifacts.extend(parse_debs(&text));
        } else if let Some(env) = name
            .strip_suffix(".tsv")
            .and_then(|stem| env_of_slug("wheels", stem))
        {
            artifacts.extend(parse_bundled_wheels(&text, env));
        } else if let Some(slug) = name
            .strip_suffix(".update.json")
            .or_else(|| name.strip_suffix(".json"))
        {
            if let Some(env) = env_of_slug("pip", slug) {
                artifacts
                    .extend(parse_pip_report(&text, env).map_err(|e| format!("`{name}`: {e}"))?);
            } else if let Some(env) = env_of_slug("npm", slug) {
                artifacts.extend(parse_npm_lock(&text, env).map_err(|e| format!("`{name}`: {e}"))?);
            }
        }
    }
    Ok(artifacts)
}

/// `deb <name> <arch> <version> <sha256> <pool path>`, tab-separated.
fn parse_debs(text: &str) -> Vec<Artifact> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (Some("deb"), Some(name), Some(arch), Some(version), Some(sha), file) = (
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
                fields.next(),
            ) else {
                return None;
            };
            is_sha256(sha).then(|| Artifact {
                ecosystem: Ecosystem::Deb,
                name: name.to_string(),
                version: version.to_string(),
                arch: Some(arch.to_string()),
                env: None,
                checksum: Checksum::Sha256(sha.to_ascii_lowercase()),
                file: file.filter(|f| !f.is_empty()).map(str::to_string),
            })
        })
        .collect()
}

/// `pypi <name> <version> <sha256> <file>`, tab-separated: the wheels a new virtualenv
/// was given from Debian's bundled copies.
fn parse_bundled_wheels(text: &str, env: Option<String>) -> Vec<Artifact> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let ["pypi", name, version, sha, file] = fields.as_slice() else {
                return None;
            };
            is_sha256(sha).then(|| Artifact {
                ecosystem: Ecosystem::Pypi,
                name: name.to_string(),
                version: version.to_string(),
                arch: None,
                env: env.clone(),
                checksum: Checksum::Sha256(sha.to_ascii_lowercase()),
                file: Some(file.to_string()),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct PipReport {
    #[serde(default)]
    install: Vec<PipInstall>,
}

#[derive(Deserialize)]
struct PipInstall {
    download_info: PipDownload,
    metadata: PipMetadata,
}

#[derive(Deserialize)]
struct PipDownload {
    url: String,
    archive_info: Option<PipArchive>,
}

#[derive(Deserialize)]
struct PipArchive {
    hash: Option<String>,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct PipMetadata {
    name: String,
    version: String,
}

/// pip's `--report` (format version 1): each installed distribution, the URL of the
/// file and its sha256.
fn parse_pip_report(text: &str, env: Option<String>) -> Result<Vec<Artifact>, String> {
    let report: PipReport = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(report
        .install
        .into_iter()
        .filter_map(|item| {
            let archive = item.download_info.archive_info?;
            let sha = archive
                .hashes
                .get("sha256")
                .cloned()
                .or_else(|| archive.hash?.strip_prefix("sha256=").map(str::to_string))?;
            let url = item.download_info.url;
            let file = url
                .split(['#', '?'])
                .next()
                .and_then(|u| u.rsplit('/').next())
                .filter(|f| !f.is_empty())
                .map(str::to_string);
            is_sha256(&sha).then(|| Artifact {
                ecosystem: Ecosystem::Pypi,
                name: item.metadata.name,
                version: item.metadata.version,
                arch: None,
                env: env.clone(),
                checksum: Checksum::Sha256(sha.to_ascii_lowercase()),
                file,
            })
        })
        .collect())
}

#[derive(Deserialize)]
struct NpmLock {
    #[serde(default)]
    packages: std::collections::BTreeMap<String, NpmEntry>,
}

#[derive(Deserialize)]
struct NpmEntry {
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    #[serde(default)]
    link: bool,
}

/// npm's `package-lock.json` (lockfile version 2 or 3): every package under
/// `node_modules`, with its `integrity`.
fn parse_npm_lock(text: &str, env: Option<String>) -> Result<Vec<Artifact>, String> {
    let lock: NpmLock = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(lock
        .packages
        .into_iter()
        .filter_map(|(path, entry)| {
            let name = path.rsplit_once("node_modules/")?.1.to_string();
            if entry.link || name.is_empty() {
                return None;
            }
            let version = entry.version?;
            // The tarball's file name, not the registry's URL: a lock names files, never
            // the hosts they came from. A lockfile envsync generated has no `resolved`:
            // then the registry's own name, `<name without scope>-<version>.tgz`.
            let file = entry
                .resolved
                .as_deref()
                .and_then(|url| url.split(['#', '?']).next())
                .and_then(|url| url.rsplit('/').next())
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let bare = name.rsplit('/').next().unwrap_or(&name);
                    format!("{bare}-{version}.tgz")
                });
            Some(Artifact {
                ecosystem: Ecosystem::Npm,
                checksum: Checksum::Integrity(entry.integrity?),
                name,
                version,
                arch: None,
                env: env.clone(),
                file: Some(file),
            })
        })
        .collect())
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::env_slug;

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn reads_every_kind_of_record() {
        let sha = "ab".repeat(32);
        let debs = format!(
            "deb\topenssl\tamd64\t3.0.15-1~deb12u1\t{sha}\tpool/main/o/openssl/openssl_3.0.15-1~deb12u1_amd64.deb\n\
             deb\tbroken\tamd64\n"
        );
        let pip = format!(
            r#"{{"version": "1", "install": [
                {{"download_info": {{"url": "https://files.example/p/Django-4.2.16-py3-none-any.whl#sha256={sha}", "archive_info": {{"hash": "sha256={sha}", "hashes": {{"sha256": "{sha}"}}}}}}, "metadata": {{"name": "Django", "version": "4.2.16"}}}},
                {{"download_info": {{"url": "file:///src/local", "dir_info": {{}}}}, "metadata": {{"name": "local", "version": "1"}}}}
            ]}}"#
        );
        let npm = r#"{"lockfileVersion": 3, "packages": {
            "": {"name": "app"},
            "node_modules/dayjs": {"version": "1.11.13", "resolved": "https://registry.example/dayjs/-/dayjs-1.11.13.tgz", "integrity": "sha512-Zm9v"},
            "node_modules/a/node_modules/@scope/b": {"version": "2.0.0", "integrity": "sha512-YmFy"},
            "node_modules/linked": {"link": true, "resolved": "../linked"}
        }}"#;
        let pip_name = format!("envsync/{}.json", env_slug("pip", Some("/opt/venv")));
        let npm_name = format!("envsync/{}.json", env_slug("npm", None));
        let tar = tar_of(&[
            ("envsync/debs.tsv", &debs),
            (&pip_name, &pip),
            (&npm_name, npm),
            ("envsync/unrelated.json", "not json"),
            (
                &format!("envsync/{}.tsv", env_slug("wheels", Some("/opt/venv"))),
                &format!("pypi\tpip\t23.0.1\t{sha}\tpip-23.0.1-py3-none-any.whl\n"),
            ),
        ]);
        let got: Vec<String> = parse_records(&tar)
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{}:{}={} env={:?} {} {:?}",
                    a.ecosystem, a.name, a.version, a.env, a.checksum, a.file
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                format!("deb:openssl=3.0.15-1~deb12u1 env=None sha256:{sha} Some(\"pool/main/o/openssl/openssl_3.0.15-1~deb12u1_amd64.deb\")"),
                format!("pypi:Django=4.2.16 env=Some(\"/opt/venv\") sha256:{sha} Some(\"Django-4.2.16-py3-none-any.whl\")"),
                "npm:@scope/b=2.0.0 env=None sha512-YmFy Some(\"b-2.0.0.tgz\")".to_string(),
                "npm:dayjs=1.11.13 env=None sha512-Zm9v Some(\"dayjs-1.11.13.tgz\")".to_string(),
                format!("pypi:pip=23.0.1 env=Some(\"/opt/venv\") sha256:{sha} Some(\"pip-23.0.1-py3-none-any.whl\")"),
            ]
        );
        assert_eq!(parse_records(&[]).unwrap(), []);
        let broken = tar_of(&[(&pip_name, "{")]);
        assert!(parse_records(&broken).unwrap_err().contains("pip-env-"));
    }
}
