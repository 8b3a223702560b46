//! Artifacts: the files components were installed from (a `.deb`, a wheel, an npm
//! tarball), with their checksums, as a build records them; and joining them onto the
//! components a fingerprint found, so that the lock carries each component's checksum.

use std::collections::HashMap;

use super::{location_matches, Checksum, LockedComponent};
use crate::manifest::normalize_name;
use crate::version::Ecosystem;

/// One installed artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// Debian architecture (`amd64`, `all`), for `.deb`s.
    pub arch: Option<String>,
    /// The virtualenv or Node project it was installed into; `None` for the system
    /// Python, npm's global directory, or dpkg.
    pub env: Option<String>,
    pub checksum: Checksum,
    /// The file as its source names it (pool path, wheel file name, tarball URL).
    pub file: Option<String>,
}

/// Give each component the checksum and file of the artifact it was installed from:
/// same ecosystem, normalised name and version, and (for Debian) architecture or (for
/// Python and npm) an environment whose directory holds the component's location.
/// Components without an artifact keep what they had. Returns how many were attached.
pub fn attach_artifacts(components: &mut [LockedComponent], artifacts: &[Artifact]) -> usize {
    let mut by_key: HashMap<(Ecosystem, String, &str), Vec<&Artifact>> = HashMap::new();
    for a in artifacts {
        by_key
            .entry((
                a.ecosystem,
                normalize_name(a.ecosystem, &a.name),
                &a.version,
            ))
            .or_default()
            .push(a);
    }
    let mut attached = 0;
    for c in components.iter_mut() {
        let key = (
            c.ecosystem,
            normalize_name(c.ecosystem, &c.name),
            c.version.as_str(),
        );
        let Some(candidates) = by_key.get(&key) else {
            continue;
        };
        let found = candidates.iter().find(|a| match c.ecosystem {
            Ecosystem::Deb => a.arch.is_none() || a.arch == c.arch,
            _ => location_matches(a.env.as_deref(), c.location.as_deref()),
        });
        if let Some(a) = found {
            c.checksum = Some(a.checksum.clone());
            c.file = a.file.clone();
            attached += 1;
        }
    }
    attached
}

/// Give each component without a checksum the one `earlier` (a lock) records for the
/// very same component at the very same version: an image built from that lock without
/// the package indexes (offline) installed exactly those files. Returns how many.
pub fn carry_over_checksums(
    components: &mut [LockedComponent],
    earlier: &[LockedComponent],
) -> usize {
    let mut carried = 0;
    for c in components.iter_mut().filter(|c| c.checksum.is_none()) {
        let same = earlier.iter().find(|e| {
            e.ecosystem == c.ecosystem
                && e.name == c.name
                && e.version == c.version
                && e.arch == c.arch
                && e.location == c.location
                && e.checksum.is_some()
        });
        if let Some(e) = same {
            c.checksum = e.checksum.clone();
            c.file = e.file.clone();
            carried += 1;
        }
    }
    carried
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(eco: Ecosystem, name: &str, version: &str, env: Option<&str>) -> Artifact {
        Artifact {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            arch: (eco == Ecosystem::Deb).then(|| "amd64".to_string()),
            env: env.map(str::to_string),
            checksum: Checksum::Sha256(format!("{name}-{version}")),
            file: Some(format!("{name}.file")),
        }
    }

    fn component(
        eco: Ecosystem,
        name: &str,
        version: &str,
        location: Option<&str>,
    ) -> LockedComponent {
        let mut c = LockedComponent::new(eco, name, version);
        c.location = location.map(str::to_string);
        if eco == Ecosystem::Deb {
            c.arch = Some("amd64".into());
        }
        c
    }

    #[test]
    fn attaches_by_name_version_and_place() {
        let venv = "/opt/venv/lib/python3.11/site-packages";
        let system = "/usr/local/lib/python3.11/dist-packages";
        let mut components = vec![
            component(Ecosystem::Deb, "openssl", "3.0.15-1", None),
            component(Ecosystem::Deb, "curl", "7.88.1-10", None),
            component(Ecosystem::Pypi, "Django", "4.2.16", Some(venv)),
            component(Ecosystem::Pypi, "django", "4.2.16", Some(system)),
            component(
                Ecosystem::Npm,
                "dayjs",
                "1.11.13",
                Some("/srv/app/node_modules"),
            ),
        ];
        let artifacts = vec![
            artifact(Ecosystem::Deb, "openssl", "3.0.15-1", None),
            // Another version of curl: not this component's artifact.
            artifact(Ecosystem::Deb, "curl", "7.88.1-11", None),
            artifact(Ecosystem::Pypi, "django", "4.2.16", Some("/opt/venv")),
            artifact(Ecosystem::Npm, "dayjs", "1.11.13", Some("/srv/app")),
        ];
        assert_eq!(attach_artifacts(&mut components, &artifacts), 3);
        let sums: Vec<Option<String>> = components
            .iter()
            .map(|c| c.checksum.as_ref().map(|s| s.to_string()))
            .collect();
        assert_eq!(
            sums,
            [
                Some("sha256:openssl-3.0.15-1".to_string()),
                None,
                Some("sha256:django-4.2.16".to_string()),
                // The venv's wheel is not the system copy's.
                None,
                Some("sha256:dayjs-1.11.13".to_string()),
            ]
        );
        assert_eq!(components[0].file.as_deref(), Some("openssl.file"));

        // What an offline build could not record comes from the lock it was built from,
        // for the same version only.
        let mut earlier = components.clone();
        earlier[1].checksum = Some(Checksum::Sha256("curl".into()));
        earlier[3].version = "4.2.17".into();
        earlier[3].checksum = Some(Checksum::Sha256("other".into()));
        assert_eq!(carry_over_checksums(&mut components, &earlier), 1);
        assert_eq!(
            components[1].checksum,
            Some(Checksum::Sha256("curl".into()))
        );
        assert_eq!(components[3].checksum, None);
    }
}
