//! End-to-end test of images that come from a registry: a TLS registry with htpasswd
//! authentication on 127.0.0.1 (Debian's `docker-registry`, started by the test), the
//! base image and one service image pushed there with the docker CLI, and the local
//! copies removed. envsync pulls them with the docker CLI's credentials (`docker login`
//! into a `DOCKER_CONFIG` of the test's own), locks them by repository digest, and `up`
//! from that lock pulls by digest and comes up healthy. No login, a missing image and an
//! unreachable registry are errors naming the reference and the registry, exit 2.

use std::path::Path;
use std::process::{Command, Stdio};

use envsync_testsupport::remote::{run_ok, Pki, Registry};
use envsync_testsupport::{base_image, unique_name};

mod util;

use util::{run, Down};

/// The docker CLI with the test's own configuration directory.
fn docker(config: &Path) -> Command {
    let mut cmd = Command::new("docker");
    cmd.env("DOCKER_CONFIG", config).env_remove("DOCKER_HOST");
    cmd
}

fn envsync(dir: &Path, config: &Path, args: &[&str]) -> (i32, String, String) {
    run(util::envsync_command()
        .args(args)
        .current_dir(dir)
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", config))
}

/// Push `local` as `remote` and return the repository digest the registry gave it
/// (the oracle: what `docker push` reports).
fn push(config: &Path, local: &str, remote: &str) -> String {
    run_ok(docker(config).args(["tag", local, remote])).expect("docker tag");
    let out = run_ok(docker(config).args(["push", remote])).expect("docker push");
    let digest = out
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in `docker push` output: {out}"));
    format!("{}@{digest}", remote.rsplit_once(':').expect("a tag").0)
}

/// Remove every local name of a pushed image (its tag and its digest), so that the
/// engine must pull it; the oracle is `docker image inspect` failing for both.
fn forget(config: &Path, tag: &str, digest: &str) {
    for name in [tag, digest] {
        let _ = docker(config)
            .args(["rmi", name])
            .stderr(Stdio::null())
            .output();
        let inspect = docker(config)
            .args(["image", "inspect", name])
            .output()
            .expect("docker image inspect");
        assert!(!inspect.status.success(), "`{name}` is still in the engine");
    }
}

#[tokio::test]
async fn registry_images_are_pulled_with_credentials_locked_by_digest_and_run() {
    let base = base_image().await;
    let pki = Pki::generate().expect("generate certificates");
    let password = unique_name("pw");
    let registry = Registry::start(&pki, "ci", &password).expect("start the registry");
    let reg = registry.host.clone();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".docker");
    std::fs::create_dir_all(&config).unwrap();
    let project = unique_name("registry");
    let login = || {
        let mut child = docker(&config)
            .args(["login", &reg, "-u", "ci", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "docker login");
    };
    login();
    let base_ref = format!("{reg}/team/debian:{project}");
    let service_ref = format!("{reg}/team/ticker:{project}");
    let base_digest = push(&config, &base, &base_ref);
    let service_digest = push(&config, &base, &service_ref);
    forget(&config, &base_ref, &base_digest);
    forget(&config, &service_ref, &service_digest);
    run_ok(docker(&config).args(["logout", &reg])).unwrap();

    std::fs::write(
        dir.path().join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base_ref}\"\n\n\
             [services.ticker]\nimage = \"{service_ref}\"\nversion = \"1\"\n\
             command = [\"sleep\", \"infinity\"]\n\
             healthcheck = {{ test = \"test -d /\", interval = \"1s\" }}\n"
        ),
    )
    .unwrap();
    let _down = Down(dir.path().to_path_buf(), project.clone());

    // Logged out: the registry refuses the pull, and the error says which and why.
    let (code, stdout, stderr) = envsync(dir.path(), &config, &["lock"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("cannot pull `{base_ref}` from registry `{reg}`"))
            && stderr.contains("refused the login")
            && stderr.contains(&format!("docker login {reg}")),
        "{stderr}"
    );

    login();
    let (code, stdout, stderr) = envsync(dir.path(), &config, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("pulling `{base_ref}` from `{reg}`")),
        "{stderr}"
    );
    let lock = std::fs::read_to_string(dir.path().join("envsync.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "base = {{ image = \"{base_ref}\", digest = \"{base_digest}\" }}"
        )),
        "{lock}"
    );
    assert!(
        lock.contains(&format!("[services.ticker]\nbase = {{ image = \"{service_ref}\", digest = \"{service_digest}\" }}")),
        "{lock}"
    );

    // `up` from the lock, with every local copy gone again: pulled by digest.
    forget(&config, &base_ref, &base_digest);
    forget(&config, &service_ref, &service_digest);
    let (code, stdout, stderr) = envsync(dir.path(), &config, &["up"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("pulling `{service_digest}`")),
        "{stderr}"
    );
    let image = run_ok(docker(&config).args([
        "inspect",
        "--format",
        "{{.Config.Image}} {{.State.Health.Status}}",
        &format!("envsync-{project}-ticker"),
    ]))
    .unwrap();
    // The engine runs containers from image IDs: the ticker's is the one its digest names.
    let pulled =
        run_ok(docker(&config).args(["image", "inspect", "--format", "{{.Id}}", &service_digest]))
            .unwrap();
    assert_eq!(image.trim(), format!("{} healthy", pulled.trim()));
    run_ok(docker(&config).args(["image", "inspect", &base_digest])).unwrap();
    let (code, stdout, stderr) = envsync(dir.path(), &config, &["status"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("healthy"), "{stdout}");
    let (code, _, stderr) = envsync(dir.path(), &config, &["down"]);
    assert_eq!(code, 0, "{stderr}");

    // A missing image and an unreachable registry.
    for (reference, expected) in [
        (
            format!("{reg}/team/nosuch:1"),
            format!("registry `{reg}` has no such image"),
        ),
        (
            "127.0.0.1:1/team/x:1".to_string(),
            "registry `127.0.0.1:1` cannot be reached".to_string(),
        ),
    ] {
        let other = tempfile::tempdir().unwrap();
        std::fs::write(
            other.path().join("envsync.toml"),
            format!(
                "[project]\nname = \"{project}-bad\"\n\n[base]\nimage = \"{base}\"\n\n\
                 [services.x]\nimage = \"{reference}\"\nversion = \"1\"\n"
            ),
        )
        .unwrap();
        let (code, stdout, stderr) = envsync(other.path(), &config, &["up", "--no-verify"]);
        let _ = envsync(other.path(), &config, &["down"]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!("cannot pull `{reference}` from registry"))
                && stderr.contains(&expected)
                && stderr.contains("[services.x] image"),
            "{stderr}"
        );
    }
}
