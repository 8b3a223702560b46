//! What `envsync build --dry-run` prints: the tag, the Dockerfile and the context
//! files with their sizes. Pure; touches no engine.

use std::fmt::Write as _;

use crate::context::prepare;
use crate::error::ProvisionError;

/// A human-readable plan of the build of `spec`.
pub fn plan(spec: &crate::spec::BuildSpec) -> Result<String, ProvisionError> {
    let prepared = prepare(spec)?;
    let mut out = String::new();
    let _ = writeln!(out, "image: {}", prepared.tag);
    let _ = writeln!(out, "spec sha256: {}", prepared.sha256);
    match &spec.base_digest {
        Some(digest) => {
            let _ = writeln!(out, "base: {} ({digest})", spec.base_image);
        }
        None => {
            let _ = writeln!(
                out,
                "base: {} (not resolved to an ID; the build pins it and its tag differs)",
                spec.base_image
            );
        }
    }
    let total: u64 = prepared.entries.iter().map(|(_, size)| size).sum();
    let _ = writeln!(
        out,
        "context: {} files, {total} bytes",
        prepared.entries.len()
    );
    for (path, size) in &prepared.entries {
        let _ = writeln!(out, "  {size:>10}  {path}");
    }
    let _ = writeln!(out, "Dockerfile:");
    for line in prepared.dockerfile.lines() {
        let _ = writeln!(out, "  {line}");
    }
    Ok(out)
}

/// Write the Dockerfile and context of `spec` into `dir` (for comparing with
/// `docker build`); returns the tag.
pub fn emit_context(
    spec: &crate::spec::BuildSpec,
    dir: &std::path::Path,
) -> Result<String, ProvisionError> {
    let prepared = prepare(spec)?;
    let mut archive = tar::Archive::new(prepared.context.as_slice());
    archive
        .unpack(dir)
        .map_err(|source| ProvisionError::Context {
            path: dir.display().to_string(),
            source,
        })?;
    Ok(prepared.tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{BuildSpec, Pin};

    fn check(spec: &BuildSpec, expected_lines: &[&str]) {
        let text = plan(spec).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for expected in expected_lines {
            assert!(
                lines.contains(expected),
                "missing line {expected:?} in\n{text}"
            );
        }
    }

    #[test]
    fn plan_lists_tag_context_and_dockerfile() {
        let mut spec = BuildSpec::new("demo", "envsync/debian:bookworm");
        spec.apt.push(Pin::exact("jq", "1.6-2.1+deb12u3"));
        let tag = crate::context::image_tag(&spec).unwrap();
        let dockerfile_len = crate::dockerfile::render_dockerfile(&spec).len();
        check(
            &spec,
            &[
                &format!("image: {tag}"),
                "base: envsync/debian:bookworm (not resolved to an ID; the build pins it and its tag differs)",
                &format!("context: 1 files, {dockerfile_len} bytes"),
                &format!("  {dockerfile_len:>10}  Dockerfile"),
                "  FROM envsync/debian:bookworm",
            ],
        );
    }

    #[test]
    fn emitted_context_matches_the_tar() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = BuildSpec::new("demo", "envsync/debian:bookworm");
        spec.apt.push(Pin::any("jq"));
        let tag = emit_context(&spec, dir.path()).unwrap();
        assert_eq!(tag, crate::context::image_tag(&spec).unwrap());
        let written = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
        assert_eq!(written, crate::dockerfile::render_dockerfile(&spec));
    }
}
