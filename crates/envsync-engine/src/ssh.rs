//! `ssh://` engines the way the docker CLI reaches them: each connection is
//! `ssh -o BatchMode=yes -o ConnectTimeout=10 [-F $ENVSYNC_SSH_CONFIG] [-l USER]
//! [-p PORT] -- HOST docker system dial-stdio`, and HTTP is spoken over its stdin and
//! stdout. The user's ssh (its configuration, keys, agent, known hosts and host-key
//! policy) does everything else; envsync forces no host-key option on it. BatchMode is
//! there because stdin is the HTTP stream: a password prompt could never be answered.
//! `ENVSYNC_SSH` and `ENVSYNC_SSH_CONFIG` mean what they mean for `ssh://` targets.
//!
//! A connection whose response has been read is kept (HTTP/1 keep-alive, at most
//! [`IDLE_CONNECTIONS`] of them) and the next request goes over it, so a command pays
//! for one ssh handshake, not one per request; a kept connection that closed meanwhile
//! is dropped and the request goes over a new one. Connections taken over by an exec
//! or attach stream are never reused; ssh ends with them.

use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard::errors::Error as BollardError;
use bollard::{BollardRequest, Docker};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt as _;

use crate::endpoint::SshDestination;

/// How many ssh connections may be starting (connecting, authenticating, waiting for
/// the response headers) at once. Commands send requests concurrently, and sshd drops
/// unauthenticated connections beyond its `MaxStartups` (10 by default); a started one
/// (a log stream, an attached exec) no longer counts.
static STARTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// How many idle connections a client keeps for its next requests.
const IDLE_CONNECTIONS: usize = 4;

/// The body type of bollard's requests (bollard does not export its name).
trait HasBody {
    type Body;
}
impl<B> HasBody for hyper::Request<B> {
    type Body = B;
}
type Sender = SendRequest<<BollardRequest as HasBody>::Body>;

/// Idle connections of one client, ready for a request.
type Pool = Arc<Mutex<Vec<Sender>>>;

/// A Docker client whose requests go over `docker system dial-stdio`, reusing the
/// connections earlier requests have finished with.
pub(crate) fn connect(
    dest: &SshDestination,
    host: &str,
    timeout_secs: u64,
) -> Result<Docker, BollardError> {
    let dest = Arc::new(dest.clone());
    let pool: Pool = Arc::default();
    let transport = move |request: BollardRequest| {
        let dest = Arc::clone(&dest);
        let pool = Arc::clone(&pool);
        async move { request_over_ssh(&dest, &pool, request).await }
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
    pool: &Pool,
    request: BollardRequest,
) -> Result<Response<Incoming>, BollardError> {
    let mut request = origin_form(request)?;
    while let Some(mut sender) = take_idle(pool) {
        match sender.try_send_request(request).await {
            Ok(response) => {
                keep_when_done(pool, sender);
                return Ok(response);
            }
            Err(mut err) => match err.take_message() {
                // Not sent: the connection had closed. Another one takes it.
                Some(unsent) => request = unsent,
                None => {
                    return Err(io_error(format!(
                        "ssh to `{}`: {}",
                        dest.host,
                        err.into_error()
                    )))
                }
            },
        }
    }
    // Closed never: the semaphore is a static that nothing closes.
    let starting = STARTING
        .acquire()
        .await
        .map_err(|_| io_error("ssh connection limiter closed".to_string()))?;
    let (mut sender, mut stderr) = open(dest).await?;
    let sent = sender.send_request(request).await;
    // ssh has connected and authenticated once the engine's answer came back.
    drop(starting);
    match sent {
        Ok(response) => {
            keep_when_done(pool, sender);
            Ok(response)
        }
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

/// An idle connection of `pool` that is still open, if any.
fn take_idle(pool: &Pool) -> Option<Sender> {
    let mut idle = pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    while let Some(sender) = idle.pop() {
        if sender.is_ready() {
            return Some(sender);
        }
    }
    None
}

/// Put `sender` back into `pool` once its response has been read, unless the pool is
/// full or the connection ended (closed, or taken over by an exec or attach stream).
fn keep_when_done(pool: &Pool, mut sender: Sender) {
    let pool = Arc::clone(pool);
    tokio::spawn(async move {
        if sender.ready().await.is_ok() {
            let mut idle = pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(sender);
            }
        }
    });
}

/// `request` as it goes over `dial-stdio`, which hands the bytes to the engine's
/// socket: an origin-form request with a fixed Host, as the docker CLI sends.
fn origin_form(request: BollardRequest) -> Result<BollardRequest, BollardError> {
    let (mut parts, body) = request.into_parts();
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
    Ok(hyper::Request::from_parts(parts, body))
}

/// A new connection: ssh running `docker system dial-stdio`, HTTP/1 over its pipes,
/// and its stderr (read when it fails).
async fn open(
    dest: &SshDestination,
) -> Result<(Sender, tokio::process::ChildStderr), BollardError> {
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
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(io_error("ssh started without its pipes".to_string()));
    };
    // ssh lives as long as its pipes: with the connection, or with the stream an exec
    // or attach upgraded it to (the connection's task ends at the upgrade).
    let io = TokioIo::new(SshPipes {
        stdout,
        stdin: Some(stdin),
        _ssh: child,
    });
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|err| io_error(format!("ssh to `{}`: {err}", dest.host)))?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    Ok((sender, stderr))
}

/// ssh's stdout and stdin as one stream, which kills ssh when dropped. Shutting it
/// down closes ssh's stdin, so the engine sees the end of an exec's input.
struct SshPipes {
    stdout: tokio::process::ChildStdout,
    /// `None` once shut down.
    stdin: Option<tokio::process::ChildStdin>,
    /// Spawned with `kill_on_drop`.
    _ssh: tokio::process::Child,
}

impl tokio::io::AsyncRead for SshPipes {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl SshPipes {
    fn stdin(&mut self) -> std::io::Result<Pin<&mut tokio::process::ChildStdin>> {
        match self.stdin.as_mut() {
            Some(stdin) => Ok(Pin::new(stdin)),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }
}

impl tokio::io::AsyncWrite for SshPipes {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.stdin() {
            Ok(stdin) => stdin.poll_write(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.stdin() {
            Ok(stdin) => stdin.poll_flush(cx),
            Err(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Ok(stdin) = self.stdin() {
            match stdin.poll_flush(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        // Dropping the pipe is what closes it.
        self.stdin = None;
        Poll::Ready(Ok(()))
    }
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
