//! Reading tar streams (collection-script output, the archive API, image layers) into
//! the entries a [`Selector`] keeps, under a byte budget, with whiteouts recorded for
//! image layers.

use std::io::Read;

use tar::EntryType;

use super::{normalize_path, Entry, Selector, FIXED_DIRS, FIXED_FILES, MAX_FILE_BYTES};
use crate::error::DriftError;

/// What one tar stream held that matters.
#[derive(Debug, Default, Clone)]
pub struct TarContents {
    pub entries: Vec<(String, Entry)>,
    /// Paths deleted by `.wh.NAME` files (image layers).
    pub whiteouts: Vec<String>,
    /// Directories emptied by `.wh..wh..opq` files (image layers).
    pub opaque: Vec<String>,
    pub warnings: Vec<String>,
    /// Targets of kept hard links whose content this read did not keep (image layers,
    /// where unselected files are skipped as they stream by); a second read that also
    /// keeps these paths resolves the links.
    pub unresolved_links: Vec<String>,
    /// Bytes of the stream up to and including its end-of-archive marker.
    pub consumed: u64,
}

/// A reader that counts what it hands out and remembers whether its source ended, so
/// that a stream cut at an entry boundary (which the tar crate takes for a normal end)
/// is told apart from one that ends with its end-of-archive marker.
struct Tracked<R> {
    inner: R,
    consumed: u64,
    eof: bool,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.consumed += n as u64;
        Ok(n)
    }
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
        || selector.extra_fixed.iter().any(|p| prefix_of(p))
        || super::SEARCH_ROOTS
            .iter()
            .any(|p| prefix_of(p.trim_end_matches('*')))
}

/// A tar reading error: a stream that ends inside an entry was cut (the collection did
/// not finish), anything else is malformed.
fn tar_err(target: &str, last: &str, e: &std::io::Error) -> DriftError {
    // The tar crate reports a short stream as `Other` with these messages.
    let text = e.to_string();
    if e.kind() == std::io::ErrorKind::UnexpectedEof
        || text.contains("unexpected EOF")
        || text.contains("failed to read entire block")
    {
        return DriftError::Incomplete {
            target: target.to_string(),
            what: format!("the tar stream ended inside an entry (after `{last}`)"),
        };
    }
    malformed(target, e)
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
///
/// The stream must end with its end-of-archive marker (two zero blocks): a stream that
/// stops at an entry boundary is an error, never a shorter list of files. Sizes are the
/// entries' real sizes (PAX `size` records included), and the bytes read are what is
/// counted against `budget`.
///
/// Hard links resolve to their content. A stream sent by a target (`layer` false) was
/// selected by the sender, so every regular file in it is kept until the end, in case a
/// kept hard link names it; files the selector does not keep are dropped afterwards. In
/// an image layer unselected files are skipped as they stream by, and a kept link to one
/// of them is listed in [`TarContents::unresolved_links`].
pub fn read_tar_under<R: Read>(
    reader: R,
    prefix: &str,
    selector: &Selector,
    budget: &mut Budget,
    layer: bool,
) -> Result<TarContents, DriftError> {
    let mut tracked = Tracked {
        inner: reader,
        consumed: 0,
        eof: false,
    };
    let mut read = TarRead {
        prefix,
        selector,
        target: budget.target.clone(),
        budget,
        layer,
        out: TarContents::default(),
        unselected: Vec::new(),
        last: String::from("(none)"),
    };
    {
        let mut archive = tar::Archive::new(&mut tracked);
        let entries = archive.entries().map_err(|e| malformed(&read.target, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| tar_err(&read.target, &read.last, &e))?;
            read.entry(entry)?;
        }
    }
    check_end_marker(&mut tracked, &read.target, &read.last)?;
    let mut out = read.out;
    out.consumed = tracked.consumed;
    Ok(out)
}

/// One read of a tar stream in progress: what it keeps so far, and how it judges each
/// entry (one handler per entry kind).
struct TarRead<'a> {
    prefix: &'a str,
    selector: &'a Selector,
    budget: &'a mut Budget,
    layer: bool,
    target: String,
    out: TarContents,
    /// Regular files read but not selected, kept only as possible hard-link targets.
    unselected: Vec<(String, Entry)>,
    /// The path of the latest entry, to say where a cut stream stopped.
    last: String,
}

impl TarRead<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), DriftError> {
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalize_path(&format!("{}/{raw}", self.prefix));
        self.last.clone_from(&path);
        if self.layer && self.whiteout(&path) {
            return Ok(());
        }
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(&mut entry, path)
            }
            EntryType::Link => self.hard_link(&entry, path),
            EntryType::Symlink => self.symlink(&entry, path),
            _ => Ok(()),
        }
    }

    /// Record an image layer's whiteout (`.wh.NAME`) or opaque marker (`.wh..wh..opq`);
    /// whether `path` was one.
    fn whiteout(&mut self, path: &str) -> bool {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        if name == ".wh..wh..opq" {
            self.out.opaque.push(if dir.is_empty() {
                "/".into()
            } else {
                dir.to_string()
            });
            return true;
        }
        if let Some(gone) = name.strip_prefix(".wh.") {
            self.out.whiteouts.push(format!("{dir}/{gone}"));
            return true;
        }
        false
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: String,
    ) -> Result<(), DriftError> {
        let selected = self.selector.classify(&path).is_some();
        if !selected && self.layer {
            return Ok(());
        }
        // `Entry::size` is the real size: a PAX `size` record overrides the
        // header's field, which may say 0.
        let size = entry.size();
        let item = if size > MAX_FILE_BYTES {
            Entry::TooLarge { size }
        } else {
            let mut data = Vec::new();
            entry
                .take(MAX_FILE_BYTES + 1)
                .read_to_end(&mut data)
                .map_err(|e| tar_err(&self.target, &self.last, &e))?;
            self.budget.spend(data.len() as u64)?;
            let mode = entry.header().mode().unwrap_or(0o644);
            Entry::File { data, mode }
        };
        if selected {
            self.out.entries.push((path, item));
        } else {
            self.unselected.push((path, item));
        }
        Ok(())
    }

    fn hard_link<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        path: String,
    ) -> Result<(), DriftError> {
        let Some(link) = entry.link_name_bytes() else {
            return Ok(());
        };
        // Hard links name another member of the same archive, relative to its root.
        let link = normalize_path(&format!(
            "{}/{}",
            self.prefix,
            String::from_utf8_lossy(&link)
        ));
        // A file listed twice is archived the second time as a hard link to
        // itself; the first entry already holds its content.
        if link == path || self.selector.classify(&path).is_none() {
            if !self.layer && link != path {
                // It may itself be the target of a later kept link.
                if let Some(item) = find_entry(&self.out.entries, &self.unselected, &link) {
                    let item = item.clone();
                    spend_entry(self.budget, &item)?;
                    self.unselected.push((path, item));
                }
            }
            return Ok(());
        }
        match find_entry(&self.out.entries, &self.unselected, &link) {
            Some(item) => {
                let item = item.clone();
                spend_entry(self.budget, &item)?;
                self.out.entries.push((path, item));
            }
            None if self.layer => {
                self.out.unresolved_links.push(link.clone());
                self.out.entries.push((path, Entry::Symlink(link)));
            }
            None => self.out.warnings.push(format!(
                "`{path}` is a hard link to `{link}`, which the stream does not hold; skipped"
            )),
        }
        Ok(())
    }

    fn symlink<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        path: String,
    ) -> Result<(), DriftError> {
        if !keep_symlink(self.selector, &path) {
            return Ok(());
        }
        let Some(link) = entry.link_name_bytes() else {
            return Ok(());
        };
        let link = String::from_utf8_lossy(&link).into_owned();
        self.budget.spend(link.len() as u64)?;
        self.out.entries.push((path, Entry::Symlink(link)));
        Ok(())
    }
}

/// After the tar crate stopped at the first zero block: the source must not have
/// ended before it, and the second zero block of the end-of-archive marker must follow.
fn check_end_marker<R: Read>(
    tracked: &mut Tracked<R>,
    target: &str,
    last: &str,
) -> Result<(), DriftError> {
    if tracked.eof {
        return Err(DriftError::Incomplete {
            target: target.to_string(),
            what: format!(
                "the tar stream ended without its end-of-archive marker (last entry `{last}`)"
            ),
        });
    }
    // The tar crate stops at the first zero block; the marker is two.
    let mut second = [0u8; 512];
    tracked
        .read_exact(&mut second)
        .map_err(|_| DriftError::Incomplete {
            target: target.to_string(),
            what: "the tar stream ended inside its end-of-archive marker".to_string(),
        })?;
    if second.iter().any(|b| *b != 0) {
        return Err(malformed(
            target,
            "data after the first end-of-archive block",
        ));
    }
    Ok(())
}

/// The entry kept for `path`, selected or not (the latest one wins, as in an archive).
fn find_entry<'a>(
    selected: &'a [(String, Entry)],
    unselected: &'a [(String, Entry)],
    path: &str,
) -> Option<&'a Entry> {
    selected
        .iter()
        .chain(unselected)
        .rev()
        .find(|(p, _)| p == path)
        .map(|(_, e)| e)
}

/// Count a copied entry (a resolved hard link) against the budget.
fn spend_entry(budget: &mut Budget, entry: &Entry) -> Result<(), DriftError> {
    match entry {
        Entry::File { data, .. } => budget.spend(data.len() as u64),
        _ => Ok(()),
    }
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

    /// A tar whose one entry's header says 0 bytes while a PAX record gives its real size.
    fn pax_sized(path: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let size = data.len().to_string();
        b.append_pax_extensions([("size", size.as_bytes())])
            .expect("pax");
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_entry_type(EntryType::Regular);
        b.append_data(&mut h, path, data).expect("append");
        b.into_inner().expect("tar")
    }

    /// What was seen: PAX size records let content past both limits. The real size is
    /// what counts, for the per-file limit and for the budget.
    #[test]
    fn pax_sizes_count() {
        let sel = Selector::new(&CollectOptions::default());
        let data = pax_sized("var/lib/dpkg/status", &[b'x'; 4096]);
        let got = read_tar(&data[..], &sel, &mut Budget::new("t", 1 << 20), false).expect("read");
        assert_eq!(
            got.entries,
            [(
                "/var/lib/dpkg/status".to_string(),
                Entry::File {
                    data: vec![b'x'; 4096],
                    mode: 0o644
                }
            )]
        );
        let err = read_tar(&data[..], &sel, &mut Budget::new("image:x", 1000), true)
            .expect_err("over the budget");
        assert!(matches!(err, DriftError::TooLarge { .. }) && err.to_string().contains("image:x"));
        let big = pax_sized(
            "var/lib/dpkg/status",
            &vec![b'x'; (MAX_FILE_BYTES + 1) as usize],
        );
        let got = read_tar(&big[..], &sel, &mut Budget::new("t", 1 << 20), true).expect("read");
        assert_eq!(
            got.entries,
            [(
                "/var/lib/dpkg/status".to_string(),
                Entry::TooLarge {
                    size: MAX_FILE_BYTES + 1
                }
            )]
        );
    }

    /// A tar of `(path, content)` where content `=>PATH` is a hard link to PATH.
    fn tar_with_hard_links(items: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in items {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            if let Some(target) = data.strip_prefix(b"=>") {
                h.set_entry_type(EntryType::Link);
                h.set_size(0);
                b.append_link(&mut h, path, std::str::from_utf8(target).expect("utf8"))
                    .expect("link");
            } else {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, *data).expect("append");
            }
        }
        b.into_inner().expect("tar")
    }

    /// What was seen: a hard-linked `package.json` whose other name sorts first (and
    /// is not selected) was dropped. In a stream a target sent, the link is its content;
    /// in an image layer it is named for a second read that keeps its target.
    #[test]
    fn hard_links_resolve_to_content() {
        let json: &[u8] = br#"{"name":"linked","version":"1.2.3"}"#;
        let data = tar_with_hard_links(&[
            ("srv/app/lib/pkg.json", json),
            (
                "srv/app/node_modules/linked/package.json",
                b"=>srv/app/lib/pkg.json",
            ),
        ]);
        let sel = Selector::new(&CollectOptions::default());
        let want = (
            "/srv/app/node_modules/linked/package.json".to_string(),
            Entry::File {
                data: json.to_vec(),
                mode: 0o644,
            },
        );
        let got = read_tar(&data[..], &sel, &mut Budget::new("t", 1 << 20), false).expect("read");
        assert_eq!(
            got.entries,
            std::slice::from_ref(&want),
            "unselected files are dropped at the end"
        );
        let layer = read_tar(&data[..], &sel, &mut Budget::new("t", 1 << 20), true).expect("read");
        assert_eq!(layer.unresolved_links, ["/srv/app/lib/pkg.json"]);
        let again = sel.with_extra_fixed(&["/srv/app/lib/pkg.json"]);
        let layer =
            read_tar(&data[..], &again, &mut Budget::new("t", 1 << 20), true).expect("read");
        assert!(layer.entries.contains(&want), "{:?}", layer.entries);
        assert!(layer.unresolved_links.is_empty());
    }

    /// What was seen: a tar stream cut at an entry boundary was read as a complete,
    /// shorter one.
    #[test]
    fn a_stream_needs_its_end_marker() {
        let data = tar_of(&[
            ("var/lib/dpkg/status", b"Package: a\n"),
            ("etc/os-release", b"ID=debian\n"),
        ]);
        let sel = Selector::new(&CollectOptions::default());
        for layer in [false, true] {
            // Entry boundaries: after each header and its one data block.
            for cut in [0, 1024, 2048] {
                let err = read_tar(
                    &data[..cut],
                    &sel,
                    &mut Budget::new("docker:c", 1 << 20),
                    layer,
                )
                .expect_err("cut at an entry boundary");
                assert!(
                    matches!(err, DriftError::Incomplete { .. })
                        && err.to_string().contains("docker:c"),
                    "{cut}: {err}"
                );
            }
            let whole =
                read_tar(&data[..], &sel, &mut Budget::new("t", 1 << 20), layer).expect("whole");
            assert_eq!(whole.entries.len(), 2);
        }
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
