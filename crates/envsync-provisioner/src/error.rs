//! The provisioner's one error type: every variant names the input, package, image or
//! log file involved, and says what to do next.

use std::fmt::Write as _;
use std::path::PathBuf;

/// How many versions an error lists before summarising the rest.
const SHOWN_VERSIONS: usize = 15;

/// Errors preparing, building or inspecting images.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// `what` names the file, line, variable and section.
    #[error("{what} cannot be interpolated; set the variable in the environment or in `{}`", dotenv.display())]
    Interpolation {
        what: String,
        dotenv: PathBuf,
        #[source]
        source: Box<envsync_manifest::dotenv::InterpolateError>,
    },
    #[error("`{}` is not a valid .env file", path.display())]
    Dotenv {
        path: PathBuf,
        #[source]
        source: envsync_manifest::dotenv::DotenvError,
    },
    #[error("invalid build input: {field} `{value}`: {reason}")]
    InvalidSpec {
        field: String,
        value: String,
        reason: String,
    },
    /// A manifest constraint that does not parse. The reason is the source, so a
    /// report that prints the chain (`{:#}`) reads as `InvalidSpec` does.
    #[error("invalid build input: {field} `{value}`")]
    InvalidConstraint {
        field: String,
        value: String,
        #[source]
        // Boxed: a version error is large, and every `Result` of this crate carries the enum.
        source: Box<envsync_manifest::VersionError>,
    },
    #[error("cannot read `{}` ({what}): {source}", path.display())]
    ReadInput {
        path: PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot add `{path}` to the build context: {source}")]
    Context {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] envsync_engine::EngineError),
    #[error("{}", missing_base(.image, .reference))]
    MissingBaseImage { image: String, reference: String },
    /// A pull the engine could not do; `message` is the registry's answer as the engine
    /// reports it.
    #[error("cannot pull `{reference}` from registry `{registry}`: {hint}: {message}")]
    Pull {
        reference: String,
        registry: String,
        kind: crate::pull::PullFailure,
        hint: String,
        message: String,
    },
    #[error("Docker engine request failed while {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "{ecosystem} package `{package}` has no version `{wanted}` in the package sources; {}; pin an available version in the manifest (or run `envsync lock` again); build log: `{}`",
        available_text(.available), log.display()
    )]
    VersionNotFound {
        ecosystem: String,
        package: String,
        wanted: String,
        /// Newest first.
        available: Vec<String>,
        log: PathBuf,
    },
    #[error("{ecosystem} package `{package}` does not exist in the package sources; check its name in the manifest; build log: `{}`", log.display())]
    PackageNotFound {
        ecosystem: String,
        package: String,
        log: PathBuf,
    },
    #[error("{runtime} from the base image's Debian packages is `{found}`, the manifest wants `{wanted}`; change the wanted version or the base image; build log: `{}`", log.display())]
    RuntimeMismatch {
        runtime: String,
        wanted: String,
        found: String,
        log: PathBuf,
    },
    #[error("{ecosystem} artifact of `{package}` has sha256 `{got}`, the lock records `{expected}`: the file the source serves is not the one locked; if the new file is intended, run `envsync lock --update`; build log: `{}`", log.display())]
    ChecksumMismatch {
        ecosystem: String,
        package: String,
        expected: String,
        got: String,
        log: PathBuf,
    },
    #[error("the build could not bring {} Debian {} to the locked {}: {}; the package sources no longer offer {}: run `envsync fetch` while they still do, or add a [sources] snapshot or mirror that keeps them; build log: `{}`", packages.len(), if packages.len() == 1 { "package" } else { "packages" }, if packages.len() == 1 { "version" } else { "versions" }, packages.join(", "), if packages.len() == 1 { "it" } else { "them" }, log.display())]
    ClosureMismatch { packages: Vec<String>, log: PathBuf },
    #[error("build step failed: `{step}`: {message}\nlast lines of the build log `{}`:\n{tail}", log.display())]
    StepFailed {
        step: String,
        message: String,
        log: PathBuf,
        tail: String,
    },
    #[error("cannot write the build log `{}`: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the build of `{tag}` finished but the engine has no such image; run the build again; build log: `{}`", log.display())]
    NotTagged { tag: String, log: PathBuf },
}

fn missing_base(image: &str, reference: &str) -> String {
    let mut text = if image == reference {
        format!("base image `{image}` is not in the Docker engine")
    } else {
        format!("base image `{image}` (pinned as `{reference}`) is not in the Docker engine")
    };
    text.push_str(
        "; `bash images/debian-bookworm/build.sh` builds the default base `envsync/debian:bookworm`, or set [base] image to an image the engine has",
    );
    if image != reference {
        text.push_str(" and run `envsync lock` again to pin it");
    }
    text
}

fn available_text(available: &[String]) -> String {
    if available.is_empty() {
        return "the sources offer no version of it".to_string();
    }
    let mut text = String::from("available: ");
    let shown: Vec<String> = available
        .iter()
        .take(SHOWN_VERSIONS)
        .map(|v| format!("`{v}`"))
        .collect();
    text.push_str(&shown.join(", "));
    if available.len() > SHOWN_VERSIONS {
        let _ = write!(text, " and {} older", available.len() - SHOWN_VERSIONS);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: ProvisionError, expected: &str) {
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn version_not_found_lists_newest_first_and_summarises() {
        let available: Vec<String> = (0..20).rev().map(|i| format!("1.{i}")).collect();
        check(
            ProvisionError::VersionNotFound {
                ecosystem: "pypi".into(),
                package: "six".into(),
                wanted: "99".into(),
                available,
                log: "/tmp/b.log".into(),
            },
            "pypi package `six` has no version `99` in the package sources; available: `1.19`, `1.18`, `1.17`, `1.16`, `1.15`, `1.14`, `1.13`, `1.12`, `1.11`, `1.10`, `1.9`, `1.8`, `1.7`, `1.6`, `1.5` and 5 older; pin an available version in the manifest (or run `envsync lock` again); build log: `/tmp/b.log`",
        );
    }

    #[test]
    fn missing_base_names_the_build_script() {
        check(
            ProvisionError::MissingBaseImage {
                image: "envsync/debian:bookworm".into(),
                reference: "envsync/debian:bookworm".into(),
            },
            "base image `envsync/debian:bookworm` is not in the Docker engine; `bash images/debian-bookworm/build.sh` builds the default base `envsync/debian:bookworm`, or set [base] image to an image the engine has",
        );
    }

    /// The chain a user reads (`{:#}`: each error, then its sources) is what the
    /// message was when the reason was copied into it as text.
    #[test]
    fn constraint_error_keeps_its_source_and_its_message() {
        use std::error::Error as _;
        let source = envsync_manifest::Constraint::parse(envsync_manifest::Ecosystem::Deb, "==")
            .expect_err("`==` is not a constraint");
        let reason = source.to_string();
        let err = ProvisionError::InvalidConstraint {
            field: "envsync.toml:3:1 `openssl`".into(),
            value: "==".into(),
            source: Box::new(source),
        };
        let chain = format!(
            "{err}: {}",
            err.source().map(|s| s.to_string()).unwrap_or_default()
        );
        let before = ProvisionError::InvalidSpec {
            field: "envsync.toml:3:1 `openssl`".into(),
            value: "==".into(),
            reason,
        };
        assert_eq!(chain, before.to_string());
    }
}
