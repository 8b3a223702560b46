//! Secrets from `.env` reach containers at run time only, never an image: `envsync up`
//! of a project whose PostgreSQL password (`POSTGRES_PASSWORD = "${POSTGRES_PASSWORD}"`)
//! and an `[env]` value (`${API_TOKEN}`) come from `.env`. Both are in the running
//! containers' environments, and neither is anywhere in `docker history --no-trunc` or
//! `docker inspect` of any image the project built or runs.

use envsync_testsupport::{base_image, unique_name};

mod util;

use util::{docker_out, envsync, project_images, Down};

#[tokio::test]
async fn secrets_from_dotenv_are_in_no_image() {
    let base = base_image().await;
    let project = unique_name("secrets");
    let dir = tempfile::tempdir().unwrap();
    // Unique per run, so no earlier image can hold them by chance.
    let password = format!("pg-{}", unique_name("pw"));
    let token = format!("tok-{}", unique_name("api"));
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!(
            "[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n\n\
             [env]\nAPI_TOKEN = \"${{API_TOKEN}}\"\n\n\
             [services.postgres]\nversion = \"15\"\n\
             env = {{ POSTGRES_USER = \"app\", POSTGRES_DB = \"app\", POSTGRES_PASSWORD = \"${{POSTGRES_PASSWORD}}\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("POSTGRES_PASSWORD={password}\nAPI_TOKEN={token}\n"),
    )
    .unwrap();
    let _down = Down(dir.path().to_path_buf(), project.clone());

    let (code, stdout, stderr) = envsync(dir.path(), &["up"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // They did reach the containers, at run time.
    let dev = format!("envsync-{project}-dev");
    let postgres = format!("envsync-{project}-postgres");
    let env_of = |c: &str| docker_out(&["inspect", "-f", "{{json .Config.Env}}", c]);
    assert!(env_of(&dev).contains(&format!("API_TOKEN={token}")));
    assert!(env_of(&postgres).contains(&format!("POSTGRES_PASSWORD={password}")));
    assert!(env_of(&dev).contains(&password), "DATABASE_URL carries it");

    // Every image: those labelled as the project's and those its containers run.
    let mut images = project_images(&project);
    for container in [&dev, &postgres] {
        images.push(
            docker_out(&["inspect", "-f", "{{.Image}}", container])
                .trim()
                .to_string(),
        );
    }
    images.sort();
    images.dedup();
    assert!(images.len() >= 2, "{images:?}");
    for image in &images {
        let history = docker_out(&["history", "--no-trunc", image]);
        let inspect = docker_out(&["image", "inspect", image]);
        for (what, text) in [("history", &history), ("inspect", &inspect)] {
            for secret in [&password, &token] {
                assert!(
                    !text.contains(secret.as_str()),
                    "docker {what} of {image} holds a secret"
                );
            }
        }
    }
}
