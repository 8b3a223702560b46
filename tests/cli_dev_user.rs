//! `envsync up` run by a real user other than root (`runuser -u envsync-dev`, a member of
//! the engine socket's group), as a developer runs it: `up` works; inside the development
//! container the user has its name, UID and GID and a writable `HOME`; a file created in
//! the project is the user's on the host; `pip install` into the manifest's (root-built)
//! virtualenv works; and the interactive shell's prompt, on a terminal (tmux), names the
//! user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use envsync_testsupport::{base_image, non_root_user, unique_name, FakeWheel, NonRootUser};

mod util;

use util::{run, Down, Tmux, TEST_HASH_KEY};

/// The built binary copied where any user may run it (the build directory may be in a
/// home only root can enter).
fn shared_binary() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755))
        .expect("chmod the binary's directory");
    let bin = dir.path().join("envsync");
    std::fs::copy(env!("CARGO_BIN_EXE_envsync"), &bin).expect("copy the binary");
    std::fs::set_permissions(&bin, PermissionsExt::from_mode(0o755)).expect("chmod the binary");
    (dir, bin)
}

/// `envsync ARGS` in `dir` as `user`, through `runuser` (which sets `HOME`, `USER` and
/// `LOGNAME` to the user's).
fn as_user(user: &NonRootUser, bin: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new("runuser")
        .args(["-u", &user.name, "--"])
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("ENVSYNC_HASH_KEY", TEST_HASH_KEY))
}

/// Give `path` and everything under it to `user`.
fn chown_tree(path: &Path, user: &NonRootUser) {
    for entry in walk(path) {
        std::os::unix::fs::lchown(&entry, Some(user.uid), Some(user.gid)).expect("chown");
    }
}

fn walk(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read the project directory") {
            out.extend(walk(&entry.expect("a directory entry").path()));
        }
    }
    out
}

/// A project owned by `user` in a new directory: a manifest on the base image (and
/// `extra` sections), with everything in it given to the user.
fn user_project(user: &NonRootUser, project: &str, base: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("envsync.toml"),
        format!("[project]\nname = \"{project}\"\n\n[base]\nimage = \"{base}\"\n{extra}"),
    )
    .expect("write the manifest");
    chown_tree(dir.path(), user);
    dir
}

#[tokio::test]
async fn up_as_a_user_other_than_root() {
    let user = non_root_user().expect("the test user");
    let base = base_image().await;
    let project = unique_name("devuser");
    let (_bin_dir, bin) = shared_binary();
    let dir = user_project(&user, &project, &base, "");
    let root = dir.path().canonicalize().unwrap();
    let _down = Down(root.clone(), project.clone());

    let (code, stdout, stderr) = as_user(&user, &bin, &root, &["up"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Inside: the user's name, IDs and home, a file in HOME and one in the project.
    let script =
        "id -un; id -u; id -g; echo \"$HOME\"; touch \"$HOME/written\" && echo home-writable; \
                  touch made-inside";
    let (code, stdout, stderr) = as_user(
        &user,
        &bin,
        &root,
        &["exec", "-T", "--", "sh", "-c", script],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        format!(
            "{0}\n{1}\n{2}\n/home/{0}\nhome-writable\n",
            user.name, user.uid, user.gid
        )
    );
    let made = std::fs::metadata(root.join("made-inside")).unwrap();
    assert_eq!((made.uid(), made.gid()), (user.uid, user.gid));

    // The interactive shell on a terminal: its prompt names the user.
    let tmux = Tmux::start(
        &project,
        &root,
        &[("NO_COLOR", "1"), ("ENVSYNC_HASH_KEY", TEST_HASH_KEY)],
        &[
            "runuser",
            "-u",
            &user.name,
            "--",
            bin.to_str().unwrap(),
            "shell",
        ],
    );
    let prompt = format!("{}@", user.name);
    let screen = tmux.wait_for("the shell's prompt", |s| s.contains(&prompt));
    assert!(!screen.contains("I have no name!"), "{screen}");
    tmux.send_keys(&["-l", "exit 5"]);
    // Echoed by the terminal inside: the shell is reading what is typed.
    tmux.wait_for("the typed command", |s| s.contains("$ exit 5"));
    tmux.send_keys(&["Enter"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tmux.exit_status().is_none() {
        assert!(std::time::Instant::now() < deadline, "{}", tmux.screen());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(tmux.exit_status(), Some(5), "{}", tmux.screen());
}

/// The virtualenv the image built as root is the user's to install into: it belongs to
/// the group the container's user is given.
#[tokio::test]
async fn a_user_other_than_root_installs_into_the_virtualenv() {
    let user = non_root_user().expect("the test user");
    let base = base_image().await;
    let project = unique_name("devuser-venv");
    let (_bin_dir, bin) = shared_binary();
    let dir = user_project(
        &user,
        &project,
        &base,
        "\n[python.venvs.\"/opt/venv\"]\npackages = {}\n",
    );
    let root = dir.path().canonicalize().unwrap();
    let wheel = FakeWheel::new("devuser-probe", "1.0")
        .write_to(&root)
        .unwrap();
    chown_tree(&root, &user);
    let wheel = wheel.file_name().unwrap().to_str().unwrap().to_string();
    let _down = Down(root.clone(), project.clone());

    let (code, stdout, stderr) = as_user(&user, &bin, &root, &["up"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let script = format!(
        "python -m pip install -q --no-index {wheel} \
         && python -c 'import devuser_probe, sys; print(devuser_probe.__version__, sys.prefix)' \
         && stat -c %U /opt/venv/lib/python3*/site-packages/devuser_probe*.dist-info"
    );
    let (code, stdout, stderr) = as_user(
        &user,
        &bin,
        &root,
        &["exec", "-T", "--", "sh", "-c", &script],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, format!("1.0 /opt/venv\n{}\n", user.name));
}
