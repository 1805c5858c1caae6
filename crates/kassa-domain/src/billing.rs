//! Recurring offers: the price of each cycle, the interval between bills, trials and the final
//! cycle; and what a rebill's outcome does to a purchase.

use serde::{Deserialize, Serialize};

use crate::money::MinorUnits;
use crate::recycle::RecycleRules;
use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntervalUnit {
    Days,
    Months,
}

/// How a recurring product bills: cycle 1 at `prices[0]`, cycle 2 at `prices[1]`, …, the last
/// price repeating; every `interval_count` `interval_unit`; after an optional trial; up to an
/// optional final cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub prices: Vec<MinorUnits>,
    pub interval_unit: IntervalUnit,
    pub interval_count: u32,
    /// Days before cycle 2 is billed instead of one interval (cycle 1 is the trial's price).
    #[serde(default)]
    pub trial_days: Option<u32>,
    /// The last cycle billed; none: until cancelled.
    #[serde(default)]
    pub final_cycle: Option<u32>,
}

impl Schedule {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.prices.is_empty() || self.prices.len() > 100 {
            return Err(ValidationError::new(
                "prices",
                "must give 1 to 100 cycle prices (cycle 1, cycle 2, …; the last repeats)",
            ));
        }
        if self.interval_count == 0 || self.interval_count > 365 {
            return Err(ValidationError::new("interval_count", "must be 1 to 365"));
        }
        if let Some(t) = self.trial_days {
            if t == 0 || t > 365 {
                return Err(ValidationError::new("trial_days", "must be 1 to 365"));
            }
        }
        if self.final_cycle == Some(0) {
            return Err(ValidationError::new("final_cycle", "must be 1 or more"));
        }
        Ok(())
    }

    /// The price of cycle `n` (1-based).
    pub fn price(&self, cycle: u32) -> i64 {
        let i = (cycle.max(1) as usize - 1).min(self.prices.len().saturating_sub(1));
        self.prices.get(i).map(|p| p.get()).unwrap_or(0)
    }

    /// When the cycle after `cycle` (just billed at `billed_at`, Unix ms) is due; `None` when
    /// `cycle` was the final one.
    pub fn next_bill_at(&self, cycle: u32, billed_at: i64) -> Option<i64> {
        if self.final_cycle.is_some_and(|f| cycle >= f) {
            return None;
        }
        if cycle == 1 {
            if let Some(t) = self.trial_days {
                return Some(billed_at + i64::from(t) * 86_400_000);
            }
        }
        Some(add_interval(
            billed_at,
            self.interval_unit,
            self.interval_count,
        ))
    }
}

/// `at` plus `count` days or calendar months (the day of month kept where it exists, else the
/// month's last day: 31 January + 1 month = 28/29 February).
pub fn add_interval(at: i64, unit: IntervalUnit, count: u32) -> i64 {
    match unit {
        IntervalUnit::Days => at + i64::from(count) * 86_400_000,
        IntervalUnit::Months => {
            let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
            else {
                return at;
            };
            let months = i32::from(u8::from(t.month())) - 1 + count as i32;
            let year = t.year() + months.div_euclid(12);
            let Ok(month) = time::Month::try_from((months.rem_euclid(12) + 1) as u8) else {
                return at;
            };
            let last = month.length(year);
            let day = t.day().min(last);
            let Ok(date) = time::Date::from_calendar_date(year, month, day) else {
                return at;
            };
            let moved = t.replace_date(date);
            (moved.unix_timestamp_nanos() / 1_000_000) as i64
        }
    }
}

/// What a purchase does after a rebill attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebillOutcome {
    /// Billed: the next cycle is due at this time, or the purchase is complete.
    Billed { next_bill_at: Option<i64> },
    /// A soft decline with retries left: try again at this time (decline salvage).
    Retry { at: i64 },
    /// A hard decline, or no retries left: recycling failed.
    Failed,
}

/// The outcome of a rebill attempt number `attempt` (1 for the scheduled bill) at `now`; soft
/// declines wait as the recycle profile's `rules` say.
pub fn rebill_outcome(
    approved: bool,
    hard: bool,
    attempt: usize,
    schedule: &Schedule,
    cycle: u32,
    now: i64,
    rules: &RecycleRules,
) -> RebillOutcome {
    if approved {
        return RebillOutcome::Billed {
            next_bill_at: schedule.next_bill_at(cycle, now),
        };
    }
    if hard {
        return RebillOutcome::Failed;
    }
    match rules.wait_after(attempt) {
        Some(days) => RebillOutcome::Retry {
            at: now + i64::from(days) * 86_400_000,
        },
        None => RebillOutcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::json;

    const JAN_31: i64 = 1_769_817_600_000; // 2026-01-31T00:00:00Z

    fn schedule(v: serde_json::Value) -> Schedule {
        parse(v).unwrap()
    }

    #[test]
    fn cycle_prices_repeat_the_last() {
        let s = schedule(
            json!({"prices": [100, 4999, 3999], "interval_unit": "days", "interval_count": 30}),
        );
        assert_eq!(
            (s.price(1), s.price(2), s.price(3), s.price(9)),
            (100, 4999, 3999, 3999)
        );
    }

    #[test]
    fn months_keep_the_day_or_take_the_last() {
        assert_eq!(
            add_interval(JAN_31, IntervalUnit::Months, 1),
            1_772_236_800_000
        ); // 2026-02-28
        assert_eq!(
            add_interval(JAN_31, IntervalUnit::Months, 12),
            1_801_353_600_000
        ); // 2027-01-31
        assert_eq!(
            add_interval(JAN_31, IntervalUnit::Days, 30),
            JAN_31 + 30 * 86_400_000
        );
    }

    #[test]
    fn trial_then_interval_then_final_cycle() {
        let s = schedule(
            json!({"prices": [100, 2999], "interval_unit": "days", "interval_count": 30, "trial_days": 14, "final_cycle": 3}),
        );
        assert_eq!(s.next_bill_at(1, 0), Some(14 * 86_400_000));
        assert_eq!(s.next_bill_at(2, 0), Some(30 * 86_400_000));
        assert_eq!(s.next_bill_at(3, 0), None);
    }

    #[test]
    fn rebill_outcomes() {
        let s = schedule(json!({"prices": [100], "interval_unit": "days", "interval_count": 30}));
        let d = RecycleRules::default();
        assert_eq!(
            rebill_outcome(true, false, 1, &s, 2, 0, &d),
            RebillOutcome::Billed {
                next_bill_at: Some(30 * 86_400_000)
            }
        );
        assert_eq!(
            rebill_outcome(false, true, 1, &s, 2, 0, &d),
            RebillOutcome::Failed
        );
        assert_eq!(
            rebill_outcome(false, false, 1, &s, 2, 0, &d),
            RebillOutcome::Retry { at: 3 * 86_400_000 }
        );
        assert_eq!(
            rebill_outcome(false, false, 4, &s, 2, 0, &d),
            RebillOutcome::Failed
        );
    }

    #[test]
    fn validation() {
        assert_eq!(
            schedule(json!({"prices": [], "interval_unit": "days", "interval_count": 30}))
                .validate()
                .unwrap_err()
                .param,
            "prices"
        );
        assert_eq!(
            schedule(json!({"prices": [1], "interval_unit": "days", "interval_count": 0}))
                .validate()
                .unwrap_err()
                .param,
            "interval_count"
        );
        assert!(parse::<Schedule>(
            json!({"prices": [-1], "interval_unit": "days", "interval_count": 1})
        )
        .is_err());
    }
}
