//! The marker every image envsync builds from a manifest carries: a small JSON file at
//! [`MARKER_PATH`] and the same document as the [`MARKER_LABEL`] label, naming the
//! project, which of its images this is, and what it took from the lock.
//!
//! `envsync check` reads the file to know it runs inside an environment of the project
//! (and which one) before it checks `local`. The marker is written last in the
//! Dockerfile, and holds only what the image already depends on, so it never makes an
//! image rebuild on its own: not the lock file's hash (which changes with every other
//! image of the lock and with the manifest's hash), but the digest of this image's own
//! locked inputs.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::spec::BuildSpec;

/// Where the marker file is in the image.
pub const MARKER_PATH: &str = "/etc/envsync/environment.json";

/// The marker's path in the build context.
pub const MARKER_CONTEXT_PATH: &str = "envsync/environment.json";

/// The image label holding the same document.
pub const MARKER_LABEL: &str = "io.envsync.environment";

/// The marker's schema id.
pub const MARKER_SCHEMA: &str = "envsync.environment/v1";

/// The image name of the development image in a marker; services use their name.
pub const DEV_IMAGE: &str = "dev";

/// Which environment a spec builds: set for every image built from a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIdentity {
    /// The manifest's `[project] name`.
    pub project: String,
    /// [`DEV_IMAGE`], or the service's name.
    pub image: String,
}

/// `envsync.environment/v1`, the marker document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentMarker {
    pub schema: String,
    /// The manifest's `[project] name`.
    pub project: String,
    /// `dev`, or the service's name.
    pub image: String,
    /// What the image was built from in the lock; `null` when it was resolved afresh
    /// (`envsync lock` building before the lock exists, or a build without a lock).
    pub lock: Option<LockedInputs>,
}

/// The part of the lock one image was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedInputs {
    /// `sha256:<hex>` over this image's locked inputs as written into its build
    /// context (Debian closure with checksums, hashed wheels, npm lockfiles) and its
    /// locked base; the same lock entries always give the same digest.
    pub digest: String,
}

impl EnvironmentMarker {
    /// Read a marker file's bytes; `None` when they are not a marker this envsync reads.
    pub fn parse(bytes: &[u8]) -> Option<EnvironmentMarker> {
        let marker: EnvironmentMarker = serde_json::from_slice(bytes).ok()?;
        (marker.schema == MARKER_SCHEMA).then_some(marker)
    }
}

/// The marker of `spec`, given the other generated inputs of its build context; `None`
/// for a spec that names no [`ImageIdentity`].
pub fn marker(spec: &BuildSpec, generated: &[(String, Vec<u8>)]) -> Option<EnvironmentMarker> {
    let identity = spec.identity.as_ref()?;
    let lock = spec.locked.as_ref().map(|_| {
        let mut hash = Sha256::new();
        if let Some(base) = &spec.base_digest {
            hash.update(b"base\0");
            hash.update(base.as_bytes());
            hash.update(b"\0");
        }
        for (path, bytes) in generated {
            hash.update(path.as_bytes());
            hash.update(b"\0");
            hash.update(bytes.len().to_string().as_bytes());
            hash.update(b"\0");
            hash.update(bytes);
        }
        LockedInputs {
            digest: format!("sha256:{}", hex::encode(hash.finalize())),
        }
    });
    Some(EnvironmentMarker {
        schema: MARKER_SCHEMA.to_string(),
        project: identity.project.clone(),
        image: identity.image.clone(),
        lock,
    })
}

/// The marker as the file's bytes: compact JSON and a newline.
pub fn marker_bytes(marker: &EnvironmentMarker) -> Vec<u8> {
    // A struct of strings serializes without fail.
    let mut bytes = serde_json::to_vec(marker).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_schemas() {
        let m = EnvironmentMarker {
            schema: MARKER_SCHEMA.into(),
            project: "demo".into(),
            image: DEV_IMAGE.into(),
            lock: None,
        };
        assert_eq!(EnvironmentMarker::parse(&marker_bytes(&m)), Some(m));
        assert_eq!(
            EnvironmentMarker::parse(
                br#"{"schema":"envsync.environment/v9","project":"x","image":"dev","lock":null}"#
            ),
            None
        );
        assert_eq!(EnvironmentMarker::parse(b"not json"), None);
    }
}
