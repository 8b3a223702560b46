//! The POSIX `sh` collection script run inside containers (one `docker exec`) and on
//! servers (one `ssh ... sh -s`), and the parser of what it prints.
//!
//! Output format (`envsync-collect/1`):
//!
//! ```text
//! envsync-collect/1\n
//! env0 <hex of `env -0`>\n      (or `envn <hex of env>` without `-0`, or `none`)
//! present[ <rpm database path>]...\n
//! <tar stream of the selected files, symlinks dereferenced>
//! ```
//!
//! or, instead of the tar stream, a line `envsync-error: <reason>`. The script writes
//! nothing on the target; it finds candidate files with `find` and leaves the exact
//! selection to [`Selector::classify`], the same rule every transport applies.

use super::tarball::{read_tar, Budget};
use super::{parse_env, FileSet, Selector, FIXED_DIRS, FIXED_FILES, RPM_DATABASES};
use crate::error::DriftError;

/// The first line of every collection output.
pub const HEADER: &str = "envsync-collect/1";

/// Quote a string for POSIX sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A root for `find`: a quoted path, or an unquoted glob when it ends in `*` (the
/// built-in roots only; user paths are always quoted).
fn root_word(r: &str, builtin: bool) -> String {
    if builtin && r.ends_with('*') && !r.contains(['\'', ' ', '"', '$', '`', '\\']) {
        r.to_string()
    } else {
        sh_quote(r)
    }
}

/// The collection script for `selector`; `want_env` adds the shell's environment.
pub fn collection_script(selector: &Selector, want_env: bool) -> String {
    let fixed: Vec<String> = FIXED_FILES.iter().map(|p| sh_quote(p)).collect();
    let dirs: Vec<String> = FIXED_DIRS.iter().map(|p| sh_quote(p)).collect();
    let rpm: Vec<String> = RPM_DATABASES.iter().map(|p| sh_quote(p)).collect();
    let builtin = super::SEARCH_ROOTS.len();
    let roots: Vec<String> = selector
        .search_roots()
        .iter()
        .enumerate()
        .map(|(i, r)| root_word(r, i < builtin))
        .collect();
    let files: Vec<String> = selector.files().iter().map(|p| sh_quote(p)).collect();
    let env_part = if want_env {
        "if env -0 >/dev/null 2>&1; then printf 'env0 '; env -0 | od -An -v -tx1 | tr -d ' \\n'; \
         else printf 'envn '; env | od -An -v -tx1 | tr -d ' \\n'; fi"
    } else {
        "printf 'none'"
    };
    format!(
        r#"# envsync collection script ({HEADER}); reads only, writes nothing on the target.
export LC_ALL=C
printf '{HEADER}\n'
{env_part}
printf '\n'
printf 'present'
for f in {rpm}; do if [ -e "$f" ]; then printf ' %s' "$f"; fi; done
printf '\n'
if ! command -v tar >/dev/null 2>&1 || ! command -v find >/dev/null 2>&1; then
  printf 'envsync-error: the target has no `tar` or no `find`\n'
  exit 0
fi
set --
for r in {roots}; do if [ -d "$r" ]; then set -- "$@" "$r"; fi; done
{{
  for f in {fixed}; do if [ -f "$f" ]; then printf '%s\n' "$f"; fi; done
  for d in {dirs}; do if [ -d "$d" ]; then find "$d" -maxdepth 1 -type f 2>/dev/null; fi; done
  if [ "$#" -gt 0 ]; then
    find -H "$@" -type f \( -name METADATA -o -name PKG-INFO -o -name '*.egg-info' -o -name package.json -o -name patchlevel.h \) 2>/dev/null
  fi
  for f in {files}; do if [ -e "$f" ]; then find -H "$f" -type f 2>/dev/null; fi; done
}} </dev/null | sort -u | tar -c -h -f - -T - 2>/dev/null
exit 0
"#,
        rpm = rpm.join(" "),
        roots = roots.join(" "),
        fixed = fixed.join(" "),
        dirs = dirs.join(" "),
        files = if files.is_empty() {
            "''".to_string()
        } else {
            files.join(" ")
        },
    )
}

fn malformed(target: &str, message: impl Into<String>) -> DriftError {
    DriftError::Malformed {
        target: target.to_string(),
        message: message.into(),
    }
}

fn line<'a>(data: &mut &'a [u8], target: &str) -> Result<&'a [u8], DriftError> {
    let nl = data
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| malformed(target, "the output ended inside the header"))?;
    let (l, rest) = data.split_at(nl);
    *data = &rest[1..];
    Ok(l)
}

fn unhex(hex: &[u8]) -> Option<Vec<u8>> {
    if hex.len() & 1 == 1 {
        return None;
    }
    hex.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Parse the script's output. `Ok(None)` means the script ran but the target lacks
/// `tar` or `find` (the caller may fall back to another way of reading files).
pub fn parse_output(
    target: &str,
    output: &[u8],
    selector: &Selector,
    limit: u64,
) -> Result<Option<FileSet>, DriftError> {
    let mut rest = output;
    let first = line(&mut rest, target)?;
    if first != HEADER.as_bytes() {
        let shown = String::from_utf8_lossy(&first[..first.len().min(200)]).into_owned();
        return Err(malformed(
            target,
            format!("expected `{HEADER}`, got `{shown}`"),
        ));
    }
    let mut files = FileSet::default();
    let env_line = line(&mut rest, target)?;
    let sep = match env_line.get(..5) {
        Some(b"env0 ") => Some(0u8),
        Some(b"envn ") => Some(b'\n'),
        _ => None,
    };
    if let Some(sep) = sep {
        let bytes =
            unhex(&env_line[5..]).ok_or_else(|| malformed(target, "the environment is not hex"))?;
        files.env = Some(parse_env(&bytes, sep));
    }
    let present = line(&mut rest, target)?;
    let present = String::from_utf8_lossy(present);
    let mut words = present.split(' ');
    if words.next() != Some("present") {
        return Err(malformed(target, "the `present` line is missing"));
    }
    files.rpm_databases = words
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if rest.starts_with(b"envsync-error:") {
        return Ok(None);
    }
    let mut budget = Budget::new(target, limit);
    let contents = read_tar(rest, selector, &mut budget, false)?;
    files.warnings = contents.warnings;
    for (path, entry) in contents.entries {
        if let super::Entry::File { data, .. } = &entry {
            files.total += data.len() as u64;
        }
        files.entries.insert(path, entry);
    }
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::tarball::tests::tar_of;
    use crate::collect::CollectOptions;

    fn output(env: &str, present: &str, tar: &[u8]) -> Vec<u8> {
        let mut out = format!("{HEADER}\n{env}\n{present}\n").into_bytes();
        out.extend_from_slice(tar);
        out
    }

    #[test]
    fn parses_env_presence_and_files() {
        let sel = Selector::new(&CollectOptions::default());
        let tar = tar_of(&[
            ("var/lib/dpkg/status", b"Package: a\n"),
            ("etc/shadow", b"secret"),
        ]);
        // "A=1\0B=2\0" in hex.
        let out = output(
            "env0 413d3100423d3200",
            "present /var/lib/rpm/rpmdb.sqlite",
            &tar,
        );
        let files = parse_output("t", &out, &sel, 1 << 20)
            .expect("parse")
            .expect("files");
        assert_eq!(files.env.as_ref().map(Vec::len), Some(2));
        assert_eq!(files.rpm_databases, ["/var/lib/rpm/rpmdb.sqlite"]);
        assert_eq!(
            files.entries.keys().collect::<Vec<_>>(),
            ["/var/lib/dpkg/status"]
        );
    }

    #[test]
    fn rejects_garbage() {
        let sel = Selector::new(&CollectOptions::default());
        for bad in [
            &b""[..],
            b"sh: not found\n",
            b"envsync-collect/1\n",
            b"envsync-collect/1\nenv0 zz\npresent\n",
        ] {
            let err = parse_output("ssh://h", bad, &sel, 1 << 20).expect_err("garbage");
            assert!(err.to_string().contains("ssh://h"), "{err}");
        }
        let no_tar = output("none", "present", b"envsync-error: no tar\n");
        assert!(parse_output("t", &no_tar, &sel, 1 << 20)
            .expect("ok")
            .is_none());
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        let opts = CollectOptions {
            files: vec!["/etc/a b;rm -rf x".into()],
            ..CollectOptions::default()
        };
        let script = collection_script(&Selector::new(&opts), true);
        assert!(script.contains("'/etc/a b;rm -rf x'"));
    }

    #[test]
    fn script_runs_against_a_fake_root_layout() {
        // The script itself, run by the machine's sh: it must produce a parsable stream
        // even where none of the searched paths exist.
        let sel = Selector::new(&CollectOptions::default());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(collection_script(&sel, true))
            .output()
            .expect("sh runs");
        let files = parse_output("local", &out.stdout, &sel, 1 << 30)
            .expect("parse")
            .expect("files");
        assert!(files.env.is_some());
        assert!(
            files.entries.contains_key("/etc/os-release")
                || files.entries.contains_key("/usr/lib/os-release")
        );
    }
}
