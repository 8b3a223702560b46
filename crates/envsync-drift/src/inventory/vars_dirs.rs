//! `group_vars/` and `host_vars/` beside an inventory file, found and read as Ansible's
//! `host_group_vars` plugin does: for a group or host NAME, the first of `NAME`,
//! `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; a directory is every file in it
//! (and in its subdirectories without an extension) with one of those extensions or none,
//! in sorted order, hidden files and `~` backups skipped; later files override earlier
//! ones. A file encrypted with Ansible Vault is skipped with a warning: envsync has no
//! vault password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{yaml, Inventory, InventoryError};

/// The extensions Ansible reads variables files with (`YAML_FILENAME_EXTENSIONS`), after
/// none at all.
const EXTENSIONS: [&str; 4] = ["", ".yml", ".yaml", ".json"];

/// What Ansible's vault writes first in every encrypted file.
const VAULT_HEADER: &str = "$ANSIBLE_VAULT";

/// The variables of `group_vars/` and `host_vars/`, merged per group and per host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarsDirs {
    pub groups: BTreeMap<String, BTreeMap<String, String>>,
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
}

fn io_error(path: &Path, what: &str, err: &std::io::Error) -> InventoryError {
    InventoryError {
        file: path.display().to_string(),
        line: None,
        message: format!("cannot {what}: {err}"),
    }
}

/// Every file of a directory Ansible reads, in its order.
fn dir_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, "list the directory", &e))?
        .map(|entry| {
            entry
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .map_err(|e| io_error(dir, "list the directory", &e))
        })
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        // Python's `os.path.splitext`: the extension starts at the last dot that is not
        // the first character.
        let ext = name
            .rfind('.')
            .filter(|at| *at > 0)
            .map_or("", |at| &name[at..]);
        if path.is_dir() {
            if ext.is_empty() {
                dir_files(&path, out)?;
            }
        } else if path.is_file() && EXTENSIONS.contains(&ext) {
            out.push(path);
        }
    }
    Ok(())
}

/// The files holding `name`'s variables under `dir` (`group_vars` or `host_vars`).
fn files_for(dir: &Path, name: &str) -> Result<Vec<PathBuf>, InventoryError> {
    let mut out = Vec::new();
    // Ansible skips names that are absolute paths (chroot-style host names).
    if name.is_empty() || name.starts_with('/') {
        return Ok(out);
    }
    for ext in EXTENSIONS {
        let path = dir.join(format!("{name}{ext}"));
        if !path.exists() {
            continue;
        }
        if path.is_dir() {
            dir_files(&path, &mut out)?;
        } else {
            out.push(path);
        }
        break;
    }
    Ok(out)
}

/// Read `names`' variables under `dir`; vaulted files are skipped with a warning.
fn read_all<'a>(
    dir: &Path,
    names: impl Iterator<Item = &'a String>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, InventoryError> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return Ok(out);
    }
    if !dir.is_dir() {
        warnings.push(format!(
            "`{}` is not a directory; Ansible and envsync skip it",
            dir.display()
        ));
        return Ok(out);
    }
    for name in names {
        let mut vars = BTreeMap::new();
        for path in files_for(dir, name)? {
            let text =
                std::fs::read_to_string(&path).map_err(|e| io_error(&path, "read it", &e))?;
            if text.starts_with(VAULT_HEADER) {
                warnings.push(format!(
                    "`{}` is encrypted with Ansible Vault; envsync has no vault password and skips it, so a connection variable (`ansible_host`, `ansible_port`, `ansible_user`) must not live only there",
                    path.display()
                ));
                continue;
            }
            vars.extend(yaml::parse_vars(&path.display().to_string(), &text)?);
        }
        if !vars.is_empty() {
            out.insert(name.clone(), vars);
        }
    }
    Ok(out)
}

/// The `group_vars/` and `host_vars/` beside the inventory file `inventory` for every
/// group and host `inv` has (files for other names are not read, as in Ansible), and a
/// warning for each file skipped.
pub fn read(inventory: &Path, inv: &Inventory) -> Result<(VarsDirs, Vec<String>), InventoryError> {
    // `hosts.ini` has the parent ``, so the directories are named as the user would.
    let base = inventory.parent().unwrap_or(Path::new(""));
    let mut warnings = Vec::new();
    let groups = read_all(&base.join("group_vars"), inv.groups.keys(), &mut warnings)?;
    let hosts = read_all(&base.join("host_vars"), inv.hosts.iter(), &mut warnings)?;
    Ok((VarsDirs { groups, hosts }, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, body) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, body).expect("write");
        }
        dir
    }

    fn check(files: &[(&str, &str)], name: &str, expected: &[&str]) {
        let dir = tree(files);
        let got: Vec<String> = files_for(&dir.path().join("group_vars"), name)
            .expect("lists")
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .expect("under the tree")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn files_are_found_as_ansible_finds_them() {
        // The first form that exists wins: no extension (a directory too), then
        // .yml, .yaml, .json.
        check(
            &[("group_vars/web.yml", ""), ("group_vars/web.json", "")],
            "web",
            &["group_vars/web.yml"],
        );
        check(
            &[
                ("group_vars/web/b.yaml", ""),
                ("group_vars/web/a", ""),
                ("group_vars/web/.hidden.yml", ""),
                ("group_vars/web/old.yml~", ""),
                ("group_vars/web/notes.txt", ""),
                ("group_vars/web/sub/c.json", ""),
                ("group_vars/web/sub.d/d.yml", ""),
                ("group_vars/web.yml", ""),
            ],
            "web",
            &[
                "group_vars/web/a",
                "group_vars/web/b.yaml",
                "group_vars/web/sub/c.json",
            ],
        );
        check(&[("group_vars/db.yml", "")], "web", &[]);
        check(&[("group_vars/x", "")], "/abs", &[]);
    }
}
