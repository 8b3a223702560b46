//! The entry point of collection: [`fingerprint`] takes any [`Target`] to a normalised
//! [`Snapshot`], with one time limit over the whole collection.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::collect::provenance::{provenance, Provenance};
use crate::collect::{inventory, local, CollectOptions, FileSet};
use crate::error::DriftError;
use crate::snapshot::Snapshot;
use crate::swarm::{SwarmTask, TaskEngine};
use crate::target::Target;

/// Collect a snapshot of `target`. A saved snapshot file is read, not re-collected.
/// Costs a constant number of round trips: one `exec` for a container, one export for
/// an image, one `ssh` call for a server.
pub async fn fingerprint(target: &Target, opts: &CollectOptions) -> Result<Snapshot, DriftError> {
    if let Target::File(path) = target {
        return Snapshot::read(path);
    }
    collect_with(target, opts, |snapshot, _| snapshot).await
}

/// Collect a snapshot of a live `target` together with its [`Provenance`] (why each
/// package is there, and the content of the files `opts` names), in the same round
/// trips as [`fingerprint`]: what `envsync init` starts from. A saved snapshot has no
/// provenance and is an error.
pub async fn survey(
    target: &Target,
    opts: &CollectOptions,
) -> Result<(Snapshot, Provenance), DriftError> {
    if let Target::File(path) = target {
        return Err(DriftError::Malformed {
            target: path.display().to_string(),
            message: "a saved snapshot does not record why packages are installed; name a live target (docker:NAME, image:REF, ssh://HOST, local)".to_string(),
        });
    }
    collect_with(target, opts, |mut snapshot, files| {
        let selector = crate::collect::Selector::new(opts);
        let prov = provenance(files, &selector, &mut snapshot.warnings);
        (snapshot, prov)
    })
    .await
}

/// Gather `target`'s files within the time limit, take their inventory, and hand both
/// to `finish`.
async fn collect_with<T>(
    target: &Target,
    opts: &CollectOptions,
    finish: impl FnOnce(Snapshot, &FileSet) -> T,
) -> Result<T, DriftError> {
    let name = target.to_string();
    let key = opts.resolve_key()?;
    let work = async {
        let files: FileSet = match target {
            Target::Local | Target::LocalRoot(_) => {
                let root = match target {
                    Target::LocalRoot(p) => p.clone(),
                    _ => std::path::PathBuf::from("/"),
                };
                let selector = crate::collect::Selector::new(opts);
                let (limit, target_name) = (opts.max_total_bytes, name.clone());
                let mut files = tokio::task::spawn_blocking(move || {
                    local::collect_root(&root, &selector, &target_name, limit)
                })
                .await
                .map_err(|e| DriftError::Malformed {
                    target: name.clone(),
                    message: e.to_string(),
                })??;
                if matches!(target, Target::Local) {
                    let env = local::process_env();
                    files.path_var = crate::collect::path_of(&env);
                    if opts.wants_env() {
                        files.env = Some(env);
                    }
                }
                files
            }
            Target::Docker(container) => crate::docker::collect_container(container, opts).await?,
            Target::Image(reference) => crate::docker::collect_image(reference, opts).await?,
            Target::Ssh { user, host, port } => {
                crate::ssh::collect_ssh(&name, user.as_deref(), host, *port, opts).await?
            }
            Target::Swarm(service) => {
                return Err(DriftError::SwarmFleet {
                    service: service.clone(),
                })
            }
            Target::SwarmTask(task) => collect_task(task, opts).await?,
            Target::File(_) => FileSet::default(),
        };
        let snapshot = inventory(&name, &files, opts, key.as_ref());
        Ok::<_, DriftError>((snapshot, files))
    };
    let (mut snapshot, files) =
        tokio::time::timeout(opts.timeout, work)
            .await
            .map_err(|_| DriftError::Timeout {
                target: name.clone(),
                after: opts.timeout,
            })??;
    snapshot.collected_at = Some(rfc3339_now());
    Ok(finish(snapshot, &files))
}

/// Read one swarm task's container through the engine of its node.
async fn collect_task(task: &SwarmTask, opts: &CollectOptions) -> Result<FileSet, DriftError> {
    if task.state != "running" {
        return Err(DriftError::SwarmTaskNotRunning {
            task: task.name.clone(),
            state: task.state.clone(),
        });
    }
    let engine = match &task.engine {
        TaskEngine::Local => None,
        TaskEngine::Remote(address) => Some(address.as_str()),
        TaskEngine::Unreachable { node, addr } => {
            return Err(DriftError::SwarmNodeUnreachable {
                task: task.name.clone(),
                node: node.clone(),
                addr: addr.clone(),
            })
        }
    };
    crate::docker::collect_container_on(engine, &task.container, &task.name, opts).await
}

/// The current time as RFC 3339 UTC with second precision.
pub fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// `secs` since the Unix epoch as RFC 3339 UTC with second precision.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[tokio::test]
    async fn local_root_of_a_missing_directory_is_an_error() {
        let err = fingerprint(
            &Target::LocalRoot("/nonexistent/root".into()),
            &CollectOptions::default(),
        )
        .await
        .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/root"), "{err}");
    }
}
