//! Reading a lock: TOML deserialised into raw structs with spans, then checked field by
//! field, so every error names the file, line and column of the value at fault.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::{
    canonical_order, Checksum, Lock, LockedBase, LockedComponent, LockedImage, LOCK_SCHEMA,
    LOCK_SCHEMA_V1,
};
use crate::diag::LineIndex;
use crate::error::LockError;
use crate::version::Ecosystem;

#[derive(Deserialize)]
struct RawLock {
    manifest_sha256: Spanned<String>,
    #[serde(default)]
    manifest_sections: BTreeMap<String, String>,
    base: RawBase,
    components: Vec<Spanned<RawComponent>>,
    #[serde(default)]
    services: BTreeMap<String, RawImage>,
}

#[derive(Deserialize)]
struct RawImage {
    base: RawBase,
    components: Vec<Spanned<RawComponent>>,
}

#[derive(Deserialize)]
struct RawBase {
    image: String,
    digest: Option<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    ecosystem: Spanned<String>,
    name: String,
    version: String,
    arch: Option<String>,
    location: Option<String>,
    sha256: Option<Spanned<String>>,
    integrity: Option<String>,
    file: Option<String>,
    #[serde(default)]
    declared: bool,
}

/// Parse lock text; `file` is used in messages.
pub(super) fn parse(text: &str, file: &Path) -> Result<Lock, LockError> {
    let index = LineIndex::new(text);
    let at = |span: Option<Range<usize>>| span.map_or((1, 1), |s| index.position(s.start));
    let field = |span: Option<Range<usize>>, message: String| {
        let (line, column) = at(span);
        LockError::Field {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let de_error = |err: toml_edit::de::Error| {
        let (line, column) = at(err.span());
        let message = err.message().trim().replace('\n', "; ");
        if message.contains("expected") && !message.contains("field") {
            LockError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                message: format!("TOML error: {message}"),
            }
        } else {
            LockError::Field {
                file: file.to_path_buf(),
                line,
                column,
                message,
            }
        }
    };
    // Syntax first, so that a broken file is reported as such, not as a missing field.
    let document: toml_edit::ImDocument<&str> =
        toml_edit::ImDocument::parse(text).map_err(|err| {
            let (line, column) = at(err.span());
            LockError::Syntax {
                file: file.to_path_buf(),
                line,
                column,
                message: format!("TOML error: {}", err.message().trim().replace('\n', "; ")),
            }
        })?;
    let schema_item = document.get("schema");
    let schema_span = schema_item.and_then(|i| i.span());
    let schema = match schema_item {
        None => {
            return Err(field(
                None,
                "missing `schema`; this is not an envsync lock".into(),
            ))
        }
        Some(item) => item
            .as_str()
            .ok_or_else(|| field(schema_span.clone(), "`schema` must be a string".into()))?,
    };
    let schema: &'static str = match schema {
        LOCK_SCHEMA => LOCK_SCHEMA,
        LOCK_SCHEMA_V1 => LOCK_SCHEMA_V1,
        other => {
            let (line, _) = at(schema_span);
            let newer = other
                .strip_prefix("envsync.lock/v")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n > 2);
            return Err(if newer {
                LockError::FutureSchema {
                    file: file.to_path_buf(),
                    line,
                    found: other.to_string(),
                    expected: LOCK_SCHEMA,
                }
            } else {
                LockError::Schema {
                    file: file.to_path_buf(),
                    line,
                    found: other.to_string(),
                    expected: LOCK_SCHEMA,
                }
            });
        }
    };
    let raw: RawLock = toml_edit::de::from_str(text).map_err(de_error)?;

    let sha = raw.manifest_sha256.get_ref();
    if !(sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(field(
            Some(raw.manifest_sha256.span()),
            "`manifest_sha256` must be 64 hex digits".into(),
        ));
    }
    let components = |raw: Vec<Spanned<RawComponent>>| -> Result<_, LockError> {
        let mut out = Vec::with_capacity(raw.len());
        for spanned in raw {
            let (line, _) = at(Some(spanned.span()));
            let c = spanned.into_inner();
            let Some(ecosystem) = Ecosystem::parse(c.ecosystem.get_ref()) else {
                return Err(field(
                    Some(c.ecosystem.span()),
                    format!("unknown ecosystem `{}`", c.ecosystem.get_ref()),
                ));
            };
            let checksum = match (c.sha256, c.integrity) {
                (Some(_), Some(_)) => {
                    return Err(field(
                        Some(c.ecosystem.span()),
                        "a component has either `sha256` or `integrity`, not both".into(),
                    ))
                }
                (Some(hex), None) => {
                    let valid = hex.get_ref().len() == 64
                        && hex.get_ref().chars().all(|c| c.is_ascii_hexdigit());
                    if !valid {
                        return Err(field(
                            Some(hex.span()),
                            "`sha256` must be 64 hex digits".into(),
                        ));
                    }
                    Some(Checksum::Sha256(hex.into_inner().to_ascii_lowercase()))
                }
                (None, Some(sri)) => Some(Checksum::Integrity(sri)),
                (None, None) => None,
            };
            out.push(LockedComponent {
                ecosystem,
                name: c.name,
                version: c.version,
                arch: c.arch,
                location: c.location,
                checksum,
                file: c.file,
                declared: c.declared,
                line,
            });
        }
        canonical_order(&mut out);
        Ok(out)
    };
    let base = |b: RawBase| LockedBase {
        image: b.image,
        digest: b.digest,
    };
    let mut services = BTreeMap::new();
    for (name, image) in raw.services {
        services.insert(
            name,
            LockedImage {
                base: base(image.base),
                components: components(image.components)?,
            },
        );
    }
    Ok(Lock {
        file: file.to_path_buf(),
        schema,
        manifest_sha256: raw.manifest_sha256.into_inner(),
        manifest_sections: raw.manifest_sections,
        base: base(raw.base),
        components: components(raw.components)?,
        services,
    })
}
