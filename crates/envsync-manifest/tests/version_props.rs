//! Properties of version ordering for every ecosystem: nothing panics on arbitrary input,
//! and the ordering is antisymmetric and transitive on generated versions.

use std::cmp::Ordering;

use envsync_manifest::version::{change, compare, parse_version, Constraint, Direction, Ecosystem};
use proptest::prelude::*;

fn ecosystem() -> impl Strategy<Value = Ecosystem> {
    proptest::sample::select(Ecosystem::ALL.to_vec())
}

/// Versions in each ecosystem's own shape (valid and nearly valid), so comparisons reach
/// deep into the algorithms instead of stopping at the first character.
fn version_of(eco: Ecosystem) -> BoxedStrategy<String> {
    match eco {
        Ecosystem::Deb => "([0-9]{1,2}:)?[0-9]{1,3}([.+~][0-9a-z]{0,3}){0,4}(-[0-9a-z.+~]{1,6})?".boxed(),
        Ecosystem::Apk => "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(-r[0-9]{1,2})?".boxed(),
        Ecosystem::Rpm => "([0-9]:)?[0-9a-z]{1,3}([._~^+][0-9a-z]{0,3}){0,4}(-[0-9a-z._~^]{1,6})?".boxed(),
        Ecosystem::Pypi => "v?([0-9]!)?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[0-9]{0,2})?([-_.]?(post|rev|r)[0-9]{0,2}|-[0-9])?([-_.]?dev[0-9]{0,2})?(\\+[a-z0-9]{1,3}([-_.][a-z0-9]{1,3}){0,2})?".boxed(),
        Ecosystem::Npm => "v?(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})\\.(0|[1-9][0-9]{0,2})(-[0-9a-z-]{1,4}(\\.[0-9a-z-]{1,4}){0,2})?(\\+[0-9a-z]{1,3})?".boxed(),
        Ecosystem::Runtime | Ecosystem::Service => "[0-9a-z]{0,3}([.-][0-9a-z]{1,3}){0,4}".boxed(),
        Ecosystem::File | Ecosystem::Env => "sha256:[0-9a-f]{1,8}".boxed(),
    }
}

fn three_versions() -> impl Strategy<Value = (Ecosystem, String, String, String)> {
    ecosystem().prop_flat_map(|eco| (Just(eco), version_of(eco), version_of(eco), version_of(eco)))
}

fn le(o: Ordering) -> bool {
    o != Ordering::Greater
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nothing_panics_on_arbitrary_text(eco in ecosystem(), a in "\\PC{0,24}", b in "\\PC{0,24}") {
        let _ = parse_version(eco, &a);
        let o = compare(eco, &a, &b);
        prop_assert_eq!(compare(eco, &b, &a), o.reverse());
        let _ = change(eco, &a, &b);
        if let Ok(c) = Constraint::parse(eco, &a) {
            let _ = c.matches(&b);
            let _ = c.exact();
        }
    }

    #[test]
    fn nothing_panics_on_operator_soup(eco in ecosystem(), a in "[ <>=~^!*xX|,.0-9a-z+-]{0,30}", b in version_of(Ecosystem::Npm)) {
        if let Ok(c) = Constraint::parse(eco, &a) {
            let _ = c.matches(&b);
        }
    }

    #[test]
    fn ordering_is_antisymmetric_and_transitive((eco, a, b, c) in three_versions()) {
        let ab = compare(eco, &a, &b);
        let bc = compare(eco, &b, &c);
        let ac = compare(eco, &a, &c);
        prop_assert_eq!(compare(eco, &b, &a), ab.reverse());
        prop_assert_eq!(compare(eco, &a, &a), Ordering::Equal);
        if le(ab) && le(bc) {
            prop_assert!(le(ac), "{} <= {} <= {} but {} > {}", a, b, c, a, c);
        }
        if ab == Ordering::Equal && bc == Ordering::Equal {
            prop_assert_eq!(ac, Ordering::Equal);
        }
        if ab == Ordering::Less && le(bc) {
            prop_assert_eq!(ac, Ordering::Less);
        }
    }

    #[test]
    fn change_direction_follows_the_ordering((eco, a, b, _c) in three_versions()) {
        let ch = change(eco, &a, &b);
        let expected = match (eco, compare(eco, &a, &b)) {
            (Ecosystem::File | Ecosystem::Env, _) => Direction::Same,
            (_, Ordering::Less) => Direction::Newer,
            (_, Ordering::Greater) => Direction::Older,
            (_, Ordering::Equal) => Direction::Same,
        };
        prop_assert_eq!(ch.direction, expected);
    }

    #[test]
    fn an_exact_constraint_matches_its_version((eco, a, _b, _c) in three_versions()) {
        if parse_version(eco, &a).is_ok() {
            let c = Constraint::parse(eco, &a);
            // Every valid version of a relation-based ecosystem is an exact constraint.
            if matches!(eco, Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm | Ecosystem::File | Ecosystem::Env) {
                let c = c.expect("a valid version is a valid constraint");
                prop_assert!(c.matches(&a), "{} does not match itself", a);
                prop_assert_eq!(c.exact(), Some(a.trim()));
            }
        }
    }
}
