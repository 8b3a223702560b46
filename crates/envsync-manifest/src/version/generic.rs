//! The fallback ordering for versions of no known ecosystem: runs of digits compare as
//! numbers, everything else as text, so `1.10` is newer than `1.9`.

use std::cmp::Ordering;

use super::ChangeSize;

/// Split a version into alternating numeric and non-numeric runs.
fn runs(v: &str) -> impl Iterator<Item = &str> {
    let mut rest = v;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let numeric = rest.as_bytes()[0].is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != numeric)
            .unwrap_or(rest.len());
        let (head, tail) = rest.split_at(end);
        rest = tail;
        Some(head)
    })
}

fn compare_run(a: &str, b: &str) -> Ordering {
    let a_num = a.as_bytes()[0].is_ascii_digit();
    let b_num = b.as_bytes()[0].is_ascii_digit();
    match (a_num, b_num) {
        (true, true) => {
            let a = a.trim_start_matches('0');
            let b = b.trim_start_matches('0');
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        // A number sorts after text, so `1.0` is newer than `1.0rc1`-style text runs.
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.cmp(b),
    }
}

/// Compare two versions run by run.
pub fn compare(left: &str, right: &str) -> Ordering {
    let mut l = runs(left);
    let mut r = runs(right);
    loop {
        match (l.next(), r.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => match compare_run(a, b) {
                Ordering::Equal => continue,
                other => return other,
            },
        }
    }
}

/// Size of a change: which numeric component (major, minor, patch) first differs.
pub fn change_size(left: &str, right: &str) -> ChangeSize {
    let nums = |v: &str| -> Vec<String> {
        runs(v)
            .filter(|r| r.as_bytes()[0].is_ascii_digit())
            .map(|r| r.trim_start_matches('0').to_string())
            .collect()
    };
    let (a, b) = (nums(left), nums(right));
    for (i, size) in [ChangeSize::Major, ChangeSize::Minor, ChangeSize::Patch]
        .into_iter()
        .enumerate()
    {
        if a.get(i) != b.get(i) {
            return size;
        }
    }
    if a != b {
        ChangeSize::Revision
    } else {
        ChangeSize::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(left: &str, right: &str, expected: Ordering) {
        assert_eq!(compare(left, right), expected, "{left} vs {right}");
        assert_eq!(
            compare(right, left),
            expected.reverse(),
            "{right} vs {left}"
        );
    }

    #[test]
    fn orders_numbers_numerically() {
        check("1.9", "1.10", Ordering::Less);
        check("1.0", "1.0", Ordering::Equal);
        check("1.0", "1.0.1", Ordering::Less);
        check("2", "10", Ordering::Less);
        check("007", "7", Ordering::Equal);
    }

    #[test]
    fn sizes() {
        assert_eq!(change_size("1.2.3", "2.0.0"), ChangeSize::Major);
        assert_eq!(change_size("1.2.3", "1.3.0"), ChangeSize::Minor);
        assert_eq!(change_size("1.2.3", "1.2.4"), ChangeSize::Patch);
        assert_eq!(change_size("1.2.3", "1.2.3.1"), ChangeSize::Revision);
        assert_eq!(change_size("1.2.3", "1.2.3"), ChangeSize::Other);
    }
}
