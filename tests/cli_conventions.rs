//! Command-line conventions users expect of an installed tool: shell completions that
//! the shell itself loads and answers with, man pages for every command, global options
//! anywhere, one set of format names, quiet closed pipes, help without repository
//! paths, and errors that say what happened.

mod util;

use util::{envsync, envsync_output};

#[test]
fn bash_loads_the_completions_and_completes_commands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (code, script, stderr) = envsync(dir.path(), &["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    let file = dir.path().join("envsync.bash");
    std::fs::write(&file, script).unwrap();
    // Bash is the oracle: source the script, then ask the completion function what it
    // offers after `envsync lo` and after `envsync logs --fo`.
    let probe = format!(
        r#"source '{}' || exit 3
complete -p envsync || exit 4
COMP_WORDS=(envsync lo); COMP_CWORD=1; COMP_LINE='envsync lo'; COMP_POINT=${{#COMP_LINE}}
_envsync envsync lo envsync; echo "commands: ${{COMPREPLY[*]}}"
COMP_WORDS=(envsync logs --fo); COMP_CWORD=2; COMP_LINE='envsync logs --fo'; COMP_POINT=${{#COMP_LINE}}
_envsync envsync --fo logs; echo "flags: ${{COMPREPLY[*]}}""#,
        file.display()
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("-F _envsync envsync"), "{stdout}");
    assert!(stdout.contains("commands: lock logs"), "{stdout}");
    assert!(stdout.contains("flags: --follow"), "{stdout}");

    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let (code, script, stderr) = envsync(dir.path(), &["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("envsync"), "{shell}");
    }
    let (code, _, stderr) = envsync(dir.path(), &["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
}

#[test]
fn man_pages_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = envsync_output(dir.path(), &["man", "man1"]);
    assert_eq!(out.status.code(), Some(0));
    let (_, help, _) = envsync(dir.path(), &["--help"]);
    // Every command `--help` lists has a page, and the top page names it.
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description wrapped onto the next line is indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 15, "{help}");
    let top = std::fs::read_to_string(dir.path().join("man1/envsync.1")).expect("envsync.1");
    assert!(
        top.starts_with(".ie"),
        "a roff page: {}",
        &top[..40.min(top.len())]
    );
    for c in commands {
        let page = dir.path().join(format!("man1/envsync-{c}.1"));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(text.contains(&format!("envsync\\-{c}")), "{c}");
        assert!(top.contains(&format!("envsync\\-{c}(1)")), "{c}");
    }
}

const MANIFEST: &str = "[project]\nname = \"conv\"\n[base]\nimage = \"debian:bookworm\"\n";

#[test]
fn global_options_go_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let manifest = project.join("envsync.toml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let m = manifest.to_str().unwrap();
    for args in [
        vec!["-m", m, "validate"],
        vec!["validate", "-m", m],
        vec!["-q", "--color", "never", "validate", "--manifest", m],
        vec!["validate", "-v", "--color=always", "-m", m],
    ] {
        let (code, stdout, stderr) = envsync(dir.path(), &args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("is valid"), "{args:?}: {stdout}");
    }
    // ENVSYNC_MANIFEST replaces discovery; `-m` wins over it.
    let (code, stdout, stderr) = util::run(
        util::envsync_command()
            .env("ENVSYNC_MANIFEST", m)
            .arg("validate")
            .current_dir(dir.path()),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("project/envsync.toml is valid"), "{stdout}");
    let (code, _, stderr) = util::run(
        util::envsync_command()
            .env("ENVSYNC_MANIFEST", m)
            .args(["validate", "-m", "elsewhere.toml"])
            .current_dir(dir.path()),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("manifest `elsewhere.toml` does not exist"),
        "{stderr}"
    );
    // -v logs on stderr; the log filter can come from ENVSYNC_LOG.
    let (_, _, stderr) = envsync(dir.path(), &["-v", "validate", "-m", m]);
    assert!(stderr.contains("manifest chosen"), "{stderr}");
    let (_, _, stderr) = util::run(
        util::envsync_command()
            .env("ENVSYNC_LOG", "envsync_cli=debug")
            .args(["validate", "-m", m])
            .current_dir(dir.path()),
    );
    assert!(stderr.contains("manifest chosen"), "{stderr}");
    let (code, _, stderr) = envsync(dir.path(), &["-q", "-v", "validate"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn every_reporting_command_takes_the_same_format_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("envsync.toml"), MANIFEST).unwrap();
    for format in ["table", "text"] {
        let (code, stdout, stderr) = envsync(dir.path(), &["validate", "--format", format]);
        assert_eq!(code, 0, "{format}: {stderr}");
        assert!(stdout.contains("is valid"), "{stdout}");
    }
    let (code, stdout, _) = envsync(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("\"schema\": \"envsync.validate/v1\""),
        "{stdout}"
    );
    // `text` is accepted but no longer offered.
    for command in [
        "validate",
        "build",
        "lock",
        "fetch",
        "up",
        "status",
        "down",
        "engine",
        "fingerprint",
        "audit",
        "history",
    ] {
        let (code, help, _) = envsync(dir.path(), &[command, "--help"]);
        assert_eq!(code, 0, "{command}");
        let format = help
            .lines()
            .skip_while(|l| !l.contains("--format"))
            .take_while(|l| !l.trim_start().starts_with("-o") && !l.contains("--output"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(format.contains("json"), "{command}: {format}");
        assert!(format.contains("table"), "{command}: {format}");
        assert!(!format.contains("text"), "{command}: {format}");
    }
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    let mut child = util::envsync_command()
        .args(["fingerprint", "local", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run envsync");
    // Read one byte, as `| head -c 1` does, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    stdout.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"{");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = util::text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn help_stands_alone_for_an_installed_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (_, top, _) = envsync(dir.path(), &["--help"]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(commands.len() >= 15, "{top}");
    for command in std::iter::once(None).chain(commands.iter().map(Some)) {
        let args: Vec<&str> = command
            .map(String::as_str)
            .into_iter()
            .chain(["--help"])
            .collect();
        let (_, help, _) = envsync(dir.path(), &args);
        for repository_path in ["manifests/", "README", "docs/", "benefits-api/"] {
            assert!(
                !help.contains(repository_path),
                "{args:?} names `{repository_path}`:\n{help}"
            );
        }
    }
}

/// As a user who is not root (root reads any file), so that permissions apply.
fn as_nobody(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    util::run(
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_envsync"),
            ])
            .args(args)
            .current_dir(dir),
    )
}

#[test]
fn errors_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    // No manifest at all is not "not valid: 1 problem".
    let (code, _, stderr) = envsync(path, &["validate"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no `envsync.toml` in this directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("not valid"), "{stderr}");

    // A port outside the range says the range.
    std::fs::write(
        path.join("envsync.toml"),
        format!("{MANIFEST}[services.redis]\nversion = \"7.0\"\nport = 70000\n"),
    )
    .unwrap();
    let (code, _, stderr) = envsync(path, &["validate"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("is `70000`, outside the port range 1 to 65535"),
        "{stderr}"
    );

    // Permission denied says permission denied, for the manifest and for the lock.
    std::fs::write(path.join("envsync.toml"), MANIFEST).unwrap();
    std::fs::write(path.join("envsync.lock"), "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        path.join("envsync.lock"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(
        path.join("envsync.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (code, _, stderr) = as_nobody(path, &["lock", "--check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read lock `envsync.lock`: permission denied"),
        "{stderr}"
    );
    assert!(!stderr.contains("create it"), "{stderr}");
    std::fs::set_permissions(
        path.join("envsync.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    for args in [&["validate"][..], &["status"], &["lock", "--check"]] {
        let (code, _, stderr) = as_nobody(path, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot read manifest `envsync.toml`: permission denied"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("not valid"), "{args:?}: {stderr}");
    }
}
