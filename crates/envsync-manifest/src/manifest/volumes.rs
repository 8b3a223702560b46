//! Service volumes: `SOURCE:TARGET[:ro|:rw]` parsed into a [`VolumeMount`], and what
//! its source names ([`MountKind`]).

/// What a volume's source names. Declared in the order of the names it serializes to, so
/// sorted mounts order as their names do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path (starting with `/` or `.`, relative paths against the manifest's directory).
    Bind,
    /// A named volume, created for the project.
    Volume,
}

impl MountKind {
    /// `volume` or `bind`, as the engine names them.
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
        }
    }
}

/// One entry of a service's `volumes`: `SOURCE:TARGET[:ro|:rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// A named volume or a host path (see [`VolumeMount::kind`]).
    pub source: String,
    /// The absolute path inside the container.
    pub target: String,
    /// Mounted read-only (`:ro`).
    pub read_only: bool,
}

impl VolumeMount {
    /// Whether `source` is a host path or a named volume.
    pub fn kind(&self) -> MountKind {
        if self.source.starts_with('/') || self.source.starts_with('.') {
            MountKind::Bind
        } else {
            MountKind::Volume
        }
    }

    /// Parse `SOURCE:TARGET[:OPTIONS]`; the error says what is wrong, for a message that
    /// names the volume. `ro` and `rw` are the only options: nothing else would reach
    /// the engine.
    pub fn parse(text: &str) -> Result<VolumeMount, String> {
        let mut parts = text.splitn(3, ':');
        let source = parts.next().unwrap_or_default();
        let target = parts.next().unwrap_or_default();
        let read_only = match parts.next() {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(options) => {
                return Err(format!(
                    "has the option `{options}`, which envsync does not apply"
                ))
            }
        };
        if !target.starts_with('/') {
            return Err("has no absolute container path".into());
        }
        if source.is_empty() {
            return Err("has no source".into());
        }
        let mount = VolumeMount {
            source: source.to_string(),
            target: target.to_string(),
            read_only,
        };
        if mount.kind() == MountKind::Volume
            && !source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!(
                "names the volume `{source}`, which is neither a volume name (letters, digits, `_`, `.`, `-`) nor a path starting with `/` or `.`"
            ));
        }
        Ok(mount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn volumes_parse_into_mounts() {
        let m = parse(&format!(
            "{HEAD}[services.pg]\nversion = \"15\"\nvolumes = [\"pgdata:/data\", \"./conf:/etc/pg:ro\", \"/srv/x:/x:rw\"]\n"
        ))
        .unwrap();
        let mount = |source: &str, target: &str, read_only| VolumeMount {
            source: source.into(),
            target: target.into(),
            read_only,
        };
        assert_eq!(
            m.services[0].volumes,
            [
                mount("pgdata", "/data", false),
                mount("./conf", "/etc/pg", true),
                mount("/srv/x", "/x", false)
            ]
        );
        let kinds: Vec<MountKind> = m.services[0]
            .volumes
            .iter()
            .map(VolumeMount::kind)
            .collect();
        assert_eq!(kinds, [MountKind::Volume, MountKind::Bind, MountKind::Bind]);
        check(
            "[services.pg]\nversion = \"15\"\nvolumes = [\"pgdata:/data\", \"pgdata:/data:ro,z\"]\n",
            "volume `pgdata:/data:ro,z` in [services.pg] has the option `ro,z`, which envsync does not apply at envsync.toml:7:28; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nvolumes = [\"pgdata:data\"]\n",
            "volume `pgdata:data` in [services.pg] has no absolute container path at envsync.toml:7:12; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`",
        );
        check(
            "[services.pg]\nversion = \"15\"\nvolumes = [\":/data\", \"my data:/data\"]\n",
            "volume `:/data` in [services.pg] has no source at envsync.toml:7:12; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`\n\
             volume `my data:/data` in [services.pg] names the volume `my data`, which is neither a volume name (letters, digits, `_`, `.`, `-`) nor a path starting with `/` or `.` at envsync.toml:7:22; write `SOURCE:/container/path[:ro]`, e.g. `[\"pgdata:/var/lib/postgresql/data\"]`",
        );
    }
}
