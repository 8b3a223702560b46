//! The key that hashes environment values and file contents in snapshots
//! (HMAC-SHA256), where it comes from, its public id, and bringing two snapshots to
//! one comparable form.
//!
//! A plain sha256 of a short secret is reversed offline by guessing; a keyed hash is not
//! without the key. The key is read from, in order:
//!
//! 1. `ENVSYNC_HASH_KEY`: the key itself (at least 16 bytes);
//! 2. `ENVSYNC_HASH_KEY_FILE`: a file holding it;
//! 3. `$XDG_CONFIG_HOME/envsync/hash.key` (else `$HOME/.config/envsync/hash.key`),
//!    created on first use with 32 random bytes (as hex) and mode 0600.
//!
//! A team that compares snapshots made by different people or machines shares one key
//! by setting the variable or pointing every user at the same file. Each snapshot records
//! the key's id ([`HashKey::id`], a short hash of the key, not the key), and
//! [`align_hashes`] refuses to compare snapshots hashed with different keys.
//!
//! The keyed form of content `v` is `hmac-sha256:HEX(HMAC(key, sha256(v)))`: hashing
//! the plain digest rather than the content lets a plain `sha256:` hash (the lock's,
//! whose env values and files are the repository's own and so no secret) be brought to
//! the keyed form by whoever holds the key, without the content.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::DriftError;
use crate::snapshot::Snapshot;
use envsync_manifest::Ecosystem;

/// The variable holding the key itself.
pub const KEY_VAR: &str = "ENVSYNC_HASH_KEY";
/// The variable naming the key file.
pub const KEY_FILE_VAR: &str = "ENVSYNC_HASH_KEY_FILE";
/// The prefix of keyed content hashes.
pub const KEYED_PREFIX: &str = "hmac-sha256:";
/// The prefix of plain content hashes.
pub const PLAIN_PREFIX: &str = "sha256:";
/// The shortest key accepted: shorter ones can be guessed from the key id.
pub const MIN_KEY_BYTES: usize = 16;

/// A hashing key. `Debug` shows only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct HashKey {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey({})", self.id())
    }
}

impl HashKey {
    /// A key from its bytes; `source` names where they came from in errors.
    pub fn new(bytes: &[u8], source: &str) -> Result<HashKey, DriftError> {
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < MIN_KEY_BYTES {
            return Err(DriftError::HashKey {
                source_name: source.to_string(),
                message: format!(
                    "the key is {} bytes; use at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                    trimmed.len()
                ),
            });
        }
        Ok(HashKey {
            bytes: trimmed.to_vec(),
        })
    }

    /// The user's key: [`KEY_VAR`], else the file [`KEY_FILE_VAR`] names, else the
    /// per-user default file, created when missing.
    pub fn load() -> Result<HashKey, DriftError> {
        if let Some(value) = std::env::var_os(KEY_VAR) {
            use std::os::unix::ffi::OsStrExt;
            return HashKey::new(value.as_bytes(), KEY_VAR);
        }
        if let Some(path) = std::env::var_os(KEY_FILE_VAR) {
            return HashKey::read_file(Path::new(&path));
        }
        let path = default_key_path().ok_or_else(|| DriftError::HashKey {
            source_name: KEY_VAR.to_string(),
            message: format!(
                "neither `{KEY_VAR}`, `{KEY_FILE_VAR}`, `XDG_CONFIG_HOME` nor `HOME` is set; set one of them"
            ),
        })?;
        HashKey::read_or_create(&path)
    }

    /// The key held in `path`.
    pub fn read_file(path: &Path) -> Result<HashKey, DriftError> {
        let mut data = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(64 * 1024).read_to_end(&mut data))
            .map_err(|source| DriftError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        HashKey::new(&data, &path.display().to_string())
    }

    /// The key held in `path`, or a new random one written there with mode 0600. Two
    /// processes creating it at once agree: only one `create_new` succeeds and the
    /// other reads what it wrote.
    pub fn read_or_create(path: &Path) -> Result<HashKey, DriftError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| DriftError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            return HashKey::read_file(path);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut random = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut random))
            .map_err(|source| DriftError::Io {
                path: PathBuf::from("/dev/urandom"),
                source,
            })?;
        let text = format!("{}\n", hex::encode(random));
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(mut file) => {
                file.write_all(text.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                HashKey::new(text.as_bytes(), &path.display().to_string())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => HashKey::read_file(path),
            Err(e) => Err(io(e)),
        }
    }

    /// The key's public id: `k1:` and the first 16 hex digits of a domain-separated
    /// sha256 of the key. Equal ids mean equal keys; the id does not give the key away.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"envsync hash key id\0");
        h.update(&self.bytes);
        let digest = hex::encode(h.finalize());
        format!("k1:{}", &digest[..16])
    }

    /// `hmac-sha256:<hex>` of `data`.
    pub fn hash(&self, data: &[u8]) -> String {
        self.keyed_digest(&Sha256::digest(data))
    }

    /// The keyed form of a plain `sha256:<hex>` hash; `None` when `plain` is not one.
    pub fn rekey(&self, plain: &str) -> Option<String> {
        let hex_part = plain.strip_prefix(PLAIN_PREFIX)?;
        let digest = hex::decode(hex_part).ok()?;
        (digest.len() == 32).then(|| self.keyed_digest(&digest))
    }

    fn keyed_digest(&self, digest: &[u8]) -> String {
        // HMAC takes a key of any length, so `new_from_slice` cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) else {
            return String::new();
        };
        mac.update(digest);
        format!("{KEYED_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// `$XDG_CONFIG_HOME/envsync/hash.key`, else `$HOME/.config/envsync/hash.key`.
pub fn default_key_path() -> Option<PathBuf> {
    let nonempty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    if let Some(dir) = nonempty("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(dir).join("envsync").join("hash.key"));
    }
    nonempty("HOME").map(|home| {
        PathBuf::from(home)
            .join(".config")
            .join("envsync")
            .join("hash.key")
    })
}

/// Whether a snapshot holds content hashes (files or environment variables).
fn holds_hashes(s: &Snapshot) -> bool {
    s.packages
        .iter()
        .any(|p| matches!(p.ecosystem, Ecosystem::File | Ecosystem::Env))
}

/// Bring two snapshots to one comparable form before they are compared, or refuse.
///
/// Snapshots hashed with different keys cannot be compared (every hash would differ: false
/// drift), so that is an error naming both key ids. A snapshot with plain `sha256:`
/// hashes (a lock, or a snapshot written before keys) beside a keyed one is keyed with
/// the user's own key when that is the key the other was hashed with. Snapshots without
/// file or environment components compare whatever their keys.
pub fn align_hashes(a: &mut Snapshot, b: &mut Snapshot) -> Result<(), DriftError> {
    align_hashes_with(a, b, HashKey::load)
}

/// [`align_hashes`] with the user's key from `user_key`, called only when needed.
fn align_hashes_with(
    a: &mut Snapshot,
    b: &mut Snapshot,
    user_key: impl FnOnce() -> Result<HashKey, DriftError>,
) -> Result<(), DriftError> {
    if !holds_hashes(a) || !holds_hashes(b) || a.hash_key == b.hash_key {
        return Ok(());
    }
    let (plain, keyed) = match (&a.hash_key, &b.hash_key) {
        (None, Some(_)) => (a, &*b),
        (Some(_), None) => (b, &*a),
        _ => return Err(mismatch(a, b)),
    };
    let key = user_key()?;
    if Some(key.id()) != keyed.hash_key {
        return Err(mismatch(plain, keyed));
    }
    for p in &mut plain.packages {
        if matches!(p.ecosystem, Ecosystem::File | Ecosystem::Env) {
            if let Some(v) = key.rekey(&p.version) {
                p.version = v;
            }
        }
    }
    plain.hash_key = Some(key.id());
    plain.normalize();
    Ok(())
}

fn mismatch(a: &Snapshot, b: &Snapshot) -> DriftError {
    let shown = |s: &Snapshot| {
        s.hash_key
            .clone()
            .unwrap_or_else(|| "none (plain sha256)".to_string())
    };
    DriftError::HashKeyMismatch {
        left: a.target.clone(),
        left_key: shown(a),
        right: b.target.clone(),
        right_key: shown(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> HashKey {
        HashKey::new(text.as_bytes(), "test").expect("long enough")
    }

    #[test]
    fn keyed_hash_is_not_the_plain_one_and_depends_on_the_key() {
        let plain = format!("sha256:{}", hex::encode(Sha256::digest(b"hunter2secret")));
        let a = key("0123456789abcdef-a").hash(b"hunter2secret");
        let b = key("0123456789abcdef-b").hash(b"hunter2secret");
        assert!(a.starts_with(KEYED_PREFIX) && a.len() == KEYED_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert!(!a.contains(&plain[7..]));
        assert_eq!(key("0123456789abcdef-a").rekey(&plain), Some(a));
        assert_eq!(key("0123456789abcdef-a").rekey("sha256:zz"), None);
    }

    #[test]
    fn short_keys_are_refused_and_ids_differ() {
        assert!(HashKey::new(b"short", "ENVSYNC_HASH_KEY").is_err());
        let (a, b) = (key("0123456789abcdef-a"), key("0123456789abcdef-b"));
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), key(" 0123456789abcdef-a\n").id());
        assert!(!format!("{a:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("envsync/hash.key");
        let first = HashKey::read_or_create(&path).expect("created");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(HashKey::read_or_create(&path).expect("read"), first);
    }

    #[test]
    fn different_keys_are_refused_same_key_compares() {
        let with = |k: Option<&str>, v: &str| {
            let mut s = Snapshot::new("x");
            s.hash_key = k.map(str::to_string);
            s.packages.push(crate::snapshot::Package {
                ecosystem: Ecosystem::Env,
                name: "TOKEN".into(),
                version: v.into(),
                arch: None,
                location: None,
                size: None,
                mode: None,
            });
            s
        };
        let mut a = with(Some("k1:aaaa"), "hmac-sha256:00");
        let mut b = with(Some("k1:bbbb"), "hmac-sha256:00");
        let err = align_hashes(&mut a, &mut b).expect_err("different keys");
        assert!(err.to_string().contains("k1:aaaa"), "{err}");
        let mut c = with(Some("k1:aaaa"), "hmac-sha256:11");
        assert!(align_hashes(&mut a, &mut c).is_ok());
        let mut none = Snapshot::new("empty");
        assert!(align_hashes(&mut a, &mut none).is_ok());
    }

    /// A lock (plain `sha256:`) beside a snapshot hashed with the user's key is keyed
    /// with it and then compares equal; with another key it is refused.
    #[test]
    fn a_plain_lock_is_keyed_with_the_users_key_only() {
        let with = |k: Option<String>, v: String| {
            let mut s = Snapshot::new("x");
            s.hash_key = k;
            s.packages.push(crate::snapshot::Package {
                ecosystem: Ecosystem::File,
                name: "/etc/app.ini".into(),
                version: v,
                arch: None,
                location: None,
                size: None,
                mode: None,
            });
            s
        };
        let user = key("0123456789abcdef-user");
        let plain = format!("sha256:{}", hex::encode(Sha256::digest(b"a=1")));
        let mut lock = with(None, plain.clone());
        let mut live = with(Some(user.id()), user.hash(b"a=1"));
        align_hashes_with(&mut lock, &mut live, || Ok(user.clone())).expect("same key");
        assert_eq!(lock.packages, live.packages);
        assert_eq!(lock.hash_key, live.hash_key);

        let other = key("0123456789abcdef-other");
        let mut lock = with(None, plain);
        let mut live = with(Some(other.id()), other.hash(b"a=1"));
        let err = align_hashes_with(&mut live, &mut lock, || Ok(user.clone()))
            .expect_err("not the user's key");
        assert!(err.to_string().contains("plain sha256"), "{err}");
    }
}
