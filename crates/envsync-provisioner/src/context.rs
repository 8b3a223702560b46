//! The build context as an in-memory tar, and the content address derived from it.
//!
//! The tar is deterministic (sorted entries, zero mtimes, root ownership) so that the
//! sha256 over it, plus the base digest, is a content address of the build: equal
//! inputs give the same image tag on every machine.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::dockerfile::{
    apt_key_context_path, file_context_path, generated_inputs, render_dockerfile, sorted_files,
    CA_CONTEXT_PATH,
};
use crate::error::ProvisionError;
use crate::spec::{repository_component, BuildSpec, FileSource};

/// Everything a build sends to the engine, computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub dockerfile: String,
    /// The build context: an uncompressed tar holding `Dockerfile` and its inputs.
    pub context: Vec<u8>,
    /// Context entries in tar order: path and size in bytes.
    pub entries: Vec<(String, u64)>,
    /// Hex sha256 over the context and the base digest.
    pub sha256: String,
    /// `envsync/<project>:<first 16 hex of sha256>`.
    pub tag: String,
}

/// Number of hex digits of the content hash used in the image tag.
pub const TAG_HEX_LEN: usize = 16;

/// Validate `spec`, render its Dockerfile, read every input and pack the context.
pub fn prepare(spec: &BuildSpec) -> Result<Prepared, ProvisionError> {
    spec.validate()?;
    let (dockerfile, entries) = entries(spec)?;
    let context = pack(&entries)?;
    let mut hasher = Sha256::new();
    hasher.update(&context);
    // The base digest is part of the address even when the Dockerfile names the base
    // by reference only, so a rebuilt base gives a new tag.
    hasher.update(b"\0base-digest\0");
    hasher.update(spec.base_digest.as_deref().unwrap_or("").as_bytes());
    let sha256 = hex::encode(hasher.finalize());
    let tag = format!(
        "envsync/{}:{}",
        repository_component(&spec.project),
        &sha256[..TAG_HEX_LEN]
    );
    Ok(Prepared {
        dockerfile,
        entries: entries
            .iter()
            .map(|(path, bytes, _)| (path.clone(), bytes.len() as u64))
            .collect(),
        context,
        sha256,
        tag,
    })
}

/// The context of `spec` with `artifacts` (context path, bytes) added: artifacts from
/// the cache are identified by the checksums the context already holds, so they do not
/// change the content address.
pub fn context_with_artifacts(
    spec: &BuildSpec,
    artifacts: &[(String, Vec<u8>)],
) -> Result<Vec<u8>, ProvisionError> {
    let (_, mut entries) = entries(spec)?;
    entries.extend(
        artifacts
            .iter()
            .map(|(path, bytes)| (path.clone(), bytes.clone(), 0o644)),
    );
    pack(&entries)
}

/// The CA bundles of `[build]`, concatenated (each ending in a line break), for builds
/// and downloads through a TLS-intercepting proxy; `None` when the spec names none.
pub fn ca_bundle(spec: &BuildSpec) -> Result<Option<Vec<u8>>, ProvisionError> {
    if spec.ca_certificates.is_empty() {
        return Ok(None);
    }
    let mut bundle = Vec::new();
    for path in &spec.ca_certificates {
        let bytes = read_input(path, "a CA certificate bundle")?;
        bundle.extend_from_slice(&bytes);
        if !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
    }
    Ok(Some(bundle))
}

/// The Dockerfile and every context entry (path, bytes, mode) of `spec`.
#[allow(clippy::type_complexity)]
fn entries(spec: &BuildSpec) -> Result<(String, Vec<(String, Vec<u8>, u32)>), ProvisionError> {
    let dockerfile = render_dockerfile(spec);
    let mut entries: Vec<(String, Vec<u8>, u32)> = vec![(
        "Dockerfile".to_string(),
        dockerfile.clone().into_bytes(),
        0o644,
    )];
    if let Some(bundle) = ca_bundle(spec)? {
        entries.push((CA_CONTEXT_PATH.to_string(), bundle, 0o644));
    }
    for (index, path) in spec.sources.apt_keys.iter().enumerate() {
        let bytes = read_input(path, "an apt signing key of [sources]")?;
        entries.push((apt_key_context_path(index), bytes, 0o644));
    }
    for (path, bytes) in generated_inputs(spec) {
        entries.push((path, bytes, 0o644));
    }
    for (index, file) in sorted_files(spec).into_iter().enumerate() {
        let bytes = match &file.source {
            FileSource::Bytes(bytes) => bytes.clone(),
            FileSource::Host(path) => read_input(path, &format!("file `{}`", file.path))?,
        };
        entries.push((file_context_path(index), bytes, file.mode));
    }
    Ok((dockerfile, entries))
}

/// The build context tar for `spec`.
pub fn build_context(spec: &BuildSpec) -> Result<Vec<u8>, ProvisionError> {
    prepare(spec).map(|prepared| prepared.context)
}

/// The content-addressed image tag for `spec`:
/// `envsync/<project>:<first 16 hex of sha256 over the context and base digest>`.
pub fn image_tag(spec: &BuildSpec) -> Result<String, ProvisionError> {
    prepare(spec).map(|prepared| prepared.tag)
}

fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, ProvisionError> {
    std::fs::read(path).map_err(|source| ProvisionError::ReadInput {
        path: path.to_path_buf(),
        what: what.to_string(),
        source,
    })
}

fn pack(entries: &[(String, Vec<u8>, u32)]) -> Result<Vec<u8>, ProvisionError> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .map_err(|source| ProvisionError::Context {
                path: path.clone(),
                source,
            })?;
    }
    builder
        .into_inner()
        .map_err(|source| ProvisionError::Context {
            path: "<end of archive>".to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::spec::{FileSpec, Pin};

    fn spec() -> BuildSpec {
        let mut spec = BuildSpec::new("Demo App", "envsync/debian:bookworm");
        spec.apt.push(Pin::exact("jq", "1.6-2.1+deb12u3"));
        spec.files.push(FileSpec {
            path: "/etc/app/settings.ini".into(),
            source: FileSource::Bytes(b"mode = prod\n".to_vec()),
            mode: 0o640,
        });
        spec
    }

    /// Entries of a tar: path, mode, contents.
    fn unpack(context: &[u8]) -> Vec<(String, u32, String)> {
        let mut archive = tar::Archive::new(context);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            out.push((path, mode, text));
        }
        out
    }

    fn check(spec: &BuildSpec, expected: &[(&str, u32)]) {
        let got: Vec<(String, u32)> = unpack(&build_context(spec).unwrap())
            .into_iter()
            .map(|(path, mode, _)| (path, mode))
            .collect();
        let expected: Vec<(String, u32)> =
            expected.iter().map(|(p, m)| (p.to_string(), *m)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn context_holds_dockerfile_ca_and_files_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----",
        )
        .unwrap();
        let host_file = dir.path().join("run.sh");
        std::fs::write(&host_file, "#!/bin/sh\n").unwrap();
        let mut spec = spec();
        spec.ca_certificates = vec![ca.clone(), ca];
        spec.files.push(FileSpec {
            path: "/usr/local/bin/run".into(),
            source: FileSource::Host(host_file),
            mode: 0o755,
        });
        check(
            &spec,
            &[
                ("Dockerfile", 0o644),
                ("envsync/ca.pem", 0o644),
                ("files/0000", 0o640),
                ("files/0001", 0o755),
            ],
        );
        let entries = unpack(&build_context(&spec).unwrap());
        assert_eq!(entries[0].2, render_dockerfile(&spec));
        assert_eq!(
            entries[1].2.matches("BEGIN CERTIFICATE").count(),
            2,
            "both bundles are concatenated"
        );
        assert_eq!(entries[2].2, "mode = prod\n");
        assert_eq!(entries[3].2, "#!/bin/sh\n");
    }

    #[test]
    fn missing_host_file_names_it() {
        let mut spec = spec();
        spec.files[0].source = FileSource::Host("/nonexistent/settings.ini".into());
        let err = build_context(&spec).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "cannot read `/nonexistent/settings.ini` (file `/etc/app/settings.ini`)"
            ),
            "{err}"
        );
    }

    #[test]
    fn tag_is_stable_and_follows_every_byte() {
        let base = spec();
        let tag = image_tag(&base).unwrap();
        assert!(tag.starts_with("envsync/demo-app:"), "{tag}");
        assert_eq!(tag.len(), "envsync/demo-app:".len() + TAG_HEX_LEN);
        assert_eq!(
            image_tag(&base.clone()).unwrap(),
            tag,
            "same spec, same tag"
        );

        let mut changed = base.clone();
        changed.files[0].source = FileSource::Bytes(b"mode = prot\n".to_vec());
        assert_ne!(image_tag(&changed).unwrap(), tag, "one content byte");

        let mut changed = base.clone();
        changed.files[0].mode = 0o644;
        assert_ne!(image_tag(&changed).unwrap(), tag, "file mode");

        let mut changed = base.clone();
        changed.apt[0] = Pin::exact("jq", "1.6-2.1+deb12u2");
        assert_ne!(image_tag(&changed).unwrap(), tag, "package version");

        let mut changed = base.clone();
        changed.base_digest = Some(format!("sha256:{}", "0".repeat(64)));
        assert_ne!(image_tag(&changed).unwrap(), tag, "base digest");

        let mut reordered = base.clone();
        reordered.apt.push(Pin::any("curl"));
        let mut other = base;
        other.apt.insert(0, Pin::any("curl"));
        assert_eq!(image_tag(&reordered).unwrap(), image_tag(&other).unwrap());
    }
}
