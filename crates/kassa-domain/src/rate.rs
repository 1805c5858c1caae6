//! Percentages with up to four decimals (discount and reserve rates), held exactly as integers.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use crate::ValidationError;

/// Ten-thousandths of a percent per unit: 2.95 % is 29,500.
const SCALE: i64 = 10_000;
const MAX: i64 = 100 * SCALE;

/// A percentage between 0 and 100 with at most four decimals, e.g. the seed's Discount Rate
/// (processing fee) and Reserve Rate. Accepted from JSON as a string (`"2.95"`, exact) or a number
/// (`2.95`); always written back as a string so no client reads it through a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, utoipa::ToSchema)]
#[schema(value_type = String, example = "2.95")]
pub struct Percent(i64);

impl Percent {
    pub const ZERO: Percent = Percent(0);

    /// Parses a plain decimal: digits, an optional point and up to four more digits.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let bad = || {
            ValidationError::new(
                "",
                format!("`{input}` is not a percentage: use a decimal from 0 to 100 with at most 4 decimals, e.g. \"2.95\""),
            )
        };
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if frac.len() > 4 {
            return Err(ValidationError::new("", "must have at most 4 decimals"));
        }
        if whole.len() > 3 {
            return Err(ValidationError::new("", "must be between 0 and 100"));
        }
        let whole_v: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut frac_v: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        for _ in frac.len()..4 {
            frac_v *= 10;
        }
        let value = whole_v * SCALE + frac_v;
        if value > MAX {
            return Err(ValidationError::new("", "must be between 0 and 100"));
        }
        Ok(Percent(value))
    }

    /// The stored integer: ten-thousandths of a percent.
    pub fn ten_thousandths(self) -> i64 {
        self.0
    }

    pub fn from_ten_thousandths(v: i64) -> Result<Self, ValidationError> {
        if (0..=MAX).contains(&v) {
            Ok(Percent(v))
        } else {
            Err(ValidationError::new("", "must be between 0 and 100"))
        }
    }

    /// This share of `amount` minor units, rounded half up to a whole minor unit.
    pub fn of(self, amount: i64) -> i64 {
        // amount * rate / (100 * SCALE), in i128 so large volumes cannot overflow.
        let num = amount as i128 * self.0 as i128;
        let den = (100 * SCALE) as i128;
        let q = num / den;
        let r = num % den;
        let rounded = if r.abs() * 2 >= den {
            q + num.signum()
        } else {
            q
        };
        rounded as i64
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / SCALE;
        let frac = self.0 % SCALE;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a percentage from 0 to 100 with at most 4 decimals, as a string or a number",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                Percent::parse(v).map_err(|e| E::custom(e.message))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::parse(&v.to_string()).map_err(|e| E::custom(e.message))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                if v < 0 {
                    return Err(E::custom("must be between 0 and 100"));
                }
                Percent::parse(&v.to_string()).map_err(|e| E::custom(e.message))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                // A JSON number arrives as the nearest double. Rust prints the shortest decimal
                // that reads back as the same double, which for values with at most four decimals
                // up to 100 is exactly the digits the client wrote; anything else is rejected.
                if !v.is_finite() || v < 0.0 {
                    return Err(E::custom("must be between 0 and 100"));
                }
                Percent::parse(&format!("{v}")).map_err(|e| E::custom(e.message))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(Percent::parse("2.95").unwrap().ten_thousandths(), 29_500);
        assert_eq!(Percent::parse("0.0001").unwrap().ten_thousandths(), 1);
        assert_eq!(Percent::parse("100").unwrap().ten_thousandths(), 1_000_000);
        assert_eq!(Percent::parse(".5").unwrap().ten_thousandths(), 5_000);
        assert_eq!(Percent::parse("7.").unwrap().ten_thousandths(), 70_000);
    }

    #[test]
    fn rejects_out_of_range_and_precision() {
        for bad in [
            "100.0001", "101", "-1", "2.12345", "abc", "", ".", "1e2", "1,5", "+3",
        ] {
            assert!(Percent::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["0", "2.95", "0.0001", "100", "12.3456", "3.1"] {
            assert_eq!(Percent::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn json_number_and_string_agree() {
        let a: Percent = serde_json::from_str("2.95").unwrap();
        let b: Percent = serde_json::from_str("\"2.95\"").unwrap();
        let c: Percent = serde_json::from_str("3").unwrap();
        assert_eq!(a, b);
        assert_eq!(c.ten_thousandths(), 30_000);
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"2.95\"");
        assert!(serde_json::from_str::<Percent>("2.12345").is_err());
        assert!(serde_json::from_str::<Percent>("-0.5").is_err());
        assert!(serde_json::from_str::<Percent>("true").is_err());
    }

    #[test]
    fn share_of_amount_rounds_half_up() {
        let p = Percent::parse("2.95").unwrap();
        assert_eq!(p.of(10_000), 295);
        assert_eq!(p.of(1), 0); // 0.0295 → 0
        assert_eq!(Percent::parse("50").unwrap().of(1), 1); // 0.5 → 1
        assert_eq!(
            Percent::parse("100").unwrap().of(i64::MAX / 2),
            i64::MAX / 2
        );
    }
}
