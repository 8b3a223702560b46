//! `[apt]`, `[apk]`, `[runtimes]`, `[python]` and `[node]`: names with version
//! constraints, and the packages of virtualenvs and Node projects.

use toml_edit::TableLike;

use super::ctx::*;
use super::names::*;
use super::*;
use crate::version::Ecosystem;

/// A language section: `[python]` or `[node]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Language {
    Python,
    Node,
}

impl Language {
    /// The section's name, also the runtime's name in `[runtimes]`.
    fn section(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Node => "node",
        }
    }

    /// The ecosystem of its packages.
    fn ecosystem(self) -> Ecosystem {
        match self {
            Language::Python => Ecosystem::Pypi,
            Language::Node => Ecosystem::Npm,
        }
    }

    /// The key of its per-directory package sets.
    fn sets_key(self) -> &'static str {
        match self {
            Language::Python => "venvs",
            Language::Node => "projects",
        }
    }
}

impl Ctx<'_> {
    /// A table of `name = "constraint"` in ecosystem `eco`.
    pub(super) fn requirements(
        &mut self,
        t: &dyn TableLike,
        section: &str,
        eco: Ecosystem,
    ) -> Vec<Requirement> {
        let mut out = Vec::new();
        for (key, item) in entries(t) {
            let name = key.get();
            let (line, column) = self.pos(key.span());
            if let Some(problem) = name_problem(eco, name) {
                self.error(
                    key.span(),
                    format!(
                        "`{name}` in [{section}] is not a valid {} name",
                        ecosystem_label(eco)
                    ),
                    problem.to_string(),
                );
            }
            if eco == Ecosystem::Runtime && !RUNTIME_NAMES.contains(&name) {
                let fix = match runtime_meant(name) {
                    Some(meant) => format!("write `{meant}`, the name envsync collects it under"),
                    None => format!("use one of {}", list(RUNTIME_NAMES)),
                };
                self.error(
                    key.span(),
                    format!("`{name}` in [{section}] is not a runtime envsync collects, so it would be reported missing on every check"),
                    fix,
                );
            }
            let Some(constraint) = self.string(key, item, section, constraint_example_literal(eco))
            else {
                continue;
            };
            self.constraint(eco, name, constraint, item.span(), section);
            out.push(Requirement {
                name: name.to_string(),
                constraint: constraint.to_string(),
                line,
                column,
            });
        }
        out
    }

    /// `[python]` or `[node]`: version, global packages, and packages per directory
    /// (`venvs` or `projects`).
    pub(super) fn language(
        &mut self,
        t: &dyn TableLike,
        language: Language,
        runtimes: &[Requirement],
    ) -> (Option<Requirement>, Vec<Requirement>, Vec<PackageSet>) {
        let (lang, eco, sets_key) = (
            language.section(),
            language.ecosystem(),
            language.sets_key(),
        );
        self.check_keys(t, lang, &["version", "packages", sets_key]);
        let mut version = None;
        if let Some((k, v)) = t.get_key_value("version") {
            if let Some(text) = self.string(k, v, lang, "\"3.11\"") {
                self.constraint(Ecosystem::Runtime, lang, text, v.span(), lang);
                if let Some(other) = runtimes.iter().find(|r| r.name == lang) {
                    self.error(
                        k.span(),
                        format!(
                            "the {lang} version is declared twice: here and in [runtimes] at line {}",
                            other.line
                        ),
                        format!("keep one of `[runtimes] {lang}` and `[{lang}] version`"),
                    );
                }
                let (line, column) = self.pos(k.span());
                version = Some(Requirement {
                    name: lang.to_string(),
                    constraint: text.to_string(),
                    line,
                    column,
                });
            }
        }
        let mut packages = Vec::new();
        let packages_section = format!("{lang}.packages");
        if let Some((k, v)) = t.get_key_value("packages") {
            if let Some(pt) = self.table(k, v, lang) {
                packages = self.requirements(pt, &packages_section, eco);
            }
        }
        let sets = self.package_sets(t, language);
        (version, packages, sets)
    }

    /// `venvs` of `[python]` or `projects` of `[node]`: packages per absolute directory.
    fn package_sets(&mut self, t: &dyn TableLike, language: Language) -> Vec<PackageSet> {
        let (lang, eco, sets_key) = (
            language.section(),
            language.ecosystem(),
            language.sets_key(),
        );
        let mut sets = Vec::new();
        if let Some((k, v)) = t.get_key_value(sets_key) {
            let sets_section = format!("{lang}.{sets_key}");
            if let Some(st) = self.table(k, v, lang) {
                for (path_key, item) in entries(st) {
                    let path = path_key.get();
                    let section = format!("{sets_section}.\"{path}\"");
                    if !path.starts_with('/') {
                        self.error(
                            path_key.span(),
                            format!("`{path}` in [{sets_section}] is not an absolute path"),
                            format!(
                                "write the directory inside the environment, e.g. `\"/{}\"`",
                                path.trim_start_matches("./")
                            ),
                        );
                    }
                    let Some(set) = self.table(path_key, item, &sets_section) else {
                        continue;
                    };
                    self.check_keys(set, &section, &["packages"]);
                    let mut set_packages = Vec::new();
                    match set.get_key_value("packages") {
                        Some((pk, pv)) => {
                            if let Some(pt) = self.table(pk, pv, &section) {
                                set_packages =
                                    self.requirements(pt, &format!("{section}.packages"), eco);
                            }
                        }
                        None => self.error(
                            path_key.span(),
                            format!("[{section}] has no `packages`"),
                            "add `packages = { name = \"version\" }`".into(),
                        ),
                    }
                    let (line, _) = self.pos(path_key.span());
                    sets.push(PackageSet {
                        path: path.to_string(),
                        packages: set_packages,
                        line,
                    });
                }
            }
        }
        sets
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn runtimes_are_named_as_the_collector_names_them() {
        check(
            "[runtimes]\nnodejs = \"18\"\n",
            "`nodejs` in [runtimes] is not a runtime envsync collects, so it would be reported missing on every check at envsync.toml:6:1; write `node`, the name envsync collects it under",
        );
        check(
            "[runtimes]\ngolang = \"1.22\"\npython3 = \"3.11\"\n",
            "`golang` in [runtimes] is not a runtime envsync collects, so it would be reported missing on every check at envsync.toml:6:1; write `go`, the name envsync collects it under\n\
             `python3` in [runtimes] is not a runtime envsync collects, so it would be reported missing on every check at envsync.toml:7:1; write `python`, the name envsync collects it under",
        );
        check(
            "[runtimes]\nerlang = \"26\"\n",
            "`erlang` in [runtimes] is not a runtime envsync collects, so it would be reported missing on every check at envsync.toml:6:1; use one of `go`, `java`, `node`, `python`, `ruby`",
        );
        for name in super::RUNTIME_NAMES {
            assert!(
                parse(&format!("{HEAD}[runtimes]\n{name} = \"1\"\n")).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn constraints_checked_per_ecosystem() {
        let text =
            format!("{HEAD}[python.packages]\ndjango = \"~=4.2.x\"\n[apt]\nopenssl = \"3.0.*\"\n");
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors}");
        let e = &errors.errors[0];
        assert_eq!((e.line, e.column), (6, 10));
        assert!(
            e.message.starts_with(
                "version `~=4.2.x` of `django` in [python.packages] is not a valid PyPI constraint"
            ),
            "{e}"
        );
        assert!(!e.fix.is_empty());
    }
}
