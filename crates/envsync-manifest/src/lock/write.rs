//! Writing a lock: the canonical text, with a fixed key order and one component per
//! line, so that the same lock always gives the same bytes and diffs stay readable.

use std::fmt::Write as _;

use super::{canonical_order, Checksum, Lock, LockedBase, LockedComponent, LOCK_SCHEMA};

/// The canonical text of `lock` (always in the current schema).
pub(super) fn canonical(lock: &Lock) -> String {
    let mut out = String::with_capacity(256 + lock.components.len() * 128);
    out.push_str(
        "# envsync.lock: exact versions and checksums of every image built from envsync.toml.\n",
    );
    out.push_str(
        "# Written by `envsync lock`; check it with `envsync lock --check`. Do not edit by hand.\n",
    );
    let _ = writeln!(out, "schema = {}", quote(LOCK_SCHEMA));
    let _ = writeln!(out, "manifest_sha256 = {}", quote(&lock.manifest_sha256));
    if !lock.manifest_sections.is_empty() {
        let sections: Vec<String> = lock
            .manifest_sections
            .iter()
            .map(|(name, hash)| format!("{} = {}", key(name), quote(hash)))
            .collect();
        let _ = writeln!(out, "manifest_sections = {{ {} }}", sections.join(", "));
    }
    write_image(&mut out, &lock.base, &lock.components);
    for (name, image) in &lock.services {
        let _ = writeln!(out, "\n[services.{}]", key(name));
        write_image(&mut out, &image.base, &image.components);
    }
    out
}

fn write_image(out: &mut String, base: &LockedBase, components: &[LockedComponent]) {
    let _ = write!(out, "base = {{ image = {}", quote(&base.image));
    if let Some(d) = &base.digest {
        let _ = write!(out, ", digest = {}", quote(d));
    }
    out.push_str(" }\n");
    let mut components = components.to_vec();
    canonical_order(&mut components);
    if components.is_empty() {
        out.push_str("components = []\n");
        return;
    }
    out.push_str("components = [\n");
    for c in &components {
        let _ = write!(
            out,
            "  {{ ecosystem = {}, name = {}, version = {}",
            quote(c.ecosystem.as_str()),
            quote(&c.name),
            quote(&c.version)
        );
        if let Some(a) = &c.arch {
            let _ = write!(out, ", arch = {}", quote(a));
        }
        if let Some(l) = &c.location {
            let _ = write!(out, ", location = {}", quote(l));
        }
        match &c.checksum {
            Some(Checksum::Sha256(hex)) => {
                let _ = write!(out, ", sha256 = {}", quote(hex));
            }
            Some(Checksum::Integrity(sri)) => {
                let _ = write!(out, ", integrity = {}", quote(sri));
            }
            None => {}
        }
        if let Some(f) = &c.file {
            let _ = write!(out, ", file = {}", quote(f));
        }
        if c.declared {
            out.push_str(", declared = true");
        }
        out.push_str(" },\n");
    }
    out.push_str("]\n");
}

/// A table key: bare when TOML allows it, quoted otherwise.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_string()
    } else {
        quote(name)
    }
}

/// A TOML basic string: `"` and `\` escaped, control characters as escapes.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
