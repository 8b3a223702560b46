//! Collection from a directory holding a root filesystem (`local:/path`) or from this
//! machine (`local`), reading files directly.
//!
//! Symbolic links are resolved inside the root: an absolute link target is taken
//! relative to the root and `..` never climbs above it, so a hostile tree whose
//! `/etc/os-release` points at `/etc/shadow` reads the tree's own `/etc/shadow`, never
//! the host's. Walks do not follow links, like `find -H` in the collection script.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::tarball::Budget;
use super::{
    parse_env, Entry, FileSet, Selector, FIXED_DIRS, FIXED_FILES, MAX_FILE_BYTES, RPM_DATABASES,
};
use crate::error::DriftError;

/// Resolve the absolute target path `path` inside `root`, following symbolic links
/// without ever leaving `root`. Returns the host path, or `None` when something on the
/// way does not exist or the links loop.
pub fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .rev()
        .map(str::to_string)
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(seg) = pending.pop() {
        if seg == ".." {
            done.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&done);
        candidate.push(&seg);
        let meta = fs::symlink_metadata(&candidate).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let link = fs::read_link(&candidate).ok()?;
            let link = link.to_string_lossy().into_owned();
            if link.starts_with('/') {
                done.clear();
            }
            pending.extend(
                link.split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .rev()
                    .map(str::to_string),
            );
        } else {
            done.push(seg);
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&done);
    Some(out)
}

/// Read the regular file at `host` (target path `shown`); a file the user may not
/// read is listed in `unreadable`, not skipped as if it were absent.
fn read_file(
    host: &Path,
    shown: &str,
    unreadable: &mut Vec<String>,
    budget: &mut Budget,
) -> Result<Option<Entry>, DriftError> {
    let Ok(meta) = fs::symlink_metadata(host) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Ok(Some(Entry::TooLarge { size: meta.len() }));
    }
    let file = match fs::File::open(host) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            unreadable.push(format!("{shown}: Permission denied"));
            return Ok(None);
        }
        Err(source) => {
            return Err(DriftError::Io {
                path: host.to_path_buf(),
                source,
            })
        }
    };
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|source| DriftError::Io {
            path: host.to_path_buf(),
            source,
        })?;
    budget.spend(data.len() as u64)?;
    use std::os::unix::fs::PermissionsExt;
    Ok(Some(Entry::File {
        data,
        mode: meta.permissions().mode(),
    }))
}

/// Expand a search root: a trailing `*` globs over the last component.
fn expand(root: &Path, pattern: &str) -> Vec<String> {
    let Some(prefix) = pattern.strip_suffix('*') else {
        return vec![pattern.to_string()];
    };
    let (dir, stem) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let Some(host_dir) = resolve_in_root(root, dir) else {
        return Vec::new();
    };
    let Ok(read) = fs::read_dir(host_dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = read
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with(stem))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

/// Walk the directory at target path `dir` (not following links below it), adding the
/// regular files `keep` accepts.
fn walk(
    root: &Path,
    dir: &str,
    files: &mut FileSet,
    budget: &mut Budget,
    keep: &dyn Fn(&str) -> bool,
) -> Result<(), DriftError> {
    let Some(host) = resolve_in_root(root, dir) else {
        return Ok(());
    };
    if !host.is_dir() {
        return Ok(());
    }
    let base = dir.trim_end_matches('/');
    let shown = |p: &Path| {
        p.strip_prefix(&host)
            .ok()
            .map(|rel| format!("{base}/{}", rel.to_string_lossy()))
    };
    for entry in walkdir::WalkDir::new(&host)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // A directory the user cannot enter hides whatever is below it.
                if e.io_error().map(std::io::Error::kind)
                    == Some(std::io::ErrorKind::PermissionDenied)
                {
                    if let Some(p) = e.path().and_then(shown) {
                        files.unreadable.push(format!("{p}: Permission denied"));
                    }
                }
                continue;
            }
        };
        let kind = entry.file_type();
        if !kind.is_file() && !kind.is_symlink() {
            continue;
        }
        let Some(virtual_path) = shown(entry.path()) else {
            continue;
        };
        if !keep(&virtual_path) || files.entries.contains_key(&virtual_path) {
            continue;
        }
        // A symbolic link is read as its content, resolved inside the root, as the
        // collection script's `tar -h` and image layers' links are.
        let file = if kind.is_symlink() {
            match resolve_in_root(root, &virtual_path) {
                Some(p) => p,
                None => continue,
            }
        } else {
            entry.path().to_path_buf()
        };
        if let Some(e) = read_file(&file, &virtual_path, &mut files.unreadable, budget)? {
            files.entries.insert(virtual_path, e);
        }
    }
    Ok(())
}

/// Gather the selected files of the root filesystem at `root` (blocking IO).
pub fn collect_root(
    root: &Path,
    selector: &Selector,
    target: &str,
    limit: u64,
) -> Result<FileSet, DriftError> {
    let meta = fs::metadata(root).map_err(|source| DriftError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(DriftError::NotARoot {
            path: root.to_path_buf(),
        });
    }
    let mut budget = Budget::new(target, limit);
    let mut files = FileSet::default();
    for path in FIXED_FILES {
        if let Some(host) = resolve_in_root(root, path) {
            if let Some(e) = read_file(&host, path, &mut files.unreadable, &mut budget)? {
                files.entries.insert(path.to_string(), e);
            }
        }
    }
    for dir in FIXED_DIRS {
        let Some(host) = resolve_in_root(root, dir) else {
            continue;
        };
        let read = match fs::read_dir(&host) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                files.unreadable.push(format!("{dir}: Permission denied"));
                continue;
            }
            Err(_) => continue,
        };
        for entry in read.filter_map(|e| e.ok()) {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let shown = format!("{dir}/{name}");
            if let Some(e) = read_file(&entry.path(), &shown, &mut files.unreadable, &mut budget)? {
                files.entries.insert(shown, e);
            }
        }
    }
    for db in RPM_DATABASES {
        if resolve_in_root(root, db).is_some_and(|p| p.exists()) {
            files.rpm_databases.push(db.to_string());
        }
    }
    let classify = |p: &str| selector.classify(p).is_some();
    for pattern in selector.search_roots() {
        for dir in expand(root, &pattern) {
            walk(root, &dir, &mut files, &mut budget, &classify)?;
        }
    }
    for named in selector.files() {
        let Some(host) = resolve_in_root(root, named) else {
            continue;
        };
        if host.is_dir() {
            walk(root, named, &mut files, &mut budget, &|_| true)?;
        } else if let Some(e) = read_file(&host, named, &mut files.unreadable, &mut budget)? {
            files.entries.insert(named.clone(), e);
        }
    }
    files.total = budget.used;
    files.unreadable.sort();
    files.unreadable.dedup();
    Ok(files)
}

/// This process's environment, as the `env` of the shell that started it.
pub fn process_env() -> Vec<(String, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    let mut raw = Vec::new();
    for (k, v) in std::env::vars_os() {
        raw.extend_from_slice(k.as_bytes());
        raw.push(b'=');
        raw.extend_from_slice(v.as_bytes());
        raw.push(0);
    }
    parse_env(&raw, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::{inventory, CollectOptions};
    use std::os::unix::fs::symlink;

    fn write(root: &Path, path: &str, data: &str) {
        let p = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, data).expect("write");
    }

    fn check(root: &Path, path: &str, expected: Option<&str>) {
        let got = resolve_in_root(root, path)
            .map(|p| p.strip_prefix(root).expect("inside").display().to_string());
        assert_eq!(got.as_deref(), expected, "{path}");
    }

    #[test]
    fn symlinks_never_escape_the_root() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        write(root, "/usr/lib/os-release", "ID=debian\n");
        write(root, "/etc/shadow", "tree's own shadow");
        fs::create_dir_all(root.join("etc")).expect("etc");
        symlink("../usr/lib/os-release", root.join("etc/os-release")).expect("link");
        symlink("/etc/shadow", root.join("etc/abs")).expect("link");
        symlink("../../../../../../etc/shadow", root.join("etc/up")).expect("link");
        symlink("loop", root.join("etc/loop")).expect("link");
        symlink("usr/lib", root.join("lib")).expect("link");
        check(root, "/etc/os-release", Some("usr/lib/os-release"));
        check(root, "/etc/abs", Some("etc/shadow"));
        check(root, "/etc/up", Some("etc/shadow"));
        check(root, "/lib/os-release", Some("usr/lib/os-release"));
        check(root, "/etc/loop", None);
        check(root, "/missing/x", None);
    }

    #[test]
    fn hostile_root_reads_only_itself() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        fs::create_dir_all(root.join("etc")).expect("etc");
        fs::create_dir_all(root.join("var/lib/dpkg")).expect("dpkg");
        // The tree's status points at the host's status file; it must not be read.
        symlink("/etc/hostname", root.join("var/lib/dpkg/status")).expect("link");
        symlink("/etc/passwd", root.join("etc/os-release")).expect("link");
        write(
            root,
            "/srv/app/node_modules/big/package.json",
            "{\"name\":\"big\",\"version\":\"1.0.0\"}",
        );
        write(root, "/srv/app/node_modules/bad/package.json", "{ not json");
        fs::write(root.join("srv/app/node_modules/bad/huge"), vec![b'x'; 1024]).expect("huge");
        let opts = CollectOptions::default();
        let fs_ = collect_root(root, &Selector::new(&opts), "local:x", 1 << 20).expect("collect");
        assert!(!fs_.entries.contains_key("/var/lib/dpkg/status"));
        assert!(!fs_.entries.contains_key("/etc/os-release"));
        let snap = inventory("local:x", &fs_, &opts, None);
        assert_eq!(snap.packages.len(), 1, "{:?}", snap.packages);
        assert_eq!(snap.warnings.len(), 1, "{:?}", snap.warnings);
        assert!(snap.os.is_none());
    }

    #[test]
    fn budget_is_enforced() {
        let tmp = tempfile::tempdir().expect("tmp");
        write(tmp.path(), "/var/lib/dpkg/status", &"x".repeat(4096));
        let err = collect_root(
            tmp.path(),
            &Selector::new(&CollectOptions::default()),
            "local:t",
            1000,
        )
        .expect_err("too big");
        assert!(err.to_string().contains("local:t"));
        let err = collect_root(
            &tmp.path().join("nope"),
            &Selector::new(&CollectOptions::default()),
            "local:t",
            1000,
        );
        assert!(err.is_err());
    }
}
