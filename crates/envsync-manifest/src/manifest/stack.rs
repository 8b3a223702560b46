//! How services form a stack: each service's configuration `files`, `depends_on` (of
//! services and `[dev]`) with its start order checked for unknown names and cycles, and
//! `profiles`.

use toml_edit::{Item, Key, TableLike};

use super::ctx::*;
use super::names::*;
use super::*;
use crate::diag::Diagnostic;

/// The name `depends_on` gives the development container.
pub const DEV_NAME: &str = "dev";

impl Ctx<'_> {
    /// A service's `files`, `depends_on` and `profiles`.
    pub(super) fn service_stack(
        &mut self,
        st: &dyn TableLike,
        section: &str,
        service: &mut Service,
    ) {
        if let Some((k, v)) = st.get_key_value("files") {
            if let Some(ft) = self.table(k, v, section) {
                service.files = self.files(ft, &format!("{section}.files"));
            }
            if st.contains_key("image") {
                self.error(
                    k.span(),
                    format!("[{section}] has both `image` and `files`"),
                    "envsync copies `files` into the service images it builds: remove `image` and build it from the base with `packages`, or mount the file with `volumes`".into(),
                );
            }
        }
        if let Some((k, v)) = st.get_key_value("depends_on") {
            service.depends_on = self.depends_on(k, v, section);
        }
        if let Some((k, v)) = st.get_key_value("profiles") {
            self.strings(k, v, section, "[\"debug\"]");
            for p in v.as_array().into_iter().flat_map(|a| a.iter()) {
                let Some(profile) = p.as_str() else { continue };
                if !is_simple_name(profile) {
                    self.error(
                        p.span(),
                        format!("profile `{profile}` in [{section}] is not a valid name"),
                        "use lowercase letters, digits, `-` and `_`, e.g. `profiles = [\"debug\"]`"
                            .into(),
                    );
                } else if service.profiles.iter().any(|q| q == profile) {
                    self.error(
                        p.span(),
                        format!("profile `{profile}` is listed twice in [{section}]"),
                        "list each profile once".into(),
                    );
                } else {
                    service.profiles.push(profile.to_string());
                }
            }
        }
    }

    /// A `depends_on` array of names, each with its position; a name listed twice is
    /// an error. Whether each names something is checked by [`Ctx::start_order`].
    pub(super) fn depends_on(&mut self, key: &Key, item: &Item, section: &str) -> Vec<Dependency> {
        self.strings(key, item, section, "[\"postgres\", \"redis\"]");
        let mut out: Vec<Dependency> = Vec::new();
        for v in item.as_array().into_iter().flat_map(|a| a.iter()) {
            let Some(name) = v.as_str() else { continue };
            let (line, column) = self.pos(v.span());
            if out.iter().any(|d| d.name == name) {
                self.error(
                    v.span(),
                    format!("`{name}` is listed twice in `depends_on` of [{section}]"),
                    "list each dependency once".into(),
                );
                continue;
            }
            out.push(Dependency {
                name: name.to_string(),
                line,
                column,
            });
        }
        out
    }

    /// Every `depends_on` names a service or `dev`, and following them never comes back
    /// to where it started: each unknown name and each cycle is an error at the entry
    /// that names it.
    pub(super) fn start_order(&mut self, services: &[Service], dev: Option<&Dev>) {
        let nodes = graph(services, dev);
        let known: Vec<&str> = nodes.iter().map(|(name, ..)| *name).collect();
        for (name, section, deps) in &nodes {
            for d in deps.iter() {
                if d.name == *name {
                    self.push_at(
                        d,
                        format!("[{section}] depends on itself"),
                        "remove it from its own `depends_on`".into(),
                    );
                } else if !known.contains(&d.name.as_str()) {
                    let fix = match suggest(&d.name, &known) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("name one of {}", list(&known)),
                    };
                    self.push_at(
                        d,
                        format!(
                            "`depends_on` of [{section}] names `{}`, which is not a service or `dev`",
                            d.name
                        ),
                        fix,
                    );
                }
            }
        }
        for cycle in cycles(&nodes) {
            let (first, section, deps) = &nodes[cycle[0]];
            let next = nodes[cycle[1 % cycle.len()]].0;
            let Some(entry) = deps.iter().find(|d| d.name == next) else {
                continue;
            };
            let path: Vec<&str> = cycle.iter().map(|i| nodes[*i].0).chain([*first]).collect();
            self.push_at(
                entry,
                format!(
                    "`depends_on` of [{section}] forms a cycle: {}",
                    path.join(" → ")
                ),
                "remove one of these dependencies; nothing in a cycle could start first".into(),
            );
        }
    }

    fn push_at(&mut self, d: &Dependency, message: String, fix: String) {
        self.errors.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: d.line,
            column: d.column,
            message,
            fix,
        });
    }
}

/// (name, section, dependencies) of every service and of the development container.
type Node<'a> = (&'a str, String, &'a [Dependency]);

fn graph<'a>(services: &'a [Service], dev: Option<&'a Dev>) -> Vec<Node<'a>> {
    let mut nodes: Vec<Node<'a>> = services
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                format!("services.{}", s.name),
                s.depends_on.as_slice(),
            )
        })
        .collect();
    // The development container always runs, with or without a [dev] section.
    nodes.push((
        DEV_NAME,
        "dev".to_string(),
        dev.map(|d| d.depends_on.as_slice()).unwrap_or_default(),
    ));
    nodes
}

/// The cycles among `nodes` (other than a node naming itself), each once, as indices in
/// dependency order starting from the node declared first.
fn cycles(nodes: &[Node<'_>]) -> Vec<Vec<usize>> {
    let index = |name: &str| nodes.iter().position(|(n, ..)| *n == name);
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .enumerate()
        .map(|(i, (_, _, deps))| {
            deps.iter()
                .filter_map(|d| index(&d.name))
                .filter(|j| *j != i)
                .collect()
        })
        .collect();
    let mut found: Vec<Vec<usize>> = Vec::new();
    // 0: not visited, 1: on the current path, 2: done.
    let mut state = vec![0u8; nodes.len()];
    let mut path = Vec::new();
    for start in 0..nodes.len() {
        visit(start, &edges, &mut state, &mut path, &mut found);
    }
    found
}

fn visit(
    node: usize,
    edges: &[Vec<usize>],
    state: &mut [u8],
    path: &mut Vec<usize>,
    found: &mut Vec<Vec<usize>>,
) {
    if state[node] != 0 {
        return;
    }
    state[node] = 1;
    path.push(node);
    for &next in &edges[node] {
        match state[next] {
            0 => visit(next, edges, state, path, found),
            1 => {
                let at = path.iter().position(|n| *n == next).unwrap_or(0);
                let mut cycle = path[at..].to_vec();
                // Start at the node declared first, so the report is stable.
                let first = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, n)| **n)
                    .map_or(0, |(i, _)| i);
                cycle.rotate_left(first);
                found.push(cycle);
            }
            _ => {}
        }
    }
    path.pop();
    state[node] = 2;
}

/// Why `up SERVICE…` or `--profile` names nothing the manifest has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("{file} has no service `{name}`; its services are {known}")]
    UnknownService {
        file: String,
        name: String,
        known: String,
    },
    #[error("no service of {file} has the profile `{name}`; its profiles are {known}")]
    UnknownProfile {
        file: String,
        name: String,
        known: String,
    },
}

impl Manifest {
    /// What `up` runs, in manifest order (`dev` last): the services named in `names`
    /// (and `dev`, the development container), or, when there are none, every service
    /// without a profile or with one of `profiles`, and the development container;
    /// then everything those depend on, whatever its profiles (as compose does).
    pub fn select(
        &self,
        names: &[String],
        profiles: &[String],
    ) -> Result<Vec<String>, SelectError> {
        let file = self.file.display().to_string();
        let all: Vec<&str> = self
            .services
            .iter()
            .map(|s| s.name.as_str())
            .chain([DEV_NAME])
            .collect();
        let known_profiles: Vec<&str> = self
            .services
            .iter()
            .flat_map(|s| s.profiles.iter().map(String::as_str))
            .collect();
        if let Some(p) = profiles
            .iter()
            .find(|p| !known_profiles.contains(&p.as_str()))
        {
            return Err(SelectError::UnknownProfile {
                file,
                name: p.clone(),
                known: if known_profiles.is_empty() {
                    "none".into()
                } else {
                    list(&known_profiles)
                },
            });
        }
        let mut wanted: Vec<String> = Vec::new();
        if names.is_empty() {
            let active = self.services.iter().filter(|s| {
                s.profiles.is_empty() || s.profiles.iter().any(|p| profiles.contains(p))
            });
            wanted.extend(active.map(|s| s.name.clone()));
            wanted.push(DEV_NAME.to_string());
        }
        for name in names {
            if !all.contains(&name.as_str()) {
                return Err(SelectError::UnknownService {
                    file,
                    name: name.clone(),
                    known: list(&all),
                });
            }
            wanted.push(name.clone());
        }
        // Everything the wanted ones depend on, transitively.
        let mut at = 0;
        while at < wanted.len() {
            let deps: Vec<&Dependency> = match wanted[at].as_str() {
                DEV_NAME => self.dev.iter().flat_map(|d| &d.depends_on).collect(),
                name => self
                    .services
                    .iter()
                    .filter(|s| s.name == name)
                    .flat_map(|s| &s.depends_on)
                    .collect(),
            };
            for d in deps {
                if !wanted.contains(&d.name) {
                    wanted.push(d.name.clone());
                }
            }
            at += 1;
        }
        Ok(all
            .into_iter()
            .filter(|n| wanted.iter().any(|w| w == n))
            .map(str::to_string)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn select_follows_dependencies_and_profiles() {
        let m = parse(&format!(
            "{HEAD}[services.postgres]\nversion = \"15\"\n[services.redis]\nversion = \"7\"\n\
             [services.nginx]\nversion = \"1.22\"\ndepends_on = [\"dev\"]\n\
             [services.adminer]\nversion = \"4\"\nprofiles = [\"debug\"]\ndepends_on = [\"postgres\"]\n\
             [dev]\ndepends_on = [\"postgres\", \"redis\"]\n"
        ))
        .unwrap();
        let select = |names: &[&str], profiles: &[&str]| {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let profiles: Vec<String> = profiles.iter().map(|s| s.to_string()).collect();
            m.select(&names, &profiles).map_err(|e| e.to_string())
        };
        assert_eq!(
            select(&[], &[]).unwrap(),
            ["postgres", "redis", "nginx", "dev"]
        );
        assert_eq!(
            select(&[], &["debug"]).unwrap(),
            ["postgres", "redis", "nginx", "adminer", "dev"]
        );
        assert_eq!(select(&["postgres"], &[]).unwrap(), ["postgres"]);
        assert_eq!(
            select(&["nginx"], &[]).unwrap(),
            ["postgres", "redis", "nginx", "dev"]
        );
        assert_eq!(select(&["adminer"], &[]).unwrap(), ["postgres", "adminer"]);
        assert_eq!(
            select(&["mysql"], &[]).unwrap_err(),
            "envsync.toml has no service `mysql`; its services are `postgres`, `redis`, `nginx`, `adminer`, `dev`"
        );
        assert_eq!(
            select(&[], &["web"]).unwrap_err(),
            "no service of envsync.toml has the profile `web`; its profiles are `debug`"
        );
    }

    #[test]
    fn stack_keys() {
        let m = parse(&format!(
            "{HEAD}[services.postgres]\nversion = \"15\"\n\
             [services.nginx]\nversion = \"1.22\"\ndepends_on = [\"dev\"]\nprofiles = [\"web\"]\n\
             files = {{ \"/etc/nginx/conf.d/app.conf\" = \"config/nginx.conf\" }}\n\
             [dev]\ndepends_on = [\"postgres\"]\nhealthcheck = {{ test = \"true\" }}\n"
        ))
        .unwrap();
        let nginx = &m.services[1];
        assert_eq!(nginx.depends_on[0].name, "dev");
        assert_eq!(
            (nginx.depends_on[0].line, nginx.depends_on[0].column),
            (9, 15)
        );
        assert_eq!(nginx.profiles, ["web"]);
        assert_eq!(nginx.files[0].container_path, "/etc/nginx/conf.d/app.conf");
        assert_eq!(nginx.files[0].local_path, "config/nginx.conf");
        let dev = m.dev.as_ref().unwrap();
        assert_eq!(dev.depends_on[0].name, "postgres");
        assert_eq!(
            dev.healthcheck.as_ref().unwrap().test,
            ["CMD-SHELL", "true"]
        );
        // A service's file is declared in that service's image.
        let file = m
            .declared()
            .iter()
            .find(|d| d.name == "/etc/nginx/conf.d/app.conf")
            .unwrap();
        assert_eq!(file.location.as_deref(), Some("service:nginx"));
    }

    #[test]
    fn unknown_names_and_cycles_are_errors_at_their_entry() {
        check(
            "[services.a]\nversion = \"1\"\ndepends_on = [\"b\", \"dev\", \"nosuch\"]\n\
             [services.b]\nversion = \"1\"\ndepends_on = [\"a\", \"b\"]\n\
             [dev]\ndepends_on = [\"redis\", \"a\", \"a\"]\n",
            "`depends_on` of [services.a] forms a cycle: a → b → a at envsync.toml:7:15; remove one of these dependencies; nothing in a cycle could start first\n\
             `depends_on` of [services.a] forms a cycle: a → dev → a at envsync.toml:7:20; remove one of these dependencies; nothing in a cycle could start first\n\
             `depends_on` of [services.a] names `nosuch`, which is not a service or `dev` at envsync.toml:7:27; name one of `a`, `b`, `dev`\n\
             [services.b] depends on itself at envsync.toml:10:20; remove it from its own `depends_on`\n\
             `depends_on` of [dev] names `redis`, which is not a service or `dev` at envsync.toml:12:15; name one of `a`, `b`, `dev`\n\
             `a` is listed twice in `depends_on` of [dev] at envsync.toml:12:29; list each dependency once",
        );
    }

    #[test]
    fn files_need_a_built_service_and_profiles_are_names() {
        check(
            "[services.web]\nversion = \"1\"\nimage = \"nginx:1.22\"\nfiles = { \"etc/x.conf\" = \"x.conf\" }\nprofiles = [\"Debug Mode\", 3]\n",
            "[services.web] has both `image` and `files` at envsync.toml:8:1; envsync copies `files` into the service images it builds: remove `image` and build it from the base with `packages`, or mount the file with `volumes`\n\
             `etc/x.conf` in [services.web.files] is not an absolute path in the environment at envsync.toml:8:11; write the destination as an absolute path, e.g. `\"/etc/app/x.conf\"`\n\
             profile `Debug Mode` in [services.web] is not a valid name at envsync.toml:9:13; use lowercase letters, digits, `-` and `_`, e.g. `profiles = [\"debug\"]`\n\
             `profiles` in [services.web] must hold strings, found an integer at envsync.toml:9:27; write `profiles = [\"debug\"]`",
        );
    }
}
