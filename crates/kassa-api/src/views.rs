//! What the API returns: one view per object, secrets only in redacted form.

use kassa_domain::gateway::{GatewaySettings, GatewayStatus, GatewayType};
use kassa_domain::group::{FraudOverrides, ThreeDsOverrides};
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 3339 in UTC for a Unix-milliseconds time.
pub fn timestamp(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A page of a list, newest first.
#[derive(Serialize, ToSchema)]
pub struct ListView<T> {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<T>,
    /// Whether another page follows: pass the last id as `starting_after` to get it.
    pub has_more: bool,
}

impl<T> ListView<T> {
    pub fn new(data: Vec<T>, has_more: bool) -> Self {
        ListView {
            object: "list",
            data,
            has_more,
        }
    }
}

/// A gateway account.
#[derive(Serialize, ToSchema, Clone)]
pub struct GatewayView {
    /// Always `gateway`.
    pub object: &'static str,
    pub id: i64,
    #[serde(rename = "type")]
    pub gateway_type: GatewayType,
    pub status: GatewayStatus,
    /// The secret key, redacted (`sk_test_…4242`).
    pub secret_key: Option<String>,
    /// The webhook signing secrets, redacted.
    pub webhook_secrets: Vec<String>,
    #[serde(flatten)]
    pub settings: GatewaySettings,
    pub created_at: String,
    pub updated_at: String,
}

/// A collection group.
#[derive(Serialize, ToSchema, Clone)]
pub struct GroupView {
    /// Always `collection_group`.
    pub object: &'static str,
    pub group_no: i64,
    pub status: GatewayStatus,
    pub name: String,
    pub client_group_id: Option<String>,
    pub gateway_id: i64,
    pub soft_descriptor: Option<String>,
    pub fraud: FraudOverrides,
    pub three_ds: ThreeDsOverrides,
    /// The group's own webhook signing secrets, redacted (empty: the gateway's are used).
    pub webhook_secrets: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One recorded change to a gateway or a collection group.
#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    /// Always `audit_event`.
    pub object: &'static str,
    pub id: i64,
    /// Who: `api_key:kassa_sk_…abcd`, or `cli`.
    pub actor: String,
    pub request_id: Option<String>,
    /// `gateway` or `collection_group`.
    pub object_type: String,
    pub object_id: String,
    /// `create`, `update`, `duplicate`, `archive`.
    pub action: String,
    /// Changed fields as `{"path": {"from": …, "to": …}}`; secrets redacted.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    pub created_at: String,
}

/// A billing account.
#[derive(Serialize, ToSchema, Clone)]
pub struct AccountView {
    /// Always `account`.
    pub object: &'static str,
    pub acct_no: i64,
    pub status: kassa_domain::account::AccountStatus,
    #[serde(flatten)]
    pub profile: kassa_domain::billing_account::AccountProfile,
    pub created_at: String,
    pub updated_at: String,
}

/// One change of an account's status, and why.
#[derive(Serialize, ToSchema)]
pub struct StatusHistoryView {
    /// Always `account_status_change`.
    pub object: &'static str,
    pub id: i64,
    pub from_status: Option<String>,
    pub to_status: String,
    /// `created`, `api`, or the fraud result that caused it.
    pub reason: String,
    /// The payment that caused the change, if one did.
    pub payment_id: Option<String>,
    pub actor: String,
    pub created_at: String,
}

/// A stored payment method: a tokenized card (the billing platform's pay method 13) or a bank account.
#[derive(Serialize, ToSchema, Clone)]
pub struct PaymentMethodView {
    /// Always `payment_method`.
    pub object: &'static str,
    pub payment_method_no: i64,
    pub acct_no: i64,
    /// The gateway whose Stripe account holds the card.
    pub gateway_id: Option<i64>,
    /// `card` or `bank_account`.
    pub kind: String,
    /// 13 for a tokenized card, 2 for a bank account (electronic check).
    pub pay_method_type: i64,
    /// `active`, `detached`, or for a card being saved with 3-D Secure `setup_pending`,
    /// `requires_action`, `authentication_failed` (none of these three can be charged).
    pub status: String,
    /// `payment_method_id:customer_id`.
    pub token: Option<String>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub fingerprint: Option<String>,
    pub funding: Option<String>,
    /// The network transaction id of the card's first customer-initiated authorization.
    pub initial_txn_id: Option<String>,
    /// Bank accounts: `individual` or `company`.
    pub holder_type: Option<String>,
    pub holder_name: Option<String>,
    /// Cards saved with `attempt_3d_secure`: `outcome` (`authenticated`, `not_performed`,
    /// `challenge_required`, `failed`, `pending`), `version`, `authentication_flow`, `result`.
    #[schema(value_type = Option<Object>)]
    pub three_ds: Option<serde_json::Value>,
    /// While `status` is `requires_action`: where to send the shopper for the challenge.
    pub redirect_issuer_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A payment and, on `GET /v1/payments/{id}`, every gateway call made for it.
#[derive(Serialize, ToSchema, Clone)]
pub struct PaymentView {
    /// Always `payment`.
    pub object: &'static str,
    pub id: String,
    /// `pending`, `requires_action`, `authorized`, `captured`, `partially_captured`, `voided`,
    /// `refunded`, `partially_refunded`, `declined`.
    pub status: String,
    pub acct_no: i64,
    pub gateway_id: i64,
    pub payment_method_no: Option<i64>,
    pub currency: String,
    pub amount: i64,
    pub amount_authorized: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    /// 0, 1 customer-initiated; 2, 3 merchant-initiated.
    pub recurring_processing_model_ind: i64,
    /// The Stripe PaymentIntent.
    pub processor_payment_id: Option<String>,
    /// The authorization (Stripe charge) id; `void` accepts it too.
    pub auth_no: Option<String>,
    /// The network transaction id of the card's first customer-initiated authorization.
    pub initial_auth_txn_id: Option<String>,
    /// The statement descriptor suffix sent.
    pub descriptor: Option<String>,
    /// On a decline: `code`, `decline_code`, `advice`, `message`, `class` (hard or soft).
    #[schema(value_type = Option<Object>)]
    pub decline: Option<serde_json::Value>,
    /// Stripe's Radar outcome of the charge.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<serde_json::Value>,
    /// The card as Stripe reported it: `brand`, `last4`.
    #[schema(value_type = Option<Object>)]
    pub card: Option<serde_json::Value>,
    /// For `requires_action`: where the shopper authenticates.
    pub redirect_issuer_url: Option<String>,
    /// Radar's risk score (0–99), when fraud scoring is on.
    pub fraud_score: Option<i64>,
    pub risk_level: Option<String>,
    /// `Authorized`, `Manual_Review` or `Blocked`, when fraud scoring is on.
    pub fraud_score_result: Option<String>,
    /// 3-D Secure: `version`, `authentication_flow` (frictionless / challenge), `result`.
    #[schema(value_type = Option<Object>)]
    pub three_ds: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Vec<TransactionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chargebacks: Option<Vec<ChargebackView>>,
    pub created_at: String,
    pub updated_at: String,
}

/// One call to the gateway for a payment.
#[derive(Serialize, ToSchema, Clone)]
pub struct TransactionView {
    pub id: String,
    /// `authorize`, `capture`, `void`, `refund`.
    pub kind: String,
    pub amount: i64,
    /// `pending` (answer not known yet), `succeeded`, `failed`.
    pub status: String,
    pub processor_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub error: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// Radar's verdict from `POST /v1/fraud_scores`.
#[derive(Serialize, ToSchema)]
pub struct FraudScoreView {
    /// Always `fraud_score`.
    pub object: &'static str,
    /// The zero-amount-impact authorization made (and voided) to get the verdict.
    pub payment_id: String,
    pub acct_no: i64,
    /// Radar's risk score (0–99), when Stripe gives one.
    pub fraud_score: Option<i64>,
    /// `Authorized`, `Manual_Review` or `Blocked` (the seed's `proc_fraud_score_result`).
    pub fraud_score_result: String,
    pub risk_level: Option<String>,
    /// The account's status after the fraud settings were applied.
    pub account_status: String,
    /// `voided` after a successful check, `declined` when Radar blocked it.
    pub payment_status: String,
}

/// A Stripe event as Kassa received it, and what it did.
#[derive(Serialize, ToSchema)]
pub struct WebhookEventView {
    /// Always `webhook_event`.
    pub object: &'static str,
    pub id: i64,
    /// Stripe's `evt_…` (for a rejected delivery, an id of Kassa's).
    pub event_id: String,
    pub event_type: String,
    /// The connected account the event is for.
    pub account: Option<String>,
    /// The collection group of the URL it came to.
    pub group_no: Option<i64>,
    /// The gateway whose secret verified it.
    pub gateway_id: Option<i64>,
    /// How it was verified, or why it was rejected.
    pub verification: String,
    /// `received`, `applying`, `applied`, `ignored`, `failed`, `rejected`.
    pub status: String,
    pub attempts: i64,
    /// What it changed.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    /// The event's own `created` (Unix seconds).
    pub event_created: i64,
    pub received_at: String,
    pub applied_at: Option<String>,
}

/// A change to a stored card (the account updater, or an update at Stripe): old and new values.
#[derive(Serialize, ToSchema)]
pub struct CardChangeView {
    /// Always `payment_method_change`.
    pub object: &'static str,
    /// `{"from": {…}, "to": {…}, "previous_attributes": {…}, "event_type": …}`.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
    /// The Stripe event (`evt_…`) it came from.
    pub source: String,
    pub created_at: String,
}

/// A chargeback on a payment, from Stripe's dispute events.
#[derive(Serialize, ToSchema, Clone)]
pub struct ChargebackView {
    pub dispute_id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    /// Unix seconds.
    pub evidence_due_by: Option<i64>,
    /// The gateway's `chargeback_fee`.
    pub fee: i64,
    /// `won` or `lost` once closed.
    pub outcome: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A client's endpoint for Kassa's own events.
#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    /// Always `notification_endpoint`.
    pub object: &'static str,
    pub id: i64,
    pub url: String,
    /// Event types, or `*` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    /// `active`, `disabled` or `deleted`.
    pub status: String,
    /// The signing secret (`whsec_…`, Standard Webhooks): only in the answer that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One queued notification and how its delivery went.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` it is sent with.
    pub id: String,
    pub event_type: String,
    /// `pending`, `sending`, `delivered`, `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::timestamp(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
