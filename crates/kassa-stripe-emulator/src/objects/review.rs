//! The `review` object (`prv_…`): a payment Radar placed in the manual review queue.

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Review {
    pub id: String,
    pub created: i64,
    pub charge: String,
    pub payment_intent: Option<String>,
    pub open: bool,
    /// `rule` (a Radar rule) or `manual`.
    pub opened_reason: &'static str,
    /// While open, `rule`/`manual`; once closed, the closing reason.
    pub reason: String,
    /// `approved`, `refunded`, `refunded_as_fraud`, `disputed`, `redacted`, `canceled`.
    pub closed_reason: Option<String>,
}

impl Review {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "review",
            "billing_zip": null,
            "charge": self.charge,
            "closed_reason": self.closed_reason,
            "created": self.created,
            "ip_address": null,
            "ip_address_location": null,
            "livemode": false,
            "open": self.open,
            "opened_reason": self.opened_reason,
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "session": null,
        })
    }
}
