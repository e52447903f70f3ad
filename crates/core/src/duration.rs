//! Durations written the way Go's `time.ParseDuration` reads them, for the flags both programs
//! share with upstream (`--key-renew-period=720h`, `--request-timeout=1m30s`, …).
//!
//! The grammar: an optional sign, then one or more `NUMBER UNIT` pairs, where NUMBER is
//! decimal with an optional fraction (`1`, `1.5`, `.5`, `1.`) and UNIT is one of `ns`, `us`
//! (or `µs`, `μs`), `ms`, `s`, `m`, `h`; a lone `0` (signed or not) is zero. The value is kept
//! in whole nanoseconds in an `i64`, like Go's `time.Duration`; a longer duration is an error.

use std::time::Duration;

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form above, or too long for Go's `time.Duration` (about 292 years).
    #[error("invalid duration {0:?}")]
    Invalid(String),
    /// A number without a unit (`"10"`).
    #[error("missing unit in duration {0:?}")]
    MissingUnit(String),
    /// A unit other than ns, us, µs, ms, s, m, h.
    #[error("unknown unit {unit:?} in duration {input:?}")]
    UnknownUnit { unit: String, input: String },
    /// A negative duration where only zero or more makes sense.
    #[error("negative duration {0:?}")]
    Negative(String),
}

/// A parsed Go duration: signed whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration(i64);

impl GoDuration {
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// As a `std::time::Duration`, if not negative.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.0).ok().map(Duration::from_nanos)
    }
}

/// Nanoseconds in one of each unit.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Splits the leading ASCII digits off `s`.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Parses `s` with Go's `time.ParseDuration` rules.
pub fn parse_go_duration(s: &str) -> Result<GoDuration, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(GoDuration(0));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    // The magnitude may reach 2^63 (for i64::MIN).
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let (int_digits, after_int) = split_digits(rest);
        let (frac_digits, after_number) = match after_int.strip_prefix('.') {
            Some(after_dot) => split_digits(after_dot),
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        let unit_end = after_number
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after_number.len());
        let (unit, next) = after_number.split_at(unit_end);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(s.to_string()));
        }
        let per_unit = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit.to_string(),
            input: s.to_string(),
        })?;
        // The whole part, exactly.
        let whole = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse::<u64>().map_err(|_| invalid())?
        };
        let mut value = whole
            .checked_mul(per_unit)
            .filter(|v| *v <= LIMIT)
            .ok_or_else(invalid)?;
        // The fraction: digits are read while they fit (later ones cannot change the
        // nanoseconds), then scaled by the unit; below one unit (at most an hour, 3.6e12 ns)
        // f64 is exact enough.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        for d in frac_digits.bytes() {
            match frac
                .checked_mul(10)
                .map(|f| f + u64::from(d - b'0'))
                .filter(|f| *f <= LIMIT)
            {
                Some(f) => {
                    frac = f;
                    scale *= 10.0;
                }
                None => break,
            }
        }
        if frac > 0 {
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
            let part = (frac as f64 * (per_unit as f64 / scale)) as u64;
            value = value
                .checked_add(part)
                .filter(|v| *v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
        rest = next;
    }
    if negative {
        // 2^63 is allowed here: it is i64::MIN.
        Ok(GoDuration(0i64.wrapping_sub_unsigned(total)))
    } else {
        i64::try_from(total).map(GoDuration).map_err(|_| invalid())
    }
}

/// [`parse_go_duration`] for a duration that may not be negative.
pub fn parse_go_duration_std(s: &str) -> Result<Duration, DurationError> {
    parse_go_duration(s)?
        .to_std()
        .ok_or_else(|| DurationError::Negative(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        parse_go_duration(s).unwrap().as_nanos()
    }

    #[test]
    fn units() {
        assert_eq!(ns("1ns"), 1);
        assert_eq!(ns("1us"), 1_000);
        assert_eq!(ns("1µs"), 1_000);
        assert_eq!(ns("1\u{3bc}s"), 1_000);
        assert_eq!(ns("1ms"), 1_000_000);
        assert_eq!(ns("1s"), 1_000_000_000);
        assert_eq!(ns("1m"), 60_000_000_000);
        assert_eq!(ns("1h"), 3_600_000_000_000);
        assert_eq!(ns("87600h"), 87_600 * 3_600_000_000_000);
    }

    #[test]
    fn zero_sign_and_sequences() {
        for zero in ["0", "+0", "-0", "0s", "0h0m", "0.0s"] {
            assert_eq!(ns(zero), 0, "{zero}");
        }
        assert_eq!(ns("1h30m"), 5_400_000_000_000);
        assert_eq!(ns("2h45m30.5s"), 9_930_500_000_000);
        assert_eq!(ns("1m1m"), 120_000_000_000, "a unit may repeat");
        assert_eq!(ns("-1.5h"), -5_400_000_000_000);
        assert_eq!(ns("+250ms"), 250_000_000);
        assert!(parse_go_duration("-1s").unwrap().is_negative());
    }

    #[test]
    fn fractions() {
        assert_eq!(ns("1.5s"), 1_500_000_000);
        assert_eq!(ns(".5s"), 500_000_000);
        assert_eq!(ns("1.s"), 1_000_000_000);
        assert_eq!(ns("0.1ns"), 0, "below a nanosecond is dropped");
        assert_eq!(ns("1.0000000001s"), 1_000_000_000);
        assert_eq!(ns("0.000000001h"), 3_600);
        assert_eq!(ns("1.0000000001h"), 3_600_000_000_360);
        assert_eq!(ns("1.0000000000001h"), 3_600_000_000_000);
        // Digits beyond what can matter are read and ignored.
        assert_eq!(ns("1.00000000000000000000000000001s"), 1_000_000_000);
    }

    #[test]
    fn limits() {
        assert_eq!(ns("9223372036854775807ns"), i64::MAX);
        assert_eq!(ns("-9223372036854775808ns"), i64::MIN);
        assert_eq!(ns("2562047h47m16.854775807s"), i64::MAX);
        for too_long in [
            "9223372036854775808ns",
            "2562048h",
            "2562047h47m16.854775808s",
            "99999999999999999999s",
            "5124095576030431h5124095576030431h",
        ] {
            assert_eq!(
                parse_go_duration(too_long),
                Err(DurationError::Invalid(too_long.to_string())),
                "{too_long}"
            );
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "", "+", "-", ".", ".s", "-.s", "s", "h1", "1h ", " 1h", "1h-1m", "1e3s",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_go_duration("10"),
            Err(DurationError::MissingUnit("10".into()))
        );
        assert_eq!(
            parse_go_duration("1h30"),
            Err(DurationError::MissingUnit("1h30".into()))
        );
        assert_eq!(
            parse_go_duration("5d"),
            Err(DurationError::UnknownUnit {
                unit: "d".into(),
                input: "5d".into()
            })
        );
        assert_eq!(
            parse_go_duration("1hm").unwrap_err().to_string(),
            "unknown unit \"hm\" in duration \"1hm\""
        );
        assert_eq!(
            parse_go_duration(".").unwrap_err().to_string(),
            "invalid duration \".\""
        );
    }

    #[test]
    fn std_durations() {
        assert_eq!(parse_go_duration_std("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration_std("-0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_go_duration_std("-1s"),
            Err(DurationError::Negative("-1s".into()))
        );
    }
}
