//! Package sources a test controls: a flat apt repository and a PEP 503 index of fake packages, served on 127.0.0.1.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use http::Server;

mod http;

/// A fake Debian binary package: architecture `all`, no maintainer scripts, and one
/// file, `/usr/share/<name>/VERSION`, holding the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDeb {
    pub name: String,
    pub version: String,
    /// The `Depends:` field, e.g. `envsync-demo-tools (= 1.0-1)`.
    pub depends: Option<String>,
    /// The `Source:` field: binary packages built from one source share it.
    pub source: Option<String>,
}

impl FakeDeb {
    pub fn new(name: &str, version: &str) -> FakeDeb {
        FakeDeb {
            name: name.to_string(),
            version: version.to_string(),
            depends: None,
            source: None,
        }
    }

    pub fn source(mut self, source: &str) -> FakeDeb {
        self.source = Some(source.to_string());
        self
    }

    pub fn depends(mut self, depends: &str) -> FakeDeb {
        self.depends = Some(depends.to_string());
        self
    }
}

/// A fake pure-Python wheel: one module (the name with `-` as `_`) whose `__version__`
/// is the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeWheel {
    pub name: String,
    pub version: String,
}

impl FakeWheel {
    pub fn new(name: &str, version: &str) -> FakeWheel {
        FakeWheel {
            name: name.to_string(),
            version: version.to_string(),
        }
    }

    /// Write the wheel into `dir` (with python3's `zipfile`); its path.
    pub fn write_to(&self, dir: &Path) -> Result<PathBuf> {
        let python = tool("python3", "python3")?;
        let module = normalize(&self.name, '_');
        let file = dir.join(format!("{module}-{}-py3-none-any.whl", self.version));
        run(Command::new(&python)
            .args(["-c", WHEEL_PY])
            .arg(&file)
            .args([&module, &self.name, &self.version]))?;
        Ok(file)
    }
}

/// A flat apt repository (`Packages` and `Release` from `apt-ftparchive`) of fake
/// packages, served over HTTP until dropped.
#[derive(Debug)]
pub struct AptRepo {
    // Declared first so the server stops before the served directory is removed.
    server: Server,
    served: Served,
}

impl AptRepo {
    /// Build `debs`, index them and serve them on a free port of 127.0.0.1.
    pub fn start(debs: &[FakeDeb]) -> Result<AptRepo> {
        let served = build_apt(debs)?;
        let server = Server::start(served.dir.path())?;
        Ok(AptRepo { server, served })
    }

    /// Serve `debs` instead of what was served so far; the previous packages are gone.
    pub fn replace(&mut self, debs: &[FakeDeb]) -> Result<()> {
        let next = build_apt(debs)?;
        self.server.serve(next.dir.path());
        self.served = next;
        Ok(())
    }

    /// The repository's base URL, `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// A sources.list line for the repository: `deb [trusted=yes] <url> ./`.
    pub fn deb_line(&self) -> String {
        format!("deb [trusted=yes] {} ./", self.url())
    }

    /// The sha256 (hex) of the served `.deb` of `name` at `version`, spelt as in the
    /// `FakeDeb`; an error when that is not served.
    pub fn sha256_of(&self, name: &str, version: &str) -> Result<String> {
        self.served.sha256_of(name, version)
    }
}

/// A PEP 503 "simple" index of fake wheels, served over HTTP until dropped.
#[derive(Debug)]
pub struct PypiIndex {
    server: Server,
    served: Served,
}

impl PypiIndex {
    /// Build `wheels` and serve them on a free port of 127.0.0.1.
    pub fn start(wheels: &[FakeWheel]) -> Result<PypiIndex> {
        let served = build_pypi(wheels)?;
        let server = Server::start(served.dir.path())?;
        Ok(PypiIndex { server, served })
    }

    /// Serve `wheels` instead of what was served so far; the previous wheels are gone.
    pub fn replace(&mut self, wheels: &[FakeWheel]) -> Result<()> {
        let next = build_pypi(wheels)?;
        self.server.serve(next.dir.path());
        self.served = next;
        Ok(())
    }

    /// The simple index URL for `pip --index-url`: `http://127.0.0.1:<port>/simple/`.
    pub fn url(&self) -> String {
        format!("{}simple/", self.server.url())
    }

    /// The sha256 (hex) of the served wheel of `name` at `version`, spelt as in the
    /// `FakeWheel`; an error when that is not served.
    pub fn sha256_of(&self, name: &str, version: &str) -> Result<String> {
        self.served.sha256_of(name, version)
    }
}

/// One served state: its files and the sha256 of each package file in it.
#[derive(Debug)]
struct Served {
    dir: TempDir,
    sha256: BTreeMap<(String, String), String>,
}

impl Served {
    fn new() -> Result<Served> {
        let dir = tempfile::tempdir().context("creating a temporary directory to serve")?;
        Ok(Served {
            dir,
            sha256: BTreeMap::new(),
        })
    }

    /// Record the sha256 of `file` as that of `name` at `version`, refusing duplicates.
    fn add(&mut self, name: &str, version: &str, file: &Path) -> Result<()> {
        let bytes = std::fs::read(file).with_context(|| format!("reading `{}`", file.display()))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let key = (name.to_string(), version.to_string());
        if self.sha256.insert(key, sha).is_some() {
            bail!("`{name}` `{version}` is listed twice");
        }
        Ok(())
    }

    fn sha256_of(&self, name: &str, version: &str) -> Result<String> {
        let key = (name.to_string(), version.to_string());
        self.sha256.get(&key).cloned().ok_or_else(|| {
            let served: Vec<String> = self
                .sha256
                .keys()
                .map(|(n, v)| format!("{n} {v}"))
                .collect();
            anyhow!("`{name}` `{version}` is not served; served: {served:?}")
        })
    }
}

fn build_apt(debs: &[FakeDeb]) -> Result<Served> {
    let dpkg_deb = tool("dpkg-deb", "dpkg")?;
    let ftparchive = tool("apt-ftparchive", "apt-utils")?;
    let mut served = Served::new()?;
    let dir = served.dir.path().to_path_buf();
    for deb in debs {
        // The file name never carries the epoch: `:` is not welcome in URLs.
        let plain = deb
            .version
            .split_once(':')
            .map_or(&*deb.version, |(_, v)| v);
        let file = dir.join(format!("{}_{plain}_all.deb", deb.name));
        build_deb(&dpkg_deb, deb, &file)?;
        served.add(&deb.name, &deb.version, &file)?;
    }
    let packages = run(Command::new(&ftparchive)
        .args(["packages", "."])
        .current_dir(&dir))?;
    write(&dir.join("Packages"), &packages)?;
    let release = run(Command::new(&ftparchive)
        .args(["release", "."])
        .current_dir(&dir))?;
    write(&dir.join("Release"), &release)?;
    Ok(served)
}

fn build_deb(dpkg_deb: &Path, deb: &FakeDeb, file: &Path) -> Result<()> {
    let staging = tempfile::tempdir().context("creating a temporary directory for a .deb")?;
    let root = staging.path().join("root");
    let share = root.join("usr/share").join(&deb.name);
    for dir in [&root.join("DEBIAN"), &share] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    let mut control = format!(
        "Package: {}\nVersion: {}\nArchitecture: all\nMaintainer: envsync tests <tests@envsync.invalid>\n",
        deb.name, deb.version
    );
    if let Some(depends) = &deb.depends {
        let _ = writeln!(control, "Depends: {depends}");
    }
    if let Some(source) = &deb.source {
        let _ = writeln!(control, "Source: {source}");
    }
    control.push_str(
        "Section: misc\nPriority: optional\nDescription: fake package for envsync tests\n",
    );
    write(&root.join("DEBIAN/control"), control.as_bytes())?;
    write(
        &share.join("VERSION"),
        format!("{}\n", deb.version).as_bytes(),
    )?;
    // The tree's modes go into the package (and the temporary directory is 0700), so
    // set them rather than inherit them from the umask.
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.with_context(|| format!("walking `{}`", root.display()))?;
        let mode = if entry.file_type().is_dir() {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of `{}`", entry.path().display()))?;
    }
    // A fixed SOURCE_DATE_EPOCH makes the same package build to the same bytes.
    run(Command::new(dpkg_deb)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["--root-owner-group", "--build"])
        .arg(&root)
        .arg(file))?;
    Ok(())
}

/// Writes one wheel from argv: path, importable name, project name, version. Fixed
/// timestamps make the same wheel build to the same bytes.
const WHEEL_PY: &str = r#"
import base64, hashlib, sys, zipfile
path, module, name, version = sys.argv[1:5]
info = f"{module}-{version}.dist-info"
files = {
    f"{module}/__init__.py": f'__version__ = "{version}"\n',
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: envsync-testsupport\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for p, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{p},sha256={digest},{len(text.encode())}")
files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
with zipfile.ZipFile(path, "w") as zf:
    for p, text in files.items():
        entry = zipfile.ZipInfo(p, (1980, 1, 1, 0, 0, 0))
        entry.external_attr = 0o644 << 16
        zf.writestr(entry, text)
"#;

fn build_pypi(wheels: &[FakeWheel]) -> Result<Served> {
    let python = tool("python3", "python3")?;
    let mut served = Served::new()?;
    let dir = served.dir.path().to_path_buf();
    let files = dir.join("files");
    std::fs::create_dir(&files).with_context(|| format!("creating `{}`", files.display()))?;
    // Project (PEP 503 normalised name) -> its links.
    let mut projects: BTreeMap<String, String> = BTreeMap::new();
    for wheel in wheels {
        let module = normalize(&wheel.name, '_');
        let file_name = format!("{module}-{}-py3-none-any.whl", wheel.version);
        let file = files.join(&file_name);
        run(Command::new(&python)
            .args(["-c", WHEEL_PY])
            .arg(&file)
            .args([&module, &wheel.name, &wheel.version]))?;
        served.add(&wheel.name, &wheel.version, &file)?;
        let sha = served.sha256_of(&wheel.name, &wheel.version)?;
        let links = projects.entry(normalize(&wheel.name, '-')).or_default();
        let _ = writeln!(
            links,
            "<a href=\"../../files/{file_name}#sha256={sha}\">{file_name}</a><br>"
        );
    }
    let mut root_page = String::from("<!DOCTYPE html>\n<html><body>\n");
    for (project, links) in &projects {
        let _ = writeln!(root_page, "<a href=\"{project}/\">{project}</a><br>");
        let page = format!("<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n");
        let project_dir = dir.join("simple").join(project);
        std::fs::create_dir_all(&project_dir)
            .with_context(|| format!("creating `{}`", project_dir.display()))?;
        write(&project_dir.join("index.html"), page.as_bytes())?;
    }
    root_page.push_str("</body></html>\n");
    std::fs::create_dir_all(dir.join("simple")).context("creating `simple/`")?;
    write(&dir.join("simple/index.html"), root_page.as_bytes())?;
    Ok(served)
}

/// PEP 503 normalisation with `sep` between the parts: `Foo.Bar_baz` -> `foo-bar-baz`.
fn normalize(name: &str, sep: char) -> String {
    let mut out = String::new();
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(sep);
        }
        out.push_str(&part.to_lowercase());
    }
    out
}

/// Find `program` on PATH, or say which Debian package brings it.
fn tool(program: &str, package: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            anyhow!(
                "`{program}` is not on PATH (Debian package `{package}`); run `just test-tools`"
            )
        })
}

/// Run `cmd` to completion and return its stdout; an error names the command and
/// carries its stderr.
fn run(cmd: &mut Command) -> Result<Vec<u8>> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}); stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_normalize(name: &str, sep: char, expected: &str) {
        assert_eq!(
            normalize(name, sep),
            expected,
            "normalize({name:?}, {sep:?})"
        );
    }

    #[test]
    fn names_normalise_as_pep_503_says() {
        check_normalize("envsync-demo-lib", '-', "envsync-demo-lib");
        check_normalize("Envsync_Demo.lib", '-', "envsync-demo-lib");
        check_normalize("envsync--demo__lib", '_', "envsync_demo_lib");
    }

    #[test]
    fn missing_tool_names_its_package_and_the_fix() {
        let err = tool("envsync-no-such-tool", "apt-utils")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`envsync-no-such-tool` is not on PATH (Debian package `apt-utils`); run `just test-tools`"
        );
    }
}
