//! Capture, void and refund: the follow-up gateway calls on a payment.

use kassa_domain::payment::{PaymentAmounts, PaymentStatus};
use kassa_storage::{PaymentRecord, PaymentUpdate, StorageError, TransactionRecord, TxnOutcome};
use kassa_stripe::StripeError;
use serde_json::{json, Value};

use super::gateway_ctx::{self, map_stripe_error};
use super::payments::{not_found, view_with};
use crate::auth::Auth;
use crate::views::PaymentView;
use crate::{ApiError, AppState};

fn amounts(rec: &PaymentRecord) -> Result<PaymentAmounts, ApiError> {
    let status: PaymentStatus =
        serde_json::from_value(Value::String(rec.status.clone())).map_err(ApiError::internal)?;
    Ok(PaymentAmounts {
        status,
        authorized: rec.amount_authorized,
        captured: rec.amount_captured,
        refunded: rec.amount_refunded,
    })
}

fn op_error(e: kassa_domain::payment::PaymentOpError) -> ApiError {
    match e.code {
        "payment_unexpected_state" => ApiError::Conflict {
            code: "payment_unexpected_state",
            message: e.message,
        },
        code => ApiError::InvalidRequest {
            param: Some("amount".into()),
            code,
            message: format!("amount: {}", e.message),
        },
    }
}

/// The three follow-up operations on an authorized or captured payment.
pub enum Op {
    Capture { amount: Option<i64> },
    Void,
    Refund { amount: Option<i64> },
}

/// Runs one follow-up operation: checked against the payment's amounts, claimed (so concurrent
/// operations are serialized), sent with the transaction's id as idempotency key, finished.
pub async fn operate(
    state: &AppState,
    auth: &Auth,
    mut rec: PaymentRecord,
    op: Op,
) -> Result<PaymentView, ApiError> {
    if let Some(busy) = rec.busy_txn.clone() {
        // An earlier call whose answer was lost (not one still running: those are younger than
        // the wait) is settled with Stripe first.
        let txn = state.store.get_transaction(auth.client_no, &busy).await?;
        let policy = super::reconcile::Policy {
            min_age_ms: 10_000,
            ..super::reconcile::Policy::default()
        };
        let now = kassa_storage::now_millis();
        if txn.status == "pending" && now - txn.created_at >= policy.min_age_ms {
            super::reconcile::reconcile_one(state, &txn, now, policy).await?;
            rec = state
                .store
                .get_payment(auth.client_no, &rec.id)
                .await
                .map_err(not_found)?;
        }
        if rec.busy_txn.is_some() {
            return Err(ApiError::Conflict {
                code: "payment_busy",
                message: "an earlier operation on this payment has not finished (or its outcome at Stripe is not known yet); retry shortly".into(),
            });
        }
    }
    let before = amounts(&rec)?;
    let (kind, after, amount) = match &op {
        Op::Capture { amount } => {
            let a = before.capture(*amount).map_err(op_error)?;
            ("capture", a, a.captured)
        }
        Op::Void => (
            "void",
            before.void().map_err(op_error)?,
            rec.amount_authorized,
        ),
        Op::Refund { amount } => {
            let a = before.refund(*amount).map_err(op_error)?;
            ("refund", a, a.refunded - before.refunded)
        }
    };
    let pi = rec
        .processor_payment_id
        .clone()
        .ok_or_else(|| ApiError::Conflict {
            code: "payment_unexpected_state",
            message: "the payment has no PaymentIntent at Stripe".into(),
        })?;
    let gw = gateway_ctx::load(state, auth.client_no, rec.gateway_id, None).await?;
    let txn_id = kassa_secrets::new_id("txn_")?;
    let txn = TransactionRecord {
        id: txn_id.clone(),
        payment_id: rec.id.clone(),
        client_no: auth.client_no,
        kind: kind.into(),
        amount,
        ..Default::default()
    };
    state
        .store
        .claim_payment(auth.client_no, &rec.id, rec.version, &txn)
        .await
        .map_err(not_found)?;
    let opts = gw.options(Some(txn_id.clone()));
    let meta = vec![
        ("kassa_payment".to_string(), rec.id.clone()),
        ("kassa_txn".to_string(), txn_id.clone()),
    ];
    let answer: Result<Option<String>, StripeError> = if gw.legacy {
        // Stripe V1: the payment is a charge; releasing an uncaptured one is a refund of it.
        match op {
            Op::Capture { amount } => gw
                .client
                .capture_charge(&pi, amount, &opts)
                .await
                .map(|c| Some(c.id)),
            Op::Void => gw
                .client
                .refund_charge(&pi, None, &meta, &opts)
                .await
                .map(|r| Some(r.id)),
            Op::Refund { .. } => gw
                .client
                .refund_charge(&pi, Some(amount), &meta, &opts)
                .await
                .map(|r| Some(r.id)),
        }
    } else {
        match op {
            Op::Capture { amount } => gw
                .client
                .capture_payment_intent(&pi, amount, None, &opts)
                .await
                .map(|p| Some(p.id)),
            Op::Void => gw
                .client
                .cancel_payment_intent(&pi, Some("requested_by_customer"), &opts)
                .await
                .map(|p| Some(p.id)),
            Op::Refund { .. } => gw
                .client
                .create_refund(&pi, Some(amount), &meta, &opts)
                .await
                .map(|r| Some(r.id)),
        }
    };
    let mut update = PaymentUpdate {
        status: rec.status.clone(),
        amount_authorized: rec.amount_authorized,
        amount_captured: rec.amount_captured,
        amount_refunded: rec.amount_refunded,
        details: rec.details.clone(),
        ..PaymentUpdate::default()
    };
    let (outcome, failure) = match answer {
        Ok(processor_id) => {
            update.status = after.status.as_str().into();
            update.amount_captured = after.captured;
            update.amount_refunded = after.refunded;
            (
                TxnOutcome {
                    status: "succeeded".into(),
                    processor_id,
                    error: None,
                },
                None,
            )
        }
        Err(e) if !e.outcome_unknown() => {
            let err = map_stripe_error(e);
            let body = serde_json::to_string(&err.body()).ok();
            (
                TxnOutcome {
                    status: "failed".into(),
                    processor_id: None,
                    error: body,
                },
                Some(err),
            )
        }
        Err(e) => {
            update.status = PaymentStatus::Pending.as_str().into();
            (
                TxnOutcome {
                    status: "pending".into(),
                    processor_id: None,
                    error: Some(json!({"unknown": e.to_string()}).to_string()),
                },
                None,
            )
        }
    };
    // The answer shows the payment's history: read in the same flight as the finish.
    let (finished, history) = state
        .store
        .finish_transaction_with_history(auth.client_no, &rec.id, &txn_id, &outcome, &update)
        .await?;
    if let Some(e) = failure {
        return Err(e);
    }
    if outcome.status == "succeeded" {
        // Volume that no longer stands, and refunds, for monthly caps and reports.
        let month = super::volume::payment_month(&finished);
        match kind {
            "void" => {
                state
                    .store
                    .reduce_volume(finished.gateway_id, &month, rec.amount_authorized)
                    .await?
            }
            "capture" if finished.amount_captured < rec.amount_authorized => {
                state
                    .store
                    .reduce_volume(
                        finished.gateway_id,
                        &month,
                        rec.amount_authorized - finished.amount_captured,
                    )
                    .await?
            }
            "refund" => {
                state
                    .store
                    .add_refund_volume(finished.gateway_id, &super::volume::this_month(), amount)
                    .await?
            }
            _ => {}
        }
    }
    let v = view_with(&finished, Some(history));
    if kind == "refund" && outcome.status == "succeeded" {
        let data = serde_json::to_value(&v).unwrap_or(Value::Null);
        super::notifications::notify(state, auth.client_no, "payment.refunded", data).await;
        let mut ev =
            super::email_events::Event::new(kassa_domain::email::Kind::Refund, txn_id.clone());
        ev.refund_amount = Some(amount);
        super::email_events::enqueue(state, &finished, ev).await;
    }
    Ok(v)
}

pub async fn operate_by_id(
    state: &AppState,
    auth: &Auth,
    id: &str,
    op: Op,
) -> Result<PaymentView, ApiError> {
    let rec = state
        .store
        .get_payment(auth.client_no, id)
        .await
        .map_err(not_found)?;
    operate(state, auth, rec, op).await
}

pub async fn void_by_auth_no(
    state: &AppState,
    auth: &Auth,
    auth_no: &str,
) -> Result<PaymentView, ApiError> {
    let rec = state
        .store
        .find_payment_by_auth_no(auth.client_no, auth_no)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => ApiError::NotFound("authorization"),
            other => other.into(),
        })?;
    operate(state, auth, rec, Op::Void).await
}
