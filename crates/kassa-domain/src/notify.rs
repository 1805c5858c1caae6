//! Kassa's own events for clients, and how often an undelivered one is tried again — kept as
//! data, so the schedule can be read, tested and changed in one place.

/// The events a client's notification endpoint may subscribe to (`*` for all).
pub const EVENT_TYPES: &[&str] = &[
    "payment.succeeded",
    "payment.declined",
    "payment.refunded",
    "payment.refund_failed",
    "card.updated",
    "card.detached",
    "chargeback.opened",
    "chargeback.closed",
    "rebill.succeeded",
    "rebill.failed",
    "account.status_changed",
];

/// Seconds to wait before each retry after a failed delivery (the first attempt is at once):
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about a day in all, then the message is failed.
pub const RETRY_SCHEDULE_SECS: &[i64] = &[5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// When to try again after `attempts` failed deliveries, or `None` when it is time to give up.
pub fn next_attempt(now_ms: i64, attempts: usize) -> Option<i64> {
    RETRY_SCHEDULE_SECS
        .get(attempts.saturating_sub(1))
        .map(|s| now_ms + s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule() {
        assert_eq!(next_attempt(0, 1), Some(5_000));
        assert_eq!(next_attempt(0, 2), Some(300_000));
        assert_eq!(next_attempt(0, 7), Some(36_000_000));
        assert_eq!(next_attempt(0, 8), None);
        let total: i64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert!((86_000..100_000).contains(&total), "about a day: {total}");
    }
}
