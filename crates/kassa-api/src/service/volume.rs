//! Monthly caps in the payment flow: reserve before Stripe, settle after, reduce on voids and
//! partial captures, count refunds.

use kassa_storage::PaymentRecord;
use serde_json::{json, Value};

use crate::{ApiError, AppState};

/// The calendar month (UTC) of a Unix-milliseconds time: `2026-11`.
pub fn month_of(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

pub fn this_month() -> String {
    month_of(kassa_storage::now_millis())
}

/// Settles a payment's reservation once its outcome is final: the authorized amount becomes the
/// month's volume, a decline frees it. Nothing while the outcome is still open.
pub async fn settle(state: &AppState, rec: &PaymentRecord) -> Result<(), ApiError> {
    let mut details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    let reserved = details["volume"]["reserved"].as_i64().unwrap_or(0);
    if reserved == 0 {
        return Ok(());
    }
    let gross = match rec.status.as_str() {
        "authorized" | "captured" | "partially_captured" => {
            rec.amount_authorized.max(rec.amount_captured)
        }
        "declined" | "voided" => 0,
        _ => return Ok(()),
    };
    let month = details["volume"]["month"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| month_of(rec.created_at));
    details["volume"] = json!({"month": month, "reserved": 0, "counted": gross});
    state
        .store
        .settle_payment_volume(
            &rec.id,
            &details.to_string(),
            rec.gateway_id,
            &month,
            reserved,
            gross,
        )
        .await?;
    Ok(())
}

/// The month a payment's volume was counted in.
pub fn payment_month(rec: &PaymentRecord) -> String {
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
    details["volume"]["month"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| month_of(rec.created_at))
}

#[cfg(test)]
mod tests {
    #[test]
    fn months() {
        assert_eq!(super::month_of(0), "1970-01");
        assert_eq!(super::month_of(1_796_000_000_000), "2026-11");
    }
}
