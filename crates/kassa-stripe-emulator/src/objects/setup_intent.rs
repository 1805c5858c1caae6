//! The `setup_intent` and `setup_attempt` objects: saving a card for later use, with 3-D Secure
//! when the issuer asks for it.

use serde_json::{json, Value};

use super::{metadata_json, Frozen, Metadata};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetiStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Canceled,
    Succeeded,
}

impl SetiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SetiStatus::RequiresPaymentMethod => "requires_payment_method",
            SetiStatus::RequiresConfirmation => "requires_confirmation",
            SetiStatus::RequiresAction => "requires_action",
            SetiStatus::Canceled => "canceled",
            SetiStatus::Succeeded => "succeeded",
        }
    }

    /// Statuses in which the intent may still be confirmed, updated or canceled.
    pub fn open(self) -> bool {
        matches!(
            self,
            SetiStatus::RequiresPaymentMethod
                | SetiStatus::RequiresConfirmation
                | SetiStatus::RequiresAction
        )
    }
}

#[derive(Debug, Clone)]
pub struct SetupIntent {
    pub id: String,
    pub created: i64,
    pub client_secret: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub payment_method: Option<String>,
    pub usage: String,
    pub status: SetiStatus,
    pub cancellation_reason: Option<String>,
    pub last_setup_error: Option<Value>,
    pub latest_attempt: Option<String>,
    pub next_action: Option<Value>,
    /// `payment_method_options[card][request_three_d_secure]`.
    pub request_three_d_secure: Option<String>,
    pub return_url: Option<String>,
}

impl SetupIntent {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "setup_intent",
            "application": null,
            "automatic_payment_methods": null,
            "cancellation_reason": self.cancellation_reason,
            "client_secret": self.client_secret,
            "created": self.created,
            "customer": self.customer,
            "customer_account": null,
            "description": self.description,
            "excluded_payment_method_types": null,
            "flow_directions": null,
            "last_setup_error": self.last_setup_error,
            "latest_attempt": self.latest_attempt,
            "livemode": false,
            "mandate": null,
            "metadata": metadata_json(&self.metadata),
            "next_action": self.next_action,
            "on_behalf_of": null,
            "payment_method": self.payment_method,
            "payment_method_configuration_details": null,
            "payment_method_options": { "card": {
                "mandate_options": null,
                "network": null,
                "request_three_d_secure": self.request_three_d_secure.as_deref().unwrap_or("automatic"),
            }},
            "payment_method_types": ["card"],
            "single_use_mandate": null,
            "status": self.status.as_str(),
            "usage": self.usage,
        })
    }
}

/// One confirmation of a SetupIntent (`setatt_…`), with the card details and the 3-D Secure
/// result Stripe reports for it.
#[derive(Debug, Clone)]
pub struct SetupAttempt {
    pub id: String,
    pub created: i64,
    pub setup_intent: String,
    pub customer: Option<String>,
    pub payment_method: String,
    pub usage: String,
    /// `succeeded`, `failed`, `requires_action`, `abandoned`.
    pub status: &'static str,
    pub card: Frozen,
    pub setup_error: Option<Value>,
}

impl SetupAttempt {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "setup_attempt",
            "application": null,
            "attach_to_self": false,
            "created": self.created,
            "customer": self.customer,
            "customer_account": null,
            "flow_directions": null,
            "livemode": false,
            "on_behalf_of": null,
            "payment_method": self.payment_method,
            "payment_method_details": { "card": self.card.value(), "type": "card" },
            "setup_error": self.setup_error,
            "setup_intent": self.setup_intent,
            "status": self.status,
            "usage": self.usage,
        })
    }
}
