//! Every example manifest shipped in `manifests/` is valid, and declares what its
//! comments promise.

use std::path::Path;

use envsync_manifest::policy::Date;
use envsync_manifest::{Ecosystem, Manifest};

#[test]
fn benefits_api_example_is_valid() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/benefits-api/envsync.toml");
    // Judged as of a fixed day: the example's ignore of `deb:tzdata` expires, as real
    // ignores do, and that must not turn this test red on a calendar date.
    let m = match Manifest::load_on(&path, Date::parse("2026-11-26").unwrap()) {
        Ok(m) => m,
        Err(errors) => panic!("{errors}"),
    };
    assert_eq!(m.project.name, "benefits-api");
    assert_eq!(m.base.image, "envsync/debian:bookworm");
    let services: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(services, ["postgres", "redis", "nginx"]);
    let count = |eco| m.declared().iter().filter(|d| d.ecosystem == eco).count();
    // Counted from the file itself: one declared component per pinned line.
    let text = std::fs::read_to_string(&path).unwrap();
    let section = |name: &str| -> usize {
        let start = text.find(name).expect(name) + name.len();
        let end = text[start..].find("\n\n").map_or(text.len(), |i| start + i);
        text[start..end]
            .lines()
            .filter(|l| l.contains(" = \"") && !l.trim_start().starts_with('#'))
            .count()
    };
    let service_debs = m.services.iter().map(|s| s.packages.len()).sum::<usize>();
    assert_eq!(count(Ecosystem::Deb), section("[apt]\n") + service_debs);
    assert_eq!(
        count(Ecosystem::Pypi),
        section("[python.venvs.\"/opt/benefits/venv\".packages]\n")
    );
    assert_eq!(
        count(Ecosystem::Npm),
        section("[node.projects.\"/srv/benefits/frontend\".packages]\n")
    );
    assert_eq!(count(Ecosystem::Service), 3);
    let django = m
        .locate(Ecosystem::Pypi, "Django")
        .expect("django is declared");
    let django_line = text
        .lines()
        .position(|l| l.starts_with("django = "))
        .expect("django line")
        + 1;
    assert_eq!(
        django.to_string(),
        format!("{}:{django_line}:1", path.display())
    );
    assert_eq!(m.policy.ignore[0].component, "deb:tzdata");
    // PyPI and npm packages are pinned to one exact version (those registries keep
    // every release). Debian packages name a series: Debian's mirrors serve only the
    // newest point release, so an exact pin in the manifest would break the example on
    // the next security update; the lock pins them, with the .debs' checksums.
    for d in m.declared() {
        if d.ecosystem == Ecosystem::Deb {
            assert!(
                d.constraint == "*" || d.constraint.ends_with(".*"),
                "{} {} names no series",
                d.name,
                d.constraint
            );
        }
        if matches!(d.ecosystem, Ecosystem::Pypi | Ecosystem::Npm) {
            let c = envsync_manifest::version::Constraint::parse(d.ecosystem, &d.constraint)
                .expect("valid");
            assert!(
                c.exact().is_some(),
                "{} {} is not pinned",
                d.name,
                d.constraint
            );
        }
    }
}
