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
    let reader = Reader {
        index: LineIndex::new(text),
        file,
    };
    // Syntax first, so that a broken file is reported as such, not as a missing field.
    let document: toml_edit::ImDocument<&str> =
        toml_edit::ImDocument::parse(text).map_err(|err| {
            reader.syntax(
                err.span(),
                format!("TOML error: {}", err.message().trim().replace('\n', "; ")),
            )
        })?;
    let schema = reader.schema(&document)?;
    let raw: RawLock = toml_edit::de::from_str(text).map_err(|err| reader.de_error(err))?;
    reader.manifest_sha256(&raw.manifest_sha256)?;
    let mut services = BTreeMap::new();
    for (name, image) in raw.services {
        services.insert(
            name,
            LockedImage {
                base: locked_base(image.base),
                components: reader.components(image.components)?,
            },
        );
    }
    Ok(Lock {
        file: file.to_path_buf(),
        schema,
        manifest_sha256: raw.manifest_sha256.into_inner(),
        manifest_sections: raw.manifest_sections,
        base: locked_base(raw.base),
        components: reader.components(raw.components)?,
        services,
    })
}

/// The lock text's line index and file name: what every error needs to say where it is.
struct Reader<'a> {
    index: LineIndex<'a>,
    file: &'a Path,
}

impl Reader<'_> {
    /// Line and column of a span's start; a value without a span is blamed on the top
    /// of the file.
    fn at(&self, span: Option<Range<usize>>) -> (usize, usize) {
        span.map_or((1, 1), |s| self.index.position(s.start))
    }

    fn field(&self, span: Option<Range<usize>>, message: String) -> LockError {
        let (line, column) = self.at(span);
        LockError::Field {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
        }
    }

    fn syntax(&self, span: Option<Range<usize>>, message: String) -> LockError {
        let (line, column) = self.at(span);
        LockError::Syntax {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// serde reports both malformed values and missing or unknown fields; only the
    /// first is a syntax error, so the message decides which kind the user sees.
    fn de_error(&self, err: toml_edit::de::Error) -> LockError {
        let message = err.message().trim().replace('\n', "; ");
        if message.contains("expected") && !message.contains("field") {
            self.syntax(err.span(), format!("TOML error: {message}"))
        } else {
            self.field(err.span(), message)
        }
    }

    /// The `schema` key, read before the rest so that a lock from a newer envsync
    /// says so instead of failing on a field this one does not know.
    fn schema(&self, document: &toml_edit::ImDocument<&str>) -> Result<&'static str, LockError> {
        let Some(item) = document.get("schema") else {
            return Err(self.field(None, "missing `schema`; this is not an envsync lock".into()));
        };
        let span = item.span();
        let schema = item
            .as_str()
            .ok_or_else(|| self.field(span.clone(), "`schema` must be a string".into()))?;
        match schema {
            LOCK_SCHEMA => Ok(LOCK_SCHEMA),
            LOCK_SCHEMA_V1 => Ok(LOCK_SCHEMA_V1),
            other => {
                let (line, _) = self.at(span);
                let file = self.file.to_path_buf();
                let found = other.to_string();
                let expected = LOCK_SCHEMA;
                Err(if is_newer_schema(other) {
                    LockError::FutureSchema {
                        file,
                        line,
                        found,
                        expected,
                    }
                } else {
                    LockError::Schema {
                        file,
                        line,
                        found,
                        expected,
                    }
                })
            }
        }
    }

    fn manifest_sha256(&self, sha: &Spanned<String>) -> Result<(), LockError> {
        if is_sha256_hex(sha.get_ref()) {
            Ok(())
        } else {
            Err(self.field(
                Some(sha.span()),
                "`manifest_sha256` must be 64 hex digits".into(),
            ))
        }
    }

    /// One image's components, checked and put in canonical order.
    fn components(
        &self,
        raw: Vec<Spanned<RawComponent>>,
    ) -> Result<Vec<LockedComponent>, LockError> {
        let mut out = raw
            .into_iter()
            .map(|spanned| self.component(spanned))
            .collect::<Result<Vec<_>, _>>()?;
        canonical_order(&mut out);
        Ok(out)
    }

    fn component(&self, spanned: Spanned<RawComponent>) -> Result<LockedComponent, LockError> {
        let (line, _) = self.at(Some(spanned.span()));
        let c = spanned.into_inner();
        let Some(ecosystem) = Ecosystem::parse(c.ecosystem.get_ref()) else {
            return Err(self.field(
                Some(c.ecosystem.span()),
                format!("unknown ecosystem `{}`", c.ecosystem.get_ref()),
            ));
        };
        let checksum = self.checksum(&c.ecosystem, c.sha256, c.integrity)?;
        Ok(LockedComponent {
            ecosystem,
            name: c.name,
            version: c.version,
            arch: c.arch,
            location: c.location,
            checksum,
            file: c.file,
            declared: c.declared,
            line,
        })
    }

    /// A component's checksum: `sha256` (64 hex digits, kept lowercase) or npm's
    /// `integrity`, never both. `ecosystem` locates the component when neither value
    /// is at fault on its own.
    fn checksum(
        &self,
        ecosystem: &Spanned<String>,
        sha256: Option<Spanned<String>>,
        integrity: Option<String>,
    ) -> Result<Option<Checksum>, LockError> {
        match (sha256, integrity) {
            (Some(_), Some(_)) => Err(self.field(
                Some(ecosystem.span()),
                "a component has either `sha256` or `integrity`, not both".into(),
            )),
            (Some(hex), None) => {
                if !is_sha256_hex(hex.get_ref()) {
                    return Err(
                        self.field(Some(hex.span()), "`sha256` must be 64 hex digits".into())
                    );
                }
                Ok(Some(Checksum::Sha256(
                    hex.into_inner().to_ascii_lowercase(),
                )))
            }
            (None, Some(sri)) => Ok(Some(Checksum::Integrity(sri))),
            (None, None) => Ok(None),
        }
    }
}

/// A schema of the form `envsync.lock/vN` with N above the newest this envsync reads.
fn is_newer_schema(schema: &str) -> bool {
    schema
        .strip_prefix("envsync.lock/v")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 2)
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

fn locked_base(raw: RawBase) -> LockedBase {
    LockedBase {
        image: raw.image,
        digest: raw.digest,
    }
}
