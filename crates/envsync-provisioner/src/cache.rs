//! The artifact cache: `.deb`s, wheels and npm tarballs a lock names, stored by their
//! checksum (`<root>/sha256/<hex>`; npm's sha512 integrity as `<root>/sha512/<hex>`),
//! verified on the way in and on the way out, and shared by
//! every project of a user. `envsync fetch` fills it, `envsync vendor DIR` copies a
//! lock's artifacts into a directory of the same layout, and builds from a lock take
//! from it what the package sources no longer offer (or everything, `--offline`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::ProvisionError;
use crate::spec::LockedSet;

/// Where a build's artifacts come from inside the build context.
pub const ARTIFACTS_CONTEXT_DIR: &str = "envsync/artifacts";

/// A content-addressed store of artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCache {
    root: PathBuf,
}

impl ArtifactCache {
    /// The cache at `root` (created when something is stored).
    pub fn at(root: &Path) -> ArtifactCache {
        ArtifactCache {
            root: root.to_path_buf(),
        }
    }

    /// The user's cache: `$ENVSYNC_CACHE_DIR`, else `$XDG_CACHE_HOME/envsync/artifacts`,
    /// else `~/.cache/envsync/artifacts`.
    pub fn user_default() -> Result<ArtifactCache, ProvisionError> {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let root = match (env("ENVSYNC_CACHE_DIR"), env("XDG_CACHE_HOME"), env("HOME")) {
            (Some(dir), _, _) => PathBuf::from(dir),
            (None, Some(xdg), _) => PathBuf::from(xdg).join("envsync").join("artifacts"),
            (None, None, Some(home)) => PathBuf::from(home).join(".cache/envsync/artifacts"),
            (None, None, None) => {
                return Err(ProvisionError::InvalidSpec {
                    field: "artifact cache".into(),
                    value: String::new(),
                    reason: "neither ENVSYNC_CACHE_DIR, XDG_CACHE_HOME nor HOME is set; set ENVSYNC_CACHE_DIR".into(),
                })
            }
        };
        Ok(ArtifactCache { root })
    }

    /// The cache's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the artifact with checksum `key` (64 hex digits: sha256; 128: sha512) is
    /// (or would be) stored.
    pub fn path(&self, key: &str) -> PathBuf {
        let algorithm = if key.len() == 128 { "sha512" } else { "sha256" };
        self.root.join(algorithm).join(key.to_ascii_lowercase())
    }

    /// Whether the artifact is stored.
    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Store `bytes` as the artifact with `sha256`, refusing bytes of another checksum.
    /// Written to a unique temporary file and renamed, so readers never see half a file.
    pub fn insert(&self, sha256: &str, bytes: &[u8]) -> Result<PathBuf, ProvisionError> {
        let got = digest_like(sha256, bytes);
        if !got.eq_ignore_ascii_case(sha256) {
            return Err(ProvisionError::InvalidSpec {
                field: "artifact".into(),
                value: sha256.to_string(),
                reason: format!("the downloaded file has sha256 `{got}`, not the locked one"),
            });
        }
        let path = self.path(sha256);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        let io = |source| ProvisionError::ReadInput {
            path: dir.clone(),
            what: "the artifact cache".into(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(path)
    }

    /// The stored artifact's bytes, verified against `sha256`; `None` when absent or
    /// damaged (a damaged file is reported to stderr by the caller's build failing).
    pub fn read(&self, sha256: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.path(sha256)).ok()?;
        digest_like(sha256, &bytes)
            .eq_ignore_ascii_case(sha256)
            .then_some(bytes)
    }
}

/// The hex digest of `bytes` by the algorithm `key` is of (sha512 for 128 hex digits,
/// else sha256).
fn digest_like(key: &str, bytes: &[u8]) -> String {
    if key.len() == 128 {
        hex::encode(sha2::Sha512::digest(bytes))
    } else {
        hex::encode(Sha256::digest(bytes))
    }
}

/// The cache key of npm's integrity string `sha512-<base64>`: its digest in hex.
pub fn integrity_key(integrity: &str) -> Option<String> {
    use base64::Engine as _;
    let b64 = integrity
        .split_whitespace()
        .next()?
        .strip_prefix("sha512-")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (bytes.len() == 64).then(|| hex::encode(bytes))
}

/// The build-context entries of every artifact of `locked` the cache holds: `.deb`s as
/// `envsync/artifacts/<sha256>.deb`, wheels under their file names (pip needs them).
/// Returns the entries and the artifacts it could not find, as `name=version`.
pub fn context_artifacts(
    cache: &ArtifactCache,
    locked: &LockedSet,
) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut entries = Vec::new();
    let mut missing = Vec::new();
    for deb in &locked.debs {
        let Some(sha) = &deb.sha256 else { continue };
        match cache.read(sha) {
            Some(bytes) => entries.push((format!("{ARTIFACTS_CONTEXT_DIR}/{sha}.deb"), bytes)),
            None => missing.push(format!("deb {}={}", deb.name, deb.version)),
        }
    }
    for wheel in &locked.wheels {
        let file = wheel.file.as_deref().filter(|f| is_plain_file_name(f));
        match (file, cache.read(&wheel.sha256)) {
            (Some(file), Some(bytes)) => {
                entries.push((format!("{ARTIFACTS_CONTEXT_DIR}/{file}"), bytes))
            }
            _ => missing.push(format!("pypi {}=={}", wheel.name, wheel.version)),
        }
    }
    for tarball in &locked.tarballs {
        let dir = crate::dockerfile::env_slug("npm", tarball.project.as_deref());
        let file = tarball.file.as_deref().filter(|f| is_plain_file_name(f));
        let bytes = integrity_key(&tarball.integrity).and_then(|key| cache.read(&key));
        match (file, bytes) {
            (Some(file), Some(bytes)) => {
                entries.push((format!("{ARTIFACTS_CONTEXT_DIR}/{dir}/{file}"), bytes))
            }
            _ => missing.push(format!("npm {}@{}", tarball.name, tarball.version)),
        }
    }
    entries.sort();
    entries.dedup_by(|a, b| a.0 == b.0);
    (entries, missing)
}

/// A file name without directories or anything a shell or COPY could read otherwise.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{LockedDeb, LockedWheel};

    #[test]
    fn stores_by_checksum_and_refuses_other_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::at(dir.path());
        let sha = hex::encode(Sha256::digest(b"deb bytes"));
        assert!(!cache.contains(&sha));
        cache.insert(&sha, b"deb bytes").unwrap();
        assert!(cache.contains(&sha));
        assert_eq!(cache.read(&sha).unwrap(), b"deb bytes");
        let err = cache.insert(&"0".repeat(64), b"other").unwrap_err();
        assert!(err.to_string().contains("not the locked one"), "{err}");
        // A damaged file is not served.
        std::fs::write(cache.path(&sha), b"tampered").unwrap();
        assert_eq!(cache.read(&sha), None);
    }

    #[test]
    fn npm_tarballs_are_kept_by_their_sha512_integrity() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::at(dir.path());
        let digest = sha2::Sha512::digest(b"tarball");
        let integrity = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        let key = integrity_key(&integrity).unwrap();
        assert_eq!(key, hex::encode(digest));
        assert_eq!(integrity_key("sha1-AAAA"), None);
        cache.insert(&key, b"tarball").unwrap();
        assert!(cache.path(&key).starts_with(dir.path().join("sha512")));
        let locked = LockedSet {
            tarballs: vec![crate::spec::LockedTarball {
                project: Some("/srv/app".into()),
                name: "dayjs".into(),
                version: "1.11.13".into(),
                integrity,
                file: Some("dayjs-1.11.13.tgz".into()),
                path: "node_modules/dayjs".into(),
            }],
            ..LockedSet::default()
        };
        let (entries, missing) = context_artifacts(&cache, &locked);
        assert_eq!(missing, Vec::<String>::new());
        assert_eq!(
            entries[0].0,
            "envsync/artifacts/npm-env-2f7372762f617070/dayjs-1.11.13.tgz"
        );
    }

    #[test]
    fn context_holds_what_the_cache_has_and_names_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::at(dir.path());
        let sha_a = hex::encode(Sha256::digest(b"a"));
        let sha_w = hex::encode(Sha256::digest(b"w"));
        cache.insert(&sha_a, b"a").unwrap();
        cache.insert(&sha_w, b"w").unwrap();
        let deb = |name: &str, sha: Option<&str>| LockedDeb {
            name: name.into(),
            arch: "amd64".into(),
            version: "1".into(),
            sha256: sha.map(str::to_string),
        };
        let locked = LockedSet {
            debs: vec![
                deb("a", Some(&sha_a)),
                deb("b", Some(&"b".repeat(64))),
                deb("c", None),
            ],
            wheels: vec![LockedWheel {
                env: None,
                name: "w".into(),
                version: "2".into(),
                sha256: sha_w.clone(),
                file: Some("w-2-py3-none-any.whl".into()),
            }],
            ..LockedSet::default()
        };
        let (entries, missing) = context_artifacts(&cache, &locked);
        let names: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("envsync/artifacts/{sha_a}.deb").as_str(),
                "envsync/artifacts/w-2-py3-none-any.whl"
            ]
        );
        assert_eq!(missing, ["deb b=1"]);
    }
}
