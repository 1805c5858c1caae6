//! Money: integer minor units plus an ISO 4217 currency. Never floats.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ValidationError;

/// ISO 4217 codes Stripe settles or charges in, with their minor-unit exponent.
/// Stripe treats a few specially (zero-decimal and three-decimal currencies); the exponent here is
/// ISO's, which is what an operator types amounts in.
const CURRENCIES: &[(&str, u8)] = &[
    ("aed", 2),
    ("afn", 2),
    ("all", 2),
    ("amd", 2),
    ("ang", 2),
    ("aoa", 2),
    ("ars", 2),
    ("aud", 2),
    ("awg", 2),
    ("azn", 2),
    ("bam", 2),
    ("bbd", 2),
    ("bdt", 2),
    ("bgn", 2),
    ("bhd", 3),
    ("bif", 0),
    ("bmd", 2),
    ("bnd", 2),
    ("bob", 2),
    ("brl", 2),
    ("bsd", 2),
    ("bwp", 2),
    ("byn", 2),
    ("bzd", 2),
    ("cad", 2),
    ("cdf", 2),
    ("chf", 2),
    ("clp", 0),
    ("cny", 2),
    ("cop", 2),
    ("crc", 2),
    ("cve", 2),
    ("czk", 2),
    ("djf", 0),
    ("dkk", 2),
    ("dop", 2),
    ("dzd", 2),
    ("egp", 2),
    ("etb", 2),
    ("eur", 2),
    ("fjd", 2),
    ("fkp", 2),
    ("gbp", 2),
    ("gel", 2),
    ("gip", 2),
    ("gmd", 2),
    ("gnf", 0),
    ("gtq", 2),
    ("gyd", 2),
    ("hkd", 2),
    ("hnl", 2),
    ("htg", 2),
    ("huf", 2),
    ("idr", 2),
    ("ils", 2),
    ("inr", 2),
    ("isk", 0),
    ("jmd", 2),
    ("jod", 3),
    ("jpy", 0),
    ("kes", 2),
    ("kgs", 2),
    ("khr", 2),
    ("kmf", 0),
    ("krw", 0),
    ("kwd", 3),
    ("kyd", 2),
    ("kzt", 2),
    ("lak", 2),
    ("lbp", 2),
    ("lkr", 2),
    ("lrd", 2),
    ("lsl", 2),
    ("mad", 2),
    ("mdl", 2),
    ("mga", 0),
    ("mkd", 2),
    ("mmk", 2),
    ("mnt", 2),
    ("mop", 2),
    ("mur", 2),
    ("mvr", 2),
    ("mwk", 2),
    ("mxn", 2),
    ("myr", 2),
    ("mzn", 2),
    ("nad", 2),
    ("ngn", 2),
    ("nio", 2),
    ("nok", 2),
    ("npr", 2),
    ("nzd", 2),
    ("omr", 3),
    ("pab", 2),
    ("pen", 2),
    ("pgk", 2),
    ("php", 2),
    ("pkr", 2),
    ("pln", 2),
    ("pyg", 0),
    ("qar", 2),
    ("ron", 2),
    ("rsd", 2),
    ("rub", 2),
    ("rwf", 0),
    ("sar", 2),
    ("sbd", 2),
    ("scr", 2),
    ("sek", 2),
    ("sgd", 2),
    ("shp", 2),
    ("sle", 2),
    ("sos", 2),
    ("srd", 2),
    ("std", 2),
    ("szl", 2),
    ("thb", 2),
    ("tjs", 2),
    ("tnd", 3),
    ("top", 2),
    ("try", 2),
    ("ttd", 2),
    ("twd", 2),
    ("tzs", 2),
    ("uah", 2),
    ("ugx", 0),
    ("usd", 2),
    ("uyu", 2),
    ("uzs", 2),
    ("vnd", 0),
    ("vuv", 0),
    ("wst", 2),
    ("xaf", 0),
    ("xcd", 2),
    ("xof", 0),
    ("xpf", 0),
    ("yer", 2),
    ("zar", 2),
    ("zmw", 2),
];

/// A three-letter ISO 4217 currency code, held in Stripe's lower case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "usd")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"usd");

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let lower = input.trim().to_ascii_lowercase();
        if CURRENCIES.iter().any(|(code, _)| *code == lower) {
            let b = lower.as_bytes();
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(ValidationError::new(
                "",
                format!("`{input}` is not a supported ISO 4217 currency code"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        // The bytes come from the ASCII table above.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency (2 for USD, 0 for JPY, 3 for KWD).
    pub fn exponent(&self) -> u8 {
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == self.as_str())
            .map(|(_, e)| *e)
            .unwrap_or(2)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value).map_err(|e| e.message)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_string()
    }
}

/// A non-negative amount in minor units (cents for USD). Caps, fees, prices.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "i64", into = "i64")]
#[schema(value_type = i64, example = 1999)]
pub struct MinorUnits(i64);

impl MinorUnits {
    pub const ZERO: MinorUnits = MinorUnits(0);

    pub fn new(value: i64) -> Result<Self, ValidationError> {
        if value < 0 {
            return Err(ValidationError::new(
                "",
                "must be zero or more (minor units)",
            ));
        }
        // Stripe's largest amount is 99,999,999 in eight digits; caps may be far larger but must
        // still be summable without overflow.
        if value > 1_000_000_000_000_000 {
            return Err(ValidationError::new("", "is too large"));
        }
        Ok(MinorUnits(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for MinorUnits {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        MinorUnits::new(value).map_err(|e| e.message)
    }
}

impl From<MinorUnits> for i64 {
    fn from(m: MinorUnits) -> i64 {
        m.0
    }
}

/// An amount an operator typed in the currency's major unit (`1,234.56` USD, `1500` JPY) as minor
/// units, exactly: digits with optional thousands commas and at most the currency's decimals.
pub fn parse_major(input: &str, currency: Currency) -> Result<MinorUnits, ValidationError> {
    let s: String = input.trim().chars().filter(|c| *c != ',').collect();
    let exp = usize::from(currency.exponent());
    let bad = || {
        ValidationError::new(
            "",
            format!(
                "`{input}` is not an amount in {}: use digits with at most {exp} decimals, e.g. {}",
                currency.as_str().to_uppercase(),
                format_major(123_456, currency)
            ),
        )
    };
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !digits(whole) || !digits(frac) || frac.len() > exp {
        return Err(bad());
    }
    if whole.len() > 15 {
        return Err(ValidationError::new("", "is too large"));
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
    for _ in frac.len()..exp {
        frac_v *= 10;
    }
    let scale = 10_i64.pow(u32::from(currency.exponent()));
    let v = whole_v
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_v))
        .ok_or_else(|| ValidationError::new("", "is too large"))?;
    MinorUnits::new(v)
}

/// Minor units written in the major unit with the currency's decimals and thousands commas:
/// `123456` USD is `1,234.56`, JPY `123,456`, KWD `123.456`.
pub fn format_major(minor: i64, currency: Currency) -> String {
    let exp = u32::from(currency.exponent());
    let scale = 10_u64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    let whole = (a / scale).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if exp == 0 {
        format!("{sign}{grouped}")
    } else {
        format!(
            "{sign}{grouped}.{:0width$}",
            a % scale,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_is_case_insensitive_and_lowercased() {
        assert_eq!(Currency::parse("USD").unwrap().as_str(), "usd");
        assert_eq!(Currency::parse(" eur ").unwrap().as_str(), "eur");
    }

    #[test]
    fn unknown_currency_is_rejected() {
        assert!(Currency::parse("usx").is_err());
        assert!(Currency::parse("us").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn currency_exponents() {
        assert_eq!(Currency::parse("jpy").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("kwd").unwrap().exponent(), 3);
        assert_eq!(Currency::USD.exponent(), 2);
    }

    #[test]
    fn minor_units_reject_negative() {
        assert!(MinorUnits::new(-1).is_err());
        assert_eq!(MinorUnits::new(0).unwrap().get(), 0);
        assert!(serde_json::from_str::<MinorUnits>("-5").is_err());
        assert_eq!(
            serde_json::from_str::<MinorUnits>("150").unwrap().get(),
            150
        );
    }

    #[test]
    fn major_units_round_trip_exactly() {
        let usd = Currency::USD;
        let jpy = Currency::parse("jpy").unwrap();
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(parse_major("1,234.56", usd).unwrap().get(), 123_456);
        assert_eq!(parse_major("50000", usd).unwrap().get(), 5_000_000);
        assert_eq!(parse_major("0.5", usd).unwrap().get(), 50);
        assert_eq!(parse_major(".05", usd).unwrap().get(), 5);
        assert_eq!(parse_major("1500", jpy).unwrap().get(), 1500);
        assert_eq!(parse_major("1.005", kwd).unwrap().get(), 1005);
        for bad in ["", ".", "1.234", "-1", "1e3", "12a", "1.2.3"] {
            assert!(parse_major(bad, usd).is_err(), "{bad}");
        }
        assert!(parse_major("1.5", jpy).is_err());
        assert_eq!(format_major(123_456, usd), "1,234.56");
        assert_eq!(format_major(-5, usd), "-0.05");
        assert_eq!(format_major(123_456, jpy), "123,456");
        assert_eq!(format_major(1005, kwd), "1.005");
        for v in [0, 7, 99, 100, 123_456_789] {
            assert_eq!(parse_major(&format_major(v, usd), usd).unwrap().get(), v);
        }
    }
}
