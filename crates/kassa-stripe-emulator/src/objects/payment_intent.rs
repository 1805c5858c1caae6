//! The `payment_intent` object.

use serde_json::{json, Map, Value};

use super::{metadata_json, Metadata};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    RequiresCapture,
    Processing,
    Canceled,
    Succeeded,
}

impl PiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PiStatus::RequiresPaymentMethod => "requires_payment_method",
            PiStatus::RequiresConfirmation => "requires_confirmation",
            PiStatus::RequiresAction => "requires_action",
            PiStatus::RequiresCapture => "requires_capture",
            PiStatus::Processing => "processing",
            PiStatus::Canceled => "canceled",
            PiStatus::Succeeded => "succeeded",
        }
    }
}

/// `payment_method_options[card]`.
#[derive(Debug, Clone, Default)]
pub struct CardOptions {
    pub request_three_d_secure: Option<String>,
    pub capture_method: Option<String>,
    pub setup_future_usage: Option<String>,
    pub stored_credential_usage: Option<String>,
    pub setup_credential_usage: Option<String>,
    pub mit_exemption: Option<Value>,
    pub moto: Option<bool>,
    pub network: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PaymentIntent {
    pub id: String,
    pub created: i64,
    pub amount: i64,
    pub amount_capturable: i64,
    pub amount_received: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub capture_method: String,
    pub confirmation_method: String,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    pub client_secret: String,
    pub last_payment_error: Option<Value>,
    pub latest_charge: Option<String>,
    pub metadata: Metadata,
    pub next_action: Option<Value>,
    pub payment_method: Option<String>,
    pub card: CardOptions,
    pub receipt_email: Option<String>,
    pub setup_future_usage: Option<String>,
    pub shipping: Option<Value>,
    pub statement_descriptor_suffix: Option<String>,
    pub status: PiStatus,
    pub review: Option<String>,
    pub amount_details: Option<Value>,
    pub payment_details: Option<Value>,
    pub radar_session: Option<String>,
    // Confirmation context kept for the 3DS leg.
    pub return_url: Option<String>,
    pub off_session: Option<String>,
    pub error_on_requires_action: bool,
    /// The 3DS result to authorize with once `processing` is over.
    pub processing_tds: Option<crate::routes::ThreeDs>,
}

impl PaymentIntent {
    pub fn effective_capture_method(&self) -> &str {
        match self.card.capture_method.as_deref() {
            Some("manual") => "manual",
            _ => &self.capture_method,
        }
    }

    pub fn effective_setup_future_usage(&self) -> Option<&str> {
        match self.card.setup_future_usage.as_deref() {
            Some("none") => None,
            Some(s) => Some(s),
            None => self.setup_future_usage.as_deref(),
        }
    }

    fn card_options_json(&self) -> Value {
        let c = &self.card;
        let mut m = Map::new();
        m.insert("installments".into(), Value::Null);
        m.insert("mandate_options".into(), Value::Null);
        m.insert("network".into(), json!(c.network));
        m.insert(
            "request_three_d_secure".into(),
            json!(c.request_three_d_secure.as_deref().unwrap_or("automatic")),
        );
        let optional = [
            ("capture_method", &c.capture_method),
            ("setup_future_usage", &c.setup_future_usage),
            ("stored_credential_usage", &c.stored_credential_usage),
            ("setup_credential_usage", &c.setup_credential_usage),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let Some(moto) = c.moto {
            m.insert("moto".into(), json!(moto));
        }
        if let Some(mit) = &c.mit_exemption {
            m.insert("mit_exemption".into(), mit.clone());
        }
        Value::Object(m)
    }

    pub fn to_json(&self) -> Value {
        let mut amount_details = self.amount_details.clone().unwrap_or_else(|| json!({}));
        if let Value::Object(m) = &mut amount_details {
            m.entry("tip").or_insert_with(|| json!({}));
        }
        let mut v = json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_details": amount_details,
            "amount_received": self.amount_received,
            "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": null,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": self.confirmation_method,
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "customer_account": null,
            "description": self.description,
            "excluded_payment_method_types": null,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": false,
            "managed_payments": null,
            "metadata": metadata_json(&self.metadata),
            "next_action": self.next_action,
            "on_behalf_of": null,
            "payment_method": self.payment_method,
            "payment_method_configuration_details": null,
            "payment_method_options": { "card": self.card_options_json() },
            "payment_method_types": ["card"],
            "processing": null,
            "receipt_email": self.receipt_email,
            "review": self.review,
            "setup_future_usage": self.setup_future_usage,
            "shipping": self.shipping,
            "source": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": self.statement_descriptor_suffix,
            "status": self.status.as_str(),
            "transfer_data": null,
            "transfer_group": null,
        });
        if let (Some(pd), Value::Object(m)) = (&self.payment_details, &mut v) {
            m.insert("payment_details".into(), pd.clone());
        }
        v
    }
}
