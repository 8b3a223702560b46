//! `AptRepo` and `PypiIndex` as apt and pip see them: on this host, and from a container.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bollard::models::HostConfig;
use envsync_testsupport::{base_image, AptRepo, FakeDeb, FakeWheel, PypiIndex, TestContainer};
use sha2::{Digest, Sha256};

fn demo_debs(version: &str) -> Vec<FakeDeb> {
    vec![
        FakeDeb::new("envsync-demo-tools", version),
        FakeDeb::new("envsync-demo-server", version)
            .depends(&format!("envsync-demo-tools (= {version})")),
    ]
}

/// apt with every file it reads or writes in a throwaway directory, and the repository
/// as its only source.
struct ThrowawayApt {
    dir: tempfile::TempDir,
}

impl ThrowawayApt {
    fn new(repo: &AptRepo) -> ThrowawayApt {
        let dir = tempfile::tempdir().expect("temporary directory for apt");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("writing apt's files")
        };
        write("sources.list", &format!("{}\n", repo.deb_line()));
        write("status", "");
        // apt creates neither of its `partial` directories itself.
        for partial in ["lists/partial", "cache/archives/partial"] {
            std::fs::create_dir_all(dir.path().join(partial)).expect("creating apt's directories");
        }
        ThrowawayApt { dir }
    }

    /// Run `program` (`apt-get` or `apt-cache`) with `args` after the throwaway options.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let d = self.dir.path().display();
        let options = [
            format!("Dir::Etc::sourcelist={d}/sources.list"),
            "Dir::Etc::sourceparts=-".to_string(),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::State::status={d}/status"),
            format!("Dir::Cache={d}/cache"),
            "Debug::NoLocking=1".to_string(),
            // The directories are root's and private; apt's `_apt` user cannot write them.
            "APT::Sandbox::User=root".to_string(),
            "Acquire::Languages=none".to_string(),
            "Acquire::http::Proxy::127.0.0.1=DIRECT".to_string(),
        ];
        let mut cmd = Command::new(program);
        for option in &options {
            cmd.args(["-o", option]);
        }
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("running `{program}`: {e}"))
    }

    fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "`{program} {}` failed ({}); stderr:\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The value of `field` in one `apt-cache show` stanza.
fn field<'a>(stanza: &'a str, field: &str) -> Option<&'a str> {
    stanza
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(": "))
}

/// The HTTP status code a GET of `url` (http://127.0.0.1:PORT/...) answers with.
fn http_status(url: &str) -> u16 {
    let (host, path) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .unwrap_or_else(|| panic!("`{url}` is not http://HOST/PATH"));
    let mut stream =
        TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to `{host}`: {e}"));
    let mut response = Vec::new();
    write!(stream, "GET /{path} HTTP/1.0\r\n\r\n")
        .and_then(|()| stream.read_to_end(&mut response))
        .unwrap_or_else(|e| panic!("GET `{url}`: {e}"));
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("GET `{url}` answered no status line: {head:?}"))
}

#[test]
fn apt_get_sees_the_served_packages_with_their_sha256() {
    let repo = AptRepo::start(&demo_debs("1.0-1")).unwrap();
    let apt = ThrowawayApt::new(&repo);
    apt.ok("apt-get", &["update"]);
    let stanza = apt.ok("apt-cache", &["show", "envsync-demo-server=1.0-1"]);
    assert_eq!(field(&stanza, "Version"), Some("1.0-1"), "{stanza}");
    assert_eq!(field(&stanza, "Architecture"), Some("all"), "{stanza}");
    assert_eq!(
        field(&stanza, "Depends"),
        Some("envsync-demo-tools (= 1.0-1)"),
        "{stanza}"
    );
    let sha = repo.sha256_of("envsync-demo-server", "1.0-1").unwrap();
    assert_eq!(field(&stanza, "SHA256"), Some(sha.as_str()), "{stanza}");
    let filename = field(&stanza, "Filename").unwrap();
    assert_eq!(http_status(&format!("{}{filename}", repo.url())), 200);
}

#[test]
fn apt_repo_replace_takes_the_old_versions_away() {
    let mut repo = AptRepo::start(&demo_debs("1.0-1")).unwrap();
    let apt = ThrowawayApt::new(&repo);
    apt.ok("apt-get", &["update"]);
    let old = field(
        &apt.ok("apt-cache", &["show", "envsync-demo-server=1.0-1"]),
        "Filename",
    )
    .unwrap()
    .to_string();

    repo.replace(&demo_debs("1.0-2")).unwrap();
    apt.ok("apt-get", &["update"]);
    let madison = apt.ok("apt-cache", &["madison", "envsync-demo-server"]);
    let versions: Vec<&str> = madison
        .lines()
        .map(|l| l.split('|').nth(1).unwrap().trim())
        .collect();
    assert_eq!(versions, ["1.0-2"], "{madison}");
    // `apt-cache show name=version` exits 0 even when no such version exists, so list
    // every version it knows instead.
    let all = apt.ok("apt-cache", &["show", "envsync-demo-server"]);
    let shown: Vec<&str> = all
        .split("\n\n")
        .filter_map(|s| field(s, "Version"))
        .collect();
    assert_eq!(shown, ["1.0-2"], "{all}");
    let stanza = apt.ok("apt-cache", &["show", "envsync-demo-server=1.0-2"]);
    let sha = repo.sha256_of("envsync-demo-server", "1.0-2").unwrap();
    assert_eq!(field(&stanza, "SHA256"), Some(sha.as_str()), "{stanza}");
    assert!(repo.sha256_of("envsync-demo-server", "1.0-1").is_err());
    assert_eq!(http_status(&format!("{}{old}", repo.url())), 404);
}

#[test]
fn the_same_packages_build_to_the_same_bytes() {
    let debs = demo_debs("1.0-1");
    let (a, b) = (
        AptRepo::start(&debs).unwrap(),
        AptRepo::start(&debs).unwrap(),
    );
    let sha = |repo: &AptRepo| repo.sha256_of("envsync-demo-server", "1.0-1").unwrap();
    assert_eq!(sha(&a), sha(&b));
    let wheels = [FakeWheel::new("envsync-demo-lib", "1.0")];
    let (a, b) = (
        PypiIndex::start(&wheels).unwrap(),
        PypiIndex::start(&wheels).unwrap(),
    );
    let sha = |index: &PypiIndex| index.sha256_of("envsync-demo-lib", "1.0").unwrap();
    assert_eq!(sha(&a), sha(&b));
}

/// pip as a test runs it: no configuration or environment of this machine, no cache.
fn pip(args: &[&str]) -> Output {
    Command::new("python3")
        .args([
            "-m",
            "pip",
            "--isolated",
            "--disable-pip-version-check",
            "--no-cache-dir",
        ])
        .args(args)
        .output()
        .expect("running `python3 -m pip`")
}

fn pip_ok(args: &[&str]) {
    let out = pip(args);
    assert!(
        out.status.success(),
        "`pip {}` failed ({}); stdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pip_download(index: &PypiIndex, requirement: &str, dest: &Path) -> Output {
    let dest = dest
        .to_str()
        .expect("temporary directories have UTF-8 paths");
    let url = index.url();
    pip(&[
        "download",
        "--no-deps",
        "--index-url",
        &url,
        requirement,
        "-d",
        dest,
    ])
}

fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading `{}`: {e}", path.display()));
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn pip_download_gets_the_served_wheel() {
    let index = PypiIndex::start(&[
        FakeWheel::new("envsync-demo-lib", "1.0"),
        FakeWheel::new("envsync-demo-lib", "1.1"),
    ])
    .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = pip_download(&index, "envsync-demo-lib==1.0", dest.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wheel: PathBuf = dest.path().join("envsync_demo_lib-1.0-py3-none-any.whl");
    assert_eq!(
        sha256_file(&wheel),
        index.sha256_of("envsync-demo-lib", "1.0").unwrap()
    );
}

#[test]
fn pip_install_require_hashes_installs_the_served_wheel() {
    let index = PypiIndex::start(&[FakeWheel::new("envsync-demo-lib", "1.0")]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sha = index.sha256_of("envsync-demo-lib", "1.0").unwrap();
    let requirements = dir.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        format!("envsync-demo-lib==1.0 --hash=sha256:{sha}\n"),
    )
    .unwrap();
    let target = dir.path().join("site");
    pip_ok(&[
        "install",
        "--require-hashes",
        "--no-deps",
        "--index-url",
        &index.url(),
        "--target",
        target.to_str().unwrap(),
        "-r",
        requirements.to_str().unwrap(),
    ]);
    let out = Command::new("python3")
        .args([
            "-c",
            "import envsync_demo_lib; print(envsync_demo_lib.__version__)",
        ])
        .env("PYTHONPATH", &target)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.0\n", "{out:?}");
}

#[test]
fn pypi_index_replace_takes_the_old_versions_away() {
    let mut index = PypiIndex::start(&[FakeWheel::new("envsync-demo-lib", "1.0")]).unwrap();
    index
        .replace(&[FakeWheel::new("envsync-demo-lib", "2.0")])
        .unwrap();
    let dest = tempfile::tempdir().unwrap();
    let old = pip_download(&index, "envsync-demo-lib==1.0", dest.path());
    assert!(!old.status.success(), "1.0 is still offered: {old:?}");
    let new = pip_download(&index, "envsync-demo-lib==2.0", dest.path());
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    let wheel = dest.path().join("envsync_demo_lib-2.0-py3-none-any.whl");
    assert_eq!(
        sha256_file(&wheel),
        index.sha256_of("envsync-demo-lib", "2.0").unwrap()
    );
    assert!(index.sha256_of("envsync-demo-lib", "1.0").is_err());
}

#[tokio::test]
async fn container_on_the_host_network_installs_from_the_apt_repo() {
    let repo = AptRepo::start(&demo_debs("1.0-1")).unwrap();
    let image = base_image().await;
    let host = HostConfig {
        network_mode: Some("host".to_string()),
        ..Default::default()
    };
    let container = TestContainer::run_with(&image, "aptrepo", &["sleep", "600"], host).await;
    let list = "/etc/apt/sources.list.d/envsync-test.list";
    container
        .sh(&format!("echo '{}' > {list}", repo.deb_line()))
        .await;
    // Only the test's repository: the image's own sources are not consulted.
    let only_repo = format!(
        "-o Dir::Etc::sourcelist={list} -o Dir::Etc::sourceparts=- \
         -o Acquire::http::Proxy::127.0.0.1=DIRECT"
    );
    container.sh(&format!("apt-get {only_repo} update")).await;
    container
        .sh(&format!("DEBIAN_FRONTEND=noninteractive apt-get {only_repo} install -y envsync-demo-server=1.0-1"))
        .await;
    let installed = container
        .sh("dpkg-query -W -f '${Package} ${Version}\\n' 'envsync-demo-*'")
        .await;
    assert_eq!(
        installed,
        "envsync-demo-server 1.0-1\nenvsync-demo-tools 1.0-1\n"
    );
    let version = container
        .sh("cat /usr/share/envsync-demo-server/VERSION")
        .await;
    assert_eq!(version, "1.0-1\n");
}
