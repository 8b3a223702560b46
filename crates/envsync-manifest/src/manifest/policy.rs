//! `[policy]`: the drift kinds that fail a check, and ignores with their reason and
//! expiry date (kept, and judged later by [`Manifest::expired_ignores`]).

use std::ops::Range;

use toml_edit::TableLike;

use super::ctx::*;
use super::*;
use crate::policy::{Date, DriftKind, Ignore, Policy};
use crate::version::Ecosystem;

impl Ctx<'_> {
    pub(super) fn policy(&mut self, t: &dyn TableLike) -> Policy {
        self.check_keys(t, "policy", &["fail_on", "ignore"]);
        let mut policy = Policy::default();
        const KINDS: &[&str] = &["missing", "extra", "changed"];
        if let Some((k, v)) = t.get_key_value("fail_on") {
            let kinds = self.strings(k, v, "policy", "[\"missing\", \"changed\"]");
            policy.fail_on.clear();
            for kind in kinds {
                match kind.as_str() {
                    "missing" => policy.fail_on.push(DriftKind::Missing),
                    "extra" => policy.fail_on.push(DriftKind::Extra),
                    "changed" => policy.fail_on.push(DriftKind::Changed),
                    other => {
                        let fix = match suggest(other, KINDS) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("use {}", list(KINDS)),
                        };
                        self.error(
                            v.span(),
                            format!("unknown drift kind `{other}` in `fail_on` of [policy]"),
                            fix,
                        );
                    }
                }
            }
            policy.fail_on.sort();
            policy.fail_on.dedup();
        }
        if let Some((k, v)) = t.get_key_value("ignore") {
            let mut tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = Vec::new();
            if let Some(array) = v.as_array() {
                for entry in array.iter() {
                    match entry.as_inline_table() {
                        Some(it) => tables.push((it as &dyn TableLike, entry.span())),
                        None => self.error(
                            entry.span(),
                            format!("entry of `ignore` in [policy] must be a table, found {}", value_type_name(entry)),
                            "write `{ component = \"deb:tzdata\", reason = \"why\", until = \"2027-03-01\" }`".into(),
                        ),
                    }
                }
            } else if let Some(array) = v.as_array_of_tables() {
                for entry in array.iter() {
                    tables.push((entry as &dyn TableLike, entry.span()));
                }
            } else {
                self.wrong_type(
                    k,
                    v,
                    "policy",
                    "an array of tables",
                    "`ignore = [{ component = \"deb:tzdata\", reason = \"why\", until = \"2027-03-01\" }]`".into(),
                );
            }
            for (entry, span) in tables {
                if let Some(ignore) = self.ignore(entry, span) {
                    policy.ignore.push(ignore);
                }
            }
        }
        policy
    }

    pub(super) fn ignore(
        &mut self,
        t: &dyn TableLike,
        span: Option<Range<usize>>,
    ) -> Option<Ignore> {
        let section = "policy.ignore";
        self.check_keys(t, section, &["component", "reason", "until"]);
        let (line, _) = self.pos(span.clone());
        let component = self.ignore_component(t, span.clone());
        let id = component.clone().unwrap_or_default();
        let reason = self.ignore_reason(t, span.clone(), &id);
        let until = self.ignore_until(t, span, &id);
        component.map(|component| Ignore {
            component,
            reason,
            until,
            line: Some(line),
        })
    }

    /// `component = "ECOSYSTEM:NAME"` (`NAME` may be `*`), with a known ecosystem.
    fn ignore_component(
        &mut self,
        t: &dyn TableLike,
        span: Option<Range<usize>>,
    ) -> Option<String> {
        let section = "policy.ignore";
        let component = match t.get_key_value("component") {
            Some((k, v)) => self
                .string(k, v, section, "\"deb:tzdata\"")
                .map(str::to_string),
            None => {
                self.error(
                    span.clone(),
                    "ignore without a `component`".into(),
                    "add `component = \"ECOSYSTEM:NAME\"`, e.g. `\"deb:tzdata\"` or `\"pypi:*\"`"
                        .into(),
                );
                None
            }
        };
        if let (Some(c), Some((_, v))) = (&component, t.get_key_value("component")) {
            match c.split_once(':') {
                Some((eco, name)) if Ecosystem::parse(eco).is_some() && !name.is_empty() => {}
                Some((eco, name)) if !name.is_empty() => {
                    let names: Vec<&str> = Ecosystem::ALL.iter().map(|e| e.as_str()).collect();
                    let fix = match suggest(eco, &names) {
                        Some(s) => format!("did you mean `{s}:{name}`?"),
                        None => format!("ecosystems are {}", list(&names)),
                    };
                    self.error(
                        v.span(),
                        format!("unknown ecosystem `{eco}` in ignored component `{c}`"),
                        fix,
                    );
                }
                _ => self.error(
                    v.span(),
                    format!("ignored component `{c}` is not `ECOSYSTEM:NAME`"),
                    "write e.g. `component = \"deb:tzdata\"`, or `\"deb:*\"` for a whole ecosystem"
                        .into(),
                ),
            }
        }
        component
    }

    /// `reason`, required and not blank.
    fn ignore_reason(&mut self, t: &dyn TableLike, span: Option<Range<usize>>, id: &str) -> String {
        let section = "policy.ignore";
        match t.get_key_value("reason") {
            Some((k, v)) => {
                let reason = self
                    .string(k, v, section, "\"why this drift is accepted\"")
                    .unwrap_or_default();
                if v.as_str().is_some() && reason.trim().is_empty() {
                    self.error(
                        v.span(),
                        format!("ignore of `{id}` has an empty `reason`"),
                        "say why this drift is accepted, so the next reader can judge it".into(),
                    );
                }
                reason.to_string()
            }
            None => {
                self.error(
                    span.clone(),
                    format!("ignore of `{id}` has no `reason`"),
                    "add `reason = \"...\"` saying why this drift is accepted".into(),
                );
                String::new()
            }
        }
    }

    /// `until`, a required calendar date; kept with its position, so that it is judged
    /// against a date of the caller's choosing ([`Manifest::expired_ignores`]).
    fn ignore_until(
        &mut self,
        t: &dyn TableLike,
        span: Option<Range<usize>>,
        id: &str,
    ) -> Option<Date> {
        let section = "policy.ignore";
        match t.get_key_value("until") {
            Some((k, v)) => {
                let text = match (v.as_str(), v.as_datetime()) {
                    (Some(s), _) => Some(s.to_string()),
                    (None, Some(dt)) => Some(dt.to_string()),
                    _ => {
                        self.wrong_type(k, v, section, "a date", "`until = \"2027-03-01\"`".into());
                        None
                    }
                };
                match text.as_deref().map(|t| (t, Date::parse(t))) {
                    Some((_, Some(date))) => {
                        let (line, column) = self.pos(v.span());
                        self.expiries.push(Expiry {
                            component: id.to_string(),
                            date,
                            line,
                            column,
                        });
                        Some(date)
                    }
                    Some((text, None)) => {
                        self.error(
                            v.span(),
                            format!("`until` of ignore `{id}` is not a date: `{text}`"),
                            "write a calendar date as `until = \"YYYY-MM-DD\"`".into(),
                        );
                        None
                    }
                    None => None,
                }
            }
            None => {
                self.error(
                    span,
                    format!("ignore of `{id}` has no `until` date"),
                    "add `until = \"YYYY-MM-DD\"`: accepted drift is reviewed when it expires"
                        .into(),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::testing::TODAY;
    use crate::manifest::testing::{check, parse, HEAD};

    #[test]
    fn policy_ignores() {
        check(
            "[policy]\nignore = [{ component = \"deb:tzdata\", until = \"2027-03-01\" }]\n",
            "ignore of `deb:tzdata` has no `reason` at envsync.toml:6:11; add `reason = \"...\"` saying why this drift is accepted",
        );
        check(
            "[policy]\nignore = [{ component = \"deb:tzdata\", reason = \"host\", until = \"2020-01-01\" }]\n",
            "ignore of `deb:tzdata` expired on 2020-01-01 (today is 2026-11-26) at envsync.toml:6:64; fix the drift and remove the ignore, or set a later `until` with a fresh reason",
        );
        check(
            "[policy]\nignore = [{ component = \"deb:tzdata\", reason = \"host\", until = \"2027-02-30\" }]\n",
            "`until` of ignore `deb:tzdata` is not a date: `2027-02-30` at envsync.toml:6:64; write a calendar date as `until = \"YYYY-MM-DD\"`",
        );
        check(
            "[policy]\nfail_on = [\"misssing\"]\n[[policy.ignore]]\ncomponent = \"dep:tzdata\"\nreason = \"r\"\nuntil = 2027-03-01\n",
            "unknown drift kind `misssing` in `fail_on` of [policy] at envsync.toml:6:11; did you mean `missing`?\n\
             unknown ecosystem `dep` in ignored component `dep:tzdata` at envsync.toml:8:13; did you mean `deb:tzdata`?",
        );
        let m = parse(&format!(
            "{HEAD}[policy]\nfail_on = [\"extra\"]\nignore = [{{ component = \"pypi:*\", reason = \"vendored\", until = 2027-03-01 }}]\n"
        ))
        .unwrap();
        assert_eq!(m.policy.fail_on, [DriftKind::Extra]);
        assert_eq!(m.policy.ignore[0].until, Date::parse("2027-03-01"));
        assert_eq!(m.policy.ignore[0].line, Some(7));
    }

    #[test]
    fn expiry_is_judged_apart_from_parsing() {
        let text = format!(
            "{HEAD}[policy]\nignore = [\n  {{ component = \"deb:a\", reason = \"r\", until = \"2026-11-25\" }},\n  {{ component = \"deb:b\", reason = \"r\", until = \"2026-11-26\" }},\n]\n"
        );
        let m = Manifest::parse(&text, Path::new("envsync.toml")).unwrap();
        assert_eq!(m.policy.ignore.len(), 2);
        let expired: Vec<String> = m
            .expired_ignores(TODAY)
            .iter()
            .map(Diagnostic::to_string)
            .collect();
        assert_eq!(
            expired,
            ["ignore of `deb:a` expired on 2026-11-25 (today is 2026-11-26) at envsync.toml:7:48; fix the drift and remove the ignore, or set a later `until` with a fresh reason"]
        );
        let later = Date::parse("2026-11-27").unwrap();
        assert_eq!(m.expired_ignores(later).len(), 2);
        let earlier = Date::parse("2026-11-25").unwrap();
        assert!(m.expired_ignores(earlier).is_empty());
        // parse_on judges as validate does: the expiry is one error among the others.
        let errors = parse(&text).unwrap_err();
        assert_eq!(errors.to_string(), expired[0]);
    }
}
