//! Collection: every transport (local directory, container, image, ssh) gathers the
//! same set of files into a [`FileSet`], and one function, [`inventory`], turns a
//! file set into a snapshot. That is why `local:/path`, `image:`, `docker:` and `ssh://`
//! of the same filesystem agree package for package.
//!
//! What is gathered is decided by [`Selector::classify`], a pure function of a path:
//!
//! - fixed files: `/etc/os-release`, `/usr/lib/os-release`, `/var/lib/dpkg/status`,
//!   `/var/lib/dpkg/status.d/*`, `/var/lib/apt/extended_states` (read only for
//!   [`provenance`]), `/lib/apk/db/installed`, and runtime markers
//!   (`/usr/local/include/python3.X/patchlevel.h`, `/usr/local/include/node/node_version.h`,
//!   `/usr/local/go/VERSION`, `/opt/java/openjdk/release`);
//! - Python metadata: `<lib>/python3[.X]/{site,dist}-packages/NAME.dist-info/METADATA`,
//!   `.../NAME.egg-info/PKG-INFO` and `.../NAME.egg-info` files, where `<lib>` is
//!   `/usr/lib` or `/usr/local/lib`, or any `lib` below `/opt`, `/srv`, `/app`, a
//!   [`HOME_ROOTS`] entry (at most [`MAX_HOME_DEPTH`] deep), a root named in
//!   [`CollectOptions::roots`] or a virtualenv named in [`CollectOptions::python_envs`];
//! - npm manifests: `node_modules/NAME/package.json` and `node_modules/@SCOPE/NAME/package.json`
//!   below `/usr/lib/node_modules`, `/usr/local/lib/node_modules`, `/opt`, `/srv`, `/app`,
//!   the home roots, [`CollectOptions::roots`] or a project named in
//!   [`CollectOptions::npm_projects`] (nested `node_modules` included), and a project's
//!   own `package.json` outside `node_modules` below the same places (read only for
//!   [`provenance`], never as a package);
//! - interpreters: `<prefix>/include/python3.X/patchlevel.h` and
//!   `<prefix>/include/node/node_version.h` below the same roots (pyenv, conda, nvm,
//!   asdf and mise installs all carry them), each a `runtime` with `location` `<prefix>`;
//! - configuration files named in [`CollectOptions::files`] (directories: every regular
//!   file below them).
//!
//! RPM databases are only detected (a warning says they were not read).
//!
//! How components are named:
//!
//! - `deb`: `name` is dpkg's `${Package}` without an architecture qualifier and `arch`
//!   its `Architecture`, so `libc6:i386` is `{name: libc6, arch: i386}` beside
//!   `{name: libc6, arch: amd64}`; only `Status: ... installed` stanzas count.
//! - `apk`: `P:`/`V:`/`A:`.
//! - `pypi`: the PEP 503 normalised `Name` and the `Version` as written; `location` is
//!   the site-packages (or dist-packages) directory, so two copies stay distinct.
//! - `npm`: `name`/`version` from `package.json`; `location` is the absolute path of the
//!   `node_modules` directory holding the package (`/srv/app/node_modules`,
//!   `/srv/app/node_modules/send/node_modules` for a nested copy).
//! - `file`: the absolute path; `version` is the keyed hash `hmac-sha256:<hex>` of the
//!   content (see [`crate::hashkey`]), with `size` and `mode`; the content never leaves
//!   the target.
//! - `env`: the variable name; `version` is the keyed hash of the value. Only variables
//!   named in [`CollectOptions::env_names`] are recorded (the manifest's `[env]`,
//!   `--env NAME`): containers and images from their configured `Env`, `ssh://` from
//!   the remote shell's environment and `local` from this process's; `local:/path` has
//!   no environment.

pub mod command;
pub mod layers;
pub mod local;
pub mod parse;
pub mod provenance;
pub mod runtimes;
pub mod script;
pub mod tarball;

use std::collections::BTreeMap;
use std::time::Duration;

use envsync_manifest::Ecosystem;
use sha2::{Digest, Sha256};

use crate::hashkey::HashKey;
use crate::snapshot::{OsInfo, Package, Snapshot};

/// Upper bound on everything one collection reads from a target.
pub const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;
/// Upper bound on one metadata file (databases, METADATA, package.json).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// What to collect besides what is always collected.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Virtualenv (or any prefix) directories whose site-packages to read, e.g. `/opt/app/venv`.
    pub python_envs: Vec<String>,
    /// npm project directories whose `node_modules` to read, e.g. `/srv/app`.
    pub npm_projects: Vec<String>,
    /// More directories searched like `/opt` (the manifest's `[collect] roots`, `--root`).
    pub roots: Vec<String>,
    /// Configuration files or directories to hash (absolute paths on the target).
    pub files: Vec<String>,
    /// Environment variable names to record; `None` (or none named) records none: a
    /// process's other variables are no business of the inventory and may be secrets.
    pub env_names: Option<Vec<String>>,
    /// Record environment variables at all.
    pub collect_env: bool,
    /// Time limit for the whole collection of one target.
    pub timeout: Duration,
    /// Byte limit for everything read from one target.
    pub max_total_bytes: u64,
    /// How file contents and environment values are hashed.
    pub hashing: Hashing,
}

/// How file contents and environment values are hashed into a snapshot.
#[derive(Debug, Clone, Default)]
pub enum Hashing {
    /// With the user's key ([`HashKey::load`]), loaded when something is hashed.
    #[default]
    UserKey,
    /// With this key.
    Key(HashKey),
    /// Plain `sha256:`, for images built from the manifest whose inventory becomes the
    /// lock: their environment values and files are the repository's own, and a lock
    /// must verify for everyone, whatever their key.
    Plain,
}

impl CollectOptions {
    /// Whether any environment variable is to be recorded.
    pub fn wants_env(&self) -> bool {
        self.collect_env && self.env_names.as_ref().is_some_and(|n| !n.is_empty())
    }

    /// The key to hash with: `None` for plain hashes. Loads the user's key only when
    /// something will be hashed.
    pub fn resolve_key(&self) -> Result<Option<HashKey>, crate::DriftError> {
        match &self.hashing {
            Hashing::Plain => Ok(None),
            Hashing::Key(k) => Ok(Some(k.clone())),
            Hashing::UserKey if self.wants_env() || !self.files.is_empty() => {
                HashKey::load().map(Some)
            }
            Hashing::UserKey => Ok(None),
        }
    }
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            python_envs: Vec::new(),
            npm_projects: Vec::new(),
            roots: Vec::new(),
            files: Vec::new(),
            env_names: None,
            collect_env: true,
            timeout: Duration::from_secs(300),
            max_total_bytes: MAX_TOTAL_BYTES,
            hashing: Hashing::UserKey,
        }
    }
}

/// Files read at fixed paths.
pub const FIXED_FILES: &[&str] = &[
    "/etc/os-release",
    "/usr/lib/os-release",
    "/var/lib/dpkg/status",
    provenance::APT_EXTENDED_STATES,
    "/lib/apk/db/installed",
    "/usr/local/include/node/node_version.h",
    "/usr/local/go/VERSION",
    "/opt/java/openjdk/release",
];

/// Directories whose direct regular files are read.
pub const FIXED_DIRS: &[&str] = &["/var/lib/dpkg/status.d"];

/// RPM databases: detected, not read.
pub const RPM_DATABASES: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/Packages",
];

/// Directories searched for Python and npm metadata at any depth (and [`HOME_ROOTS`],
/// to a bounded depth). Entries ending in `*` are globs over the last path component.
pub const SEARCH_ROOTS: &[&str] = &[
    "/usr/lib/python3*",
    "/usr/local/lib/python3*",
    "/usr/lib/node_modules",
    "/usr/local/lib/node_modules",
    "/usr/local/include",
    "/opt",
    "/srv",
    "/app",
];

/// Prefixes below which Python and npm metadata may sit at any depth.
const DEEP_ROOTS: &[&str] = &["/opt", "/srv", "/app"];

/// Where people keep applications and their own interpreters: home directories (with
/// the install dirs of pyenv `~/.pyenv/versions/*`, conda `~/miniconda3`, `~/anaconda3`
/// and their `envs/*`, nvm `~/.nvm/versions/node/*`, asdf `~/.asdf/installs/*` and mise
/// `~/.local/share/mise/installs/*`) and `/var/www`. Searched at most
/// [`MAX_HOME_DEPTH`] levels deep; `/opt/conda` is under `/opt`, searched at any depth.
pub const HOME_ROOTS: &[&str] = &["/root", "/home/*", "/var/www"];

/// How many path components below a [`HOME_ROOTS`] directory (`/root`, `/home/dev`,
/// `/var/www`) a metadata file may sit, the file's own name included. mise's are the
/// deepest of the tools above: `.local/share/mise/installs/python/3.12.1/lib/python3.12/
/// site-packages/NAME.dist-info/METADATA` is 11; a project's nested `node_modules`
/// take the rest.
pub const MAX_HOME_DEPTH: usize = 14;

/// The home root holding `path` and how deep below it `path` sits, if any.
pub fn home_depth(path: &str) -> Option<usize> {
    let segs: Vec<&str> = path.split('/').collect();
    // segs[0] is "" (absolute path).
    let below = match segs.get(1..3)? {
        ["root", _] => 2,
        ["var", "www"] => 3,
        ["home", user] if !user.is_empty() && segs.len() > 3 => 3,
        _ => return None,
    };
    Some(segs.len().saturating_sub(below))
}

fn in_home_roots(path: &str) -> bool {
    home_depth(path).is_some_and(|d| (1..=MAX_HOME_DEPTH).contains(&d))
}

/// What a gathered path is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Fixed,
    Python,
    Npm,
    /// An npm project's own `package.json` (beside its `node_modules`), read for its
    /// direct dependencies ([`provenance`]), never as a package.
    NpmProject,
    Config,
}

/// Decides which paths a collection keeps; built from [`CollectOptions`].
#[derive(Debug, Clone)]
pub struct Selector {
    extra_fixed: Vec<String>,
    python_envs: Vec<String>,
    npm_projects: Vec<String>,
    roots: Vec<String>,
    files: Vec<String>,
}

fn clean_dir(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".to_string()
    } else {
        t.to_string()
    }
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

impl Selector {
    pub fn new(opts: &CollectOptions) -> Selector {
        let abs = |v: &[String]| -> Vec<String> {
            v.iter()
                .filter(|p| p.starts_with('/'))
                .map(|p| clean_dir(p))
                .collect()
        };
        Selector {
            extra_fixed: Vec::new(),
            python_envs: abs(&opts.python_envs),
            npm_projects: abs(&opts.npm_projects),
            roots: abs(&opts.roots),
            files: abs(&opts.files),
        }
    }

    /// The same selector, also keeping `paths`.
    pub fn with_extra_fixed(&self, paths: &[&str]) -> Selector {
        let mut s = self.clone();
        s.extra_fixed.extend(paths.iter().map(|p| p.to_string()));
        s
    }

    /// Directories to search (globs allowed, see [`SEARCH_ROOTS`]).
    pub fn search_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = SEARCH_ROOTS.iter().map(|s| s.to_string()).collect();
        roots.extend(self.python_envs.iter().cloned());
        roots.extend(self.npm_projects.iter().cloned());
        roots.extend(self.roots.iter().cloned());
        roots
    }

    /// Whether `path` is below a directory searched at any depth (or a home root within
    /// its depth), where metadata and interpreters are taken wherever they sit.
    fn in_searched_tree(&self, path: &str) -> bool {
        DEEP_ROOTS.iter().any(|r| under(path, r))
            || in_home_roots(path)
            || self.roots.iter().any(|r| under(path, r))
    }

    /// Configuration paths named by the user.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// What `path` (absolute, normalised) is for, or `None` to drop it.
    pub fn classify(&self, path: &str) -> Option<Kind> {
        if FIXED_FILES.contains(&path) || self.extra_fixed.iter().any(|p| p == path) {
            return Some(Kind::Fixed);
        }
        if let Some((dir, name)) = path.rsplit_once('/') {
            if FIXED_DIRS.contains(&dir) && !name.is_empty() {
                return Some(Kind::Fixed);
            }
        }
        if self.files.iter().any(|f| under(path, f)) {
            return Some(Kind::Config);
        }
        let segs: Vec<&str> = path.split('/').collect();
        if is_patchlevel(&segs) || (is_interpreter_marker(&segs) && self.in_searched_tree(path)) {
            return Some(Kind::Fixed);
        }
        if self.is_python(path, &segs) {
            return Some(Kind::Python);
        }
        if self.is_npm(path, &segs) {
            return Some(Kind::Npm);
        }
        if self.is_npm_project(path, &segs) {
            return Some(Kind::NpmProject);
        }
        None
    }

    fn is_python(&self, path: &str, segs: &[&str]) -> bool {
        // segs[0] is "" (the path is absolute). Find `lib/python3*/(site|dist)-packages/ENTRY...`.
        let Some(i) = segs
            .iter()
            .position(|s| *s == "site-packages" || *s == "dist-packages")
        else {
            return false;
        };
        if i < 3 || segs[i - 2] != "lib" || !segs[i - 1].starts_with("python3") {
            return false;
        }
        let entry = &segs[i + 1..];
        let ok_entry = match entry {
            [dir, "METADATA"] => dir.ends_with(".dist-info"),
            [dir, "PKG-INFO"] => dir.ends_with(".egg-info"),
            [file] => file.ends_with(".egg-info"),
            _ => false,
        };
        if !ok_entry {
            return false;
        }
        let lib_dir = segs[..i - 1].join("/");
        lib_dir == "/usr/lib"
            || lib_dir == "/usr/local/lib"
            || self.in_searched_tree(path)
            || self.python_envs.iter().any(|r| under(path, r))
    }

    fn is_npm(&self, path: &str, segs: &[&str]) -> bool {
        let n = segs.len();
        if n < 4 || segs[n - 1] != "package.json" {
            return false;
        }
        let plain = segs[n - 3] == "node_modules" && !segs[n - 2].starts_with(['.', '@']);
        let scoped = n >= 5
            && segs[n - 4] == "node_modules"
            && segs[n - 3].starts_with('@')
            && segs[n - 3].len() > 1
            && !segs[n - 2].starts_with('.');
        if !plain && !scoped {
            return false;
        }
        ["/usr/lib/node_modules", "/usr/local/lib/node_modules"]
            .iter()
            .any(|r| under(path, r))
            || self.in_searched_tree(path)
            || self.npm_projects.iter().any(|r| under(path, r))
    }
}

impl Selector {
    /// `DIR/package.json` outside any `node_modules`, below a deep root or a named project.
    fn is_npm_project(&self, path: &str, segs: &[&str]) -> bool {
        segs.last() == Some(&"package.json")
            && !segs.contains(&"node_modules")
            && (DEEP_ROOTS.iter().any(|r| under(path, r))
                || self.npm_projects.iter().any(|r| under(path, r)))
    }
}

fn is_patchlevel(segs: &[&str]) -> bool {
    matches!(segs, ["", "usr", "local", "include", py, "patchlevel.h"] if py.starts_with("python3"))
}

/// `<prefix>/include/python3.X/patchlevel.h` or `<prefix>/include/node/node_version.h`:
/// the files that say which interpreter is installed at `<prefix>`.
fn is_interpreter_marker(segs: &[&str]) -> bool {
    match segs {
        [.., "include", py, "patchlevel.h"] => py.starts_with("python3"),
        [.., "include", "node", "node_version.h"] => true,
        _ => false,
    }
}

/// The interpreter prefix a marker file names: `<prefix>` of `<prefix>/include/python3.X/patchlevel.h`
/// or `<prefix>/include/node/node_version.h`.
pub fn interpreter_prefix(path: &str) -> Option<&str> {
    let segs: Vec<&str> = path.split('/').collect();
    if !is_interpreter_marker(&segs) {
        return None;
    }
    let cut = path.rfind("/include/")?;
    Some(if cut == 0 { "/" } else { &path[..cut] })
}

/// One gathered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File {
        data: Vec<u8>,
        mode: u32,
    },
    /// A symbolic link (image layers only; other transports resolve links themselves).
    Symlink(String),
    /// A file over the per-file limit: its size, not its content.
    TooLarge {
        size: u64,
    },
}

/// The files gathered from one target, keyed by absolute path, plus the target's
/// environment (when the transport can see one) and what went wrong on the way.
#[derive(Debug, Default, Clone)]
pub struct FileSet {
    pub entries: BTreeMap<String, Entry>,
    /// Environment variables as `(name, value)`; `None` when the target has no process
    /// environment (a root directory).
    pub env: Option<Vec<(String, Vec<u8>)>>,
    /// The target's `PATH` (a container's or image's configured `Env`, the ssh shell's,
    /// this process's for `local`), when known: it says which interpreter is on it.
    pub path_var: Option<String>,
    /// RPM databases found (paths).
    pub rpm_databases: Vec<String>,
    pub warnings: Vec<String>,
    /// Files and directories the collecting user could not read, each naming its path:
    /// the inventory is incomplete when this is not empty.
    pub unreadable: Vec<String>,
    pub total: u64,
}

/// Normalise a path from an archive or a listing to `/a/b`: leading `./` and `/`
/// dropped, `.` removed, `..` resolved lexically (never above the root).
pub fn normalize_path(raw: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in raw.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

impl FileSet {
    /// Add a regular file, counting its bytes against the total.
    pub fn add_file(&mut self, path: String, data: Vec<u8>, mode: u32) {
        self.total += data.len() as u64;
        self.entries.insert(path, Entry::File { data, mode });
    }

    /// The content and mode of `path`, following symbolic links recorded in the set
    /// (at most 40 of them, never above the root).
    pub fn get(&self, path: &str) -> Option<(&[u8], u32)> {
        self.lookup(path).ok()
    }

    /// Like [`FileSet::get`]; when nothing is found, the path (after the links
    /// followed) that the set lacks, or `None` for a link loop or an oversized file.
    pub fn lookup(&self, path: &str) -> Result<(&[u8], u32), Option<String>> {
        let mut current = normalize_path(path);
        for _ in 0..40 {
            match self.entries.get(&current) {
                Some(Entry::File { data, mode }) => return Ok((data, *mode)),
                Some(Entry::TooLarge { .. }) => return Err(None),
                Some(Entry::Symlink(target)) => {
                    current = resolve_link(&current, target);
                    continue;
                }
                None => {}
            }
            // A symlinked parent directory: rewrite the first linked prefix.
            let mut rewritten = None;
            let mut prefix = String::new();
            let segs: Vec<&str> = current.split('/').filter(|s| !s.is_empty()).collect();
            for (k, seg) in segs.iter().enumerate() {
                prefix.push('/');
                prefix.push_str(seg);
                if k + 1 == segs.len() {
                    break;
                }
                if let Some(Entry::Symlink(target)) = self.entries.get(&prefix) {
                    let base = resolve_link(&prefix, target);
                    rewritten = Some(normalize_path(&format!(
                        "{base}/{}",
                        segs[k + 1..].join("/")
                    )));
                    break;
                }
            }
            match rewritten {
                Some(next) => current = next,
                None => return Err(Some(current)),
            }
        }
        Err(None)
    }

    /// Paths that links kept in the set point to (symbolic links, and hard links an
    /// image layer could not resolve) and that the set lacks: a reader that skipped them
    /// as unselected can read again keeping them. Only links `selector` keeps count.
    pub fn missing_link_targets(&self, selector: &Selector) -> Vec<String> {
        let mut out: Vec<String> = self
            .entries
            .iter()
            .filter(|(path, entry)| {
                matches!(entry, Entry::Symlink(_)) && selector.classify(path).is_some()
            })
            .filter_map(|(path, _)| self.lookup(path).err().flatten())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn resolve_link(link_path: &str, target: &str) -> String {
    if target.starts_with('/') {
        normalize_path(target)
    } else {
        let parent = link_path.rsplit_once('/').map_or("", |(d, _)| d);
        normalize_path(&format!("{parent}/{target}"))
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_version(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn package(ecosystem: Ecosystem, name: &str, version: &str) -> Package {
    Package::new(ecosystem, name, version)
}

/// Turn a file set into a normalised snapshot of `target`; file contents and
/// environment values are hashed with `key` (plain sha256 when `None`).
///
/// One step per source of components, in a fixed order so the warnings read in the
/// same order for every transport: the OS, the system package databases (and the
/// runtimes they and the marker files reveal), Python and npm metadata, configuration
/// files, the environment.
pub fn inventory(
    target: &str,
    files: &FileSet,
    opts: &CollectOptions,
    key: Option<&HashKey>,
) -> Snapshot {
    let selector = Selector::new(opts);
    let mut snap = Snapshot::new(target);
    let mut warnings = files.warnings.clone();

    snap.os = os_of(files, &mut warnings);
    snap.packages.extend(system_packages(files, &mut warnings));
    snap.packages
        .extend(metadata_packages(&selector, files, &mut warnings));
    snap.packages
        .extend(config_files(&selector, files, key, &mut warnings));
    snap.packages.extend(env_values(files, opts, key));
    if let Some(path_var) = &files.path_var {
        snap.on_path = runtimes::on_path(&snap.packages, path_var);
    }

    for what in &files.unreadable {
        warnings.push(format!("{}{what}", crate::snapshot::UNREADABLE_PREFIX));
    }
    snap.complete = files.unreadable.is_empty();
    if snap
        .packages
        .iter()
        .any(|p| matches!(p.ecosystem, Ecosystem::File | Ecosystem::Env))
    {
        snap.hash_key = key.map(HashKey::id);
    }
    snap.warnings = warnings;
    snap.normalize();
    snap
}

/// The keyed hash of `data`, or its plain `sha256:` when there is no key.
fn content_hash(key: Option<&HashKey>, data: &[u8]) -> String {
    key.map_or_else(|| sha256_version(data), |k| k.hash(data))
}

/// The OS from the first os-release file present (`/etc` before `/usr/lib`, as
/// os-release(5) says).
fn os_of(files: &FileSet, warnings: &mut Vec<String>) -> Option<OsInfo> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some((data, _)) = files.get(path) {
            let text = parse::text(path, data, warnings);
            let os = parse::os_release(&text);
            if os.is_none() {
                warnings.push(format!("`{path}` has no `ID`; OS unknown"));
            }
            return os;
        }
    }
    None
}

/// Debian and Alpine packages from their databases, and the runtimes they and the
/// runtime marker files reveal; RPM databases are only named in a warning.
fn system_packages(files: &FileSet, warnings: &mut Vec<String>) -> Vec<Package> {
    let mut system = Vec::new();
    if let Some((data, _)) = files.get("/var/lib/dpkg/status") {
        let path = "/var/lib/dpkg/status";
        let text = parse::text(path, data, warnings);
        for p in parse::dpkg_status(path, &text, true, warnings) {
            system.push((Ecosystem::Deb, p));
        }
    }
    for (path, entry) in files.entries.range("/var/lib/dpkg/status.d/".to_string()..) {
        if !path.starts_with("/var/lib/dpkg/status.d/") {
            break;
        }
        // Distroless images keep `.md5sums` files beside the stanzas.
        if path.ends_with(".md5sums") {
            continue;
        }
        if let Entry::File { data, .. } = entry {
            let text = parse::text(path, data, warnings);
            for p in parse::dpkg_status(path, &text, false, warnings) {
                system.push((Ecosystem::Deb, p));
            }
        }
    }
    if let Some((data, _)) = files.get("/lib/apk/db/installed") {
        let path = "/lib/apk/db/installed";
        let text = parse::text(path, data, warnings);
        for p in parse::apk_installed(path, &text, warnings) {
            system.push((Ecosystem::Apk, p));
        }
    }
    for db in &files.rpm_databases {
        warnings.push(format!(
            "rpm database present but not read: `{db}`; rpm packages are not in this snapshot"
        ));
    }
    let mut packages: Vec<Package> = system
        .iter()
        .map(|(eco, p)| {
            let mut pkg = package(*eco, &p.name, &p.version);
            pkg.arch = p.arch.clone();
            pkg
        })
        .collect();
    packages.extend(runtimes::from_system(&system));
    packages.extend(runtimes::from_files(files, warnings));
    packages
}

/// Python and npm packages from their metadata files anywhere in the set; an oversized
/// metadata or fixed file is a warning.
fn metadata_packages(
    selector: &Selector,
    files: &FileSet,
    warnings: &mut Vec<String>,
) -> Vec<Package> {
    let mut packages = Vec::new();
    for (path, entry) in &files.entries {
        let kind = selector.classify(path);
        if let (Some(Kind::Python | Kind::Npm | Kind::Fixed), Entry::TooLarge { size }) =
            (kind, entry)
        {
            warnings.push(format!("`{path}` is {size} bytes, over the limit; skipped"));
            continue;
        }
        let data: &[u8] = match entry {
            Entry::File { data, .. } => data,
            Entry::Symlink(_) if kind.is_some() => match files.get(path) {
                Some((data, _)) => data,
                None => continue,
            },
            _ => continue,
        };
        let found = match kind {
            Some(Kind::Python) => python_package(path, data, warnings),
            Some(Kind::Npm) => npm_package(path, data, warnings),
            _ => None,
        };
        packages.extend(found);
    }
    packages
}

/// The package a Python metadata file describes, located at its site-packages.
fn python_package(path: &str, data: &[u8], warnings: &mut Vec<String>) -> Option<Package> {
    let (location, _) = site_packages_of(path);
    let text = parse::text(path, data, warnings);
    match parse::python_metadata(&text) {
        Ok((name, version)) => {
            let mut pkg = package(Ecosystem::Pypi, &name, &version);
            pkg.location = Some(location.to_string());
            Some(pkg)
        }
        Err(why) => {
            warnings.push(format!(
                "`{path}` is not usable Python metadata: {why}; skipped"
            ));
            None
        }
    }
}

/// The package a `package.json` describes, located at its `node_modules`.
fn npm_package(path: &str, data: &[u8], warnings: &mut Vec<String>) -> Option<Package> {
    let (location, folder) = node_modules_of(path);
    match parse::npm_package(data, folder) {
        Ok((name, version)) => {
            let mut pkg = package(Ecosystem::Npm, &name, &version);
            pkg.location = Some(location.to_string());
            Some(pkg)
        }
        Err(why) => {
            warnings.push(format!(
                "`{path}` is not a usable package.json: {why}; skipped"
            ));
            None
        }
    }
}

/// Every regular file below each configuration path the user named, as a hash of its
/// content with its size and mode; a named path that is absent is a warning.
fn config_files(
    selector: &Selector,
    files: &FileSet,
    key: Option<&HashKey>,
    warnings: &mut Vec<String>,
) -> Vec<Package> {
    let hashed = |path: &str, data: &[u8], mode: u32| {
        let mut pkg = package(Ecosystem::File, path, &content_hash(key, data));
        pkg.size = Some(data.len() as u64);
        pkg.mode = Some(format!("{:04o}", mode & 0o7777));
        pkg
    };
    let mut packages = Vec::new();
    for named in selector.files() {
        let mut found = false;
        for (path, entry) in files.entries.range(named.clone()..) {
            if !under(path, named) {
                break;
            }
            found = true;
            match entry {
                Entry::File { data, mode } => packages.push(hashed(path, data, *mode)),
                Entry::TooLarge { size } => warnings.push(format!(
                    "`{path}` is {size} bytes, over the limit; not hashed"
                )),
                Entry::Symlink(_) => {
                    if let Some((data, mode)) = files.get(path) {
                        packages.push(hashed(path, data, mode));
                    }
                }
            }
        }
        if !found {
            warnings.push(format!("file `{named}` does not exist on the target"));
        }
    }
    packages
}

/// The environment variables the options name, each as a hash of its value.
fn env_values(files: &FileSet, opts: &CollectOptions, key: Option<&HashKey>) -> Vec<Package> {
    let Some(env) = &files.env else {
        return Vec::new();
    };
    env.iter()
        .filter(|(name, _)| {
            opts.wants_env()
                && opts
                    .env_names
                    .as_ref()
                    .is_some_and(|names| names.iter().any(|n| n == name))
        })
        .map(|(name, value)| package(Ecosystem::Env, name, &content_hash(key, value)))
        .collect()
}

/// The site-packages directory of a metadata path and the entry name.
fn site_packages_of(path: &str) -> (&str, &str) {
    let i = path
        .find("/site-packages/")
        .or_else(|| path.find("/dist-packages/"))
        .map_or(path.len(), |i| i + "/site-packages".len());
    (&path[..i.min(path.len())], path.get(i + 1..).unwrap_or(""))
}

/// The `node_modules` directory holding a package, and the package's folder name
/// (`@scope/name` for scoped ones).
fn node_modules_of(path: &str) -> (&str, &str) {
    let dir = path.strip_suffix("/package.json").unwrap_or(path);
    let Some(nm) = dir.rfind("/node_modules/") else {
        return (dir, dir);
    };
    let location = &dir[..nm + "/node_modules".len()];
    (location, &dir[nm + "/node_modules/".len()..])
}

/// The value of `PATH` in a list of environment variables.
pub fn path_of(env: &[(String, Vec<u8>)]) -> Option<String> {
    env.iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
}

/// Parse `NAME=VALUE` records separated by `sep` (NUL for `env -0`, newline otherwise).
pub fn parse_env(data: &[u8], sep: u8) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = data
        .split(|b| *b == sep)
        .filter_map(|rec| {
            let eq = rec.iter().position(|b| *b == b'=')?;
            let name = std::str::from_utf8(&rec[..eq]).ok()?;
            if name.is_empty() {
                return None;
            }
            Some((name.to_string(), rec[eq + 1..].to_vec()))
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Option<Kind>) {
        let opts = CollectOptions {
            python_envs: vec!["/home/u/venv".into()],
            npm_projects: vec!["/home/u/web/".into()],
            files: vec!["/etc/app".into()],
            ..CollectOptions::default()
        };
        assert_eq!(Selector::new(&opts).classify(path), expected, "{path}");
    }

    #[test]
    fn classification() {
        use Kind::*;
        check("/etc/os-release", Some(Fixed));
        check("/var/lib/dpkg/status", Some(Fixed));
        check("/var/lib/dpkg/status-old", None);
        check("/var/lib/dpkg/status.d/base", Some(Fixed));
        check("/usr/local/include/python3.12/patchlevel.h", Some(Fixed));
        check(
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            Some(Python),
        );
        check(
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD",
            None,
        );
        check(
            "/usr/lib/python3/dist-packages/setuptools/_vendor/x-1.dist-info/METADATA",
            None,
        );
        check("/usr/lib/python3/dist-packages/foo.egg-info", Some(Python));
        check(
            "/usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO",
            Some(Python),
        );
        check(
            "/usr/local/lib/python3.11/dist-packages/a.dist-info/METADATA",
            Some(Python),
        );
        check(
            "/usr/share/lib/python3.11/site-packages/a.dist-info/METADATA",
            None,
        );
        check(
            "/opt/app/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            Some(Python),
        );
        check(
            "/home/u/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            Some(Python),
        );
        // Home directories and /var/www are searched, to a bounded depth.
        check(
            "/home/x/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            Some(Python),
        );
        check(
            "/root/.local/share/mise/installs/python/3.12.1/lib/python3.12/site-packages/a.dist-info/METADATA",
            Some(Python),
        );
        check(
            "/var/www/site/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            Some(Python),
        );
        check(
            "/home/x/a/b/c/d/e/f/g/h/i/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            None,
        );
        check(
            "/usr/share/x/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            None,
        );
        check(
            "/home/dev/.nvm/versions/node/v20.11.0/include/node/node_version.h",
            Some(Fixed),
        );
        check(
            "/root/.pyenv/versions/3.11.7/include/python3.11/patchlevel.h",
            Some(Fixed),
        );
        check("/opt/conda/include/python3.12/patchlevel.h", Some(Fixed));
        check("/usr/include/python3.11/patchlevel.h", None);
        check("/srv/app/node_modules/express/package.json", Some(Npm));
        check("/srv/app/node_modules/@types/node/package.json", Some(Npm));
        check(
            "/srv/app/node_modules/send/node_modules/ms/package.json",
            Some(Npm),
        );
        check("/srv/app/node_modules/express/lib/package.json", None);
        check("/srv/app/node_modules/.bin/package.json", None);
        check("/srv/app/package.json", Some(NpmProject));
        check("/usr/share/app/package.json", None);
        check("/home/u/web/package.json", Some(NpmProject));
        check("/usr/local/lib/node_modules/semver/package.json", Some(Npm));
        check("/home/u/web/node_modules/a/package.json", Some(Npm));
        check("/home/u/other/node_modules/a/package.json", Some(Npm));
        check("/data/node_modules/a/package.json", None);
        check("/etc/app/settings.ini", Some(Config));
        check("/etc/application", None);
    }

    #[test]
    fn roots_add_searched_trees() {
        let opts = CollectOptions {
            roots: vec!["/data/apps/".into()],
            ..CollectOptions::default()
        };
        let sel = Selector::new(&opts);
        for path in [
            "/data/apps/x/node_modules/a/package.json",
            "/data/apps/x/venv/lib/python3.11/site-packages/a.dist-info/METADATA",
            "/data/apps/py/include/python3.11/patchlevel.h",
        ] {
            assert!(sel.classify(path).is_some(), "{path}");
        }
        assert!(sel.search_roots().contains(&"/data/apps".to_string()));
    }

    #[test]
    fn interpreters_on_path() {
        let rt = |name: &str, loc: Option<&str>| {
            let mut p = package(Ecosystem::Runtime, name, "1");
            p.location = loc.map(str::to_string);
            p
        };
        let found = [
            rt("python", None),
            rt("python", Some("/root/.pyenv/versions/3.11.7")),
            rt("python", Some("/usr/local")),
            rt("node", Some("/home/d/.nvm/versions/node/v20.11.0")),
            rt("go", Some("/usr/local/go")),
        ];
        let check = |path: &str, expected: &[(&str, &str)]| {
            let got = runtimes::on_path(&found, path);
            let want: BTreeMap<String, String> = expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{path}");
        };
        check(
            "/root/.pyenv/versions/3.11.7/bin:/usr/local/bin:/usr/bin",
            &[("python", "/root/.pyenv/versions/3.11.7")],
        );
        check(
            "/root/.pyenv/shims:/usr/local/bin/:/home/d/.nvm/versions/node/v20.11.0/bin:/bin",
            &[
                ("python", "/usr/local"),
                ("node", "/home/d/.nvm/versions/node/v20.11.0"),
            ],
        );
        check("relative:/bin", &[("python", "/usr")]);
        check("/sbin", &[]);
    }

    #[test]
    fn home_depth_is_counted_below_the_home() {
        assert_eq!(home_depth("/root/a"), Some(1));
        assert_eq!(home_depth("/home/dev/a/b"), Some(2));
        assert_eq!(home_depth("/home/dev"), None);
        assert_eq!(home_depth("/var/www/a"), Some(1));
        assert_eq!(home_depth("/var/lib/a"), None);
        assert_eq!(home_depth("/rootx/a"), None);
    }

    #[test]
    fn symlinks_resolve_inside_the_set() {
        let mut fs = FileSet::default();
        fs.add_file("/usr/lib/os-release".into(), b"ID=debian\n".to_vec(), 0o644);
        fs.entries.insert(
            "/etc/os-release".into(),
            Entry::Symlink("../usr/lib/os-release".into()),
        );
        fs.entries
            .insert("/lib".into(), Entry::Symlink("usr/lib".into()));
        fs.entries
            .insert("/loop".into(), Entry::Symlink("/loop".into()));
        fs.entries.insert(
            "/up".into(),
            Entry::Symlink("../../../../usr/lib/os-release".into()),
        );
        assert_eq!(
            fs.get("/etc/os-release").map(|x| x.0),
            Some(&b"ID=debian\n"[..])
        );
        assert_eq!(
            fs.get("/lib/os-release").map(|x| x.0),
            Some(&b"ID=debian\n"[..])
        );
        assert_eq!(fs.get("/up").map(|x| x.0), Some(&b"ID=debian\n"[..]));
        assert_eq!(fs.get("/loop"), None);
        assert_eq!(fs.get("/missing"), None);
    }

    #[test]
    fn env_records() {
        let env = parse_env(b"A=1\0B=x=y\0=bad\0noeq\0A=2\0", 0);
        assert_eq!(
            env,
            vec![("A".into(), b"1".to_vec()), ("B".into(), b"x=y".to_vec())]
        );
    }

    #[test]
    fn inventory_of_a_small_set() {
        let mut fs = FileSet::default();
        fs.add_file(
            "/etc/os-release".into(),
            b"ID=debian\nVERSION_ID=\"12\"\n".to_vec(),
            0o644,
        );
        fs.add_file(
            "/var/lib/dpkg/status".into(),
            b"Package: python3.11\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.11.2-6+deb12u6\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1\n".to_vec(),
            0o644,
        );
        fs.add_file(
            "/srv/app/node_modules/@types/node/package.json".into(),
            br#"{"name":"@types/node","version":"20.11.5"}"#.to_vec(),
            0o644,
        );
        fs.add_file(
            "/opt/v/lib/python3.11/site-packages/PyYAML-6.0.1.dist-info/METADATA".into(),
            b"Name: PyYAML\nVersion: 6.0.1\n".to_vec(),
            0o644,
        );
        fs.add_file("/etc/app/x.ini".into(), b"a".to_vec(), 0o640);
        fs.env = Some(vec![
            ("PATH".into(), b"/bin".to_vec()),
            ("PWD".into(), b"/".to_vec()),
        ]);
        let opts = CollectOptions {
            files: vec!["/etc/app".into(), "/etc/none".into()],
            env_names: Some(vec!["PATH".into()]),
            ..CollectOptions::default()
        };
        let key = HashKey::new(b"0123456789abcdef", "test").expect("long enough");
        let snap = inventory("t", &fs, &opts, Some(&key));
        let got: Vec<String> = snap
            .packages
            .iter()
            .map(|p| {
                format!(
                    "{}:{}={} {:?} {:?}",
                    p.ecosystem, p.name, p.version, p.location, p.mode
                )
            })
            .collect();
        let a_hash = key.hash(b"a");
        let path_hash = key.hash(b"/bin");
        assert_eq!(
            got,
            [
                "deb:python3.11=3.11.2-6+deb12u6 None None".to_string(),
                "pypi:pyyaml=6.0.1 Some(\"/opt/v/lib/python3.11/site-packages\") None".to_string(),
                "npm:@types/node=20.11.5 Some(\"/srv/app/node_modules\") None".to_string(),
                "runtime:python=3.11.2 None None".to_string(),
                format!("file:/etc/app/x.ini={a_hash} None Some(\"0640\")"),
                format!("env:PATH={path_hash} None None"),
            ]
        );
        assert_eq!(
            snap.warnings,
            ["file `/etc/none` does not exist on the target"]
        );
        assert_eq!(snap.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
        assert_eq!(snap.hash_key, Some(key.id()));
        let unnamed = inventory("t", &fs, &CollectOptions::default(), Some(&key));
        assert!(unnamed
            .packages
            .iter()
            .all(|p| p.ecosystem != Ecosystem::Env));
    }
}
