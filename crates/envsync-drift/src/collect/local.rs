//! Collection from a directory holding a root filesystem (`local:/path`) or from this
//! machine (`local`), reading files directly.
//!
//! Every path is opened beneath the root by the kernel, never by checking a path and
//! then opening it: `openat2` with `RESOLVE_IN_ROOT` resolves symbolic links and `..`
//! as if the root were `/` (an absolute link target is taken relative to the root and
//! `..` never climbs above it), so a hostile tree whose `/etc/os-release` points at
//! `/etc/shadow` reads the tree's own `/etc/shadow`, and a tree renamed while it is
//! read (`etc` swapped for a link to the host's `/etc`) cannot lead a read outside the
//! root. Walks hold each directory open and open its entries relative to it without
//! following links (`O_NOFOLLOW`), like `find -H` in the collection script; a link met
//! in a walk is read as its content, resolved inside the root again.
//!
//! Why `rustix` and not cap-std: rustix is already in the dependency tree (through
//! `tempfile` and `tar`), wraps `openat2` without `unsafe` in this crate, and keeps
//! `RESOLVE_IN_ROOT`'s meaning, where an absolute link is relative to the root as it is
//! inside the container or image the tree came from. cap-std treats an absolute link as
//! an escape and refuses it, which would read less than `docker:` and `image:` read of the
//! same tree, and brings its own crates.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Dir, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::tarball::Budget;
use super::{
    parse_env, Entry, FileSet, Selector, FIXED_DIRS, FIXED_FILES, HOME_ROOTS, MAX_FILE_BYTES,
    MAX_HOME_DEPTH, RPM_DATABASES,
};
use crate::error::DriftError;

/// An open root directory; every path below it is opened through [`Root::open`].
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// How often an `openat2` that saw a concurrent rename (`EAGAIN`) is tried again
/// before the path counts as absent.
const RENAME_RETRIES: usize = 16;

impl Root {
    /// Open `path` as a root.
    pub fn new(path: &Path) -> Result<Root, DriftError> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(Root {
                fd,
                path: path.to_path_buf(),
            }),
            Err(Errno::NOTDIR) => Err(DriftError::NotARoot {
                path: path.to_path_buf(),
            }),
            Err(e) => Err(DriftError::Io {
                path: path.to_path_buf(),
                source: e.into(),
            }),
        }
    }

    /// Open the target path `path` beneath the root, links and `..` resolved inside it.
    pub fn open(&self, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(
                &self.fd,
                rel,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                resolve,
            ) {
                Err(Errno::AGAIN) if tries < RENAME_RETRIES => tries += 1,
                other => return other,
            }
        }
    }

    /// The host path of a target path, for error messages only (never opened).
    fn shown(&self, path: &str) -> PathBuf {
        self.path.join(path.trim_start_matches('/'))
    }

    /// Whether `path` exists beneath the root.
    fn exists(&self, path: &str) -> bool {
        self.open(path, OFlags::PATH).is_ok()
    }

    /// Whether `path` is a directory beneath the root.
    fn is_dir(&self, path: &str) -> bool {
        self.open(path, OFlags::PATH | OFlags::DIRECTORY).is_ok()
    }
}

/// Flags for reading a file: `NONBLOCK` so that a FIFO planted in the tree cannot hang
/// the open; regular files ignore it.
const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY)
    .union(OFlags::CLOEXEC);

/// What an open that failed means: absent (`None`), unreadable, or an error.
fn open_failed(
    err: Errno,
    host: PathBuf,
    shown: &str,
    unreadable: &mut Vec<String>,
) -> Result<Option<Entry>, DriftError> {
    match err {
        Errno::ACCESS | Errno::PERM => {
            unreadable.push(format!("{shown}: Permission denied"));
            Ok(None)
        }
        // Absent, a link loop, a socket or device, or a path renamed away meanwhile.
        Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::NXIO | Errno::AGAIN | Errno::XDEV => {
            Ok(None)
        }
        e => Err(DriftError::Io {
            path: host,
            source: e.into(),
        }),
    }
}

/// Read the open file `fd` when it is a regular file.
fn read_fd(fd: OwnedFd, host: &Path, budget: &mut Budget) -> Result<Option<Entry>, DriftError> {
    let io = |source: std::io::Error| DriftError::Io {
        path: host.to_path_buf(),
        source,
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| io(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Ok(Some(Entry::TooLarge { size }));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    std::fs::File::from(fd)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    budget.spend(data.len() as u64)?;
    Ok(Some(Entry::File {
        data,
        mode: stat.st_mode & 0o7777,
    }))
}

/// Read the regular file at target path `path`, resolved inside the root; a file the
/// user may not read is listed in `unreadable`, not skipped as if it were absent.
fn read_file(
    root: &Root,
    path: &str,
    unreadable: &mut Vec<String>,
    budget: &mut Budget,
) -> Result<Option<Entry>, DriftError> {
    match root.open(path, READ_FLAGS) {
        Ok(fd) => read_fd(fd, &root.shown(path), budget),
        Err(e) => open_failed(e, root.shown(path), path, unreadable),
    }
}

/// The entries of the open directory `dir`, sorted by name, without `.` and `..`.
fn list(dir: &OwnedFd) -> Vec<(String, FileType)> {
    let Ok(read) = Dir::read_from(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, FileType)> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str().ok()?.to_string();
            let mut kind = e.file_type();
            if kind == FileType::Unknown {
                kind =
                    rustix::fs::statat(dir, name.as_str(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                        .map(|st| FileType::from_raw_mode(st.st_mode))
                        .unwrap_or(FileType::Unknown);
            }
            (name != "." && name != "..").then_some((name, kind))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Expand a search root: a trailing `*` globs over the last component.
fn expand(root: &Root, pattern: &str) -> Vec<String> {
    let Some(prefix) = pattern.strip_suffix('*') else {
        return vec![pattern.to_string()];
    };
    let (dir, stem) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let Ok(fd) = root.open(dir, OFlags::RDONLY | OFlags::DIRECTORY) else {
        return Vec::new();
    };
    list(&fd)
        .into_iter()
        .filter(|(n, _)| n.starts_with(stem))
        .map(|(n, _)| format!("{dir}/{n}"))
        .collect()
}

/// Open the subdirectory `name` of `parent` (target path `base`) without following a
/// link; `None` when it is not to be entered (unreadable: recorded in
/// `files.unreadable`; renamed away or swapped for a link meanwhile).
fn open_subdir(
    root: &Root,
    parent: &OwnedFd,
    name: &str,
    base: &str,
    files: &mut FileSet,
) -> Result<Option<OwnedFd>, DriftError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(parent, name, flags, Mode::empty()) {
        Ok(child) => Ok(Some(child)),
        // A directory the user cannot enter hides whatever is below it.
        Err(Errno::ACCESS | Errno::PERM) => {
            files.unreadable.push(format!("{base}: Permission denied"));
            Ok(None)
        }
        // Renamed away or swapped for a link meanwhile: not entered.
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Ok(None),
        // Anything else (out of descriptors, an IO error) would drop a subtree
        // silently: the collection fails instead.
        Err(e) => Err(DriftError::Io {
            path: root.shown(base),
            source: e.into(),
        }),
    }
}

/// Walk the directory at target path `dir` (not following links below it), adding the
/// regular files `keep` accepts. Each directory is held open and its entries are opened
/// relative to it with `O_NOFOLLOW`: a directory swapped for a link meanwhile is not
/// entered. Files more than `max_depth` levels below `dir` are not looked at (`find
/// -maxdepth`).
fn walk(
    root: &Root,
    dir: &str,
    files: &mut FileSet,
    budget: &mut Budget,
    keep: &dyn Fn(&str) -> bool,
    max_depth: usize,
) -> Result<(), DriftError> {
    let Ok(top) = root.open(dir, OFlags::RDONLY | OFlags::DIRECTORY) else {
        return Ok(());
    };
    // Each pending directory is its parent's descriptor and its name, opened only when
    // its turn comes: open descriptors stay as many as the walk is deep, not as many as
    // a directory has subdirectories (a `node_modules` may hold thousands).
    let top = std::rc::Rc::new(top);
    let base = dir.trim_end_matches('/').to_string();
    let mut stack: Vec<(std::rc::Rc<OwnedFd>, Option<String>, String, usize)> =
        vec![(top, None, base, 1)];
    while let Some((parent, name, base, depth)) = stack.pop() {
        let fd = match name {
            None => parent,
            Some(name) => match open_subdir(root, &parent, &name, &base, files)? {
                Some(child) => std::rc::Rc::new(child),
                None => continue,
            },
        };
        // Pushed in reverse so that directories are walked in name order.
        let mut subdirs = Vec::new();
        for (name, kind) in list(&fd) {
            let virtual_path = format!("{base}/{name}");
            match kind {
                FileType::Directory if depth < max_depth => {
                    subdirs.push((std::rc::Rc::clone(&fd), Some(name), virtual_path, depth + 1))
                }
                FileType::Directory => {}
                FileType::RegularFile | FileType::Symlink => {
                    if !keep(&virtual_path) || files.entries.contains_key(&virtual_path) {
                        continue;
                    }
                    // A symbolic link is read as its content, resolved inside the root,
                    // as the collection script's `tar -h` and image layers' links are.
                    let entry = if kind == FileType::Symlink {
                        read_file(root, &virtual_path, &mut files.unreadable, budget)?
                    } else {
                        let flags = READ_FLAGS | OFlags::NOFOLLOW;
                        match rustix::fs::openat(&*fd, name.as_str(), flags, Mode::empty()) {
                            Ok(f) => read_fd(f, &root.shown(&virtual_path), budget)?,
                            Err(e) => open_failed(
                                e,
                                root.shown(&virtual_path),
                                &virtual_path,
                                &mut files.unreadable,
                            )?,
                        }
                    };
                    if let Some(e) = entry {
                        files.entries.insert(virtual_path, e);
                    }
                }
                _ => {}
            }
        }
        stack.extend(subdirs.into_iter().rev());
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
    let root = Root::new(root)?;
    let mut budget = Budget::new(target, limit);
    let mut files = FileSet::default();
    for path in FIXED_FILES {
        if let Some(e) = read_file(&root, path, &mut files.unreadable, &mut budget)? {
            files.entries.insert(path.to_string(), e);
        }
    }
    for dir in FIXED_DIRS {
        let fd = match root.open(dir, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::ACCESS | Errno::PERM) => {
                files.unreadable.push(format!("{dir}: Permission denied"));
                continue;
            }
            Err(_) => continue,
        };
        for (name, kind) in list(&fd) {
            if kind != FileType::RegularFile {
                continue;
            }
            let shown = format!("{dir}/{name}");
            let entry = match rustix::fs::openat(
                &fd,
                name.as_str(),
                READ_FLAGS | OFlags::NOFOLLOW,
                Mode::empty(),
            ) {
                Ok(f) => read_fd(f, &root.shown(&shown), &mut budget)?,
                Err(e) => open_failed(e, root.shown(&shown), &shown, &mut files.unreadable)?,
            };
            if let Some(e) = entry {
                files.entries.insert(shown, e);
            }
        }
    }
    for db in RPM_DATABASES {
        if root.exists(db) {
            files.rpm_databases.push(db.to_string());
        }
    }
    let classify = |p: &str| selector.classify(p).is_some();
    for pattern in selector.search_roots() {
        for dir in expand(&root, &pattern) {
            walk(&root, &dir, &mut files, &mut budget, &classify, usize::MAX)?;
        }
    }
    for pattern in HOME_ROOTS {
        for dir in expand(&root, pattern) {
            walk(
                &root,
                &dir,
                &mut files,
                &mut budget,
                &classify,
                MAX_HOME_DEPTH,
            )?;
        }
    }
    for named in selector.files() {
        if root.is_dir(named) {
            walk(&root, named, &mut files, &mut budget, &|_| true, usize::MAX)?;
        } else if let Some(e) = read_file(&root, named, &mut files.unreadable, &mut budget)? {
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
    use std::fs;
    use std::os::unix::fs::symlink;

    fn write(root: &Path, path: &str, data: &str) {
        let p = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, data).expect("write");
    }

    /// What reading target path `path` beneath `root` gives: the file's text, or `None`.
    fn check(root: &Path, path: &str, expected: Option<&str>) {
        let root = Root::new(root).expect("root");
        let mut budget = Budget::new("local:t", 1 << 20);
        let got = read_file(&root, path, &mut Vec::new(), &mut budget)
            .expect("no error")
            .and_then(|e| match e {
                Entry::File { data, .. } => Some(String::from_utf8(data).expect("utf-8")),
                _ => None,
            });
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
        check(root, "/etc/os-release", Some("ID=debian\n"));
        check(root, "/etc/abs", Some("tree's own shadow"));
        check(root, "/etc/up", Some("tree's own shadow"));
        check(root, "/lib/os-release", Some("ID=debian\n"));
        check(root, "/../../etc/shadow", Some("tree's own shadow"));
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

    /// A directory with more subdirectories than a process may hold descriptors open
    /// (often 1024) is walked: descriptors are held per level, not per subdirectory.
    #[test]
    fn wide_directories_do_not_exhaust_descriptors() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        // Lower this process's soft limit below the number of subdirectories, so that the
        // test fails if each pending subdirectory held a descriptor.
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(256),
                maximum: limit.maximum,
            },
        )
        .expect("lower the descriptor limit");
        for i in 0..1000 {
            write(
                root,
                &format!("/srv/app/node_modules/p{i}/package.json"),
                &format!("{{\"name\":\"p{i}\",\"version\":\"1.0.{i}\"}}"),
            );
        }
        let opts = CollectOptions::default();
        let fs_ = collect_root(root, &Selector::new(&opts), "local:x", 1 << 26).expect("collect");
        let snap = inventory("local:x", &fs_, &opts, None);
        rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)
            .expect("restore the descriptor limit");
        assert_eq!(snap.packages.len(), 1000, "{:?}", snap.warnings);
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
