//! The `dispute` object (`dp_…`).

use serde_json::{json, Value};

use super::{metadata_json, Metadata};

#[derive(Debug, Clone)]
pub struct Dispute {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: Option<String>,
    pub reason: String,
    pub status: String,
    /// `inquiry` or `chargeback`.
    pub case_type: &'static str,
    pub brand: String,
    pub due_by: i64,
    pub metadata: Metadata,
    /// Evidence fields sent with `POST /v1/disputes/{id}`.
    pub evidence: Metadata,
    pub submission_count: i64,
}

/// Visa-style network reason codes for a dispute reason.
fn network_reason_code(reason: &str) -> &'static str {
    match reason {
        "fraudulent" => "10.4",
        "product_not_received" => "13.1",
        "duplicate" => "12.6.1",
        "credit_not_processed" => "13.6",
        "subscription_canceled" => "13.2",
        "product_unacceptable" => "13.3",
        _ => "13.7",
    }
}

/// The evidence fields of a dispute (all strings or file ids).
pub const EVIDENCE_FIELDS: &[&str] = &[
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
];

impl Dispute {
    pub fn closed(&self) -> bool {
        matches!(
            self.status.as_str(),
            "won" | "lost" | "warning_closed" | "prevented"
        )
    }

    pub fn to_json(&self) -> Value {
        let mut evidence: serde_json::Map<String, Value> = EVIDENCE_FIELDS
            .iter()
            .map(|k| (k.to_string(), Value::Null))
            .collect();
        for (k, v) in &self.evidence {
            evidence.insert(k.clone(), json!(v));
        }
        evidence.insert("enhanced_evidence".into(), json!({}));
        let code = network_reason_code(&self.reason);
        json!({
            "id": self.id,
            "object": "dispute",
            "amount": self.amount,
            "balance_transactions": [],
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "enhanced_eligibility_types": [],
            "evidence": evidence,
            "evidence_details": {
                "due_by": self.due_by,
                "enhanced_eligibility": {},
                "has_evidence": !self.evidence.is_empty(),
                "past_due": false,
                "submission_count": self.submission_count,
            },
            "is_charge_refundable": self.case_type == "inquiry",
            "livemode": false,
            "metadata": metadata_json(&self.metadata),
            "network_reason_code": code,
            "payment_intent": self.payment_intent,
            "payment_method_details": {
                "card": {
                    "brand": self.brand,
                    "case_type": self.case_type,
                    "network_reason_code": code,
                },
                "type": "card",
            },
            "reason": self.reason,
            "status": self.status,
        })
    }
}
