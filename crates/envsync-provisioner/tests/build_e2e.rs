//! End-to-end builds against the real Docker engine: exact apt, pip and npm versions
//! verified inside the built image, reuse of an unchanged build, and the errors a
//! missing version or a missing base image produce.
//!
//! The tests share one engine cache: they run one at a time (a process-wide lock) so
//! that the slow apt layer is built once and the failure cases reuse it. The tagged
//! image of the successful build is left in the engine; it is keyed by content, so the
//! next run finds it (and removes its tag first to exercise a real build).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::query_parameters::RemoveImageOptionsBuilder;
use envsync_provisioner::{
    build_with_options, BuildEvent, BuildOptions, BuildSpec, FileSource, FileSpec, NodeSpec,
    PackageSet, Pin, ProvisionError, PythonSpec,
};
use envsync_testsupport::{base_image, docker, TestContainer, HOST_CA_BUNDLE};

/// One build at a time: the failure cases reuse the apt layer the first build makes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const APT_PACKAGE: &str = "jq";
const PIP_PACKAGE: (&str, &str) = ("iniconfig", "2.0.0");
const VENV_PACKAGE: (&str, &str) = ("six", "1.16.0");
const NPM_PACKAGE: (&str, &str) = ("is-number", "7.0.0");

/// The version of `package` bookworm's sources offer now, asked of apt inside the base
/// image, so the test does not break when Debian publishes an update.
async fn candidate(base: &str, package: &str) -> String {
    let container = TestContainer::run(base, "prov-candidate", &["sleep", "600"]).await;
    let out = container
        .sh(&format!(
            "apt-get update -qq >/dev/null && apt-cache policy {package} | awk '/Candidate:/ {{print $2}}'"
        ))
        .await;
    let version = out.trim().to_string();
    assert!(
        !version.is_empty() && version != "(none)",
        "no candidate for {package}: {out:?}"
    );
    version
}

fn spec(base: &str, apt_version: &str, pip_version: &str, npm_version: &str) -> BuildSpec {
    let mut spec = BuildSpec::new("envsync-e2e-build", base);
    spec.apt = vec![Pin::exact(APT_PACKAGE, apt_version)];
    spec.python = Some(PythonSpec {
        version: Some("3".into()),
        packages: vec![Pin::exact(PIP_PACKAGE.0, pip_version)],
        venvs: vec![PackageSet {
            path: "/opt/venv".into(),
            packages: vec![Pin::exact(VENV_PACKAGE.0, VENV_PACKAGE.1)],
        }],
    });
    spec.node = Some(NodeSpec {
        version: None,
        packages: vec![Pin::exact(NPM_PACKAGE.0, npm_version)],
        projects: Vec::new(),
    });
    spec.files = vec![FileSpec {
        path: "/etc/envsync-e2e/settings.ini".into(),
        source: FileSource::Bytes(b"mode = test\n".to_vec()),
        mode: 0o640,
    }];
    spec.ca_certificates = vec![PathBuf::from(HOST_CA_BUNDLE)];
    spec
}

fn options() -> (tempfile::TempDir, BuildOptions) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = BuildOptions {
        log_dir: dir.path().join("logs"),
        ..BuildOptions::default()
    };
    (dir, options)
}

fn print_event(event: BuildEvent) {
    match event {
        BuildEvent::Step {
            index,
            total,
            instruction,
        } => eprintln!("[{index}/{total}] {instruction}"),
        BuildEvent::Output(line) => eprintln!("    {line}"),
        BuildEvent::Done { tag, reused, .. } => eprintln!("done: {tag} reused={reused}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn builds_exact_versions_and_reuses_unchanged_build() {
    let _serial = SERIAL.lock().await;
    let docker = docker().await;
    let base = base_image().await;
    let apt_version = candidate(&base, APT_PACKAGE).await;
    let spec = spec(&base, &apt_version, PIP_PACKAGE.1, NPM_PACKAGE.1);
    let (_dir, options) = options();

    // Drop the tag a previous run left (keeping its cached layers) so that this run
    // goes through a real build.
    let resolved = envsync_provisioner::resolve_base(&docker, &spec)
        .await
        .unwrap();
    let tag = envsync_provisioner::image_tag(&resolved).unwrap();
    let _ = docker
        .remove_image(
            &tag,
            Some(RemoveImageOptionsBuilder::default().noprune(true).build()),
            None,
        )
        .await;

    let built = build_with_options(&docker, &spec, &options, &print_event)
        .await
        .unwrap_or_else(|err| panic!("build failed: {err}"));
    assert_eq!(built.tag, tag);
    assert!(!built.reused);
    let log = built.log_path.clone().expect("a build writes a log");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("Successfully tagged"),
        "log {log:?}"
    );

    let image = docker.inspect_image(&tag).await.unwrap();
    let config = image.config.unwrap();
    let labels = config.labels.unwrap();
    assert_eq!(labels["io.envsync.managed"], "true");
    assert_eq!(labels["io.envsync.project"], "envsync-e2e-build");
    assert_eq!(labels["io.envsync.spec-sha256"], built.spec_sha256);
    let env = config.env.unwrap_or_default();
    assert!(
        !env.iter()
            .any(|e| e.starts_with("PIP_CERT") || e.starts_with("NODE_EXTRA_CA_CERTS")),
        "the build CA stays out of the image environment: {env:?}"
    );

    let container = TestContainer::run(&tag, "prov-verify", &["sleep", "600"]).await;
    let deb = container
        .sh(&format!("dpkg-query -W -f '${{Version}}' {APT_PACKAGE}"))
        .await;
    assert_eq!(deb, apt_version);
    let pip = container
        .sh(&format!(
            "python3 -m pip show {} | awk '/^Version:/ {{print $2}}'",
            PIP_PACKAGE.0
        ))
        .await;
    assert_eq!(pip.trim(), PIP_PACKAGE.1);
    let venv = container
        .sh(&format!(
            "/opt/venv/bin/python -m pip show {} | awk '/^Version:/ {{print $2}}'",
            VENV_PACKAGE.0
        ))
        .await;
    assert_eq!(venv.trim(), VENV_PACKAGE.1);
    let npm = container.sh("npm ls -g --depth=0 --json").await;
    let npm: serde_json::Value = serde_json::from_str(&npm).unwrap();
    assert_eq!(
        npm["dependencies"][NPM_PACKAGE.0]["version"], NPM_PACKAGE.1,
        "{npm}"
    );
    let file = container
        .sh("stat -c '%a %U' /etc/envsync-e2e/settings.ini && cat /etc/envsync-e2e/settings.ini")
        .await;
    assert_eq!(file, "640 root\nmode = test\n");
    let ca_dir = container
        .exec(&["test", "-e", "/usr/local/share/envsync-build"])
        .await;
    assert_ne!(
        ca_dir.exit_code, 0,
        "the build CA is removed from the final filesystem"
    );
    drop(container);

    // Unchanged inputs: found by content address, nothing built.
    let started = Instant::now();
    let again = build_with_options(&docker, &spec, &options, &print_event)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    eprintln!("no-change build took {elapsed:?}");
    assert!(again.reused);
    assert_eq!(again.id, built.id);
    assert_eq!(again.log_path, None);
    assert!(
        elapsed < Duration::from_secs(5),
        "the no-change path does no build work (took {elapsed:?})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_apt_version_names_package_and_available_versions() {
    let _serial = SERIAL.lock().await;
    let docker = docker().await;
    let base = base_image().await;
    let apt_version = candidate(&base, APT_PACKAGE).await;
    let spec = spec(&base, "0.0-envsync-missing", PIP_PACKAGE.1, NPM_PACKAGE.1);
    let (_dir, options) = options();
    let err = build_with_options(&docker, &spec, &options, &print_event)
        .await
        .expect_err("a version the sources lack cannot build");
    let text = err.to_string();
    match err {
        ProvisionError::VersionNotFound {
            ecosystem,
            package,
            wanted,
            available,
            log,
        } => {
            assert_eq!(ecosystem, "deb");
            assert_eq!(package, APT_PACKAGE);
            assert_eq!(wanted, "0.0-envsync-missing");
            assert!(available.contains(&apt_version), "{available:?}");
            assert!(log.exists());
            assert!(text.contains(&format!("`{apt_version}`")), "{text}");
        }
        other => panic!("expected VersionNotFound, got {other}"),
    }
    let resolved = envsync_provisioner::resolve_base(&docker, &spec)
        .await
        .unwrap();
    let tag = envsync_provisioner::image_tag(&resolved).unwrap();
    assert!(
        docker.inspect_image(&tag).await.is_err(),
        "a failed build leaves no tag"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_pip_and_npm_versions_are_explained() {
    let _serial = SERIAL.lock().await;
    let docker = docker().await;
    let base = base_image().await;
    let apt_version = candidate(&base, APT_PACKAGE).await;
    let (_dir, options) = options();

    let spec_pip = spec(&base, &apt_version, "0.0.99", NPM_PACKAGE.1);
    match build_with_options(&docker, &spec_pip, &options, &print_event).await {
        Err(ProvisionError::VersionNotFound {
            ecosystem,
            package,
            wanted,
            available,
            ..
        }) => {
            assert_eq!(
                (ecosystem.as_str(), package.as_str(), wanted.as_str()),
                ("pypi", PIP_PACKAGE.0, "0.0.99")
            );
            assert!(
                available.contains(&PIP_PACKAGE.1.to_string()),
                "{available:?}"
            );
        }
        other => panic!("expected a pypi VersionNotFound, got {other:?}"),
    }

    let spec_npm = spec(&base, &apt_version, PIP_PACKAGE.1, "99.0.0");
    match build_with_options(&docker, &spec_npm, &options, &print_event).await {
        Err(ProvisionError::VersionNotFound {
            ecosystem,
            package,
            wanted,
            available,
            ..
        }) => {
            assert_eq!(
                (ecosystem.as_str(), package.as_str(), wanted.as_str()),
                ("npm", NPM_PACKAGE.0, "99.0.0")
            );
            assert!(
                available.contains(&NPM_PACKAGE.1.to_string()),
                "{available:?}"
            );
        }
        other => panic!("expected an npm VersionNotFound, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_base_image_names_the_build_script() {
    let docker = docker().await;
    let spec = BuildSpec::new("envsync-e2e-build", "envsync/no-such-base:none");
    let err = build_with_options(&docker, &spec, &options().1, &print_event)
        .await
        .expect_err("no such base");
    assert!(
        matches!(err, ProvisionError::MissingBaseImage { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("bash images/debian-bookworm/build.sh"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_step_reports_step_and_log_tail() {
    let docker = docker().await;
    let base = base_image().await;
    let mut spec = BuildSpec::new("envsync-e2e-build", &base);
    // A file whose parent is a regular file cannot be copied: the COPY step fails.
    spec.files = vec![FileSpec {
        path: "/etc/hostname/child".into(),
        source: FileSource::Bytes(b"x".to_vec()),
        mode: 0o644,
    }];
    let (_dir, options) = options();
    let err = build_with_options(&docker, &spec, &options, &print_event)
        .await
        .expect_err("copying under a regular file fails");
    match &err {
        ProvisionError::StepFailed {
            step, log, tail, ..
        } => {
            assert!(step.contains("COPY"), "{step}");
            assert!(log.exists());
            assert!(!tail.is_empty());
        }
        other => panic!("expected StepFailed, got {other}"),
    }
}
