//! Report arithmetic, pure: fees from a gateway's limits, reserve, cap usage, rates, month ranges
//! and CSV. All money is integer minor units; rates are exact (ten-thousandths of a percent).

use time::{Date, Month, PrimitiveDateTime, Time};

use crate::gateway::Limits;
use crate::ValidationError;

/// A calendar month (UTC), `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct YearMonth {
    pub year: i32,
    pub month: u8,
}

impl YearMonth {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("", format!("`{s}` is not a month: use YYYY-MM"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(YearMonth { year, month })
    }

    /// The month of a Unix-milliseconds time.
    pub fn of_millis(millis: i64) -> Self {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        YearMonth {
            year: t.year(),
            month: u8::from(t.month()),
        }
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            YearMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            YearMonth {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Unix milliseconds of the month's first instant.
    pub fn start_millis(self) -> i64 {
        let month = Month::try_from(self.month).unwrap_or(Month::January);
        let date = Date::from_calendar_date(self.year, month, 1).unwrap_or(Date::MIN);
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp()
            * 1000
    }

    /// `[start, end)` in Unix milliseconds.
    pub fn range_millis(self) -> (i64, i64) {
        (self.start_millis(), self.next().start_millis())
    }

    /// The months from `self` to `to`, both included (at most `max`).
    pub fn through(self, to: YearMonth, max: usize) -> Vec<YearMonth> {
        let mut out = Vec::new();
        let mut m = self;
        while m <= to && out.len() < max {
            out.push(m);
            m = m.next();
        }
        out
    }
}

impl std::fmt::Display for YearMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A gateway's processing fees for a month's volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    /// `discount_rate` of the gross volume, rounded half up.
    pub discount: i64,
    /// `transaction_fee` × transactions.
    pub transactions: i64,
    pub total: i64,
}

pub fn fees(limits: &Limits, gross: i64, transactions: i64) -> Fees {
    let discount = limits.discount_rate.of(gross);
    let per_txn = limits.transaction_fee.get().saturating_mul(transactions);
    Fees {
        discount,
        transactions: per_txn,
        total: discount.saturating_add(per_txn),
    }
}

/// What counts against the cap: the net volume when refunds are included, else the gross.
pub fn cap_used(limits: &Limits, gross: i64, refunded: i64) -> i64 {
    if limits.include_refunds {
        gross - refunded
    } else {
        gross
    }
}

/// `part` of `whole` as a percentage with two decimals, rounded half up (`"0.75"`); `None`
/// when `whole` is 0. Integer arithmetic only.
pub fn percent(part: i64, whole: i64) -> Option<String> {
    if whole <= 0 {
        return None;
    }
    let num = i128::from(part) * 10_000;
    let den = i128::from(whole);
    let mut hundredths = num / den;
    if (num % den) * 2 >= den {
        hundredths += 1;
    }
    Some(format!("{}.{:02}", hundredths / 100, hundredths % 100))
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`,
/// `@` (a formula to a spreadsheet) gets a `'` in front, unless the field is a number.
fn csv_field(s: &str) -> String {
    let numeric = !s.is_empty() && s.parse::<f64>().is_ok();
    let guarded = if !numeric && s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// RFC 4180 CSV (CRLF line ends) of a header and rows.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |fields: Vec<String>| fields.join(",") + "\r\n";
    out.push_str(&line(header.iter().map(|h| csv_field(h)).collect()));
    for r in rows {
        out.push_str(&line(r.iter().map(|f| csv_field(f)).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::MinorUnits;
    use crate::rate::Percent;

    fn limits(discount: &str, fee: i64, include_refunds: bool) -> Limits {
        let mut l: Limits = serde_json::from_value(serde_json::json!({})).unwrap();
        l.discount_rate = Percent::parse(discount).unwrap();
        l.transaction_fee = MinorUnits::new(fee).unwrap();
        l.include_refunds = include_refunds;
        l
    }

    #[test]
    fn fees_are_exact_and_round_half_up() {
        // 2.95 % of $1,234.56 = $36.419… → 3642; 7 transactions at 30¢.
        let f = fees(&limits("2.95", 30, false), 123_456, 7);
        assert_eq!(
            f,
            Fees {
                discount: 3642,
                transactions: 210,
                total: 3852
            }
        );
        // 0.5 % of 101 minor units = 0.505 → 1.
        assert_eq!(fees(&limits("0.5", 0, false), 101, 1).discount, 1);
        assert_eq!(fees(&limits("0", 0, false), 0, 0).total, 0);
    }

    #[test]
    fn cap_usage_nets_refunds_only_when_asked() {
        assert_eq!(cap_used(&limits("0", 0, false), 1000, 300), 1000);
        assert_eq!(cap_used(&limits("0", 0, true), 1000, 300), 700);
    }

    #[test]
    fn percent_has_two_decimals() {
        assert_eq!(percent(3, 400).as_deref(), Some("0.75"));
        assert_eq!(percent(1, 3).as_deref(), Some("33.33"));
        assert_eq!(percent(2, 3).as_deref(), Some("66.67"));
        assert_eq!(percent(5, 5).as_deref(), Some("100.00"));
        assert_eq!(percent(1, 0), None);
    }

    #[test]
    fn months_and_ranges() {
        let m = YearMonth::parse("2026-12").unwrap();
        assert_eq!(m.next().to_string(), "2027-01");
        let (a, b) = m.range_millis();
        assert_eq!(a, 1_796_083_200_000);
        assert_eq!(b - a, 31 * 86_400_000);
        assert_eq!(YearMonth::of_millis(a), m);
        assert_eq!(YearMonth::of_millis(b - 1), m);
        assert!(YearMonth::parse("2026-13").is_err());
        assert!(YearMonth::parse("26-01").is_err());
        let months = YearMonth::parse("2026-11")
            .unwrap()
            .through(YearMonth::parse("2027-02").unwrap(), 24);
        assert_eq!(months.len(), 4);
    }

    #[test]
    fn csv_quotes_and_guards_formulas() {
        let out = csv(
            &["a", "b"],
            &[
                vec!["x,y".into(), "say \"hi\"".into()],
                vec!["=SUM(A1)".into(), "-12".into()],
            ],
        );
        assert_eq!(
            out,
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n'=SUM(A1),-12\r\n"
        );
    }
}
