//! The HTTP server behind `AptRepo` and `PypiIndex`: static files from a directory the owner can swap.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// A static file server on 127.0.0.1: GET and HEAD, keep-alive, a thread per
/// connection. It listens before `start` returns, so clients never wait for it.
#[derive(Debug)]
pub(super) struct Server {
    addr: SocketAddr,
    root: Arc<RwLock<PathBuf>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub(super) fn start(root: &Path) -> Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding a port on 127.0.0.1")?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let root = Arc::new(RwLock::new(root.to_path_buf()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_root, thread_stop) = (Arc::clone(&root), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let root = Arc::clone(&thread_root);
                // A failed connection (a client hanging up) concerns that client only.
                std::thread::spawn(move || drop(handle(conn, &root)));
            }
        });
        Ok(Server {
            addr,
            root,
            stop,
            thread: Some(thread),
        })
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub(super) fn serve(&self, root: &Path) {
        *self.root.write().unwrap_or_else(PoisonError::into_inner) = root.to_path_buf();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The accept loop sees the flag on its next connection; make one. Join only
        // when that worked, so a failure here cannot hang the test.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(5)).is_ok() {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Answer the requests of one connection until the client closes it or is idle 30s.
fn handle(stream: TcpStream, root: &RwLock<PathBuf>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let mut keep_alive = parts.next() == Some("HTTP/1.1");
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.trim().eq_ignore_ascii_case("connection") {
                    keep_alive = !value.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let root = root.read().unwrap_or_else(PoisonError::into_inner).clone();
        let found = matches!(method, "GET" | "HEAD")
            .then(|| lookup(&root, target))
            .flatten();
        let (status, kind, body) = match found {
            Some((kind, body)) => ("200 OK", kind, body),
            None => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        };
        let connection = if keep_alive { "keep-alive" } else { "close" };
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        )?;
        if method != "HEAD" {
            out.write_all(&body)?;
        }
        out.flush()?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// The content type and bytes of the file `target` names below `root`; a directory
/// serves its `index.html`. Nothing outside `root` is reachable.
fn lookup(root: &Path, target: &str) -> Option<(&'static str, Vec<u8>)> {
    let path = target.split(['?', '#']).next()?;
    let rel = PathBuf::from(percent_decode(path.trim_start_matches('/'))?);
    // apt asks for `/./Packages` in a flat repository: `.` is fine, `..` is not.
    if !rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    let mut file = root.join(rel);
    if file.is_dir() {
        file.push("index.html");
    }
    let kind = if file.extension().is_some_and(|e| e == "html") {
        "text/html"
    } else {
        "application/octet-stream"
    };
    Some((kind, std::fs::read(file).ok()?))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(bytes.len()), 0);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_server_closes_its_port() {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path()).unwrap();
        let addr = server.addr;
        TcpStream::connect(addr).unwrap();
        drop(server);
        assert!(
            TcpStream::connect(addr).is_err(),
            "{addr} still accepts connections"
        );
    }

    #[test]
    fn lookup_stays_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.deb"), b"x").unwrap();
        assert_eq!(
            lookup(dir.path(), "/a.deb?x=1"),
            Some(("application/octet-stream", b"x".to_vec()))
        );
        assert_eq!(
            lookup(dir.path(), "/%61.deb"),
            Some(("application/octet-stream", b"x".to_vec()))
        );
        assert_eq!(
            lookup(dir.path(), "/./a.deb"),
            Some(("application/octet-stream", b"x".to_vec()))
        );
        assert_eq!(lookup(dir.path(), "/../etc/passwd"), None);
        assert_eq!(lookup(dir.path(), "/missing"), None);
    }
}
