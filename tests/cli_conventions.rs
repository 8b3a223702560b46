//! Command-line conventions users expect of an installed tool: shell completions that
//! the shell itself loads and answers with, and man pages for every command.

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
