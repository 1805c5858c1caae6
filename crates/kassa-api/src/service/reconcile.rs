//! The reconciler: finishes gateway calls whose answer was lost (a timeout, a crash between the
//! call and the write) by asking Stripe what happened — by the PaymentIntent id when Kassa knows
//! it, else by the metadata Kassa put on it. It never sends a payment again under a new key.

use kassa_storage::{PaymentRecord, PaymentUpdate, StorageError, TransactionRecord, TxnOutcome};
use kassa_stripe::objects::PaymentIntent;
use kassa_stripe::StripeError;
use serde_json::{json, Value};

use super::gateway_ctx::{self, GatewayCtx};
use super::payments::authorize_outcome;
use crate::{ApiError, AppState};

/// How the reconciler waits and decides.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// A transaction younger than this may still be answered by its own request.
    pub min_age_ms: i64,
    /// An authorization Stripe has no PaymentIntent for after this long never reached Stripe
    /// (Stripe's search index lags by up to a minute, so this is generous).
    pub not_found_after_ms: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_age_ms: 60_000,
            not_found_after_ms: 10 * 60_000,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub resolved: usize,
    pub still_unknown: usize,
}

/// The status a payment had before a capture, void or refund whose outcome was lost.
fn settled_status(rec: &PaymentRecord) -> &'static str {
    if rec.amount_captured == 0 {
        "authorized"
    } else if rec.amount_refunded == 0 {
        if rec.amount_captured == rec.amount_authorized {
            "captured"
        } else {
            "partially_captured"
        }
    } else if rec.amount_refunded == rec.amount_captured {
        "refunded"
    } else {
        "partially_refunded"
    }
}

async fn find_intent(
    gw: &GatewayCtx,
    rec: &PaymentRecord,
    txn: &TransactionRecord,
) -> Result<Option<PaymentIntent>, StripeError> {
    if let Some(pi) = &rec.processor_payment_id {
        return gw
            .client
            .retrieve_payment_intent(pi, &gw.options(None))
            .await
            .map(Some);
    }
    let found = gw
        .client
        .search_payment_intents("kassa_txn", &txn.id, &gw.options(None))
        .await?;
    match found.data.into_iter().next() {
        // Search results do not expand the charge; fetch it whole.
        Some(pi) => gw
            .client
            .retrieve_payment_intent(&pi.id, &gw.options(None))
            .await
            .map(Some),
        None => Ok(None),
    }
}

pub(crate) async fn reconcile_one(
    state: &AppState,
    txn: &TransactionRecord,
    now: i64,
    policy: Policy,
) -> Result<bool, ApiError> {
    let rec = match state
        .store
        .get_payment(txn.client_no, &txn.payment_id)
        .await
    {
        Ok(r) => r,
        Err(StorageError::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if rec.busy_txn.as_deref() != Some(txn.id.as_str()) {
        return Ok(false);
    }
    let gw = gateway_ctx::load(state, rec.client_no, rec.gateway_id, None).await?;
    if gw.legacy {
        return reconcile_legacy(state, &gw, &rec, txn, now, policy).await;
    }
    let found = match find_intent(&gw, &rec, txn).await {
        Ok(f) => f,
        // Stripe cannot be asked right now: try again on the next pass.
        Err(e) => {
            tracing::warn!(txn = %txn.id, error = %e, "reconciler: Stripe did not answer");
            return Ok(false);
        }
    };
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    let (update, outcome) = match (txn.kind.as_str(), found) {
        ("authorize", Some(pi)) => {
            let card_ntid = match rec.pm_no {
                Some(no) => state
                    .store
                    .get_payment_method(rec.client_no, rec.acct_no, no)
                    .await
                    .ok()
                    .and_then(|p| p.initial_txn_id),
                None => None,
            };
            let (u, o, _) = authorize_outcome(&rec, Ok(pi), details, card_ntid);
            (u, o)
        }
        ("authorize", None) if now - txn.created_at >= policy.not_found_after_ms => {
            let mut details = details;
            details["decline"] = json!({"code": "not_processed", "decline_code": null, "advice": null, "class": "soft",
                "message": "The request never reached Stripe (no PaymentIntent carries this attempt); nothing was charged."});
            (
                PaymentUpdate {
                    status: "declined".into(),
                    details: details.to_string(),
                    ..PaymentUpdate::default()
                },
                TxnOutcome {
                    status: "failed".into(),
                    processor_id: None,
                    error: Some(json!({"reconciled": "not found at Stripe"}).to_string()),
                },
            )
        }
        ("authorize", None) => return Ok(false),
        (kind, Some(pi)) => {
            let charge = pi.charge();
            let mut u = PaymentUpdate {
                status: settled_status(&rec).into(),
                amount_authorized: rec.amount_authorized,
                amount_captured: rec.amount_captured,
                amount_refunded: rec.amount_refunded,
                details: details.to_string(),
                ..PaymentUpdate::default()
            };
            let done = match kind {
                "capture" if pi.status == "succeeded" => {
                    u.amount_captured = pi.amount_received;
                    u.status = if pi.amount_received == rec.amount_authorized {
                        "captured"
                    } else {
                        "partially_captured"
                    }
                    .into();
                    true
                }
                "void" if pi.status == "canceled" => {
                    u.status = "voided".into();
                    true
                }
                "refund" => match charge {
                    Some(c) if c.amount_refunded >= rec.amount_refunded + txn.amount => {
                        u.amount_refunded = c.amount_refunded.min(rec.amount_captured);
                        u.status = if u.amount_refunded == rec.amount_captured {
                            "refunded"
                        } else {
                            "partially_refunded"
                        }
                        .into();
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            let outcome = if done {
                TxnOutcome {
                    status: "succeeded".into(),
                    processor_id: Some(pi.id.clone()),
                    error: None,
                }
            } else {
                TxnOutcome {
                    status: "failed".into(),
                    processor_id: Some(pi.id.clone()),
                    error: Some(json!({"reconciled": "not applied at Stripe"}).to_string()),
                }
            };
            (u, outcome)
        }
        (_, None) => return Ok(false),
    };
    let finished = state
        .store
        .finish_transaction(rec.client_no, &rec.id, &txn.id, &outcome, &update)
        .await?;
    super::volume::settle(state, &finished).await?;
    tracing::info!(payment = %rec.id, txn = %txn.id, kind = %txn.kind, status = %update.status, "reconciled");
    Ok(true)
}

/// A Stripe V1 (legacy) payment: the same questions asked of its charge.
async fn reconcile_legacy(
    state: &AppState,
    gw: &GatewayCtx,
    rec: &PaymentRecord,
    txn: &TransactionRecord,
    now: i64,
    policy: Policy,
) -> Result<bool, ApiError> {
    let charge = match &rec.processor_payment_id {
        Some(ch) => gw
            .client
            .retrieve_charge(ch, &gw.options(None))
            .await
            .map(Some),
        None => gw
            .client
            .search_charges("kassa_txn", &txn.id, &gw.options(None))
            .await
            .map(|l| l.data.into_iter().next()),
    };
    let charge = match charge {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(txn = %txn.id, error = %e, "reconciler: Stripe did not answer");
            return Ok(false);
        }
    };
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    let (update, outcome) = match (txn.kind.as_str(), charge) {
        ("authorize", Some(ch)) => {
            let (u, o, _) = super::legacy::charge_outcome(rec, Ok(ch), details);
            (u, o)
        }
        ("authorize", None) if now - txn.created_at >= policy.not_found_after_ms => {
            let mut details = details;
            details["decline"] = json!({"code": "not_processed", "decline_code": null, "advice": null, "class": "soft",
                "message": "The request never reached Stripe (no charge carries this attempt); nothing was charged."});
            (
                PaymentUpdate {
                    status: "declined".into(),
                    details: details.to_string(),
                    ..PaymentUpdate::default()
                },
                TxnOutcome {
                    status: "failed".into(),
                    processor_id: None,
                    error: Some(json!({"reconciled": "not found at Stripe"}).to_string()),
                },
            )
        }
        (_, None) => return Ok(false),
        (kind, Some(ch)) => {
            let mut u = PaymentUpdate {
                status: settled_status(rec).into(),
                amount_authorized: rec.amount_authorized,
                amount_captured: rec.amount_captured,
                amount_refunded: rec.amount_refunded,
                details: details.to_string(),
                ..PaymentUpdate::default()
            };
            let done = match kind {
                "capture" if ch.captured => {
                    u.amount_captured = ch.amount_captured;
                    u.status = if ch.amount_captured >= rec.amount_authorized {
                        "captured"
                    } else {
                        "partially_captured"
                    }
                    .into();
                    true
                }
                "void" if !ch.captured && ch.amount_refunded >= rec.amount_authorized => {
                    u.status = "voided".into();
                    true
                }
                "refund" if ch.amount_refunded >= rec.amount_refunded + txn.amount => {
                    u.amount_refunded = ch.amount_refunded.min(rec.amount_captured);
                    u.status = if u.amount_refunded >= rec.amount_captured {
                        "refunded"
                    } else {
                        "partially_refunded"
                    }
                    .into();
                    true
                }
                _ => false,
            };
            let status = if done { "succeeded" } else { "failed" };
            (
                u,
                TxnOutcome {
                    status: status.into(),
                    processor_id: Some(ch.id.clone()),
                    error: (!done)
                        .then(|| json!({"reconciled": "not applied at Stripe"}).to_string()),
                },
            )
        }
    };
    let finished = state
        .store
        .finish_transaction(rec.client_no, &rec.id, &txn.id, &outcome, &update)
        .await?;
    super::volume::settle(state, &finished).await?;
    Ok(true)
}

/// One pass over the pending gateway calls.
pub async fn run_once(state: &AppState, policy: Policy) -> Result<Report, ApiError> {
    let now = kassa_storage::now_millis();
    let pending = state
        .store
        .pending_transactions(now - policy.min_age_ms, 200)
        .await?;
    let mut report = Report::default();
    for txn in &pending {
        match reconcile_one(state, txn, now, policy).await {
            Ok(true) => report.resolved += 1,
            Ok(false) => report.still_unknown += 1,
            Err(e) => {
                tracing::warn!(txn = %txn.id, error = %e, "reconciler: could not resolve");
                report.still_unknown += 1;
            }
        }
    }
    Ok(report)
}

/// Runs the reconciler every `every` while the server runs.
pub async fn run_forever(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = run_once(&state, Policy::default()).await {
            tracing::warn!(error = %e, "reconciler pass failed");
        }
    }
}
