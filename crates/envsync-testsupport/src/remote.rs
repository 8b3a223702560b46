//! Real remote parts for tests, on this machine and stopped when dropped:
//!
//! - [`Pki`]: a certificate authority, a server certificate for 127.0.0.1 and a client
//!   certificate, made by the `openssl` CLI; and a second, unrelated CA with its own
//!   client certificate, for the "wrong certificate" cases.
//! - [`Registry`]: Debian's `docker-registry` (the CNCF distribution registry) with TLS
//!   and htpasswd (bcrypt) authentication. The main engine pulls from it, so its CA is
//!   put in `/etc/docker/certs.d/127.0.0.1:PORT/ca.crt`, which dockerd reads per pull.
//! - [`TlsEngine`]: a second `dockerd` with `--tlsverify`, in a network namespace of
//!   its own reached over a veth pair, on its own data root, exec root and pid file,
//!   without iptables rules.
//!
//! Tools (`openssl`, `docker-registry`, `htpasswd`, `dockerd`) are installed by
//! `scripts/test-tools.sh`; a missing one fails the test saying so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Run `cmd`, failing with its output when it fails.
pub fn run_ok(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| {
        format!("running {cmd:?} (is it installed? `bash scripts/test-tools.sh`)")
    })?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Wait until something accepts connections on `127.0.0.1:port`, or `child` exits.
fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "{what} exited ({status}) before listening on 127.0.0.1:{port}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{what} did not listen on 127.0.0.1:{port} within 60 s: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Certificates for one test: `ca.pem`, `server-cert.pem`/`server-key.pem` (for
/// 127.0.0.1 and localhost), and the client directories [`Pki::client_dir`] and
/// [`Pki::wrong_client_dir`], each with `ca.pem`, `cert.pem`, `key.pem` as the docker
/// CLI expects in `DOCKER_CERT_PATH`.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// Generate everything with the `openssl` CLI (EC P-256 keys, one day of validity).
    pub fn generate() -> Result<Pki> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )?;
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n")?;
        for sub in ["client", "wrong"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        ca(d, "ca", "envsync test CA")?;
        ca(d, "wrong-ca", "envsync unrelated CA")?;
        signed(d, "ca", "server", "127.0.0.1", "server.ext")?;
        signed(d, "ca", "client/", "envsync-test-client", "client.ext")?;
        signed(
            d,
            "wrong-ca",
            "wrong/",
            "envsync-wrong-client",
            "client.ext",
        )?;
        for sub in ["client", "wrong"] {
            // The client trusts the real CA in both cases: only its certificate differs.
            std::fs::copy(d.join("ca.pem"), d.join(sub).join("ca.pem"))?;
        }
        Ok(Pki { dir })
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server-cert.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server-key.pem")
    }
    /// A server certificate for `ip` signed by the CA, written into `dir`: its
    /// certificate and key files.
    pub fn server_cert_for(&self, ip: &str, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n"),
        )?;
        let (key, cert, csr) = (
            dir.join("server-key.pem"),
            dir.join("server-cert.pem"),
            dir.join("server.csr"),
        );
        run_ok(
            Command::new("openssl")
                .args([
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                ])
                .args(["-subj", &format!("/CN={ip}")])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr),
        )?;
        run_ok(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "1", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(self.ca())
                .arg("-CAkey")
                .arg(self.dir.path().join("ca-key.pem"))
                .arg("-CAcreateserial")
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(&cert),
        )?;
        Ok((cert, key))
    }

    /// A client certificate the CA signed.
    pub fn client_dir(&self) -> PathBuf {
        self.dir.path().join("client")
    }
    /// A client certificate an unrelated CA signed: a TLS engine must refuse it.
    pub fn wrong_client_dir(&self) -> PathBuf {
        self.dir.path().join("wrong")
    }
}

fn ca(dir: &Path, name: &str, subject: &str) -> Result<()> {
    run_ok(
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj"])
            .arg(format!("/CN={subject}"))
            .args([
                "-keyout",
                &format!("{name}-key.pem"),
                "-out",
                &format!("{name}.pem"),
            ]),
    )?;
    Ok(())
}

/// `prefix` is `server` (files `server-cert.pem`, `server-key.pem`) or a directory
/// ending in `/` (files `cert.pem`, `key.pem` in it).
fn signed(dir: &Path, ca: &str, prefix: &str, cn: &str, ext: &str) -> Result<()> {
    let (key, cert, csr) = if prefix.ends_with('/') {
        (
            format!("{prefix}key.pem"),
            format!("{prefix}cert.pem"),
            format!("{prefix}req.csr"),
        )
    } else {
        (
            format!("{prefix}-key.pem"),
            format!("{prefix}-cert.pem"),
            format!("{prefix}.csr"),
        )
    };
    run_ok(
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-subj", &format!("/CN={cn}"), "-keyout", &key, "-out", &csr]),
    )?;
    run_ok(
        Command::new("openssl")
            .current_dir(dir)
            .args(["x509", "-req", "-days", "1", "-in", &csr])
            .args([
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}-key.pem"),
            ])
            .args(["-CAcreateserial", "-extfile", ext, "-out", &cert]),
    )?;
    Ok(())
}

/// A TLS registry with htpasswd authentication on 127.0.0.1, trusted by the main
/// engine through `/etc/docker/certs.d`. Stopped, and its CA removed, when dropped.
#[derive(Debug)]
pub struct Registry {
    /// `127.0.0.1:PORT`, as image references and `docker login` name it.
    pub host: String,
    pub user: String,
    pub password: String,
    child: Child,
    certs_d: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry whose only account is `user`/`password` (bcrypt in htpasswd).
    pub fn start(pki: &Pki, user: &str, password: &str) -> Result<Registry> {
        let dir = tempfile::tempdir()?;
        let htpasswd = run_ok(Command::new("htpasswd").args(["-Bbn", user, password]))?;
        std::fs::write(dir.path().join("htpasswd"), htpasswd.trim())?;
        let port = free_port()?;
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {data}\n\
             http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {cert}\n    key: {key}\n\
             auth:\n  htpasswd:\n    realm: envsync-test\n    path: {htpasswd}\n",
            data = dir.path().join("data").display(),
            cert = pki.server_cert().display(),
            key = pki.server_key().display(),
            htpasswd = dir.path().join("htpasswd").display(),
        );
        std::fs::write(dir.path().join("config.yml"), config)?;
        let host = format!("127.0.0.1:{port}");
        // The engine verifies the registry with the CA dockerd finds here, per pull.
        let certs_d = PathBuf::from("/etc/docker/certs.d").join(&host);
        std::fs::create_dir_all(&certs_d)
            .with_context(|| format!("creating {} (tests run as root)", certs_d.display()))?;
        std::fs::copy(pki.ca(), certs_d.join("ca.crt"))?;
        let log = dir.path().join("registry.log");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("registry.err"))?)
            .spawn()
            .context("starting docker-registry (install it with `bash scripts/test-tools.sh`)")?;
        if let Err(err) = wait_for_port(
            port,
            &mut child,
            "docker-registry",
            &dir.path().join("registry.err"),
        ) {
            let _ = child.kill();
            let _ = std::fs::remove_dir_all(&certs_d);
            return Err(err);
        }
        Ok(Registry {
            host,
            user: user.to_string(),
            password: password.to_string(),
            child,
            certs_d,
            _dir: dir,
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.certs_d);
    }
}

/// A second Docker engine that only talks TLS with a client certificate its CA signed.
/// It runs in a network namespace of its own (`ip netns`), reached from this host over
/// a veth pair at `tcp://10.213.N.2:2376`: a dockerd in the host's namespace removed the
/// main engine's `docker0` bridge while starting, and one in its own namespace cannot
/// touch the host's interfaces, routes or firewall. Everything else it has lives under
/// its own directories; it is stopped (SIGTERM, then SIGKILL) and its namespace, link
/// and directories removed when dropped.
#[derive(Debug)]
pub struct TlsEngine {
    /// `tcp://10.213.N.2:2376`.
    pub host: String,
    /// `DOCKER_CERT_PATH` for a client the engine accepts.
    pub client_dir: PathBuf,
    child: Option<Child>,
    root: PathBuf,
    /// The network namespace and the host end of the veth pair, removed with it.
    netns: String,
}

impl TlsEngine {
    /// Start the engine and wait until it answers over TLS.
    pub fn start(pki: &Pki) -> Result<TlsEngine> {
        let root = tempfile::Builder::new()
            .prefix("envsync-tls-engine-")
            .tempdir_in("/var/tmp")?
            .keep();
        // A /30 of its own: 10.213.N.0, N from a port the kernel just handed out.
        let n = free_port()? % 250 + 1;
        let netns = format!("estls{n}");
        let mut engine = TlsEngine {
            host: format!("tcp://10.213.{n}.2:2376"),
            client_dir: pki.client_dir(),
            child: None,
            root,
            netns,
        };
        engine.network(n)?;
        let address = format!("10.213.{n}.2");
        let (cert, key) = pki.server_cert_for(&address, &engine.root)?;
        let log = engine.root.join("dockerd.log");
        let err_log = engine.root.join("dockerd.err");
        // nsenter, not `ip netns exec`: that one mounts a /sys of its own, without the
        // cgroup hierarchy dockerd needs.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", engine.netns))
            .arg("dockerd")
            .arg("--data-root")
            .arg(engine.root.join("data"))
            .arg("--exec-root")
            .arg(engine.root.join("exec"))
            .arg("--pidfile")
            .arg(engine.root.join("dockerd.pid"))
            .args(["--host", &engine.host, "--tlsverify"])
            .arg("--tlscacert")
            .arg(pki.ca())
            .arg("--tlscert")
            .arg(&cert)
            .arg("--tlskey")
            .arg(&key)
            .args(["--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(&err_log)?)
            .spawn()
            .context("starting a second dockerd")?;
        engine.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while engine
            .docker()
            .args(["version"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            if let Some(Ok(Some(status))) = engine.child.as_mut().map(Child::try_wait) {
                bail!(
                    "the TLS dockerd exited ({status}): {}",
                    std::fs::read_to_string(&err_log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the TLS dockerd did not answer within 60 s: {}",
                    std::fs::read_to_string(&err_log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(engine)
    }

    /// The namespace, and a veth pair: `10.213.N.1` here, `10.213.N.2` in there.
    fn network(&self, n: u16) -> Result<()> {
        let ns = &self.netns;
        let host_end = format!("{ns}h");
        let ns_end = format!("{ns}n");
        run_ok(Command::new("ip").args(["netns", "add", ns]))?;
        run_ok(Command::new("ip").args([
            "link", "add", &host_end, "type", "veth", "peer", "name", &ns_end,
        ]))?;
        run_ok(Command::new("ip").args(["link", "set", &ns_end, "netns", ns]))?;
        run_ok(Command::new("ip").args([
            "addr",
            "add",
            &format!("10.213.{n}.1/30"),
            "dev",
            &host_end,
        ]))?;
        run_ok(Command::new("ip").args(["link", "set", &host_end, "up"]))?;
        let in_ns = |args: &[&str]| {
            run_ok(
                Command::new("ip")
                    .args(["netns", "exec", ns, "ip"])
                    .args(args),
            )
        };
        in_ns(&["addr", "add", &format!("10.213.{n}.2/30"), "dev", &ns_end])?;
        in_ns(&["link", "set", &ns_end, "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        Ok(())
    }

    /// The docker CLI pointed at this engine with the accepted client certificate.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.host)
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", &self.client_dir);
        cmd
    }

    /// Copy `image` from the main engine into this one (`docker save | docker load`).
    pub fn load_from_main(&self, image: &str) -> Result<()> {
        let mut save = Command::new("docker")
            .args(["save", image])
            .env_remove("DOCKER_HOST")
            .stdout(Stdio::piped())
            .spawn()
            .context("running docker save")?;
        let stdout = save.stdout.take().context("docker save has no stdout")?;
        let load = self.docker().arg("load").stdin(stdout).output()?;
        let saved = save.wait()?;
        if !saved.success() || !load.status.success() {
            bail!(
                "copying `{image}` into the TLS engine failed: {}",
                String::from_utf8_lossy(&load.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // SIGTERM lets dockerd stop its containers and unmount its layers.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Whatever a killed daemon left mounted under its root goes before the files.
        if let Ok(mounts) = std::fs::read_to_string("/proc/mounts") {
            let root = self.root.to_string_lossy().to_string();
            let mut points: Vec<&str> = mounts
                .lines()
                .filter_map(|line| line.split(' ').nth(1))
                .filter(|point| point.starts_with(&root))
                .collect();
            points.sort_by(|a, b| b.cmp(a));
            for point in points {
                let _ = Command::new("umount").args(["-l", point]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = Command::new("ip")
            .args(["link", "delete", &format!("{}h", self.netns)])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.netns])
            .status();
    }
}
