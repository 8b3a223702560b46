//! Collection from a server over SSH: ONE call of the system `ssh` with the user's own
//! configuration, keys and known hosts, the collection script on its stdin.
//!
//! `ssh -o BatchMode=yes -o ConnectTimeout=10 [-F $ENVSYNC_SSH_CONFIG] [-p PORT] -- [USER@]HOST sh -s`;
//! the destination was checked by `envsync_manifest::destination` when the target was parsed.
//! `ENVSYNC_SSH` names another ssh program; `ENVSYNC_SSH_CONFIG` an ssh config file
//! (passed as `-F`), for when the default `~/.ssh/config` is not the one to use.
//! `ENVSYNC_SSH_OPTIONS` adds `-o` options (whitespace-separated `Key=value`), e.g.
//! connection reuse: `ControlMaster=auto ControlPath=~/.ssh/cm-%C ControlPersist=60s`.
//!
//! A connection refused (sshd restarting, a container still starting) is tried once
//! more after [`RETRY_DELAY`]; any other failure is reported at once.

use std::time::Duration;

use envsync_engine::shell_quote;

use crate::collect::command;
use crate::collect::script::{collection_script, parse_output, run_token, Run, KILL_SCRIPT};
use crate::collect::{CollectOptions, FileSet, Selector};
use crate::error::DriftError;

/// The ssh command line (program, arguments) for a destination.
pub fn ssh_command(user: Option<&str>, host: &str, port: Option<u16>) -> (String, Vec<String>) {
    let program = std::env::var("ENVSYNC_SSH")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "ssh".to_string());
    let mut args: Vec<String> = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if let Ok(options) = std::env::var("ENVSYNC_SSH_OPTIONS") {
        for option in options.split_whitespace() {
            args.push("-o".into());
            args.push(option.to_string());
        }
    }
    if let Some(config) = std::env::var("ENVSYNC_SSH_CONFIG")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        args.push("-F".into());
        args.push(config);
    }
    if let Some(p) = port {
        args.push("-p".into());
        args.push(p.to_string());
    }
    // `--` ends options, so a host can never be read as one.
    args.push("--".into());
    args.push(match user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_string(),
    });
    args.push("sh".into());
    args.push("-s".into());
    (program, args)
}

/// How long ssh may take to connect, in whole seconds: 10, or less when the whole
/// collection must end sooner (`--timeout 3s` gives 3), never under 1.
fn connect_timeout_secs(timeout: Duration) -> u64 {
    timeout.as_secs().clamp(1, 10)
}

/// Lower `ssh_command`'s `ConnectTimeout=10` in `args` to what `timeout` leaves.
fn bound_connect_timeout(args: &mut [String], timeout: Duration) {
    if let Some(arg) = args.iter_mut().find(|a| a.starts_with("ConnectTimeout=")) {
        *arg = format!("ConnectTimeout={}", connect_timeout_secs(timeout));
    }
}

/// Collect from `ssh://[user@]host[:port]` (`target` is that text, for messages).
pub async fn collect_ssh(
    target: &str,
    user: Option<&str>,
    host: &str,
    port: Option<u16>,
    opts: &CollectOptions,
) -> Result<FileSet, DriftError> {
    let (program, mut args) = ssh_command(user, host, port);
    bound_connect_timeout(&mut args, opts.timeout);
    // `sh -s TOKEN`: the token names this run's remote processes (see `KILL_SCRIPT`).
    let guard = RemoteKill {
        program: program.clone(),
        args: args.clone(),
        token: run_token(),
        armed: true,
    };
    args.push(guard.token.clone());
    let files = collect_retrying(target, &program, &args, opts).await;
    // Finished or failed on its own: the remote script ended too (or the server is
    // unreachable, where a second connection would not help either). But a run that
    // hit its own time limit only killed the local `ssh`: the guard stays armed and
    // ends the remote side as an abandoned run's.
    let timed_out = matches!(
        files,
        Err(DriftError::CommandTimeout { .. } | DriftError::Timeout { .. })
    );
    let mut guard = guard;
    guard.armed = timed_out;
    drop(guard);
    files
}

/// Ends one collection's processes on the server when dropped armed (the collection was
/// abandoned: time limit, Ctrl-C). Killing the local `ssh` closes the connection, but
/// sshd sends no SIGHUP to a session without a terminal, and `find` keeps running until
/// it next writes. So one more `ssh … sh -s` runs `KILL_SCRIPT` for the run's token. It
/// is started detached and not waited for: it outlives envsync if envsync is exiting.
#[derive(Debug)]
struct RemoteKill {
    program: String,
    args: Vec<String>,
    token: String,
    armed: bool,
}

impl Drop for RemoteKill {
    fn drop(&mut self) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        if !self.armed {
            return;
        }
        let script = format!("ENVSYNC_RUN={}\n{KILL_SCRIPT}", shell_quote(&self.token));
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            // The script is far smaller than a pipe's buffer: this write does not block.
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(script.as_bytes());
            }
        }
    }
}

/// Judge a finished run of the collection script through `program` (ssh, or the
/// program tests put in its place): an ssh failure, a run that did not finish or
/// output that is cut is an error, never a smaller inventory.
fn finish(
    target: &str,
    out: &command::Output,
    selector: &Selector,
    opts: &CollectOptions,
) -> Result<FileSet, DriftError> {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.code == Some(255) || out.stdout.is_empty() {
        return Err(DriftError::Ssh {
            target: target.to_string(),
            code: out.code.map_or("signal".to_string(), |c| c.to_string()),
            stderr: if stderr.is_empty() {
                "no output".to_string()
            } else {
                stderr
            },
        });
    }
    let run = Run {
        code: out.code.map(i64::from),
        stdout: &out.stdout,
        stderr: &out.stderr,
    };
    match parse_output(target, run, selector, opts.max_total_bytes)? {
        Some(files) => Ok(files),
        None => Err(DriftError::Malformed {
            target: target.to_string(),
            message: "the server has no `tar` or no `find`; install them to fingerprint it"
                .to_string(),
        }),
    }
}

/// How long to wait before the one retry of a refused connection.
pub const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Whether ssh failed because the server refused the connection.
fn refused(result: &Result<FileSet, DriftError>) -> bool {
    matches!(result, Err(DriftError::Ssh { stderr, .. }) if stderr.contains("Connection refused"))
}

/// [`collect_via`], tried once more after [`RETRY_DELAY`] when the connection was
/// refused; the second answer is the one reported.
pub async fn collect_retrying(
    target: &str,
    program: &str,
    args: &[String],
    opts: &CollectOptions,
) -> Result<FileSet, DriftError> {
    let first = collect_via(target, program, args, opts).await;
    if !refused(&first) {
        return first;
    }
    tokio::time::sleep(RETRY_DELAY).await;
    collect_via(target, program, args, opts).await
}

/// Collect through `program args...`, which runs the script it reads on stdin the way
/// `ssh HOST sh -s` does (the seam tests use to stand in for a server).
pub async fn collect_via(
    target: &str,
    program: &str,
    args: &[String],
    opts: &CollectOptions,
) -> Result<FileSet, DriftError> {
    let selector = Selector::new(opts);
    let script = collection_script(&selector, opts.wants_env());
    let out = command::run(
        program,
        args,
        script.as_bytes(),
        opts.timeout,
        opts.max_total_bytes,
        target,
    )
    .await?;
    finish(target, &out, &selector, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collect::inventory;

    /// A fake ssh: `sh -c WRAPPER`, where the wrapper runs the real script it reads on
    /// stdin with the machine's `sh` and then does something to its output.
    async fn through(wrapper: &str) -> Result<FileSet, DriftError> {
        let args = vec!["-c".to_string(), wrapper.to_string()];
        collect_via("ssh://fake", "sh", &args, &CollectOptions::default()).await
    }

    #[tokio::test]
    async fn a_whole_run_collects() {
        let files = through("sh -s").await.expect("collects");
        let snap = inventory("ssh://fake", &files, &CollectOptions::default(), None);
        assert!(snap.os.is_some(), "{:?}", snap.warnings);
    }

    /// What was seen: an ssh program that dies after the first lines gave exit 0 and an
    /// empty inventory. Every such run is now an error naming the target.
    #[tokio::test]
    async fn a_run_that_dies_early_is_an_error() {
        for wrapper in [
            // The first three lines (header, env, present), then a clean exit.
            "sh -s | head -n 3",
            // The same, then the exit status of a dropped connection.
            "sh -s | head -n 3; exit 1",
            // Cut inside the tar stream.
            "sh -s | head -c 3000",
            // The whole output, but the program is killed before it exits.
            "sh -s; kill -9 $$",
            // The whole output and a failing exit status.
            "sh -s; exit 3",
        ] {
            let err = through(wrapper).await.expect_err(wrapper);
            let text = err.to_string();
            assert!(
                matches!(err, DriftError::Incomplete { .. }) && text.contains("ssh://fake"),
                "{wrapper}: {text}"
            );
        }
    }

    /// A fake ssh that refuses `refusals` times (as OpenSSH says it, exit 255), then runs
    /// the script; returns the result and how many times it was started.
    async fn refusing(refusals: usize) -> (Result<FileSet, DriftError>, usize) {
        let dir = tempfile::tempdir().expect("tempdir");
        let count = dir.path().join("count");
        let wrapper = format!(
            "echo x >> '{c}'; if [ $(wc -l < '{c}') -le {refusals} ]; then echo 'ssh: connect to host h port 22: Connection refused' >&2; exit 255; fi; sh -s",
            c = count.display()
        );
        let args = vec!["-c".to_string(), wrapper];
        let result = collect_retrying("ssh://fake", "sh", &args, &CollectOptions::default()).await;
        let starts = std::fs::read_to_string(&count)
            .expect("count")
            .lines()
            .count();
        (result, starts)
    }

    #[tokio::test]
    async fn a_refused_connection_is_tried_once_more() {
        let (result, starts) = refusing(1).await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(starts, 2);
        let (result, starts) = refusing(5).await;
        let err = result.expect_err("refused twice");
        assert!(err.to_string().contains("Connection refused"), "{err}");
        assert_eq!(starts, 2, "one retry, not more");
    }

    #[test]
    fn a_short_timeout_shortens_the_connect_timeout() {
        for (timeout, expected) in [
            (Duration::from_secs(300), "ConnectTimeout=10"),
            (Duration::from_secs(10), "ConnectTimeout=10"),
            (Duration::from_secs(3), "ConnectTimeout=3"),
            (Duration::from_millis(500), "ConnectTimeout=1"),
        ] {
            let (_, mut args) = ssh_command(None, "prod", None);
            bound_connect_timeout(&mut args, timeout);
            let found: Vec<&String> = args
                .iter()
                .filter(|a| a.starts_with("ConnectTimeout="))
                .collect();
            assert_eq!(found, [expected], "{timeout:?}");
        }
    }

    #[test]
    fn command_line() {
        let (_, args) = ssh_command(Some("deploy"), "prod", Some(2222));
        let tail: Vec<&str> = args
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(String::as_str)
            .collect();
        assert_eq!(tail, ["2222", "--", "deploy@prod", "sh", "-s"]);
        assert!(args.contains(&"BatchMode=yes".to_string()));
    }

    /// OpenSSH stops reading options at `--`: it comes right before the destination,
    /// whatever the destination, and nothing after it starts with `-` but the remote
    /// command's own `-s`.
    #[test]
    fn options_end_before_the_destination() {
        for (user, host, port, destination) in [
            (None, "prod", None, "prod"),
            (Some("deploy"), "10.0.0.7", Some(22), "deploy@10.0.0.7"),
            (Some("root"), "::1", Some(2222), "root@::1"),
        ] {
            let (_, args) = ssh_command(user, host, port);
            let end = args.iter().position(|a| a == "--").expect("`--` is there");
            assert_eq!(args[end + 1..], [destination, "sh", "-s"]);
        }
    }
}
