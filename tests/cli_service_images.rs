//! End-to-end test of a middleware service given by `image`, as a team would write
//! `image = "postgres:15.4"`: no registry is reachable here, so the image is built like
//! the official one from Debian's package (`tests/fixtures/official-postgres`) and
//! tagged `localhost/<unique>/postgres:<the version inside>`. `lock` records the image's
//! packages (the oracle: `dpkg-query` in the image); `up` runs it with the PostgreSQL
//! health check although the manifest gives none, and verifies from inside that the
//! server runs the release its tag names (the oracle: `SHOW server_version` through
//! `psql`); the same image tagged with another release is drift, exit 1, naming both.
//! nginx, MariaDB, RabbitMQ, and Redis under a renamed repository with `kind =
//! "redis"`, come up healthy by their own default checks with the release dpkg says each
//! image holds verified.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use envsync_manifest::{Ecosystem, Lock};
use envsync_provisioner::env::container_name;
use envsync_testsupport::{fixture_image, unique_name};

mod util;

use util::{docker_out, envsync, Down};

/// Removes the test's own tags of the fixture image however the test ends (the fixture
/// keeps its content-addressed tag for the next run).
struct Untag(Vec<String>);

impl Drop for Untag {
    fn drop(&mut self) {
        for tag in &self.0 {
            let _ = Command::new("docker").args(["rmi", tag]).output();
        }
    }
}

fn write_manifest(dir: &Path, project: &str, image: &str, version: &str) {
    std::fs::write(
        dir.join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"envsync/debian:bookworm\"\n\n\
             [services.db]\nimage = \"{image}\"\nversion = \"{version}\"\n\
             env = {{ POSTGRES_PASSWORD = \"not-a-secret\" }}\n"
        ),
    )
    .expect("write envsync.toml");
}

/// `(name, version, arch)` of every installed Debian package in `image`, by dpkg-query.
fn dpkg_packages(image: &str) -> BTreeSet<(String, String, String)> {
    docker_out(&[
        "run", "--rm", "--entrypoint", "sh", image, "-c",
        "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\\n' | awk '$1 == \"ii\" {print $2, $3, $4}'",
    ])
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f[0].to_string(), f[1].to_string(), f[2].to_string())
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_official_style_postgres_image_is_health_checked_version_verified_and_locked() {
    let fixture = fixture_image("official-postgres").await;
    // `psql (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)`: the release the image holds.
    let psql = docker_out(&["run", "--rm", "--entrypoint", "psql", &fixture, "--version"]);
    let release = psql
        .split_whitespace()
        .nth(2)
        .expect("a version")
        .to_string();
    let major: u32 = release
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no major version in `{psql}`"));
    let repository = format!("localhost/{}/postgres", unique_name("mw"));
    let good = format!("{repository}:{release}");
    let other = format!("{}.0", major - 1);
    let wrong = format!("{repository}:{other}");
    let _untag = Untag(vec![good.clone(), wrong.clone()]);
    docker_out(&["tag", &fixture, &good]);
    docker_out(&["tag", &fixture, &wrong]);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = unique_name("mw");
    let _down = Down(d.to_path_buf(), project.clone());
    write_manifest(d, &project, &good, &major.to_string());

    // `lock` records what the image holds: exactly dpkg-query's installed packages.
    let (code, stdout, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lock = Lock::load(&d.join("envsync.lock")).unwrap();
    let locked: BTreeSet<(String, String, String)> = lock.services["db"]
        .components
        .iter()
        .filter(|c| c.ecosystem == Ecosystem::Deb)
        .map(|c| {
            let arch = c.arch.clone().unwrap_or_default();
            (c.name.clone(), c.version.clone(), arch)
        })
        .collect();
    let dpkg = dpkg_packages(&good);
    assert!(dpkg
        .iter()
        .any(|(name, ..)| name.starts_with("postgresql-")));
    assert_eq!(locked, dpkg);

    // `up`: healthy by the PostgreSQL check envsync gives it, and the version verified.
    let (code, stdout, stderr) = envsync(d, &["up", "db"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let container = container_name(&project, "db");
    let health = docker_out(&[
        "inspect",
        "-f",
        "{{.State.Health.Status}} {{json .Config.Healthcheck.Test}}",
        &container,
    ]);
    assert!(
        health.starts_with("healthy ") && health.contains("pg_isready"),
        "{health}"
    );
    let server = docker_out(&[
        "exec",
        &container,
        "psql",
        "-U",
        "postgres",
        "-tAc",
        "SHOW server_version",
    ]);
    assert!(server.trim().starts_with(&release), "{server} vs {release}");
    assert!(
        stdout.contains(&format!(
            "verified: service db ({container}): postgres {release} reported from inside matches image tag `{release}`"
        )),
        "{stdout}"
    );
    // The lock's packages were checked too.
    assert!(
        stdout.contains(&format!("{} locked packages as in the lock", dpkg.len())),
        "{stdout}"
    );

    // The running container against the lock's image of the service, as `check` and
    // `diff` compare the development container with the lock: in parity; the bare base
    // image lacks the server's packages; a service the lock has no image of is an error.
    let docker_target = format!("docker:{container}");
    let (code, stdout, stderr) = envsync(d, &["diff", "lock:db", &docker_target]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = envsync(
        d,
        &["check", "--target", &docker_target, "--against", "lock:db"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = envsync(
        d,
        &[
            "diff",
            "lock:db",
            "image:envsync/debian:bookworm",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    let missing: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        missing["drift"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "missing"
                && d["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("postgresql-"))),
        "{stdout}"
    );
    let (code, _, stderr) = envsync(d, &["diff", "lock:nosuch", &docker_target]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("has no image of service `nosuch`; it locks `lock:db`"),
        "{stderr}"
    );

    // The same image tagged with another release: drift, naming both versions.
    write_manifest(d, &project, &wrong, &(major - 1).to_string());
    let (code, stdout, stderr) = envsync(d, &["lock"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = envsync(d, &["up", "db"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "drift: service db ({container}): image `{wrong}` declares postgres {other}"
        )) && stdout.contains(&format!(
            "the server reports postgres {release} from inside"
        )),
        "{stdout}"
    );
    // `status --verify` asks as `up` does.
    let (_, stdout, stderr) = envsync(d, &["status", "--verify", "--format", "json"]);
    let status: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("{err}: {stdout}{stderr}"));
    assert_eq!(status["verify"]["passed"], false, "{stdout}");
    assert_eq!(
        status["verify"]["services"][0]["result"], "drift",
        "{stdout}"
    );
    // `check` against the lock's image of the service asks the server too: the packages
    // are as locked, the release is not.
    let (code, stdout, stderr) = envsync(
        d,
        &[
            "check",
            "--target",
            &docker_target,
            "--against",
            "lock:db",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let drift = report["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{stdout}");
    let found = |key: &str| drift[0][key].as_str().unwrap_or_default().to_string();
    assert_eq!(
        [
            found("ecosystem"),
            found("name"),
            found("left"),
            found("right")
        ],
        ["service", "postgres", other.as_str(), release.as_str()],
        "{stdout}"
    );
}

/// The upstream release of Debian package `package` in `image`, by dpkg-query
/// (`5:7.0.15-1~deb12u5` is `7.0.15`).
fn packaged_release(image: &str, package: &str) -> String {
    let version = docker_out(&[
        "run",
        "--rm",
        "--entrypoint",
        "dpkg-query",
        image,
        "-W",
        "-f",
        "${Version}",
        package,
    ]);
    let without_epoch = version.trim().rsplit(':').next().unwrap_or_default();
    let (upstream, _) = without_epoch
        .rsplit_once('-')
        .unwrap_or((without_epoch, ""));
    upstream.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_mariadb_rabbitmq_and_a_renamed_redis_come_up_healthy_with_versions_verified() {
    let nginx = fixture_image("official-nginx").await;
    let redis = fixture_image("official-redis").await;
    let mariadb = fixture_image("official-mariadb").await;
    let rabbitmq = fixture_image("official-rabbitmq").await;
    let nginx_release = packaged_release(&nginx, "nginx");
    // No curl, as in the official image: the check must pass on the socket table alone.
    let curl = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            &nginx,
            "-c",
            "command -v curl",
        ])
        .output()
        .expect("run docker");
    assert!(!curl.status.success(), "the nginx fixture has curl");
    let redis_release = packaged_release(&redis, "redis-server");
    let mariadb_release = packaged_release(&mariadb, "mariadb-server");
    let rabbitmq_release = packaged_release(&rabbitmq, "rabbitmq-server");
    let repository = format!("localhost/{}", unique_name("mw"));
    let web_image = format!("{repository}/nginx:{nginx_release}");
    // Not named after what it runs: the manifest's `kind` says.
    let cache_image = format!("{repository}/cache:{redis_release}");
    let sql_image = format!("{repository}/mariadb:{mariadb_release}");
    let queue_image = format!("{repository}/rabbitmq:{rabbitmq_release}");
    let _untag = Untag(vec![
        web_image.clone(),
        cache_image.clone(),
        sql_image.clone(),
        queue_image.clone(),
    ]);
    docker_out(&["tag", &nginx, &web_image]);
    docker_out(&["tag", &redis, &cache_image]);
    docker_out(&["tag", &mariadb, &sql_image]);
    docker_out(&["tag", &rabbitmq, &queue_image]);
    let series = |release: &str| release.split('.').take(2).collect::<Vec<_>>().join(".");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = unique_name("mw");
    let _down = Down(d.to_path_buf(), project.clone());
    std::fs::write(
        d.join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"envsync/debian:bookworm\"\n\n\
             [services.web]\nimage = \"{web_image}\"\nversion = \"{}\"\n\n\
             [services.cache]\nimage = \"{cache_image}\"\nkind = \"redis\"\nversion = \"{}\"\n\n\
             [services.sql]\nimage = \"{sql_image}\"\nversion = \"{}\"\n\n\
             [services.queue]\nimage = \"{queue_image}\"\nversion = \"{}\"\n",
            series(&nginx_release),
            series(&redis_release),
            series(&mariadb_release),
            series(&rabbitmq_release)
        ),
    )
    .unwrap();

    let (code, stdout, stderr) = envsync(d, &["up", "web", "cache", "sql", "queue"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for (service, kind, release, check) in [
        ("web", "nginx", &nginx_release, "/proc/net/tcp"),
        ("cache", "redis", &redis_release, "redis-cli"),
        // Debian's package has no healthcheck.sh: `mariadb-admin ping` answers.
        ("sql", "mariadb", &mariadb_release, "mariadb-admin ping"),
        (
            "queue",
            "rabbitmq",
            &rabbitmq_release,
            "rabbitmq-diagnostics -q ping",
        ),
    ] {
        let container = container_name(&project, service);
        let health = docker_out(&[
            "inspect",
            "-f",
            "{{.State.Health.Status}} {{json .Config.Healthcheck.Test}}",
            &container,
        ]);
        assert!(
            health.starts_with("healthy ") && health.contains(check),
            "{service}: {health}"
        );
        assert!(
            stdout.contains(&format!(
                "verified: service {service} ({container}): {kind} {release} reported from inside matches image tag `{release}`"
            )),
            "{stdout}"
        );
    }
}
