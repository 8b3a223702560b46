//! Why packages are installed, as the target itself records it, read from the same
//! [`FileSet`] the inventory comes from: apt's automatic marks
//! (`/var/lib/apt/extended_states`), each Python distribution's `Requires-Dist`, each
//! npm project's own `package.json`, and the content of the files the user named.
//!
//! This is what `envsync init` needs to tell what was asked for from what came as a
//! dependency; it is not part of the snapshot (never compared, never saved), and file
//! contents in it stay in this process.

use std::collections::{BTreeMap, BTreeSet};

use super::{parse, Entry, FileSet, Kind, Selector};

/// apt's record of the packages it installed automatically.
pub const APT_EXTENDED_STATES: &str = "/var/lib/apt/extended_states";

/// What the target records about why its packages are installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Debian packages apt marks `Auto-Installed: 1`, as `(name, arch)`; `None` when the
    /// target has no `extended_states` (every package then counts as manual, as
    /// `apt-mark showmanual` counts it).
    pub apt_auto: Option<BTreeSet<(String, Option<String>)>>,
    /// Each Python distribution's `Requires-Dist` values, verbatim, by its site-packages
    /// directory and PEP 503 name.
    pub python_requires: BTreeMap<(String, String), Vec<String>>,
    /// Each npm project's direct dependencies, by project directory (the directory
    /// holding `package.json` and `node_modules`).
    pub npm_projects: BTreeMap<String, NpmProject>,
    /// The content and mode of each regular file below the paths the user named.
    pub files: BTreeMap<String, (Vec<u8>, u32)>,
}

/// An npm project's `package.json`: the names it depends on directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NpmProject {
    /// `dependencies`, `optionalDependencies` and `devDependencies` (npm installs all
    /// three by default), each name once.
    pub dependencies: BTreeSet<String>,
}

/// Read the provenance from a gathered file set; unusable records are warnings.
pub fn provenance(files: &FileSet, selector: &Selector, warnings: &mut Vec<String>) -> Provenance {
    let mut out = Provenance::default();
    if let Some((data, _)) = files.get(APT_EXTENDED_STATES) {
        let text = parse::text(APT_EXTENDED_STATES, data, warnings);
        out.apt_auto = Some(parse::apt_auto_installed(&text));
    }
    for (path, entry) in &files.entries {
        let Some(data) = (match entry {
            Entry::File { data, .. } => Some(data.as_slice()),
            Entry::Symlink(_) => files.get(path).map(|(d, _)| d),
            Entry::TooLarge { .. } => None,
        }) else {
            continue;
        };
        match selector.classify(path) {
            Some(Kind::Python) => {
                let text = parse::text(path, data, warnings);
                if let Ok((name, _)) = parse::python_metadata(&text) {
                    let (location, _) = super::site_packages_of(path);
                    out.python_requires
                        .insert((location.to_string(), name), parse::requires_dist(&text));
                }
            }
            Some(Kind::NpmProject) => match parse::npm_dependencies(data) {
                Ok(dependencies) => {
                    let dir = path.strip_suffix("/package.json").unwrap_or(path);
                    out.npm_projects
                        .insert(dir.to_string(), NpmProject { dependencies });
                }
                Err(why) => warnings.push(format!(
                    "`{path}` is not a usable package.json: {why}; skipped"
                )),
            },
            _ => {}
        }
    }
    for named in selector.files() {
        for (path, _) in files.entries.range(named.clone()..) {
            if !super::under(path, named) {
                break;
            }
            if let Some((data, mode)) = files.get(path) {
                out.files.insert(path.clone(), (data.to_vec(), mode));
            }
        }
    }
    out
}
