//! Reading tar streams (collection-script output, the archive API, image layers) into
//! the entries a [`Selector`] keeps, under a byte budget, with whiteouts recorded for
//! image layers.

use std::io::Read;

use tar::EntryType;

use super::{normalize_path, Entry, Selector, FIXED_DIRS, FIXED_FILES, MAX_FILE_BYTES};
use crate::error::DriftError;

/// What one tar stream held that matters.
#[derive(Debug, Default)]
pub struct TarContents {
    pub entries: Vec<(String, Entry)>,
    /// Paths deleted by `.wh.NAME` files (image layers).
    pub whiteouts: Vec<String>,
    /// Directories emptied by `.wh..wh..opq` files (image layers).
    pub opaque: Vec<String>,
    pub warnings: Vec<String>,
}

/// Bytes still allowed for one collection.
#[derive(Debug)]
pub struct Budget {
    pub target: String,
    pub limit: u64,
    pub used: u64,
}

impl Budget {
    pub fn new(target: &str, limit: u64) -> Budget {
        Budget {
            target: target.to_string(),
            limit,
            used: 0,
        }
    }

    pub fn spend(&mut self, n: u64) -> Result<(), DriftError> {
        self.used = self.used.saturating_add(n);
        if self.used > self.limit {
            return Err(DriftError::TooLarge {
                target: self.target.clone(),
                limit: self.limit,
            });
        }
        Ok(())
    }
}

/// Whether a symbolic link at `path` matters: it is kept itself, or it is a directory
/// on the way to a fixed file or a named file (`/lib` → `usr/lib` on merged-/usr systems).
fn keep_symlink(selector: &Selector, path: &str) -> bool {
    if selector.classify(path).is_some() {
        return true;
    }
    let prefix_of =
        |p: &str| p.len() > path.len() && p.starts_with(path) && p.as_bytes()[path.len()] == b'/';
    FIXED_FILES.iter().chain(FIXED_DIRS).any(|p| prefix_of(p))
        || selector.files().iter().any(|p| prefix_of(p))
        || super::SEARCH_ROOTS
            .iter()
            .any(|p| prefix_of(p.trim_end_matches('*')))
}

fn malformed(target: &str, e: impl std::fmt::Display) -> DriftError {
    DriftError::Malformed {
        target: target.to_string(),
        message: format!("bad tar stream: {e}"),
    }
}

/// Read a tar stream, keeping what `selector` classifies. `layer` turns on whiteout
/// handling. Content counts against `budget`; a file over [`MAX_FILE_BYTES`] is
/// recorded as [`Entry::TooLarge`] and its content skipped.
pub fn read_tar<R: Read>(
    reader: R,
    selector: &Selector,
    budget: &mut Budget,
    layer: bool,
) -> Result<TarContents, DriftError> {
    read_tar_under(reader, "", selector, budget, layer)
}

/// [`read_tar`] for an archive whose member names are relative to `prefix` (the
/// archive API names members relative to the requested path's parent).
pub fn read_tar_under<R: Read>(
    reader: R,
    prefix: &str,
    selector: &Selector,
    budget: &mut Budget,
    layer: bool,
) -> Result<TarContents, DriftError> {
    let mut out = TarContents::default();
    let mut archive = tar::Archive::new(reader);
    let target = budget.target.clone();
    let entries = archive.entries().map_err(|e| malformed(&target, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| malformed(&target, e))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalize_path(&format!("{prefix}/{raw}"));
        let kind = entry.header().entry_type();
        if layer {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
            if name == ".wh..wh..opq" {
                out.opaque.push(if dir.is_empty() {
                    "/".into()
                } else {
                    dir.to_string()
                });
                continue;
            }
            if let Some(gone) = name.strip_prefix(".wh.") {
                out.whiteouts.push(format!("{dir}/{gone}"));
                continue;
            }
        }
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                if selector.classify(&path).is_none() {
                    continue;
                }
                let size = entry.header().size().unwrap_or(0);
                if size > MAX_FILE_BYTES {
                    out.entries.push((path, Entry::TooLarge { size }));
                    continue;
                }
                budget.spend(size)?;
                let mut data = Vec::with_capacity(size as usize);
                (&mut entry)
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut data)
                    .map_err(|e| malformed(&target, e))?;
                let mode = entry.header().mode().unwrap_or(0o644);
                out.entries.push((path, Entry::File { data, mode }));
            }
            EntryType::Symlink | EntryType::Link => {
                if !keep_symlink(selector, &path) {
                    continue;
                }
                let Some(link) = entry.link_name_bytes() else {
                    continue;
                };
                let link = String::from_utf8_lossy(&link).into_owned();
                // Hard links name another member of the same archive, relative to its root.
                let link = if kind == EntryType::Link {
                    normalize_path(&link)
                } else {
                    link
                };
                // A file listed twice is archived the second time as a hard link to
                // itself; the first entry already holds its content.
                if kind == EntryType::Link && link == path {
                    continue;
                }
                budget.spend(link.len() as u64)?;
                out.entries.push((path, Entry::Symlink(link)));
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::collect::CollectOptions;

    /// Build a tar from `(path, content)`; content starting with `->` makes a symlink.
    pub(crate) fn tar_of(items: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in items {
            let mut h = tar::Header::new_gnu();
            if let Some(target) = data.strip_prefix(b"->") {
                h.set_entry_type(EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, path, std::str::from_utf8(target).expect("utf8"))
                    .expect("link");
            } else {
                h.set_size(data.len() as u64);
                h.set_mode(0o640);
                h.set_entry_type(EntryType::Regular);
                b.append_data(&mut h, path, *data).expect("append");
            }
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn keeps_only_selected_and_records_whiteouts() {
        let data = tar_of(&[
            ("etc/os-release", b"->../usr/lib/os-release"),
            ("usr/lib/os-release", b"ID=debian\n"),
            ("etc/passwd", b"root:x:0:0"),
            ("opt/app/.wh.venv", b""),
            ("srv/.wh..wh..opq", b""),
            ("lib", b"->usr/lib"),
        ]);
        let sel = Selector::new(&CollectOptions::default());
        let mut budget = Budget::new("t", 1 << 20);
        let got = read_tar(&data[..], &sel, &mut budget, true).expect("read");
        let paths: Vec<&str> = got.entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/etc/os-release", "/usr/lib/os-release", "/lib"]);
        assert_eq!(got.whiteouts, ["/opt/app/venv"]);
        assert_eq!(got.opaque, ["/srv"]);
    }

    #[test]
    fn huge_files_are_recorded_not_read() {
        let big = vec![b'x'; (MAX_FILE_BYTES + 1) as usize];
        let data = tar_of(&[
            ("var/lib/dpkg/status", &big),
            ("etc/os-release", b"ID=debian\n"),
        ]);
        let sel = Selector::new(&CollectOptions::default());
        let got = read_tar(&data[..], &sel, &mut Budget::new("t", 1 << 20), false).expect("read");
        assert_eq!(
            got.entries[0],
            (
                "/var/lib/dpkg/status".to_string(),
                Entry::TooLarge {
                    size: MAX_FILE_BYTES + 1
                }
            )
        );
        assert_eq!(got.entries[1].0, "/etc/os-release");
    }

    #[test]
    fn budget_and_garbage() {
        let data = tar_of(&[("var/lib/dpkg/status", &[b'x'; 4096])]);
        let sel = Selector::new(&CollectOptions::default());
        let err = read_tar(&data[..], &sel, &mut Budget::new("docker:x", 100), false)
            .expect_err("over budget");
        assert!(err.to_string().contains("docker:x"), "{err}");
        let err = read_tar(
            &b"not a tar at all, just text"[..],
            &sel,
            &mut Budget::new("t", 100),
            false,
        );
        assert!(err.is_err() || err.is_ok_and(|c| c.entries.is_empty()));
    }
}
