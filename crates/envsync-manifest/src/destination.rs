//! `ssh://[user@]host[:port]` destinations, parsed in one place for the manifest's
//! `[targets]` and for the targets users type, so both accept exactly the same ones.
//!
//! Accepted: a host name made of RFC 1123 labels, an IPv4 address, or an IPv6 address in
//! brackets (with an optional zone, `[fe80::1%eth0]`); a port from 1 to 65535; a user
//! name of ASCII letters, digits, `.`, `_` and `-` that does not start with `-`. Anything
//! else ends up on the `ssh` command line, where a leading `-` is an option
//! (`-oProxyCommand=...`), and in the user's ssh configuration, where `%h` and `%r` are
//! expanded into `ProxyCommand` and `Match exec` shell commands.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A destination that is safe to hand to `ssh`: every part checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDestination {
    pub user: Option<String>,
    /// A host name, an IPv4 address, or an IPv6 address (without its brackets).
    pub host: String,
    pub port: Option<u16>,
}

/// Why a destination is refused; the message names the part and what a valid one is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("the user before `@` is empty")]
    EmptyUser,
    #[error("the user `{0}` is not a user name: use ASCII letters, digits, `.`, `_` and `-`, not starting with `-`")]
    BadUser(String),
    #[error("the host is empty")]
    EmptyHost,
    #[error("the host `{host}` is not a host name: {why}")]
    BadHost { host: String, why: &'static str },
    #[error("the host `{0}` is not an IPv4 address")]
    BadIpv4(String),
    #[error("`[{0}]` is not an IPv6 address")]
    BadIpv6(String),
    #[error("an IPv6 address needs a closing `]`")]
    UnclosedBracket,
    #[error("only `:PORT` may follow `]`, not `{0}`")]
    AfterBracket(String),
    #[error("the IPv6 address `{0}` must be written in brackets, e.g. `ssh://[{0}]:22`")]
    BareIpv6(String),
    #[error("the port after `:` is empty")]
    EmptyPort,
    #[error("`{0}` is not a port number (1-65535)")]
    BadPort(String),
}

/// Parse what follows `ssh://`. One trailing `/` is allowed, as in `ssh://host/`.
pub fn parse_ssh_destination(rest: &str) -> Result<SshDestination, DestinationError> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((user, hostport)) => (Some(check_user(user)?), hostport),
        None => (None, rest),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or(DestinationError::UnclosedBracket)?;
        let port = match after {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(port) => Some(parse_port(port)?),
                None => return Err(DestinationError::AfterBracket(after.to_string())),
            },
        };
        (check_ipv6(inside)?, port)
    } else if hostport.matches(':').count() > 1 {
        return Err(if hostport.parse::<Ipv6Addr>().is_ok() {
            DestinationError::BareIpv6(hostport.to_string())
        } else {
            bad_host(hostport, "only one `:`, before the port, may follow it")
        });
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (check_host(host)?, Some(parse_port(port)?)),
            None => (check_host(hostport)?, None),
        }
    };
    Ok(SshDestination { user, host, port })
}

fn check_user(user: &str) -> Result<String, DestinationError> {
    if user.is_empty() {
        return Err(DestinationError::EmptyUser);
    }
    let valid = !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(user.to_string())
    } else {
        Err(DestinationError::BadUser(user.to_string()))
    }
}

fn bad_host(host: &str, why: &'static str) -> DestinationError {
    DestinationError::BadHost {
        host: host.to_string(),
        why,
    }
}

/// A host name of RFC 1123 labels, or an IPv4 address. A name whose last label is all
/// digits can only be meant as an address, so it must be one (`10.0.0.300` is refused).
fn check_host(host: &str) -> Result<String, DestinationError> {
    if host.is_empty() {
        return Err(DestinationError::EmptyHost);
    }
    // One trailing dot marks a fully qualified name (`prod.example.org.`).
    let name = host.strip_suffix('.').unwrap_or(host);
    let last = name.rsplit('.').next().unwrap_or(name);
    if !last.is_empty() && last.chars().all(|c| c.is_ascii_digit()) {
        return match name.parse::<Ipv4Addr>() {
            Ok(_) if name == host => Ok(host.to_string()),
            _ => Err(DestinationError::BadIpv4(host.to_string())),
        };
    }
    if name.len() > 253 {
        return Err(bad_host(host, "it is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(bad_host(host, "it has an empty label between dots"));
        }
        if label.len() > 63 {
            return Err(bad_host(host, "a label is longer than 63 characters"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(bad_host(
                host,
                "use ASCII letters, digits, `-` and `.` (RFC 1123)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad_host(host, "a label starts or ends with `-`"));
        }
    }
    Ok(host.to_string())
}

/// An IPv6 address, with an optional `%zone` (an interface name or number).
fn check_ipv6(inside: &str) -> Result<String, DestinationError> {
    let (addr, zone) = match inside.split_once('%') {
        Some((addr, zone)) => (addr, Some(zone)),
        None => (inside, None),
    };
    let zone_ok = zone.is_none_or(|z| {
        !z.is_empty()
            && z.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    });
    if addr.parse::<Ipv6Addr>().is_ok() && zone_ok {
        Ok(inside.to_string())
    } else {
        Err(DestinationError::BadIpv6(inside.to_string()))
    }
}

/// Decimal digits only (`str::parse` would also take `+22`), 1 to 65535.
fn parse_port(text: &str) -> Result<u16, DestinationError> {
    if text.is_empty() {
        return Err(DestinationError::EmptyPort);
    }
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.chars().all(|c| c.is_ascii_digit()) => Ok(port),
        _ => Err(DestinationError::BadPort(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse `input` and compare `user@host:port` (with `-` for what is absent), or the
    /// error message.
    fn check(input: &str, expected: &str) {
        let got = match parse_ssh_destination(input) {
            Ok(d) => format!(
                "{}@{}:{}",
                d.user.as_deref().unwrap_or("-"),
                d.host,
                d.port.map_or("-".to_string(), |p| p.to_string())
            ),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn valid_destinations() {
        check("prod-api-1", "-@prod-api-1:-");
        check("deploy@prod-api-1", "deploy@prod-api-1:-");
        check("deploy@prod-api-1/", "deploy@prod-api-1:-");
        check(
            "ci.bot_2@db.example.org.:2222",
            "ci.bot_2@db.example.org.:2222",
        );
        check("127.0.0.1:22", "-@127.0.0.1:22");
        check("root@[::1]:22", "root@::1:22");
        check("[fe80::1%eth0]", "-@fe80::1%eth0:-");
        check("h:65535", "-@h:65535");
        check("3com.example", "-@3com.example:-");
    }

    #[test]
    fn hostile_and_malformed_destinations() {
        check(
            "a$(touch x)",
            "error: the host `a$(touch x)` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        check(
            "-oProxyCommand=x",
            "error: the host `-oProxyCommand=x` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        check(
            "-host",
            "error: the host `-host` is not a host name: a label starts or ends with `-`",
        );
        check(
            "host:99999",
            "error: `99999` is not a port number (1-65535)",
        );
        check("host:0", "error: `0` is not a port number (1-65535)");
        check("host:+22", "error: `+22` is not a port number (1-65535)");
        check("host:", "error: the port after `:` is empty");
        check(
            "-oProxyCommand=x@h",
            "error: the user `-oProxyCommand=x` is not a user name: use ASCII letters, digits, `.`, `_` and `-`, not starting with `-`",
        );
        check(
            "a b@h",
            "error: the user `a b` is not a user name: use ASCII letters, digits, `.`, `_` and `-`, not starting with `-`",
        );
        check("@h", "error: the user before `@` is empty");
        check("", "error: the host is empty");
        check("u@", "error: the host is empty");
        check(
            "a..b",
            "error: the host `a..b` is not a host name: it has an empty label between dots",
        );
        check(
            "host/path",
            "error: the host `host/path` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        check(
            "h\x1b[2J",
            "error: the host `h\x1b[2J` is not a host name: use ASCII letters, digits, `-` and `.` (RFC 1123)",
        );
        check(
            &format!("{}.org", "a".repeat(64)),
            &format!(
                "error: the host `{}.org` is not a host name: a label is longer than 63 characters",
                "a".repeat(64)
            ),
        );
        check(
            "10.0.0.300",
            "error: the host `10.0.0.300` is not an IPv4 address",
        );
        check("1.2.3", "error: the host `1.2.3` is not an IPv4 address");
        check(
            "::1",
            "error: the IPv6 address `::1` must be written in brackets, e.g. `ssh://[::1]:22`",
        );
        check("[::1", "error: an IPv6 address needs a closing `]`");
        check("[::1]x", "error: only `:PORT` may follow `]`, not `x`");
        check("[::g]", "error: `[::g]` is not an IPv6 address");
        check("[::1%$(x)]", "error: `[::1%$(x)]` is not an IPv6 address");
        check("[-oX]", "error: `[-oX]` is not an IPv6 address");
    }
}
