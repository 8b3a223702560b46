//! The one way the drift crate runs external programs (`ssh`): a time limit, bounded
//! output, stdin fed from memory, the child killed when abandoned, and errors that
//! name the program.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::error::DriftError;

/// What a finished program printed and how it ended.
#[derive(Debug)]
pub struct Output {
    /// The exit code, `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// At most 64 KiB of stderr.
    pub stderr: Vec<u8>,
}

const MAX_STDERR: u64 = 64 * 1024;

/// Run `program args...` with `stdin` as its input; give up after `timeout` or when
/// stdout exceeds `max_stdout` bytes (`target` names the target in that error).
pub async fn run(
    program: &str,
    args: &[String],
    stdin: &[u8],
    timeout: Duration,
    max_stdout: u64,
    target: &str,
) -> Result<Output, DriftError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DriftError::Command {
            program: program.to_string(),
            message: e.to_string(),
        })?;
    let mut child_stdin = child.stdin.take();
    let child_stdout = child.stdout.take();
    let child_stderr = child.stderr.take();
    let input = stdin.to_vec();
    let work = async move {
        let feed = async {
            if let Some(mut s) = child_stdin.take() {
                // The program may exit without reading all of its input; that is its business.
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
        };
        let read_out = async {
            let mut buf = Vec::new();
            if let Some(out) = child_stdout {
                out.take(max_stdout + 1).read_to_end(&mut buf).await?;
            }
            Ok::<_, std::io::Error>(buf)
        };
        let read_err = async {
            let mut buf = Vec::new();
            if let Some(err) = child_stderr {
                err.take(MAX_STDERR).read_to_end(&mut buf).await?;
            }
            Ok::<_, std::io::Error>(buf)
        };
        let ((), out, err) = tokio::join!(feed, read_out, read_err);
        let io = |e: std::io::Error| DriftError::Command {
            program: program.to_string(),
            message: e.to_string(),
        };
        let (stdout, stderr) = (out.map_err(io)?, err.map_err(io)?);
        if stdout.len() as u64 > max_stdout {
            return Err(DriftError::TooLarge {
                target: target.to_string(),
                limit: max_stdout,
            });
        }
        let status = child.wait().await.map_err(io)?;
        Ok(Output {
            code: status.code(),
            stdout,
            stderr,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(DriftError::CommandTimeout {
            program: program.to_string(),
            after: timeout,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["-c".into(), script.into()]
    }

    #[tokio::test]
    async fn runs_and_bounds() {
        let out = run(
            "sh",
            &sh("cat; echo err >&2; exit 3"),
            b"in",
            Duration::from_secs(10),
            100,
            "t",
        )
        .await
        .expect("runs");
        assert_eq!(
            (out.code, out.stdout.as_slice(), out.stderr.as_slice()),
            (Some(3), &b"in"[..], &b"err\n"[..])
        );
        let err = run(
            "sh",
            &sh("head -c 1000 /dev/zero"),
            b"",
            Duration::from_secs(10),
            100,
            "ssh://x",
        )
        .await
        .expect_err("too big");
        assert!(err.to_string().contains("ssh://x"), "{err}");
        let err = run(
            "sh",
            &sh("sleep 5"),
            b"",
            Duration::from_millis(200),
            100,
            "t",
        )
        .await
        .expect_err("timeout");
        assert!(matches!(err, DriftError::CommandTimeout { .. }), "{err}");
        let err = run(
            "/nonexistent/program",
            &[],
            b"",
            Duration::from_secs(1),
            100,
            "t",
        )
        .await
        .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/program"));
    }
}
