//! Mapping a manifest (and, when there is one, its lock) onto a [`BuildSpec`].
//!
//! Versions: a component the lock records at a version that still satisfies the
//! manifest is installed at exactly that version (`envsync lock --from TARGET` passes a
//! lock of the target's versions here, so the same rule pins them); otherwise the
//! manifest's constraint decides (exact, `*` for any, or a range).
//!
//! A lock made from this very manifest (same manifest hash, current schema) also gives
//! the image's whole closure ([`LockedSet`]): every Debian package and every hashed
//! wheel, installed exactly as locked. A lock of an earlier manifest pins only what the
//! manifest declares, since the closure it records may no longer fit.

use std::path::Path;

use envsync_manifest::lock::location_matches;
use envsync_manifest::lock::{LockedComponent, LOCK_SCHEMA};
use envsync_manifest::manifest::{
    normalize_name, FileEntry, PackageSet as ManifestSet, Requirement, Service,
};
use envsync_manifest::{Constraint, Ecosystem, Lock, Manifest};

use crate::dockerfile::marker::{ImageIdentity, DEV_IMAGE};
use crate::error::ProvisionError;
use crate::middleware::{service_build_spec, ServiceRecipe};
use crate::run_error::RunError;
use crate::spec::{
    BuildSpec, FileSource, FileSpec, LockedDeb, LockedSet, LockedTarball, LockedWheel, NodeSpec,
    PackageSet, Pin, PythonSpec, Req, SourceSpec,
};

/// The build input for `manifest`, with exact versions from `lock` where it has them.
/// Relative paths (files, CA bundles) are taken from the manifest's directory.
pub fn spec_from_manifest(
    manifest: &Manifest,
    lock: Option<&Lock>,
) -> Result<BuildSpec, ProvisionError> {
    let file = manifest.file.display().to_string();
    let dir = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if manifest.is_alpine() || !manifest.apk.is_empty() {
        return Err(ProvisionError::InvalidSpec {
            field: format!("{file} [base] image"),
            value: manifest.base.image.clone(),
            reason: "`envsync build` builds Debian-based images only; use a Debian or Ubuntu base with [apt]".into(),
        });
    }
    let mut spec = BuildSpec::new(&manifest.project.name, &manifest.base.image);
    spec.identity = Some(ImageIdentity {
        project: manifest.project.name.clone(),
        image: DEV_IMAGE.to_string(),
    });
    spec.base_digest = manifest.base.digest.clone().or_else(|| {
        lock.filter(|l| l.base.image == manifest.base.image)
            .and_then(|l| l.base.digest.clone())
    });
    spec.apt = manifest
        .apt
        .iter()
        .map(|r| pin(Ecosystem::Deb, r, None, lock, &file))
        .collect::<Result<_, _>>()?;
    spec.python = python_spec(manifest, lock, &file)?;
    spec.node = node_spec(manifest, lock, &file)?;
    spec.files = file_specs(&manifest.files, "files", &dir, &file)?;
    spec.ca_certificates = manifest
        .build
        .ca_certificates
        .iter()
        .map(|p| dir.join(p))
        .collect();
    spec.sources = source_spec(manifest);
    spec.locked = lock
        .filter(|l| locks_this(l, manifest))
        .map(|lock| dev_locked_set(manifest, lock));
    Ok(spec)
}

/// The constraint `[runtimes]` gives `name`, if any.
fn runtime_constraint(manifest: &Manifest, name: &str) -> Option<String> {
    manifest
        .runtimes
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.constraint.clone())
}

/// `[python]` (and a `python` runtime) as the build installs it: the interpreter's
/// version prefix, system packages and virtualenvs, pinned from the lock where it can.
fn python_spec(
    manifest: &Manifest,
    lock: Option<&Lock>,
    file: &str,
) -> Result<Option<PythonSpec>, ProvisionError> {
    let version = manifest
        .python
        .as_ref()
        .and_then(|p| p.version.as_ref().map(|v| v.constraint.clone()))
        .or_else(|| runtime_constraint(manifest, "python"));
    if manifest.python.is_none() && version.is_none() {
        return Ok(None);
    }
    let python = manifest.python.clone().unwrap_or_default();
    Ok(Some(PythonSpec {
        version: version.and_then(|v| version_prefix(&v)),
        packages: python
            .packages
            .iter()
            .map(|r| pin(Ecosystem::Pypi, r, None, lock, file))
            .collect::<Result<_, _>>()?,
        venvs: sets(Ecosystem::Pypi, &python.venvs, lock, file)?,
    }))
}

/// `[node]` (and a `node` runtime) as the build installs it: the runtime's version
/// prefix, global packages and projects, pinned from the lock where it can.
fn node_spec(
    manifest: &Manifest,
    lock: Option<&Lock>,
    file: &str,
) -> Result<Option<NodeSpec>, ProvisionError> {
    let version = manifest
        .node
        .as_ref()
        .and_then(|n| n.version.as_ref().map(|v| v.constraint.clone()))
        .or_else(|| runtime_constraint(manifest, "node"));
    if manifest.node.is_none() && version.is_none() {
        return Ok(None);
    }
    let node = manifest.node.clone().unwrap_or_default();
    Ok(Some(NodeSpec {
        version: version.and_then(|v| version_prefix(&v)),
        packages: node
            .packages
            .iter()
            .map(|r| pin(Ecosystem::Npm, r, None, lock, file))
            .collect::<Result<_, _>>()?,
        projects: sets(Ecosystem::Npm, &node.projects, lock, file)?,
    }))
}

/// `[files]` (or a service's, `section` naming it): each host file (relative to the
/// manifest's directory `dir`) with the mode it is copied with; a file that cannot be
/// read names its manifest line.
fn file_specs(
    files: &[FileEntry],
    section: &str,
    dir: &Path,
    file: &str,
) -> Result<Vec<FileSpec>, ProvisionError> {
    files
        .iter()
        .map(|entry| {
            let host = dir.join(&entry.local_path);
            let metadata =
                std::fs::metadata(&host).map_err(|source| ProvisionError::ReadInput {
                    path: host.clone(),
                    what: format!(
                        "[{section}] `{}` at {file}:{}",
                        entry.container_path, entry.line
                    ),
                    source,
                })?;
            Ok(FileSpec {
                path: entry.container_path.clone(),
                source: FileSource::Host(host),
                mode: normalized_mode(&metadata),
            })
        })
        .collect()
}

/// The development image's locked closure, for a lock made from this very manifest.
fn dev_locked_set(manifest: &Manifest, lock: &Lock) -> LockedSet {
    let venvs: Vec<&str> = manifest
        .python
        .iter()
        .flat_map(|p| p.venvs.iter().map(|v| v.path.as_str()))
        .collect();
    let projects: Vec<&str> = manifest
        .node
        .iter()
        .flat_map(|n| n.projects.iter().map(|p| p.path.as_str()))
        .collect();
    locked_set(&lock.components, &venvs, &projects)
}

/// The recipe of `service`, which envsync builds from Debian packages (it has no
/// `image`): its packages at the versions the lock's image of the service records when
/// they satisfy the manifest, else the manifest's own constraints; and, when the lock
/// was made from this manifest, the service image's whole locked closure and base.
pub fn service_recipe(
    manifest: &Manifest,
    service: &Service,
    lock: Option<&Lock>,
) -> Result<ServiceRecipe, RunError> {
    let file = manifest.file.display().to_string();
    let locked_image = lock.and_then(|l| l.services.get(&service.name));
    let pins = service
        .packages
        .iter()
        .map(|req| {
            let pin = pin(Ecosystem::Deb, req, None, None, &file).map_err(|source| {
                RunError::InvalidPin {
                    field: format!("[services.{}] at {file}:{}", service.name, req.line),
                    source: Box::new(source),
                }
            })?;
            let wanted = normalize_name(Ecosystem::Deb, &req.name);
            let locked = locked_image.and_then(|image| {
                image.components.iter().find(|c| {
                    c.ecosystem == Ecosystem::Deb
                        && normalize_name(Ecosystem::Deb, &c.name) == wanted
                        && Constraint::parse(Ecosystem::Deb, &req.constraint)
                            .is_ok_and(|constraint| constraint.matches(&c.version))
                })
            });
            Ok(match locked {
                Some(c) => Pin::exact(&req.name, &c.version),
                None => pin,
            })
        })
        .collect::<Result<Vec<Pin>, RunError>>()?;
    let mut recipe = service_build_spec(&service.name, &service.version, &pins)?;
    // The service's configuration files are copied into its image, after the recipe's
    // own: part of the image's inventory, so its lock hashes them and `up` verifies them.
    let dir = manifest.file.parent().unwrap_or(Path::new(""));
    let section = format!("services.{}.files", service.name);
    let files = file_specs(&service.files, &section, dir, &file).map_err(|source| {
        RunError::InvalidPin {
            field: format!("[services.{}] at {file}:{}", service.name, service.line),
            source: Box::new(source),
        }
    })?;
    recipe.build.files.extend(files);
    recipe.build.sources = source_spec(manifest);
    recipe.build.identity = Some(ImageIdentity {
        project: manifest.project.name.clone(),
        image: service.name.clone(),
    });
    if let Some(image) = locked_image.filter(|_| lock.is_some_and(|l| locks_this(l, manifest))) {
        if image.base.image == recipe.build.base_image {
            recipe.build.base_digest = image.base.digest.clone();
        }
        recipe.build.locked = Some(locked_set(&image.components, &[], &[]));
    }
    Ok(recipe)
}

/// Take the packages called `names` (`NAME`, or `deb:NAME` / `pypi:NAME`) out of the
/// locked closure of `spec`, to be resolved again (`envsync lock --update NAME…`): a
/// Debian package at the version the manifest pins, else the sources' candidate, in
/// the closure's own transaction; a Python package upgraded with what it requires.
/// `unlocked` is the same image's spec without a lock, whose pins are the manifest's
/// own constraints. Everything else stays as locked. Returns the names that matched.
pub fn take_out_of_lock(
    spec: &mut BuildSpec,
    unlocked: &BuildSpec,
    names: &[(Option<Ecosystem>, String)],
) -> Vec<String> {
    let Some(locked) = spec.locked.as_mut() else {
        return Vec::new();
    };
    let mut matched = Vec::new();
    for (ecosystem, name) in names {
        let wants = |eco: Ecosystem, other: &str| {
            ecosystem.is_none_or(|e| e == eco)
                && normalize_name(eco, other) == normalize_name(eco, name)
        };
        if locked.debs.iter().any(|d| wants(Ecosystem::Deb, &d.name)) {
            locked.debs.retain(|d| !wants(Ecosystem::Deb, &d.name));
            let pin = unlocked
                .apt
                .iter()
                .find(|p| wants(Ecosystem::Deb, &p.name))
                .cloned()
                .unwrap_or_else(|| Pin::any(name));
            locked.update_debs.push(pin);
            matched.push(format!("deb:{name}"));
        }
        let envs: Vec<Option<String>> = locked
            .wheels
            .iter()
            .filter(|w| wants(Ecosystem::Pypi, &w.name))
            .map(|w| w.env.clone())
            .collect();
        if !envs.is_empty() {
            locked.wheels.retain(|w| !wants(Ecosystem::Pypi, &w.name));
            for env in envs {
                let declared = unlocked.python.as_ref().and_then(|python| {
                    let pins = match &env {
                        None => Some(&python.packages),
                        Some(path) => python
                            .venvs
                            .iter()
                            .find(|v| &v.path == path)
                            .map(|v| &v.packages),
                    };
                    pins?
                        .iter()
                        .find(|p| wants(Ecosystem::Pypi, &p.name))
                        .cloned()
                });
                locked
                    .update_wheels
                    .push((env, declared.unwrap_or_else(|| Pin::any(name))));
            }
            matched.push(format!("pypi:{name}"));
        }
    }
    matched
}

/// `spec` pinned to `components` (an image's components at the versions wanted, as
/// `envsync lock --from TARGET` derives them): every Debian package as the closure to
/// install, and every Python package of the system Python or a virtualenv of `spec` as
/// an exact pin beside the declared ones (pip resolves them together).
pub fn pin_to_components(spec: &mut BuildSpec, components: &[LockedComponent]) {
    let mut locked = locked_set(components, &[], &[]);
    locked.wheels.clear();
    spec.locked = Some(locked);
    let Some(python) = spec.python.as_mut() else {
        return;
    };
    for c in components.iter().filter(|c| c.ecosystem == Ecosystem::Pypi) {
        let location = c.location.as_deref();
        let set = match python
            .venvs
            .iter_mut()
            .find(|v| location_matches(Some(&v.path), location))
        {
            Some(venv) => &mut venv.packages,
            None if location.is_some_and(|l| l.starts_with("/usr/local/")) => &mut python.packages,
            None => continue,
        };
        let wanted = normalize_name(Ecosystem::Pypi, &c.name);
        set.retain(|p| normalize_name(Ecosystem::Pypi, &p.name) != wanted);
        set.push(Pin::exact(&c.name, &c.version));
    }
}

/// The manifest's `[sources]`, key files resolved against the manifest's directory.
fn source_spec(manifest: &Manifest) -> SourceSpec {
    let dir = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let sources = &manifest.sources;
    SourceSpec {
        apt: sources.apt.clone(),
        apt_keys: sources.apt_keys.iter().map(|k| dir.join(k)).collect(),
        apt_snapshot: sources.apt_snapshot.clone(),
        pypi_index: sources.pypi_index.clone(),
        npm_registry: sources.npm_registry.clone(),
    }
}

/// Whether `lock` was made from this very manifest, in the current schema, so that the
/// closure it records is the one to build.
pub fn locks_this(lock: &Lock, manifest: &Manifest) -> bool {
    lock.schema == LOCK_SCHEMA && lock.made_from(manifest)
}

/// The closure a build installs from one image's locked components: every Debian
/// package, and the Python packages that carry the sha256 of their wheel, in the system
/// Python or the virtualenv (one of `venvs`) whose directory holds them. Python packages
/// without a wheel checksum came with a Debian package or the virtualenv itself.
pub fn locked_set(components: &[LockedComponent], venvs: &[&str], projects: &[&str]) -> LockedSet {
    let debs = components
        .iter()
        .filter(|c| c.ecosystem == Ecosystem::Deb)
        .filter_map(|c| {
            Some(LockedDeb {
                name: c.name.clone(),
                arch: c.arch.clone()?,
                version: c.version.clone(),
                sha256: c
                    .checksum
                    .as_ref()
                    .and_then(|s| s.sha256())
                    .map(str::to_string),
            })
        })
        .collect();
    let wheels = components
        .iter()
        .filter(|c| c.ecosystem == Ecosystem::Pypi)
        .filter_map(|c| {
            let sha256 = c.checksum.as_ref()?.sha256()?.to_string();
            let location = c.location.as_deref();
            let env = match venvs.iter().find(|v| location_matches(Some(v), location)) {
                Some(venv) => Some(venv.to_string()),
                None if location.is_some_and(|l| l.starts_with("/usr/local/")) => None,
                None => return None,
            };
            Some(LockedWheel {
                env,
                name: c.name.clone(),
                version: c.version.clone(),
                sha256,
                file: c.file.clone(),
            })
        })
        .collect();
    // npm packages with their integrity: each project's whole tree (its generated
    // package-lock.json) and the global directory's top level.
    let tarballs = components
        .iter()
        .filter(|c| c.ecosystem == Ecosystem::Npm)
        .filter_map(|c| {
            let integrity = match c.checksum.as_ref()? {
                envsync_manifest::lock::Checksum::Integrity(sri) => sri.clone(),
                envsync_manifest::lock::Checksum::Sha256(_) => return None,
            };
            let location = c.location.as_deref()?;
            // A project's packages, nested ones included (they go into its generated
            // package-lock.json); the global directory's top level.
            let (project, path) = match projects.iter().find_map(|p| {
                let p = p.trim_end_matches('/');
                let rest = location.strip_prefix(p)?.strip_prefix('/')?;
                (rest == "node_modules" || rest.starts_with("node_modules/"))
                    .then(|| (p.to_string(), format!("{rest}/{}", c.name)))
            }) {
                Some((p, path)) => (Some(p), path),
                None if location == "/usr/local/lib/node_modules" => {
                    (None, format!("node_modules/{}", c.name))
                }
                None => return None,
            };
            Some(LockedTarball {
                project,
                name: c.name.clone(),
                version: c.version.clone(),
                integrity,
                file: c.file.clone(),
                path,
            })
        })
        .collect();
    LockedSet {
        debs,
        wheels,
        tarballs,
        ..LockedSet::default()
    }
}

fn sets(
    ecosystem: Ecosystem,
    sets: &[ManifestSet],
    lock: Option<&Lock>,
    file: &str,
) -> Result<Vec<PackageSet>, ProvisionError> {
    sets.iter()
        .map(|set| {
            Ok(PackageSet {
                path: set.path.clone(),
                packages: set
                    .packages
                    .iter()
                    .map(|r| pin(ecosystem, r, Some(&set.path), lock, file))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// The version to install for one requirement: the lock's, when it satisfies the
/// constraint; else the constraint's exact version, any version, or the range.
fn pin(
    ecosystem: Ecosystem,
    req: &Requirement,
    location: Option<&str>,
    lock: Option<&Lock>,
    file: &str,
) -> Result<Pin, ProvisionError> {
    let constraint = Constraint::parse(ecosystem, &req.constraint).map_err(|source| {
        ProvisionError::InvalidConstraint {
            field: format!("{file}:{}:{} `{}`", req.line, req.column, req.name),
            value: req.constraint.clone(),
            source: Box::new(source),
        }
    })?;
    let wanted = normalize_name(ecosystem, &req.name);
    // Snapshots record where a copy lives (`/opt/venv/lib/python3.11/site-packages` for
    // the venv `/opt/venv`, `/usr/local/lib/python3.11/dist-packages` for a global
    // install), so the lock's copy is found the way `Lock::check` finds it; a copy the
    // lock marks as declared wins over another copy of the same name.
    let locked = lock.and_then(|l| {
        let mut copies = l.components.iter().filter(|c| {
            c.ecosystem == ecosystem
                && normalize_name(ecosystem, &c.name) == wanted
                && location_matches(location, c.location.as_deref())
        });
        let first = copies.next()?;
        Some(
            std::iter::once(first)
                .chain(copies)
                .find(|c| c.declared)
                .unwrap_or(first),
        )
    });
    if let Some(locked) = locked.filter(|c| constraint.matches(&c.version)) {
        return Ok(Pin::exact(&req.name, &locked.version));
    }
    Ok(match constraint.exact() {
        Some(exact) => Pin::exact(&req.name, exact),
        None if req.constraint.trim() == "*" => Pin::any(&req.name),
        None => Pin {
            name: req.name.clone(),
            req: Req::Range(req.constraint.trim().to_string()),
        },
    })
}

/// A runtime constraint usable as a version prefix (`3.11`, `18`); ranges are left to
/// the fingerprint after the build.
fn version_prefix(constraint: &str) -> Option<String> {
    let text = constraint
        .trim()
        .trim_start_matches("==")
        .trim_end_matches(".*");
    (!text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .then(|| text.to_string())
}

/// Like git: executable files become 0755, others 0644, so the image tag does not
/// depend on the umask of the machine that checked the files out.
fn normalized_mode(metadata: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o111 != 0 {
            return 0o755;
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, text: &str) -> Manifest {
        let path = dir.join("envsync.toml");
        std::fs::write(&path, text).unwrap();
        Manifest::load(&path).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn check(spec: &BuildSpec, expected_dockerfile_lines: &[&str]) {
        let dockerfile = crate::render_dockerfile(spec);
        for line in expected_dockerfile_lines {
            assert!(
                dockerfile.lines().any(|l| l.contains(line)),
                "no line containing {line:?} in\n{dockerfile}"
            );
        }
    }

    #[test]
    fn maps_every_section() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/app.ini"), "x = 1\n").unwrap();
        let m = manifest(
            dir.path(),
            r#"
[project]
name = "demo"

[base]
image = "envsync/debian:bookworm"

[apt]
jq = "1.6-2.1+deb12u3"
curl = "*"

[runtimes]
node = "18"

[python]
version = "3.11"
packages = { requests = "==2.31.0", django = "~=4.2.7" }

[python.venvs."/opt/venv".packages]
six = "==1.16.0"

[node]
packages = { "is-number" = "7.0.0" }

[files]
"/etc/app/app.ini" = "config/app.ini"

[env]
TZ = "UTC"
"#,
        );
        let spec = spec_from_manifest(&m, None).unwrap();
        assert_eq!(spec.project, "demo");
        assert_eq!(spec.base_image, "envsync/debian:bookworm");
        assert_eq!(spec.files[0].mode, 0o644);
        check(
            &spec,
            &[
                "install -y -q --no-install-recommends curl jq=1.6-2.1+deb12u3 python3 python3-pip python3-venv nodejs npm",
                "case \"$found\" in 3.11|3.11.*)",
                "case \"$found\" in 18|18.*)",
                "python3 -m pip install --break-system-packages --report /var/lib/envsync/pip-system.json 'django~=4.2.7' requests==2.31.0",
                "/opt/venv/bin/python -m pip install --report /var/lib/envsync/pip-env-2f6f70742f76656e76.json six==1.16.0",
                "RUN set -e; npm install -g is-number@7.0.0",
                "COPY [\"files/0000\", \"/etc/app/app.ini\"]",
            ],
        );
        // [env] reaches containers at run time, never an image layer.
        assert!(!crate::render_dockerfile(&spec).contains("ENV "));
    }

    #[test]
    fn missing_file_names_the_manifest_line() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(
            dir.path(),
            "[project]\nname = \"demo\"\n\n[base]\nimage = \"envsync/debian:bookworm\"\n\n[files]\n\"/etc/x\" = \"nope.ini\"\n",
        );
        let err = spec_from_manifest(&m, None).unwrap_err().to_string();
        assert!(err.contains("[files] `/etc/x` at "), "{err}");
        assert!(err.contains("envsync.toml:8"), "{err}");
    }

    #[test]
    fn lock_versions_win_when_they_satisfy_the_manifest() {
        use envsync_manifest::{LockedBase, LockedComponent};
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(
            dir.path(),
            r#"
[project]
name = "demo"

[base]
image = "envsync/debian:bookworm"

[apt]
curl = "7.88.*"
jq = "1.6-2.1+deb12u3"

[python.venvs."/opt/venv".packages]
Django = "~=4.2.7"
"#,
        );
        let component =
            |ecosystem, name: &str, version: &str, location: Option<&str>| LockedComponent {
                location: location.map(str::to_string),
                declared: true,
                ..LockedComponent::new(ecosystem, name, version)
            };
        let digest = format!("sha256:{}", "c".repeat(64));
        let lock = Lock::new(
            m.sha256.clone(),
            LockedBase {
                image: "envsync/debian:bookworm".into(),
                digest: Some(digest.clone()),
            },
            vec![
                component(Ecosystem::Deb, "curl", "7.88.1-10+deb12u15", None),
                // A stale lock entry the manifest no longer allows is not used.
                component(Ecosystem::Deb, "jq", "1.6-2.1+deb12u2", None),
                component(
                    Ecosystem::Pypi,
                    "django",
                    "4.2.16",
                    Some("/opt/venv/lib/python3.11/site-packages"),
                ),
                // A copy in another environment is not this declaration's.
                component(
                    Ecosystem::Pypi,
                    "django",
                    "4.2.17",
                    Some("/usr/local/lib/python3.11/dist-packages"),
                ),
            ],
        );
        let spec = spec_from_manifest(&m, Some(&lock)).unwrap();
        assert_eq!(spec.base_digest, Some(digest));
        assert_eq!(
            spec.apt,
            vec![
                Pin::exact("curl", "7.88.1-10+deb12u15"),
                Pin::exact("jq", "1.6-2.1+deb12u3")
            ]
        );
        let venv = &spec.python.as_ref().unwrap().venvs[0];
        assert_eq!(venv.packages, vec![Pin::exact("Django", "4.2.16")]);
        let unlocked = spec_from_manifest(&m, None).unwrap();
        assert_eq!(unlocked.apt[0], Pin::range("curl", "7.88.*"));
    }

    #[test]
    fn runtime_prefixes() {
        assert_eq!(version_prefix("3.11"), Some("3.11".into()));
        assert_eq!(version_prefix("==3.11.*"), Some("3.11".into()));
        assert_eq!(version_prefix(">=3.9"), None);
    }
}
