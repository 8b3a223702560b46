//! The collector and the manifest agree on runtime names: every runtime the collector
//! reports is one `[runtimes]` accepts, so a manifest that validates can pass a check.

use envsync_drift::collect::runtimes::component_of;
use envsync_manifest::manifest::RUNTIME_NAMES;
use envsync_manifest::Ecosystem;

#[test]
fn every_collected_runtime_name_is_accepted_by_the_manifest() {
    let packages = [
        (Ecosystem::Deb, "python3.11"),
        (Ecosystem::Apk, "python3"),
        (Ecosystem::Deb, "nodejs"),
        (Ecosystem::Apk, "nodejs"),
        (Ecosystem::Deb, "openjdk-17-jre-headless"),
        (Ecosystem::Apk, "openjdk17-jre"),
        (Ecosystem::Deb, "golang-1.19-go"),
        (Ecosystem::Apk, "go"),
        (Ecosystem::Deb, "ruby3.1"),
        (Ecosystem::Apk, "ruby"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (ecosystem, name) in packages {
        if let Some((Ecosystem::Runtime, runtime)) = component_of(ecosystem, name) {
            assert!(
                RUNTIME_NAMES.contains(&runtime),
                "{ecosystem}:{name} is collected as runtime `{runtime}`, which [runtimes] refuses"
            );
            seen.insert(runtime);
        }
    }
    // Python and Node also come from /usr/local headers, under the same names.
    assert!(seen.contains("python") && seen.contains("node"), "{seen:?}");
    assert_eq!(
        seen.len(),
        RUNTIME_NAMES.len(),
        "a runtime name nothing here collects: {seen:?} against {RUNTIME_NAMES:?}"
    );
}
