//! Building images through the engine's `/build` endpoint (the legacy builder), with
//! the context streamed from memory, progress events, a full log file, and reuse of
//! an image whose content address is already present.
//!
//! Interruption is safe: the engine applies the tag only when every step succeeded,
//! and `forcerm` removes the intermediate container of a failed or cancelled step.
//! Cached layers of the steps that did finish stay in the engine and speed up the
//! next build.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use crate::context::{prepare, Prepared};
use crate::diagnose::{diagnose, Diagnosis};
use crate::dockerfile::from_reference;
use crate::error::ProvisionError;
use crate::spec::{is_image_id, repository_component, BuildSpec};

/// Label holding the project name.
pub const LABEL_PROJECT: &str = "io.envsync.project";
/// Label holding the full sha256 content address of the build inputs.
pub const LABEL_SPEC_SHA256: &str = "io.envsync.spec-sha256";

/// How long one build may run before it is abandoned.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// How many log lines a failed build's error carries.
pub const TAIL_LINES: usize = 20;

/// What a build reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// The engine started step `index` of `total` (1-based): `RUN apt-get ...`.
    Step {
        index: usize,
        total: usize,
        instruction: String,
    },
    /// One line of build output.
    Output(String),
    /// The image is ready.
    Done {
        tag: String,
        id: String,
        reused: bool,
    },
}

/// An image ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `envsync/<project>:<content hash>`.
    pub tag: String,
    /// Image ID, `sha256:...`.
    pub id: String,
    /// The full sha256 content address (also the `io.envsync.spec-sha256` label).
    pub spec_sha256: String,
    /// True when the image was already present and nothing was built.
    pub reused: bool,
    /// The build log; `None` when nothing was built.
    pub log_path: Option<PathBuf>,
}

/// Where build logs go and whether the engine's layer cache is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Directory of the build logs (`build-<project>-<hash>.log`); created if missing.
    pub log_dir: PathBuf,
    /// Rebuild every layer even when the engine has them cached, and the image even
    /// when one with the same content address exists.
    pub no_cache: bool,
    /// Artifacts from the cache added to the context of a locked build (context path,
    /// bytes; see [`crate::cache::context_artifacts`]): what the build installs from
    /// them, it does not download.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// Build without any network: everything a locked build installs comes from
    /// `artifacts`.
    pub offline: bool,
    /// More labels for the image (the manifest entries it is built from, see
    /// [`crate::rebuild`]); they do not change its tag.
    pub labels: Vec<(String, String)>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            log_dir: user_dir("XDG_STATE_HOME", ".local/state").join("logs"),
            no_cache: false,
            artifacts: Vec::new(),
            offline: false,
            labels: Vec::new(),
        }
    }
}

/// Fill in the base image's identity when the spec does not pin one, so that the content
/// address covers the base and a rebuilt base gives a new tag: its repository digest
/// (`repo@sha256:…`) when it came from a registry, else its image ID. A base the engine
/// lacks is pulled (see [`crate::pull`]), by the pinned digest when there is one. A
/// pinned image ID the engine no longer has (the base was rebuilt, or pulled again)
/// gives way to the base reference's current image: a locked build then brings the
/// base's packages to their locked versions, and verification names whatever differs.
/// Fails with [`ProvisionError::MissingBaseImage`] when the engine lacks a base no
/// registry serves (the `envsync/` images built from `images/`).
pub async fn resolve_base(docker: &Docker, spec: &BuildSpec) -> Result<BuildSpec, ProvisionError> {
    resolve_base_with(docker, spec, &|_| {}).await
}

/// [`resolve_base`], with a line to `progress` for each step of a pull.
pub async fn resolve_base_with(
    docker: &Docker,
    spec: &BuildSpec,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<BuildSpec, ProvisionError> {
    let mut resolved = spec.clone();
    let reference = from_reference(spec).to_string();
    let image = match inspect_base(docker, spec, &reference).await? {
        Some(image) => image,
        None if spec.base_digest.as_deref().is_some_and(is_image_id) => {
            resolved.base_digest = None;
            match inspect_base(docker, spec, &spec.base_image).await? {
                Some(image) => image,
                None if crate::pull::is_pullable(&spec.base_image) => {
                    crate::pull::ensure_image(docker, &spec.base_image, progress).await?
                }
                None => {
                    return Err(ProvisionError::MissingBaseImage {
                        image: spec.base_image.clone(),
                        reference: spec.base_image.clone(),
                    })
                }
            }
        }
        None if crate::pull::is_pullable(&reference) => {
            crate::pull::ensure_image(docker, &reference, progress).await?
        }
        None => {
            return Err(ProvisionError::MissingBaseImage {
                image: spec.base_image.clone(),
                reference,
            })
        }
    };
    if resolved.base_digest.is_none() {
        resolved.base_digest = crate::pull::repo_digest(&image, &spec.base_image).or(image.id);
    }
    Ok(resolved)
}

async fn inspect_base(
    docker: &Docker,
    spec: &BuildSpec,
    reference: &str,
) -> Result<Option<bollard::models::ImageInspect>, ProvisionError> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(Some(image)),
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(ProvisionError::Docker {
            action: format!(
                "inspecting base image `{reference}` (of `{}`)",
                spec.base_image
            ),
            source,
        }),
    }
}

/// Build `spec` with default options (logs in the system temp dir).
pub async fn build(
    docker: &Docker,
    spec: &BuildSpec,
    progress: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<BuiltImage, ProvisionError> {
    build_with_options(docker, spec, &BuildOptions::default(), progress).await
}

/// Build `spec` unless an image with its content address exists; report progress.
///
/// The base is resolved first ([`resolve_base`]); with unchanged inputs the whole call
/// is three engine requests and no build (`reused: true`).
pub async fn build_with_options(
    docker: &Docker,
    spec: &BuildSpec,
    options: &BuildOptions,
    progress: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<BuiltImage, ProvisionError> {
    let resolved = resolve_base(docker, spec).await?;
    let prepared = prepare(&resolved)?;
    // `no_cache` asks for every step to run again, so an image already tagged with
    // this content address is rebuilt too.
    let mut reuse = if options.no_cache {
        None
    } else {
        existing(docker, &prepared).await?
    };
    // One build of a content address at a time on this machine: two projects (or two
    // test processes) sharing a service image would otherwise both build it, and the
    // second tag would move under the first one's containers. The one that waited
    // finds the image the other built.
    let _building = match reuse {
        Some(_) => None,
        None => {
            let held = build_lock(&prepared.sha256).await?;
            if !options.no_cache {
                reuse = existing(docker, &prepared).await?;
            }
            Some(held)
        }
    };
    if let Some(id) = reuse {
        progress(BuildEvent::Done {
            tag: prepared.tag.clone(),
            id: id.clone(),
            reused: true,
        });
        return Ok(BuiltImage {
            tag: prepared.tag,
            id,
            spec_sha256: prepared.sha256,
            reused: true,
            log_path: None,
        });
    }
    let log_path = options.log_dir.join(format!(
        "build-{}-{}.log",
        repository_component(&resolved.project),
        &prepared.sha256[..crate::context::TAG_HEX_LEN]
    ));
    let id = match run_build(docker, &resolved, &prepared, options, &log_path, progress).await {
        Err(err) if failed_to_resolve_a_name(&log_path) => {
            // A resolver that failed for a moment (apt's "Temporary failure resolving",
            // npm's EAI_AGAIN, which npm itself never retries) is not a verdict on the
            // manifest: one more build, whose log replaces the first.
            progress(BuildEvent::Output(format!(
                "a name could not be resolved inside the build (a transient network failure; {err}); building once more"
            )));
            tokio::time::sleep(NAME_RETRY_DELAY).await;
            run_build(docker, &resolved, &prepared, options, &log_path, progress).await?
        }
        result => result?,
    };
    progress(BuildEvent::Done {
        tag: prepared.tag.clone(),
        id: id.clone(),
        reused: false,
    });
    Ok(BuiltImage {
        tag: prepared.tag,
        id,
        spec_sha256: prepared.sha256,
        reused: false,
        log_path: Some(log_path),
    })
}

/// This user's envsync directory of one XDG kind: `$XDG_…/envsync`, else
/// `~/<fallback>/envsync`, so one user's files never block another's (a root-owned
/// file in a shared temp directory did). Only without any home directory, the temp
/// directory's `envsync`.
pub fn user_dir(xdg: &str, fallback: &str) -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match (env(xdg), env("HOME")) {
        (Some(dir), _) => PathBuf::from(dir).join("envsync"),
        (None, Some(home)) => PathBuf::from(home).join(fallback).join("envsync"),
        (None, None) => std::env::temp_dir().join("envsync"),
    }
}

/// An exclusive lock on the build of content address `sha256`, held until dropped: a
/// file in this user's cache directory, locked by the operating system (waited for on a
/// blocking thread).
async fn build_lock(sha256: &str) -> Result<std::fs::File, ProvisionError> {
    let dir = user_dir("XDG_CACHE_HOME", ".cache").join("locks");
    let path = dir.join(format!(
        "build-{}.lock",
        &sha256[..crate::context::TAG_HEX_LEN]
    ));
    std::fs::create_dir_all(&dir).map_err(|source| ProvisionError::ReadInput {
        path: dir.clone(),
        what: "the directory of build locks".into(),
        source,
    })?;
    let error = |source| ProvisionError::ReadInput {
        path: path.clone(),
        what: "the lock that lets one build of an image run at a time".into(),
        source,
    };
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(error)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|join| error(std::io::Error::other(join)))?
        .map_err(error)
}

/// The ID of the image tagged with the prepared content address, if it exists and
/// carries the matching label (a tag someone applied by hand does not count).
async fn existing(docker: &Docker, prepared: &Prepared) -> Result<Option<String>, ProvisionError> {
    match docker.inspect_image(&prepared.tag).await {
        Ok(image) => {
            let label = image
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(LABEL_SPEC_SHA256));
            if label == Some(&prepared.sha256) {
                Ok(image.id)
            } else {
                Ok(None)
            }
        }
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(ProvisionError::Docker {
            action: format!("looking up image `{}`", prepared.tag),
            source,
        }),
    }
}

/// The labels every envsync image carries.
pub fn image_labels(project: &str, spec_sha256: &str) -> HashMap<String, String> {
    HashMap::from([
        (
            envsync_engine::LABEL_MANAGED.to_string(),
            "true".to_string(),
        ),
        (LABEL_PROJECT.to_string(), project.to_string()),
        (LABEL_SPEC_SHA256.to_string(), spec_sha256.to_string()),
    ])
}

/// Splits the engine's output chunks into lines, remembering the current step.
#[derive(Debug, Default)]
struct LineState {
    partial: String,
    step: Option<String>,
    tail: std::collections::VecDeque<String>,
    /// The whole log, kept for diagnosis of a failure.
    all: String,
}

impl LineState {
    fn push(&mut self, chunk: &str, progress: &(dyn Fn(BuildEvent) + Send + Sync)) {
        self.partial.push_str(chunk);
        while let Some(newline) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=newline).collect();
            self.line(line.trim_end_matches(['\n', '\r']), progress);
        }
    }

    fn finish(&mut self, progress: &(dyn Fn(BuildEvent) + Send + Sync)) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, progress);
        }
    }

    fn line(&mut self, line: &str, progress: &(dyn Fn(BuildEvent) + Send + Sync)) {
        self.all.push_str(line);
        self.all.push('\n');
        self.tail.push_back(line.to_string());
        if self.tail.len() > TAIL_LINES {
            self.tail.pop_front();
        }
        if let Some(step) = parse_step(line) {
            self.step = Some(line.to_string());
            progress(step);
        } else {
            progress(BuildEvent::Output(line.to_string()));
        }
    }
}

/// `text` without ANSI escape sequences (`ESC [ params final`), which the engine wraps
/// around a step's stderr.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in `@`..=`~`.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// `Step 3/7 : RUN apt-get update`
fn parse_step(line: &str) -> Option<BuildEvent> {
    let rest = line.strip_prefix("Step ")?;
    let (counts, instruction) = rest.split_once(" : ")?;
    let (index, total) = counts.split_once('/')?;
    Some(BuildEvent::Step {
        index: index.parse().ok()?,
        total: total.parse().ok()?,
        instruction: instruction.to_string(),
    })
}

/// Build `prepared` through the engine: the log opened, the build streamed into it and
/// into `progress`, then the tag checked.
/// How long a build whose name resolution failed waits before it runs again.
const NAME_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

/// What apt, pip, npm and curl print when the resolver fails for a moment, as
/// opposed to a name that does not exist.
const TRANSIENT_RESOLVER_FAILURES: &[&str] = &[
    "Temporary failure resolving",
    "Temporary failure in name resolution",
    "EAI_AGAIN",
];

/// Whether the build log at `log_path` shows a transient name-resolution failure.
fn failed_to_resolve_a_name(log_path: &Path) -> bool {
    std::fs::read_to_string(log_path).is_ok_and(|log| {
        TRANSIENT_RESOLVER_FAILURES
            .iter()
            .any(|marker| log.contains(marker))
    })
}

async fn run_build(
    docker: &Docker,
    spec: &BuildSpec,
    prepared: &Prepared,
    options: &BuildOptions,
    log_path: &Path,
    progress: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<String, ProvisionError> {
    let mut log = open_log(&options.log_dir, log_path, prepared)?;
    let context = if options.artifacts.is_empty() {
        prepared.context.clone()
    } else {
        crate::context::context_with_artifacts(spec, &options.artifacts)?
    };
    // Builds outlast the engine client's default request timeout.
    let long = docker.clone().with_timeout(BUILD_TIMEOUT);
    let body = bollard::body_full(context.into());
    let stream = long.build_image(
        build_image_options(spec, prepared, options),
        None,
        Some(body),
    );
    let mut state = LineState::default();
    let failure = follow_build(stream, &mut log, &mut state, prepared, log_path, progress).await?;
    state.finish(progress);
    if let Some(message) = failure {
        writeln!(log, "\n# build failed: {message}").map_err(log_error(log_path))?;
        return Err(explain_failure(&state, &message, log_path));
    }
    // The tag, not the ID the stream reported, is the proof the build completed.
    existing(docker, prepared)
        .await?
        .ok_or_else(|| ProvisionError::NotTagged {
            tag: prepared.tag.clone(),
            log: log_path.to_path_buf(),
        })
}

fn log_error(log_path: &Path) -> impl Fn(std::io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Log {
        path: log_path.to_path_buf(),
        source,
    }
}

/// Create the build log at `log_path` (and `log_dir`), headed by the tag and the
/// Dockerfile, so a failed build's log says what was built.
fn open_log(
    log_dir: &Path,
    log_path: &Path,
    prepared: &Prepared,
) -> Result<std::fs::File, ProvisionError> {
    std::fs::create_dir_all(log_dir).map_err(log_error(log_path))?;
    let mut log = std::fs::File::create(log_path).map_err(log_error(log_path))?;
    writeln!(
        log,
        "# envsync build of {}\n# Dockerfile:\n{}",
        prepared.tag, prepared.dockerfile
    )
    .map_err(log_error(log_path))?;
    Ok(log)
}

/// The engine's build options: the tag, envsync's labels, intermediate containers
/// always removed, and the network and build arguments `options` call for.
fn build_image_options(
    spec: &BuildSpec,
    prepared: &Prepared,
    options: &BuildOptions,
) -> bollard::query_parameters::BuildImageOptions {
    let mut labels = image_labels(&spec.project, &prepared.sha256);
    labels.extend(options.labels.iter().cloned());
    let mut build_args = HashMap::new();
    if options.offline {
        build_args.insert("PIP_NO_INDEX".to_string(), "1".to_string());
    }
    BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&prepared.tag)
        .rm(true)
        .forcerm(true)
        .nocache(options.no_cache)
        .labels(&labels)
        // A package source on this machine's loopback is reachable from the host's
        // network only.
        .networkmode(if options.offline {
            "none"
        } else if spec.sources.on_loopback() {
            "host"
        } else {
            "default"
        })
        .buildargs(&build_args)
        .build()
}

/// Follow the build's output to its end, writing it to `log` and through `state` to
/// `progress`. `Ok(Some(message))` when the build failed (a step's error, reported by
/// the engine in the stream); an engine error is the `Err`.
async fn follow_build(
    mut stream: impl futures_util::Stream<Item = Result<bollard::models::BuildInfo, BollardError>>
        + Unpin,
    log: &mut std::fs::File,
    state: &mut LineState,
    prepared: &Prepared,
    log_path: &Path,
    progress: &(dyn Fn(BuildEvent) + Send + Sync),
) -> Result<Option<String>, ProvisionError> {
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                    // The engine colours a step's stderr; the log and events get plain text.
                    let text = strip_ansi(text);
                    log.write_all(text.as_bytes())
                        .map_err(log_error(log_path))?;
                    state.push(&text, progress);
                }
            }
            Err(BollardError::DockerStreamError { error }) => return Ok(Some(error)),
            Err(source) => {
                state.finish(progress);
                let _ = writeln!(log, "\n# engine error: {source}");
                return Err(ProvisionError::Docker {
                    action: format!(
                        "building `{}` (build log `{}`)",
                        prepared.tag,
                        log_path.display()
                    ),
                    source,
                });
            }
        }
    }
    Ok(None)
}

fn explain_failure(state: &LineState, message: &str, log_path: &Path) -> ProvisionError {
    let log = log_path.to_path_buf();
    match diagnose(&state.all) {
        Some(Diagnosis::VersionNotFound {
            ecosystem,
            package,
            wanted,
            available,
        }) => ProvisionError::VersionNotFound {
            ecosystem: ecosystem.to_string(),
            package,
            wanted,
            available,
            log,
        },
        Some(Diagnosis::PackageNotFound { ecosystem, package }) => {
            ProvisionError::PackageNotFound {
                ecosystem: ecosystem.to_string(),
                package,
                log,
            }
        }
        Some(Diagnosis::RuntimeMismatch {
            runtime,
            wanted,
            found,
        }) => ProvisionError::RuntimeMismatch {
            runtime,
            wanted,
            found,
            log,
        },
        Some(Diagnosis::ChecksumMismatch {
            ecosystem,
            package,
            expected,
            got,
        }) => ProvisionError::ChecksumMismatch {
            ecosystem: ecosystem.to_string(),
            package,
            expected,
            got,
            log,
        },
        Some(Diagnosis::ClosureMismatch { packages }) => {
            ProvisionError::ClosureMismatch { packages, log }
        }
        None => ProvisionError::StepFailed {
            step: state
                .step
                .clone()
                .unwrap_or_else(|| "before the first step".to_string()),
            message: message.trim().to_string(),
            log,
            tail: state
                .tail
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        },
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn only_a_transient_resolver_failure_builds_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("build.log");
        for (output, transient) in [
            ("Err:1 http://deb.example bookworm InRelease\n  Temporary failure resolving 'deb.example'", true),
            ("npm error code EAI_AGAIN\nnpm error syscall getaddrinfo", true),
            ("Failed to establish a new connection: [Errno -3] Temporary failure in name resolution", true),
            ("npm error code ENOTFOUND\nnpm error notarget No matching version found for left-pad@99.0.0", false),
            ("E: Version '9.9' for 'curl' was not found", false),
        ] {
            std::fs::write(&log, output).unwrap();
            assert_eq!(failed_to_resolve_a_name(&log), transient, "{output}");
        }
        assert!(!failed_to_resolve_a_name(&dir.path().join("missing.log")));
    }
    use std::sync::Mutex;

    use super::*;

    fn check(chunks: &[&str], expected: &[BuildEvent]) {
        let events = Mutex::new(Vec::new());
        let record = |e: BuildEvent| events.lock().unwrap().push(e);
        let mut state = LineState::default();
        for chunk in chunks {
            state.push(chunk, &record);
        }
        state.finish(&record);
        assert_eq!(events.into_inner().unwrap(), expected);
    }

    #[test]
    fn chunks_become_lines_and_steps() {
        check(
            &[
                "Step 1/2 : FROM sha256:ab\n ---> ab",
                "\nStep 2/2 : RUN tr",
                "ue\n",
                "tail",
            ],
            &[
                BuildEvent::Step {
                    index: 1,
                    total: 2,
                    instruction: "FROM sha256:ab".into(),
                },
                BuildEvent::Output(" ---> ab".into()),
                BuildEvent::Step {
                    index: 2,
                    total: 2,
                    instruction: "RUN true".into(),
                },
                BuildEvent::Output("tail".into()),
            ],
        );
    }

    #[test]
    fn ansi_colours_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[91mERROR: x\n\u{1b}[0m\u{1b}[91mE: y\u{1b}[0m"),
            "ERROR: x\nE: y"
        );
        assert_eq!(strip_ansi("plain [text]"), "plain [text]");
    }

    #[test]
    fn unexplained_failure_carries_step_and_tail() {
        let mut state = LineState::default();
        let quiet = |_: BuildEvent| {};
        for i in 0..30 {
            state.push(&format!("line {i}\n"), &quiet);
        }
        state.push("Step 4/9 : RUN false\n", &quiet);
        let err = explain_failure(
            &state,
            "The command returned a non-zero code: 1",
            Path::new("/l.log"),
        );
        let text = err.to_string();
        assert!(
            text.starts_with("build step failed: `Step 4/9 : RUN false`: The command returned a non-zero code: 1\nlast lines of the build log `/l.log`:\n  line 11\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2 + TAIL_LINES);
    }
}
