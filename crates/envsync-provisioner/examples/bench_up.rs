//! Times `up` on an environment that is already up (the no-change path), for
//! `scripts/bench-up.sh`: one development container from the base image with a
//! project directory mounted, like an equivalent dev-container configuration.
//!
//! Usage: `bench_up PROJECT DIR RUNS [IMAGE]` — brings the project up once (untimed),
//! then runs `up` RUNS times, printing each run's wall time in milliseconds on its own
//! line; fails when any timed run changed something. `bench_up --down PROJECT` removes it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use envsync_provisioner::env::{DevSpec, EnvSpec};
use envsync_provisioner::run;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: starting the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(bench(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

async fn bench(args: &[String]) -> Result<(), String> {
    let docker = envsync_engine::connect().await.map_err(|e| e.to_string())?;
    if let [flag, project] = args {
        if flag == "--down" {
            run::down(&docker, project, true)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
    }
    let (project, dir, runs, image) = match args {
        [p, d, r] => (p, d, r, "envsync/debian:bookworm"),
        [p, d, r, i] => (p, d, r, i.as_str()),
        _ => {
            return Err("usage: bench_up PROJECT DIR RUNS [IMAGE] | bench_up --down PROJECT".into())
        }
    };
    let runs: usize = runs
        .parse()
        .map_err(|_| format!("RUNS must be a number, not `{runs}`"))?;
    let dir = PathBuf::from(dir);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec = EnvSpec {
        stack: Default::default(),
        project: project.clone(),
        project_dir: dir.clone(),
        services: vec![],
        dev: Some(DevSpec {
            healthcheck: None,
            image: image.to_string(),
            // Where dev containers mount a workspace by default.
            mount_project_at: format!("/workspaces/{name}"),
            user: None,
            env: BTreeMap::new(),
            ports: vec![],
            command: None,
            stop_grace: envsync_provisioner::env::DEFAULT_STOP_GRACE,
            restart: Default::default(),
            workdir: None,
            aliases: vec![],
            post_create: vec![],
        }),
    };
    run::up(&docker, &spec, &|_| {})
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..runs {
        let started = Instant::now();
        let report = run::up(&docker, &spec, &|_| {})
            .await
            .map_err(|e| e.to_string())?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if report.changed() {
            return Err(format!(
                "a no-change run changed something: {:?}",
                report.actions
            ));
        }
        println!("{ms:.3}");
    }
    Ok(())
}
