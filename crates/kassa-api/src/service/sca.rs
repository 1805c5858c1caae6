//! 3-D Secure in the seed's three steps: the payment asks for it (`attempt_3d_secure`), the
//! shopper authenticates at the issuer and Stripe sends them to Kassa's return endpoint, which
//! records the result and sends them on to the merchant's termination page; then
//! `authorize_3ds` finishes the payment.

use kassa_storage::{PaymentRecord, StorageError, TransactionRecord, TxnOutcome};
use serde_json::{json, Value};

use super::gateway_ctx;
use super::payments::{apply_fraud, authorize_outcome, not_found, view};
use crate::auth::Auth;
use crate::views::PaymentView;
use crate::{ApiError, AppState};

/// Where the shopper goes after the challenge: the termination URL with the payment's id and the
/// challenge's outcome in the query.
pub fn termination_redirect(termination_url: &str, payment_id: &str, outcome: &str) -> String {
    let sep = if termination_url.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{termination_url}{sep}payment_id={payment_id}&three_ds={outcome}")
}

/// `GET /3ds/return/{payment_id}`: Stripe sends the shopper's browser here after the challenge.
/// Returns the URL to redirect them to.
pub async fn returned(state: &AppState, payment_id: &str) -> Result<String, ApiError> {
    let rec = state
        .store
        .get_payment_by_id(payment_id)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("payment"),
            other => other.into(),
        })?;
    let mut details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    let termination = details["termination_url"]
        .as_str()
        .map(str::to_string)
        .ok_or(ApiError::NotFound("payment"))?;
    let outcome = match &rec.processor_payment_id {
        Some(pi) if rec.status == "requires_action" => {
            let gw = gateway_ctx::load(state, rec.client_no, rec.gateway_id, None).await?;
            match gw
                .client
                .retrieve_payment_intent(pi, &gw.options(None))
                .await
            {
                Ok(pi) => match pi.status.as_str() {
                    "requires_capture" | "succeeded" | "processing" => "authenticated",
                    "requires_action" => "incomplete",
                    _ => "failed",
                },
                Err(_) => "unknown",
            }
        }
        _ => "unknown",
    };
    details["three_ds_return"] = json!({"outcome": outcome, "at": kassa_storage::now_millis()});
    state
        .store
        .set_payment_details(&rec.id, &details.to_string())
        .await?;
    Ok(termination_redirect(&termination, &rec.id, outcome))
}

/// `POST /v1/payments/{id}/authorize_3ds`: finishes a payment after its challenge.
pub async fn authorize(state: &AppState, auth: &Auth, id: &str) -> Result<PaymentView, ApiError> {
    let rec = state
        .store
        .get_payment(auth.client_no, id)
        .await
        .map_err(not_found)?;
    if rec.status != "requires_action" {
        if matches!(rec.status.as_str(), "authorized" | "captured" | "declined") {
            return view(state, &rec, true).await;
        }
        return Err(ApiError::Conflict {
            code: "payment_unexpected_state",
            message: format!("the payment is {}, not waiting for 3-D Secure", rec.status),
        });
    }
    let pi = rec.processor_payment_id.clone().ok_or_else(|| {
        ApiError::internal("a payment waiting for 3-D Secure without a PaymentIntent")
    })?;
    let gw = gateway_ctx::load(state, auth.client_no, rec.gateway_id, None).await?;
    let txn_id = kassa_secrets::new_id("txn_")?;
    let txn = TransactionRecord {
        id: txn_id.clone(),
        payment_id: rec.id.clone(),
        client_no: auth.client_no,
        kind: "authenticate".into(),
        amount: rec.amount,
        ..Default::default()
    };
    state
        .store
        .claim_payment(auth.client_no, &rec.id, rec.version, &txn)
        .await
        .map_err(not_found)?;
    let answer = gw
        .client
        .retrieve_payment_intent(&pi, &gw.options(None))
        .await;
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    let still_waiting = matches!(&answer, Ok(p) if p.status == "requires_action");
    let (update, outcome, card_error) = if still_waiting {
        let update = kassa_storage::PaymentUpdate {
            status: rec.status.clone(),
            details: rec.details.clone(),
            ..Default::default()
        };
        (
            update,
            TxnOutcome {
                status: "failed".into(),
                processor_id: Some(pi.clone()),
                error: Some(
                    json!({"message": "the shopper has not completed the challenge"}).to_string(),
                ),
            },
            None,
        )
    } else {
        let card = card_ntid(state, &rec).await;
        authorize_outcome(&rec, answer, details, card)
    };
    let finished = state
        .store
        .finish_transaction(auth.client_no, &rec.id, &txn_id, &outcome, &update)
        .await?;
    if still_waiting {
        return Err(ApiError::Conflict {
            code: "authentication_incomplete",
            message: "the shopper has not completed the 3-D Secure challenge yet; send them to redirect_issuer_url".into(),
        });
    }
    super::volume::settle(state, &finished).await?;
    apply_fraud(state, auth, &finished).await?;
    super::payments::notify_outcome(state, auth.client_no, &view(state, &finished, false).await?)
        .await;
    if let Some(mut ev) = super::email_events::Event::for_outcome(&finished) {
        ev.order_id = state
            .store
            .order_id_for_payment(auth.client_no, &finished.id)
            .await
            .ok()
            .flatten();
        super::email_events::enqueue(state, &finished, ev).await;
    }
    if let Some(ApiError::Card {
        code,
        decline_code,
        message,
        ..
    }) = card_error
    {
        return Err(ApiError::Card {
            code,
            decline_code,
            message,
            payment_id: Some(finished.id.clone()),
        });
    }
    view(state, &finished, true).await
}

async fn card_ntid(state: &AppState, rec: &PaymentRecord) -> Option<String> {
    let no = rec.pm_no?;
    state
        .store
        .get_payment_method(rec.client_no, rec.acct_no, no)
        .await
        .ok()?
        .initial_txn_id
}
