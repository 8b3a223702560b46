//! The POSIX `sh` collection script run inside containers (one `docker exec`) and on
//! servers (one `ssh ... sh -s`), and the parser of what it prints.
//!
//! Output format (`envsync-collect/2`), on stdout:
//!
//! ```text
//! envsync-collect/2\n
//! env0 <hex of `env -0`>\n      (or `envn <hex of env>` without `-0`, or `path <hex of $PATH>`)
//! present[ <rpm database path>]...\n
//! tar\n <tar stream of the selected files, links dereferenced>   (or `notar\n`: nothing to read)
//! envsync-end <tar's exit status>\n
//! ```
//!
//! or, after `present`, a line `envsync-error: <reason>`. On stderr, one line
//! `envsync-unread: <what>` for every file or directory the target's user cannot read
//! (`find`'s own messages about directories, and files that fail `test -r`).
//!
//! A collection counts only when the program exited 0, the tar stream ended with its
//! end-of-archive marker, and the `envsync-end 0` line follows it: anything less is
//! [`DriftError::Incomplete`], never a smaller inventory. The script writes nothing on
//! the target; it finds candidate files with `find` and leaves the exact selection to
//! [`Selector::classify`], the same rule every transport applies.

use envsync_engine::shell_quote;

use super::tarball::{read_tar, Budget};
use super::{parse_env, FileSet, Selector, FIXED_DIRS, FIXED_FILES, RPM_DATABASES};
use crate::error::DriftError;

/// The first line of every collection output.
pub const HEADER: &str = "envsync-collect/2";

/// The prefix of each stderr line naming something the target's user could not read.
pub const UNREAD: &str = "envsync-unread: ";

/// The line that closes a finished collection, followed by tar's exit status.
const END: &str = "envsync-end ";

/// Stops, then kills, every process whose command line holds `$ENVSYNC_RUN` and all
/// their descendants. The token comes through the environment, so the killer's own
/// command line never matches it. Needs only `/proc`, `tr` and `kill`.
pub const KILL_SCRIPT: &str = r#"tok="$ENVSYNC_RUN"
[ -n "$tok" ] || exit 0
pids=""
for d in /proc/[0-9]*; do
  c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
  case "$c" in *"$tok"*) pids="$pids ${d#/proc/}";; esac
done
[ -n "$pids" ] || exit 0
n=0
while [ "$n" -lt 50 ]; do
  kill -STOP $pids 2>/dev/null
  more=""
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case " $pids $more " in *" $p "*) continue;; esac
    s=$(cat "$d/stat" 2>/dev/null) || continue
    s=${s##*) }
    set -- $s
    case " $pids " in *" $2 "*) more="$more $p";; esac
  done
  [ -z "$more" ] && break
  pids="$pids $more"
  n=$((n + 1))
done
kill -KILL $pids 2>/dev/null
exit 0
"#;

/// A token unique to one collection run, given to its `sh` as an argument so that
/// [`KILL_SCRIPT`] can find the run's processes by their command line.
pub fn run_token() -> String {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("envsync-collect-{}-{nanos:x}-{run}", std::process::id())
}

/// A root for `find`: a quoted path, or an unquoted glob when it ends in `*` (the
/// built-in roots only; user paths are always quoted).
fn root_word(r: &str, builtin: bool) -> String {
    if builtin && r.ends_with('*') && !r.contains(['\'', ' ', '"', '$', '`', '\\']) {
        r.to_string()
    } else {
        shell_quote(r)
    }
}

/// The script's line after the header: the environment, or only `PATH` when the
/// environment is not wanted (it still says which interpreter the target runs).
fn env_part(want_env: bool) -> &'static str {
    if want_env {
        "if env -0 >/dev/null 2>&1; then printf 'env0 '; env -0 | od -An -v -tx1 | tr -d ' \\n'; \
         else printf 'envn '; env | od -An -v -tx1 | tr -d ' \\n'; fi"
    } else {
        "printf 'path '; printf '%s' \"$PATH\" | od -An -v -tx1 | tr -d ' \\n'"
    }
}

/// The collection script for `selector`; `want_env` adds the shell's environment.
pub fn collection_script(selector: &Selector, want_env: bool) -> String {
    let fixed: Vec<String> = FIXED_FILES.iter().map(|p| shell_quote(p)).collect();
    let dirs: Vec<String> = FIXED_DIRS.iter().map(|p| shell_quote(p)).collect();
    let rpm: Vec<String> = RPM_DATABASES.iter().map(|p| shell_quote(p)).collect();
    let builtin = super::SEARCH_ROOTS.len();
    let roots: Vec<String> = selector
        .search_roots()
        .iter()
        .enumerate()
        .map(|(i, r)| root_word(r, i < builtin))
        .collect();
    let homes: Vec<String> = super::HOME_ROOTS
        .iter()
        .map(|r| root_word(r, true))
        .collect();
    let files: Vec<String> = selector.files().iter().map(|p| shell_quote(p)).collect();
    let env_part = env_part(want_env);
    // `find`'s messages (directories it cannot enter) go to stderr with the `UNREAD`
    // prefix while the paths it prints go on through fd 3; files that exist but fail
    // `test -r` are reported the same way. Symbolic links are listed (and `tar -h`
    // archives their content) so a linked file is read as `image:` and `local:` read it.
    format!(
        r#"# envsync collection script ({HEADER}); reads only, writes nothing on the target.
export LC_ALL=C
printf '%s\n' '{HEADER}'
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
list=$(
  {{ {{
    for f in {fixed}; do if [ -e "$f" ]; then printf '%s\n' "$f"; fi; done
    for d in {dirs}; do if [ -d "$d" ]; then find "$d" -maxdepth 1 \( -type f -o -type l \); fi; done
    if [ "$#" -gt 0 ]; then
      find -H "$@" \( -type f -o -type l \) \( -name METADATA -o -name PKG-INFO -o -name '*.egg-info' -o -name package.json -o -name patchlevel.h -o -name node_version.h \)
    fi
    for h in {homes}; do if [ -d "$h" ]; then
      find -H "$h" -maxdepth {depth} \( -type f -o -type l \) \( -name METADATA -o -name PKG-INFO -o -name '*.egg-info' -o -name package.json -o -name patchlevel.h -o -name node_version.h \)
    fi; done
    for f in {files}; do if [ -e "$f" ]; then find -H "$f" \( -type f -o -type l \); fi; done
  }} 2>&1 1>&3 3>&- | sed 's/^/{UNREAD}/' >&2; }} 3>&1 </dev/null | sort -u | while IFS= read -r f; do
    if [ ! -f "$f" ]; then continue; fi
    if [ -r "$f" ]; then printf '%s\n' "$f"; else printf '{UNREAD}%s: Permission denied\n' "$f" >&2; fi
  done
)
if [ -n "$list" ]; then
  printf 'tar\n'
  printf '%s\n' "$list" | tar -c -h -f - -T -
  status=$?
else
  printf 'notar\n'
  status=0
fi
printf '{END}%s\n' "$status"
exit 0
"#,
        rpm = rpm.join(" "),
        roots = roots.join(" "),
        homes = homes.join(" "),
        depth = super::MAX_HOME_DEPTH,
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

fn incomplete(target: &str, what: impl Into<String>) -> DriftError {
    DriftError::Incomplete {
        target: target.to_string(),
        what: what.into(),
    }
}

fn line<'a>(data: &mut &'a [u8], target: &str) -> Result<&'a [u8], DriftError> {
    let nl = data
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| incomplete(target, "the output ended inside the header"))?;
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

/// The last non-empty line of `stderr`, for messages.
fn last_words(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with(UNREAD))
        .unwrap_or("")
        .trim();
    if last.is_empty() {
        "no error output".to_string()
    } else {
        format!("last error output `{last}`")
    }
}

/// What the script run by `program` printed and how it ended.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The exit code, `None` when it is unknown (killed by a signal, exec without one).
    pub code: Option<i64>,
    pub stdout: &'a [u8],
    pub stderr: &'a [u8],
}

/// Parse a finished run of the script. `Ok(None)` means the script ran but the target
/// lacks `tar` or `find` (the caller may fall back to another way of reading files).
/// A run that did not finish (non-zero exit, output cut anywhere, tar failing) is
/// [`DriftError::Incomplete`], naming what was cut.
pub fn parse_output(
    target: &str,
    run: Run<'_>,
    selector: &Selector,
    limit: u64,
) -> Result<Option<FileSet>, DriftError> {
    let mut rest = run.stdout;
    check_start(target, run, &mut rest)?;
    let env_line = line(&mut rest, target)?;
    let env = env_of(target, env_line)?;
    let path_var = match (&env, env_line.strip_prefix(b"path ")) {
        (Some(env), _) => super::path_of(env),
        (None, Some(hex)) => Some(
            String::from_utf8_lossy(
                &unhex(hex).ok_or_else(|| malformed(target, "the `PATH` is not hex"))?,
            )
            .into_owned(),
        ),
        (None, None) => None,
    };
    let rpm_databases = present_of(target, line(&mut rest, target)?)?;
    if rest.starts_with(b"envsync-error:") {
        return Ok(None);
    }
    let mut files = FileSet {
        env,
        path_var,
        rpm_databases,
        ..FileSet::default()
    };
    read_files(target, &mut rest, selector, limit, &mut files)?;
    check_end(target, run, rest)?;
    files.unreadable = unread_lines(run.stderr);
    Ok(Some(files))
}

/// The header line, then the exit status: output that is not the script's is
/// malformed, a script that did not exit 0 did not finish.
fn check_start(target: &str, run: Run<'_>, rest: &mut &[u8]) -> Result<(), DriftError> {
    let first = line(rest, target)?;
    if first != HEADER.as_bytes() {
        let shown = String::from_utf8_lossy(&first[..first.len().min(200)]).into_owned();
        return Err(malformed(
            target,
            format!("expected `{HEADER}`, got `{shown}`"),
        ));
    }
    if run.code != Some(0) {
        return Err(incomplete(
            target,
            format!(
                "the collection script ended with exit status {} after {} bytes of output ({})",
                run.code.map_or("unknown".to_string(), |c| c.to_string()),
                run.stdout.len(),
                last_words(run.stderr)
            ),
        ));
    }
    Ok(())
}

/// Environment variables as [`FileSet::env`] holds them.
type EnvVars = Vec<(String, Vec<u8>)>;

/// The environment line: `env0 HEX` (NUL-separated), `envn HEX` (newline-separated),
/// or anything else (`none`) for no environment.
fn env_of(target: &str, env_line: &[u8]) -> Result<Option<EnvVars>, DriftError> {
    let sep = match env_line.get(..5) {
        Some(b"env0 ") => 0u8,
        Some(b"envn ") => b'\n',
        _ => return Ok(None),
    };
    let bytes =
        unhex(&env_line[5..]).ok_or_else(|| malformed(target, "the environment is not hex"))?;
    Ok(Some(parse_env(&bytes, sep)))
}

/// The RPM databases the `present` line names.
fn present_of(target: &str, present: &[u8]) -> Result<Vec<String>, DriftError> {
    let present = String::from_utf8_lossy(present);
    let mut words = present.split(' ');
    if words.next() != Some("present") {
        return Err(malformed(target, "the `present` line is missing"));
    }
    Ok(words
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect())
}

/// The `tar` line and its stream into `files` (or `notar`: nothing to read), leaving
/// `rest` just after the stream's end-of-archive marker.
fn read_files(
    target: &str,
    rest: &mut &[u8],
    selector: &Selector,
    limit: u64,
    files: &mut FileSet,
) -> Result<(), DriftError> {
    match line(rest, target)? {
        b"tar" => {
            let mut budget = Budget::new(target, limit);
            let contents = read_tar(*rest, selector, &mut budget, false)?;
            // `consumed` counts bytes of `rest`, so it fits in usize.
            *rest = rest.get(contents.consumed as usize..).unwrap_or_default();
            files.warnings = contents.warnings;
            for (path, entry) in contents.entries {
                if let super::Entry::File { data, .. } = &entry {
                    files.total += data.len() as u64;
                }
                files.entries.insert(path, entry);
            }
            Ok(())
        }
        b"notar" => Ok(()),
        other => {
            let shown = String::from_utf8_lossy(&other[..other.len().min(200)]).into_owned();
            Err(malformed(
                target,
                format!("expected `tar` or `notar`, got `{shown}`"),
            ))
        }
    }
}

/// The `envsync-end` line after the stream: it must be there, and say tar exited 0.
fn check_end(target: &str, run: Run<'_>, mut rest: &[u8]) -> Result<(), DriftError> {
    // GNU tar pads its output to a whole record with zero bytes.
    let pad = rest.iter().take_while(|b| **b == 0).count();
    rest = &rest[pad..];
    let end = line(&mut rest, target).map_err(|_| {
        incomplete(
            target,
            "the output ended after the tar stream, before `envsync-end`",
        )
    })?;
    let status = end
        .strip_prefix(END.as_bytes())
        .ok_or_else(|| malformed(target, "no `envsync-end` line after the tar stream"))?;
    if status != b"0" {
        return Err(incomplete(
            target,
            format!(
                "`tar` exited with status {} ({})",
                String::from_utf8_lossy(status),
                last_words(run.stderr)
            ),
        ));
    }
    Ok(())
}

/// The `envsync-unread:` lines of the script's stderr, without the prefix.
fn unread_lines(stderr: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stderr);
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix(UNREAD))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::tarball::tests::tar_of;
    use crate::collect::CollectOptions;

    fn output(env: &str, present: &str, tar: &[u8]) -> Vec<u8> {
        let mut out = format!("{HEADER}\n{env}\n{present}\ntar\n").into_bytes();
        out.extend_from_slice(tar);
        out.extend_from_slice(b"envsync-end 0\n");
        out
    }

    fn ok(stdout: &[u8]) -> Run<'_> {
        Run {
            code: Some(0),
            stdout,
            stderr: b"",
        }
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
        let files = parse_output("t", ok(&out), &sel, 1 << 20)
            .expect("parse")
            .expect("files");
        assert_eq!(files.env.as_ref().map(Vec::len), Some(2));
        assert_eq!(files.rpm_databases, ["/var/lib/rpm/rpmdb.sqlite"]);
        assert_eq!(
            files.entries.keys().collect::<Vec<_>>(),
            ["/var/lib/dpkg/status"]
        );
        assert!(files.unreadable.is_empty());
    }

    #[test]
    fn rejects_garbage() {
        let sel = Selector::new(&CollectOptions::default());
        for bad in [
            &b""[..],
            b"sh: not found\n",
            b"envsync-collect/2\n",
            b"envsync-collect/2\nenv0 zz\npresent\n",
            b"envsync-collect/1\nnone\npresent\n",
        ] {
            let err = parse_output("ssh://h", ok(bad), &sel, 1 << 20).expect_err("garbage");
            assert!(err.to_string().contains("ssh://h"), "{err}");
        }
        let mut no_tar = format!("{HEADER}\nnone\npresent\n").into_bytes();
        no_tar.extend_from_slice(b"envsync-error: no tar\n");
        assert!(parse_output("t", ok(&no_tar), &sel, 1 << 20)
            .expect("ok")
            .is_none());
    }

    /// Every way a run can stop short is an error naming the target, never fewer files.
    #[test]
    fn cut_runs_are_incomplete() {
        let sel = Selector::new(&CollectOptions::default());
        let tar = tar_of(&[
            ("var/lib/dpkg/status", b"Package: a\n"),
            ("etc/os-release", b"ID=debian\n"),
        ]);
        let full = output("none", "present", &tar);
        assert!(parse_output("docker:c", ok(&full), &sel, 1 << 20).is_ok());
        let tar_start = format!("{HEADER}\nnone\npresent\ntar\n").len();
        // Cut at an entry boundary (after the first entry's header and 512-byte data
        // block), inside the end-of-archive marker, after the marker, before the end line.
        let boundary = tar_start + 1024;
        let cuts = [
            (boundary, "end-of-archive marker"),
            (tar_start + tar.len() - 512, "end-of-archive marker"),
            (tar_start + tar.len(), "envsync-end"),
            (tar_start, "end-of-archive marker"),
        ];
        for (at, expected) in cuts {
            let err = parse_output("docker:c", ok(&full[..at]), &sel, 1 << 20)
                .expect_err("a cut stream is an error");
            assert!(matches!(err, DriftError::Incomplete { .. }), "{at}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("docker:c") && text.contains(expected),
                "{at}: {text}"
            );
        }
        // The program's own exit status and tar's status count too.
        for code in [Some(137), Some(1), None] {
            let run = Run {
                code,
                stdout: &full,
                stderr: b"Error: container stopped\n",
            };
            let err = parse_output("docker:c", run, &sel, 1 << 20).expect_err("exit status");
            assert!(
                matches!(err, DriftError::Incomplete { .. })
                    && err.to_string().contains("container stopped"),
                "{err}"
            );
        }
        let mut bad_tar = full.clone();
        bad_tar.truncate(full.len() - b"0\n".len());
        bad_tar.extend_from_slice(b"2\n");
        let err = parse_output("t", ok(&bad_tar), &sel, 1 << 20).expect_err("tar failed");
        assert!(err.to_string().contains("status 2"), "{err}");
    }

    #[test]
    fn unreadable_paths_are_kept() {
        let sel = Selector::new(&CollectOptions::default());
        let out = output("none", "present", &tar_of(&[]));
        let run = Run {
            code: Some(0),
            stdout: &out,
            stderr: b"tar: Removing leading `/' from member names\n\
                      envsync-unread: /var/lib/dpkg/status: Permission denied\n\
                      envsync-unread: find: '/opt/x.dist-info': Permission denied\n",
        };
        let files = parse_output("t", run, &sel, 1 << 20)
            .expect("parse")
            .expect("files");
        assert_eq!(
            files.unreadable,
            [
                "/var/lib/dpkg/status: Permission denied",
                "find: '/opt/x.dist-info': Permission denied"
            ]
        );
    }

    #[test]
    fn user_paths_are_quoted_in_the_script() {
        let opts = CollectOptions {
            files: vec!["/etc/a b;rm -rf x".into()],
            ..CollectOptions::default()
        };
        let script = collection_script(&Selector::new(&opts), true);
        assert!(script.contains("'/etc/a b;rm -rf x'"));
    }

    fn run_script(sel: &Selector) -> std::process::Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(collection_script(sel, true))
            .output()
            .expect("sh runs")
    }

    /// Run the script as an unprivileged user (`nobody` through `setpriv` when the test
    /// runs as root, who reads everything whatever the mode).
    fn run_script_unprivileged(sel: &Selector) -> std::process::Output {
        let uid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .expect("id runs");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return run_script(sel);
        }
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
            ])
            .arg(collection_script(sel, true))
            .output()
            .expect("setpriv (util-linux) runs the script as nobody")
    }

    #[test]
    fn script_runs_against_a_fake_root_layout() {
        // The script itself, run by the machine's sh: it must produce a parsable stream
        // even where none of the searched paths exist.
        let sel = Selector::new(&CollectOptions::default());
        let out = run_script(&sel);
        let run = Run {
            code: out.status.code().map(i64::from),
            stdout: &out.stdout,
            stderr: &out.stderr,
        };
        let files = parse_output("local", run, &sel, 1 << 30)
            .expect("parse")
            .expect("files");
        assert!(files.env.is_some());
        assert!(
            files.entries.contains_key("/etc/os-release")
                || files.entries.contains_key("/usr/lib/os-release")
        );
    }

    /// Without the environment, the script still reports the shell's `PATH` (what ssh
    /// targets use to say which interpreter is on it), byte for byte.
    #[test]
    fn script_reports_path_without_the_environment() {
        let sel = Selector::new(&CollectOptions::default());
        let path = "/opt/x y/bin:/root/.pyenv/versions/3.11.7/bin:/usr/bin:/bin";
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(collection_script(&sel, false))
            .env("PATH", path)
            .output()
            .expect("sh runs");
        let run = Run {
            code: out.status.code().map(i64::from),
            stdout: &out.stdout,
            stderr: &out.stderr,
        };
        let files = parse_output("local", run, &sel, 1 << 30)
            .expect("parse")
            .expect("files");
        assert_eq!(files.env, None);
        assert_eq!(files.path_var.as_deref(), Some(path));
    }

    /// Named files the user cannot read, and directories it cannot enter, come back as
    /// `envsync-unread` lines naming each path; symlinked files come back with content.
    #[test]
    fn script_reports_what_it_cannot_read() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("conf");
        std::fs::create_dir_all(dir.join("closed")).expect("mkdir");
        std::fs::write(dir.join("open.ini"), "a").expect("write");
        std::fs::write(dir.join("secret.ini"), "b").expect("write");
        std::fs::write(dir.join("closed/x.ini"), "c").expect("write");
        symlink(dir.join("open.ini"), dir.join("link.ini")).expect("symlink");
        let mode = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
        };
        mode(tmp.path(), 0o755);
        mode(&dir.join("secret.ini"), 0o000);
        mode(&dir.join("closed"), 0o000);
        let name = dir.display().to_string();
        let opts = CollectOptions {
            files: vec![name.clone()],
            ..CollectOptions::default()
        };
        let sel = Selector::new(&opts);
        let out = run_script_unprivileged(&sel);
        mode(&dir.join("closed"), 0o755);
        let run = Run {
            code: out.status.code().map(i64::from),
            stdout: &out.stdout,
            stderr: &out.stderr,
        };
        let files = parse_output("local", run, &sel, 1 << 30)
            .expect("parse")
            .expect("files");
        assert_eq!(
            files.entries.get(&format!("{name}/link.ini")),
            files.entries.get(&format!("{name}/open.ini")),
            "a symlinked file is read as its content"
        );
        assert!(files.entries.contains_key(&format!("{name}/link.ini")));
        // The machine may hold unreadable directories of its own under the search roots.
        let ours: Vec<&String> = files
            .unreadable
            .iter()
            .filter(|u| u.contains(&name))
            .collect();
        assert_eq!(ours.len(), 2, "{:?}", files.unreadable);
        for path in ["closed", "secret.ini"] {
            let path = format!("{name}/{path}");
            assert!(
                files.unreadable.iter().any(|u| u.contains(&path)),
                "{path} not in {:?}",
                files.unreadable
            );
        }
    }
}
