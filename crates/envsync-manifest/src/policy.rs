//! The `[policy]` section: which drift fails a check, and which known drift is accepted
//! for a while, with a reason.

use serde::{Deserialize, Serialize};

/// A kind of difference between a reference and another environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    /// Present in the reference only.
    Missing,
    /// Present in the other environment only.
    Extra,
    /// Present on both sides at different versions or contents.
    Changed,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::Extra => "extra",
            DriftKind::Changed => "changed",
        }
    }
}

/// A calendar date (`YYYY-MM-DD`), enough for ignore expiries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Parse `YYYY-MM-DD`, checking the day exists in that month.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        let leap = date.year.is_multiple_of(4)
            && (!date.year.is_multiple_of(100) || date.year.is_multiple_of(400));
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&date.day).then_some(date)
    }

    /// Today's date in UTC from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date::from_unix_days((secs / 86_400) as i64)
    }

    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_unix_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Accepted drift: a component id (`deb:tzdata`, `pypi:django`, or `deb:*` for a whole
/// ecosystem), why it is accepted, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub component: String,
    pub reason: String,
    pub until: Option<Date>,
    /// 1-based line in the manifest, for messages that point at it.
    pub line: Option<usize>,
}

impl Ignore {
    /// Whether this ignore covers `ecosystem:name`.
    pub fn covers(&self, ecosystem: &str, name: &str) -> bool {
        match self.component.split_once(':') {
            Some((eco, "*")) => eco == ecosystem,
            Some((eco, n)) => eco == ecosystem && n == name,
            None => false,
        }
    }

    /// An ignore whose date has passed no longer hides anything and fails the check.
    pub fn expired(&self, today: Date) -> bool {
        self.until.is_some_and(|until| until < today)
    }
}

/// The `[policy]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Kinds of drift that fail `envsync check`. Default: `missing` and `changed`
    /// (extra components warn).
    pub fail_on: Vec<DriftKind>,
    pub ignore: Vec<Ignore>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fail_on: vec![DriftKind::Missing, DriftKind::Changed],
            ignore: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(20_513).to_string(), "2026-03-01");
        assert_eq!(Date::parse("2027-02-29"), None);
        assert_eq!(
            Date::parse("2028-02-29").map(|d| d.to_string()).as_deref(),
            Some("2028-02-29")
        );
        assert_eq!(Date::parse("2027-3-01"), None);
        assert!(Date::parse("2027-03-01") < Date::parse("2027-03-02"));
    }

    #[test]
    fn ignores() {
        let ig = Ignore {
            component: "deb:*".into(),
            reason: "r".into(),
            until: Date::parse("2026-01-01"),
            line: None,
        };
        assert!(ig.covers("deb", "tzdata"));
        assert!(!ig.covers("pypi", "tzdata"));
        assert!(ig.expired(Date::parse("2026-01-02").unwrap()));
        assert!(!ig.expired(Date::parse("2026-01-01").unwrap()));
    }
}
