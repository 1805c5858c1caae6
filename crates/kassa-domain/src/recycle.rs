//! Decline salvage as data: a recycle profile's re-attempts (waits and cumulative price
//! reductions, never below a minimum price) and the card networks' limits on retrying a card.

use serde::{Deserialize, Serialize};

use crate::money::MinorUnits;
use crate::rate::Percent;
use crate::ValidationError;

/// How much cheaper a re-attempt is than the attempt before it (reductions are cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Reduction {
    /// This many minor units off the previous attempt's price.
    Flat(MinorUnits),
    /// This share of the previous attempt's price off it; the reduction is rounded half up to
    /// a whole minor unit (`Percent::of`).
    Percent(Percent),
    /// No reduction: the previous attempt's price again.
    #[default]
    Skip,
}

/// One re-attempt of a soft-declined rebill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reattempt {
    /// Days after the previous (declined) attempt.
    pub wait_days: u32,
    #[serde(default)]
    pub reduction: Reduction,
}

/// A recycle profile's rules (Konnektive's Recycle Billing "basic rules").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecycleRules {
    pub reattempts: Vec<Reattempt>,
    /// No re-attempt is reduced below this price (a price already below it is not reduced).
    #[serde(default)]
    pub min_price: MinorUnits,
    /// After a recovery, later cycles keep the reduced price that recovered.
    #[serde(default)]
    pub hold_recycle_price: bool,
}

/// Days to wait before each retry when a gateway is in no recycle profile.
pub const DEFAULT_WAIT_DAYS: &[u32] = &[3, 5, 7];

pub const MAX_REATTEMPTS: usize = 20;
pub const MAX_WAIT_DAYS: u32 = 60;

impl Default for RecycleRules {
    /// The schedule a gateway in no profile gets: 3, 5 and 7 days, no reductions.
    fn default() -> Self {
        RecycleRules {
            reattempts: DEFAULT_WAIT_DAYS
                .iter()
                .map(|d| Reattempt {
                    wait_days: *d,
                    reduction: Reduction::Skip,
                })
                .collect(),
            min_price: MinorUnits::ZERO,
            hold_recycle_price: false,
        }
    }
}

impl RecycleRules {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.reattempts.len() > MAX_REATTEMPTS {
            return Err(ValidationError::new(
                "reattempts",
                format!("must list at most {MAX_REATTEMPTS} re-attempts"),
            ));
        }
        for (i, r) in self.reattempts.iter().enumerate() {
            if r.wait_days == 0 || r.wait_days > MAX_WAIT_DAYS {
                return Err(ValidationError::new(
                    format!("reattempts[{i}].wait_days"),
                    format!("must be 1 to {MAX_WAIT_DAYS}"),
                ));
            }
            let bad = match r.reduction {
                Reduction::Flat(v) => v.get() == 0,
                Reduction::Percent(p) => p == Percent::ZERO,
                Reduction::Skip => false,
            };
            if bad {
                return Err(ValidationError::new(
                    format!("reattempts[{i}].reduction.value"),
                    "must be more than 0 (use {\"type\": \"skip\"} for no reduction)",
                ));
            }
        }
        Ok(())
    }

    /// Days to wait after attempt `attempt` (1 = the scheduled bill) was soft-declined; `None`
    /// when no re-attempt is left.
    pub fn wait_after(&self, attempt: usize) -> Option<u32> {
        self.reattempts
            .get(attempt.checked_sub(1)?)
            .map(|r| r.wait_days)
    }

    /// The price of attempt `attempt` (1 = the scheduled bill at `base`): every reduction of
    /// the re-attempts so far applied in turn, each to the price before it, never below
    /// `min_price` (and never raising a price that is already below it).
    pub fn price(&self, base: i64, attempt: usize) -> i64 {
        let min = self.min_price.get();
        let mut price = base;
        for r in self.reattempts.iter().take(attempt.saturating_sub(1)) {
            let off = match r.reduction {
                Reduction::Flat(v) => v.get(),
                Reduction::Percent(p) => p.of(price),
                Reduction::Skip => 0,
            };
            price = (price - off).max(min).min(price);
        }
        price
    }
}

/// A card network's limit on charging a card that keeps declining: at most `max_declines`
/// declined attempts on one card in `period_days`; past it, merchant-initiated retries are
/// refused before they reach Stripe. The figures follow stripe-facts §8.4 (Visa's and
/// Mastercard's excessive-retry rules, about 15 attempts in 30 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkRetryLimit {
    /// Stripe's `card.brand`.
    pub brand: &'static str,
    pub max_declines: i64,
    pub period_days: i64,
}

pub const NETWORK_RETRY_LIMITS: &[NetworkRetryLimit] = &[
    NetworkRetryLimit {
        brand: "visa",
        max_declines: 15,
        period_days: 30,
    },
    NetworkRetryLimit {
        brand: "mastercard",
        max_declines: 15,
        period_days: 30,
    },
];

/// The limit of a card's network, if it has one.
pub fn network_limit(brand: Option<&str>) -> Option<NetworkRetryLimit> {
    let brand = brand?.to_ascii_lowercase();
    NETWORK_RETRY_LIMITS
        .iter()
        .find(|l| l.brand == brand)
        .copied()
}

impl NetworkRetryLimit {
    /// The start (Unix ms) of the period that counts at `now`.
    pub fn since(&self, now: i64) -> i64 {
        now - self.period_days * 86_400_000
    }

    /// Whether one more attempt is allowed on a card with `declines` in the period.
    pub fn allows(&self, declines: i64) -> bool {
        declines < self.max_declines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;
    use serde_json::json;

    fn rules(v: serde_json::Value) -> RecycleRules {
        parse(v).unwrap()
    }

    #[test]
    fn reductions_are_cumulative_and_stop_at_the_minimum() {
        let r = rules(json!({"reattempts": [
            {"wait_days": 2, "reduction": {"type": "percent", "value": "10"}},
            {"wait_days": 3, "reduction": {"type": "skip"}},
            {"wait_days": 4, "reduction": {"type": "flat", "value": 500}},
            {"wait_days": 5, "reduction": {"type": "flat", "value": 500}}
        ], "min_price": 1500}));
        assert_eq!(r.price(2999, 1), 2999, "the scheduled bill is not reduced");
        assert_eq!(
            r.price(2999, 2),
            2699,
            "10 % of 2999 is 299.9, rounded half up to 300"
        );
        assert_eq!(r.price(2999, 3), 2699, "skip keeps the price");
        assert_eq!(r.price(2999, 4), 2199);
        assert_eq!(r.price(2999, 5), 1699);
        assert_eq!(r.price(2999, 9), 1699, "past the list: the last price");
        let low = rules(
            json!({"reattempts": [{"wait_days": 1, "reduction": {"type": "flat", "value": 2000}}], "min_price": 1500}),
        );
        assert_eq!(low.price(2999, 2), 1500, "never below min_price");
        assert_eq!(
            low.price(1000, 2),
            1000,
            "a price under the minimum is not raised"
        );
    }

    #[test]
    fn percent_rounds_half_up() {
        let r = rules(
            json!({"reattempts": [{"wait_days": 1, "reduction": {"type": "percent", "value": 12.5}}]}),
        );
        // 12.5 % of 100 = 12.5 → 13 off; of 99 = 12.375 → 12 off.
        assert_eq!((r.price(100, 2), r.price(99, 2)), (87, 87));
    }

    #[test]
    fn waits() {
        let d = RecycleRules::default();
        assert_eq!(
            (
                d.wait_after(1),
                d.wait_after(3),
                d.wait_after(4),
                d.wait_after(0)
            ),
            (Some(3), Some(7), None, None)
        );
        assert_eq!(d.price(2000, 4), 2000);
    }

    #[test]
    fn validation_names_the_field() {
        let e = rules(json!({"reattempts": [{"wait_days": 2}, {"wait_days": 0}]}))
            .validate()
            .unwrap_err();
        assert_eq!(e.param, "reattempts[1].wait_days");
        let e = rules(
            json!({"reattempts": [{"wait_days": 2, "reduction": {"type": "flat", "value": 0}}]}),
        )
        .validate()
        .unwrap_err();
        assert_eq!(e.param, "reattempts[0].reduction.value");
        assert!(parse::<RecycleRules>(
            json!({"reattempts": [{"wait_days": 2, "reduction": {"type": "half"}}]})
        )
        .is_err());
        assert!(parse::<RecycleRules>(json!({"reattempts": [], "min_price": -1})).is_err());
        assert!(parse::<RecycleRules>(
            json!({"reattempts": [{"wait_days": 2, "reduction": {"type": "percent", "value": 101}}]})
        )
        .is_err());
    }

    #[test]
    fn network_limits() {
        let visa = network_limit(Some("Visa")).unwrap();
        assert!(visa.allows(14));
        assert!(!visa.allows(15));
        assert_eq!(visa.since(30 * 86_400_000), 0);
        assert!(network_limit(Some("amex")).is_none());
        assert!(network_limit(None).is_none());
    }
}
