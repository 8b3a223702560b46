//! `ssh://` engines the way the docker CLI reaches them: each connection is
//! `ssh -o BatchMode=yes -o ConnectTimeout=10 [-F $ENVSYNC_SSH_CONFIG] [-l USER]
//! [-p PORT] -- HOST docker system dial-stdio`, and HTTP is spoken over its stdin and
//! stdout. The user's ssh (its configuration, keys, agent, known hosts and host-key
//! policy) does everything else; envsync forces no host-key option on it. BatchMode is
//! there because stdin is the HTTP stream: a password prompt could never be answered.
//! `ENVSYNC_SSH` and `ENVSYNC_SSH_CONFIG` mean what they mean for `ssh://` targets. A
//! `ControlMaster` in the user's ssh configuration makes the many short connections
//! cheap, as it does for the docker CLI.

use std::process::Stdio;
use std::sync::Arc;

use bollard::errors::Error as BollardError;
use bollard::{BollardRequest, Docker};
use hyper::body::Incoming;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt as _;

use crate::endpoint::SshDestination;

/// How many ssh connections may be starting (connecting, authenticating, waiting for
/// the response headers) at once. Commands send requests concurrently, and sshd drops
/// unauthenticated connections beyond its `MaxStartups` (10 by default); a started one
/// (a log stream, an attached exec) no longer counts.
static STARTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// A Docker client whose every request goes over its own `docker system dial-stdio`.
pub(crate) fn connect(
    dest: &SshDestination,
    host: &str,
    timeout_secs: u64,
) -> Result<Docker, BollardError> {
    let dest = Arc::new(dest.clone());
    let transport = move |request: BollardRequest| {
        let dest = Arc::clone(&dest);
        async move { request_over_ssh(&dest, request).await }
    };
    // The address only names the client in bollard's messages; the transport ignores it.
    Docker::connect_with_custom_transport(
        transport,
        Some(host),
        timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )
}

async fn request_over_ssh(
    dest: &SshDestination,
    request: BollardRequest,
) -> Result<Response<Incoming>, BollardError> {
    // Closed never: the semaphore is a static that nothing closes.
    let _starting = STARTING
        .acquire()
        .await
        .map_err(|_| io_error("ssh connection limiter closed".to_string()))?;
    let program = std::env::var("ENVSYNC_SSH")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "ssh".to_string());
    let mut command = tokio::process::Command::new(&program);
    command.args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]);
    if let Some(config) = std::env::var_os("ENVSYNC_SSH_CONFIG").filter(|c| !c.is_empty()) {
        command.arg("-F").arg(config);
    }
    let mut child = command
        .args(dest.ssh_args())
        .args(["docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| io_error(format!("cannot run `{program}`: {err}")))?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io_error("ssh started without its pipes".to_string()));
    };
    let io = TokioIo::new(tokio::io::join(stdout, stdin));
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(io).await {
        Ok(pair) => pair,
        Err(err) => return Err(ssh_failed(&mut child, &mut stderr, err.to_string()).await),
    };
    // The connection runs (with upgrades, for exec and attach) as long as the response
    // body or the upgraded stream is in use; ssh ends with it.
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
        let _ = child.kill().await;
    });
    let (mut parts, body) = request.into_parts();
    // dial-stdio hands the bytes to the engine's socket: an origin-form request with a
    // fixed Host, as the docker CLI sends over it.
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    parts.uri = path
        .parse()
        .map_err(|_| io_error(format!("bad request path `{path}`")))?;
    parts.headers.insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_static("docker"),
    );
    let request = hyper::Request::from_parts(parts, body);
    match sender.send_request(request).await {
        Ok(response) => Ok(response),
        Err(err) => {
            let mut said = String::new();
            let _ = stderr.read_to_string(&mut said).await;
            Err(io_error(format!(
                "ssh to `{}`: {err}{}",
                dest.host,
                stderr_suffix(&said)
            )))
        }
    }
}

/// The error for an ssh that ended before HTTP could start: its exit and what it said.
async fn ssh_failed(
    child: &mut tokio::process::Child,
    stderr: &mut tokio::process::ChildStderr,
    err: String,
) -> BollardError {
    let status = child.wait().await.ok();
    let mut said = String::new();
    let _ = stderr.read_to_string(&mut said).await;
    io_error(format!(
        "ssh ended ({}): {err}{}",
        status.map_or_else(|| "unknown status".to_string(), |s| s.to_string()),
        stderr_suffix(&said)
    ))
}

fn stderr_suffix(said: &str) -> String {
    let said = said.trim();
    if said.is_empty() {
        String::new()
    } else {
        format!("; ssh said: {said}")
    }
}

fn io_error(message: String) -> BollardError {
    BollardError::IOError {
        err: std::io::Error::other(message),
    }
}
