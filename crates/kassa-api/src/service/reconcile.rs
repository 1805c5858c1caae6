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
    let found = if gw.legacy {
        legacy_decision(&gw, &rec, txn, now, policy).await
    } else {
        intent_decision(state, &gw, &rec, txn, now, policy).await
    };
    // `None`: Stripe could not be asked, or has nothing to say yet; try again on the next pass.
    let Some((update, outcome)) = found else {
        return Ok(false);
    };
    let finished = state
        .store
        .finish_transaction(rec.client_no, &rec.id, &txn.id, &outcome, &update)
        .await?;
    super::volume::settle(state, &finished).await?;
    tracing::info!(payment = %rec.id, txn = %txn.id, kind = %txn.kind, status = %update.status, "reconciled");
    Ok(true)
}

type Decision = Option<(PaymentUpdate, TxnOutcome)>;

fn stripe_silent(txn: &TransactionRecord, e: &StripeError) -> Decision {
    tracing::warn!(txn = %txn.id, error = %e, "reconciler: Stripe did not answer");
    None
}

/// An authorization Stripe has no trace of, after `not_found_after_ms`: it never arrived.
fn not_processed(
    txn: &TransactionRecord,
    details: Value,
    object: &str,
    now: i64,
    policy: Policy,
) -> Decision {
    if now - txn.created_at < policy.not_found_after_ms {
        return None;
    }
    let mut details = details;
    details["decline"] = json!({"code": "not_processed", "decline_code": null, "advice": null, "class": "soft",
        "message": format!("The request never reached Stripe (no {object} carries this attempt); nothing was charged.")});
    Some((
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
    ))
}

/// What Stripe shows after a capture, void or refund whose answer was lost.
struct Seen {
    /// The amount captured, once the payment is captured.
    captured: Option<i64>,
    /// The authorization was released.
    voided: bool,
    /// The amount refunded so far.
    refunded: Option<i64>,
    processor_id: String,
}

/// Settles a capture, void or refund from what Stripe shows: done, or not applied at Stripe.
fn follow_up(
    rec: &PaymentRecord,
    txn: &TransactionRecord,
    details: &Value,
    seen: Seen,
) -> Decision {
    let mut u = PaymentUpdate {
        status: settled_status(rec).into(),
        amount_authorized: rec.amount_authorized,
        amount_captured: rec.amount_captured,
        amount_refunded: rec.amount_refunded,
        details: details.to_string(),
        ..PaymentUpdate::default()
    };
    let done = match (txn.kind.as_str(), seen.captured, seen.refunded) {
        ("capture", Some(captured), _) => {
            u.amount_captured = captured;
            u.status = if captured >= rec.amount_authorized {
                "captured"
            } else {
                "partially_captured"
            }
            .into();
            true
        }
        ("void", _, _) if seen.voided => {
            u.status = "voided".into();
            true
        }
        ("refund", _, Some(refunded)) if refunded >= rec.amount_refunded + txn.amount => {
            u.amount_refunded = refunded.min(rec.amount_captured);
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
    Some((
        u,
        TxnOutcome {
            status: if done { "succeeded" } else { "failed" }.into(),
            processor_id: Some(seen.processor_id),
            error: (!done).then(|| json!({"reconciled": "not applied at Stripe"}).to_string()),
        },
    ))
}

/// A Stripe V2 payment: the questions asked of its PaymentIntent.
async fn intent_decision(
    state: &AppState,
    gw: &GatewayCtx,
    rec: &PaymentRecord,
    txn: &TransactionRecord,
    now: i64,
    policy: Policy,
) -> Decision {
    let found = match find_intent(gw, rec, txn).await {
        Ok(f) => f,
        Err(e) => return stripe_silent(txn, &e),
    };
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    match (txn.kind.as_str(), found) {
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
            let (u, o, _) = authorize_outcome(rec, Ok(pi), details, card_ntid);
            // Stripe has not decided yet (`processing`): ask again on the next pass.
            (o.status != "pending").then_some((u, o))
        }
        ("authorize", None) => not_processed(txn, details, "PaymentIntent", now, policy),
        (_, Some(pi)) => {
            let seen = Seen {
                captured: (pi.status == "succeeded").then_some(pi.amount_received),
                voided: pi.status == "canceled",
                refunded: pi.charge().map(|c| c.amount_refunded),
                processor_id: pi.id.clone(),
            };
            follow_up(rec, txn, &details, seen)
        }
        (_, None) => None,
    }
}

/// A Stripe V1 (legacy) payment: the same questions asked of its charge.
async fn legacy_decision(
    gw: &GatewayCtx,
    rec: &PaymentRecord,
    txn: &TransactionRecord,
    now: i64,
    policy: Policy,
) -> Decision {
    let opts = gw.options(None);
    let charge = match &rec.processor_payment_id {
        Some(ch) => gw.client.retrieve_charge(ch, &opts).await.map(Some),
        None => gw
            .client
            .search_charges("kassa_txn", &txn.id, &opts)
            .await
            .map(|l| l.data.into_iter().next()),
    };
    let charge = match charge {
        Ok(c) => c,
        Err(e) => return stripe_silent(txn, &e),
    };
    let details: Value = serde_json::from_str(&rec.details).unwrap_or(json!({}));
    match (txn.kind.as_str(), charge) {
        ("authorize", Some(ch)) => {
            let (u, o, _) = super::legacy::charge_outcome(rec, Ok(ch), details);
            Some((u, o))
        }
        ("authorize", None) => not_processed(txn, details, "charge", now, policy),
        (_, Some(ch)) => {
            let seen = Seen {
                captured: ch.captured.then_some(ch.amount_captured),
                voided: !ch.captured && ch.amount_refunded >= rec.amount_authorized,
                refunded: Some(ch.amount_refunded),
                processor_id: ch.id.clone(),
            };
            follow_up(rec, txn, &details, seen)
        }
        (_, None) => None,
    }
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
