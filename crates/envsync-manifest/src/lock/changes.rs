//! What moved between two locks of one manifest: each component whose version changed
//! or that is new, image by image (what `envsync lock --update` reports).

use super::{Lock, LockedComponent};
use crate::version::Ecosystem;

/// One component of one image at another version than before, or new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChange {
    /// The service whose image it is in; `None` for the development image.
    pub service: Option<String>,
    pub ecosystem: Ecosystem,
    pub name: String,
    /// The version before; `None` when the component is new.
    pub from: Option<String>,
    pub to: String,
}

impl Lock {
    /// Every component of this lock whose version differs from `old`'s or that `old`
    /// lacks, in the development image and in each service image both locks hold. A
    /// component is the same one when ecosystem, name, location and arch agree.
    pub fn changes_since(&self, old: &Lock) -> Vec<VersionChange> {
        let mut changes = image_changes(None, &old.components, &self.components);
        for (name, before) in &old.services {
            if let Some(after) = self.services.get(name) {
                changes.extend(image_changes(
                    Some(name),
                    &before.components,
                    &after.components,
                ));
            }
        }
        changes
    }
}

fn image_changes(
    service: Option<&String>,
    before: &[LockedComponent],
    after: &[LockedComponent],
) -> Vec<VersionChange> {
    after
        .iter()
        .filter_map(|c| {
            let was = before.iter().find(|b| {
                b.ecosystem == c.ecosystem
                    && b.name == c.name
                    && b.location == c.location
                    && b.arch == c.arch
            });
            let from = match was {
                Some(b) if b.version == c.version => return None,
                Some(b) => Some(b.version.clone()),
                None => None,
            };
            Some(VersionChange {
                service: service.cloned(),
                ecosystem: c.ecosystem,
                name: c.name.clone(),
                from,
                to: c.version.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::LockedBase;

    fn lock(dev: &[(&str, &str)], redis: &[(&str, &str)]) -> Lock {
        let base = LockedBase {
            image: "debian:bookworm".into(),
            digest: None,
        };
        let components = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, v)| LockedComponent::new(Ecosystem::Deb, n, v))
                .collect::<Vec<_>>()
        };
        Lock::new("a".repeat(64), base.clone(), components(dev)).with_service(
            "redis",
            base,
            components(redis),
        )
    }

    #[test]
    fn changed_and_new_components_are_named_per_image() {
        let old = lock(
            &[("openssl", "3.0.15-1"), ("curl", "7.88.1-10")],
            &[("redis-server", "5:7.0.15-1")],
        );
        let new = lock(
            &[
                ("openssl", "3.0.17-1"),
                ("curl", "7.88.1-10"),
                ("jq", "1.6-2.1"),
            ],
            &[("redis-server", "5:7.0.15-1")],
        );
        let changes = new.changes_since(&old);
        let seen: Vec<(Option<&str>, &str, Option<&str>, &str)> = changes
            .iter()
            .map(|c| {
                (
                    c.service.as_deref(),
                    c.name.as_str(),
                    c.from.as_deref(),
                    c.to.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (None, "jq", None, "1.6-2.1"),
                (None, "openssl", Some("3.0.15-1"), "3.0.17-1"),
            ]
        );
        assert_eq!(old.changes_since(&old), []);
    }
}
