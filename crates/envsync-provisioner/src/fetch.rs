//! Fetching a lock's artifacts into the [`ArtifactCache`]: inside a container of the
//! image built from the lock, apt and pip download exactly the locked `.deb`s and
//! wheels, through the image's own sources plus `[sources]` (so mirrors, proxies and
//! credentials configured for apt and pip apply); envsync copies the files out and keeps
//! each one whose sha256 is a locked one. Nothing is installed, and the container is
//! removed.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::cache::{integrity_key, ArtifactCache};
use crate::error::ProvisionError;
use crate::spec::{LockedSet, SourceSpec};

/// How long one image's downloads may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Artifacts downloaded and stored.
    pub fetched: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Artifacts the cache already held.
    pub reused: usize,
    /// Artifacts no source served with the locked checksum: `deb name=version`,
    /// `pypi name==version`.
    pub missing: Vec<String>,
}

impl FetchReport {
    /// Add another image's report.
    pub fn add(&mut self, other: FetchReport) {
        self.fetched += other.fetched;
        self.bytes += other.bytes;
        self.reused += other.reused;
        self.missing.extend(other.missing);
    }
}

/// Download every artifact of `locked` the cache lacks, inside a container of `image`
/// (which must have apt, and pip when wheels are locked), and store them in `cache`.
pub async fn fetch_artifacts(
    docker: &Docker,
    image: &str,
    locked: &LockedSet,
    sources: &SourceSpec,
    ca_bundle: Option<&[u8]>,
    cache: &ArtifactCache,
) -> Result<FetchReport, ProvisionError> {
    let Downloads {
        debs,
        wheels,
        npm,
        mut wanted,
        reused,
    } = downloads(locked, cache);
    let mut report = FetchReport {
        reused,
        ..FetchReport::default()
    };
    if wanted.is_empty() {
        return Ok(report);
    }
    let files = inputs(&debs, &wheels, &npm, sources, ca_bundle)?;
    let out = run_fetch(docker, image, sources, &files).await?;
    // Matched by checksum: the file names are the package managers' own.
    for (_, bytes) in out {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let key = if wanted.contains_key(&sha256) {
            sha256
        } else {
            hex::encode(sha2::Sha512::digest(&bytes))
        };
        if wanted.remove(&key).is_some() {
            cache.insert(&key, &bytes)?;
            report.fetched += 1;
            report.bytes += bytes.len() as u64;
        }
    }
    let mut missing: Vec<String> = wanted.into_values().collect();
    missing.sort();
    report.missing = missing;
    Ok(report)
}

/// What one image's fetch must download: the package managers' arguments per
/// ecosystem, and the artifacts they should yield.
#[derive(Debug, Default)]
struct Downloads {
    /// `apt-get download` arguments, `name=version`.
    debs: Vec<String>,
    /// Requirement lines, `name==version --hash=sha256:HEX`.
    wheels: Vec<String>,
    /// `npm pack` arguments, `name@version`.
    npm: Vec<String>,
    /// Cache key (sha256, or for npm sha512, in hex) -> the artifact as reports name
    /// it: `deb name=version`, `pypi name==version`, `npm name@version`.
    wanted: HashMap<String, String>,
    /// Locked artifacts the cache already holds.
    reused: usize,
}

/// The artifacts of `locked` that `cache` lacks. Those without a checksum are left
/// out: nothing could tell a download of them from any other file.
fn downloads(locked: &LockedSet, cache: &ArtifactCache) -> Downloads {
    let mut d = Downloads::default();
    for deb in &locked.debs {
        let Some(sha) = &deb.sha256 else { continue };
        if cache.contains(sha) {
            d.reused += 1;
            continue;
        }
        // `apt-get download` takes `name=version`; `name:arch=version` for a foreign
        // architecture is the same file as the native one here (one arch per image).
        d.debs.push(format!("{}={}", deb.name, deb.version));
        d.wanted.insert(
            sha.to_ascii_lowercase(),
            format!("deb {}={}", deb.name, deb.version),
        );
    }
    for wheel in &locked.wheels {
        if cache.contains(&wheel.sha256) {
            d.reused += 1;
            continue;
        }
        let key = wheel.sha256.to_ascii_lowercase();
        if let std::collections::hash_map::Entry::Vacant(slot) = d.wanted.entry(key) {
            d.wheels.push(format!(
                "{}=={} --hash=sha256:{}",
                wheel.name, wheel.version, wheel.sha256
            ));
            slot.insert(format!("pypi {}=={}", wheel.name, wheel.version));
        }
    }
    for tarball in &locked.tarballs {
        let Some(key) = integrity_key(&tarball.integrity) else {
            continue;
        };
        if cache.contains(&key) {
            d.reused += 1;
            continue;
        }
        d.npm.push(format!("{}@{}", tarball.name, tarball.version));
        d.wanted
            .insert(key, format!("npm {}@{}", tarball.name, tarball.version));
    }
    d.npm.sort();
    d.npm.dedup();
    d.debs.sort();
    d.debs.dedup();
    d
}

/// The files the fetch script reads, as (path under `/envsync-fetch`, bytes).
fn inputs(
    debs: &[String],
    wheels: &[String],
    npm: &[String],
    sources: &SourceSpec,
    ca_bundle: Option<&[u8]>,
) -> Result<Vec<(String, Vec<u8>)>, ProvisionError> {
    let lines = |items: &[String]| items.iter().map(|i| format!("{i}\n")).collect::<String>();
    let mut apt_sources: Vec<String> = sources.apt.clone();
    if let Some(snapshot) = &sources.apt_snapshot {
        apt_sources.push(format!(
            "deb [check-valid-until=no] {} SUITE main",
            snapshot.trim_end_matches('/')
        ));
    }
    let mut files = vec![
        ("fetch.sh".to_string(), FETCH_SCRIPT.as_bytes().to_vec()),
        ("debs.txt".to_string(), lines(debs).into_bytes()),
        ("req.txt".to_string(), lines(wheels).into_bytes()),
        ("npm.txt".to_string(), lines(npm).into_bytes()),
        ("sources.list".to_string(), lines(&apt_sources).into_bytes()),
        ("ca.pem".to_string(), ca_bundle.unwrap_or_default().to_vec()),
    ];
    for (index, path) in sources.apt_keys.iter().enumerate() {
        let bytes = std::fs::read(path).map_err(|source| ProvisionError::ReadInput {
            path: path.clone(),
            what: "an apt signing key of [sources]".into(),
            source,
        })?;
        files.push((format!("keys/envsync-{index}.asc"), bytes));
    }
    Ok(files)
}

/// Downloads with apt and pip into `/envsync-fetch/out`; prints a warning line for each
/// artifact it could not get. One `apt-get download` for everything, then one per
/// package only when that fails, so a single missing version does not hide the rest.
const FETCH_SCRIPT: &str = r#"set -u
cd /envsync-fetch
mkdir -p out
if [ -s sources.list ]; then
  suite="$(. /etc/os-release; echo "${VERSION_CODENAME:-stable}")"
  sed "s/ SUITE / $suite /" sources.list > /etc/apt/sources.list.d/envsync-fetch.list
fi
for key in keys/*.asc; do [ -f "$key" ] && cp "$key" /etc/apt/trusted.gpg.d/; done
ca=""
if [ -s ca.pem ]; then
  ca="-o Acquire::https::CAInfo=/envsync-fetch/ca.pem"
  export PIP_CERT=/envsync-fetch/ca.pem NODE_EXTRA_CA_CERTS=/envsync-fetch/ca.pem npm_config_cafile=/envsync-fetch/ca.pem
fi
if [ -s debs.txt ]; then
  apt-get $ca update -q >/dev/null 2>&1 || echo "envsync-fetch-warning apt-get update failed"
  cd out
  if ! xargs apt-get $ca download -q < ../debs.txt >/dev/null 2>&1; then
    while read -r pv; do
      [ -n "$pv" ] || continue
      apt-get $ca download -q "$pv" >/dev/null 2>&1 || echo "envsync-fetch-warning cannot download deb $pv"
    done < ../debs.txt
  fi
  cd ..
fi
if [ -s req.txt ]; then
  # The wheels Debian bundles for new virtualenvs are not the index's files: copy them.
  cp /usr/share/python-wheels/*.whl out/ 2>/dev/null || true
  if ! python3 -m pip download -q --no-deps --require-hashes -r req.txt -d out >/dev/null 2>&1; then
    while read -r req; do
      [ -n "$req" ] || continue
      printf '%s\n' "$req" > one.txt
      python3 -m pip download -q --no-deps --require-hashes -r one.txt -d out >/dev/null 2>&1 \
        || echo "envsync-fetch-warning cannot download pypi ${req%% *}"
    done < req.txt
  fi
fi
if [ -s npm.txt ]; then
  cd out
  if ! xargs npm pack --silent < ../npm.txt >/dev/null 2>&1; then
    while read -r spec; do
      [ -n "$spec" ] || continue
      npm pack --silent "$spec" >/dev/null 2>&1 || echo "envsync-fetch-warning cannot download npm $spec"
    done < ../npm.txt
  fi
  cd ..
fi
exit 0
"#;

/// Run the fetch script in a container of `image` and return the files it downloaded.
/// The container is removed whatever happens.
async fn run_fetch(
    docker: &Docker,
    image: &str,
    sources: &SourceSpec,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<(String, Vec<u8>)>, ProvisionError> {
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().build()),
            fetch_container(image, sources),
        )
        .await
        .map_err(engine(format!(
            "creating a container of `{image}` to fetch artifacts"
        )))?;
    let id = created.id;
    let result = fetch_in(docker, &id, image, files).await;
    let _ = docker
        .remove_container(
            &id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await;
    result
}

/// An engine error while doing `action`.
fn engine(action: String) -> impl FnOnce(bollard::errors::Error) -> ProvisionError {
    move |source| ProvisionError::Docker { action, source }
}

/// The fetch container: the fetch script as root, with `[sources]`' PyPI index and npm
/// registry, on the host network when a source is on loopback.
fn fetch_container(image: &str, sources: &SourceSpec) -> ContainerCreateBody {
    let mut env = Vec::new();
    if let Some(index) = &sources.pypi_index {
        env.push(format!("PIP_INDEX_URL={index}"));
    }
    if let Some(registry) = &sources.npm_registry {
        env.push(format!("npm_config_registry={registry}"));
    }
    ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec![]),
        cmd: Some(vec!["sh".into(), "/envsync-fetch/fetch.sh".into()]),
        user: Some("0".into()),
        env: Some(env),
        host_config: Some(HostConfig {
            network_mode: sources.on_loopback().then(|| "host".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// In the created container `id`: copy the inputs in, run the script to its end, print
/// its warnings and copy the downloads out.
async fn fetch_in(
    docker: &Docker,
    id: &str,
    image: &str,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<(String, Vec<u8>)>, ProvisionError> {
    docker
        .upload_to_container(
            id,
            Some(UploadToContainerOptionsBuilder::default().path("/").build()),
            bollard::body_full(inputs_archive(files)?.into()),
        )
        .await
        .map_err(engine(format!(
            "copying the fetch inputs into a container of `{image}`"
        )))?;
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(engine(format!("starting the fetch container of `{image}`")))?;
    wait_for_fetch(docker, id, image).await?;
    log_lines(docker, id).await;
    download_out(docker, id, image).await
}

/// The inputs as a tar archive under `envsync-fetch/`, with fixed modes and times.
fn inputs_archive(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ProvisionError> {
    let mut archive = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive
            .append_data(
                &mut header,
                format!("envsync-fetch/{path}"),
                bytes.as_slice(),
            )
            .map_err(|source| ProvisionError::Context {
                path: path.clone(),
                source,
            })?;
    }
    archive
        .into_inner()
        .map_err(|source| ProvisionError::Context {
            path: "envsync-fetch".into(),
            source,
        })
}

/// Wait for the fetch script to end, for at most [`FETCH_TIMEOUT`]. The script reports
/// each download it could not make as a warning and exits 0.
async fn wait_for_fetch(docker: &Docker, id: &str, image: &str) -> Result<(), ProvisionError> {
    let mut wait = docker.wait_container(id, Some(WaitContainerOptionsBuilder::default().build()));
    match tokio::time::timeout(FETCH_TIMEOUT, wait.next()).await {
        Err(_) => Err(ProvisionError::InvalidSpec {
            field: format!("fetch in `{image}`"),
            value: String::new(),
            reason: format!(
                "downloads did not finish within {} minutes",
                FETCH_TIMEOUT.as_secs() / 60
            ),
        }),
        Ok(Some(Err(source))) => Err(ProvisionError::Docker {
            action: format!("waiting for the fetch container of `{image}`"),
            source,
        }),
        Ok(_) => Ok(()),
    }
}

/// Print the script's warnings. Missing artifacts are not read from its output: they
/// are the locked checksums no downloaded file has.
async fn log_lines(docker: &Docker, id: &str) {
    let options = LogsOptionsBuilder::default().stdout(true).build();
    let mut logs = docker.logs(id, Some(options));
    while let Some(Ok(chunk)) = logs.next().await {
        for line in chunk.to_string().lines() {
            if let Some(rest) = line.strip_prefix("envsync-fetch-warning ") {
                eprintln!("warning: fetch: {rest}");
            }
        }
    }
}

/// The files in `/envsync-fetch/out` of container `id`.
async fn download_out(
    docker: &Docker,
    id: &str,
    image: &str,
) -> Result<Vec<(String, Vec<u8>)>, ProvisionError> {
    let options = DownloadFromContainerOptionsBuilder::new()
        .path("/envsync-fetch/out")
        .build();
    let mut stream = docker.download_from_container(id, Some(options));
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let bytes = chunk.map_err(|source| ProvisionError::Docker {
            action: format!("copying the downloads out of the fetch container of `{image}`"),
            source,
        })?;
        data.extend_from_slice(&bytes);
    }
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(data.as_slice());
    let context = |source| ProvisionError::Context {
        path: "envsync-fetch/out".into(),
        source,
    };
    for entry in archive.entries().map_err(context)? {
        let mut entry = entry.map_err(context)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(context)?
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(context)?;
        if let Some(name) = name {
            files.push((name, bytes));
        }
    }
    Ok(files)
}
