//! Queuing autoresponder emails when a payment, an order, a rebill or a refund ends.
//!
//! Who emails the customer is `kassa_domain::email::kassa_sends`: decline notices always come
//! from Kassa; receipts only when Stripe was not given `receipt_email` for the payment (the gateway
//! has `disable_email_receipt` or `disable_email`). A few reads and one insert, never a network
//! call: a failure is logged and never fails the payment. The outbox's unique key on the event
//! (kind and payment or refund id) keeps one event from being emailed twice.

use kassa_domain::billing_account::AccountProfile;
use kassa_domain::email::{self, Kind, Template, Values};
use kassa_domain::gateway::GatewaySettings;
use kassa_domain::money::Currency;
use kassa_storage::{OutboxRecord, PaymentRecord};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::{ApiError, AppState};

/// What happened, beyond the payment itself.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: Kind,
    /// The event's own id: the payment's, or a refund's transaction.
    pub source_ref: String,
    pub order_id: Option<String>,
    pub cycle: Option<i64>,
    pub next_bill_at: Option<i64>,
    pub refund_amount: Option<i64>,
}

impl Event {
    pub fn new(kind: Kind, source_ref: impl Into<String>) -> Event {
        Event {
            kind,
            source_ref: source_ref.into(),
            order_id: None,
            cycle: None,
            next_bill_at: None,
            refund_amount: None,
        }
    }

    /// The confirmation or the decline notice a finished payment calls for, if any.
    pub fn for_outcome(rec: &PaymentRecord) -> Option<Event> {
        let kind = match rec.status.as_str() {
            "authorized" | "captured" => Kind::OrderConfirmation,
            "declined" => Kind::DeclineNotice,
            _ => return None,
        };
        Some(Event::new(kind, rec.id.clone()))
    }
}

/// The email a payment made through `POST /v1/payments` (or an upsell) calls for. Orders and
/// rebills — marked by Kassa's own metadata — are emailed where they finish, with their order and
/// cycle; a fraud-score probe (voided at once) is not emailed at all.
pub fn for_new_payment(metadata: &BTreeMap<String, String>, rec: &PaymentRecord) -> Option<Event> {
    if metadata.contains_key("kassa_purchase") || metadata.contains_key("kassa_fraud_score") {
        return None;
    }
    let upsell = metadata.contains_key("kassa_upsell_of");
    if metadata.contains_key("kassa_order") && !upsell {
        return None;
    }
    let mut ev = Event::for_outcome(rec)?;
    ev.order_id = metadata.get("kassa_order").cloned();
    Some(ev)
}

/// Queues the email for `event` about payment `rec`, if the rule and the template say so.
pub async fn enqueue(state: &AppState, rec: &PaymentRecord, event: Event) {
    match try_enqueue(state, rec, &event).await {
        Ok(Some(id)) => {
            tracing::debug!(payment_id = %rec.id, kind = event.kind.as_str(), outbox_id = id, "queued an email")
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(payment_id = %rec.id, kind = event.kind.as_str(), error = %e, "could not queue an email")
        }
    }
}

async fn gateway_settings(
    state: &AppState,
    rec: &PaymentRecord,
) -> Result<GatewaySettings, ApiError> {
    let gw = state
        .store
        .get_gateway(rec.client_no, rec.gateway_id)
        .await?;
    serde_json::from_str(&gw.settings).map_err(ApiError::internal)
}

/// The outbox row's id when one was queued.
async fn try_enqueue(
    state: &AppState,
    rec: &PaymentRecord,
    event: &Event,
) -> Result<Option<i64>, ApiError> {
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
    // The gateway's settings, read only when needed (most payments answer the first question
    // from their own details).
    let mut settings: Option<GatewaySettings> = None;
    // What was sent to Stripe with this payment decides; older payments follow the gateway.
    let stripe_sent = match details["stripe_receipt"].as_bool() {
        Some(sent) => sent,
        None => email::stripe_sends_receipt(settings.insert(gateway_settings(state, rec).await?)),
    };
    if !email::kassa_sends(event.kind, stripe_sent) {
        return Ok(None);
    }
    let template = match state
        .store
        .get_email_template(rec.client_no, event.kind.as_str())
        .await?
    {
        Some(t) => Template {
            subject: t.subject,
            body: t.body,
            enabled: t.enabled,
        },
        None => Template::default_for(event.kind),
    };
    if !template.enabled {
        return Ok(None);
    }
    let account = state.store.get_account(rec.client_no, rec.acct_no).await?;
    let profile: AccountProfile =
        serde_json::from_str(&account.profile).map_err(ApiError::internal)?;
    let Some(to) = profile
        .email
        .clone()
        .filter(|e| kassa_domain::text::check_email(e).is_ok())
    else {
        tracing::debug!(payment_id = %rec.id, kind = event.kind.as_str(), "no email: the customer has no email address");
        return Ok(None);
    };
    let settings = match settings {
        Some(s) => s,
        None => gateway_settings(state, rec).await?,
    };
    let mut values = values(rec, &details, &settings, &profile, event);
    if values.get("card_last4").is_empty() {
        if let Some(pm_no) = rec.pm_no {
            if let Ok(pm) = state
                .store
                .get_payment_method(rec.client_no, rec.acct_no, pm_no)
                .await
            {
                values.set("card_brand", brand(pm.brand.as_deref().unwrap_or("")));
                values.set("card_last4", pm.last4.unwrap_or_default());
            }
        }
    }
    let rendered = email::render(&template, &values);
    let now = kassa_storage::now_millis();
    let row = OutboxRecord {
        client_no: rec.client_no,
        kind: event.kind.as_str().into(),
        source_ref: event.source_ref.clone(),
        payment_id: Some(rec.id.clone()),
        acct_no: Some(rec.acct_no),
        to_address: to,
        reply_to: settings.customer_service.email.clone(),
        subject: rendered.subject,
        body: rendered.body,
        expires_at: now + email::EXPIRES_AFTER_SECS * 1000,
        ..Default::default()
    };
    Ok(state.store.enqueue_email(&row).await?)
}

/// A card brand as Stripe names it, as a customer reads it.
fn brand(b: &str) -> String {
    match b {
        "visa" => "Visa".into(),
        "mastercard" => "Mastercard".into(),
        "amex" => "American Express".into(),
        "discover" => "Discover".into(),
        "jcb" => "JCB".into(),
        "diners" => "Diners Club".into(),
        "unionpay" => "UnionPay".into(),
        other => other.to_string(),
    }
}

fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|d| d.date().to_string())
        .unwrap_or_default()
}

/// Every token's value for this email.
fn values(
    rec: &PaymentRecord,
    details: &Value,
    s: &GatewaySettings,
    p: &AccountProfile,
    event: &Event,
) -> Values {
    let currency = Currency::parse(&rec.currency).unwrap_or(Currency::USD);
    let mut v = Values::default();
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    v.set("first_name", opt(&p.first_name))
        .set("last_name", opt(&p.last_name))
        .set("customer_name", p.display_name().unwrap_or_default())
        .set("customer_email", opt(&p.email))
        .set(
            "order_id",
            event.order_id.clone().unwrap_or_else(|| rec.id.clone()),
        )
        .set("payment_id", rec.id.clone())
        .set("amount", email::format_amount(rec.amount, currency))
        .set("currency", currency.as_str().to_ascii_uppercase())
        .set(
            "descriptor",
            s.descriptor
                .clone()
                .or_else(|| rec.descriptor.clone())
                .unwrap_or_default(),
        )
        .set("cs_phone", opt(&s.customer_service.phone))
        .set("cs_email", opt(&s.customer_service.email))
        .set("cs_url", opt(&s.customer_service.url))
        .set("date", date(kassa_storage::now_millis()));
    if let Some(names) = details["products"].as_array() {
        let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        v.set("products", names.join(", "));
    }
    if let Some(b) = details["card"]["brand"].as_str() {
        v.set("card_brand", brand(b));
    }
    if let Some(l) = details["card"]["last4"].as_str() {
        v.set("card_last4", l);
    }
    if let Some(m) = details["decline"]["message"].as_str() {
        v.set("decline_reason", m);
    }
    if let Some(r) = event.refund_amount {
        v.set("refund_amount", email::format_amount(r, currency));
    }
    if let Some(c) = event.cycle {
        v.set("cycle", c.to_string());
    }
    if let Some(n) = event.next_bill_at {
        v.set("next_bill_date", date(n));
    }
    v
}
