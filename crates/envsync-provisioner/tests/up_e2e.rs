//! `up`, `plan`, `down`, `status` and `exec` against the real Docker engine: a Redis
//! service built from the Debian base with Debian's current `redis-server`, and a
//! development container from the base image. Fails (never skips) without an engine.
//!
//! Every test uses its own project name and removes it in a `Drop` guard (calling
//! `down`), so a failing test leaves nothing behind.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
};
use bollard::Docker;
use envsync_provisioner::env::{
    DevSpec, DevUser, EnvSpec, HealthSpec, PortMap, RestartPolicy, ServiceSpec, DEFAULT_STOP_GRACE,
};
use envsync_provisioner::labels::project_filter;
use envsync_provisioner::middleware::{service_build_spec, upstream_version};
use envsync_provisioner::run::{self, Change, ContainerState, HealthState, RunError, UpReport};
use envsync_provisioner::spec::Pin;
use envsync_testsupport::{base_image, docker, unique_name, TestContainer};
use futures_util::StreamExt;
use tokio::sync::OnceCell;

/// Removes the project (containers, network, volumes) when dropped, panicking or not.
struct ProjectGuard(String);

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        let project = self.0.clone();
        // Drop may run inside a runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(docker) = envsync_engine::connect().await {
                    let _ = run::down(&docker, &project, true).await;
                }
            });
        })
        .join();
    }
}

fn quiet(_: &str) {}

/// The `redis-server` version Debian bookworm offers now: the candidate in this
/// machine's apt lists when there are any, else asked of apt inside the base image.
async fn redis_candidate() -> String {
    let from_host = Command::new("apt-cache")
        .args(["policy", "redis-server"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|text| candidate(&text));
    if let Some(version) = from_host {
        return version;
    }
    let image = base_image().await;
    let c = TestContainer::run(&image, "apt-policy", &["sleep", "300"]).await;
    let text = c
        .sh("apt-get update -qq >/dev/null && apt-cache policy redis-server")
        .await;
    candidate(&text).expect("apt-cache policy redis-server shows a candidate")
}

fn candidate(policy: &str) -> Option<String> {
    policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate: "))
        .filter(|v| *v != "(none)")
        .map(str::to_string)
}

struct RedisImage {
    tag: String,
    version: String,
    command: Vec<String>,
    healthcheck: HealthSpec,
}

/// The Redis service image, built once per test process through the provisioner's
/// `build` (content-addressed: later runs reuse it).
async fn redis_image() -> &'static RedisImage {
    static IMAGE: OnceCell<RedisImage> = OnceCell::const_new();
    IMAGE
        .get_or_init(|| async {
            base_image().await;
            let version = redis_candidate().await;
            let major_minor: String = upstream_version(&version)
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".");
            let recipe = service_build_spec(
                "redis",
                &major_minor,
                &[Pin::exact("redis-server", &version)],
            )
            .expect("redis recipe");
            let docker = docker().await;
            let built = envsync_provisioner::build(&docker, &recipe.build, &|_| {})
                .await
                .unwrap_or_else(|e| panic!("building the redis image: {e}"));
            RedisImage {
                tag: built.tag,
                version,
                command: recipe.command,
                healthcheck: recipe.healthcheck,
            }
        })
        .await
}

fn redis_service(image: &RedisImage, name: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        image: image.tag.clone(),
        env: BTreeMap::from([("APP_MODE".to_string(), "test".to_string())]),
        ports: vec![],
        healthcheck: Some(image.healthcheck.clone()),
        volumes: vec![],
        command: Some(image.command.clone()),
        stop_grace: DEFAULT_STOP_GRACE,
        restart: RestartPolicy::default(),
    }
}

fn dev(project_dir: &Path, user: Option<DevUser>) -> (DevSpec, std::path::PathBuf) {
    (
        DevSpec {
            healthcheck: None,
            image: envsync_testsupport::BASE_IMAGE.to_string(),
            mount_project_at: "/workspace".to_string(),
            user,
            env: BTreeMap::from([("APP_ENV".to_string(), "dev".to_string())]),
            ports: vec![],
            command: None,
            stop_grace: DEFAULT_STOP_GRACE,
            restart: RestartPolicy::default(),
            workdir: None,
            aliases: vec![],
            post_create: vec![],
        },
        project_dir.to_path_buf(),
    )
}

/// Run `cmd` in `container`; returns (exit code, stdout + stderr).
async fn exec_in(docker: &Docker, container: &str, cmd: &[&str]) -> (i64, String) {
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("exec {cmd:?} in `{container}`: {e}"));
    let mut out = Vec::new();
    if let Ok(StartExecResults::Attached { mut output, .. }) =
        docker.start_exec(&exec.id, None).await
    {
        while let Some(Ok(chunk)) = output.next().await {
            if let LogOutput::StdOut { message } | LogOutput::StdErr { message } = chunk {
                out.extend_from_slice(&message);
            }
        }
    }
    let code = docker
        .inspect_exec(&exec.id)
        .await
        .expect("inspecting the exec")
        .exit_code
        .unwrap_or(-1);
    (code, String::from_utf8_lossy(&out).into_owned())
}

fn lines(report: &UpReport) -> Vec<String> {
    report.actions.iter().map(|a| a.describe(true)).collect()
}

/// Names of the project's containers and networks, found by label.
async fn labelled(docker: &Docker, project: &str) -> (Vec<String>, Vec<String>) {
    let filters = HashMap::from([("label".to_string(), project_filter(project))]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("listing containers");
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("listing networks");
    (
        containers
            .into_iter()
            .filter_map(|c| c.names?.first().cloned())
            .collect(),
        networks.into_iter().filter_map(|n| n.name).collect(),
    )
}

async fn container_id(docker: &Docker, name: &str) -> String {
    docker
        .inspect_container(name, None)
        .await
        .expect("inspecting the container")
        .id
        .expect("a container has an ID")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free port")
        .port()
}

#[tokio::test]
async fn up_runs_healthy_redis_and_dev_container_and_second_up_changes_nothing() {
    let docker = docker().await;
    let redis = redis_image().await;
    let project = unique_name("up");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    // World-writable so that the development container's (non-root) user can write.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::fs::write(dir.path().join("hello.txt"), "from the host\n").unwrap();
    let user = DevUser {
        name: "dana".into(),
        uid: 4321,
        gid: 4321,
    };
    let (dev, project_dir) = dev(dir.path(), Some(user));
    let port = free_port();
    let mut service = redis_service(redis, "redis");
    service.ports = vec![PortMap {
        host: port,
        container: 6379,
        host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
    }];
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir,
        services: vec![service],
        dev: Some(dev),
    };

    // `plan` before anything exists says everything would be created, and creates nothing.
    let planned = run::plan(&docker, &spec).await.unwrap();
    assert!(
        planned.iter().all(|a| a.change == Change::Create),
        "{planned:?}"
    );
    assert_eq!(labelled(&docker, &project).await, (vec![], vec![]));

    let first = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(
        lines(&first),
        [
            format!("network envsync-{project}: missing, created"),
            "redis: missing, created".to_string(),
            "dev: missing, created".to_string(),
        ]
    );

    let redis_container = format!("envsync-{project}-redis");
    let dev_container = format!("envsync-{project}-dev");
    // Redis answers inside its container, its version is the package's, and the
    // package is the one pinned (dpkg inside the container is the oracle).
    assert_eq!(
        exec_in(&docker, &redis_container, &["redis-cli", "ping"]).await,
        (0, "PONG\n".to_string())
    );
    let (_, version) = exec_in(&docker, &redis_container, &["redis-server", "--version"]).await;
    let upstream = upstream_version(&redis.version);
    assert!(
        version.contains(&format!("v={upstream} ")),
        "`redis-server --version` says {version:?}, package {}",
        redis.version
    );
    assert_eq!(
        exec_in(
            &docker,
            &redis_container,
            &["dpkg-query", "-W", "-f", "${Version}", "redis-server"]
        )
        .await,
        (0, redis.version.clone())
    );
    // The published port answers on the host's loopback.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");

    // The development container reaches the service by its name on the project
    // network, runs as the given user (by name, with a home it may write), sees the
    // project and writes files the host sees owned by that user.
    let (code, out) = exec_in(
        &docker,
        &dev_container,
        &[
            "bash",
            "-c",
            "exec 3<>/dev/tcp/redis/6379; printf 'PING\\r\\n' >&3; head -c 5 <&3; echo; \
             id -u; id -g; id -un; echo $HOME; touch $HOME/w; pwd; cat hello.txt; echo $APP_ENV; \
             touch made-in-dev",
        ],
    )
    .await;
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "+PONG\n4321\n4321\ndana\n/home/dana\n/workspace\nfrom the host\ndev\n"
        )
    );
    let made = std::fs::metadata(dir.path().join("made-in-dev")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((made.uid(), made.gid()), (4321, 4321));

    // `status` lists both containers, healthy and running.
    let status = run::status(&docker, &project).await.unwrap();
    let summary: Vec<(String, ContainerState, Option<HealthState>)> = status
        .iter()
        .map(|s| (s.service.clone(), s.state, s.health))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "redis".into(),
                ContainerState::Running,
                Some(HealthState::Healthy)
            ),
            ("dev".into(), ContainerState::Running, None),
        ]
    );
    assert_eq!(status[0].image, redis.tag);
    assert_eq!(
        status[0].ports,
        [PortMap {
            host: port,
            container: 6379,
            host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
        }]
    );

    // `exec` passes the exit code through.
    let code = run::exec(
        &docker,
        &project,
        &["sh".into(), "-c".into(), "exit 7".into()],
        run::ExecOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(code, 7);

    // A second `up` changes nothing, says so, and only reads.
    let ids = (
        container_id(&docker, &redis_container).await,
        container_id(&docker, &dev_container).await,
    );
    let second = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(
        lines(&second),
        [
            format!("network envsync-{project}: up to date"),
            "redis: up to date".to_string(),
            "dev: up to date".to_string(),
        ]
    );
    assert!(!second.changed());
    assert_eq!(
        ids,
        (
            container_id(&docker, &redis_container).await,
            container_id(&docker, &dev_container).await,
        )
    );
    let planned = run::plan(&docker, &spec).await.unwrap();
    assert!(planned.iter().all(|a| !a.is_change()), "{planned:?}");
    eprintln!(
        "no-change up: plan {:?}, total {:?}",
        second.plan_time, second.total_time
    );
}

#[tokio::test]
async fn changed_env_recreates_only_that_service_and_says_why() {
    let docker = docker().await;
    let redis = redis_image().await;
    let project = unique_name("env");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let (dev, project_dir) = dev(dir.path(), None);
    let mut spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir,
        services: vec![redis_service(redis, "redis"), redis_service(redis, "cache")],
        dev: Some(dev),
    };
    run::up(&docker, &spec, &quiet).await.unwrap();
    let redis_id = container_id(&docker, &format!("envsync-{project}-redis")).await;
    let cache_id = container_id(&docker, &format!("envsync-{project}-cache")).await;

    spec.services[1]
        .env
        .insert("APP_MODE".to_string(), "changed".to_string());
    let planned: Vec<String> = run::plan(&docker, &spec)
        .await
        .unwrap()
        .iter()
        .map(|a| a.describe(false))
        .collect();
    assert_eq!(
        planned,
        [
            format!("network envsync-{project}: up to date"),
            "redis: up to date".to_string(),
            "cache: would be recreated: env APP_MODE changed".to_string(),
            "dev: up to date".to_string(),
        ]
    );
    let report = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(
        lines(&report),
        [
            format!("network envsync-{project}: up to date"),
            "redis: up to date".to_string(),
            "cache: recreated: env APP_MODE changed".to_string(),
            "dev: up to date".to_string(),
        ]
    );
    assert_eq!(
        container_id(&docker, &format!("envsync-{project}-redis")).await,
        redis_id
    );
    assert_ne!(
        container_id(&docker, &format!("envsync-{project}-cache")).await,
        cache_id
    );
    let (_, env) = exec_in(
        &docker,
        &format!("envsync-{project}-cache"),
        &["sh", "-c", "echo $APP_MODE"],
    )
    .await;
    assert_eq!(env, "changed\n");

    // A service dropped from the spec is removed, saying why.
    spec.services.truncate(1);
    let report = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(
        lines(&report)[3],
        "cache: no longer in the manifest, removed".to_string()
    );
}

#[tokio::test]
async fn killed_service_is_restarted_by_the_next_up() {
    let docker = docker().await;
    let redis = redis_image().await;
    let project = unique_name("kill");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir: dir.path().to_path_buf(),
        services: vec![redis_service(redis, "redis")],
        dev: None,
    };
    run::up(&docker, &spec, &quiet).await.unwrap();
    let name = format!("envsync-{project}-redis");
    docker
        .kill_container(
            &name,
            Some(
                KillContainerOptionsBuilder::default()
                    .signal("KILL")
                    .build(),
            ),
        )
        .await
        .unwrap();
    // `kill` returns once the signal is sent; the engine records the exit just after.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = docker.inspect_container(&name, None).await.unwrap().state;
        if state.and_then(|s| s.running) == Some(false) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "`{name}` still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let planned: Vec<String> = run::plan(&docker, &spec)
        .await
        .unwrap()
        .iter()
        .map(|a| a.describe(false))
        .collect();
    assert_eq!(planned[1], "redis: killed container, would be restarted");
    let report = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(lines(&report)[1], "redis: killed container restarted");
    assert_eq!(
        exec_in(&docker, &name, &["redis-cli", "ping"]).await,
        (0, "PONG\n".to_string())
    );
}

#[tokio::test]
async fn taken_host_port_names_the_service_and_changes_nothing() {
    let docker = docker().await;
    let redis = redis_image().await;
    let project = unique_name("port");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut service = redis_service(redis, "redis");
    service.ports = vec![PortMap {
        host: port,
        container: 6379,
        host_ip: envsync_manifest::manifest::DEFAULT_HOST_IP,
    }];
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir: dir.path().to_path_buf(),
        services: vec![service],
        dev: None,
    };
    let err = run::up(&docker, &spec, &quiet).await.unwrap_err();
    assert!(
        matches!(&err, RunError::PortTaken { service, port: p, .. } if service == "redis" && *p == port),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("host port {port} wanted by `redis` is already taken; stop what holds it or change the service's port")
    );
    assert_eq!(labelled(&docker, &project).await, (vec![], vec![]));
    drop(holder);
}

#[tokio::test]
async fn service_that_never_gets_healthy_fails_with_its_logs() {
    let docker = docker().await;
    let image = base_image().await;
    let project = unique_name("sick");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir: dir.path().to_path_buf(),
        services: vec![ServiceSpec {
            name: "broken".to_string(),
            image,
            env: BTreeMap::new(),
            ports: vec![],
            healthcheck: Some(HealthSpec {
                test: vec!["CMD".into(), "false".into()],
                interval: Duration::from_millis(200),
                timeout: Duration::from_secs(2),
                retries: 2,
                start_period: Duration::ZERO,
            }),
            volumes: vec![],
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo listening-marker; exec sleep 600".into(),
            ]),
            stop_grace: DEFAULT_STOP_GRACE,
            restart: RestartPolicy::default(),
        }],
        dev: None,
    };
    let err = run::up(&docker, &spec, &quiet).await.unwrap_err();
    match &err {
        RunError::Unhealthy { service, logs, .. } => {
            assert_eq!(service, "broken");
            assert!(logs.contains("listening-marker"), "{logs}");
        }
        other => panic!("expected Unhealthy, got {other:?}"),
    }
    assert!(err.to_string().starts_with(&format!(
        "`broken` (container `envsync-{project}-broken`) is unhealthy"
    )));
}

#[tokio::test]
async fn down_removes_only_this_projects_containers_and_network() {
    let docker = docker().await;
    base_image().await;
    let a = unique_name("down-a");
    let b = unique_name("down-b");
    let _guards = (ProjectGuard(a.clone()), ProjectGuard(b.clone()));
    let dir = tempfile::tempdir().unwrap();
    for project in [&a, &b] {
        let (dev, project_dir) = dev(dir.path(), None);
        let spec = EnvSpec {
            stack: Default::default(),
            project: project.clone(),
            project_dir,
            services: vec![],
            dev: Some(dev),
        };
        run::up(&docker, &spec, &quiet).await.unwrap();
    }
    // A container someone started by hand from a project image inherits the image's
    // project labels; it is not `up`'s, and `down` must leave it alone.
    let bystander = unique_name("down-bystander");
    docker
        .create_container(
            Some(
                bollard::query_parameters::CreateContainerOptionsBuilder::default()
                    .name(&bystander)
                    .build(),
            ),
            bollard::models::ContainerCreateBody {
                image: Some(envsync_testsupport::BASE_IMAGE.to_string()),
                cmd: Some(vec!["true".to_string()]),
                labels: Some(HashMap::from([
                    ("io.envsync.managed".to_string(), "true".to_string()),
                    ("io.envsync.project".to_string(), a.clone()),
                    (
                        envsync_testsupport::LABEL_TEST.to_string(),
                        "down".to_string(),
                    ),
                    // Without the live pid, another test's sweep would remove it.
                    (
                        envsync_testsupport::LABEL_TEST_PID.to_string(),
                        std::process::id().to_string(),
                    ),
                ])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let report = run::down(&docker, &a, false).await.unwrap();
    assert!(
        docker.inspect_container(&bystander, None).await.is_ok(),
        "`down` removed a container `up` did not create"
    );
    docker
        .remove_container(
            &bystander,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(report.containers, [format!("envsync-{a}-dev")]);
    assert_eq!(report.networks, [format!("envsync-{a}")]);
    assert_eq!(labelled(&docker, &a).await, (vec![], vec![]));
    assert_eq!(
        labelled(&docker, &b).await,
        (
            vec![format!("/envsync-{b}-dev")],
            vec![format!("envsync-{b}")]
        )
    );
    // `exec` into a project that is down says how to bring it up.
    let err = run::exec(&docker, &a, &["true".into()], run::ExecOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RunError::NoDevContainer { .. }), "{err:?}");
}

/// Build a middleware recipe's image through the provisioner's `build`.
async fn recipe_image(
    name: &str,
    version: &str,
) -> (envsync_provisioner::middleware::ServiceRecipe, String) {
    base_image().await;
    let recipe = service_build_spec(name, version, &[]).expect("recipe");
    let docker = docker().await;
    let built = envsync_provisioner::build(&docker, &recipe.build, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("building the {name} image: {e}"));
    (recipe, built.tag)
}

#[tokio::test]
async fn postgres_and_nginx_recipes_run_healthy_with_password_auth_and_a_named_volume() {
    let docker = docker().await;
    let (pg, pg_tag) = recipe_image("postgres", "15").await;
    let (nginx, nginx_tag) = recipe_image("nginx", "1.22").await;
    let project = unique_name("mw");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut postgres = pg.service_spec("postgres", &pg_tag);
    postgres.env = BTreeMap::from([
        ("POSTGRES_PASSWORD".to_string(), "s3cret".to_string()),
        ("POSTGRES_DB".to_string(), "app".to_string()),
        ("POSTGRES_USER".to_string(), "app_user".to_string()),
    ]);
    let (dev, project_dir) = dev(dir.path(), None);
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir,
        services: vec![postgres, nginx.service_spec("nginx", &nginx_tag)],
        dev: Some(dev),
    };
    let report = run::up(&docker, &spec, &quiet).await.unwrap();
    assert!(
        lines(&report)
            .iter()
            .skip(1)
            .all(|l| l.ends_with("missing, created")),
        "{report:?}"
    );

    let pg_container = format!("envsync-{project}-postgres");
    // Over TCP the password is required (scram-sha-256); the declared user connects to
    // the declared database.
    assert_eq!(
        exec_in(
            &docker,
            &pg_container,
            &[
                "sh",
                "-c",
                "PGPASSWORD=s3cret psql -h 127.0.0.1 -U app_user -d app -Atc \"select current_user || ' ' || current_database() || ' ' || left(rolpassword, 13) from pg_authid where rolname = current_user\""
            ],
        )
        .await,
        (0, "app_user app SCRAM-SHA-256\n".to_string())
    );
    let (code, _) = exec_in(
        &docker,
        &pg_container,
        &[
            "sh",
            "-c",
            "PGPASSWORD=wrong psql -h 127.0.0.1 -U app_user -d app -Atc 'select 1'",
        ],
    )
    .await;
    assert_ne!(code, 0, "a wrong password must be refused");
    let (code, _) = exec_in(
        &docker,
        &pg_container,
        &[
            "psql",
            "-h",
            "127.0.0.1",
            "-w",
            "-U",
            "app_user",
            "-d",
            "app",
            "-Atc",
            "select 1",
        ],
    )
    .await;
    assert_ne!(code, 0, "no password must be refused");
    let (_, version) = exec_in(
        &docker,
        &pg_container,
        &["dpkg-query", "-W", "-f", "${Version}", "postgresql-15"],
    )
    .await;
    let (_, server) = exec_in(
        &docker,
        &pg_container,
        &["/usr/lib/postgresql/15/bin/postgres", "--version"],
    )
    .await;
    assert!(
        server.contains(&format!(" {}", upstream_version(&version))),
        "`postgres --version` says {server:?}, package {version}"
    );

    // nginx answers the development container by its service name.
    let (code, out) = exec_in(
        &docker,
        &format!("envsync-{project}-dev"),
        &["bash", "-c", "exec 3<>/dev/tcp/nginx/80; printf 'GET / HTTP/1.0\\r\\nHost: nginx\\r\\n\\r\\n' >&3; head -n 1 <&3"],
    )
    .await;
    assert_eq!((code, out.trim_end()), (0, "HTTP/1.1 200 OK"));

    // The data volume is the project's, and only `down --volumes` removes it.
    let volume = format!("envsync-{project}-postgres-data");
    assert!(docker.inspect_volume(&volume).await.is_ok());
    let down = run::down(&docker, &project, false).await.unwrap();
    assert!(down.volumes.is_empty());
    assert!(docker.inspect_volume(&volume).await.is_ok());
    let down = run::down(&docker, &project, true).await.unwrap();
    assert_eq!(down.volumes, std::slice::from_ref(&volume));
    assert!(docker.inspect_volume(&volume).await.is_err());
}

#[tokio::test]
async fn interrupted_up_is_finished_by_the_next_up() {
    let docker = docker().await;
    let redis = redis_image().await;
    let project = unique_name("resume");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let (dev, project_dir) = dev(dir.path(), None);
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir,
        services: vec![redis_service(redis, "redis")],
        dev: Some(dev),
    };
    // Abandon the first `up` (as when the process dies) once the service is started
    // and before the development container exists.
    let waiting = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = waiting.clone();
    let progress = move |line: &str| {
        if line.contains("waiting for its health check") {
            signal.notify_one();
        }
    };
    tokio::select! {
        result = run::up(&docker, &spec, &progress) => panic!("up finished before it was interrupted: {result:?}"),
        _ = waiting.notified() => {}
    }
    assert!(docker
        .inspect_container(&format!("envsync-{project}-dev"), None)
        .await
        .is_err());
    // State lives in the engine's labels: the next `up` keeps what exists and does the rest.
    let report = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(
        lines(&report),
        [
            format!("network envsync-{project}: up to date"),
            "redis: up to date".to_string(),
            "dev: missing, created".to_string(),
        ]
    );
    let status = run::status(&docker, &project).await.unwrap();
    assert_eq!(status[0].health, Some(HealthState::Healthy));
}

/// `down` stops Redis with SIGTERM and waits, so Redis saves its dataset to its volume
/// and a later `up` finds the keys: a kill (what `down` did before) loses them, since
/// Redis's default save points are minutes apart. The container runs with the default
/// `unless-stopped` policy and the default 10 s grace.
#[tokio::test]
async fn redis_keys_survive_down_and_up_because_down_stops_gracefully() {
    let docker = docker().await;
    let redis = redis_image().await;
    let project = unique_name("grace");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut service = redis_service(redis, "redis");
    service.volumes = vec![envsync_provisioner::env::VolumeMap {
        source: "redis-data".to_string(),
        container_path: "/var/lib/redis".to_string(),
        read_only: false,
    }];
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir: dir.path().to_path_buf(),
        services: vec![service],
        dev: None,
    };
    run::up(&docker, &spec, &quiet).await.unwrap();
    let name = format!("envsync-{project}-redis");
    let inspect = docker.inspect_container(&name, None).await.unwrap();
    let policy = inspect
        .host_config
        .and_then(|h| h.restart_policy)
        .and_then(|p| p.name);
    assert_eq!(
        policy,
        Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    assert_eq!(inspect.config.and_then(|c| c.stop_timeout), Some(10));

    assert_eq!(
        exec_in(&docker, &name, &["redis-cli", "set", "greeting", "kept"]).await,
        (0, "OK\n".to_string())
    );
    // Nothing is on disk yet: whatever is there after `up` was written at shutdown.
    assert_eq!(
        exec_in(&docker, &name, &["ls", "-A", "/var/lib/redis"]).await,
        (0, String::new())
    );
    let report = run::down(&docker, &project, false).await.unwrap();
    assert_eq!(report.containers, std::slice::from_ref(&name));
    assert!(report.volumes.is_empty());

    let again = run::up(&docker, &spec, &quiet).await.unwrap();
    assert_eq!(lines(&again)[1], "redis: missing, created");
    assert_eq!(
        exec_in(&docker, &name, &["redis-cli", "get", "greeting"]).await,
        (0, "kept\n".to_string())
    );
}

/// A service that waits for a file the test creates, then ends with `code`.
fn ends_on_signal_file(image: &str, name: &str, code: u8, restart: RestartPolicy) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        image: image.to_string(),
        env: BTreeMap::new(),
        ports: vec![],
        healthcheck: None,
        volumes: vec![],
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            format!("while [ ! -e /tmp/end ]; do sleep 0.1; done; exit {code}"),
        ]),
        stop_grace: DEFAULT_STOP_GRACE,
        restart,
    }
}

/// `status` tells which containers stopped running, with the exit code, and how often
/// the engine restarted a crashing one.
#[tokio::test]
async fn status_shows_exit_codes_and_restart_counts() {
    let docker = docker().await;
    let image = base_image().await;
    let project = unique_name("status");
    let _guard = ProjectGuard(project.clone());
    let dir = tempfile::tempdir().unwrap();
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir: dir.path().to_path_buf(),
        services: vec![
            ends_on_signal_file(&image, "crashy", 5, RestartPolicy::Always),
            ends_on_signal_file(&image, "oneshot", 3, RestartPolicy::No),
        ],
        dev: None,
    };
    run::up(&docker, &spec, &quiet).await.unwrap();
    let status = run::status(&docker, &project).await.unwrap();
    let summary: Vec<_> = status
        .iter()
        .map(|s| (s.service.as_str(), s.exit_code, s.restarts, s.is_down()))
        .collect();
    assert_eq!(
        summary,
        [("crashy", None, 0, false), ("oneshot", None, 0, false)]
    );

    for service in ["crashy", "oneshot"] {
        let name = format!("envsync-{project}-{service}");
        assert_eq!(exec_in(&docker, &name, &["touch", "/tmp/end"]).await.0, 0);
    }
    // The engine restarts `crashy` (which ends again at once: /tmp/end stays) and
    // leaves `oneshot` exited.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = run::status(&docker, &project).await.unwrap();
        if status[0].restarts >= 1 && status[1].state == ContainerState::Exited {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no restart or exit seen: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (status[1].exit_code, status[1].restarts, status[1].is_down()),
        (Some(3), 0, true)
    );
    if status[0].is_down() {
        assert_eq!(status[0].exit_code, Some(5), "{:?}", status[0]);
    }
    let json = serde_json::to_value(&status[1]).unwrap();
    assert_eq!(
        (&json["state"], &json["exit_code"], &json["restarts"]),
        (&"exited".into(), &3.into(), &0.into())
    );
}
