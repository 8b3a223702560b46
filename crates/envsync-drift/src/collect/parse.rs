//! Parsers for the files envsync reads on a target: os-release, the dpkg status
//! database, Alpine's apk database, Python distribution metadata and npm `package.json`.
//!
//! Every parser is total: malformed input becomes a warning (naming the file and line)
//! and the parsers never panic. Invalid UTF-8 is replaced and reported.

use std::borrow::Cow;

use crate::snapshot::OsInfo;

/// Text of a file, with a warning when it was not valid UTF-8.
pub fn text<'a>(path: &str, data: &'a [u8], warnings: &mut Vec<String>) -> Cow<'a, str> {
    let text = String::from_utf8_lossy(data);
    if matches!(text, Cow::Owned(_)) {
        warnings.push(format!(
            "`{path}` is not valid UTF-8; invalid bytes were replaced"
        ));
    }
    text
}

/// `/etc/os-release`: `ID`, `VERSION_ID` and `PRETTY_NAME`, unquoted.
pub fn os_release(text: &str) -> Option<OsInfo> {
    let mut id = None;
    let mut version_id = None;
    let mut pretty_name = None;
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => id = Some(value),
            "VERSION_ID" => version_id = Some(value),
            "PRETTY_NAME" => pretty_name = Some(value),
            _ => {}
        }
    }
    Some(OsInfo {
        id: id.filter(|s| !s.is_empty())?,
        version_id,
        pretty_name,
    })
}

fn unquote(v: &str) -> String {
    let inner = if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One stanza of an RFC 822-like database (dpkg status, PKG-INFO headers), with the
/// line it starts on.
#[derive(Debug, Default)]
struct Stanza<'a> {
    line: usize,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Stanza<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    }
}

/// Split into stanzas at blank lines; continuation lines (leading space or tab) are
/// ignored, which is enough for the single-line fields read here.
fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    let mut out = Vec::new();
    let mut current = Stanza::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if current.fields.is_empty() {
            current.line = n + 1;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            current.fields.push((k.trim(), v));
        }
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    out
}

/// A system package read from a package database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysPackage {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
}

/// The dpkg status database. Only packages whose `Status` ends in `installed` count
/// (`install ok installed`, `hold ok installed`); `config-files` (rc), `half-installed`,
/// `unpacked` and the like are left out, as `dpkg-query` marks them. Files from
/// `/var/lib/dpkg/status.d/` (distroless images) carry no `Status`: `require_status`
/// is false for them and every stanza counts.
pub fn dpkg_status(
    path: &str,
    text: &str,
    require_status: bool,
    warnings: &mut Vec<String>,
) -> Vec<SysPackage> {
    let mut out = Vec::new();
    for s in stanzas(text) {
        let Some(name) = s.get("Package").filter(|n| !n.is_empty()) else {
            warnings.push(format!(
                "`{path}` line {}: stanza has no `Package` field; skipped",
                s.line
            ));
            continue;
        };
        if require_status || s.get("Status").is_some() {
            let status = s.get("Status").unwrap_or("");
            if status.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let Some(version) = s.get("Version").filter(|v| !v.is_empty()) else {
            warnings.push(format!(
                "`{path}` line {}: installed package `{name}` has no `Version`; skipped",
                s.line
            ));
            continue;
        };
        out.push(SysPackage {
            name: name.to_string(),
            version: version.to_string(),
            arch: s
                .get("Architecture")
                .filter(|a| !a.is_empty())
                .map(str::to_string),
        });
    }
    out
}

/// Alpine's `/lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch per stanza.
pub fn apk_installed(path: &str, text: &str, warnings: &mut Vec<String>) -> Vec<SysPackage> {
    let mut out = Vec::new();
    let mut line_no = 0;
    let mut start = 1;
    let (mut name, mut version, mut arch): (Option<&str>, Option<&str>, Option<&str>) =
        (None, None, None);
    let mut flush = |name: &mut Option<&str>,
                     version: &mut Option<&str>,
                     arch: &mut Option<&str>,
                     start: usize,
                     out: &mut Vec<SysPackage>| {
        match (name.take(), version.take()) {
            (Some(n), Some(v)) => out.push(SysPackage {
                name: n.to_string(),
                version: v.to_string(),
                arch: arch.map(str::to_string),
            }),
            (None, None) => {}
            (n, _) => warnings.push(format!(
                "`{path}` line {start}: entry `{}` lacks `P:` or `V:`; skipped",
                n.unwrap_or("?")
            )),
        }
        *arch = None;
    };
    for line in text.lines() {
        line_no += 1;
        if line.trim().is_empty() {
            flush(&mut name, &mut version, &mut arch, start, &mut out);
            start = line_no + 1;
            continue;
        }
        match line.split_once(':') {
            Some(("P", v)) => name = Some(v.trim()),
            Some(("V", v)) => version = Some(v.trim()),
            Some(("A", v)) => arch = Some(v.trim()),
            _ => {}
        }
    }
    flush(&mut name, &mut version, &mut arch, start, &mut out);
    out
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// `Name` (PEP 503 normalised) and `Version` from a METADATA or PKG-INFO file: the
/// headers before the first blank line.
pub fn python_metadata(text: &str) -> Result<(String, String), &'static str> {
    let head = match text.find("\n\n") {
        Some(i) => &text[..i],
        None => text,
    };
    let head = head.replace("\r\n", "\n");
    let s = stanzas(&head);
    let first = s.first().ok_or("it has no headers")?;
    let name = first
        .get("Name")
        .filter(|n| !n.is_empty())
        .ok_or("it has no `Name` header")?;
    let version = first
        .get("Version")
        .filter(|v| !v.is_empty())
        .ok_or("it has no `Version` header")?;
    Ok((pep503(name), version.to_string()))
}

/// `name` and `version` of an npm `package.json`; `folder` (the install name) stands in
/// for a missing `name`.
pub fn npm_package(data: &[u8], folder: &str) -> Result<(String, String), String> {
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| format!("it is not JSON ({e})"))?;
    let name = value
        .get("name")
        .and_then(|v| v.as_str())
        .filter(|n| !n.is_empty())
        .unwrap_or(folder);
    let version = value
        .get("version")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "it has no `version`".to_string())?;
    Ok((name.to_string(), version.to_string()))
}

/// apt's `extended_states`: the `(Package, Architecture)` of each stanza with
/// `Auto-Installed: 1`, as `apt-mark showauto` reads it.
pub fn apt_auto_installed(text: &str) -> std::collections::BTreeSet<(String, Option<String>)> {
    stanzas(text)
        .iter()
        .filter(|s| s.get("Auto-Installed").map(str::trim) == Some("1"))
        .filter_map(|s| {
            let name = s.get("Package").map(str::trim).filter(|n| !n.is_empty())?;
            let arch = s
                .get("Architecture")
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            Some((name.to_string(), arch))
        })
        .collect()
}

/// Every `Requires-Dist` header of a METADATA or PKG-INFO file, verbatim (markers
/// included): the headers before the first blank line, a header repeated once per
/// requirement.
pub fn requires_dist(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or("");
    head.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case("Requires-Dist")).then(|| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The names an npm project's `package.json` depends on directly: `dependencies`,
/// `optionalDependencies` and `devDependencies`.
pub fn npm_dependencies(data: &[u8]) -> Result<std::collections::BTreeSet<String>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| format!("it is not JSON ({e})"))?;
    let mut out = std::collections::BTreeSet::new();
    for field in ["dependencies", "optionalDependencies", "devDependencies"] {
        match value.get(field) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(map)) => out.extend(map.keys().cloned()),
            Some(_) => return Err(format!("`{field}` is not an object")),
        }
    }
    Ok(out)
}

/// The upstream part of a Debian/Alpine version: no epoch, no revision, no `+dfsg`
/// or `~` suffix (`5:7.0.15-1~deb12u1` → `7.0.15`, `18.19.0+dfsg-6~deb12u2` → `18.19.0`).
pub fn upstream_version(version: &str) -> String {
    let v = version.split_once(':').map_or(version, |(_, rest)| rest);
    let v = v.rsplit_once('-').map_or(v, |(up, _)| up);
    let v = v.split(['+', '~']).next().unwrap_or(v);
    v.to_string()
}

/// A `#define NAME "value"` or `#define NAME value` from a C header.
pub fn c_define<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("#define")?.trim_start();
        let value = rest.strip_prefix(name)?;
        if !value.starts_with([' ', '\t']) {
            return None;
        }
        Some(value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_dpkg(input: &str, expected: &[&str], expected_warnings: usize) {
        let mut w = Vec::new();
        let got: Vec<String> = dpkg_status("status", input, true, &mut w)
            .into_iter()
            .map(|p| format!("{}={}/{}", p.name, p.version, p.arch.unwrap_or_default()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(w.len(), expected_warnings, "{w:?}");
    }

    #[test]
    fn dpkg_only_installed() {
        check_dpkg(
            "Package: a\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nDescription: x\n continued: not a field\n\n\
             Package: gone\nStatus: deinstall ok config-files\nVersion: 2\n\n\
             Package: half\nStatus: install reinstreq half-installed\nVersion: 3\n\n\
             Package: held\nStatus: hold ok installed\nVersion: 4\nArchitecture: all\n\n\
             Package: libc6\nStatus: install ok installed\nArchitecture: i386\nMulti-Arch: same\nVersion: 2.36-9\n",
            &["a=1.0-1/amd64", "held=4/all", "libc6=2.36-9/i386"],
            0,
        );
    }

    #[test]
    fn dpkg_hostile() {
        check_dpkg("Status: install ok installed\nVersion: 1\n\nPackage: nover\nStatus: install ok installed\n", &[], 2);
        check_dpkg("", &[], 0);
        check_dpkg("garbage without colon\n\n\n::::\n", &[], 1);
        check_dpkg("Package: nostatus\nVersion: 1\n", &[], 0);
        let mut w = Vec::new();
        let t = text(
            "status",
            b"Package: caf\xe9\nStatus: install ok installed\nVersion: 1\n",
            &mut w,
        );
        assert_eq!(dpkg_status("status", &t, true, &mut w).len(), 1);
        assert_eq!(w.len(), 1, "invalid UTF-8 is reported");
    }

    #[test]
    fn dpkg_status_d_has_no_status() {
        let mut w = Vec::new();
        let got = dpkg_status(
            "status.d/base",
            "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n",
            false,
            &mut w,
        );
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn apk() {
        let mut w = Vec::new();
        let got = apk_installed(
            "installed",
            "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:1\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\n\nP:broken\n\n",
            &mut w,
        );
        let names: Vec<String> = got
            .iter()
            .map(|p| format!("{}={}/{:?}", p.name, p.version, p.arch))
            .collect();
        assert_eq!(
            names,
            [
                "musl=1.2.4-r2/Some(\"x86_64\")",
                "busybox=1.36.1-r5/Some(\"x86_64\")"
            ]
        );
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn os_release_forms() {
        let os = os_release("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n").expect("os");
        assert_eq!(
            (os.id.as_str(), os.version_id.as_deref()),
            ("debian", Some("12"))
        );
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert!(os_release("NAME=x\n").is_none());
        assert_eq!(os_release("ID='alpine'\n").expect("os").id, "alpine");
    }

    #[test]
    fn pep503_names() {
        for (a, b) in [
            ("PyYAML", "pyyaml"),
            ("typing_extensions", "typing-extensions"),
            ("zope.interface", "zope-interface"),
            ("a-_.b", "a-b"),
            ("Django", "django"),
        ] {
            assert_eq!(pep503(a), b);
        }
    }

    #[test]
    fn metadata() {
        assert_eq!(
            python_metadata(
                "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\nSummary: x\n\nName: body\n"
            ),
            Ok(("pyyaml".into(), "6.0.1".into()))
        );
        assert_eq!(
            python_metadata("Metadata-Version: 2.1\r\nName: six\r\nVersion: 1.16.0\r\n"),
            Ok(("six".into(), "1.16.0".into()))
        );
        assert!(python_metadata("Name: x\n").is_err());
        assert!(python_metadata("").is_err());
    }

    #[test]
    fn npm() {
        assert_eq!(
            npm_package(br#"{"name":"@types/node","version":"20.11.5"}"#, "node"),
            Ok(("@types/node".into(), "20.11.5".into()))
        );
        assert_eq!(
            npm_package(br#"{"version":"1.0.0"}"#, "x"),
            Ok(("x".into(), "1.0.0".into()))
        );
        assert!(npm_package(b"{", "x").is_err());
        assert!(npm_package(br#"{"name":"x"}"#, "x").is_err());
        assert!(npm_package(br#"[1]"#, "x").is_err());
    }

    #[test]
    fn upstream() {
        for (a, b) in [
            ("5:7.0.15-1~deb12u1", "7.0.15"),
            ("3.11.2-6+deb12u6", "3.11.2"),
            ("18.19.0+dfsg-6~deb12u2", "18.19.0"),
            ("15.10-0+deb12u1", "15.10"),
            ("1.22.1", "1.22.1"),
            ("3.11.9-r0", "3.11.9"),
        ] {
            assert_eq!(upstream_version(a), b, "{a}");
        }
    }

    #[test]
    fn defines() {
        assert_eq!(
            c_define("#define PY_VERSION              \"3.12.1\"\n", "PY_VERSION"),
            Some("3.12.1")
        );
        assert_eq!(
            c_define(
                "#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n",
                "NODE_MINOR_VERSION"
            ),
            Some("11")
        );
        assert_eq!(c_define("#define PY_VERSION_HEX 1\n", "PY_VERSION"), None);
    }

    #[test]
    fn provenance_records() {
        let auto = apt_auto_installed(
            "Package: libcurl4\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: curl\nArchitecture: amd64\nAuto-Installed: 0\n\nPackage: zlib1g\nAuto-Installed: 1\n",
        );
        let got: Vec<(String, Option<String>)> = auto.into_iter().collect();
        assert_eq!(
            got,
            [
                ("libcurl4".to_string(), Some("amd64".to_string())),
                ("zlib1g".to_string(), None)
            ]
        );
        let reqs = requires_dist(
            "Metadata-Version: 2.1\r\nName: requests\r\nRequires-Dist: urllib3<3,>=1.21.1\r\nrequires-dist: PySocks!=1.5.7; extra == \"socks\"\r\n\r\nRequires-Dist: in-the-body\r\n",
        );
        assert_eq!(
            reqs,
            ["urllib3<3,>=1.21.1", "PySocks!=1.5.7; extra == \"socks\""]
        );
        let deps = npm_dependencies(
            br#"{"dependencies": {"a": "1"}, "devDependencies": {"b": "2"}, "peerDependencies": {"c": "3"}}"#,
        )
        .expect("valid");
        assert_eq!(deps.into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(npm_dependencies(br#"{"dependencies": []}"#).is_err());
    }
}
