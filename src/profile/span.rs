//! Durations as people write them in configs and on the command line: `7d`, `24h`, `5m`,
//! `1y`, or combinations such as `1d12h`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use time::Duration;

use super::ProfileError;

/// The longest span accepted: far beyond any certificate lifetime, and small enough that
/// adding it to any time of the profile stays in range.
const MAX_SPAN_SECS: i64 = 1000 * 365 * 86_400;

/// A non-negative duration written with units `s`, `m`, `h`, `d`, `w`, `y` (365 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Span(Duration);

impl Span {
    /// A span of `d`.
    pub const fn new(d: Duration) -> Self {
        Span(d)
    }

    /// The duration.
    pub const fn duration(self) -> Duration {
        self.0
    }
}

impl FromStr for Span {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, ProfileError> {
        let bad = || ProfileError::BadSpan {
            given: s.to_owned(),
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(bad());
        }
        let mut total: i64 = 0;
        let mut num = String::new();
        for c in t.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit: i64 = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                'y' => 365 * 86_400,
                _ => return Err(bad()),
            };
            if num.is_empty() {
                return Err(bad());
            }
            let too_long = || ProfileError::SpanTooLong {
                given: s.to_owned(),
                max: Span(Duration::seconds(MAX_SPAN_SECS)).to_string(),
            };
            // Only digits are in `num`, so a parse failure is an overflow.
            let n: i64 = num.parse().map_err(|_| too_long())?;
            num.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .filter(|v| *v <= MAX_SPAN_SECS)
                .ok_or_else(too_long)?;
        }
        if !num.is_empty() {
            return Err(bad());
        }
        Ok(Span(Duration::seconds(total)))
    }
}

impl TryFrom<String> for Span {
    type Error = ProfileError;

    fn try_from(s: String) -> Result<Self, ProfileError> {
        s.parse()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.whole_seconds();
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("y", 365 * 86_400),
            ("d", 86_400),
            ("h", 3600),
            ("m", 60),
            ("s", 1),
        ] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (s, secs, shown) in [
            ("7d", 7 * 86_400, "7d"),
            ("24h", 86_400, "1d"),
            ("5m", 300, "5m"),
            ("1y", 365 * 86_400, "1y"),
            ("1d12h", 86_400 + 12 * 3600, "1d12h"),
            ("2w", 14 * 86_400, "14d"),
            ("90s", 90, "1m30s"),
        ] {
            let span: Span = s.parse().unwrap();
            assert_eq!(span.duration().whole_seconds(), secs, "{s}");
            assert_eq!(span.to_string(), shown);
        }
    }

    #[test]
    fn rejects() {
        for s in ["", "7", "d", "7x", "-1d", "1.5d", "7 d"] {
            assert!(
                matches!(s.parse::<Span>(), Err(ProfileError::BadSpan { .. })),
                "{s:?}"
            );
        }
    }

    #[test]
    fn too_long_says_the_cap() {
        assert_eq!("1000y".parse::<Span>().unwrap().to_string(), "1000y");
        for s in [
            "1001y",
            "999y366d",
            "99999999999y",
            "99999999999999999999999s",
        ] {
            let e = s.parse::<Span>().unwrap_err();
            assert!(
                matches!(&e, ProfileError::SpanTooLong { max, .. } if max == "1000y"),
                "{s:?}: {e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains("the longest accepted is 1000y"), "{msg}");
            assert!(!msg.contains("write a number and a unit"), "{msg}");
        }
    }
}
