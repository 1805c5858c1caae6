//! The parts of Stripe's objects Kassa reads. Unknown fields are ignored, so newer API versions
//! do not break parsing; every field Kassa relies on is named here.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CardDetails {
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub funding: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub card: Option<CardDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub network_status: Option<String>,
    #[serde(default)]
    pub risk_level: Option<String>,
    #[serde(default)]
    pub risk_score: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub seller_message: Option<String>,
    #[serde(default)]
    pub advice_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ThreeDSecureDetails {
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub result_reason: Option<String>,
    #[serde(default)]
    pub authentication_flow: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChargeCard {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub network_transaction_id: Option<String>,
    #[serde(default)]
    pub three_d_secure: Option<ThreeDSecureDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethodDetails {
    #[serde(default)]
    pub card: Option<ChargeCard>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_captured: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    #[serde(default)]
    pub captured: bool,
    #[serde(default)]
    pub paid: bool,
    pub status: String,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub payment_method_details: Option<PaymentMethodDetails>,
    #[serde(default)]
    pub calculated_statement_descriptor: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub failure_message: Option<String>,
}

impl Charge {
    pub fn network_transaction_id(&self) -> Option<&str> {
        self.payment_method_details
            .as_ref()?
            .card
            .as_ref()?
            .network_transaction_id
            .as_deref()
    }
}

/// `latest_charge` is an id, or the Charge itself when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ChargeRef {
    Expanded(Box<Charge>),
    Id(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedirectToUrl {
    pub url: String,
    #[serde(default)]
    pub return_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NextAction {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub redirect_to_url: Option<RedirectToUrl>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastPaymentError {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub advice_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_capturable: i64,
    #[serde(default)]
    pub amount_received: i64,
    pub currency: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub latest_charge: Option<ChargeRef>,
    #[serde(default)]
    pub next_action: Option<NextAction>,
    #[serde(default)]
    pub last_payment_error: Option<LastPaymentError>,
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    #[serde(default)]
    pub statement_descriptor_suffix: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::HashMap<String, String>,
}

impl PaymentIntent {
    /// The latest charge, when it was expanded.
    pub fn charge(&self) -> Option<&Charge> {
        match &self.latest_charge {
            Some(ChargeRef::Expanded(c)) => Some(c),
            _ => None,
        }
    }

    /// Where to send the shopper for 3-D Secure.
    pub fn redirect_url(&self) -> Option<&str> {
        self.next_action
            .as_ref()?
            .redirect_to_url
            .as_ref()
            .map(|r| r.url.as_str())
    }
}

/// A SetupIntent's attempt (expanded `latest_attempt`): the card details and 3-D Secure result.
#[derive(Debug, Clone, Deserialize)]
pub struct SetupAttempt {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub payment_method_details: Option<PaymentMethodDetails>,
}

/// `latest_attempt` is an id, or the attempt itself when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SetupAttemptRef {
    Expanded(Box<SetupAttempt>),
    Id(String),
}

/// A SetupIntent: saving a card for later payments, with 3-D Secure when the issuer asks.
#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntent {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub usage: Option<String>,
    #[serde(default)]
    pub next_action: Option<NextAction>,
    #[serde(default)]
    pub last_setup_error: Option<LastPaymentError>,
    #[serde(default)]
    pub latest_attempt: Option<SetupAttemptRef>,
}

impl SetupIntent {
    /// Where to send the shopper for 3-D Secure.
    pub fn redirect_url(&self) -> Option<&str> {
        self.next_action
            .as_ref()?
            .redirect_to_url
            .as_ref()
            .map(|r| r.url.as_str())
    }

    /// The 3-D Secure result of the latest attempt, when it was expanded and authenticated.
    pub fn three_d_secure(&self) -> Option<&ThreeDSecureDetails> {
        match &self.latest_attempt {
            Some(SetupAttemptRef::Expanded(a)) => a
                .payment_method_details
                .as_ref()?
                .card
                .as_ref()?
                .three_d_secure
                .as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub status: String,
    #[serde(default)]
    pub charge: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// A webhook endpoint; `secret` only comes back when it is created.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub enabled_events: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripe's own published samples (fixtures3.json) parse into these types.
    #[test]
    fn stripe_fixtures_parse() {
        let Ok(text) = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/stripe/fixtures3.json"
        )) else {
            // The fixtures live beside the repository; a checkout without them skips this check.
            return;
        };
        let all: serde_json::Value = serde_json::from_str(&text).unwrap();
        // The file holds one sample per object type under `resources`.
        let find = |object: &str| all["resources"][object].clone();
        let pi: PaymentIntent = serde_json::from_value(find("payment_intent")).unwrap();
        assert!(pi.id.starts_with("pi_"));
        let ch: Charge = serde_json::from_value(find("charge")).unwrap();
        assert!(ch.id.starts_with("ch_") || ch.id.starts_with("py_"));
        let pm: PaymentMethod = serde_json::from_value(find("payment_method")).unwrap();
        assert!(pm.id.starts_with("pm_") || pm.id.starts_with("card_"));
        let cus: Customer = serde_json::from_value(find("customer")).unwrap();
        assert!(cus.id.starts_with("cus_"));
        let re: Refund = serde_json::from_value(find("refund")).unwrap();
        assert!(re.id.starts_with("re_") || re.id.starts_with("pyr_"));
    }
}
