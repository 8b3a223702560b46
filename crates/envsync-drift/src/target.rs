//! Targets: the places a snapshot can be taken from, parsed from the forms users type
//! (`local`, `local:/path`, `docker:NAME`, `image:REF`, `ssh://[user@]host[:port]`,
//! `swarm:SERVICE`, `FILE.json`) and printed back in the same form.

use std::fmt;
use std::path::PathBuf;

use envsync_manifest::destination::{parse_ssh_destination, SshDestination};

use crate::error::DriftError;
use crate::swarm::{valid_service_name, SwarmTask};

/// Where a snapshot comes from. Named targets from a manifest's `[targets]` and the word
/// `lock` are resolved by the caller before a `Target` is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This machine's own `/`.
    Local,
    /// A directory holding a root filesystem (an unpacked image, a chroot, a mount).
    LocalRoot(PathBuf),
    /// A running container on the engine `DOCKER_HOST` names.
    Docker(String),
    /// An image in the engine, read without running it.
    Image(String),
    /// A server reached with the system `ssh` and the user's own configuration.
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
    /// Every running task of a Docker Swarm service, listed through the manager engine
    /// `DOCKER_HOST` names; expanded into [`Target::SwarmTask`]s by
    /// [`crate::swarm::service_tasks`].
    Swarm(String),
    /// One task of a swarm service (never typed: made by expanding `swarm:SERVICE`).
    SwarmTask(Box<SwarmTask>),
    /// A saved snapshot.
    File(PathBuf),
}

fn syntax(text: &str, reason: &str) -> DriftError {
    DriftError::TargetSyntax {
        text: text.to_string(),
        reason: reason.to_string(),
    }
}

impl Target {
    /// Parse a target as the user wrote it.
    pub fn parse(text: &str) -> Result<Target, DriftError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(syntax(text, "it is empty"));
        }
        if t == "local" {
            return Ok(Target::Local);
        }
        if let Some(path) = t.strip_prefix("local:") {
            if path.is_empty() {
                return Err(syntax(
                    text,
                    "`local:` needs a directory, e.g. `local:/mnt/rootfs`",
                ));
            }
            return Ok(Target::LocalRoot(PathBuf::from(path)));
        }
        if let Some(name) = t.strip_prefix("docker:") {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(syntax(text, "`docker:` needs a container name or id"));
            }
            return Ok(Target::Docker(name.to_string()));
        }
        if let Some(reference) = t.strip_prefix("image:") {
            if reference.is_empty() || reference.contains(char::is_whitespace) {
                return Err(syntax(text, "`image:` needs an image reference or id"));
            }
            return Ok(Target::Image(reference.to_string()));
        }
        if let Some(service) = t.strip_prefix("swarm:") {
            valid_service_name(service).map_err(|reason| syntax(text, &reason))?;
            return Ok(Target::Swarm(service.to_string()));
        }
        if let Some(rest) = t.strip_prefix("ssh://") {
            return parse_ssh(text, rest);
        }
        if t.ends_with(".json") || std::path::Path::new(t).is_file() {
            return Ok(Target::File(PathBuf::from(t)));
        }
        Err(syntax(
            text,
            "it has no known prefix and is not a `.json` file",
        ))
    }
}

/// `ssh://` targets accept exactly what the manifest's `[targets]` accepts: host names,
/// IPv4 and bracketed IPv6 addresses, ports 1-65535 and conservative user names, so no
/// part of a target can be read by `ssh` as an option or by a shell as a command.
fn parse_ssh(text: &str, rest: &str) -> Result<Target, DriftError> {
    let SshDestination { user, host, port } =
        parse_ssh_destination(rest).map_err(|e| syntax(text, &e.to_string()))?;
    Ok(Target::Ssh { user, host, port })
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local => f.write_str("local"),
            Target::LocalRoot(p) => write!(f, "local:{}", p.display()),
            Target::Docker(n) => write!(f, "docker:{n}"),
            Target::Image(r) => write!(f, "image:{r}"),
            Target::Ssh { user, host, port } => {
                f.write_str("ssh://")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                if host.contains(':') {
                    write!(f, "[{host}]")?;
                } else {
                    f.write_str(host)?;
                }
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            Target::Swarm(s) => write!(f, "swarm:{s}"),
            Target::SwarmTask(task) => f.write_str(&task.name),
            Target::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Target) {
        let got = Target::parse(input).expect(input);
        assert_eq!(got, expected, "{input}");
        assert_eq!(got.to_string(), input, "display gives back the user's form");
    }

    fn bad(input: &str) {
        let err = Target::parse(input).expect_err(input);
        assert!(err.to_string().contains(&format!("`{input}`")), "{err}");
    }

    /// The whole message for a refused target, minus the list of forms that ends it.
    fn refused(input: &str, expected: &str) {
        let err = Target::parse(input).expect_err(input).to_string();
        let (head, _) = err.split_once("; use `local`").expect("the forms follow");
        assert_eq!(head, expected, "{input}");
    }

    #[test]
    fn forms() {
        check("local", Target::Local);
        check("local:/mnt/root", Target::LocalRoot("/mnt/root".into()));
        check("docker:billing-dev", Target::Docker("billing-dev".into()));
        check(
            "image:envsync/debian:bookworm",
            Target::Image("envsync/debian:bookworm".into()),
        );
        check(
            "ssh://deploy@prod-api-1",
            Target::Ssh {
                user: Some("deploy".into()),
                host: "prod-api-1".into(),
                port: None,
            },
        );
        check(
            "ssh://127.0.0.1:2222",
            Target::Ssh {
                user: None,
                host: "127.0.0.1".into(),
                port: Some(2222),
            },
        );
        check(
            "ssh://root@[::1]:22",
            Target::Ssh {
                user: Some("root".into()),
                host: "::1".into(),
                port: Some(22),
            },
        );
        check("swarm:web", Target::Swarm("web".into()));
        check("prod.json", Target::File("prod.json".into()));
    }

    #[test]
    fn rejects() {
        for t in [
            "",
            "docker:",
            "image:",
            "local:",
            "ssh://",
            "ssh://h:0",
            "ssh://h:99999",
            "ssh://@h",
            "ssh://-oProxyCommand=x",
            "prod",
            "ssh://[::1",
            "ssh://a$(touch x)",
            "ssh://h;reboot",
            "ssh://h`id`",
            "ssh://-l@h",
            "ssh://h:+22",
            "ssh://10.0.0.256",
            "ssh://::1",
            "swarm:",
            "swarm:-web",
            "swarm:web/web.1",
        ] {
            if t.is_empty() {
                assert!(Target::parse(t).is_err());
            } else {
                bad(t);
            }
        }
    }

    #[test]
    fn ssh_targets_name_what_is_wrong() {
        refused(
            "ssh://a$(touch x)",
            "cannot understand target `ssh://a$(touch x)`: the host `a$(touch x)` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        refused(
            "ssh://-oProxyCommand=x",
            "cannot understand target `ssh://-oProxyCommand=x`: the host `-oProxyCommand=x` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        refused(
            "ssh://host:99999",
            "cannot understand target `ssh://host:99999`: `99999` is not a port number (1-65535)",
        );
        refused(
            "ssh://h\x1b]0;PWNED\x07",
            "cannot understand target `ssh://h\\u{1b}]0;PWNED\\u{7}`: the host `h\\u{1b}]0;PWNED\\u{7}` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        check(
            "ssh://ci_bot@db.example.org:2222",
            Target::Ssh {
                user: Some("ci_bot".into()),
                host: "db.example.org".into(),
                port: Some(2222),
            },
        );
    }
}
