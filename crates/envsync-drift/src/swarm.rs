//! `swarm:SERVICE`: every running task of a Docker Swarm service as a fleet member.
//!
//! The manager engine (`DOCKER_HOST`) lists the service's tasks (`GET /tasks` filtered by
//! `service` and `desired-state=running`). A task on the manager's own node is read
//! through that engine by its container ID, exactly like `docker:ID`; a task on another
//! node is read through that node's engine, whose address comes from a template the user
//! gives (`--swarm-node-engine ssh://deploy@{addr}` or `ENVSYNC_SWARM_NODE_ENGINE`), with
//! `{addr}` the node's `Status.Addr` and `{hostname}` its `Description.Hostname`. A task
//! on a node with no engine address is a member that failed, named with its node, never
//! a hidden one.

use std::collections::HashMap;

use bollard::models::{LocalNodeState, Task, TaskState};
use bollard::query_parameters::ListTasksOptionsBuilder;
use bollard::Docker;
use envsync_manifest::destination::parse_ssh_destination;

use crate::error::DriftError;

/// The environment variable holding the node engine template when
/// `--swarm-node-engine` is not given.
pub const NODE_ENGINE_ENV: &str = "ENVSYNC_SWARM_NODE_ENGINE";

/// Where a task's container can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEngine {
    /// The manager engine (`DOCKER_HOST`): the task runs on its node.
    Local,
    /// Another node's engine, at this address.
    Remote(String),
    /// Another node, and no template to reach its engine.
    Unreachable { node: String, addr: String },
}

/// One running task of a service, as a fleet member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmTask {
    /// `swarm:SERVICE/SERVICE.SLOT` (a global service's tasks: `SERVICE.NODE-ID`).
    pub name: String,
    /// The task's container ID on its node.
    pub container: String,
    /// The task's observed state (`running` when it can be read).
    pub state: String,
    pub engine: TaskEngine,
}

/// Check a service name as Docker accepts it: ASCII letters, digits, `_`, `.`, `-`,
/// starting with a letter or digit (names or IDs), at most 63 characters.
pub fn valid_service_name(name: &str) -> Result<(), String> {
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok_start || !ok_rest || name.len() > 63 {
        return Err(format!(
            "`{name}` is not a service name: use ASCII letters, digits, `_`, `.` and `-`, starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Fill `template` with a node's address and host name into an engine address. Only
/// `ssh://` (checked as `ssh://` targets are, so nothing reaches `ssh` as an option),
/// `tcp://` and `unix://` addresses are accepted.
pub fn node_engine(template: &str, addr: &str, hostname: &str) -> Result<String, String> {
    let filled = template
        .replace("{addr}", addr)
        .replace("{hostname}", hostname);
    if let Some(rest) = filled.strip_prefix("ssh://") {
        parse_ssh_destination(rest).map_err(|e| {
            format!("the node engine `{filled}` (from template `{template}`) is not usable: {e}")
        })?;
        return Ok(filled);
    }
    let other = filled
        .strip_prefix("tcp://")
        .or_else(|| filled.strip_prefix("unix://"));
    match other {
        Some(rest)
            if !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-:/[]".contains(c)) =>
        {
            Ok(filled)
        }
        _ => Err(format!(
            "the node engine `{filled}` (from template `{template}`) is not an engine address; use `ssh://[user@]{{addr}}[:port]`, `tcp://{{addr}}:2376` or `unix:///path`"
        )),
    }
}

/// The running tasks of `service`, in slot order, listed through the manager engine
/// (`DOCKER_HOST`). `template` maps other nodes to their engines (see [`node_engine`]).
pub async fn service_tasks(
    service: &str,
    template: Option<&str>,
) -> Result<Vec<SwarmTask>, DriftError> {
    let target = format!("swarm:{service}");
    let docker = crate::docker::connect_engine(None, &target).await?;
    let local_node = manager_node(&docker, service).await?;
    let err = |e: bollard::errors::Error| swarm_err(service, e.to_string());
    docker
        .inspect_service(service, None)
        .await
        .map_err(|e| match &e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            } => DriftError::SwarmServiceNotFound {
                service: service.to_string(),
            },
            _ => err(e),
        })?;
    let filters = HashMap::from([
        ("service", vec![service]),
        ("desired-state", vec!["running"]),
    ]);
    let options = ListTasksOptionsBuilder::new().filters(&filters).build();
    let tasks = docker.list_tasks(Some(options)).await.map_err(err)?;
    let mut nodes: HashMap<String, TaskEngine> = HashMap::new();
    let mut members = Vec::new();
    for task in tasks {
        let node = task.node_id.clone().unwrap_or_default();
        let engine = match nodes.get(&node) {
            Some(engine) => engine.clone(),
            None => {
                let engine = engine_of(&docker, service, &node, &local_node, template).await?;
                nodes.insert(node.clone(), engine.clone());
                engine
            }
        };
        members.push((task.slot, member(service, &task, engine)));
    }
    members.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    Ok(members.into_iter().map(|(_, m)| m).collect())
}

fn swarm_err(service: &str, message: String) -> DriftError {
    DriftError::Docker {
        target: format!("swarm:{service}"),
        message,
    }
}

/// The manager's own node ID; an error unless the engine is an active swarm manager.
async fn manager_node(docker: &Docker, service: &str) -> Result<String, DriftError> {
    let info = docker
        .info()
        .await
        .map_err(|e| swarm_err(service, e.to_string()))?;
    let swarm = info.swarm.unwrap_or_default();
    let active = swarm.local_node_state == Some(LocalNodeState::ACTIVE);
    if !active || swarm.control_available != Some(true) {
        return Err(DriftError::NotSwarmManager {
            service: service.to_string(),
            engine: envsync_engine::engine_host(),
            state: swarm
                .local_node_state
                .map_or_else(|| "unknown".to_string(), |s| s.to_string()),
        });
    }
    Ok(swarm.node_id.unwrap_or_default())
}

/// How to reach the engine of `node`.
async fn engine_of(
    docker: &Docker,
    service: &str,
    node: &str,
    local_node: &str,
    template: Option<&str>,
) -> Result<TaskEngine, DriftError> {
    if node == local_node {
        return Ok(TaskEngine::Local);
    }
    let info = docker
        .inspect_node(node)
        .await
        .map_err(|e| swarm_err(service, format!("cannot inspect node `{node}`: {e}")))?;
    let addr = info.status.and_then(|s| s.addr).unwrap_or_default();
    let hostname = info
        .description
        .and_then(|d| d.hostname)
        .unwrap_or_default();
    let Some(template) = template else {
        return Ok(TaskEngine::Unreachable {
            node: node.to_string(),
            addr,
        });
    };
    node_engine(template, &addr, &hostname)
        .map(TaskEngine::Remote)
        .map_err(|message| swarm_err(service, message))
}

fn member(service: &str, task: &Task, engine: TaskEngine) -> SwarmTask {
    let suffix = match task.slot {
        Some(slot) => slot.to_string(),
        None => task.node_id.clone().unwrap_or_default(),
    };
    let status = task.status.as_ref();
    SwarmTask {
        name: format!("swarm:{service}/{service}.{suffix}"),
        container: status
            .and_then(|s| s.container_status.as_ref())
            .and_then(|c| c.container_id.clone())
            .unwrap_or_default(),
        state: status
            .and_then(|s| s.state)
            .unwrap_or(TaskState::NEW)
            .to_string(),
        engine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_engines() {
        assert_eq!(
            node_engine("ssh://deploy@{addr}", "10.0.0.7", "n1"),
            Ok("ssh://deploy@10.0.0.7".to_string())
        );
        assert_eq!(
            node_engine("ssh://{hostname}:2222", "10.0.0.7", "node-1.example.org"),
            Ok("ssh://node-1.example.org:2222".to_string())
        );
        assert_eq!(
            node_engine("tcp://{addr}:2376", "10.0.0.7", "n1"),
            Ok("tcp://10.0.0.7:2376".to_string())
        );
        let bad = node_engine("ssh://{hostname}", "10.0.0.7", "-oProxyCommand=x").unwrap_err();
        assert!(bad.contains("`ssh://-oProxyCommand=x`"), "{bad}");
        let bad = node_engine("http://{addr}", "10.0.0.7", "n1").unwrap_err();
        assert!(bad.contains("is not an engine address"), "{bad}");
        let bad = node_engine("tcp://{addr};reboot", "10.0.0.7", "n1").unwrap_err();
        assert!(bad.contains("is not an engine address"), "{bad}");
    }

    #[test]
    fn service_names() {
        assert!(valid_service_name("web").is_ok());
        assert!(valid_service_name("envsync-test.web_1").is_ok());
        for bad in ["", "-web", "web/1", "we b", "web;x"] {
            assert!(valid_service_name(bad).is_err(), "{bad}");
        }
    }
}
