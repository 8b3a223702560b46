//! A manifest to be written (`envsync init`): a neutral description of what to declare
//! ([`Draft`]), filled from a target's snapshot (`envsync_drift::declare`) or from a
//! project's own files ([`files`]), and rendered as a commented `envsync.toml` with
//! `toml_edit` ([`render`]). Pure: text in, text out.

pub mod files;

use std::collections::BTreeMap;

use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table};

/// One declared package or runtime and its constraint, already in its ecosystem's
/// syntax (`3.0.15-1~deb12u1`, `==2.31.0`, `4.18.2`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pin {
    pub name: String,
    pub constraint: String,
}

impl Pin {
    pub fn new(name: &str, constraint: &str) -> Pin {
        Pin {
            name: name.to_string(),
            constraint: constraint.to_string(),
        }
    }
}

/// A middleware service built from Debian packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDraft {
    pub name: String,
    pub version: String,
    pub packages: Vec<Pin>,
    pub env: Vec<(String, String)>,
    /// A comment written above the service's table.
    pub comment: String,
}

/// Everything `envsync init` declares. Empty parts are not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub project: String,
    pub description: Option<String>,
    pub base_image: String,
    /// Comment lines for the top of the file (without `# `).
    pub header: Vec<String>,
    pub apt: Vec<Pin>,
    pub runtimes: Vec<Pin>,
    /// `[python] packages`: the system interpreter's.
    pub python_packages: Vec<Pin>,
    /// `[python.venvs."DIR".packages]`.
    pub venvs: BTreeMap<String, Vec<Pin>>,
    /// `[node] packages`: global packages.
    pub node_packages: Vec<Pin>,
    /// `[node.projects."DIR".packages]`.
    pub node_projects: BTreeMap<String, Vec<Pin>>,
    pub services: Vec<ServiceDraft>,
    /// `[files]`: destination on the target, source relative to the manifest.
    pub files: Vec<(String, String)>,
    /// `[build] ca_certificates`.
    pub ca_certificates: Vec<String>,
    /// A comment per section (`apt`, `runtimes`, `python`, `node`, `files`), written above it.
    pub comments: BTreeMap<String, String>,
}

impl Draft {
    /// How many components the draft declares (packages, runtimes, services, files).
    pub fn declared_count(&self) -> usize {
        self.apt.len()
            + self.runtimes.len()
            + self.python_packages.len()
            + self.venvs.values().map(Vec::len).sum::<usize>()
            + self.node_packages.len()
            + self.node_projects.values().map(Vec::len).sum::<usize>()
            + self.services.len()
            + self.files.len()
    }
}

fn comment_block(text: &str) -> String {
    let mut out = String::from("\n");
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn pins_table(pins: &[Pin]) -> Table {
    let mut t = Table::new();
    for p in pins {
        t.insert(&p.name, value(&p.constraint));
    }
    t
}

fn with_comment(mut t: Table, comment: Option<&String>) -> Table {
    if let Some(c) = comment {
        t.decor_mut().set_prefix(comment_block(c));
    } else {
        t.decor_mut().set_prefix("\n");
    }
    t
}

/// Render `draft` as a commented `envsync.toml`.
pub fn render(draft: &Draft) -> String {
    let mut doc = DocumentMut::new();
    let c = |k: &str| draft.comments.get(k);
    let mut project = Table::new();
    project.insert("name", value(&draft.project));
    if let Some(d) = &draft.description {
        project.insert("description", value(d));
    }
    let header: String = draft.header.iter().map(|l| format!("# {l}\n")).collect();
    project.decor_mut().set_prefix(header);
    doc.insert("project", Item::Table(project));
    let mut base = Table::new();
    base.insert("image", value(&draft.base_image));
    doc.insert("base", Item::Table(with_comment(base, c("base"))));
    if !draft.apt.is_empty() {
        doc.insert(
            "apt",
            Item::Table(with_comment(pins_table(&draft.apt), c("apt"))),
        );
    }
    if !draft.runtimes.is_empty() {
        doc.insert(
            "runtimes",
            Item::Table(with_comment(pins_table(&draft.runtimes), c("runtimes"))),
        );
    }
    render_python(&mut doc, draft);
    render_node(&mut doc, draft);
    for s in &draft.services {
        let mut t = Table::new();
        t.insert("version", value(&s.version));
        let mut pk = InlineTable::new();
        for p in &s.packages {
            pk.insert(&p.name, p.constraint.as_str().into());
        }
        t.insert("packages", value(pk));
        if !s.env.is_empty() {
            let mut env = InlineTable::new();
            for (k, v) in &s.env {
                env.insert(k, v.as_str().into());
            }
            t.insert("env", value(env));
        }
        let services = doc
            .entry("services")
            .or_insert(Item::Table(implicit()))
            .as_table_mut();
        if let Some(services) = services {
            services.insert(&s.name, Item::Table(with_comment(t, Some(&s.comment))));
        }
    }
    if !draft.files.is_empty() {
        let mut t = Table::new();
        for (dest, src) in &draft.files {
            t.insert(dest, value(src));
        }
        doc.insert("files", Item::Table(with_comment(t, c("files"))));
    }
    if !draft.ca_certificates.is_empty() {
        let mut t = Table::new();
        let certs: Array = draft.ca_certificates.iter().map(String::as_str).collect();
        t.insert("ca_certificates", value(certs));
        doc.insert("build", Item::Table(with_comment(t, c("build"))));
    }
    doc.to_string()
}

fn implicit() -> Table {
    let mut t = Table::new();
    t.set_implicit(true);
    t
}

fn render_python(doc: &mut DocumentMut, draft: &Draft) {
    let comment = draft.comments.get("python");
    let section = Section {
        key: "python",
        packages: &draft.python_packages,
        envs_key: "venvs",
        envs: &draft.venvs,
    };
    render_section(doc, &section, comment);
}

fn render_node(doc: &mut DocumentMut, draft: &Draft) {
    let comment = draft.comments.get("node");
    let section = Section {
        key: "node",
        packages: &draft.node_packages,
        envs_key: "projects",
        envs: &draft.node_projects,
    };
    render_section(doc, &section, comment);
}

/// `[python]` or `[node]`: packages of the system, and of each environment by directory.
struct Section<'a> {
    key: &'a str,
    packages: &'a [Pin],
    envs_key: &'a str,
    envs: &'a BTreeMap<String, Vec<Pin>>,
}

fn render_section(doc: &mut DocumentMut, section: &Section<'_>, comment: Option<&String>) {
    if section.packages.is_empty() && section.envs.is_empty() {
        return;
    }
    let mut table = Table::new();
    let mut env_comment = None;
    if section.packages.is_empty() {
        // An implicit table is not written, so its comment goes on the first one that is.
        table.set_implicit(true);
        env_comment = comment;
    } else {
        let mut pk = InlineTable::new();
        for p in section.packages {
            pk.insert(&p.name, p.constraint.as_str().into());
        }
        table.insert("packages", value(pk));
    }
    let mut envs = implicit();
    for (dir, pins) in section.envs {
        let mut env = implicit();
        let packages = with_comment(pins_table(pins), env_comment.take());
        env.insert("packages", Item::Table(packages));
        envs.insert(dir, Item::Table(env));
    }
    if !envs.is_empty() {
        table.insert(section.envs_key, Item::Table(envs));
    }
    doc.insert(section.key, Item::Table(with_comment(table, comment)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Manifest;

    #[test]
    fn a_full_draft_renders_as_a_valid_commented_manifest() {
        let mut draft = Draft {
            project: "demo".into(),
            base_image: "envsync/debian:bookworm".into(),
            header: vec!["Written by `envsync init`.".into()],
            apt: vec![
                Pin::new("curl", "7.88.1-10+deb12u8"),
                Pin::new("libc6:i386", "2.36-9"),
            ],
            runtimes: vec![Pin::new("python", "3.11.2")],
            python_packages: vec![Pin::new("pyyaml", "==6.0")],
            node_packages: vec![Pin::new("is-number", "7.0.0")],
            files: vec![("/etc/app/a.ini".into(), "files/etc/app/a.ini".into())],
            ca_certificates: vec!["/etc/ssl/certs/ca-certificates.crt".into()],
            ..Draft::default()
        };
        draft.venvs.insert(
            "/opt/app/venv".into(),
            vec![
                Pin::new("requests", "==2.32.3"),
                Pin::new("pip", "==23.0.1"),
            ],
        );
        draft
            .node_projects
            .insert("/srv/web".into(), vec![Pin::new("@scope/x", "1.0.0")]);
        draft.services.push(ServiceDraft {
            name: "postgres".into(),
            version: "15.10".into(),
            packages: vec![Pin::new("postgresql-15", "15.10-0+deb12u1")],
            env: vec![("POSTGRES_PASSWORD".into(), "${POSTGRES_PASSWORD}".into())],
            comment: "Found as `postgresql-15`.".into(),
        });
        draft
            .comments
            .insert("apt".into(), "What apt marks as manually installed.".into());
        let text = render(&draft);
        assert!(
            text.starts_with("# Written by `envsync init`.\n[project]\n"),
            "{text}"
        );
        assert!(
            text.contains("\n# What apt marks as manually installed.\n[apt]\n"),
            "{text}"
        );
        assert!(
            text.contains("[python.venvs.\"/opt/app/venv\".packages]"),
            "{text}"
        );
        assert!(
            text.contains("[node.projects.\"/srv/web\".packages]\n\"@scope/x\" = \"1.0.0\""),
            "{text}"
        );
        assert!(text.contains("\"libc6:i386\" = \"2.36-9\""), "{text}");
        let mut venv_only = Draft {
            python_packages: Vec::new(),
            ..draft.clone()
        };
        venv_only
            .comments
            .insert("python".into(), "Top-level Python packages.".into());
        let text2 = render(&venv_only);
        assert!(
            text2.contains(
                "\n# Top-level Python packages.\n[python.venvs.\"/opt/app/venv\".packages]"
            ),
            "{text2}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("files/etc/app")).expect("mkdir");
        std::fs::write(dir.path().join("files/etc/app/a.ini"), "a").expect("write");
        let path = dir.path().join("envsync.toml");
        let m = Manifest::parse(&text, &path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let declared: Vec<String> = m
            .declared()
            .iter()
            .map(|d| format!("{}:{}={}", d.ecosystem, d.name, d.constraint))
            .collect();
        for want in [
            "deb:curl=7.88.1-10+deb12u8",
            "pypi:requests===2.32.3",
            "npm:@scope/x=1.0.0",
            "npm:is-number=7.0.0",
            "service:postgres=15.10",
            "runtime:python=3.11.2",
        ] {
            assert!(
                declared.iter().any(|d| d == want),
                "{want} not in {declared:?}"
            );
        }
        assert_eq!(
            m.declared().len(),
            draft.declared_count() + 1,
            "{declared:?}"
        );
    }
}
