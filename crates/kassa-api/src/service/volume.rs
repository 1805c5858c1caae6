//! Monthly caps in the payment flow: reserve before Stripe, settle after, reduce on voids and
//! partial captures, count refunds.

use kassa_storage::{PaymentRecord, PaymentUpdate, VolumeSettle};
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

/// How a payment's reservation settles once its outcome is final: the authorized amount becomes
/// the month's volume, a decline frees it; with the details document that records it. `None`
/// while the outcome is still open, or when nothing is reserved.
fn settlement(
    details: &str,
    status: &str,
    amount: i64,
    gateway_id: i64,
    created_at: i64,
) -> Option<(String, VolumeSettle)> {
    let mut details: Value = serde_json::from_str(details).unwrap_or(json!({}));
    let reserved = details["volume"]["reserved"].as_i64().unwrap_or(0);
    if reserved == 0 {
        return None;
    }
    let gross = match status {
        "authorized" | "captured" | "partially_captured" => amount,
        "declined" | "voided" => 0,
        _ => return None,
    };
    let month = details["volume"]["month"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| month_of(created_at));
    details["volume"] = json!({"month": month, "reserved": 0, "counted": gross});
    Some((
        details.to_string(),
        VolumeSettle {
            gateway_id,
            month,
            released: reserved,
            gross,
        },
    ))
}

/// Settles a payment's reservation once its outcome is final (see [`settlement`]).
pub async fn settle(state: &AppState, rec: &PaymentRecord) -> Result<(), ApiError> {
    let amount = rec.amount_authorized.max(rec.amount_captured);
    let Some((details, s)) = settlement(
        &rec.details,
        &rec.status,
        amount,
        rec.gateway_id,
        rec.created_at,
    ) else {
        return Ok(());
    };
    state
        .store
        .settle_payment_volume(
            &rec.id,
            &details,
            s.gateway_id,
            &s.month,
            s.released,
            s.gross,
        )
        .await?;
    Ok(())
}

/// The same settlement made by the update that writes the payment's outcome, in its transaction.
pub fn settle_with(update: &mut PaymentUpdate, gateway_id: i64, created_at: i64) {
    let amount = update.amount_authorized.max(update.amount_captured);
    if let Some((details, s)) = settlement(
        &update.details,
        &update.status,
        amount,
        gateway_id,
        created_at,
    ) {
        update.details = details;
        update.settle = Some(s);
    }
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
