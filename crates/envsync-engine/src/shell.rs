//! Quoting for the POSIX `sh` command lines envsync has run in containers and on servers.

/// Quote `text` as one `sh` word: left bare when it holds only plainly safe characters
/// (ASCII letters and digits and `_-./:=+@%,`), else wrapped in single quotes, each `'`
/// written as `'\''`.
///
/// It lives here, beside the engine connection, because it is part of the contract for
/// running commands inside a Docker engine's containers: both `envsync-drift` (the
/// collection and kill scripts, run by `docker exec` and over `ssh`) and
/// `envsync-provisioner` (the Dockerfile's `RUN` lines) build such commands, this crate
/// is the one both already depend on for the engine, and they must not depend on each
/// other. `envsync-manifest`, their other shared dependency, is the pure model and runs
/// nothing.
///
/// Leaving safe words bare keeps the rendered Dockerfiles, and so the image tags that
/// hash them, what they were. The result is meant for an argument or a value after
/// `NAME=`: a bare word with `=` in a command's first position would be read as an
/// assignment.
pub fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | '+' | '@' | '%' | ',')
        });
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    fn check(input: &str, expected: &str) {
        assert_eq!(shell_quote(input), expected, "{input:?}");
    }

    #[test]
    fn safe_words_stay_bare_and_the_rest_is_quoted() {
        check("jq=1.6-2.1+deb12u3", "jq=1.6-2.1+deb12u3");
        check("/var/lib/dpkg/status", "/var/lib/dpkg/status");
        check("@types/node@20.11.5", "@types/node@20.11.5");
        check("x=1.0~rc1", "'x=1.0~rc1'");
        check("it's", r"'it'\''s'");
        check("a b", "'a b'");
        check("/usr/lib/python3*", "'/usr/lib/python3*'");
        check("é", "'é'");
        check("", "''");
    }

    /// What `sh` makes of the quoted word: `printf %s WORD` prints it back unchanged.
    fn round_trip(text: &str) {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(text)))
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{text:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), text, "{text:?}");
    }

    #[test]
    fn hostile_strings_reach_sh_as_one_unchanged_word() {
        for text in [
            "",
            "'",
            "''",
            "it's",
            r#""double" and 'single'"#,
            "$(echo pwned)",
            "`echo pwned`",
            "$HOME ${HOME} $0 $1 $@",
            "a\nb\n",
            "\n",
            "tab\tand  spaces ",
            r"back\slash\n\\",
            "; echo pwned && true || false | cat & wait",
            "> /tmp/x < /etc/passwd",
            "* ? [a-z] ~ ~root",
            "#not a comment",
            "!event",
            "-n",
            "%s %d %%",
            "x=1",
            "(sub) {group}",
            "é ü 漢字",
            "/usr/lib/python3/dist-packages",
        ] {
            round_trip(text);
        }
    }
}
