//! Saving a card with 3-D Secure (the seed's update_payment_method with `attempt_3d_secure`): a
//! Stripe SetupIntent for off-session use, in the same three steps as a payment. The card is
//! stored first as `setup_pending` (never chargeable), then becomes `active` (frictionless, not
//! enrolled, or challenge passed), `requires_action` (the shopper must complete the challenge at
//! `redirect_issuer_url`), or `authentication_failed`. A declined setup stores nothing. An unknown
//! outcome leaves it `setup_pending`; `authorize_3ds` then repeats the call under the same
//! idempotency key, so Stripe answers with the original result instead of doing it twice.

use kassa_domain::group::Overrides;
use kassa_domain::settings;
use kassa_storage::{AccountRecord, PaymentMethodRecord, StorageError};
use kassa_stripe::objects::SetupIntent;
use serde_json::{json, Value};

use super::gateway_ctx::{self, map_stripe_error, GatewayCtx};
use super::payment_methods::{card_record, create_card_at_stripe, ensure_customer, CheckedCard};
use crate::auth::Auth;
use crate::views::PaymentMethodView;
use crate::{ApiError, AppState};

/// A card waiting for its SetupIntent's answer.
pub const PENDING: &str = "setup_pending";
/// Waiting for the shopper's challenge.
pub const REQUIRES_ACTION: &str = "requires_action";
/// The challenge failed (or the issuer refused after it): never charged.
pub const FAILED: &str = "authentication_failed";

fn three_ds(rec: &PaymentMethodRecord) -> Value {
    rec.three_ds
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| json!({}))
}

fn return_url(state: &AppState, setup_ref: &str) -> String {
    format!(
        "{}/3ds/return/setup/{setup_ref}",
        state.config.public_url.trim_end_matches('/')
    )
}

/// The SetupIntent call of a card record: the same parameters and idempotency key every time.
async fn call_stripe(
    state: &AppState,
    gw: &GatewayCtx,
    rec: &PaymentMethodRecord,
) -> Result<SetupIntent, kassa_stripe::StripeError> {
    let token = rec.token.as_deref().unwrap_or_default();
    let (pm, customer) = token.split_once(':').unwrap_or((token, ""));
    let setup_ref = rec.setup_ref.as_deref().unwrap_or_default();
    let metadata = vec![
        ("kassa_pm_no".to_string(), rec.pm_no.to_string()),
        ("kassa_acct_no".to_string(), rec.acct_no.to_string()),
    ];
    gw.client
        .create_setup_intent(
            customer,
            pm,
            true,
            Some(&return_url(state, setup_ref)),
            &metadata,
            &gw.options(Some(format!("kassa-seti-{setup_ref}"))),
        )
        .await
}

/// Records what Stripe said of the SetupIntent; returns the record as settled (or as another
/// request settled it first).
async fn apply(
    state: &AppState,
    rec: &PaymentMethodRecord,
    si: &SetupIntent,
) -> Result<PaymentMethodRecord, ApiError> {
    let mut tds = three_ds(rec);
    let status = match si.status.as_str() {
        "succeeded" => "active",
        "requires_action" => REQUIRES_ACTION,
        "requires_payment_method" | "canceled" => FAILED,
        _ => PENDING,
    };
    if let Some(url) = si.redirect_url() {
        tds["redirect_issuer_url"] = json!(url);
    }
    if let Some(r) = si.three_d_secure() {
        tds["version"] = json!(r.version);
        tds["authentication_flow"] = json!(r.authentication_flow);
        tds["result"] = json!(r.result);
        tds["result_reason"] = json!(r.result_reason);
    }
    tds["outcome"] = json!(match (status, si.three_d_secure().is_some()) {
        ("active", true) => "authenticated",
        ("active", false) => "not_performed",
        (REQUIRES_ACTION, _) => "challenge_required",
        (FAILED, _) => "failed",
        _ => "pending",
    });
    if status == FAILED {
        if let Some(e) = &si.last_setup_error {
            tds["error"] =
                json!({"code": e.code, "decline_code": e.decline_code, "message": e.message});
        }
    }
    if status == rec.status && Some(&si.id) == rec.setup_intent_id.as_ref() {
        return Ok(rec.clone());
    }
    match state
        .store
        .settle_card_setup(
            rec.pm_no,
            rec.version,
            status,
            Some(&si.id),
            &tds.to_string(),
        )
        .await
    {
        Ok(r) => Ok(r),
        Err(StorageError::Stale) => Ok(state
            .store
            .get_payment_method(rec.client_no, rec.acct_no, rec.pm_no)
            .await?),
        Err(e) => Err(e.into()),
    }
}

/// Step 1: stores the card (not yet chargeable) and asks Stripe to set it up with 3-D Secure.
pub async fn save(
    state: &AppState,
    gw: &GatewayCtx,
    account: &AccountRecord,
    card: &CheckedCard,
) -> Result<PaymentMethodRecord, ApiError> {
    let group = gw.group_overrides()?;
    let effective = settings::resolve(&Overrides::default(), group.as_ref(), &gw.settings)?;
    // The seed: without a termination URL the 3-D Secure transaction cannot complete.
    let Some(termination_url) = effective.termination_url else {
        return Err(ApiError::InvalidRequest {
            param: Some("three_ds.termination_url".into()),
            code: "parameter_missing",
            message: "three_ds.termination_url: 3-D Secure needs the merchant page the shopper returns to; set it on the collection group or the gateway".into(),
        });
    };
    let customer = ensure_customer(state, gw, account).await?;
    let pm = create_card_at_stripe(gw, card, account).await?;
    let mut rec = card_record(account, gw.record.id, &pm, &customer);
    rec.status = PENDING.into();
    rec.setup_ref = Some(kassa_secrets::new_id("pmset_")?);
    rec.three_ds = Some(json!({"termination_url": termination_url}).to_string());
    let rec = state.store.insert_payment_method(&rec).await?;
    match call_stripe(state, gw, &rec).await {
        Ok(si) => apply(state, &rec, &si).await,
        Err(e) if e.outcome_unknown() => {
            tracing::warn!(pm_no = rec.pm_no, error = %e, "card setup outcome unknown; authorize_3ds settles it");
            Err(map_stripe_error(e))
        }
        Err(e) => {
            state.store.delete_unsaved_card(rec.pm_no).await?;
            Err(map_stripe_error(e))
        }
    }
}

/// Asks Stripe where a card's setup stands and records it.
async fn refresh(
    state: &AppState,
    rec: &PaymentMethodRecord,
) -> Result<PaymentMethodRecord, ApiError> {
    if !matches!(rec.status.as_str(), PENDING | REQUIRES_ACTION) {
        return Ok(rec.clone());
    }
    let gw = gateway_ctx::load(
        state,
        rec.client_no,
        rec.gateway_id.unwrap_or_default(),
        None,
    )
    .await?;
    let si = match &rec.setup_intent_id {
        Some(id) => gw.client.retrieve_setup_intent(id, &gw.options(None)).await,
        None => call_stripe(state, &gw, rec).await,
    };
    match si {
        Ok(si) => apply(state, rec, &si).await,
        Err(e) if e.outcome_unknown() || rec.setup_intent_id.is_some() => Err(map_stripe_error(e)),
        Err(e) => {
            state.store.delete_unsaved_card(rec.pm_no).await?;
            Err(map_stripe_error(e))
        }
    }
}

/// A `setup_intent.*` event from Stripe: the card it names (metadata `kassa_acct_no`,
/// `kassa_pm_no`, and the same SetupIntent) is settled from a fresh read of the SetupIntent, not
/// from the event, which may be old or out of order.
pub async fn settle_from_event(
    state: &AppState,
    client_no: i64,
    object: &Value,
) -> Result<(&'static str, Value), ApiError> {
    let meta = &object["metadata"];
    let number = |k: &str| meta[k].as_str().and_then(|s| s.parse::<i64>().ok());
    let (Some(acct_no), Some(pm_no)) = (number("kassa_acct_no"), number("kassa_pm_no")) else {
        return Ok(("ignored", json!({"note": "not a card Kassa is saving"})));
    };
    let rec = match state
        .store
        .get_payment_method(client_no, acct_no, pm_no)
        .await
    {
        Ok(r) => r,
        Err(StorageError::NotFound) => {
            return Ok(("ignored", json!({"note": "no such payment method"})))
        }
        Err(e) => return Err(e.into()),
    };
    let seti = object["id"].as_str();
    if rec.setup_ref.is_none()
        || (rec.setup_intent_id.is_some() && rec.setup_intent_id.as_deref() != seti)
    {
        return Ok(("ignored", json!({"note": "another SetupIntent"})));
    }
    let settled = refresh(state, &rec).await?;
    Ok((
        "applied",
        json!({"payment_method_no": settled.pm_no, "status": settled.status}),
    ))
}

/// Step 2: `GET /3ds/return/setup/{setup_ref}` — Stripe sends the shopper's browser here after
/// the challenge. Records the result; returns the termination URL to send them on to, with the
/// account, the payment method and the outcome in the query.
pub async fn returned(state: &AppState, setup_ref: &str) -> Result<String, ApiError> {
    let rec = state
        .store
        .get_payment_method_by_setup_ref(setup_ref)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("payment method"),
            other => other.into(),
        })?;
    let termination = three_ds(&rec)["termination_url"]
        .as_str()
        .map(str::to_string)
        .ok_or(ApiError::NotFound("payment method"))?;
    let outcome = match refresh(state, &rec).await {
        Ok(r) => match r.status.as_str() {
            "active" => "authenticated",
            REQUIRES_ACTION => "incomplete",
            FAILED => "failed",
            _ => "unknown",
        },
        Err(_) => "unknown",
    };
    let sep = if termination.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{termination}{sep}acct_no={}&payment_method_no={}&three_ds={outcome}",
        rec.acct_no, rec.pm_no
    ))
}

/// Step 3: `POST /v1/accounts/{acct_no}/payment_methods/{pm_no}/authorize_3ds` — finishes the
/// setup: the card is active, or the answer says why not.
pub async fn authorize(
    state: &AppState,
    auth: &Auth,
    acct_no: i64,
    pm_no: i64,
) -> Result<PaymentMethodView, ApiError> {
    let rec = state
        .store
        .get_payment_method(auth.client_no, acct_no, pm_no)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("payment method"),
            other => other.into(),
        })?;
    if rec.setup_ref.is_none() {
        return Err(ApiError::Conflict {
            code: "payment_method_unexpected_state",
            message: format!("payment method {pm_no} was not saved with 3-D Secure"),
        });
    }
    let rec = refresh(state, &rec).await?;
    match rec.status.as_str() {
        REQUIRES_ACTION => Err(ApiError::Conflict {
            code: "authentication_incomplete",
            message: "the shopper has not completed the 3-D Secure challenge yet; send them to redirect_issuer_url".into(),
        }),
        PENDING => Err(ApiError::Gateway {
            code: "gateway_error",
            message: "Stripe has not answered for this card's setup yet; try again".into(),
        }),
        FAILED => {
            let e = &three_ds(&rec)["error"];
            Err(ApiError::Card {
                code: e["code"]
                    .as_str()
                    .unwrap_or("authentication_failed")
                    .to_string(),
                decline_code: e["decline_code"].as_str().map(str::to_string),
                message: e["message"]
                    .as_str()
                    .unwrap_or("3-D Secure authentication failed; the card was not saved for payments")
                    .to_string(),
                payment_id: None,
            })
        }
        _ => Ok(super::payment_methods::view(&rec)),
    }
}
