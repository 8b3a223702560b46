//! Reading an image from its `docker save` archive without running it: each layer is
//! scanned once as it streams by, keeping only selected files and the layer's
//! whiteouts; then the layers are applied in the order `manifest.json` gives, so
//! `.wh.NAME` deletes what lower layers added and `.wh..wh..opq` empties a directory.

use std::collections::BTreeMap;
use std::io::Read;

use super::tarball::{read_tar, Budget, TarContents};
use super::{Entry, FileSet, Selector, RPM_DATABASES};
use crate::error::DriftError;

fn malformed(target: &str, message: String) -> DriftError {
    DriftError::Malformed {
        target: target.to_string(),
        message,
    }
}

/// Remove `path` and everything below it.
fn remove_tree(entries: &mut BTreeMap<String, Entry>, path: &str) {
    entries.remove(path);
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let doomed: Vec<String> = entries
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        entries.remove(&k);
    }
}

/// Apply layers (lowest first) into one file set.
pub fn apply_layers(layers: Vec<TarContents>) -> FileSet {
    let mut files = FileSet::default();
    let mut rpm: Vec<String> = Vec::new();
    for layer in layers {
        for dir in &layer.opaque {
            let prefix = format!("{}/", dir.trim_end_matches('/'));
            let doomed: Vec<String> = files
                .entries
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for k in doomed {
                files.entries.remove(&k);
            }
            rpm.retain(|p| !p.starts_with(&prefix));
        }
        for gone in &layer.whiteouts {
            remove_tree(&mut files.entries, gone);
            rpm.retain(|p| p != gone && !p.starts_with(&format!("{gone}/")));
        }
        for (path, entry) in layer.entries {
            if RPM_DATABASES.contains(&path.as_str()) {
                rpm.push(path);
                continue;
            }
            files.entries.insert(path, entry);
        }
        files.warnings.extend(layer.warnings);
    }
    rpm.sort();
    rpm.dedup();
    files.rpm_databases = rpm;
    files.total = files
        .entries
        .values()
        .map(|e| match e {
            Entry::File { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum();
    files
}

/// Read a `docker save` archive (legacy layout with `manifest.json`, or OCI layout
/// whose `manifest.json` names blobs) and return the image's merged file set.
pub fn read_saved_image<R: Read>(
    reader: R,
    selector: &Selector,
    target: &str,
    limit: u64,
) -> Result<FileSet, DriftError> {
    let mut archive = tar::Archive::new(reader);
    let mut budget = Budget::new(target, limit);
    let mut scanned: BTreeMap<String, TarContents> = BTreeMap::new();
    let mut manifest: Option<Vec<u8>> = None;
    // Layers are RPM-aware: keep rpm database paths as presence markers.
    let selector = selector_with_rpm(selector);
    let entries = archive
        .entries()
        .map_err(|e| malformed(target, format!("bad image archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| malformed(target, format!("bad image archive: {e}")))?;
        let path = String::from_utf8_lossy(&entry.path_bytes())
            .trim_start_matches("./")
            .to_string();
        if path == "manifest.json" {
            manifest = Some(read_manifest(&mut entry, target)?);
            continue;
        }
        let is_layer =
            path.ends_with("/layer.tar") || path.ends_with(".tar") || path.starts_with("blobs/");
        if !is_layer || entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        if let Some(contents) = scan_layer(&mut entry, &path, &selector, &mut budget, target)? {
            scanned.insert(path, contents);
        }
    }
    let manifest = manifest
        .ok_or_else(|| malformed(target, "the image archive has no `manifest.json`".into()))?;
    Ok(apply_layers(layers_in_order(target, &manifest, &scanned)?))
}

/// The bytes of the archive's `manifest.json` (at most 16 MiB are read).
fn read_manifest(entry: impl Read, target: &str) -> Result<Vec<u8>, DriftError> {
    let mut data = Vec::new();
    entry
        .take(16 * 1024 * 1024)
        .read_to_end(&mut data)
        .map_err(|e| malformed(target, e.to_string()))?;
    Ok(data)
}

/// Scan one layer file, plain or gzipped, as it streams by. `Ok(None)` for a file that
/// turns out not to be a layer: a JSON config blob, or in an OCI layout any blob that
/// is not a tar.
fn scan_layer(
    entry: impl Read,
    path: &str,
    selector: &Selector,
    budget: &mut Budget,
    target: &str,
) -> Result<Option<TarContents>, DriftError> {
    let mut peek = std::io::BufReader::with_capacity(1 << 16, entry);
    let buf =
        std::io::BufRead::fill_buf(&mut peek).map_err(|e| malformed(target, e.to_string()))?;
    let empty = buf.is_empty();
    let gzipped = buf.starts_with(&[0x1f, 0x8b]);
    let json = buf.first() == Some(&b'{');
    let contents = if empty {
        // A zero-byte layer holds nothing (an empty tar would still have its marker).
        Ok(TarContents::default())
    } else if gzipped {
        read_tar(flate2::read::GzDecoder::new(peek), selector, budget, true)
    } else if json {
        return Ok(None);
    } else {
        read_tar(peek, selector, budget, true)
    };
    match contents {
        Ok(c) => Ok(Some(c)),
        // OCI layouts mix config blobs with layers; a blob that is not a tar is not a layer.
        Err(DriftError::Malformed { .. } | DriftError::Incomplete { .. })
            if path.starts_with("blobs/") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The scanned layers in the order `manifest.json` lists them, lowest first.
fn layers_in_order(
    target: &str,
    manifest: &[u8],
    scanned: &BTreeMap<String, TarContents>,
) -> Result<Vec<TarContents>, DriftError> {
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .map_err(|e| malformed(target, format!("`manifest.json` is not JSON: {e}")))?;
    let layers = value
        .get(0)
        .and_then(|m| m.get("Layers"))
        .and_then(|l| l.as_array())
        .ok_or_else(|| malformed(target, "`manifest.json` lists no `Layers`".into()))?;
    layers
        .iter()
        .map(|layer| {
            let name = layer.as_str().unwrap_or_default();
            // The same layer may be listed twice (an empty layer reused), so each is cloned.
            scanned.get(name).cloned().ok_or_else(|| {
                malformed(
                    target,
                    format!("layer `{name}` is missing from the image archive"),
                )
            })
        })
        .collect()
}

/// A selector that also keeps RPM database paths (as presence markers).
fn selector_with_rpm(selector: &Selector) -> Selector {
    selector.with_extra_fixed(RPM_DATABASES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::tarball::tests::tar_of;
    use crate::collect::CollectOptions;

    fn saved(layers: &[Vec<u8>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut names = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let name = format!("l{i}/layer.tar");
            let mut h = tar::Header::new_gnu();
            h.set_size(layer.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, &name, &layer[..]).expect("layer");
            names.push(name);
        }
        let manifest = serde_json::json!([{ "Config": "c.json", "Layers": names }]).to_string();
        let mut h = tar::Header::new_gnu();
        h.set_size(manifest.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "manifest.json", manifest.as_bytes())
            .expect("manifest");
        b.into_inner().expect("tar")
    }

    #[test]
    fn whiteouts_apply_in_order() {
        let base = tar_of(&[
            ("etc/os-release", b"ID=debian\n"),
            (
                "opt/app/venv/lib/python3.11/site-packages/six-1.15.0.dist-info/METADATA",
                b"Name: six\nVersion: 1.15.0\n",
            ),
            (
                "srv/app/node_modules/a/package.json",
                br#"{"name":"a","version":"1.0.0"}"#,
            ),
            ("var/lib/rpm/rpmdb.sqlite", b"x"),
        ]);
        let top = tar_of(&[
            ("opt/app/.wh.venv", b""),
            ("srv/app/node_modules/.wh..wh..opq", b""),
            (
                "srv/app/node_modules/b/package.json",
                br#"{"name":"b","version":"2.0.0"}"#,
            ),
            ("var/lib/rpm/.wh.rpmdb.sqlite", b""),
        ]);
        let opts = CollectOptions::default();
        let files = read_saved_image(
            &saved(&[base, top])[..],
            &Selector::new(&opts),
            "image:t",
            1 << 20,
        )
        .expect("image");
        let paths: Vec<&str> = files.entries.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            ["/etc/os-release", "/srv/app/node_modules/b/package.json"]
        );
        assert!(files.rpm_databases.is_empty());
    }

    #[test]
    fn broken_archives_are_errors() {
        let sel = Selector::new(&CollectOptions::default());
        let layer_only = {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            b.append_data(&mut h, "x/layer.tar", &b""[..]).expect("x");
            b.into_inner().expect("tar")
        };
        let err =
            read_saved_image(&layer_only[..], &sel, "image:t", 1 << 20).expect_err("no manifest");
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
