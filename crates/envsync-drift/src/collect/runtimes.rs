//! Runtimes (`runtime`: python, node, java, go, ruby) and middleware (`service`:
//! postgres, redis, nginx, mysql, mariadb, memcached, rabbitmq, httpd, mongodb), derived
//! from package databases and well-known files only, so that every transport that sees
//! the same filesystem derives the same ones.
//!
//! Rules (the version is the package's upstream version: no epoch, no revision, no
//! `+dfsg`/`~` suffix):
//!
//! | package (deb / apk)                                    | component         |
//! |--------------------------------------------------------|-------------------|
//! | `python3.X` / `python3`                                | runtime `python`  |
//! | `nodejs`                                               | runtime `node`    |
//! | `openjdk-N-jre[-headless]`, `openjdk-N-jdk[-headless]` / `openjdkN-*` | runtime `java` |
//! | `golang-1.N-go` / `go`                                 | runtime `go`      |
//! | `ruby3.X` / `ruby`                                     | runtime `ruby`    |
//! | `postgresql-N` / `postgresqlN`                         | service `postgres`|
//! | `redis-server` / `redis`                               | service `redis`   |
//! | `nginx`, `nginx-core`, `nginx-light`, `nginx-full`, `nginx-extras` | service `nginx` |
//! | `mysql-server-core-X.Y`                                | service `mysql`   |
//! | `mariadb-server-core`, `mariadb-server` / `mariadb`    | service `mariadb` |
//! | `memcached`                                            | service `memcached` |
//! | `rabbitmq-server`                                      | service `rabbitmq` |
//! | `apache2-bin` / `apache2`                              | service `httpd`   |
//! | `mongodb-org-server`                                   | service `mongodb` |
//!
//! Installs outside the package manager, with `location` set to where they live:
//! `<prefix>/include/python3.X/patchlevel.h` (`PY_VERSION`) → python at `<prefix>`;
//! `<prefix>/include/node/node_version.h` → node at `<prefix>` (`/usr/local`, and every
//! prefix below the searched roots: pyenv, conda, nvm, asdf and mise installs);
//! `/usr/local/go/VERSION` → go at `/usr/local/go`;
//! `/opt/java/openjdk/release` (`JAVA_VERSION`) → java at `/opt/java/openjdk`.

use envsync_manifest::Ecosystem;

use super::parse::{self, SysPackage};
use super::{Entry, FileSet};
use crate::snapshot::Package;

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The runtime or service a system package provides, if any.
pub fn component_of(ecosystem: Ecosystem, name: &str) -> Option<(Ecosystem, &'static str)> {
    use Ecosystem::{Runtime, Service};
    let deb = ecosystem == Ecosystem::Deb;
    let apk = ecosystem == Ecosystem::Apk;
    let hit = match name {
        n if deb && n.strip_prefix("python3.").is_some_and(digits) => (Runtime, "python"),
        "python3" if apk => (Runtime, "python"),
        "nodejs" => (Runtime, "node"),
        n if deb
            && n.strip_prefix("openjdk-").is_some_and(|r| {
                r.split_once('-').is_some_and(|(v, kind)| {
                    digits(v) && matches!(kind, "jre" | "jre-headless" | "jdk" | "jdk-headless")
                })
            }) =>
        {
            (Runtime, "java")
        }
        n if apk
            && n.strip_prefix("openjdk").is_some_and(|r| {
                r.split_once('-').is_some_and(|(v, kind)| {
                    digits(v) && matches!(kind, "jre" | "jre-headless" | "jdk")
                })
            }) =>
        {
            (Runtime, "java")
        }
        n if deb
            && n.strip_prefix("golang-")
                .and_then(|r| r.strip_suffix("-go"))
                .is_some_and(|v| v.split('.').all(digits)) =>
        {
            (Runtime, "go")
        }
        "go" if apk => (Runtime, "go"),
        n if deb
            && n.strip_prefix("ruby")
                .is_some_and(|v| v.split('.').count() == 2 && v.split('.').all(digits)) =>
        {
            (Runtime, "ruby")
        }
        "ruby" if apk => (Runtime, "ruby"),
        n if deb && n.strip_prefix("postgresql-").is_some_and(digits) => (Service, "postgres"),
        n if apk && n.strip_prefix("postgresql").is_some_and(digits) => (Service, "postgres"),
        "redis-server" if deb => (Service, "redis"),
        "redis" if apk => (Service, "redis"),
        "nginx" | "nginx-core" | "nginx-light" | "nginx-full" | "nginx-extras" => {
            (Service, "nginx")
        }
        n if deb && n.strip_prefix("mysql-server-core-").is_some() => (Service, "mysql"),
        "mariadb-server-core" | "mariadb-server" if deb => (Service, "mariadb"),
        "mariadb" if apk => (Service, "mariadb"),
        "memcached" => (Service, "memcached"),
        "rabbitmq-server" => (Service, "rabbitmq"),
        "apache2-bin" if deb => (Service, "httpd"),
        "apache2" if apk => (Service, "httpd"),
        "mongodb-org-server" => (Service, "mongodb"),
        _ => return None,
    };
    Some(hit)
}

fn component(ecosystem: Ecosystem, name: &str, version: String, location: Option<&str>) -> Package {
    Package {
        ecosystem,
        name: name.to_string(),
        version,
        arch: None,
        location: location.map(str::to_string),
        size: None,
        mode: None,
    }
}

/// Runtimes and services provided by system packages.
pub fn from_system(system: &[(Ecosystem, SysPackage)]) -> Vec<Package> {
    system
        .iter()
        .filter_map(|(eco, p)| {
            let (kind, name) = component_of(*eco, &p.name)?;
            Some(component(
                kind,
                name,
                parse::upstream_version(&p.version),
                None,
            ))
        })
        .collect()
}

/// The interpreters `PATH` finds first: for `python` and `node`, the `location` of the
/// runtime whose `<location>/bin` comes first in `path_var` (`/usr` for one installed by
/// the package manager, whose programs are in `/usr/bin` or `/bin`). A runtime reached
/// only through a shim directory (pyenv's `~/.pyenv/shims`, asdf's `~/.asdf/shims`) is
/// not resolved: the shim picks the version at run time.
pub fn on_path(packages: &[Package], path_var: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for runtime in ["python", "node"] {
        let found: Vec<&Package> = packages
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Runtime && p.name == runtime)
            .collect();
        'path: for dir in path_var.split(':').filter(|d| d.starts_with('/')) {
            let dir = super::normalize_path(dir);
            for p in &found {
                let (prefix, bins): (&str, Vec<String>) = match p.location.as_deref() {
                    Some(loc) => (loc, vec![super::normalize_path(&format!("{loc}/bin"))]),
                    None => ("/usr", vec!["/usr/bin".to_string(), "/bin".to_string()]),
                };
                if bins.contains(&dir) {
                    out.insert(runtime.to_string(), prefix.to_string());
                    break 'path;
                }
            }
        }
    }
    out
}

/// Runtimes installed outside the package manager (see the module docs).
pub fn from_files(files: &FileSet, warnings: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    let text_of = |path: &str, warnings: &mut Vec<String>| {
        files
            .get(path)
            .map(|(data, _)| parse::text(path, data, warnings).into_owned())
    };
    for (path, entry) in &files.entries {
        let Some(prefix) = super::interpreter_prefix(path) else {
            continue;
        };
        if !matches!(entry, Entry::File { .. } | Entry::Symlink(_)) {
            continue;
        }
        let Some(text) = text_of(path, warnings) else {
            continue;
        };
        if path.ends_with("/patchlevel.h") {
            match parse::c_define(&text, "PY_VERSION") {
                Some(v) => out.push(component(
                    Ecosystem::Runtime,
                    "python",
                    v.to_string(),
                    Some(prefix),
                )),
                None => warnings.push(format!("`{path}` has no `PY_VERSION`")),
            }
            continue;
        }
        let part = |n| parse::c_define(&text, n);
        match (
            part("NODE_MAJOR_VERSION"),
            part("NODE_MINOR_VERSION"),
            part("NODE_PATCH_VERSION"),
        ) {
            (Some(a), Some(b), Some(c)) => out.push(component(
                Ecosystem::Runtime,
                "node",
                format!("{a}.{b}.{c}"),
                Some(prefix),
            )),
            _ => warnings.push(format!("`{path}` lacks version defines")),
        }
    }
    if let Some(text) = text_of("/usr/local/go/VERSION", warnings) {
        let first = text.lines().next().unwrap_or("").trim();
        if let Some(v) = first.strip_prefix("go").filter(|v| !v.is_empty()) {
            out.push(component(
                Ecosystem::Runtime,
                "go",
                v.to_string(),
                Some("/usr/local/go"),
            ));
        }
    }
    if let Some(text) = text_of("/opt/java/openjdk/release", warnings) {
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("JAVA_VERSION=") {
                let v = v.trim().trim_matches('"');
                if !v.is_empty() {
                    out.push(component(
                        Ecosystem::Runtime,
                        "java",
                        v.to_string(),
                        Some("/opt/java/openjdk"),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(eco: Ecosystem, name: &str, version: &str, expected: Option<&str>) {
        let p = SysPackage {
            name: name.into(),
            version: version.into(),
            arch: None,
        };
        let got = from_system(&[(eco, p)]);
        let got = got
            .first()
            .map(|c| format!("{}:{}={}", c.ecosystem, c.name, c.version));
        assert_eq!(got.as_deref(), expected, "{name}");
    }

    #[test]
    fn packages_to_components() {
        use Ecosystem::{Apk, Deb};
        check(
            Deb,
            "python3.11",
            "3.11.2-6+deb12u6",
            Some("runtime:python=3.11.2"),
        );
        check(Deb, "python3.11-minimal", "3.11.2-6+deb12u6", None);
        check(Deb, "python3", "3.11.2-1+b1", None);
        check(Apk, "python3", "3.11.9-r0", Some("runtime:python=3.11.9"));
        check(
            Deb,
            "nodejs",
            "18.19.0+dfsg-6~deb12u2",
            Some("runtime:node=18.19.0"),
        );
        check(
            Deb,
            "openjdk-17-jre-headless",
            "17.0.13+11-2~deb12u1",
            Some("runtime:java=17.0.13"),
        );
        check(Deb, "openjdk-17-doc", "17.0.13+11-2~deb12u1", None);
        check(Deb, "golang-1.19-go", "1.19.8-2", Some("runtime:go=1.19.8"));
        check(
            Deb,
            "ruby3.1",
            "3.1.2-7+deb12u1",
            Some("runtime:ruby=3.1.2"),
        );
        check(Deb, "rubygems", "3.3", None);
        check(
            Deb,
            "postgresql-15",
            "15.10-0+deb12u1",
            Some("service:postgres=15.10"),
        );
        check(Deb, "postgresql-client-15", "15.10-0+deb12u1", None);
        check(
            Apk,
            "postgresql15",
            "15.8-r0",
            Some("service:postgres=15.8"),
        );
        check(
            Deb,
            "redis-server",
            "5:7.0.15-1~deb12u1",
            Some("service:redis=7.0.15"),
        );
        check(Deb, "redis-tools", "5:7.0.15-1~deb12u1", None);
        check(Deb, "nginx-core", "1.22.1-9", Some("service:nginx=1.22.1"));
        check(
            Deb,
            "mariadb-server-core",
            "1:10.11.6-0+deb12u1",
            Some("service:mariadb=10.11.6"),
        );
        check(
            Deb,
            "apache2-bin",
            "2.4.62-1~deb12u1",
            Some("service:httpd=2.4.62"),
        );
        check(
            Deb,
            "memcached",
            "1.6.18-1",
            Some("service:memcached=1.6.18"),
        );
    }

    #[test]
    fn source_installs() {
        let mut fs = FileSet::default();
        fs.add_file(
            "/usr/local/include/python3.12/patchlevel.h".into(),
            b"#define PY_VERSION \"3.12.1\"\n".to_vec(),
            0o644,
        );
        fs.add_file(
            "/usr/local/include/node/node_version.h".into(),
            b"#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n#define NODE_PATCH_VERSION 0\n".to_vec(),
            0o644,
        );
        fs.add_file(
            "/usr/local/go/VERSION".into(),
            b"go1.21.5\ntime 2023\n".to_vec(),
            0o644,
        );
        let mut w = Vec::new();
        let got: Vec<String> = from_files(&fs, &mut w)
            .iter()
            .map(|c| format!("{}={}", c.name, c.version))
            .collect();
        assert_eq!(got, ["node=20.11.0", "python=3.12.1", "go=1.21.5"]);
        assert!(w.is_empty());
    }
}
