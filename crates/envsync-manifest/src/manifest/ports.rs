//! Published ports: the manifest's `HOST:CONTAINER` and `IP:HOST:CONTAINER` forms, the
//! default host address, and the one rule for two ports that cannot both be bound.

use std::net::{IpAddr, Ipv4Addr};

use toml_edit::Value;

/// A published port: `host` on the machine running the environment, `container` inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// The host address to bind (`IP:HOST:CONTAINER`); [`DEFAULT_HOST_IP`] when `None`.
    pub host_ip: Option<IpAddr>,
    pub host: u16,
    pub container: u16,
}

/// The host address a port is published on when the manifest names none: loopback, as
/// middleware in a development environment runs with development credentials and must
/// not be reachable from the network.
pub const DEFAULT_HOST_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl PortMapping {
    /// The host address this port is bound on: the one given, or [`DEFAULT_HOST_IP`].
    pub fn effective_host_ip(&self) -> IpAddr {
        self.host_ip.unwrap_or(DEFAULT_HOST_IP)
    }
}

/// Whether two published host addresses cannot both be bound: the same port on the same
/// address, or on any address when either is the wildcard (`0.0.0.0`, `::`). The one
/// rule that both manifest validation and the provisioner apply.
pub fn host_ports_clash(a: (IpAddr, u16), b: (IpAddr, u16)) -> bool {
    a.1 == b.1 && (a.0 == b.0 || a.0.is_unspecified() || b.0.is_unspecified())
}

pub(super) fn parse_port(v: &Value) -> Option<PortMapping> {
    if let Some(p) = v.as_integer() {
        let p = u16::try_from(p).ok().filter(|p| *p > 0)?;
        return Some(PortMapping {
            host_ip: None,
            host: p,
            container: p,
        });
    }
    let text = v.as_str()?;
    let parts: Vec<&str> = text.split(':').collect();
    let port = |s: &str| s.parse::<u16>().ok().filter(|p| *p > 0);
    match parts.as_slice() {
        [c] => port(c).map(|p| PortMapping {
            host_ip: None,
            host: p,
            container: p,
        }),
        [h, c] => Some(PortMapping {
            host_ip: None,
            host: port(h)?,
            container: port(c)?,
        }),
        [ip, h, c] => Some(PortMapping {
            host_ip: Some(ip.parse::<IpAddr>().ok()?),
            host: port(h)?,
            container: port(c)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn port_host_addresses() {
        let m = parse(&format!(
            "{HEAD}[services.a]\nversion = \"1\"\nports = [\"127.0.0.2:8080:80\", \"8080:81\"]\n[services.b]\nversion = \"1\"\nports = [\"127.0.0.3:8080:80\"]\n"
        ))
        .unwrap();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(m.services[0].ports[0].host_ip, Some(ip("127.0.0.2")));
        assert_eq!(m.services[0].ports[1].host_ip, None);
        assert_eq!(m.services[0].ports[1].effective_host_ip(), ip("127.0.0.1"));
        check(
            "[services.a]\nversion = \"1\"\nports = [\"0.0.0.0:8080:80\"]\n[services.b]\nversion = \"1\"\nport = 8080\n",
            "host port 8080 of [services.b] is already published by [services.a] (line 7, column 9) at envsync.toml:10:8; publish another host port, e.g. `ports = [\"8081:8080\"]`",
        );
        check(
            "[services.a]\nversion = \"1\"\nports = [\"8080:80\", \"8081:80\"]\n",
            "container port 80 of [services.a] is published twice at envsync.toml:7:9; publish each container port once",
        );
        check(
            "[services.a]\nversion = \"1\"\nports = [\"localhost:8080:80\"]\n",
            "port `\"localhost:8080:80\"` in [services.a] is not a port mapping at envsync.toml:7:10; write a port number (`5432`) or `\"HOST:CONTAINER\"` (`\"15432:5432\"`, `\"127.0.0.1:15432:5432\"`)",
        );
    }

    #[test]
    fn clash_rule() {
        let at = |ip: &str, port: u16| (ip.parse::<IpAddr>().unwrap(), port);
        for (a, b, clash) in [
            (at("127.0.0.1", 80), at("127.0.0.1", 80), true),
            (at("127.0.0.1", 80), at("127.0.0.1", 81), false),
            (at("127.0.0.1", 80), at("127.0.0.2", 80), false),
            (at("0.0.0.0", 80), at("127.0.0.2", 80), true),
            (at("127.0.0.2", 80), at("0.0.0.0", 80), true),
            (at("::", 80), at("127.0.0.1", 80), true),
            (at("::1", 80), at("127.0.0.1", 80), false),
        ] {
            assert_eq!(host_ports_clash(a, b), clash, "{a:?} {b:?}");
        }
    }
}
