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
    assert_eq!(
        count(Ecosystem::Deb),
        8 + 3,
        "app packages plus one per service"
    );
    assert_eq!(count(Ecosystem::Pypi), 6);
    assert_eq!(count(Ecosystem::Npm), 2);
    assert_eq!(count(Ecosystem::Service), 3);
    let django = m
        .locate(Ecosystem::Pypi, "Django")
        .expect("django is declared");
    assert_eq!(django.to_string(), format!("{}:30:1", path.display()));
    assert_eq!(m.policy.ignore[0].component, "deb:tzdata");
    // Everything the example declares is pinned to one exact version, except the
    // runtimes, which name a release series.
    for d in m.declared() {
        if matches!(
            d.ecosystem,
            Ecosystem::Deb | Ecosystem::Pypi | Ecosystem::Npm
        ) {
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
