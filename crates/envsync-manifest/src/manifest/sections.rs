//! The whole document: which sections exist, the order they are read in, and the
//! `[project]` and `[base]` sections.

use toml_edit::{Key, TableLike};

use super::ctx::*;
use super::names::*;
use super::packages::Language;
use super::services::Published;
use super::*;
use crate::version::Ecosystem;

const SECTIONS: &[&str] = &[
    "project", "base", "apt", "apk", "runtimes", "python", "node", "services", "dev", "files",
    "env", "build", "sources", "targets", "collect", "policy",
];

impl Ctx<'_> {
    pub(super) fn manifest(&mut self, root: &toml_edit::Table) -> Manifest {
        let mut m = Manifest {
            file: PathBuf::new(),
            sha256: String::new(),
            sections: std::collections::BTreeMap::new(),
            entries: std::collections::BTreeMap::new(),
            file_sha256: String::new(),
            project: Project::default(),
            base: Base::default(),
            apt: Vec::new(),
            apk: Vec::new(),
            runtimes: Vec::new(),
            python: None,
            node: None,
            services: Vec::new(),
            dev: None,
            files: Vec::new(),
            env: Vec::new(),
            build: Build::default(),
            sources: Sources::default(),
            targets: Vec::new(),
            collect_roots: Vec::new(),
            policy: Policy::default(),
            declared: Vec::new(),
            expiries: Vec::new(),
        };
        self.unknown_sections(root);
        let section = |name: &str| root.get_key_value(name);
        self.head_sections(root, &mut m);
        self.os_packages(root, &mut m);
        self.languages(root, &mut m);
        let os = m.os_ecosystem();
        let mut published = Published::new();
        if let Some((key, item)) = section("services") {
            if let Some(t) = self.table(key, item, "") {
                m.services = self.services(t, os, &mut published);
            }
        }
        if let Some((key, item)) = section("dev") {
            if let Some(t) = self.table(key, item, "") {
                m.dev = Some(self.dev(key, t, &m.services, &mut published));
            }
        }
        self.start_order(&m.services, m.dev.as_ref());
        if let Some((key, item)) = section("files") {
            if let Some(t) = self.table(key, item, "") {
                m.files = self.files(t, "files");
            }
        }
        if let Some((key, item)) = section("env") {
            if let Some(t) = self.table(key, item, "") {
                m.env = self.env(t, "env");
            }
        }
        if let Some((key, item)) = section("build") {
            if let Some(t) = self.table(key, item, "") {
                self.check_keys(t, "build", &["ca_certificates"]);
                if let Some((k, v)) = t.get_key_value("ca_certificates") {
                    m.build.ca_certificates =
                        self.strings(k, v, "build", "[\"/etc/ssl/certs/ca-certificates.crt\"]");
                }
            }
        }
        if let Some((key, item)) = section("sources") {
            if let Some(t) = self.table(key, item, "") {
                m.sources = self.sources(t);
            }
        }
        if let Some((key, item)) = section("targets") {
            if let Some(t) = self.table(key, item, "") {
                m.targets = self.targets(t);
            }
        }
        self.tail_sections(root, &mut m);
        m
    }

    /// `[collect]` and `[policy]`, which depend on no other section.
    fn tail_sections(&mut self, root: &toml_edit::Table, m: &mut Manifest) {
        if let Some((key, item)) = root.get_key_value("collect") {
            if let Some(t) = self.table(key, item, "") {
                m.collect_roots = self.collect_roots(t);
            }
        }
        if let Some((key, item)) = root.get_key_value("policy") {
            if let Some(t) = self.table(key, item, "") {
                m.policy = self.policy(t);
            }
        }
    }

    /// `[collect] roots = ["/data/apps"]`: absolute paths on the target.
    fn collect_roots(&mut self, t: &dyn TableLike) -> Vec<String> {
        self.check_keys(t, "collect", &["roots"]);
        let Some((k, v)) = t.get_key_value("roots") else {
            return Vec::new();
        };
        let roots = self.strings(k, v, "collect", "[\"/data/apps\"]");
        for root in &roots {
            if !root.starts_with('/') {
                self.error(
                    v.span(),
                    format!("collect root `{root}` in [collect] is not an absolute path"),
                    "paths on the target start with `/`".into(),
                );
            }
        }
        roots
    }

    /// Every top-level table must be a known section.
    fn unknown_sections(&mut self, root: &toml_edit::Table) {
        for (key, _) in entries(root) {
            if !SECTIONS.contains(&key.get()) {
                let fix = match suggest(key.get(), SECTIONS) {
                    Some(s) => format!("did you mean `[{s}]`?"),
                    None => format!(
                        "known sections are {}",
                        SECTIONS
                            .iter()
                            .map(|s| format!("[{s}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                self.error(
                    key.span(),
                    format!("unknown section `[{}]`", key.get()),
                    fix,
                );
            }
        }
    }

    /// `[project]` and `[base]`, both required. The base is read first among the rest:
    /// it decides which OS package section is allowed.
    fn head_sections(&mut self, root: &toml_edit::Table, m: &mut Manifest) {
        let section = |name: &str| root.get_key_value(name);
        match section("project") {
            Some((key, item)) => {
                if let Some(t) = self.table(key, item, "") {
                    m.project = self.project(t, key);
                }
            }
            None => self.error(
                None,
                "missing [project]".into(),
                "add `[project]` with `name = \"my-app\"`".into(),
            ),
        }
        // The base decides which OS package section is allowed, so read it first.
        match section("base") {
            Some((key, item)) => {
                if let Some(t) = self.table(key, item, "") {
                    m.base = self.base(t, key);
                }
            }
            None => self.error(
                None,
                "missing [base]".into(),
                "add `[base]` with `image = \"debian:bookworm\"`".into(),
            ),
        }
    }

    /// `[apt]` or `[apk]`, whichever the base's distribution uses.
    fn os_packages(&mut self, root: &toml_edit::Table, m: &mut Manifest) {
        let section = |name: &str| root.get_key_value(name);
        let alpine = is_alpine_image(&m.base.image);
        if let Some((key, item)) = section("apt") {
            if let Some(t) = self.table(key, item, "") {
                m.apt = self.requirements(t, "apt", Ecosystem::Deb);
            }
            if alpine {
                self.error(
                    key.span(),
                    format!(
                        "[apt] packages declared on the Alpine base `{}`",
                        m.base.image
                    ),
                    "declare them in [apk], the package manager of Alpine".into(),
                );
            }
        }
        if let Some((key, item)) = section("apk") {
            if let Some(t) = self.table(key, item, "") {
                m.apk = self.requirements(t, "apk", Ecosystem::Apk);
            }
            if section("apt").is_some() {
                self.error(
                    key.span(),
                    "both [apt] and [apk] are declared".into(),
                    "keep the one matching the base image: [apk] for Alpine, [apt] otherwise"
                        .into(),
                );
            } else if !alpine && !m.base.image.is_empty() {
                self.error(
                    key.span(),
                    format!(
                        "[apk] packages declared on the non-Alpine base `{}`",
                        m.base.image
                    ),
                    "declare them in [apt], or use an Alpine base image".into(),
                );
            }
        }
    }

    /// `[runtimes]`, `[python]` and `[node]`.
    fn languages(&mut self, root: &toml_edit::Table, m: &mut Manifest) {
        let section = |name: &str| root.get_key_value(name);
        if let Some((key, item)) = section("runtimes") {
            if let Some(t) = self.table(key, item, "") {
                m.runtimes = self.requirements(t, "runtimes", Ecosystem::Runtime);
            }
        }
        if let Some((key, item)) = section("python") {
            if let Some(t) = self.table(key, item, "") {
                let (version, packages, venvs) = self.language(t, Language::Python, &m.runtimes);
                m.python = Some(Python {
                    version,
                    packages,
                    venvs,
                });
            }
        }
        if let Some((key, item)) = section("node") {
            if let Some(t) = self.table(key, item, "") {
                let (version, packages, projects) = self.language(t, Language::Node, &m.runtimes);
                m.node = Some(Node {
                    version,
                    packages,
                    projects,
                });
            }
        }
    }

    pub(super) fn project(&mut self, t: &dyn TableLike, header: &Key) -> Project {
        self.check_keys(t, "project", &["name", "description"]);
        let mut project = Project::default();
        match t.get_key_value("name") {
            Some((k, v)) => {
                if let Some(name) = self.string(k, v, "project", "\"my-app\"") {
                    if !is_simple_name(name) {
                        self.error(
                            v.span(),
                            format!("project name `{name}` is not a valid name"),
                            "use lowercase letters, digits, `-` and `_`, starting with a letter or digit (it names containers and networks)".into(),
                        );
                    }
                    project.name = name.to_string();
                }
            }
            None => self.error(
                header.span(),
                "[project] has no `name`".into(),
                "add `name = \"my-app\"`".into(),
            ),
        }
        if let Some((k, v)) = t.get_key_value("description") {
            project.description = self
                .string(k, v, "project", "\"what it is\"")
                .map(str::to_string);
        }
        project
    }

    pub(super) fn base(&mut self, t: &dyn TableLike, header: &Key) -> Base {
        self.check_keys(t, "base", &["image", "digest"]);
        let mut base = Base::default();
        match t.get_key_value("image") {
            Some((k, v)) => {
                if let Some(image) = self.string(k, v, "base", "\"debian:bookworm\"") {
                    if !is_image_ref(image) {
                        self.error(
                            v.span(),
                            format!("base image `{image}` is not an image reference"),
                            "write `image = \"debian:bookworm\"` (REPOSITORY[:TAG][@sha256:DIGEST])".into(),
                        );
                    }
                    base.image = image.to_string();
                }
            }
            None => self.error(
                header.span(),
                "[base] has no `image`".into(),
                "add `image = \"debian:bookworm\"`".into(),
            ),
        }
        if let Some((k, v)) = t.get_key_value("digest") {
            if let Some(digest) = self.string(k, v, "base", "\"sha256:<64 hex digits>\"") {
                if !is_digest(digest) {
                    self.error(
                        v.span(),
                        format!("base digest `{digest}` is not a sha256 digest"),
                        "write `digest = \"sha256:<64 lowercase hex digits>\"`, as `docker image inspect` prints it".into(),
                    );
                }
                base.digest = Some(digest.to_string());
            }
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::{check, parse};

    #[test]
    fn os_package_sections() {
        check(
            "[apk]\nmusl = \"1.2.4-r2\"\n",
            "[apk] packages declared on the non-Alpine base `debian:bookworm` at envsync.toml:5:2; declare them in [apt], or use an Alpine base image",
        );
        let alpine = "[project]\nname = \"a\"\n[base]\nimage = \"python:3.11-alpine3.19\"\n[apk]\nmusl = \"1.2.4-r2\"\n";
        let m = parse(alpine).unwrap();
        assert_eq!(m.os_ecosystem(), Ecosystem::Apk);
        assert_eq!(m.declared()[0].ecosystem, Ecosystem::Apk);
    }

    #[test]
    fn collect_roots() {
        let m = parse(&format!(
            "{}[collect]\nroots = [\"/data/apps\", \"/srv2\"]\n",
            crate::manifest::testing::HEAD
        ))
        .unwrap();
        assert_eq!(m.collect_roots, ["/data/apps", "/srv2"]);
        let errors = |body: &str| {
            parse(&format!("{}{body}", crate::manifest::testing::HEAD))
                .unwrap_err()
                .to_string()
        };
        let e = errors("[collect]\nroots = [\"data\"]\n");
        assert!(e.contains("`data`") && e.contains("envsync.toml:6"), "{e}");
        let e = errors("[collect]\nroot = [\"/data\"]\n");
        assert!(e.contains("unknown key `root` in [collect]"), "{e}");
        let e = errors("[collect]\nroots = \"/data\"\n");
        assert!(e.contains("array of strings"), "{e}");
    }

    #[test]
    fn missing_sections_and_syntax() {
        let errors = parse("[apt]\nopenssl = \"3.0.*\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            errors,
            "missing [project] in envsync.toml; add `[project]` with `name = \"my-app\"`\n\
             missing [base] in envsync.toml; add `[base]` with `image = \"debian:bookworm\"`"
        );
        let errors = parse("[project\nname = 1\n").unwrap_err();
        assert_eq!((errors.errors[0].line, errors.errors[0].column), (1, 9));
        assert!(errors.errors[0].message.starts_with("TOML error"));
    }
}
