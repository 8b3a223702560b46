//! `envsync lock --from TARGET`: what to pin. The version a target runs of every apt,
//! Python and npm package the manifest declares, as a lock the provisioner pins from;
//! an error naming each declared package the target lacks or runs at a version the
//! manifest excludes.

use envsync_manifest::lock::location_matches;
use envsync_manifest::manifest::normalize_name;
use envsync_manifest::{Ecosystem, Lock, LockedBase, LockedComponent, Manifest};

use crate::{DriftError, Snapshot};

/// The pins `snapshot` (of the target the user named `target`) gives the declared
/// packages of `manifest`. Packages of a service are not pinned: they live in the
/// service's image, not in the target's.
pub fn pins_from_target(
    manifest: &Manifest,
    snapshot: &Snapshot,
    target: &str,
) -> Result<Lock, DriftError> {
    let mut pins = Vec::new();
    let mut lacking = Vec::new();
    let mut excluded = Vec::new();
    for d in manifest.declared() {
        let pinnable = matches!(
            d.ecosystem,
            Ecosystem::Deb | Ecosystem::Pypi | Ecosystem::Npm
        );
        if !pinnable
            || d.location
                .as_deref()
                .is_some_and(|l| l.starts_with("service:"))
        {
            continue;
        }
        let name = normalize_name(d.ecosystem, &d.name);
        let at = format!("{}:{}", manifest.file.display(), d.line);
        let id = match &d.location {
            Some(l) => format!("`{}:{}` ({l}, {at})", d.ecosystem, d.name),
            None => format!("`{}:{}` ({at})", d.ecosystem, d.name),
        };
        let found = snapshot.packages.iter().find(|p| {
            p.ecosystem == d.ecosystem
                && normalize_name(p.ecosystem, &p.name) == name
                && location_matches(d.location.as_deref(), p.location.as_deref())
        });
        match found {
            None => lacking.push(id),
            Some(p) if !d.satisfied_by(&p.version) => excluded.push(format!(
                "{id} runs `{}`, which `{}` excludes",
                p.version, d.constraint
            )),
            Some(p) => pins.push(LockedComponent {
                arch: p.arch.clone(),
                location: p.location.clone(),
                declared: true,
                ..LockedComponent::new(p.ecosystem, &p.name, &p.version)
            }),
        }
    }
    let target = target.to_string();
    if !lacking.is_empty() {
        return Err(DriftError::TargetLacks {
            target,
            packages: lacking,
        });
    }
    if !excluded.is_empty() {
        return Err(DriftError::TargetExcluded {
            target,
            packages: excluded,
        });
    }
    // Not a lock of this manifest (no manifest hash): it pins declared versions only,
    // and the closure comes from the image built with them.
    Ok(Lock::new(
        String::new(),
        LockedBase {
            image: manifest.base.image.clone(),
            digest: manifest.base.digest.clone(),
        },
        pins,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use envsync_manifest::policy::Date;

    use super::*;

    const MANIFEST: &str = "[project]\nname = \"p\"\n[base]\nimage = \"envsync/debian:bookworm\"\n\
        [apt]\njq = \"1.6.*\"\n[python]\npackages = { iniconfig = \">=1.1,<3\" }\n\
        [node]\npackages = { \"is-number\" = \"7.0.0\" }\n\
        [services.pg]\nversion = \"15\"\npackages = { postgresql-15 = \"*\" }\n";

    /// Pin the manifest to a snapshot holding `packages` (JSON objects); compare the
    /// pins as `ecosystem:name=version` words, or the error's text.
    fn check(packages: &str, expected: &str) {
        let manifest =
            Manifest::parse_on(MANIFEST, Path::new("envsync.toml"), Date::from_unix_days(0))
                .unwrap();
        let snapshot = Snapshot::from_json(&format!(
            "{{\"schema\": \"envsync.snapshot/v1\", \"target\": \"prod\", \"packages\": [{packages}]}}"
        ), "prod.json")
        .unwrap();
        let got = match pins_from_target(&manifest, &snapshot, "prod") {
            Ok(lock) => lock
                .components
                .iter()
                .map(|c| format!("{}:{}={}", c.ecosystem, c.name, c.version))
                .collect::<Vec<_>>()
                .join(" "),
            Err(err) => err.to_string(),
        };
        assert_eq!(got, expected);
    }

    const JQ: &str =
        r#"{"ecosystem": "deb", "name": "jq", "version": "1.6-2.1+deb12u3", "arch": "amd64"}"#;
    const INI: &str = r#"{"ecosystem": "pypi", "name": "iniconfig", "version": "1.1.1", "location": "/usr/local/lib/python3.11/dist-packages"}"#;
    const NUM: &str = r#"{"ecosystem": "npm", "name": "is-number", "version": "7.0.0", "location": "/usr/local/lib/node_modules"}"#;

    #[test]
    fn pins_declared_packages_to_the_target() {
        check(
            &[JQ, INI, NUM].join(","),
            "deb:jq=1.6-2.1+deb12u3 pypi:iniconfig=1.1.1 npm:is-number=7.0.0",
        );
        check(
            JQ,
            "`prod` lacks 2 declared packages: `pypi:iniconfig` (envsync.toml:8), `npm:is-number` (envsync.toml:10); install them there, or remove them from the manifest",
        );
        check(
            &[JQ, &INI.replace("1.1.1", "3.0.0"), NUM].join(","),
            "`prod` runs versions the manifest does not allow: `pypi:iniconfig` (envsync.toml:8) runs `3.0.0`, which `>=1.1,<3` excludes; relax the constraints in the manifest to lock what `prod` runs",
        );
    }
}
