//! The `payment_method` object (type `card`).

use serde_json::{json, Value};

use super::{metadata_json, Frozen, Metadata};
use crate::cards::{Behavior, TestCard};

#[derive(Debug, Clone)]
pub struct PaymentMethod {
    pub id: String,
    pub created: i64,
    pub customer: Option<String>,
    /// The card number (kept in memory only; never rendered).
    pub pan: String,
    pub brand: &'static str,
    pub funding: &'static str,
    pub country: &'static str,
    pub exp_month: i64,
    pub exp_year: i64,
    pub fingerprint: String,
    pub cvc_provided: bool,
    /// Created from a `pm_card_*` / `tok_*` test token.
    pub from_token: bool,
    pub billing_details: Frozen,
    pub metadata: Metadata,
    pub allow_redisplay: String,
    pub test: Option<&'static TestCard>,
    /// Set up for future off-session use (a succeeded payment with setup_future_usage).
    pub setup_off_session: bool,
    /// The PaymentIntent that used this PaymentMethod while it was not attached.
    pub consumed_by: Option<String>,
}

fn billing_has(bd: &Value, key: &str) -> bool {
    bd.get("address")
        .and_then(|a| a.get(key))
        .is_some_and(|v| !v.is_null())
}

impl PaymentMethod {
    pub fn last4(&self) -> &str {
        let n = self.pan.len();
        self.pan.get(n.saturating_sub(4)..).unwrap_or_default()
    }

    pub fn behavior(&self) -> Behavior {
        self.test.map_or(Behavior::Success, |t| t.behavior)
    }

    /// `checks` as Stripe reports them for this card.
    pub fn checks(&self) -> Value {
        let ov = self.test.map(|t| t.checks).unwrap_or_default();
        let billing = self.billing_details.value();
        let cvc = if self.cvc_provided {
            Some(ov.cvc.unwrap_or("pass"))
        } else {
            None
        };
        let line1 = if billing_has(&billing, "line1") {
            Some(ov.line1.unwrap_or("pass"))
        } else if self.from_token {
            ov.line1
        } else {
            None
        };
        let zip = if billing_has(&billing, "postal_code") {
            Some(ov.zip.unwrap_or("pass"))
        } else if self.from_token {
            ov.zip
        } else {
            None
        };
        json!({
            "address_line1_check": line1,
            "address_postal_code_check": zip,
            "cvc_check": cvc,
        })
    }

    pub fn three_d_secure_supported(&self) -> bool {
        self.brand != "amex"
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "payment_method",
            "allow_redisplay": self.allow_redisplay,
            "billing_details": self.billing_details.value(),
            "card": {
                "brand": self.brand,
                "checks": self.checks(),
                "country": self.country,
                "display_brand": self.brand,
                "exp_month": self.exp_month,
                "exp_year": self.exp_year,
                "fingerprint": self.fingerprint,
                "funding": self.funding,
                "generated_from": null,
                "last4": self.last4(),
                "networks": { "available": [self.brand], "preferred": null },
                "regulated_status": "unregulated",
                "three_d_secure_usage": { "supported": self.three_d_secure_supported() },
                "wallet": null,
            },
            "created": self.created,
            "customer": self.customer,
            "customer_account": null,
            "livemode": false,
            "metadata": metadata_json(&self.metadata),
            "type": "card",
        })
    }
}
