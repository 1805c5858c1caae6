//! The `charge` and `refund` objects.

use serde_json::{json, Value};

use super::{metadata_json, Frozen, Metadata};

#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub captured: bool,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub outcome: Frozen,
    pub paid: bool,
    /// `succeeded`, `pending` or `failed`.
    pub status: &'static str,
    pub payment_intent: String,
    pub payment_method: String,
    /// `payment_method_details.card`.
    pub card: Frozen,
    pub billing_details: Frozen,
    pub receipt_email: Option<String>,
    pub refunds: Vec<String>,
    pub shipping: Option<Value>,
    pub statement_descriptor_suffix: Option<String>,
    pub calculated_statement_descriptor: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub review: Option<String>,
    /// Refunds on this charge stay `pending` (test card 4000000000007726).
    pub pending_refunds: bool,
    pub disputed: bool,
}

impl Charge {
    pub fn refunded(&self) -> bool {
        let base = if self.captured {
            self.amount_captured
        } else {
            self.amount
        };
        self.amount_refunded > 0 && self.amount_refunded >= base
    }

    pub fn to_json(&self, refunds: Vec<Value>) -> Value {
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": null,
            "billing_details": self.billing_details.value(),
            "calculated_statement_descriptor": self.calculated_statement_descriptor,
            "captured": self.captured,
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "description": self.description,
            "disputed": self.disputed,
            "failure_balance_transaction": null,
            "failure_code": self.failure_code,
            "failure_message": self.failure_message,
            "fraud_details": {},
            "livemode": false,
            "metadata": metadata_json(&self.metadata),
            "on_behalf_of": null,
            "outcome": self.outcome.value(),
            "paid": self.paid,
            "payment_intent": Some(&self.payment_intent).filter(|p| !p.is_empty()),
            "payment_method": self.payment_method,
            "payment_method_details": { "card": self.card.value(), "type": "card" },
            "receipt_email": self.receipt_email,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": self.refunded(),
            "refunds": {
                "object": "list",
                "data": refunds,
                "has_more": false,
                "url": format!("/v1/charges/{}/refunds", self.id),
            },
            "review": self.review,
            "shipping": self.shipping,
            "source": null,
            "source_transfer": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": self.statement_descriptor_suffix,
            "status": self.status,
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub charge: String,
    pub payment_intent: String,
    pub currency: String,
    pub customer: Option<String>,
    pub payment_method: String,
    pub metadata: Metadata,
    pub reason: Option<String>,
    pub status: &'static str,
    /// Why a refund failed (`failed` refunds only).
    pub failure_reason: Option<&'static str>,
}

impl Refund {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "balance_transaction": null,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "customer_account": null,
            "destination_details": { "card": { "type": "reversal" }, "type": "card" },
            "metadata": metadata_json(&self.metadata),
            "payment_intent": Some(&self.payment_intent).filter(|p| !p.is_empty()),
            "payment_method": self.payment_method,
            "reason": self.reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": self.status,
            "transfer_reversal": null,
        });
        if let (Some(reason), Value::Object(m)) = (self.failure_reason, &mut v) {
            m.insert("failure_reason".into(), json!(reason));
        }
        v
    }
}
