//! The inputs every project command reads, found and loaded one way: the manifest
//! (`-m PATH`, else the nearest `envsync.toml` from the current directory upwards) and
//! the lock (`--lock PATH`, else `envsync.lock` beside the manifest), with one error
//! text for a manifest that does not load.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use envsync_manifest::policy::Date;
use envsync_manifest::{Lock, Manifest};

/// The manifest's file name, looked for in the current directory and its parents.
pub const MANIFEST_FILE: &str = "envsync.toml";
/// The lock's file name, beside the manifest.
pub const LOCK_FILE: &str = "envsync.lock";

/// The manifest a command reads: the global `-m/--manifest` (or `ENVSYNC_MANIFEST`),
/// defined once on the root command ([`crate::settings::GlobalArgs`]) and handed to
/// each command that reads a manifest before it runs.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ManifestArg {
    /// The manifest the user named, if any.
    #[arg(skip)]
    pub manifest: Option<PathBuf>,
}

impl ManifestArg {
    /// Whether the user named the manifest (so a missing file is an error).
    pub fn explicit(&self) -> bool {
        self.manifest.is_some()
    }

    /// The manifest's path: the one given, else the nearest `envsync.toml` upwards
    /// from the current directory (as a relative path), else `envsync.toml` here (which
    /// then fails to load, naming it).
    pub fn path(&self) -> PathBuf {
        let path = match &self.manifest {
            Some(path) => path.clone(),
            None => std::env::current_dir()
                .ok()
                .and_then(|dir| discover(&dir))
                .unwrap_or_else(|| PathBuf::from(MANIFEST_FILE)),
        };
        tracing::debug!(
            manifest = %path.display(),
            named = self.explicit(),
            "manifest chosen"
        );
        path
    }

    /// The manifest's path once it is known to be readable; else an error saying what
    /// is wrong (none found, the named one missing, permission denied).
    pub fn readable_path(&self) -> anyhow::Result<PathBuf> {
        let path = self.path();
        if !self.explicit() && !path.exists() {
            bail!(
                "no `{MANIFEST_FILE}` in this directory or any directory above it; run envsync in the project, or pass the manifest's path with `--manifest PATH`"
            );
        }
        check_readable(&path)?;
        Ok(path)
    }

    /// Load the manifest (see [`load_manifest`]).
    pub fn load(&self) -> anyhow::Result<Manifest> {
        load_manifest(&self.readable_path()?)
    }
}

/// `-m/--manifest` and `--lock`, shared by every command that reads a lock too.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Inputs {
    #[command(flatten)]
    pub manifest: ManifestArg,
    /// The lock [default: envsync.lock beside the manifest]
    #[arg(long = "lock", value_name = "PATH")]
    pub lock: Option<PathBuf>,
}

/// A loaded manifest with its lock: the lock's path whether or not it exists.
#[derive(Debug)]
pub struct Loaded {
    pub manifest: Manifest,
    pub lock_path: PathBuf,
    pub lock: Option<Lock>,
}

impl Inputs {
    /// The manifest's path (see [`ManifestArg::path`]).
    pub fn manifest_path(&self) -> PathBuf {
        self.manifest.path()
    }

    /// The lock's path: `--lock`, else `envsync.lock` beside the manifest.
    pub fn lock_path(&self) -> PathBuf {
        let path = match &self.lock {
            Some(path) => path.clone(),
            None => lock_beside(&self.manifest_path()),
        };
        tracing::debug!(lock = %path.display(), named = self.lock.is_some(), "lock chosen");
        path
    }

    /// The manifest and its lock. A lock named with `--lock` must exist; the one beside
    /// the manifest is read when it exists.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        self.load_with(self.lock.is_some())
    }

    /// As [`Inputs::load`], but a lock that does not exist yet is no error even when
    /// named (`envsync lock` is about to write it).
    pub fn load_to_write(&self) -> anyhow::Result<Loaded> {
        self.load_with(false)
    }

    fn load_with(&self, lock_must_exist: bool) -> anyhow::Result<Loaded> {
        let manifest = self.manifest.load()?;
        let lock_path = self.lock_path();
        let lock = if lock_must_exist || lock_path.exists() {
            Some(Lock::load(&lock_path)?)
        } else {
            None
        };
        Ok(Loaded {
            manifest,
            lock_path,
            lock,
        })
    }
}

/// Read and validate a manifest, with every problem in one error. Ignore expiry is not
/// judged while loading: `envsync check` and `envsync validate` judge it, so an expired
/// ignore never stops `up`, `build` or `lock`.
pub fn load_manifest(path: &Path) -> anyhow::Result<Manifest> {
    check_readable(path)?;
    Manifest::load_on(path, Date::from_unix_days(0)).map_err(|errors| {
        anyhow!(
            "{errors}\nmanifest `{}` is not valid; `envsync validate` lists every problem",
            path.display()
        )
    })
}

/// Whether the manifest at `path` can be opened, as an error that says what happened:
/// a manifest that cannot be read is not an invalid one.
fn check_readable(path: &Path) -> anyhow::Result<()> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(err) => match err.kind() {
            std::io::ErrorKind::NotFound => bail!(
                "manifest `{}` does not exist; create it, or pass its path with `--manifest PATH`",
                path.display()
            ),
            std::io::ErrorKind::PermissionDenied => bail!(
                "cannot read manifest `{}`: permission denied; make it readable by this user (`chmod a+r`), or run envsync as a user who may read it",
                path.display()
            ),
            _ => Err(err).with_context(|| format!("cannot read manifest `{}`", path.display())),
        },
    }
}

/// Read a lock and refuse one made from another manifest.
pub fn load_lock_of(path: &Path, manifest: &Manifest) -> anyhow::Result<Lock> {
    let lock = Lock::load(path)?;
    if !lock.made_from(manifest) {
        bail!(
            "lock `{}` was made from another manifest (its manifest sha256 is `{}`, `{}` hashes to `{}`); regenerate it with `envsync lock` and commit both files together",
            path.display(),
            short(&lock.manifest_sha256),
            manifest.file.display(),
            short(&manifest.sha256)
        );
    }
    Ok(lock)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// `envsync.lock` beside the manifest at `manifest`.
pub fn lock_beside(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(LOCK_FILE),
        _ => PathBuf::from(LOCK_FILE),
    }
}

/// The nearest `envsync.toml` in `dir` or above it, relative to `dir`
/// (`envsync.toml`, `../envsync.toml`, …), so messages name it as briefly as a user would.
fn discover(dir: &Path) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for ancestor in dir.ancestors() {
        if ancestor.join(MANIFEST_FILE).is_file() {
            return Some(relative.join(MANIFEST_FILE));
        }
        relative.push("..");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_found_upwards_and_the_lock_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        assert_eq!(discover(&root.join("a/b")), None);
        std::fs::write(root.join(MANIFEST_FILE), "").unwrap();
        let check = |from: &str, expected: &str| {
            assert_eq!(
                discover(&root.join(from)),
                Some(PathBuf::from(expected)),
                "{from}"
            );
        };
        check("", "envsync.toml");
        check("a", "../envsync.toml");
        check("a/b", "../../envsync.toml");
        assert_eq!(
            lock_beside(Path::new("../../envsync.toml")),
            Path::new("../../envsync.lock")
        );
        assert_eq!(lock_beside(Path::new("envsync.toml")), Path::new(LOCK_FILE));
    }
}
