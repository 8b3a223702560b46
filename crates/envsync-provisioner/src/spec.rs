//! The provisioner's input: everything that goes into an image build, and its validation.
//!
//! A [`BuildSpec`] is independent of the manifest format: the CLI (or `envsync lock`)
//! maps a manifest, optionally overlaid with a lock's exact versions, onto it. Lists
//! are sorted when rendered, so the order in which a caller lists packages, files or
//! variables never changes the image tag.

use std::collections::BTreeSet;
use std::path::PathBuf;

pub use crate::dockerfile::marker::ImageIdentity;
use crate::error::ProvisionError;

/// Everything that goes into an image build, resolved to exact versions where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpec {
    /// Project name; the image repository is `envsync/<project>` (lower-cased, with
    /// characters a repository name cannot hold replaced by `-`).
    pub project: String,
    /// Image reference of the base, e.g. `envsync/debian:bookworm`.
    pub base_image: String,
    /// The base pinned exactly: an image ID (`sha256:<64 hex>`) or a repository digest
    /// reference (`name@sha256:...`). When known, the Dockerfile builds `FROM` it.
    pub base_digest: Option<String>,
    /// Debian packages; exact when locked.
    pub apt: Vec<Pin>,
    pub python: Option<PythonSpec>,
    pub node: Option<NodeSpec>,
    /// Files copied into the image with their modes.
    pub files: Vec<FileSpec>,
    /// CA bundles trusted by apt, pip and npm while the image builds. They are
    /// concatenated in order into one bundle that REPLACES the default trust store of
    /// pip (`PIP_CERT`), so pass a complete bundle (the host's
    /// `/etc/ssl/certs/ca-certificates.crt`), not a lone intermediate certificate.
    pub ca_certificates: Vec<PathBuf>,
    /// The exact contents a lock records for this image. When present, the build
    /// installs exactly these Debian packages in one transaction (whatever the base has
    /// at other versions is brought to the locked ones) and these wheels by hash,
    /// resolving nothing anew.
    pub locked: Option<LockedSet>,
    /// Package sources besides the base image's own.
    pub sources: SourceSpec,
    /// Which environment of which project this image is; when set, the image carries
    /// the marker of [`crate::dockerfile::marker`].
    pub identity: Option<ImageIdentity>,
}

/// Where a build finds packages besides the base image's sources. Used while the image
/// builds only: the final image keeps neither the extra apt sources nor the keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSpec {
    /// One-line `deb` entries.
    pub apt: Vec<String>,
    /// Host files of the signing keys of those repositories (armored or binary).
    pub apt_keys: Vec<PathBuf>,
    /// Base URL of a dated snapshot archive, added for the base's suite (`main`).
    pub apt_snapshot: Option<String>,
    /// pip's index URL.
    pub pypi_index: Option<String>,
    /// npm's registry URL.
    pub npm_registry: Option<String>,
}

impl SourceSpec {
    /// Whether a source is on this machine's loopback (`127.0.0.1`, `localhost`,
    /// `[::1]`): the build then runs on the host's network to reach it.
    pub fn on_loopback(&self) -> bool {
        self.apt
            .iter()
            .map(String::as_str)
            .chain(self.apt_snapshot.as_deref())
            .chain(self.pypi_index.as_deref())
            .chain(self.npm_registry.as_deref())
            .any(|text| {
                ["127.", "localhost", "[::1]"]
                    .iter()
                    .any(|host| text.contains(&format!("://{host}")))
            })
    }
}

/// What a lock records of one image, as the build installs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockedSet {
    /// Every Debian package of the image.
    pub debs: Vec<LockedDeb>,
    /// Python packages with the sha256 of the wheel they were installed from.
    pub wheels: Vec<LockedWheel>,
    /// npm packages with the integrity of their tarball, installed from the tarballs
    /// when the build has them (from the artifact cache).
    pub tarballs: Vec<LockedTarball>,
    /// Debian packages taken out of the lock on purpose (`envsync lock --update NAME`):
    /// installed in the same transaction as the closure, at the version the manifest
    /// pins or else the sources' candidate.
    pub update_debs: Vec<Pin>,
    /// Python packages taken out of the lock on purpose, by environment (`None`: the
    /// system Python): upgraded after the locked wheels, with what they require.
    pub update_wheels: Vec<(Option<String>, Pin)>,
}

/// One Debian package at its exact version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockedDeb {
    pub name: String,
    /// `amd64`, `all`, ...: as `dpkg-query` prints `${Architecture}`.
    pub arch: String,
    pub version: String,
    /// The sha256 of its `.deb`, when the lock records one.
    pub sha256: Option<String>,
}

/// One npm package pinned to the tarball it was installed from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockedTarball {
    /// `None`: npm's global directory; `Some(path)`: the Node project at `path`.
    pub project: Option<String>,
    pub name: String,
    pub version: String,
    /// `sha512-<base64>`, as package-lock.json records it.
    pub integrity: String,
    /// The tarball's file name.
    pub file: Option<String>,
    /// Where npm puts it, relative to the project (`node_modules/a/node_modules/b`), as
    /// a `package-lock.json` keys its packages.
    pub path: String,
}

/// One Python package pinned to the wheel it was installed from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockedWheel {
    /// `None`: the system Python; `Some(path)`: the virtualenv at `path`.
    pub env: Option<String>,
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The wheel's file name, when the lock records it.
    pub file: Option<String>,
}

/// One package and the version wanted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pin {
    pub name: String,
    pub req: Req,
}

/// Which version of a package to install.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Req {
    /// Whatever the package source offers now.
    Any,
    /// Exactly this version (`1.6-2.1+deb12u3`, `2.31.0`, `4.18.2`).
    Exact(String),
    /// An ecosystem-native range: a PEP 440 specifier set for pip (`~=4.2.7`), a semver
    /// range for npm (`^4.18.0`). apt cannot install a range: for apt the current
    /// candidate is installed, and the lock records which version that was.
    Range(String),
}

impl Pin {
    /// A package at exactly `version`.
    pub fn exact(name: &str, version: &str) -> Pin {
        Pin {
            name: name.to_string(),
            req: Req::Exact(version.to_string()),
        }
    }

    /// A package at whatever version the source offers.
    pub fn any(name: &str) -> Pin {
        Pin {
            name: name.to_string(),
            req: Req::Any,
        }
    }

    /// A package within an ecosystem-native range.
    pub fn range(name: &str, range: &str) -> Pin {
        Pin {
            name: name.to_string(),
            req: Req::Range(range.to_string()),
        }
    }

    /// The exact version pinned, if any.
    pub fn exact_version(&self) -> Option<&str> {
        match &self.req {
            Req::Exact(v) => Some(v),
            _ => None,
        }
    }
}

/// Python from Debian's `python3`, with packages installed system-wide and into virtualenvs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonSpec {
    /// Wanted interpreter version as a prefix (`3.11` matches `3.11.2`); the build fails
    /// with both versions named when Debian's `python3` does not match.
    pub version: Option<String>,
    /// Installed with `pip install --break-system-packages`.
    pub packages: Vec<Pin>,
    pub venvs: Vec<PackageSet>,
}

/// Node.js from Debian's `nodejs` and `npm`, with global packages and project directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSpec {
    /// Wanted Node.js version as a prefix (`18` matches `18.19.0`).
    pub version: Option<String>,
    /// Installed with `npm install -g`.
    pub packages: Vec<Pin>,
    /// Installed with `npm install --prefix DIR`, which writes `DIR/package.json`.
    pub projects: Vec<PackageSet>,
}

/// Packages installed into one directory: a virtualenv, or an npm project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSet {
    /// Absolute path inside the image.
    pub path: String,
    pub packages: Vec<Pin>,
}

/// A file copied into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path inside the image.
    pub path: String,
    pub source: FileSource,
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    Bytes(Vec<u8>),
    /// Read when the build context is made.
    Host(PathBuf),
}

impl BuildSpec {
    /// An empty spec for `project` on `base_image`.
    pub fn new(project: &str, base_image: &str) -> BuildSpec {
        BuildSpec {
            project: project.to_string(),
            base_image: base_image.to_string(),
            base_digest: None,
            apt: Vec::new(),
            python: None,
            node: None,
            files: Vec::new(),
            ca_certificates: Vec::new(),
            locked: None,
            sources: SourceSpec::default(),
            identity: None,
        }
    }

    /// Check every name, version, path and value the Dockerfile will hold, so that a
    /// bad value is reported by field instead of producing a broken Dockerfile.
    // Over 80 lines on purpose: one check per field of the spec, in the order of the
    // struct, so a new field's check has one obvious place.
    pub fn validate(&self) -> Result<(), ProvisionError> {
        if repository_component(&self.project).is_empty() {
            return Err(invalid(
                "project",
                &self.project,
                "the project name needs at least one letter or digit",
            ));
        }
        check_text("base image", &self.base_image, is_reference_char)?;
        if self.base_image.is_empty() {
            return Err(invalid("base image", "", "the base image is empty"));
        }
        if let Some(identity) = &self.identity {
            // The marker is JSON in a file and a label: plain printable text only.
            check_text("marker project", &identity.project, is_marker_char)?;
            check_text("marker image", &identity.image, is_marker_char)?;
        }
        if let Some(digest) = &self.base_digest {
            check_text("base digest", digest, is_reference_char)?;
            if !(is_image_id(digest) || digest.contains("@sha256:")) {
                return Err(invalid(
                    "base digest",
                    digest,
                    "write an image ID `sha256:<64 hex>` or a digest reference `name@sha256:<64 hex>`",
                ));
            }
        }
        check_pins("apt", &self.apt, is_deb_name_char, is_version_char)?;
        if let Some(python) = &self.python {
            if let Some(v) = &python.version {
                check_text("python version", v, is_version_char)?;
            }
            check_pins(
                "python",
                &python.packages,
                is_pypi_name_char,
                is_version_char,
            )?;
            check_sets("python venv", &python.venvs, is_pypi_name_char)?;
        }
        if let Some(node) = &self.node {
            if let Some(v) = &node.version {
                check_text("node version", v, is_version_char)?;
            }
            check_pins("node", &node.packages, is_npm_name_char, is_version_char)?;
            check_sets("node project", &node.projects, is_npm_name_char)?;
        }
        for line in &self.sources.apt {
            if line.contains(['\n', '\r', '\'', '\\']) || !line.starts_with("deb ") {
                return Err(invalid(
                    "apt source",
                    line,
                    "write one `deb [options] URL suite [components]` line without quotes or backslashes",
                ));
            }
        }
        for (field, url) in [
            ("apt snapshot", &self.sources.apt_snapshot),
            ("pypi index", &self.sources.pypi_index),
            ("npm registry", &self.sources.npm_registry),
        ] {
            if let Some(url) = url {
                check_text(field, url, is_url_char)?;
            }
        }
        if let Some(locked) = &self.locked {
            for deb in &locked.debs {
                check_text("locked apt package", &deb.name, is_deb_name_char)?;
                check_text("locked apt architecture", &deb.arch, is_deb_name_char)?;
                check_text(
                    &format!("locked apt version of `{}`", deb.name),
                    &deb.version,
                    is_version_char,
                )?;
            }
            for wheel in &locked.wheels {
                check_text("locked python package", &wheel.name, is_pypi_name_char)?;
                check_text(
                    &format!("locked python version of `{}`", wheel.name),
                    &wheel.version,
                    is_version_char,
                )?;
                if !(wheel.sha256.len() == 64
                    && wheel.sha256.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    return Err(invalid(
                        &format!("locked sha256 of python package `{}`", wheel.name),
                        &wheel.sha256,
                        "a sha256 is 64 hex digits",
                    ));
                }
                if let Some(env) = &wheel.env {
                    check_container_path("locked python environment", env)?;
                }
            }
        }
        let mut paths = BTreeSet::new();
        for file in &self.files {
            check_container_path("file", &file.path)?;
            if !paths.insert(file.path.as_str()) {
                return Err(invalid("file", &file.path, "the path is listed twice"));
            }
            if file.mode > 0o7777 {
                return Err(invalid(
                    "file mode",
                    &format!("{:o}", file.mode),
                    "a mode holds permission bits only (at most 7777 octal)",
                ));
            }
        }
        Ok(())
    }
}

/// The project name as a Docker repository path component: lower case, `[a-z0-9._-]`,
/// starting and ending with a letter or digit.
pub fn repository_component(project: &str) -> String {
    let mapped: String = project
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Whether `text` is a full image ID, `sha256:` and 64 lower-case hex digits.
pub fn is_image_id(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn invalid(field: &str, value: &str, reason: &str) -> ProvisionError {
    ProvisionError::InvalidSpec {
        field: field.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn check_text(field: &str, text: &str, allowed: fn(char) -> bool) -> Result<(), ProvisionError> {
    match text.chars().find(|c| !allowed(*c)) {
        Some(c) => Err(invalid(
            field,
            text,
            &format!("the character `{}` is not allowed here", c.escape_default()),
        )),
        None => Ok(()),
    }
}

fn check_pins(
    field: &str,
    pins: &[Pin],
    name_char: fn(char) -> bool,
    exact_char: fn(char) -> bool,
) -> Result<(), ProvisionError> {
    let mut names = BTreeSet::new();
    for pin in pins {
        if pin.name.is_empty() || pin.name.starts_with(['-', '.']) {
            return Err(invalid(
                &format!("{field} package"),
                &pin.name,
                "a package name starts with a letter or digit",
            ));
        }
        check_text(&format!("{field} package"), &pin.name, name_char)?;
        if !names.insert(pin.name.to_ascii_lowercase()) {
            return Err(invalid(
                &format!("{field} package"),
                &pin.name,
                "the package is listed twice",
            ));
        }
        match &pin.req {
            Req::Any => {}
            Req::Exact(v) | Req::Range(v) => {
                let field = format!("{field} version of `{}`", pin.name);
                if v.trim().is_empty() {
                    return Err(invalid(&field, v, "the version is empty"));
                }
                let allowed = if matches!(pin.req, Req::Exact(_)) {
                    exact_char
                } else {
                    is_range_char
                };
                check_text(&field, v, allowed)?;
            }
        }
    }
    Ok(())
}

fn check_sets(
    field: &str,
    sets: &[PackageSet],
    name_char: fn(char) -> bool,
) -> Result<(), ProvisionError> {
    let mut paths = BTreeSet::new();
    for set in sets {
        check_container_path(field, &set.path)?;
        if !paths.insert(set.path.as_str()) {
            return Err(invalid(field, &set.path, "the path is listed twice"));
        }
        check_pins(field, &set.packages, name_char, is_version_char)?;
    }
    Ok(())
}

fn check_container_path(field: &str, path: &str) -> Result<(), ProvisionError> {
    if !path.starts_with('/') || path == "/" || path.ends_with('/') {
        return Err(invalid(
            field,
            path,
            "write an absolute path inside the image, such as `/etc/app/settings.ini`",
        ));
    }
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err(invalid(field, path, "the path holds `.` or `..`"));
    }
    if path.contains("//") {
        return Err(invalid(field, path, "the path holds an empty component"));
    }
    // `$` would be expanded by the Dockerfile parser and quotes or backslashes would
    // end the JSON form of COPY; none of them belongs in a path envsync manages.
    check_text(field, path, |c| {
        !c.is_control() && !matches!(c, '$' | '"' | '\\' | '\'' | '`')
    })
}

fn is_marker_char(c: char) -> bool {
    !c.is_control()
}

fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@')
}

fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&()*+,;=%".contains(c) && c != '\''
}

fn is_deb_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | ':')
}

fn is_version_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':' | '!' | '_')
}

/// What a version constraint may hold: versions (a Debian epoch's `:` included, as in
/// `5:7.0.*`), wildcards and the operators of every ecosystem's ranges.
fn is_range_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '.' | '+' | '-' | '~' | '!' | '_' | '*' | '=' | '<' | '>' | ',' | '^' | '|' | ' ' | ':'
        )
}

fn is_pypi_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '[' | ']' | ',')
}

fn is_npm_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@' | '/' | '~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &BuildSpec, expected: Option<&str>) {
        let got = spec.validate().err().map(|e| e.to_string());
        assert_eq!(got.as_deref(), expected);
    }

    #[test]
    fn valid_spec_passes() {
        let mut spec = BuildSpec::new("demo", "envsync/debian:bookworm");
        spec.apt.push(Pin::exact("libpq5", "15.10-0+deb12u1"));
        check(&spec, None);
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let base = BuildSpec::new("demo", "envsync/debian:bookworm");
        let mut spec = base.clone();
        spec.project = "!!!".into();
        check(
            &spec,
            Some("invalid build input: project `!!!`: the project name needs at least one letter or digit"),
        );
        let mut spec = base.clone();
        spec.apt.push(Pin {
            name: "redis-server".into(),
            req: Req::Range("5:7.0.*".into()),
        });
        check(&spec, None);
        let mut spec = base.clone();
        spec.apt.push(Pin::exact("jq", "1.6; rm -rf /"));
        check(
            &spec,
            Some("invalid build input: apt version of `jq` `1.6; rm -rf /`: the character `;` is not allowed here"),
        );
        let mut spec = base.clone();
        spec.apt.push(Pin::any("jq"));
        spec.apt.push(Pin::any("jq"));
        check(
            &spec,
            Some("invalid build input: apt package `jq`: the package is listed twice"),
        );
        let mut spec = base.clone();
        spec.files.push(FileSpec {
            path: "etc/x".into(),
            source: FileSource::Bytes(Vec::new()),
            mode: 0o644,
        });
        check(
            &spec,
            Some("invalid build input: file `etc/x`: write an absolute path inside the image, such as `/etc/app/settings.ini`"),
        );
        let mut spec = base;
        spec.base_digest = Some("latest".into());
        check(
            &spec,
            Some("invalid build input: base digest `latest`: write an image ID `sha256:<64 hex>` or a digest reference `name@sha256:<64 hex>`"),
        );
    }

    #[test]
    fn repository_component_is_docker_safe() {
        assert_eq!(repository_component("Benefits API"), "benefits-api");
        assert_eq!(repository_component("-x-"), "x");
    }
}
