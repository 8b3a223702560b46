//! What an image was built from, in the manifest's own terms, and what changed since:
//! every image envsync builds carries [`LABEL_MANIFEST_ENTRIES`], the manifest's entries
//! that determine it (`[apt] curl` → `"7.88.*"`, the content hash of each `[files]`
//! file), so `up` can say which manifest lines made it rebuild an image.

use std::collections::{BTreeMap, HashMap};

use envsync_manifest::digest::changed_entries;
use envsync_manifest::Manifest;
use sha2::{Digest, Sha256};

use crate::env::DEV_SERVICE;

/// The label holding an image's manifest entries, as a JSON object.
pub const LABEL_MANIFEST_ENTRIES: &str = "io.envsync.manifest-entries";

/// The entries of `manifest` that determine the image of `service` ([`DEV_SERVICE`] for
/// the development image): a service's own section and the sections every image shares
/// (`[base]`, `[sources]`, `[build]`, `[project]`), or, for the development image, all but
/// the services' and `[env]` (which reaches containers, never an image); with a
/// `… content` entry per `[files]` file holding its sha256.
pub fn image_entries(manifest: &Manifest, service: &str) -> BTreeMap<String, String> {
    let shared = ["[project]", "[base]", "[sources]", "[build]"];
    let own = format!("[services.{service}]");
    let mut entries: BTreeMap<String, String> = manifest
        .entries
        .iter()
        .filter(|(key, _)| {
            let section = key.split(' ').next().unwrap_or_default();
            if service == DEV_SERVICE {
                !section.starts_with("[services.") && section != "[env]"
            } else {
                section == own || shared.contains(&section)
            }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if service == DEV_SERVICE {
        let dir = manifest.file.parent().unwrap_or(std::path::Path::new("."));
        for file in &manifest.files {
            // A file that cannot be read fails the build itself, naming its line.
            if let Ok(bytes) = std::fs::read(dir.join(&file.local_path)) {
                entries.insert(
                    format!("[files] {:?} content", file.container_path),
                    format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
                );
            }
        }
    }
    entries
}

/// `image_entries` as the label's value.
pub fn entries_label(entries: &BTreeMap<String, String>) -> (String, String) {
    // A map of strings always serialises.
    let json = serde_json::to_string(entries).unwrap_or_default();
    (LABEL_MANIFEST_ENTRIES.to_string(), json)
}

/// Why an image built from `old_labels` was replaced by one built from `new`: the changed
/// manifest lines, or a sentence saying they cannot be named. `lock_stale`: the lock no
/// longer matches the manifest, so the image is built from the manifest's constraints.
pub fn rebuild_reason(
    old_labels: Option<&HashMap<String, String>>,
    new: &BTreeMap<String, String>,
    lock_stale: bool,
) -> String {
    let old: Option<BTreeMap<String, String>> = old_labels
        .and_then(|labels| labels.get(LABEL_MANIFEST_ENTRIES))
        .and_then(|json| serde_json::from_str(json).ok());
    match old {
        None if old_labels.is_none() => {
            "image rebuilt (the previous image is gone, so what changed cannot be named)".into()
        }
        None => "image rebuilt (the previous image records no manifest entries)".into(),
        Some(old) => {
            let changed = changed_entries(&old, new);
            if changed.is_empty() && lock_stale {
                "image rebuilt: the lock is stale, so the image is built from the manifest's constraints instead of its locked versions".into()
            } else if changed.is_empty() {
                // Same manifest entries: the lock, the base image's digest or envsync's
                // own recipe changed.
                "image rebuilt: same manifest entries; the lock, the base image or envsync's recipe changed".into()
            } else {
                format!("image rebuilt: {}", changed.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn entries_per_image_and_reasons() {
        let text = "[project]\nname = \"p\"\n[base]\nimage = \"debian:bookworm\"\n[apt]\ncurl = \"7.88.*\"\n\
                    [services.redis]\nversion = \"7.0\"\n[env]\nA = \"1\"\n[dev]\nports = [\"8000:8000\"]\n";
        let m = Manifest::parse(text, Path::new("envsync.toml")).unwrap();
        let dev = image_entries(&m, DEV_SERVICE);
        assert_eq!(dev["[apt] curl"], "\"7.88.*\"");
        assert!(!dev
            .keys()
            .any(|k| k.starts_with("[services.") || k.starts_with("[dev]")));
        let redis = image_entries(&m, "redis");
        assert_eq!(redis["[services.redis] version"], "\"7.0\"");
        assert!(!redis.contains_key("[apt] curl"));

        let m2 =
            Manifest::parse(&text.replace("7.88.*", "8.*"), Path::new("envsync.toml")).unwrap();
        let labels = HashMap::from([entries_label(&dev)]);
        assert_eq!(
            rebuild_reason(Some(&labels), &image_entries(&m2, DEV_SERVICE), false),
            "image rebuilt: [apt] curl \"7.88.*\" → \"8.*\""
        );
        assert_eq!(
            rebuild_reason(Some(&HashMap::new()), &dev, false),
            "image rebuilt (the previous image records no manifest entries)"
        );
        assert!(rebuild_reason(Some(&labels), &dev, true).contains("the lock is stale"));
    }
}
