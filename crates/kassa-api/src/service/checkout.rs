//! One-click upsells and the fraud-score call (the seed's validate_acct_fraud_scoring).

use serde_json::{json, Map, Value};

use super::payment_ops::{operate, Op};
use super::payments::{self, not_found};
use crate::auth::Auth;
use crate::views::{FraudScoreView, PaymentView};
use crate::{ApiError, AppState};

const SUCCEEDED: [&str; 5] = [
    "authorized",
    "captured",
    "partially_captured",
    "partially_refunded",
    "refunded",
];

/// `POST /v1/payments/{id}/upsell`: a further charge on the card of an earlier successful payment,
/// merchant-initiated, with no new challenge — only where the gateway's `send_upsell_token` is on.
pub async fn upsell(
    state: &AppState,
    auth: &Auth,
    id: &str,
    mut body: Map<String, Value>,
) -> Result<PaymentView, ApiError> {
    let original = state
        .store
        .get_payment(auth.client_no, id)
        .await
        .map_err(not_found)?;
    let gateway =
        super::gateway_ctx::load(state, auth.client_no, original.gateway_id, None).await?;
    if !gateway.settings.send_upsell_token {
        return Err(ApiError::unprocessable(
            None,
            "upsell_disabled",
            format!("gateway {} does not send upsell tokens (send_upsell_token is off): charge the upsell as a new payment, where the shopper may be challenged", original.gateway_id),
        ));
    }
    if !SUCCEEDED.contains(&original.status.as_str()) {
        return Err(ApiError::unprocessable(
            None,
            "payment_not_successful",
            format!(
                "an upsell needs a successful payment; this one is {}",
                original.status
            ),
        ));
    }
    let details: Value = serde_json::from_str(&original.details).unwrap_or(Value::Null);
    let (Some(pm), Some(customer)) = (
        details["payment_method"].as_str(),
        details["customer"].as_str(),
    ) else {
        return Err(ApiError::unprocessable(
            None,
            "card_not_reusable",
            "the earlier payment's card is not on a Stripe customer (an alternate card that was not stored), so it cannot be charged again",
        ));
    };
    for k in [
        "acct_no",
        "token",
        "card",
        "payment_method_no",
        "gateway_id",
        "collection_group_no",
        "recurring_processing_model_ind",
        "attempt_3d_secure",
        "store",
    ] {
        if body.contains_key(k) {
            return Err(ApiError::InvalidRequest {
                param: Some(k.into()),
                code: "parameter_unknown",
                message: format!(
                    "{k}: an upsell uses the earlier payment's account, card and gateway"
                ),
            });
        }
    }
    body.insert("acct_no".into(), json!(original.acct_no));
    body.insert("token".into(), json!(format!("{pm}:{customer}")));
    body.insert("gateway_id".into(), json!(original.gateway_id));
    body.insert("recurring_processing_model_ind".into(), json!(3));
    body.entry("currency")
        .or_insert_with(|| json!(original.currency));
    let metadata = body.entry("metadata").or_insert_with(|| json!({}));
    if let Value::Object(m) = metadata {
        m.insert("kassa_upsell_of".into(), json!(original.id));
    }
    let (view, _) = payments::create(state, auth, body).await?;
    Ok(view)
}

/// `POST /v1/fraud_scores`: Radar's verdict on an account, a card and an amount, through a
/// zero-impact path — an authorization voided at once — with the account's status afterwards.
pub async fn fraud_score(
    state: &AppState,
    auth: &Auth,
    mut body: Map<String, Value>,
) -> Result<FraudScoreView, ApiError> {
    for k in ["capture", "send_fraud_scoring_request", "store"] {
        if body.contains_key(k) {
            return Err(ApiError::InvalidRequest {
                param: Some(k.into()),
                code: "parameter_unknown",
                message: format!("{k}: not taken by a fraud score"),
            });
        }
    }
    body.insert("capture".into(), json!(false));
    body.insert("send_fraud_scoring_request".into(), json!(true));
    // Marks the probe: no autoresponder email is sent for it.
    if matches!(body.get("metadata"), None | Some(Value::Null)) {
        body.insert("metadata".into(), json!({}));
    }
    if let Some(Value::Object(m)) = body.get_mut("metadata") {
        m.insert("kassa_fraud_score".into(), json!("true"));
    }
    let payment_id = match payments::create(state, auth, body).await {
        Ok((view, _)) => view.id,
        Err(ApiError::Card {
            payment_id: Some(id),
            ..
        }) => id,
        Err(e) => return Err(e),
    };
    let mut rec = state
        .store
        .get_payment(auth.client_no, &payment_id)
        .await
        .map_err(not_found)?;
    if matches!(rec.status.as_str(), "authorized" | "requires_action") {
        operate(state, auth, rec.clone(), Op::Void).await?;
        rec = state
            .store
            .get_payment(auth.client_no, &payment_id)
            .await
            .map_err(not_found)?;
    }
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(Value::Null);
    let account = state.store.get_account(auth.client_no, rec.acct_no).await?;
    Ok(FraudScoreView {
        object: "fraud_score",
        payment_id: rec.id.clone(),
        acct_no: rec.acct_no,
        fraud_score: details["fraud"]["fraud_score"].as_i64(),
        fraud_score_result: details["fraud"]["fraud_score_result"]
            .as_str()
            .unwrap_or("Authorized")
            .to_string(),
        risk_level: details["fraud"]["risk_level"].as_str().map(str::to_string),
        account_status: account.status,
        payment_status: rec.status,
    })
}
