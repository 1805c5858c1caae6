//! Disputes: opened by the emulator (control endpoint, or the dispute test cards right after
//! capture), read and answered through `/v1/disputes`, closed by the control endpoint.

use serde_json::Value;

use super::{path_id, Req};
use crate::error::{ApiError, ApiResult};
use crate::form::{Node, Spec};
use crate::ids::{new_id, now};
use crate::objects::{apply_metadata, Dispute, EVIDENCE_FIELDS};
use crate::render;
use crate::state::Account;

/// Stripe's dispute reasons.
pub const REASONS: &[&str] = &[
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
];

/// Days the merchant has to respond.
const RESPONSE_DAYS: i64 = 7;

static OPEN: &[(&str, Spec)] = &[
    ("amount", Spec::Scalar),
    ("inquiry", Spec::Scalar),
    ("reason", Spec::Scalar),
];
static CLOSE: &[(&str, Spec)] = &[("status", Spec::Scalar)];
static UPDATE: &[(&str, Spec)] = &[
    ("evidence", Spec::Dict),
    ("expand", Spec::ScalarList),
    ("metadata", Spec::Dict),
    ("submit", Spec::Scalar),
];
static LIST: &[(&str, Spec)] = &[
    ("charge", Spec::Scalar),
    ("ending_before", Spec::Scalar),
    ("expand", Spec::ScalarList),
    ("limit", Spec::Scalar),
    ("payment_intent", Spec::Scalar),
    ("starting_after", Spec::Scalar),
];
static EXPAND_ONLY: &[(&str, Spec)] = &[("expand", Spec::ScalarList)];

/// Opens a dispute on a succeeded charge; returns its id.
pub fn open(
    acct: &mut Account,
    charge: &str,
    reason: &str,
    amount: Option<i64>,
    inquiry: bool,
) -> ApiResult<String> {
    let ch = acct
        .charges
        .get(charge)
        .ok_or_else(|| ApiError::not_found("charge", charge))?;
    if ch.status != "succeeded" || !ch.captured {
        return Err(ApiError::invalid(format!(
            "Charge {charge} cannot be disputed: only captured, succeeded charges can be."
        )));
    }
    if ch.disputed {
        return Err(
            ApiError::invalid(format!("Charge {charge} has already been disputed."))
                .code("charge_disputed"),
        );
    }
    let amount = amount.unwrap_or(ch.amount_captured);
    if !(1..=ch.amount_captured).contains(&amount) {
        return Err(ApiError::invalid(format!(
            "The dispute amount must be between 1 and the captured amount ({}).",
            ch.amount_captured
        ))
        .param("amount"));
    }
    let created = now();
    let dp = Dispute {
        id: new_id("dp"),
        created,
        amount,
        currency: ch.currency.clone(),
        charge: ch.id.clone(),
        payment_intent: Some(ch.payment_intent.clone()).filter(|p| !p.is_empty()),
        reason: reason.to_string(),
        status: if inquiry {
            "warning_needs_response"
        } else {
            "needs_response"
        }
        .to_string(),
        case_type: if inquiry { "inquiry" } else { "chargeback" },
        brand: ch
            .card
            .value()
            .get("brand")
            .and_then(Value::as_str)
            .unwrap_or("visa")
            .to_string(),
        due_by: created + RESPONSE_DAYS * 86_400,
        metadata: Default::default(),
        evidence: Default::default(),
        submission_count: 0,
    };
    let id = dp.id.clone();
    acct.disputes.insert(id.clone(), dp);
    // Not a change of its own: `charge.dispute.created` reports it.
    if let Some(ch) = acct.charges.map.get_mut(charge) {
        ch.disputed = true;
    }
    Ok(id)
}

fn find(acct: &Account, id: &str) -> ApiResult<Dispute> {
    acct.disputes
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("dispute", id))
}

fn close_as(acct: &mut Account, id: &str, status: &str) -> ApiResult<()> {
    let mut dp = find(acct, id)?;
    if dp.closed() {
        return Err(ApiError::invalid(format!(
            "This dispute is already closed (status {}).",
            dp.status
        )));
    }
    dp.status = match (status, dp.case_type) {
        ("won", "inquiry") => "warning_closed".to_string(),
        _ => status.to_string(),
    };
    acct.disputes.insert(id.to_string(), dp);
    Ok(())
}

/// `POST /_emulator/charges/{id}/dispute` (`reason`, `amount`, `inquiry`).
pub fn control_open(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(OPEN)?;
    let reason = p
        .one_of(&["reason"], REASONS)?
        .unwrap_or_else(|| "fraudulent".to_string());
    let amount = p.int(&["amount"])?;
    let inquiry = p.bool(&["inquiry"])?.unwrap_or(false);
    let id = open(acct, path_id(req), &reason, amount, inquiry)?;
    render::respond(acct, &id, p)
}

/// `POST /_emulator/disputes/{id}/close` (`status=won|lost`).
pub fn control_close(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(CLOSE)?;
    let status = p
        .one_of(&["status"], &["won", "lost"])?
        .ok_or_else(|| ApiError::missing_param("status"))?;
    let id = path_id(req);
    close_as(acct, id, &status)?;
    render::respond(acct, id, p)
}

pub fn retrieve(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    req.params.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    find(acct, id)?;
    render::respond(acct, id, &req.params)
}

pub fn list(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(LIST)?;
    let charge = p.str_nonempty(&["charge"])?;
    let pi = p.str_nonempty(&["payment_intent"])?;
    let ids = acct
        .disputes
        .newest_first()
        .filter(|d| charge.is_none_or(|c| d.charge == c))
        .filter(|d| pi.is_none_or(|p| d.payment_intent.as_deref() == Some(p)))
        .map(|d| d.id.as_str());
    render::list(acct, "/v1/disputes", ids, p)
}

/// `POST /v1/disputes/{id}`: evidence and metadata; submitting `uncategorized_text` =
/// `winning_evidence` / `losing_evidence` decides the dispute at once (Stripe's test mode).
pub fn update(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(UPDATE)?;
    let id = path_id(req);
    let mut dp = find(acct, id)?;
    if let Some(Node::Map(ev)) = p.get(&["evidence"]) {
        for (k, v) in ev {
            if !EVIDENCE_FIELDS.contains(&k.as_str()) {
                return Err(ApiError::unknown_param(&format!("evidence[{k}]")));
            }
            if let Node::Str(v) = v {
                if v.is_empty() {
                    dp.evidence.remove(k);
                } else {
                    dp.evidence.insert(k.clone(), v.clone());
                }
            }
        }
    }
    apply_metadata(&mut dp.metadata, p)?;
    let submit = p.bool(&["submit"])?.unwrap_or(true);
    let text = dp.evidence.get("uncategorized_text").cloned();
    if submit && p.has(&["evidence"]) && !dp.closed() {
        dp.submission_count += 1;
        dp.status = match text.as_deref() {
            Some("winning_evidence") if dp.case_type == "inquiry" => "warning_closed",
            Some("winning_evidence") => "won",
            Some("losing_evidence") => "lost",
            _ if dp.case_type == "inquiry" => "warning_under_review",
            _ => "under_review",
        }
        .to_string();
    }
    acct.disputes.insert(id.to_string(), dp);
    render::respond(acct, id, p)
}

/// `POST /v1/disputes/{id}/close`: accepts the dispute (it is lost).
pub fn close(acct: &mut Account, req: &Req) -> ApiResult<Value> {
    let p = &req.params;
    p.check_fields(EXPAND_ONLY)?;
    let id = path_id(req);
    close_as(acct, id, "lost")?;
    render::respond(acct, id, p)
}
